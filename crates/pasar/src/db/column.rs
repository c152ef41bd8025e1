//! Reading typed values out of rows: Pasar stores ids, statuses and codes as TEXT, and a value
//! that does not parse back is a decode error naming its column.

use std::str::FromStr;

use sqlx::Row;
use sqlx::any::AnyRow;

/// The error for a stored value that is not what its column should hold.
pub fn decode_error(column: &str, text: &str) -> sqlx::Error {
    sqlx::Error::ColumnDecode { index: column.into(), source: format!("unexpected value {text:?}").into() }
}

/// A TEXT column parsed into its type (an id, a status, a code).
pub fn parse_text<T: FromStr>(row: &AnyRow, column: &str) -> Result<T, sqlx::Error> {
    let text: String = row.try_get(column)?;
    text.parse().map_err(|_| decode_error(column, &text))
}

/// A nullable TEXT column parsed into its type.
pub fn parse_optional<T: FromStr>(row: &AnyRow, column: &str) -> Result<Option<T>, sqlx::Error> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|text| text.parse().map_err(|_| decode_error(column, &text))).transpose()
}
