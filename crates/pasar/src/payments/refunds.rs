//! Refunds: money given back for (part of) a payment, to where it came from or, when the
//! provider cannot send it back (a konbini slip), to the buyer's wallet. A refund is written
//! pending under a lock on its payment, so refunds together never exceed what was paid, even
//! when requested at once; the provider is asked afterwards, and its answer decides.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};
use utoipa::ToSchema;

use super::domain::{Payment, PaymentStatus};
use super::gateway::{GatewayError, RefundStatus};
use super::service::{Payments, PaymentsError};
use crate::db::column::decode_error;
use crate::db::{Connection, Migration};
use crate::events::{self, NewEvent};
use crate::ids::{PaymentId, RefundId};
use crate::money::{Currency, Money};
use crate::time::Timestamp;

pub static MIGRATIONS: &[Migration] = &[
    Migration {
        version: 2026120105,
        name: "payments: refunds, and the sandbox's refunded amounts",
        sql: "CREATE TABLE refunds (
            id TEXT PRIMARY KEY,
            payment_id TEXT NOT NULL,
            currency TEXT NOT NULL,
            amount BIGINT NOT NULL,
            destination TEXT NOT NULL,
            reason TEXT NOT NULL,
            status TEXT NOT NULL,
            actor TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            CHECK (amount > 0)
          );
          CREATE INDEX refunds_payment ON refunds (payment_id);
          CREATE TABLE sandbox_refunds (
            refund_id TEXT PRIMARY KEY,
            payment_id TEXT NOT NULL,
            amount BIGINT NOT NULL,
            created_at BIGINT NOT NULL
          );",
        postgres: None,
    },
    Migration {
        version: 2026120120,
        name: "payments: what a refund's purpose does when it completes, kept for a refund whose answer was lost",
        sql: "ALTER TABLE refunds ADD COLUMN follow_up TEXT;
          CREATE INDEX refunds_pending ON refunds (status, created_at);",
        postgres: None,
    },
];

/// Where refunded money goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundDestination {
    /// Back the way it came: the card, the provider's account.
    Source,
    /// Into the buyer's wallet (wallet payments, and methods that cannot refund).
    Wallet,
}

impl RefundDestination {
    fn as_str(self) -> &'static str {
        match self {
            Self::Source => "source",
            Self::Wallet => "wallet",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundState {
    Pending,
    Succeeded,
    Failed,
}

impl RefundState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Succeeded, Self::Failed].into_iter().find(|s| s.as_str() == text)
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Refund {
    pub id: RefundId,
    pub payment_id: PaymentId,
    pub amount: Money,
    pub destination: RefundDestination,
    pub reason: String,
    pub status: RefundState,
    pub created_at: Timestamp,
    /// What the payment's purpose asked to be done when the refund completes (an order's lines
    /// to put back in stock), kept so a refund interrupted by a crash is completed the same way.
    #[serde(skip)]
    pub follow_up: Option<serde_json::Value>,
    /// Who asked for it (an admin's user id).
    #[serde(skip)]
    pub asked_by: String,
}

const COLUMNS: &str =
    "id, payment_id, currency, amount, destination, reason, status, created_at, follow_up, actor";

fn refund_of(row: &AnyRow) -> Result<Refund, sqlx::Error> {
    let text = |column: &str| -> Result<String, sqlx::Error> { row.try_get(column) };
    let (id, payment, status, destination) =
        (text("id")?, text("payment_id")?, text("status")?, text("destination")?);
    let currency = Currency::parse(&text("currency")?).map_err(|_| decode_error("currency", "?"))?;
    Ok(Refund {
        id: id.parse().map_err(|_| decode_error("id", &id))?,
        payment_id: payment.parse().map_err(|_| decode_error("payment_id", &payment))?,
        amount: Money::new(row.try_get("amount")?, currency),
        destination: match destination.as_str() {
            "wallet" => RefundDestination::Wallet,
            _ => RefundDestination::Source,
        },
        reason: text("reason")?,
        status: RefundState::parse(&status).ok_or_else(|| decode_error("status", &status))?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        follow_up: row
            .try_get::<Option<String>, _>("follow_up")?
            .map(|text| serde_json::from_str(&text).map_err(|_| decode_error("follow_up", &text)))
            .transpose()?,
        asked_by: text("actor")?,
    })
}

async fn refunds_of<'c>(
    ex: impl Executor<'c, Database = Any>,
    payment: PaymentId,
) -> Result<Vec<Refund>, sqlx::Error> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM refunds WHERE payment_id = $1 ORDER BY id"))
        .bind(payment.to_string())
        .fetch_all(ex)
        .await?;
    rows.iter().map(refund_of).collect()
}

