//! Multi-row statements for batched writes: one INSERT for many rows instead of a round trip
//! per row, in the same portable SQL (`$n` placeholders) as the rest of the stores.

use std::fmt::Write as _;

use sqlx::any::AnyArguments;
use sqlx::error::BoxDynError;

use super::Connection;

/// Bound values per statement: under SQLite's limit (32,766) and PostgreSQL's (65,535).
const MOST_VALUES: usize = 30_000;

/// `$start, $start+1, …` for `count` values: the inside of an `IN (…)` list.
pub fn placeholders(start: usize, count: usize) -> String {
    let mut out = String::with_capacity(count * 5);
    for n in start..start + count {
        if n > start {
            out.push_str(", ");
        }
        let _ = write!(out, "${n}");
    }
    out
}

/// `($1, $2), ($3, $4), …`: `rows` tuples of `columns` placeholders.
fn tuples(rows: usize, columns: usize) -> String {
    let mut out = String::with_capacity(rows * columns * 5);
    for row in 0..rows {
        if row > 0 {
            out.push_str(", ");
        }
        out.push('(');
        out.push_str(&placeholders(row * columns + 1, columns));
        out.push(')');
    }
    out
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
    for chunk in rows.chunks((MOST_VALUES / columns).max(1)) {
        let sql = format!("{head} VALUES {} {tail}", tuples(chunk.len(), columns));
        let mut arguments = AnyArguments::default();
        for row in chunk {
            bind(&mut arguments, row).map_err(sqlx::Error::Encode)?;
        }
        affected += sqlx::query_with(&sql, arguments).execute(&mut *conn).await?.rows_affected();
    }
    Ok(affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_from_the_start_given() {
        assert_eq!(placeholders(3, 3), "$3, $4, $5");
        assert_eq!(placeholders(1, 0), "");
    }

    #[test]
    fn tuples_number_values_row_after_row() {
        assert_eq!(tuples(2, 3), "($1, $2, $3), ($4, $5, $6)");
    }
}
