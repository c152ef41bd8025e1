//! Scoring, with no I/O: which products go with which, ranked the same way every time (ties
//! broken by product id, so two instances and two requests agree).

use std::collections::{BTreeMap, BTreeSet};

use crate::ids::{BrandId, CategoryId, ProductId};

/// How many products each list holds.
pub const LIST_LENGTH: usize = 10;

/// "Similar" products cost at most this many percent more or less than the product shown.
pub const SIMILAR_PRICE_PERCENT: i64 = 50;

/// "Popular" counts what sold over this many days.
pub const POPULAR_DAYS: i64 = 30;

/// A product ranked for a list, best first.
#[derive(Clone, Debug, PartialEq)]
pub struct Ranked {
    pub product_id: ProductId,
    pub score: f64,
}

/// How often a product was bought with another: the other product, the paid orders holding
/// both, and the paid orders holding the other at all.
#[derive(Clone, Copy, Debug)]
pub struct Together {
    pub other: ProductId,
    pub both: i64,
    pub other_orders: i64,
}

/// Co-occurrence normalised by both products' popularity (cosine):
/// both / sqrt(orders(a) · orders(b)), so a best-seller is not "bought with" everything.
pub fn affinity(both: i64, orders_a: i64, orders_b: i64) -> f64 {
    if both <= 0 || orders_a <= 0 || orders_b <= 0 {
        return 0.0;
    }
    both as f64 / ((orders_a as f64) * (orders_b as f64)).sqrt()
}

/// Sorts best first: higher score, then the smaller id.
fn rank(mut ranked: Vec<Ranked>) -> Vec<Ranked> {
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.product_id.cmp(&b.product_id)));
    ranked
}

/// The products bought together with one that sits in `orders` paid orders.
pub fn bought_together(product: ProductId, orders: i64, together: &[Together]) -> Vec<Ranked> {
    rank(
        together
            .iter()
            .filter(|t| t.other != product)
            .map(|t| Ranked { product_id: t.other, score: affinity(t.both, orders, t.other_orders) })
            .filter(|r| r.score > 0.0)
            .collect(),
    )
}

/// What the catalog says about a product, as far as "similar" cares.
#[derive(Clone, Debug)]
pub struct Profile {
    pub id: ProductId,
    pub category: CategoryId,
    pub brand: Option<BrandId>,
    /// The cheapest variant's price, in minor units of the shop's currency.
    pub price: i64,
}

/// Products of the same category and brand whose price is within [`SIMILAR_PRICE_PERCENT`] of
/// the product's, closest price first.
pub fn similar(product: &Profile, candidates: &[Profile]) -> Vec<Ranked> {
    let band = product.price.abs().saturating_mul(SIMILAR_PRICE_PERCENT) / 100;
    rank(
        candidates
            .iter()
            .filter(|c| c.id != product.id && c.category == product.category && c.brand == product.brand)
            .filter_map(|c| {
                let gap = c.price.abs_diff(product.price);
                // The closer the price, the higher the score: 1 at the same price.
                (gap <= band.unsigned_abs())
                    .then(|| Ranked { product_id: c.id, score: 1.0 / (1.0 + gap as f64) })
            })
            .collect(),
    )
}

/// Products by units sold, most first.
pub fn popular(sales: &[(ProductId, i64)]) -> Vec<Ranked> {
    rank(
        sales
            .iter()
            .filter(|(_, units)| *units > 0)
            .map(|&(id, units)| Ranked { product_id: id, score: units as f64 })
            .collect(),
    )
}

/// What to suggest to a buyer who bought `bought`: every product bought together with any of
/// them, scored by the sum of its affinities, never one they already have. `together` holds,
/// per product bought, its paid orders and its co-occurrences.
pub fn for_buyer(
    bought: &BTreeSet<ProductId>,
    together: &BTreeMap<ProductId, (i64, Vec<Together>)>,
) -> Vec<Ranked> {
    let mut scores: BTreeMap<ProductId, f64> = BTreeMap::new();
    for (product, (orders, pairs)) in together {
        for pair in bought_together(*product, *orders, pairs) {
            if !bought.contains(&pair.product_id) {
                *scores.entry(pair.product_id).or_default() += pair.score;
            }
        }
    }
    rank(scores.into_iter().map(|(product_id, score)| Ranked { product_id, score }).collect())
}

