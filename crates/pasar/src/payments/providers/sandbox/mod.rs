//! The sandbox gateway: a real provider in test mode, built in. It keeps its own charges (as a
//! gateway would, in its own table), shows a hosted pay page with Pay and Fail buttons, and
//! reports outcomes by POSTing a signed webhook to Pasar's `/v1/webhooks/sandbox` over HTTP,
//! exactly the path a real gateway's webhook takes. Its Expire button makes the payment's time
//! run out at once: the charge stops being payable and Pasar ends the payment as its expiry job
//! does at the deadline.
//!
//! Signature: `Sandbox-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`,
//! Stripe's scheme, checked in constant time with a 300-second tolerance.
//!
//! Like real QR gateways, a sandbox charge stays payable for a short grace period past Pasar's
//! deadline (clocks and networks are not instant), so a payment can land after Pasar expired
//! the order: the late-payment case Pasar must handle.
//!
//! Payouts work the same way the other direction: the sandbox keeps them in `sandbox_payouts`,
//! its hosted page `/sandbox/payouts/{payout_id}` (the operator's view at a real provider) has
//! Succeed and Fail buttons, and the outcome reaches Pasar as a signed webhook POSTed to
//! `/v1/webhooks/sandbox/payouts`.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Html;
use sqlx::Row;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub mod transformers;

pub use self::transformers::{
    SandboxEvent, SandboxEventData, SandboxPayoutEvent, SandboxPayoutEventData, signature_header,
    verify_signature,
};
use self::transformers::{provider_payout_status, provider_status};
use crate::db::Db;
use crate::http::AppState;
use crate::http::extract::ApiPath;
use crate::ids::{PaymentId, PayoutId, RefundId};
use crate::money::{Currency, Money};
use crate::payments::PaymentPurpose;
use crate::payments::domain::{FeeRule, Payment};
use crate::payments::gateway::{
    CreatePayment, CreatePayout, CreatedPayment, CreatedPayout, Gateway, GatewayError, GatewayFuture,
    MethodOffer, NoticeAmount, Pay, PaymentReport, PayoutNotice, Payouts, ProviderPayoutStatus,
    ProviderStatus, RefundStatus, Refunds, Status, WebhookNotice,
};
use crate::time::{Clock, Timestamp};

pub const NAME: &str = "sandbox";
pub const SIGNATURE_HEADER: &str = "sandbox-signature";
const GRACE: Duration = Duration::from_secs(120);

/// A payout as the sandbox keeps it.
struct SandboxPayout {
    status: String,
    payout_ref: String,
    amount: Money,
    bank_code: String,
    account_number: String,
    account_name: String,
}

#[derive(Clone)]
pub struct SandboxGateway {
    db: Db,
    clock: Clock,
    secret: Vec<u8>,
    public_url: String,
    http: reqwest::Client,
}

impl SandboxGateway {
    pub fn new(db: Db, clock: Clock, secret: Vec<u8>, public_url: String) -> Self {
        let http =
            reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("an HTTP client");
        Self { db, clock, secret, public_url, http }
    }

    async fn status_of(
        &self,
        payment_id: PaymentId,
    ) -> Result<Option<(String, String, Money, Timestamp)>, GatewayError> {
        let row = sqlx::query(
            "SELECT status, charge_ref, currency, amount, expires_at FROM sandbox_charges WHERE payment_id = $1",
        )
        .bind(payment_id.to_string())
        .fetch_optional(self.db.reader())
        .await
        .map_err(unavailable)?;
        row.map(|row| {
            let currency: String = row.try_get("currency").map_err(unavailable)?;
            let currency = Currency::parse(&currency).map_err(|e| GatewayError::Unavailable(e.into()))?;
            Ok((
                row.try_get("status").map_err(unavailable)?,
                row.try_get("charge_ref").map_err(unavailable)?,
                Money::new(row.try_get("amount").map_err(unavailable)?, currency),
                Timestamp::from_millis(row.try_get("expires_at").map_err(unavailable)?),
            ))
        })
        .transpose()
    }

