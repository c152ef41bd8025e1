//! Pakasir (Indonesia): QRIS and bank virtual accounts, in rupiah.
//!
//! Pakasir answers the raw QRIS string or the VA number; Pasar shows it (and draws the QR code
//! at `GET /v1/payments/{id}/qr.png`). Pakasir adds its own fee to the amount it is asked for, so
//! it is asked for the amount before fee, and its webhooks report that amount too.
//!
//! **The webhook is a hint.** Pakasir signs nothing: anyone can POST its JSON to
//! `/v1/webhooks/pakasir`. Pasar checks the project and the amount, then asks Pakasir's
//! `transactiondetail` (authenticated by the API key) and only a confirmed `completed` moves a
//! payment. A forged webhook therefore costs one status query and changes nothing.
//!
//! **The API key** travels in the JSON body of create and cancel and in the query string of
//! detail. The shared client logs URLs without their query string; every error this provider
//! returns is scrubbed of the key as well, in case Pakasir echoes a request back.
//!
//! No refunds and no payouts: Pakasir offers neither, and Pasar answers 422
//! `unsupported_by_provider` when asked.

pub mod transformers;

use std::time::Duration;

use axum::http::HeaderMap;
use reqwest::{Method, Url};

use self::transformers::{CreateResponse, DetailResponse, TransactionRequest};
use super::client::{ProviderClient, Retry};
use crate::config::Config;
use crate::ids::PaymentId;
use crate::money::{Currency, Money};
use crate::payments::domain::{FeeRule, Payment};
use crate::payments::gateway::{
    CreatePayment, CreatedPayment, Gateway, GatewayError, GatewayFuture, MethodOffer, Pay, PaymentReport,
    ProviderStatus, Status, WebhookNotice,
};
use crate::time::Timestamp;

pub const NAME: &str = "pakasir";

const IDR: &[Currency] = &[Currency::IDR];
const QRIS: &str = "qris";

/// Pakasir's bank virtual accounts (the `{method}` of `transactioncreate`).
pub const VA_METHODS: [&str; 9] = [
    "bni_va",
    "bri_va",
    "cimb_niaga_va",
    "sampoerna_va",
    "bnc_va",
    "maybank_va",
    "permata_va",
    "atm_bersama_va",
    "artha_graha_va",
];

const OFFERS: &[MethodOffer] = &[
    MethodOffer { method: QRIS, currencies: IDR },
    MethodOffer { method: VA_METHODS[0], currencies: IDR },
    MethodOffer { method: VA_METHODS[1], currencies: IDR },
    MethodOffer { method: VA_METHODS[2], currencies: IDR },
    MethodOffer { method: VA_METHODS[3], currencies: IDR },
    MethodOffer { method: VA_METHODS[4], currencies: IDR },
    MethodOffer { method: VA_METHODS[5], currencies: IDR },
    MethodOffer { method: VA_METHODS[6], currencies: IDR },
    MethodOffer { method: VA_METHODS[7], currencies: IDR },
    MethodOffer { method: VA_METHODS[8], currencies: IDR },
];

/// What configures Pakasir.
#[derive(Clone)]
pub struct PakasirSettings {
    pub project: String,
    pub api_key: String,
    pub base_url: String,
    /// The flat fee, in rupiah, shown before paying with a VA (Pakasir publishes no table).
    pub va_fee: i64,
    pub timeout: Duration,
}

