//! The storefront's reading pages: home, search (with its facets, also the category page) and
//! the product page.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use super::i18n;
use super::templates::{PageError, PageResult, render};
use super::visit::Visit;
use crate::catalog::{
    CatalogError, CategoryNode, Product, ProductFilter, ProductSort, ProductStatus, Variant,
};
use crate::http::AppState;
use crate::identity::Role;
use crate::ids::UserId;
use crate::inventory::StockStatus;
use crate::locale::Locale;
use crate::money::Money;
use crate::recommendations::RecommendedProduct;
use crate::reviews::ReviewSort;
use crate::reviews::domain::ReviewCursor;
use crate::search::{FacetValue, SearchRequest, SearchSort};
use crate::sellers::SellerStatus;

/// Products on the home page.
const HOME_PRODUCTS: usize = 12;
/// Featured products on the home page, above the rest.
const HOME_FEATURED: usize = 8;
/// Results on one search page.
const PER_PAGE: usize = 24;
/// The deepest page offered: further is a crawl, not a search (the API's limit too).
const MAX_OFFSET: usize = 10_000;

/// What a product costs this shopper: resellers pay the reseller price where there is one.
fn price_for(variant: &Variant, role: Option<Role>) -> Money {
    match (role, variant.reseller_price) {
        (Some(Role::Reseller), Some(price)) => price,
        _ => variant.price,
    }
}

fn product_href(slug: &str) -> String {
    format!("/products/{slug}")
}

#[derive(Serialize)]
struct CategoryLink {
    name: String,
    href: String,
    children: Vec<CategoryLink>,
}

fn category_link(node: CategoryNode) -> CategoryLink {
    CategoryLink {
        href: search_href(&[("category", &node.slug)]),
        name: node.name,
        children: node.children.into_iter().map(category_link).collect(),
    }
}

/// A product as `product_cards.html` shows it.
#[derive(Serialize)]
pub(super) struct Card {
    name: String,
    href: String,
    price: String,
    image: Option<String>,
}

impl Card {
    /// A listed product's card: its name, page, price from, and first image.
    pub(super) fn of(locale: Locale, product: Product) -> Self {
        Card {
            href: product_href(&product.slug),
            price: locale.format_money(product.price_from),
            image: product.media.first().map(|m| m.url.clone()),
            name: product.name,
        }
    }
}

#[tracing::instrument(skip_all)]
pub async fn home(State(state): State<AppState>, visit: Visit) -> PageResult {
    let categories = state.catalog.category_tree().await.map_err(PageError::internal)?;
    let filter = ProductFilter {
        status: Some(ProductStatus::Active),
        sort: ProductSort::Newest,
        ..ProductFilter::default()
    };
    let (products, _) =
        state.catalog.list_products(&filter, HOME_PRODUCTS).await.map_err(PageError::internal)?;
    let products: Vec<Card> = products.into_iter().map(|product| Card::of(visit.locale, product)).collect();
    // The products the shop's staff chose, as `GET /v1/products?featured=true` lists them.
    let featured_filter = ProductFilter { featured: Some(true), ..filter };
    let (featured, _) =
        state.catalog.list_products(&featured_filter, HOME_FEATURED).await.map_err(PageError::internal)?;
    let featured: Vec<Card> = featured.into_iter().map(|product| Card::of(visit.locale, product)).collect();
    let categories: Vec<CategoryLink> = categories.into_iter().map(category_link).collect();
    let recommended: Vec<Card> = match visit.principal {
        Some(principal) => match state.recommendations.for_buyer(principal.user).await {
            Ok(found) => {
                found.into_iter().take(HOME_PRODUCTS).map(|p| recommended_card(visit.locale, p)).collect()
            }
            Err(err) => {
                // Suggestions are an extra: the home page is shown without them.
                tracing::warn!(error = ?err, "recommendations for the home page failed");
                Vec::new()
            }
        },
        None => Vec::new(),
    };
    Ok(render(
        &visit,
        StatusCode::OK,
        "home.html",
        context! {
            categories => Value::from(Serde(&categories)),
            featured => Value::from(Serde(&featured)),
            products => Value::from(Serde(&products)),
            recommended => Value::from(Serde(&recommended)),
        },
    ))
}

/// `/search`'s query. Everything is optional and read leniently: a page shows what it can
/// rather than refusing a hand-edited address.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SearchParams {
    q: Option<String>,
    category: Option<String>,
    brand: Option<String>,
    store: Option<String>,
    /// A price facet's value: `min-max` in minor units, either end may be empty.
    price: Option<String>,
    in_stock: Option<String>,
    rating: Option<String>,
    sort: Option<String>,
    page: Option<String>,
}