    /// What the shop said the charge is for (`Order ord_…`, `Wallet deposit`).
    async fn description_of(&self, payment_id: PaymentId) -> Result<String, GatewayError> {
        sqlx::query_scalar("SELECT description FROM sandbox_charges WHERE payment_id = $1")
            .bind(payment_id.to_string())
            .fetch_one(self.db.reader())
            .await
            .map_err(unavailable)
    }

    /// Moves a charge from one status to another; false when it was not in `from`.
    async fn move_charge(
        &self,
        payment_id: PaymentId,
        from: &str,
        to: &str,
        payable: bool,
    ) -> Result<bool, GatewayError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await.map_err(unavailable)?;
        let done = sqlx::query(
            "UPDATE sandbox_charges SET status = $1, updated_at = $2
             WHERE payment_id = $3 AND status = $4 AND ($5 = 0 OR expires_at > $2)",
        )
        .bind(to)
        .bind(now.millis())
        .bind(payment_id.to_string())
        .bind(from)
        .bind(i64::from(payable))
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn payout_of(&self, payout_id: PayoutId) -> Result<Option<SandboxPayout>, GatewayError> {
        let row = sqlx::query(
            "SELECT status, payout_ref, currency, amount, bank_code, account_number, account_name
             FROM sandbox_payouts WHERE payout_id = $1",
        )
        .bind(payout_id.to_string())
        .fetch_optional(self.db.reader())
        .await
        .map_err(unavailable)?;
        row.map(|row| {
            let currency: String = row.try_get("currency").map_err(unavailable)?;
            let currency = Currency::parse(&currency).map_err(|e| GatewayError::Unavailable(e.into()))?;
            Ok(SandboxPayout {
                status: row.try_get("status").map_err(unavailable)?,
                payout_ref: row.try_get("payout_ref").map_err(unavailable)?,
                amount: Money::new(row.try_get("amount").map_err(unavailable)?, currency),
                bank_code: row.try_get("bank_code").map_err(unavailable)?,
                account_number: row.try_get("account_number").map_err(unavailable)?,
                account_name: row.try_get("account_name").map_err(unavailable)?,
            })
        })
        .transpose()
    }

    /// The operator pressed Succeed or Fail on a payout's page. Only a pending payout moves,
    /// so money is sent or refused once.
    async fn settle_payout(&self, payout_id: PayoutId, outcome: &str) -> Result<bool, GatewayError> {
        let mut tx = self.db.begin().await.map_err(unavailable)?;
        let done = sqlx::query(
            "UPDATE sandbox_payouts SET status = $1, updated_at = $2 WHERE payout_id = $3 AND status = 'pending'",
        )
        .bind(outcome)
        .bind(self.clock.now().millis())
        .bind(payout_id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        let payout = self.payout_of(payout_id).await?.ok_or(GatewayError::Refused("no payout".into()))?;
        let event = SandboxPayoutEvent {
            id: format!("sbxevt_{}", uuid::Uuid::now_v7().simple()),
            kind: format!("payout.{}", payout.status),
            created: self.clock.now().unix_seconds(),
            data: SandboxPayoutEventData {
                payout_id,
                payout_ref: payout.payout_ref,
                status: payout.status,
                amount: payout.amount,
            },
        };
        let body = serde_json::to_vec(&event).map_err(|e| GatewayError::Unavailable(e.to_string()))?;
        tokio::spawn(self.clone().deliver(format!("/v1/webhooks/{NAME}/payouts"), body));
        Ok(true)
    }

    /// The buyer pressed Pay or Fail on the hosted page.
    pub async fn settle(&self, payment_id: PaymentId, outcome: &str) -> Result<bool, GatewayError> {
        if !self.move_charge(payment_id, "pending", outcome, true).await? {
            return Ok(false);
        }
        let (status, charge_ref, amount, _) =
            self.status_of(payment_id).await?.ok_or(GatewayError::Refused("no charge".into()))?;
        let event = SandboxEvent {
            id: format!("sbxevt_{}", uuid::Uuid::now_v7().simple()),
            kind: format!("payment.{status}"),
            created: self.clock.now().unix_seconds(),
            data: SandboxEventData { payment_id, charge_ref, status, amount },
        };
        let body = serde_json::to_vec(&event).map_err(|e| GatewayError::Unavailable(e.to_string()))?;
        tokio::spawn(self.clone().deliver(format!("/v1/webhooks/{NAME}"), body));
        Ok(true)
    }

    /// Delivers a webhook the way gateways do: retried with backoff until Pasar answers 2xx.
    async fn deliver(self, path: String, body: Vec<u8>) {
        let url = format!("{}{path}", self.public_url);
        let mut wait = Duration::from_millis(200);
        for attempt in 1..=8 {
            let signature = signature_header(&self.secret, self.clock.now().unix_seconds(), &body);
            let sent = self
                .http
                .post(&url)
                .header("content-type", "application/json")
                .header(SIGNATURE_HEADER, signature)
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(response) if response.status().is_success() => return,
                Ok(response) => {
                    tracing::warn!(attempt, status = %response.status(), "sandbox webhook refused; retrying")
                }
                Err(err) => tracing::warn!(attempt, error = %err, "sandbox webhook not delivered; retrying"),
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(30));
        }
        tracing::error!(%url, "sandbox webhook given up after 8 attempts; reconciliation must pick it up");
    }
}

