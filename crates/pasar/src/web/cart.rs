//! The cart page. A signed-in buyer's cart is their own; a guest's is named by a cookie holding
//! the cart's id and token (merged into the buyer's cart at login). Changes answer htmx with
//! the cart's part of the page, and a plain form with a redirect back to the cart.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use super::templates::{PageError, PageResult, render};
use super::visit::{CART_COOKIE, LONG_COOKIE, Visit};
use crate::cart::{CartAccess, CartError, MAX_QUANTITY};
use crate::http::AppState;
use crate::identity::Role;
use crate::ids::VariantId;

/// The cart this visit uses: the signed-in buyer's own (made on first use), or the guest cart
/// its cookie names. With `create`, a guest without one gets a new cart and the cookie to
/// set; without, a guest may have none.
async fn cart_of(
    state: &AppState,
    visit: &Visit,
    create: bool,
) -> Result<(Option<CartAccess>, Option<HeaderValue>), PageError> {
    if let Some(principal) = visit.principal {
        let (access, _) = state.carts.open(Some(principal.user)).await.map_err(PageError::internal)?;
        return Ok((Some(access), None));
    }
    if let Some((id, token)) = &visit.guest_cart {
        match state.carts.access(*id, None, Some(token)).await {
            Ok(access) => return Ok((Some(access), None)),
            Err(CartError::NotFound) => {}
            Err(err) => return Err(PageError::internal(err)),
        }
    }
    if !create {
        return Ok((None, None));
    }
    let (access, token) = state.carts.open(None).await.map_err(PageError::internal)?;
    let token = token.ok_or_else(|| PageError::internal("a new guest cart came without its token"))?;
    let cookie = visit.cookie(CART_COOKIE, &format!("{}.{token}", access.cart), Some(LONG_COOKIE));
    Ok((Some(access), Some(cookie)))
}

#[derive(Serialize)]
struct Line {
    variant_id: String,
    name: Option<String>,
    sku: Option<String>,
    href: Option<String>,
    quantity: i64,
    unit_price: String,
    line_total: String,
}

/// The cart's lines and subtotal, priced now for this visitor.
async fn lines(state: &AppState, visit: &Visit, access: Option<CartAccess>) -> Result<Value, PageError> {
    let Some(access) = access else { return Ok(context! { lines => Value::from(Vec::<Value>::new()) }) };
    let role = visit.principal.map_or(Role::Customer, |p| p.role);
    let view = state.carts.view(access, role).await.map_err(PageError::internal)?;
    let locale = visit.locale;
    let money = |m: Option<crate::money::Money>| m.map(|m| locale.format_money(m)).unwrap_or_default();
    let lines: Vec<Line> = view
        .items
        .into_iter()
        .map(|line| Line {
            variant_id: line.variant_id.to_string(),
            href: line.product_id.map(|id| format!("/products/{id}")),
            name: line.product_name,
            sku: line.sku,
            quantity: line.quantity,
            unit_price: money(line.unit_price),
            line_total: money(line.line_total),
        })
        .collect();
    Ok(context! { lines => Value::from(Serde(&lines)), subtotal => money(view.subtotal) })
}

#[tracing::instrument(skip_all)]
pub async fn show(State(state): State<AppState>, visit: Visit) -> PageResult {
    let (access, _) = cart_of(&state, &visit, false).await?;
    let page = lines(&state, &visit, access).await?;
    Ok(render(&visit, StatusCode::OK, "cart.html", context! { back => "/cart", ..page }))
}

fn is_htmx(headers: &HeaderMap) -> bool {
    headers.get("hx-request").is_some_and(|v| v == "true")
}

/// A quantity from a form: a whole number from 1 to 100.
fn quantity_of(text: Option<&str>) -> Option<i64> {
    text.unwrap_or("1").trim().parse().ok().filter(|q| (1..=MAX_QUANTITY).contains(q))
}

