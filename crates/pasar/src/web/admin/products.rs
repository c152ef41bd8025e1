//! `/admin/products`: the list (with a stock import from a CSV file), a new product (with its
//! first variant), a product's page (its fields, archive, images, a new variant, variants'
//! prices, and each variant's stock: adjust with a reason and its movements, or paste digital
//! keys or upload a key file, with the duplicates reported). Each action calls the service the
//! admin JSON route calls, with the same actor.

use axum::Form;
use axum::body::Body;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::orders::parse_amount;
use super::{Admin, DoneQuery, page, refusal, see_other};
use crate::catalog::{
    Actor, NewProduct, NewVariant, Product, ProductChange, ProductFilter, ProductKind, ProductSort,
    ProductStatus, VariantChange,
};
use crate::http::AppState;
use crate::identity::domain::Text;
use crate::ids::{ProductId, VariantId};
use crate::inventory;
use crate::inventory::import::{self, ImportError, Problem};
use crate::money::{Currency, Money};
use crate::web::i18n;
use crate::web::templates::{PageError, PageResult};

/// Products on the list page (the newest; a search narrows it).
const LIST_LIMIT: usize = 50;
/// Movements shown per variant.
const MOVEMENTS: i64 = 10;

/// (value, name) of each product status, for a select.
fn status_options(locale: crate::locale::Locale) -> Vec<(&'static str, String)> {
    [ProductStatus::Draft, ProductStatus::Active, ProductStatus::Archived]
        .iter()
        .map(|s| (s.as_str(), i18n::message(locale, &format!("admin_product_{}", s.as_str())).to_owned()))
        .collect()
}

fn status_of(text: &str) -> Option<ProductStatus> {
    [ProductStatus::Draft, ProductStatus::Active, ProductStatus::Archived]
        .into_iter()
        .find(|s| s.as_str() == text)
}

#[derive(Default, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    status: Option<String>,
}

#[derive(Serialize)]
struct Row {
    name: String,
    href: String,
    status: String,
    kind: String,
    price: String,
    variants: usize,
}

#[tracing::instrument(skip_all)]
pub async fn list(State(state): State<AppState>, admin: Admin, Query(query): Query<ListQuery>) -> PageResult {
    list_page(&state, &admin, StatusCode::OK, query, context! {}).await
}

/// The list page, with `extra` (a stock import's results or errors) in its context.
async fn list_page(
    state: &AppState,
    admin: &Admin,
    code: StatusCode,
    query: ListQuery,
    extra: Value,
) -> PageResult {
    let locale = admin.visit.locale;
    let q = query.q.as_deref().map(str::trim).unwrap_or_default().chars().take(100).collect::<String>();
    let status = query.status.as_deref().and_then(status_of);
    let filter = ProductFilter {
        status,
        search: (!q.is_empty()).then(|| q.clone()),
        include_hidden_stores: true,
        sort: ProductSort::Newest,
        ..ProductFilter::default()
    };
    let (products, _) =
        state.catalog.list_products(&filter, LIST_LIMIT).await.map_err(PageError::internal)?;
    let rows: Vec<Row> = products
        .iter()
        .map(|p| Row {
            name: p.name.clone(),
            href: format!("/admin/products/{}", p.id),
            status: i18n::message(locale, &format!("admin_product_{}", p.status.as_str())).to_owned(),
            kind: i18n::message(locale, &format!("admin_kind_{}", p.kind.as_str())).to_owned(),
            price: locale.format_money(p.price_from),
            variants: p.variants.len(),
        })
        .collect();
    Ok(page(
        admin,
        code,
        "admin/products.html",
        "products",
        context! {
            rows => Serde(&rows),
            statuses => Serde(&status_options(locale)),
            q,
            status => status.map(ProductStatus::as_str),
            ..extra
        },
    ))
}

#[derive(Serialize)]
struct ImportedView {
    line: u64,
    sku: String,
    before: i64,
    on_hand: i64,
    delta: i64,
}

#[derive(Serialize)]
struct BadLineView {
    line: u64,
    sku: String,
    problem: String,
}

