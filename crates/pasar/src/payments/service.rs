//! Payments' use cases: create a payment record, hand it to its gateway, move it through its
//! states, and turn verified webhooks into the gateway's authoritative status.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;

use super::breaker::{Admission, Breakers, COOL_OFF, ProviderHealth, Transition};
use super::domain::{Payment, PaymentPurpose, PaymentStatus};
use super::gateway::{
    CreatePayment, Gateway, GatewayError, NoticeAmount, PaymentReport, ProviderStatus, WebhookNotice,
};
use super::methods::MethodRoutes;
use super::store;
use crate::db::{Connection, Db};
use crate::events::{self, NewEvent};
use crate::ids::PaymentId;
use crate::money::{Currency, Money};
use crate::time::{Clock, Timestamp};

#[derive(Debug, thiserror::Error)]
pub enum PaymentsError {
    #[error("no payment method {0:?}")]
    UnknownMethod(String),
    #[error("no such payment")]
    NotFound,
    #[error("no such payout")]
    PayoutNotFound,
    #[error("{0}")]
    InvalidPayout(&'static str),
    #[error("this withdrawal already has a payout")]
    PayoutExists,
    #[error("the webhook's amount or currency does not match the payment or payout")]
    AmountMismatch,
    #[error("the payment changed meanwhile")]
    Moved,
    #[error("{provider} is not answering; retry in {} s, or pay with {}", retry_after.as_secs().max(1), available.join(", "))]
    ProviderDown { provider: String, retry_after: Duration, available: Vec<String> },
    #[error("{0}")]
    NotRefundable(String),
    #[error("that is more than is left to refund ({left})")]
    RefundTooLarge { left: Money },
    #[error("nothing settles {0} outcomes")]
    NoHandler(&'static str),
    #[error("settling the outcome failed")]
    Settle(#[from] super::settlement::SettleError),
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A payment to create, before the gateway has seen it.
#[derive(Clone, Debug)]
pub struct NewPayment {
    /// Chosen by the caller, so that what refers to the payment can be written before it.
    pub id: PaymentId,
    pub purpose: PaymentPurpose,
    pub reference: String,
    pub payer_id: String,
    /// How the buyer pays: a method a configured provider offers, or `wallet`.
    pub method: String,
    pub amount: Money,
    pub expires_at: Timestamp,
}

#[derive(Clone)]
pub struct Payments {
    pub(super) db: Db,
    pub(super) clock: Clock,
    gateways: Arc<HashMap<&'static str, Arc<dyn Gateway>>>,
    methods: Arc<MethodRoutes>,
    breakers: Breakers,
    /// Where buyers reach this server (the QR code images of QRIS payments).
    public_url: Arc<str>,
}

impl Payments {
    /// `gateways` in order of preference; `pinned_methods` as [`MethodRoutes::new`] takes it.
    pub fn new(
        db: Db,
        clock: Clock,
        gateways: Vec<Arc<dyn Gateway>>,
        pinned_methods: &str,
        public_url: &str,
    ) -> anyhow::Result<Self> {
        let methods = MethodRoutes::new(gateways.clone(), pinned_methods)?;
        let gateways = gateways.into_iter().map(|g| (g.name(), g)).collect();
        Ok(Self {
            db,
            clock,
            gateways: Arc::new(gateways),
            methods: Arc::new(methods),
            breakers: Breakers::default(),
            public_url: public_url.trim_end_matches('/').into(),
        })
    }

    /// The provider named `name` (in webhook URLs and payment records).
    pub fn gateway(&self, name: &str) -> Result<Arc<dyn Gateway>, PaymentsError> {
        self.gateways.get(name).cloned().ok_or_else(|| PaymentsError::UnknownMethod(name.to_owned()))
    }

    /// The provider that serves `method` in `currency`.
    pub fn provider_for(&self, method: &str, currency: Currency) -> Result<Arc<dyn Gateway>, PaymentsError> {
        self.methods
            .provider_for(method, currency)
            .cloned()
            .ok_or_else(|| PaymentsError::UnknownMethod(method.to_owned()))
    }

    /// Every method on offer in `currency` with its provider's name and its fee on `amount`,
    /// the wallet first (no fee).
    pub fn methods_on_offer(&self, amount: Money) -> Result<Vec<(String, String, Money)>, PaymentsError> {
        let mut offer =
            vec![(super::WALLET.to_owned(), super::WALLET.to_owned(), Money::zero(amount.currency))];
        for (method, gateway) in self.methods.on_offer(amount.currency) {
            offer.push((method.to_owned(), gateway.name().to_owned(), gateway.fee(method, amount)?));
        }
        Ok(offer)
    }

    /// Refuses a method whose provider is down now, naming the methods still available.
    pub fn ensure_up(&self, method: &str, amount: Money) -> Result<(), PaymentsError> {
        if method == super::WALLET {
            return Ok(());
        }
        let provider = self.provider_for(method, amount.currency)?;
        match self.breakers.is_open(provider.name(), self.clock.now()) {
            Some(retry_after) => Err(self.provider_down(provider.name(), retry_after, amount)),
            None => Ok(()),
        }
    }

    fn provider_down(&self, provider: &str, retry_after: Duration, amount: Money) -> PaymentsError {
        let now = self.clock.now();
        let available = self
            .methods_on_offer(amount)
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, gateway, _)| self.breakers.is_open(gateway, now).is_none())
            .map(|(method, ..)| method)
            .collect();
        PaymentsError::ProviderDown { provider: provider.to_owned(), retry_after, available }
    }

    /// Makes a call to `provider` through its circuit breaker: refused at once while the
    /// provider is down; a failure that means it is down counts towards opening the breaker,
    /// anything it answers closes it. Outages start and end with an event.
    pub(super) async fn through_breaker<T>(
        &self,
        provider: &str,
        amount: Money,
        call: impl Future<Output = Result<T, GatewayError>>,
    ) -> Result<T, PaymentsError> {
        if let Admission::Refused { retry_after } = self.breakers.admit(provider, self.clock.now()) {
            return Err(self.provider_down(provider, retry_after, amount));
        }
        let result = call.await;
        let transition = match &result {
            Err(GatewayError::Unavailable(_)) => self.breakers.failed(provider, self.clock.now()),
            _ => self.breakers.succeeded(provider),
        };
        if let Some(transition) = transition {
            self.record_outage(provider, transition).await;
        }
        Ok(result?)
    }

    async fn record_outage(&self, provider: &str, transition: Transition) {
        let now = self.clock.now();
        let (event_type, level) = match transition {
            Transition::WentDown => ("payment.provider_down", tracing::Level::ERROR),
            Transition::CameBack => ("payment.provider_up", tracing::Level::WARN),
        };
        if level == tracing::Level::ERROR {
            tracing::error!(
                provider,
                "payment provider is down; its methods are refused for {} s",
                COOL_OFF.as_secs()
            );
        } else {
            tracing::warn!(provider, "payment provider answers again");
        }
        let health = self.breakers.health(&[provider], now);
        let event = NewEvent {
            event_type,
            version: 1,
            subject_id: provider.to_owned(),
            actor: events::SYSTEM.to_owned(),
            payload: serde_json::json!({ "provider": provider, "health": health.first() }),
        };
        let recorded = async {
            let mut tx = self.db.begin().await?;
            events::record(&mut tx, now, event).await?;
            tx.commit().await
        };
        if let Err(err) = recorded.await {
            tracing::warn!(provider, error = %err, "could not record the provider's outage event");
        }
    }

    /// Every provider's circuit breaker, with the methods it serves.
    pub fn provider_health(&self) -> Vec<ProviderHealth> {
        let mut names: Vec<&str> = self.gateways.keys().copied().collect();
        names.sort_unstable();
        self.breakers.health(&names, self.clock.now())
    }

    /// The names each kind of request accepts on this server, for the OpenAPI document:
    /// `checkout` (every method on offer, and the wallet), `deposit` (those on offer in
    /// `wallet_currency`) and `payout` (the providers that pay out).
    pub fn method_lists(&self, wallet_currency: Currency) -> Vec<(&'static str, Vec<String>)> {
        let mut any_currency: Vec<String> = Vec::new();
        for gateway in self.methods.providers() {
            for offer in gateway.offers() {
                if !any_currency.iter().any(|m| m == offer.method) {
                    any_currency.push(offer.method.to_owned());
                }
            }
        }
        let mut checkout = any_currency;
        checkout.push(super::WALLET.to_owned());
        let deposit = self.methods.on_offer(wallet_currency).into_iter().map(|(m, _)| m.to_owned()).collect();
        let payout = self.payout_providers();
        vec![("checkout", checkout), ("deposit", deposit), ("payout", payout)]
    }

    /// The configured providers that pay out, in order of preference.
    pub fn payout_providers(&self) -> Vec<String> {
        self.methods
            .providers()
            .iter()
            .filter(|g| g.payouts().is_some())
            .map(|g| g.name().to_owned())
            .collect()
    }

    /// What the buyer would pay in fees with `method` on `amount` (nothing from the wallet).
    pub fn fee(&self, method: &str, amount: Money) -> Result<Money, PaymentsError> {
        if method == super::WALLET {
            return Ok(Money::zero(amount.currency));
        }
        Ok(self.provider_for(method, amount.currency)?.fee(method, amount)?)
    }

    /// The payment with the links the buyer needs that follow from it (the QR code image).
    pub fn with_links(&self, payment: Payment) -> Payment {
        let qr_code_url = (payment.method == "qris" && payment.payment_number.is_some())
            .then(|| format!("{}/v1/payments/{}/qr.png", self.public_url, payment.id));
        Payment { qr_code_url, ..payment }
    }

    /// Writes a pending payment in the caller's transaction. The gateway is asked afterwards
    /// ([`Payments::request`]), outside any transaction.
    pub async fn create(&self, conn: &mut Connection, new: NewPayment) -> Result<Payment, PaymentsError> {
        let payment = self.priced(new)?;
        store::insert_many(conn, std::slice::from_ref(&payment)).await?;
        Ok(payment)
    }

    /// Writes payments made by [`Payments::priced`] in one statement.
    pub async fn insert_many(
        &self,
        conn: &mut Connection,
        payments: &[Payment],
    ) -> Result<(), PaymentsError> {
        store::insert_many(conn, payments).await?;
        Ok(())
    }

    /// A new pending payment with the method's fee added, not written yet.
    pub fn priced(&self, new: NewPayment) -> Result<Payment, PaymentsError> {
        let fee = self.fee(&new.method, new.amount)?;
        let total = new.amount.checked_add(fee).map_err(GatewayError::from)?;
        let provider = if new.method == super::WALLET {
            super::WALLET.to_owned()
        } else {
            self.provider_for(&new.method, new.amount.currency)?.name().to_owned()
        };
        Ok(Payment {
            id: new.id,
            purpose: new.purpose,
            reference: new.reference,
            payer_id: new.payer_id,
            provider,
            method: new.method,
            payment_number: None,
            instructions: None,
            qr_code_url: None,
            provider_fee: None,
            provider_ref: None,
            status: PaymentStatus::Pending,
            amount: new.amount,
            fee,
            total,
            checkout_url: None,
            expires_at: new.expires_at,
            created_at: self.clock.now(),
        })
    }

    /// Asks the payment's gateway to collect it (idempotent at the gateway) and records where
    /// the buyer pays.
    pub async fn request(
        &self,
        payment: &Payment,
        description: &str,
        payer_email: Option<&str>,
    ) -> Result<Payment, PaymentsError> {
        let gateway = self.gateway(&payment.provider)?;
        let request = CreatePayment {
            payment_id: payment.id,
            method: payment.method.clone(),
            payer_email: payer_email.map(str::to_owned),
            amount: payment.amount,
            total: payment.total,
            description: description.to_owned(),
            expires_at: payment.expires_at,
        };
        let created = self
            .through_breaker(&payment.provider, payment.amount, gateway.pay().create_payment(&request))
            .await?;
        // The gateway's deadline when it is earlier: the buyer cannot pay past it.
        let expires_at = created.expires_at.map_or(payment.expires_at, |at| at.min(payment.expires_at));
        let attached = Payment {
            provider_ref: Some(created.provider_ref),
            checkout_url: created.checkout_url,
            payment_number: created.payment_number,
            instructions: created.instructions,
            provider_fee: created.provider_fee,
            expires_at,
            ..payment.clone()
        };
        let mut tx = self.db.begin().await?;
        store::attach(&mut *tx, &attached, self.clock.now()).await?;
        tx.commit().await?;
        Ok(self.with_links(attached))
    }

    /// Payments created since `since`: how many succeeded, how many ended otherwise, and the
    /// fees of the succeeded ones, for the shop's figures.
    pub async fn totals_since(&self, since: Timestamp) -> Result<(i64, i64, i64), PaymentsError> {
        Ok(store::totals_since(self.db.reader(), since).await?)
    }

    /// A payer's payments for `purpose`, newest first; and whether more follow.
    pub async fn payments_of(
        &self,
        purpose: PaymentPurpose,
        payer: &str,
        before: Option<PaymentId>,
        limit: usize,
    ) -> Result<(Vec<Payment>, bool), PaymentsError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX - 1);
        let mut payments = store::of_payer(self.db.reader(), purpose, payer, before, limit + 1).await?;
        let more = i64::try_from(payments.len()).unwrap_or(i64::MAX) > limit;
        payments.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok((payments, more))
    }

