//! The payment providers, one folder each (hyperswitch's shape): `transformers.rs` holds the
//! provider's wire types and their mapping to Pasar's, `mod.rs` its flows. Each is configured by
//! its own settings and switched on when its secret is set.

pub mod chip;
pub mod client;
pub mod komoju;
pub mod pakasir;
pub mod sandbox;
pub mod stripe;