/// What is wrong with a line, in the visitor's language.
fn problem_text(locale: crate::locale::Locale, problem: Problem) -> String {
    let key = match problem {
        Problem::Header => "admin_import_header",
        Problem::Unreadable => "admin_import_unreadable",
        Problem::NoRows => "admin_import_no_rows",
        Problem::TooManyRows { .. } => "admin_import_too_many",
        Problem::MissingSku => "admin_import_missing_sku",
        Problem::UnknownSku => "admin_import_unknown_sku",
        Problem::DigitalVariant => "admin_import_digital",
        Problem::NotAWholeNumber => "admin_import_not_whole",
        Problem::Negative => "admin_import_negative",
        Problem::TooLarge => "admin_import_too_large",
        Problem::BelowReserved { .. } => "admin_import_below_reserved",
        Problem::DuplicateSku { .. } => "admin_import_duplicate",
        Problem::BadReason => "admin_import_reason",
    };
    let text = i18n::message(locale, key);
    match problem {
        Problem::TooManyRows { max } => text.replace("{n}", &max.to_string()),
        Problem::BelowReserved { reserved } => text.replace("{n}", &reserved.to_string()),
        Problem::DuplicateSku { first_line } => text.replace("{n}", &first_line.to_string()),
        _ => text.to_owned(),
    }
}

/// Like `POST /v1/admin/stock/import`, from an upload form: the file's rows are all checked
/// first; the list page shows each row's level set, or every bad line (and nothing changed).
#[tracing::instrument(skip_all)]
pub async fn import_stock(
    State(state): State<AppState>,
    admin: Admin,
    headers: HeaderMap,
    body: Body,
) -> PageResult {
    let locale = admin.visit.locale;
    let max = state.config.body_limit_bytes;
    let refused = |key: &'static str| context! { import_error => i18n::message(locale, key) };
    let upload =
        match upload_of(&headers, body, max, "error_admin_file_too_large", "error_admin_no_file").await {
            Ok(upload) => upload,
            Err((status, key)) => {
                return list_page(&state, &admin, status, ListQuery::default(), refused(key)).await;
            }
        };
    let actor = admin.actor();
    match import::import_levels(&state.catalog, &state.inventory, &upload.bytes, &actor).await {
        Ok(levels) => {
            let changed = levels.iter().filter(|l| l.delta != 0).count();
            let imported: Vec<ImportedView> = levels
                .into_iter()
                .map(|l| ImportedView {
                    line: l.line,
                    sku: l.sku,
                    before: l.before,
                    on_hand: l.on_hand,
                    delta: l.delta,
                })
                .collect();
            let notice = i18n::message(locale, "admin_import_done").replace("{n}", &changed.to_string());
            let extra = context! { notice, imported => Serde(&imported) };
            list_page(&state, &admin, StatusCode::OK, ListQuery::default(), extra).await
        }
        Err(ImportError::Invalid(lines)) => {
            let bad_lines: Vec<BadLineView> = lines
                .into_iter()
                .map(|bad| BadLineView {
                    line: bad.line,
                    sku: bad.sku.unwrap_or_default(),
                    problem: problem_text(locale, bad.problem),
                })
                .collect();
            let extra = context! {
                import_error => i18n::message(locale, "error_admin_import_lines"),
                bad_lines => Serde(&bad_lines),
            };
            list_page(&state, &admin, StatusCode::UNPROCESSABLE_ENTITY, ListQuery::default(), extra).await
        }
        Err(ImportError::Catalog(err)) => Err(PageError::internal(err)),
        Err(ImportError::Inventory(err)) => {
            let (status, key) = refusal(err)?;
            list_page(&state, &admin, status, ListQuery::default(), refused(key)).await
        }
    }
}

/// The new product form, with `values` (what was typed, an error) filled in.
async fn new_form(state: &AppState, admin: &Admin, status: StatusCode, values: Value) -> PageResult {
    let categories = state.catalog.categories().await.map_err(PageError::internal)?;
    let kinds: Vec<(&str, String)> = [ProductKind::Physical, ProductKind::Digital]
        .iter()
        .map(|k| {
            (k.as_str(), i18n::message(admin.visit.locale, &format!("admin_kind_{}", k.as_str())).to_owned())
        })
        .collect();
    let categories: Vec<(String, String)> =
        categories.into_iter().map(|c| (c.id.to_string(), c.name)).collect();
    Ok(page(
        admin,
        status,
        "admin/product_new.html",
        "products",
        context! {
            categories => Serde(&categories),
            currency => state.config.currency.as_str(),
            kinds => Serde(&kinds),
            statuses => Serde(&status_options(admin.visit.locale)[..2]),
            ..values
        },
    ))
}

