//! The store's own products, as `/v1/seller/products*` and the seller's stock routes run
//! them: the list in every status, a new product with its first variant, a product's page to
//! edit or archive it, add a variant, upload and remove its images, adjust a physical
//! variant's stock and paste a digital variant's keys (duplicates reported). Another store's
//! product is not found.

use axum::Form;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use minijinja::value::{Serde, Value};
use serde::{Deserialize, Serialize};

use super::{Need, Store, invalid, page, refusal, see_other, store_for, uploaded_image};
use crate::catalog::domain::ProductCursor;
use crate::catalog::{
    Actor, NewProduct, NewVariant, Product, ProductChange, ProductFilter, ProductKind, ProductSort,
    ProductStatus,
};
use crate::http::AppState;
use crate::identity::domain::Text;
use crate::ids::{MediaId, ProductId, VariantId};
use crate::inventory;
use crate::money::Currency;
use crate::web::admin::DoneQuery;
use crate::web::admin::products::options_of;
use crate::web::i18n;
use crate::web::templates::{PageError, PageResult};
use crate::web::visit::Visit;

/// Products on one page of the list.
const PER_PAGE: usize = 25;

fn status_label(visit: &Visit, status: ProductStatus) -> String {
    i18n::message(visit.locale, &format!("seller_product_{}", status.as_str())).to_owned()
}

fn kind_label(visit: &Visit, kind: ProductKind) -> String {
    i18n::message(visit.locale, &format!("seller_kind_{}", kind.as_str())).to_owned()
}

/// An amount typed in the shop's currency (`25000`, `12.50`) in its minor units.
pub(super) fn minor_units(text: &str, currency: Currency) -> Option<i64> {
    let digits = currency.minor_digits();
    let text: String = text.chars().filter(|c| !c.is_whitespace() && *c != '_').collect();
    if digits == 0 {
        let whole: String = text.chars().filter(|c| *c != '.' && *c != ',').collect();
        return whole.parse::<i64>().ok().filter(|amount| *amount > 0 && !whole.is_empty());
    }
    let (whole, fraction) = text.split_once(['.', ',']).unwrap_or((&text, ""));
    if fraction.len() > digits as usize || !fraction.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let scale = 10_i64.pow(digits);
    let fraction = format!("{fraction:0<width$}", width = digits as usize);
    let amount = whole.parse::<i64>().ok()?.checked_mul(scale)?.checked_add(fraction.parse::<i64>().ok()?)?;
    (amount > 0).then_some(amount)
}

#[derive(Deserialize)]
pub struct ListQuery {
    cursor: Option<String>,
}

#[derive(Serialize)]
struct Row {
    href: String,
    name: String,
    kind: String,
    status: String,
    price: String,
    variants: usize,
}

#[tracing::instrument(skip_all)]
pub async fn list(State(state): State<AppState>, visit: Visit, Query(query): Query<ListQuery>) -> PageResult {
    let store = match store_for(&state, &visit, "/seller/products", Need::Read).await {
        Ok(store) => store,
        Err(answer) => return Ok(answer),
    };
    let filter = ProductFilter {
        seller: Some(store.user),
        include_hidden_stores: true,
        sort: ProductSort::Newest,
        after: query
            .cursor
            .as_deref()
            .and_then(|c| c.parse::<ProductId>().ok())
            .map(|id| ProductCursor::Newest { id }),
        ..ProductFilter::default()
    };
    let (products, more) =
        state.catalog.list_products(&filter, PER_PAGE).await.map_err(PageError::internal)?;
    let next = more.then(|| products.last().map(|p| format!("/seller/products?cursor={}", p.id))).flatten();
    let rows: Vec<Row> = products
        .iter()
        .map(|product| Row {
            href: format!("/seller/products/{}", product.id),
            name: product.name.clone(),
            kind: kind_label(&visit, product.kind),
            status: status_label(&visit, product.status),
            price: visit.locale.format_money(product.price_from),
            variants: product.variants.len(),
        })
        .collect();
    Ok(page(
        &visit,
        &store,
        StatusCode::OK,
        "products",
        "seller/products.html",
        context! { rows => Value::from(Serde(&rows)), next },
    ))
}

/// The new product form's fields, as typed (shown again when refused).
#[derive(Default, Deserialize, Serialize)]
pub struct NewProductForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    category_id: String,
    #[serde(default)]
    sku: String,
    #[serde(default)]
    price: String,
    #[serde(default)]
    weight_grams: String,
}

