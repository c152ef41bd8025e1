//! The catalog's use cases: running the catalog (products, variants, images, categories,
//! brands), showing it to shoppers, and telling other modules what sells at which price.
//!
//! Every change writes its event in the same transaction and ends the read cache's generation
//! once it has committed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::cache::ReadCache;
use super::domain::{
    CatalogName, Description, Price, ProductCursor, ProductKind, ProductName, ProductSort, ProductStatus,
    Refused, SaleVariant, Sku, Slug, VariantOptions, WeightGrams, check_new_variants, free_slug, name_key,
    would_cycle,
};
use super::media::{MediaKey, MediaStore, UploadRefused, check_upload};
use super::store::{self, ProductRow, SlugTable, VariantRow};
use crate::db::{self, Connection, Db, Transaction};
use crate::events::{self, NewEvent};
use crate::ids::{BrandId, CategoryId, MediaId, ProductId, UserId, VariantId};
use crate::inventory::Availability;
use crate::money::Money;
use crate::rating::Rating;
use crate::time::{Clock, Timestamp};

/// Most variants one product may have.
pub const MAX_VARIANTS: usize = 100;
/// Most images one product may have.
pub const MAX_MEDIA: i64 = 20;

/// Who makes a catalog change, as recorded on its event.
#[derive(Clone, Copy, Debug)]
pub enum Actor {
    /// An admin, through the API: acts on any product.
    Staff(UserId),
    /// A seller (the store's owner user), through `/v1/seller/…`: acts only on its own
    /// products; another store's product is not found.
    Seller(UserId),
    /// Pasar itself (the demo loader, imports).
    System,
}

impl Actor {
    fn event_actor(self) -> String {
        match self {
            Actor::Staff(user) | Actor::Seller(user) => user.to_string(),
            Actor::System => events::SYSTEM.to_owned(),
        }
    }

    /// Whether this actor may see and change a product owned by `owner`.
    fn manages(self, owner: Option<UserId>) -> bool {
        match self {
            Actor::Seller(user) => owner == Some(user),
            Actor::Staff(_) | Actor::System => true,
        }
    }

    /// The product when this actor may manage it; another store's product is not found.
    fn owned(self, product: ProductRow) -> Result<ProductRow, CatalogError> {
        if self.manages(product.seller_id) { Ok(product) } else { Err(CatalogError::ProductNotFound) }
    }
}

/// A product with its variants and images.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Product {
    pub id: ProductId,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub kind: ProductKind,
    pub status: ProductStatus,
    pub category_id: CategoryId,
    pub brand_id: Option<BrandId>,
    /// The seller who owns the product; none when the shop itself sells it.
    pub seller_id: Option<UserId>,
    /// The cheapest variant's price: what listings show, filter and sort by.
    pub price_from: Money,
    /// The average stars of its visible reviews, and how many there are.
    pub rating: Rating,
    /// Chosen by the shop's staff to be shown first on the home page.
    pub featured: bool,
    pub variants: Vec<Variant>,
    pub media: Vec<Media>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Present (true) when the product's store is suspended: shoppers do not see it and it
    /// cannot be bought until the store is reinstated. Only admins and its seller see this.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub store_suspended: bool,
}

/// One sellable version of a product (one SKU).
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Variant {
    pub id: VariantId,
    pub product_id: ProductId,
    pub sku: String,
    #[schema(value_type = VariantOptions)]
    pub options: BTreeMap<String, String>,
    pub price: Money,
    /// What resellers pay, when it differs from the price.
    pub reseller_price: Option<Money>,
    pub weight_grams: Option<u32>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// What shoppers can buy now, from the inventory: in the public product list and page only
    /// (admins read stock levels from the inventory routes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability: Option<Availability>,
}

/// A product image.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Media {
    pub id: MediaId,
    /// Where the image is served, such as `/media/med_….png`.
    pub url: String,
    pub content_type: String,
    /// Bytes.
    pub size: u64,
    pub created_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Category {
    pub id: CategoryId,
    pub parent_id: Option<CategoryId>,
    pub name: String,
    pub slug: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A category in the tree shoppers browse, with its subcategories.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct CategoryNode {
    pub id: CategoryId,
    pub name: String,
    pub slug: String,
    #[schema(no_recursion)]
    pub children: Vec<CategoryNode>,
}

#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Brand {
    pub id: BrandId,
    pub name: String,
    pub slug: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Reads a field that may be absent (leave it), null (clear it) or a value (set it).
fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A new product and its variants.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProduct {
    pub name: ProductName,
    /// Made from the name when absent (with `-2`, `-3`… when taken).
    pub slug: Option<Slug>,
    #[serde(default)]
    pub description: Description,
    pub kind: ProductKind,
    pub status: ProductStatus,
    pub category_id: CategoryId,
    pub brand_id: Option<BrandId>,
    /// A user with the `seller` role who owns the product; absent when the shop sells it.
    pub seller_id: Option<UserId>,
    /// 1 to 100 variants, all priced in one currency.
    #[schema(min_items = 1, max_items = 100)]
    pub variants: Vec<NewVariant>,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVariant {
    pub sku: Sku,
    #[serde(default)]
    pub options: VariantOptions,
    pub price: Price,
    pub reseller_price: Option<Price>,
    pub weight_grams: Option<WeightGrams>,
}

/// The fields to change; absent fields stay as they are, `null` clears an optional one.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductChange {
    pub name: Option<ProductName>,
    pub slug: Option<Slug>,
    pub description: Option<Description>,
    pub status: Option<ProductStatus>,
    pub category_id: Option<CategoryId>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<BrandId>)]
    pub brand_id: Option<Option<BrandId>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<UserId>)]
    pub seller_id: Option<Option<UserId>>,
    /// Shown first on the home page. Only the shop's staff choose it (not through the seller
    /// routes).
    pub featured: Option<bool>,
}

