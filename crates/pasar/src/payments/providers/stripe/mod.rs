//! Stripe: cards through a hosted Checkout Session, and konbini slips (JPY) through a confirmed
//! PaymentIntent; status, cancel and refund by Stripe's REST API; signed webhooks.
//!
//! A small client over [`ProviderClient`] rather than a Stripe SDK crate: the SDKs generate
//! every object of Stripe's API and would cost more build time than the whole payments module,
//! for the handful of calls Pasar makes. Requests are form-encoded with `Authorization: Bearer
//! sk_…`, and every POST carries an `Idempotency-Key` derived from Pasar's payment id and the
//! operation, so a retry (after a timeout, or a restart that asks again) is the same request
//! and Stripe answers it once: that is what makes [`Retry::Safe`] right for them.
//!
//! **Cards: a Checkout Session, not a bare PaymentIntent.** A PaymentIntent's `client_secret`
//! must be confirmed in the browser by Stripe.js; Pasar's pages are server-rendered without it,
//! and its API clients (the Telegram storefront) have no browser at all. A Checkout Session is
//! a page at Stripe that the buyer is sent to (`checkout_url`), with 3-D Secure, wallets and
//! retries after a decline handled there. Pasar keeps the session id as `provider_ref` (with the
//! PaymentIntent's, `cs_…/pi_…`, when the session already has one: Stripe may create it only
//! when the buyer pays) and reads the intent through the session when it asks.
//!
//! **Deadlines.** A session must live at least 30 minutes and at most 24 hours. When Pasar's
//! deadline is sooner (its default is 10 minutes), the session is made to live 31 minutes and
//! Pasar expires it at Stripe when its own deadline passes ([`Pay::cancel_on_expiry`]); a
//! buyer who pays in that gap is a late payment, which checkout handles like any other. A
//! konbini slip asks for `expires_after_days` when those days end before Pasar's deadline, and
//! otherwise for an exact `expires_at` at Pasar's deadline (at least 30 minutes out), so the
//! slip never shows a date that Pasar would not honour.

pub mod transformers;

use std::time::Duration;

use axum::http::HeaderMap;
use reqwest::Method;
use serde::de::DeserializeOwned;

use self::transformers::{CheckoutSession, Form, KonbiniExpiry, PaymentIntent, Refund, StripeRef};
use super::client::{ProviderClient, Retry};
use crate::config::Config;
use crate::ids::RefundId;
use crate::money::{Currency, Money};
use crate::payments::Payment;
use crate::payments::gateway::{
    CreatePayment, CreatedPayment, Gateway, GatewayError, GatewayFuture, MethodOffer, Pay, PaymentReport,
    ProviderStatus, RefundStatus, Refunds, Status, WebhookNotice,
};
use crate::time::{Clock, Timestamp};

pub const NAME: &str = "stripe";
pub const SIGNATURE_HEADER: &str = "stripe-signature";

/// Cards are taken in every currency of Pasar's list (IDR, JPY, USD, EUR, SGD, MYR, GBP, AUD,
/// THB, PHP), all of which Stripe charges cards in: an empty list means all of them. A currency
/// added to Pasar's list must be checked against Stripe's before it is offered here.
const CARD_CURRENCIES: &[Currency] = &[];
const OFFERS: &[MethodOffer] = &[
    MethodOffer { method: "card", currencies: CARD_CURRENCIES },
    MethodOffer { method: "konbini", currencies: &[Currency::JPY] },
];

/// Stripe's settings, from `PASAR_STRIPE_*`.
#[derive(Clone)]
pub struct StripeSettings {
    pub secret_key: String,
    pub webhook_secret: Vec<u8>,
    pub base_url: String,
    pub konbini_expires_after_days: u32,
}

impl StripeSettings {
    /// Stripe is on when both its secret key and its webhook secret are set; one without the
    /// other is a configuration error (payments could be taken but never confirmed).
    pub fn from_config(config: &Config) -> anyhow::Result<Option<Self>> {
        let (key, secret) = match (&config.stripe_secret_key, &config.stripe_webhook_secret) {
            (None, None) => return Ok(None),
            (Some(key), Some(secret)) if !key.is_empty() && !secret.is_empty() => (key, secret),
            _ => anyhow::bail!("PASAR_STRIPE_SECRET_KEY and PASAR_STRIPE_WEBHOOK_SECRET are set together"),
        };
        anyhow::ensure!(
            (1..=60).contains(&config.stripe_konbini_expires_after_days),
            "PASAR_STRIPE_KONBINI_EXPIRES_AFTER_DAYS must be 1 to 60"
        );
        let base_url = config.stripe_base_url.trim_end_matches('/').to_owned();
        anyhow::ensure!(
            base_url.starts_with("https://") || base_url.starts_with("http://"),
            "PASAR_STRIPE_BASE_URL must be an http(s) URL"
        );
        Ok(Some(Self {
            secret_key: key.clone(),
            webhook_secret: secret.as_bytes().to_vec(),
            base_url,
            konbini_expires_after_days: config.stripe_konbini_expires_after_days,
        }))
    }
}

