//! Analytics' HTTP routes: `/v1/admin/analytics/{sales,orders,customers,payments,products}`
//! for admins (the whole shop, or one store with `store=`) and the same under
//! `/v1/seller/analytics/…` for a seller's own store. `format=csv` answers the report's table
//! as CSV instead of JSON.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::domain::{Interval, csv};
use super::service::{
    AnalyticsError, CustomersReport, OrdersReport, PaymentsReport, Period, ProductsReport, SalesReport,
};
use crate::http::auth::{ActiveSeller, Staff};
use crate::http::error::{ApiError, ErrorEnvelope};
use crate::http::extract::ApiQuery;
use crate::http::{ApiResult, AppState};
use crate::ids::UserId;
use crate::money::Money;
use crate::time::Timestamp;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(admin_sales))
        .routes(routes!(admin_orders))
        .routes(routes!(admin_customers))
        .routes(routes!(admin_payments))
        .routes(routes!(admin_products))
        .routes(routes!(seller_sales))
        .routes(routes!(seller_orders))
        .routes(routes!(seller_customers))
        .routes(routes!(seller_payments))
        .routes(routes!(seller_products))
}

impl From<AnalyticsError> for ApiError {
    fn from(err: AnalyticsError) -> Self {
        let message = err.to_string();
        match err {
            AnalyticsError::Invalid { field, .. } => ApiError::field(field, message),
            AnalyticsError::Orders(e) => e.into(),
            AnalyticsError::Payments(e) => e.into(),
            AnalyticsError::Carts(e) => e.into(),
            AnalyticsError::Database(e) => e.into(),
            AnalyticsError::Event(_) | AnalyticsError::Payload(_) => ApiError::internal(err),
        }
    }
}

/// How the report is answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum Format {
    #[default]
    Json,
    /// The report's table (its series, or its channels or top products) as CSV, amounts in
    /// minor units.
    Csv,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AdminQuery {
    /// The period's start (RFC 3339); counted from the start of its hour or day. Default: 30
    /// days (48 hours by the hour) before `to`.
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<Timestamp>,
    /// The period's end, not included (RFC 3339). Default: now.
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<Timestamp>,
    /// `hour` (at most 31 days) or `day` (at most 400 days, the default).
    #[param(inline)]
    interval: Option<Interval>,
    /// Only this store (its owner's user id); the whole shop when absent.
    store: Option<UserId>,
    #[param(inline)]
    format: Option<Format>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct SellerQuery {
    /// The period's start (RFC 3339); counted from the start of its hour or day. Default: 30
    /// days (48 hours by the hour) before `to`.
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<Timestamp>,
    /// The period's end, not included (RFC 3339). Default: now.
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<Timestamp>,
    /// `hour` (at most 31 days) or `day` (at most 400 days, the default).
    #[param(inline)]
    interval: Option<Interval>,
    #[param(inline)]
    format: Option<Format>,
}

impl AdminQuery {
    fn period(&self, state: &AppState) -> Result<(Period, Format), AnalyticsError> {
        let period = Period::new(self.from, self.to, self.interval, self.store, state.analytics.now())?;
        Ok((period, self.format.unwrap_or_default()))
    }
}

impl SellerQuery {
    fn period(&self, state: &AppState, seller: &ActiveSeller) -> Result<(Period, Format), AnalyticsError> {
        let period =
            Period::new(self.from, self.to, self.interval, Some(seller.user), state.analytics.now())?;
        Ok((period, self.format.unwrap_or_default()))
    }
}

/// A report as a CSV table.
trait Table {
    fn header(&self) -> &'static [&'static str];
    fn rows(&self) -> Vec<Vec<String>>;
}

fn minor(money: Money) -> String {
    money.amount.to_string()
}

fn ratio(rate: Option<f64>) -> String {
    rate.map(|r| format!("{r:.4}")).unwrap_or_default()
}

impl Table for SalesReport {
    fn header(&self) -> &'static [&'static str] {
        &["start", "gmv", "refunds", "net_revenue", "fees", "orders_paid", "average_order_value"]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.series
            .iter()
            .map(|p| {
                let f = &p.figures;
                vec![
                    p.start.to_rfc3339(),
                    minor(f.gmv),
                    minor(f.refunds),
                    minor(f.net_revenue),
                    minor(f.fees),
                    f.orders_paid.to_string(),
                    minor(f.average_order_value),
                ]
            })
            .collect()
    }
}

impl Table for OrdersReport {
    fn header(&self) -> &'static [&'static str] {
        &[
            "start",
            "carts",
            "carts_checked_out",
            "orders_placed",
            "orders_paid",
            "orders_cancelled",
            "orders_expired",
            "cart_to_order",
            "order_to_paid",
        ]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.series
            .iter()
            .map(|p| {
                let f = &p.figures;
                vec![
                    p.start.to_rfc3339(),
                    f.carts.to_string(),
                    f.carts_checked_out.to_string(),
                    f.orders_placed.to_string(),
                    f.orders_paid.to_string(),
                    f.orders_cancelled.to_string(),
                    f.orders_expired.to_string(),
                    ratio(f.cart_to_order),
                    ratio(f.order_to_paid),
                ]
            })
            .collect()
    }
}

impl Table for CustomersReport {
    fn header(&self) -> &'static [&'static str] {
        &["start", "new_users", "active_customers"]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.series
            .iter()
            .map(|p| {
                vec![
                    p.start.to_rfc3339(),
                    p.figures.new_users.to_string(),
                    p.figures.active_customers.to_string(),
                ]
            })
            .collect()
    }
}

