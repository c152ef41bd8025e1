//! The ledger's tables. Only this module reads or writes them.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::{Any, Arguments as _, Executor, Row};

use super::domain::{
    AccountKind, AccountRef, Change, StoredTransfer, Totals, TransferRecord, TransferStatus,
};
use crate::db::column::decode_error;
use crate::db::{Connection, Dialect, bulk};
use crate::time::Timestamp;

const ACCOUNT_COLUMNS: &str =
    "code, unit, kind, debits_posted, credits_posted, debits_pending, credits_pending";

fn account_of(row: &AnyRow) -> Result<(AccountRef, Totals), sqlx::Error> {
    let kind: String = row.try_get("kind")?;
    let account = AccountRef {
        code: row.try_get("code")?,
        unit: row.try_get("unit")?,
        kind: AccountKind::parse(&kind).ok_or_else(|| decode_error("kind", &kind))?,
    };
    let totals = Totals {
        debits_posted: row.try_get("debits_posted")?,
        credits_posted: row.try_get("credits_posted")?,
        debits_pending: row.try_get("debits_pending")?,
        credits_pending: row.try_get("credits_pending")?,
    };
    Ok((account, totals))
}

/// Opens the account at zero unless it is open already.
pub async fn open_account<'c>(
    ex: impl Executor<'c, Database = Any>,
    account: &AccountRef,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO ledger_accounts (code, unit, kind, debits_posted, credits_posted, debits_pending,
           credits_pending, created_at, updated_at)
         VALUES ($1, $2, $3, 0, 0, 0, 0, $4, $4) ON CONFLICT (code) DO NOTHING",
    )
    .bind(&account.code)
    .bind(&account.unit)
    .bind(account.kind.as_str())
    .bind(now.millis())
    .execute(ex)
    .await
    .map(|_| ())
}

/// The never-negative guard in SQL, on the stored kind: the kinds of
/// [`AccountKind::never_negative`] may not end with debits (posted and pending) above credits
/// posted.
fn guard() -> String {
    let kinds: Vec<String> = AccountKind::ALL
        .into_iter()
        .filter(|k| k.never_negative())
        .map(|k| format!("'{}'", k.as_str()))
        .collect();
    // Each total stays under a quarter of i64's range, so neither the sums below nor the update
    // can overflow (SQLite would turn the sum into a float, PostgreSQL would fail the statement).
    format!(
        "(kind NOT IN ({kinds}) OR debits_posted + $1 + debits_pending + $3 <= credits_posted + $2)
         AND debits_posted <= {TOTAL_CEILING} - $1 AND credits_posted <= {TOTAL_CEILING} - $2
         AND debits_pending <= {TOTAL_CEILING} - $3 AND credits_pending <= {TOTAL_CEILING} - $4",
        kinds = kinds.join(", ")
    )
}

/// The most any of an account's running totals may reach.
pub const TOTAL_CEILING: i64 = i64::MAX / 4;

/// Applies `change` to the account's totals in one guarded statement; returns the account and
/// its totals after, or None when the guard refused (the account would go below zero).
/// PostgreSQL re-checks the WHERE against the newest row version after waiting for a
/// concurrent writer, so the check and the change are one atomic step on both backends.
pub async fn change_totals<'c>(
    ex: impl Executor<'c, Database = Any>,
    code: &str,
    change: Change,
    now: Timestamp,
) -> Result<Option<(AccountRef, Totals)>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "UPDATE ledger_accounts SET debits_posted = debits_posted + $1, credits_posted = credits_posted + $2,
           debits_pending = debits_pending + $3, credits_pending = credits_pending + $4, updated_at = $5
         WHERE code = $6 AND {} RETURNING {ACCOUNT_COLUMNS}",
        guard()
    ))
    .bind(change.debits_posted)
    .bind(change.credits_posted)
    .bind(change.debits_pending)
    .bind(change.credits_pending)
    .bind(now.millis())
    .bind(code)
    .fetch_optional(ex)
    .await?;
    row.as_ref().map(account_of).transpose()
}

pub async fn account<'c>(
    ex: impl Executor<'c, Database = Any>,
    code: &str,
) -> Result<Option<(AccountRef, Totals)>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts WHERE code = $1"))
        .bind(code)
        .fetch_optional(ex)
        .await?;
    row.as_ref().map(account_of).transpose()
}

pub async fn accounts<'c>(
    ex: impl Executor<'c, Database = Any>,
) -> Result<Vec<(AccountRef, Totals)>, sqlx::Error> {
    let rows = sqlx::query(&format!("SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts ORDER BY code"))
        .fetch_all(ex)
        .await?;
    rows.iter().map(account_of).collect()
}

