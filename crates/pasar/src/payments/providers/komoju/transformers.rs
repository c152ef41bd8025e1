//! KOMOJU's wire types and their mapping to Pasar's: the create body, the payment object KOMOJU
//! answers, its statuses, the konbini slip, and webhook signatures and events. Pure functions
//! only (no I/O), so each rule is unit-tested here.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::money::{Currency, Money};
use crate::payments::gateway::{CreatePayment, GatewayError, NoticeAmount, ProviderStatus, WebhookNotice};
use crate::time::Timestamp;

type HmacSha256 = Hmac<Sha256>;

// ---------------------------------------------------------------------------------------------
// Requests

/// `POST /payments` (JSON): a konbini payment at one store, named by Pasar's payment id.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CreateBody {
    /// Yen, KOMOJU's units and Pasar's alike (JPY has no minor unit).
    pub amount: i64,
    pub currency: &'static str,
    pub external_order_num: String,
    pub payment_details: KonbiniDetails,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct KonbiniDetails {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub store: String,
    pub email: String,
}

/// The create body for `request`: konbini takes yen only, and KOMOJU requires the payer's email.
pub fn create_body(request: &CreatePayment, store: &str) -> Result<CreateBody, GatewayError> {
    if request.total.currency != Currency::JPY {
        return Err(GatewayError::Refused("KOMOJU konbini takes JPY only".into()));
    }
    if request.total.amount <= 0 {
        return Err(GatewayError::Refused("a konbini payment must be of a positive amount".into()));
    }
    let email =
        request.payer_email.clone().filter(|e| !e.is_empty()).ok_or_else(|| {
            GatewayError::Refused("a KOMOJU konbini payment needs the payer's email".into())
        })?;
    Ok(CreateBody {
        amount: request.total.amount,
        currency: "JPY",
        external_order_num: request.payment_id.to_string(),
        payment_details: KonbiniDetails { kind: "konbini", store: store.to_owned(), email },
    })
}

// ---------------------------------------------------------------------------------------------
// Objects KOMOJU answers

/// A KOMOJU payment (the answer of create, show and cancel, and the `data` of payment events).
#[derive(Clone, Debug, Deserialize)]
pub struct KomojuPayment {
    pub id: String,
    pub status: String,
    pub amount: i64,
    pub currency: String,
    pub external_order_num: Option<String>,
    /// RFC 3339, such as `2018-10-18T14:59:59Z` (23:59:59 JST).
    pub payment_deadline: Option<String>,
    pub payment_details: Option<PaymentDetails>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct PaymentDetails {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub store: Option<String>,
    pub confirmation_code: Option<String>,
    pub receipt: Option<String>,
    pub instructions_url: Option<String>,
}

/// An RFC 3339 time as Pasar's timestamp; None when it does not parse.
pub fn parse_time(text: &str) -> Option<Timestamp> {
    chrono::DateTime::parse_from_rfc3339(text).ok().map(|at| Timestamp::from_millis(at.timestamp_millis()))
}

/// What the buyer needs to pay the slip: the store, the codes KOMOJU answered, the
/// instructions page and the deadline, as KOMOJU states it.
pub fn konbini_instructions(payment: &KomojuPayment) -> serde_json::Value {
    let details = payment.payment_details.clone().unwrap_or_default();
    serde_json::json!({
        "store": details.store,
        "payment_deadline": payment.payment_deadline,
        "instructions_url": details.instructions_url,
        "receipt": details.receipt,
        "confirmation_code": details.confirmation_code,
    })
}

// ---------------------------------------------------------------------------------------------
// Statuses

/// A KOMOJU payment's status as Pasar's. `authorized` (what a new konbini payment answers:
/// waiting for the buyer at the store) and `pending` both wait; `captured` is paid; `expired`
/// and `cancelled` are over; `refunded` is refunded; `failed` failed. Anything else waits.
pub fn payment_status(status: &str) -> ProviderStatus {
    match status {
        "captured" => ProviderStatus::Succeeded,
        "expired" | "cancelled" => ProviderStatus::Cancelled,
        "refunded" => ProviderStatus::Refunded,
        "failed" => ProviderStatus::Failed,
        _ => ProviderStatus::Pending,
    }
}

// ---------------------------------------------------------------------------------------------
// Webhooks

/// `X-Komoju-Signature` for `body`: hex HMAC-SHA256 of the raw body with the webhook's secret
/// token (for tests and fakes).
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Checks `X-Komoju-Signature` against the raw body, in constant time.
pub fn verify_signature(secret: &[u8], header: &str, body: &[u8]) -> Result<(), GatewayError> {
    let given = hex::decode(header.trim()).map_err(|_| GatewayError::BadSignature)?;
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.verify_slice(&given).map_err(|_| GatewayError::BadSignature)
}

/// The events Pasar reads; KOMOJU's webhook should send only these.
pub const EVENTS: [&str; 5] =
    ["payment.captured", "payment.expired", "payment.cancelled", "payment.refunded", "payment.failed"];

#[derive(Debug, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: serde_json::Value,
}