pub async fn new_page(State(state): State<AppState>, admin: Admin) -> PageResult {
    let form: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    new_form(&state, &admin, StatusCode::OK, context! { form }).await
}

#[derive(Deserialize, Serialize)]
pub struct NewProductForm {
    name: String,
    #[serde(default)]
    description: String,
    kind: String,
    status: String,
    category_id: String,
    sku: String,
    price: String,
    /// `size=250g, roast=dark`.
    #[serde(default)]
    options: String,
}

/// `size=250g, roast=dark` as a variant's options; None when a pair has no `=`.
pub(in crate::web) fn options_of(text: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let mut options = serde_json::Map::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=')?;
        options.insert(name.trim().to_owned(), value.trim().into());
    }
    Some(options)
}

/// The shop's currency, as prices typed on these pages are in it.
fn shop_money(state: &AppState) -> Result<Money, PageError> {
    let currency = Currency::parse(&state.config.currency).map_err(PageError::internal)?;
    Ok(Money { amount: 1, currency })
}

/// Like `POST /v1/admin/products`; the form's fields are checked as the JSON body's are.
#[tracing::instrument(skip_all)]
pub async fn create(
    State(state): State<AppState>,
    admin: Admin,
    Form(form): Form<NewProductForm>,
) -> PageResult {
    let locale = admin.visit.locale;
    let again = |key: &'static str| context! { error => i18n::message(locale, key), form => Serde(&form) };
    let Some(price) = parse_amount(&form.price, shop_money(&state)?) else {
        return new_form(&state, &admin, StatusCode::UNPROCESSABLE_ENTITY, again("error_admin_price")).await;
    };
    let Some(options) = options_of(&form.options) else {
        return new_form(&state, &admin, StatusCode::UNPROCESSABLE_ENTITY, again("error_admin_options"))
            .await;
    };
    let body = json!({
        "name": form.name.trim(), "description": form.description.trim(), "kind": form.kind,
        "status": form.status, "category_id": form.category_id,
        "variants": [{ "sku": form.sku.trim(), "options": options, "price": price }],
    });
    let Ok(input) = serde_json::from_value::<NewProduct>(body) else {
        return new_form(&state, &admin, StatusCode::UNPROCESSABLE_ENTITY, again("error_admin_invalid"))
            .await;
    };
    match state.catalog.create_product(Actor::Staff(admin.principal.user), input).await {
        Ok(product) => Ok(see_other(&format!("/admin/products/{}?done=created", product.id))),
        Err(err) => {
            let (status, key) = refusal(err)?;
            new_form(&state, &admin, status, again(key)).await
        }
    }
}

#[derive(Serialize)]
struct MovementView {
    delta: i64,
    reason: String,
    actor: String,
    on_hand_after: i64,
    at: String,
}

#[derive(Serialize)]
struct VariantView {
    id: String,
    sku: String,
    options: String,
    price: String,
    /// The price as typed in the form (major units).
    price_input: String,
    on_hand: i64,
    reserved: i64,
    available: i64,
    digital: bool,
    movements: Vec<MovementView>,
}

fn major_units(money: Money) -> String {
    let digits = money.currency.minor_digits();
    if digits == 0 {
        return money.amount.to_string();
    }
    let scale = 10_i64.pow(digits);
    format!("{}.{:0width$}", money.amount / scale, (money.amount % scale).abs(), width = digits as usize)
}

