//! Search's use cases: answering searches and suggestions from the index, keeping the index in
//! step with the catalog and the inventory (an outbox subscriber), and rebuilding it.
//!
//! The index is this instance's copy of the active catalog. Every write to it (an event's
//! refresh, a rebuild) holds one gate, so a rebuild never interleaves with a refresh and a
//! product is never in the index twice.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use anyhow::Context;
use serde::Serialize;
use utoipa::ToSchema;

use super::domain::{self, BucketName, ParsedQuery, SearchSort};
use super::store::{FacetCounts, IndexQuery, IndexedProduct, SearchIndex};
use crate::catalog::{
    Catalog, CatalogError, Product, ProductFilter, ProductSort, ProductStatus, cursor_after,
};
use crate::events::{Deliveries, Delivery, Event, Subscriber};
use crate::ids::{CategoryId, ProductId, VariantId};
use crate::inventory::{Inventory, StockStatus};
use crate::money::{Currency, Money};
use crate::rating::Rating;

/// Products read from the catalog per page of a rebuild.
const REBUILD_PAGE: usize = 100;

#[derive(Clone)]
pub struct Search {
    inner: Arc<Inner>,
}

struct Inner {
    index: SearchIndex,
    catalog: Catalog,
    inventory: Inventory,
    gate: tokio::sync::Mutex<()>,
    labels: RwLock<Option<Arc<Labels>>>,
}

/// Names of categories and brands for the facets, and the category tree for the category
/// filter; loaded from the catalog when first needed and again after any category or brand
/// event.
#[derive(Default)]
struct Labels {
    categories: HashMap<String, (String, String)>,
    children: HashMap<String, Vec<String>>,
    brands: HashMap<String, (String, String)>,
}

impl Labels {
    /// A category and every category below it.
    fn subtree(&self, root: &str) -> Vec<String> {
        let mut all = vec![root.to_owned()];
        let mut i = 0;
        while i < all.len() {
            if let Some(children) = self.children.get(&all[i]) {
                all.extend(children.iter().filter(|c| !all.contains(c)).cloned().collect::<Vec<_>>());
            }
            i += 1;
        }
        all
    }

    fn category_named(&self, id_or_slug: &str) -> Option<String> {
        if self.categories.contains_key(id_or_slug) {
            return Some(id_or_slug.to_owned());
        }
        self.categories.iter().find(|(_, (_, slug))| slug == id_or_slug).map(|(id, _)| id.clone())
    }

    fn brand_named(&self, id_or_slug: &str) -> Option<String> {
        if self.brands.contains_key(id_or_slug) {
            return Some(id_or_slug.to_owned());
        }
        self.brands.iter().find(|(_, (_, slug))| slug == id_or_slug).map(|(id, _)| id.clone())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("the search index failed: {0:#}")]
    Index(anyhow::Error),
}

impl From<anyhow::Error> for SearchError {
    fn from(err: anyhow::Error) -> Self {
        SearchError::Index(err)
    }
}

/// A search as the routes parsed it: category, brand and store still as the shopper named them.
#[derive(Clone, Debug, Default)]
pub struct SearchRequest {
    pub q: String,
    pub category: Option<String>,
    pub brand: Option<String>,
    pub store: Option<String>,
    pub price_min: Option<u64>,
    pub price_max: Option<u64>,
    pub in_stock: Option<bool>,
    /// At least this many stars on average, 1 to 5.
    pub rating_min: Option<u64>,
    pub sort: SearchSort,
    pub offset: usize,
    pub limit: usize,
}