#[derive(Clone)]
pub struct StripeGateway {
    settings: StripeSettings,
    clock: Clock,
    /// Where the buyer comes back to after the hosted page.
    public_url: String,
    client: ProviderClient,
}

impl StripeGateway {
    pub fn new(settings: StripeSettings, clock: Clock, public_url: &str) -> Self {
        Self::with_client(settings, clock, public_url, ProviderClient::new(NAME, Duration::from_secs(20), 3))
    }

    /// Stripe as configured, or None when its secrets are not set.
    pub fn configured(config: &Config, clock: &Clock, public_url: &str) -> anyhow::Result<Option<Self>> {
        Ok(StripeSettings::from_config(config)?
            .map(|settings| Self::new(settings, clock.clone(), public_url)))
    }

    /// With a client of the caller's (shorter timeouts and backoffs in tests).
    pub fn with_client(
        settings: StripeSettings,
        clock: Clock,
        public_url: &str,
        client: ProviderClient,
    ) -> Self {
        Self { settings, clock, public_url: public_url.trim_end_matches('/').to_owned(), client }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.base_url)
    }

    /// A POST with its idempotency key, retried safely; answers the object or Stripe's refusal.
    async fn post<T: DeserializeOwned>(&self, path: &str, key: &str, form: &Form) -> Result<T, GatewayError> {
        let url = self.url(path);
        let answer = self
            .client
            .send(Retry::Safe, || {
                self.client
                    .request(Method::POST, &url)
                    .bearer_auth(&self.settings.secret_key)
                    .header("idempotency-key", key)
                    .form(form)
            })
            .await?;
        answer.json()
    }

    /// A GET of one object, with the fields to `expand`.
    async fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, &str)]) -> Result<T, GatewayError> {
        let url = self.url(path);
        let answer = self
            .client
            .send(Retry::Safe, || {
                self.client.request(Method::GET, &url).bearer_auth(&self.settings.secret_key).query(query)
            })
            .await?;
        answer.json()
    }

    /// A session or intent is read with its charge and the charge's balance transaction, which
    /// carries Stripe's fee.
    async fn session(&self, id: &str) -> Result<CheckoutSession, GatewayError> {
        let expand = [("expand[]", "payment_intent.latest_charge.balance_transaction")];
        self.get(&format!("/v1/checkout/sessions/{id}"), &expand).await
    }

    async fn intent(&self, id: &str) -> Result<PaymentIntent, GatewayError> {
        let expand = [("expand[]", "latest_charge.balance_transaction")];
        self.get(&format!("/v1/payment_intents/{id}"), &expand).await
    }

    async fn status_of(&self, stripe_ref: &StripeRef) -> Result<PaymentReport, GatewayError> {
        Ok(match stripe_ref {
            StripeRef::Session { id, .. } => {
                let session = self.session(id).await?;
                PaymentReport {
                    status: transformers::session_status(&session),
                    fee: transformers::session_fee(&session),
                }
            }
            StripeRef::Intent(id) => {
                let intent = self.intent(id).await?;
                PaymentReport {
                    status: transformers::intent_status(&intent),
                    fee: transformers::intent_fee(&intent),
                }
            }
        })
    }

    async fn create_session(&self, request: &CreatePayment) -> Result<CreatedPayment, GatewayError> {
        let expires_at = transformers::session_expiry(request.expires_at, self.clock.now());
        // Pasar has no buyer pages yet: the buyer comes back to the public URL, naming the payment.
        let back =
            |outcome: &str| format!("{}/?payment={}&stripe={outcome}", self.public_url, request.payment_id);
        let form = transformers::session_form(request, &back("success"), &back("cancel"), expires_at)?;
        // The expiry is part of the key: it is the one field that may differ when a restart
        // asks again, and Stripe refuses a key reused with other parameters.
        let key = format!("pasar_{}_checkout_session_{expires_at}", request.payment_id);
        let session: CheckoutSession = self.post("/v1/checkout/sessions", &key, &form).await?;
        let url = session
            .url
            .clone()
            .ok_or_else(|| GatewayError::Unavailable("Stripe answered a session without its URL".into()))?;
        let stripe_ref = StripeRef::Session {
            id: session.id.clone(),
            payment_intent: session.payment_intent.as_ref().map(|i| i.id().to_owned()),
        };
        Ok(CreatedPayment {
            provider_ref: stripe_ref.text(),
            checkout_url: Some(url),
            expires_at: Some(transformers::seconds(session.expires_at.unwrap_or(expires_at))),
            ..CreatedPayment::default()
        })
    }

    async fn create_konbini(&self, request: &CreatePayment) -> Result<CreatedPayment, GatewayError> {
        let expiry = transformers::konbini_expiry(
            request.expires_at,
            self.clock.now(),
            self.settings.konbini_expires_after_days,
        );
        let form = transformers::konbini_form(request, expiry)?;
        let key = match expiry {
            KonbiniExpiry::AfterDays(days) => format!("pasar_{}_konbini_{days}d", request.payment_id),
            KonbiniExpiry::At(at) => format!("pasar_{}_konbini_{at}", request.payment_id),
        };
        let intent: PaymentIntent = self.post("/v1/payment_intents", &key, &form).await?;
        let details = intent
            .next_action
            .as_ref()
            .and_then(|action| action.konbini_display_details.as_ref())
            .ok_or_else(|| {
                GatewayError::Unavailable("Stripe answered a konbini intent without its slip".into())
            })?;
        Ok(CreatedPayment {
            provider_ref: StripeRef::Intent(intent.id.clone()).text(),
            checkout_url: Some(details.hosted_voucher_url.clone()),
            expires_at: Some(transformers::seconds(details.expires_at)),
            instructions: Some(transformers::konbini_instructions(details)),
            ..CreatedPayment::default()
        })
    }

    /// The PaymentIntent behind a payment (a session's, read from the session when not kept).
    async fn intent_id(&self, stripe_ref: &StripeRef) -> Result<Option<String>, GatewayError> {
        match stripe_ref {
            StripeRef::Intent(id) | StripeRef::Session { payment_intent: Some(id), .. } => {
                Ok(Some(id.clone()))
            }
            StripeRef::Session { id, payment_intent: None } => {
                Ok(self.session(id).await?.payment_intent.map(|i| i.id().to_owned()))
            }
        }
    }
}

