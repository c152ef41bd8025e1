//! Payouts: money sent out of the shop to a bank account, for a wallet withdrawal.
//!
//! A payout is written pending in the caller's transaction (the withdrawal that reserves the
//! funds), handed to its gateway afterwards, outside any transaction, and settled only by what
//! the gateway reports when asked, as payments are: a webhook is a hint, never the truth.

use std::sync::Arc;

use axum::http::HeaderMap;
use serde::{Serialize, Serializer};
use utoipa::ToSchema;

use super::domain::{MaskedDestination, PayoutDestination};
use super::gateway::{CreatePayout, Gateway, GatewayError, PayoutNotice, ProviderPayoutStatus};
use super::payout_store;
use super::service::{Payments, PaymentsError};
use crate::db::{self, Connection};
use crate::events::{self, NewEvent};
use crate::ids::PayoutId;
use crate::money::Money;
use crate::time::Timestamp;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PayoutStatus {
    Pending,
    Succeeded,
    Failed,
}

impl PayoutStatus {
    pub const ALL: [PayoutStatus; 3] = [Self::Pending, Self::Succeeded, Self::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// A payout ends once: money that left is not called back, and a failed payout's funds go
    /// back to the wallet, so neither end may be undone by a later event.
    pub fn can_become(self, to: PayoutStatus) -> bool {
        matches!((self, to), (Self::Pending, Self::Succeeded | Self::Failed))
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Payout {
    pub id: PayoutId,
    /// The withdrawal being paid out.
    pub reference: String,
    pub provider: String,
    pub status: PayoutStatus,
    pub amount: Money,
    #[serde(serialize_with = "masked")]
    #[schema(value_type = MaskedDestination)]
    pub destination: PayoutDestination,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Where the payout can be followed at the gateway, when it has such a page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payout_url: Option<String>,
    #[serde(skip)]
    pub payee_id: String,
    #[serde(skip)]
    pub provider_ref: Option<String>,
}

fn masked<S: Serializer>(destination: &PayoutDestination, serializer: S) -> Result<S::Ok, S::Error> {
    destination.masked().serialize(serializer)
}

/// A payout to create, before the gateway has seen it.
pub struct NewPayout {
    /// The withdrawal's id; a withdrawal is paid out at most once.
    pub reference: String,
    pub payee_id: String,
    pub provider: String,
    pub amount: Money,
    pub destination: PayoutDestination,
}

impl Payments {
    /// Writes a pending payout in the caller's transaction. The gateway is asked afterwards
    /// ([`Payments::request_payout`]), outside any transaction.
    pub async fn create_payout(
        &self,
        conn: &mut Connection,
        new: NewPayout,
    ) -> Result<Payout, PaymentsError> {
        self.payout_flow(&new.provider)?;
        if new.amount.amount <= 0 {
            return Err(PaymentsError::InvalidPayout("a payout's amount must be more than zero"));
        }
        let now = self.clock.now();
        let payout = Payout {
            id: PayoutId::new(),
            reference: new.reference,
            provider: new.provider,
            status: PayoutStatus::Pending,
            amount: new.amount,
            destination: new.destination,
            created_at: now,
            updated_at: now,
            payout_url: None,
            payee_id: new.payee_id,
            provider_ref: None,
        };
        payout_store::insert(conn, &payout).await.map_err(|err| {
            if db::is_unique_violation(&err) { PaymentsError::PayoutExists } else { err.into() }
        })?;
        Ok(payout)
    }

    /// Asks the payout's gateway to send it (idempotent at the gateway, so asking again after
    /// a crash sends the money once) and records the gateway's reference.
    pub async fn request_payout(
        &self,
        payout: &Payout,
        payee_email: Option<&str>,
    ) -> Result<Payout, PaymentsError> {
        let gateway = self.payout_flow(&payout.provider)?;
        let payouts = gateway.payouts().ok_or(GatewayError::Unsupported("payouts"))?;
        let request = CreatePayout {
            payout_id: payout.id,
            amount: payout.amount,
            destination: payout.destination.clone(),
            description: format!("Pasar withdrawal {}", payout.reference),
            payee_email: payee_email.map(str::to_owned),
        };
        let created =
            self.through_breaker(&payout.provider, payout.amount, payouts.create_payout(&request)).await?;
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        payout_store::attach(&mut *tx, payout.id, &created.provider_ref, now).await?;
        tx.commit().await?;
        Ok(Payout { provider_ref: Some(created.provider_ref), updated_at: now, ..payout.clone() })
    }

    pub async fn payout(&self, id: PayoutId) -> Result<Payout, PaymentsError> {
        payout_store::payout(self.db.reader(), id).await?.ok_or(PaymentsError::PayoutNotFound)
    }

    /// The payout with the gateway's page for it, when the gateway has one.
    pub fn with_page(&self, payout: Payout) -> Payout {
        let payout_url = self
            .gateway(&payout.provider)
            .ok()
            .and_then(|gateway| gateway.payouts().and_then(|flow| flow.payout_page(payout.id)));
        Payout { payout_url, ..payout }
    }

    /// A payee's payouts, newest first, each with its page; and whether more follow.
    pub async fn payouts_of(
        &self,
        payee: &str,
        before: Option<PayoutId>,
        limit: usize,
    ) -> Result<(Vec<Payout>, bool), PaymentsError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX - 1);
        let mut payouts = payout_store::of_payee(self.db.reader(), payee, before, limit + 1).await?;
        let more = i64::try_from(payouts.len()).unwrap_or(i64::MAX) > limit;
        payouts.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok((payouts.into_iter().map(|payout| self.with_page(payout)).collect(), more))
    }

    pub async fn payout_in(&self, conn: &mut Connection, id: PayoutId) -> Result<Payout, PaymentsError> {
        payout_store::payout(conn, id).await?.ok_or(PaymentsError::PayoutNotFound)
    }

    /// Moves a payout if it may and it is still where it was read, and records `payout.succeeded`
    /// or `payout.failed`. False when nothing moved.
    pub async fn transition_payout(
        &self,
        conn: &mut Connection,
        payout: &Payout,
        to: PayoutStatus,
        actor: &str,
    ) -> Result<bool, PaymentsError> {
        let event_type = match to {
            PayoutStatus::Succeeded if payout.status.can_become(to) => "payout.succeeded",
            PayoutStatus::Failed if payout.status.can_become(to) => "payout.failed",
            _ => return Ok(false),
        };
        let now = self.clock.now();
        if !payout_store::move_status(&mut *conn, payout.id, payout.status, to, now).await? {
            return Ok(false);
        }
        events::record(
            &mut *conn,
            now,
            NewEvent {
                event_type,
                version: 1,
                subject_id: payout.id.to_string(),
                actor: actor.to_owned(),
                payload: serde_json::json!({
                    "payout_id": payout.id,
                    "reference": payout.reference,
                    "payee_id": payout.payee_id,
                    "provider": payout.provider,
                    "amount": payout.amount,
                    "destination": payout.destination.masked(),
                    "before": { "status": payout.status },
                    "after": { "status": to },
                }),
            },
        )
        .await?;
        Ok(true)
    }

    /// Checks a payout webhook (signature over the raw body, freshness, the payout it names,
    /// amount and currency) and answers the gateway's own status for that payout.
    pub async fn verify_payout_webhook(
        &self,
        provider: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(PayoutNotice, Payout, ProviderPayoutStatus), PaymentsError> {
        let gateway = self.payout_flow(provider)?;
        let payouts = gateway.payouts().ok_or(GatewayError::Unsupported("payouts"))?;
        let notice = payouts.verify_payout_webhook(headers, body, self.clock.now())?;
        let payout = self.payout(notice.payout_id).await?;
        if payout.provider != provider || notice.amount != payout.amount {
            return Err(PaymentsError::AmountMismatch);
        }
        let status = self.through_breaker(provider, payout.amount, payouts.payout_status(payout.id)).await?;
        Ok((notice, payout, status))
    }

    /// What the payout's gateway says of it now.
    pub async fn payout_status_at_gateway(
        &self,
        payout: &Payout,
    ) -> Result<ProviderPayoutStatus, PaymentsError> {
        let gateway = self.payout_flow(&payout.provider)?;
        let payouts = gateway.payouts().ok_or(GatewayError::Unsupported("payouts"))?;
        self.through_breaker(&payout.provider, payout.amount, payouts.payout_status(payout.id)).await
    }

    /// The gateway named `provider`, if it can pay out.
    pub fn payout_flow(&self, provider: &str) -> Result<Arc<dyn Gateway>, PaymentsError> {
        let gateway = self.gateway(provider)?;
        if gateway.payouts().is_none() {
            return Err(GatewayError::Unsupported("payouts").into());
        }
        Ok(gateway)
    }

    /// Pending payouts the gateway has, created before `older_than`: for reconciliation, which
    /// asks the gateway about each in case its webhook never arrived.
    pub async fn pending_payouts(
        &self,
        older_than: Timestamp,
        limit: i64,
    ) -> Result<Vec<Payout>, PaymentsError> {
        Ok(payout_store::pending(self.db.reader(), older_than, limit).await?)
    }

    /// Pending payouts the gateway was never told about (the process stopped in between),
    /// created before `older_than`: to be requested again.
    pub async fn unrequested_payouts(
        &self,
        older_than: Timestamp,
        limit: i64,
    ) -> Result<Vec<Payout>, PaymentsError> {
        Ok(payout_store::unrequested(self.db.reader(), older_than, limit).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payout_moves_only_from_pending_and_only_once() {
        for from in PayoutStatus::ALL {
            for to in PayoutStatus::ALL {
                let allowed = from == PayoutStatus::Pending && to != PayoutStatus::Pending;
                assert_eq!(from.can_become(to), allowed, "{from:?} → {to:?}");
            }
        }
    }

    #[test]
    fn statuses_round_trip_through_their_text() {
        for status in PayoutStatus::ALL {
            assert_eq!(PayoutStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(PayoutStatus::parse("paid"), None);
    }
}
