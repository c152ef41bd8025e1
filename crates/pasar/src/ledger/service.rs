//! The ledger's use cases. Transfers, posts and voids run inside the caller's transaction, in a
//! savepoint of their own: when one fails, whatever it did is rolled back and the caller's
//! transaction is as it was, so a caller may go on (say, to pay another way) and commit.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Map, Value, json};
use sqlx::Connection as _;

use super::domain::{
    self, AccountRef, Balance, LedgerError, Phase, StatementLine, StoredTransfer, Totals, Transfer,
    TransferOutcome, TransferRecord, TransferStatus, Violation,
};
use super::store;
use crate::db::{self, Connection, Db, Dialect};
use crate::events::{self, NewEvent, SYSTEM};
use crate::time::{Clock, Timestamp};

/// Holds expired per database round: small enough to keep each pass short.
const EXPIRY_BATCH: i64 = 100;

#[derive(Clone)]
pub struct Ledger {
    db: Db,
    clock: Clock,
}

/// One account's side of a transfer, for the audit: the account, its totals before and after.
struct Moved {
    account: AccountRef,
    before: Totals,
    after: Totals,
}

impl Ledger {
    pub fn new(db: Db, clock: Clock) -> Self {
        Self { db, clock }
    }

    /// Posts (or, with `pending_timeout`, holds) a transfer inside the caller's transaction.
    /// Accounts are opened on first use.
    pub async fn transfer(
        &self,
        conn: &mut Connection,
        t: &Transfer,
    ) -> Result<TransferOutcome, LedgerError> {
        domain::validate(t)?;
        let now = self.clock.now();
        let mut savepoint = conn.begin().await?;
        let result = self.create(&mut savepoint, t, now).await;
        match settle(savepoint, result).await {
            // Another transaction committed the same id between our check and our insert.
            Err(LedgerError::Database(err)) if db::is_unique_violation(&err) => {
                match store::transfer(&mut *conn, &t.id).await? {
                    Some(existing) if existing.same_as(t) => Ok(TransferOutcome::AlreadyExists),
                    _ => Err(LedgerError::ExistsWithDifferentFields { id: t.id.clone() }),
                }
            }
            other => other,
        }
    }

    /// [`Ledger::transfer`] for many posted transfers at once (a batch of checkouts): the
    /// accounts are opened, locked and read in one go, the transfers applied in memory in the
    /// order given under the same rules (one refused for funds leaves the others as they
    /// are), and the rows written with one statement per table. A transfer whose id exists
    /// gets the answer `transfer` would give. Holds go through `transfer`.
    pub async fn transfer_many(
        &self,
        conn: &mut Connection,
        transfers: &[Transfer],
    ) -> Result<Vec<Result<TransferOutcome, LedgerError>>, LedgerError> {
        if transfers.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.clock.now();
        let ids: Vec<&str> = transfers.iter().map(|t| t.id.as_str()).collect();
        let mut known: HashMap<String, StoredTransfer> =
            store::transfers(&mut *conn, &ids).await?.into_iter().map(|t| (t.record.id.clone(), t)).collect();
        let mut accounts: Vec<&AccountRef> = transfers.iter().flat_map(|t| [&t.debit, &t.credit]).collect();
        accounts.sort_by(|a, b| a.code.cmp(&b.code));
        accounts.dedup_by(|a, b| a.code == b.code);
        store::open_accounts(&mut *conn, &accounts, now).await?;
        let codes: Vec<&str> = accounts.iter().map(|a| a.code.as_str()).collect();
        let mut book: HashMap<String, (AccountRef, Totals)> =
            store::lock_accounts(&mut *conn, self.db.dialect(), &codes)
                .await?
                .into_iter()
                .map(|(account, totals)| (account.code.clone(), (account, totals)))
                .collect();
        let mut changed: Vec<String> = Vec::new();
        let mut written = Vec::new();
        let mut posted = Vec::new();
        let mut outcomes = Vec::with_capacity(transfers.len());
        for t in transfers {
            let outcome = match known.get(&t.id) {
                Some(existing) if existing.same_as(t) => Ok(TransferOutcome::AlreadyExists),
                Some(_) => Err(LedgerError::ExistsWithDifferentFields { id: t.id.clone() }),
                None => domain::validate(t)
                    .and_then(|()| {
                        if t.pending_timeout.is_some() {
                            return Err(LedgerError::Internal("holds are not batched".into()));
                        }
                        post_in_memory(&mut book, t)
                    })
                    .map(|moved| {
                        let stored = StoredTransfer::of(t, now);
                        for m in &moved {
                            changed.push(m.account.code.clone());
                        }
                        let actor = t.actor.clone().unwrap_or_else(|| SYSTEM.to_owned());
                        posted.push(transfer_event("ledger.transfer_posted", &stored.record, &moved, actor));
                        known.insert(t.id.clone(), stored.clone());
                        written.push(stored);
                        TransferOutcome::Created
                    }),
            };
            outcomes.push(outcome);
        }
        changed.sort();
        changed.dedup();
        let totals: Vec<(&str, Totals)> = changed.iter().map(|code| (code.as_str(), book[code].1)).collect();
        store::insert_transfers(&mut *conn, &written).await?;
        if store::set_totals(&mut *conn, &totals, now).await? != totals.len() as u64 {
            return Err(LedgerError::Internal("an account of a locked batch went missing".into()));
        }
        events::record_many(&mut *conn, now, posted).await?;
        Ok(outcomes)
    }