/// A product's page, with `extra` (a notice, an error, keys' duplicates) in its context.
async fn product_page(
    state: &AppState,
    admin: &Admin,
    status: StatusCode,
    product: Product,
    extra: Value,
) -> PageResult {
    let locale = admin.visit.locale;
    let ids: Vec<VariantId> = product.variants.iter().map(|v| v.id).collect();
    let levels = state.inventory.levels(&ids).await.map_err(PageError::internal)?;
    let mut variants = Vec::new();
    for v in &product.variants {
        let level = levels.get(&v.id);
        let movements = state.inventory.movements(v.id, MOVEMENTS).await.map_err(PageError::internal)?;
        variants.push(VariantView {
            id: v.id.to_string(),
            sku: v.sku.clone(),
            options: v.options.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", "),
            price: locale.format_money(v.price),
            price_input: major_units(v.price),
            on_hand: level.map_or(0, |l| l.on_hand),
            reserved: level.map_or(0, |l| l.reserved),
            available: level.map_or(0, |l| l.available),
            digital: product.kind == ProductKind::Digital,
            movements: movements
                .into_iter()
                .map(|m| MovementView {
                    delta: m.delta,
                    reason: m.reason,
                    actor: m.actor,
                    on_hand_after: m.on_hand_after,
                    at: locale.format_datetime(m.created_at),
                })
                .collect(),
        });
    }
    let images: Vec<String> = product.media.iter().map(|m| m.url.clone()).collect();
    let statuses = status_options(locale);
    Ok(page(
        admin,
        status,
        "admin/product.html",
        "products",
        context! {
            id => product.id.to_string(),
            name => product.name,
            slug => product.slug,
            description => product.description,
            status_code => product.status.as_str(),
            featured => product.featured,
            kind => i18n::message(locale, &format!("admin_kind_{}", product.kind.as_str())),
            statuses => Serde(&statuses),
            variants => Serde(&variants),
            images => Serde(&images),
            currency => product.price_from.currency.code(),
            ..extra
        },
    ))
}

async fn load(state: &AppState, id: &str) -> Result<Product, PageError> {
    let id: ProductId = id.parse().map_err(|_| PageError::not_found())?;
    match state.catalog.product(id).await {
        Ok(product) => Ok(product),
        Err(crate::catalog::CatalogError::ProductNotFound) => Err(PageError::not_found()),
        Err(err) => Err(PageError::internal(err)),
    }
}

/// The product a variant belongs to.
async fn product_of(state: &AppState, variant: &str) -> Result<(VariantId, Product), PageError> {
    let id: VariantId = variant.parse().map_err(|_| PageError::not_found())?;
    let product = state.catalog.product_of_variant(id).await.map_err(PageError::internal)?;
    let product = product.ok_or_else(PageError::not_found)?;
    Ok((id, load(state, &product.to_string()).await?))
}

#[tracing::instrument(skip_all)]
pub async fn show(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Query(query): Query<DoneQuery>,
) -> PageResult {
    let product = load(&state, &id).await?;
    let notice = query.notice(
        admin.visit.locale,
        &[
            ("created", "admin_done_created"),
            ("saved", "admin_done_saved"),
            ("archived", "admin_done_archived"),
            ("image", "admin_done_image"),
            ("stock", "admin_done_stock"),
            ("variant", "admin_done_variant"),
        ],
    );
    product_page(&state, &admin, StatusCode::OK, product, context! { notice }).await
}

fn done(id: ProductId, what: &str) -> Response {
    see_other(&format!("/admin/products/{id}?done={what}"))
}

/// The product's page again with a message for `key` and the status given.
async fn again(state: &AppState, admin: &Admin, id: ProductId, status: StatusCode, key: &str) -> PageResult {
    let product = load(state, &id.to_string()).await?;
    let error = i18n::message(admin.visit.locale, key);
    product_page(state, admin, status, product, context! { error }).await
}

async fn change(
    state: &AppState,
    admin: &Admin,
    id: ProductId,
    change: serde_json::Value,
    what: &str,
) -> PageResult {
    let Ok(change) = serde_json::from_value::<ProductChange>(change) else {
        return again(state, admin, id, StatusCode::UNPROCESSABLE_ENTITY, "error_admin_invalid").await;
    };
    match state.catalog.update_product(Actor::Staff(admin.principal.user), id, change).await {
        Ok(_) => Ok(done(id, what)),
        Err(err) => {
            let (status, key) = refusal(err)?;
            again(state, admin, id, status, key).await
        }
    }
}