async fn new_product_page(
    state: &AppState,
    visit: &Visit,
    store: &Store,
    status: StatusCode,
    form: &NewProductForm,
    error: Option<String>,
) -> PageResult {
    let categories: Vec<Value> = state
        .catalog
        .categories()
        .await
        .map_err(PageError::internal)?
        .into_iter()
        .map(|c| context! { id => c.id.to_string(), name => c.name })
        .collect();
    Ok(page(
        visit,
        store,
        status,
        "products",
        "seller/product_new.html",
        context! {
            form => Value::from(Serde(form)),
            categories,
            currency => state.wallet.currency().code(),
            error,
        },
    ))
}

#[tracing::instrument(skip_all)]
pub async fn new_page(State(state): State<AppState>, visit: Visit) -> PageResult {
    let store = match store_for(&state, &visit, "/seller/products/new", Need::Change).await {
        Ok(store) => store,
        Err(answer) => return Ok(answer),
    };
    let form =
        NewProductForm { kind: "physical".into(), status: "draft".into(), ..NewProductForm::default() };
    new_product_page(&state, &visit, &store, StatusCode::OK, &form, None).await
}

/// Creates a product in the store with its first variant, as `POST /v1/seller/products`: its
/// `seller_id` is the store, whatever the form says.
#[tracing::instrument(skip_all)]
pub async fn create(
    State(state): State<AppState>,
    visit: Visit,
    Form(form): Form<NewProductForm>,
) -> PageResult {
    let store = match store_for(&state, &visit, "/seller/products/new", Need::Change).await {
        Ok(store) => store,
        Err(answer) => return Ok(answer),
    };
    let currency = state.wallet.currency();
    let refused = |(status, message): (StatusCode, String)| {
        new_product_page(&state, &visit, &store, status, &form, Some(message))
    };
    let Some(amount) = minor_units(&form.price, currency) else {
        return refused(invalid(&visit, "error_seller_price")).await;
    };
    let weight = form.weight_grams.trim();
    let weight: Option<u64> = match weight {
        "" => None,
        text => match text.parse() {
            Ok(grams) => Some(grams),
            Err(_) => return refused(invalid(&visit, "error_seller_invalid")).await,
        },
    };
    let body = serde_json::json!({
        "name": form.name,
        "description": form.description,
        "kind": form.kind,
        "status": form.status,
        "category_id": form.category_id,
        "seller_id": store.user,
        "variants": [{
            "sku": form.sku.trim(),
            "price": {"amount": amount, "currency": currency.code()},
            "weight_grams": weight,
        }],
    });
    let product: NewProduct = match serde_json::from_value(body) {
        Ok(product) => product,
        Err(err) => {
            let message = format!("{} ({err})", i18n::message(visit.locale, "error_seller_invalid"));
            return refused((StatusCode::UNPROCESSABLE_ENTITY, message)).await;
        }
    };
    match state.catalog.create_product(Actor::Seller(store.user), product).await {
        Ok(product) => Ok(see_other(&format!("/seller/products/{}", product.id))),
        Err(err) => refused(refusal(&visit, err)?).await,
    }
}

#[derive(Serialize)]
struct VariantView {
    id: String,
    sku: String,
    options: String,
    price: String,
    on_hand: i64,
    reserved: i64,
    available: i64,
}

/// What the last action on a product page did, shown over it.
#[derive(Default)]
struct Outcome {
    error: Option<String>,
    notice: Option<String>,
    duplicates: Vec<String>,
}

/// One of the store's products, or a 404 (another store's too, as the API answers).
async fn own_product(state: &AppState, visit: &Visit, store: &Store, id: &str) -> Result<Product, PageError> {
    let id: ProductId = id.parse().map_err(|_| PageError::not_found())?;
    match state.catalog.product_as(Actor::Seller(store.user), id).await {
        Ok(product) => Ok(product),
        Err(err) => Err(refusal(visit, err).err().unwrap_or_else(PageError::not_found)),
    }
}

/// For a form on the product's page: the store and its product `id`, or the answer that stops
/// the form (sign in, not a live store, a product not found or not the store's).
async fn product_to_change(state: &AppState, visit: &Visit, id: &str) -> Result<(Store, Product), Response> {
    let store = store_for(state, visit, &format!("/seller/products/{id}"), Need::Change).await?;
    let product = own_product(state, visit, &store, id).await.map_err(IntoResponse::into_response)?;
    Ok((store, product))
}