    /// Posts a pending transfer: all of it, or `amount` (at most what is held; the rest is
    /// released). `id` is the posting transfer's own id, so a retry is a no-op.
    pub async fn post_pending(
        &self,
        conn: &mut Connection,
        id: &str,
        pending_id: &str,
        amount: Option<i64>,
    ) -> Result<TransferOutcome, LedgerError> {
        self.resolve(conn, id, pending_id, TransferStatus::Posted, amount).await
    }

    /// Voids a pending transfer: what it held is released. `id` is the voiding transfer's id.
    pub async fn void_pending(
        &self,
        conn: &mut Connection,
        id: &str,
        pending_id: &str,
    ) -> Result<TransferOutcome, LedgerError> {
        self.resolve(conn, id, pending_id, TransferStatus::Voided, None).await
    }

    /// The account's balance; zeros for an account never used.
    pub async fn balance(&self, account: &AccountRef) -> Result<Balance, LedgerError> {
        let stored = store::account(self.db.reader(), &account.code).await?;
        Ok(stored.map(|(_, totals)| totals.balance()).unwrap_or_default())
    }

    /// The account's balance as the caller's transaction sees it.
    pub async fn balance_in(
        &self,
        conn: &mut Connection,
        account: &AccountRef,
    ) -> Result<Balance, LedgerError> {
        let stored = store::account(&mut *conn, &account.code).await?;
        Ok(stored.map(|(_, totals)| totals.balance()).unwrap_or_default())
    }

