//! The catalog's tables. Only this module reads or writes them.

use std::collections::{HashMap, HashSet};

use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Executor, Row};

use super::domain::{ProductCursor, ProductKind, ProductSort, ProductStatus, SaleVariant, VariantOptions};
use super::media::MediaKey;
use super::service::{Brand, Category, Media, Product, ProductFilter, Variant};
use crate::db::column::{decode_error, parse_optional, parse_text};
use crate::ids::{BrandId, CategoryId, MediaId, ProductId, UserId, VariantId};
use crate::money::{Currency, Money};
use crate::rating::Rating;
use crate::time::Timestamp;

/// Most ids bound in one `IN (…)` list; longer lists are split, far below either database's
/// limit on parameters.
const IN_CHUNK: usize = 500;

fn kind_of(row: &AnyRow, column: &str) -> Result<ProductKind, sqlx::Error> {
    let text: String = row.try_get(column)?;
    ProductKind::parse(&text).ok_or_else(|| decode_error(column, &text))
}

fn status_of(row: &AnyRow, column: &str) -> Result<ProductStatus, sqlx::Error> {
    let text: String = row.try_get(column)?;
    ProductStatus::parse(&text).ok_or_else(|| decode_error(column, &text))
}

fn currency_of(row: &AnyRow, column: &str) -> Result<Currency, sqlx::Error> {
    let text: String = row.try_get(column)?;
    Currency::parse(&text).map_err(|_| decode_error(column, &text))
}

fn options_of(row: &AnyRow, column: &str) -> Result<VariantOptions, sqlx::Error> {
    let text: String = row.try_get(column)?;
    VariantOptions::from_json(&text).map_err(|_| decode_error(column, &text))
}

fn time_of(row: &AnyRow, column: &str) -> Result<Timestamp, sqlx::Error> {
    Ok(Timestamp::from_millis(row.try_get(column)?))
}

/// A value bound to a query built at run time.
enum Arg {
    Text(String),
    Int(i64),
}

fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    args: Vec<Arg>,
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
    for arg in args {
        query = match arg {
            Arg::Text(text) => query.bind(text),
            Arg::Int(number) => query.bind(number),
        };
    }
    query
}

/// `$first, $first+1, …` for `count` values.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
}

// ---- categories ----------------------------------------------------------------------------

const CATEGORY_COLUMNS: &str = "id, parent_id, name, slug, created_at, updated_at";

fn category_of(row: &AnyRow) -> Result<Category, sqlx::Error> {
    Ok(Category {
        id: parse_text(row, "id")?,
        parent_id: parse_optional(row, "parent_id")?,
        name: row.try_get("name")?,
        slug: row.try_get("slug")?,
        created_at: time_of(row, "created_at")?,
        updated_at: time_of(row, "updated_at")?,
    })
}

pub async fn insert_category<'c>(
    ex: impl Executor<'c, Database = Any>,
    category: &Category,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO categories (id, parent_id, name, slug, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(category.id.to_string())
    .bind(category.parent_id.map(|id| id.to_string()))
    .bind(&category.name)
    .bind(&category.slug)
    .bind(category.created_at.millis())
    .bind(category.updated_at.millis())
    .execute(ex)
    .await
    .map(|_| ())
}

pub async fn update_category<'c>(
    ex: impl Executor<'c, Database = Any>,
    category: &Category,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE categories SET parent_id = $1, name = $2, slug = $3, updated_at = $4 WHERE id = $5")
        .bind(category.parent_id.map(|id| id.to_string()))
        .bind(&category.name)
        .bind(&category.slug)
        .bind(category.updated_at.millis())
        .bind(category.id.to_string())
        .execute(ex)
        .await
        .map(|_| ())
}

/// Takes every category's row lock for the rest of the transaction, so that moves within the
/// tree run one after another and each checks for cycles against the tree as it is.
pub async fn lock_category_tree<'c>(ex: impl Executor<'c, Database = Any>) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE categories SET updated_at = updated_at").execute(ex).await.map(|_| ())
}

pub async fn delete_category<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: CategoryId,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM categories WHERE id = $1").bind(id.to_string()).execute(ex).await.map(|_| ())
}

pub async fn category<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: CategoryId,
) -> Result<Option<Category>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {CATEGORY_COLUMNS} FROM categories WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(ex)
        .await?;
    row.as_ref().map(category_of).transpose()
}

