//! Orders: what was bought, at what price, and where it is in its lifecycle, with a timeline
//! of every transition (who, when, from, to).

pub mod domain;
pub mod fulfilment;
pub mod routes;
mod service;
mod store;

pub use domain::{
    BookedSlot, Mover, OrderStatus, OrderVoucher, ShippingAddress, TransitionRefused, check_transition,
};
pub use fulfilment::{FulfilmentRefused, FulfilmentStatus};
pub use service::{
    Fulfilment, FulfilmentEntry, NewOrder, NewOrderLine, Order, OrderFilter, OrderLine, Orders, OrdersError,
    TimelineEntry,
};

use crate::db::Migration;

pub static MIGRATIONS: &[Migration] = &[
    Migration {
        version: 2026112250,
        name: "orders: orders, lines, timeline",
        sql: "CREATE TABLE orders (
            id TEXT PRIMARY KEY,
            buyer_id TEXT NOT NULL,
            status TEXT NOT NULL,
            currency TEXT NOT NULL,
            subtotal BIGINT NOT NULL,
            discount BIGINT NOT NULL,
            shipping BIGINT NOT NULL,
            total BIGINT NOT NULL,
            shipping_address TEXT,
            tracking_number TEXT,
            refund_due BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            CHECK (total = subtotal - discount + shipping),
            CHECK (total >= 0)
          );
          CREATE INDEX orders_buyer ON orders (buyer_id, id);
          CREATE INDEX orders_status ON orders (status, id);

          CREATE TABLE order_lines (
            id TEXT PRIMARY KEY,
            order_id TEXT NOT NULL REFERENCES orders (id),
            variant_id TEXT NOT NULL,
            product_id TEXT NOT NULL,
            product_name TEXT NOT NULL,
            sku TEXT NOT NULL,
            kind TEXT NOT NULL,
            options TEXT NOT NULL,
            unit_price BIGINT NOT NULL,
            quantity BIGINT NOT NULL,
            line_total BIGINT NOT NULL,
            CHECK (quantity > 0),
            CHECK (line_total = unit_price * quantity)
          );
          CREATE INDEX order_lines_order ON order_lines (order_id);

          CREATE TABLE order_timeline (
            id TEXT PRIMARY KEY,
            order_id TEXT NOT NULL REFERENCES orders (id),
            from_status TEXT,
            to_status TEXT NOT NULL,
            actor TEXT NOT NULL,
            note TEXT,
            at BIGINT NOT NULL
          );
          CREATE INDEX order_timeline_order ON order_timeline (order_id, id);",
        postgres: None,
    },
    Migration {
        version: 2026120122,
        name: "orders: the shipping method a buyer chose",
        sql: "ALTER TABLE orders ADD COLUMN shipping_method TEXT;",
        postgres: None,
    },
    Migration {
        version: 2026120401,
        name: "orders: voucher discounts per line, with their funder, and the vouchers applied",
        sql: "ALTER TABLE order_lines ADD COLUMN platform_discount BIGINT NOT NULL DEFAULT 0;
              ALTER TABLE order_lines ADD COLUMN store_discount BIGINT NOT NULL DEFAULT 0;
              ALTER TABLE orders ADD COLUMN vouchers TEXT;",
        postgres: None,
    },
    Migration {
        version: 2026120700,
        name: "orders: one fulfilment per store, with its own status, tracking and timeline",
        sql: "ALTER TABLE order_lines ADD COLUMN seller_id TEXT;
          ALTER TABLE order_lines ADD COLUMN fulfilment_id TEXT;

          CREATE TABLE order_fulfilments (
            id TEXT PRIMARY KEY,
            order_id TEXT NOT NULL REFERENCES orders (id),
            seller_id TEXT,
            status TEXT NOT NULL,
            tracking_number TEXT,
            carrier TEXT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            delivered_at BIGINT
          );
          CREATE INDEX order_fulfilments_order ON order_fulfilments (order_id);
          CREATE INDEX order_fulfilments_seller ON order_fulfilments (seller_id, order_id);

          CREATE TABLE fulfilment_timeline (
            id TEXT PRIMARY KEY,
            fulfilment_id TEXT NOT NULL REFERENCES order_fulfilments (id),
            from_status TEXT,
            to_status TEXT NOT NULL,
            actor TEXT NOT NULL,
            note TEXT,
            at BIGINT NOT NULL
          );
          CREATE INDEX fulfilment_timeline_fulfilment ON fulfilment_timeline (fulfilment_id, id);",
        postgres: None,
    },
    Migration {
        version: 2026120800,
        name: "orders: the delivery slot a buyer booked",
        sql: "ALTER TABLE orders ADD COLUMN delivery_slot TEXT;",
        postgres: None,
    },
];