/// The fields to change; absent fields stay as they are, `null` clears an optional one.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantChange {
    pub sku: Option<Sku>,
    pub options: Option<VariantOptions>,
    pub price: Option<Price>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Price>)]
    pub reseller_price: Option<Option<Price>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<WeightGrams>)]
    pub weight_grams: Option<Option<WeightGrams>>,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryInput {
    pub name: CatalogName,
    /// Made from the name when absent.
    pub slug: Option<Slug>,
    /// The category this one sits under; absent for a top-level category.
    pub parent_id: Option<CategoryId>,
}

/// The fields to change; absent fields stay as they are; `parent_id: null` makes the category
/// top-level.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryChange {
    pub name: Option<CatalogName>,
    pub slug: Option<Slug>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<CategoryId>)]
    pub parent_id: Option<Option<CategoryId>>,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BrandInput {
    pub name: CatalogName,
    /// Made from the name when absent.
    pub slug: Option<Slug>,
}

/// Which products a listing shows and from where.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProductFilter {
    pub status: Option<ProductStatus>,
    /// This category and every category below it.
    pub category: Option<CategoryId>,
    pub brand: Option<BrandId>,
    /// Only this seller's (store's) products.
    pub seller: Option<UserId>,
    /// Only featured products (`true`) or only the others (`false`).
    pub featured: Option<bool>,
    /// Also products of suspended stores (hidden from shoppers): for admins and sellers.
    pub include_hidden_stores: bool,
    /// Lowest "from" price, in minor units.
    pub min_price: Option<i64>,
    /// Highest "from" price, in minor units.
    pub max_price: Option<i64>,
    /// Text in the name, any case; `%` and `_` are taken literally.
    pub search: Option<String>,
    pub sort: ProductSort,
    /// Continue after this position (a previous page's last product).
    pub after: Option<ProductCursor>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("no such product")]
    ProductNotFound,
    #[error("no such variant")]
    VariantNotFound,
    #[error("no such category")]
    CategoryNotFound,
    #[error("no such image")]
    MediaNotFound,
    #[error("{}", sku_taken_message(.0.as_deref()))]
    SkuTaken(Option<String>),
    #[error("this slug is already used")]
    SlugTaken,
    #[error("the category has subcategories; move or delete them first")]
    CategoryHasChildren,
    #[error("the category has products; move them to another category first")]
    CategoryHasProducts,
    #[error("a product may have at most {MAX_MEDIA} images")]
    TooManyMedia,
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error(transparent)]
    Upload(#[from] UploadRefused),
    #[error("the media store failed: {0}")]
    Storage(#[from] object_store::Error),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

fn sku_taken_message(sku: Option<&str>) -> String {
    match sku {
        Some(sku) => format!("SKU {sku} is already used by another variant"),
        None => "a SKU in this request is already used by another variant".to_owned(),
    }
}

#[derive(Clone)]
pub struct Catalog {
    db: Db,
    clock: Clock,
    media: MediaStore,
    cache: Arc<ReadCache>,
}

impl Catalog {
    /// `cache_ttl`: how long a public answer is served from memory (see [`ReadCache`]).
    pub fn new(db: Db, clock: Clock, media: MediaStore, cache_ttl: Duration) -> Self {
        Self { db, clock, media, cache: Arc::new(ReadCache::new(cache_ttl)) }
    }

    pub(super) fn cache(&self) -> &ReadCache {
        &self.cache
    }

    /// Largest image accepted, in bytes.
    pub fn media_max_bytes(&self) -> usize {
        self.media.max_bytes()
    }

    /// Commits a catalog change and ends the cache's generation, whatever the commit's outcome
    /// (a commit that reports failure may still have landed).
    async fn commit(&self, tx: Transaction) -> Result<(), sqlx::Error> {
        let committed = tx.commit().await;
        self.cache.invalidate();
        committed
    }

    // ---- what sells ------------------------------------------------------------------------

    /// Variants as they sell right now (product active), in any order; unknown or unsellable
    /// ids are absent.
    pub async fn variants_for_sale(&self, ids: &[VariantId]) -> Result<Vec<SaleVariant>, CatalogError> {
        let mut seen = HashSet::new();
        let unique: Vec<VariantId> = ids.iter().copied().filter(|id| seen.insert(*id)).collect();
        if unique.is_empty() {
            return Ok(Vec::new());
        }
        // Served from the read cache like the public pages (a checkout prices from it), so
        // it is as fresh as they are: at once after a write here, within the TTL after one
        // on another instance.
        let mut key_ids = unique.clone();
        key_ids.sort();
        let key = format!("sale:{}", key_ids.iter().map(VariantId::to_string).collect::<Vec<_>>().join(","));
        let bytes = self
            .cache
            .get_or_load(key, async {
                let mut conn = self.db.reader().acquire().await?;
                let variants = store::sale_variants(&mut conn, &unique).await?;
                serde_json::to_vec(&variants).map(Bytes::from).map_err(|e| sqlx::Error::Encode(Box::new(e)))
            })
            .await?;
        serde_json::from_slice(&bytes).map_err(|e| CatalogError::Database(sqlx::Error::Decode(Box::new(e))))
    }

    /// The kind of a variant's product, whatever its status (for stock keeping); None for an
    /// unknown variant.
    pub async fn variant_kind(&self, id: VariantId) -> Result<Option<ProductKind>, CatalogError> {
        let mut conn = self.db.reader().acquire().await?;
        Ok(store::variant_kind(&mut conn, id).await?)
    }

    /// The kind of a variant's product when this actor manages it (a seller: only its own
    /// store's); None for an unknown variant or another store's.
    pub async fn variant_kind_as(
        &self,
        actor: Actor,
        id: VariantId,
    ) -> Result<Option<ProductKind>, CatalogError> {
        let mut conn = self.db.reader().acquire().await?;
        match store::variant_seller(&mut conn, id).await? {
            Some(owner) if actor.manages(owner) => Ok(store::variant_kind(&mut conn, id).await?),
            _ => Ok(None),
        }
    }

    /// Whether a variant is unsellable because its store is suspended (so a cart or checkout
    /// can say so instead of "not for sale").
    pub async fn variant_store_suspended(&self, id: VariantId) -> Result<bool, CatalogError> {
        let mut conn = self.db.reader().acquire().await?;
        Ok(store::variant_store_hidden(&mut conn, id).await?)
    }

    /// How many active products a store shows shoppers.
    pub async fn store_product_count(&self, seller: UserId) -> Result<i64, CatalogError> {
        let mut conn = self.db.reader().acquire().await?;
        Ok(store::active_product_count(&mut conn, seller).await?)
    }

    /// Hides every product of a seller's store from shoppers (`hidden`: a suspension), or shows
    /// them again, as a step of the caller's transaction (the seller's decision commits with
    /// it). Each product gets a `product.updated` event, so other views of the catalog (the
    /// search index) follow within one relay round. A store already in the wanted state changes
    /// nothing and writes nothing. Once the transaction has ended, the caller calls
    /// [`Catalog::forget_cached_reads`].
    pub async fn set_store_hidden(
        &self,
        tx: &mut Transaction,
        actor: Actor,
        seller: UserId,
        hidden: bool,
    ) -> Result<(), CatalogError> {
        let now = self.clock.now();
        let ids = store::product_ids_of_seller(tx, seller).await?;
        let mut rows = Vec::with_capacity(ids.len());
        for id in &ids {
            rows.extend(store::product_row(&mut **tx, *id).await?);
        }
        let before = store::assemble(tx, rows).await?;
        if !store::set_store_hidden(tx, seller, hidden, now).await? || before.is_empty() {
            return Ok(());
        }
        let events = before
            .iter()
            .map(|product| {
                let mut after = product.clone();
                after.store_suspended = hidden;
                NewEvent {
                    event_type: "product.updated",
                    version: 1,
                    subject_id: product.id.to_string(),
                    actor: actor.event_actor(),
                    payload: serde_json::json!({
                        "product_id": product.id,
                        "before": snapshot(product),
                        "after": snapshot(&after),
                    }),
                }
            })
            .collect();
        events::record_many(tx, now, events).await?;
        Ok(())
    }

    /// Ends the read cache's generation after a catalog change made in another module's
    /// transaction, once it has committed (a store hidden, a product's rating).
    pub fn forget_cached_reads(&self) {
        self.cache.invalidate();
    }

    /// The variant with `sku` (exactly as written), whatever its product's status.
    pub async fn variant_by_sku(&self, sku: &str) -> Result<Option<VariantId>, CatalogError> {
        let found = store::variant_id_by_sku(self.db.reader(), sku).await?;
        Ok(found.and_then(|id| id.parse().ok()))
    }

    /// The variants with these SKUs (exactly as written), whatever their product's status,
    /// with their product's kind; SKUs no variant has are absent (a stock import's lookup).
    pub async fn variants_by_skus(
        &self,
        skus: &[&str],
    ) -> Result<HashMap<String, (VariantId, ProductKind)>, CatalogError> {
        if skus.is_empty() {
            return Ok(HashMap::new());
        }
        let mut conn = self.db.reader().acquire().await?;
        Ok(store::variants_by_skus(&mut conn, skus).await?)
    }

    /// The product a variant belongs to, whatever its status (for keeping other views of
    /// products, such as the search index, up to date on stock events); None for an unknown
    /// variant.
    pub async fn product_of_variant(&self, id: VariantId) -> Result<Option<ProductId>, CatalogError> {
        let mut conn = self.db.reader().acquire().await?;
        Ok(store::variant_product(&mut conn, id).await?)
    }

    // ---- products --------------------------------------------------------------------------

    pub async fn create_product(&self, actor: Actor, input: NewProduct) -> Result<Product, CatalogError> {
        if input.variants.len() > MAX_VARIANTS {
            return Err(Refused::new("variants", format!("at most {MAX_VARIANTS} variants")).into());
        }
        check_new_variants(input.variants.iter().map(|v| (&v.sku, &v.options, v.price, v.reseller_price)))?;
        retry_generated_slug(input.slug.is_none(), || self.try_create_product(actor, &input)).await
    }

    async fn try_create_product(&self, actor: Actor, input: &NewProduct) -> Result<Product, CatalogError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        check_category(&mut tx, input.category_id, "category_id").await?;
        if let Some(brand) = input.brand_id {
            check_brand(&mut tx, brand).await?;
        }
        let skus: Vec<&str> = input.variants.iter().map(|v| v.sku.as_str()).collect();
        if let Some(taken) = store::skus_in_use(&mut *tx, &skus).await?.into_iter().next() {
            return Err(CatalogError::SkuTaken(Some(taken)));
        }
        let slug =
            choose_slug(&mut tx, SlugTable::Products, input.slug.as_ref(), input.name.as_str(), "product")
                .await?;
        let first = input
            .variants
            .first()
            .ok_or_else(|| Refused::new("variants", "a product needs at least one variant"))?;
        let row = ProductRow {
            id: ProductId::new(),
            slug: slug.to_string(),
            name: input.name.as_str().to_owned(),
            description: input.description.as_str().to_owned(),
            kind: input.kind,
            status: input.status,
            category_id: input.category_id,
            brand_id: input.brand_id,
            seller_id: input.seller_id,
            currency: first.price.currency(),
            price_from: input.variants.iter().map(|v| v.price.amount()).min().unwrap_or(first.price.amount()),
            rating_sum: 0,
            rating_count: 0,
            featured: false,
            created_at: now,
            updated_at: now,
            store_hidden: false,
        };
        store::insert_product(&mut *tx, &row, &name_key(&row.name)).await.map_err(slug_conflict)?;
        for variant in &input.variants {
            let variant_row = VariantRow {
                id: VariantId::new(),
                product_id: row.id,
                sku: variant.sku.as_str(),
                options: &variant.options,
                price_amount: variant.price.amount(),
                reseller_price_amount: variant.reseller_price.map(Price::amount),
                weight_grams: variant.weight_grams.map(WeightGrams::get),
                now,
            };
            store::insert_variant(&mut *tx, &variant_row).await.map_err(|e| sku_conflict(e, None))?;
        }
        let product = read_product(&mut tx, row.id).await?;
        events::record(
            &mut tx,
            now,
            NewEvent {
                event_type: "product.created",
                version: 1,
                subject_id: product.id.to_string(),
                actor: actor.event_actor(),
                payload: serde_json::json!({ "product_id": product.id, "after": product }),
            },
        )
        .await?;
        self.commit(tx).await?;
        Ok(product)
    }

    pub async fn update_product(
        &self,
        actor: Actor,
        id: ProductId,
        change: ProductChange,
    ) -> Result<Product, CatalogError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        if !store::lock_product(&mut *tx, id).await? {
            return Err(CatalogError::ProductNotFound);
        }
        let before =
            actor.owned(store::product_row(&mut *tx, id).await?.ok_or(CatalogError::ProductNotFound)?)?;
        if change.seller_id.is_some_and(|seller| !actor.manages(seller)) {
            return Err(Refused::new("seller_id", "a seller's products stay in its own store").into());
        }
        if change.featured.is_some() && matches!(actor, Actor::Seller(_)) {
            return Err(Refused::new("featured", "the shop's staff choose the featured products").into());
        }
        let mut after = before.clone();
        if let Some(name) = change.name {
            after.name = name.into();
        }
        if let Some(description) = change.description {
            after.description = description.into();
        }
        if let Some(status) = change.status {
            after.status = status;
        }
        if let Some(category) = change.category_id {
            after.category_id = category;
        }
        if let Some(brand) = change.brand_id {
            after.brand_id = brand;
        }
        if let Some(seller) = change.seller_id {
            after.seller_id = seller;
        }
        if let Some(slug) = change.slug {
            after.slug = slug.into();
        }
        if let Some(featured) = change.featured {
            after.featured = featured;
        }
        if after == before {
            return read_product(&mut tx, id).await;
        }
        if after.category_id != before.category_id {
            check_category(&mut tx, after.category_id, "category_id").await?;
        }
        if let (Some(brand), true) = (after.brand_id, after.brand_id != before.brand_id) {
            check_brand(&mut tx, brand).await?;
        }
        if after.slug != before.slug && store::product_row_by_slug(&mut *tx, &after.slug).await?.is_some() {
            return Err(CatalogError::SlugTaken);
        }
        let old = read_product(&mut tx, id).await?;
        after.updated_at = now;
        store::update_product(&mut *tx, &after, &name_key(&after.name)).await.map_err(slug_conflict)?;
        let product = read_product(&mut tx, id).await?;
        events::record(
            &mut tx,
            now,
            NewEvent {
                event_type: "product.updated",
                version: 1,
                subject_id: id.to_string(),
                actor: actor.event_actor(),
                payload: serde_json::json!({
                    "product_id": id,
                    "before": snapshot(&old),
                    "after": snapshot(&product),
                }),
            },
        )
        .await?;
        self.commit(tx).await?;
        Ok(product)
    }

    /// Sets a product's rating inside the caller's transaction (the reviews module's, so the
    /// rating moves together with the review that changed it): the sum of its visible reviews'
    /// stars and their count, recomputed by the caller. Writes `product.updated` so the search
    /// index follows. The caller calls [`Catalog::forget_cached_reads`] once it has committed.
    pub async fn set_rating(
        &self,
        conn: &mut Connection,
        product: ProductId,
        sum: i64,
        count: i64,
    ) -> Result<(), CatalogError> {
        if count < 0 || sum < count || sum > count.saturating_mul(5) {
            return Err(Refused::new("rating", "a rating is 1 to 5 stars per review").into());
        }
        let now = self.clock.now();
        let row = store::product_row(&mut *conn, product).await?.ok_or(CatalogError::ProductNotFound)?;
        if (row.rating_sum, row.rating_count) == (sum, count) {
            return Ok(());
        }
        let old = store::assemble(&mut *conn, vec![row]).await?.remove(0);
        if !store::set_rating(&mut *conn, product, sum, count).await? {
            return Err(CatalogError::ProductNotFound);
        }
        let mut new = old.clone();
        new.rating = Rating::of(sum, count);
        events::record(
            conn,
            now,
            NewEvent {
                event_type: "product.updated",
                version: 1,
                subject_id: product.to_string(),
                actor: Actor::System.event_actor(),
                payload: serde_json::json!({
                    "product_id": product,
                    "before": snapshot(&old),
                    "after": snapshot(&new),
                }),
            },
        )
        .await?;
        Ok(())
    }

    /// A product in any status.
    pub async fn product(&self, id: ProductId) -> Result<Product, CatalogError> {
        self.product_as(Actor::System, id).await
    }

    /// A product in any status that this actor manages (a seller: only its own).
    pub async fn product_as(&self, actor: Actor, id: ProductId) -> Result<Product, CatalogError> {
        let mut conn = self.db.reader().acquire().await?;
        let row =
            actor.owned(store::product_row(&mut *conn, id).await?.ok_or(CatalogError::ProductNotFound)?)?;
        Ok(store::assemble(&mut conn, vec![row]).await?.remove(0))
    }

    /// A product in any status, by its slug.
    pub async fn product_by_slug(&self, slug: &Slug) -> Result<Option<Product>, CatalogError> {
        let mut conn = self.db.reader().acquire().await?;
        let Some(row) = store::product_row_by_slug(&mut *conn, slug.as_str()).await? else { return Ok(None) };
        Ok(store::assemble(&mut conn, vec![row]).await?.pop())
    }

    /// A product as shoppers see it, by id or slug: only an active product is found.
    pub async fn product_for_shoppers(&self, id_or_slug: &str) -> Result<Product, CatalogError> {
        let mut conn = self.db.reader().acquire().await?;
        let row = if let Ok(id) = id_or_slug.parse::<ProductId>() {
            store::product_row(&mut *conn, id).await?
        } else if let Ok(slug) = Slug::parse(id_or_slug) {
            store::product_row_by_slug(&mut *conn, slug.as_str()).await?
        } else {
            None
        };
        let row = row
            .filter(|row| row.status == ProductStatus::Active && !row.store_hidden)
            .ok_or(CatalogError::ProductNotFound)?;
        Ok(store::assemble(&mut conn, vec![row]).await?.remove(0))
    }

    /// One page of products as the filter asks: up to `limit` of them, and whether more follow
    /// (continue with [`cursor_after`] the last one).
    pub async fn list_products(
        &self,
        filter: &ProductFilter,
        limit: usize,
    ) -> Result<(Vec<Product>, bool), CatalogError> {
        let mut conn = self.db.reader().acquire().await?;
        let mut rows = store::list_product_rows(&mut *conn, filter, limit + 1).await?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        Ok((store::assemble(&mut conn, rows).await?, more))
    }

    // ---- variants --------------------------------------------------------------------------

    pub async fn add_variant(
        &self,
        actor: Actor,
        product_id: ProductId,
        input: NewVariant,
    ) -> Result<Variant, CatalogError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        // Variants of one product are added one at a time, so the checks against their
        // siblings (options, count) hold when the insert lands.
        if !store::lock_product(&mut *tx, product_id).await? {
            return Err(CatalogError::ProductNotFound);
        }
        let product = actor
            .owned(store::product_row(&mut *tx, product_id).await?.ok_or(CatalogError::ProductNotFound)?)?;
        check_currency(product.currency, input.price, "price.currency")?;
        if let Some(reseller_price) = input.reseller_price {
            check_currency(product.currency, reseller_price, "reseller_price.currency")?;
        }
        let siblings = store::sibling_options(&mut *tx, product_id, None).await?;
        if siblings.len() >= MAX_VARIANTS {
            return Err(Refused::new(
                "variants",
                format!("a product may have at most {MAX_VARIANTS} variants"),
            )
            .into());
        }
        if siblings.contains(&input.options) {
            return Err(
                Refused::new("options", "another variant of this product has the same options").into()
            );
        }
        if !store::skus_in_use(&mut *tx, &[input.sku.as_str()]).await?.is_empty() {
            return Err(CatalogError::SkuTaken(Some(input.sku.to_string())));
        }
        let row = VariantRow {
            id: VariantId::new(),
            product_id,
            sku: input.sku.as_str(),
            options: &input.options,
            price_amount: input.price.amount(),
            reseller_price_amount: input.reseller_price.map(Price::amount),
            weight_grams: input.weight_grams.map(WeightGrams::get),
            now,
        };
        store::insert_variant(&mut *tx, &row).await.map_err(|e| sku_conflict(e, Some(&input.sku)))?;
        store::refresh_price_from(&mut *tx, product_id, now).await?;
        let variant = store::variant(&mut *tx, row.id).await?.ok_or(CatalogError::VariantNotFound)?;
        events::record(
            &mut tx,
            now,
            NewEvent {
                event_type: "variant.created",
                version: 1,
                subject_id: variant.id.to_string(),
                actor: actor.event_actor(),
                payload: serde_json::json!({ "product_id": product_id, "variant_id": variant.id, "after": variant }),
            },
        )
        .await?;
        self.commit(tx).await?;
        Ok(variant)
    }

    pub async fn update_variant(
        &self,
        actor: Actor,
        id: VariantId,
        change: VariantChange,
    ) -> Result<Variant, CatalogError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let found = store::variant(&mut *tx, id).await?.ok_or(CatalogError::VariantNotFound)?;
        let owner = store::product_row(&mut *tx, found.product_id).await?.map(|p| p.seller_id);
        if !owner.is_some_and(|owner| actor.manages(owner)) {
            return Err(CatalogError::VariantNotFound);
        }
        store::lock_product(&mut *tx, found.product_id).await?;
        // Read again under the product's lock: a concurrent edit may have landed meanwhile.
        let before = store::variant(&mut *tx, id).await?.ok_or(CatalogError::VariantNotFound)?;
        let currency = before.price.currency;
        if let Some(price) = change.price {
            check_currency(currency, price, "price.currency")?;
        }
        if let Some(Some(reseller_price)) = change.reseller_price {
            check_currency(currency, reseller_price, "reseller_price.currency")?;
        }
        let sku = change.sku.map_or_else(|| before.sku.clone(), String::from);
        let options = match change.options {
            Some(options) => options,
            None => VariantOptions::parse(before.options.clone()).map_err(|e| Refused::new("options", e))?,
        };
        let row = VariantRow {
            id,
            product_id: before.product_id,
            sku: &sku,
            options: &options,
            price_amount: change.price.map_or(before.price.amount, Price::amount),
            reseller_price_amount: match change.reseller_price {
                None => before.reseller_price.map(|money| money.amount),
                Some(reseller_price) => reseller_price.map(Price::amount),
            },
            weight_grams: match change.weight_grams {
                None => before.weight_grams,
                Some(weight) => weight.map(WeightGrams::get),
            },
            now,
        };
        let unchanged = row.sku == before.sku
            && row.options.as_map() == &before.options
            && row.price_amount == before.price.amount
            && row.reseller_price_amount == before.reseller_price.map(|money| money.amount)
            && row.weight_grams == before.weight_grams;
        if unchanged {
            return Ok(before);
        }
        if row.sku != before.sku && !store::skus_in_use(&mut *tx, &[row.sku]).await?.is_empty() {
            return Err(CatalogError::SkuTaken(Some(sku.clone())));
        }
        if row.options.as_map() != &before.options
            && store::sibling_options(&mut *tx, before.product_id, Some(id)).await?.contains(row.options)
        {
            return Err(
                Refused::new("options", "another variant of this product has the same options").into()
            );
        }
        store::update_variant(&mut *tx, &row).await.map_err(|e| sku_conflict(e, None))?;
        store::refresh_price_from(&mut *tx, before.product_id, now).await?;
        let after = store::variant(&mut *tx, id).await?.ok_or(CatalogError::VariantNotFound)?;
        events::record(
            &mut tx,
            now,
            NewEvent {
                event_type: "variant.updated",
                version: 1,
                subject_id: id.to_string(),
                actor: actor.event_actor(),
                payload: serde_json::json!({
                    "product_id": before.product_id,
                    "variant_id": id,
                    "before": before,
                    "after": after,
                }),
            },
        )
        .await?;
        self.commit(tx).await?;
        Ok(after)
    }

    // ---- media -----------------------------------------------------------------------------

    /// Stores an uploaded image of a product. The bytes go to the object store first and the
    /// row that shows them second, so a product never lists an image that is not there; when
    /// the row cannot be written, the stored object is removed again.
    pub async fn add_media(
        &self,
        actor: Actor,
        product: ProductId,
        content_type: Option<&str>,
        bytes: Bytes,
    ) -> Result<Media, CatalogError> {
        let image_type = check_upload(&bytes, content_type, self.media.max_bytes())?;
        actor.owned(
            store::product_row(self.db.reader(), product).await?.ok_or(CatalogError::ProductNotFound)?,
        )?;
        let key = MediaKey { id: MediaId::new(), image_type };
        let size = bytes.len();
        self.media.put_recorded(key, bytes, self.record_media(actor, product, key, size)).await
    }

    async fn record_media(
        &self,
        actor: Actor,
        product: ProductId,
        key: MediaKey,
        size: usize,
    ) -> Result<Media, CatalogError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        if !store::lock_product(&mut *tx, product).await? {
            return Err(CatalogError::ProductNotFound);
        }
        if store::media_count(&mut *tx, product).await? >= MAX_MEDIA {
            return Err(CatalogError::TooManyMedia);
        }
        store::insert_media(&mut *tx, product, key, size, now).await?;
        let media = Media {
            id: key.id,
            url: key.url(),
            content_type: key.image_type.content_type().to_owned(),
            size: u64::try_from(size).unwrap_or(u64::MAX),
            created_at: now,
        };
        events::record(
            &mut tx,
            now,
            NewEvent {
                event_type: "product.media_added",
                version: 1,
                subject_id: product.to_string(),
                actor: actor.event_actor(),
                payload: serde_json::json!({ "product_id": product, "after": media }),
            },
        )
        .await?;
        self.commit(tx).await?;
        Ok(media)
    }

    /// Removes an image from a product. The row goes first, then the object; an object left
    /// behind by a failure there is only unused space, never a broken image.
    pub async fn remove_media(
        &self,
        actor: Actor,
        product: ProductId,
        id: MediaId,
    ) -> Result<(), CatalogError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        actor.owned(store::product_row(&mut *tx, product).await?.ok_or(CatalogError::ProductNotFound)?)?;
        let (key, media) =
            store::delete_media(&mut *tx, product, id).await?.ok_or(CatalogError::MediaNotFound)?;
        events::record(
            &mut tx,
            now,
            NewEvent {
                event_type: "product.media_removed",
                version: 1,
                subject_id: product.to_string(),
                actor: actor.event_actor(),
                payload: serde_json::json!({ "product_id": product, "before": media }),
            },
        )
        .await?;
        self.commit(tx).await?;
        if let Err(err) = self.media.delete(key).await {
            tracing::warn!(key = %key, error = %err, "could not remove a deleted image's object");
        }
        Ok(())
    }

    /// The bytes and content type of the image served at `/media/{key}`.
    pub async fn media_object(&self, key: &str) -> Result<(String, Bytes), CatalogError> {
        let key: MediaKey = key.parse().map_err(|()| CatalogError::MediaNotFound)?;
        let content_type =
            store::media_content_type(self.db.reader(), key).await?.ok_or(CatalogError::MediaNotFound)?;
        let bytes = self.media.get(key).await?.ok_or(CatalogError::MediaNotFound)?;
        Ok((content_type, bytes))
    }

    // ---- categories ------------------------------------------------------------------------

    pub async fn create_category(
        &self,
        actor: Actor,
        input: CategoryInput,
    ) -> Result<Category, CatalogError> {
        retry_generated_slug(input.slug.is_none(), || self.try_create_category(actor, &input)).await
    }

    async fn try_create_category(
        &self,
        actor: Actor,
        input: &CategoryInput,
    ) -> Result<Category, CatalogError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        if let Some(parent) = input.parent_id {
            check_category(&mut tx, parent, "parent_id").await?;
        }
        let slug =
            choose_slug(&mut tx, SlugTable::Categories, input.slug.as_ref(), input.name.as_str(), "category")
                .await?;
        let category = Category {
            id: CategoryId::new(),
            parent_id: input.parent_id,
            name: input.name.as_str().to_owned(),
            slug: slug.into(),
            created_at: now,
            updated_at: now,
        };
        store::insert_category(&mut *tx, &category).await.map_err(slug_conflict)?;
        events::record(
            &mut tx,
            now,
            NewEvent {
                event_type: "category.created",
                version: 1,
                subject_id: category.id.to_string(),
                actor: actor.event_actor(),
                payload: serde_json::json!({ "category_id": category.id, "after": category }),
            },
        )
        .await?;
        self.commit(tx).await?;
        Ok(category)
    }

    pub async fn update_category(
        &self,
        actor: Actor,
        id: CategoryId,
        change: CategoryChange,
    ) -> Result<Category, CatalogError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        store::lock_category_tree(&mut *tx).await?;
        let before = store::category(&mut *tx, id).await?.ok_or(CatalogError::CategoryNotFound)?;
        let mut after = before.clone();
        if let Some(name) = change.name {
            after.name = name.into();
        }
        if let Some(slug) = change.slug {
            after.slug = slug.into();
        }
        if let Some(parent) = change.parent_id {
            after.parent_id = parent;
        }
        if after == before {
            return Ok(before);
        }
        if let (Some(parent), true) = (after.parent_id, after.parent_id != before.parent_id) {
            let parents = store::category_parents(&mut *tx).await?;
            if !parents.contains_key(&parent) {
                return Err(Refused::new("parent_id", "no such category").into());
            }
            if would_cycle(id, parent, &parents) {
                return Err(Refused::new(
                    "parent_id",
                    "a category cannot move under itself or its subcategories",
                )
                .into());
            }
        }
        if after.slug != before.slug && store::category_by_slug(&mut *tx, &after.slug).await?.is_some() {
            return Err(CatalogError::SlugTaken);
        }
        after.updated_at = now;
        store::update_category(&mut *tx, &after).await.map_err(slug_conflict)?;
        events::record(
            &mut tx,
            now,
            NewEvent {
                event_type: "category.updated",
                version: 1,
                subject_id: id.to_string(),
                actor: actor.event_actor(),
                payload: serde_json::json!({ "category_id": id, "before": before, "after": after }),
            },
        )
        .await?;
        self.commit(tx).await?;
        Ok(after)
    }

    /// Deletes an empty category: one with subcategories or products is refused, so no product
    /// is ever left without a category.
    pub async fn delete_category(&self, actor: Actor, id: CategoryId) -> Result<(), CatalogError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let before = store::category(&mut *tx, id).await?.ok_or(CatalogError::CategoryNotFound)?;
        let (children, products) = store::category_contents(&mut tx, id).await?;
        if children > 0 {
            return Err(CatalogError::CategoryHasChildren);
        }
        if products > 0 {
            return Err(CatalogError::CategoryHasProducts);
        }
        store::delete_category(&mut *tx, id).await?;
        events::record(
            &mut tx,
            now,
            NewEvent {
                event_type: "category.deleted",
                version: 1,
                subject_id: id.to_string(),
                actor: actor.event_actor(),
                payload: serde_json::json!({ "category_id": id, "before": before }),
            },
        )
        .await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// Every category, by name.
    pub async fn categories(&self) -> Result<Vec<Category>, CatalogError> {
        Ok(store::categories(self.db.reader()).await?)
    }

    /// The category a listing's `category` names, by id (`cat_…`, not looked up) or by slug;
    /// None when no category has that slug or the text is neither.
    pub async fn category_named(&self, id_or_slug: &str) -> Result<Option<CategoryId>, CatalogError> {
        if let Ok(id) = id_or_slug.parse::<CategoryId>() {
            return Ok(Some(id));
        }
        let Ok(slug) = Slug::parse(id_or_slug) else { return Ok(None) };
        Ok(self.category_by_slug(&slug).await?.map(|category| category.id))
    }

    pub async fn category_by_slug(&self, slug: &Slug) -> Result<Option<Category>, CatalogError> {
        Ok(store::category_by_slug(self.db.reader(), slug.as_str()).await?)
    }

    /// The categories as a tree, each level by name.
    pub async fn category_tree(&self) -> Result<Vec<CategoryNode>, CatalogError> {
        Ok(category_tree(self.categories().await?))
    }

    // ---- brands ----------------------------------------------------------------------------

    pub async fn create_brand(&self, actor: Actor, input: BrandInput) -> Result<Brand, CatalogError> {
        retry_generated_slug(input.slug.is_none(), || self.try_create_brand(actor, &input)).await
    }

    async fn try_create_brand(&self, actor: Actor, input: &BrandInput) -> Result<Brand, CatalogError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let slug = choose_slug(&mut tx, SlugTable::Brands, input.slug.as_ref(), input.name.as_str(), "brand")
            .await?;
        let brand = Brand {
            id: BrandId::new(),
            name: input.name.as_str().to_owned(),
            slug: slug.into(),
            created_at: now,
            updated_at: now,
        };
        store::insert_brand(&mut *tx, &brand).await.map_err(slug_conflict)?;
        events::record(
            &mut tx,
            now,
            NewEvent {
                event_type: "brand.created",
                version: 1,
                subject_id: brand.id.to_string(),
                actor: actor.event_actor(),
                payload: serde_json::json!({ "brand_id": brand.id, "after": brand }),
            },
        )
        .await?;
        self.commit(tx).await?;
        Ok(brand)
    }

    /// Every brand, by name.
    pub async fn brands(&self) -> Result<Vec<Brand>, CatalogError> {
        Ok(store::brands(self.db.reader()).await?)
    }

    /// The brand a listing's `brand` names, by id (`brd_…`, not looked up) or by slug; None
    /// when no brand has that slug or the text is neither.
    pub async fn brand_named(&self, id_or_slug: &str) -> Result<Option<BrandId>, CatalogError> {
        if let Ok(id) = id_or_slug.parse::<BrandId>() {
            return Ok(Some(id));
        }
        let Ok(slug) = Slug::parse(id_or_slug) else { return Ok(None) };
        Ok(self.brand_by_slug(&slug).await?.map(|brand| brand.id))
    }

    pub async fn brand_by_slug(&self, slug: &Slug) -> Result<Option<Brand>, CatalogError> {
        Ok(store::brand_by_slug(self.db.reader(), slug.as_str()).await?)
    }
}

