//! The ledger's types and pure rules (TigerBeetle's, DESIGN section 4), and [`Book`], an
//! in-memory ledger that applies exactly these rules. The service runs the same rules against
//! the database; the property tests run `Book` against a simpler reference model.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

use crate::ids::UserId;
use crate::money::Currency;
use crate::time::Timestamp;

/// The unit of loyalty points; every other account is in an ISO currency.
pub const POINTS: &str = "PTS";

/// What an account is for. The kind decides whether the account may go below zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// A user's money held by the shop.
    UserWallet,
    /// A user's loyalty points.
    UserPoints,
    /// What the shop owes a seller for their sales.
    SellerPayable,
    /// The shop's own income.
    Revenue,
    /// Money a payment gateway owes the shop or holds for it.
    GatewayClearing,
    /// Fees the shop paid (gateway fees).
    Fees,
    /// Payouts sent through a provider and not yet confirmed.
    PayoutsInTransit,
    /// The other side of admin corrections.
    Adjustments,
    /// The other side of points earned.
    PointsIssued,
    /// Where redeemed points go.
    PointsRedeemed,
}

impl AccountKind {
    pub const ALL: [AccountKind; 10] = [
        Self::UserWallet,
        Self::UserPoints,
        Self::SellerPayable,
        Self::Revenue,
        Self::GatewayClearing,
        Self::Fees,
        Self::PayoutsInTransit,
        Self::Adjustments,
        Self::PointsIssued,
        Self::PointsRedeemed,
    ];

    /// Accounts holding what Pasar owes someone: their debits (posted and pending) must never
    /// exceed their posted credits (TigerBeetle's `debits_must_not_exceed_credits`).
    pub fn never_negative(self) -> bool {
        matches!(self, Self::UserWallet | Self::UserPoints | Self::SellerPayable)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserWallet => "user_wallet",
            Self::UserPoints => "user_points",
            Self::SellerPayable => "seller_payable",
            Self::Revenue => "revenue",
            Self::GatewayClearing => "gateway_clearing",
            Self::Fees => "fees",
            Self::PayoutsInTransit => "payouts_in_transit",
            Self::Adjustments => "adjustments",
            Self::PointsIssued => "points_issued",
            Self::PointsRedeemed => "points_redeemed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// An account, named by its code. The code is unique and ends with the unit, so the same
/// owner's IDR and USD wallets are different accounts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AccountRef {
    pub code: String,
    pub unit: String,
    pub kind: AccountKind,
}

impl AccountRef {
    fn named(kind: AccountKind, name: &str, unit: &str) -> Self {
        Self { code: format!("{name}:{unit}"), unit: unit.to_owned(), kind }
    }

    pub fn wallet(user: UserId, currency: Currency) -> Self {
        Self::named(AccountKind::UserWallet, &format!("wallet:{user}"), currency.code())
    }

    pub fn points(user: UserId) -> Self {
        Self::named(AccountKind::UserPoints, &format!("points:{user}"), POINTS)
    }

    pub fn seller_payable(seller: UserId, currency: Currency) -> Self {
        Self::named(AccountKind::SellerPayable, &format!("payable:{seller}"), currency.code())
    }

    pub fn revenue(currency: Currency) -> Self {
        Self::named(AccountKind::Revenue, "revenue", currency.code())
    }

    pub fn gateway_clearing(provider: &str, currency: Currency) -> Self {
        Self::named(AccountKind::GatewayClearing, &format!("clearing:{provider}"), currency.code())
    }

    pub fn fees(currency: Currency) -> Self {
        Self::named(AccountKind::Fees, "fees", currency.code())
    }

    pub fn payouts_in_transit(provider: &str, currency: Currency) -> Self {
        Self::named(AccountKind::PayoutsInTransit, &format!("payouts:{provider}"), currency.code())
    }

    pub fn adjustments(currency: Currency) -> Self {
        Self::named(AccountKind::Adjustments, "adjustments", currency.code())
    }

    pub fn points_issued() -> Self {
        Self::named(AccountKind::PointsIssued, "points_issued", POINTS)
    }

    pub fn points_redeemed() -> Self {
        Self::named(AccountKind::PointsRedeemed, "points_redeemed", POINTS)
    }
}

/// A movement of `amount` from the debit account to the credit account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transfer {
    /// Unique, chosen by the caller so that a retry is recognised (e.g. `deposit:pay_…`).
    pub id: String,
    pub debit: AccountRef,
    pub credit: AccountRef,
    /// More than zero, in the unit's minor units (or points).
    pub amount: i64,
    /// What the movement is: `deposit`, `order_payment`, `withdrawal`, `adjustment`…
    pub kind: &'static str,
    /// The order, payment or withdrawal it belongs to.
    pub reference: Option<String>,
    /// Some: a two-phase transfer, held until posted or voided, and voided at the timeout.
    pub pending_timeout: Option<Duration>,
    /// Who moved the money, for the audit (a staff member's id for admin corrections);
    /// None is Pasar itself (`system`). Not part of the transfer's identity.
    pub actor: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferOutcome {
    Created,
    /// The same id with the same fields was already applied: nothing changed.
    AlreadyExists,
}

/// An account's balance, credit-normal: money a wallet holds is credits minus debits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Balance {
    /// Credits posted minus debits posted.
    pub posted: i64,
    /// Held by pending transfers out of the account.
    pub pending_debits: i64,
    /// Held by pending transfers into the account.
    pub pending_credits: i64,
    /// `posted - pending_debits`: what can be spent.
    pub available: i64,
}

