//! The wallet's use cases, all through the ledger.

use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

use super::METHOD;
use super::history::WalletEntry;
use super::points::PointsRules;
use crate::db::{Connection, Db};
use crate::events::{self, NewEvent};
use crate::identity::Identity;
use crate::ids::{OrderId, PaymentId, PayoutId, UserId};
use crate::ledger::{AccountRef, Balance, Ledger, LedgerError, Transfer};
use crate::money::{Currency, Money};
use crate::orders::Order;
use crate::payments::gateway::ProviderStatus;
use crate::payments::{
    NewPayment, NewPayout, Payment, PaymentPurpose, PaymentStatus, Payments, PaymentsError, Payout,
    PayoutDestination, PayoutStatus, ProviderPayoutStatus, Refund, RefundDestination, SettleError,
    SettleFuture, SettlePayment, SettlePayout, Settlement,
};
use crate::time::Clock;

/// How long a withdrawal's hold lasts if the gateway never answers (reconciliation settles
/// it long before).
/// The most one deposit, withdrawal or adjustment moves (10^12 minor units).
pub const MOST_PER_MOVE: i64 = 1_000_000_000_000;

const WITHDRAWAL_HOLD: Duration = Duration::from_secs(30 * 24 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    #[error("the wallet balance does not cover this")]
    InsufficientBalance,
    #[error("not enough points")]
    InsufficientPoints,
    #[error("{0}")]
    Invalid(String),
    #[error("no such payment or payout")]
    NotFound,
    #[error("the payment gateway is unavailable")]
    GatewayUnavailable,
    #[error(transparent)]
    Ledger(LedgerError),
    #[error(transparent)]
    Payments(#[from] PaymentsError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<LedgerError> for WalletError {
    fn from(err: LedgerError) -> Self {
        match err {
            LedgerError::InsufficientFunds { account } if account.starts_with("points:") => {
                Self::InsufficientPoints
            }
            LedgerError::InsufficientFunds { .. } => Self::InsufficientBalance,
            LedgerError::Database(e) => Self::Database(e),
            other => Self::Ledger(other),
        }
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct WalletSummary {
    /// What the buyer can spend now.
    pub balance: Money,
    /// Held for withdrawals in progress.
    pub pending: Money,
    /// Loyalty points available.
    pub points: i64,
    /// Points held by checkouts awaiting payment.
    pub points_pending: i64,
}

#[derive(Clone)]
pub struct Wallet {
    db: Db,
    clock: Clock,
    ledger: Ledger,
    payments: Payments,
    currency: Currency,
    points: PointsRules,
    payment_ttl: Duration,
    /// The payer's email, for gateways that need one.
    identity: Identity,
}

impl Wallet {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        db: Db,
        clock: Clock,
        ledger: Ledger,
        payments: Payments,
        currency: Currency,
        points: PointsRules,
        payment_ttl: Duration,
        identity: Identity,
    ) -> Self {
        Self { db, clock, ledger, payments, currency, points, payment_ttl, identity }
    }

    pub fn points_rules(&self) -> PointsRules {
        self.points
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub async fn summary(&self, user: UserId) -> Result<WalletSummary, WalletError> {
        let money = self.ledger.balance(&AccountRef::wallet(user, self.currency)).await?;
        let points = self.ledger.balance(&AccountRef::points(user)).await?;
        Ok(WalletSummary {
            balance: Money::new(money.available, self.currency),
            pending: Money::new(money.pending_debits, self.currency),
            points: points.available,
            points_pending: points.pending_debits,
        })
    }

    /// The wallet's (or the points') history, newest first, one line per movement a buyer
    /// would name; and whether more follow.
    pub async fn history(
        &self,
        user: UserId,
        points: bool,
        before: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<WalletEntry>, bool), WalletError> {
        let (account, currency) = if points {
            (AccountRef::points(user), None)
        } else {
            (AccountRef::wallet(user, self.currency), Some(self.currency))
        };
        let (lines, more) = self.ledger.statement(&account, before, limit).await?;
        Ok((lines.into_iter().map(|line| WalletEntry::of(line, currency)).collect(), more))
    }

    /// The buyer's deposits, newest first (with where to pay an unpaid one), and whether more
    /// follow.
    pub async fn deposits(
        &self,
        user: UserId,
        before: Option<PaymentId>,
        limit: usize,
    ) -> Result<(Vec<Payment>, bool), WalletError> {
        Ok(self.payments.payments_of(PaymentPurpose::Deposit, &user.to_string(), before, limit).await?)
    }

    /// The buyer's withdrawals, newest first (with the gateway's page for each), and whether
    /// more follow.
    pub async fn withdrawals(
        &self,
        user: UserId,
        before: Option<PayoutId>,
        limit: usize,
    ) -> Result<(Vec<Payout>, bool), WalletError> {
        self.payouts_of(&PayoutSource::Wallet(user).payee(), before, limit).await
    }

    /// The payouts paid to `payee` (see [`PayoutSource::payee`]), newest first.
    pub async fn payouts_of(
        &self,
        payee: &str,
        before: Option<PayoutId>,
        limit: usize,
    ) -> Result<(Vec<Payout>, bool), WalletError> {
        Ok(self.payments.payouts_of(payee, before, limit).await?)
    }

    /// Starts a deposit: a payment through `method`'s gateway whose confirmation credits the
    /// wallet.
    pub async fn deposit(&self, user: UserId, amount: Money, method: &str) -> Result<Payment, WalletError> {
        if amount.currency != self.currency {
            return Err(WalletError::Invalid(format!("wallets hold {}", self.currency)));
        }
        if !(1..=MOST_PER_MOVE).contains(&amount.amount) {
            return Err(WalletError::Invalid(format!(
                "the amount must be positive and at most {MOST_PER_MOVE}"
            )));
        }
        if method == METHOD {
            return Err(WalletError::Invalid(
                "a deposit is paid through a gateway, not from the wallet".into(),
            ));
        }
        let mut tx = self.db.begin().await?;
        let payment = self
            .payments
            .create(
                &mut tx,
                NewPayment {
                    id: PaymentId::new(),
                    purpose: PaymentPurpose::Deposit,
                    reference: format!("wallet:{user}"),
                    payer_id: user.to_string(),
                    method: method.to_owned(),
                    amount,
                    expires_at: self.clock.now().plus(self.payment_ttl),
                },
            )
            .await?;
        tx.commit().await?;
        let email = self.identity.user(user).await.ok().map(|u| u.email);
        match self.payments.request(&payment, "Wallet deposit", email.as_deref()).await {
            Ok(requested) => Ok(requested),
            Err(PaymentsError::Gateway(err)) => {
                tracing::warn!(payment = %payment.id, error = %err, "gateway did not take the deposit");
                let mut tx = self.db.begin().await?;
                self.settle_deposit_in(&mut tx, &payment, ProviderStatus::Failed).await?;
                tx.commit().await?;
                Err(WalletError::GatewayUnavailable)
            }
            Err(down @ PaymentsError::ProviderDown { .. }) => {
                let mut tx = self.db.begin().await?;
                self.settle_deposit_in(&mut tx, &payment, ProviderStatus::Failed).await?;
                tx.commit().await?;
                Err(down.into())
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Applies a deposit's outcome in the caller's transaction: money that arrived (even after
    /// the deadline) is credited exactly once.
    async fn settle_deposit_in(
        &self,
        tx: &mut Connection,
        payment: &Payment,
        outcome: ProviderStatus,
    ) -> Result<Settlement, WalletError> {
        let actor = format!("gateway:{}", payment.provider);
        let moved = match (payment.status, outcome) {
            (PaymentStatus::Succeeded, _) => false,
            (_, ProviderStatus::Succeeded) => {
                let moved =
                    self.payments.transition(&mut *tx, payment, PaymentStatus::Succeeded, &actor).await?;
                if moved {
                    let user: UserId = payment.payer_id.parse().map_err(|_| WalletError::NotFound)?;
                    self.credit_deposit(&mut *tx, payment, user).await?;
                    events::record(
                        &mut *tx,
                        self.clock.now(),
                        NewEvent {
                            event_type: "wallet.deposit.completed",
                            version: 1,
                            subject_id: payment.id.to_string(),
                            actor: actor.clone(),
                            payload: serde_json::json!({
                                "payment_id": payment.id, "user_id": user, "amount": payment.amount,
                            }),
                        },
                    )
                    .await?;
                }
                moved
            }
            (PaymentStatus::Pending, ProviderStatus::Failed | ProviderStatus::Cancelled) => {
                self.payments.transition(&mut *tx, payment, PaymentStatus::Failed, &actor).await?
            }
            _ => false,
        };
        Ok(if moved { Settlement::Applied } else { Settlement::NoChange })
    }

    async fn credit_deposit(
        &self,
        conn: &mut Connection,
        payment: &Payment,
        user: UserId,
    ) -> Result<(), WalletError> {
        let clearing = AccountRef::gateway_clearing(&payment.provider, payment.amount.currency);
        self.ledger
            .transfer(
                conn,
                &Transfer {
                    id: format!("deposit:{}", payment.id),
                    debit: clearing.clone(),
                    credit: AccountRef::wallet(user, payment.amount.currency),
                    amount: payment.amount.amount,
                    kind: "deposit",
                    reference: Some(payment.id.to_string()),
                    pending_timeout: None,
                    actor: None,
                },
            )
            .await?;
        self.post_fee(conn, payment).await?;
        self.post_provider_fee(conn, payment).await
    }

    /// What the provider kept of a sale (when it said): the shop's cost, out of the fees account
    /// and off what the provider owes the shop.
    async fn post_provider_fee(&self, conn: &mut Connection, payment: &Payment) -> Result<(), WalletError> {
        let Some(fee) = payment.provider_fee.filter(|fee| fee.amount > 0) else { return Ok(()) };
        self.ledger
            .transfer(
                conn,
                &Transfer {
                    id: format!("provider_fee:{}", payment.id),
                    debit: AccountRef::fees(fee.currency),
                    credit: AccountRef::gateway_clearing(&payment.provider, fee.currency),
                    amount: fee.amount,
                    kind: "provider_fee",
                    reference: Some(payment.id.to_string()),
                    pending_timeout: None,
                    actor: None,
                },
            )
            .await?;
        Ok(())
    }

    /// The buyer paid the gateway's fee on top; it passes through to the fees account.
    async fn post_fee(&self, conn: &mut Connection, payment: &Payment) -> Result<(), WalletError> {
        if payment.fee.amount == 0 {
            return Ok(());
        }
        self.ledger
            .transfer(
                conn,
                &Transfer {
                    id: format!("fee:{}", payment.id),
                    debit: AccountRef::gateway_clearing(&payment.provider, payment.fee.currency),
                    credit: AccountRef::fees(payment.fee.currency),
                    amount: payment.fee.amount,
                    kind: "gateway_fee",
                    reference: Some(payment.id.to_string()),
                    pending_timeout: None,
                    actor: None,
                },
            )
            .await?;
        Ok(())
    }

    /// Ends deposits whose payment time ran out. Returns how many.
    pub async fn expire_due_deposits(&self) -> Result<usize, WalletError> {
        let mut expired = 0;
        for due in self.payments.due(self.clock.now(), 100).await? {
            if due.purpose == PaymentPurpose::Deposit && self.expire_deposit(due.id).await? {
                expired += 1;
            }
        }
        Ok(expired)
    }

    /// Ends a pending deposit as its deadline passing does. False when it was not pending any
    /// more. The expiry job takes this step for each deposit past its deadline; the sandbox's
    /// Expire button takes it at once.
    pub async fn expire_deposit(&self, payment_id: PaymentId) -> Result<bool, WalletError> {
        let mut tx = self.db.begin().await?;
        let payment = self.payments.payment_in(&mut tx, payment_id).await?;
        if payment.purpose != PaymentPurpose::Deposit {
            return Err(WalletError::NotFound);
        }
        let expired = self
            .payments
            .transition(&mut tx, &payment, PaymentStatus::Expired, crate::events::SYSTEM)
            .await?;
        tx.commit().await?;
        Ok(expired)
    }

    /// Pays an order from the buyer's wallet inside the checkout's transaction; refused with
    /// `InsufficientBalance` (and nothing written) when the balance does not cover it.
    pub async fn pay_order(
        &self,
        conn: &mut Connection,
        payment: &Payment,
        buyer: UserId,
    ) -> Result<(), WalletError> {
        // A free order (vouchers paid it all) moves no money.
        if payment.total.amount > 0 {
            self.ledger.transfer(conn, &order_payment(payment, buyer)).await?;
        }
        Ok(())
    }

    /// [`Wallet::pay_order`] for a batch of checkouts, in one ledger batch: each order gets
    /// its own answer, and one refused for its balance leaves the others paid.
    pub async fn pay_orders(
        &self,
        conn: &mut Connection,
        orders: &[(&Payment, UserId)],
    ) -> Result<Vec<Result<(), WalletError>>, WalletError> {
        let transfers: Vec<Transfer> =
            orders.iter().map(|(payment, buyer)| order_payment(payment, *buyer)).collect();
        let outcomes = self.ledger.transfer_many(conn, &transfers).await?;
        Ok(outcomes.into_iter().map(|outcome| outcome.map(|_| ()).map_err(WalletError::from)).collect())
    }

    /// Books a gateway sale: the gateway owes us the order total (revenue) and the fee the buyer
    /// paid on top (passed to fees).
    pub async fn post_gateway_sale(
        &self,
        conn: &mut Connection,
        payment: &Payment,
    ) -> Result<(), WalletError> {
        self.ledger
            .transfer(
                conn,
                &Transfer {
                    id: format!("sale:{}", payment.id),
                    debit: AccountRef::gateway_clearing(&payment.provider, payment.amount.currency),
                    credit: AccountRef::revenue(payment.amount.currency),
                    amount: payment.amount.amount,
                    kind: "sale",
                    reference: Some(payment.reference.clone()),
                    pending_timeout: None,
                    actor: None,
                },
            )
            .await?;
        self.post_fee(conn, payment).await?;
        self.post_provider_fee(conn, payment).await
    }

    /// Reverses a sale refunded whole at its provider: revenue goes back to where the money
    /// came from (the wallet or the gateway).
    pub async fn post_refund(&self, conn: &mut Connection, payment: &Payment) -> Result<(), WalletError> {
        let destination =
            if payment.provider == METHOD { RefundDestination::Wallet } else { RefundDestination::Source };
        self.post_refund_to(conn, payment, format!("refund:{}", payment.id), payment.amount, destination)
            .await
    }

    /// Posts one refund of (part of) a sale: out of revenue, back to the gateway's clearing
    /// account (the provider sends it on) or into the buyer's wallet.
    pub async fn post_refund_part(
        &self,
        conn: &mut Connection,
        payment: &Payment,
        refund: &Refund,
        destination: RefundDestination,
    ) -> Result<(), WalletError> {
        self.post_refund_to(conn, payment, format!("refund:{}", refund.id), refund.amount, destination).await
    }

    async fn post_refund_to(
        &self,
        conn: &mut Connection,
        payment: &Payment,
        id: String,
        amount: Money,
        destination: RefundDestination,
    ) -> Result<(), WalletError> {
        let back_to = match destination {
            RefundDestination::Wallet => {
                let buyer: UserId = payment.payer_id.parse().map_err(|_| WalletError::NotFound)?;
                AccountRef::wallet(buyer, amount.currency)
            }
            RefundDestination::Source => AccountRef::gateway_clearing(&payment.provider, amount.currency),
        };
        let transfer = Transfer {
            id,
            debit: AccountRef::revenue(amount.currency),
            credit: back_to,
            amount: amount.amount,
            kind: "refund",
            reference: Some(payment.reference.clone()),
            pending_timeout: None,
            actor: None,
        };
        self.ledger.transfer(conn, &transfer).await?;
        Ok(())
    }

    /// Holds `points` for an order until its payment settles (or the hold times out).
    pub async fn hold_points(
        &self,
        conn: &mut Connection,
        buyer: UserId,
        order: OrderId,
        points: i64,
        timeout: Duration,
    ) -> Result<(), WalletError> {
        self.ledger
            .transfer(
                conn,
                &Transfer {
                    id: format!("points_hold:{order}"),
                    debit: AccountRef::points(buyer),
                    credit: AccountRef::points_redeemed(),
                    amount: points,
                    kind: "points_redeemed",
                    reference: Some(order.to_string()),
                    pending_timeout: Some(timeout),
                    actor: Some(buyer.to_string()),
                },
            )
            .await?;
        Ok(())
    }

    /// Consumes an order's held points (its payment succeeded).
    pub async fn consume_points(&self, conn: &mut Connection, order: &Order) -> Result<(), WalletError> {
        if order.discount.amount == 0 {
            return Ok(());
        }
        match self
            .ledger
            .post_pending(
                conn,
                &format!("points_post:{}", order.id),
                &format!("points_hold:{}", order.id),
                None,
            )
            .await
        {
            Ok(_) | Err(LedgerError::PendingNotFound { .. }) => Ok(()),
            // The hold timed out before the (late) payment arrived: the points went back to
            // the buyer and the discount stands; the payment must still be applied.
            Err(LedgerError::PendingAlreadyResolved { .. }) => {
                tracing::warn!(order = %order.id, "points hold had expired before payment; points not consumed");
                Ok(())
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Gives an order's held points back (its payment failed, expired or was cancelled).
    pub async fn release_points(&self, conn: &mut Connection, order: &Order) -> Result<(), WalletError> {
        if order.discount.amount == 0 {
            return Ok(());
        }
        let voided = self
            .ledger
            .void_pending(conn, &format!("points_void:{}", order.id), &format!("points_hold:{}", order.id))
            .await;
        match voided {
            Ok(_) | Err(LedgerError::PendingNotFound { .. } | LedgerError::PendingAlreadyResolved { .. }) => {
                Ok(())
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Starts a withdrawal: the funds are held at once, then the gateway is asked for a payout.
    pub async fn withdraw(
        &self,
        user: UserId,
        amount: Money,
        destination: PayoutDestination,
        method: &str,
    ) -> Result<Payout, WalletError> {
        if amount.currency != self.currency {
            return Err(WalletError::Invalid(format!("wallets hold {}", self.currency)));
        }
        let from = PayoutSource::Wallet(user);
        self.pay_out(from, amount, destination, method).await
    }

    /// Sends money out of `from` (a buyer's wallet, a seller's payable) through `method`: held
    /// at once, posted when the gateway confirms the payout, given back when it fails. Wallet
    /// withdrawals and seller payouts take this one path.
    pub async fn pay_out(
        &self,
        from: PayoutSource,
        amount: Money,
        destination: PayoutDestination,
        method: &str,
    ) -> Result<Payout, WalletError> {
        let user = from.owner();
        if !(1..=MOST_PER_MOVE).contains(&amount.amount) {
            return Err(WalletError::Invalid(format!(
                "the amount must be positive and at most {MOST_PER_MOVE}"
            )));
        }
        let mut tx = self.db.begin().await?;
        let payout = self
            .payments
            .create_payout(
                &mut tx,
                NewPayout {
                    // One payout per withdrawal: the reference names this withdrawal alone.
                    reference: format!("{}:{user}:{}", from.reference_kind(), uuid::Uuid::now_v7().simple()),
                    payee_id: from.payee(),
                    provider: method.to_owned(),
                    amount,
                    destination,
                },
            )
            .await?;
        self.ledger
            .transfer(
                &mut tx,
                &Transfer {
                    id: format!("withdrawal:{}", payout.id),
                    debit: from.account(amount.currency),
                    credit: AccountRef::payouts_in_transit(method, amount.currency),
                    amount: amount.amount,
                    kind: "withdrawal",
                    reference: Some(payout.id.to_string()),
                    pending_timeout: Some(WITHDRAWAL_HOLD),
                    actor: Some(user.to_string()),
                },
            )
            .await?;
        tx.commit().await?;
        let email = self.identity.user(user).await.ok().map(|u| u.email);
        match self.payments.request_payout(&payout, email.as_deref()).await {
            Ok(requested) => Ok(requested),
            Err(PaymentsError::Gateway(err)) => {
                tracing::warn!(payout = %payout.id, error = %err, "gateway did not take the payout; funds returned");
                let mut tx = self.db.begin().await?;
                let payout = self.payments.payout_in(&mut tx, payout.id).await?;
                self.settle_withdrawal_in(&mut tx, &payout, ProviderPayoutStatus::Failed).await?;
                tx.commit().await?;
                Err(WalletError::GatewayUnavailable)
            }
            Err(down @ PaymentsError::ProviderDown { .. }) => {
                let mut tx = self.db.begin().await?;
                let payout = self.payments.payout_in(&mut tx, payout.id).await?;
                self.settle_withdrawal_in(&mut tx, &payout, ProviderPayoutStatus::Failed).await?;
                tx.commit().await?;
                Err(down.into())
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Applies a payout's outcome in the caller's transaction: success posts the hold, failure
    /// voids it so the money is back in the wallet.
    async fn settle_withdrawal_in(
        &self,
        tx: &mut Connection,
        payout: &Payout,
        outcome: ProviderPayoutStatus,
    ) -> Result<Settlement, WalletError> {
        let actor = format!("gateway:{}", payout.provider);
        let hold = format!("withdrawal:{}", payout.id);
        let moved = match (payout.status, outcome) {
            (PayoutStatus::Pending, ProviderPayoutStatus::Succeeded) => {
                let moved = self
                    .payments
                    .transition_payout(&mut *tx, payout, PayoutStatus::Succeeded, &actor)
                    .await?;
                if moved {
                    self.ledger.post_pending(&mut *tx, &format!("{hold}:paid"), &hold, None).await?;
                    record_payout_event(tx, self.clock.now(), payout, true).await?;
                }
                moved
            }
            (PayoutStatus::Pending, ProviderPayoutStatus::Failed) => {
                let moved =
                    self.payments.transition_payout(&mut *tx, payout, PayoutStatus::Failed, &actor).await?;
                if moved {
                    self.ledger.void_pending(&mut *tx, &format!("{hold}:returned"), &hold).await?;
                    record_payout_event(tx, self.clock.now(), payout, false).await?;
                }
                moved
            }
            _ => false,
        };
        Ok(if moved { Settlement::Applied } else { Settlement::NoChange })
    }

    /// An admin's correction of a buyer's wallet (positive credits, negative debits), never
    /// taking it below zero. `id` makes a retried adjustment land once.
    pub async fn adjust(
        &self,
        id: &str,
        user: UserId,
        amount: Money,
        reason: &str,
        actor: &str,
    ) -> Result<Balance, WalletError> {
        // Bounded like deposits and withdrawals.
        if amount.currency != self.currency
            || !(1..=MOST_PER_MOVE.unsigned_abs()).contains(&amount.amount.unsigned_abs())
        {
            return Err(WalletError::Invalid(format!(
                "give a non-zero amount of at most {MOST_PER_MOVE} either way, in {}",
                self.currency
            )));
        }
        let wallet = AccountRef::wallet(user, amount.currency);
        let other = AccountRef::adjustments(amount.currency);
        let (debit, credit) =
            if amount.amount > 0 { (other, wallet.clone()) } else { (wallet.clone(), other) };
        let mut tx = self.db.begin().await?;
        self.ledger
            .transfer(
                &mut tx,
                &Transfer {
                    id: format!("adjustment:{id}"),
                    debit,
                    credit,
                    amount: amount.amount.abs(),
                    kind: "adjustment",
                    reference: Some(format!("{actor}: {reason}")),
                    pending_timeout: None,
                    actor: Some(actor.to_owned()),
                },
            )
            .await?;
        let balance = self.ledger.balance_in(&mut tx, &wallet).await?;
        tx.commit().await?;
        Ok(balance)
    }
}

/// Where a payout's money comes from.
#[derive(Clone, Copy, Debug)]
pub enum PayoutSource {
    /// A buyer's wallet (a withdrawal).
    Wallet(UserId),
    /// What the marketplace owes a seller (a seller payout).
    SellerPayable(UserId),
}

impl PayoutSource {
    fn owner(self) -> UserId {
        match self {
            Self::Wallet(user) | Self::SellerPayable(user) => user,
        }
    }

    fn account(self, currency: Currency) -> AccountRef {
        match self {
            Self::Wallet(user) => AccountRef::wallet(user, currency),
            Self::SellerPayable(seller) => AccountRef::seller_payable(seller, currency),
        }
    }

    /// Payouts are listed by payee: a seller's payouts are kept apart from their own wallet's.
    pub fn payee(self) -> String {
        match self {
            Self::Wallet(user) => user.to_string(),
            Self::SellerPayable(seller) => format!("seller:{seller}"),
        }
    }

    fn reference_kind(self) -> &'static str {
        match self {
            Self::Wallet(_) => "withdrawal",
            Self::SellerPayable(_) => SELLER_PAYOUT,
        }
    }
}

/// The reference prefix of a seller's payout.
const SELLER_PAYOUT: &str = "seller_payout";

/// The event of a payout's outcome for the money's owner: `wallet.withdrawal.completed` /
/// `.failed` for a buyer's withdrawal, `seller.payout.completed` / `.failed` for a store's payout
/// (the payout itself announces `payout.succeeded` / `payout.failed`, with the provider's view).
async fn record_payout_event(
    conn: &mut Connection,
    now: crate::time::Timestamp,
    payout: &Payout,
    succeeded: bool,
) -> Result<(), WalletError> {
    let seller = payout.reference.starts_with(SELLER_PAYOUT);
    let event_type = match (seller, succeeded) {
        (true, true) => "seller.payout.completed",
        (true, false) => "seller.payout.failed",
        (false, true) => "wallet.withdrawal.completed",
        (false, false) => "wallet.withdrawal.failed",
    };
    events::record(
        conn,
        now,
        NewEvent {
            event_type,
            version: 1,
            subject_id: payout.id.to_string(),
            actor: format!("gateway:{}", payout.provider),
            payload: serde_json::json!({
                "payout_id": payout.id, "payee": payout.payee_id, "amount": payout.amount,
                "after": { "status": if succeeded { "succeeded" } else { "failed" } },
            }),
        },
    )
    .await?;
    Ok(())
}

/// The ledger transfer that pays an order from the buyer's wallet into revenue.
fn order_payment(payment: &Payment, buyer: UserId) -> Transfer {
    Transfer {
        id: format!("order_payment:{}", payment.id),
        debit: AccountRef::wallet(buyer, payment.total.currency),
        credit: AccountRef::revenue(payment.total.currency),
        amount: payment.total.amount,
        kind: "order_payment",
        reference: Some(payment.reference.clone()),
        pending_timeout: None,
        actor: Some(buyer.to_string()),
    }
}

/// Deposits are settled here: the pipeline in `payments` hands each verified outcome over,
/// inside its de-duplicating transaction.
impl SettlePayment for Wallet {
    fn settle<'a>(
        &'a self,
        conn: &'a mut Connection,
        payment: &'a Payment,
        status: ProviderStatus,
    ) -> SettleFuture<'a> {
        Box::pin(async move {
            self.settle_deposit_in(conn, payment, status).await.map_err(|e| SettleError(e.into()))
        })
    }
}

/// Withdrawals' payouts are settled here.
impl SettlePayout for Wallet {
    fn settle<'a>(
        &'a self,
        conn: &'a mut Connection,
        payout: &'a Payout,
        status: ProviderPayoutStatus,
    ) -> SettleFuture<'a> {
        Box::pin(async move {
            self.settle_withdrawal_in(conn, payout, status).await.map_err(|e| SettleError(e.into()))
        })
    }
}
