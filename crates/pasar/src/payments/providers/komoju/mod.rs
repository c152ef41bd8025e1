//! KOMOJU (Japan): konbini slips in yen, paid in cash at a convenience store.
//!
//! A small client over [`ProviderClient`]: `POST /payments` creates the slip at the store
//! configured by `PASAR_KOMOJU_KONBINI_STORE` (KOMOJU needs the store chosen at creation and
//! cannot change it afterwards), `GET /payments/{id}` reads it and `POST /payments/{id}/cancel`
//! stops it. Requests are JSON with HTTP Basic auth (the secret key as the username, no
//! password). Every POST carries an `X-KOMOJU-IDEMPOTENCY` key derived from Pasar's payment id
//! and the operation (KOMOJU answers a repeated key with the first answer, for 24 hours), which
//! is what makes [`Retry::Safe`] right for them.
//!
//! **Webhooks** (`POST /v1/webhooks/komoju`) are signed: `X-Komoju-Signature` is the hex
//! HMAC-SHA256 of the raw body with the webhook's secret token, checked in constant time before
//! anything is parsed. The event names the payment by `external_order_num` (Pasar's payment id);
//! its status is then confirmed by asking KOMOJU, so a stale or repeated event changes nothing.
//!
//! **No refunds.** A slip cannot be paid back at the store: Pasar refunds a konbini payment to
//! the buyer's wallet instead ([`Gateway::refunds`] is None).

pub mod transformers;

use std::time::Duration;

use axum::http::HeaderMap;
use reqwest::Method;
use serde::de::DeserializeOwned;

use self::transformers::KomojuPayment;
use super::client::{ProviderClient, Retry};
use crate::config::Config;
use crate::money::{Currency, Money};
use crate::payments::domain::Payment;
use crate::payments::gateway::{
    CreatePayment, CreatedPayment, Gateway, GatewayError, GatewayFuture, MethodOffer, Pay, PaymentReport,
    ProviderStatus, Status, WebhookNotice,
};
use crate::time::Timestamp;

pub const NAME: &str = "komoju";
pub const SIGNATURE_HEADER: &str = "x-komoju-signature";
pub const IDEMPOTENCY_HEADER: &str = "x-komoju-idempotency";

const OFFERS: &[MethodOffer] = &[MethodOffer { method: "konbini", currencies: &[Currency::JPY] }];

/// KOMOJU's settings, from `PASAR_KOMOJU_*`.
#[derive(Clone)]
pub struct KomojuSettings {
    pub secret_key: String,
    pub webhook_secret: Vec<u8>,
    pub base_url: String,
    pub konbini_store: String,
}

impl KomojuSettings {
    /// KOMOJU is on when both its secret key and its webhook secret are set; one without the
    /// other is a configuration error (slips could be made but never confirmed).
    pub fn from_config(config: &Config) -> anyhow::Result<Option<Self>> {
        let (key, secret) = match (&config.komoju_secret_key, &config.komoju_webhook_secret) {
            (None, None) => return Ok(None),
            (Some(key), Some(secret)) if !key.is_empty() && !secret.is_empty() => (key, secret),
            _ => anyhow::bail!("PASAR_KOMOJU_SECRET_KEY and PASAR_KOMOJU_WEBHOOK_SECRET are set together"),
        };
        let base_url = config.komoju_base_url.trim_end_matches('/').to_owned();
        anyhow::ensure!(
            base_url.starts_with("https://") || base_url.starts_with("http://"),
            "PASAR_KOMOJU_BASE_URL must be an http(s) URL"
        );
        let store = config.komoju_konbini_store.trim().to_owned();
        anyhow::ensure!(
            !store.is_empty() && store.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
            "PASAR_KOMOJU_KONBINI_STORE must be a KOMOJU store name, such as lawson"
        );
        Ok(Some(Self {
            secret_key: key.clone(),
            webhook_secret: secret.as_bytes().to_vec(),
            base_url,
            konbini_store: store,
        }))
    }
}

#[derive(Clone)]
pub struct KomojuGateway {
    settings: KomojuSettings,
    client: ProviderClient,
}

impl KomojuGateway {
    pub fn new(settings: KomojuSettings) -> Self {
        Self::with_client(settings, ProviderClient::new(NAME, Duration::from_secs(20), 3))
    }

    /// KOMOJU as configured, or None when its secrets are not set.
    pub fn configured(config: &Config) -> anyhow::Result<Option<Self>> {
        Ok(KomojuSettings::from_config(config)?.map(Self::new))
    }

    /// With a client of the caller's (shorter timeouts and backoffs in tests).
    pub fn with_client(settings: KomojuSettings, client: ProviderClient) -> Self {
        Self { settings, client }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.base_url)
    }

    /// A POST with its idempotency key, retried safely; answers the object or KOMOJU's refusal.
    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        key: &str,
        body: &impl serde::Serialize,
    ) -> Result<T, GatewayError> {
        let url = self.url(path);
        let answer = self
            .client
            .send(Retry::Safe, || {
                self.client
                    .request(Method::POST, &url)
                    .basic_auth(&self.settings.secret_key, Some(""))
                    .header(IDEMPOTENCY_HEADER, key)
                    .json(body)
            })
            .await?;
        answer.json()
    }

    async fn get_payment(&self, id: &str) -> Result<KomojuPayment, GatewayError> {
        let url = self.url(&format!("/payments/{id}"));
        let answer = self
            .client
            .send(Retry::Safe, || {
                self.client.request(Method::GET, &url).basic_auth(&self.settings.secret_key, Some(""))
            })
            .await?;
        answer.json()
    }
}