const TRANSFER_COLUMNS: &str = "id, kind, debit_code, credit_code, amount, unit, status, pending_id, timeout_at, reference, created_at, resolved_at";

fn transfer_of(row: &AnyRow) -> Result<StoredTransfer, sqlx::Error> {
    let status: String = row.try_get("status")?;
    Ok(StoredTransfer {
        record: TransferRecord {
            id: row.try_get("id")?,
            kind: row.try_get("kind")?,
            debit_code: row.try_get("debit_code")?,
            credit_code: row.try_get("credit_code")?,
            amount: row.try_get("amount")?,
            unit: row.try_get("unit")?,
            status: TransferStatus::parse(&status).ok_or_else(|| decode_error("status", &status))?,
            pending_id: row.try_get("pending_id")?,
            reference: row.try_get("reference")?,
            created_at: Timestamp::from_millis(row.try_get("created_at")?),
        },
        timeout_at: row.try_get::<Option<i64>, _>("timeout_at")?.map(Timestamp::from_millis),
        resolved_at: row.try_get::<Option<i64>, _>("resolved_at")?.map(Timestamp::from_millis),
    })
}

pub async fn transfer<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: &str,
) -> Result<Option<StoredTransfer>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {TRANSFER_COLUMNS} FROM ledger_transfers WHERE id = $1"))
        .bind(id)
        .fetch_optional(ex)
        .await?;
    row.as_ref().map(transfer_of).transpose()
}

/// Writes a new transfer row; fails with a unique violation when the id is taken (or when
/// its hold already has a resolution).
pub async fn insert_transfer<'c>(
    ex: impl Executor<'c, Database = Any>,
    transfer: &StoredTransfer,
) -> Result<(), sqlx::Error> {
    let r = &transfer.record;
    sqlx::query(&format!(
        "INSERT INTO ledger_transfers ({TRANSFER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    ))
    .bind(&r.id)
    .bind(&r.kind)
    .bind(&r.debit_code)
    .bind(&r.credit_code)
    .bind(r.amount)
    .bind(&r.unit)
    .bind(r.status.as_str())
    .bind(&r.pending_id)
    .bind(transfer.timeout_at.map(Timestamp::millis))
    .bind(&r.reference)
    .bind(r.created_at.millis())
    .bind(transfer.resolved_at.map(Timestamp::millis))
    .execute(ex)
    .await
    .map(|_| ())
}

/// Moves a hold from pending to `to`; false when it was no longer pending (another
/// transaction resolved it first). This guarded update is what makes a hold resolve once.
pub async fn resolve_hold<'c>(
    ex: impl Executor<'c, Database = Any>,
    id: &str,
    to: TransferStatus,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE ledger_transfers SET status = $1, resolved_at = $2 WHERE id = $3 AND status = 'pending'",
    )
    .bind(to.as_str())
    .bind(now.millis())
    .bind(id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Transfers touching the account, newest first, after the transfer `before` (a cursor);
/// `limit + 1` rows so the caller can tell whether more follow.
pub async fn history<'c>(
    ex: impl Executor<'c, Database = Any>,
    code: &str,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<StoredTransfer>, sqlx::Error> {
    let touching = "(debit_code = $1 OR credit_code = $1)";
    let rows = match before {
        None => {
            sqlx::query(&format!(
                "SELECT {TRANSFER_COLUMNS} FROM ledger_transfers WHERE {touching}
                 ORDER BY created_at DESC, id DESC LIMIT $2"
            ))
            .bind(code)
            .bind(limit + 1)
            .fetch_all(ex)
            .await?
        }
        Some(cursor) => {
            sqlx::query(&format!(
                "SELECT {TRANSFER_COLUMNS} FROM ledger_transfers t WHERE {touching}
                   AND EXISTS (SELECT 1 FROM ledger_transfers c WHERE c.id = $2
                     AND (t.created_at < c.created_at OR (t.created_at = c.created_at AND t.id < c.id)))
                 ORDER BY created_at DESC, id DESC LIMIT $3"
            ))
            .bind(code)
            .bind(cursor)
            .bind(limit + 1)
            .fetch_all(ex)
            .await?
        }
    };
    rows.iter().map(transfer_of).collect()
}

/// An account's statement, newest first: its transfers without the ones that post or void a
/// hold, each hold with the amount its posting moved (when it was posted).
pub async fn statement<'c>(
    ex: impl Executor<'c, Database = Any>,
    code: &str,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<(TransferRecord, Option<i64>)>, sqlx::Error> {
    let columns = TRANSFER_COLUMNS.split(", ").map(|c| format!("t.{c}")).collect::<Vec<_>>().join(", ");
    let rows = sqlx::query(&format!(
        "SELECT {columns}, r.amount AS posted_amount FROM ledger_transfers t
         LEFT JOIN ledger_transfers r ON r.pending_id = t.id AND t.status = 'posted'
         WHERE (t.debit_code = $1 OR t.credit_code = $1) AND t.pending_id IS NULL
           AND ($2 = '' OR EXISTS (SELECT 1 FROM ledger_transfers c WHERE c.id = $2
             AND (t.created_at < c.created_at OR (t.created_at = c.created_at AND t.id < c.id))))
         ORDER BY t.created_at DESC, t.id DESC LIMIT $3"
    ))
    .bind(code)
    .bind(before.unwrap_or(""))
    .bind(limit + 1)
    .fetch_all(ex)
    .await?;
    rows.iter().map(|row| Ok((transfer_of(row)?.record, row.try_get("posted_amount")?))).collect()
}

/// Holds whose timeout has passed and that are still pending, oldest timeout first.
pub async fn due_holds<'c>(
    ex: impl Executor<'c, Database = Any>,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id FROM ledger_transfers WHERE status = 'pending' AND timeout_at <= $1
         ORDER BY timeout_at, id LIMIT $2",
    )
    .bind(now.millis())
    .bind(limit)
    .fetch_all(ex)
    .await?;
    rows.iter().map(|row| row.try_get("id")).collect()
}