/// A verified event's notice: the payment it names (`external_order_num`, Pasar's payment id)
/// and the amount it reports. The status is not read from the event: Pasar asks KOMOJU.
pub fn notice_of(event: Event) -> Result<WebhookNotice, GatewayError> {
    if !EVENTS.contains(&event.kind.as_str()) {
        return Err(GatewayError::BadWebhook(format!(
            "Pasar does not use {} events; the webhook should send only {}",
            event.kind,
            EVENTS.join(", ")
        )));
    }
    let payment: KomojuPayment = serde_json::from_value(event.data)
        .map_err(|e| GatewayError::BadWebhook(format!("{} payment: {e}", event.kind)))?;
    let order = payment.external_order_num.ok_or_else(|| {
        GatewayError::BadWebhook(format!("the {} event has no external_order_num", event.kind))
    })?;
    let payment_id = order
        .parse()
        .map_err(|_| GatewayError::BadWebhook(format!("{order:?} is not a Pasar payment id")))?;
    let currency = Currency::parse(&payment.currency.to_ascii_uppercase()).map_err(|_| {
        GatewayError::BadWebhook(format!("currency {:?} is not one Pasar uses", payment.currency))
    })?;
    Ok(WebhookNotice {
        event_id: event.id,
        payment_id,
        amount: Money::new(payment.amount, currency),
        covers: NoticeAmount::Total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::PaymentId;

    const SECRET: &[u8] = b"komoju_webhook_secret";

    fn request(email: Option<&str>, total: Money) -> CreatePayment {
        CreatePayment {
            payment_id: PaymentId::new(),
            method: "konbini".into(),
            payer_email: email.map(str::to_owned),
            amount: total,
            total,
            description: "Order".into(),
            expires_at: Timestamp::from_millis(0),
        }
    }

    #[test]
    fn the_create_body_names_the_payment_the_store_and_the_email() {
        let request = request(Some("hanako@example.jp"), Money::new(1_200, Currency::JPY));
        let body = serde_json::to_value(create_body(&request, "lawson").unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"amount": 1200, "currency": "JPY",
                "external_order_num": request.payment_id.to_string(),
                "payment_details": {"type": "konbini", "store": "lawson", "email": "hanako@example.jp"}})
        );
    }

    #[test]
    fn no_email_or_no_yen_is_refused() {
        let no_email = request(None, Money::new(1_200, Currency::JPY));
        assert!(matches!(create_body(&no_email, "lawson"), Err(GatewayError::Refused(_))));
        let rupiah = request(Some("a@example.com"), Money::new(1_200, Currency::IDR));
        assert!(matches!(create_body(&rupiah, "lawson"), Err(GatewayError::Refused(_))));
    }

    #[test]
    fn statuses_map_as_documented() {
        assert_eq!(payment_status("captured"), ProviderStatus::Succeeded);
        for waiting in ["authorized", "pending", "something_new"] {
            assert_eq!(payment_status(waiting), ProviderStatus::Pending, "{waiting}");
        }
        assert_eq!(payment_status("expired"), ProviderStatus::Cancelled);
        assert_eq!(payment_status("cancelled"), ProviderStatus::Cancelled);
        assert_eq!(payment_status("refunded"), ProviderStatus::Refunded);
        assert_eq!(payment_status("failed"), ProviderStatus::Failed);
    }

    #[test]
    fn a_signature_is_checked_over_the_raw_body() {
        let body = br#"{"id":"evt_1"}"#;
        let good = signature(SECRET, body);
        assert!(verify_signature(SECRET, &good, body).is_ok());
        assert!(verify_signature(SECRET, &good, br#"{"id":"evt_2"}"#).is_err(), "altered body");
        assert!(verify_signature(b"other", &good, body).is_err(), "other secret");
        assert!(verify_signature(SECRET, "not hex", body).is_err());
        assert!(verify_signature(SECRET, "", body).is_err());
    }

    #[test]
    fn an_event_names_the_payment_by_its_external_order_num() {
        let id = PaymentId::new();
        let event: Event = serde_json::from_value(serde_json::json!({
            "id": "evt_1", "type": "payment.captured", "resource": "event",
            "data": {"id": "pay_1", "status": "captured", "amount": 1200, "currency": "JPY",
                     "external_order_num": id.to_string()},
        }))
        .unwrap();
        let notice = notice_of(event).unwrap();
        assert_eq!(
            (notice.event_id.as_str(), notice.payment_id, notice.amount),
            ("evt_1", id, Money::new(1_200, Currency::JPY))
        );
        let other: Event =
            serde_json::from_value(serde_json::json!({"id": "evt_2", "type": "ping", "data": {}})).unwrap();
        assert!(matches!(notice_of(other), Err(GatewayError::BadWebhook(_))));
    }

    #[test]
    fn a_deadline_is_read_as_rfc3339() {
        let at = parse_time("2018-10-18T14:59:59Z").unwrap();
        assert_eq!(at.unix_seconds(), 1_539_874_799);
        assert!(parse_time("tomorrow").is_none());
    }
}
