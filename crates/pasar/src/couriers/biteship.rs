//! Biteship (api.biteship.com), the Indonesian courier aggregator, as its public documentation
//! describes it: `Authorization: <api key>` on every call, rates from `POST /v1/rates/couriers`,
//! bookings through `POST /v1/orders`, history from `GET /v1/trackings/{id}`, cancelling with
//! `DELETE /v1/orders/{id}`, and webhooks (`order.status`, `order.waybill_id`, `order.price`).
//!
//! Biteship signs no webhook. Its dashboard lets the receiver name a header (its "signature
//! key") and a value (its "signature secret") that Biteship sends with every webhook; Pasar
//! refuses any webhook without that header and value, compared in constant time.

use std::time::Duration;

use axum::http::HeaderMap;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::courier::{
    Booked, Courier, CourierError, CourierFuture, CourierUpdate, Parcel, Rate, RateRequest, ShipmentRequest,
    Tracked,
};
use super::domain::TrackingEvent;
use crate::config::Config;
use crate::money::{Currency, Money};
use crate::payments::gateway::GatewayError;
use crate::payments::providers::client::{ProviderClient, Retry};
use crate::time::Timestamp;

pub struct BiteshipSettings {
    pub api_key: String,
    pub base_url: String,
    /// The header Biteship's dashboard was told to send, and its value; webhooks are refused
    /// while these are unset.
    pub webhook_header: String,
    pub webhook_secret: Option<String>,
    /// The couriers asked for rates, comma-separated (`jne,sicepat`).
    pub couriers: String,
    pub timeout: Duration,
}

impl BiteshipSettings {
    /// Biteship's settings, when its API key is configured.
    pub fn from_config(config: &Config) -> Option<Self> {
        Some(Self {
            api_key: config.biteship_api_key.clone().filter(|k| !k.is_empty())?,
            base_url: config.biteship_url.trim_end_matches('/').to_owned(),
            webhook_header: config.biteship_webhook_header.clone(),
            webhook_secret: config.biteship_webhook_secret.clone().filter(|s| !s.is_empty()),
            couriers: config.biteship_couriers.clone(),
            timeout: Duration::from_secs(config.biteship_timeout_secs.max(1)),
        })
    }
}

pub struct Biteship {
    settings: BiteshipSettings,
    client: ProviderClient,
}

impl Biteship {
    pub fn new(settings: BiteshipSettings) -> Self {
        let client = ProviderClient::new("biteship", settings.timeout, 3);
        Self { settings, client }
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
        retry: Retry,
    ) -> Result<T, CourierError> {
        let url = format!("{}{path}", self.settings.base_url);
        let answer = self
            .client
            .send(retry, || {
                let request = self
                    .client
                    .request(method.clone(), &url)
                    .header(reqwest::header::AUTHORIZATION, &self.settings.api_key);
                match body {
                    Some(body) => request.json(body),
                    None => request,
                }
            })
            .await
            .map_err(courier_error)?;
        answer.json().map_err(courier_error)
    }
}

fn courier_error(err: GatewayError) -> CourierError {
    match err {
        GatewayError::Refused(message) => CourierError::Refused(message),
        other => CourierError::Unavailable(other.to_string()),
    }
}

// ---- wire types --------------------------------------------------------------------------------

#[derive(Serialize)]
struct Item<'a> {
    name: &'a str,
    value: i64,
    quantity: i64,
    weight: u32,
}

fn items(parcels: &[Parcel]) -> Vec<Item<'_>> {
    parcels
        .iter()
        .map(|p| Item { name: &p.name, value: p.value.amount, quantity: p.quantity, weight: p.weight_grams })
        .collect()
}

/// Biteship takes postal codes as numbers.
fn postal_code(code: &str) -> Result<u32, CourierError> {
    code.trim()
        .parse()
        .map_err(|_| CourierError::Refused(format!("Biteship needs a numeric postal code, not {code:?}")))
}

#[derive(Deserialize)]
struct Pricing {
    courier_name: String,
    courier_code: String,
    courier_service_name: String,
    courier_service_code: String,
    #[serde(default)]
    duration: String,
    price: i64,
}