/// A product found.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SearchHit {
    #[schema(value_type = String, example = "prd_01938f0c5e7a7d3c9b2f4a1e6d8c0b2a")]
    pub id: String,
    pub slug: String,
    pub name: String,
    /// The name with the words the query matched in `<mark>…</mark>`, the rest HTML-escaped.
    pub highlighted_name: String,
    /// `physical` or `digital`.
    pub kind: String,
    /// The cheapest variant's price.
    pub price_from: Money,
    #[schema(value_type = String)]
    pub category_id: String,
    #[schema(value_type = Option<String>)]
    pub brand_id: Option<String>,
    /// The seller (store) selling it; none when the shop itself does.
    #[schema(value_type = Option<String>)]
    pub store_id: Option<String>,
    /// Whether any variant can be bought now.
    pub in_stock: bool,
    /// The average stars of its visible reviews, and how many there are.
    pub rating: Rating,
    /// The relevance score (BM25), when results are ranked by it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
}

/// One value of a facet and how many of the matching products have it.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct FacetValue {
    /// What to pass as the filter (a category or brand id, a price range `min-max`, `true`).
    pub value: String,
    pub label: String,
    pub count: u64,
}

/// Counts over every product the query and filters match (not only the page shown).
#[derive(Clone, Debug, Default, Serialize, ToSchema)]
pub struct Facets {
    pub category: Vec<FacetValue>,
    pub brand: Vec<FacetValue>,
    /// By seller; labelled with the seller's id until stores have names (the marketplace).
    pub store: Vec<FacetValue>,
    /// Price buckets of the cheapest variant's price, in minor units, both ends included.
    pub price: Vec<FacetValue>,
    pub in_stock: Vec<FacetValue>,
    /// Products rated at least 4, 3, 2 and 1 stars on average (the values `rating_min`
    /// takes); each count includes the higher ones'.
    pub rating: Vec<FacetValue>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
    pub facets: Facets,
    pub total: usize,
    /// Whether matches follow this page.
    pub more: bool,
}

/// An autocomplete suggestion: a product name that matches what was typed so far.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Suggestion {
    pub text: String,
    /// `text` with the typed words in `<mark>…</mark>`, the rest HTML-escaped.
    pub highlighted: String,
    #[schema(value_type = String)]
    pub product_id: String,
    pub slug: String,
}

impl Search {
    /// Opens this instance's index: `{dir}` on disk, or in memory when `dir` is None.
    pub fn open(dir: Option<PathBuf>, catalog: Catalog, inventory: Inventory) -> anyhow::Result<Self> {
        let index = SearchIndex::open(dir.as_deref()).context("opening the search index")?;
        Ok(Self {
            inner: Arc::new(Inner {
                index,
                catalog,
                inventory,
                gate: tokio::sync::Mutex::new(()),
                labels: RwLock::new(None),
            }),
        })
    }

    /// Products in the index.
    pub fn len(&self) -> u64 {
        self.inner.index.len()
    }

