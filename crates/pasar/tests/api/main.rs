//! The API test suite: each test starts the real server on port 0 with a database of its own
//! and drives it over HTTP. It runs on SQLite by default and on PostgreSQL when
//! `PASAR_TEST_DATABASE_URL` names a server (see README.md).

mod accounts;
mod addresses;
mod admin_users;
mod analytics;
mod audit;
mod auth;
mod batch;
mod cart;
mod catalog;
mod chat;
mod checkout;
mod chip;
mod conventions;
mod couriers;
mod crash;
mod delivery;
mod events;
mod fakes;
mod gateways;
mod hardening;
mod helpers;
mod idempotency;
mod inventory;
mod komoju;
mod ledger;
mod marketplace;
mod notifications;
mod openapi;
mod ops;
mod pakasir;
mod payouts;
mod push;
mod recommendations;
mod refunds;
mod reviews;
mod search;
mod sellers;
mod shipping;
mod stripe;
mod telegram;
mod vouchers;
mod wallet;
mod web;
mod webhooks;
