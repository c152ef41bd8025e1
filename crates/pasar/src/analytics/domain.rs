//! What each business event adds to the figures, and how figures become reports: pure
//! functions, tested on their own. A figure is a sum kept per time bucket (hour, day and all
//! time), per scope (the whole shop, or one store) and per dimension (a payment provider and
//! method, a product, a store), so a report reads a few hundred rows whatever the number of
//! orders.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{ProductId, UserId};

pub const HOUR_MILLIS: i64 = 60 * 60 * 1000;
pub const DAY_MILLIS: i64 = 24 * HOUR_MILLIS;

/// The scope of the whole shop; a store's scope is its owner's user id.
pub const SHOP: &str = "";

/// How finely a report cuts time (UTC hours and days).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    Hour,
    #[default]
    Day,
}

impl Interval {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "day",
        }
    }

    pub fn millis(self) -> i64 {
        match self {
            Self::Hour => HOUR_MILLIS,
            Self::Day => DAY_MILLIS,
        }
    }

    /// The start of the bucket holding `at` (millis since the epoch).
    pub fn start_of(self, at: i64) -> i64 {
        at - at.rem_euclid(self.millis())
    }

    /// The most buckets one report spans: 31 days by the hour, 400 days by the day (and the
    /// partial bucket a period that starts mid-day or mid-hour adds).
    pub fn max_buckets(self) -> i64 {
        match self {
            Self::Hour => 32 * 24,
            Self::Day => 401,
        }
    }
}

/// The grain a figure is also kept at for all time: `/metrics` reads it.
pub const ALL_TIME: &str = "all";

/// The sums kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Figure {
    /// Carts that got their first item (the shop only: a cart is not a store's).
    CartsStarted,
    /// Carts checked out into an order.
    CartsCheckedOut,
    OrdersPlaced,
    OrdersPaid,
    OrdersCancelled,
    OrdersExpired,
    /// What buyers paid for the orders paid, in minor units (a store: its lines' totals).
    Gmv,
    /// Money given back, in minor units (a store: its share, in proportion to its lines).
    Refunds,
    RefundsCount,
    /// Payment fees of the orders paid, in minor units (a store: its share).
    Fees,
    NewUsers,
    /// Distinct buyers who paid an order in the bucket.
    ActiveCustomers,
    /// Payment outcomes, by `provider/method`.
    PaymentsSucceeded,
    PaymentsFailed,
    PaymentsExpired,
    PaymentsCancelled,
    Deposits,
    DepositsAmount,
    Withdrawals,
    WithdrawalsAmount,
    /// Units and revenue of paid orders, by product.
    ProductUnits,
    ProductRevenue,
    /// Revenue and paid orders, by store (the shop's scope only).
    StoreRevenue,
    StoreOrders,
}

impl Figure {
    pub const ALL: [Figure; 24] = [
        Self::CartsStarted,
        Self::CartsCheckedOut,
        Self::OrdersPlaced,
        Self::OrdersPaid,
        Self::OrdersCancelled,
        Self::OrdersExpired,
        Self::Gmv,
        Self::Refunds,
        Self::RefundsCount,
        Self::Fees,
        Self::NewUsers,
        Self::ActiveCustomers,
        Self::PaymentsSucceeded,
        Self::PaymentsFailed,
        Self::PaymentsExpired,
        Self::PaymentsCancelled,
        Self::Deposits,
        Self::DepositsAmount,
        Self::Withdrawals,
        Self::WithdrawalsAmount,
        Self::ProductUnits,
        Self::ProductRevenue,
        Self::StoreRevenue,
        Self::StoreOrders,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CartsStarted => "carts_started",
            Self::CartsCheckedOut => "carts_checked_out",
            Self::OrdersPlaced => "orders_placed",
            Self::OrdersPaid => "orders_paid",
            Self::OrdersCancelled => "orders_cancelled",
            Self::OrdersExpired => "orders_expired",
            Self::Gmv => "gmv",
            Self::Refunds => "refunds",
            Self::RefundsCount => "refunds_count",
            Self::Fees => "fees",
            Self::NewUsers => "new_users",
            Self::ActiveCustomers => "active_customers",
            Self::PaymentsSucceeded => "payments_succeeded",
            Self::PaymentsFailed => "payments_failed",
            Self::PaymentsExpired => "payments_expired",
            Self::PaymentsCancelled => "payments_cancelled",
            Self::Deposits => "deposits",
            Self::DepositsAmount => "deposits_amount",
            Self::Withdrawals => "withdrawals",
            Self::WithdrawalsAmount => "withdrawals_amount",
            Self::ProductUnits => "product_units",
            Self::ProductRevenue => "product_revenue",
            Self::StoreRevenue => "store_revenue",
            Self::StoreOrders => "store_orders",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == text)
    }
}

