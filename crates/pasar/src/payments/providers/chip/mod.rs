//! CHIP (Malaysia, MYR) and Revio (South Africa, ZAR): one gateway API under two names, so one
//! adapter configured twice (`chip` and `revio`), each with its own key, brand, base URL and
//! webhook URL.
//!
//! **Pay.** `POST {base}/purchases/` with the buyer's email and one product (the payment's
//! total, in minor units), Pasar's payment id as `reference`, Pasar's deadline as `due` with
//! `due_strict`, and `success_callback` at Pasar's webhook. The buyer pays on the hosted page
//! (`checkout_url`); Pasar keeps the purchase id as `provider_ref`. CHIP documents no
//! idempotency key, so the create is sent once ([`Retry::Never`]): a create whose answer was
//! lost leaves an unpaid purchase that expires at `due`.
//!
//! **Webhooks.** `X-Signature` is base64 of an RSA PKCS#1 v1.5 signature over SHA-256 of the
//! raw body, checked before anything is parsed, against the configured public key or the one
//! `GET {base}/public_key/` answers (fetched on first need and kept). `verify_webhook` cannot
//! wait for a fetch: a webhook that arrives before the key is known is answered 503 (CHIP
//! retries for 36 hours) and the fetch is started. Every flow that talks to CHIP fetches it
//! first, so in practice the key is known before the first webhook. The body is the Purchase
//! (or Payout) plus `event_type`; the pipeline then asks `GET /purchases/{id}/` for the truth.
//!
//! **Payouts.** `POST {base}/payouts/` then `POST {base}/payouts/{id}/execute/`. The execute
//! call is UNVERIFIED (the stored documentation says only "execute using the payout ID /
//! execution_url"); it carries the bank destination, whose field names are Pasar's own and
//! UNVERIFIED as well. The payout's `client.email` is the payee's account email, which the
//! wallet passes with the payout.

pub mod transformers;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::http::HeaderMap;
use reqwest::Method;
use rsa::RsaPublicKey;
use serde::Serialize;
use serde::de::DeserializeOwned;

use self::transformers::{Client, Product, PurchaseDetails, PurchaseRequest, RefundAnswer, RefundRequest};
use super::client::{Answer, ProviderClient, Retry};
use crate::config::Config;
use crate::db::Db;
use crate::ids::{PayoutId, RefundId};
use crate::money::{Currency, Money};
use crate::payments::Payment;
use crate::payments::gateway::{
    CreatePayment, CreatePayout, CreatedPayment, CreatedPayout, Gateway, GatewayError, GatewayFuture,
    MethodOffer, Pay, PaymentReport, PayoutNotice, Payouts, ProviderPayoutStatus, ProviderStatus,
    RefundStatus, Refunds, Status, WebhookNotice,
};
use crate::payments::payout_store;
use crate::time::Timestamp;

pub const CHIP: &str = "chip";
pub const REVIO: &str = "revio";
pub const SIGNATURE_HEADER: &str = "x-signature";
/// The one method: CHIP's hosted payment page.
pub const HOSTED: &str = "hosted";

const CHIP_OFFERS: &[MethodOffer] = &[MethodOffer { method: HOSTED, currencies: &[Currency::MYR] }];
const REVIO_OFFERS: &[MethodOffer] = &[MethodOffer { method: HOSTED, currencies: &[Currency::ZAR] }];

/// One configuration of the gateway: CHIP's or Revio's.
#[derive(Clone)]
pub struct ChipSettings {
    /// `chip` or `revio`: the name in URLs and records.
    pub name: &'static str,
    pub secret_key: String,
    pub brand_id: String,
    pub base_url: String,
    /// The PEM key webhooks are signed with; None fetches it from `{base}/public_key/`.
    pub public_key: Option<String>,
}

