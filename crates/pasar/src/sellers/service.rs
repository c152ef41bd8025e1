//! The sellers' use cases: a customer applies for a store, admins decide about it, shoppers see
//! its page, and other modules ask what a store's owner is owed and where it is paid.
//!
//! Every change writes its event in the same transaction (the audit store records each one);
//! an approval grants the `seller` role and a suspension hides the store's products in that
//! same transaction, through the identity and catalog services.

use axum::body::Bytes;

use super::domain::{
    Application, CLOSED_STORE_NAME, Decision, DocumentType, InvalidTransition, MAX_COMMISSION_BPS,
    ProfileChange, Seller, SellerDocument, SellerStatus, StorePage, close, closed_slug, decide,
};
use super::store::{self, SellerRow};
use crate::catalog::media::{ImageType, MediaKey, UploadRefused, check_upload};
use crate::catalog::{self, Catalog, CatalogError, MediaStore};
use crate::db::{self, Db};
use crate::events::{self, Delivery, Event, NewEvent, Subscriber};
use crate::identity::{self, Identity, IdentityError, Principal, Role};
use crate::ids::{MediaId, SellerDocumentId, SellerId, UserId};
use crate::payments::PayoutDestination;
use crate::reviews::Reviews;
use crate::time::Clock;

/// Most business documents one application may carry.
pub const MAX_DOCUMENTS: i64 = 10;