/// An account's four running totals, as stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub debits_posted: i64,
    pub credits_posted: i64,
    pub debits_pending: i64,
    pub credits_pending: i64,
}

impl Totals {
    pub fn balance(self) -> Balance {
        let posted = self.credits_posted - self.debits_posted;
        Balance {
            posted,
            pending_debits: self.debits_pending,
            pending_credits: self.credits_pending,
            available: posted - self.debits_pending,
        }
    }

    /// The totals after `change`, or None when a total would overflow.
    pub fn apply(self, change: Change) -> Option<Totals> {
        Some(Totals {
            debits_posted: self.debits_posted.checked_add(change.debits_posted)?,
            credits_posted: self.credits_posted.checked_add(change.credits_posted)?,
            debits_pending: self.debits_pending.checked_add(change.debits_pending)?,
            credits_pending: self.credits_pending.checked_add(change.credits_pending)?,
        })
    }

    /// The totals before `change` was applied to reach these.
    pub fn undo(self, change: Change) -> Totals {
        Totals {
            debits_posted: self.debits_posted - change.debits_posted,
            credits_posted: self.credits_posted - change.credits_posted,
            debits_pending: self.debits_pending - change.debits_pending,
            credits_pending: self.credits_pending - change.credits_pending,
        }
    }

    /// Whether an account of `kind` may have these totals.
    pub fn allowed_for(self, kind: AccountKind) -> bool {
        !kind.never_negative() || self.debits_posted + self.debits_pending <= self.credits_posted
    }
}

/// How a transfer changes one account's totals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Change {
    pub debits_posted: i64,
    pub credits_posted: i64,
    pub debits_pending: i64,
    pub credits_pending: i64,
}

/// The step a transfer takes: post at once, hold, post a hold (perhaps in part), or release
/// a hold (void or timeout).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Post { amount: i64 },
    Hold { amount: i64 },
    PostHeld { held: i64, amount: i64 },
    Release { held: i64 },
}

impl Phase {
    /// The change to the debit account.
    pub fn debit(self) -> Change {
        match self {
            Phase::Post { amount } => Change { debits_posted: amount, ..Change::default() },
            Phase::Hold { amount } => Change { debits_pending: amount, ..Change::default() },
            Phase::PostHeld { held, amount } => {
                Change { debits_posted: amount, debits_pending: -held, ..Change::default() }
            }
            Phase::Release { held } => Change { debits_pending: -held, ..Change::default() },
        }
    }

    /// The change to the credit account.
    pub fn credit(self) -> Change {
        match self {
            Phase::Post { amount } => Change { credits_posted: amount, ..Change::default() },
            Phase::Hold { amount } => Change { credits_pending: amount, ..Change::default() },
            Phase::PostHeld { held, amount } => {
                Change { credits_posted: amount, credits_pending: -held, ..Change::default() }
            }
            Phase::Release { held } => Change { credits_pending: -held, ..Change::default() },
        }
    }
}

/// Where a transfer stands. A hold is `pending` until it is posted, voided or expired; the
/// transfer that posts or voids it is recorded as `posted` or `voided`, naming it in
/// `pending_id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransferStatus {
    Posted,
    Pending,
    Voided,
    Expired,
}

impl TransferStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Posted => "posted",
            Self::Pending => "pending",
            Self::Voided => "voided",
            Self::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Posted, Self::Pending, Self::Voided, Self::Expired].into_iter().find(|s| s.as_str() == text)
    }
}

/// A transfer as the ledger shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct TransferRecord {
    pub id: String,
    pub kind: String,
    pub debit_code: String,
    pub credit_code: String,
    pub amount: i64,
    pub unit: String,
    pub status: TransferStatus,
    /// For a transfer that posts or voids a hold: the hold's id.
    pub pending_id: Option<String>,
    pub reference: Option<String>,
    pub created_at: Timestamp,
}

/// One line of an account's statement: a transfer seen from that account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementLine {
    pub record: TransferRecord,
    /// What moved, from the account's side: positive into it, negative out of it. For a posted
    /// hold, the amount posted.
    pub signed_amount: i64,
}

/// A transfer as stored: the record plus the hold's timeout and when the hold was resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredTransfer {
    pub record: TransferRecord,
    /// Set on holds only.
    pub timeout_at: Option<Timestamp>,
    /// When a hold was posted, voided or expired.
    pub resolved_at: Option<Timestamp>,
}