#[derive(Deserialize)]
pub struct ProductForm {
    name: String,
    #[serde(default)]
    description: String,
    status: String,
    /// The checkbox: present (`on`) when ticked, absent when not.
    featured: Option<String>,
}

/// Like `PATCH /v1/admin/products/{id}`: name, description, status, featured.
#[tracing::instrument(skip_all)]
pub async fn update(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Form(form): Form<ProductForm>,
) -> PageResult {
    let product = load(&state, &id).await?;
    let body = json!({
        "name": form.name.trim(),
        "description": form.description.trim(),
        "status": form.status,
        "featured": form.featured.is_some(),
    });
    change(&state, &admin, product.id, body, "saved").await
}

/// Like `PATCH /v1/admin/products/{id}` with `status: archived`: off sale, kept for its orders.
#[tracing::instrument(skip_all)]
pub async fn archive(State(state): State<AppState>, admin: Admin, Path(id): Path<String>) -> PageResult {
    let product = load(&state, &id).await?;
    change(&state, &admin, product.id, json!({ "status": "archived" }), "archived").await
}

#[derive(Deserialize)]
pub struct PriceForm {
    price: String,
}

/// Like `PATCH /v1/admin/variants/{id}` with a new price.
#[tracing::instrument(skip_all)]
pub async fn update_variant(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Form(form): Form<PriceForm>,
) -> PageResult {
    let (variant, product) = product_of(&state, &id).await?;
    let Some(price) = parse_amount(&form.price, product.price_from) else {
        return again(&state, &admin, product.id, StatusCode::UNPROCESSABLE_ENTITY, "error_admin_price")
            .await;
    };
    let Ok(change) = serde_json::from_value::<VariantChange>(json!({ "price": price })) else {
        return again(&state, &admin, product.id, StatusCode::UNPROCESSABLE_ENTITY, "error_admin_price")
            .await;
    };
    match state.catalog.update_variant(Actor::Staff(admin.principal.user), variant, change).await {
        Ok(_) => Ok(done(product.id, "saved")),
        Err(err) => {
            let (status, key) = refusal(err)?;
            again(&state, &admin, product.id, status, key).await
        }
    }
}

#[derive(Deserialize)]
pub struct StockForm {
    delta: String,
    reason: String,
}

/// Like `POST /v1/admin/variants/{id}/stock/adjust`.
#[tracing::instrument(skip_all)]
pub async fn adjust_stock(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Form(form): Form<StockForm>,
) -> PageResult {
    let (variant, product) = product_of(&state, &id).await?;
    let delta = form.delta.trim().trim_start_matches('+').parse::<i64>().ok();
    let Some(delta) = delta.filter(|d| *d != 0 && d.unsigned_abs() <= 1_000_000_000) else {
        return again(&state, &admin, product.id, StatusCode::UNPROCESSABLE_ENTITY, "error_admin_delta")
            .await;
    };
    let reason = match Text::<200>::parse(form.reason.trim()) {
        Ok(reason) if !reason.as_str().is_empty() => reason,
        _ => {
            return again(&state, &admin, product.id, StatusCode::UNPROCESSABLE_ENTITY, "error_admin_reason")
                .await;
        }
    };
    let digital = product.kind == ProductKind::Digital;
    let actor = admin.principal.user.to_string();
    match state.inventory.adjust(variant, digital, delta, reason.as_str(), &actor).await {
        Ok(_) => Ok(done(product.id, "stock")),
        Err(err) => {
            let (status, key) = refusal(err)?;
            again(&state, &admin, product.id, status, key).await
        }
    }
}

#[derive(Deserialize)]
pub struct KeysForm {
    /// One key per line.
    keys: String,
}