/// The position right after `product` in a listing sorted by `sort`.
pub fn cursor_after(product: &Product, sort: ProductSort) -> ProductCursor {
    match sort {
        ProductSort::Newest => ProductCursor::Newest { id: product.id },
        ProductSort::PriceAsc | ProductSort::PriceDesc => {
            ProductCursor::Price { sort, price: product.price_from.amount, id: product.id }
        }
        ProductSort::Name => ProductCursor::Name { name: name_key(&product.name), id: product.id },
    }
}

/// Runs a create again when its generated slug was taken by a concurrent create between the
/// check and the insert; a slug the client chose is never replaced.
async fn retry_generated_slug<T, F: Future<Output = Result<T, CatalogError>>>(
    generated: bool,
    mut attempt: impl FnMut() -> F,
) -> Result<T, CatalogError> {
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt().await {
            Err(CatalogError::SlugTaken) if generated && tries < 3 => continue,
            outcome => return outcome,
        }
    }
}

/// The given slug when it is free, or a free one made from the name.
async fn choose_slug(
    tx: &mut Transaction,
    table: SlugTable,
    given: Option<&Slug>,
    name: &str,
    fallback: &'static str,
) -> Result<Slug, CatalogError> {
    match given {
        Some(slug) => {
            if store::slugs_like(&mut **tx, table, slug.as_str()).await?.contains(slug.as_str()) {
                return Err(CatalogError::SlugTaken);
            }
            Ok(slug.clone())
        }
        None => {
            let base = Slug::from_name(name, fallback);
            let taken = store::slugs_like(&mut **tx, table, base.as_str()).await?;
            Ok(free_slug(&base, &taken))
        }
    }
}