/// What the transfers add up to per account, by the rule of [`super::domain::add_to_sums`],
/// computed by the database: a hold counts while pending, a posted transfer counts unless it
/// is a hold that was posted (its posting transfer counts instead).
pub async fn transfer_sums(conn: &mut Connection) -> Result<HashMap<String, Totals>, sqlx::Error> {
    let mut sums: HashMap<String, Totals> = HashMap::new();
    for side in ["debit", "credit"] {
        let rows = sqlx::query(&format!(
            "SELECT {side}_code AS code,
               CAST(SUM(CASE WHEN status = 'posted' AND resolved_at IS NULL THEN amount ELSE 0 END) AS BIGINT) AS posted,
               CAST(SUM(CASE WHEN status = 'pending' THEN amount ELSE 0 END) AS BIGINT) AS pending
             FROM ledger_transfers GROUP BY {side}_code"
        ))
        .fetch_all(&mut *conn)
        .await?;
        for row in rows {
            let totals = sums.entry(row.try_get("code")?).or_default();
            let (posted, pending): (i64, i64) = (row.try_get("posted")?, row.try_get("pending")?);
            if side == "debit" {
                totals.debits_posted = posted;
                totals.debits_pending = pending;
            } else {
                totals.credits_posted = posted;
                totals.credits_pending = pending;
            }
        }
    }
    Ok(sums)
}

/// Transfers that disagree with their accounts or their holds: a unit other than the
/// accounts'; a posting or voiding transfer whose hold is not resolved the same way or is
/// smaller than what it moved.
pub async fn inconsistent_transfers(conn: &mut Connection) -> Result<Vec<String>, sqlx::Error> {
    let mut found = Vec::new();
    let rows = sqlx::query(
        "SELECT t.id, t.unit, a.code, a.unit AS account_unit FROM ledger_transfers t
         JOIN ledger_accounts a ON a.code = t.debit_code OR a.code = t.credit_code
         WHERE a.unit <> t.unit ORDER BY t.id",
    )
    .fetch_all(&mut *conn)
    .await?;
    for row in rows {
        let (id, unit, code, account_unit): (String, String, String, String) =
            (row.try_get("id")?, row.try_get("unit")?, row.try_get("code")?, row.try_get("account_unit")?);
        found.push(format!("transfer {id} is in {unit} but account {code} is in {account_unit}"));
    }
    let rows = sqlx::query(
        "SELECT r.id, r.status, r.amount, h.id AS hold_id, h.status AS hold_status, h.amount AS held
         FROM ledger_transfers r JOIN ledger_transfers h ON h.id = r.pending_id
         WHERE h.status <> r.status OR h.resolved_at IS NULL OR r.amount > h.amount
            OR (r.status = 'voided' AND r.amount <> h.amount)
         ORDER BY r.id",
    )
    .fetch_all(&mut *conn)
    .await?;
    for row in rows {
        let (id, status, amount): (String, String, i64) =
            (row.try_get("id")?, row.try_get("status")?, row.try_get("amount")?);
        let (hold, hold_status, held): (String, String, i64) =
            (row.try_get("hold_id")?, row.try_get("hold_status")?, row.try_get("held")?);
        found.push(format!(
            "transfer {id} ({status} {amount}) does not match its hold {hold} ({hold_status} {held})"
        ));
    }
    Ok(found)
}

