//! CHIP's (and Revio's) wire types and their mapping to Pasar's: the purchase and payout
//! requests, the Purchase and Payout objects as far as Pasar reads them, statuses, and the
//! `X-Signature` check (RSA PKCS#1 v1.5 over SHA-256 of the raw body).

use base64::Engine;
use rsa::RsaPublicKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::ids::{PaymentId, PayoutId};
use crate::money::{Currency, Money};
use crate::payments::gateway::{
    GatewayError, NoticeAmount, PayoutNotice, ProviderPayoutStatus, ProviderStatus, RefundStatus,
    WebhookNotice,
};

#[derive(Debug, Serialize)]
pub struct Client<'a> {
    pub email: &'a str,
}

#[derive(Debug, Serialize)]
pub struct Product<'a> {
    pub name: &'a str,
    /// Minor units (`100` is RM 1.00).
    pub price: i64,
}

#[derive(Debug, Serialize)]
pub struct PurchaseDetails<'a> {
    pub currency: &'a str,
    pub products: Vec<Product<'a>>,
    /// Past `due` the purchase is `expired` and can no longer be paid.
    pub due_strict: bool,
}

/// `POST /purchases/`.
#[derive(Debug, Serialize)]
pub struct PurchaseRequest<'a> {
    pub brand_id: &'a str,
    pub client: Client<'a>,
    pub purchase: PurchaseDetails<'a>,
    pub reference: String,
    pub success_callback: String,
    pub success_redirect: String,
    pub failure_redirect: String,
    /// Unix seconds.
    pub due: i64,
}

/// `POST /purchases/{id}/refund/`.
#[derive(Debug, Serialize)]
pub struct RefundRequest {
    pub amount: i64,
}

#[derive(Debug, Serialize)]
pub struct PayoutPayment<'a> {
    pub currency: &'a str,
    pub amount: i64,
    pub description: &'a str,
}

/// `POST /payouts/`.
#[derive(Debug, Serialize)]
pub struct PayoutRequest<'a> {
    pub client: Client<'a>,
    pub payment: PayoutPayment<'a>,
    pub reference: String,
    pub brand_id: &'a str,
}

#[derive(Clone, Debug, Deserialize)]
pub struct PurchaseAmounts {
    pub total: i64,
    pub currency: String,
}

/// The Purchase object, as far as Pasar reads it (also the body of `purchase.*` webhooks).
#[derive(Clone, Debug, Deserialize)]
pub struct Purchase {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub reference: Option<String>,
    pub purchase: PurchaseAmounts,
    #[serde(default)]
    pub checkout_url: Option<String>,
    #[serde(default)]
    pub updated_on: Option<i64>,
    #[serde(default)]
    pub event_type: Option<String>,
    /// The money movement, once the buyer paid.
    #[serde(default)]
    pub payment: Option<PurchasePayment>,
}

/// A paid purchase's money movement: what the gateway kept is `fee_amount`.
#[derive(Clone, Debug, Deserialize)]
pub struct PurchasePayment {
    pub currency: String,
    #[serde(default)]
    pub fee_amount: Option<i64>,
}

/// What the gateway kept of a paid purchase, when it says.
pub fn purchase_fee(purchase: &Purchase) -> Option<Money> {
    let payment = purchase.payment.as_ref()?;
    money(payment.fee_amount?, &payment.currency).ok()
}

#[derive(Clone, Debug, Deserialize)]
pub struct PayoutAmounts {
    pub amount: i64,
    pub currency: String,
}

/// The Payout object, as far as Pasar reads it (also the body of `payout.*` webhooks).
#[derive(Clone, Debug, Deserialize)]
pub struct Payout {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub reference: Option<String>,
    pub payment: PayoutAmounts,
    #[serde(default)]
    pub execution_url: Option<String>,
    #[serde(default)]
    pub updated_on: Option<i64>,
    #[serde(default)]
    pub event_type: Option<String>,
}

