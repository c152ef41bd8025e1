//! The sellers' tables. Only this module reads or writes them.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use super::domain::{Contact, SellerDocument, SellerStatus};
use crate::db::column::{decode_error, parse_text};
use crate::identity::Email;
use crate::identity::addresses::Phone;
use crate::identity::domain::Text;
use crate::ids::{SellerDocumentId, SellerId, UserId};
use crate::payments::PayoutDestination;
use crate::payments::domain::{AccountNumber, BankCode};
use crate::time::Timestamp;

/// A store's row, as stored (the full payout account included).
#[derive(Clone, Debug)]
pub struct SellerRow {
    pub id: SellerId,
    pub user_id: UserId,
    pub status: SellerStatus,
    pub store_name: String,
    pub slug: String,
    pub description: String,
    /// None once the store is closed (stored as empty text).
    pub contact: Option<Contact>,
    /// None once the store is closed (stored as empty text).
    pub payout_account: Option<PayoutDestination>,
    pub logo_key: Option<String>,
    pub commission_bps: Option<u32>,
    pub reason: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub approved_at: Option<Timestamp>,
}

const COLUMNS: &str = "id, user_id, status, store_name, slug, description, contact_email, contact_phone, \
                       bank_code, account_number, account_name, logo_key, commission_bps, reason, \
                       created_at, updated_at, approved_at";

fn text<T, E>(
    row: &AnyRow,
    column: &str,
    parse: impl FnOnce(String) -> Result<T, E>,
) -> Result<T, sqlx::Error> {
    let raw: String = row.try_get(column)?;
    parse(raw.clone()).map_err(|_| decode_error(column, &raw))
}

/// Whether an erased column group is empty: a closed store keeps its NOT NULL columns as
/// empty text rather than values no parser accepts.
fn erased(row: &AnyRow, column: &str) -> Result<bool, sqlx::Error> {
    Ok(row.try_get::<String, _>(column)?.is_empty())
}

fn row_of(row: &AnyRow) -> Result<SellerRow, sqlx::Error> {
    let commission: Option<i64> = row.try_get("commission_bps")?;
    let contact = if erased(row, "contact_email")? {
        None
    } else {
        Some(Contact {
            email: text(row, "contact_email", |s| Email::parse(&s))?,
            phone: text(row, "contact_phone", Phone::try_from)?,
        })
    };
    let payout_account = if erased(row, "account_number")? {
        None
    } else {
        Some(PayoutDestination {
            bank_code: text(row, "bank_code", |s| BankCode::parse(&s))?,
            account_number: text(row, "account_number", |s| AccountNumber::parse(&s))?,
            account_name: text(row, "account_name", |s| Text::parse(&s))?,
        })
    };
    Ok(SellerRow {
        id: parse_text(row, "id")?,
        user_id: parse_text(row, "user_id")?,
        status: text(row, "status", |s| SellerStatus::parse(&s).ok_or(()))?,
        store_name: row.try_get("store_name")?,
        slug: row.try_get("slug")?,
        description: row.try_get("description")?,
        contact,
        payout_account,
        logo_key: row.try_get("logo_key")?,
        commission_bps: commission
            .map(|bps| u32::try_from(bps).map_err(|_| decode_error("commission_bps", &bps.to_string())))
            .transpose()?,
        reason: row.try_get("reason")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
        approved_at: row.try_get::<Option<i64>, _>("approved_at")?.map(Timestamp::from_millis),
    })
}

pub async fn insert<'c>(
    ex: impl Executor<'c, Database = Any>,
    seller: &SellerRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO sellers ({COLUMNS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
    ))
    .bind(seller.id.to_string())
    .bind(seller.user_id.to_string())
    .bind(seller.status.as_str())
    .bind(&seller.store_name)
    .bind(&seller.slug)
    .bind(&seller.description)
    .bind(seller.contact.as_ref().map_or(String::new(), |c| c.email.as_str().to_owned()))
    .bind(seller.contact.as_ref().map_or(String::new(), |c| String::from(c.phone.clone())))
    .bind(seller.payout_account.as_ref().map_or("", |p| p.bank_code.as_str()))
    .bind(seller.payout_account.as_ref().map_or("", |p| p.account_number.as_str()))
    .bind(seller.payout_account.as_ref().map_or("", |p| p.account_name.as_str()))
    .bind(seller.logo_key.clone())
    .bind(seller.commission_bps.map(i64::from))
    .bind(seller.reason.clone())
    .bind(seller.created_at.millis())
    .bind(seller.updated_at.millis())
    .bind(seller.approved_at.map(Timestamp::millis))
    .execute(ex)
    .await
    .map(|_| ())
}

