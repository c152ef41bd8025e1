//! Vouchers' types and rules, pure: whether a voucher applies to an order, what it takes off,
//! how that is shared out over the order's lines, and which vouchers may be used together.
//!
//! Choices the rules make, so every caller makes the same ones:
//! - `percent_off` is a whole percent (1 to 100) of the eligible items' total, rounded down,
//!   then capped at `max_discount`; `amount_off` is capped at the eligible items' total.
//! - Eligible items: every line when `applies_to` lists nothing; otherwise the lines whose
//!   product, product category (the product's own category, not its parents) or store is
//!   listed (any one of them). A store's voucher only ever counts that store's lines.
//! - `min_spend` is compared with the eligible items' total before any discount.
//! - Stacking: per order at most one platform voucher and at most one voucher per store,
//!   unless every voucher in that group is stackable. A platform and a store voucher may
//!   always be used together.
//! - Vouchers are applied one after the other (the buyer's codes in the order given, then
//!   automatic promotions): each takes its share of what the ones before left on its lines, so
//!   no line is ever discounted below zero.
//! - An automatic promotion applies without a code when it is eligible and fits the stacking
//!   rules; when it does not, it is left out (only codes the buyer gave refuse a checkout).
//! - `first_order_only` means the buyer has no paid order yet, and allows one use per buyer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{CategoryId, ProductId, UserId, VariantId, VoucherId};
use crate::money::{Currency, Money, allocate};
use crate::time::Timestamp;

/// Who pays for a voucher's discount.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Funder {
    /// The platform (an admin's voucher).
    Platform,
    /// The store whose items it discounts (a seller's voucher).
    Store,
}

/// Which items a voucher discounts; empty lists mean every item (of the store, for a store's
/// voucher). A line is eligible when any list names its product, category or store.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppliesTo {
    #[serde(default)]
    pub categories: Vec<CategoryId>,
    #[serde(default)]
    pub products: Vec<ProductId>,
    /// Stores, by their seller's user id (a product's `seller_id`).
    #[serde(default)]
    pub stores: Vec<UserId>,
}

impl AppliesTo {
    pub fn is_everything(&self) -> bool {
        self.categories.is_empty() && self.products.is_empty() && self.stores.is_empty()
    }

    fn covers(&self, line: &Line) -> bool {
        self.is_everything()
            || self.products.contains(&line.product_id)
            || self.categories.contains(&line.category_id)
            || line.store_id.is_some_and(|s| self.stores.contains(&s))
    }
}

/// A voucher, or an automatic promotion (`automatic`: applied at checkout without its code).
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Voucher {
    pub id: VoucherId,
    /// Upper-case; what buyers type.
    pub code: String,
    pub funder: Funder,
    /// The store (its seller's user id) that funds it; absent for platform vouchers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_id: Option<UserId>,
    /// Whole percent off the eligible items, 1 to 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent_off: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_off: Option<Money>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_discount: Option<Money>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_spend: Option<Money>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<Timestamp>,
    /// Uses in all; absent for no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_limit: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_buyer_limit: Option<i64>,
    pub first_order_only: bool,
    pub applies_to: AppliesTo,
    pub stackable: bool,
    pub automatic: bool,
    pub paused: bool,
    /// Uses held by orders awaiting payment.
    pub held: i64,
    /// Uses by paid orders.
    pub used: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Voucher {
    /// The most uses one buyer may have (held or used).
    pub fn per_buyer_cap(&self) -> Option<i64> {
        match (self.per_buyer_limit, self.first_order_only) {
            (Some(limit), true) => Some(limit.min(1)),
            (None, true) => Some(1),
            (limit, false) => limit,
        }
    }

    fn currency(&self) -> Option<Currency> {
        [self.amount_off, self.max_discount, self.min_spend].into_iter().flatten().map(|m| m.currency).next()
    }

    fn covers(&self, line: &Line) -> bool {
        match self.store_id {
            Some(store) => line.store_id == Some(store) && self.applies_to.covers(line),
            None => self.applies_to.covers(line),
        }
    }

    /// What this voucher takes off `eligible` (the eligible items' total still to pay).
    pub fn discount_on(&self, eligible: i64) -> i64 {
        let eligible = eligible.max(0);
        let off = match (self.percent_off, self.amount_off) {
            (Some(percent), _) => {
                let off = i128::from(eligible) * i128::from(percent.clamp(0, 100)) / 100;
                let off = i64::try_from(off).unwrap_or(eligible);
                match self.max_discount {
                    Some(max) => off.min(max.amount.max(0)),
                    None => off,
                }
            }
            (None, Some(amount)) => amount.amount.max(0),
            (None, None) => 0,
        };
        off.min(eligible)
    }
}

/// Why a voucher cannot be used; the code is part of the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    UnknownCode,
    NotStarted,
    Expired,
    Paused,
    MinSpendNotMet,
    UsedUp,
    PerBuyerLimitReached,
    FirstOrderOnly,
    NotApplicableToItems,
    WrongCurrency,
    NotStackable,
    Repeated,
}

