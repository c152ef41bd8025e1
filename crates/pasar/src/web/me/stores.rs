//! `/stores/{slug}`: a marketplace store's page (name, logo, description, rating) and its
//! products on sale, paged, as `GET /v1/stores/{slug}` and `GET /v1/products?store=` show them.
//! A pending, rejected, suspended or closed store is not found.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::Deserialize;

use crate::catalog::{ProductFilter, ProductSort, ProductStatus, cursor_after};
use crate::http::AppState;
use crate::sellers::SellersError;
use crate::web::pages::Card;
use crate::web::templates::{PageError, PageResult, render};
use crate::web::visit::Visit;

/// Products on one page of a store.
const PER_PAGE: usize = 24;

#[derive(Deserialize)]
pub struct StoreQuery {
    /// The previous page's last product (its cursor).
    after: Option<String>,
}

#[tracing::instrument(skip_all)]
pub async fn show(
    State(state): State<AppState>,
    visit: Visit,
    Path(slug): Path<String>,
    Query(query): Query<StoreQuery>,
) -> PageResult {
    if slug.len() > 120 {
        return Err(PageError::not_found());
    }
    let store = match state.sellers.store_page(&slug).await {
        Ok(store) => store,
        Err(SellersError::NotFound) => return Err(PageError::not_found()),
        Err(err) => return Err(PageError::internal(err)),
    };
    let owner = state
        .sellers
        .live_store_owner(&slug)
        .await
        .map_err(PageError::internal)?
        .ok_or_else(PageError::not_found)?;
    let after = match query.after.as_deref().filter(|a| !a.is_empty()) {
        Some(cursor) => Some(cursor.parse().map_err(|_| PageError::not_found())?),
        None => None,
    };
    let filter = ProductFilter {
        status: Some(ProductStatus::Active),
        seller: Some(owner),
        sort: ProductSort::Newest,
        after,
        ..ProductFilter::default()
    };
    let (products, more) =
        state.catalog.list_products(&filter, PER_PAGE).await.map_err(PageError::internal)?;
    let next_href = more.then(|| products.last()).flatten().map(|last| {
        let cursor = cursor_after(last, ProductSort::Newest).to_string();
        let cursor = form_urlencoded::byte_serialize(cursor.as_bytes()).collect::<String>();
        format!("/stores/{}?after={cursor}", store.slug)
    });
    let locale = visit.locale;
    let cards: Vec<Card> = products.into_iter().map(|product| Card::of(locale, product)).collect();
    let href = format!("/stores/{}", store.slug);
    Ok(render(
        &visit,
        StatusCode::OK,
        "me/store.html",
        context! {
            store => context! {
                name => store.store_name,
                description => store.description,
                logo => store.logo_url,
                product_count => store.product_count,
                joined => locale.format_datetime(store.joined_at),
            },
            rating => format!("{:.1}", store.rating.average),
            rating_count => store.rating.count,
            products => Value::from(Serde(&cards)),
            next_href,
            first_href => query.after.is_some().then(|| href.clone()),
            back => href,
        },
    ))
}