impl std::fmt::Debug for ChipSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChipSettings")
            .field("name", &self.name)
            .field("secret_key", &"[redacted]")
            .field("brand_id", &self.brand_id)
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl ChipSettings {
    /// CHIP's settings (`PASAR_CHIP_*`), when its secret key and brand id are both set.
    pub fn chip(config: &Config) -> anyhow::Result<Option<Self>> {
        Self::from_parts(
            CHIP,
            "PASAR_CHIP",
            config.chip_secret_key.as_deref(),
            config.chip_brand_id.as_deref(),
            &config.chip_base_url,
            config.chip_public_key.as_deref(),
        )
    }

    /// Revio's settings (`PASAR_REVIO_*`), when its secret key and brand id are both set.
    pub fn revio(config: &Config) -> anyhow::Result<Option<Self>> {
        Self::from_parts(
            REVIO,
            "PASAR_REVIO",
            config.revio_secret_key.as_deref(),
            config.revio_brand_id.as_deref(),
            &config.revio_base_url,
            config.revio_public_key.as_deref(),
        )
    }

    fn from_parts(
        name: &'static str,
        prefix: &str,
        secret_key: Option<&str>,
        brand_id: Option<&str>,
        base_url: &str,
        public_key: Option<&str>,
    ) -> anyhow::Result<Option<Self>> {
        let set = |value: Option<&str>| value.map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        let (secret_key, brand_id) = match (set(secret_key), set(brand_id)) {
            (None, None) => return Ok(None),
            (Some(key), Some(brand)) => (key, brand),
            _ => anyhow::bail!("{prefix}_SECRET_KEY and {prefix}_BRAND_ID are set together"),
        };
        let base_url = base_url.trim().trim_end_matches('/').to_owned();
        anyhow::ensure!(
            base_url.starts_with("https://") || base_url.starts_with("http://"),
            "{prefix}_BASE_URL must be an http(s) URL"
        );
        let public_key = set(public_key);
        if let Some(pem) = &public_key {
            transformers::parse_public_key(pem).map_err(|e| anyhow::anyhow!("{prefix}_PUBLIC_KEY is {e}"))?;
        }
        Ok(Some(Self { name, secret_key, brand_id, base_url, public_key }))
    }
}

#[derive(Clone)]
pub struct ChipGateway {
    settings: ChipSettings,
    /// Read-only: each payment's purchase id, each payout's id at CHIP.
    db: Db,
    public_url: String,
    client: ProviderClient,
    /// The key webhooks are verified with: configured, or fetched once.
    public_key: Arc<RwLock<Option<RsaPublicKey>>>,
}

impl ChipGateway {
    pub fn new(settings: ChipSettings, db: Db, public_url: &str) -> Self {
        let client = ProviderClient::new(settings.name, Duration::from_secs(20), 3);
        Self::with_client(settings, db, public_url, client)
    }

    /// With a client of the caller's (shorter timeouts and backoffs in tests).
    pub fn with_client(settings: ChipSettings, db: Db, public_url: &str, client: ProviderClient) -> Self {
        let key = settings.public_key.as_deref().and_then(|pem| transformers::parse_public_key(pem).ok());
        Self {
            settings,
            db,
            public_url: public_url.trim_end_matches('/').to_owned(),
            client,
            public_key: Arc::new(RwLock::new(key)),
        }
    }

    /// CHIP and Revio as configured, in that order.
    pub fn configured(config: &Config, db: &Db, public_url: &str) -> anyhow::Result<Vec<Self>> {
        let mut gateways = Vec::new();
        for settings in [ChipSettings::chip(config)?, ChipSettings::revio(config)?].into_iter().flatten() {
            gateways.push(Self::new(settings, db.clone(), public_url));
        }
        Ok(gateways)
    }

    fn offers_for(&self) -> &'static [MethodOffer] {
        if self.settings.name == REVIO { REVIO_OFFERS } else { CHIP_OFFERS }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.base_url)
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        retry: Retry,
        body: Option<&[u8]>,
    ) -> Result<Answer, GatewayError> {
        let url = self.url(path);
        self.client
            .send(retry, || {
                let request =
                    self.client.request(method.clone(), &url).bearer_auth(&self.settings.secret_key);
                match body {
                    Some(body) => request.header("content-type", "application/json").body(body.to_vec()),
                    None => request,
                }
            })
            .await
    }

    async fn post<T: DeserializeOwned, B: Serialize + Sync>(
        &self,
        path: &str,
        retry: Retry,
        body: &B,
    ) -> Result<T, GatewayError> {
        self.fetch_key_quietly().await;
        let json = serde_json::to_vec(body).map_err(|e| GatewayError::Unavailable(e.to_string()))?;
        self.call(Method::POST, path, retry, Some(&json)).await?.json()
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, GatewayError> {
        self.fetch_key_quietly().await;
        self.call(Method::GET, path, Retry::Safe, None).await?.json()
    }

    /// The webhook key, fetching it from `GET {base}/public_key/` when none is known yet.
    async fn ensure_key(&self) -> Result<RsaPublicKey, GatewayError> {
        if let Some(key) = self.public_key.read().expect("the key lock").clone() {
            return Ok(key);
        }
        let answer = self.call(Method::GET, "/public_key/", Retry::Safe, None).await?;
        if !answer.status.is_success() {
            return Err(answer.refusal());
        }
        // The key comes as a JSON string; a bare PEM body is taken too.
        let pem = serde_json::from_slice::<String>(&answer.body)
            .unwrap_or_else(|_| String::from_utf8_lossy(&answer.body).into_owned());
        let key = transformers::parse_public_key(&pem).map_err(GatewayError::Unavailable)?;
        *self.public_key.write().expect("the key lock") = Some(key.clone());
        Ok(key)
    }

    async fn fetch_key_quietly(&self) {
        if let Err(err) = self.ensure_key().await {
            tracing::warn!(provider = self.settings.name, error = %err, "could not fetch the webhook public key");
        }
    }

    /// Checks `X-Signature` over the raw body with the known key; without one, starts a fetch
    /// and answers Unavailable so the gateway delivers again later.
    fn check_signature(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), GatewayError> {
        let header =
            headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).ok_or(GatewayError::BadSignature)?;
        let key = self.public_key.read().expect("the key lock").clone();
        let Some(key) = key else {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                let this = self.clone();
                runtime.spawn(async move { this.fetch_key_quietly().await });
            }
            return Err(GatewayError::Unavailable(format!(
                "{}'s webhook public key is not known yet",
                self.settings.name
            )));
        };
        transformers::verify_signature(&key, header, body)
    }

    async fn purchase_report(&self, purchase_id: &str) -> Result<PaymentReport, GatewayError> {
        let purchase: transformers::Purchase = self.get(&format!("/purchases/{purchase_id}/")).await?;
        Ok(PaymentReport {
            status: transformers::purchase_status(&purchase.status),
            fee: transformers::purchase_fee(&purchase),
        })
    }
}

