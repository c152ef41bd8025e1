//! Loyalty points: the earning and redemption rules (pure), and the outbox subscriber that
//! awards points when an order completes.

use std::sync::Arc;

use crate::db::Db;
use crate::events::{Delivery, Event, Subscriber};
use crate::ledger::{AccountRef, Ledger, Transfer};
use crate::money::Money;

/// The shop's points policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PointsRules {
    /// Minor units spent per point earned (1,000 = one point per Rp 1,000).
    pub earn_per_minor: i64,
    /// What one point is worth at checkout, in minor units.
    pub value_minor: i64,
    /// The largest share of an order points may pay, in percent.
    pub max_share_percent: i64,
}

impl PointsRules {
    /// Points earned on an order of `total`.
    pub fn earned_on(self, total: Money) -> i64 {
        if self.earn_per_minor <= 0 || total.amount <= 0 { 0 } else { total.amount / self.earn_per_minor }
    }

    /// The most points usable on an order of `total` (the cap on their share).
    pub fn most_redeemable(self, total: Money) -> i64 {
        if self.value_minor <= 0 || total.amount <= 0 {
            return 0;
        }
        let cap = i128::from(total.amount) * i128::from(self.max_share_percent.clamp(0, 100)) / 100;
        i64::try_from(cap / i128::from(self.value_minor)).unwrap_or(i64::MAX)
    }

    /// The discount `points` give.
    pub fn discount_for(self, points: i64, total: Money) -> Money {
        Money::new(points.saturating_mul(self.value_minor), total.currency)
    }
}

/// Awards points for completed orders. The transfer id is the order's, so an event delivered
/// twice awards once.
pub struct PointsEarner {
    db: Db,
    ledger: Ledger,
    rules: PointsRules,
}

impl PointsEarner {
    pub fn new(db: Db, ledger: Ledger, rules: PointsRules) -> Arc<Self> {
        Arc::new(Self { db, ledger, rules })
    }

    async fn award(&self, event: &Event) -> anyhow::Result<()> {
        if event.event_type != "order.completed" {
            return Ok(());
        }
        let payload = &event.payload;
        let buyer = payload["buyer_id"].as_str().and_then(|b| b.parse().ok());
        let total: Option<Money> = serde_json::from_value(payload["total"].clone()).ok();
        let (Some(buyer), Some(total)) = (buyer, total) else {
            anyhow::bail!("order.completed {} lacks its buyer or total", event.id);
        };
        let points = self.rules.earned_on(total);
        if points == 0 {
            return Ok(());
        }
        let mut tx = self.db.begin().await?;
        self.ledger
            .transfer(
                &mut tx,
                &Transfer {
                    id: format!("points_earned:{}", event.subject_id),
                    debit: AccountRef::points_issued(),
                    credit: AccountRef::points(buyer),
                    amount: points,
                    kind: "points_earned",
                    reference: Some(event.subject_id.clone()),
                    pending_timeout: None,
                    actor: None,
                },
            )
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

impl Subscriber for PointsEarner {
    fn name(&self) -> &'static str {
        "points"
    }

    fn deliver<'a>(&'a self, event: &'a Event) -> Delivery<'a> {
        Box::pin(self.award(event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use proptest::prelude::*;

    const RULES: PointsRules = PointsRules { earn_per_minor: 1_000, value_minor: 1, max_share_percent: 50 };

    #[test]
    fn one_point_per_thousand_rupiah() {
        assert_eq!(RULES.earned_on(Money::new(150_999, Currency::IDR)), 150);
        assert_eq!(RULES.earned_on(Money::new(999, Currency::IDR)), 0);
    }

    #[test]
    fn points_pay_at_most_half_of_an_order() {
        assert_eq!(RULES.most_redeemable(Money::new(100_000, Currency::IDR)), 50_000);
        assert_eq!(RULES.discount_for(500, Money::new(100_000, Currency::IDR)).amount, 500);
    }

    proptest! {
        #[test]
        fn a_redemption_within_the_cap_never_exceeds_the_share(total in 1i64..1_000_000_000, value in 1i64..1_000, share in 0i64..=100) {
            let rules = PointsRules { earn_per_minor: 1_000, value_minor: value, max_share_percent: share };
            let total = Money::new(total, Currency::IDR);
            let most = rules.most_redeemable(total);
            prop_assert!(i128::from(rules.discount_for(most, total).amount) * 100 <= i128::from(total.amount) * i128::from(share));
        }
    }
}