pub async fn category_by_slug<'c>(
    ex: impl Executor<'c, Database = Any>,
    slug: &str,
) -> Result<Option<Category>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {CATEGORY_COLUMNS} FROM categories WHERE slug = $1"))
        .bind(slug)
        .fetch_optional(ex)
        .await?;
    row.as_ref().map(category_of).transpose()
}

/// Every category, by name.
pub async fn categories<'c>(ex: impl Executor<'c, Database = Any>) -> Result<Vec<Category>, sqlx::Error> {
    let rows = sqlx::query(&format!("SELECT {CATEGORY_COLUMNS} FROM categories ORDER BY name, id"))
        .fetch_all(ex)
        .await?;
    rows.iter().map(category_of).collect()
}

/// Every category's parent, for checking a move against cycles.
pub async fn category_parents<'c>(
    ex: impl Executor<'c, Database = Any>,
) -> Result<HashMap<CategoryId, Option<CategoryId>>, sqlx::Error> {
    let rows = sqlx::query("SELECT id, parent_id FROM categories").fetch_all(ex).await?;
    rows.iter().map(|row| Ok((parse_text(row, "id")?, parse_optional(row, "parent_id")?))).collect()
}

/// (subcategories, products) directly in a category.
pub async fn category_contents(conn: &mut AnyConnection, id: CategoryId) -> Result<(i64, i64), sqlx::Error> {
    let children: i64 = sqlx::query("SELECT COUNT(*) FROM categories WHERE parent_id = $1")
        .bind(id.to_string())
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    let products: i64 = sqlx::query("SELECT COUNT(*) FROM products WHERE category_id = $1")
        .bind(id.to_string())
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    Ok((children, products))
}

// ---- brands --------------------------------------------------------------------------------

const BRAND_COLUMNS: &str = "id, name, slug, created_at, updated_at";

fn brand_of(row: &AnyRow) -> Result<Brand, sqlx::Error> {
    Ok(Brand {
        id: parse_text(row, "id")?,
        name: row.try_get("name")?,
        slug: row.try_get("slug")?,
        created_at: time_of(row, "created_at")?,
        updated_at: time_of(row, "updated_at")?,
    })
}

pub async fn insert_brand<'c>(
    ex: impl Executor<'c, Database = Any>,
    brand: &Brand,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO brands (id, name, slug, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(brand.id.to_string())
        .bind(&brand.name)
        .bind(&brand.slug)
        .bind(brand.created_at.millis())
        .bind(brand.updated_at.millis())
        .execute(ex)
        .await
        .map(|_| ())
}

pub async fn brand_exists<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: BrandId,
) -> Result<bool, sqlx::Error> {
    let row =
        sqlx::query("SELECT 1 FROM brands WHERE id = $1").bind(id.to_string()).fetch_optional(ex).await?;
    Ok(row.is_some())
}

pub async fn brand_by_slug<'c>(
    ex: impl Executor<'c, Database = Any>,
    slug: &str,
) -> Result<Option<Brand>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {BRAND_COLUMNS} FROM brands WHERE slug = $1"))
        .bind(slug)
        .fetch_optional(ex)
        .await?;
    row.as_ref().map(brand_of).transpose()
}

/// Every brand, by name.
pub async fn brands<'c>(ex: impl Executor<'c, Database = Any>) -> Result<Vec<Brand>, sqlx::Error> {
    let rows =
        sqlx::query(&format!("SELECT {BRAND_COLUMNS} FROM brands ORDER BY name, id")).fetch_all(ex).await?;
    rows.iter().map(brand_of).collect()
}

// ---- slugs ---------------------------------------------------------------------------------

/// The tables whose rows have a unique slug.
#[derive(Clone, Copy)]
pub enum SlugTable {
    Products,
    Categories,
    Brands,
}

impl SlugTable {
    fn name(self) -> &'static str {
        match self {
            SlugTable::Products => "products",
            SlugTable::Categories => "categories",
            SlugTable::Brands => "brands",
        }
    }
}

/// The slugs in `table` that are `base` or `base-…`, the ones a new slug from `base` must
/// avoid. `base` is a slug, so it holds no LIKE wildcards.
pub async fn slugs_like<'c>(
    ex: impl Executor<'c, Database = Any>,
    table: SlugTable,
    base: &str,
) -> Result<HashSet<String>, sqlx::Error> {
    let rows = sqlx::query(&format!("SELECT slug FROM {} WHERE slug = $1 OR slug LIKE $2", table.name()))
        .bind(base)
        .bind(format!("{base}-%"))
        .fetch_all(ex)
        .await?;
    rows.iter().map(|row| row.try_get("slug")).collect()
}