    /// Whether the index is in memory only because another process (a running server) holds
    /// its directory.
    pub fn is_displaced(&self) -> bool {
        self.inner.index.displaced
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rebuilds the index when it is empty (new, lost, or thrown away as unreadable); called on
    /// start. Returns how many products it indexed, if it rebuilt.
    pub async fn rebuild_if_empty(&self) -> Result<Option<u64>, SearchError> {
        if !self.is_empty() {
            return Ok(None);
        }
        self.reindex().await.map(Some)
    }

    /// Rebuilds the index from the catalog: every active product, with its stock. Searches see
    /// the old index until the new one is complete. Returns how many products it indexed.
    #[tracing::instrument(skip_all)]
    pub async fn reindex(&self) -> Result<u64, SearchError> {
        let _gate = self.inner.gate.lock().await;
        self.blocking(|index| index.clear()).await?;
        let mut filter = ProductFilter {
            status: Some(ProductStatus::Active),
            category: None,
            brand: None,
            seller: None,
            featured: None,
            include_hidden_stores: false,
            min_price: None,
            max_price: None,
            search: None,
            sort: ProductSort::Newest,
            after: None,
        };
        let mut count = 0;
        loop {
            let (products, more) = self.inner.catalog.list_products(&filter, REBUILD_PAGE).await?;
            filter.after = products.last().map(|last| cursor_after(last, ProductSort::Newest));
            let documents = self.documents(&products).await?;
            count += documents.len() as u64;
            self.blocking(move |index| index.add(&documents)).await?;
            if !more {
                break;
            }
        }
        self.blocking(|index| index.commit()).await?;
        *self.inner.labels.write().expect("the labels lock") = None;
        tracing::info!(products = count, "search index rebuilt");
        Ok(count)
    }

    /// Brings these products up to date in the index from the catalog: active ones are
    /// (re)indexed with their stock, any other (archived, draft, gone) is taken out.
    #[tracing::instrument(skip_all, fields(products = ids.len()))]
    pub async fn refresh(&self, ids: &[ProductId]) -> Result<(), SearchError> {
        if ids.is_empty() {
            return Ok(());
        }
        let _gate = self.inner.gate.lock().await;
        let mut active = Vec::new();
        let mut removals = Vec::new();
        for &id in ids {
            match self.inner.catalog.product(id).await {
                Ok(product) if product.status == ProductStatus::Active && !product.store_suspended => {
                    active.push(product)
                }
                Ok(_) | Err(CatalogError::ProductNotFound) => removals.push(id.to_string()),
                Err(other) => return Err(other.into()),
            }
        }
        let upserts = self.documents(&active).await?;
        self.blocking(move |index| index.apply(&upserts, &removals)).await
    }

    /// Products as the index keeps them, with whether any of their variants can be bought.
    async fn documents(&self, products: &[Product]) -> Result<Vec<IndexedProduct>, SearchError> {
        let variants: Vec<VariantId> =
            products.iter().flat_map(|p| p.variants.iter().map(|v| v.id)).collect();
        let levels = self
            .inner
            .inventory
            .levels(&variants)
            .await
            .map_err(|e| SearchError::Index(anyhow::anyhow!("reading stock levels: {e}")))?;
        Ok(products
            .iter()
            .map(|product| IndexedProduct {
                id: product.id.to_string(),
                slug: product.slug.clone(),
                name: product.name.clone(),
                description: product.description.clone(),
                kind: product.kind.as_str().to_owned(),
                category: product.category_id.to_string(),
                brand: product.brand_id.map(|b| b.to_string()),
                seller: product.seller_id.map(|s| s.to_string()),
                price: u64::try_from(product.price_from.amount).unwrap_or(0),
                currency: product.price_from.currency.code().to_owned(),
                in_stock: product.variants.iter().any(|v| {
                    levels
                        .get(&v.id)
                        .is_some_and(|level| level.availability().status != StockStatus::OutOfStock)
                }),
                created_at: u64::try_from(product.created_at.millis()).unwrap_or(0),
                rating_sum: u64::try_from(product.rating.sum()).unwrap_or(0),
                rating_count: u64::try_from(product.rating.count).unwrap_or(0),
            })
            .collect())
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&SearchIndex) -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, SearchError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || work(&inner.index))
            .await
            .map_err(|e| SearchError::Index(anyhow::anyhow!("the index task failed: {e}")))?
            .map_err(SearchError::Index)
    }

    async fn labels(&self) -> Result<Arc<Labels>, SearchError> {
        if let Some(labels) = self.inner.labels.read().expect("the labels lock").clone() {
            return Ok(labels);
        }
        let mut labels = Labels::default();
        for category in self.inner.catalog.categories().await? {
            let id = category.id.to_string();
            if let Some(parent) = category.parent_id {
                labels.children.entry(parent.to_string()).or_default().push(id.clone());
            }
            labels.categories.insert(id, (category.name, category.slug));
        }
        for brand in self.inner.catalog.brands().await? {
            labels.brands.insert(brand.id.to_string(), (brand.name, brand.slug));
        }
        let labels = Arc::new(labels);
        *self.inner.labels.write().expect("the labels lock") = Some(labels.clone());
        Ok(labels)
    }

    fn forget_labels(&self) {
        *self.inner.labels.write().expect("the labels lock") = None;
    }

    /// Searches the index. A category or brand no one has matches nothing, as an unknown id
    /// does in the product listing.
    #[tracing::instrument(skip_all)]
    pub async fn search(&self, request: SearchRequest) -> Result<SearchResults, SearchError> {
        let labels = self.labels().await?;
        let unknown = || CategoryId::new().to_string();
        let categories = request
            .category
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(|c| labels.category_named(c).map_or_else(|| vec![unknown()], |id| labels.subtree(&id)));
        let brand = request
            .brand
            .as_deref()
            .filter(|b| !b.is_empty())
            .map(|b| labels.brand_named(b).unwrap_or_else(unknown));
        let query = IndexQuery {
            text: ParsedQuery::parse(&request.q),
            categories,
            brand,
            seller: request.store.clone().filter(|s| !s.is_empty()),
            price_min: request.price_min,
            price_max: request.price_max,
            in_stock: request.in_stock,
            rating_min: request.rating_min,
            sort: request.sort,
            offset: request.offset,
            limit: request.limit + 1,
            facets: true,
        };
        let text = query.text.clone();
        let answer = self.blocking(move |index| index.search(&query)).await?;
        let more = answer.hits.len() > request.limit;
        let hits = answer
            .hits
            .into_iter()
            .take(request.limit)
            .map(|hit| {
                let product = hit.product;
                SearchHit {
                    highlighted_name: domain::highlight(&product.name, &text),
                    price_from: money(product.price, &product.currency),
                    id: product.id,
                    slug: product.slug,
                    name: product.name,
                    kind: product.kind,
                    category_id: product.category,
                    brand_id: product.brand,
                    store_id: product.seller,
                    in_stock: product.in_stock,
                    rating: Rating::of(
                        i64::try_from(product.rating_sum).unwrap_or(i64::MAX),
                        i64::try_from(product.rating_count).unwrap_or(i64::MAX),
                    ),
                    score: hit.score,
                }
            })
            .collect();
        let facets = self.facets(answer.facets, &labels).await?;
        Ok(SearchResults { hits, facets, total: answer.total, more })
    }

    async fn facets(&self, counts: FacetCounts, labels: &Labels) -> Result<Facets, SearchError> {
        // A category or brand made since the labels were read has no label yet: read them again.
        let stale = counts.category.keys().any(|c| !labels.categories.contains_key(c))
            || counts.brand.keys().any(|b| !labels.brands.contains_key(b));
        let fresh;
        let labels = if stale {
            self.forget_labels();
            fresh = self.labels().await?;
            &*fresh
        } else {
            labels
        };
        let named = |counts: HashMap<String, u64>, names: &HashMap<String, (String, String)>| {
            let mut values: Vec<FacetValue> = counts
                .into_iter()
                .map(|(value, count)| FacetValue {
                    label: names.get(&value).map_or_else(|| value.clone(), |(name, _)| name.clone()),
                    value,
                    count,
                })
                .collect();
            values.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.label.cmp(&b.label)));
            values
        };
        let none = HashMap::new();
        let price = counts
            .price
            .iter()
            .enumerate()
            .filter(|(_, count)| **count > 0)
            .map(|(bucket, &count)| {
                let value = BucketName(bucket).to_string();
                FacetValue { label: value.replacen('-', " – ", 1).trim_end().to_owned(), value, count }
            })
            .collect();
        let in_stock = [(true, counts.in_stock[1]), (false, counts.in_stock[0])]
            .into_iter()
            .filter(|(_, count)| *count > 0)
            .map(|(value, count)| FacetValue {
                value: value.to_string(),
                label: if value { "In stock" } else { "Out of stock" }.to_owned(),
                count,
            })
            .collect();
        let rating = domain::RATING_THRESHOLDS
            .iter()
            .map(|&stars| (stars, domain::at_least(&counts.rating, stars)))
            .filter(|(_, count)| *count > 0)
            .map(|(stars, count)| FacetValue {
                value: stars.to_string(),
                label: format!("{stars} stars & up"),
                count,
            })
            .collect();
        Ok(Facets {
            category: named(counts.category, &labels.categories),
            brand: named(counts.brand, &labels.brands),
            store: named(counts.seller, &none),
            price,
            in_stock,
            rating,
        })
    }

    /// Up to `limit` product names that match what was typed, best first.
    #[tracing::instrument(skip_all)]
    pub async fn suggest(&self, q: &str, limit: usize) -> Result<Vec<Suggestion>, SearchError> {
        let text = ParsedQuery::parse(q);
        if text.is_empty() {
            return Ok(Vec::new());
        }
        let query = IndexQuery { text: text.clone(), limit, ..IndexQuery::default() };
        let answer = self.blocking(move |index| index.search(&query)).await?;
        let mut seen = BTreeSet::new();
        Ok(answer
            .hits
            .into_iter()
            .filter(|hit| seen.insert(hit.product.name.to_lowercase()))
            .map(|hit| Suggestion {
                highlighted: domain::highlight(&hit.product.name, &text),
                text: hit.product.name,
                product_id: hit.product.id,
                slug: hit.product.slug,
            })
            .collect())
    }
}