#[derive(Deserialize)]
struct RatesAnswer {
    pricing: Vec<Pricing>,
}

#[derive(Deserialize)]
struct OrderCourier {
    tracking_id: Option<String>,
    waybill_id: Option<String>,
    link: Option<String>,
}

#[derive(Deserialize)]
struct OrderAnswer {
    id: String,
    courier: OrderCourier,
    status: String,
}

#[derive(Deserialize)]
struct HistoryEntry {
    note: String,
    updated_at: String,
    status: String,
}

#[derive(Deserialize)]
struct TrackingAnswer {
    waybill_id: Option<String>,
    history: Vec<HistoryEntry>,
}

#[derive(Deserialize)]
struct Webhook {
    event: String,
    order_id: Option<String>,
    courier_waybill_id: Option<String>,
    status: Option<String>,
}

/// What each of Biteship's order statuses means, in its documentation's words.
pub fn describe(status: &str) -> &'static str {
    match status {
        "confirmed" => "Order confirmed; the waybill has been generated.",
        "scheduled" => "Order scheduled for delivery.",
        "allocated" => "A courier has been allocated and will pick the package up.",
        "picking_up" => "The courier is on the way to pick the package up.",
        "picked" => "The courier has picked the package up.",
        "cancelled" => "The order has been cancelled.",
        "on_hold" => "The order is on hold.",
        "dropping_off" => "The courier is taking the package to the receiver.",
        "return_in_transit" => "The package is on its way back to the sender.",
        "returned" => "The package has been returned to the sender.",
        "rejected" => "The order has been rejected.",
        "disposed" => "The package has been disposed of.",
        "courier_not_found" => "No courier could be found for the order.",
        "delivered" => "The package has been delivered to the receiver.",
        _ => "The courier updated the shipment.",
    }
}

/// Biteship's history times: RFC 3339, or a local time without offset (Western Indonesia,
/// UTC+7, where Biteship runs).
fn history_time(text: &str) -> Option<Timestamp> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(Timestamp::from_millis(at.timestamp_millis()));
    }
    let local = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S"))
        .ok()?;
    let wib = chrono::FixedOffset::east_opt(7 * 3600)?;
    Some(Timestamp::from_millis(local.and_local_timezone(wib).single()?.timestamp_millis()))
}

/// Equal in time that does not depend on where they differ.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    Sha256::digest(given) == Sha256::digest(expected)
}