/// How much of `paid` may still be refunded, given the refunds so far (pending ones count:
/// their money may be on its way).
pub fn refundable(paid: Money, refunds: &[Refund]) -> i64 {
    let taken: i64 =
        refunds.iter().filter(|r| r.status != RefundState::Failed).map(|r| r.amount.amount).sum();
    paid.amount.saturating_sub(taken)
}

/// A refund asked for.
#[derive(Clone, Debug)]
pub struct NewRefund {
    pub amount: Money,
    pub destination: RefundDestination,
    pub reason: String,
    /// See [`Refund::follow_up`].
    pub follow_up: Option<serde_json::Value>,
}

impl Payments {
    /// Writes a pending refund of `amount` for a paid payment, in the caller's transaction,
    /// after locking the payment so that concurrent refunds are checked one after the other.
    /// Refused when it would take the refunds past what was paid (the amount, not the fee).
    pub async fn begin_refund(
        &self,
        conn: &mut Connection,
        payment_id: PaymentId,
        asked: NewRefund,
        actor: &str,
    ) -> Result<Refund, PaymentsError> {
        let NewRefund { amount, destination, reason, follow_up } = asked;
        let lock = format!("SELECT id FROM payments WHERE id = $1{}", self.db.dialect().row_lock());
        sqlx::query(&lock)
            .bind(payment_id.to_string())
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(PaymentsError::NotFound)?;
        let payment = self.payment_in(conn, payment_id).await?;
        if payment.status != PaymentStatus::Succeeded {
            return Err(PaymentsError::NotRefundable(
                "the payment is not paid (or is already refunded)".into(),
            ));
        }
        if amount.currency != payment.amount.currency || amount.amount <= 0 {
            return Err(PaymentsError::NotRefundable(format!(
                "give a positive amount in {}",
                payment.amount.currency
            )));
        }
        let left = refundable(payment.amount, &refunds_of(&mut *conn, payment_id).await?);
        if amount.amount > left {
            return Err(PaymentsError::RefundTooLarge { left: Money::new(left, amount.currency) });
        }
        let now = self.clock.now();
        let refund = Refund {
            id: RefundId::new(),
            payment_id,
            amount,
            destination,
            reason,
            status: RefundState::Pending,
            created_at: now,
            follow_up,
            asked_by: actor.to_owned(),
        };
        sqlx::query(
            "INSERT INTO refunds (id, payment_id, currency, amount, destination, reason, status, actor, created_at,
                                  updated_at, follow_up)
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $8, $9)",
        )
        .bind(refund.id.to_string())
        .bind(payment_id.to_string())
        .bind(amount.currency.code())
        .bind(amount.amount)
        .bind(destination.as_str())
        .bind(&refund.reason)
        .bind(actor)
        .bind(now.millis())
        .bind(refund.follow_up.as_ref().map(serde_json::Value::to_string))
        .execute(&mut *conn)
        .await?;
        Ok(refund)
    }

    /// Asks the payment's provider to send a refund back. `Unsupported` when the provider (or
    /// the method) cannot refund: the caller sends it to the wallet instead.
    pub async fn refund_at_provider(
        &self,
        payment: &Payment,
        refund: &Refund,
    ) -> Result<RefundStatus, PaymentsError> {
        let gateway = self.gateway(&payment.provider)?;
        let refunds = gateway.refunds().ok_or(GatewayError::Unsupported("refunds"))?;
        self.through_breaker(
            &payment.provider,
            payment.amount,
            refunds.refund(payment, refund.id, refund.amount),
        )
        .await
    }

    /// Moves a pending refund to where it ended; false when it was not pending any more.
    pub async fn finish_refund(
        &self,
        conn: &mut Connection,
        refund: &Refund,
        to: RefundState,
        destination: RefundDestination,
    ) -> Result<bool, PaymentsError> {
        let done = sqlx::query(
            "UPDATE refunds SET status = $1, destination = $2, updated_at = $3 WHERE id = $4 AND status = 'pending'",
        )
        .bind(to.as_str())
        .bind(destination.as_str())
        .bind(self.clock.now().millis())
        .bind(refund.id.to_string())
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        if to == RefundState::Succeeded {
            let event = NewEvent {
                event_type: "refund.completed",
                version: 1,
                subject_id: refund.id.to_string(),
                actor: events::SYSTEM.to_owned(),
                payload: serde_json::json!({
                    "refund_id": refund.id,
                    "payment_id": refund.payment_id,
                    "amount": refund.amount,
                    "destination": destination,
                    "reason": refund.reason,
                }),
            };
            events::record(&mut *conn, self.clock.now(), event).await?;
        }
        Ok(true)
    }

    /// Where a refund Pasar asked for stands at the payment's provider (None: it never got
    /// there). `Unsupported` when the provider cannot be asked.
    pub async fn refund_status_at_provider(
        &self,
        payment: &Payment,
        refund: &Refund,
    ) -> Result<Option<RefundStatus>, PaymentsError> {
        let gateway = self.gateway(&payment.provider)?;
        let refunds = gateway.refunds().ok_or(GatewayError::Unsupported("refunds"))?;
        self.through_breaker(&payment.provider, payment.amount, refunds.refund_status(payment, refund.id))
            .await
    }

    /// Refunds still pending since before `before`, oldest first: their answer was lost.
    pub async fn pending_refunds(&self, before: Timestamp, limit: i64) -> Result<Vec<Refund>, PaymentsError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM refunds WHERE status = 'pending' AND created_at < $1 ORDER BY created_at LIMIT $2"
        ))
        .bind(before.millis())
        .bind(limit)
        .fetch_all(self.db.reader())
        .await?;
        Ok(rows.iter().map(refund_of).collect::<Result<_, _>>()?)
    }

    /// A payment's refunds, oldest first.
    pub async fn refunds(&self, payment: PaymentId) -> Result<Vec<Refund>, PaymentsError> {
        Ok(refunds_of(self.db.reader(), payment).await?)
    }

    /// A payment's refunds in the caller's transaction.
    pub async fn refunds_in(
        &self,
        conn: &mut Connection,
        payment: PaymentId,
    ) -> Result<Vec<Refund>, PaymentsError> {
        Ok(refunds_of(conn, payment).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refund(amount: i64, status: RefundState) -> Refund {
        Refund {
            id: RefundId::new(),
            payment_id: PaymentId::new(),
            amount: Money::new(amount, Currency::IDR),
            destination: RefundDestination::Source,
            reason: String::new(),
            status,
            created_at: Timestamp::from_millis(0),
            follow_up: None,
            asked_by: String::new(),
        }
    }

    #[test]
    fn pending_and_done_refunds_count_and_failed_ones_do_not() {
        let paid = Money::new(100_000, Currency::IDR);
        let refunds = [
            refund(30_000, RefundState::Succeeded),
            refund(20_000, RefundState::Pending),
            refund(50_000, RefundState::Failed),
        ];
        assert_eq!(refundable(paid, &refunds), 50_000);
        assert_eq!(refundable(paid, &[]), 100_000);
    }
}