/// Writes what a decision or an edit changes: status, reason, commission, logo, times.
pub async fn update<'c>(
    ex: impl Executor<'c, Database = Any>,
    seller: &SellerRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE sellers SET status = $1, reason = $2, commission_bps = $3, logo_key = $4, updated_at = $5,
                approved_at = $6
         WHERE id = $7",
    )
    .bind(seller.status.as_str())
    .bind(seller.reason.clone())
    .bind(seller.commission_bps.map(i64::from))
    .bind(seller.logo_key.clone())
    .bind(seller.updated_at.millis())
    .bind(seller.approved_at.map(Timestamp::millis))
    .bind(seller.id.to_string())
    .execute(ex)
    .await
    .map(|_| ())
}

/// Writes what its owner changes in a store's profile: name, description, contact.
pub async fn update_profile<'c>(
    ex: impl Executor<'c, Database = Any>,
    seller: &SellerRow,
) -> Result<(), sqlx::Error> {
    let contact = seller.contact.as_ref();
    sqlx::query(
        "UPDATE sellers SET store_name = $1, description = $2, contact_email = $3, contact_phone = $4,
                updated_at = $5
         WHERE id = $6",
    )
    .bind(&seller.store_name)
    .bind(&seller.description)
    .bind(contact.map_or(String::new(), |c| c.email.as_str().to_owned()))
    .bind(contact.map_or(String::new(), |c| String::from(c.phone.clone())))
    .bind(seller.updated_at.millis())
    .bind(seller.id.to_string())
    .execute(ex)
    .await
    .map(|_| ())
}

/// Closes a store for good and erases its profile: the status, a placeholder name and slug,
/// and empty description, contact, bank account and logo. Its documents go with
/// [`delete_documents`]; its id, owner, commission and times stay for the books.
pub async fn close<'c>(ex: impl Executor<'c, Database = Any>, seller: &SellerRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE sellers SET status = $1, store_name = $2, slug = $3, description = '', contact_email = '',
                contact_phone = '', bank_code = '', account_number = '', account_name = '', logo_key = NULL,
                reason = $4, updated_at = $5
         WHERE id = $6",
    )
    .bind(seller.status.as_str())
    .bind(&seller.store_name)
    .bind(&seller.slug)
    .bind(seller.reason.clone())
    .bind(seller.updated_at.millis())
    .bind(seller.id.to_string())
    .execute(ex)
    .await
    .map(|_| ())
}

/// Takes the store's row lock for the rest of the transaction (a write that changes nothing,
/// on both databases), so decisions on one store run one after another. False when there is no
/// such store.
pub async fn lock<'c>(ex: impl Executor<'c, Database = Any>, id: SellerId) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE sellers SET updated_at = updated_at WHERE id = $1")
        .bind(id.to_string())
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn by_id<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: SellerId,
) -> Result<Option<SellerRow>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM sellers WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(ex)
        .await?;
    row.as_ref().map(row_of).transpose()
}

pub async fn by_user<'c>(
    ex: impl Executor<'c, Database = Any>,
    user: UserId,
) -> Result<Option<SellerRow>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM sellers WHERE user_id = $1"))
        .bind(user.to_string())
        .fetch_optional(ex)
        .await?;
    row.as_ref().map(row_of).transpose()
}

pub async fn by_slug<'c>(
    ex: impl Executor<'c, Database = Any>,
    slug: &str,
) -> Result<Option<SellerRow>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM sellers WHERE slug = $1"))
        .bind(slug)
        .fetch_optional(ex)
        .await?;
    row.as_ref().map(row_of).transpose()
}

