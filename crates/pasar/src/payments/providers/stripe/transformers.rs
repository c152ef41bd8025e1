//! Stripe's wire types and their mapping to Pasar's: amounts in Stripe's units, the form
//! fields Pasar sends, the objects Stripe answers, webhook signatures and events, and statuses.
//! Pure functions only (no I/O), so each rule is unit-tested here.

use std::collections::HashMap;

use chrono::{DateTime, Days, FixedOffset};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::ids::{PaymentId, RefundId};
use crate::money::{Currency, Money};
use crate::payments::gateway::{
    CreatePayment, GatewayError, NoticeAmount, ProviderStatus, RefundStatus, WebhookNotice,
};
use crate::time::Timestamp;

/// The metadata key naming Pasar's payment on every Stripe object Pasar creates.
pub const PAYMENT_KEY: &str = "pasar_payment_id";
/// Seconds a signed webhook stays acceptable (Stripe's SDKs' default tolerance).
pub const TOLERANCE_SECS: u64 = 300;
/// Stripe wants a Checkout Session's or a konbini slip's `expires_at` at least 30 minutes after
/// creation; one more minute covers the request's travel and clock skew.
pub const MIN_EXPIRY_LEAD_SECS: i64 = 31 * 60;
/// A Checkout Session expires at most 24 hours after creation.
pub const MAX_SESSION_SECS: i64 = 24 * 3600;

type HmacSha256 = Hmac<Sha256>;

// ---------------------------------------------------------------------------------------------
// Amounts

/// Decimal places of `currency` at Stripe. JPY is zero-decimal there as in Pasar; IDR is
/// two-decimal at Stripe (amounts in sen) although Pasar keeps whole rupiah; the others in
/// Pasar's list are two-decimal in both.
pub fn stripe_digits(currency: Currency) -> u32 {
    match currency.code() {
        "JPY" => 0,
        _ => 2,
    }
}

/// `amount` moved from `from` decimal places to `to`, exactly: None on overflow, or when going
/// to fewer places would drop a non-zero remainder.
fn rescale(amount: i64, from: u32, to: u32) -> Option<i64> {
    if to >= from {
        amount.checked_mul(10_i64.checked_pow(to - from)?)
    } else {
        let factor = 10_i64.checked_pow(from - to)?;
        (amount.checked_rem(factor)? == 0).then(|| amount / factor)
    }
}

/// Pasar's amount as Stripe's `amount` / `unit_amount` (Rp 100,000 is 10000000 sen).
pub fn to_stripe_amount(money: Money) -> Result<i64, GatewayError> {
    rescale(money.amount, money.currency.minor_digits(), stripe_digits(money.currency))
        .ok_or_else(|| GatewayError::Refused(format!("{money} cannot be expressed at Stripe")))
}

/// Stripe's amount in `currency` (its lower-case code) back in Pasar's units; an amount that
/// does not convert exactly (sen that are not whole rupiah) is not one Pasar asked for.
pub fn from_stripe_amount(amount: i64, currency: &str) -> Result<Money, GatewayError> {
    let currency = Currency::parse(&currency.to_ascii_uppercase())
        .map_err(|_| GatewayError::BadWebhook(format!("currency {currency:?} is not one Pasar uses")))?;
    let pasar = rescale(amount, stripe_digits(currency), currency.minor_digits()).ok_or_else(|| {
        GatewayError::BadWebhook(format!("{amount} {currency} in Stripe's units is not a Pasar amount"))
    })?;
    Ok(Money::new(pasar, currency))
}

fn stripe_currency(currency: Currency) -> String {
    currency.code().to_ascii_lowercase()
}

// ---------------------------------------------------------------------------------------------
// Deadlines

/// When a Checkout Session expires: Pasar's deadline, but at least [`MIN_EXPIRY_LEAD_SECS`]
/// and at most 24 hours out, as Stripe requires (unix seconds). Pasar's default deadline (10
/// minutes) is shorter than Stripe's minimum: the session then outlives it, and Pasar expires
/// the session itself (`POST /v1/checkout/sessions/{id}/expire`) when its own deadline passes;
/// a payment completed in between is a late payment, which checkout handles.
pub fn session_expiry(deadline: Timestamp, now: Timestamp) -> i64 {
    let now = now.unix_seconds();
    deadline
        .unix_seconds()
        .max(now.saturating_add(MIN_EXPIRY_LEAD_SECS))
        .min(now.saturating_add(MAX_SESSION_SECS))
}