/// The distinct products of one paid order, and every unordered pair of them: what the order
/// adds to the counts.
pub fn pairs_of(products: &BTreeSet<ProductId>) -> Vec<(ProductId, ProductId)> {
    let list: Vec<ProductId> = products.iter().copied().collect();
    let mut pairs = Vec::new();
    for (i, a) in list.iter().enumerate() {
        for b in &list[i + 1..] {
            pairs.push((*a, *b));
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-made history of paid orders over products p[0..5]:
    /// {0,1} {0,1} {0,2} {0,1,3} {4}: 0 is in 4 orders, 1 in 3, 2 in 1, 3 in 1, 4 in 1.
    fn history() -> (Vec<ProductId>, Vec<BTreeSet<ProductId>>) {
        let mut p: Vec<ProductId> = (0..5).map(|_| ProductId::new()).collect();
        p.sort();
        let orders = [vec![0, 1], vec![0, 1], vec![0, 2], vec![0, 1, 3], vec![4]]
            .into_iter()
            .map(|o| o.into_iter().map(|i| p[i]).collect())
            .collect();
        (p, orders)
    }

    /// Counts the history the way the store does: orders per product, orders per pair.
    fn counts(
        orders: &[BTreeSet<ProductId>],
    ) -> (BTreeMap<ProductId, i64>, BTreeMap<(ProductId, ProductId), i64>) {
        let mut singles = BTreeMap::new();
        let mut pairs = BTreeMap::new();
        for order in orders {
            for p in order {
                *singles.entry(*p).or_default() += 1;
            }
            for (a, b) in pairs_of(order) {
                *pairs.entry((a, b)).or_default() += 1;
                *pairs.entry((b, a)).or_default() += 1;
            }
        }
        (singles, pairs)
    }

    fn together_with(
        product: ProductId,
        singles: &BTreeMap<ProductId, i64>,
        pairs: &BTreeMap<(ProductId, ProductId), i64>,
    ) -> Vec<Together> {
        pairs
            .iter()
            .filter(|((a, _), _)| *a == product)
            .map(|((_, b), both)| Together { other: *b, both: *both, other_orders: singles[b] })
            .collect()
    }

    #[test]
    fn an_order_of_three_products_makes_three_pairs_in_id_order() {
        let (p, _) = history();
        let pairs = pairs_of(&[p[2], p[0], p[1]].into_iter().collect());
        assert_eq!(pairs, vec![(p[0], p[1]), (p[0], p[2]), (p[1], p[2])]);
    }

    #[test]
    fn bought_together_ranks_by_normalised_co_occurrence() {
        let (p, orders) = history();
        let (singles, pairs) = counts(&orders);
        let ranked = bought_together(p[0], singles[&p[0]], &together_with(p[0], &singles, &pairs));
        // 1: 3/sqrt(4·3) ≈ 0.866; 2 and 3: 1/sqrt(4·1) = 0.5 each, the smaller id first.
        let ids: Vec<ProductId> = ranked.iter().map(|r| r.product_id).collect();
        assert_eq!(ids, vec![p[1], p[2], p[3]]);
        assert!((ranked[0].score - 3.0 / 12f64.sqrt()).abs() < 1e-9);
        assert!((ranked[1].score - 0.5).abs() < 1e-9);
    }

    #[test]
    fn a_product_bought_alone_goes_with_nothing() {
        let (p, orders) = history();
        let (singles, pairs) = counts(&orders);
        assert!(bought_together(p[4], singles[&p[4]], &together_with(p[4], &singles, &pairs)).is_empty());
    }

    #[test]
    fn normalising_keeps_a_best_seller_from_topping_every_list() {
        // 3 was bought once, with 0 (in 4 orders) and 1 (in 3): 1 is the closer companion.
        let (p, orders) = history();
        let (singles, pairs) = counts(&orders);
        let ranked = bought_together(p[3], singles[&p[3]], &together_with(p[3], &singles, &pairs));
        assert_eq!(ranked.iter().map(|r| r.product_id).collect::<Vec<_>>(), vec![p[1], p[0]]);
    }

    #[test]
    fn a_buyer_is_offered_what_others_bought_with_their_products_and_nothing_they_have() {
        let (p, orders) = history();
        let (singles, pairs) = counts(&orders);
        let bought: BTreeSet<ProductId> = [p[1], p[3]].into_iter().collect();
        let together =
            bought.iter().map(|b| (*b, (singles[b], together_with(*b, &singles, &pairs)))).collect();
        let ranked = for_buyer(&bought, &together);
        assert_eq!(ranked.iter().map(|r| r.product_id).collect::<Vec<_>>(), vec![p[0]]);
        // 0 with 1: 3/sqrt(3·4); 0 with 3: 1/sqrt(1·4).
        assert!((ranked[0].score - (3.0 / 12f64.sqrt() + 0.5)).abs() < 1e-9);
    }

    #[test]
    fn similar_means_same_category_and_brand_and_a_close_price_closest_first() {
        let (p, _) = history();
        let category = CategoryId::new();
        let brand = Some(BrandId::new());
        let profile = |id, category, brand, price| Profile { id, category, brand, price };
        let shown = profile(p[0], category, brand, 100_000);
        let candidates = vec![
            shown.clone(),
            profile(p[1], category, brand, 130_000),
            profile(p[2], category, brand, 90_000),
            profile(p[3], category, None, 100_000),
            profile(p[4], category, brand, 200_000),
        ];
        let ranked = similar(&shown, &candidates);
        assert_eq!(ranked.iter().map(|r| r.product_id).collect::<Vec<_>>(), vec![p[2], p[1]]);
    }

    #[test]
    fn popular_ranks_by_units_and_breaks_ties_by_id() {
        let (p, _) = history();
        let ranked = popular(&[(p[2], 5), (p[0], 2), (p[1], 5), (p[3], 0)]);
        assert_eq!(ranked.iter().map(|r| r.product_id).collect::<Vec<_>>(), vec![p[1], p[2], p[0]]);
    }
}
