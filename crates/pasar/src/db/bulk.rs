//! Multi-row statements for batched writes: one INSERT for many rows instead of a round trip
//! per row, in the same portable SQL (`$n` placeholders) as the rest of the stores.

use std::fmt::Write as _;

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::error::BoxDynError;

use super::Connection;

/// Bound values per statement: under SQLite's limit (32,766) and PostgreSQL's (65,535).
const MOST_VALUES: usize = 30_000;

/// Writes a statement's placeholders in binding order: `$1, $2, …` on PostgreSQL, plain `?` on
/// SQLite. sqlx resolves each numbered SQLite placeholder by name, a linear scan per value, so
/// a statement of n numbered values costs n² there; plain `?` are numbered by SQLite itself in
/// the same order. One statement must not mix the two styles.
pub struct Placeholders {
    numbered: bool,
    next: usize,
}

impl Placeholders {
    pub fn for_connection(conn: &Connection) -> Self {
        Self { numbered: !conn.backend_name().eq_ignore_ascii_case("sqlite"), next: 1 }
    }

    /// The next value's placeholder.
    pub fn one(&mut self) -> String {
        let n = self.next;
        self.next += 1;
        if self.numbered { format!("${n}") } else { "?".to_owned() }
    }

    /// `count` placeholders separated by commas: the inside of an `IN (…)` list or a tuple.
    pub fn list(&mut self, count: usize) -> String {
        let mut out = String::with_capacity(count * 5);
        for i in 0..count {
            if i > 0 {
                out.push_str(", ");
            }
            if self.numbered {
                let _ = write!(out, "${}", self.next);
            } else {
                out.push('?');
            }
            self.next += 1;
        }
        out
    }

    /// `(…), (…)`: `rows` tuples of `columns` placeholders.
    fn tuples(&mut self, rows: usize, columns: usize) -> String {
        let mut out = String::with_capacity(rows * (columns * 5 + 4));
        for row in 0..rows {
            if row > 0 {
                out.push_str(", ");
            }
            out.push('(');
            out.push_str(&self.list(columns));
            out.push(')');
        }
        out
    }
}

/// `values` padded to a power-of-two length by repeating the last one, for an `IN (…)` list:
/// the statement then has one of a few shapes whatever the batch, so it stays prepared in the
/// connection's statement cache instead of being parsed and planned anew each time.
pub fn padded<T: Copy>(values: &[T]) -> Vec<T> {
    let mut out = values.to_vec();
    if let Some(&last) = values.last() {
        out.resize(values.len().next_power_of_two(), last);
    }
    out
}

/// Runs `{head} ({keys as an IN list}){tail}` and returns its rows; none when `keys` is empty.
pub async fn fetch_in(
    conn: &mut Connection,
    head: &str,
    tail: &str,
    keys: &[&str],
) -> Result<Vec<AnyRow>, sqlx::Error> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let keys = padded(keys);
    let sql = format!("{head} ({}){tail}", Placeholders::for_connection(conn).list(keys.len()));
    let mut query = sqlx::query(&sql);
    for key in keys {
        query = query.bind(key);
    }
    query.fetch_all(conn).await
}

/// Moves the rows of `table` (a store's own table, named by that store) whose `id` is one of
/// `ids` and whose `status` is `from` to `to`, in one statement; returns how many moved.
pub async fn move_statuses(
    conn: &mut Connection,
    table: &str,
    ids: &[String],
    from: &str,
    to: &str,
    now_millis: i64,
) -> Result<u64, sqlx::Error> {
    if ids.is_empty() {
        return Ok(0);
    }
    let ids = padded(&ids.iter().map(String::as_str).collect::<Vec<_>>());
    let mut p = Placeholders::for_connection(conn);
    let sql = format!(
        "UPDATE {table} SET status = {}, updated_at = {} WHERE status = {} AND id IN ({})",
        p.one(),
        p.one(),
        p.one(),
        p.list(ids.len())
    );
    let mut query = sqlx::query(&sql).bind(to).bind(now_millis).bind(from);
    for id in ids {
        query = query.bind(id);
    }
    Ok(query.execute(conn).await?.rows_affected())
}