fn money(amount: u64, currency: &str) -> Money {
    let currency = Currency::parse(currency).unwrap_or_else(|_| Currency::parse("IDR").expect("IDR"));
    Money::new(i64::try_from(amount).unwrap_or(i64::MAX), currency)
}

/// The products an event is about, as far as the index cares: a product's own events name it;
/// a variant's carry its product; stock events name a variant, whose product the catalog knows.
async fn products_of(search: &Search, event: &Event) -> Result<Vec<ProductId>, SearchError> {
    let kind = event.event_type.as_str();
    if kind.starts_with("product.") {
        return Ok(event.subject_id.parse().ok().into_iter().collect());
    }
    if kind.starts_with("variant.") {
        let product = event.payload["product_id"].as_str().and_then(|id| id.parse().ok());
        return Ok(product.into_iter().collect());
    }
    if kind.starts_with("stock.") {
        let Ok(variant) = event.subject_id.parse::<VariantId>() else { return Ok(Vec::new()) };
        return Ok(search.inner.catalog.product_of_variant(variant).await?.into_iter().collect());
    }
    if kind.starts_with("category.") || kind.starts_with("brand.") {
        search.forget_labels();
    }
    Ok(Vec::new())
}

/// Keeps the index in step with the outbox: each round's products are refreshed together in
/// one commit, so an archived product leaves the index within the relay round that carries
/// its event.
pub struct SearchIndexer(pub Search);

impl Subscriber for SearchIndexer {
    fn name(&self) -> &'static str {
        "search"
    }

    fn deliver<'a>(&'a self, event: &'a Event) -> Delivery<'a> {
        Box::pin(async move {
            let products = products_of(&self.0, event).await?;
            self.0.refresh(&products).await?;
            Ok(())
        })
    }

    fn deliver_all<'a>(&'a self, events: &'a [&'a Event]) -> Deliveries<'a> {
        Box::pin(async move {
            let round = async {
                let mut products = BTreeSet::new();
                for event in events {
                    products.extend(products_of(&self.0, event).await?);
                }
                self.0.refresh(&products.into_iter().collect::<Vec<_>>()).await
            };
            match round.await {
                Ok(()) => events.iter().map(|_| Ok(())).collect(),
                Err(err) => {
                    let message = format!("{err:#}");
                    events
                        .iter()
                        .map(|_| Err(anyhow::anyhow!("refreshing the search index: {message}")))
                        .collect()
                }
            }
        })
    }
}