    /// Transfers touching the account, newest first, after the transfer `before` (the cursor);
    /// and whether more follow.
    pub async fn history(
        &self,
        account: &AccountRef,
        before: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<TransferRecord>, bool), LedgerError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX - 1);
        let rows = store::history(self.db.reader(), &account.code, before, limit).await?;
        let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > limit;
        let page = rows.into_iter().take(usize::try_from(limit).unwrap_or(usize::MAX)).map(|t| t.record);
        Ok((page.collect(), more))
    }

    /// An account's statement, newest first: one line per transfer a person would name (a hold
    /// and its posting or voiding are one line, in the state it ended in, with the amount that
    /// moved). Answers the lines and whether more follow.
    pub async fn statement(
        &self,
        account: &AccountRef,
        before: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<StatementLine>, bool), LedgerError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX - 1);
        let rows = store::statement(self.db.reader(), &account.code, before, limit).await?;
        let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > limit;
        let lines = rows
            .into_iter()
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .map(|(record, posted)| {
                let incoming = record.credit_code == account.code;
                let moved = posted.unwrap_or(record.amount);
                StatementLine { signed_amount: if incoming { moved } else { -moved }, record }
            })
            .collect();
        Ok((lines, more))
    }

    /// Voids the pending transfers past their timeout, each in its own transaction; returns
    /// how many.
    pub async fn expire_pending(&self) -> Result<usize, LedgerError> {
        let now = self.clock.now();
        let mut expired = 0;
        loop {
            let due = store::due_holds(self.db.reader(), now, EXPIRY_BATCH).await?;
            for id in &due {
                let mut tx = self.db.begin().await?;
                if self.expire(&mut tx, id, now).await? {
                    tx.commit().await?;
                    expired += 1;
                }
            }
            if i64::try_from(due.len()).unwrap_or(i64::MAX) < EXPIRY_BATCH {
                return Ok(expired);
            }
        }
    }

    /// Every account's balances, by code.
    pub async fn balances(&self) -> Result<Vec<(AccountRef, Balance)>, LedgerError> {
        let accounts = store::accounts(self.db.reader()).await?;
        Ok(accounts.into_iter().map(|(account, totals)| (account, totals.balance())).collect())
    }

    /// How many accounts and transfers the ledger holds.
    pub async fn counts(&self) -> Result<(i64, i64), LedgerError> {
        let mut conn = self.db.reader().acquire().await?;
        Ok(store::counts(&mut conn).await?)
    }

    /// Checks every invariant from the stored rows, in one snapshot, and names what is off
    /// (empty: all good).
    pub async fn verify(&self) -> Result<Vec<Violation>, LedgerError> {
        // One snapshot, so transfers committing meanwhile cannot look like a mismatch.
        let mut tx = match self.db.dialect() {
            Dialect::Postgres => {
                self.db.reader().begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?
            }
            Dialect::Sqlite => self.db.reader().begin().await?,
        };
        let accounts = store::accounts(&mut *tx).await?;
        let sums = store::transfer_sums(&mut tx).await?;
        let mut found = domain::verify_totals(&accounts, &sums);
        found
            .extend(store::inconsistent_transfers(&mut tx).await?.into_iter().map(|what| Violation { what }));
        tx.rollback().await?;
        Ok(found)
    }

    async fn create(
        &self,
        conn: &mut Connection,
        t: &Transfer,
        now: Timestamp,
    ) -> Result<TransferOutcome, LedgerError> {
        if let Some(existing) = store::transfer(&mut *conn, &t.id).await? {
            return if existing.same_as(t) {
                Ok(TransferOutcome::AlreadyExists)
            } else {
                Err(LedgerError::ExistsWithDifferentFields { id: t.id.clone() })
            };
        }
        let mut accounts = [&t.debit, &t.credit];
        accounts.sort_by(|a, b| a.code.cmp(&b.code));
        for account in accounts {
            store::open_account(&mut *conn, account, now).await?;
        }
        let stored = StoredTransfer::of(t, now);
        store::insert_transfer(&mut *conn, &stored).await?;
        let phase = match t.pending_timeout {
            Some(_) => Phase::Hold { amount: t.amount },
            None => Phase::Post { amount: t.amount },
        };
        let moved = move_money(conn, &t.debit.code, &t.credit.code, phase, now).await?;
        if moved.iter().any(|m| m.account != t.debit && m.account != t.credit) {
            return Err(LedgerError::UnitMismatch);
        }
        let event_type = match phase {
            Phase::Hold { .. } => "ledger.transfer_pending",
            _ => "ledger.transfer_posted",
        };
        let actor = t.actor.clone().unwrap_or_else(|| SYSTEM.to_owned());
        record(conn, now, event_type, &stored.record, &moved, actor).await?;
        Ok(TransferOutcome::Created)
    }

    async fn resolve(
        &self,
        conn: &mut Connection,
        id: &str,
        pending_id: &str,
        status: TransferStatus,
        amount: Option<i64>,
    ) -> Result<TransferOutcome, LedgerError> {
        let now = self.clock.now();
        let mut savepoint = conn.begin().await?;
        let result = resolve_hold(&mut savepoint, id, pending_id, status, amount, now).await;
        match settle(savepoint, result).await {
            // Another transaction resolved the hold (or took the id) first.
            Err(LedgerError::Database(err)) if db::is_unique_violation(&err) => {
                let hold = find_hold(conn, pending_id).await?;
                match retried(conn, id, &hold, status, amount).await? {
                    Some(outcome) => Ok(outcome),
                    None => Err(LedgerError::PendingAlreadyResolved { id: pending_id.to_owned() }),
                }
            }
            other => other,
        }
    }

    /// Expires one hold; false when it was no longer pending.
    async fn expire(&self, conn: &mut Connection, id: &str, now: Timestamp) -> Result<bool, LedgerError> {
        let Some(mut hold) = store::transfer(&mut *conn, id).await? else { return Ok(false) };
        if !store::resolve_hold(&mut *conn, id, TransferStatus::Expired, now).await? {
            return Ok(false);
        }
        let phase = Phase::Release { held: hold.record.amount };
        let moved = move_money(conn, &hold.record.debit_code, &hold.record.credit_code, phase, now).await?;
        hold.record.status = TransferStatus::Expired;
        record(conn, now, "ledger.transfer_voided", &hold.record, &moved, SYSTEM.to_owned()).await?;
        Ok(true)
    }
}

