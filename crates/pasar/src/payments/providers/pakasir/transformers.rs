//! Pakasir's wire format (https://pakasir.com/p/docs) and its mapping to Pasar's types.
//!
//! - create: `POST /api/transactioncreate/{method}` `{project, order_id, amount, api_key}` →
//!   `{"payment": {project, order_id, amount, fee, total_payment, payment_method,
//!   payment_number, expired_at}}`
//! - detail: `GET /api/transactiondetail?project=&amount=&order_id=&api_key=` →
//!   `{"transaction": {amount, order_id, project, status, payment_method, completed_at}}`
//! - cancel: `POST /api/transactioncancel` with the same four fields as create
//! - webhook: `{amount, order_id, project, status, payment_method, completed_at}`, unsigned

use chrono::DateTime;
use serde::{Deserialize, Serialize};

use crate::ids::PaymentId;
use crate::money::{Currency, Money};
use crate::payments::gateway::{GatewayError, NoticeAmount, ProviderStatus, WebhookNotice};
use crate::time::Timestamp;

/// The body of create and cancel: Pakasir takes its credentials in the JSON body.
#[derive(Serialize)]
pub struct TransactionRequest<'a> {
    pub project: &'a str,
    pub order_id: &'a str,
    pub amount: i64,
    pub api_key: &'a str,
}

/// Never shows the key, should a request ever be logged.
impl std::fmt::Debug for TransactionRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransactionRequest")
            .field("project", &self.project)
            .field("order_id", &self.order_id)
            .field("amount", &self.amount)
            .field("api_key", &"[redacted]")
            .finish()
    }
}

#[derive(Debug, Deserialize)]
pub struct CreateResponse {
    pub payment: CreatedTransaction,
}

#[derive(Debug, Deserialize)]
pub struct CreatedTransaction {
    pub order_id: String,
    pub amount: i64,
    #[serde(default)]
    pub fee: Option<i64>,
    pub total_payment: i64,
    #[serde(default)]
    pub payment_method: Option<String>,
    pub payment_number: String,
    pub expired_at: String,
}

#[derive(Debug, Deserialize)]
pub struct DetailResponse {
    pub transaction: Transaction,
}

#[derive(Debug, Deserialize)]
pub struct Transaction {
    pub order_id: String,
    pub amount: i64,
    pub status: String,
    #[serde(default)]
    pub completed_at: Option<String>,
}

/// The webhook Pakasir POSTs when a payment completes. Unknown fields (such as a sandbox's
/// `is_sandbox`) are allowed: Pakasir may add some.
#[derive(Debug, Deserialize)]
pub struct Webhook {
    pub amount: i64,
    pub order_id: String,
    pub project: String,
    pub status: String,
    #[serde(default)]
    pub payment_method: Option<String>,
    #[serde(default)]
    pub completed_at: Option<String>,
}

/// Pakasir's `expired_at` (RFC 3339, UTC, nanoseconds) as a Pasar timestamp (milliseconds).
pub fn parse_time(text: &str) -> Result<Timestamp, GatewayError> {
    let at = DateTime::parse_from_rfc3339(text).map_err(|_| {
        GatewayError::Unavailable(format!("Pakasir answered a time that is not RFC 3339: {text:?}"))
    })?;
    Ok(Timestamp::from_millis(at.timestamp_millis()))
}

/// A transaction's status at Pakasir as Pasar's. `expired` and both spellings of `cancelled`
/// become `Cancelled`: the buyer did not pay and the code can no longer be paid, which is a
/// payment called off rather than one that failed (for an order both end it the same way, and
/// either lets money that arrives later still be recorded).
pub fn provider_status(status: &str) -> Result<ProviderStatus, GatewayError> {
    match status {
        "completed" => Ok(ProviderStatus::Succeeded),
        "pending" => Ok(ProviderStatus::Pending),
        "expired" | "cancelled" | "canceled" => Ok(ProviderStatus::Cancelled),
        other => Err(GatewayError::Unavailable(format!(
            "Pakasir reported a status Pasar does not know: {:?}",
            other.chars().take(40).collect::<String>()
        ))),
    }
}

