//! What Pasar asks of a courier service, whichever it is: rates for a parcel, booking a pickup,
//! tracking, calling a booking off, and reading its webhooks. One adapter per service
//! (`biteship.rs`), converting to and from its wire types.

use std::future::Future;
use std::pin::Pin;

use axum::http::HeaderMap;

use super::domain::TrackingEvent;
use crate::money::Money;

pub type CourierFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, CourierError>> + Send + 'a>>;

#[derive(Debug, thiserror::Error)]
pub enum CourierError {
    /// Not reached, timed out, or failed on its side (5xx): nothing was booked.
    #[error("the courier service is unreachable or failed: {0}")]
    Unavailable(String),
    /// It answered and said no (a 4xx: an address it cannot serve, a service it does not offer).
    #[error("the courier service refused: {0}")]
    Refused(String),
    #[error("webhook secret missing or wrong")]
    BadSecret,
    #[error("webhook body is not what the courier service sends: {0}")]
    BadWebhook(String),
}

/// A person and place a parcel leaves from or goes to.
#[derive(Clone, Debug)]
pub struct Party {
    pub name: String,
    pub phone: String,
    pub address: String,
    pub postal_code: String,
}

/// One kind of goods in a parcel.
#[derive(Clone, Debug)]
pub struct Parcel {
    pub name: String,
    /// What one unit is worth (declared for insurance and customs).
    pub value: Money,
    pub quantity: i64,
    /// What one unit weighs.
    pub weight_grams: u32,
}

#[derive(Clone, Debug)]
pub struct RateRequest {
    pub origin_postal_code: String,
    pub destination_postal_code: String,
    pub items: Vec<Parcel>,
}

/// One service a courier offers for a parcel, and its price.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
#[schema(as = CourierRate)]
pub struct Rate {
    /// The courier company, as booking wants it (`jne`).
    pub courier: String,
    /// The service, as booking wants it (`reg`).
    pub service: String,
    /// What a buyer would read (`JNE Reguler`).
    pub name: String,
    pub price: Money,
    /// The courier's promise, in its words (`1 - 2 days`).
    pub duration: String,
}

#[derive(Clone, Debug)]
pub struct ShipmentRequest {
    /// Pasar's reference (the order's id), shown in the courier's dashboard.
    pub reference: String,
    pub courier: String,
    pub service: String,
    pub origin: Party,
    pub destination: Party,
    pub items: Vec<Parcel>,
}

/// A booked pickup.
#[derive(Clone, Debug)]
pub struct Booked {
    /// The courier service's id of the booking (for tracking, cancelling, webhooks).
    pub provider_ref: String,
    /// Its id of the tracking, when it keeps one apart from the booking.
    pub tracking_ref: Option<String>,
    pub waybill: String,
    pub status: String,
    pub tracking_url: Option<String>,
    pub label_url: Option<String>,
}

/// Where a parcel stands, with the courier's whole history of it.
#[derive(Clone, Debug)]
pub struct Tracked {
    pub waybill: Option<String>,
    pub history: Vec<TrackingEvent>,
}

/// What a verified webhook says.
#[derive(Clone, Debug)]
pub enum CourierUpdate {
    /// A booking moved: its (new) waybill when the webhook names it, and the event.
    Status { provider_ref: String, waybill: Option<String>, event: TrackingEvent },
    /// A notice Pasar has nothing to do with (a price change, the endpoint's installation test).
    Ignored,
}

pub trait Courier: Send + Sync {
    /// The name in URLs and records, such as `biteship`.
    fn name(&self) -> &'static str;
    fn rates<'a>(&'a self, request: &'a RateRequest) -> CourierFuture<'a, Vec<Rate>>;
    fn create_shipment<'a>(&'a self, request: &'a ShipmentRequest) -> CourierFuture<'a, Booked>;
    /// The history of a booking, by the refs [`Booked`] gave.
    fn track<'a>(
        &'a self,
        provider_ref: &'a str,
        tracking_ref: Option<&'a str>,
    ) -> CourierFuture<'a, Tracked>;
    fn cancel<'a>(&'a self, provider_ref: &'a str) -> CourierFuture<'a, ()>;
    /// Checks a webhook came from the courier service, and reads it.
    fn verify_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        received_at: crate::time::Timestamp,
    ) -> Result<CourierUpdate, CourierError>;
}