    pub async fn payment(&self, id: PaymentId) -> Result<Payment, PaymentsError> {
        let payment = store::payment(self.db.reader(), id).await?.ok_or(PaymentsError::NotFound)?;
        Ok(self.with_links(payment))
    }

    pub async fn payment_in(&self, conn: &mut Connection, id: PaymentId) -> Result<Payment, PaymentsError> {
        store::payment(conn, id).await?.ok_or(PaymentsError::NotFound)
    }

    /// Records the fee `payment`'s provider says it kept (the first report wins), so the sale
    /// posts it to the fees account. A fee in another currency than the payment's (a Stripe
    /// account settling in another currency) cannot be posted beside it and is only logged.
    pub async fn record_provider_fee(
        &self,
        conn: &mut Connection,
        payment: &mut Payment,
        fee: Money,
    ) -> Result<(), PaymentsError> {
        if payment.provider_fee.is_some() {
            return Ok(());
        }
        if fee.currency != payment.amount.currency || fee.amount < 0 || fee.amount > payment.total.amount {
            tracing::warn!(payment = %payment.id, %fee, "the provider reported a fee Pasar cannot post");
            return Ok(());
        }
        if store::record_provider_fee(conn, payment.id, fee.amount, self.clock.now()).await? {
            payment.provider_fee = Some(fee);
        }
        Ok(())
    }