impl SearchParams {
    /// The filters as (name, value) pairs, in a stable order, without the empty ones.
    fn pairs(&self) -> Vec<(&'static str, String)> {
        [
            ("q", &self.q),
            ("category", &self.category),
            ("brand", &self.brand),
            ("store", &self.store),
            ("price", &self.price),
            ("in_stock", &self.in_stock),
            ("rating", &self.rating),
            ("sort", &self.sort),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value.clone().filter(|v| !v.is_empty())?)))
        .collect()
    }

    fn page(&self) -> usize {
        self.page.as_deref().and_then(|p| p.parse().ok()).filter(|p| *p >= 1).unwrap_or(1)
    }

    fn sort(&self) -> SearchSort {
        match self.sort.as_deref() {
            Some("newest") => SearchSort::Newest,
            Some("price_asc") => SearchSort::PriceAsc,
            Some("price_desc") => SearchSort::PriceDesc,
            _ => SearchSort::Relevance,
        }
    }

    /// This search with `name` set to `value` (or removed), back on its first page.
    fn with(&self, name: &'static str, value: Option<&str>) -> String {
        let mut pairs: Vec<(&str, String)> = self.pairs().into_iter().filter(|(n, _)| *n != name).collect();
        if let Some(value) = value {
            pairs.push((name, value.to_owned()));
        }
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (*n, v.as_str())).collect();
        search_href(&pairs)
    }

    fn at_page(&self, page: usize) -> String {
        let mut pairs = self.pairs();
        pairs.push(("page", page.to_string()));
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (*n, v.as_str())).collect();
        search_href(&pairs)
    }
}

fn search_href(pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return "/search".to_owned();
    }
    let query = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    format!("/search?{query}")
}

/// `min-max` (either end may be empty) as the two bounds.
fn price_range(value: &str) -> (Option<u64>, Option<u64>) {
    let (min, max) = value.split_once('-').unwrap_or((value, ""));
    (min.trim().parse().ok(), max.trim().parse().ok())
}

#[derive(Serialize)]
struct FacetLink {
    label: String,
    count: u64,
    href: String,
    selected: bool,
}

#[derive(Serialize)]
struct FacetView {
    title: &'static str,
    values: Vec<FacetLink>,
}

#[derive(Serialize)]
struct Hit {
    highlighted: String,
    href: String,
    price: String,
    in_stock: bool,
    rating: String,
    rating_count: i64,
}

#[tracing::instrument(skip_all)]
pub async fn search(
    State(state): State<AppState>,
    visit: Visit,
    Query(params): Query<SearchParams>,
) -> PageResult {
    let q: String = params
        .q
        .as_deref()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(crate::search::domain::MAX_QUERY_CHARS)
        .collect();
    let page = params.page().min(MAX_OFFSET / PER_PAGE + 1);
    let (price_min, price_max) = params.price.as_deref().map(price_range).unwrap_or_default();
    let mut store = params.store.clone().filter(|s| !s.is_empty());
    if let Some(slug) = store.take_if(|store| !store.starts_with(UserId::PREFIX)) {
        let owner = state.sellers.live_store_owner(&slug).await.map_err(PageError::internal)?;
        store = Some(owner.map_or(slug, |owner| owner.to_string()));
    }
    let request = SearchRequest {
        q: q.clone(),
        category: params.category.clone(),
        brand: params.brand.clone(),
        store,
        price_min,
        price_max,
        in_stock: params.in_stock.as_deref().and_then(|v| v.parse().ok()),
        rating_min: params.rating.as_deref().and_then(|v| v.parse().ok()).filter(|r| (1..=5).contains(r)),
        sort: params.sort(),
        offset: (page - 1) * PER_PAGE,
        limit: PER_PAGE,
    };
    let found = state.search.search(request).await.map_err(PageError::internal)?;
    let locale = visit.locale;
    let hits: Vec<Hit> = found
        .hits
        .into_iter()
        .map(|hit| Hit {
            href: product_href(&hit.slug),
            price: locale.format_money(hit.price_from),
            in_stock: hit.in_stock,
            rating: format!("{:.1}", hit.rating.average),
            rating_count: hit.rating.count,
            highlighted: hit.highlighted_name,
        })
        .collect();
    let facet = |title: &'static str, name: &'static str, values: Vec<FacetValue>| {
        let current = params.pairs().into_iter().find(|(n, _)| *n == name).map(|(_, v)| v);
        let values: Vec<FacetLink> = values
            .into_iter()
            .map(|value| {
                let selected = current.as_deref() == Some(value.value.as_str());
                // The search module labels these in English; the page speaks the visitor's language.
                let label = match (name, value.value.as_str()) {
                    ("in_stock", "true") => i18n::message(locale, "in_stock").to_owned(),
                    ("in_stock", _) => i18n::message(locale, "out_of_stock").to_owned(),
                    ("rating", stars) => format!("★ {stars}+"),
                    _ => value.label,
                };
                FacetLink {
                    href: params.with(name, (!selected).then_some(value.value.as_str())),
                    label,
                    count: value.count,
                    selected,
                }
            })
            .collect();
        FacetView { title, values }
    };
    let facets: Vec<FacetView> = [
        facet("facet_category", "category", found.facets.category),
        facet("facet_brand", "brand", found.facets.brand),
        facet("facet_store", "store", found.facets.store),
        facet("facet_price", "price", found.facets.price),
        facet("facet_stock", "in_stock", found.facets.in_stock),
        facet("facet_rating", "rating", found.facets.rating),
    ]
    .into_iter()
    .filter(|facet| !facet.values.is_empty())
    .collect();
    let sorts: Vec<_> = [
        ("relevance", "sort_relevance"),
        ("newest", "sort_newest"),
        ("price_asc", "sort_price_asc"),
        ("price_desc", "sort_price_desc"),
    ]
    .into_iter()
    .map(|(value, label)| context! { value, label, selected => params.sort.as_deref() == Some(value) })
    .collect();
    let kept: Vec<_> = params
        .pairs()
        .into_iter()
        .filter(|(name, _)| *name != "sort")
        .map(|(name, value)| context! { name, value })
        .collect();
    let filtered = params.pairs().iter().any(|(name, _)| *name != "q" && *name != "sort");
    let heading = match params.category.as_deref().filter(|c| !c.is_empty()) {
        Some(category) => {
            let slug = crate::catalog::Slug::parse(category).ok();
            match slug {
                Some(slug) => state
                    .catalog
                    .category_by_slug(&slug)
                    .await
                    .map_err(PageError::internal)?
                    .map(|category| category.name),
                None => None,
            }
        }
        None => None,
    };
    let clear_href = if q.is_empty() { search_href(&[]) } else { search_href(&[("q", &q)]) };
    let previous_href = (page > 1).then(|| params.at_page(page - 1));
    let next_href = (found.more && page * PER_PAGE < MAX_OFFSET).then(|| params.at_page(page + 1));
    Ok(render(
        &visit,
        StatusCode::OK,
        "search.html",
        context! {
            q, heading, sorts, kept, filtered, previous_href, next_href,
            hits => Value::from(Serde(&hits)),
            facets => Value::from(Serde(&facets)),
            total => found.total,
            clear_href,
            back => params.at_page(page),
        },
    ))
}

