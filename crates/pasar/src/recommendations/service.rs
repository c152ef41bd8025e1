//! Recommendations' use cases: counting each paid order once (fed by `order.confirmed` on the
//! outbox), and reading the lists for a product page and for a buyer.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use utoipa::ToSchema;

use super::domain::{self, LIST_LENGTH, POPULAR_DAYS, Profile, Ranked};
use super::store;
use crate::catalog::{Catalog, CatalogError, Product, ProductFilter, ProductStatus};
use crate::db::lease::Leases;
use crate::db::{Connection, Db};
use crate::events::{Delivery, Event, Subscriber};
use crate::ids::{CategoryId, OrderId, ProductId, UserId};
use crate::inventory::{Inventory, InventoryError};
use crate::money::Money;
use crate::orders::{Order, OrderFilter, OrderStatus};
use crate::orders::{Orders, OrdersError};
use crate::time::Clock;

const DAY_MILLIS: i64 = 24 * 60 * 60 * 1000;

/// How many products of a category "similar" looks through.
const SIMILAR_CANDIDATES: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum RecommendationsError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error(transparent)]
    Orders(#[from] OrdersError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A product suggested to a shopper.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct RecommendedProduct {
    pub id: ProductId,
    pub slug: String,
    pub name: String,
    pub price_from: Money,
    /// Where the product's first image is served, when it has one.
    pub image: Option<String>,
}

/// The three lists on a product's page.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ProductRecommendations {
    /// Bought in the same paid orders, normalised by each product's popularity.
    pub bought_together: Vec<RecommendedProduct>,
    /// Same category and brand, price within half of this one's, closest first.
    pub similar: Vec<RecommendedProduct>,
    /// Best-selling in the same category over the last 30 days.
    pub popular: Vec<RecommendedProduct>,
}

#[derive(Clone)]
pub struct Recommendations {
    db: Db,
    clock: Clock,
    catalog: Catalog,
    inventory: Inventory,
    orders: Orders,
}

impl Recommendations {
    pub fn new(db: Db, clock: Clock, catalog: Catalog, inventory: Inventory, orders: Orders) -> Self {
        Self { db, clock, catalog, inventory, orders }
    }