impl PakasirSettings {
    /// Pakasir's settings, when its project and API key are both set (one without the other
    /// is a configuration mistake, said at start-up).
    pub fn from_config(config: &Config) -> Option<Self> {
        let project = config.pakasir_project.as_deref().map(str::trim).filter(|p| !p.is_empty());
        let api_key = config.pakasir_api_key.as_deref().map(str::trim).filter(|k| !k.is_empty());
        let (Some(project), Some(api_key)) = (project, api_key) else {
            if project.is_some() || api_key.is_some() {
                tracing::warn!(
                    "Pakasir is OFF: PASAR_PAKASIR_PROJECT and PASAR_PAKASIR_API_KEY must both be set"
                );
            }
            return None;
        };
        Some(Self {
            project: project.to_owned(),
            api_key: api_key.to_owned(),
            base_url: config.pakasir_base_url.clone(),
            va_fee: config.pakasir_va_fee,
            timeout: Duration::from_secs(config.pakasir_timeout_secs.max(1)),
        })
    }
}

impl std::fmt::Debug for PakasirSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PakasirSettings")
            .field("project", &self.project)
            .field("api_key", &"[redacted]")
            .field("base_url", &self.base_url)
            .field("va_fee", &self.va_fee)
            .finish()
    }
}

/// Pakasir's HTTP API: the three calls, with the key kept out of every error.
#[derive(Clone)]
struct Api {
    client: ProviderClient,
    base: Url,
    project: String,
    api_key: String,
}

impl Api {
    fn new(settings: &PakasirSettings) -> anyhow::Result<Self> {
        let base = Url::parse(settings.base_url.trim_end_matches('/'))
            .map_err(|e| anyhow::anyhow!("PASAR_PAKASIR_BASE_URL is not a URL: {e}"))?;
        anyhow::ensure!(
            matches!(base.scheme(), "http" | "https"),
            "PASAR_PAKASIR_BASE_URL must be http or https"
        );
        anyhow::ensure!(!settings.project.trim().is_empty(), "PASAR_PAKASIR_PROJECT is empty");
        anyhow::ensure!(!settings.api_key.trim().is_empty(), "PASAR_PAKASIR_API_KEY is empty");
        Ok(Self {
            // Three tries of what may be retried, as Pakasir's own SDK does.
            client: ProviderClient::new(NAME, settings.timeout, 3),
            base,
            project: settings.project.clone(),
            api_key: settings.api_key.clone(),
        })
    }

    fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        let joined = format!("{}/{path}", url.path().trim_end_matches('/'));
        url.set_path(&joined);
        url
    }

    fn body<'a>(&'a self, order_id: &'a str, amount: i64) -> TransactionRequest<'a> {
        TransactionRequest { project: &self.project, order_id, amount, api_key: &self.api_key }
    }

    /// An error with every trace of the key removed (Pakasir's own messages are kept in
    /// refusals, and a provider may echo a request back).
    fn scrub(&self, err: GatewayError) -> GatewayError {
        let clean = |text: String| text.replace(&self.api_key, "[redacted]");
        match err {
            GatewayError::Unavailable(text) => GatewayError::Unavailable(clean(text)),
            GatewayError::Refused(text) => GatewayError::Refused(clean(text)),
            GatewayError::BadWebhook(text) => GatewayError::BadWebhook(clean(text)),
            other => other,
        }
    }

    /// `POST /api/transactioncreate/{method}`. Sent once: Pakasir documents no idempotency
    /// key, so a create whose answer was lost is not sent again blindly.
    async fn create(
        &self,
        method: &str,
        order_id: &str,
        amount: i64,
    ) -> Result<CreateResponse, GatewayError> {
        let url = self.url(&format!("api/transactioncreate/{method}"));
        let answer = self
            .client
            .send(Retry::Never, || {
                self.client.request(Method::POST, url.as_str()).json(&self.body(order_id, amount))
            })
            .await;
        answer.and_then(|a| a.json()).map_err(|e| self.scrub(e))
    }

    /// `GET /api/transactiondetail`: a read, so retried on overload and transport errors.
    async fn detail(&self, order_id: &str, amount: i64) -> Result<DetailResponse, GatewayError> {
        let mut url = self.url("api/transactiondetail");
        url.query_pairs_mut()
            .append_pair("project", &self.project)
            .append_pair("amount", &amount.to_string())
            .append_pair("order_id", order_id)
            .append_pair("api_key", &self.api_key);
        let answer = self.client.send(Retry::Safe, || self.client.request(Method::GET, url.as_str())).await;
        answer.and_then(|a| a.json()).map_err(|e| self.scrub(e))
    }

    /// `POST /api/transactioncancel`: cancelling twice leaves one cancelled transaction, so it
    /// is retried like a read. Pakasir's answer says nothing useful; the status is asked after.
    async fn cancel(&self, order_id: &str, amount: i64) -> Result<(), GatewayError> {
        let url = self.url("api/transactioncancel");
        let answer = self
            .client
            .send(Retry::Safe, || {
                self.client.request(Method::POST, url.as_str()).json(&self.body(order_id, amount))
            })
            .await
            .map_err(|e| self.scrub(e))?;
        if answer.status.is_success() { Ok(()) } else { Err(self.scrub(answer.refusal())) }
    }
}