impl StoredTransfer {
    /// The stored row a new transfer makes.
    pub fn of(t: &Transfer, now: Timestamp) -> Self {
        let status =
            if t.pending_timeout.is_some() { TransferStatus::Pending } else { TransferStatus::Posted };
        StoredTransfer {
            record: TransferRecord {
                id: t.id.clone(),
                kind: t.kind.to_owned(),
                debit_code: t.debit.code.clone(),
                credit_code: t.credit.code.clone(),
                amount: t.amount,
                unit: t.debit.unit.clone(),
                status,
                pending_id: None,
                reference: t.reference.clone(),
                created_at: now,
            },
            timeout_at: t.pending_timeout.map(|timeout| now.plus(timeout)),
            resolved_at: None,
        }
    }

    /// The stored row of the transfer that posts (`Posted`) or voids (`Voided`) this hold.
    pub fn resolution(&self, id: &str, status: TransferStatus, amount: i64, now: Timestamp) -> Self {
        StoredTransfer {
            record: TransferRecord {
                id: id.to_owned(),
                amount,
                status,
                pending_id: Some(self.record.id.clone()),
                created_at: now,
                ..self.record.clone()
            },
            timeout_at: None,
            resolved_at: None,
        }
    }

    /// Whether this is the row `t` made (a retry of it is then a no-op). The status may
    /// have moved on since (a hold posted later); the transfer is still the same.
    pub fn same_as(&self, t: &Transfer) -> bool {
        let r = &self.record;
        let timeout = self.timeout_at.map(|at| at.millis() - r.created_at.millis());
        r.pending_id.is_none()
            && r.kind == t.kind
            && r.debit_code == t.debit.code
            && r.credit_code == t.credit.code
            && r.amount == t.amount
            && r.unit == t.debit.unit
            && r.reference == t.reference
            && timeout == t.pending_timeout.map(|d| Timestamp::from_millis(0).plus(d).millis())
    }

    /// Whether this is the row that resolved `pending_id` as `status` for `amount`.
    pub fn same_resolution(&self, pending_id: &str, status: TransferStatus, amount: i64) -> bool {
        self.record.pending_id.as_deref() == Some(pending_id)
            && self.record.status == status
            && self.record.amount == amount
    }

    /// Whether this hold can still be posted or voided at `now`: it is pending and its
    /// timeout has not passed (a hold past its timeout counts as expired even before the
    /// sweeper marks it so).
    pub fn resolvable(&self, now: Timestamp) -> Result<(), LedgerError> {
        match self.timeout_at {
            None => Err(LedgerError::PendingNotFound { id: self.record.id.clone() }),
            Some(at) if self.record.status != TransferStatus::Pending || at <= now => {
                Err(LedgerError::PendingAlreadyResolved { id: self.record.id.clone() })
            }
            Some(_) => Ok(()),
        }
    }

    /// The amount a post of this hold moves: all of it, or a part.
    pub fn posting_amount(&self, amount: Option<i64>) -> Result<i64, LedgerError> {
        match amount {
            None => Ok(self.record.amount),
            Some(part) if part > 0 && part <= self.record.amount => Ok(part),
            Some(_) => Err(LedgerError::InvalidAmount),
        }
    }

    /// The phase that applied this row's effect (for verification: what it adds to totals).
    fn counted(&self) -> Option<Phase> {
        let amount = self.record.amount;
        match self.record.status {
            TransferStatus::Pending => Some(Phase::Hold { amount }),
            // A posted hold's amount reached the totals through its posting transfer.
            TransferStatus::Posted if self.resolved_at.is_none() => Some(Phase::Post { amount }),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("not enough funds in {account}")]
    InsufficientFunds { account: String },
    #[error("transfer {id} exists with different fields")]
    ExistsWithDifferentFields { id: String },
    #[error("no pending transfer {id}")]
    PendingNotFound { id: String },
    #[error("pending transfer {id} was already posted, voided or expired")]
    PendingAlreadyResolved { id: String },
    #[error("the amount must be more than zero and at most 10^15 (and a post at most the amount held)")]
    InvalidAmount,
    #[error("both accounts must be in the transfer's unit, and each account keeps its unit and kind")]
    UnitMismatch,
    #[error("a transfer needs two different accounts")]
    SameAccount,
    /// A broken expectation inside the ledger (a bug, not bad input).
    #[error("ledger error: {0}")]
    Internal(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Checks a transfer on its own, before it touches any account.
pub fn validate(t: &Transfer) -> Result<(), LedgerError> {
    if !(1..=crate::money::Money::LIMIT).contains(&t.amount) {
        return Err(LedgerError::InvalidAmount);
    }
    if t.debit.code == t.credit.code {
        return Err(LedgerError::SameAccount);
    }
    if t.debit.unit != t.credit.unit || !t.debit.code.ends_with(&format!(":{}", t.debit.unit)) {
        return Err(LedgerError::UnitMismatch);
    }
    if !t.credit.code.ends_with(&format!(":{}", t.credit.unit)) {
        return Err(LedgerError::UnitMismatch);
    }
    Ok(())
}

/// Something the ledger's stored state gets wrong, naming the account or transfer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Violation {
    pub what: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)
    }
}

