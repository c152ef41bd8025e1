//! The sandbox's wire format: its signed webhook bodies and its statuses, and their mapping to
//! Pasar's types.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::ids::{PaymentId, PayoutId};
use crate::money::Money;
use crate::payments::gateway::{GatewayError, ProviderPayoutStatus, ProviderStatus};
use crate::time::Timestamp;

const TOLERANCE_SECS: u64 = 300;

type HmacSha256 = Hmac<Sha256>;

/// The header value for a body signed at `timestamp` (unix seconds).
pub fn signature_header(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", hex::encode(sign(secret, timestamp, body)))
}

fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// Checks a signature header against the raw body: fresh within the tolerance, and any `v1`
/// entry matching in constant time (several appear while a secret rotates).
pub fn verify_signature(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: Timestamp,
) -> Result<(), GatewayError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.extend(hex::decode(value).ok()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(GatewayError::BadSignature)?;
    // The distance without subtracting: a timestamp near i64's ends must not wrap into the window.
    if now.unix_seconds().abs_diff(timestamp) > TOLERANCE_SECS {
        return Err(GatewayError::BadSignature);
    }
    let matches = signatures.iter().any(|candidate| {
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.verify_slice(candidate).is_ok()
    });
    if matches { Ok(()) } else { Err(GatewayError::BadSignature) }
}

/// The sandbox's webhook body.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub created: i64,
    pub data: SandboxEventData,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxEventData {
    pub payment_id: PaymentId,
    pub charge_ref: String,
    pub status: String,
    pub amount: Money,
}

/// The sandbox's payout webhook body.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxPayoutEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub created: i64,
    pub data: SandboxPayoutEventData,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxPayoutEventData {
    pub payout_id: PayoutId,
    pub payout_ref: String,
    pub status: String,
    pub amount: Money,
}

pub fn provider_payout_status(text: &str) -> ProviderPayoutStatus {
    match text {
        "succeeded" => ProviderPayoutStatus::Succeeded,
        "failed" => ProviderPayoutStatus::Failed,
        _ => ProviderPayoutStatus::Pending,
    }
}

pub fn provider_status(text: &str) -> ProviderStatus {
    match text {
        "succeeded" => ProviderStatus::Succeeded,
        "failed" => ProviderStatus::Failed,
        // Its time ran out (the Expire button): no longer payable, as a cancelled charge.
        "cancelled" | "expired" => ProviderStatus::Cancelled,
        "refunded" => ProviderStatus::Refunded,
        _ => ProviderStatus::Pending,
    }
}