/// The Pakasir gateway.
#[derive(Clone)]
pub struct PakasirGateway {
    api: Api,
    va_fee: Money,
}

impl PakasirGateway {
    pub fn new(settings: &PakasirSettings) -> anyhow::Result<Self> {
        anyhow::ensure!(
            (0..=Money::LIMIT).contains(&settings.va_fee),
            "PASAR_PAKASIR_VA_FEE must be between 0 and {}",
            Money::LIMIT
        );
        Ok(Self { api: Api::new(settings)?, va_fee: Money::new(settings.va_fee, Currency::IDR) })
    }
}

/// The fee shown before paying with `method`, in rupiah only.
fn fee(method: &str, amount: Money, va_fee: Money) -> Result<Money, GatewayError> {
    if amount.currency != Currency::IDR {
        return Err(GatewayError::Unsupported("payments in this currency"));
    }
    if method == QRIS {
        Ok(FeeRule::PAKASIR_QRIS.fee_for(amount)?)
    } else if VA_METHODS.contains(&method) {
        Ok(va_fee)
    } else {
        Err(GatewayError::Unsupported("this payment method"))
    }
}

impl Gateway for PakasirGateway {
    fn name(&self) -> &'static str {
        NAME
    }

    fn offers(&self) -> &[MethodOffer] {
        OFFERS
    }

    /// QRIS: 0.7% + Rp 310, rounded up (it reproduces Pakasir's documented example). VA: the
    /// configured flat fee, as Pakasir publishes no table.
    fn fee(&self, method: &str, amount: Money) -> Result<Money, GatewayError> {
        fee(method, amount, self.va_fee)
    }

    fn pay(&self) -> &dyn Pay {
        self
    }

    fn status(&self) -> &dyn Status {
        self
    }
}

