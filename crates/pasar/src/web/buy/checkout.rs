//! `/checkout`: the cart's lines, the address (from the address book or a new one), the
//! shipping methods quoted for it (and the delivery slot when the zone has slots), a voucher,
//! points, the payment methods with their fees, and the totals. "Update totals" re-prices it
//! (a plain POST to `/checkout/quote`, or htmx swapping the form); placing the order calls the
//! checkout service as `POST /v1/checkout` does, with an idempotency key rendered into the form.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use super::super::i18n;
use super::super::templates::{PageError, PageResult, render};
use super::super::visit::Visit;
use super::{is_htmx, see_other, to_login};
use crate::checkout::{CheckoutError, CheckoutRequest};
use crate::delivery::DeliveryError;
use crate::http::AppState;
use crate::identity::Principal;
use crate::identity::addresses::{Address, AddressInput, CountryCode, Phone};
use crate::identity::domain::Text;
use crate::ids::{AddressId, DeliverySlotId};
use crate::money::Money;
use crate::orders::ShippingAddress;
use crate::payments::{PaymentsError, WALLET};
use crate::shipping::{Destination, ShippingError};

/// How many days of delivery slots the picker offers.
const SLOT_DAYS: u32 = 7;

/// What the checkout form sends; every field may be missing (the first visit sends none).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct CheckoutForm {
    /// An address id from the book, or `new`.
    address: Option<String>,
    label: Option<String>,
    recipient_name: Option<String>,
    phone: Option<String>,
    line1: Option<String>,
    line2: Option<String>,
    city: Option<String>,
    region: Option<String>,
    postal_code: Option<String>,
    country: Option<String>,
    shipping_method: Option<String>,
    delivery_slot: Option<String>,
    voucher: Option<String>,
    points: Option<String>,
    payment_method: Option<String>,
    idempotency_key: Option<String>,
}

