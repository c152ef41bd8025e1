//! Promotions' use cases: vouchers created, listed, paused and reported on by admins (for the
//! platform) and sellers (for their store), and the checkout saga's voucher step: held with
//! the stock, consumed on payment, released when the order ends unpaid.

use serde::Serialize;
use utoipa::ToSchema;

use super::domain::{AppliesTo, Candidate, Funder, Priced, Reason, Refused, Voucher, normalise_code};
use super::store::{self, Redemption};
use crate::db::{self, Connection, Db};
use crate::events::{self, NewEvent};
use crate::ids::{OrderId, UserId, VoucherId};
use crate::money::Money;
use crate::time::{Clock, Timestamp};

/// Whose vouchers a caller manages: an admin every voucher (creating the platform's), a seller
/// their store's only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Platform,
    Store(UserId),
}

impl Scope {
    fn sees(self, voucher: &Voucher) -> bool {
        match self {
            Scope::Platform => true,
            Scope::Store(store) => voucher.store_id == Some(store),
        }
    }
}

/// A voucher as its creator describes it.
#[derive(Clone, Debug)]
pub struct NewVoucher {
    pub code: String,
    pub percent_off: Option<i64>,
    pub amount_off: Option<Money>,
    pub max_discount: Option<Money>,
    pub min_spend: Option<Money>,
    pub starts_at: Option<Timestamp>,
    pub ends_at: Option<Timestamp>,
    pub usage_limit: Option<i64>,
    pub per_buyer_limit: Option<i64>,
    pub first_order_only: bool,
    pub applies_to: AppliesTo,
    pub stackable: bool,
    pub automatic: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum PromotionsError {
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("a voucher with code {0} exists already")]
    CodeTaken(String),
    #[error("no such voucher")]
    NotFound,
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

fn invalid(field: &'static str, message: impl Into<String>) -> PromotionsError {
    PromotionsError::Invalid { field, message: message.into() }
}

/// A voucher's uses so far, in all and per buyer.
#[derive(Clone, Debug, Default, Serialize, ToSchema)]
pub struct UseCounts {
    /// Held by orders awaiting payment.
    pub held: i64,
    /// By paid orders.
    pub used: i64,
    /// Held by orders that ended unpaid, and given back.
    pub released: i64,
    /// What the paid orders were given; absent until one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discount_given: Option<Money>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct BuyerUsage {
    pub buyer_id: UserId,
    #[serde(flatten)]
    pub counts: UseCounts,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Usage {
    pub voucher_id: VoucherId,
    pub code: String,
    pub usage_limit: Option<i64>,
    #[serde(flatten)]
    pub counts: UseCounts,
    pub buyers: Vec<BuyerUsage>,
}

impl UseCounts {
    fn add(&mut self, status: &str, uses: i64, discount: Money) {
        match status {
            "held" => self.held += uses,
            "released" => self.released += uses,
            _ => {
                self.used += uses;
                self.discount_given = Some(match self.discount_given {
                    Some(given) => Money::new(given.amount + discount.amount, given.currency),
                    None => discount,
                });
            }
        }
    }
}

/// A use of a voucher the checkout holds: what it takes off this order.
#[derive(Clone, Debug)]
pub struct Hold {
    pub voucher_id: VoucherId,
    pub code: String,
    pub per_buyer_cap: Option<i64>,
    pub first_order_only: bool,
    pub discount: Money,
}

impl Hold {
    /// The uses to hold for the vouchers `priced` applies, in voucher order (the order
    /// concurrent checkouts lock them in).
    pub fn for_priced(candidates: &[Candidate], priced: &Priced) -> Vec<Hold> {
        let mut holds: Vec<Hold> = priced
            .applied
            .iter()
            .filter_map(|applied| {
                let voucher = &candidates.iter().find(|c| c.voucher.id == applied.voucher_id)?.voucher;
                Some(Hold {
                    voucher_id: voucher.id,
                    code: voucher.code.clone(),
                    per_buyer_cap: voucher.per_buyer_cap(),
                    first_order_only: voucher.first_order_only,
                    discount: applied.amount,
                })
            })
            .collect();
        holds.sort_by_key(|h| h.voucher_id);
        holds
    }
}

#[derive(Clone)]
pub struct Promotions {
    db: Db,
    clock: Clock,
}

impl Promotions {
    pub fn new(db: Db, clock: Clock) -> Self {
        Self { db, clock }
    }