fn unavailable(err: impl std::fmt::Display) -> GatewayError {
    GatewayError::Unavailable(err.to_string())
}

impl Gateway for SandboxGateway {
    fn name(&self) -> &'static str {
        NAME
    }

    fn offers(&self) -> &[MethodOffer] {
        &[MethodOffer { method: NAME, currencies: &[] }]
    }

    /// The sandbox charges what Pakasir's QRIS charges, so buyers see realistic fees.
    fn fee(&self, _method: &str, amount: Money) -> Result<Money, GatewayError> {
        Ok(FeeRule::PAKASIR_QRIS.fee_for(amount)?)
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

impl Pay for SandboxGateway {
    /// The sandbox keeps a charge payable for a grace period past Pasar's deadline, as a QR
    /// gateway whose cancellation arrives after the buyer paid, so late payments can be tried.
    fn cancel_on_expiry(&self) -> bool {
        false
    }

    fn create_payment<'a>(&'a self, request: &'a CreatePayment) -> GatewayFuture<'a, CreatedPayment> {
        Box::pin(async move {
            let now = self.clock.now();
            let mut tx = self.db.begin().await.map_err(unavailable)?;
            sqlx::query(
                "INSERT INTO sandbox_charges (payment_id, charge_ref, status, currency, amount, description,
                                              expires_at, created_at, updated_at)
                 VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $7) ON CONFLICT (payment_id) DO NOTHING",
            )
            .bind(request.payment_id.to_string())
            .bind(format!("sbx_{}", uuid::Uuid::now_v7().simple()))
            .bind(request.total.currency.code())
            .bind(request.total.amount)
            .bind(&request.description)
            .bind(request.expires_at.plus(GRACE).millis())
            .bind(now.millis())
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
            tx.commit().await.map_err(unavailable)?;
            let (_, charge_ref, _, _) = self
                .status_of(request.payment_id)
                .await?
                .ok_or(GatewayError::Refused("charge vanished".into()))?;
            Ok(CreatedPayment {
                provider_ref: charge_ref,
                checkout_url: Some(format!("{}/sandbox/pay/{}", self.public_url, request.payment_id)),
                ..CreatedPayment::default()
            })
        })
    }

    fn cancel_payment<'a>(&'a self, payment: &'a Payment) -> GatewayFuture<'a, ProviderStatus> {
        Box::pin(async move {
            self.move_charge(payment.id, "pending", "cancelled", false).await?;
            Ok(self.payment_status(payment).await?.status)
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
        verify_signature(&self.secret, header, body, now)?;
        let event: SandboxEvent =
            serde_json::from_slice(body).map_err(|e| GatewayError::BadWebhook(e.to_string()))?;
        Ok(WebhookNotice {
            event_id: event.id,
            payment_id: event.data.payment_id,
            amount: event.data.amount,
            covers: NoticeAmount::Total,
        })
    }
}

impl Status for SandboxGateway {
    fn payment_status<'a>(&'a self, payment: &'a Payment) -> GatewayFuture<'a, PaymentReport> {
        Box::pin(async move {
            let (status, ..) =
                self.status_of(payment.id).await?.ok_or(GatewayError::Refused("no such charge".into()))?;
            Ok(PaymentReport::status(provider_status(&status)))
        })
    }
}

impl Refunds for SandboxGateway {
    /// Refunds in part or whole, each refund id once; the charge reads `refunded` when all of
    /// what was owed has gone back.
    fn refund<'a>(
        &'a self,
        payment: &'a Payment,
        refund_id: RefundId,
        amount: Money,
    ) -> GatewayFuture<'a, RefundStatus> {
        Box::pin(async move {
            let (status, ..) =
                self.status_of(payment.id).await?.ok_or(GatewayError::Refused("no such charge".into()))?;
            if status != "succeeded" && status != "refunded" {
                return Ok(RefundStatus::Failed);
            }
            let mut tx = self.db.begin().await.map_err(unavailable)?;
            sqlx::query(
                "INSERT INTO sandbox_refunds (refund_id, payment_id, amount, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (refund_id) DO NOTHING",
            )
            .bind(refund_id.to_string())
            .bind(payment.id.to_string())
            .bind(amount.amount)
            .bind(self.clock.now().millis())
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
            let refunded: i64 = sqlx::query_scalar(
                "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM sandbox_refunds WHERE payment_id = $1",
            )
            .bind(payment.id.to_string())
            .fetch_one(&mut *tx)
            .await
            .map_err(unavailable)?;
            if refunded > payment.amount.amount {
                return Ok(RefundStatus::Failed);
            }
            tx.commit().await.map_err(unavailable)?;
            if refunded == payment.amount.amount {
                self.move_charge(payment.id, "succeeded", "refunded", false).await?;
            }
            Ok(RefundStatus::Succeeded)
        })
    }

    fn refund_status<'a>(
        &'a self,
        _payment: &'a Payment,
        refund_id: RefundId,
    ) -> GatewayFuture<'a, Option<RefundStatus>> {
        Box::pin(async move {
            let found = sqlx::query("SELECT refund_id FROM sandbox_refunds WHERE refund_id = $1")
                .bind(refund_id.to_string())
                .fetch_optional(self.db.reader())
                .await
                .map_err(unavailable)?;
            Ok(found.map(|_| RefundStatus::Succeeded))
        })
    }
}