    pub async fn for_reference(&self, reference: &str) -> Result<Vec<Payment>, PaymentsError> {
        Ok(store::for_reference(self.db.reader(), reference).await?)
    }

    pub async fn for_reference_in(
        &self,
        conn: &mut Connection,
        reference: &str,
    ) -> Result<Vec<Payment>, PaymentsError> {
        Ok(store::for_reference(conn, reference).await?)
    }

    /// Moves a payment if the state machine allows it and it is still where it was read;
    /// records the matching event. False when nothing moved.
    pub async fn transition(
        &self,
        conn: &mut Connection,
        payment: &Payment,
        to: PaymentStatus,
        actor: &str,
    ) -> Result<bool, PaymentsError> {
        if !payment.status.can_become(to) {
            return Ok(false);
        }
        let now = self.clock.now();
        if !store::move_status(&mut *conn, payment.id, payment.status, to, now).await? {
            return Ok(false);
        }
        events::record(&mut *conn, now, moved_event(payment, to, actor)).await?;
        Ok(true)
    }

    /// [`Payments::transition`] for payments this transaction holds in hand (a batch just
    /// created), each with its actor: one statement for all, and the payments updated to
    /// match. Fails whole with `Moved` when any of them was no longer where it was.
    pub async fn transition_many(
        &self,
        conn: &mut Connection,
        payments: &mut [(&mut Payment, &str)],
        to: PaymentStatus,
    ) -> Result<(), PaymentsError> {
        let Some(from) = payments.first().map(|(p, _)| p.status) else { return Ok(()) };
        if payments.iter().any(|(p, _)| p.status != from) || !from.can_become(to) {
            return Err(PaymentsError::Moved);
        }
        let now = self.clock.now();
        let ids: Vec<PaymentId> = payments.iter().map(|(p, _)| p.id).collect();
        if store::move_statuses(&mut *conn, &ids, from, to, now).await? != ids.len() as u64 {
            return Err(PaymentsError::Moved);
        }
        let moved = payments.iter().map(|(p, actor)| moved_event(p, to, actor)).collect();
        events::record_many(&mut *conn, now, moved).await?;
        for (payment, _) in payments.iter_mut() {
            payment.status = to;
        }
        Ok(())
    }