impl Reason {
    pub fn code(self) -> &'static str {
        match self {
            Self::UnknownCode => "unknown_code",
            Self::NotStarted => "not_started",
            Self::Expired => "expired",
            Self::Paused => "paused",
            Self::MinSpendNotMet => "min_spend_not_met",
            Self::UsedUp => "used_up",
            Self::PerBuyerLimitReached => "per_buyer_limit_reached",
            Self::FirstOrderOnly => "first_order_only",
            Self::NotApplicableToItems => "not_applicable_to_items",
            Self::WrongCurrency => "wrong_currency",
            Self::NotStackable => "not_stackable",
            Self::Repeated => "repeated",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Self::UnknownCode => "no voucher has this code",
            Self::NotStarted => "this voucher cannot be used yet",
            Self::Expired => "this voucher has expired",
            Self::Paused => "this voucher is paused",
            Self::MinSpendNotMet => "the minimum spend on the items it applies to is not met",
            Self::UsedUp => "this voucher is used up",
            Self::PerBuyerLimitReached => "you have used this voucher as often as allowed",
            Self::FirstOrderOnly => "this voucher is for a first order only",
            Self::NotApplicableToItems => "this voucher does not apply to these items",
            Self::WrongCurrency => "this voucher is in another currency than the items",
            Self::NotStackable => "this voucher cannot be combined with the other vouchers",
            Self::Repeated => "this voucher is given more than once",
        }
    }
}

/// A voucher refused, with the code the buyer gave.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("voucher {code}: {}", reason.message())]
pub struct Refused {
    pub code: String,
    pub reason: Reason,
}

/// One line of an order, as far as vouchers care.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub variant_id: VariantId,
    pub product_id: ProductId,
    pub category_id: CategoryId,
    pub store_id: Option<UserId>,
    pub total: Money,
}

/// A voucher offered for an order: asked for by code, or automatic; `buyer_uses` is what
/// this buyer holds or used of it already.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub voucher: Voucher,
    pub buyer_uses: i64,
    pub asked: bool,
}

/// What the buyer is, as far as vouchers care.
#[derive(Clone, Copy, Debug)]
pub struct Shopper {
    /// No paid order yet.
    pub first_order: bool,
}