/// Commits the savepoint when `result` is a success, rolls it back otherwise.
async fn settle<T>(
    savepoint: sqlx::Transaction<'_, sqlx::Any>,
    result: Result<T, LedgerError>,
) -> Result<T, LedgerError> {
    match result {
        Ok(value) => {
            savepoint.commit().await?;
            Ok(value)
        }
        Err(err) => {
            savepoint.rollback().await?;
            Err(err)
        }
    }
}

async fn find_hold(conn: &mut Connection, pending_id: &str) -> Result<StoredTransfer, LedgerError> {
    store::transfer(&mut *conn, pending_id)
        .await?
        .ok_or_else(|| LedgerError::PendingNotFound { id: pending_id.to_owned() })
}

/// When `id` already exists: whether it is this very resolution (a retry: no-op) or another
/// transfer (an error). None when `id` is unused.
async fn retried(
    conn: &mut Connection,
    id: &str,
    hold: &StoredTransfer,
    status: TransferStatus,
    amount: Option<i64>,
) -> Result<Option<TransferOutcome>, LedgerError> {
    let moved = hold.posting_amount(amount)?;
    match store::transfer(&mut *conn, id).await? {
        None => Ok(None),
        Some(existing) if existing.same_resolution(&hold.record.id, status, moved) => {
            Ok(Some(TransferOutcome::AlreadyExists))
        }
        Some(_) => Err(LedgerError::ExistsWithDifferentFields { id: id.to_owned() }),
    }
}

async fn resolve_hold(
    conn: &mut Connection,
    id: &str,
    pending_id: &str,
    status: TransferStatus,
    amount: Option<i64>,
    now: Timestamp,
) -> Result<TransferOutcome, LedgerError> {
    let hold = find_hold(conn, pending_id).await?;
    if let Some(outcome) = retried(conn, id, &hold, status, amount).await? {
        return Ok(outcome);
    }
    hold.resolvable(now)?;
    let moved_amount = hold.posting_amount(amount)?;
    if !store::resolve_hold(&mut *conn, pending_id, status, now).await? {
        return Err(LedgerError::PendingAlreadyResolved { id: pending_id.to_owned() });
    }
    let resolution = hold.resolution(id, status, moved_amount, now);
    store::insert_transfer(&mut *conn, &resolution).await?;
    let held = hold.record.amount;
    let (phase, event_type) = match status {
        TransferStatus::Posted => (Phase::PostHeld { held, amount: moved_amount }, "ledger.transfer_posted"),
        _ => (Phase::Release { held }, "ledger.transfer_voided"),
    };
    let moved = move_money(conn, &hold.record.debit_code, &hold.record.credit_code, phase, now).await?;
    record(conn, now, event_type, &resolution.record, &moved, SYSTEM.to_owned()).await?;
    Ok(TransferOutcome::Created)
}

