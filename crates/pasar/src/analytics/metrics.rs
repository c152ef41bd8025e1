//! Business counters on `/metrics`, read from the all-time figures when Prometheus scrapes, so
//! every instance reports the same cluster-wide totals (gauges: a restart does not reset them).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::domain::Figure;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PaymentLabels {
    outcome: String,
    provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: String,
}

pub struct BusinessGauges {
    orders: Family<StatusLabels, Gauge>,
    payments: Family<PaymentLabels, Gauge>,
    deposits: Gauge,
    withdrawals: Gauge,
    refunds: Gauge,
    queue_length: Family<QueueLabels, Gauge>,
}

impl BusinessGauges {
    pub fn register(registry: &mut Registry) -> Self {
        let gauges = Self {
            orders: Family::default(),
            payments: Family::default(),
            deposits: Gauge::default(),
            withdrawals: Gauge::default(),
            refunds: Gauge::default(),
            queue_length: Family::default(),
        };
        registry.register(
            "orders",
            "Orders since the start, by what happened to them",
            gauges.orders.clone(),
        );
        registry.register(
            "payments",
            "Payments that ended since the start, by outcome and provider",
            gauges.payments.clone(),
        );
        registry.register("deposits", "Wallet deposits completed since the start", gauges.deposits.clone());
        registry.register(
            "withdrawals",
            "Withdrawals and store payouts sent since the start",
            gauges.withdrawals.clone(),
        );
        registry.register("refunds", "Refunds completed since the start", gauges.refunds.clone());
        registry.register(
            "queue_length",
            "Work waiting: outbox events not yet relayed, webhook deliveries not yet sent",
            gauges.queue_length.clone(),
        );
        gauges
    }

    /// Sets the gauges from the all-time figures (figure, dimension, value) and the queues'
    /// lengths.
    pub fn set(&self, figures: &[(Figure, String, i64)], queues: &[(&str, i64)]) {
        let mut payments = std::collections::BTreeMap::<(String, String), i64>::new();
        for (figure, dimension, value) in figures {
            let status = match figure {
                Figure::OrdersPlaced => Some("placed"),
                Figure::OrdersPaid => Some("paid"),
                Figure::OrdersCancelled => Some("cancelled"),
                Figure::OrdersExpired => Some("expired"),
                _ => None,
            };
            if let Some(status) = status {
                self.orders.get_or_create(&StatusLabels { status: status.into() }).set(*value);
            }
            let outcome = match figure {
                Figure::PaymentsSucceeded => Some("succeeded"),
                Figure::PaymentsFailed => Some("failed"),
                Figure::PaymentsExpired => Some("expired"),
                Figure::PaymentsCancelled => Some("cancelled"),
                _ => None,
            };
            if let Some(outcome) = outcome {
                let provider = dimension.split_once('/').map_or(dimension.as_str(), |(p, _)| p);
                *payments.entry((outcome.to_owned(), provider.to_owned())).or_default() += value;
            }
            let total = match figure {
                Figure::Deposits => Some(&self.deposits),
                Figure::Withdrawals => Some(&self.withdrawals),
                Figure::RefundsCount => Some(&self.refunds),
                _ => None,
            };
            if let Some(total) = total {
                total.set(*value);
            }
        }
        for ((outcome, provider), value) in payments {
            self.payments.get_or_create(&PaymentLabels { outcome, provider }).set(value);
        }
        for (queue, length) in queues {
            self.queue_length.get_or_create(&QueueLabels { queue: (*queue).into() }).set(*length);
        }
    }
}