/// Checks whether `candidate` can be used on `lines` at `now`; returns the eligible lines.
pub fn eligible_lines(
    candidate: &Candidate,
    lines: &[Line],
    now: Timestamp,
    shopper: Shopper,
) -> Result<Vec<usize>, Reason> {
    let voucher = &candidate.voucher;
    if voucher.paused {
        return Err(Reason::Paused);
    }
    if voucher.starts_at.is_some_and(|at| now < at) {
        return Err(Reason::NotStarted);
    }
    if voucher.ends_at.is_some_and(|at| now >= at) {
        return Err(Reason::Expired);
    }
    if voucher.usage_limit.is_some_and(|limit| voucher.held + voucher.used >= limit) {
        return Err(Reason::UsedUp);
    }
    if voucher.per_buyer_limit.is_some_and(|limit| candidate.buyer_uses >= limit) {
        return Err(Reason::PerBuyerLimitReached);
    }
    if voucher.first_order_only && (!shopper.first_order || candidate.buyer_uses > 0) {
        return Err(Reason::FirstOrderOnly);
    }
    let currency = lines.first().map(|l| l.total.currency);
    if voucher.currency().is_some_and(|c| Some(c) != currency) {
        return Err(Reason::WrongCurrency);
    }
    let eligible: Vec<usize> = (0..lines.len()).filter(|i| voucher.covers(&lines[*i])).collect();
    if eligible.is_empty() {
        return Err(Reason::NotApplicableToItems);
    }
    let spent: i64 = eligible.iter().map(|i| lines[*i].total.amount).sum();
    if voucher.min_spend.is_some_and(|min| spent < min.amount) {
        return Err(Reason::MinSpendNotMet);
    }
    Ok(eligible)
}

/// Whether these vouchers may be used on one order (see the module's stacking rule); the
/// position of the first one that may not.
pub fn check_stacking(vouchers: &[&Voucher]) -> Result<(), usize> {
    let mut groups: BTreeMap<Option<UserId>, Vec<usize>> = BTreeMap::new();
    for (i, voucher) in vouchers.iter().enumerate() {
        groups.entry(voucher.store_id).or_default().push(i);
    }
    let mut refused: Option<usize> = None;
    for members in groups.values() {
        if members.len() > 1 && members.iter().any(|i| !vouchers[*i].stackable) {
            let second = members[1];
            refused = Some(refused.map_or(second, |r| r.min(second)));
        }
    }
    refused.map_or(Ok(()), Err)
}

/// One voucher applied to an order: what it takes off in all and from each line.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    pub voucher_id: VoucherId,
    pub code: String,
    pub funder: Funder,
    pub store_id: Option<UserId>,
    pub amount: Money,
    /// Per line, in the order of the lines given.
    pub lines: Vec<i64>,
}

/// The vouchers an order gets and what they take off each line, split by funder.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Priced {
    pub applied: Vec<Applied>,
    /// (platform-funded, store-funded) discount per line.
    pub line_discounts: Vec<(i64, i64)>,
}

impl Priced {
    pub fn total(&self) -> i64 {
        self.applied.iter().map(|a| a.amount.amount).sum()
    }
}

/// Applies the candidates to `lines`: every voucher asked for must apply (else the first that
/// does not is refused), automatic ones join when they are eligible and fit.
pub fn price(
    candidates: &[Candidate],
    lines: &[Line],
    now: Timestamp,
    shopper: Shopper,
) -> Result<Priced, Refused> {
    let refuse = |c: &Candidate, reason| Refused { code: c.voucher.code.clone(), reason };
    let mut chosen: Vec<(&Candidate, Vec<usize>)> = Vec::new();
    for candidate in candidates.iter().filter(|c| c.asked) {
        if chosen.iter().any(|(c, _)| c.voucher.id == candidate.voucher.id) {
            return Err(refuse(candidate, Reason::Repeated));
        }
        let eligible = eligible_lines(candidate, lines, now, shopper).map_err(|r| refuse(candidate, r))?;
        chosen.push((candidate, eligible));
    }
    let vouchers: Vec<&Voucher> = chosen.iter().map(|(c, _)| &c.voucher).collect();
    if let Err(i) = check_stacking(&vouchers) {
        return Err(refuse(chosen[i].0, Reason::NotStackable));
    }
    for candidate in candidates.iter().filter(|c| !c.asked) {
        if chosen.iter().any(|(c, _)| c.voucher.id == candidate.voucher.id) {
            continue;
        }
        let Ok(eligible) = eligible_lines(candidate, lines, now, shopper) else { continue };
        let mut with: Vec<&Voucher> = chosen.iter().map(|(c, _)| &c.voucher).collect();
        with.push(&candidate.voucher);
        if check_stacking(&with).is_ok() {
            chosen.push((candidate, eligible));
        }
    }

    let mut left: Vec<i64> = lines.iter().map(|l| l.total.amount.max(0)).collect();
    let mut priced = Priced { applied: Vec::new(), line_discounts: vec![(0, 0); lines.len()] };
    let Some(currency) = lines.first().map(|l| l.total.currency) else { return Ok(priced) };
    for (candidate, eligible) in chosen {
        let voucher = &candidate.voucher;
        let base: Vec<i64> = eligible.iter().map(|i| left[*i]).collect();
        let off = voucher.discount_on(base.iter().sum());
        let shares = allocate(off, &base);
        let mut per_line = vec![0; lines.len()];
        for (i, share) in eligible.iter().zip(shares) {
            per_line[*i] = share;
            left[*i] -= share;
            match voucher.funder {
                Funder::Platform => priced.line_discounts[*i].0 += share,
                Funder::Store => priced.line_discounts[*i].1 += share,
            }
        }
        priced.applied.push(Applied {
            voucher_id: voucher.id,
            code: voucher.code.clone(),
            funder: voucher.funder,
            store_id: voucher.store_id,
            amount: Money::new(off, currency),
            lines: per_line,
        });
    }
    Ok(priced)
}