impl Payouts for SandboxGateway {
    fn create_payout<'a>(&'a self, request: &'a CreatePayout) -> GatewayFuture<'a, CreatedPayout> {
        Box::pin(async move {
            let now = self.clock.now();
            let destination = &request.destination;
            let mut tx = self.db.begin().await.map_err(unavailable)?;
            sqlx::query(
                "INSERT INTO sandbox_payouts (payout_id, payout_ref, status, currency, amount, bank_code,
                                              account_number, account_name, description, created_at, updated_at)
                 VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8, $9, $9) ON CONFLICT (payout_id) DO NOTHING",
            )
            .bind(request.payout_id.to_string())
            .bind(format!("sbxpo_{}", uuid::Uuid::now_v7().simple()))
            .bind(request.amount.currency.code())
            .bind(request.amount.amount)
            .bind(destination.bank_code.as_str())
            .bind(destination.account_number.as_str())
            .bind(destination.account_name.as_str())
            .bind(&request.description)
            .bind(now.millis())
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
            tx.commit().await.map_err(unavailable)?;
            let payout = self
                .payout_of(request.payout_id)
                .await?
                .ok_or(GatewayError::Refused("payout vanished".into()))?;
            Ok(CreatedPayout { provider_ref: payout.payout_ref })
        })
    }

    fn payout_status<'a>(&'a self, payout_id: PayoutId) -> GatewayFuture<'a, ProviderPayoutStatus> {
        Box::pin(async move {
            let payout =
                self.payout_of(payout_id).await?.ok_or(GatewayError::Refused("no such payout".into()))?;
            Ok(provider_payout_status(&payout.status))
        })
    }

    fn payout_page(&self, payout_id: PayoutId) -> Option<String> {
        Some(format!("{}/sandbox/payouts/{payout_id}", self.public_url))
    }

    fn verify_payout_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: Timestamp,
    ) -> Result<PayoutNotice, GatewayError> {
        let header =
            headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).ok_or(GatewayError::BadSignature)?;
        verify_signature(&self.secret, header, body, now)?;
        let event: SandboxPayoutEvent =
            serde_json::from_slice(body).map_err(|e| GatewayError::BadWebhook(e.to_string()))?;
        Ok(PayoutNotice { event_id: event.id, payout_id: event.data.payout_id, amount: event.data.amount })
    }
}