// ---- products ------------------------------------------------------------------------------

/// A product's own row, without its variants and media.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductRow {
    pub id: ProductId,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub kind: ProductKind,
    pub status: ProductStatus,
    pub category_id: CategoryId,
    pub brand_id: Option<BrandId>,
    pub seller_id: Option<crate::ids::UserId>,
    pub currency: Currency,
    pub price_from: i64,
    /// The stars of the product's visible reviews added up, and how many there are.
    pub rating_sum: i64,
    pub rating_count: i64,
    pub featured: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Its store is suspended (listed in `hidden_stores`): shoppers do not see it. Read only.
    pub store_hidden: bool,
}

/// The condition "the product's store is not hidden" on a query over `products p`.
const STORE_SHOWN: &str = "NOT EXISTS (SELECT 1 FROM hidden_stores h WHERE h.seller_id = p.seller_id)";

const PRODUCT_COLUMNS: &str = "p.id, p.slug, p.name, p.description, p.kind, p.status, p.category_id, \
                               p.brand_id, p.seller_id, p.currency, p.price_from, p.rating_sum, \
                               p.rating_count, p.featured, p.created_at, p.updated_at, \
                               (SELECT COUNT(*) FROM hidden_stores h WHERE h.seller_id = p.seller_id) AS store_hidden";

fn product_row_of(row: &AnyRow) -> Result<ProductRow, sqlx::Error> {
    Ok(ProductRow {
        id: parse_text(row, "id")?,
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        kind: kind_of(row, "kind")?,
        status: status_of(row, "status")?,
        category_id: parse_text(row, "category_id")?,
        brand_id: parse_optional(row, "brand_id")?,
        seller_id: parse_optional(row, "seller_id")?,
        currency: currency_of(row, "currency")?,
        price_from: row.try_get("price_from")?,
        rating_sum: row.try_get("rating_sum")?,
        rating_count: row.try_get("rating_count")?,
        featured: row.try_get::<i64, _>("featured")? != 0,
        created_at: time_of(row, "created_at")?,
        updated_at: time_of(row, "updated_at")?,
        store_hidden: row.try_get::<i64, _>("store_hidden")? > 0,
    })
}

pub async fn insert_product<'c>(
    ex: impl Executor<'c, Database = Any>,
    product: &ProductRow,
    name_key: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO products (id, slug, name, name_key, description, kind, status, category_id, brand_id,
                               seller_id, currency, price_from, featured, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(product.id.to_string())
    .bind(&product.slug)
    .bind(&product.name)
    .bind(name_key)
    .bind(&product.description)
    .bind(product.kind.as_str())
    .bind(product.status.as_str())
    .bind(product.category_id.to_string())
    .bind(product.brand_id.map(|id| id.to_string()))
    .bind(product.seller_id.map(|id| id.to_string()))
    .bind(product.currency.code())
    .bind(product.price_from)
    .bind(i64::from(product.featured))
    .bind(product.created_at.millis())
    .bind(product.updated_at.millis())
    .execute(ex)
    .await
    .map(|_| ())
}

/// Writes the fields a product's edit may change.
pub async fn update_product<'c>(
    ex: impl Executor<'c, Database = Any>,
    product: &ProductRow,
    name_key: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE products SET slug = $1, name = $2, name_key = $3, description = $4, status = $5,
                category_id = $6, brand_id = $7, seller_id = $8, featured = $9, updated_at = $10
         WHERE id = $11",
    )
    .bind(&product.slug)
    .bind(&product.name)
    .bind(name_key)
    .bind(&product.description)
    .bind(product.status.as_str())
    .bind(product.category_id.to_string())
    .bind(product.brand_id.map(|id| id.to_string()))
    .bind(product.seller_id.map(|id| id.to_string()))
    .bind(i64::from(product.featured))
    .bind(product.updated_at.millis())
    .bind(product.id.to_string())
    .execute(ex)
    .await
    .map(|_| ())
}

/// Sets a product's "from" price to its cheapest variant's and marks it updated.
pub async fn refresh_price_from<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: ProductId,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE products SET updated_at = $1,
                price_from = (SELECT MIN(v.price_amount) FROM product_variants v WHERE v.product_id = $2)
         WHERE id = $2",
    )
    .bind(now.millis())
    .bind(id.to_string())
    .execute(ex)
    .await
    .map(|_| ())
}

