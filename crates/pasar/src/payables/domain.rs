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

/// How much of `refunded` (given back out of this store's part) comes out of the store's
/// share: the same proportion as the share is of the base, never more than is left of it.
/// The rest comes out of the commission.
pub fn claw_back(share: Share, already: i64, refunded: i64) -> i64 {
    if share.base == 0 || refunded <= 0 {
        return 0;
    }
    let proportional =
        i128::from(refunded.min(share.base)) * i128::from(share.seller_amount) / i128::from(share.base);
    let left = (share.seller_amount - already).max(0);
    i64::try_from(proportional).unwrap_or(left).min(left)
}

/// Shares `amount` among parts in proportion to their weights (largest remainder first), so
/// the parts add up to `amount` exactly. Used to attribute a refund to the stores of an order.
pub fn apportion(amount: i64, weights: &[i64]) -> Vec<i64> {
    let total: i128 = weights.iter().map(|w| i128::from((*w).max(0))).sum();
    if total == 0 || amount <= 0 {
        return vec![0; weights.len()];
    }
    let exact: Vec<(i64, i128)> = weights
        .iter()
        .map(|w| {
            let scaled = i128::from(amount) * i128::from((*w).max(0));
            (i64::try_from(scaled / total).unwrap_or(0), scaled % total)
        })
        .collect();
    let mut parts: Vec<i64> = exact.iter().map(|(whole, _)| *whole).collect();
    let mut left = amount - parts.iter().sum::<i64>();
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by(|a, b| exact[*b].1.cmp(&exact[*a].1).then(a.cmp(b)));
    for i in order {
        if left == 0 {
            break;
        }
        if weights[i] > 0 {
            parts[i] += 1;
            left -= 1;
        }
    }
    parts
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
        assert_eq!(claw_back(share, 0, 50_000), 45_000);
        assert_eq!(claw_back(share, 45_000, 100_000), 45_000);
        assert_eq!(claw_back(share, 90_000, 100_000), 0);
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
                let more = claw_back(share, taken, refunded);
                prop_assert!(more >= 0);
                taken += more;
            }
            prop_assert!(taken <= share.seller_amount);
        }

        #[test]
        fn apportioned_parts_add_up_to_the_whole(
            amount in 0i64..1_000_000_000_000, weights in prop::collection::vec(0i64..1_000_000_000, 1..8),
        ) {
            let parts = apportion(amount, &weights);
            prop_assert_eq!(parts.len(), weights.len());
            if weights.iter().any(|w| *w > 0) {
                prop_assert_eq!(parts.iter().sum::<i64>(), amount);
            }
            for (part, weight) in parts.iter().zip(&weights) {
                prop_assert!(*part >= 0);
                if *weight == 0 { prop_assert_eq!(*part, 0); }
            }
        }
    }
}
