//! The wallet: each buyer's balance and loyalty points, kept in the double-entry ledger.
//!
//! - Deposits are payments (purpose `deposit`) through a gateway; the confirmed payment credits
//!   the wallet once (transfer id `deposit:{payment}`).
//! - Withdrawals hold the funds at once (a pending transfer to payouts in transit), ask the
//!   gateway for a payout, and post the hold on success or void it (the money comes back) on
//!   failure.
//! - Paying an order with the wallet debits it inside the checkout's own transaction.
//! - Points are earned when an order completes (an outbox subscriber, once per order), held at
//!   checkout, consumed on payment and released on failure or expiry.
//! - Gateway sales post through the ledger too (clearing → revenue, and the fee), so revenue,
//!   fees and wallet money reconcile from one book.

pub mod history;
pub mod points;
pub mod routes;
mod service;

pub use history::{EntryState, WalletEntry};
pub use points::{PointsEarner, PointsRules};
pub use service::{PayoutSource, Wallet, WalletError, WalletSummary};

/// The payment method that pays from the buyer's wallet.
pub const METHOD: &str = crate::payments::WALLET;