/// Like `POST /v1/admin/variants/{id}/digital-items`: each line one key; the keys the variant
/// already holds (or the paste repeats) are refused and listed.
#[tracing::instrument(skip_all)]
pub async fn add_keys(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Form(form): Form<KeysForm>,
) -> PageResult {
    let (variant, product) = product_of(&state, &id).await?;
    let keys = inventory::domain::pasted_keys(&form.keys);
    if !inventory::domain::acceptable_items(&keys) {
        return again(&state, &admin, product.id, StatusCode::UNPROCESSABLE_ENTITY, "error_admin_keys").await;
    }
    if product.kind != ProductKind::Digital {
        return again(&state, &admin, product.id, StatusCode::CONFLICT, "error_admin_physical_stock").await;
    }
    let actor = admin.principal.user.to_string();
    let added = match state.inventory.add_digital_items(variant, &keys, &actor).await {
        Ok(added) => added,
        Err(err) => {
            let (status, key) = refusal(err)?;
            return again(&state, &admin, product.id, status, key).await;
        }
    };
    let locale = admin.visit.locale;
    let notice = i18n::message(locale, "admin_keys_added").replace("{n}", &added.added.to_string());
    let product = load(&state, &product.id.to_string()).await?;
    product_page(
        &state,
        &admin,
        StatusCode::OK,
        product,
        context! { notice, duplicates => added.duplicates, duplicates_variant => variant.to_string() },
    )
    .await
}

#[derive(Deserialize)]
pub struct VariantForm {
    sku: String,
    price: String,
    /// `size=500g, roast=dark`.
    #[serde(default)]
    options: String,
}

/// Like `POST /v1/admin/products/{id}/variants`: a SKU, a price in the product's currency and
/// options that no other variant of the product has.
#[tracing::instrument(skip_all)]
pub async fn add_variant(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Form(form): Form<VariantForm>,
) -> PageResult {
    let product = load(&state, &id).await?;
    let refused = |(status, key)| again(&state, &admin, product.id, status, key);
    let Some(price) = parse_amount(&form.price, product.price_from) else {
        return refused((StatusCode::UNPROCESSABLE_ENTITY, "error_admin_price")).await;
    };
    let Some(options) = options_of(&form.options) else {
        return refused((StatusCode::UNPROCESSABLE_ENTITY, "error_admin_options")).await;
    };
    let body = json!({ "sku": form.sku.trim(), "options": options, "price": price });
    let Ok(input) = serde_json::from_value::<NewVariant>(body) else {
        return refused((StatusCode::UNPROCESSABLE_ENTITY, "error_admin_invalid")).await;
    };
    match state.catalog.add_variant(Actor::Staff(admin.principal.user), product.id, input).await {
        Ok(_) => Ok(done(product.id, "variant")),
        Err(err) => refused(refusal(err)?).await,
    }
}