pub async fn counts(conn: &mut Connection) -> Result<(i64, i64), sqlx::Error> {
    let accounts: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM ledger_accounts").fetch_one(&mut *conn).await?;
    let transfers: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM ledger_transfers").fetch_one(&mut *conn).await?;
    Ok((accounts, transfers))
}

pub async fn transfers(conn: &mut Connection, ids: &[&str]) -> Result<Vec<StoredTransfer>, sqlx::Error> {
    let head = format!("SELECT {TRANSFER_COLUMNS} FROM ledger_transfers WHERE id IN");
    let rows = bulk::fetch_in(conn, &head, "", ids).await?;
    rows.iter().map(transfer_of).collect()
}

/// [`open_account`] for many accounts in one statement.
pub async fn open_accounts(
    conn: &mut Connection,
    accounts: &[&AccountRef],
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    bulk::insert_rows(
        conn,
        "INSERT INTO ledger_accounts (code, unit, kind, debits_posted, credits_posted, debits_pending,
           credits_pending, created_at, updated_at)",
        "ON CONFLICT (code) DO NOTHING",
        9,
        accounts,
        |args, account| {
            args.add(account.code.as_str())?;
            args.add(account.unit.as_str())?;
            args.add(account.kind.as_str())?;
            for _ in 0..4 {
                args.add(0_i64)?;
            }
            args.add(now.millis())?;
            args.add(now.millis())
        },
    )
    .await
    .map(|_| ())
}

/// The accounts of `codes`, locked for the caller's transaction on PostgreSQL (SQLite's one
/// writer holds the whole database already), in code order as `move_money` locks them.
pub async fn lock_accounts(
    conn: &mut Connection,
    dialect: Dialect,
    codes: &[&str],
) -> Result<Vec<(AccountRef, Totals)>, sqlx::Error> {
    let head = format!("SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts WHERE code IN");
    let tail = format!(" ORDER BY code{}", dialect.row_lock());
    let rows = bulk::fetch_in(conn, &head, &tail, codes).await?;
    rows.iter().map(account_of).collect()
}

pub async fn insert_transfers(
    conn: &mut Connection,
    transfers: &[StoredTransfer],
) -> Result<(), sqlx::Error> {
    bulk::insert_rows(
        conn,
        &format!("INSERT INTO ledger_transfers ({TRANSFER_COLUMNS})"),
        "",
        12,
        transfers,
        |args, transfer| {
            let r = &transfer.record;
            args.add(r.id.as_str())?;
            args.add(r.kind.as_str())?;
            args.add(r.debit_code.as_str())?;
            args.add(r.credit_code.as_str())?;
            args.add(r.amount)?;
            args.add(r.unit.as_str())?;
            args.add(r.status.as_str())?;
            args.add(r.pending_id.as_deref())?;
            args.add(transfer.timeout_at.map(Timestamp::millis))?;
            args.add(r.reference.as_deref())?;
            args.add(r.created_at.millis())?;
            args.add(transfer.resolved_at.map(Timestamp::millis))
        },
    )
    .await
    .map(|_| ())
}

/// Writes the accounts' new totals (worked out under the lock of [`lock_accounts`]) in one
/// statement; returns how many accounts it updated. The CHECK constraints still refuse a
/// never-negative account below zero.
pub async fn set_totals(
    conn: &mut Connection,
    totals: &[(&str, Totals)],
    now: Timestamp,
) -> Result<u64, sqlx::Error> {
    bulk::insert_rows(
        conn,
        "UPDATE ledger_accounts SET debits_posted = v.column2, credits_posted = v.column3,
           debits_pending = v.column4, credits_pending = v.column5, updated_at = v.column6 FROM (",
        ") AS v WHERE ledger_accounts.code = v.column1",
        6,
        totals,
        |args, (code, t)| {
            args.add(*code)?;
            args.add(t.debits_posted)?;
            args.add(t.credits_posted)?;
            args.add(t.debits_pending)?;
            args.add(t.credits_pending)?;
            args.add(now.millis())
        },
    )
    .await
}