/// How a konbini slip's deadline is asked for: a number of days (Stripe's documented way, the
/// slip then ends at 23:59:59 JST that many days on), or an exact time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KonbiniExpiry {
    AfterDays(u32),
    At(i64),
}

/// The end of the JST day `days` after `now`'s (Japan keeps no daylight saving time).
pub fn konbini_days_end(now: Timestamp, days: u32) -> Option<i64> {
    let jst = FixedOffset::east_opt(9 * 3600)?;
    let today = DateTime::from_timestamp(now.unix_seconds(), 0)?.with_timezone(&jst).date_naive();
    let last = today.checked_add_days(Days::new(u64::from(days)))?;
    Some(last.and_hms_opt(23, 59, 59)?.and_local_timezone(jst).single()?.timestamp())
}

/// The configured number of days when the slip ends by Pasar's deadline; otherwise the slip
/// is made to end at Pasar's deadline (at least [`MIN_EXPIRY_LEAD_SECS`] out), so the buyer is
/// never shown a date Pasar will not honour (Pasar cancels the slip when its deadline passes).
pub fn konbini_expiry(deadline: Timestamp, now: Timestamp, days: u32) -> KonbiniExpiry {
    match konbini_days_end(now, days) {
        Some(end) if end <= deadline.unix_seconds() => KonbiniExpiry::AfterDays(days),
        _ => KonbiniExpiry::At(
            deadline.unix_seconds().max(now.unix_seconds().saturating_add(MIN_EXPIRY_LEAD_SECS)),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Requests (form fields)

pub type Form = Vec<(&'static str, String)>;

/// `POST /v1/checkout/sessions`: one line item for the whole payment, the payment id as
/// `client_reference_id` and as metadata on the session and on its PaymentIntent (so every
/// event, whichever object it carries, names the payment).
pub fn session_form(
    request: &CreatePayment,
    success_url: &str,
    cancel_url: &str,
    expires_at: i64,
) -> Result<Form, GatewayError> {
    let id = request.payment_id.to_string();
    let mut form: Form = vec![
        ("mode", "payment".into()),
        ("payment_method_types[]", "card".into()),
        ("line_items[0][quantity]", "1".into()),
        ("line_items[0][price_data][currency]", stripe_currency(request.total.currency)),
        ("line_items[0][price_data][unit_amount]", to_stripe_amount(request.total)?.to_string()),
        ("line_items[0][price_data][product_data][name]", request.description.clone()),
        ("client_reference_id", id.clone()),
        ("metadata[pasar_payment_id]", id.clone()),
        ("payment_intent_data[metadata][pasar_payment_id]", id),
        ("success_url", success_url.to_owned()),
        ("cancel_url", cancel_url.to_owned()),
        ("expires_at", expires_at.to_string()),
    ];
    if let Some(email) = &request.payer_email {
        form.push(("customer_email", email.clone()));
    }
    Ok(form)
}

/// `POST /v1/payment_intents` for a konbini slip, confirmed at once so the answer carries the
/// store codes. Konbini takes yen only and needs the payer's name and email.
pub fn konbini_form(request: &CreatePayment, expiry: KonbiniExpiry) -> Result<Form, GatewayError> {
    if request.total.currency != Currency::JPY {
        return Err(GatewayError::Refused("konbini takes JPY only".into()));
    }
    let email = request
        .payer_email
        .clone()
        .ok_or_else(|| GatewayError::Refused("a konbini slip needs the payer's email".into()))?;
    // Stripe shows the billing name on the slip; Pasar's payer is named by their email here.
    let name = email.split('@').next().unwrap_or(&email).to_owned();
    let id = request.payment_id.to_string();
    let mut form: Form = vec![
        ("amount", to_stripe_amount(request.total)?.to_string()),
        ("currency", stripe_currency(request.total.currency)),
        ("payment_method_types[]", "konbini".into()),
        ("payment_method_data[type]", "konbini".into()),
        ("payment_method_data[billing_details][name]", name),
        ("payment_method_data[billing_details][email]", email),
        ("confirm", "true".into()),
        ("description", request.description.clone()),
        ("metadata[pasar_payment_id]", id),
    ];
    match expiry {
        KonbiniExpiry::AfterDays(days) => {
            form.push(("payment_method_options[konbini][expires_after_days]", days.to_string()))
        }
        KonbiniExpiry::At(at) => form.push(("payment_method_options[konbini][expires_at]", at.to_string())),
    }
    Ok(form)
}

/// `POST /v1/refunds` of `amount` of a PaymentIntent.
/// The refund names Pasar's refund id in its metadata, so it can be found again when its
/// answer was lost (Stripe keeps idempotency keys only for a day).
pub fn refund_form(
    payment_intent: &str,
    amount: Money,
    payment_id: PaymentId,
    refund_id: RefundId,
) -> Result<Form, GatewayError> {
    Ok(vec![
        ("payment_intent", payment_intent.to_owned()),
        ("amount", to_stripe_amount(amount)?.to_string()),
        ("metadata[pasar_payment_id]", payment_id.to_string()),
        ("metadata[pasar_refund_id]", refund_id.to_string()),
    ])
}

// ---------------------------------------------------------------------------------------------
// Objects Stripe answers

/// A field Stripe answers as an id, or as the object when asked to `expand` it.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum Expandable<T> {
    Id(String),
    Object(Box<T>),
}

impl<T: HasId> Expandable<T> {
    pub fn id(&self) -> &str {
        match self {
            Expandable::Id(id) => id,
            Expandable::Object(object) => object.id(),
        }
    }

    pub fn object(&self) -> Option<&T> {
        match self {
            Expandable::Id(_) => None,
            Expandable::Object(object) => Some(object),
        }
    }
}

pub trait HasId {
    fn id(&self) -> &str;
}

#[derive(Clone, Debug, Deserialize)]
pub struct CheckoutSession {
    pub id: String,
    pub url: Option<String>,
    /// `open`, `complete` or `expired`.
    pub status: Option<String>,
    /// `paid`, `unpaid` or `no_payment_required`.
    pub payment_status: Option<String>,
    pub payment_intent: Option<Expandable<PaymentIntent>>,
    pub client_reference_id: Option<String>,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
    pub amount_total: Option<i64>,
    pub currency: Option<String>,
    pub expires_at: Option<i64>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct PaymentIntent {
    pub id: String,
    pub status: String,
    pub amount: i64,
    pub currency: String,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
    pub next_action: Option<NextAction>,
    pub latest_charge: Option<Expandable<Charge>>,
}

impl HasId for PaymentIntent {
    fn id(&self) -> &str {
        &self.id
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct NextAction {
    #[serde(rename = "type")]
    pub kind: String,
    pub konbini_display_details: Option<KonbiniDisplayDetails>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct KonbiniDisplayDetails {
    pub expires_at: i64,
    pub hosted_voucher_url: String,
    pub stores: KonbiniStores,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct KonbiniStores {
    pub familymart: Option<KonbiniStore>,
    pub lawson: Option<KonbiniStore>,
    pub ministop: Option<KonbiniStore>,
    pub seicomart: Option<KonbiniStore>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct KonbiniStore {
    pub payment_code: String,
    pub confirmation_number: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Charge {
    pub id: String,
    pub amount: i64,
    #[serde(default)]
    pub amount_refunded: i64,
    pub currency: String,
    pub payment_intent: Option<String>,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
    /// What the charge added to the account: Stripe's fee is there.
    #[serde(default)]
    pub balance_transaction: Option<Expandable<BalanceTransaction>>,
}

impl HasId for Charge {
    fn id(&self) -> &str {
        &self.id
    }
}

/// A movement of the Stripe account's balance, in the currency the account settles in.
#[derive(Clone, Debug, Deserialize)]
pub struct BalanceTransaction {
    pub id: String,
    /// What Stripe kept, in `currency`'s smallest unit.
    pub fee: i64,
    pub currency: String,
}

impl HasId for BalanceTransaction {
    fn id(&self) -> &str {
        &self.id
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct Refund {
    pub id: String,
    /// `pending`, `requires_action`, `succeeded`, `failed` or `canceled`.
    pub status: String,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
}

/// A page of a list (`GET /v1/refunds`).
#[derive(Clone, Debug, Deserialize)]
pub struct List<T> {
    pub data: Vec<T>,
    #[serde(default)]
    pub has_more: bool,
}

/// The refund Pasar asked for as `refund_id` among a payment's refunds.
pub fn refund_named(refunds: &[Refund], refund_id: RefundId) -> Option<&Refund> {
    let wanted = refund_id.to_string();
    refunds.iter().find(|r| r.metadata.get("pasar_refund_id") == Some(&wanted))
}

// ---------------------------------------------------------------------------------------------
// Where a payment lives at Stripe (the payment's `provider_ref`)

/// A card payment is a Checkout Session (whose PaymentIntent Stripe may create only when the
/// buyer pays); a konbini slip is a PaymentIntent. Kept in `provider_ref` as `cs_…`, or
/// `cs_…/pi_…` when the session came with its PaymentIntent, or `pi_…`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StripeRef {
    Session { id: String, payment_intent: Option<String> },
    Intent(String),
}

impl StripeRef {
    pub fn parse(text: &str) -> Option<Self> {
        if text.starts_with("pi_") {
            return Some(StripeRef::Intent(text.to_owned()));
        }
        let (session, intent) = match text.split_once('/') {
            Some((session, intent)) => (session, Some(intent.to_owned())),
            None => (text, None),
        };
        session
            .starts_with("cs_")
            .then(|| StripeRef::Session { id: session.to_owned(), payment_intent: intent })
    }

    pub fn text(&self) -> String {
        match self {
            StripeRef::Session { id, payment_intent: Some(intent) } => format!("{id}/{intent}"),
            StripeRef::Session { id, payment_intent: None } => id.clone(),
            StripeRef::Intent(id) => id.clone(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Statuses

/// A PaymentIntent's status as Pasar's. `requires_payment_method` (also where a declined card
/// leaves it), `requires_confirmation`, `requires_action` (3-D Secure; a konbini slip waiting
/// at the store) and `processing` are all Pending: the buyer may still pay (another card on the
/// same page, or at the store), so nothing is final until the intent succeeds, is cancelled,
/// or Pasar's own deadline passes (then Pasar cancels it here). A succeeded intent whose charge
/// was refunded in full is Refunded; a partial refund leaves it Succeeded.
pub fn intent_status(intent: &PaymentIntent) -> ProviderStatus {
    match intent.status.as_str() {
        "succeeded" => match intent.latest_charge.as_ref().and_then(Expandable::object) {
            Some(charge) if charge.amount > 0 && charge.amount_refunded >= charge.amount => {
                ProviderStatus::Refunded
            }
            _ => ProviderStatus::Succeeded,
        },
        "canceled" => ProviderStatus::Cancelled,
        _ => ProviderStatus::Pending,
    }
}

/// Stripe's fee for a paid intent, from its charge's balance transaction (when Stripe has
/// written it, and the intent was read with it expanded).
pub fn intent_fee(intent: &PaymentIntent) -> Option<Money> {
    let charge = intent.latest_charge.as_ref().and_then(Expandable::object)?;
    let balance = charge.balance_transaction.as_ref().and_then(Expandable::object)?;
    from_stripe_amount(balance.fee, &balance.currency).ok()
}

/// [`intent_fee`] of a Checkout Session's PaymentIntent.
pub fn session_fee(session: &CheckoutSession) -> Option<Money> {
    session.payment_intent.as_ref().and_then(Expandable::object).and_then(intent_fee)
}

/// A Checkout Session's status as Pasar's: its PaymentIntent's when that says something final;
/// otherwise an expired session is Cancelled and a paid one Succeeded.
pub fn session_status(session: &CheckoutSession) -> ProviderStatus {
    let intent = session.payment_intent.as_ref().and_then(Expandable::object).map(intent_status);
    match (intent, session.status.as_deref(), session.payment_status.as_deref()) {
        (Some(status), _, _) if status != ProviderStatus::Pending => status,
        (_, Some("expired"), _) => ProviderStatus::Cancelled,
        (_, Some("complete"), Some("paid")) => ProviderStatus::Succeeded,
        _ => ProviderStatus::Pending,
    }
}

/// A refund's status: `pending` and `requires_action` (methods refunded by bank transfer) wait;
/// `failed` and `canceled` did not refund.
pub fn refund_status(refund: &Refund) -> RefundStatus {
    match refund.status.as_str() {
        "succeeded" => RefundStatus::Succeeded,
        "failed" | "canceled" => RefundStatus::Failed,
        _ => RefundStatus::Pending,
    }
}

/// What the buyer needs to pay a konbini slip: each store's codes, the voucher page and its
/// deadline (RFC 3339).
pub fn konbini_instructions(details: &KonbiniDisplayDetails) -> serde_json::Value {
    let stores = &details.stores;
    let mut listed = serde_json::Map::new();
    for (name, store) in [
        ("familymart", &stores.familymart),
        ("lawson", &stores.lawson),
        ("ministop", &stores.ministop),
        ("seicomart", &stores.seicomart),
    ] {
        if let Some(store) = store {
            listed.insert(
                name.into(),
                serde_json::json!({
                    "payment_code": store.payment_code,
                    "confirmation_number": store.confirmation_number,
                }),
            );
        }
    }
    serde_json::json!({
        "stores": listed,
        "hosted_voucher_url": details.hosted_voucher_url,
        "expires_at": seconds(details.expires_at),
    })
}

pub fn seconds(unix: i64) -> Timestamp {
    Timestamp::from_millis(unix.saturating_mul(1000))
}

// ---------------------------------------------------------------------------------------------
// Webhooks

/// The `Stripe-Signature` value for `body` signed at `timestamp` (for tests and fakes).
pub fn signature_header(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", hex::encode(mac(secret, timestamp, body).finalize().into_bytes()))
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Checks `Stripe-Signature: t=…,v1=…[,v1=…]` against the raw body: `t` within the tolerance
/// of `now` either way (measured with `abs_diff`, so no `t` wraps into the window), and any
/// `v1` equal, in constant time, to HMAC-SHA256(secret, "{t}.{body}") (several appear while a
/// secret is rolled). Other schemes (`v0`) are ignored.
pub fn verify_signature(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: Timestamp,
) -> Result<(), GatewayError> {
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => candidates.extend(hex::decode(value).ok()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(GatewayError::BadSignature)?;
    if now.unix_seconds().abs_diff(timestamp) > TOLERANCE_SECS {
        return Err(GatewayError::BadSignature);
    }
    let base = mac(secret, timestamp, body);
    if candidates.iter().any(|candidate| base.clone().verify_slice(candidate).is_ok()) {
        Ok(())
    } else {
        Err(GatewayError::BadSignature)
    }
}

/// The events Pasar reads; Stripe's endpoint should send only these.
pub const EVENTS: [&str; 6] = [
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "checkout.session.completed",
    "checkout.session.expired",
    "charge.refunded",
];

#[derive(Debug, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: EventData,
}

#[derive(Debug, Deserialize)]
pub struct EventData {
    pub object: serde_json::Value,
}

/// A verified event's notice: the payment it names (metadata Pasar set) and the amount it
/// reports, back in Pasar's units. The status is not read from the event: Pasar asks Stripe.
pub fn notice_of(event: Event) -> Result<WebhookNotice, GatewayError> {
    let bad = |e: serde_json::Error| GatewayError::BadWebhook(format!("{} object: {e}", event.kind));
    let (payment, amount, currency) = match event.kind.as_str() {
        "payment_intent.succeeded" | "payment_intent.payment_failed" | "payment_intent.canceled" => {
            let intent: PaymentIntent = serde_json::from_value(event.data.object.clone()).map_err(bad)?;
            (intent.metadata.get(PAYMENT_KEY).cloned(), intent.amount, intent.currency)
        }
        "checkout.session.completed" | "checkout.session.expired" => {
            let session: CheckoutSession = serde_json::from_value(event.data.object.clone()).map_err(bad)?;
            let payment = session.client_reference_id.or_else(|| session.metadata.get(PAYMENT_KEY).cloned());
            let amount = session.amount_total.ok_or_else(|| no_field(&event.kind, "amount_total"))?;
            let currency = session.currency.ok_or_else(|| no_field(&event.kind, "currency"))?;
            (payment, amount, currency)
        }
        "charge.refunded" => {
            // A charge carries the metadata of the PaymentIntent that made it.
            let charge: Charge = serde_json::from_value(event.data.object.clone()).map_err(bad)?;
            (charge.metadata.get(PAYMENT_KEY).cloned(), charge.amount, charge.currency)
        }
        other => {
            return Err(GatewayError::BadWebhook(format!(
                "Pasar does not use {other} events; the endpoint should send only {}",
                EVENTS.join(", ")
            )));
        }
    };
    let payment = payment.ok_or_else(|| no_field(&event.kind, "metadata.pasar_payment_id"))?;
    let payment_id = payment
        .parse()
        .map_err(|_| GatewayError::BadWebhook(format!("{payment:?} is not a Pasar payment id")))?;
    Ok(WebhookNotice {
        event_id: event.id,
        payment_id,
        amount: from_stripe_amount(amount, &currency)?,
        covers: NoticeAmount::Total,
    })
}

fn no_field(kind: &str, field: &str) -> GatewayError {
    GatewayError::BadWebhook(format!("the {kind} event has no {field}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test";

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_millis(seconds * 1000)
    }

    #[test]
    fn rupiah_go_to_stripe_in_sen_and_come_back_whole() {
        assert_eq!(to_stripe_amount(Money::new(100_000, Currency::IDR)).unwrap(), 10_000_000);
        assert_eq!(from_stripe_amount(10_000_000, "idr").unwrap(), Money::new(100_000, Currency::IDR));
        assert!(from_stripe_amount(10_000_050, "idr").is_err(), "half a rupiah is not a Pasar amount");
    }

    #[test]
    fn yen_and_cents_cross_unchanged() {
        assert_eq!(to_stripe_amount(Money::new(1_500, Currency::JPY)).unwrap(), 1_500);
        assert_eq!(from_stripe_amount(1_500, "jpy").unwrap(), Money::new(1_500, Currency::JPY));
        assert_eq!(to_stripe_amount(Money::new(1_999, Currency::USD)).unwrap(), 1_999);
        assert_eq!(from_stripe_amount(1_999, "usd").unwrap(), Money::new(1_999, Currency::USD));
    }

    #[test]
    fn an_amount_too_large_for_stripe_units_is_refused_not_wrapped() {
        assert!(to_stripe_amount(Money::new(i64::MAX / 10, Currency::IDR)).is_err());
        assert!(from_stripe_amount(1, "xyz").is_err(), "a currency Pasar does not use");
    }

    #[test]
    fn a_session_expires_at_pasars_deadline_within_stripes_bounds() {
        let now = at(1_000_000);
        assert_eq!(session_expiry(at(1_000_000 + 3_600), now), 1_000_000 + 3_600);
        assert_eq!(session_expiry(at(1_000_000 + 600), now), 1_000_000 + MIN_EXPIRY_LEAD_SECS);
        assert_eq!(session_expiry(at(1_000_000 + 3 * 86_400), now), 1_000_000 + MAX_SESSION_SECS);
    }

    #[test]
    fn a_konbini_slip_asks_for_days_only_when_they_end_by_pasars_deadline() {
        // 2026-12-07 10:00 JST is a Monday: two days end Wednesday 23:59:59 JST.
        let monday = at(1_796_605_200);
        let wednesday_end = konbini_days_end(monday, 2).unwrap();
        assert_eq!(wednesday_end, 1_796_828_399);
        assert_eq!(konbini_expiry(at(wednesday_end), monday, 2), KonbiniExpiry::AfterDays(2));
        assert_eq!(konbini_expiry(at(wednesday_end - 1), monday, 2), KonbiniExpiry::At(wednesday_end - 1));
        let soon = monday.plus(std::time::Duration::from_secs(600));
        assert_eq!(
            konbini_expiry(soon, monday, 3),
            KonbiniExpiry::At(monday.unix_seconds() + MIN_EXPIRY_LEAD_SECS)
        );
    }

    #[test]
    fn any_matching_v1_passes_and_nothing_else_does() {
        let body = br#"{"id":"evt_1"}"#;
        let good = signature_header(SECRET, 1_000, body);
        assert!(verify_signature(SECRET, &good, body, at(1_000)).is_ok());
        let rolled = format!("t=1000,v1={},{}", "ab".repeat(32), good.split_once(',').unwrap().1);
        assert!(verify_signature(SECRET, &rolled, body, at(1_200)).is_ok(), "one right v1 among several");
        assert!(verify_signature(b"other", &good, body, at(1_000)).is_err(), "wrong secret");
        assert!(verify_signature(SECRET, &good, br#"{"id":"evt_2"}"#, at(1_000)).is_err(), "altered body");
        assert!(verify_signature(SECRET, &good, body, at(1_301)).is_err(), "stale");
        assert!(verify_signature(SECRET, &good, body, at(699)).is_err(), "from the future");
        assert!(verify_signature(SECRET, "v1=00", body, at(1_000)).is_err(), "no timestamp");
        let v0_only = good.replace("v1=", "v0=");
        assert!(verify_signature(SECRET, &v0_only, body, at(1_000)).is_err(), "only v1 counts");
    }

    #[test]
    fn extreme_timestamps_do_not_wrap_into_the_window() {
        let body = b"{}";
        for t in [i64::MIN, i64::MAX, i64::MIN + 1] {
            let header = signature_header(SECRET, t, body);
            assert!(verify_signature(SECRET, &header, body, at(0)).is_err(), "t={t}");
            assert!(
                verify_signature(SECRET, &header, body, Timestamp::from_millis(i64::MIN)).is_err(),
                "t={t}"
            );
        }
    }

    fn intent(status: &str, charge: Option<(i64, i64)>) -> PaymentIntent {
        PaymentIntent {
            id: "pi_1".into(),
            status: status.into(),
            amount: 1_000,
            currency: "jpy".into(),
            metadata: HashMap::new(),
            next_action: None,
            latest_charge: charge.map(|(amount, amount_refunded)| {
                Expandable::Object(Box::new(Charge {
                    id: "ch_1".into(),
                    amount,
                    amount_refunded,
                    currency: "jpy".into(),
                    payment_intent: Some("pi_1".into()),
                    metadata: HashMap::new(),
                    balance_transaction: Some(Expandable::Object(Box::new(BalanceTransaction {
                        id: "txn_1".into(),
                        fee: 36,
                        currency: "jpy".into(),
                    }))),
                }))
            }),
        }
    }

    #[test]
    fn intent_statuses_map_to_pasars() {
        assert_eq!(intent_status(&intent("succeeded", Some((1_000, 0)))), ProviderStatus::Succeeded);
        assert_eq!(intent_status(&intent("succeeded", Some((1_000, 400)))), ProviderStatus::Succeeded);
        assert_eq!(intent_status(&intent("succeeded", Some((1_000, 1_000)))), ProviderStatus::Refunded);
        assert_eq!(intent_status(&intent("canceled", None)), ProviderStatus::Cancelled);
        for waiting in ["requires_payment_method", "requires_confirmation", "requires_action", "processing"] {
            assert_eq!(intent_status(&intent(waiting, None)), ProviderStatus::Pending, "{waiting}");
        }
    }

    #[test]
    fn stripes_fee_is_read_from_the_charges_balance_transaction_when_it_was_expanded() {
        let paid = intent("succeeded", Some((1_000, 0)));
        assert_eq!(intent_fee(&paid), Some(Money::new(36, Currency::JPY)));
        let mut unexpanded = paid.clone();
        if let Some(Expandable::Object(charge)) = unexpanded.latest_charge.as_mut() {
            charge.balance_transaction = Some(Expandable::Id("txn_1".into()));
        }
        assert_eq!(intent_fee(&unexpanded), None);
        assert_eq!(intent_fee(&intent("requires_action", None)), None);
    }

    #[test]
    fn a_session_is_what_its_intent_says_else_what_it_says() {
        let session = |status: &str, paid: &str, intent: Option<PaymentIntent>| CheckoutSession {
            id: "cs_1".into(),
            url: None,
            status: Some(status.into()),
            payment_status: Some(paid.into()),
            payment_intent: intent.map(|i| Expandable::Object(Box::new(i))),
            client_reference_id: None,
            metadata: HashMap::new(),
            amount_total: None,
            currency: None,
            expires_at: None,
        };
        assert_eq!(session_status(&session("open", "unpaid", None)), ProviderStatus::Pending);
        assert_eq!(session_status(&session("expired", "unpaid", None)), ProviderStatus::Cancelled);
        let declined = intent("requires_payment_method", None);
        assert_eq!(session_status(&session("expired", "unpaid", Some(declined))), ProviderStatus::Cancelled);
        let refunded = intent("succeeded", Some((1_000, 1_000)));
        assert_eq!(session_status(&session("complete", "paid", Some(refunded))), ProviderStatus::Refunded);
        assert_eq!(session_status(&session("complete", "paid", None)), ProviderStatus::Succeeded);
    }

    #[test]
    fn refs_keep_the_session_and_its_intent() {
        for text in ["cs_test_1", "cs_test_1/pi_2", "pi_3"] {
            assert_eq!(StripeRef::parse(text).unwrap().text(), text);
        }
        assert_eq!(
            StripeRef::parse("cs_1/pi_2"),
            Some(StripeRef::Session { id: "cs_1".into(), payment_intent: Some("pi_2".into()) })
        );
        assert_eq!(StripeRef::parse("sbx_1"), None);
    }

    #[test]
    fn events_name_the_payment_and_report_the_amount_in_pasars_units() {
        let id = PaymentId::new();
        let event = |kind: &str, object: serde_json::Value| Event {
            id: "evt_1".into(),
            kind: kind.into(),
            data: EventData { object },
        };
        let notice = notice_of(event(
            "checkout.session.completed",
            serde_json::json!({"id": "cs_1", "client_reference_id": id.to_string(),
                               "amount_total": 5_000_000, "currency": "idr"}),
        ))
        .unwrap();
        assert_eq!((notice.payment_id, notice.amount), (id, Money::new(50_000, Currency::IDR)));
        let notice = notice_of(event(
            "payment_intent.payment_failed",
            serde_json::json!({"id": "pi_1", "status": "requires_payment_method", "amount": 900,
                               "currency": "jpy", "metadata": {"pasar_payment_id": id.to_string()}}),
        ))
        .unwrap();
        assert_eq!(notice.amount, Money::new(900, Currency::JPY));
        let unused = notice_of(event("customer.created", serde_json::json!({"id": "cus_1"})));
        assert!(matches!(unused, Err(GatewayError::BadWebhook(_))));
        let unnamed = notice_of(event(
            "charge.refunded",
            serde_json::json!({"id": "ch_1", "amount": 900, "amount_refunded": 900, "currency": "jpy"}),
        ));
        assert!(matches!(unnamed, Err(GatewayError::BadWebhook(_))));
    }

    #[test]
    fn konbini_instructions_list_each_stores_codes() {
        let details = KonbiniDisplayDetails {
            expires_at: 1_796_828_399,
            hosted_voucher_url: "https://payments.stripe.com/konbini/voucher/x".into(),
            stores: KonbiniStores {
                lawson: Some(KonbiniStore {
                    payment_code: "123456".into(),
                    confirmation_number: Some("0801".into()),
                }),
                ..KonbiniStores::default()
            },
        };
        let shown = konbini_instructions(&details);
        assert_eq!(shown["stores"]["lawson"]["payment_code"], "123456");
        assert!(shown["stores"].get("familymart").is_none());
        assert_eq!(shown["hosted_voucher_url"], "https://payments.stripe.com/konbini/voucher/x");
        assert!(shown["expires_at"].as_str().unwrap().starts_with("2026-12-09T14:59:59"));
    }
}