/// Row counts for the statements of an `insert_rows`: powers of two, largest first, none
/// above `most`. Like [`padded`], this keeps the statements to a few cacheable shapes.
fn chunk_sizes(rows: usize, most: usize) -> Vec<usize> {
    let most = if most.is_power_of_two() { most } else { most.next_power_of_two() / 2 };
    let mut sizes = Vec::new();
    let mut left = rows;
    while left > 0 {
        let size = if left.is_power_of_two() { left } else { left.next_power_of_two() / 2 }.min(most);
        sizes.push(size);
        left -= size;
    }
    sizes
}

/// Runs `{head} VALUES (…), (…) {tail}` for all `rows`, in as few statements as the bound
/// value limits allow. `bind` adds exactly `columns` values for one row. Returns the rows
/// affected.
pub async fn insert_rows<'q, T>(
    conn: &mut Connection,
    head: &str,
    tail: &str,
    columns: usize,
    rows: &'q [T],
    bind: impl Fn(&mut AnyArguments<'q>, &'q T) -> Result<(), BoxDynError>,
) -> Result<u64, sqlx::Error> {
    let mut affected = 0;
    for (sql, arguments) in statements(conn, head, tail, columns, rows, bind)? {
        affected += sqlx::query_with(&sql, arguments).execute(&mut *conn).await?.rows_affected();
    }
    Ok(affected)
}

/// [`insert_rows`] for a statement with `RETURNING`: the rows it returned.
pub async fn returning_rows<'q, T>(
    conn: &mut Connection,
    head: &str,
    tail: &str,
    columns: usize,
    rows: &'q [T],
    bind: impl Fn(&mut AnyArguments<'q>, &'q T) -> Result<(), BoxDynError>,
) -> Result<Vec<AnyRow>, sqlx::Error> {
    let mut returned = Vec::with_capacity(rows.len());
    for (sql, arguments) in statements(conn, head, tail, columns, rows, bind)? {
        returned.extend(sqlx::query_with(&sql, arguments).fetch_all(&mut *conn).await?);
    }
    Ok(returned)
}

/// The statements and their values for `rows`, in power-of-two chunks.
fn statements<'q, T>(
    conn: &Connection,
    head: &str,
    tail: &str,
    columns: usize,
    rows: &'q [T],
    bind: impl Fn(&mut AnyArguments<'q>, &'q T) -> Result<(), BoxDynError>,
) -> Result<Vec<(String, AnyArguments<'q>)>, sqlx::Error> {
    let mut statements = Vec::new();
    let mut rest = rows;
    for size in chunk_sizes(rows.len(), (MOST_VALUES / columns).max(1)) {
        let (chunk, after) = rest.split_at(size);
        rest = after;
        let mut placeholders = Placeholders::for_connection(conn);
        let sql = format!("{head} VALUES {} {tail}", placeholders.tuples(chunk.len(), columns));
        let mut arguments = AnyArguments::default();
        for row in chunk {
            bind(&mut arguments, row).map_err(sqlx::Error::Encode)?;
        }
        statements.push((sql, arguments));
    }
    Ok(statements)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_placeholders_count_on_across_calls() {
        let mut p = Placeholders { numbered: true, next: 1 };
        assert_eq!(p.one(), "$1");
        assert_eq!(p.list(2), "$2, $3");
        assert_eq!(p.tuples(2, 2), "($4, $5), ($6, $7)");
    }

    #[test]
    fn rows_go_in_power_of_two_statements_largest_first() {
        assert_eq!(chunk_sizes(0, 64), Vec::<usize>::new());
        assert_eq!(chunk_sizes(256, 1024), vec![256]);
        assert_eq!(chunk_sizes(13, 1024), vec![8, 4, 1]);
        assert_eq!(chunk_sizes(300, 100), vec![64, 64, 64, 64, 32, 8, 4]);
    }

    #[test]
    fn lists_are_padded_with_their_last_value_to_a_power_of_two() {
        assert_eq!(padded(&[1, 2, 3]), vec![1, 2, 3, 3]);
        assert_eq!(padded(&[1, 2]), vec![1, 2]);
        assert_eq!(padded::<u8>(&[]), Vec::<u8>::new());
    }

    #[test]
    fn sqlite_placeholders_are_plain_question_marks() {
        let mut p = Placeholders { numbered: false, next: 1 };
        assert_eq!(p.one(), "?");
        assert_eq!(p.tuples(2, 2), "(?, ?), (?, ?)");
    }
}