/// Applies `phase` to both accounts, in code order so that concurrent transfers lock rows in
/// the same order and cannot deadlock. Each change is one guarded UPDATE; a refused guard is
/// InsufficientFunds on that account.
async fn move_money(
    conn: &mut Connection,
    debit: &str,
    credit: &str,
    phase: Phase,
    now: Timestamp,
) -> Result<Vec<Moved>, LedgerError> {
    let mut sides = [(debit, phase.debit()), (credit, phase.credit())];
    sides.sort_by(|a, b| a.0.cmp(b.0));
    let mut moved = Vec::with_capacity(2);
    for (code, change) in sides {
        let (account, after) = store::change_totals(&mut *conn, code, change, now)
            .await?
            .ok_or_else(|| LedgerError::InsufficientFunds { account: code.to_owned() })?;
        moved.push(Moved { account, before: after.undo(change), after });
    }
    Ok(moved)
}

/// Writes the transfer's event with both accounts' balances before and after, which the
/// audit store records as the entry's before and after.
async fn record(
    conn: &mut Connection,
    now: Timestamp,
    event_type: &'static str,
    transfer: &TransferRecord,
    moved: &[Moved],
    actor: String,
) -> Result<(), LedgerError> {
    events::record(conn, now, transfer_event(event_type, transfer, moved, actor)).await?;
    Ok(())
}

fn transfer_event(
    event_type: &'static str,
    transfer: &TransferRecord,
    moved: &[Moved],
    actor: String,
) -> NewEvent<Value> {
    let balances = |of: fn(&Moved) -> Totals| -> Value {
        let map: Map<String, Value> =
            moved.iter().map(|m| (m.account.code.clone(), json!(of(m).balance()))).collect();
        Value::Object(map)
    };
    NewEvent {
        event_type,
        version: 1,
        subject_id: transfer.id.clone(),
        actor,
        payload: json!({
            "transfer": transfer,
            "before": balances(|m| m.before),
            "after": balances(|m| m.after),
        }),
    }
}

/// Posts `t` on the in-memory `book` of locked accounts under the same rules as
/// `move_money`: both sides or neither, never-negative kinds kept at or above zero.
fn post_in_memory(
    book: &mut HashMap<String, (AccountRef, Totals)>,
    t: &Transfer,
) -> Result<Vec<Moved>, LedgerError> {
    let phase = Phase::Post { amount: t.amount };
    let mut sides = [(&t.debit, phase.debit()), (&t.credit, phase.credit())];
    sides.sort_by(|a, b| a.0.code.cmp(&b.0.code));
    let mut moved = Vec::with_capacity(2);
    for (wanted, change) in sides {
        let (account, before) = book
            .get(&wanted.code)
            .cloned()
            .ok_or_else(|| LedgerError::Internal(format!("account {} was not opened", wanted.code)))?;
        if &account != wanted {
            return Err(LedgerError::UnitMismatch);
        }
        let after = before
            .apply(change)
            .filter(|after| after.allowed_for(account.kind))
            .ok_or_else(|| LedgerError::InsufficientFunds { account: account.code.clone() })?;
        moved.push(Moved { account, before, after });
    }
    for m in &moved {
        if let Some(entry) = book.get_mut(&m.account.code) {
            entry.1 = m.after;
        }
    }
    Ok(moved)
}

/// Expires due holds every `period` until the task is aborted (at shutdown).
pub async fn expire_every(ledger: Ledger, period: Duration) {
    let mut tick = tokio::time::interval(period);
    loop {
        tick.tick().await;
        match ledger.expire_pending().await {
            Ok(0) => {}
            Ok(expired) => tracing::info!(expired, "ledger holds expired"),
            Err(err) => tracing::warn!(error = %err, "expiring ledger holds failed; will retry"),
        }
    }
}
