//! Webhooks' domain types and rules: which events an endpoint wants, the shape of its URL, a
//! delivery's status, and the retry schedule. Pure, so they are tested directly.

use std::time::Duration;

use reqwest::Url;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The event types an endpoint receives: `["*"]` for all, or exact types such as
/// `order.created`. Parsed once at the edge: 1 to 50 entries, duplicates dropped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct EventTypes(Vec<String>);

pub const ALL_EVENTS: &str = "*";
const MAX_EVENT_TYPES: usize = 50;

impl EventTypes {
    pub fn parse(raw: Vec<String>) -> Result<Self, String> {
        if raw.is_empty() {
            return Err(r#"must name at least one event type, or ["*"] for all"#.into());
        }
        if raw.len() > MAX_EVENT_TYPES {
            return Err(format!("must name at most {MAX_EVENT_TYPES} event types"));
        }
        let mut types: Vec<String> = Vec::with_capacity(raw.len());
        for name in raw {
            if name != ALL_EVENTS && !is_event_type(&name) {
                return Err(format!(
                    "{name:?} is not an event type: use lower-case words joined by dots, such as \
                     order.created, or \"*\""
                ));
            }
            if !types.contains(&name) {
                types.push(name);
            }
        }
        Ok(Self(types))
    }

    /// True when an event of `event_type` goes to an endpoint with these types.
    pub fn wants(&self, event_type: &str) -> bool {
        self.0.iter().any(|t| t == ALL_EVENTS || t == event_type)
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

/// `order.created`, `wallet.deposit.completed`: two or more lower-case words joined by dots.
fn is_event_type(name: &str) -> bool {
    name.len() <= 100
        && name.split('.').count() >= 2
        && name.split('.').all(|word| {
            word.starts_with(|c: char| c.is_ascii_lowercase())
                && word.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
}

impl TryFrom<Vec<String>> for EventTypes {
    type Error = String;
    fn try_from(raw: Vec<String>) -> Result<Self, String> {
        Self::parse(raw)
    }
}

impl From<EventTypes> for Vec<String> {
    fn from(types: EventTypes) -> Self {
        types.0
    }
}

impl utoipa::PartialSchema for EventTypes {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::{ArrayBuilder, ObjectBuilder, schema::Type};
        ArrayBuilder::new()
            .items(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .max_length(Some(100))
                    .pattern(Some(r"^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+)$"))
                    .examples(["order.created"]),
            )
            .min_items(Some(1))
            .max_items(Some(MAX_EVENT_TYPES))
            .examples([serde_json::json!(["order.created", "payment.completed"]), serde_json::json!(["*"])])
            .into()
    }
}

impl ToSchema for EventTypes {}

/// An absolute http(s) URL with a host, at most 2048 characters. Whether it may be used (https
/// only, public addresses only) depends on the configuration and on DNS; [`super::guard`]
/// decides that.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WebhookUrl(Url);

impl WebhookUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.len() > 2048 {
            return Err("must be at most 2048 characters".into());
        }
        let url = Url::parse(raw).map_err(|e| format!("not a valid URL: {e}"))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err("must be an https URL".into());
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("must name a host".into());
        }
        Ok(Self(url))
    }

    pub fn url(&self) -> &Url {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl TryFrom<String> for WebhookUrl {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        Self::parse(&raw)
    }
}

impl From<WebhookUrl> for String {
    fn from(url: WebhookUrl) -> Self {
        url.0.into()
    }
}

impl utoipa::PartialSchema for WebhookUrl {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::{ObjectBuilder, SchemaFormat, schema::Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::Custom("uri".into())))
            .max_length(Some(2048))
            .examples(["https://shop.example.com/pasar/webhooks"])
            .into()
    }
}

impl ToSchema for WebhookUrl {}