/// The answer to a refund: a Payment object whose `status` is read when present (the exact
/// shape of CHIP's refund answer is not in the stored documentation: UNVERIFIED).
#[derive(Debug, Deserialize)]
pub struct RefundAnswer {
    #[serde(default)]
    pub status: Option<String>,
}

/// A purchase's status as Pasar knows it.
///
/// - `paid` and `settled` (paid, and the funds settled to the merchant) are Succeeded.
/// - `refunded` is Refunded.
/// - `error` (the payment attempt failed; see `transaction_data`) and `blocked` (refused by
///   fraud or security checks) are Failed: the bank or CHIP refused the money.
/// - `cancelled` (by `/cancel/`), `expired` (past `due` with `due_strict`, which Pasar always
///   sets) and `released` (held funds returned) are Cancelled: nobody paid and nobody can.
/// - everything else (`created`, `sent`, `viewed`, `overdue`, `hold`, `preauthorized`,
///   `pending_*`, and any status CHIP adds later) is Pending: the buyer may still pay, and
///   reconciliation asks again.
pub fn purchase_status(status: &str) -> ProviderStatus {
    match status {
        "paid" | "settled" => ProviderStatus::Succeeded,
        "refunded" => ProviderStatus::Refunded,
        "error" | "blocked" => ProviderStatus::Failed,
        "cancelled" | "expired" | "released" => ProviderStatus::Cancelled,
        _ => ProviderStatus::Pending,
    }
}

/// A payout's status: `success` and `failed`/`error` are final, the rest (`initialized`,
/// `pending`, …) is still on its way.
pub fn payout_status(status: &str) -> ProviderPayoutStatus {
    match status {
        "success" => ProviderPayoutStatus::Succeeded,
        "failed" | "error" => ProviderPayoutStatus::Failed,
        _ => ProviderPayoutStatus::Pending,
    }
}

/// A refund's status from CHIP's answer: an answer without one is taken as done (CHIP answers
/// a refund it made with 200).
pub fn refund_status(answer: &RefundAnswer) -> RefundStatus {
    match answer.status.as_deref() {
        Some("pending_refund" | "pending" | "pending_execute") => RefundStatus::Pending,
        Some("error" | "failed" | "refund_failure") => RefundStatus::Failed,
        _ => RefundStatus::Succeeded,
    }
}

/// A PEM public key (`-----BEGIN PUBLIC KEY-----`, SubjectPublicKeyInfo) as CHIP gives it.
pub fn parse_public_key(pem: &str) -> Result<RsaPublicKey, String> {
    // Keys pasted into an environment variable often carry `\n` instead of line breaks.
    let pem = pem.trim().replace("\\n", "\n");
    RsaPublicKey::from_public_key_pem(&pem).map_err(|e| format!("not a PEM RSA public key: {e}"))
}

/// Checks `X-Signature` (base64 of an RSA PKCS#1 v1.5 signature over SHA-256 of the raw body).
pub fn verify_signature(key: &RsaPublicKey, header: &str, body: &[u8]) -> Result<(), GatewayError> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(header.trim())
        .map_err(|_| GatewayError::BadSignature)?;
    let signature = Signature::try_from(raw.as_slice()).map_err(|_| GatewayError::BadSignature)?;
    VerifyingKey::<Sha256>::new(key.clone()).verify(body, &signature).map_err(|_| GatewayError::BadSignature)
}

fn money(amount: i64, currency: &str) -> Result<Money, GatewayError> {
    let currency = Currency::parse(currency)
        .map_err(|e| GatewayError::BadWebhook(format!("currency {currency}: {e}")))?;
    Ok(Money::new(amount, currency))
}