async fn check_category(tx: &mut Transaction, id: CategoryId, field: &str) -> Result<(), CatalogError> {
    match store::category(&mut **tx, id).await? {
        Some(_) => Ok(()),
        None => Err(Refused::new(field, "no such category").into()),
    }
}

async fn check_brand(tx: &mut Transaction, id: BrandId) -> Result<(), CatalogError> {
    if store::brand_exists(&mut **tx, id).await? {
        Ok(())
    } else {
        Err(Refused::new("brand_id", "no such brand").into())
    }
}

fn check_currency(expected: crate::money::Currency, price: Price, field: &str) -> Result<(), Refused> {
    if price.currency() == expected {
        Ok(())
    } else {
        Err(Refused::new(field, format!("must be {expected}, the currency of this product's variants")))
    }
}

async fn read_product(tx: &mut Transaction, id: ProductId) -> Result<Product, CatalogError> {
    let row = store::product_row(&mut **tx, id).await?.ok_or(CatalogError::ProductNotFound)?;
    Ok(store::assemble(tx, vec![row]).await?.remove(0))
}

fn slug_conflict(err: sqlx::Error) -> CatalogError {
    if db::is_unique_violation(&err) { CatalogError::SlugTaken } else { err.into() }
}

fn sku_conflict(err: sqlx::Error, sku: Option<&Sku>) -> CatalogError {
    if db::is_unique_violation(&err) { CatalogError::SkuTaken(sku.map(Sku::to_string)) } else { err.into() }
}