impl Pay for PakasirGateway {
    /// Asks Pakasir for a transaction whose `order_id` is Pasar's payment id, so a second
    /// create for one payment (a restart resuming a checkout) names the same transaction at
    /// Pakasir rather than a second charge; its answer is taken as that transaction's.
    fn create_payment<'a>(&'a self, request: &'a CreatePayment) -> GatewayFuture<'a, CreatedPayment> {
        Box::pin(async move {
            if request.amount.currency != Currency::IDR {
                return Err(GatewayError::Unsupported("payments in this currency"));
            }
            if request.amount.amount <= 0 {
                return Err(GatewayError::Refused("Pakasir takes amounts above zero".into()));
            }
            let order_id = request.payment_id.to_string();
            let created = match self.api.create(&request.method, &order_id, request.amount.amount).await {
                Ok(created) => created.payment,
                Err(err) => {
                    // The answer may have been lost after Pakasir created it: make sure no code
                    // stays payable for an order Pasar is about to release. In the background,
                    // so the buyer's answer does not wait for it.
                    if matches!(err, GatewayError::Unavailable(_)) {
                        let (api, payment, amount) =
                            (self.api.clone(), request.payment_id, request.amount.amount);
                        tokio::spawn(async move {
                            if let Err(cancel) = api.cancel(&payment.to_string(), amount).await {
                                tracing::debug!(%payment, error = %cancel, "no Pakasir transaction to cancel after a failed create");
                            }
                        });
                    }
                    return Err(err);
                }
            };
            if created.order_id != order_id || created.amount != request.amount.amount {
                return Err(GatewayError::Unavailable(
                    "Pakasir answered for another order or amount than it was asked".into(),
                ));
            }
            if created.total_payment != request.total.amount {
                tracing::warn!(
                    payment = %request.payment_id,
                    method = %request.method,
                    pasar_total = request.total.amount,
                    pakasir_total = created.total_payment,
                    pakasir_fee = created.fee,
                    "Pakasir's total differs from the total Pasar showed the buyer"
                );
            }
            if created.payment_number.trim().is_empty() {
                return Err(GatewayError::Unavailable("Pakasir answered no payment number".into()));
            }
            let expires_at = transformers::parse_time(&created.expired_at)?;
            Ok(CreatedPayment {
                provider_ref: created.order_id,
                payment_number: Some(created.payment_number),
                expires_at: Some(expires_at),
                provider_fee: created.fee.map(|fee| Money::new(fee, Currency::IDR)),
                ..CreatedPayment::default()
            })
        })
    }

    /// Pakasir wants the amount it was asked for (before fee) with every cancellation and
    /// status query.
    fn cancel_payment<'a>(&'a self, payment: &'a Payment) -> GatewayFuture<'a, ProviderStatus> {
        Box::pin(async move {
            let (payment_id, amount) = (payment.id, payment.amount.amount);
            match self.api.cancel(&payment_id.to_string(), amount).await {
                Ok(()) => {}
                // Pakasir refuses to cancel what is already paid or ended: its status says which.
                Err(GatewayError::Refused(reason)) => {
                    tracing::info!(payment = %payment_id, %reason, "Pakasir did not cancel; asking its status")
                }
                Err(other) => return Err(other),
            }
            self.status_of(payment_id, amount).await
        })
    }

    /// Pakasir signs nothing, so this only parses and checks the project: see the module's
    /// documentation. The pipeline then checks the amount and asks `transactiondetail`.
    fn verify_webhook(
        &self,
        _headers: &HeaderMap,
        body: &[u8],
        _now: Timestamp,
    ) -> Result<WebhookNotice, GatewayError> {
        transformers::notice(body, &self.api.project).map_err(|e| self.api.scrub(e))
    }
}

impl PakasirGateway {
    async fn status_of(&self, payment_id: PaymentId, amount: i64) -> Result<ProviderStatus, GatewayError> {
        let order_id = payment_id.to_string();
        let detail = self.api.detail(&order_id, amount).await?.transaction;
        if detail.order_id != order_id || detail.amount != amount {
            return Err(GatewayError::Unavailable(
                "Pakasir answered for another order or amount than it was asked".into(),
            ));
        }
        let status = transformers::provider_status(&detail.status)?;
        if status == ProviderStatus::Succeeded && detail.completed_at.is_none() {
            tracing::debug!(payment = %payment_id, "Pakasir reports completed without completed_at");
        }
        Ok(status)
    }
}

