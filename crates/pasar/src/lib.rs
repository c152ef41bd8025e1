//! Pasar: a commerce engine in one binary, on SQLite or PostgreSQL.
//!
//! Each module is a vertical slice (its types, rules, storage and routes together); see
//! DESIGN.md section 3 and the architecture section of README.md.

pub mod analytics;
pub mod audit;
pub mod cart;
pub mod catalog;
pub mod chat;
pub mod checkout;
pub mod config;
pub mod couriers;
pub mod db;
pub mod delivery;
pub mod demo;
pub mod events;
pub mod http;
pub mod identity;
pub mod ids;
pub mod inventory;
pub mod ledger;
pub mod locale;
pub mod money;
pub mod notifications;
pub mod orders;
pub mod payables;
pub mod payments;
pub mod promotions;
pub mod push;
pub mod rating;
pub mod recommendations;
pub mod reviews;
pub mod search;
pub mod sellers;
pub mod shipping;
pub mod startup;
pub mod telegram;
pub mod telemetry;
pub mod time;
pub mod wallet;
pub mod web;