/// A product's own fields, without its variants and images, as `before` and `after` of a
/// `product.updated` event.
fn snapshot(product: &Product) -> serde_json::Value {
    let mut value = serde_json::to_value(product).expect("a product serialises");
    if let Some(fields) = value.as_object_mut() {
        fields.remove("variants");
        fields.remove("media");
    }
    value
}

/// Arranges categories into trees under their parents, keeping the given order at each level.
/// A category whose parent is missing is shown at the top rather than lost.
fn category_tree(categories: Vec<Category>) -> Vec<CategoryNode> {
    let known: HashSet<CategoryId> = categories.iter().map(|c| c.id).collect();
    let mut children: HashMap<Option<CategoryId>, Vec<Category>> = HashMap::new();
    for category in categories {
        let parent = category.parent_id.filter(|parent| known.contains(parent));
        children.entry(parent).or_default().push(category);
    }
    fn build(
        parent: Option<CategoryId>,
        children: &mut HashMap<Option<CategoryId>, Vec<Category>>,
    ) -> Vec<CategoryNode> {
        children
            .remove(&parent)
            .unwrap_or_default()
            .into_iter()
            .map(|category| CategoryNode {
                id: category.id,
                name: category.name,
                slug: category.slug,
                children: build(Some(category.id), children),
            })
            .collect()
    }
    build(None, &mut children)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn category(name: &str, parent: Option<CategoryId>) -> Category {
        Category {
            id: CategoryId::new(),
            parent_id: parent,
            name: name.into(),
            slug: name.to_lowercase(),
            created_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
        }
    }

    #[test]
    fn categories_nest_under_their_parents_in_order() {
        let fashion = category("Fashion", None);
        let kitchen = category("Kitchen", None);
        let shirts = category("Shirts", Some(fashion.id));
        let batik = category("Batik", Some(shirts.id));
        let orphan = category("Orphan", Some(CategoryId::new()));
        let tree = category_tree(vec![
            batik.clone(),
            fashion.clone(),
            kitchen.clone(),
            orphan.clone(),
            shirts.clone(),
        ]);
        let names: Vec<&str> = tree.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["Fashion", "Kitchen", "Orphan"]);
        assert_eq!(tree[0].children[0].name, "Shirts");
        assert_eq!(tree[0].children[0].children[0].name, "Batik");
        assert!(tree[1].children.is_empty());
    }
}