/// A verified `purchase.*` webhook as Pasar's notice. Its event id is stable per purchase,
/// event type and `updated_on`, so CHIP's retries of one delivery apply once.
pub fn purchase_notice(body: &[u8]) -> Result<WebhookNotice, GatewayError> {
    let purchase: Purchase =
        serde_json::from_slice(body).map_err(|e| GatewayError::BadWebhook(format!("not a Purchase: {e}")))?;
    let event_type = purchase.event_type.clone().unwrap_or_else(|| "success_callback".into());
    if !event_type.starts_with("purchase.") && event_type != "success_callback" {
        return Err(GatewayError::BadWebhook(format!("event {event_type} is not about a purchase")));
    }
    let payment_id: PaymentId =
        purchase.reference.as_deref().and_then(|r| r.parse().ok()).ok_or_else(|| {
            GatewayError::BadWebhook("the purchase's reference is not a Pasar payment".into())
        })?;
    Ok(WebhookNotice {
        event_id: format!("{}:{event_type}:{}", purchase.id, purchase.updated_on.unwrap_or_default()),
        payment_id,
        amount: money(purchase.purchase.total, &purchase.purchase.currency)?,
        covers: NoticeAmount::Total,
    })
}

/// A verified `payout.*` webhook as Pasar's notice.
pub fn payout_notice(body: &[u8]) -> Result<PayoutNotice, GatewayError> {
    let payout: Payout =
        serde_json::from_slice(body).map_err(|e| GatewayError::BadWebhook(format!("not a Payout: {e}")))?;
    let event_type = payout.event_type.clone().unwrap_or_default();
    if !event_type.starts_with("payout.") {
        return Err(GatewayError::BadWebhook(format!("event {event_type:?} is not about a payout")));
    }
    let payout_id: PayoutId = payout
        .reference
        .as_deref()
        .and_then(|r| r.parse().ok())
        .ok_or_else(|| GatewayError::BadWebhook("the payout's reference is not a Pasar payout".into()))?;
    Ok(PayoutNotice {
        event_id: format!("{}:{event_type}:{}", payout.id, payout.updated_on.unwrap_or_default()),
        payout_id,
        amount: money(payout.payment.amount, &payout.payment.currency)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chip_purchase_statuses_map_to_pasars() {
        for (status, expected) in [
            ("paid", ProviderStatus::Succeeded),
            ("settled", ProviderStatus::Succeeded),
            ("refunded", ProviderStatus::Refunded),
            ("error", ProviderStatus::Failed),
            ("blocked", ProviderStatus::Failed),
            ("cancelled", ProviderStatus::Cancelled),
            ("expired", ProviderStatus::Cancelled),
            ("created", ProviderStatus::Pending),
            ("viewed", ProviderStatus::Pending),
            ("overdue", ProviderStatus::Pending),
            ("pending_execute", ProviderStatus::Pending),
        ] {
            assert_eq!(purchase_status(status), expected, "{status}");
        }
        assert_eq!(payout_status("success"), ProviderPayoutStatus::Succeeded);
        assert_eq!(payout_status("failed"), ProviderPayoutStatus::Failed);
        assert_eq!(payout_status("initialized"), ProviderPayoutStatus::Pending);
    }

    #[test]
    fn a_chip_webhook_names_its_payment_amount_and_a_stable_event_id() {
        let payment = PaymentId::new();
        let body = serde_json::to_vec(&serde_json::json!({
            "id": "p_1", "status": "paid", "reference": payment.to_string(), "updated_on": 1700000000,
            "event_type": "purchase.paid", "purchase": {"total": 12_345, "currency": "MYR"}
        }))
        .unwrap();
        let notice = purchase_notice(&body).unwrap();
        assert_eq!(notice.payment_id, payment);
        assert_eq!(notice.amount, Money::new(12_345, Currency::MYR));
        assert_eq!(notice.event_id, "p_1:purchase.paid:1700000000");
        let other = br#"{"id":"x","status":"success","event_type":"payout.success","purchase":{"total":1,"currency":"MYR"}}"#;
        assert!(matches!(purchase_notice(other), Err(GatewayError::BadWebhook(_))));
    }
}