impl fmt::Display for Figure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One addition to one figure.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Delta {
    /// [`SHOP`] or a store owner's user id.
    pub scope: String,
    pub figure: Figure,
    /// Empty, or what the figure is broken down by.
    pub dimension: String,
    pub value: i64,
}

fn delta(scope: &str, figure: Figure, dimension: impl Into<String>, value: i64) -> Delta {
    Delta { scope: scope.to_owned(), figure, dimension: dimension.into(), value }
}

/// What analytics needs of an order line.
#[derive(Clone, Debug)]
pub struct LineFacts {
    pub product: ProductId,
    /// The store selling it; none for the shop's own products.
    pub store: Option<UserId>,
    pub quantity: i64,
    /// The line's total, minor units.
    pub amount: i64,
}

/// What analytics needs of an order.
#[derive(Clone, Debug)]
pub struct OrderFacts {
    pub buyer: UserId,
    /// What the buyer pays, minor units.
    pub total: i64,
    pub lines: Vec<LineFacts>,
}

impl OrderFacts {
    /// The stores with lines in the order, each with its lines' total.
    pub fn stores(&self) -> BTreeMap<UserId, i64> {
        let mut stores = BTreeMap::new();
        for line in &self.lines {
            if let Some(store) = line.store {
                *stores.entry(store).or_default() += line.amount;
            }
        }
        stores
    }

    /// `amount` shared out over the order's stores in proportion to their lines, exactly
    /// (what the shop's own lines take stays with the shop).
    pub fn store_shares(&self, amount: i64) -> Vec<(UserId, i64)> {
        let stores = self.stores();
        let lines_total: i64 = self.lines.iter().map(|l| l.amount).sum();
        let store_total: i64 = stores.values().sum();
        // The stores' part of `amount`, then split between them.
        let part = crate::money::allocate(amount, &[store_total, lines_total - store_total])[0];
        let amounts: Vec<i64> = stores.values().copied().collect();
        stores.keys().copied().zip(crate::money::allocate(part, &amounts)).collect()
    }
}

/// An order placed: counted for the shop and for each store in it.
pub fn order_placed(order: &OrderFacts) -> Vec<Delta> {
    order_counted(order, Figure::OrdersPlaced)
}

/// An order cancelled or expired unpaid.
pub fn order_closed(order: &OrderFacts, figure: Figure) -> Vec<Delta> {
    order_counted(order, figure)
}

fn order_counted(order: &OrderFacts, figure: Figure) -> Vec<Delta> {
    let mut deltas = vec![delta(SHOP, figure, "", 1)];
    deltas.extend(order.stores().keys().map(|store| delta(&store.to_string(), figure, "", 1)));
    deltas
}

/// An order paid: GMV, paid orders and product sales for the shop and each store in it, and
/// the stores' revenue for the shop's top stores.
pub fn order_paid(order: &OrderFacts) -> Vec<Delta> {
    let mut deltas = vec![delta(SHOP, Figure::OrdersPaid, "", 1), delta(SHOP, Figure::Gmv, "", order.total)];
    for (store, amount) in order.stores() {
        let scope = store.to_string();
        deltas.push(delta(&scope, Figure::OrdersPaid, "", 1));
        deltas.push(delta(&scope, Figure::Gmv, "", amount));
        deltas.push(delta(SHOP, Figure::StoreRevenue, scope.clone(), amount));
        deltas.push(delta(SHOP, Figure::StoreOrders, scope, 1));
    }
    for line in &order.lines {
        let product = line.product.to_string();
        let mut scopes = vec![SHOP.to_owned()];
        scopes.extend(line.store.map(|s| s.to_string()));
        for scope in scopes {
            deltas.push(delta(&scope, Figure::ProductUnits, product.clone(), line.quantity));
            deltas.push(delta(&scope, Figure::ProductRevenue, product.clone(), line.amount));
        }
    }
    merge(deltas)
}