/// One page of stores, newest first, optionally in one status, before the store `before`.
pub async fn list<'c>(
    ex: impl Executor<'c, Database = Any>,
    status: Option<SellerStatus>,
    before: Option<SellerId>,
    limit: usize,
) -> Result<Vec<SellerRow>, sqlx::Error> {
    let mut conditions = vec!["1 = 1".to_owned()];
    let mut args: Vec<String> = Vec::new();
    if let Some(status) = status {
        args.push(status.as_str().to_owned());
        conditions.push(format!("status = ${}", args.len()));
    }
    if let Some(before) = before {
        args.push(before.to_string());
        conditions.push(format!("id < ${}", args.len()));
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM sellers WHERE {} ORDER BY id DESC LIMIT ${}",
        conditions.join(" AND "),
        args.len() + 1
    );
    let mut query = sqlx::query(&sql);
    for arg in args {
        query = query.bind(arg);
    }
    let rows = query.bind(i64::try_from(limit).unwrap_or(i64::MAX)).fetch_all(ex).await?;
    rows.iter().map(row_of).collect()
}

// ---- documents -------------------------------------------------------------------------------

pub async fn insert_document<'c>(
    ex: impl Executor<'c, Database = Any>,
    seller: SellerId,
    object_key: &str,
    document: &SellerDocument,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO seller_documents (id, seller_id, object_key, content_type, size_bytes, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(document.id.to_string())
    .bind(seller.to_string())
    .bind(object_key)
    .bind(&document.content_type)
    .bind(i64::try_from(document.size).unwrap_or(i64::MAX))
    .bind(document.created_at.millis())
    .execute(ex)
    .await
    .map(|_| ())
}

pub async fn document_count<'c>(
    ex: impl Executor<'c, Database = Any>,
    seller: SellerId,
) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) AS n FROM seller_documents WHERE seller_id = $1")
        .bind(seller.to_string())
        .fetch_one(ex)
        .await?
        .try_get("n")
}

fn document_of(row: &AnyRow) -> Result<(String, SellerDocument), sqlx::Error> {
    let id: SellerDocumentId = parse_text(row, "id")?;
    let seller: SellerId = parse_text(row, "seller_id")?;
    let size: i64 = row.try_get("size_bytes")?;
    Ok((
        row.try_get("object_key")?,
        SellerDocument {
            id,
            content_type: row.try_get("content_type")?,
            size: u64::try_from(size).map_err(|_| decode_error("size_bytes", &size.to_string()))?,
            url: document_url(seller, id),
            created_at: Timestamp::from_millis(row.try_get("created_at")?),
        },
    ))
}

/// Where the owner or an admin downloads a document.
pub fn document_url(seller: SellerId, id: SellerDocumentId) -> String {
    format!("/v1/sellers/{seller}/documents/{id}")
}

pub async fn documents<'c>(
    ex: impl Executor<'c, Database = Any>,
    seller: SellerId,
) -> Result<Vec<SellerDocument>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, seller_id, object_key, content_type, size_bytes, created_at
         FROM seller_documents WHERE seller_id = $1 ORDER BY id",
    )
    .bind(seller.to_string())
    .fetch_all(ex)
    .await?;
    rows.iter().map(|row| document_of(row).map(|(_, document)| document)).collect()
}

/// The object keys of every document of a store.
pub async fn document_keys<'c>(
    ex: impl Executor<'c, Database = Any>,
    seller: SellerId,
) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query("SELECT object_key FROM seller_documents WHERE seller_id = $1")
        .bind(seller.to_string())
        .fetch_all(ex)
        .await?;
    rows.iter().map(|row| row.try_get("object_key")).collect()
}

pub async fn delete_documents<'c>(
    ex: impl Executor<'c, Database = Any>,
    seller: SellerId,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM seller_documents WHERE seller_id = $1")
        .bind(seller.to_string())
        .execute(ex)
        .await
        .map(|_| ())
}

/// A document's object key and description, when it belongs to this store.
pub async fn document<'c>(
    ex: impl Executor<'c, Database = Any>,
    seller: SellerId,
    id: SellerDocumentId,
) -> Result<Option<(String, SellerDocument)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, seller_id, object_key, content_type, size_bytes, created_at
         FROM seller_documents WHERE id = $1 AND seller_id = $2",
    )
    .bind(id.to_string())
    .bind(seller.to_string())
    .fetch_optional(ex)
    .await?;
    row.as_ref().map(document_of).transpose()
}