impl Gateway for ChipGateway {
    fn name(&self) -> &'static str {
        self.settings.name
    }

    fn offers(&self) -> &[MethodOffer] {
        self.offers_for()
    }

    /// Nothing is added for the buyer: the gateway takes its fee from the merchant.
    fn fee(&self, _method: &str, amount: Money) -> Result<Money, GatewayError> {
        Ok(Money::zero(amount.currency))
    }

    fn pay(&self) -> &dyn Pay {
        self
    }

    fn status(&self) -> &dyn Status {
        self
    }

    fn refunds(&self) -> Option<&dyn Refunds> {
        Some(self)
    }

    fn payouts(&self) -> Option<&dyn Payouts> {
        Some(self)
    }
}

impl Pay for ChipGateway {
    fn create_payment<'a>(&'a self, request: &'a CreatePayment) -> GatewayFuture<'a, CreatedPayment> {
        Box::pin(async move {
            if request.method != HOSTED {
                return Err(GatewayError::Unsupported("this payment method"));
            }
            let email = request.payer_email.as_deref().ok_or_else(|| {
                GatewayError::Refused(format!("{} needs the payer's email", self.settings.name))
            })?;
            let back = |outcome: &str| {
                format!(
                    "{}/?payment={}&{}={outcome}",
                    self.public_url, request.payment_id, self.settings.name
                )
            };
            let body = PurchaseRequest {
                brand_id: &self.settings.brand_id,
                client: Client { email },
                purchase: PurchaseDetails {
                    currency: request.total.currency.code(),
                    products: vec![Product { name: &request.description, price: request.total.amount }],
                    due_strict: true,
                },
                reference: request.payment_id.to_string(),
                success_callback: format!("{}/v1/webhooks/{}", self.public_url, self.settings.name),
                success_redirect: back("success"),
                failure_redirect: back("failure"),
                due: request.expires_at.unix_seconds(),
            };
            let purchase: transformers::Purchase = self.post("/purchases/", Retry::Never, &body).await?;
            let checkout_url = purchase.checkout_url.clone().ok_or_else(|| {
                GatewayError::Unavailable("the gateway answered a purchase without its checkout_url".into())
            })?;
            if purchase.purchase.total != request.total.amount {
                return Err(GatewayError::Unavailable(
                    "the gateway answered another total than asked".into(),
                ));
            }
            Ok(CreatedPayment {
                provider_ref: purchase.id,
                checkout_url: Some(checkout_url),
                ..CreatedPayment::default()
            })
        })
    }