/// Like `POST /v1/admin/variants/{id}/digital-items/files`, from an upload form: the file is
/// one item of the digital variant's stock; a file the variant already holds is refused and
/// named, as the paste form names its keys.
#[tracing::instrument(skip_all)]
pub async fn upload_key_file(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> PageResult {
    let (variant, product) = product_of(&state, &id).await?;
    let product_id = product.id;
    let refused = |(status, key)| again(&state, &admin, product_id, status, key);
    let max = state.config.body_limit_bytes;
    let upload =
        match upload_of(&headers, body, max, "error_admin_file_too_large", "error_admin_no_file").await {
            Ok(upload) => upload,
            Err(refusal) => return refused(refusal).await,
        };
    if !inventory::domain::acceptable_file_name(&upload.name) {
        return refused((StatusCode::UNPROCESSABLE_ENTITY, "error_admin_file_name")).await;
    }
    if product.kind != ProductKind::Digital {
        return refused((StatusCode::CONFLICT, "error_admin_physical_stock")).await;
    }
    let file = inventory::DigitalFile {
        content_type: inventory::domain::file_content_type(Some(upload.kind.as_str())).to_owned(),
        file_name: upload.name,
        bytes: upload.bytes.to_vec(),
    };
    let actor = admin.actor();
    let added = match state.inventory.add_digital_files(variant, vec![file], &actor).await {
        Ok(added) => added,
        Err(err) => return refused(refusal(err)?).await,
    };
    let locale = admin.visit.locale;
    let notice = i18n::message(locale, "admin_keys_added").replace("{n}", &added.added.to_string());
    let product = load(&state, &product.id.to_string()).await?;
    product_page(
        &state,
        &admin,
        StatusCode::OK,
        product,
        context! { notice, duplicates => added.duplicates, duplicates_variant => variant.to_string() },
    )
    .await
}

/// A file sent by an upload form.
pub(in crate::web) struct Upload {
    name: String,
    /// Its declared type; empty when none.
    pub kind: String,
    pub bytes: Bytes,
}

/// The first file of a `multipart/form-data` body.
async fn first_file(content_type: &str, body: Bytes) -> Option<Upload> {
    let boundary = multer::parse_boundary(content_type).ok()?;
    let stream = futures_util::stream::once(async { Ok::<_, std::convert::Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    while let Ok(Some(field)) = multipart.next_field().await {
        if let Some(name) = field.file_name().map(ToString::to_string) {
            let kind = field.content_type().map(ToString::to_string).unwrap_or_default();
            return field.bytes().await.ok().map(|bytes| Upload { name, kind, bytes });
        }
    }
    None
}

/// The upload of a form posted to `headers`' content type, read up to `max` bytes of file;
/// Err with the status and message key to answer when it is too large or has no file.
pub(in crate::web) async fn upload_of(
    headers: &HeaderMap,
    body: Body,
    max: usize,
    too_large: &'static str,
    missing: &'static str,
) -> Result<Upload, (StatusCode, &'static str)> {
    let Ok(bytes) = axum::body::to_bytes(body, max + 16 * 1024).await else {
        return Err((StatusCode::PAYLOAD_TOO_LARGE, too_large));
    };
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let Some(upload) = first_file(content_type, bytes).await.filter(|u| !u.bytes.is_empty()) else {
        return Err((StatusCode::UNPROCESSABLE_ENTITY, missing));
    };
    if upload.bytes.len() > max {
        return Err((StatusCode::PAYLOAD_TOO_LARGE, too_large));
    }
    Ok(upload)
}

/// Like `POST /v1/admin/products/{id}/media`, from a `multipart/form-data` form (its CSRF
/// token in the form's `_csrf` field, or htmx's header).
#[tracing::instrument(skip_all)]
pub async fn upload_image(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> PageResult {
    let product = load(&state, &id).await?;
    let max = state.catalog.media_max_bytes();
    let upload =
        match upload_of(&headers, body, max, "error_admin_image_too_large", "error_admin_no_image").await {
            Ok(upload) => upload,
            Err((status, key)) => return again(&state, &admin, product.id, status, key).await,
        };
    let kind = (!upload.kind.is_empty()).then_some(upload.kind);
    let actor = Actor::Staff(admin.principal.user);
    match state.catalog.add_media(actor, product.id, kind.as_deref(), upload.bytes).await {
        Ok(_) => Ok(done(product.id, "image")),
        Err(err) => {
            let (status, key) = refusal(err)?;
            again(&state, &admin, product.id, status, key).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_name_value_pairs() {
        let options = options_of("size=250g, roast = dark").unwrap();
        assert_eq!(options["size"], "250g");
        assert_eq!(options["roast"], "dark");
        assert!(options_of("").unwrap().is_empty());
        assert!(options_of("size").is_none());
    }

    #[tokio::test]
    async fn the_first_file_of_a_multipart_body_is_found() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\nabc\r\n--XyZ\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n\x00\x01\r\n--XyZ--\r\n";
        let body = Bytes::from_static(body);
        let upload = first_file("multipart/form-data; boundary=XyZ", body.clone()).await.unwrap();
        assert_eq!((upload.name.as_str(), upload.kind.as_str()), ("a.png", "image/png"));
        assert_eq!(&upload.bytes[..], b"\x89PNG\r\n\x00\x01");
        let none = Bytes::from_static(b"--XyZ--\r\n");
        assert!(first_file("multipart/form-data; boundary=XyZ", none).await.is_none());
        assert!(first_file("text/plain", body).await.is_none());
    }

    #[test]
    fn prices_are_shown_in_major_units_for_the_form() {
        let usd = Money { amount: 1205, currency: Currency::parse("USD").unwrap() };
        assert_eq!(major_units(usd), "12.05");
        let idr = Money { amount: 15000, currency: Currency::parse("IDR").unwrap() };
        assert_eq!(major_units(idr), "15000");
    }
}
