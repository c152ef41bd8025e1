//! The marketplace's arithmetic, pure: a store's share of a sale and the platform's
//! commission, and how much of a refund comes out of each. Whole minor units throughout, and
//! every split adds back up to what was split.

/// A commission rate in basis points (1/100 of a percent): 1000 is 10%.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommissionRate(u32);

impl CommissionRate {
    pub const MOST: u32 = 10_000;

    pub fn from_bps(bps: u32) -> Option<Self> {
        (bps <= Self::MOST).then_some(Self(bps))
    }

    pub fn bps(self) -> u32 {
        self.0
    }
}

/// A store's part of a sale: what it sold, after the discounts the store itself funded, split
/// into what the store is owed and the platform's commission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Share {
    /// The store's items, less the discounts it funded: what the commission is taken on.
    pub base: i64,
    pub commission: i64,
    /// `base - commission`: what the store is owed.
    pub seller_amount: i64,
}

/// Splits `base` at `rate`: the commission is rounded half up to a whole minor unit and the
/// store gets exactly the rest, so nothing is created or lost.
pub fn split(base: i64, rate: CommissionRate) -> Share {
    let base = base.max(0);
    let commission = (i128::from(base) * i128::from(rate.0) * 2 + i128::from(CommissionRate::MOST))
        / (2 * i128::from(CommissionRate::MOST));
    let commission = i64::try_from(commission).unwrap_or(base).min(base);
    Share { base, commission, seller_amount: base - commission }
}

/// How much of `refunded` (given back out of a part the buyer paid `paid` for) comes out of
/// the store's share: the same proportion of the share, never more than is left of it. The rest
/// comes out of the commission (and the platform's own discounts).
pub fn claw_back(share: Share, already: i64, refunded: i64, paid: i64) -> i64 {
    if paid <= 0 || refunded <= 0 {
        return 0;
    }
    let proportional = i128::from(refunded.min(paid)) * i128::from(share.seller_amount) / i128::from(paid);
    let left = (share.seller_amount - already).max(0);
    i64::try_from(proportional).unwrap_or(left).min(left)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn ten_percent_of_a_sale_is_the_platforms_and_the_rest_the_stores() {
        let share = split(150_000, CommissionRate::from_bps(1000).unwrap());
        assert_eq!(share, Share { base: 150_000, commission: 15_000, seller_amount: 135_000 });
    }

    #[test]
    fn a_half_unit_of_commission_rounds_up() {
        let share = split(5, CommissionRate::from_bps(1000).unwrap());
        assert_eq!((share.commission, share.seller_amount), (1, 4));
        let share = split(4, CommissionRate::from_bps(1000).unwrap());
        assert_eq!((share.commission, share.seller_amount), (0, 4));
    }

    #[test]
    fn a_rate_above_everything_is_not_a_rate() {
        assert!(CommissionRate::from_bps(10_001).is_none());
        assert!(CommissionRate::from_bps(10_000).is_some());
    }

    #[test]
    fn a_refund_of_half_a_part_takes_half_the_stores_share() {
        let share = split(100_000, CommissionRate::from_bps(1000).unwrap());
        assert_eq!(claw_back(share, 0, 50_000, 100_000), 45_000);
        assert_eq!(claw_back(share, 45_000, 100_000, 100_000), 45_000);
        assert_eq!(claw_back(share, 90_000, 100_000, 100_000), 0);
        // The platform paid 20,000 of the part with its own voucher: the buyer's 80,000 back is
        // the whole part, so the whole share.
        assert_eq!(claw_back(share, 0, 80_000, 80_000), 90_000);
    }

    proptest! {
        #[test]
        fn a_split_never_creates_or_loses_a_unit(base in 0i64..1_000_000_000_000_000, bps in 0u32..=10_000) {
            let share = split(base, CommissionRate::from_bps(bps).unwrap());
            prop_assert_eq!(share.commission + share.seller_amount, base);
            prop_assert!(share.commission >= 0 && share.seller_amount >= 0);
            // The commission is the rate's, to within half a unit.
            let exact = i128::from(base) * i128::from(bps);
            prop_assert!((i128::from(share.commission) * 10_000 - exact).abs() <= 5_000);
        }

        #[test]
        fn refunds_never_take_more_than_the_stores_share(
            base in 1i64..1_000_000_000, bps in 0u32..=10_000,
            refunds in prop::collection::vec(0i64..1_000_000_000, 1..6),
        ) {
            let share = split(base, CommissionRate::from_bps(bps).unwrap());
            let mut taken = 0;
            for refunded in refunds {
                let more = claw_back(share, taken, refunded, base);
                prop_assert!(more >= 0);
                taken += more;
            }
            prop_assert!(taken <= share.seller_amount);
        }
    }
}