impl Gateway for StripeGateway {
    fn name(&self) -> &'static str {
        NAME
    }

    fn offers(&self) -> &[MethodOffer] {
        OFFERS
    }

    /// Nothing is added for the buyer: Stripe takes its fee from the merchant's payout.
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
}

impl Pay for StripeGateway {
    fn create_payment<'a>(&'a self, request: &'a CreatePayment) -> GatewayFuture<'a, CreatedPayment> {
        Box::pin(async move {
            match request.method.as_str() {
                "card" => self.create_session(request).await,
                "konbini" => self.create_konbini(request).await,
                _ => Err(GatewayError::Unsupported("this payment method")),
            }
        })
    }

    /// Expires an open session (`POST /v1/checkout/sessions/{id}/expire`) or cancels an unpaid
    /// intent (`POST /v1/payment_intents/{id}/cancel`). Stripe refuses both once the payment
    /// went through; either way the answer is what Stripe then says of the payment.
    fn cancel_payment<'a>(&'a self, payment: &'a Payment) -> GatewayFuture<'a, ProviderStatus> {
        Box::pin(async move {
            let payment_id = payment.id;
            let Some(stripe_ref) = located(payment) else {
                // Stripe's answer never reached Pasar, so no buyer has its page or slip.
                return Ok(ProviderStatus::Cancelled);
            };
            let (path, operation) = match &stripe_ref {
                StripeRef::Session { id, .. } => (format!("/v1/checkout/sessions/{id}/expire"), "expire"),
                StripeRef::Intent(id) => (format!("/v1/payment_intents/{id}/cancel"), "cancel"),
            };
            let key = format!("pasar_{payment_id}_{operation}");
            match self.post::<serde_json::Value>(&path, &key, &Form::new()).await {
                Ok(_) | Err(GatewayError::Refused(_)) => Ok(self.status_of(&stripe_ref).await?.status),
                Err(other) => Err(other),
            }
        })
    }

    fn verify_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: Timestamp,
    ) -> Result<WebhookNotice, GatewayError> {
        let header =
            headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).ok_or(GatewayError::BadSignature)?;
        transformers::verify_signature(&self.settings.webhook_secret, header, body, now)?;
        let event: transformers::Event =
            serde_json::from_slice(body).map_err(|e| GatewayError::BadWebhook(e.to_string()))?;
        transformers::notice_of(event)
    }
}

impl Status for StripeGateway {
    fn payment_status<'a>(&'a self, payment: &'a Payment) -> GatewayFuture<'a, PaymentReport> {
        Box::pin(async move {
            match located(payment) {
                Some(stripe_ref) => self.status_of(&stripe_ref).await,
                None => Ok(PaymentReport::status(ProviderStatus::Pending)),
            }
        })
    }
}

