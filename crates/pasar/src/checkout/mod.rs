//! Checkout: the saga that turns a cart or a list of items into an order awaiting payment, and
//! settles it when the payment's outcome is known (DESIGN section 5).
//!
//! Steps and compensations, recorded in `checkouts.step` so a restart resumes or compensates:
//!
//! 1. `held`: in ONE transaction: stock reserved (lines in variant order, so concurrent
//!    multi-line checkouts cannot deadlock), the order priced and written, the payment written,
//!    the cart emptied, `order.created` in the outbox, and the vouchers' uses and the points
//!    held, and a place in the chosen delivery slot (zones with slots), each released by
//!    `unwind`.
//!    A failure anywhere (a voucher used up meanwhile) rolls all of it back: nothing to
//!    compensate.
//! 2. `awaiting_payment`: the gateway accepted the payment (the only step outside the database;
//!    a restart finds `held` payments the gateway never saw and asks again, idempotently).
//! 3. `completed`: payment confirmed, stock committed, the slot's place, vouchers and points
//!    consumed, digital
//!    items assigned, order paid (and delivered when it is all digital).
//! 4. `compensated`: payment failed, expired or cancelled: stock, the slot's place, points and
//!    vouchers released, order ended.
//!
//! Step 1 of concurrent checkouts (and step 3 of those paid from the wallet) is written for
//! many buyers in one transaction by [`batch`]; each buyer still gets its own answer.

mod batch;
pub mod routes;
mod service;
pub mod sweeper;

pub use batch::BatchStats;
pub use service::{
    Checkout, CheckoutError, CheckoutRequest, ItemRequest, Placed, Preview, RefundRequest, Restock,
};

use crate::db::Migration;

pub static MIGRATIONS: &[Migration] = &[Migration {
    version: 2026112270,
    name: "checkout: saga records",
    sql: "CREATE TABLE checkouts (
            order_id TEXT PRIMARY KEY,
            buyer_id TEXT NOT NULL,
            idempotency_key TEXT,
            payment_id TEXT NOT NULL,
            step TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
          );
          CREATE UNIQUE INDEX checkouts_idempotency ON checkouts (buyer_id, idempotency_key);",
    postgres: None,
}];
