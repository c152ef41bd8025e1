//! Delivery slots for same-day grocery delivery: per shipping zone, weekly slot templates with
//! a capacity, a lead time and a same-day cut-off in the shop's time zone, closed dates and
//! capacity overrides; the slots offered to a buyer; a place held by the checkout with the
//! stock (consumed on payment, released with the stock); and the day's manifest for drivers.

pub mod domain;
pub mod routes;
pub mod service;
mod store;

use crate::db::Migration;

pub use domain::{Rules, ShopTime, Template, TimeOfDay};
pub use service::{Delivery, DeliveryError, Slot};

pub static MIGRATIONS: &[Migration] = &[Migration {
    version: 2026120801,
    name: "delivery: slot templates, rules, closed dates, capacity overrides, slots and holds",
    sql: "CREATE TABLE delivery_templates (
            id TEXT PRIMARY KEY,
            zone_id TEXT NOT NULL,
            weekdays TEXT NOT NULL,
            start_minute BIGINT NOT NULL,
            end_minute BIGINT NOT NULL,
            capacity BIGINT NOT NULL,
            created_at BIGINT NOT NULL
          );
          CREATE INDEX delivery_templates_zone ON delivery_templates (zone_id);
          CREATE TABLE delivery_rules (
            zone_id TEXT PRIMARY KEY,
            lead_minutes BIGINT NOT NULL,
            cutoff_order_by BIGINT,
            cutoff_slots_from BIGINT,
            updated_at BIGINT NOT NULL
          );
          CREATE TABLE delivery_closed_dates (
            zone_id TEXT NOT NULL,
            date TEXT NOT NULL,
            PRIMARY KEY (zone_id, date)
          );
          CREATE TABLE delivery_capacity_overrides (
            zone_id TEXT NOT NULL,
            date TEXT NOT NULL,
            template_id TEXT NOT NULL,
            capacity BIGINT NOT NULL,
            PRIMARY KEY (zone_id, date, template_id)
          );
          CREATE TABLE delivery_slots (
            id TEXT PRIMARY KEY,
            zone_id TEXT NOT NULL,
            template_id TEXT NOT NULL,
            starts_at BIGINT NOT NULL,
            ends_at BIGINT NOT NULL,
            capacity BIGINT NOT NULL,
            held BIGINT NOT NULL,
            UNIQUE (zone_id, template_id, starts_at),
            CHECK (held >= 0)
          );
          CREATE INDEX delivery_slots_zone ON delivery_slots (zone_id, starts_at);
          CREATE TABLE delivery_holds (
            order_id TEXT PRIMARY KEY,
            slot_id TEXT NOT NULL REFERENCES delivery_slots (id),
            state TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
          );
          CREATE INDEX delivery_holds_slot ON delivery_holds (slot_id, state);",
    postgres: None,
}];