impl Courier for Biteship {
    fn name(&self) -> &'static str {
        "biteship"
    }

    fn rates<'a>(&'a self, request: &'a RateRequest) -> CourierFuture<'a, Vec<Rate>> {
        Box::pin(async move {
            let body = serde_json::json!({
                "origin_postal_code": postal_code(&request.origin_postal_code)?,
                "destination_postal_code": postal_code(&request.destination_postal_code)?,
                "couriers": self.settings.couriers,
                "items": items(&request.items),
            });
            // Asking for rates changes nothing at Biteship, so it may be retried.
            let answer: RatesAnswer =
                self.call(Method::POST, "/v1/rates/couriers", Some(&body), Retry::Safe).await?;
            Ok(answer
                .pricing
                .into_iter()
                .map(|p| Rate {
                    name: format!("{} {}", p.courier_name, p.courier_service_name),
                    courier: p.courier_code,
                    service: p.courier_service_code,
                    price: Money::new(p.price, Currency::IDR),
                    duration: p.duration,
                })
                .collect())
        })
    }

    fn create_shipment<'a>(&'a self, request: &'a ShipmentRequest) -> CourierFuture<'a, Booked> {
        Box::pin(async move {
            let body = serde_json::json!({
                "origin_contact_name": request.origin.name,
                "origin_contact_phone": request.origin.phone,
                "origin_address": request.origin.address,
                "origin_postal_code": postal_code(&request.origin.postal_code)?,
                "destination_contact_name": request.destination.name,
                "destination_contact_phone": request.destination.phone,
                "destination_address": request.destination.address,
                "destination_postal_code": postal_code(&request.destination.postal_code)?,
                "courier_company": request.courier,
                "courier_type": request.service,
                "delivery_type": "now",
                "reference_id": request.reference,
                "items": items(&request.items),
            });
            // A booking sent twice could be booked twice: never retried.
            let answer: OrderAnswer =
                self.call(Method::POST, "/v1/orders", Some(&body), Retry::Never).await?;
            // Some couriers issue the waybill later (the `order.waybill_id` webhook); until
            // then the parcel is known by Biteship's tracking id.
            let waybill = answer
                .courier
                .waybill_id
                .clone()
                .or_else(|| answer.courier.tracking_id.clone())
                .unwrap_or_else(|| answer.id.clone());
            Ok(Booked {
                provider_ref: answer.id,
                tracking_ref: answer.courier.tracking_id,
                waybill,
                status: answer.status,
                tracking_url: answer.courier.link,
                // Biteship's API has no label document: labels print from its dashboard.
                label_url: None,
            })
        })
    }

    fn track<'a>(
        &'a self,
        provider_ref: &'a str,
        tracking_ref: Option<&'a str>,
    ) -> CourierFuture<'a, Tracked> {
        Box::pin(async move {
            let id = tracking_ref.unwrap_or(provider_ref);
            let answer: TrackingAnswer =
                self.call(Method::GET, &format!("/v1/trackings/{id}"), None, Retry::Safe).await?;
            let mut history = Vec::with_capacity(answer.history.len());
            for entry in answer.history {
                let occurred_at = history_time(&entry.updated_at).ok_or_else(|| {
                    CourierError::Unavailable(format!(
                        "Biteship gave a time it does not document: {:?}",
                        entry.updated_at
                    ))
                })?;
                history.push(TrackingEvent {
                    status: entry.status,
                    description: entry.note,
                    location: None,
                    occurred_at,
                });
            }
            Ok(Tracked { waybill: answer.waybill_id, history })
        })
    }

    fn cancel<'a>(&'a self, provider_ref: &'a str) -> CourierFuture<'a, ()> {
        Box::pin(async move {
            let _: serde_json::Value =
                self.call(Method::DELETE, &format!("/v1/orders/{provider_ref}"), None, Retry::Never).await?;
            Ok(())
        })
    }

    fn verify_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        received_at: Timestamp,
    ) -> Result<CourierUpdate, CourierError> {
        let expected = self.settings.webhook_secret.as_deref().ok_or(CourierError::BadSecret)?;
        let given = headers.get(self.settings.webhook_header.as_str()).ok_or(CourierError::BadSecret)?;
        if !same_secret(given.as_bytes(), expected.as_bytes()) {
            return Err(CourierError::BadSecret);
        }
        // Biteship tests a new endpoint with an empty POST before it saves it.
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(CourierUpdate::Ignored);
        }
        let webhook: Webhook =
            serde_json::from_slice(body).map_err(|e| CourierError::BadWebhook(e.to_string()))?;
        if !matches!(webhook.event.as_str(), "order.status" | "order.waybill_id") {
            return Ok(CourierUpdate::Ignored);
        }
        let provider_ref = webhook
            .order_id
            .ok_or_else(|| CourierError::BadWebhook("an order event names no order_id".into()))?;
        let status = webhook
            .status
            .ok_or_else(|| CourierError::BadWebhook("an order event carries no status".into()))?;
        // Biteship's webhooks carry no time of their own: the event happened when it arrived.
        let event = TrackingEvent {
            description: describe(&status).to_owned(),
            status,
            location: None,
            occurred_at: received_at,
        };
        Ok(CourierUpdate::Status { provider_ref, waybill: webhook.courier_waybill_id, event })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_times_read_with_or_without_their_offset() {
        let with = history_time("2021-03-16T18:17:00+07:00").unwrap();
        let without = history_time("2021-03-16T18:17:00").unwrap();
        assert_eq!(with, without);
        assert_eq!(with.to_rfc3339(), "2021-03-16T11:17:00.000Z");
        assert!(history_time("yesterday").is_none());
    }

    #[test]
    fn a_webhook_secret_matches_only_itself() {
        assert!(same_secret(b"s3cret", b"s3cret"));
        assert!(!same_secret(b"s3cres", b"s3cret"));
        assert!(!same_secret(b"", b"s3cret"));
    }
}