/// Money given back on an order: the shop's refunds, and each store's share of them.
pub fn order_refunded(order: &OrderFacts, amount: i64) -> Vec<Delta> {
    let mut deltas = vec![delta(SHOP, Figure::Refunds, "", amount), delta(SHOP, Figure::RefundsCount, "", 1)];
    for (store, share) in order.store_shares(amount) {
        let scope = store.to_string();
        deltas.push(delta(&scope, Figure::Refunds, "", share));
        deltas.push(delta(&scope, Figure::RefundsCount, "", 1));
    }
    deltas
}

/// How a payment ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
    Expired,
    Cancelled,
}

impl Outcome {
    pub fn figure(self) -> Figure {
        match self {
            Self::Succeeded => Figure::PaymentsSucceeded,
            Self::Failed => Figure::PaymentsFailed,
            Self::Expired => Figure::PaymentsExpired,
            Self::Cancelled => Figure::PaymentsCancelled,
        }
    }
}

/// A payment for an order ending: its outcome by provider and method for the shop and the
/// order's stores; on success its fee, shared like a refund.
pub fn order_payment(order: &OrderFacts, outcome: Outcome, channel: &str, fee: i64) -> Vec<Delta> {
    let mut deltas = vec![delta(SHOP, outcome.figure(), channel, 1)];
    deltas.extend(order.stores().keys().map(|store| delta(&store.to_string(), outcome.figure(), channel, 1)));
    if outcome == Outcome::Succeeded {
        deltas.push(delta(SHOP, Figure::Fees, "", fee));
        for (store, share) in order.store_shares(fee) {
            deltas.push(delta(&store.to_string(), Figure::Fees, "", share));
        }
    }
    deltas
}

/// A payment into a wallet ending.
pub fn deposit_payment(outcome: Outcome, channel: &str, amount: i64, fee: i64) -> Vec<Delta> {
    let mut deltas = vec![delta(SHOP, outcome.figure(), channel, 1)];
    if outcome == Outcome::Succeeded {
        deltas.push(delta(SHOP, Figure::Deposits, "", 1));
        deltas.push(delta(SHOP, Figure::DepositsAmount, "", amount));
        deltas.push(delta(SHOP, Figure::Fees, "", fee));
    }
    deltas
}

/// Money paid out (a wallet withdrawal or a store's payout).
pub fn withdrawal(amount: i64) -> Vec<Delta> {
    vec![delta(SHOP, Figure::Withdrawals, "", 1), delta(SHOP, Figure::WithdrawalsAmount, "", amount)]
}

pub fn user_registered() -> Vec<Delta> {
    vec![delta(SHOP, Figure::NewUsers, "", 1)]
}

/// Adds up deltas to the same figure, so each is written once.
fn merge(deltas: Vec<Delta>) -> Vec<Delta> {
    let mut sums: BTreeMap<(String, Figure, String), i64> = BTreeMap::new();
    for d in deltas {
        *sums.entry((d.scope, d.figure, d.dimension)).or_default() += d.value;
    }
    sums.into_iter()
        .map(|((scope, figure, dimension), value)| Delta { scope, figure, dimension, value })
        .collect()
}

/// A payment's provider and method as one dimension.
pub fn channel(provider: &str, method: &str) -> String {
    format!("{provider}/{method}")
}

/// A report's buckets from `from` to `to` (bucket starts, every one, empty ones too).
pub fn buckets(from: i64, to: i64, interval: Interval) -> Vec<i64> {
    let mut starts = Vec::new();
    let mut at = interval.start_of(from);
    while at < to {
        starts.push(at);
        at += interval.millis();
    }
    starts
}