impl Gateway for KomojuGateway {
    fn name(&self) -> &'static str {
        NAME
    }

    fn offers(&self) -> &[MethodOffer] {
        OFFERS
    }

    /// Nothing is added for the buyer.
    fn fee(&self, _method: &str, amount: Money) -> Result<Money, GatewayError> {
        Ok(Money::zero(amount.currency))
    }

    fn pay(&self) -> &dyn Pay {
        self
    }

    fn status(&self) -> &dyn Status {
        self
    }
}

impl Pay for KomojuGateway {
    fn create_payment<'a>(&'a self, request: &'a CreatePayment) -> GatewayFuture<'a, CreatedPayment> {
        Box::pin(async move {
            if request.method != "konbini" {
                return Err(GatewayError::Unsupported("this payment method"));
            }
            let body = transformers::create_body(request, &self.settings.konbini_store)?;
            let key = format!("pasar_{}_konbini_{}", request.payment_id, self.settings.konbini_store);
            let payment: KomojuPayment = self.post("/payments", &key, &body).await?;
            let instructions_url =
                payment.payment_details.as_ref().and_then(|details| details.instructions_url.clone());
            Ok(CreatedPayment {
                provider_ref: payment.id.clone(),
                checkout_url: instructions_url,
                expires_at: payment.payment_deadline.as_deref().and_then(transformers::parse_time),
                instructions: Some(transformers::konbini_instructions(&payment)),
                ..CreatedPayment::default()
            })
        })
    }

    /// `POST /payments/{id}/cancel`. KOMOJU refuses it once the slip was paid (or is over);
    /// either way the answer is what KOMOJU then says of the payment.
    fn cancel_payment<'a>(&'a self, payment: &'a Payment) -> GatewayFuture<'a, ProviderStatus> {
        Box::pin(async move {
            let payment_id = payment.id;
            let Some(id) = located(payment) else {
                return Ok(ProviderStatus::Cancelled);
            };
            let key = format!("pasar_{payment_id}_cancel");
            let path = format!("/payments/{id}/cancel");
            match self.post::<serde_json::Value>(&path, &key, &serde_json::json!({})).await {
                Ok(_) | Err(GatewayError::Refused(_)) => {
                    Ok(transformers::payment_status(&self.get_payment(id).await?.status))
                }
                Err(other) => Err(other),
            }
        })
    }

    fn verify_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        _now: Timestamp,
    ) -> Result<WebhookNotice, GatewayError> {
        let header =
            headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).ok_or(GatewayError::BadSignature)?;
        transformers::verify_signature(&self.settings.webhook_secret, header, body)?;
        let event: transformers::Event =
            serde_json::from_slice(body).map_err(|e| GatewayError::BadWebhook(e.to_string()))?;
        transformers::notice_of(event)
    }
}

impl Status for KomojuGateway {
    fn payment_status<'a>(&'a self, payment: &'a Payment) -> GatewayFuture<'a, PaymentReport> {
        Box::pin(async move {
            match located(payment) {
                Some(id) => Ok(PaymentReport::status(transformers::payment_status(
                    &self.get_payment(id).await?.status,
                ))),
                None => Ok(PaymentReport::status(ProviderStatus::Pending)),
            }
        })
    }
}

/// KOMOJU's id of `payment`; None when KOMOJU never answered its creation (no buyer ever saw
/// a slip for it).
fn located(payment: &Payment) -> Option<&str> {
    payment.provider_ref.as_deref().filter(|r| !r.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn komoju_is_on_only_with_both_secrets_and_a_store_name() {
        let none = Config::default();
        assert!(KomojuSettings::from_config(&none).unwrap().is_none());
        let key_only = Config { komoju_secret_key: Some("sk_test_1".into()), ..Config::default() };
        assert!(KomojuSettings::from_config(&key_only).is_err(), "a key without its webhook secret");
        let both = Config { komoju_webhook_secret: Some("whsec_1".into()), ..key_only };
        let settings = KomojuSettings::from_config(&both).unwrap().unwrap();
        assert_eq!(
            (settings.base_url.as_str(), settings.konbini_store.as_str()),
            (Config::default().komoju_base_url.as_str(), Config::default().komoju_konbini_store.as_str())
        );
        for store in ["", "Lawson", "law son"] {
            let config = Config { komoju_konbini_store: store.into(), ..both.clone() };
            assert!(KomojuSettings::from_config(&config).is_err(), "{store:?}");
        }
    }

    #[test]
    fn komoju_offers_konbini_in_yen_only() {
        let offers = OFFERS;
        assert_eq!(offers.len(), 1);
        assert_eq!((offers[0].method, offers[0].currencies), ("konbini", &[Currency::JPY][..]));
    }
}
