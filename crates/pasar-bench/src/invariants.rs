//! The oversell and invariant check, run through the server's own database pool after the load
//! (the same invariants as the API tests' `assert_invariants`, plus the order-level ones).

use std::collections::HashMap;

use pasar::http::AppState;

/// What the check found: a line per fact checked, and the violations.
pub struct Report {
    pub facts: Vec<String>,
    pub violations: Vec<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }
}

/// `initial` is the stock each seeded variant started with; `created_units` the units in
/// checkouts answered 201; `uncertain_units` the units in checkouts that got no clear answer.
pub async fn check(
    state: &AppState,
    initial: &HashMap<String, i64>,
    created_units: i64,
    uncertain_units: i64,
) -> anyhow::Result<Report> {
    let db = state.db.reader();
    let mut facts = Vec::new();
    let mut violations = Vec::new();

    // Every stock level against its movements and held reservations, in one pass (per-variant
    // queries would take long with 10,000 SKUs).
    let levels: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT l.variant_id, l.on_hand, l.reserved,
                CAST(COALESCE(m.total, 0) AS BIGINT), CAST(COALESCE(h.total, 0) AS BIGINT)
         FROM stock_levels l
         LEFT JOIN (SELECT variant_id, SUM(delta) AS total FROM stock_movements GROUP BY variant_id) m
           ON m.variant_id = l.variant_id
         LEFT JOIN (SELECT variant_id, SUM(quantity) AS total FROM stock_reservations
                    WHERE status = 'held' GROUP BY variant_id) h
           ON h.variant_id = l.variant_id",
    )
    .fetch_all(db)
    .await?;
    let mut sold = 0;
    for (variant, on_hand, reserved, moved, held) in &levels {
        if !(0 <= *reserved && reserved <= on_hand) {
            violations.push(format!("{variant}: reserved {reserved} outside 0..={on_hand} (on hand)"));
        }
        if moved != on_hand {
            violations.push(format!("{variant}: on hand {on_hand} but its movements sum to {moved}"));
        }
        if held != reserved {
            violations.push(format!("{variant}: reserved {reserved} but held reservations sum to {held}"));
        }
        match initial.get(variant) {
            Some(start) => {
                let gone = start - (on_hand - reserved);
                if gone > *start {
                    violations.push(format!("{variant}: oversold, {gone} units gone of {start}"));
                }
                sold += gone;
            }
            None => violations.push(format!("{variant}: a stock level the bench did not seed")),
        }
    }
    facts.push(format!(
        "{} stock levels: 0 <= reserved <= on_hand = sum of movements, reserved = sum of held",
        levels.len()
    ));

    // Sold units against what the buyers were told. Checkouts that got no clear answer may
    // have gone through, so they widen the allowed range instead of counting either way.
    let stock: i64 = initial.values().sum();
    let ceiling = created_units + uncertain_units;
    if sold < created_units || sold > ceiling {
        violations.push(format!(
            "sold {sold} units (initial stock - available) but 201 checkouts hold {created_units} units \
             ({uncertain_units} more unanswered)"
        ));
    }
    if created_units > stock {
        violations.push(format!("oversell: 201 checkouts for {created_units} units of {stock} in stock"));
    }
    let ordered: i64 =
        sqlx::query_scalar("SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM order_lines")
            .fetch_one(db)
            .await?;
    if ordered != sold {
        violations.push(format!("order lines hold {ordered} units but {sold} units left the stock"));
    }
    facts.push(format!(
        "sold {sold} of {stock} units = {created_units} units in 201 checkouts{} = {ordered} units in order lines",
        if uncertain_units > 0 { format!(" (+ up to {uncertain_units} unanswered)") } else { String::new() }
    ));

    // Each order: one reservation row per line, and exactly one `order.created` event.
    let orders: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders").fetch_one(db).await?;
    let mismatched: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM orders o
         LEFT JOIN (SELECT order_id, COUNT(*) AS n FROM order_lines GROUP BY order_id) l ON l.order_id = o.id
         LEFT JOIN (SELECT holder, COUNT(*) AS n FROM stock_reservations GROUP BY holder) r ON r.holder = o.id
         WHERE l.n IS NULL OR r.n IS NULL OR l.n <> r.n",
    )
    .fetch_one(db)
    .await?;
    if mismatched > 0 {
        violations.push(format!("{mismatched} orders without exactly one reservation per line"));
    }
    let unannounced: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM orders o
         LEFT JOIN (SELECT subject_id, COUNT(*) AS n FROM outbox_events
                    WHERE event_type = 'order.created' GROUP BY subject_id) e ON e.subject_id = o.id
         WHERE e.n IS NULL OR e.n <> 1",
    )
    .fetch_one(db)
    .await?;
    let events: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox_events WHERE event_type = 'order.created'")
            .fetch_one(db)
            .await?;
    if unannounced > 0 || events != orders {
        violations.push(format!(
            "{unannounced} orders without exactly one order.created event ({events} events for {orders} orders)"
        ));
    }
    facts.push(format!("{orders} orders, each with one reservation per line and one order.created event"));

    let ledger = state.ledger.verify().await?;
    violations.extend(ledger.iter().map(|v| format!("ledger: {v:?}")));
    facts.push("ledger verifies (debits = credits, no wallet below zero, totals match transfers)".into());
    Ok(Report { facts, violations })
}

/// Breaks one invariant on purpose, to show the check fails loudly: one stock level gets one
/// more unit reserved than its held reservations. Where nothing is left on hand to reserve (a
/// sold-out flash sale), on hand goes up by one as well, since the table's CHECK forbids
/// reserved above on hand.
pub async fn corrupt_stock(state: &AppState) -> anyhow::Result<String> {
    let variant: String =
        sqlx::query_scalar("SELECT variant_id FROM stock_levels ORDER BY variant_id LIMIT 1")
            .fetch_one(state.db.reader())
            .await?;
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "UPDATE stock_levels SET reserved = reserved + 1,
                on_hand = CASE WHEN reserved < on_hand THEN on_hand ELSE on_hand + 1 END
         WHERE variant_id = $1",
    )
    .bind(&variant)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(variant)
}