/// The hosted pages: the pay page a buyer visits and the payout page an operator visits, each
/// with its two buttons.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(pay_page))
        .routes(routes!(press_pay))
        .routes(routes!(press_fail))
        .routes(routes!(press_expire))
        .routes(routes!(payout_page))
        .routes(routes!(press_payout_succeed))
        .routes(routes!(press_payout_fail))
}

/// Text from outside (an account holder's name) made safe to put in a page.
fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:sans-serif;max-width:30em;margin:3em auto}}button{{font-size:1.2em;margin:.5em}}</style>\
         </head><body><h1>{title}</h1>{body}</body></html>"
    ))
}

/// The sandbox gateway's hosted pay page, with Pay and Fail buttons.
#[utoipa::path(
    get, path = "/sandbox/pay/{payment_id}", tag = "sandbox", params(("payment_id" = PaymentId, Path)),
    responses((status = 200, description = "the pay page", body = String, content_type = "text/html"),
              (status = 404, description = "no such payment: the HTML page, or the JSON envelope for an id that does not parse",
               content((String = "text/html"), (crate::http::error::ErrorEnvelope = "application/json"))),
              (status = 503, description = "the sandbox could not be read, or the request took too long",
               content((String = "text/html"), (crate::http::error::ErrorEnvelope = "application/json"))))
)]
async fn pay_page(
    State(state): State<AppState>,
    ApiPath(payment_id): ApiPath<PaymentId>,
) -> (StatusCode, Html<String>) {
    match state.sandbox.status_of(payment_id).await {
        Ok(Some((status, charge_ref, amount, expires_at))) => {
            let now = state.sandbox.clock.now();
            // The shop's deadline; the charge itself stays payable for GRACE after it.
            let deadline = expires_at.minus(GRACE);
            let pending = status == "pending";
            let (shown, note) = if pending && now >= expires_at {
                ("expired", "<p>The time to pay is over: this charge can no longer be paid.</p>".to_owned())
            } else if pending && now >= deadline {
                (
                    "expired",
                    format!(
                        "<p><strong>The shop's deadline passed at {}.</strong> Paying now is a late payment:                          the shop takes it if the goods are still in stock, otherwise it owes you a refund.                          The sandbox accepts late payments until {}.</p>",
                        deadline.to_rfc3339(),
                        expires_at.to_rfc3339()
                    ),
                )
            } else if pending {
                (status.as_str(), format!("<p>Payable until {}.</p>", deadline.to_rfc3339()))
            } else {
                (status.as_str(), String::new())
            };
            let buttons = if pending && now < expires_at {
                let pay = if now >= deadline { "Pay late" } else { "Pay" };
                format!(
                    "<form method=\"post\" action=\"/sandbox/pay/{payment_id}/succeed\"><button>{pay}</button></form>\
                     <form method=\"post\" action=\"/sandbox/pay/{payment_id}/fail\"><button>Fail</button></form>\
                     <form method=\"post\" action=\"/sandbox/pay/{payment_id}/expire\"><button>Expire</button></form>"
                )
            } else {
                String::new()
            };
            let back = match state.sandbox.description_of(payment_id).await {
                Ok(description) => back_link(&state.sandbox.public_url, &description),
                Err(_) => String::new(),
            };
            let body = format!(
                "<p>Sandbox charge <code>{charge_ref}</code> for payment <code>{payment_id}</code>.</p>\
                 <p>Amount to pay: <strong>{}</strong></p><p>Status: <strong>{shown}</strong></p>\
                 {note}{buttons}{back}",
                escape_html(&crate::money::format_for_display(amount)),
            );
            (StatusCode::OK, page("Pasar sandbox payment", &body))
        }
        Ok(None) => {
            (StatusCode::NOT_FOUND, page("No such payment", "<p>This sandbox payment does not exist.</p>"))
        }
        Err(err) => {
            tracing::error!(error = %err, "sandbox pay page failed");
            (StatusCode::SERVICE_UNAVAILABLE, page("Sandbox unavailable", "<p>Try again shortly.</p>"))
        }
    }
}

