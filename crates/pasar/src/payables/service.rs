//! The payables' use cases. Shares are held and clawed back inside the caller's transaction
//! (the payment's, the refund's), so the ledger and the order never disagree.

use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

use super::domain::{CommissionRate, claw_back, split};
use super::store::{self, ShareState, StoredShare};
use crate::db::{Connection, Db};
use crate::ids::{FulfilmentId, UserId, VariantId};
use crate::ledger::{AccountRef, Ledger, LedgerError, Transfer};
use crate::money::{Currency, Money};
use crate::orders::{Order, Orders, OrdersError};
use crate::payments::{Payout, PayoutDestination};
use crate::sellers::{Sellers, SellersError};
use crate::time::Clock;
use crate::wallet::{PayoutSource, Wallet, WalletError};

#[derive(Debug, thiserror::Error)]
pub enum PayablesError {
    #[error("the amount must be positive and in {0}")]
    Invalid(String),
    #[error("the available balance does not cover this payout")]
    InsufficientBalance,
    #[error(transparent)]
    Wallet(#[from] WalletError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Orders(#[from] OrdersError),
    #[error(transparent)]
    Sellers(#[from] SellersError),
    #[error("the store has no payout account")]
    NoPayoutAccount,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Where a store's money stands.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct StoreBalance {
    pub seller_id: UserId,
    /// Its items sold, less the discounts it funded (refunded parts included).
    pub sales: Money,
    /// The platform's commission on those sales.
    pub commission: Money,
    /// Owed, waiting for delivery and the hold period.
    pub held: Money,
    /// Owed and withdrawable now.
    pub available: Money,
    /// Payouts asked for and not yet confirmed.
    pub in_transit: Money,
    /// Payouts confirmed.
    pub paid_out: Money,
}

#[derive(Clone)]
pub struct Payables {
    db: Db,
    clock: Clock,
    ledger: Ledger,
    orders: Orders,
    wallet: Wallet,
    sellers: Sellers,
    default_rate: CommissionRate,
    hold: Duration,
}

/// A seller's share is held until it is released or refunded, never ended by the clock; the
/// ledger's holds all carry a timeout, so this one is out of reach.
const UNTIL_RELEASED: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The ledger transfer holding a part's share for its seller.
fn hold_id(part: FulfilmentId) -> String {
    format!("seller_share:{part}")
}

impl Payables {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        db: Db,
        clock: Clock,
        ledger: Ledger,
        orders: Orders,
        wallet: Wallet,
        sellers: Sellers,
        default_rate: CommissionRate,
        hold: Duration,
    ) -> Self {
        Self { db, clock, ledger, orders, wallet, sellers, default_rate, hold }
    }

    /// The store's own commission rate, or the platform's.
    async fn rate_for(&self, seller: UserId) -> Result<CommissionRate, PayablesError> {
        let bps = self.sellers.commission_bps(seller).await?;
        Ok(CommissionRate::from_bps(bps).unwrap_or(self.default_rate))
    }

    /// The order was paid: each store's share of it is held for the store, in the ledger, out
    /// of revenue (the commission stays there). Parts the shop sells itself owe nobody.
    pub async fn hold_shares(&self, conn: &mut Connection, order: &Order) -> Result<(), PayablesError> {
        let now = self.clock.now();
        for part in &order.fulfilments {
            let Some(seller) = part.seller_id else { continue };
            // The commission is taken on the store's items after the discounts the store funded.
            let base: i64 = order.lines_of(part).map(|l| l.line_total.amount - l.store_discount.amount).sum();
            let share = split(base, self.rate_for(seller).await?);
            let stored = StoredShare {
                fulfilment_id: part.id,
                order_id: order.id,
                seller_id: seller,
                currency: order.total.currency,
                share,
                clawed_back: 0,
                state: if share.seller_amount > 0 { ShareState::Held } else { ShareState::Voided },
            };
            if !store::insert(&mut *conn, &stored, now).await? || share.seller_amount == 0 {
                continue;
            }
            self.ledger
                .transfer(
                    conn,
                    &Transfer {
                        id: hold_id(part.id),
                        debit: AccountRef::revenue(order.total.currency),
                        credit: AccountRef::seller_payable(seller, order.total.currency),
                        amount: share.seller_amount,
                        kind: "seller_share",
                        reference: Some(order.id.to_string()),
                        pending_timeout: Some(UNTIL_RELEASED),
                        actor: None,
                    },
                )
                .await?;
        }
        Ok(())
    }

    /// Money of `order` was refunded (`refund_id`, `amount`): each store gives back its
    /// proportion of the part refunded. A refund of one store's part (`part`) is that store's;
    /// one that put lines back in stock falls on the stores of those lines; any other on every
    /// part by its size. While the share is held it just shrinks; once released, it comes out
    /// of what the seller has available (what the seller has already withdrawn is logged as
    /// unrecovered).
    pub async fn claw_back(
        &self,
        conn: &mut Connection,
        order: &Order,
        refund_id: &str,
        amount: Money,
        part: Option<FulfilmentId>,
        restocked: &[(VariantId, i64)],
    ) -> Result<(), PayablesError> {
        let shares = store::of_order(&mut *conn, order.id).await?;
        if shares.is_empty() {
            return Ok(());
        }
        let paid = order.paid_per_part();
        let weights: Vec<i64> = match part {
            Some(id) => order.fulfilments.iter().map(|f| i64::from(id == f.id)).collect(),
            None if !restocked.is_empty() => order
                .fulfilments
                .iter()
                .map(|f| {
                    order
                        .lines_of(f)
                        .map(|l| {
                            let back: i64 =
                                restocked.iter().filter(|(v, _)| *v == l.variant_id).map(|(_, q)| *q).sum();
                            l.unit_price.amount.saturating_mul(back.min(l.quantity))
                        })
                        .sum()
                })
                .collect(),
            None => paid.clone(),
        };
        let attributed = crate::money::allocate(amount.amount, &weights);
        let now = self.clock.now();
        for ((f, refunded), paid) in order.fulfilments.iter().zip(attributed).zip(paid) {
            let Some(held) = shares.iter().find(|s| s.fulfilment_id == f.id) else { continue };
            // A part called off owes its store nothing; any other refund takes its proportion.
            let claw = if part == Some(f.id) {
                held.share.seller_amount - held.clawed_back
            } else {
                claw_back(held.share, held.clawed_back, refunded, paid)
            };
            if claw == 0 {
                continue;
            }
            match held.state {
                ShareState::Held => {
                    store::add_clawback(&mut *conn, f.id, ShareState::Held, claw, now).await?;
                    if held.clawed_back + claw == held.share.seller_amount {
                        self.ledger
                            .void_pending(conn, &format!("{}:voided", hold_id(f.id)), &hold_id(f.id))
                            .await?;
                        store::end_hold(&mut *conn, f.id, ShareState::Voided, None, now).await?;
                    }
                }
                ShareState::Released => {
                    let payable = AccountRef::seller_payable(held.seller_id, held.currency);
                    let available = self.ledger.balance_in(conn, &payable).await?.available.max(0);
                    let taken = claw.min(available);
                    if taken > 0 {
                        self.ledger
                            .transfer(
                                conn,
                                &Transfer {
                                    id: format!("seller_clawback:{refund_id}:{}", f.id),
                                    debit: payable,
                                    credit: AccountRef::revenue(held.currency),
                                    amount: taken,
                                    kind: "seller_clawback",
                                    reference: Some(order.id.to_string()),
                                    pending_timeout: None,
                                    actor: None,
                                },
                            )
                            .await?;
                        store::add_clawback(&mut *conn, f.id, ShareState::Released, taken, now).await?;
                    }
                    if taken < claw {
                        tracing::warn!(
                            seller = %held.seller_id, part = %f.id, owed = claw - taken,
                            "a refund's store share exceeds what the seller has left; the rest is unrecovered"
                        );
                    }
                }
                ShareState::Voided => {}
            }
        }
        Ok(())
    }

    /// Releases every held share whose part was delivered at least the hold period ago: what
    /// is left of it (after refunds) becomes withdrawable. Returns how many were released.
    pub async fn release_due(&self) -> Result<usize, PayablesError> {
        let mut released = 0;
        let mut after = None;
        loop {
            let held = store::held(self.db.reader(), after, 200).await?;
            let Some(last) = held.last() else { break };
            after = Some(last.fulfilment_id);
            let ids: Vec<FulfilmentId> = held.iter().map(|s| s.fulfilment_id).collect();
            let now = self.clock.now();
            let due: Vec<FulfilmentId> = self
                .orders
                .delivered_at(&ids)
                .await?
                .into_iter()
                .filter(|(_, at)| at.plus(self.hold) <= now)
                .map(|(id, _)| id)
                .collect();
            for share in held.iter().filter(|s| due.contains(&s.fulfilment_id)) {
                if self.release(share).await? {
                    released += 1;
                }
            }
        }
        Ok(released)
    }

    async fn release(&self, share: &StoredShare) -> Result<bool, PayablesError> {
        let mut tx = self.db.begin().await?;
        let left = share.share.seller_amount - share.clawed_back;
        let now = self.clock.now();
        let id = hold_id(share.fulfilment_id);
        // Only a share still held moves; a concurrent release or refund keeps it.
        let (to, posted) =
            if left > 0 { (ShareState::Released, Some(left)) } else { (ShareState::Voided, None) };
        if !store::end_hold(&mut *tx, share.fulfilment_id, to, posted, now).await? {
            return Ok(false);
        }
        match posted {
            Some(amount) => {
                self.ledger.post_pending(&mut tx, &format!("{id}:released"), &id, Some(amount)).await?
            }
            None => self.ledger.void_pending(&mut tx, &format!("{id}:voided"), &id).await?,
        };
        tx.commit().await?;
        Ok(true)
    }

    /// Where `seller`'s money stands, in `currency`.
    pub async fn balance(&self, seller: UserId, currency: Currency) -> Result<StoreBalance, PayablesError> {
        let totals = store::totals(self.db.reader(), Some(seller)).await?;
        let totals = totals.into_iter().find(|t| t.currency == currency);
        self.balance_of(seller, currency, totals).await
    }

    /// Every store's money, for the admin's report.
    pub async fn report(&self) -> Result<Vec<StoreBalance>, PayablesError> {
        let mut report = Vec::new();
        for totals in store::totals(self.db.reader(), None).await? {
            report.push(self.balance_of(totals.seller_id, totals.currency, Some(totals)).await?);
        }
        Ok(report)
    }

    async fn balance_of(
        &self,
        seller: UserId,
        currency: Currency,
        totals: Option<store::Totals>,
    ) -> Result<StoreBalance, PayablesError> {
        let account = self.ledger.balance(&AccountRef::seller_payable(seller, currency)).await?;
        let money = |amount: i64| Money::new(amount, currency);
        let (sales, commission, held, released, clawed) = totals
            .map(|t| (t.sales, t.commission, t.held, t.released, t.clawed_after_release))
            .unwrap_or_default();
        Ok(StoreBalance {
            seller_id: seller,
            sales: money(sales),
            commission: money(commission),
            held: money(held),
            available: money(account.available),
            in_transit: money(account.pending_debits),
            // Posted into the account: what was released; out of it: payouts and clawbacks.
            paid_out: money(released - clawed - account.posted),
        })
    }

    /// Pays `amount` (all that is available when absent) of what `seller` is owed to
    /// `destination` (the store's payout account when absent), through the same path as wallet
    /// withdrawals: held at once, gone when the provider confirms, back when it fails.
    pub async fn pay_out(
        &self,
        seller: UserId,
        amount: Option<Money>,
        currency: Currency,
        destination: Option<PayoutDestination>,
        method: &str,
    ) -> Result<Payout, PayablesError> {
        let destination = match destination {
            Some(destination) => destination,
            None => self.sellers.payout_account(seller).await?.ok_or(PayablesError::NoPayoutAccount)?,
        };
        let available = self.ledger.balance(&AccountRef::seller_payable(seller, currency)).await?.available;
        let amount = amount.unwrap_or(Money::new(available, currency));
        if amount.currency != currency || amount.amount <= 0 {
            return Err(PayablesError::Invalid(currency.code().to_owned()));
        }
        if amount.amount > available {
            return Err(PayablesError::InsufficientBalance);
        }
        match self.wallet.pay_out(PayoutSource::SellerPayable(seller), amount, destination, method).await {
            Err(WalletError::InsufficientBalance) => Err(PayablesError::InsufficientBalance),
            other => Ok(other?),
        }
    }

    /// A seller's payouts, newest first, and whether more follow.
    pub async fn payouts(
        &self,
        seller: UserId,
        before: Option<crate::ids::PayoutId>,
        limit: usize,
    ) -> Result<(Vec<Payout>, bool), PayablesError> {
        Ok(self.wallet.payouts_of(&PayoutSource::SellerPayable(seller).payee(), before, limit).await?)
    }
}
