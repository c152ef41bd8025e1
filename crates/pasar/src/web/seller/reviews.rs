//! `/seller/reviews`: what buyers wrote about the store's products, newest first (as
//! `GET /v1/seller/reviews` lists them), each answered once with the reply form (as
//! `POST /v1/reviews/{id}/reply`; a second reply is refused as the API refuses it).

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use minijinja::context;
use minijinja::value::{Serde, Value};
use serde::{Deserialize, Serialize};

use super::{Need, Store, invalid, page, refusal, see_other, store_for};
use crate::catalog::Actor;
use crate::http::AppState;
use crate::ids::{ProductId, ReviewId};
use crate::reviews::domain::ReviewText;
use crate::web::admin::DoneQuery;
use crate::web::templates::{PageError, PageResult};
use crate::web::visit::Visit;

/// Reviews on one page of the list.
const PER_PAGE: usize = 20;

#[derive(Deserialize)]
pub struct ListQuery {
    cursor: Option<String>,
}

#[derive(Serialize)]
struct Row {
    id: String,
    product: String,
    product_href: String,
    author: String,
    rating: u8,
    stars: String,
    date: String,
    text: String,
    images: Vec<String>,
    reply: Option<String>,
    replied: Option<String>,
}

/// The page of reviews after `cursor`, with what the last action said.
async fn reviews_page(
    state: &AppState,
    visit: &Visit,
    store: &Store,
    cursor: Option<&str>,
    status: StatusCode,
    error: Option<String>,
    notice: &str,
) -> PageResult {
    let after = cursor.and_then(|c| c.parse::<ReviewId>().ok());
    let (reviews, more) =
        state.reviews.for_store(store.user, after, PER_PAGE).await.map_err(PageError::internal)?;
    let next = more.then(|| reviews.last().map(|r| format!("/seller/reviews?cursor={}", r.id))).flatten();
    let mut names: HashMap<ProductId, String> = HashMap::new();
    let mut rows = Vec::with_capacity(reviews.len());
    for review in reviews {
        if let Entry::Vacant(slot) = names.entry(review.product_id) {
            // A review outlives the product's sale: a product gone from the store shows its id.
            let name = match state.catalog.product_as(Actor::Seller(store.user), review.product_id).await {
                Ok(product) => product.name,
                Err(_) => review.product_id.to_string(),
            };
            slot.insert(name);
        }
        rows.push(Row {
            id: review.id.to_string(),
            product: names[&review.product_id].clone(),
            product_href: format!("/seller/products/{}", review.product_id),
            author: review.author.name,
            rating: review.rating.get(),
            stars: "★".repeat(review.rating.get().into()),
            date: visit.locale.format_datetime(review.created_at),
            text: review.text,
            images: review.images.into_iter().map(|image| image.url).collect(),
            replied: review.reply.as_ref().map(|reply| visit.locale.format_datetime(reply.created_at)),
            reply: review.reply.map(|reply| reply.text),
        });
    }
    Ok(page(
        visit,
        store,
        status,
        "reviews",
        "seller/reviews.html",
        context! { rows => Value::from(Serde(&rows)), next, error, notice },
    ))
}

#[tracing::instrument(skip_all)]
pub async fn list(
    State(state): State<AppState>,
    visit: Visit,
    Query(query): Query<ListQuery>,
    Query(done): Query<DoneQuery>,
) -> PageResult {
    let store = match store_for(&state, &visit, "/seller/reviews", Need::Read).await {
        Ok(store) => store,
        Err(answer) => return Ok(answer),
    };
    let notice = done.notice(visit.locale, &[("replied", "seller_done_reply")]);
    reviews_page(&state, &visit, &store, query.cursor.as_deref(), StatusCode::OK, None, notice).await
}

#[derive(Deserialize)]
pub struct ReplyForm {
    #[serde(default)]
    text: String,
}

/// Answers a review of the store's product, once, as `POST /v1/reviews/{id}/reply` with the
/// seller as the caller: another store's review is refused (403) as the API refuses it.
#[tracing::instrument(skip_all)]
pub async fn reply(
    State(state): State<AppState>,
    visit: Visit,
    Path(id): Path<String>,
    Form(form): Form<ReplyForm>,
) -> PageResult {
    let store = match store_for(&state, &visit, "/seller/reviews", Need::Change).await {
        Ok(store) => store,
        Err(answer) => return Ok(answer),
    };
    let Some(caller) = visit.principal else { return Err(PageError::not_found()) };
    let id: ReviewId = id.parse().map_err(|_| PageError::not_found())?;
    let refused = |(status, message): (StatusCode, String)| {
        reviews_page(&state, &visit, &store, None, status, Some(message), "")
    };
    let text = match ReviewText::parse(&form.text) {
        Ok(text) if !text.as_str().is_empty() => text,
        _ => return refused(invalid(&visit, "error_seller_reply_text")).await,
    };
    match state.reviews.reply(caller, id, text).await {
        Ok(_) => Ok(see_other("/seller/reviews?done=replied")),
        Err(err) => refused(refusal(&visit, err)?).await,
    }
}