/// A link back to what the charge pays for, as the shop described it: `Order ord_…` links the
/// order in the API (the buyer reads it with their token).
fn back_link(public_url: &str, description: &str) -> String {
    let order = description.split_whitespace().find_map(|word| word.parse::<crate::ids::OrderId>().ok());
    match order {
        Some(order) => format!(
            "<p>For order <a href=\"{public_url}/v1/orders/{order}\"><code>{order}</code></a> \
             (<code>GET /v1/orders/{order}</code> with the buyer's token).</p>"
        ),
        None => format!("<p>For: {}</p>", escape_html(description)),
    }
}

/// The answer to a button press: the settled page, or why nothing was settled.
fn settled_page(
    what: &str,
    outcome: &str,
    settled: Result<bool, GatewayError>,
    refusal: &str,
) -> (StatusCode, Html<String>) {
    match settled {
        Ok(true) => (
            StatusCode::OK,
            page(&format!("{what} {outcome}"), "<p>The shop is being notified. You can close this page.</p>"),
        ),
        Ok(false) => (StatusCode::CONFLICT, page("Not pending", refusal)),
        Err(err) => {
            tracing::error!(error = %err, "sandbox settlement failed");
            (StatusCode::SERVICE_UNAVAILABLE, page("Sandbox unavailable", "<p>Try again shortly.</p>"))
        }
    }
}

async fn press(state: AppState, payment_id: PaymentId, outcome: &str) -> (StatusCode, Html<String>) {
    let settled = state.sandbox.settle(payment_id, outcome).await;
    settled_page("Payment", outcome, settled, "<p>This payment is no longer pending, or its time is up.</p>")
}

/// The buyer pays: the charge succeeds and the sandbox sends Pasar a signed webhook.
#[utoipa::path(
    post, path = "/sandbox/pay/{payment_id}/succeed", tag = "sandbox", params(("payment_id" = PaymentId, Path)),
    responses((status = 200, description = "paid", body = String, content_type = "text/html"),
              (status = 409, description = "not payable any more", body = String, content_type = "text/html"),
              (status = 503, description = "the sandbox could not settle it, or the request took too long",
               content((String = "text/html"), (crate::http::error::ErrorEnvelope = "application/json"))))
)]
async fn press_pay(
    State(state): State<AppState>,
    ApiPath(payment_id): ApiPath<PaymentId>,
) -> (StatusCode, Html<String>) {
    press(state, payment_id, "succeeded").await
}

/// The payment fails: the sandbox sends Pasar a signed webhook saying so.
#[utoipa::path(
    post, path = "/sandbox/pay/{payment_id}/fail", tag = "sandbox", params(("payment_id" = PaymentId, Path)),
    responses((status = 200, description = "failed", body = String, content_type = "text/html"),
              (status = 409, description = "not payable any more", body = String, content_type = "text/html"),
              (status = 503, description = "the sandbox could not settle it, or the request took too long",
               content((String = "text/html"), (crate::http::error::ErrorEnvelope = "application/json"))))
)]
async fn press_fail(
    State(state): State<AppState>,
    ApiPath(payment_id): ApiPath<PaymentId>,
) -> (StatusCode, Html<String>) {
    press(state, payment_id, "failed").await
}