fn violation(what: String) -> Violation {
    Violation { what }
}

/// Adds what one transfer row contributes to `sums` (per account code), as [`verify_totals`]
/// expects them.
pub fn add_to_sums(sums: &mut HashMap<String, Totals>, transfer: &StoredTransfer) {
    let Some(phase) = transfer.counted() else { return };
    let r = &transfer.record;
    for (code, change) in [(&r.debit_code, phase.debit()), (&r.credit_code, phase.credit())] {
        let totals = sums.entry(code.clone()).or_default();
        *totals = totals.apply(change).unwrap_or(*totals);
    }
}

/// The ledger-wide invariants over the stored accounts and the sums of their transfers:
/// each account's totals equal its transfers' sums; per unit, debits equal credits (posted
/// and pending); no never-negative account is below zero. (A transfer cannot name a missing
/// account: the schema's foreign keys refuse it.)
pub fn verify_totals(accounts: &[(AccountRef, Totals)], sums: &HashMap<String, Totals>) -> Vec<Violation> {
    let mut found = Vec::new();
    let mut per_unit: BTreeMap<&str, Totals> = BTreeMap::new();
    for (account, stored) in accounts {
        let summed = sums.get(&account.code).copied().unwrap_or_default();
        let columns = [
            ("debits posted", stored.debits_posted, summed.debits_posted),
            ("credits posted", stored.credits_posted, summed.credits_posted),
            ("debits pending", stored.debits_pending, summed.debits_pending),
            ("credits pending", stored.credits_pending, summed.credits_pending),
        ];
        for (name, stored, summed) in columns {
            if stored != summed {
                found.push(violation(format!(
                    "account {}: stored {name} {stored} but its transfers sum to {summed}",
                    account.code
                )));
            }
        }
        if !stored.allowed_for(account.kind) {
            found.push(violation(format!(
                "account {} ({}) below zero: debits posted {} + pending {} exceed credits posted {}",
                account.code,
                account.kind.as_str(),
                stored.debits_posted,
                stored.debits_pending,
                stored.credits_posted
            )));
        }
        let unit = per_unit.entry(&account.unit).or_default();
        *unit = Totals {
            debits_posted: unit.debits_posted.saturating_add(stored.debits_posted),
            credits_posted: unit.credits_posted.saturating_add(stored.credits_posted),
            debits_pending: unit.debits_pending.saturating_add(stored.debits_pending),
            credits_pending: unit.credits_pending.saturating_add(stored.credits_pending),
        };
    }
    for (unit, totals) in per_unit {
        if totals.debits_posted != totals.credits_posted {
            found.push(violation(format!(
                "{unit}: debits posted {} ≠ credits posted {}",
                totals.debits_posted, totals.credits_posted
            )));
        }
        if totals.debits_pending != totals.credits_pending {
            found.push(violation(format!(
                "{unit}: debits pending {} ≠ credits pending {}",
                totals.debits_pending, totals.credits_pending
            )));
        }
    }
    found
}

/// Per unit: the sum of posted balances (zero when the books balance), and the pending
/// debits and credits (equal when they balance).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct UnitTotals {
    pub unit: String,
    pub posted: i64,
    pub pending_debits: i64,
    pub pending_credits: i64,
    /// `posted` is zero and pending debits equal pending credits.
    pub balanced: bool,
}

pub fn totals_per_unit(balances: &[(AccountRef, Balance)]) -> Vec<UnitTotals> {
    let mut per_unit: BTreeMap<&str, UnitTotals> = BTreeMap::new();
    for (account, balance) in balances {
        let unit = per_unit
            .entry(&account.unit)
            .or_insert_with(|| UnitTotals { unit: account.unit.clone(), ..UnitTotals::default() });
        unit.posted = unit.posted.saturating_add(balance.posted);
        unit.pending_debits = unit.pending_debits.saturating_add(balance.pending_debits);
        unit.pending_credits = unit.pending_credits.saturating_add(balance.pending_credits);
    }
    per_unit
        .into_values()
        .map(|u| UnitTotals { balanced: u.posted == 0 && u.pending_debits == u.pending_credits, ..u })
        .collect()
}

/// A ledger in memory, applying the same rules as the stored one.
#[derive(Clone, Debug, Default)]
pub struct Book {
    accounts: BTreeMap<String, (AccountRef, Totals)>,
    transfers: BTreeMap<String, StoredTransfer>,
}

