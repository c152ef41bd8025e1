//! The double-entry ledger: wallets, points, seller payables and the shop's own accounts,
//! moved only by transfers, with TigerBeetle's rules (DESIGN section 4):
//!
//! - a transfer moves a positive amount between two different accounts of the same unit;
//! - a transfer id is used once: the same id with the same fields is a no-op, with other
//!   fields an error;
//! - a two-phase transfer holds its amount (`debits_pending`/`credits_pending`) until it is
//!   posted (all or part), voided, or expires at its timeout, whichever comes first, once;
//! - wallets, points and seller payables never go below zero: their debits posted plus
//!   pending never exceed their credits posted, checked by the guarded UPDATE that changes
//!   them, so concurrent spends cannot overdraw on either backend;
//! - per unit, debits equal credits (posted and pending), and each account's stored totals
//!   equal the sums over its transfers. [`Ledger::verify`] checks both from the stored rows.
//!
//! Transfers run inside the caller's transaction (a payment and its ledger entries commit
//! together) and write their outbox event there, with both accounts' balances before and after.

pub mod domain;

pub mod routes;
mod service;
mod store;

pub use domain::{
    AccountKind, AccountRef, Balance, LedgerError, StatementLine, Transfer, TransferOutcome, TransferRecord,
    TransferStatus, UnitTotals, Violation,
};
pub use service::{Ledger, expire_every};

use crate::db::Migration;

pub static MIGRATIONS: &[Migration] = &[Migration {
    version: 2026112280,
    name: "ledger: accounts and transfers",
    sql: "CREATE TABLE ledger_accounts (
            code TEXT PRIMARY KEY,
            unit TEXT NOT NULL,
            kind TEXT NOT NULL,
            debits_posted BIGINT NOT NULL,
            credits_posted BIGINT NOT NULL,
            debits_pending BIGINT NOT NULL,
            credits_pending BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            CHECK (debits_posted >= 0),
            CHECK (credits_posted >= 0),
            CHECK (debits_pending >= 0),
            CHECK (credits_pending >= 0),
            CHECK (kind NOT IN ('user_wallet', 'user_points', 'seller_payable')
                   OR debits_posted + debits_pending <= credits_posted)
          );

          CREATE TABLE ledger_transfers (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            debit_code TEXT NOT NULL REFERENCES ledger_accounts (code),
            credit_code TEXT NOT NULL REFERENCES ledger_accounts (code),
            amount BIGINT NOT NULL,
            unit TEXT NOT NULL,
            status TEXT NOT NULL,
            pending_id TEXT REFERENCES ledger_transfers (id),
            timeout_at BIGINT,
            reference TEXT,
            created_at BIGINT NOT NULL,
            resolved_at BIGINT,
            CHECK (amount > 0),
            CHECK (debit_code <> credit_code),
            CHECK (status IN ('posted', 'pending', 'voided', 'expired'))
          );
          CREATE UNIQUE INDEX ledger_transfers_resolution ON ledger_transfers (pending_id);
          CREATE INDEX ledger_transfers_debit ON ledger_transfers (debit_code, created_at, id);
          CREATE INDEX ledger_transfers_credit ON ledger_transfers (credit_code, created_at, id);
          CREATE INDEX ledger_transfers_due ON ledger_transfers (timeout_at) WHERE status = 'pending';",
    postgres: None,
}];