/// Sets a product's rating (the sum of its visible reviews' stars and their count). The
/// product's `updated_at` stays: its own fields did not change. False when there is no such
/// product.
pub async fn set_rating<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: ProductId,
    sum: i64,
    count: i64,
) -> Result<bool, sqlx::Error> {
    let set = sqlx::query("UPDATE products SET rating_sum = $1, rating_count = $2 WHERE id = $3")
        .bind(sum)
        .bind(count)
        .bind(id.to_string())
        .execute(ex)
        .await?;
    Ok(set.rows_affected() == 1)
}

/// Takes the product's row lock for the rest of the transaction (a write that changes
/// nothing, so it works on both databases), so that edits of one product run one after
/// another instead of overwriting each other. False when there is no such product.
pub async fn lock_product<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: ProductId,
) -> Result<bool, sqlx::Error> {
    let locked = sqlx::query("UPDATE products SET updated_at = updated_at WHERE id = $1")
        .bind(id.to_string())
        .execute(ex)
        .await?;
    Ok(locked.rows_affected() == 1)
}

pub async fn product_row<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: ProductId,
) -> Result<Option<ProductRow>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {PRODUCT_COLUMNS} FROM products p WHERE p.id = $1"))
        .bind(id.to_string())
        .fetch_optional(ex)
        .await?;
    row.as_ref().map(product_row_of).transpose()
}

pub async fn product_row_by_slug<'c>(
    ex: impl Executor<'c, Database = Any>,
    slug: &str,
) -> Result<Option<ProductRow>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {PRODUCT_COLUMNS} FROM products p WHERE p.slug = $1"))
        .bind(slug)
        .fetch_optional(ex)
        .await?;
    row.as_ref().map(product_row_of).transpose()
}

/// One page of products as the filter asks, at most `limit` rows.
pub async fn list_product_rows<'c>(
    ex: impl Executor<'c, Database = Any>,
    filter: &ProductFilter,
    limit: usize,
) -> Result<Vec<ProductRow>, sqlx::Error> {
    let mut args = Vec::new();
    let mut arg = |value: Arg| {
        args.push(value);
        format!("${}", args.len())
    };
    let mut prefix = String::new();
    let mut conditions = vec!["1 = 1".to_owned()];
    if let Some(status) = filter.status {
        conditions.push(format!("p.status = {}", arg(Arg::Text(status.as_str().into()))));
    }
    if let Some(category) = filter.category {
        // The category and every category under it, however deep.
        prefix = format!(
            "WITH RECURSIVE subtree (id) AS (
               SELECT id FROM categories WHERE id = {}
               UNION SELECT c.id FROM categories c JOIN subtree s ON c.parent_id = s.id
             ) ",
            arg(Arg::Text(category.to_string()))
        );
        conditions.push("p.category_id IN (SELECT id FROM subtree)".into());
    }
    if let Some(brand) = filter.brand {
        conditions.push(format!("p.brand_id = {}", arg(Arg::Text(brand.to_string()))));
    }
    if let Some(seller) = filter.seller {
        conditions.push(format!("p.seller_id = {}", arg(Arg::Text(seller.to_string()))));
    }
    if let Some(featured) = filter.featured {
        conditions.push(format!("p.featured = {}", arg(Arg::Int(i64::from(featured)))));
    }
    if !filter.include_hidden_stores {
        conditions.push(STORE_SHOWN.into());
    }
    if let Some(min) = filter.min_price {
        conditions.push(format!("p.price_from >= {}", arg(Arg::Int(min))));
    }
    if let Some(max) = filter.max_price {
        conditions.push(format!("p.price_from <= {}", arg(Arg::Int(max))));
    }
    if let Some(search) = &filter.search {
        let pattern = super::domain::contains_pattern(search);
        conditions.push(format!("p.name_key LIKE {} ESCAPE '\\'", arg(Arg::Text(pattern))));
    }
    match &filter.after {
        None => {}
        Some(ProductCursor::Newest { id }) => {
            conditions.push(format!("p.id < {}", arg(Arg::Text(id.to_string()))));
        }
        Some(ProductCursor::Price { sort, price, id }) => {
            let (price, id) = (arg(Arg::Int(*price)), arg(Arg::Text(id.to_string())));
            let op = if *sort == ProductSort::PriceDesc { "<" } else { ">" };
            conditions
                .push(format!("(p.price_from {op} {price} OR (p.price_from = {price} AND p.id {op} {id}))"));
        }
        Some(ProductCursor::Name { name, id }) => {
            let (name, id) = (arg(Arg::Text(name.clone())), arg(Arg::Text(id.to_string())));
            conditions.push(format!("(p.name_key > {name} OR (p.name_key = {name} AND p.id > {id}))"));
        }
    }
    let order = match filter.sort {
        ProductSort::Newest => "p.id DESC",
        ProductSort::PriceAsc => "p.price_from ASC, p.id ASC",
        ProductSort::PriceDesc => "p.price_from DESC, p.id DESC",
        ProductSort::Name => "p.name_key ASC, p.id ASC",
    };
    let limit = arg(Arg::Int(i64::try_from(limit).unwrap_or(i64::MAX)));
    let sql = format!(
        "{prefix}SELECT {PRODUCT_COLUMNS} FROM products p WHERE {} ORDER BY {order} LIMIT {limit}",
        conditions.join(" AND ")
    );
    let rows = bind_all(sqlx::query(&sql), args).fetch_all(ex).await?;
    rows.iter().map(product_row_of).collect()
}