impl Book {
    pub fn transfer(&mut self, t: &Transfer, now: Timestamp) -> Result<TransferOutcome, LedgerError> {
        validate(t)?;
        if let Some(existing) = self.transfers.get(&t.id) {
            return if existing.same_as(t) {
                Ok(TransferOutcome::AlreadyExists)
            } else {
                Err(LedgerError::ExistsWithDifferentFields { id: t.id.clone() })
            };
        }
        for account in [&t.debit, &t.credit] {
            if self.accounts.get(&account.code).is_some_and(|(stored, _)| stored != account) {
                return Err(LedgerError::UnitMismatch);
            }
        }
        let phase = match t.pending_timeout {
            Some(_) => Phase::Hold { amount: t.amount },
            None => Phase::Post { amount: t.amount },
        };
        self.apply(&t.debit, &t.credit, phase)?;
        self.transfers.insert(t.id.clone(), StoredTransfer::of(t, now));
        Ok(TransferOutcome::Created)
    }

    pub fn post_pending(
        &mut self,
        id: &str,
        pending_id: &str,
        amount: Option<i64>,
        now: Timestamp,
    ) -> Result<TransferOutcome, LedgerError> {
        self.resolve(id, pending_id, TransferStatus::Posted, amount, now)
    }

    pub fn void_pending(
        &mut self,
        id: &str,
        pending_id: &str,
        now: Timestamp,
    ) -> Result<TransferOutcome, LedgerError> {
        self.resolve(id, pending_id, TransferStatus::Voided, None, now)
    }

    /// Voids the holds past their timeout; returns how many.
    pub fn expire(&mut self, now: Timestamp) -> usize {
        let due: Vec<String> = self
            .transfers
            .values()
            .filter(|t| {
                t.record.status == TransferStatus::Pending && t.timeout_at.is_some_and(|at| at <= now)
            })
            .map(|t| t.record.id.clone())
            .collect();
        for id in &due {
            let hold = self.transfers[id].clone();
            let (debit, credit) = self.accounts_of(&hold);
            self.apply(&debit, &credit, Phase::Release { held: hold.record.amount })
                .expect("releasing a hold only lowers pending totals");
            let stored = self.transfers.get_mut(id).expect("a due hold");
            stored.record.status = TransferStatus::Expired;
            stored.resolved_at = Some(now);
        }
        due.len()
    }

    pub fn balance(&self, code: &str) -> Balance {
        self.accounts.get(code).map(|(_, totals)| totals.balance()).unwrap_or_default()
    }

    pub fn verify(&self) -> Vec<Violation> {
        let accounts: Vec<(AccountRef, Totals)> = self.accounts.values().cloned().collect();
        let mut sums = HashMap::new();
        for transfer in self.transfers.values() {
            add_to_sums(&mut sums, transfer);
        }
        verify_totals(&accounts, &sums)
    }

    fn resolve(
        &mut self,
        id: &str,
        pending_id: &str,
        status: TransferStatus,
        amount: Option<i64>,
        now: Timestamp,
    ) -> Result<TransferOutcome, LedgerError> {
        let hold = self
            .transfers
            .get(pending_id)
            .cloned()
            .ok_or_else(|| LedgerError::PendingNotFound { id: pending_id.to_owned() })?;
        let moved = hold.posting_amount(amount)?;
        if let Some(existing) = self.transfers.get(id) {
            return if existing.same_resolution(pending_id, status, moved) {
                Ok(TransferOutcome::AlreadyExists)
            } else {
                Err(LedgerError::ExistsWithDifferentFields { id: id.to_owned() })
            };
        }
        hold.resolvable(now)?;
        let held = hold.record.amount;
        let phase = match status {
            TransferStatus::Posted => Phase::PostHeld { held, amount: moved },
            _ => Phase::Release { held },
        };
        let (debit, credit) = self.accounts_of(&hold);
        self.apply(&debit, &credit, phase)?;
        let resolution = hold.resolution(id, status, moved, now);
        let stored = self.transfers.get_mut(pending_id).expect("the hold");
        stored.record.status = status;
        stored.resolved_at = Some(now);
        self.transfers.insert(id.to_owned(), resolution);
        Ok(TransferOutcome::Created)
    }

    fn accounts_of(&self, transfer: &StoredTransfer) -> (AccountRef, AccountRef) {
        let account = |code: &String| self.accounts[code].0.clone();
        (account(&transfer.record.debit_code), account(&transfer.record.credit_code))
    }