/// The payment's time runs out now: the charge stops being payable, and Pasar ends the payment
/// as its expiry job does at the deadline (an order's payment expires and the order releases
/// what it held; a deposit expires). True when the charge was pending; Pasar's side is then
/// done, or already was (a payment Pasar had expired, still in the sandbox's grace period).
pub async fn expire(state: &AppState, payment_id: PaymentId) -> Result<bool, GatewayError> {
    if !state.sandbox.move_charge(payment_id, "pending", "expired", false).await? {
        return Ok(false);
    }
    let payment = state.payments.payment(payment_id).await.map_err(unavailable)?;
    match payment.purpose {
        PaymentPurpose::Order => state.checkout.expire(payment_id).await.map_err(unavailable)?,
        PaymentPurpose::Deposit => state.wallet.expire_deposit(payment_id).await.map_err(unavailable)?,
    };
    Ok(true)
}

/// The payment's time runs out at once (see [`expire`]).
#[utoipa::path(
    post, path = "/sandbox/pay/{payment_id}/expire", tag = "sandbox", params(("payment_id" = PaymentId, Path)),
    responses((status = 200, description = "expired", body = String, content_type = "text/html"),
              (status = 409, description = "not pending", body = String, content_type = "text/html"),
              (status = 503, description = "the sandbox could not expire it, or the request took too long",
               content((String = "text/html"), (crate::http::error::ErrorEnvelope = "application/json"))))
)]
async fn press_expire(
    State(state): State<AppState>,
    ApiPath(payment_id): ApiPath<PaymentId>,
) -> (StatusCode, Html<String>) {
    let expired = expire(&state, payment_id).await;
    settled_page("Payment", "expired", expired, "<p>This payment is no longer pending.</p>")
}

/// The sandbox's page for one payout: amount and masked destination, with Succeed and Fail
/// buttons while it is pending.
#[utoipa::path(
    get, path = "/sandbox/payouts/{payout_id}", tag = "sandbox", params(("payout_id" = PayoutId, Path)),
    responses((status = 200, description = "the payout page", body = String, content_type = "text/html"),
              (status = 404, description = "no such payout: the HTML page, or the JSON envelope for an id that does not parse",
               content((String = "text/html"), (crate::http::error::ErrorEnvelope = "application/json"))),
              (status = 503, description = "the sandbox could not be read, or the request took too long",
               content((String = "text/html"), (crate::http::error::ErrorEnvelope = "application/json"))))
)]
async fn payout_page(
    State(state): State<AppState>,
    ApiPath(payout_id): ApiPath<PayoutId>,
) -> (StatusCode, Html<String>) {
    match state.sandbox.payout_of(payout_id).await {
        Ok(Some(payout)) => {
            let buttons = if payout.status == "pending" {
                format!(
                    "<form method=\"post\" action=\"/sandbox/payouts/{payout_id}/succeed\"><button>Succeed</button></form>\
                     <form method=\"post\" action=\"/sandbox/payouts/{payout_id}/fail\"><button>Fail</button></form>"
                )
            } else {
                String::new()
            };
            // What a provider's dashboard shows: never the whole account number. It is ASCII
            // digits only, checked when Pasar created the payout.
            let last4 = &payout.account_number[payout.account_number.len().saturating_sub(4)..];
            let body = format!(
                "<p>Sandbox payout <code>{}</code> for payout <code>{payout_id}</code>.</p>\
                 <p>Amount to send: <strong>{}</strong></p>\
                 <p>To: {} account ending {last4}, {}</p><p>Status: <strong>{}</strong></p>{buttons}",
                payout.payout_ref,
                payout.amount,
                escape_html(&payout.bank_code),
                escape_html(&payout.account_name),
                payout.status,
            );
            (StatusCode::OK, page("Pasar sandbox payout", &body))
        }
        Ok(None) => {
            (StatusCode::NOT_FOUND, page("No such payout", "<p>This sandbox payout does not exist.</p>"))
        }
        Err(err) => {
            tracing::error!(error = %err, "sandbox payout page failed");
            (StatusCode::SERVICE_UNAVAILABLE, page("Sandbox unavailable", "<p>Try again shortly.</p>"))
        }
    }
}