/// The products of these rows with their variants and media, in the rows' order.
pub async fn assemble(conn: &mut AnyConnection, rows: Vec<ProductRow>) -> Result<Vec<Product>, sqlx::Error> {
    let ids: Vec<ProductId> = rows.iter().map(|row| row.id).collect();
    let mut variants = variants_of(&mut *conn, &ids).await?;
    let mut media = media_of(&mut *conn, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|row| Product {
            variants: variants.remove(&row.id).unwrap_or_default(),
            media: media.remove(&row.id).unwrap_or_default(),
            price_from: Money::new(row.price_from, row.currency),
            rating: Rating::of(row.rating_sum, row.rating_count),
            featured: row.featured,
            id: row.id,
            slug: row.slug,
            name: row.name,
            description: row.description,
            kind: row.kind,
            status: row.status,
            category_id: row.category_id,
            brand_id: row.brand_id,
            seller_id: row.seller_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
            store_suspended: row.store_hidden,
        })
        .collect())
}

// ---- variants ------------------------------------------------------------------------------

const VARIANT_COLUMNS: &str = "v.id, v.product_id, v.sku, v.options, v.price_amount, v.reseller_price_amount, \
                               v.weight_grams, v.created_at, v.updated_at, p.currency";

fn variant_of(row: &AnyRow) -> Result<Variant, sqlx::Error> {
    let currency = currency_of(row, "currency")?;
    let weight: Option<i64> = row.try_get("weight_grams")?;
    Ok(Variant {
        id: parse_text(row, "id")?,
        product_id: parse_text(row, "product_id")?,
        sku: row.try_get("sku")?,
        options: options_of(row, "options")?.as_map().clone(),
        price: Money::new(row.try_get("price_amount")?, currency),
        reseller_price: row
            .try_get::<Option<i64>, _>("reseller_price_amount")?
            .map(|amount| Money::new(amount, currency)),
        weight_grams: weight
            .map(|grams| u32::try_from(grams).map_err(|_| decode_error("weight_grams", &grams.to_string())))
            .transpose()?,
        created_at: time_of(row, "created_at")?,
        updated_at: time_of(row, "updated_at")?,
        availability: None,
    })
}

/// A variant's stored fields.
pub struct VariantRow<'a> {
    pub id: VariantId,
    pub product_id: ProductId,
    pub sku: &'a str,
    pub options: &'a VariantOptions,
    pub price_amount: i64,
    pub reseller_price_amount: Option<i64>,
    pub weight_grams: Option<u32>,
    pub now: Timestamp,
}

pub async fn insert_variant<'c>(
    ex: impl Executor<'c, Database = Any>,
    variant: &VariantRow<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO product_variants (id, product_id, sku, options, price_amount, reseller_price_amount,
                                       weight_grams, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(variant.id.to_string())
    .bind(variant.product_id.to_string())
    .bind(variant.sku)
    .bind(variant.options.to_json())
    .bind(variant.price_amount)
    .bind(variant.reseller_price_amount)
    .bind(variant.weight_grams.map(i64::from))
    .bind(variant.now.millis())
    .execute(ex)
    .await
    .map(|_| ())
}