impl Table for PaymentsReport {
    fn header(&self) -> &'static [&'static str] {
        &["provider", "method", "succeeded", "failed", "expired", "cancelled", "success_rate"]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.channels
            .iter()
            .map(|c| {
                let f = &c.figures;
                vec![
                    c.provider.clone(),
                    c.method.clone(),
                    f.succeeded.to_string(),
                    f.failed.to_string(),
                    f.expired.to_string(),
                    f.cancelled.to_string(),
                    ratio(f.success_rate),
                ]
            })
            .collect()
    }
}

impl Table for ProductsReport {
    fn header(&self) -> &'static [&'static str] {
        &["product_id", "units", "revenue"]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.top_products
            .iter()
            .map(|p| vec![p.product_id.to_string(), p.units.to_string(), minor(p.revenue)])
            .collect()
    }
}

fn answer<R: Serialize + Table>(report: R, format: Format) -> Response {
    match format {
        Format::Json => Json(report).into_response(),
        Format::Csv => {
            let mut response = csv(report.header(), &report.rows()).into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
            response
        }
    }
}

/// What `status = 200` promises: the report as JSON, or its table as CSV.
macro_rules! report_path {
    ($(#[$doc:meta])* $name:ident, $path:literal, $tag:literal, $report:ident, $query:ident, $caller:ident, |$state:ident, $who:ident, $q:ident| $period:expr, $read:ident) => {
        $(#[$doc])*
        #[utoipa::path(
            get, path = $path, tag = $tag, security(("bearer" = [])), params($query),
            responses(
                (status = 200, content(($report = "application/json"), (String = "text/csv"))),
                (status = 401, body = ErrorEnvelope),
                (status = 403, body = ErrorEnvelope),
                (status = 422, description = "a period that ends before it starts, or too long for its interval", body = ErrorEnvelope),
            )
        )]
        async fn $name(
            State($state): State<AppState>,
            $who: $caller,
            ApiQuery($q): ApiQuery<$query>,
        ) -> ApiResult<Response> {
            let (period, format) = $period?;
            let report = $state.analytics.$read(&period).await?;
            Ok(answer(report, format))
        }
    };
}

report_path!(
    /// GMV, refunds, net revenue, fees, paid orders and average order value per hour or day,
    /// and their totals.
    admin_sales, "/v1/admin/analytics/sales", "analytics", SalesReport, AdminQuery, Staff,
    |state, _staff, query| query.period(&state), sales
);
report_path!(
    /// Carts started and checked out, orders placed, paid, cancelled and expired per hour or
    /// day, and the conversion from carts to orders to paid orders.
    admin_orders, "/v1/admin/analytics/orders", "analytics", OrdersReport, AdminQuery, Staff,
    |state, _staff, query| query.period(&state), orders
);
report_path!(
    /// New accounts and active customers (distinct buyers who paid) per hour or day.
    admin_customers, "/v1/admin/analytics/customers", "analytics", CustomersReport, AdminQuery, Staff,
    |state, _staff, query| query.period(&state), customers
);
report_path!(
    /// Payment outcomes and success rate per provider and method; deposits and withdrawals.
    admin_payments, "/v1/admin/analytics/payments", "analytics", PaymentsReport, AdminQuery, Staff,
    |state, _staff, query| query.period(&state), payments
);
report_path!(
    /// The best-selling products and stores by revenue.
    admin_products, "/v1/admin/analytics/products", "analytics", ProductsReport, AdminQuery, Staff,
    |state, _staff, query| query.period(&state), products
);
report_path!(
    /// The caller's store: GMV of its lines, its share of refunds and fees, paid orders and
    /// average order value per hour or day.
    seller_sales, "/v1/seller/analytics/sales", "seller", SalesReport, SellerQuery, ActiveSeller,
    |state, seller, query| query.period(&state, &seller), sales
);
report_path!(
    /// The caller's store: orders placed, paid, cancelled and expired, and conversion.
    seller_orders, "/v1/seller/analytics/orders", "seller", OrdersReport, SellerQuery, ActiveSeller,
    |state, seller, query| query.period(&state, &seller), orders
);
report_path!(
    /// The caller's store: distinct buyers who paid for its products.
    seller_customers, "/v1/seller/analytics/customers", "seller", CustomersReport, SellerQuery, ActiveSeller,
    |state, seller, query| query.period(&state, &seller), customers
);
report_path!(
    /// The caller's store: payment outcomes of orders with its products, per provider and method.
    seller_payments, "/v1/seller/analytics/payments", "seller", PaymentsReport, SellerQuery, ActiveSeller,
    |state, seller, query| query.period(&state, &seller), payments
);
report_path!(
    /// The caller's store: its best-selling products by revenue.
    seller_products, "/v1/seller/analytics/products", "seller", ProductsReport, SellerQuery, ActiveSeller,
    |state, seller, query| query.period(&state, &seller), products
);

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    #[test]
    fn a_csv_answer_says_it_is_csv() {
        let report = ProductsReport {
            from: Timestamp::from_millis(0),
            to: Timestamp::from_millis(1),
            interval: Interval::Day,
            top_products: Vec::new(),
            top_stores: Vec::new(),
        };
        let response = answer(report, Format::Csv);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    }
}