    /// Adds a paid order's products, pairs, buyer and sales to the counts, once per order.
    #[tracing::instrument(skip(self))]
    pub async fn count_paid_order(&self, id: OrderId) -> Result<(), RecommendationsError> {
        let order = self.orders.order(id).await?;
        let counted = self.counts_of(&order).await?;
        let mut tx = self.db.begin().await?;
        if !store::claim_order(&mut tx, id, self.clock.now()).await? {
            return Ok(());
        }
        for product in counted.units.keys() {
            store::record_purchase(&mut tx, order.buyer_id, *product).await?;
        }
        counted.add(&mut tx, 1).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes a wholly refunded order back out of the counts (its products were returned, not
    /// bought together), once; an order never counted changes nothing. The buyer still bought
    /// them: "for you" keeps skipping them.
    #[tracing::instrument(skip(self))]
    pub async fn take_back_refunded_order(&self, id: OrderId) -> Result<(), RecommendationsError> {
        let order = self.orders.order(id).await?;
        let counted = self.counts_of(&order).await?;
        let mut tx = self.db.begin().await?;
        if !store::unclaim_order(&mut tx, id, self.clock.now()).await? {
            return Ok(());
        }
        counted.add(&mut tx, -1).await?;
        tx.commit().await?;
        Ok(())
    }

    /// What `order` adds to the counts, read before any write transaction.
    async fn counts_of(&self, order: &Order) -> Result<OrderCounts, RecommendationsError> {
        let mut units: BTreeMap<ProductId, i64> = BTreeMap::new();
        for line in &order.lines {
            *units.entry(line.product_id).or_default() += line.quantity;
        }
        // Categories are read before the write transaction; a product deleted since counts for
        // "bought together" but no longer sells in any category.
        let mut categories = BTreeMap::new();
        for product in units.keys() {
            match self.catalog.product(*product).await {
                Ok(p) => {
                    categories.insert(*product, p.category_id);
                }
                Err(CatalogError::ProductNotFound) => {}
                Err(err) => return Err(err.into()),
            }
        }
        let paid_at = order
            .timeline
            .iter()
            .rev()
            .find(|e| e.to == OrderStatus::Paid)
            .map_or(order.updated_at, |e| e.at);
        let day = paid_at.millis().div_euclid(DAY_MILLIS);
        Ok(OrderCounts { units, categories, day })
    }

    /// Counts the orders paid before this module was there (their events were relayed
    /// already): once across instances, under a lease, and once ever (a mark is left when done).
    #[tracing::instrument(skip_all)]
    pub async fn count_earlier_orders(&self, leases: &Leases) -> Result<usize, RecommendationsError> {
        const JOB: &str = "recommendations.earlier_orders";
        if store::job_done(self.db.reader(), JOB).await?
            || !leases.take_turn(JOB, std::time::Duration::from_secs(3600), self.clock.now()).await?
        {
            return Ok(0);
        }
        let mut counted = 0;
        let mut filter = OrderFilter::default();
        loop {
            let (page, more) = self.orders.list(&filter, 200).await?;
            for order in &page {
                if was_paid(order.status) {
                    self.count_paid_order(order.id).await?;
                    counted += 1;
                }
            }
            match page.last() {
                Some(last) if more => filter.before = Some(last.id),
                _ => break,
            }
        }
        store::mark_job_done(&self.db, JOB, self.clock.now()).await?;
        Ok(counted)
    }

    /// The lists for a product shoppers can see (by id or slug).
    #[tracing::instrument(skip(self))]
    pub async fn for_product(
        &self,
        id_or_slug: &str,
    ) -> Result<ProductRecommendations, RecommendationsError> {
        let product = self.catalog.product_for_shoppers(id_or_slug).await?;
        let reader = self.db.reader();
        let bought_together = self.ranked_bought_with(product.id).await?;

        let filter = ProductFilter {
            status: Some(ProductStatus::Active),
            category: Some(product.category_id),
            brand: product.brand_id,
            ..ProductFilter::default()
        };
        let (candidates, _) = self.catalog.list_products(&filter, SIMILAR_CANDIDATES).await?;
        let profiles: Vec<Profile> = candidates.iter().map(profile_of).collect();
        let similar = domain::similar(&profile_of(&product), &profiles);

        let sales = store::sales_since(reader, product.category_id, self.popular_since()).await?;
        let popular: Vec<Ranked> =
            domain::popular(&sales).into_iter().filter(|r| r.product_id != product.id).collect();

        Ok(ProductRecommendations {
            bought_together: self.shown(&bought_together, &BTreeSet::new()).await?,
            similar: self.shown(&similar, &BTreeSet::new()).await?,
            popular: self.shown(&popular, &BTreeSet::new()).await?,
        })
    }

    /// What others bought with `product` (one shoppers can see, already read), for its page:
    /// only that list, without the similar and popular ones [`Self::for_product`] also ranks.
    #[tracing::instrument(skip_all, fields(product = %product.id))]
    pub async fn bought_with(
        &self,
        product: &Product,
    ) -> Result<Vec<RecommendedProduct>, RecommendationsError> {
        let ranked = self.ranked_bought_with(product.id).await?;
        self.shown(&ranked, &BTreeSet::new()).await
    }

    async fn ranked_bought_with(&self, product: ProductId) -> Result<Vec<Ranked>, RecommendationsError> {
        let reader = self.db.reader();
        let orders = store::orders_of(reader, product).await?;
        let together = store::together(reader, product).await?;
        Ok(domain::bought_together(product, orders, &together))
    }

    /// What to suggest to `buyer`: first what others bought with their products, then what sells
    /// best in the categories they buy from; never what they bought already.
    #[tracing::instrument(skip(self))]
    pub async fn for_buyer(&self, buyer: UserId) -> Result<Vec<RecommendedProduct>, RecommendationsError> {
        let reader = self.db.reader();
        let bought = store::bought_by(reader, buyer).await?;
        let mut together = BTreeMap::new();
        for product in &bought {
            together.insert(
                *product,
                (store::orders_of(reader, *product).await?, store::together(reader, *product).await?),
            );
        }
        let mut ranked = domain::for_buyer(&bought, &together);
        let mut popular = Vec::new();
        for category in store::categories_of(reader, buyer).await? {
            popular.extend(store::sales_since(reader, category, self.popular_since()).await?);
        }
        let listed: BTreeSet<ProductId> = ranked.iter().map(|r| r.product_id).collect();
        ranked.extend(domain::popular(&popular).into_iter().filter(|r| !listed.contains(&r.product_id)));
        self.shown(&ranked, &bought).await
    }

    /// The first day "popular" counts.
    fn popular_since(&self) -> i64 {
        self.clock.now().millis().div_euclid(DAY_MILLIS) - (POPULAR_DAYS - 1)
    }

    /// The first [`LIST_LENGTH`] of `ranked` a shopper can buy now: active, from a store that
    /// is not suspended, with stock, and not in `skip`.
    async fn shown(
        &self,
        ranked: &[Ranked],
        skip: &BTreeSet<ProductId>,
    ) -> Result<Vec<RecommendedProduct>, RecommendationsError> {
        let mut shown = Vec::new();
        for candidate in ranked {
            if shown.len() == LIST_LENGTH {
                break;
            }
            if skip.contains(&candidate.product_id) {
                continue;
            }
            let product = match self.catalog.product(candidate.product_id).await {
                Ok(product) => product,
                Err(CatalogError::ProductNotFound) => continue,
                Err(err) => return Err(err.into()),
            };
            if product.status != ProductStatus::Active || product.store_suspended {
                continue;
            }
            let variants: Vec<_> = product.variants.iter().map(|v| v.id).collect();
            let levels = self.inventory.levels(&variants).await?;
            if !levels.values().any(|level| level.available > 0) {
                continue;
            }
            shown.push(RecommendedProduct {
                id: product.id,
                slug: product.slug,
                image: product.media.first().map(|m| m.url.clone()),
                name: product.name,
                price_from: product.price_from,
            });
        }
        Ok(shown)
    }
}

/// What one paid order counts for: units per product, the products' categories, the day it was
/// paid.
struct OrderCounts {
    units: BTreeMap<ProductId, i64>,
    categories: BTreeMap<ProductId, CategoryId>,
    day: i64,
}

impl OrderCounts {
    /// Adds the order to the counts (`sign` 1) or takes it back out (-1).
    async fn add(&self, tx: &mut Connection, sign: i64) -> Result<(), sqlx::Error> {
        for (product, quantity) in &self.units {
            store::count_product(tx, *product, sign).await?;
            if let Some(category) = self.categories.get(product) {
                store::add_sales(tx, *category, *product, self.day, sign * quantity).await?;
            }
        }
        let products: BTreeSet<ProductId> = self.units.keys().copied().collect();
        for (a, b) in domain::pairs_of(&products) {
            store::count_pair(tx, a, b, sign).await?;
        }
        Ok(())
    }
}

/// Statuses an order reaches only through being paid and that still count: a wholly refunded
/// order was taken back.
fn was_paid(status: OrderStatus) -> bool {
    !matches!(
        status,
        OrderStatus::PendingPayment | OrderStatus::Cancelled | OrderStatus::Expired | OrderStatus::Refunded
    )
}

fn profile_of(product: &Product) -> Profile {
    Profile {
        id: product.id,
        category: product.category_id,
        brand: product.brand_id,
        price: product.price_from.amount,
    }
}

/// Counts each order as it is paid, and takes it back out when wholly refunded.
impl Subscriber for Recommendations {
    fn name(&self) -> &'static str {
        "recommendations"
    }

    fn deliver<'a>(&'a self, event: &'a Event) -> Delivery<'a> {
        Box::pin(async move {
            match event.event_type.as_str() {
                "order.confirmed" => self.count_paid_order(event.subject_id.parse()?).await?,
                "order.refunded" => self.take_back_refunded_order(event.subject_id.parse()?).await?,
                _ => {}
            }
            Ok(())
        })
    }
}