    /// `POST /purchases/{id}/cancel/`; a refusal (already paid or ended) is answered by the
    /// purchase's status. Cancelling twice cancels once, so it is retried like a read.
    fn cancel_payment<'a>(&'a self, payment: &'a Payment) -> GatewayFuture<'a, ProviderStatus> {
        Box::pin(async move {
            let Some(purchase_id) = payment.provider_ref.as_deref() else {
                return Ok(ProviderStatus::Cancelled);
            };
            let path = format!("/purchases/{purchase_id}/cancel/");
            match self.post::<serde_json::Value, _>(&path, Retry::Safe, &serde_json::json!({})).await {
                Ok(_) | Err(GatewayError::Refused(_)) => Ok(self.purchase_report(purchase_id).await?.status),
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
        self.check_signature(headers, body)?;
        transformers::purchase_notice(body)
    }
}

impl Status for ChipGateway {
    /// The purchase id is the payment's `provider_ref`; None when CHIP never answered its
    /// creation.
    fn payment_status<'a>(&'a self, payment: &'a Payment) -> GatewayFuture<'a, PaymentReport> {
        Box::pin(async move {
            match payment.provider_ref.as_deref() {
                Some(purchase_id) => self.purchase_report(purchase_id).await,
                None => Ok(PaymentReport::status(ProviderStatus::Pending)),
            }
        })
    }
}

impl Refunds for ChipGateway {
    /// `POST /purchases/{id}/refund/` with the amount. CHIP documents no idempotency key, so
    /// the refund is sent once ([`Retry::Never`]); `refund_id` is logged with it.
    fn refund<'a>(
        &'a self,
        payment: &'a Payment,
        refund_id: RefundId,
        amount: Money,
    ) -> GatewayFuture<'a, RefundStatus> {
        Box::pin(async move {
            let purchase_id = payment
                .provider_ref
                .as_deref()
                .ok_or_else(|| GatewayError::Refused("the gateway never took this payment".into()))?;
            let path = format!("/purchases/{purchase_id}/refund/");
            let answer: RefundAnswer =
                self.post(&path, Retry::Never, &RefundRequest { amount: amount.amount }).await?;
            let status = transformers::refund_status(&answer);
            tracing::info!(provider = self.settings.name, payment = %payment.id, refund = %refund_id, ?status, "refund");
            Ok(status)
        })
    }
}

impl Payouts for ChipGateway {
    /// `POST /payouts/` (sent once: no idempotency key is documented), then
    /// `POST /payouts/{id}/execute/` with the bank destination.
    ///
    /// UNVERIFIED: the execute request. The stored documentation says only that a payout is
    /// executed "using the payout ID / execution_url"; this path and its body are Pasar's
    /// choice until checked against the live gateway.
    fn create_payout<'a>(&'a self, request: &'a CreatePayout) -> GatewayFuture<'a, CreatedPayout> {
        Box::pin(async move {
            let email = request.payee_email.as_deref().ok_or_else(|| {
                GatewayError::Refused(format!("{} needs the payee's email for a payout", self.settings.name))
            })?;
            let body = transformers::PayoutRequest {
                client: Client { email },
                payment: transformers::PayoutPayment {
                    currency: request.amount.currency.code(),
                    amount: request.amount.amount,
                    description: &request.description,
                },
                reference: request.payout_id.to_string(),
                brand_id: &self.settings.brand_id,
            };
            let payout: transformers::Payout = self.post("/payouts/", Retry::Never, &body).await?;
            let destination = serde_json::json!({
                "bank_code": request.destination.bank_code.as_str(),
                "account_number": request.destination.account_number.as_str(),
                "account_name": request.destination.account_name.as_str(),
            });
            let path = format!("/payouts/{}/execute/", payout.id);
            let _: serde_json::Value = self.post(&path, Retry::Never, &destination).await?;
            Ok(CreatedPayout { provider_ref: payout.id })
        })
    }

    fn payout_status<'a>(&'a self, payout_id: PayoutId) -> GatewayFuture<'a, ProviderPayoutStatus> {
        Box::pin(async move {
            let payout = payout_store::payout(self.db.reader(), payout_id)
                .await
                .map_err(|e| GatewayError::Unavailable(e.to_string()))?
                .ok_or_else(|| GatewayError::Refused(format!("no payout {payout_id}")))?;
            let Some(reference) = payout.provider_ref else {
                return Ok(ProviderPayoutStatus::Pending);
            };
            let at_gateway: transformers::Payout = self.get(&format!("/payouts/{reference}/")).await?;
            Ok(transformers::payout_status(&at_gateway.status))
        })
    }

    fn verify_payout_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        _now: Timestamp,
    ) -> Result<PayoutNotice, GatewayError> {
        self.check_signature(headers, body)?;
        transformers::payout_notice(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chip_and_revio_are_each_on_with_their_key_and_brand() {
        let none = Config::default();
        assert!(ChipSettings::chip(&none).unwrap().is_none());
        assert!(ChipSettings::revio(&none).unwrap().is_none());
        let key_only = Config { chip_secret_key: Some("sk".into()), ..Config::default() };
        assert!(ChipSettings::chip(&key_only).is_err());
        let both = Config { chip_brand_id: Some("brand".into()), ..key_only };
        let chip = ChipSettings::chip(&both).unwrap().unwrap();
        assert_eq!((chip.name, chip.base_url.as_str()), (CHIP, Config::default().chip_base_url.as_str()));
        assert!(!format!("{chip:?}").contains("sk\""), "the key is not shown");
        let revio = Config {
            revio_secret_key: Some("rk".into()),
            revio_brand_id: Some("b".into()),
            revio_public_key: Some("not a key".into()),
            ..Config::default()
        };
        assert!(ChipSettings::revio(&revio).is_err(), "a public key that is not PEM stops start-up");
    }
}