#[derive(Debug, thiserror::Error)]
pub enum SellersError {
    #[error("no such store")]
    NotFound,
    #[error("you have already applied for a store")]
    AlreadyApplied,
    #[error("this store slug is already used")]
    SlugTaken,
    #[error("staff accounts do not run stores; apply with a customer account")]
    StaffCannotApply,
    #[error(transparent)]
    InvalidTransition(#[from] InvalidTransition),
    #[error("this store is closed: its owner deleted their account")]
    Closed,
    #[error("the commission must be at most {MAX_COMMISSION_BPS} basis points (100%)")]
    CommissionTooHigh,
    #[error("a store may have at most {MAX_DOCUMENTS} documents")]
    TooManyDocuments,
    #[error("the body is not a PDF or an image")]
    NotADocument,
    #[error(transparent)]
    Upload(#[from] UploadRefused),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Reviews(#[from] crate::reviews::ReviewsError),
    #[error("the media store failed: {0}")]
    Storage(#[from] object_store::Error),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

#[derive(Clone)]
pub struct Sellers {
    db: Db,
    clock: Clock,
    identity: Identity,
    catalog: Catalog,
    reviews: Reviews,
    media: MediaStore,
    default_commission_bps: u32,
}

/// Where a store's files live in the media store, apart from product images.
fn object_path(seller: SellerId, name: &str) -> String {
    format!("sellers/{seller}/{name}")
}

impl Sellers {
    /// `default_commission_bps`: the platform's commission for stores without a rate of their own.
    pub fn new(
        db: Db,
        clock: Clock,
        identity: Identity,
        catalog: Catalog,
        reviews: Reviews,
        media: MediaStore,
        default_commission_bps: u32,
    ) -> Self {
        Self { db, clock, identity, catalog, reviews, media, default_commission_bps }
    }

    /// Largest logo or document accepted, in bytes (the media store's limit).
    pub fn upload_max_bytes(&self) -> usize {
        self.media.max_bytes()
    }

    // ---- for other modules -------------------------------------------------------------------

    /// The store a user owns, in any status; None for a user who never applied.
    #[tracing::instrument(skip_all)]
    pub async fn store_of_user(&self, user: UserId) -> Result<Option<Seller>, SellersError> {
        match store::by_user(self.db.reader(), user).await? {
            Some(row) => Ok(Some(self.seller_of(row).await?)),
            None => Ok(None),
        }
    }

    /// The commission, in basis points of the item total, the platform takes from a store's
    /// sales: the store's own rate when an admin set one, else the platform default
    /// (`PASAR_COMMISSION_BPS`). `seller_user` is the store's owner, as products carry it in
    /// `seller_id`; a seller user without a store pays the default.
    #[tracing::instrument(skip_all)]
    pub async fn commission_bps(&self, seller_user: UserId) -> Result<u32, SellersError> {
        let row = store::by_user(self.db.reader(), seller_user).await?;
        Ok(row.and_then(|row| row.commission_bps).unwrap_or(self.default_commission_bps))
    }

    /// The bank account a store's earnings are paid to (in full: for payouts, never for
    /// answers); None for a user without a store, or whose store is closed (its bank account
    /// was erased with its owner's account).
    #[tracing::instrument(skip_all)]
    pub async fn payout_account(
        &self,
        seller_user: UserId,
    ) -> Result<Option<PayoutDestination>, SellersError> {
        Ok(store::by_user(self.db.reader(), seller_user).await?.and_then(|row| row.payout_account))
    }

    /// The owner of the live (approved) store with this slug: what `?store={slug}` filters by.
    #[tracing::instrument(skip_all)]
    pub async fn live_store_owner(&self, slug: &str) -> Result<Option<UserId>, SellersError> {
        let row = store::by_slug(self.db.reader(), slug).await?;
        Ok(row.filter(|row| row.status == SellerStatus::Approved).map(|row| row.user_id))
    }

    // ---- applying ----------------------------------------------------------------------------

    /// A signed-in customer applies for a store: it waits, `pending`, for an admin.
    #[tracing::instrument(skip_all)]
    pub async fn apply(
        &self,
        applicant: &Principal,
        application: Application,
    ) -> Result<Seller, SellersError> {
        if applicant.role.is_staff() {
            return Err(SellersError::StaffCannotApply);
        }
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        if store::by_user(&mut *tx, applicant.user).await?.is_some() {
            return Err(SellersError::AlreadyApplied);
        }
        if store::by_slug(&mut *tx, application.slug.as_str()).await?.is_some() {
            return Err(SellersError::SlugTaken);
        }
        let row = SellerRow {
            id: SellerId::new(),
            user_id: applicant.user,
            status: SellerStatus::Pending,
            store_name: application.store_name.as_str().to_owned(),
            slug: application.slug.as_str().to_owned(),
            description: application.description.as_str().to_owned(),
            contact: Some(application.contact),
            payout_account: Some(application.payout_account),
            logo_key: None,
            commission_bps: None,
            reason: None,
            created_at: now,
            updated_at: now,
            approved_at: None,
        };
        if let Err(err) = store::insert(&mut *tx, &row).await {
            if !db::is_unique_violation(&err) {
                return Err(err.into());
            }
            // Two applications raced past the checks above: the same user's, or the same slug's.
            drop(tx);
            return Err(match store::by_user(self.db.reader(), applicant.user).await? {
                Some(_) => SellersError::AlreadyApplied,
                None => SellersError::SlugTaken,
            });
        }
        let seller = self.seller_in(&mut tx, row).await?;
        events::record(
            &mut tx,
            now,
            NewEvent {
                event_type: "seller.applied",
                version: 1,
                subject_id: seller.id.to_string(),
                actor: applicant.user.to_string(),
                payload: serde_json::json!({ "seller_id": seller.id, "after": seller }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(seller)
    }

    /// The caller's own store.
    pub async fn mine(&self, user: UserId) -> Result<Seller, SellersError> {
        self.store_of_user(user).await?.ok_or(SellersError::NotFound)
    }

    /// The owner changes the store's name, description or contact; `seller.updated` records
    /// the fields that changed, before and after. A closed store takes no change.
    #[tracing::instrument(skip_all)]
    pub async fn update_profile(&self, user: UserId, change: ProfileChange) -> Result<Seller, SellersError> {
        let found = store::by_user(self.db.reader(), user).await?.ok_or(SellersError::NotFound)?;
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let mut row = row_to_change(&mut tx, found.id).await?;
        let mut before = serde_json::Map::new();
        let mut after = serde_json::Map::new();
        if let Some(name) = change.store_name.filter(|name| name.as_str() != row.store_name) {
            before.insert("store_name".into(), row.store_name.clone().into());
            after.insert("store_name".into(), name.as_str().into());
            row.store_name = name.into();
        }
        if let Some(description) = change.description.filter(|d| d.as_str() != row.description) {
            before.insert("description".into(), row.description.clone().into());
            after.insert("description".into(), description.as_str().into());
            row.description = description.into();
        }
        if let Some(contact) = change.contact.filter(|c| row.contact.as_ref() != Some(c)) {
            before.insert("contact".into(), serde_json::json!(row.contact));
            after.insert("contact".into(), serde_json::json!(contact));
            row.contact = Some(contact);
        }
        if after.is_empty() {
            return self.seller_in(&mut tx, row).await;
        }
        row.updated_at = now;
        store::update_profile(&mut *tx, &row).await?;
        let seller = self.seller_in(&mut tx, row).await?;
        events::record(&mut tx, now, store_updated(user, seller.id, before.into(), after.into())).await?;
        tx.commit().await?;
        Ok(seller)
    }

    /// Replaces the store's logo: an image, served publicly on its store page.
    #[tracing::instrument(skip_all)]
    pub async fn set_logo(
        &self,
        user: UserId,
        content_type: Option<&str>,
        bytes: Bytes,
    ) -> Result<Seller, SellersError> {
        let image_type = check_upload(&bytes, content_type, self.media.max_bytes())?;
        let found = store::by_user(self.db.reader(), user).await?.ok_or(SellersError::NotFound)?;
        let key = MediaKey { id: MediaId::new(), image_type }.to_string();
        let path = object_path(found.id, &key);
        self.media.put_at(&path, bytes).await?;
        let (seller, old) = match self.record_logo(user, found.id, key).await {
            Ok(recorded) => recorded,
            Err(err) => {
                if let Err(cleanup) = self.media.delete_at(&path).await {
                    tracing::warn!(error = %cleanup, "could not remove a logo whose row was not written");
                }
                return Err(err);
            }
        };
        if let Some(old) = old {
            if let Err(err) = self.media.delete_at(&object_path(seller.id, &old)).await {
                tracing::warn!(error = %err, "could not remove a replaced logo");
            }
        }
        Ok(seller)
    }

    /// Points the store at its new logo; the store and the key of the logo it replaced. A
    /// closed store takes none.
    async fn record_logo(
        &self,
        user: UserId,
        id: SellerId,
        key: String,
    ) -> Result<(Seller, Option<String>), SellersError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let mut row = row_to_change(&mut tx, id).await?;
        let old = row.logo_key.replace(key);
        row.updated_at = now;
        store::update(&mut *tx, &row).await?;
        let seller = self.seller_in(&mut tx, row).await?;
        let before = serde_json::json!({ "logo_url": old.as_ref().map(|_| logo_url(&seller.slug)) });
        let after = serde_json::json!({ "logo_url": seller.logo_url });
        events::record(&mut tx, now, store_updated(user, seller.id, before, after)).await?;
        tx.commit().await?;
        Ok((seller, old))
    }

    /// Adds a business document (a PDF or an image) to the caller's store; only its owner and
    /// admins can read it back.
    #[tracing::instrument(skip_all)]
    pub async fn add_document(
        &self,
        user: UserId,
        content_type: Option<&str>,
        bytes: Bytes,
    ) -> Result<SellerDocument, SellersError> {
        let max = self.media.max_bytes();
        if bytes.len() > max {
            return Err(UploadRefused::TooLarge { max }.into());
        }
        let kind = DocumentType::sniff(&bytes).ok_or(SellersError::NotADocument)?;
        let declared = content_type.map(|t| t.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
        // The bytes say what the document is; a declared type must agree, unless it claims
        // nothing (`application/octet-stream`).
        let matches = declared.as_deref() == Some("application/octet-stream")
            || match kind {
                DocumentType::Pdf => declared.as_deref() == Some("application/pdf"),
                DocumentType::Image(image) => {
                    content_type.and_then(ImageType::from_content_type) == Some(image)
                }
            };
        if !matches {
            return Err(UploadRefused::TypeMismatch {
                actual: kind.content_type(),
                declared: content_type.unwrap_or("nothing").to_owned(),
            }
            .into());
        }
        let seller = store::by_user(self.db.reader(), user).await?.ok_or(SellersError::NotFound)?;
        let id = SellerDocumentId::new();
        let key = object_path(seller.id, &format!("documents/{id}.{}", kind.extension()));
        let size = bytes.len();
        self.media.put_at(&key, bytes).await?;
        let recorded = self.record_document(user, seller.id, id, &key, kind, size).await;
        if recorded.is_err() {
            if let Err(err) = self.media.delete_at(&key).await {
                tracing::warn!(error = %err, "could not remove a document whose row was not written");
            }
        }
        recorded
    }

    async fn record_document(
        &self,
        user: UserId,
        seller: SellerId,
        id: SellerDocumentId,
        key: &str,
        kind: DocumentType,
        size: usize,
    ) -> Result<SellerDocument, SellersError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        store::lock(&mut *tx, seller).await?;
        let row = store::by_id(&mut *tx, seller).await?.ok_or(SellersError::NotFound)?;
        if row.status == SellerStatus::Closed {
            return Err(SellersError::Closed);
        }
        if store::document_count(&mut *tx, seller).await? >= MAX_DOCUMENTS {
            return Err(SellersError::TooManyDocuments);
        }
        let document = SellerDocument {
            id,
            content_type: kind.content_type().to_owned(),
            size: u64::try_from(size).unwrap_or(u64::MAX),
            url: store::document_url(seller, id),
            created_at: now,
        };
        store::insert_document(&mut *tx, seller, key, &document).await?;
        events::record(
            &mut tx,
            now,
            NewEvent {
                event_type: "seller.document_added",
                version: 1,
                subject_id: seller.to_string(),
                actor: user.to_string(),
                payload: serde_json::json!({ "seller_id": seller, "after": document }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(document)
    }

    /// A business document's type and bytes, for the store's owner or an admin; anyone else
    /// gets "not found", as for a document that does not exist.
    #[tracing::instrument(skip_all)]
    pub async fn document(
        &self,
        caller: &Principal,
        seller: SellerId,
        id: SellerDocumentId,
    ) -> Result<(String, Bytes), SellersError> {
        let row = store::by_id(self.db.reader(), seller).await?.ok_or(SellersError::NotFound)?;
        if row.user_id != caller.user && !caller.role.is_staff() {
            return Err(SellersError::NotFound);
        }
        let (key, document) =
            store::document(self.db.reader(), seller, id).await?.ok_or(SellersError::NotFound)?;
        let bytes = self.media.get_at(&key).await?.ok_or(SellersError::NotFound)?;
        Ok((document.content_type, bytes))
    }

    // ---- admins ------------------------------------------------------------------------------

    pub async fn get(&self, id: SellerId) -> Result<Seller, SellersError> {
        let row = store::by_id(self.db.reader(), id).await?.ok_or(SellersError::NotFound)?;
        self.seller_of(row).await
    }

    /// One page of stores, newest first, and whether more follow.
    #[tracing::instrument(skip_all)]
    pub async fn list(
        &self,
        status: Option<SellerStatus>,
        before: Option<SellerId>,
        limit: usize,
    ) -> Result<(Vec<Seller>, bool), SellersError> {
        let mut rows = store::list(self.db.reader(), status, before, limit + 1).await?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let mut sellers = Vec::with_capacity(rows.len());
        for row in rows {
            sellers.push(self.seller_of(row).await?);
        }
        Ok((sellers, more))
    }

    /// An admin's decision about a store, with its reason (for a rejection or a suspension).
    /// It moves the store's status by [`decide`] and, in the same transaction, writes its
    /// `seller.*` event and does what the decision means: an approval makes the owner a
    /// `seller` (store live); a suspension hides the store's products, a reinstatement shows
    /// them again.
    #[tracing::instrument(skip_all, fields(seller = %id, decision = decision.as_str()))]
    pub async fn decide(
        &self,
        admin: &Principal,
        id: SellerId,
        decision: Decision,
        reason: Option<String>,
    ) -> Result<Seller, SellersError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        if !store::lock(&mut *tx, id).await? {
            return Err(SellersError::NotFound);
        }
        let before = store::by_id(&mut *tx, id).await?.ok_or(SellersError::NotFound)?;
        let mut after = before.clone();
        after.status = decide(before.status, decision)?;
        after.updated_at = now;
        match decision {
            Decision::Approve => {
                after.approved_at = Some(now);
                self.identity.change_role_in(&mut tx, admin, before.user_id, Role::Seller).await?;
            }
            Decision::Reject | Decision::Suspend => after.reason = reason.clone(),
            Decision::Reinstate => after.reason = None,
        }
        let hidden = match decision {
            Decision::Suspend => Some(true),
            Decision::Reinstate => Some(false),
            Decision::Approve | Decision::Reject => None,
        };
        if let Some(hidden) = hidden {
            let actor = catalog::Actor::Staff(admin.user);
            self.catalog.set_store_hidden(&mut tx, actor, before.user_id, hidden).await?;
        }
        store::update(&mut *tx, &after).await?;
        let seller = self.seller_in(&mut tx, after).await?;
        events::record(
            &mut tx,
            now,
            NewEvent {
                event_type: decision.event_type(),
                version: 1,
                subject_id: id.to_string(),
                actor: admin.user.to_string(),
                payload: serde_json::json!({
                    "seller_id": id,
                    "user_id": before.user_id,
                    "reason": reason,
                    "before": { "status": before.status, "reason": before.reason },
                    "after": { "status": seller.status, "reason": seller.reason },
                }),
            },
        )
        .await?;
        let committed = tx.commit().await;
        if hidden.is_some() {
            self.catalog.forget_cached_reads();
        }
        committed?;
        if decision == Decision::Approve {
            self.identity.forget_sessions_of(before.user_id);
        }
        Ok(seller)
    }

    /// Sets a store's own commission rate, or (`None`) puts it back on the platform default.
    #[tracing::instrument(skip_all)]
    pub async fn set_commission(
        &self,
        admin: &Principal,
        id: SellerId,
        commission_bps: Option<u32>,
    ) -> Result<Seller, SellersError> {
        if commission_bps.is_some_and(|bps| bps > MAX_COMMISSION_BPS) {
            return Err(SellersError::CommissionTooHigh);
        }
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let mut row = row_to_change(&mut tx, id).await?;
        let before = row.commission_bps;
        if before == commission_bps {
            return self.seller_in(&mut tx, row).await;
        }
        row.commission_bps = commission_bps;
        row.updated_at = now;
        store::update(&mut *tx, &row).await?;
        let seller = self.seller_in(&mut tx, row).await?;
        let before = serde_json::json!({ "commission_bps": before });
        let after = serde_json::json!({ "commission_bps": commission_bps });
        events::record(&mut tx, now, store_updated(admin.user, id, before, after)).await?;
        tx.commit().await?;
        Ok(seller)
    }

    // ---- deleted owners ----------------------------------------------------------------------

    /// Closes for good the store of a user who deleted their account, in one transaction:
    /// its products leave the shop as a suspended store's do (the same catalog step and
    /// `product.updated` events, so search and carts follow), its profile is erased (a
    /// placeholder name and slug; no description, contact, bank account or logo) and its
    /// business documents are deleted, rows and files; `seller.closed` records it. What the
    /// store is owed stays in payables. False when the user has no store or it was closed
    /// already (a redelivered event changes nothing).
    #[tracing::instrument(skip_all)]
    pub async fn close_store_of(&self, owner: UserId) -> Result<bool, SellersError> {
        let Some(found) = store::by_user(self.db.reader(), owner).await? else {
            return Ok(false);
        };
        if close(found.status).is_none() {
            return Ok(false);
        }
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        store::lock(&mut *tx, found.id).await?;
        let before = store::by_id(&mut *tx, found.id).await?.ok_or(SellersError::NotFound)?;
        let Some(status) = close(before.status) else {
            return Ok(false);
        };
        // The files go while the row is locked, so no upload slips in between; when the commit
        // fails the rows stay, and the retry deletes their (already gone) files again.
        let documents = store::document_keys(&mut *tx, found.id).await?;
        for key in before.logo_key.iter().map(|logo| object_path(found.id, logo)).chain(documents) {
            self.media.delete_at(&key).await?;
        }
        store::delete_documents(&mut *tx, found.id).await?;
        self.catalog.set_store_hidden(&mut tx, catalog::Actor::Seller(owner), owner, true).await?;
        let after = SellerRow {
            status,
            store_name: CLOSED_STORE_NAME.to_owned(),
            slug: closed_slug(found.id),
            description: String::new(),
            contact: None,
            payout_account: None,
            logo_key: None,
            reason: Some("the owner deleted their account".to_owned()),
            updated_at: now,
            ..before.clone()
        };
        store::close(&mut *tx, &after).await?;
        // Ids and statuses only: the erased profile must not live on in the outbox, the audit
        // store or merchants' webhooks.
        events::record(
            &mut tx,
            now,
            NewEvent {
                event_type: "seller.closed",
                version: 1,
                subject_id: found.id.to_string(),
                actor: owner.to_string(),
                payload: serde_json::json!({
                    "seller_id": found.id,
                    "user_id": owner,
                    "before": { "status": before.status },
                    "after": { "status": status },
                }),
            },
        )
        .await?;
        let committed = tx.commit().await;
        self.catalog.forget_cached_reads();
        committed?;
        Ok(true)
    }

    // ---- shoppers ----------------------------------------------------------------------------

    /// A live store's page; a pending, rejected or suspended store is not found.
    #[tracing::instrument(skip_all)]
    pub async fn store_page(&self, slug: &str) -> Result<StorePage, SellersError> {
        let row = store::by_slug(self.db.reader(), slug)
            .await?
            .filter(|row| row.status == SellerStatus::Approved)
            .ok_or(SellersError::NotFound)?;
        Ok(StorePage {
            product_count: self.catalog.store_product_count(row.user_id).await?,
            rating: self.reviews.store_rating(row.user_id).await?,
            logo_url: row.logo_key.as_ref().map(|_| logo_url(&row.slug)),
            joined_at: row.approved_at.unwrap_or(row.created_at),
            slug: row.slug,
            store_name: row.store_name,
            description: row.description,
        })
    }

    /// A live store's logo: its type and bytes.
    #[tracing::instrument(skip_all)]
    pub async fn logo(&self, slug: &str) -> Result<(&'static str, Bytes), SellersError> {
        let row = store::by_slug(self.db.reader(), slug)
            .await?
            .filter(|row| row.status == SellerStatus::Approved)
            .ok_or(SellersError::NotFound)?;
        let key = row.logo_key.ok_or(SellersError::NotFound)?;
        let image: MediaKey = key.parse().map_err(|()| SellersError::NotFound)?;
        let bytes = self.media.get_at(&object_path(row.id, &key)).await?.ok_or(SellersError::NotFound)?;
        Ok((image.image_type.content_type(), bytes))
    }

    // ---- helpers -----------------------------------------------------------------------------

    async fn seller_of(&self, row: SellerRow) -> Result<Seller, SellersError> {
        let documents = store::documents(self.db.reader(), row.id).await?;
        Ok(seller(row, documents))
    }

    async fn seller_in(&self, tx: &mut db::Transaction, row: SellerRow) -> Result<Seller, SellersError> {
        let documents = store::documents(&mut **tx, row.id).await?;
        Ok(seller(row, documents))
    }
}

/// Where a store's logo is served.
fn logo_url(slug: &str) -> String {
    format!("/v1/stores/{slug}/logo")
}

/// The store's row, locked until `tx` ends, for a change; a closed store takes none.
async fn row_to_change(tx: &mut db::Transaction, id: SellerId) -> Result<SellerRow, SellersError> {
    if !store::lock(&mut **tx, id).await? {
        return Err(SellersError::NotFound);
    }
    let row = store::by_id(&mut **tx, id).await?.ok_or(SellersError::NotFound)?;
    if row.status == SellerStatus::Closed {
        return Err(SellersError::Closed);
    }
    Ok(row)
}

/// `seller.updated` by `actor`: the fields that changed, before and after.
fn store_updated(
    actor: UserId,
    id: SellerId,
    before: serde_json::Value,
    after: serde_json::Value,
) -> NewEvent<serde_json::Value> {
    NewEvent {
        event_type: "seller.updated",
        version: 1,
        subject_id: id.to_string(),
        actor: actor.to_string(),
        payload: serde_json::json!({ "seller_id": id, "before": before, "after": after }),
    }
}

fn seller(row: SellerRow, documents: Vec<SellerDocument>) -> Seller {
    Seller {
        id: row.id,
        user_id: row.user_id,
        status: row.status,
        logo_url: row.logo_key.as_ref().map(|_| logo_url(&row.slug)),
        store_name: row.store_name,
        slug: row.slug,
        description: row.description,
        contact: row.contact,
        payout_account: row.payout_account.as_ref().map(PayoutDestination::masked),
        documents,
        commission_bps: row.commission_bps,
        reason: row.reason,
        created_at: row.created_at,
        updated_at: row.updated_at,
        approved_at: row.approved_at,
    }
}

/// Sellers hear of deleted accounts from the outbox: the owner's store closes.
impl Subscriber for Sellers {
    fn name(&self) -> &'static str {
        "sellers"
    }

    fn deliver<'a>(&'a self, event: &'a Event) -> Delivery<'a> {
        Box::pin(async move {
            if let Some(owner) = identity::deleted_account(event)? {
                self.close_store_of(owner).await?;
            }
            Ok(())
        })
    }
}