pub async fn update_variant<'c>(
    ex: impl Executor<'c, Database = Any>,
    variant: &VariantRow<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE product_variants SET sku = $1, options = $2, price_amount = $3, reseller_price_amount = $4,
                weight_grams = $5, updated_at = $6
         WHERE id = $7",
    )
    .bind(variant.sku)
    .bind(variant.options.to_json())
    .bind(variant.price_amount)
    .bind(variant.reseller_price_amount)
    .bind(variant.weight_grams.map(i64::from))
    .bind(variant.now.millis())
    .bind(variant.id.to_string())
    .execute(ex)
    .await
    .map(|_| ())
}

pub async fn variant<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: VariantId,
) -> Result<Option<Variant>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {VARIANT_COLUMNS} FROM product_variants v JOIN products p ON p.id = v.product_id WHERE v.id = $1"
    ))
    .bind(id.to_string())
    .fetch_optional(ex)
    .await?;
    row.as_ref().map(variant_of).transpose()
}

/// The variants of these products, oldest first, by product.
async fn variants_of(
    conn: &mut AnyConnection,
    products: &[ProductId],
) -> Result<HashMap<ProductId, Vec<Variant>>, sqlx::Error> {
    let mut by_product: HashMap<ProductId, Vec<Variant>> = HashMap::new();
    for chunk in products.chunks(IN_CHUNK) {
        let sql = format!(
            "SELECT {VARIANT_COLUMNS} FROM product_variants v JOIN products p ON p.id = v.product_id
             WHERE v.product_id IN ({}) ORDER BY v.id",
            placeholders(1, chunk.len())
        );
        let args = chunk.iter().map(|id| Arg::Text(id.to_string())).collect();
        for row in bind_all(sqlx::query(&sql), args).fetch_all(&mut *conn).await? {
            let variant = variant_of(&row)?;
            by_product.entry(variant.product_id).or_default().push(variant);
        }
    }
    Ok(by_product)
}

/// The options of a product's variants, other than `except`.
pub async fn sibling_options<'c>(
    ex: impl Executor<'c, Database = Any>,
    product: ProductId,
    except: Option<VariantId>,
) -> Result<Vec<VariantOptions>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT options FROM product_variants WHERE product_id = $1 AND ($2 IS NULL OR id <> $2)",
    )
    .bind(product.to_string())
    .bind(except.map(|id| id.to_string()))
    .fetch_all(ex)
    .await?;
    rows.iter().map(|row| options_of(row, "options")).collect()
}

/// Which of these SKUs some variant already has.
pub async fn skus_in_use<'c>(
    ex: impl Executor<'c, Database = Any>,
    skus: &[&str],
) -> Result<Vec<String>, sqlx::Error> {
    if skus.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT sku FROM product_variants WHERE sku IN ({}) ORDER BY sku",
        placeholders(1, skus.len())
    );
    let args = skus.iter().map(|sku| Arg::Text((*sku).to_owned())).collect();
    let rows = bind_all(sqlx::query(&sql), args).fetch_all(ex).await?;
    rows.iter().map(|row| row.try_get("sku")).collect()
}

/// The variant with `sku`, if any.
pub async fn variant_id_by_sku<'c>(
    ex: impl Executor<'c, Database = Any>,
    sku: &str,
) -> Result<Option<String>, sqlx::Error> {
    let row =
        sqlx::query("SELECT id FROM product_variants WHERE sku = $1").bind(sku).fetch_optional(ex).await?;
    row.map(|row| row.try_get("id")).transpose()
}

/// The variants with these SKUs (exactly as written), whatever their product's status: each
/// SKU's variant and its product's kind. SKUs no variant has are absent.
pub async fn variants_by_skus(
    conn: &mut AnyConnection,
    skus: &[&str],
) -> Result<HashMap<String, (VariantId, ProductKind)>, sqlx::Error> {
    let mut found = HashMap::with_capacity(skus.len());
    for chunk in skus.chunks(IN_CHUNK) {
        let sql = format!(
            "SELECT v.sku, v.id, p.kind FROM product_variants v JOIN products p ON p.id = v.product_id
             WHERE v.sku IN ({})",
            placeholders(1, chunk.len())
        );
        let args = chunk.iter().map(|sku| Arg::Text((*sku).to_owned())).collect();
        for row in bind_all(sqlx::query(&sql), args).fetch_all(&mut *conn).await? {
            found.insert(row.try_get("sku")?, (parse_text(&row, "id")?, kind_of(&row, "kind")?));
        }
    }
    Ok(found)
}

