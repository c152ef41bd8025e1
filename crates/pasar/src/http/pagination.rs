//! Cursor pagination: a page of results and an opaque cursor for the next one. Cursors are
//! the position after the last item, so pages stay stable while rows are added.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::error::ApiError;

pub const DEFAULT_PAGE_SIZE: usize = 20;
pub const MAX_PAGE_SIZE: usize = 100;

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    /// Items per page, 1 to 100 (default 20).
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn limit(&self) -> Result<usize, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_PAGE_SIZE),
            Some(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(n),
            Some(_) => Err(ApiError::field("limit", format!("must be between 1 and {MAX_PAGE_SIZE}"))),
        }
    }

    /// Decodes the cursor into the position it stands for.
    pub fn position<T: std::str::FromStr>(&self) -> Result<Option<T>, ApiError> {
        let Some(cursor) = &self.cursor else { return Ok(None) };
        // An empty cursor is not one this API issued, whatever the position type would make of it.
        if cursor.is_empty() {
            return Err(ApiError::field("cursor", "not a cursor this API issued"));
        }
        URL_SAFE_NO_PAD
            .decode(cursor)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| text.parse().ok())
            .map(Some)
            .ok_or_else(|| ApiError::field("cursor", "not a cursor this API issued"))
    }
}

#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page whose next cursor, when more items follow, is the position of its last item.
    pub fn new(data: Vec<T>, more: bool, position: impl Fn(&T) -> String) -> Self {
        let next_cursor =
            if more { data.last().map(|last| URL_SAFE_NO_PAD.encode(position(last))) } else { None };
        Self { data, next_cursor }
    }
}