    /// Applies `phase` to both accounts or to neither.
    fn apply(&mut self, debit: &AccountRef, credit: &AccountRef, phase: Phase) -> Result<(), LedgerError> {
        let mut after = Vec::with_capacity(2);
        for (account, change) in [(debit, phase.debit()), (credit, phase.credit())] {
            let before = self.accounts.get(&account.code).map(|(_, t)| *t).unwrap_or_default();
            let totals = before.apply(change).ok_or(LedgerError::InvalidAmount)?;
            if !totals.allowed_for(account.kind) {
                return Err(LedgerError::InsufficientFunds { account: account.code.clone() });
            }
            after.push((account.clone(), totals));
        }
        for (account, totals) in after {
            self.accounts.insert(account.code.clone(), (account, totals));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn user(n: u8) -> UserId {
        format!("usr_0192f5a3c1e27d3a9b4c5d6e7f8091{n:02x}").parse().unwrap()
    }

    fn transfer(id: &str, debit: &AccountRef, credit: &AccountRef, amount: i64) -> Transfer {
        Transfer {
            id: id.to_owned(),
            debit: debit.clone(),
            credit: credit.clone(),
            amount,
            kind: "test",
            reference: None,
            pending_timeout: None,
            actor: None,
        }
    }

    #[test]
    fn account_codes_name_the_owner_and_end_with_the_unit() {
        let wallet = AccountRef::wallet(user(1), Currency::IDR);
        assert_eq!(wallet.code, format!("wallet:{}:IDR", user(1)));
        assert_eq!(AccountRef::points(user(1)).code, format!("points:{}:PTS", user(1)));
        assert_eq!(AccountRef::gateway_clearing("sandbox", Currency::IDR).code, "clearing:sandbox:IDR");
        assert_eq!(AccountRef::points_issued().unit, "PTS");
        assert!(AccountKind::UserWallet.never_negative());
        assert!(!AccountKind::Revenue.never_negative());
        for kind in AccountKind::ALL {
            assert_eq!(AccountKind::parse(kind.as_str()), Some(kind));
        }
    }

    #[test]
    fn bad_transfers_are_refused_and_change_nothing() {
        let mut book = Book::default();
        let now = Timestamp::from_millis(0);
        let wallet = AccountRef::wallet(user(1), Currency::IDR);
        let revenue = AccountRef::revenue(Currency::IDR);
        let points = AccountRef::points(user(1));
        let cases = [
            (transfer("a", &revenue, &wallet, 0), "zero"),
            (transfer("b", &wallet, &wallet, 5), "same account"),
            (transfer("c", &points, &wallet, 5), "units differ"),
            (transfer("d", &wallet, &revenue, 5), "empty wallet"),
        ];
        for (t, why) in cases {
            assert!(book.transfer(&t, now).is_err(), "{why}");
        }
        assert_eq!(book.balance(&wallet.code), Balance::default());
        assert!(book.verify().is_empty());
    }

    #[test]
    fn a_hold_posted_in_part_releases_the_rest() {
        let mut book = Book::default();
        let now = Timestamp::from_millis(0);
        let wallet = AccountRef::wallet(user(1), Currency::IDR);
        let clearing = AccountRef::gateway_clearing("sandbox", Currency::IDR);
        let revenue = AccountRef::revenue(Currency::IDR);
        book.transfer(&transfer("deposit", &clearing, &wallet, 1000), now).unwrap();
        let hold = Transfer {
            pending_timeout: Some(Duration::from_secs(60)),
            ..transfer("hold", &wallet, &revenue, 700)
        };
        book.transfer(&hold, now).unwrap();
        assert_eq!(
            book.balance(&wallet.code),
            Balance { posted: 1000, pending_debits: 700, pending_credits: 0, available: 300 }
        );
        assert!(matches!(book.post_pending("post", "hold", Some(800), now), Err(LedgerError::InvalidAmount)));
        assert_eq!(book.post_pending("post", "hold", Some(400), now).unwrap(), TransferOutcome::Created);
        assert_eq!(
            book.post_pending("post", "hold", Some(400), now).unwrap(),
            TransferOutcome::AlreadyExists
        );
        assert!(matches!(
            book.void_pending("void", "hold", now),
            Err(LedgerError::PendingAlreadyResolved { .. })
        ));
        assert_eq!(
            book.balance(&wallet.code),
            Balance { posted: 600, pending_debits: 0, pending_credits: 0, available: 600 }
        );
        assert_eq!(book.balance(&revenue.code).posted, 400);
        assert!(book.verify().is_empty());
    }

    #[test]
    fn verify_names_an_account_whose_totals_differ_from_its_transfers() {
        let wallet = AccountRef::wallet(user(1), Currency::IDR);
        let accounts = vec![(wallet.clone(), Totals { credits_posted: 500, ..Totals::default() })];
        let sums =
            HashMap::from([(wallet.code.clone(), Totals { credits_posted: 400, ..Totals::default() })]);
        let found = verify_totals(&accounts, &sums);
        assert!(found.iter().any(|v| v.what
            == format!("account {}: stored credits posted 500 but its transfers sum to 400", wallet.code)));
        assert!(found.iter().any(|v| v.what == "IDR: debits posted 0 ≠ credits posted 500"));
    }

    /// The reference model: per account only the posted balance and the two pending sums,
    /// and per transfer id what it was, with none of the Book's machinery.
    #[derive(Default)]
    struct Model {
        posted: HashMap<String, i64>,
        pending_debits: HashMap<String, i64>,
        pending_credits: HashMap<String, i64>,
        holds: HashMap<String, (String, String, i64, i64, bool)>,
    }

    impl Model {
        fn available(&self, code: &str) -> i64 {
            self.posted.get(code).copied().unwrap_or(0) - self.pending_debits.get(code).copied().unwrap_or(0)
        }

        fn balance(&self, code: &str) -> Balance {
            let posted = self.posted.get(code).copied().unwrap_or(0);
            let pending_debits = self.pending_debits.get(code).copied().unwrap_or(0);
            Balance {
                posted,
                pending_debits,
                pending_credits: self.pending_credits.get(code).copied().unwrap_or(0),
                available: posted - pending_debits,
            }
        }

        fn add(map: &mut HashMap<String, i64>, code: &str, amount: i64) {
            *map.entry(code.to_owned()).or_default() += amount;
        }
    }

    #[derive(Clone, Debug)]
    enum Step {
        Deposit { user: u8, amount: i64 },
        Spend { user: u8, amount: i64 },
        Refund { user: u8, amount: i64 },
        Hold { user: u8, amount: i64, timeout_secs: u64 },
        Post { hold: usize, part: Option<i64> },
        Void { hold: usize },
        Wait { secs: u64 },
        Retry { of: usize },
        RetryChanged { of: usize, amount: i64 },
        EarnPoints { user: u8, amount: i64 },
        RedeemPoints { user: u8, amount: i64 },
    }

    fn step() -> impl Strategy<Value = Step> {
        let user = 0u8..3;
        let amount = 1i64..500;
        prop_oneof![
            (user.clone(), amount.clone()).prop_map(|(user, amount)| Step::Deposit { user, amount }),
            (user.clone(), amount.clone()).prop_map(|(user, amount)| Step::Spend { user, amount }),
            (user.clone(), amount.clone()).prop_map(|(user, amount)| Step::Refund { user, amount }),
            (user.clone(), amount.clone(), 1u64..30).prop_map(|(user, amount, timeout_secs)| Step::Hold {
                user,
                amount,
                timeout_secs
            }),
            (0usize..40, proptest::option::of(1i64..600)).prop_map(|(hold, part)| Step::Post { hold, part }),
            (0usize..40).prop_map(|hold| Step::Void { hold }),
            (1u64..20).prop_map(|secs| Step::Wait { secs }),
            (0usize..60).prop_map(|of| Step::Retry { of }),
            (0usize..60, amount.clone()).prop_map(|(of, amount)| Step::RetryChanged { of, amount }),
            (user.clone(), amount.clone()).prop_map(|(user, amount)| Step::EarnPoints { user, amount }),
            (user, amount).prop_map(|(user, amount)| Step::RedeemPoints { user, amount }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn the_book_keeps_every_invariant_and_agrees_with_the_model(steps in proptest::collection::vec(step(), 1..80)) {
            run(steps)?;
        }
    }

    /// Applies `steps` to a Book and to the model, checking the invariants after each.
    fn run(steps: Vec<Step>) -> Result<(), TestCaseError> {
        let mut book = Book::default();
        let mut model = Model::default();
        let mut now = Timestamp::from_millis(1_000);
        let mut made: Vec<Transfer> = Vec::new();
        let mut hold_ids: Vec<String> = Vec::new();
        let clearing = AccountRef::gateway_clearing("sandbox", Currency::IDR);
        let revenue = AccountRef::revenue(Currency::IDR);
        let users: Vec<UserId> = (0..3).map(user).collect();
        let mut codes: Vec<String> = vec![
            clearing.code.clone(),
            revenue.code.clone(),
            AccountRef::points_issued().code,
            AccountRef::points_redeemed().code,
        ];
        for u in &users {
            codes.push(AccountRef::wallet(*u, Currency::IDR).code);
            codes.push(AccountRef::points(*u).code);
        }

        for (n, step) in steps.into_iter().enumerate() {
            let id = format!("t{n}");
            let single =
                |debit: AccountRef, credit: AccountRef, amount: i64| transfer(&id, &debit, &credit, amount);
            let new = match step {
                Step::Deposit { user, amount } => Some(single(
                    clearing.clone(),
                    AccountRef::wallet(users[user as usize], Currency::IDR),
                    amount,
                )),
                Step::Spend { user, amount } => Some(single(
                    AccountRef::wallet(users[user as usize], Currency::IDR),
                    revenue.clone(),
                    amount,
                )),
                Step::Refund { user, amount } => Some(single(
                    revenue.clone(),
                    AccountRef::wallet(users[user as usize], Currency::IDR),
                    amount,
                )),
                Step::Hold { user, amount, timeout_secs } => Some(Transfer {
                    pending_timeout: Some(Duration::from_secs(timeout_secs)),
                    ..single(AccountRef::wallet(users[user as usize], Currency::IDR), revenue.clone(), amount)
                }),
                Step::EarnPoints { user, amount } => Some(single(
                    AccountRef::points_issued(),
                    AccountRef::points(users[user as usize]),
                    amount,
                )),
                Step::RedeemPoints { user, amount } => Some(single(
                    AccountRef::points(users[user as usize]),
                    AccountRef::points_redeemed(),
                    amount,
                )),
                Step::Retry { of } if !made.is_empty() => {
                    let earlier = made[of % made.len()].clone();
                    let balances: Vec<Balance> = codes.iter().map(|c| book.balance(c)).collect();
                    prop_assert_eq!(book.transfer(&earlier, now).unwrap(), TransferOutcome::AlreadyExists);
                    let after: Vec<Balance> = codes.iter().map(|c| book.balance(c)).collect();
                    prop_assert_eq!(balances, after, "a retry changes nothing");
                    None
                }
                Step::RetryChanged { of, amount } if !made.is_empty() => {
                    let earlier = &made[of % made.len()];
                    let changed = Transfer { amount: earlier.amount + amount, ..earlier.clone() };
                    let refused = matches!(
                        book.transfer(&changed, now),
                        Err(LedgerError::ExistsWithDifferentFields { .. })
                    );
                    prop_assert!(refused);
                    None
                }
                Step::Post { hold, part } if !hold_ids.is_empty() => {
                    let pending = hold_ids[hold % hold_ids.len()].clone();
                    let (debit, credit, held, timeout_at, open) = model.holds[&pending].clone();
                    let result = book.post_pending(&id, &pending, part, now);
                    if open && now.millis() < timeout_at && part.is_none_or(|p| p <= held) {
                        prop_assert_eq!(result.unwrap(), TransferOutcome::Created);
                        let moved = part.unwrap_or(held);
                        Model::add(&mut model.pending_debits, &debit, -held);
                        Model::add(&mut model.pending_credits, &credit, -held);
                        Model::add(&mut model.posted, &debit, -moved);
                        Model::add(&mut model.posted, &credit, moved);
                        model.holds.get_mut(&pending).unwrap().4 = false;
                    } else {
                        prop_assert!(result.is_err());
                    }
                    None
                }
                Step::Void { hold } if !hold_ids.is_empty() => {
                    let pending = hold_ids[hold % hold_ids.len()].clone();
                    let (debit, credit, held, timeout_at, open) = model.holds[&pending].clone();
                    let result = book.void_pending(&id, &pending, now);
                    if open && now.millis() < timeout_at {
                        prop_assert_eq!(result.unwrap(), TransferOutcome::Created);
                        Model::add(&mut model.pending_debits, &debit, -held);
                        Model::add(&mut model.pending_credits, &credit, -held);
                        model.holds.get_mut(&pending).unwrap().4 = false;
                    } else {
                        prop_assert!(result.is_err());
                    }
                    None
                }
                Step::Wait { secs } => {
                    now = now.plus(Duration::from_secs(secs));
                    let expired = book.expire(now);
                    let mut due = 0;
                    for (debit, credit, held, timeout_at, open) in model.holds.values_mut() {
                        if *open && *timeout_at <= now.millis() {
                            *open = false;
                            due += 1;
                            *model.pending_debits.get_mut(debit.as_str()).unwrap() -= *held;
                            *model.pending_credits.get_mut(credit.as_str()).unwrap() -= *held;
                        }
                    }
                    prop_assert_eq!(expired, due);
                    None
                }
                _ => None,
            };
            if let Some(t) = new {
                let covered = !t.debit.kind.never_negative() || model.available(&t.debit.code) >= t.amount;
                let result = book.transfer(&t, now);
                if covered {
                    prop_assert_eq!(result.unwrap(), TransferOutcome::Created);
                    if let Some(timeout) = t.pending_timeout {
                        Model::add(&mut model.pending_debits, &t.debit.code, t.amount);
                        Model::add(&mut model.pending_credits, &t.credit.code, t.amount);
                        let timeout_at = now.plus(timeout).millis();
                        model.holds.insert(
                            t.id.clone(),
                            (t.debit.code.clone(), t.credit.code.clone(), t.amount, timeout_at, true),
                        );
                        hold_ids.push(t.id.clone());
                    } else {
                        Model::add(&mut model.posted, &t.debit.code, -t.amount);
                        Model::add(&mut model.posted, &t.credit.code, t.amount);
                    }
                    made.push(t);
                } else {
                    let refused = matches!(result, Err(LedgerError::InsufficientFunds { .. }));
                    prop_assert!(refused, "an uncovered spend is refused");
                }
            }

            let violations = book.verify();
            prop_assert!(violations.is_empty(), "{:?}", violations);
            let mut posted_sum = 0;
            let (mut pending_debits, mut pending_credits) = (0, 0);
            for code in &codes {
                let balance = book.balance(code);
                prop_assert_eq!(balance, model.balance(code), "balance of {}", code);
                if code.starts_with("wallet:") || code.starts_with("points:") {
                    prop_assert!(balance.available >= 0, "{} below zero", code);
                }
                posted_sum += balance.posted;
                pending_debits += balance.pending_debits;
                pending_credits += balance.pending_credits;
            }
            prop_assert_eq!(posted_sum, 0, "debits equal credits");
            prop_assert_eq!(pending_debits, pending_credits, "pending debits equal pending credits");
        }
        Ok(())
    }
}