    #[tracing::instrument(skip_all, fields(code = %new.code))]
    pub async fn create(
        &self,
        scope: Scope,
        actor: UserId,
        new: NewVoucher,
    ) -> Result<Voucher, PromotionsError> {
        let code = normalise_code(&new.code)
            .ok_or_else(|| invalid("code", "3 to 40 letters, digits, - or _ (case does not matter)"))?;
        match (new.percent_off, new.amount_off) {
            (Some(percent), None) if (1..=100).contains(&percent) => {}
            (Some(_), None) => return Err(invalid("percent_off", "a whole percent from 1 to 100")),
            (None, Some(amount)) if amount.amount > 0 => {}
            (None, Some(_)) => return Err(invalid("amount_off", "must be more than zero")),
            _ => return Err(invalid("percent_off", "give either percent_off or amount_off")),
        }
        if new.max_discount.is_some_and(|m| m.amount <= 0) {
            return Err(invalid("max_discount", "must be more than zero"));
        }
        if new.min_spend.is_some_and(|m| m.amount < 0) {
            return Err(invalid("min_spend", "must not be negative"));
        }
        let mut currencies =
            [new.amount_off, new.max_discount, new.min_spend].into_iter().flatten().map(|m| m.currency);
        if let Some(first) = currencies.next() {
            if currencies.any(|c| c != first) {
                return Err(invalid("min_spend", "all amounts of a voucher must be in one currency"));
            }
        }
        if let (Some(starts), Some(ends)) = (new.starts_at, new.ends_at) {
            if ends <= starts {
                return Err(invalid("ends_at", "must be after starts_at"));
            }
        }
        if new.usage_limit.is_some_and(|l| l < 1) {
            return Err(invalid("usage_limit", "at least 1"));
        }
        if new.per_buyer_limit.is_some_and(|l| l < 1) {
            return Err(invalid("per_buyer_limit", "at least 1"));
        }
        let store_id = match scope {
            Scope::Platform => None,
            Scope::Store(store) => {
                if new.applies_to.stores.iter().any(|s| *s != store) {
                    return Err(invalid(
                        "applies_to",
                        "a store's voucher applies only to that store's items",
                    ));
                }
                Some(store)
            }
        };
        let now = self.clock.now();
        let voucher = Voucher {
            id: VoucherId::new(),
            code,
            funder: if store_id.is_some() { Funder::Store } else { Funder::Platform },
            store_id,
            percent_off: new.percent_off,
            amount_off: new.amount_off,
            max_discount: new.max_discount,
            min_spend: new.min_spend,
            starts_at: new.starts_at,
            ends_at: new.ends_at,
            usage_limit: new.usage_limit,
            per_buyer_limit: new.per_buyer_limit,
            first_order_only: new.first_order_only,
            applies_to: new.applies_to,
            stackable: new.stackable,
            automatic: new.automatic,
            paused: false,
            held: 0,
            used: 0,
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.db.begin().await?;
        match store::insert(&mut tx, &voucher).await {
            Err(err) if db::is_unique_violation(&err) => {
                return Err(PromotionsError::CodeTaken(voucher.code));
            }
            other => other?,
        }
        events::record(
            &mut tx,
            now,
            NewEvent {
                event_type: "voucher.created",
                version: 1,
                subject_id: voucher.id.to_string(),
                actor: actor.to_string(),
                payload: serde_json::json!({ "voucher_id": voucher.id, "after": &voucher }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(voucher)
    }

    pub async fn voucher(&self, scope: Scope, id: VoucherId) -> Result<Voucher, PromotionsError> {
        store::voucher(self.db.reader(), id).await?.filter(|v| scope.sees(v)).ok_or(PromotionsError::NotFound)
    }

    /// One page of vouchers, newest first, and whether more follow.
    pub async fn list(
        &self,
        scope: Scope,
        before: Option<VoucherId>,
        limit: usize,
    ) -> Result<(Vec<Voucher>, bool), PromotionsError> {
        let store = match scope {
            Scope::Platform => None,
            Scope::Store(store) => Some(store),
        };
        let mut vouchers =
            store::list(self.db.reader(), store, before, i64::try_from(limit + 1).unwrap_or(i64::MAX))
                .await?;
        let more = vouchers.len() > limit;
        vouchers.truncate(limit);
        Ok((vouchers, more))
    }

    /// Pauses or resumes a voucher: a paused one cannot be held by new checkouts (those
    /// holding it already go on).
    #[tracing::instrument(skip_all, fields(voucher = %id))]
    pub async fn set_paused(
        &self,
        scope: Scope,
        id: VoucherId,
        paused: bool,
        actor: UserId,
    ) -> Result<Voucher, PromotionsError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let voucher =
            store::voucher(&mut *tx, id).await?.filter(|v| scope.sees(v)).ok_or(PromotionsError::NotFound)?;
        if store::set_paused(&mut tx, id, paused, now).await? {
            events::record(
                &mut tx,
                now,
                NewEvent {
                    event_type: if paused { "voucher.paused" } else { "voucher.resumed" },
                    version: 1,
                    subject_id: id.to_string(),
                    actor: actor.to_string(),
                    payload: serde_json::json!({
                        "voucher_id": id, "code": voucher.code,
                        "before": { "paused": voucher.paused }, "after": { "paused": paused },
                    }),
                },
            )
            .await?;
        }
        tx.commit().await?;
        self.voucher(scope, id).await
    }

    pub async fn usage(&self, scope: Scope, id: VoucherId) -> Result<Usage, PromotionsError> {
        let voucher = self.voucher(scope, id).await?;
        let mut usage = Usage {
            voucher_id: voucher.id,
            code: voucher.code,
            usage_limit: voucher.usage_limit,
            counts: UseCounts::default(),
            buyers: Vec::new(),
        };
        for (buyer, status, uses, discount) in store::usage(self.db.reader(), id).await? {
            usage.counts.add(&status, uses, discount);
            if usage.buyers.last().is_none_or(|b| b.buyer_id != buyer) {
                usage.buyers.push(BuyerUsage { buyer_id: buyer, counts: UseCounts::default() });
            }
            if let Some(last) = usage.buyers.last_mut() {
                last.counts.add(&status, uses, discount);
            }
        }
        Ok(usage)
    }

    /// The vouchers a buyer's order may get: those whose codes they gave (an unknown code is
    /// refused) and, when `automatic`, the automatic promotions running now.
    pub async fn candidates(
        &self,
        buyer: UserId,
        codes: &[String],
        automatic: bool,
    ) -> Result<Vec<Candidate>, PromotionsError> {
        let mut vouchers = Vec::with_capacity(codes.len());
        for given in codes {
            let found = match normalise_code(given) {
                Some(code) => store::by_code(self.db.reader(), &code).await?,
                None => None,
            };
            let voucher =
                found.ok_or_else(|| Refused { code: given.clone(), reason: Reason::UnknownCode })?;
            vouchers.push((voucher, true));
        }
        if automatic {
            let running = store::automatic(self.db.reader(), self.clock.now()).await?;
            vouchers.extend(running.into_iter().map(|v| (v, false)));
        }
        if vouchers.is_empty() {
            return Ok(Vec::new());
        }
        let uses = store::buyer_uses(self.db.reader(), buyer).await?;
        Ok(vouchers
            .into_iter()
            .map(|(voucher, asked)| Candidate {
                buyer_uses: uses.get(&voucher.id).copied().unwrap_or(0),
                voucher,
                asked,
            })
            .collect())
    }

    /// The checkout's voucher step, in its transaction (after the stock): one use of each
    /// voucher and of the buyer's allowance is held, or the voucher is refused and the caller
    /// rolls everything back.
    pub async fn hold(
        &self,
        conn: &mut Connection,
        order: OrderId,
        buyer: UserId,
        holds: &[Hold],
    ) -> Result<(), PromotionsError> {
        let now = self.clock.now();
        for hold in holds {
            if !store::hold_use(conn, hold.voucher_id, now).await? {
                let reason = match store::voucher(&mut *conn, hold.voucher_id).await? {
                    Some(v) if v.paused => Reason::Paused,
                    Some(v) if v.starts_at.is_some_and(|at| now < at) => Reason::NotStarted,
                    Some(v) if v.ends_at.is_some_and(|at| now >= at) => Reason::Expired,
                    Some(_) => Reason::UsedUp,
                    None => Reason::UnknownCode,
                };
                return Err(Refused { code: hold.code.clone(), reason }.into());
            }
            if !store::hold_buyer_use(conn, hold.voucher_id, buyer, hold.per_buyer_cap).await? {
                let reason =
                    if hold.first_order_only { Reason::FirstOrderOnly } else { Reason::PerBuyerLimitReached };
                return Err(Refused { code: hold.code.clone(), reason }.into());
            }
            let redemption = Redemption {
                voucher_id: hold.voucher_id,
                code: hold.code.clone(),
                buyer_id: buyer,
                discount: hold.discount,
            };
            store::insert_redemption(conn, order, &redemption, now).await?;
        }
        Ok(())
    }

    /// The order is paid: its held vouchers are used, each with its `voucher.redeemed` event.
    pub async fn consume(
        &self,
        conn: &mut Connection,
        order: OrderId,
        actor: &str,
    ) -> Result<(), PromotionsError> {
        let now = self.clock.now();
        for used in store::settle_held(conn, order, "used", now).await? {
            events::record(
                &mut *conn,
                now,
                NewEvent {
                    event_type: "voucher.redeemed",
                    version: 1,
                    subject_id: used.voucher_id.to_string(),
                    actor: actor.to_owned(),
                    payload: serde_json::json!({
                        "voucher_id": used.voucher_id, "code": used.code, "order_id": order,
                        "buyer_id": used.buyer_id, "discount": used.discount,
                    }),
                },
            )
            .await?;
        }
        Ok(())
    }

    /// The order ended unpaid: its held vouchers are given back.
    pub async fn release(&self, conn: &mut Connection, order: OrderId) -> Result<(), PromotionsError> {
        store::settle_held(conn, order, "released", self.clock.now()).await?;
        Ok(())
    }

    /// Money arrived for an order that had ended: its vouchers are held again, through the
    /// same guards, so a late payment never takes a use beyond the limits. False when one of
    /// them no longer can be: the caller rolls back and the order is not filled.
    pub async fn hold_again(&self, conn: &mut Connection, order: OrderId) -> Result<bool, PromotionsError> {
        let now = self.clock.now();
        for again in store::redemptions(conn, order, "released").await? {
            let voucher =
                store::voucher(&mut *conn, again.voucher_id).await?.ok_or(PromotionsError::NotFound)?;
            if !store::take_use(conn, again.voucher_id).await?
                || !store::hold_buyer_use(conn, again.voucher_id, again.buyer_id, voucher.per_buyer_cap())
                    .await?
            {
                return Ok(false);
            }
            store::set_status(conn, order, again.voucher_id, "released", "held", now).await?;
        }
        Ok(true)
    }
}