/// A ratio of two counts, none when there is nothing to divide by.
pub fn rate(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The average order value: GMV over paid orders, rounded down, zero with no order.
pub fn average(total: i64, count: i64) -> i64 {
    if count > 0 { total / count } else { 0 }
}

/// The `limit` largest of `by_key`, largest first, ties by key.
pub fn top<K: Ord + Clone>(by_key: &BTreeMap<K, i64>, limit: usize) -> Vec<(K, i64)> {
    let mut ranked: Vec<(K, i64)> = by_key.iter().map(|(k, v)| (k.clone(), *v)).collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(limit);
    ranked
}

/// A CSV table: a header and rows, fields quoted when they need it (RFC 4180).
pub fn csv(header: &[&str], rows: &[Vec<String>]) -> String {
    fn field(text: &str) -> String {
        if text.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", text.replace('"', "\"\""))
        } else {
            text.to_owned()
        }
    }
    let mut out = header.join(",");
    out.push_str("\r\n");
    for row in rows {
        out.push_str(&row.iter().map(|f| field(f)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(deltas: &[Delta], scope: &str, figure: Figure) -> i64 {
        deltas.iter().filter(|d| d.scope == scope && d.figure == figure).map(|d| d.value).sum()
    }

    /// An order of 10 000 from store A and 20 000 from store B and 5 000 of the shop's own,
    /// with 2 000 of shipping: the buyer pays 37 000.
    fn order() -> (OrderFacts, UserId, UserId) {
        let (a, b) = (UserId::new(), UserId::new());
        let line = |store, amount| LineFacts { product: ProductId::new(), store, quantity: 1, amount };
        let order = OrderFacts {
            buyer: UserId::new(),
            total: 37_000,
            lines: vec![line(Some(a), 10_000), line(Some(b), 20_000), line(None, 5_000)],
        };
        (order, a, b)
    }

    #[test]
    fn a_paid_order_adds_what_the_buyer_paid_to_the_shop_and_each_stores_lines_to_the_store() {
        let (order, a, b) = order();
        let deltas = order_paid(&order);
        assert_eq!(sum(&deltas, SHOP, Figure::Gmv), 37_000);
        assert_eq!(sum(&deltas, &a.to_string(), Figure::Gmv), 10_000);
        assert_eq!(sum(&deltas, &b.to_string(), Figure::Gmv), 20_000);
        assert_eq!(sum(&deltas, SHOP, Figure::OrdersPaid), 1);
        assert_eq!(sum(&deltas, SHOP, Figure::ProductUnits), 3);
        assert_eq!(sum(&deltas, &a.to_string(), Figure::ProductUnits), 1);
        assert_eq!(sum(&deltas, SHOP, Figure::StoreRevenue), 30_000);
    }

    #[test]
    fn a_refund_is_shared_between_the_stores_exactly_and_the_shop_keeps_its_own_part() {
        let (order, a, b) = order();
        let deltas = order_refunded(&order, 7_001);
        assert_eq!(sum(&deltas, SHOP, Figure::Refunds), 7_001);
        let (share_a, share_b) =
            (sum(&deltas, &a.to_string(), Figure::Refunds), sum(&deltas, &b.to_string(), Figure::Refunds));
        // The stores sell 30 000 of 35 000: 6 001 of 7 001, one third to A.
        assert_eq!(share_a + share_b, 6_001);
        assert_eq!(share_a, 2_000);
    }

    #[test]
    fn a_failed_payment_counts_against_its_channel_and_costs_no_fee() {
        let (order, a, _) = order();
        let deltas = order_payment(&order, Outcome::Failed, "sandbox/sandbox", 500);
        assert_eq!(sum(&deltas, SHOP, Figure::PaymentsFailed), 1);
        assert_eq!(sum(&deltas, &a.to_string(), Figure::PaymentsFailed), 1);
        assert_eq!(sum(&deltas, SHOP, Figure::Fees), 0);
        let paid = order_payment(&order, Outcome::Succeeded, "sandbox/sandbox", 500);
        assert_eq!(sum(&paid, SHOP, Figure::Fees), 500);
    }

    #[test]
    fn buckets_cover_the_range_from_the_start_of_the_first_hour_or_day() {
        let from = 3 * DAY_MILLIS + 5 * HOUR_MILLIS + 7;
        assert_eq!(buckets(from, from + 2 * HOUR_MILLIS, Interval::Hour).len(), 3);
        assert_eq!(buckets(from, from + DAY_MILLIS, Interval::Day), vec![3 * DAY_MILLIS, 4 * DAY_MILLIS]);
        assert_eq!(Interval::Day.start_of(-1), -DAY_MILLIS);
    }

    #[test]
    fn top_ranks_by_value_then_key_and_csv_quotes_only_what_needs_it() {
        let values: BTreeMap<&str, i64> = [("b", 5), ("a", 5), ("c", 9)].into_iter().collect();
        assert_eq!(top(&values, 2), vec![("c", 9), ("a", 5)]);
        assert_eq!(csv(&["x", "y"], &[vec!["1".into(), "a,b".into()]]), "x,y\r\n1,\"a,b\"\r\n");
    }

    #[test]
    fn every_figure_reads_back_by_its_name() {
        for figure in Figure::ALL {
            assert_eq!(Figure::parse(figure.as_str()), Some(figure));
        }
    }
}