    /// Checks a webhook (signature over the raw body, freshness, the payment it names, amount
    /// and currency) and answers the gateway's own status for that payment.
    pub async fn verify_webhook(
        &self,
        provider: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(WebhookNotice, Payment, PaymentReport), PaymentsError> {
        let gateway = self.gateway(provider)?;
        let notice = gateway.pay().verify_webhook(headers, body, self.clock.now())?;
        let payment = self.payment(notice.payment_id).await?;
        let expected = match notice.covers {
            NoticeAmount::Total => payment.total,
            NoticeAmount::BeforeFee => payment.amount,
        };
        if payment.provider != provider || notice.amount != expected {
            return Err(PaymentsError::AmountMismatch);
        }
        let report =
            self.through_breaker(provider, payment.amount, gateway.status().payment_status(&payment)).await?;
        Ok((notice, payment, report))
    }

    /// What the payment's gateway says of it now.
    pub async fn status_at_gateway(&self, payment: &Payment) -> Result<PaymentReport, PaymentsError> {
        let gateway = self.gateway(&payment.provider)?;
        self.through_breaker(&payment.provider, payment.amount, gateway.status().payment_status(payment))
            .await
    }

    /// Tells the gateway of a payment whose deadline passed, if it wants to be told.
    pub async fn expire_at_gateway(&self, payment: &Payment) -> Result<(), PaymentsError> {
        let gateway = self.gateway(&payment.provider)?;
        if gateway.pay().cancel_on_expiry() {
            self.through_breaker(&payment.provider, payment.amount, gateway.pay().cancel_payment(payment))
                .await?;
        }
        Ok(())
    }

    /// Tells the payment's gateway to stop taking it; answers the status it ended in there.
    pub async fn cancel_at_gateway(&self, payment: &Payment) -> Result<ProviderStatus, PaymentsError> {
        let gateway = self.gateway(&payment.provider)?;
        self.through_breaker(&payment.provider, payment.amount, gateway.pay().cancel_payment(payment)).await
    }

    pub async fn due(&self, now: Timestamp, limit: i64) -> Result<Vec<Payment>, PaymentsError> {
        Ok(store::due(self.db.reader(), now, limit).await?)
    }

    pub async fn unrequested(
        &self,
        created_before: Timestamp,
        limit: i64,
    ) -> Result<Vec<Payment>, PaymentsError> {
        Ok(store::unrequested(self.db.reader(), created_before, limit).await?)
    }

    /// Pending payments older than `created_before` that a gateway has (for reconciliation).
    pub async fn pending_before(
        &self,
        created_before: Timestamp,
        limit: i64,
    ) -> Result<Vec<Payment>, PaymentsError> {
        Ok(store::pending_before(self.db.reader(), created_before, limit).await?)
    }
}

/// The event of `payment` (as it was before) moving to `to`.
fn moved_event(payment: &Payment, to: PaymentStatus, actor: &str) -> NewEvent<serde_json::Value> {
    let event_type = match to {
        PaymentStatus::Succeeded => "payment.completed",
        PaymentStatus::Failed => "payment.failed",
        PaymentStatus::Expired => "payment.expired",
        PaymentStatus::Cancelled => "payment.cancelled",
        PaymentStatus::Refunded => "payment.refunded",
        PaymentStatus::Pending => "payment.pending",
    };
    NewEvent {
        event_type,
        version: 1,
        subject_id: payment.id.to_string(),
        actor: actor.to_owned(),
        payload: serde_json::json!({
            "payment_id": payment.id,
            "reference": payment.reference,
            "provider": payment.provider,
            "amount": payment.amount,
            "fee": payment.fee,
            "total": payment.total,
            "before": { "status": payment.status },
            "after": { "status": to },
        }),
    }
}