async fn press_payout(state: AppState, payout_id: PayoutId, outcome: &str) -> (StatusCode, Html<String>) {
    let settled = state.sandbox.settle_payout(payout_id, outcome).await;
    settled_page("Payout", outcome, settled, "<p>This payout does not exist or has already been settled.</p>")
}

/// The money is sent: the payout succeeds and the sandbox sends Pasar a signed webhook.
#[utoipa::path(
    post, path = "/sandbox/payouts/{payout_id}/succeed", tag = "sandbox", params(("payout_id" = PayoutId, Path)),
    responses((status = 200, description = "sent", body = String, content_type = "text/html"),
              (status = 409, description = "not pending", body = String, content_type = "text/html"),
              (status = 503, description = "the sandbox could not settle it, or the request took too long",
               content((String = "text/html"), (crate::http::error::ErrorEnvelope = "application/json"))))
)]
async fn press_payout_succeed(
    State(state): State<AppState>,
    ApiPath(payout_id): ApiPath<PayoutId>,
) -> (StatusCode, Html<String>) {
    press_payout(state, payout_id, "succeeded").await
}

/// The bank refuses the payout: the sandbox sends Pasar a signed webhook saying so.
#[utoipa::path(
    post, path = "/sandbox/payouts/{payout_id}/fail", tag = "sandbox", params(("payout_id" = PayoutId, Path)),
    responses((status = 200, description = "failed", body = String, content_type = "text/html"),
              (status = 409, description = "not pending", body = String, content_type = "text/html"),
              (status = 503, description = "the sandbox could not settle it, or the request took too long",
               content((String = "text/html"), (crate::http::error::ErrorEnvelope = "application/json"))))
)]
async fn press_payout_fail(
    State(state): State<AppState>,
    ApiPath(payout_id): ApiPath<PayoutId>,
) -> (StatusCode, Html<String>) {
    press_payout(state, payout_id, "failed").await
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test_secret_test_secret_00";

    #[test]
    fn a_correct_signature_verifies() {
        let now = Timestamp::from_millis(1_800_000_000_000);
        let header = signature_header(SECRET, now.unix_seconds(), b"{\"a\":1}");
        assert!(verify_signature(SECRET, &header, b"{\"a\":1}", now).is_ok());
    }

    #[test]
    fn a_changed_body_a_wrong_secret_a_stale_or_missing_stamp_are_refused() {
        let now = Timestamp::from_millis(1_800_000_000_000);
        let header = signature_header(SECRET, now.unix_seconds(), b"{\"a\":1}");
        assert!(verify_signature(SECRET, &header, b"{\"a\":2}", now).is_err());
        assert!(verify_signature(b"another secret", &header, b"{\"a\":1}", now).is_err());
        let stale = signature_header(SECRET, now.unix_seconds() - 301, b"{}");
        assert!(verify_signature(SECRET, &stale, b"{}", now).is_err());
        assert!(verify_signature(SECRET, "v1=00", b"{}", now).is_err());
        assert!(verify_signature(SECRET, "", b"{}", now).is_err());
    }

    #[test]
    fn a_timestamp_at_the_ends_of_the_range_is_refused_without_wrapping() {
        let now = Timestamp::from_millis(1_800_000_000_000);
        for extreme in [i64::MIN, i64::MIN + 1, i64::MAX] {
            let header = signature_header(SECRET, extreme, b"{}");
            assert!(verify_signature(SECRET, &header, b"{}", now).is_err(), "t={extreme}");
        }
    }

    #[test]
    fn outside_text_is_escaped_before_it_reaches_a_page() {
        assert_eq!(
            escape_html("<b>Ana & \"Co\" 'x'</b>"),
            "&lt;b&gt;Ana &amp; &quot;Co&quot; &#39;x&#39;&lt;/b&gt;"
        );
    }

    #[test]
    fn any_matching_v1_entry_is_enough_while_secrets_rotate() {
        let now = Timestamp::from_millis(1_800_000_000_000);
        let good = signature_header(SECRET, now.unix_seconds(), b"{}");
        let rotated = format!("{good},v1={}", "ab".repeat(32));
        assert!(verify_signature(SECRET, &rotated, b"{}", now).is_ok());
    }
}