async fn product_page(
    state: &AppState,
    visit: &Visit,
    store: &Store,
    product: Product,
    status: StatusCode,
    outcome: Outcome,
) -> PageResult {
    let ids: Vec<VariantId> = product.variants.iter().map(|v| v.id).collect();
    let levels = state.inventory.levels(&ids).await.map_err(PageError::internal)?;
    let variants: Vec<VariantView> = product
        .variants
        .iter()
        .map(|variant| {
            let level = levels.get(&variant.id);
            VariantView {
                id: variant.id.to_string(),
                sku: variant.sku.clone(),
                options: variant
                    .options
                    .iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                price: visit.locale.format_money(variant.price),
                on_hand: level.map_or(0, |l| l.on_hand),
                reserved: level.map_or(0, |l| l.reserved),
                available: level.map_or(0, |l| l.available),
            }
        })
        .collect();
    let statuses: Vec<Value> = [ProductStatus::Draft, ProductStatus::Active, ProductStatus::Archived]
        .into_iter()
        .map(|s| context! { value => s.as_str(), label => status_label(visit, s), current => s == product.status })
        .collect();
    Ok(page(
        visit,
        store,
        status,
        "products",
        "seller/product.html",
        context! {
            id => product.id.to_string(),
            name => product.name,
            slug => product.slug,
            description => product.description,
            kind => product.kind.as_str(),
            kind_label => kind_label(visit, product.kind),
            status => product.status.as_str(),
            status_label => status_label(visit, product.status),
            statuses,
            archived => product.status == ProductStatus::Archived,
            digital => product.kind == ProductKind::Digital,
            variants => Value::from(Serde(&variants)),
            images => product
                .media
                .iter()
                .map(|m| context! { id => m.id.to_string(), url => m.url.as_str() })
                .collect::<Vec<_>>(),
            currency => state.wallet.currency().code(),
            error => outcome.error,
            notice => outcome.notice,
            duplicates => outcome.duplicates,
        },
    ))
}

#[tracing::instrument(skip_all)]
pub async fn show(
    State(state): State<AppState>,
    visit: Visit,
    Path(id): Path<String>,
    Query(query): Query<DoneQuery>,
) -> PageResult {
    let store = match store_for(&state, &visit, &format!("/seller/products/{id}"), Need::Read).await {
        Ok(store) => store,
        Err(answer) => return Ok(answer),
    };
    let product = own_product(&state, &visit, &store, &id).await?;
    let notice = query.notice(
        visit.locale,
        &[
            ("image", "seller_done_image"),
            ("image_removed", "seller_done_image_removed"),
            ("variant", "seller_done_variant"),
        ],
    );
    let outcome = Outcome { notice: (!notice.is_empty()).then(|| notice.to_owned()), ..Outcome::default() };
    product_page(&state, &visit, &store, product, StatusCode::OK, outcome).await
}

#[derive(Deserialize)]
pub struct EditForm {
    name: String,
    #[serde(default)]
    description: String,
    status: String,
}

/// Changes the product's name, description and status, as `PATCH /v1/seller/products/{id}`.
#[tracing::instrument(skip_all)]
pub async fn update(
    State(state): State<AppState>,
    visit: Visit,
    Path(id): Path<String>,
    Form(form): Form<EditForm>,
) -> PageResult {
    let here = format!("/seller/products/{id}");
    let (store, product) = match product_to_change(&state, &visit, &id).await {
        Ok(found) => found,
        Err(answer) => return Ok(answer),
    };
    let change =
        serde_json::json!({"name": form.name, "description": form.description, "status": form.status});
    changed(&state, &visit, &store, product, change, &here).await
}

/// Takes the product off sale for good (status `archived`).
#[tracing::instrument(skip_all)]
pub async fn archive(State(state): State<AppState>, visit: Visit, Path(id): Path<String>) -> PageResult {
    let here = format!("/seller/products/{id}");
    let (store, product) = match product_to_change(&state, &visit, &id).await {
        Ok(found) => found,
        Err(answer) => return Ok(answer),
    };
    changed(&state, &visit, &store, product, serde_json::json!({"status": "archived"}), &here).await
}