/// The variants among `ids` whose product is active, with what selling them needs.
pub async fn sale_variants(
    conn: &mut AnyConnection,
    ids: &[VariantId],
) -> Result<Vec<SaleVariant>, sqlx::Error> {
    let mut found = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(IN_CHUNK) {
        let sql = format!(
            "SELECT v.id, v.product_id, p.name, v.sku, p.kind, v.options, v.price_amount,
                    v.reseller_price_amount, p.currency, p.seller_id, p.category_id, v.weight_grams
             FROM product_variants v JOIN products p ON p.id = v.product_id
             WHERE p.status = $1 AND {STORE_SHOWN} AND v.id IN ({})",
            placeholders(2, chunk.len())
        );
        let mut args = vec![Arg::Text(ProductStatus::Active.as_str().into())];
        args.extend(chunk.iter().map(|id| Arg::Text(id.to_string())));
        for row in bind_all(sqlx::query(&sql), args).fetch_all(&mut *conn).await? {
            let currency = currency_of(&row, "currency")?;
            found.push(SaleVariant {
                id: parse_text(&row, "id")?,
                product_id: parse_text(&row, "product_id")?,
                product_name: row.try_get("name")?,
                sku: row.try_get("sku")?,
                kind: kind_of(&row, "kind")?,
                options: options_of(&row, "options")?.as_map().clone(),
                price: Money::new(row.try_get("price_amount")?, currency),
                reseller_price: row
                    .try_get::<Option<i64>, _>("reseller_price_amount")?
                    .map(|amount| Money::new(amount, currency)),
                seller_id: parse_optional(&row, "seller_id")?,
                category_id: parse_text(&row, "category_id")?,
                weight_grams: row
                    .try_get::<Option<i64>, _>("weight_grams")?
                    .map(|grams| {
                        u32::try_from(grams).map_err(|_| decode_error("weight_grams", &grams.to_string()))
                    })
                    .transpose()?,
            });
        }
    }
    Ok(found)
}

pub async fn variant_kind(
    conn: &mut AnyConnection,
    id: VariantId,
) -> Result<Option<ProductKind>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT p.kind FROM product_variants v JOIN products p ON p.id = v.product_id WHERE v.id = $1",
    )
    .bind(id.to_string())
    .fetch_optional(conn)
    .await?;
    row.map(|row| kind_of(&row, "kind")).transpose()
}

/// The seller of a variant's product, when the variant exists: `Some(None)` for the shop's own.
pub async fn variant_seller(
    conn: &mut AnyConnection,
    id: VariantId,
) -> Result<Option<Option<UserId>>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT p.seller_id FROM product_variants v JOIN products p ON p.id = v.product_id WHERE v.id = $1",
    )
    .bind(id.to_string())
    .fetch_optional(conn)
    .await?;
    row.map(|row| parse_optional(&row, "seller_id")).transpose()
}

/// Whether a variant's store is hidden (suspended).
pub async fn variant_store_hidden(conn: &mut AnyConnection, id: VariantId) -> Result<bool, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT COUNT(*) AS hidden FROM product_variants v JOIN products p ON p.id = v.product_id
         WHERE v.id = $1 AND NOT ({STORE_SHOWN})"
    ))
    .bind(id.to_string())
    .fetch_one(conn)
    .await?;
    Ok(row.try_get::<i64, _>("hidden")? > 0)
}

// ---- hidden stores ---------------------------------------------------------------------------

/// Hides (or shows again) every product of a seller's store. True when it changed anything.
pub async fn set_store_hidden(
    conn: &mut AnyConnection,
    seller: UserId,
    hidden: bool,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = if hidden {
        sqlx::query(
            "INSERT INTO hidden_stores (seller_id, hidden_at) VALUES ($1, $2) ON CONFLICT (seller_id) DO NOTHING",
        )
        .bind(seller.to_string())
        .bind(now.millis())
        .execute(conn)
        .await?
    } else {
        sqlx::query("DELETE FROM hidden_stores WHERE seller_id = $1")
            .bind(seller.to_string())
            .execute(conn)
            .await?
    };
    Ok(done.rows_affected() > 0)
}

/// The ids of every product a seller owns, whatever their status.
pub async fn product_ids_of_seller(
    conn: &mut AnyConnection,
    seller: UserId,
) -> Result<Vec<ProductId>, sqlx::Error> {
    let rows = sqlx::query("SELECT id FROM products WHERE seller_id = $1 ORDER BY id")
        .bind(seller.to_string())
        .fetch_all(conn)
        .await?;
    rows.iter().map(|row| parse_text(row, "id")).collect()
}