fn filled(text: &Option<String>) -> Option<&str> {
    text.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

/// A key the form carries from one render to the next: letters, digits, `-` and `_`.
fn key_of(form: &CheckoutForm) -> String {
    filled(&form.idempotency_key)
        .filter(|k| k.len() <= 64 && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .map_or_else(|| format!("web-{}", uuid::Uuid::now_v7().simple()), str::to_owned)
}

/// An address from the book as an order's shipping address.
fn shipping_of(address: &Address) -> Option<ShippingAddress> {
    fn optional<const N: usize>(text: &Option<String>) -> Option<Result<Text<N>, String>> {
        text.as_deref().filter(|t| !t.trim().is_empty()).map(Text::parse)
    }
    Some(ShippingAddress {
        name: Text::parse(&address.recipient_name).ok()?,
        phone: Phone::try_from(address.phone.clone()).ok()?,
        line1: Text::parse(&address.line1).ok()?,
        line2: optional(&address.line2).transpose().ok()?,
        city: Text::parse(&address.city).ok()?,
        region: optional(&address.region).transpose().ok()?,
        postal_code: Text::parse(&address.postal_code).ok()?,
        country: CountryCode::try_from(address.country.clone()).ok()?,
        coordinates: None,
    })
}

/// The new address typed into the form: what to save in the book and what to ship to.
fn typed_address(form: &CheckoutForm) -> Result<(AddressInput, ShippingAddress), ()> {
    fn text<const N: usize>(value: &Option<String>) -> Result<Text<N>, ()> {
        Text::parse(filled(value).ok_or(())?).map_err(|_| ())
    }
    fn optional<const N: usize>(value: &Option<String>) -> Result<Option<Text<N>>, ()> {
        filled(value).map(|v| Text::parse(v).map_err(|_| ())).transpose()
    }
    let phone = Phone::try_from(filled(&form.phone).ok_or(())?.to_owned()).map_err(|_| ())?;
    let country = CountryCode::try_from(filled(&form.country).unwrap_or("ID").to_owned()).map_err(|_| ())?;
    let input = AddressInput {
        label: optional(&form.label)?,
        recipient_name: text(&form.recipient_name)?,
        phone,
        line1: text(&form.line1)?,
        line2: optional(&form.line2)?,
        city: text(&form.city)?,
        region: optional(&form.region)?,
        postal_code: text(&form.postal_code)?,
        country,
        is_default: false,
    };
    let shipping = ShippingAddress {
        name: input.recipient_name.clone(),
        phone: input.phone.clone(),
        line1: input.line1.clone(),
        line2: input.line2.clone(),
        city: input.city.clone(),
        region: input.region.clone(),
        postal_code: input.postal_code.clone(),
        country: input.country.clone(),
        coordinates: None,
    };
    Ok((input, shipping))
}

#[derive(Serialize)]
struct Line {
    name: String,
    sku: String,
    href: Option<String>,
    quantity: i64,
    unit_price: String,
    line_total: String,
}

#[derive(Serialize)]
struct BookAddress {
    id: String,
    text: String,
    checked: bool,
}

#[derive(Serialize)]
struct Choice {
    value: String,
    label: String,
    detail: String,
    checked: bool,
    available: bool,
}

/// The checkout as the form describes it now: checked, priced, and what to render.
struct Assembled {
    page: Value,
    /// Why it cannot be placed as it is, with the status a refused POST answers.
    refused: Option<(StatusCode, &'static str)>,
    request: Option<CheckoutRequest>,
    new_address: Option<AddressInput>,
    key: String,
}

/// Why the checkout service refused, as a status and a message key; None for a failure of
/// Pasar's own.
fn refusal(err: &CheckoutError) -> Option<(StatusCode, &'static str)> {
    let conflict = StatusCode::CONFLICT;
    let invalid = StatusCode::UNPROCESSABLE_ENTITY;
    Some(match err {
        CheckoutError::OutOfStock(_) => (conflict, "error_checkout_stock"),
        CheckoutError::NotForSale(_) => (invalid, "error_not_for_sale"),
        CheckoutError::StoreSuspended(_) => (conflict, "error_store_suspended"),
        CheckoutError::Voucher(_) => (conflict, "error_checkout_voucher"),
        CheckoutError::InsufficientPoints => (conflict, "error_checkout_points"),
        CheckoutError::InsufficientBalance => (conflict, "error_checkout_balance"),
        CheckoutError::Invalid(message) if message.contains("points") => (invalid, "error_checkout_points"),
        CheckoutError::Invalid(message) if message.contains("nothing to buy") => (invalid, "cart_empty"),
        CheckoutError::Invalid(message) if message.contains("shipping") => {
            (invalid, "error_checkout_shipping")
        }
        CheckoutError::Invalid(_) => (invalid, "error_checkout_invalid"),
        CheckoutError::Shipping(ShippingError::Unavailable(_) | ShippingError::Invalid(_)) => {
            (invalid, "error_checkout_shipping")
        }
        CheckoutError::Delivery(DeliveryError::SlotRequired) => (invalid, "error_checkout_slot_required"),
        CheckoutError::Delivery(
            DeliveryError::SlotClosed(_) | DeliveryError::SlotFull { .. } | DeliveryError::Invalid(_),
        ) => (conflict, "error_checkout_slot_full"),
        CheckoutError::Payments(PaymentsError::UnknownMethod(_)) => {
            (invalid, "error_checkout_payment_method")
        }
        CheckoutError::Payments(PaymentsError::ProviderDown { .. }) | CheckoutError::GatewayUnavailable => {
            (StatusCode::SERVICE_UNAVAILABLE, "error_checkout_gateway")
        }
        _ => return None,
    })
}

/// Keeps the first reason the checkout cannot be placed.
fn refuse(refused: &mut Option<(StatusCode, &'static str)>, why: (StatusCode, &'static str)) {
    refused.get_or_insert(why);
}

fn buyer_of(visit: &Visit) -> Option<Principal> {
    visit.principal
}

/// Reads the form against the buyer's cart, address book, the shipping quotes and the payment
/// methods; prices it with the checkout service (holding nothing).
async fn assemble(
    state: &AppState,
    visit: &Visit,
    buyer: &Principal,
    form: &CheckoutForm,
) -> Result<Assembled, PageError> {
    let locale = visit.locale;
    let money = |m: Money| locale.format_money(m);
    let key = key_of(form);
    let (access, _) = state.carts.open(Some(buyer.user)).await.map_err(PageError::internal)?;
    let view = state.carts.view(access, buyer.role).await.map_err(PageError::internal)?;
    let lines: Vec<Line> = view
        .items
        .iter()
        .map(|line| Line {
            name: line
                .product_name
                .clone()
                .unwrap_or_else(|| i18n::message(locale, "no_longer_for_sale").into()),
            sku: line.sku.clone().unwrap_or_default(),
            href: line.product_id.map(|id| format!("/products/{id}")),
            quantity: line.quantity,
            unit_price: line.unit_price.map(money).unwrap_or_default(),
            line_total: line.line_total.map(money).unwrap_or_default(),
        })
        .collect();
    if lines.is_empty() {
        let page = context! { empty => true, idempotency_key => key.clone() };
        return Ok(Assembled {
            page,
            refused: Some((StatusCode::UNPROCESSABLE_ENTITY, "cart_empty")),
            request: None,
            new_address: None,
            key,
        });
    }
    let mut refused: Option<(StatusCode, &'static str)> = None;

    // The address: one from the book, or a new one typed in.
    let book = state.identity.addresses(buyer.user).await.map_err(PageError::internal)?;
    let chosen = match filled(&form.address) {
        Some(choice) => choice.to_owned(),
        None => {
            book.iter().find(|a| a.is_default).or(book.first()).map_or("new".into(), |a| a.id.to_string())
        }
    };
    let mut new_address = None;
    // Only an order with something to ship needs the address to be right.
    let mut address_refused = false;
    let shipping_address = if chosen == "new" {
        let typed_any = [&form.recipient_name, &form.phone, &form.line1, &form.city, &form.postal_code]
            .iter()
            .any(|f| filled(f).is_some());
        match typed_address(form) {
            Ok((input, shipping)) => {
                new_address = Some(input);
                Some(shipping)
            }
            Err(()) if typed_any => {
                address_refused = true;
                None
            }
            Err(()) => None,
        }
    } else {
        let id: Option<AddressId> = chosen.parse().ok();
        let found = book.iter().find(|a| Some(a.id) == id);
        match found.and_then(shipping_of) {
            Some(address) => Some(address),
            None => {
                address_refused = true;
                None
            }
        }
    };
    let addresses: Vec<BookAddress> = book
        .iter()
        .map(|a| BookAddress {
            id: a.id.to_string(),
            text: [
                a.label.clone(),
                Some(a.recipient_name.clone()),
                Some(a.line1.clone()),
                a.line2.clone(),
                Some(a.city.clone()),
                Some(format!("{} {}", a.postal_code, a.country)),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", "),
            checked: a.id.to_string() == chosen,
        })
        .collect();

    // Shipping: the methods quoted for this cart to this address.
    let (physical, quotes) =
        match state.checkout.shipping_quotes(buyer, access.cart, shipping_address.as_ref()).await {
            Ok(found) => found,
            Err(err) => match refusal(&err) {
                Some(why) => {
                    refuse(&mut refused, why);
                    (true, Vec::new())
                }
                None => return Err(PageError::internal(err)),
            },
        };
    if physical && address_refused {
        refuse(&mut refused, (StatusCode::UNPROCESSABLE_ENTITY, "error_checkout_address"));
    }
    if physical && shipping_address.is_none() {
        refuse(&mut refused, (StatusCode::UNPROCESSABLE_ENTITY, "error_checkout_address_needed"));
    }
    let shipping_method = filled(&form.shipping_method)
        .and_then(|wanted| quotes.iter().find(|q| q.method == wanted))
        .or(quotes.first())
        .map(|q| q.method.clone());
    let methods: Vec<Choice> = quotes
        .iter()
        .map(|q| Choice {
            value: q.method.clone(),
            label: q.name.clone(),
            detail: money(q.price),
            checked: Some(&q.method) == shipping_method.as_ref(),
            available: true,
        })
        .collect();

    // Delivery slots, where the address's zone has them.
    let mut slots = Vec::new();
    if let (true, Some(address)) = (physical, &shipping_address) {
        let to = Destination {
            country: address.country.clone().into(),
            postal_code: address.postal_code.as_str().to_owned(),
            coordinates: None,
        };
        if let Some(zone) = state.delivery.slot_zone(&to).await.map_err(PageError::internal)? {
            slots = state.delivery.offered(zone, SLOT_DAYS).await.map_err(PageError::internal)?;
        }
    }
    let wanted_slot: Option<DeliverySlotId> = filled(&form.delivery_slot).and_then(|s| s.parse().ok());
    let slot = wanted_slot
        .filter(|id| slots.iter().any(|s| s.id == *id))
        .or_else(|| slots.iter().find(|s| s.available).map(|s| s.id));
    let slot_choices: Vec<Choice> = slots
        .iter()
        .map(|s| Choice {
            value: s.id.to_string(),
            label: format!("{} – {}", locale.format_datetime(s.start), locale.format_datetime(s.end)),
            detail: String::new(),
            checked: Some(s.id) == slot,
            available: s.available,
        })
        .collect();

    // Voucher and points.
    let voucher = filled(&form.voucher).map(str::to_owned);
    let points = match filled(&form.points).map(str::parse::<i64>) {
        None => 0,
        Some(Ok(points)) if points >= 0 => points,
        Some(_) => {
            refuse(&mut refused, (StatusCode::UNPROCESSABLE_ENTITY, "error_checkout_points"));
            0
        }
    };
    let wallet = state.wallet.summary(buyer.user).await.map_err(PageError::internal)?;

    // The totals, priced by the checkout service as placing the order would price them.
    let mut request = CheckoutRequest {
        items: None,
        cart_id: Some(access.cart),
        payment_method: WALLET.to_owned(),
        shipping_address: if physical { shipping_address.clone() } else { None },
        shipping_method: if physical { shipping_method.clone() } else { None },
        delivery_slot_id: if physical { slot } else { None },
        points: (points > 0).then_some(points),
        vouchers: voucher.iter().cloned().collect(),
    };
    let preview = if refused.is_none() {
        match state.checkout.preview(buyer, &request).await {
            Ok(preview) => Some(preview),
            Err(err) => match refusal(&err) {
                Some(why) => {
                    refuse(&mut refused, why);
                    None
                }
                None => return Err(PageError::internal(err)),
            },
        }
    } else {
        None
    };

    // The ways to pay, each with its fee for this amount.
    let mut payment_choices = Vec::new();
    let mut totals = Value::UNDEFINED;
    if let Some(preview) = preview {
        let offer = if preview.amount.amount > 0 {
            state.payments.methods_on_offer(preview.amount).map_err(PageError::internal)?
        } else {
            Vec::new()
        };
        let wanted = filled(&form.payment_method);
        let chosen = wanted
            .and_then(|w| offer.iter().find(|(m, _, _)| m == w))
            .or_else(|| offer.iter().find(|(m, _, _)| m != WALLET))
            .or(offer.first())
            .cloned();
        let fee = chosen.as_ref().map_or(Money::zero(preview.amount.currency), |(_, _, fee)| *fee);
        let to_pay = preview.amount.checked_add(fee).map_err(PageError::internal)?;
        for (method, _, fee) in &offer {
            let with_fee = preview.amount.checked_add(*fee).map_err(PageError::internal)?;
            let key = format!("buy_method_{method}");
            let label = i18n::message(locale, &key);
            payment_choices.push(Choice {
                value: method.clone(),
                label: if label == key { method.clone() } else { label.to_owned() },
                detail: format!(
                    "{} {} · {} {}",
                    i18n::message(locale, "buy_fee"),
                    money(*fee),
                    i18n::message(locale, "total"),
                    money(with_fee)
                ),
                checked: chosen.as_ref().is_some_and(|(m, _, _)| m == method),
                available: true,
            });
        }
        request.payment_method = chosen.map_or(WALLET.to_owned(), |(m, _, _)| m);
        totals = context! {
            subtotal => money(preview.subtotal),
            discount => (preview.discount.amount > 0).then(|| money(preview.discount)),
            shipping => physical.then(|| money(preview.shipping)),
            fee => money(fee),
            total => money(to_pay),
        };
    }

    let error = refused.map(|(_, key)| i18n::message(locale, key));
    let new_fields = context! {
        label => form.label.as_deref().unwrap_or(""),
        recipient_name => form.recipient_name.as_deref().unwrap_or(""),
        phone => form.phone.as_deref().unwrap_or(""),
        line1 => form.line1.as_deref().unwrap_or(""),
        line2 => form.line2.as_deref().unwrap_or(""),
        city => form.city.as_deref().unwrap_or(""),
        region => form.region.as_deref().unwrap_or(""),
        postal_code => form.postal_code.as_deref().unwrap_or(""),
        country => form.country.as_deref().unwrap_or("ID"),
    };
    let page = context! {
        lines => Value::from(Serde(&lines)),
        subtotal => view.subtotal.map(money),
        addresses => Value::from(Serde(&addresses)),
        new_chosen => chosen == "new",
        new => new_fields,
        physical,
        has_address => shipping_address.is_some(),
        methods => Value::from(Serde(&methods)),
        slots => Value::from(Serde(&slot_choices)),
        voucher => voucher.as_deref().unwrap_or(""),
        points => if points > 0 { points.to_string() } else { String::new() },
        points_available => wallet.points,
        payments => Value::from(Serde(&payment_choices)),
        totals,
        error,
        idempotency_key => key.as_str(),
    };
    let request = (refused.is_none() && preview.is_some()).then_some(request);
    Ok(Assembled { page, refused, request, new_address, key })
}

fn page_of(visit: &Visit, status: StatusCode, headers: Option<&HeaderMap>, page: Value) -> Response {
    let template = if headers.is_some_and(is_htmx) { "buy/checkout_form.html" } else { "buy/checkout.html" };
    render(visit, status, template, context! { back => "/checkout", ..page })
}

#[tracing::instrument(skip_all)]
pub async fn show(State(state): State<AppState>, visit: Visit) -> PageResult {
    let Some(buyer) = buyer_of(&visit) else { return Ok(to_login("/checkout")) };
    let assembled = assemble(&state, &visit, &buyer, &CheckoutForm::default()).await?;
    Ok(page_of(&visit, StatusCode::OK, None, assembled.page))
}

/// "Update totals": the form again, priced for what it says now.
#[tracing::instrument(skip_all)]
pub async fn quote(
    State(state): State<AppState>,
    visit: Visit,
    headers: HeaderMap,
    Form(form): Form<CheckoutForm>,
) -> PageResult {
    let Some(buyer) = buyer_of(&visit) else { return Ok(to_login("/checkout")) };
    let assembled = assemble(&state, &visit, &buyer, &form).await?;
    Ok(page_of(&visit, StatusCode::OK, Some(&headers), assembled.page))
}

/// Places the order as `POST /v1/checkout` does, then sends the buyer to the pay step. A
/// second POST of the same form (its idempotency key) finds the order the first one placed.
#[tracing::instrument(skip_all)]
pub async fn place(
    State(state): State<AppState>,
    visit: Visit,
    Form(form): Form<CheckoutForm>,
) -> PageResult {
    let Some(buyer) = buyer_of(&visit) else { return Ok(to_login("/checkout")) };
    let key = key_of(&form);
    // A retry of a placed checkout (its cart is empty now) answers the order it placed.
    if let Some(placed) = state.checkout.placed_with_key(&buyer, &key).await.map_err(PageError::internal)? {
        return Ok(see_other(&format!("/pay/{}", placed.payment.id)));
    }
    let assembled = assemble(&state, &visit, &buyer, &form).await?;
    let (Some(request), None) = (assembled.request, assembled.refused) else {
        let status = assembled.refused.map_or(StatusCode::UNPROCESSABLE_ENTITY, |(status, _)| status);
        return Ok(page_of(&visit, status, None, assembled.page));
    };
    match state.checkout.place(&buyer, request, Some(&assembled.key)).await {
        Ok(placed) => {
            if let Some(address) = assembled.new_address {
                // The order is placed either way; an address that cannot be kept is only logged.
                if let Err(err) = state.identity.add_address(buyer.user, address).await {
                    tracing::info!(error = %err, "a new checkout address was not saved to the book");
                }
            }
            Ok(see_other(&format!("/pay/{}", placed.payment.id)))
        }
        Err(err) => match refusal(&err) {
            Some((status, key)) => {
                let error = i18n::message(visit.locale, key);
                Ok(page_of(&visit, status, None, context! { error, ..assembled.page }))
            }
            None => Err(PageError::internal(err)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_the_form_carries_is_kept_and_anything_else_is_replaced() {
        let form = |key: &str| CheckoutForm { idempotency_key: Some(key.into()), ..CheckoutForm::default() };
        assert_eq!(key_of(&form("web-abc_1")), "web-abc_1");
        assert_ne!(key_of(&form("a b")), "a b");
        assert!(key_of(&form("")).starts_with("web-"));
        assert_ne!(key_of(&CheckoutForm::default()), key_of(&CheckoutForm::default()));
    }

    #[test]
    fn a_typed_address_needs_its_lines_and_a_valid_phone() {
        let mut form = CheckoutForm {
            recipient_name: Some("Ana".into()),
            phone: Some("+62 812 3456 7890".into()),
            line1: Some("Jl. Merdeka 1".into()),
            city: Some("Jakarta".into()),
            postal_code: Some("10110".into()),
            ..CheckoutForm::default()
        };
        let (_, shipping) = typed_address(&form).unwrap();
        assert_eq!(String::from(shipping.country), "ID");
        form.phone = Some("call me".into());
        assert!(typed_address(&form).is_err());
    }

    #[test]
    fn refusals_name_what_the_buyer_can_fix() {
        let out = refusal(&CheckoutError::OutOfStock(crate::ids::VariantId::new())).unwrap();
        assert_eq!(out, (StatusCode::CONFLICT, "error_checkout_stock"));
        assert!(refusal(&CheckoutError::Internal("db".into())).is_none());
    }
}