impl Status for PakasirGateway {
    /// Pakasir's fee is known from the payment's creation, so a report carries none.
    fn payment_status<'a>(&'a self, payment: &'a Payment) -> GatewayFuture<'a, PaymentReport> {
        Box::pin(async move {
            Ok(PaymentReport::status(self.status_of(payment.id, payment.amount.amount).await?))
        })
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::extract::RawQuery;
    use axum::http::StatusCode;
    use axum::routing::{get, post};

    use super::*;

    const KEY: &str = "pk_live_5ecret_key_that_must_not_leak";

    fn settings(base_url: String) -> PakasirSettings {
        PakasirSettings {
            project: "depodomain".into(),
            api_key: KEY.into(),
            base_url,
            va_fee: 4000,
            timeout: Duration::from_secs(2),
        }
    }

    /// A server that refuses everything, quoting the request back (as some APIs do).
    async fn echoing_server() -> String {
        let app = Router::new()
            .route(
                "/api/transactiondetail",
                get(|RawQuery(query): RawQuery| async move {
                    (
                        StatusCode::BAD_REQUEST,
                        format!("{{\"error\":\"bad request: {}\"}}", query.unwrap_or_default()),
                    )
                }),
            )
            .route(
                "/api/transactioncreate/{method}",
                post(|body: String| async move { (StatusCode::BAD_GATEWAY, body) }),
            )
            .route(
                "/api/transactioncancel",
                post(|body: String| async move { (StatusCode::UNPROCESSABLE_ENTITY, body) }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{address}")
    }

    #[tokio::test]
    async fn errors_from_failed_calls_never_carry_the_api_key() {
        let api = Api::new(&settings(echoing_server().await)).unwrap();
        let refused = api.detail("pay_1", 99_000).await.unwrap_err().to_string();
        assert!(refused.contains("bad request"), "Pakasir's message is kept: {refused}");
        assert!(refused.contains("api_key=[redacted]"), "the echoed key is replaced: {refused}");
        let failed = api.create("qris", "pay_1", 99_000).await.unwrap_err().to_string();
        let cancel = api.cancel("pay_1", 99_000).await.unwrap_err().to_string();
        assert!(cancel.contains("[redacted]"), "the echoed key is replaced: {cancel}");

        // Nothing listens on port 9 (discard) of this host: a transport error.
        let unreachable = Api::new(&settings("http://127.0.0.1:9".into())).unwrap();
        let transport = unreachable.detail("pay_1", 99_000).await.unwrap_err().to_string();
        assert!(!transport.contains("api_key"), "no URL in a transport error: {transport}");
        for error in [refused, failed, cancel, transport] {
            assert!(!error.contains(KEY), "the key leaked into {error:?}");
        }
    }

    #[test]
    fn settings_never_show_the_key() {
        let shown = format!("{:?}", settings("https://app.pakasir.com".into()));
        assert!(!shown.contains(KEY), "{shown}");
        let body = TransactionRequest { project: "p", order_id: "o", amount: 1, api_key: KEY };
        assert!(!format!("{body:?}").contains(KEY));
    }

    #[test]
    fn paths_join_a_base_url_with_or_without_a_trailing_slash_or_a_prefix() {
        for (base, expected) in [
            ("https://app.pakasir.com", "https://app.pakasir.com/api/transactioncancel"),
            ("https://app.pakasir.com/", "https://app.pakasir.com/api/transactioncancel"),
            ("http://127.0.0.1:9/pakasir/", "http://127.0.0.1:9/pakasir/api/transactioncancel"),
        ] {
            let api = Api::new(&settings(base.into())).unwrap();
            assert_eq!(api.url("api/transactioncancel").as_str(), expected);
        }
        assert!(Api::new(&settings("ftp://example".into())).is_err());
    }

    #[test]
    fn fees_are_pakasirs_qris_rule_and_the_flat_va_fee_in_rupiah_only() {
        let va = Money::new(4000, Currency::IDR);
        let fee = |method: &str, amount: Money| fee(method, amount, va);
        // The documented example: 99000 → fee 1003, total 100003.
        assert_eq!(fee("qris", Money::new(99_000, Currency::IDR)).unwrap().amount, 1003);
        assert_eq!(fee("bni_va", Money::new(99_000, Currency::IDR)).unwrap().amount, 4000);
        assert!(fee("card", Money::new(99_000, Currency::IDR)).is_err());
        assert!(fee("qris", Money::new(99_000, Currency::JPY)).is_err());
    }
}