/// What a change of the cart answers: the cart's part of the page to htmx, else a redirect to
/// the cart; with the message of a refused change when there is one.
async fn answer(
    state: &AppState,
    visit: &Visit,
    headers: &HeaderMap,
    access: Option<CartAccess>,
    refused: Option<(StatusCode, &'static str)>,
    cookie: Option<HeaderValue>,
) -> PageResult {
    let htmx = is_htmx(headers);
    let mut response = if htmx || refused.is_some() {
        let page = lines(state, visit, access).await?;
        let error = refused.map(|(_, key)| super::i18n::message(visit.locale, key));
        // htmx swaps only successful answers: a refusal it asked for comes as a 200 showing why.
        let (status, template) = match refused {
            _ if htmx => (StatusCode::OK, "cart_lines.html"),
            Some((status, _)) => (status, "cart.html"),
            None => (StatusCode::OK, "cart.html"),
        };
        render(visit, status, template, context! { error, back => "/cart", ..page })
    } else {
        (StatusCode::SEE_OTHER, [(header::LOCATION, HeaderValue::from_static("/cart"))]).into_response()
    };
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// Why the cart refused a change, as a status and a message key.
fn refusal(err: CartError) -> Result<(StatusCode, &'static str), PageError> {
    match err {
        CartError::NotForSale(_) => Ok((StatusCode::UNPROCESSABLE_ENTITY, "error_not_for_sale")),
        CartError::StoreSuspended(_) => Ok((StatusCode::CONFLICT, "error_store_suspended")),
        CartError::TooMany | CartError::TooManyLines => Ok((StatusCode::CONFLICT, "error_cart_limit")),
        CartError::NotFound => Err(PageError::not_found()),
        err => Err(PageError::internal(err)),
    }
}

#[derive(Deserialize)]
pub struct NewItem {
    variant_id: String,
    quantity: Option<String>,
}

#[tracing::instrument(skip_all)]
pub async fn add(
    State(state): State<AppState>,
    visit: Visit,
    headers: HeaderMap,
    Form(form): Form<NewItem>,
) -> PageResult {
    let (Ok(variant), Some(quantity)) =
        (form.variant_id.parse::<VariantId>(), quantity_of(form.quantity.as_deref()))
    else {
        let (access, _) = cart_of(&state, &visit, false).await?;
        let refused = Some((StatusCode::UNPROCESSABLE_ENTITY, "error_quantity"));
        return answer(&state, &visit, &headers, access, refused, None).await;
    };
    let (access, cookie) = cart_of(&state, &visit, true).await?;
    let access = access.ok_or_else(|| PageError::internal("no cart after creating one"))?;
    let refused = match state.carts.add(access, variant, quantity).await {
        Ok(()) => None,
        Err(err) => Some(refusal(err)?),
    };
    answer(&state, &visit, &headers, Some(access), refused, cookie).await
}

#[derive(Deserialize)]
pub struct QuantityChange {
    quantity: Option<String>,
}

#[tracing::instrument(skip_all)]
pub async fn change(
    State(state): State<AppState>,
    visit: Visit,
    headers: HeaderMap,
    Path(variant): Path<String>,
    Form(form): Form<QuantityChange>,
) -> PageResult {
    let variant: VariantId = variant.parse().map_err(|_| PageError::not_found())?;
    let (access, _) = cart_of(&state, &visit, false).await?;
    let access = access.ok_or_else(PageError::not_found)?;
    let refused = match quantity_of(form.quantity.as_deref()) {
        None => Some((StatusCode::UNPROCESSABLE_ENTITY, "error_quantity")),
        Some(quantity) => match state.carts.set_quantity(access, variant, quantity).await {
            Ok(()) => None,
            Err(err) => Some(refusal(err)?),
        },
    };
    answer(&state, &visit, &headers, Some(access), refused, None).await
}

#[tracing::instrument(skip_all)]
pub async fn remove(
    State(state): State<AppState>,
    visit: Visit,
    headers: HeaderMap,
    Path(variant): Path<String>,
) -> PageResult {
    let variant: VariantId = variant.parse().map_err(|_| PageError::not_found())?;
    let (access, _) = cart_of(&state, &visit, false).await?;
    let access = access.ok_or_else(PageError::not_found)?;
    state.carts.remove(access, variant).await.map_err(|err| match err {
        CartError::NotFound => PageError::not_found(),
        err => PageError::internal(err),
    })?;
    answer(&state, &visit, &headers, Some(access), None, None).await
}