/// Where a delivery stands: `pending` (waiting for its next attempt), `delivered` (the
/// endpoint answered 2xx) or `dead` (every attempt failed; replay it to try again).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Dead,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "delivered" => Some(Self::Delivered),
            "dead" => Some(Self::Dead),
            _ => None,
        }
    }
}

const FIRST_RETRY: Duration = Duration::from_secs(10);
const LONGEST_RETRY: Duration = Duration::from_secs(60 * 60);

/// How long to wait after the `attempts`-th failed attempt: 10 s doubling each time, capped at
/// an hour, then "equal jitter" (between half and all of that, by `jitter` in 0..1) so that
/// endpoints failing together do not all retry in the same second.
pub fn retry_delay(attempts: u32, jitter: f64) -> Duration {
    let doublings = attempts.saturating_sub(1).min(20);
    let base = FIRST_RETRY.saturating_mul(1 << doublings).min(LONGEST_RETRY);
    base.div_f64(2.0).mul_f64(1.0 + jitter.clamp(0.0, 1.0))
}

/// What happens to a delivery after an attempt that failed.
pub fn after_failure(attempts: u32, max_attempts: u32) -> DeliveryStatus {
    if attempts >= max_attempts { DeliveryStatus::Dead } else { DeliveryStatus::Pending }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn types(raw: &[&str]) -> Result<EventTypes, String> {
        EventTypes::parse(raw.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn an_endpoint_wants_the_types_it_names_or_everything_with_a_star() {
        let some = types(&["order.created", "payment.completed", "order.created"]).unwrap();
        assert_eq!(some.as_slice().len(), 2, "duplicates are dropped");
        assert!(some.wants("order.created"));
        assert!(!some.wants("order.cancelled"));
        assert!(types(&["*"]).unwrap().wants("user.registered"));
    }

    #[test]
    fn event_types_must_look_like_event_types() {
        for bad in [&[][..], &["Order.Created"], &["order"], &["order..created"], &["order.*"], &[""]] {
            assert!(types(bad).is_err(), "{bad:?}");
        }
        assert!(types(&["wallet.deposit.completed", "stock.low"]).is_ok());
    }

    #[test]
    fn a_webhook_url_is_an_absolute_http_url_with_a_host() {
        assert!(WebhookUrl::parse("https://shop.example.com/hooks?x=1").is_ok());
        assert!(WebhookUrl::parse("http://127.0.0.1:8080/").is_ok(), "the guard decides about http");
        for bad in ["shop.example.com/hooks", "ftp://example.com/", "file:///etc/passwd", "https://", ""] {
            assert!(WebhookUrl::parse(bad).is_err(), "{bad}");
        }
        assert!(WebhookUrl::parse(&format!("https://example.com/{}", "a".repeat(2048))).is_err());
    }

    #[test]
    fn retries_start_at_ten_seconds_and_double_up_to_an_hour() {
        assert_eq!(retry_delay(1, 1.0), Duration::from_secs(10));
        assert_eq!(retry_delay(1, 0.0), Duration::from_secs(5));
        assert_eq!(retry_delay(2, 1.0), Duration::from_secs(20));
        assert_eq!(retry_delay(4, 1.0), Duration::from_secs(80));
        assert_eq!(retry_delay(30, 1.0), Duration::from_secs(3600));
    }

    #[test]
    fn a_delivery_is_dead_once_it_used_its_attempts() {
        assert_eq!(after_failure(1, 8), DeliveryStatus::Pending);
        assert_eq!(after_failure(8, 8), DeliveryStatus::Dead);
    }

    proptest! {
        #[test]
        fn the_delay_never_shrinks_past_half_or_exceeds_the_cap(attempts in 1u32..64, jitter in 0.0f64..1.0) {
            let delay = retry_delay(attempts, jitter);
            let base = FIRST_RETRY.saturating_mul(1 << attempts.saturating_sub(1).min(20)).min(LONGEST_RETRY);
            prop_assert!(delay >= base / 2);
            prop_assert!(delay <= LONGEST_RETRY);
        }
    }
}