/// Reads a webhook: Pakasir signs nothing, so all Pasar can check here is the project; the
/// amount is checked against the payment, and the status is asked of Pakasir, by the pipeline.
pub fn notice(body: &[u8], project: &str) -> Result<WebhookNotice, GatewayError> {
    let hook: Webhook = serde_json::from_slice(body).map_err(|e| GatewayError::BadWebhook(e.to_string()))?;
    if hook.project != project {
        return Err(GatewayError::BadWebhook("the webhook is for another Pakasir project".into()));
    }
    let payment_id: PaymentId = hook
        .order_id
        .parse()
        .map_err(|_| GatewayError::BadWebhook("order_id is not a payment of this shop".into()))?;
    if hook.amount <= 0 || hook.amount > Money::LIMIT {
        return Err(GatewayError::BadWebhook("amount out of range".into()));
    }
    // One delivery of one completion: a redelivery carries the same `completed_at` and is
    // applied once, while an earlier unconfirmed (or forged) hint for the same order cannot use
    // up the id of the genuine one.
    let event_id = match hook.completed_at.as_deref() {
        Some(at) if !at.is_empty() => format!("{}:{}:{}", hook.order_id, hook.status, at),
        _ => format!("{}:{}", hook.order_id, hook.status),
    };
    Ok(WebhookNotice {
        event_id,
        payment_id,
        amount: Money::new(hook.amount, Currency::IDR),
        covers: NoticeAmount::BeforeFee,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROJECT: &str = "depodomain";

    #[test]
    fn the_documented_expiry_with_nanoseconds_is_read_to_the_millisecond() {
        let at = parse_time("2025-09-19T01:18:49.678622564Z").unwrap();
        assert_eq!(at.to_rfc3339(), "2025-09-19T01:18:49.678Z");
        assert!(parse_time("19/09/2025").is_err());
    }

    #[test]
    fn statuses_map_with_both_spellings_of_cancelled() {
        assert_eq!(provider_status("completed").unwrap(), ProviderStatus::Succeeded);
        assert_eq!(provider_status("pending").unwrap(), ProviderStatus::Pending);
        for ended in ["expired", "cancelled", "canceled"] {
            assert_eq!(provider_status(ended).unwrap(), ProviderStatus::Cancelled, "{ended}");
        }
        assert!(provider_status("refunded?").is_err());
    }

    #[test]
    fn the_documented_webhook_reads_as_a_notice_of_the_amount_before_fee() {
        let id = PaymentId::new();
        let body = format!(
            r#"{{"amount":22000,"order_id":"{id}","project":"{PROJECT}","status":"completed","payment_method":"qris","completed_at":"2024-09-10T08:07:02.819+07:00","is_sandbox":true}}"#
        );
        let notice = notice(body.as_bytes(), PROJECT).unwrap();
        assert_eq!(notice.payment_id, id);
        assert_eq!(notice.amount, Money::new(22_000, Currency::IDR));
        assert_eq!(notice.covers, NoticeAmount::BeforeFee);
        assert_eq!(notice.event_id, format!("{id}:completed:2024-09-10T08:07:02.819+07:00"));
    }

    #[test]
    fn another_project_a_foreign_order_id_or_a_malformed_body_is_refused() {
        let id = PaymentId::new();
        let other =
            format!(r#"{{"amount":1,"order_id":"{id}","project":"someone-else","status":"completed"}}"#);
        assert!(matches!(notice(other.as_bytes(), PROJECT), Err(GatewayError::BadWebhook(_))));
        let foreign =
            format!(r#"{{"amount":1,"order_id":"240910HDE7C9","project":"{PROJECT}","status":"completed"}}"#);
        assert!(matches!(notice(foreign.as_bytes(), PROJECT), Err(GatewayError::BadWebhook(_))));
        let negative =
            format!(r#"{{"amount":-5,"order_id":"{id}","project":"{PROJECT}","status":"completed"}}"#);
        assert!(matches!(notice(negative.as_bytes(), PROJECT), Err(GatewayError::BadWebhook(_))));
        assert!(matches!(notice(b"not json", PROJECT), Err(GatewayError::BadWebhook(_))));
    }
}