impl Refunds for StripeGateway {
    /// `POST /v1/refunds` for the payment's PaymentIntent, keyed by Pasar's refund id so a
    /// retried refund is one refund. A konbini payment cannot go back to a slip: Pasar sends
    /// that money to the buyer's wallet instead.
    fn refund<'a>(
        &'a self,
        payment: &'a Payment,
        refund_id: RefundId,
        amount: Money,
    ) -> GatewayFuture<'a, RefundStatus> {
        Box::pin(async move {
            if payment.method == "konbini" {
                return Err(GatewayError::Unsupported("refunds of konbini payments"));
            }
            let stripe_ref = located(payment)
                .ok_or_else(|| GatewayError::Refused("Stripe never took this payment".into()))?;
            let intent = self
                .intent_id(&stripe_ref)
                .await?
                .ok_or_else(|| GatewayError::Refused("the buyer never paid this session".into()))?;
            let form = transformers::refund_form(&intent, amount, payment.id, refund_id)?;
            let key = format!("pasar_{refund_id}");
            let refund: Refund = self.post("/v1/refunds", &key, &form).await?;
            tracing::info!(payment = %payment.id, refund = %refund.id, status = %refund.status, "Stripe refund");
            Ok(transformers::refund_status(&refund))
        })
    }

    /// Looks among the payment's refunds for the one that names `refund_id` in its metadata.
    fn refund_status<'a>(
        &'a self,
        payment: &'a Payment,
        refund_id: RefundId,
    ) -> GatewayFuture<'a, Option<RefundStatus>> {
        Box::pin(async move {
            let Some(stripe_ref) = located(payment) else { return Ok(None) };
            let Some(intent) = self.intent_id(&stripe_ref).await? else { return Ok(None) };
            // A payment is refunded a few times at most: one page of 100 holds them all.
            let query = [("payment_intent", intent.as_str()), ("limit", "100")];
            let refunds: transformers::List<Refund> = self.get("/v1/refunds", &query).await?;
            Ok(transformers::refund_named(&refunds.data, refund_id).map(transformers::refund_status))
        })
    }
}

/// Where `payment` lives at Stripe; None when Stripe's answer to its creation never came.
fn located(payment: &Payment) -> Option<StripeRef> {
    payment.provider_ref.as_deref().and_then(StripeRef::parse)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn stripe_is_on_only_with_both_secrets_and_days_between_1_and_60() {
        let none = Config::default();
        assert!(StripeSettings::from_config(&none).unwrap().is_none());
        let key_only = Config { stripe_secret_key: Some("sk_test_1".into()), ..Config::default() };
        assert!(StripeSettings::from_config(&key_only).is_err(), "a key without its webhook secret");
        let both = Config { stripe_webhook_secret: Some("whsec_1".into()), ..key_only };
        let settings = StripeSettings::from_config(&both).unwrap().unwrap();
        assert_eq!(
            (settings.base_url.as_str(), settings.konbini_expires_after_days),
            (Config::default().stripe_base_url.as_str(), 3)
        );
        for days in [0, 61] {
            let config = Config { stripe_konbini_expires_after_days: days, ..both.clone() };
            assert!(StripeSettings::from_config(&config).is_err(), "{days} days");
        }
    }

    #[tokio::test]
    async fn a_stripe_that_never_answers_is_unavailable_after_a_bounded_number_of_tries() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counted = accepted.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                held.push(socket);
            }
        });
        let settings = StripeSettings {
            secret_key: "sk_test_1".into(),
            webhook_secret: b"whsec_1".to_vec(),
            base_url: format!("http://{address}"),
            konbini_expires_after_days: 3,
        };
        let client = ProviderClient::new(NAME, Duration::from_millis(200), 2)
            .with_first_backoff(Duration::from_millis(10));
        let stripe = StripeGateway::with_client(settings, Clock::system(), "http://pasar.test", client);
        let request = CreatePayment {
            payment_id: crate::ids::PaymentId::new(),
            method: "card".into(),
            payer_email: None,
            amount: Money::new(40_000, Currency::IDR),
            total: Money::new(40_000, Currency::IDR),
            description: "Order".into(),
            expires_at: Clock::system().now().plus(Duration::from_secs(600)),
        };
        let started = std::time::Instant::now();
        let err = stripe.pay().create_payment(&request).await.unwrap_err();
        assert!(matches!(err, GatewayError::Unavailable(_)), "{err:?}");
        assert_eq!(accepted.load(Ordering::SeqCst), 2, "tried again: the POST carries its idempotency key");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