#[derive(Serialize)]
struct VariantView {
    id: String,
    label: String,
    price: String,
    /// `in_stock`, `low_stock` or `out_of_stock` (also the message's key).
    status: &'static str,
    available: Option<i64>,
    can_buy: bool,
    chosen: bool,
}

fn variant_label(variant: &Variant) -> String {
    if variant.options.is_empty() {
        return variant.sku.clone();
    }
    variant.options.iter().map(|(name, value)| format!("{name}: {value}")).collect::<Vec<_>>().join(", ")
}

#[tracing::instrument(skip_all)]
pub async fn product(
    State(state): State<AppState>,
    visit: Visit,
    Path(id_or_slug): Path<String>,
    Query(query): Query<ProductQuery>,
) -> PageResult {
    let product: Product = match state.catalog.product_for_shoppers(&id_or_slug).await {
        Ok(product) => product,
        Err(CatalogError::ProductNotFound) => return Err(PageError::not_found()),
        Err(err) => return Err(PageError::internal(err)),
    };
    let locale: Locale = visit.locale;
    let ids: Vec<_> = product.variants.iter().map(|v| v.id).collect();
    // The page's reads do not depend on each other: they go to the database side by side.
    let (levels, store, reviews, together) = tokio::join!(
        state.inventory.levels(&ids),
        store_of(&state, &product),
        reviews_of(&state, locale, &product, query.reviews.as_deref()),
        state.recommendations.bought_with(&product),
    );
    let levels = levels.map_err(PageError::internal)?;
    let store = store?;
    let (reviews, reviews_next) = reviews?;
    let together: Vec<_> = match together {
        Ok(products) => products.into_iter().map(|p| recommended_card(locale, p)).collect(),
        Err(err) => {
            // Suggestions are an extra: the product page is shown without them.
            tracing::warn!(error = ?err, "recommendations for a product page failed");
            Vec::new()
        }
    };
    let role = visit.principal.map(|p| p.role);
    let mut variants: Vec<VariantView> = product
        .variants
        .iter()
        .map(|variant| {
            let availability = levels.get(&variant.id).map(|level| level.availability());
            let status = match availability.map(|a| a.status) {
                Some(StockStatus::InStock) => "in_stock",
                Some(StockStatus::LowStock) => "low_stock",
                Some(StockStatus::OutOfStock) | None => "out_of_stock",
            };
            VariantView {
                id: variant.id.to_string(),
                label: variant_label(variant),
                price: locale.format_money(price_for(variant, role)),
                status,
                available: availability.and_then(|a| a.available).filter(|_| state.config.stock_show_counts),
                can_buy: status != "out_of_stock",
                chosen: false,
            }
        })
        .collect();
    if let Some(first) = variants.iter_mut().find(|v| v.can_buy) {
        first.chosen = true;
    }
    let buyable = variants.iter().any(|v| v.can_buy);
    let images: Vec<String> = product.media.iter().map(|m| m.url.clone()).collect();
    Ok(render(
        &visit,
        StatusCode::OK,
        "product.html",
        context! {
            product => context! {
                name => product.name,
                description => product.description,
                price_from => locale.format_money(product.price_from),
            },
            store, buyable, images,
            variants => Value::from(Serde(&variants)),
            rating => format!("{:.1}", product.rating.average),
            rating_count => product.rating.count,
            reviews => Value::from(Serde(&reviews)),
            reviews_next,
            reviews_paged => query.reviews.is_some(),
            together => Value::from(Serde(&together)),
            back => product_href(&product.slug),
        },
    ))
}

