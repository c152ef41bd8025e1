//! Analytics' use cases: counting business events into the figures (an outbox subscriber, each
//! event once), counting carts (a watermark job, once across instances), and reading reports.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

use super::domain::{
    self, ALL_TIME, Delta, Figure, Interval, LineFacts, OrderFacts, Outcome, SHOP, average, rate,
};
use super::store;
use crate::cart::{CartError, Carts};
use crate::db::Db;
use crate::db::lease::Leases;
use crate::events::{Delivery, Event, Subscriber};
use crate::ids::{OrderId, PaymentId, ProductId, UserId};
use crate::money::{Currency, Money};
use crate::orders::{Order, Orders, OrdersError};
use crate::payments::{PaymentPurpose, Payments, PaymentsError};
use crate::time::{Clock, Timestamp};

/// How many products and stores the products report ranks.
const TOP: usize = 10;

/// The cart count's job: its lease and watermark name.
const CARTS_JOB: &str = "analytics.cart_baskets";

/// Carts started or checked out more recently than this are left to the next run, so one whose
/// transaction is still committing is not passed over.
const CARTS_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    #[error("{message}")]
    Invalid { field: &'static str, message: String },
    #[error("an event names {0}")]
    Event(#[from] crate::ids::InvalidId),
    #[error("an event's payload is not as written: {0}")]
    Payload(#[from] serde_json::Error),
    #[error(transparent)]
    Orders(#[from] OrdersError),
    #[error(transparent)]
    Payments(#[from] PaymentsError),
    #[error(transparent)]
    Carts(#[from] CartError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// What a report covers: [from, to), cut by `interval`, for the shop or one store.
#[derive(Clone, Debug)]
pub struct Period {
    pub from: Timestamp,
    pub to: Timestamp,
    pub interval: Interval,
    /// None: the whole shop.
    pub store: Option<UserId>,
}

impl Period {
    /// Checks a period asked for; `from` defaults to 30 days (by the day) or 48 hours (by
    /// the hour) before `to`, and `to` to now.
    pub fn new(
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        interval: Option<Interval>,
        store: Option<UserId>,
        now: Timestamp,
    ) -> Result<Self, AnalyticsError> {
        let interval = interval.unwrap_or_default();
        let to = to.unwrap_or(now);
        let default_span = match interval {
            Interval::Hour => 48,
            Interval::Day => 30,
        };
        let from = from.unwrap_or(Timestamp::from_millis(to.millis() - default_span * interval.millis()));
        if from >= to {
            return Err(AnalyticsError::Invalid { field: "to", message: "to must be after from".into() });
        }
        // Counted by arithmetic, not by listing them: a period of centuries is refused at once.
        let buckets =
            (to.millis() - interval.start_of(from.millis()) + interval.millis() - 1) / interval.millis();
        if buckets > interval.max_buckets() {
            return Err(AnalyticsError::Invalid {
                field: "from",
                message: format!(
                    "a report spans at most {} buckets by the {}; ask for a shorter period or a coarser interval",
                    interval.max_buckets(),
                    interval.as_str()
                ),
            });
        }
        Ok(Self { from, to, interval, store })
    }

    fn scope(&self) -> String {
        self.store.map_or_else(|| SHOP.to_owned(), |s| s.to_string())
    }

    /// The first bucket's start: a report counts whole buckets.
    fn start(&self) -> i64 {
        self.interval.start_of(self.from.millis())
    }
}

/// Money figures of one bucket or of the whole period.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct SalesFigures {
    /// What buyers paid for the orders paid (a store: its lines' totals).
    pub gmv: Money,
    /// Money given back (a store: its share).
    pub refunds: Money,
    /// GMV less refunds.
    pub net_revenue: Money,
    /// Payment providers' fees (a store: its share, in proportion to its lines).
    pub fees: Money,
    pub orders_paid: i64,
    /// GMV over orders paid, rounded down.
    pub average_order_value: Money,
}

#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct SalesPoint {
    /// The bucket's start (UTC).
    pub start: Timestamp,
    #[serde(flatten)]
    pub figures: SalesFigures,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SalesReport {
    pub from: Timestamp,
    pub to: Timestamp,
    pub interval: Interval,
    pub series: Vec<SalesPoint>,
    pub totals: SalesFigures,
}

#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct OrdersFigures {
    /// Carts that got their first item (the whole shop only; 0 in a store's report). A cart
    /// emptied by checkout starts again with its next item.
    pub carts: i64,
    /// Carts checked out into an order (the whole shop only). Orders placed without a cart
    /// (items named at checkout, the Telegram bot's "buy") are in `orders_placed` only.
    pub carts_checked_out: i64,
    pub orders_placed: i64,
    pub orders_paid: i64,
    pub orders_cancelled: i64,
    pub orders_expired: i64,
    /// Carts checked out per cart started; absent with no cart.
    pub cart_to_order: Option<f64>,
    /// Orders paid per order placed; absent with no order.
    pub order_to_paid: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct OrdersPoint {
    pub start: Timestamp,
    #[serde(flatten)]
    pub figures: OrdersFigures,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct OrdersReport {
    pub from: Timestamp,
    pub to: Timestamp,
    pub interval: Interval,
    pub series: Vec<OrdersPoint>,
    pub totals: OrdersFigures,
}

#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct CustomersFigures {
    /// Accounts registered (the whole shop only).
    pub new_users: i64,
    /// Distinct buyers who paid an order (in a store's report: an order with its lines).
    pub active_customers: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct CustomersPoint {
    pub start: Timestamp,
    #[serde(flatten)]
    pub figures: CustomersFigures,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CustomersReport {
    pub from: Timestamp,
    pub to: Timestamp,
    pub interval: Interval,
    pub series: Vec<CustomersPoint>,
    /// Over the whole period: a buyer active on several days counts once.
    pub totals: CustomersFigures,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, ToSchema)]
pub struct PaymentFigures {
    pub succeeded: i64,
    pub failed: i64,
    pub expired: i64,
    pub cancelled: i64,
    /// Succeeded over all that ended; absent when none did.
    pub success_rate: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct ChannelFigures {
    pub provider: String,
    pub method: String,
    #[serde(flatten)]
    pub figures: PaymentFigures,
}

#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct MoneyMoves {
    pub count: i64,
    pub amount: Money,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PaymentsReport {
    pub from: Timestamp,
    pub to: Timestamp,
    pub interval: Interval,
    /// Per provider and method, by provider then method.
    pub channels: Vec<ChannelFigures>,
    pub totals: PaymentFigures,
    /// Wallet deposits completed (the whole shop only).
    pub deposits: MoneyMoves,
    /// Withdrawals and store payouts sent (the whole shop only).
    pub withdrawals: MoneyMoves,
}

#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct ProductFigures {
    pub product_id: ProductId,
    pub units: i64,
    pub revenue: Money,
}

#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct StoreFigures {
    /// The store's owner.
    pub store_id: UserId,
    pub orders: i64,
    pub revenue: Money,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ProductsReport {
    pub from: Timestamp,
    pub to: Timestamp,
    pub interval: Interval,
    /// The best-selling products by revenue of paid orders, at most 10.
    pub top_products: Vec<ProductFigures>,
    /// The stores selling most by revenue, at most 10 (the whole shop's report only).
    pub top_stores: Vec<StoreFigures>,
}

#[derive(Clone)]
pub struct Analytics {
    db: Db,
    clock: Clock,
    orders: Orders,
    payments: Payments,
    carts: Carts,
    currency: Currency,
}

impl Analytics {
    pub fn new(
        db: Db,
        clock: Clock,
        orders: Orders,
        payments: Payments,
        carts: Carts,
        currency: Currency,
    ) -> Self {
        Self { db, clock, orders, payments, carts, currency }
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn money(&self, minor: i64) -> Money {
        Money::new(minor, self.currency)
    }

    // ---- counting ---------------------------------------------------------------------------

    /// Counts one event into the figures, once.
    #[tracing::instrument(skip_all, fields(event = %event.id, kind = %event.event_type))]
    pub async fn count(&self, event: &Event) -> Result<(), AnalyticsError> {
        let mut active = None;
        let deltas = match event.event_type.as_str() {
            "order.created" => domain::order_placed(&self.facts(order_of(event)?).await?),
            "order.cancelled" => {
                domain::order_closed(&self.facts(order_of(event)?).await?, Figure::OrdersCancelled)
            }
            "order.expired" => {
                domain::order_closed(&self.facts(order_of(event)?).await?, Figure::OrdersExpired)
            }
            "order.confirmed" => {
                let facts = self.facts(order_of(event)?).await?;
                let mut scopes = vec![SHOP.to_owned()];
                scopes.extend(facts.stores().keys().map(|s| s.to_string()));
                active = Some((facts.buyer, scopes));
                domain::order_paid(&facts)
            }
            "payment.completed" | "payment.failed" | "payment.expired" | "payment.cancelled" => {
                let outcome = match event.event_type.as_str() {
                    "payment.completed" => Outcome::Succeeded,
                    "payment.failed" => Outcome::Failed,
                    "payment.expired" => Outcome::Expired,
                    _ => Outcome::Cancelled,
                };
                let payment = self.payments.payment(event.subject_id.parse::<PaymentId>()?).await?;
                let channel = domain::channel(&payment.provider, &payment.method);
                match payment.purpose {
                    PaymentPurpose::Order => {
                        let order = self.facts(payment.reference.parse()?).await?;
                        domain::order_payment(&order, outcome, &channel, payment.fee.amount)
                    }
                    PaymentPurpose::Deposit => {
                        domain::deposit_payment(outcome, &channel, payment.amount.amount, payment.fee.amount)
                    }
                }
            }
            "refund.completed" => {
                let amount: Money = serde_json::from_value(event.payload["amount"].clone())?;
                let payment_id: PaymentId = serde_json::from_value(event.payload["payment_id"].clone())?;
                let payment = self.payments.payment(payment_id).await?;
                match payment.purpose {
                    PaymentPurpose::Order => {
                        domain::order_refunded(&self.facts(payment.reference.parse()?).await?, amount.amount)
                    }
                    // A deposit given back was never sales.
                    PaymentPurpose::Deposit => return Ok(()),
                }
            }
            "payout.succeeded" => {
                let amount: Money = serde_json::from_value(event.payload["amount"].clone())?;
                domain::withdrawal(amount.amount)
            }
            "user.registered" => domain::user_registered(),
            _ => return Ok(()),
        };
        self.add(event, &deltas, active).await
    }

    async fn facts(&self, id: OrderId) -> Result<OrderFacts, AnalyticsError> {
        Ok(facts_of(&self.orders.order(id).await?))
    }

    /// Writes the deltas at every grain, and the active buyer, in one transaction with the
    /// event's mark.
    async fn add(
        &self,
        event: &Event,
        deltas: &[Delta],
        active: Option<(UserId, Vec<String>)>,
    ) -> Result<(), AnalyticsError> {
        let at = event.occurred_at.millis();
        let mut tx = self.db.begin().await?;
        if !store::claim_event(&mut tx, event.id, self.clock.now()).await? {
            return Ok(());
        }
        for (grain, bucket) in grains(at) {
            for delta in deltas {
                store::add(&mut tx, grain, bucket, delta).await?;
            }
            // Distinct buyers are counted per hour and per day; all time has no use for them.
            let Some((buyer, scopes)) = active.as_ref().filter(|_| grain != ALL_TIME) else { continue };
            for scope in scopes {
                if store::add_active(&mut tx, grain, bucket, scope, *buyer).await? {
                    let first = Delta {
                        scope: scope.clone(),
                        figure: Figure::ActiveCustomers,
                        dimension: String::new(),
                        value: 1,
                    };
                    store::add(&mut tx, grain, bucket, &first).await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Counts the carts started and checked out since the last run, under a lease so one
    /// instance does it.
    /// Returns how many carts started it counted.
    #[tracing::instrument(skip_all)]
    pub async fn count_carts(&self, leases: &Leases, every: Duration) -> Result<i64, AnalyticsError> {
        let now = self.clock.now();
        if !leases.take_turn(CARTS_JOB, every, now).await? {
            return Ok(0);
        }
        let until = now.minus(CARTS_GRACE);
        let mut tx = self.db.begin().await?;
        let since = store::watermark(&mut tx, CARTS_JOB).await?;
        if until.millis() <= since {
            return Ok(0);
        }
        let hours = self.carts.started_and_checked_out_per_hour(Timestamp::from_millis(since), until).await?;
        let mut counted = 0;
        for hour in hours {
            for (figure, value) in
                [(Figure::CartsStarted, hour.started), (Figure::CartsCheckedOut, hour.checked_out)]
            {
                if value == 0 {
                    continue;
                }
                let delta = Delta { scope: SHOP.to_owned(), figure, dimension: String::new(), value };
                for (grain, bucket) in grains(hour.hour) {
                    store::add(&mut tx, grain, bucket, &delta).await?;
                }
            }
            counted += hour.started;
        }
        store::set_watermark(&mut tx, CARTS_JOB, until.millis()).await?;
        tx.commit().await?;
        Ok(counted)
    }

    // ---- reading ----------------------------------------------------------------------------

    /// The undivided figures of the period per bucket (every bucket, empty ones too), and
    /// their totals.
    async fn series(
        &self,
        period: &Period,
        figures: &[Figure],
    ) -> Result<(Vec<(i64, BTreeMap<Figure, i64>)>, BTreeMap<Figure, i64>), AnalyticsError> {
        let rows = store::series(
            self.db.reader(),
            period.interval.as_str(),
            &period.scope(),
            figures,
            period.start(),
            period.to.millis(),
        )
        .await?;
        let mut per_bucket: BTreeMap<i64, BTreeMap<Figure, i64>> =
            domain::buckets(period.from.millis(), period.to.millis(), period.interval)
                .into_iter()
                .map(|b| (b, BTreeMap::new()))
                .collect();
        let mut totals = BTreeMap::new();
        for (bucket, figure, value) in rows {
            *per_bucket.entry(bucket).or_default().entry(figure).or_default() += value;
            *totals.entry(figure).or_default() += value;
        }
        Ok((per_bucket.into_iter().collect(), totals))
    }

    async fn breakdown(
        &self,
        period: &Period,
        figures: &[Figure],
    ) -> Result<BTreeMap<Figure, BTreeMap<String, i64>>, AnalyticsError> {
        let rows = store::breakdown(
            self.db.reader(),
            period.interval.as_str(),
            &period.scope(),
            figures,
            period.start(),
            period.to.millis(),
        )
        .await?;
        let mut out: BTreeMap<Figure, BTreeMap<String, i64>> = BTreeMap::new();
        for (figure, dimension, value) in rows {
            *out.entry(figure).or_default().entry(dimension).or_default() += value;
        }
        Ok(out)
    }

    fn sales_figures(&self, sums: &BTreeMap<Figure, i64>) -> SalesFigures {
        let get = |f| sums.get(&f).copied().unwrap_or(0);
        SalesFigures {
            gmv: self.money(get(Figure::Gmv)),
            refunds: self.money(get(Figure::Refunds)),
            net_revenue: self.money(get(Figure::Gmv) - get(Figure::Refunds)),
            fees: self.money(get(Figure::Fees)),
            orders_paid: get(Figure::OrdersPaid),
            average_order_value: self.money(average(get(Figure::Gmv), get(Figure::OrdersPaid))),
        }
    }

    #[tracing::instrument(skip(self))]
    pub async fn sales(&self, period: &Period) -> Result<SalesReport, AnalyticsError> {
        let figures = [Figure::Gmv, Figure::Refunds, Figure::Fees, Figure::OrdersPaid];
        let (series, totals) = self.series(period, &figures).await?;
        Ok(SalesReport {
            from: period.from,
            to: period.to,
            interval: period.interval,
            series: series
                .iter()
                .map(|(start, sums)| SalesPoint {
                    start: Timestamp::from_millis(*start),
                    figures: self.sales_figures(sums),
                })
                .collect(),
            totals: self.sales_figures(&totals),
        })
    }

    #[tracing::instrument(skip(self))]
    pub async fn orders(&self, period: &Period) -> Result<OrdersReport, AnalyticsError> {
        let figures = [
            Figure::CartsStarted,
            Figure::CartsCheckedOut,
            Figure::OrdersPlaced,
            Figure::OrdersPaid,
            Figure::OrdersCancelled,
            Figure::OrdersExpired,
        ];
        let (series, totals) = self.series(period, &figures).await?;
        Ok(OrdersReport {
            from: period.from,
            to: period.to,
            interval: period.interval,
            series: series
                .iter()
                .map(|(start, sums)| OrdersPoint {
                    start: Timestamp::from_millis(*start),
                    figures: orders_figures(sums),
                })
                .collect(),
            totals: orders_figures(&totals),
        })
    }

    #[tracing::instrument(skip(self))]
    pub async fn customers(&self, period: &Period) -> Result<CustomersReport, AnalyticsError> {
        let (series, totals) = self.series(period, &[Figure::NewUsers, Figure::ActiveCustomers]).await?;
        let active = store::active_customers(
            self.db.reader(),
            period.interval.as_str(),
            &period.scope(),
            period.start(),
            period.to.millis(),
        )
        .await?;
        let figures = |sums: &BTreeMap<Figure, i64>| CustomersFigures {
            new_users: sums.get(&Figure::NewUsers).copied().unwrap_or(0),
            active_customers: sums.get(&Figure::ActiveCustomers).copied().unwrap_or(0),
        };
        Ok(CustomersReport {
            from: period.from,
            to: period.to,
            interval: period.interval,
            series: series
                .iter()
                .map(|(start, sums)| CustomersPoint {
                    start: Timestamp::from_millis(*start),
                    figures: figures(sums),
                })
                .collect(),
            totals: CustomersFigures { active_customers: active, ..figures(&totals) },
        })
    }

    #[tracing::instrument(skip(self))]
    pub async fn payments(&self, period: &Period) -> Result<PaymentsReport, AnalyticsError> {
        let moves =
            [Figure::Deposits, Figure::DepositsAmount, Figure::Withdrawals, Figure::WithdrawalsAmount];
        let (_, totals) = self.series(period, &moves).await?;
        let outcomes = [Outcome::Succeeded, Outcome::Failed, Outcome::Expired, Outcome::Cancelled];
        let breakdown = self.breakdown(period, &outcomes.map(Outcome::figure)).await?;
        let mut channels: BTreeMap<String, PaymentFigures> = BTreeMap::new();
        for outcome in outcomes {
            for (channel, count) in breakdown.get(&outcome.figure()).into_iter().flatten() {
                let figures = channels.entry(channel.clone()).or_default();
                *outcome_count(figures, outcome) += count;
            }
        }
        let mut all = PaymentFigures::default();
        for figures in channels.values_mut() {
            all.succeeded += figures.succeeded;
            all.failed += figures.failed;
            all.expired += figures.expired;
            all.cancelled += figures.cancelled;
            figures.success_rate = success_rate(figures);
        }
        all.success_rate = success_rate(&all);
        let get = |f| totals.get(&f).copied().unwrap_or(0);
        Ok(PaymentsReport {
            from: period.from,
            to: period.to,
            interval: period.interval,
            channels: channels
                .into_iter()
                .map(|(channel, figures)| {
                    let (provider, method) = channel.split_once('/').unwrap_or((channel.as_str(), ""));
                    ChannelFigures { provider: provider.to_owned(), method: method.to_owned(), figures }
                })
                .collect(),
            totals: all,
            deposits: MoneyMoves {
                count: get(Figure::Deposits),
                amount: self.money(get(Figure::DepositsAmount)),
            },
            withdrawals: MoneyMoves {
                count: get(Figure::Withdrawals),
                amount: self.money(get(Figure::WithdrawalsAmount)),
            },
        })
    }

    #[tracing::instrument(skip(self))]
    pub async fn products(&self, period: &Period) -> Result<ProductsReport, AnalyticsError> {
        let figures =
            [Figure::ProductUnits, Figure::ProductRevenue, Figure::StoreRevenue, Figure::StoreOrders];
        let breakdown = self.breakdown(period, &figures).await?;
        let empty = BTreeMap::new();
        let units = breakdown.get(&Figure::ProductUnits).unwrap_or(&empty);
        let orders = breakdown.get(&Figure::StoreOrders).unwrap_or(&empty);
        let top_products = domain::top(breakdown.get(&Figure::ProductRevenue).unwrap_or(&empty), TOP)
            .into_iter()
            .filter_map(|(product, revenue)| {
                Some(ProductFigures {
                    product_id: product.parse().ok()?,
                    units: units.get(&product).copied().unwrap_or(0),
                    revenue: self.money(revenue),
                })
            })
            .collect();
        let top_stores = domain::top(breakdown.get(&Figure::StoreRevenue).unwrap_or(&empty), TOP)
            .into_iter()
            .filter_map(|(store, revenue)| {
                Some(StoreFigures {
                    store_id: store.parse().ok()?,
                    orders: orders.get(&store).copied().unwrap_or(0),
                    revenue: self.money(revenue),
                })
            })
            .collect();
        Ok(ProductsReport {
            from: period.from,
            to: period.to,
            interval: period.interval,
            top_products,
            top_stores,
        })
    }

    /// The whole shop's figures since the start, per dimension, for `/metrics`.
    pub async fn all_time(&self) -> Result<Vec<(Figure, String, i64)>, AnalyticsError> {
        Ok(store::all_time(self.db.reader()).await?)
    }
}

/// The buckets an event at `at` counts in: its hour, its day, and all time.
fn grains(at: i64) -> [(&'static str, i64); 3] {
    [
        (Interval::Hour.as_str(), Interval::Hour.start_of(at)),
        (Interval::Day.as_str(), Interval::Day.start_of(at)),
        (ALL_TIME, 0),
    ]
}

fn order_of(event: &Event) -> Result<OrderId, AnalyticsError> {
    event.subject_id.parse().map_err(|_| AnalyticsError::Invalid {
        field: "subject_id",
        message: format!("not an order: {}", event.subject_id),
    })
}

fn facts_of(order: &Order) -> OrderFacts {
    OrderFacts {
        buyer: order.buyer_id,
        total: order.total.amount,
        lines: order
            .lines
            .iter()
            .map(|l| LineFacts {
                product: l.product_id,
                store: l.seller_id,
                quantity: l.quantity,
                amount: l.line_total.amount,
            })
            .collect(),
    }
}

fn orders_figures(sums: &BTreeMap<Figure, i64>) -> OrdersFigures {
    let get = |f| sums.get(&f).copied().unwrap_or(0);
    OrdersFigures {
        carts: get(Figure::CartsStarted),
        carts_checked_out: get(Figure::CartsCheckedOut),
        orders_placed: get(Figure::OrdersPlaced),
        orders_paid: get(Figure::OrdersPaid),
        orders_cancelled: get(Figure::OrdersCancelled),
        orders_expired: get(Figure::OrdersExpired),
        cart_to_order: rate(get(Figure::CartsCheckedOut), get(Figure::CartsStarted)),
        order_to_paid: rate(get(Figure::OrdersPaid), get(Figure::OrdersPlaced)),
    }
}

fn outcome_count(figures: &mut PaymentFigures, outcome: Outcome) -> &mut i64 {
    match outcome {
        Outcome::Succeeded => &mut figures.succeeded,
        Outcome::Failed => &mut figures.failed,
        Outcome::Expired => &mut figures.expired,
        Outcome::Cancelled => &mut figures.cancelled,
    }
}

fn success_rate(figures: &PaymentFigures) -> Option<f64> {
    rate(figures.succeeded, figures.succeeded + figures.failed + figures.expired + figures.cancelled)
}

/// Counts business events as the relay hands them over.
impl Subscriber for Analytics {
    fn name(&self) -> &'static str {
        "analytics"
    }

    fn deliver<'a>(&'a self, event: &'a Event) -> Delivery<'a> {
        Box::pin(async move { Ok(self.count(event).await?) })
    }
}