/// A code as buyers may type it: trimmed, upper-case; 3 to 40 letters, digits, `-` or `_`.
pub fn normalise_code(code: &str) -> Option<String> {
    let code = code.trim().to_ascii_uppercase();
    let fits = (3..=40).contains(&code.len())
        && code.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    fits.then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const IDR: Currency = Currency::IDR;

    fn voucher(code: &str) -> Voucher {
        Voucher {
            id: VoucherId::new(),
            code: code.into(),
            funder: Funder::Platform,
            store_id: None,
            percent_off: Some(10),
            amount_off: None,
            max_discount: None,
            min_spend: None,
            starts_at: None,
            ends_at: None,
            usage_limit: None,
            per_buyer_limit: None,
            first_order_only: false,
            applies_to: AppliesTo::default(),
            stackable: false,
            automatic: false,
            paused: false,
            held: 0,
            used: 0,
            created_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
        }
    }

    fn store_voucher(code: &str, store: UserId) -> Voucher {
        Voucher { funder: Funder::Store, store_id: Some(store), ..voucher(code) }
    }

    fn line(amount: i64, store: Option<UserId>) -> Line {
        Line {
            variant_id: VariantId::new(),
            product_id: ProductId::new(),
            category_id: CategoryId::new(),
            store_id: store,
            total: Money::new(amount, IDR),
        }
    }

    fn asked(voucher: Voucher) -> Candidate {
        Candidate { voucher, buyer_uses: 0, asked: true }
    }

    const NOW: Timestamp = Timestamp::from_millis(1_000_000);
    const NEW: Shopper = Shopper { first_order: true };
    const REGULAR: Shopper = Shopper { first_order: false };

    fn reason(candidate: Candidate, lines: &[Line], shopper: Shopper) -> Option<Reason> {
        eligible_lines(&candidate, lines, NOW, shopper).err()
    }

    #[test]
    fn each_limit_refuses_with_its_own_reason() {
        let lines = [line(100_000, None)];
        let at = |ms| Some(Timestamp::from_millis(ms));
        assert_eq!(
            reason(asked(Voucher { paused: true, ..voucher("A") }), &lines, NEW),
            Some(Reason::Paused)
        );
        assert_eq!(
            reason(asked(Voucher { starts_at: at(1_000_001), ..voucher("A") }), &lines, NEW),
            Some(Reason::NotStarted)
        );
        assert_eq!(
            reason(asked(Voucher { ends_at: at(1_000_000), ..voucher("A") }), &lines, NEW),
            Some(Reason::Expired)
        );
        assert_eq!(
            reason(asked(Voucher { usage_limit: Some(2), held: 1, used: 1, ..voucher("A") }), &lines, NEW),
            Some(Reason::UsedUp)
        );
        let twice =
            Candidate { buyer_uses: 2, ..asked(Voucher { per_buyer_limit: Some(2), ..voucher("A") }) };
        assert_eq!(reason(twice, &lines, NEW), Some(Reason::PerBuyerLimitReached));
        assert_eq!(
            reason(asked(Voucher { first_order_only: true, ..voucher("A") }), &lines, REGULAR),
            Some(Reason::FirstOrderOnly)
        );
        let min = Some(Money::new(100_001, IDR));
        assert_eq!(
            reason(asked(Voucher { min_spend: min, ..voucher("A") }), &lines, NEW),
            Some(Reason::MinSpendNotMet)
        );
        let usd = Some(Money::new(5, Currency::parse("USD").unwrap()));
        assert_eq!(
            reason(asked(Voucher { amount_off: usd, ..voucher("A") }), &lines, NEW),
            Some(Reason::WrongCurrency)
        );
        let elsewhere = AppliesTo { products: vec![ProductId::new()], ..AppliesTo::default() };
        assert_eq!(
            reason(asked(Voucher { applies_to: elsewhere, ..voucher("A") }), &lines, NEW),
            Some(Reason::NotApplicableToItems)
        );
        assert_eq!(reason(asked(voucher("A")), &lines, REGULAR), None);
    }

    #[test]
    fn min_spend_counts_only_the_items_the_voucher_applies_to() {
        let lines = [line(60_000, None), line(60_000, None)];
        let only_first = AppliesTo { products: vec![lines[0].product_id], ..AppliesTo::default() };
        let v = Voucher { applies_to: only_first, min_spend: Some(Money::new(100_000, IDR)), ..voucher("A") };
        assert_eq!(reason(asked(v), &lines, NEW), Some(Reason::MinSpendNotMet));
    }

    #[test]
    fn percent_off_rounds_down_and_stops_at_the_cap() {
        let v = Voucher { percent_off: Some(15), ..voucher("A") };
        assert_eq!(v.discount_on(99_999), 14_999);
        let capped = Voucher { max_discount: Some(Money::new(10_000, IDR)), ..v };
        assert_eq!(capped.discount_on(100_000), 10_000);
        let fixed = Voucher { percent_off: None, amount_off: Some(Money::new(50_000, IDR)), ..voucher("A") };
        assert_eq!(fixed.discount_on(30_000), 30_000, "never more than the eligible items");
    }

    #[test]
    fn a_store_voucher_discounts_only_that_stores_lines() {
        let (mine, theirs) = (UserId::new(), UserId::new());
        let lines = [line(100_000, Some(mine)), line(100_000, Some(theirs)), line(100_000, None)];
        let priced = price(&[asked(store_voucher("MINE", mine))], &lines, NOW, NEW).unwrap();
        assert_eq!(priced.line_discounts, vec![(0, 10_000), (0, 0), (0, 0)]);
        let nothing_of_mine = [line(100_000, Some(theirs))];
        assert_eq!(
            price(&[asked(store_voucher("MINE", mine))], &nothing_of_mine, NOW, NEW).unwrap_err().reason,
            Reason::NotApplicableToItems
        );
    }

    #[test]
    fn two_platform_vouchers_need_both_stackable_and_a_platform_and_a_store_voucher_combine() {
        let store = UserId::new();
        let lines = [line(100_000, Some(store))];
        let refused = price(&[asked(voucher("ONE")), asked(voucher("TWO"))], &lines, NOW, NEW).unwrap_err();
        assert_eq!((refused.code.as_str(), refused.reason), ("TWO", Reason::NotStackable));
        let one_stackable = [asked(Voucher { stackable: true, ..voucher("ONE") }), asked(voucher("TWO"))];
        assert!(price(&one_stackable, &lines, NOW, NEW).is_err());
        let both = [
            asked(Voucher { stackable: true, ..voucher("ONE") }),
            asked(Voucher { stackable: true, ..voucher("TWO") }),
        ];
        assert_eq!(price(&both, &lines, NOW, NEW).unwrap().total(), 10_000 + 9_000);
        let mixed = [asked(voucher("ONE")), asked(store_voucher("SHOP", store))];
        let priced = price(&mixed, &lines, NOW, NEW).unwrap();
        assert_eq!(priced.line_discounts, vec![(10_000, 9_000)]);
    }

    #[test]
    fn an_automatic_promotion_that_does_not_fit_is_left_out_not_refused() {
        let lines = [line(100_000, None)];
        let automatic = Candidate { asked: false, ..asked(Voucher { automatic: true, ..voucher("AUTO") }) };
        let priced = price(&[asked(voucher("CODE")), automatic.clone()], &lines, NOW, NEW).unwrap();
        assert_eq!(priced.applied.iter().map(|a| a.code.as_str()).collect::<Vec<_>>(), ["CODE"]);
        let alone = price(&[automatic], &lines, NOW, NEW).unwrap();
        assert_eq!(alone.total(), 10_000);
    }

    #[test]
    fn the_same_code_twice_is_refused() {
        let v = voucher("ONE");
        let refused = price(&[asked(v.clone()), asked(v)], &[line(1_000, None)], NOW, NEW).unwrap_err();
        assert_eq!(refused.reason, Reason::Repeated);
    }

    #[test]
    fn codes_are_case_insensitive_and_bounded() {
        assert_eq!(normalise_code(" hemat-10 ").as_deref(), Some("HEMAT-10"));
        assert_eq!(normalise_code("ab"), None);
        assert_eq!(normalise_code("HEMAT 10"), None);
    }

    proptest! {
        #[test]
        fn priced_vouchers_add_up_and_never_discount_a_line_below_zero(
            amounts in proptest::collection::vec(1i64..5_000_000, 1..8),
            stores in proptest::collection::vec(0usize..3, 8),
            percents in proptest::collection::vec(1i64..=100, 3),
            fixed in 1i64..10_000_000,
            cap in proptest::option::of(1i64..1_000_000),
        ) {
            let sellers = [UserId::new(), UserId::new()];
            let lines: Vec<Line> = amounts
                .iter()
                .zip(&stores)
                .map(|(a, s)| line(*a, sellers.get(*s).copied()))
                .collect();
            let candidates = [
                asked(Voucher { stackable: true, percent_off: Some(percents[0]), max_discount: cap.map(|c| Money::new(c, IDR)), ..voucher("P1") }),
                asked(Voucher { stackable: true, percent_off: None, amount_off: Some(Money::new(fixed, IDR)), ..voucher("P2") }),
                Candidate { asked: false, ..asked(Voucher { percent_off: Some(percents[1]), ..store_voucher("S1", sellers[0]) }) },
                Candidate { asked: false, ..asked(Voucher { percent_off: Some(percents[2]), ..store_voucher("S2", sellers[1]) }) },
            ];
            let priced = price(&candidates, &lines, NOW, NEW).unwrap();
            let by_lines: i64 = priced.line_discounts.iter().map(|(p, s)| p + s).sum();
            prop_assert_eq!(by_lines, priced.total());
            for (l, (p, s)) in lines.iter().zip(&priced.line_discounts) {
                prop_assert!(*p >= 0 && *s >= 0 && p + s <= l.total.amount);
                if l.store_id.is_none() {
                    prop_assert_eq!(*s, 0, "a store voucher discounted a line of no store");
                }
            }
            for applied in &priced.applied {
                prop_assert_eq!(applied.lines.iter().sum::<i64>(), applied.amount.amount);
                if applied.code == "P1" {
                    if let Some(cap) = cap {
                        prop_assert!(applied.amount.amount <= cap);
                    }
                }
            }
        }
    }
}