/// The product's store, for a marketplace product whose store is open.
async fn store_of(state: &AppState, product: &Product) -> Result<Option<Value>, PageError> {
    let Some(owner) = product.seller_id else { return Ok(None) };
    let store = state.sellers.store_of_user(owner).await.map_err(PageError::internal)?;
    Ok(store
        .filter(|store| store.status == SellerStatus::Approved)
        .map(|store| context! { name => store.store_name, href => format!("/stores/{}", store.slug) }))
}

/// Reviews on one page of a product.
const REVIEWS_PER_PAGE: usize = 10;

#[derive(Default, Deserialize)]
pub struct ProductQuery {
    /// The reviews' page: the cursor after the previous page's last review.
    reviews: Option<String>,
}

#[derive(Serialize)]
struct ReviewView {
    author: String,
    stars: String,
    rating: u8,
    text: String,
    images: Vec<String>,
    reply: Option<String>,
    when: String,
}

/// One page of the product's visible reviews, newest first, and the link to the next.
async fn reviews_of(
    state: &AppState,
    locale: Locale,
    product: &Product,
    after: Option<&str>,
) -> Result<(Vec<ReviewView>, Option<String>), PageError> {
    let sort = ReviewSort::default();
    let after: Option<ReviewCursor> = match after.filter(|a| !a.is_empty()) {
        Some(cursor) => Some(cursor.parse().map_err(|_| PageError::not_found())?),
        None => None,
    };
    let found = match state.reviews.for_product(product.id, sort, after, REVIEWS_PER_PAGE).await {
        Ok(found) => found,
        Err(crate::reviews::ReviewsError::Invalid { .. }) => return Err(PageError::not_found()),
        Err(err) => return Err(PageError::internal(err)),
    };
    let next = found.more.then(|| found.reviews.last()).flatten().map(|last| {
        let cursor = ReviewCursor::after(sort, last.rating, !last.images.is_empty(), last.id).to_string();
        let cursor = form_urlencoded::byte_serialize(cursor.as_bytes()).collect::<String>();
        format!("{}?reviews={cursor}#reviews", product_href(&product.slug))
    });
    let reviews = found
        .reviews
        .into_iter()
        .map(|review| ReviewView {
            author: review.author.name,
            stars: "★".repeat(review.rating.get().into()),
            rating: review.rating.get(),
            text: review.text,
            images: review.images.into_iter().map(|image| image.url).collect(),
            reply: review.reply.map(|reply| reply.text),
            when: locale.format_datetime(review.created_at),
        })
        .collect();
    Ok((reviews, next))
}

fn recommended_card(locale: Locale, product: RecommendedProduct) -> Card {
    Card {
        href: product_href(&product.slug),
        price: locale.format_money(product.price_from),
        image: product.image,
        name: product.name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_price_facet_value_gives_its_bounds() {
        assert_eq!(price_range("1000-9999"), (Some(1000), Some(9999)));
        assert_eq!(price_range("100000000-"), (Some(100_000_000), None));
        assert_eq!(price_range("nonsense"), (None, None));
    }

    #[test]
    fn facet_links_keep_the_other_filters_and_start_again_at_page_one() {
        let params = SearchParams {
            q: Some("kopi & teh".into()),
            brand: Some("kapal".into()),
            page: Some("3".into()),
            ..SearchParams::default()
        };
        assert_eq!(
            params.with("category", Some("drinks")),
            "/search?q=kopi+%26+teh&brand=kapal&category=drinks"
        );
        assert_eq!(params.with("brand", None), "/search?q=kopi+%26+teh");
        assert_eq!(params.at_page(4), "/search?q=kopi+%26+teh&brand=kapal&page=4");
        assert_eq!(SearchParams::default().with("q", None), "/search");
    }
}