/// How many active products a seller's store shows.
pub async fn active_product_count(conn: &mut AnyConnection, seller: UserId) -> Result<i64, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT COUNT(*) AS n FROM products p WHERE p.seller_id = $1 AND p.status = $2 AND {STORE_SHOWN}"
    ))
    .bind(seller.to_string())
    .bind(ProductStatus::Active.as_str())
    .fetch_one(conn)
    .await?;
    row.try_get("n")
}

/// The product a variant belongs to, whatever its status; None for an unknown variant.
pub async fn variant_product(
    conn: &mut AnyConnection,
    id: VariantId,
) -> Result<Option<ProductId>, sqlx::Error> {
    let row = sqlx::query("SELECT product_id FROM product_variants WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.map(|row| parse_text(&row, "product_id")).transpose()
}

// ---- media ---------------------------------------------------------------------------------

const MEDIA_COLUMNS: &str = "id, product_id, object_key, content_type, size_bytes, created_at";

fn media_row_of(row: &AnyRow) -> Result<(ProductId, Media), sqlx::Error> {
    let key: MediaKey = parse_text(row, "object_key")?;
    let size: i64 = row.try_get("size_bytes")?;
    let media = Media {
        id: parse_text(row, "id")?,
        url: key.url(),
        content_type: row.try_get("content_type")?,
        size: u64::try_from(size).map_err(|_| decode_error("size_bytes", &size.to_string()))?,
        created_at: time_of(row, "created_at")?,
    };
    Ok((parse_text(row, "product_id")?, media))
}

pub async fn insert_media<'c>(
    ex: impl Executor<'c, Database = Any>,
    product: ProductId,
    key: MediaKey,
    size: usize,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO product_media (id, product_id, object_key, content_type, size_bytes, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(key.id.to_string())
    .bind(product.to_string())
    .bind(key.to_string())
    .bind(key.image_type.content_type())
    .bind(i64::try_from(size).unwrap_or(i64::MAX))
    .bind(now.millis())
    .execute(ex)
    .await
    .map(|_| ())
}

pub async fn media_count<'c>(
    ex: impl Executor<'c, Database = Any>,
    product: ProductId,
) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) FROM product_media WHERE product_id = $1")
        .bind(product.to_string())
        .fetch_one(ex)
        .await?
        .try_get(0)
}

/// Deletes one image of a product, returning its key; None when the product has no such image.
pub async fn delete_media<'c>(
    ex: impl Executor<'c, Database = Any>,
    product: ProductId,
    id: MediaId,
) -> Result<Option<(MediaKey, Media)>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "DELETE FROM product_media WHERE id = $1 AND product_id = $2 RETURNING {MEDIA_COLUMNS}"
    ))
    .bind(id.to_string())
    .bind(product.to_string())
    .fetch_optional(ex)
    .await?;
    row.map(|row| Ok((parse_text(&row, "object_key")?, media_row_of(&row)?.1))).transpose()
}

/// The content type of the image stored under `key`, if there is one.
pub async fn media_content_type<'c>(
    ex: impl Executor<'c, Database = Any>,
    key: MediaKey,
) -> Result<Option<String>, sqlx::Error> {
    let row = sqlx::query("SELECT content_type FROM product_media WHERE object_key = $1")
        .bind(key.to_string())
        .fetch_optional(ex)
        .await?;
    row.map(|row| row.try_get("content_type")).transpose()
}

/// The images of these products, oldest first, by product.
async fn media_of(
    conn: &mut AnyConnection,
    products: &[ProductId],
) -> Result<HashMap<ProductId, Vec<Media>>, sqlx::Error> {
    let mut by_product: HashMap<ProductId, Vec<Media>> = HashMap::new();
    for chunk in products.chunks(IN_CHUNK) {
        let sql = format!(
            "SELECT {MEDIA_COLUMNS} FROM product_media WHERE product_id IN ({}) ORDER BY id",
            placeholders(1, chunk.len())
        );
        let args = chunk.iter().map(|id| Arg::Text(id.to_string())).collect();
        for row in bind_all(sqlx::query(&sql), args).fetch_all(&mut *conn).await? {
            let (product, media) = media_row_of(&row)?;
            by_product.entry(product).or_default().push(media);
        }
    }
    Ok(by_product)
}