async fn changed(
    state: &AppState,
    visit: &Visit,
    store: &Store,
    product: Product,
    change: serde_json::Value,
    here: &str,
) -> PageResult {
    let refused = |product, refusal| refused_page(state, visit, store, product, refusal);
    let change: ProductChange = match serde_json::from_value(change) {
        Ok(change) => change,
        Err(err) => {
            let message = format!("{} ({err})", i18n::message(visit.locale, "error_seller_invalid"));
            return refused(product, (StatusCode::UNPROCESSABLE_ENTITY, message)).await;
        }
    };
    match state.catalog.update_product(Actor::Seller(store.user), product.id, change).await {
        Ok(_) => Ok(see_other(here)),
        Err(err) => refused(product, refusal(visit, err)?).await,
    }
}

/// The product's page again, answering with the refusal's status and message.
async fn refused_page(
    state: &AppState,
    visit: &Visit,
    store: &Store,
    product: Product,
    (status, message): (StatusCode, String),
) -> PageResult {
    let outcome = Outcome { error: Some(message), ..Outcome::default() };
    product_page(state, visit, store, product, status, outcome).await
}

/// The product and one of its variants, or a 404.
async fn own_variant(
    state: &AppState,
    visit: &Visit,
    store: &Store,
    id: &str,
    variant: &str,
) -> Result<(Product, VariantId), PageError> {
    let product = own_product(state, visit, store, id).await?;
    let variant = product
        .variants
        .iter()
        .find(|v| v.id.to_string() == variant)
        .map(|v| v.id)
        .ok_or_else(PageError::not_found)?;
    Ok((product, variant))
}

#[derive(Deserialize)]
pub struct StockForm {
    delta: String,
    reason: String,
}

/// Adds to or takes from a physical variant's stock on hand, with a reason, as
/// `POST /v1/seller/variants/{id}/stock/adjust`.
#[tracing::instrument(skip_all)]
pub async fn adjust_stock(
    State(state): State<AppState>,
    visit: Visit,
    Path((id, variant)): Path<(String, String)>,
    Form(form): Form<StockForm>,
) -> PageResult {
    let here = format!("/seller/products/{id}");
    let store = match store_for(&state, &visit, &here, Need::Change).await {
        Ok(store) => store,
        Err(answer) => return Ok(answer),
    };
    let (product, variant) = own_variant(&state, &visit, &store, &id, &variant).await?;
    let refused = |product, refusal| refused_page(&state, &visit, &store, product, refusal);
    let delta =
        form.delta.trim().parse::<i64>().ok().filter(|d| *d != 0 && d.unsigned_abs() <= 1_000_000_000);
    let (Some(delta), Ok(reason)) = (delta, Text::<200>::parse(&form.reason)) else {
        return refused(product, invalid(&visit, "error_seller_stock")).await;
    };
    let digital = product.kind == ProductKind::Digital;
    match state.inventory.adjust(variant, digital, delta, reason.as_str(), &store.actor()).await {
        Ok(_) => Ok(see_other(&here)),
        Err(err) => refused(product, refusal(&visit, err)?).await,
    }
}

#[derive(Deserialize)]
pub struct KeysForm {
    keys: String,
}

/// Adds pasted keys to a digital variant, one per line, as
/// `POST /v1/seller/variants/{id}/digital-items`; the ones it already holds (or the paste
/// repeats) are listed back as duplicates.
#[tracing::instrument(skip_all)]
pub async fn add_keys(
    State(state): State<AppState>,
    visit: Visit,
    Path((id, variant)): Path<(String, String)>,
    Form(form): Form<KeysForm>,
) -> PageResult {
    let here = format!("/seller/products/{id}");
    let store = match store_for(&state, &visit, &here, Need::Change).await {
        Ok(store) => store,
        Err(answer) => return Ok(answer),
    };
    let (product, variant) = own_variant(&state, &visit, &store, &id, &variant).await?;
    let outcome =
        |error: (StatusCode, String)| (error.0, Outcome { error: Some(error.1), ..Outcome::default() });
    if product.kind != ProductKind::Digital {
        let (_, outcome) = outcome(invalid(&visit, "error_seller_not_digital"));
        let status = StatusCode::CONFLICT;
        return product_page(&state, &visit, &store, product, status, outcome).await;
    }
    let keys = inventory::domain::pasted_keys(&form.keys);
    if !inventory::domain::acceptable_items(&keys) {
        let (status, outcome) = outcome(invalid(&visit, "error_seller_keys"));
        return product_page(&state, &visit, &store, product, status, outcome).await;
    }
    match state.inventory.add_digital_items(variant, &keys, &store.actor()).await {
        Ok(added) => {
            let notice =
                i18n::message(visit.locale, "seller_keys_added").replace("{count}", &added.added.to_string());
            let outcome = Outcome { notice: Some(notice), duplicates: added.duplicates, error: None };
            product_page(&state, &visit, &store, product, StatusCode::OK, outcome).await
        }
        Err(err) => {
            let (status, outcome) = outcome(refusal(&visit, err)?);
            product_page(&state, &visit, &store, product, status, outcome).await
        }
    }
}

/// The new variant form's fields.
#[derive(Deserialize)]
pub struct VariantForm {
    sku: String,
    /// `size=250g, roast=dark`.
    #[serde(default)]
    options: String,
    price: String,
    #[serde(default)]
    weight_grams: String,
}

/// Adds a variant to the product, as `POST /v1/seller/products/{id}/variants`.
#[tracing::instrument(skip_all)]
pub async fn add_variant(
    State(state): State<AppState>,
    visit: Visit,
    Path(id): Path<String>,
    Form(form): Form<VariantForm>,
) -> PageResult {
    let here = format!("/seller/products/{id}");
    let (store, product) = match product_to_change(&state, &visit, &id).await {
        Ok(found) => found,
        Err(answer) => return Ok(answer),
    };
    let refused = |product, refusal| refused_page(&state, &visit, &store, product, refusal);
    let currency = state.wallet.currency();
    let Some(amount) = minor_units(&form.price, currency) else {
        return refused(product, invalid(&visit, "error_seller_price")).await;
    };
    let weight: Option<u64> = match form.weight_grams.trim() {
        "" => None,
        text => match text.parse() {
            Ok(grams) => Some(grams),
            Err(_) => return refused(product, invalid(&visit, "error_seller_invalid")).await,
        },
    };
    let Some(options) = options_of(&form.options) else {
        return refused(product, invalid(&visit, "error_seller_options")).await;
    };
    let body = serde_json::json!({
        "sku": form.sku.trim(),
        "options": options,
        "price": {"amount": amount, "currency": currency.code()},
        "weight_grams": weight,
    });
    let variant: NewVariant = match serde_json::from_value(body) {
        Ok(variant) => variant,
        Err(err) => {
            let message = format!("{} ({err})", i18n::message(visit.locale, "error_seller_invalid"));
            return refused(product, (StatusCode::UNPROCESSABLE_ENTITY, message)).await;
        }
    };
    match state.catalog.add_variant(Actor::Seller(store.user), product.id, variant).await {
        Ok(_) => Ok(see_other(&format!("{here}?done=variant"))),
        Err(err) => refused(product, refusal(&visit, err)?).await,
    }
}

/// Adds an image to the product, as `POST /v1/seller/products/{id}/media`, from a
/// `multipart/form-data` form (its CSRF token in the form's `_csrf` field).
#[tracing::instrument(skip_all)]
pub async fn upload_image(
    State(state): State<AppState>,
    visit: Visit,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> PageResult {
    let here = format!("/seller/products/{id}");
    let (store, product) = match product_to_change(&state, &visit, &id).await {
        Ok(found) => found,
        Err(answer) => return Ok(answer),
    };
    let refused = |product, refusal| refused_page(&state, &visit, &store, product, refusal);
    let (kind, file) = match uploaded_image(&visit, &headers, body, state.catalog.media_max_bytes()).await {
        Ok(image) => image,
        Err(refusal) => return refused(product, refusal).await,
    };
    match state.catalog.add_media(Actor::Seller(store.user), product.id, kind.as_deref(), file).await {
        Ok(_) => Ok(see_other(&format!("{here}?done=image"))),
        Err(err) => refused(product, refusal(&visit, err)?).await,
    }
}

/// Takes an image off the product, as `DELETE /v1/seller/products/{id}/media/{media_id}`.
#[tracing::instrument(skip_all)]
pub async fn remove_image(
    State(state): State<AppState>,
    visit: Visit,
    Path((id, media)): Path<(String, String)>,
) -> PageResult {
    let here = format!("/seller/products/{id}");
    let (store, product) = match product_to_change(&state, &visit, &id).await {
        Ok(found) => found,
        Err(answer) => return Ok(answer),
    };
    let media: MediaId = media.parse().map_err(|_| PageError::not_found())?;
    match state.catalog.remove_media(Actor::Seller(store.user), product.id, media).await {
        Ok(()) => Ok(see_other(&format!("{here}?done=image_removed"))),
        Err(err) => refused_page(&state, &visit, &store, product, refusal(&visit, err)?).await,
    }
}
