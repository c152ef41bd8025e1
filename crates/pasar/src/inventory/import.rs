//! Stock levels imported from a CSV file (a stock take from a spreadsheet): a header row with
//! `sku` and `on_hand`, and optionally `reason`. Every row is checked before anything changes;
//! a file with any bad row changes nothing and answers every bad line. A good file sets each
//! variant's stock on hand to its row's level, as adjustments by the difference, in one
//! transaction.

use std::collections::HashMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::service::{Inventory, InventoryError, LevelToSet};
use crate::catalog::{Catalog, CatalogError, ProductKind};
use crate::identity::domain::Text;
use crate::ids::VariantId;

/// The most rows one import takes.
pub const MAX_IMPORT_ROWS: usize = 1000;
/// The highest level a row may set (as an adjustment's largest step).
pub const MAX_LEVEL: i64 = 1_000_000_000;
/// The movements' reason when the file has no `reason` column, or a row leaves it empty.
pub const DEFAULT_REASON: &str = "stock import";

/// What is wrong with one line of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "code")]
pub enum Problem {
    /// The header row lacks `sku` or `on_hand`, repeats a column or names an unknown one.
    Header,
    /// Not readable as CSV text: not UTF-8, or a row with another number of fields.
    Unreadable,
    /// No rows after the header.
    NoRows,
    /// More rows than one import takes.
    TooManyRows { max: usize },
    /// The SKU is empty.
    MissingSku,
    /// No variant has this SKU.
    UnknownSku,
    /// The SKU is a digital variant's, whose stock is its items.
    DigitalVariant,
    /// The level is not a whole number.
    NotAWholeNumber,
    /// The level is below zero.
    Negative,
    /// The level is above [`MAX_LEVEL`].
    TooLarge,
    /// The level is below what open orders hold of the variant.
    BelowReserved { reserved: i64 },
    /// An earlier line already names this SKU.
    DuplicateSku { first_line: u64 },
    /// The reason is longer than 200 characters or holds control characters.
    BadReason,
}

impl Problem {
    /// The column the problem is in (`file` for the file as a whole).
    pub fn column(self) -> &'static str {
        match self {
            Self::Header => "header",
            Self::Unreadable | Self::NoRows | Self::TooManyRows { .. } => "file",
            Self::MissingSku | Self::UnknownSku | Self::DigitalVariant | Self::DuplicateSku { .. } => "sku",
            Self::NotAWholeNumber | Self::Negative | Self::TooLarge | Self::BelowReserved { .. } => "on_hand",
            Self::BadReason => "reason",
        }
    }

    /// The problem in English, for the API's clients.
    pub fn message(self) -> String {
        match self {
            Self::Header => {
                "the header row must name sku and on_hand (and may name reason), each once".into()
            }
            Self::Unreadable => "not readable as CSV: UTF-8 text with the header's number of fields".into(),
            Self::NoRows => "the file has no rows after its header".into(),
            Self::TooManyRows { max } => format!("at most {max} rows per import"),
            Self::MissingSku => "the SKU is empty".into(),
            Self::UnknownSku => "no variant has this SKU".into(),
            Self::DigitalVariant => "a digital variant's stock is its items; add items instead".into(),
            Self::NotAWholeNumber => "must be a whole number".into(),
            Self::Negative => "must not be below zero".into(),
            Self::TooLarge => format!("must be at most {MAX_LEVEL}"),
            Self::BelowReserved { reserved } => {
                format!("must not be below the {reserved} units open orders hold")
            }
            Self::DuplicateSku { first_line } => format!("line {first_line} already names this SKU"),
            Self::BadReason => "must be at most 200 characters, without control characters".into(),
        }
    }
}

/// One bad line: where (the file's line; 1 is the header), which SKU, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BadLine {
    pub line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(flatten)]
    pub problem: Problem,
}

/// A well-formed row: the level wanted for a SKU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockRow {
    pub line: u64,
    pub sku: String,
    pub on_hand: i64,
    pub reason: Option<String>,
}

/// One variant's level set by an import.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ImportedLevel {
    pub line: u64,
    pub sku: String,
    pub variant_id: VariantId,
    /// On hand before the import.
    pub before: i64,
    /// On hand now: the row's level.
    pub on_hand: i64,
    /// The adjustment made (0: already at that level, no movement).
    pub delta: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the file has bad lines; nothing was changed")]
    Invalid(Vec<BadLine>),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Inventory(#[from] InventoryError),
}

fn bad(line: u64, sku: Option<&str>, problem: Problem) -> BadLine {
    BadLine { line, sku: sku.map(str::to_owned), problem }
}

/// Reads the file's rows, checking each on its own and against the others (duplicate SKUs).
/// A file whose header or size is wrong answers only that.
pub fn parse(file: &[u8]) -> (Vec<StockRow>, Vec<BadLine>) {
    // Spreadsheets write a byte-order mark before the header.
    let file = file.strip_prefix("\u{feff}".as_bytes()).unwrap_or(file);
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(file);
    let Some((sku_at, on_hand_at, reason_at)) = header(&mut reader) else {
        return (Vec::new(), vec![bad(1, None, Problem::Header)]);
    };
    let (mut rows, mut problems) = (Vec::new(), Vec::new());
    let mut first_line_of: HashMap<String, u64> = HashMap::new();
    for (index, record) in reader.records().enumerate() {
        if index == MAX_IMPORT_ROWS {
            let line = record.as_ref().ok().and_then(|r| r.position()).map_or(0, |p| p.line());
            return (Vec::new(), vec![bad(line, None, Problem::TooManyRows { max: MAX_IMPORT_ROWS })]);
        }
        let record = match record {
            Ok(record) => record,
            Err(err) => {
                let line = err.position().map_or(0, csv::Position::line);
                problems.push(bad(line, None, Problem::Unreadable));
                continue;
            }
        };
        let line = record.position().map_or(0, csv::Position::line);
        let field = |at: usize| record.get(at).unwrap_or_default();
        let sku = field(sku_at);
        let sku_named = (!sku.is_empty()).then_some(sku);
        let mut fine = true;
        let mut refuse = |problem| {
            problems.push(bad(line, sku_named, problem));
            fine = false;
        };
        if sku.is_empty() {
            refuse(Problem::MissingSku);
        } else if let Some(&first_line) = first_line_of.get(sku) {
            refuse(Problem::DuplicateSku { first_line });
        } else {
            first_line_of.insert(sku.to_owned(), line);
        }
        let on_hand = level_of(field(on_hand_at));
        if let Err(problem) = on_hand {
            refuse(problem);
        }
        let reason = reason_at.map(field).filter(|r| !r.is_empty());
        if reason.is_some_and(|r| Text::<200>::parse(r).is_err()) {
            refuse(Problem::BadReason);
        }
        if let (true, Ok(on_hand)) = (fine, on_hand) {
            rows.push(StockRow { line, sku: sku.to_owned(), on_hand, reason: reason.map(str::to_owned) });
        }
    }
    if rows.is_empty() && problems.is_empty() {
        problems.push(bad(2, None, Problem::NoRows));
    }
    (rows, problems)
}

/// Where `sku`, `on_hand` and `reason` are in the header (names read without case); None when
/// the header is not one an import takes.
fn header(reader: &mut csv::Reader<&[u8]>) -> Option<(usize, usize, Option<usize>)> {
    let names: Vec<String> = reader.headers().ok()?.iter().map(str::to_ascii_lowercase).collect();
    let at = |name: &str| names.iter().position(|n| n == name);
    let known = names.iter().all(|n| ["sku", "on_hand", "reason"].contains(&n.as_str()));
    let once = names.iter().enumerate().all(|(i, n)| at(n) == Some(i));
    if !(known && once) {
        return None;
    }
    Some((at("sku")?, at("on_hand")?, at("reason")))
}

fn level_of(text: &str) -> Result<i64, Problem> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Problem::NotAWholeNumber);
    }
    if text.starts_with('-') && digits.bytes().any(|b| b != b'0') {
        return Err(Problem::Negative);
    }
    match digits.parse::<i64>() {
        Ok(level) if level <= MAX_LEVEL => Ok(level),
        _ => Err(Problem::TooLarge),
    }
}

/// Checks every row of `file` (its form, then its SKU against the catalog and its level
/// against the variant's reservations), and only when all are good sets every level, as
/// `actor`, in one transaction.
#[tracing::instrument(skip_all)]
pub async fn import_levels(
    catalog: &Catalog,
    inventory: &Inventory,
    file: &[u8],
    actor: &str,
) -> Result<Vec<ImportedLevel>, ImportError> {
    let (rows, mut problems) = parse(file);
    if rows.is_empty() {
        return Err(ImportError::Invalid(problems));
    }
    let skus: Vec<&str> = rows.iter().map(|r| r.sku.as_str()).collect();
    let variants = catalog.variants_by_skus(&skus).await?;
    let ids: Vec<VariantId> = variants.values().map(|(id, _)| *id).collect();
    let levels = inventory.levels(&ids).await?;
    let mut wanted = Vec::with_capacity(rows.len());
    for row in &rows {
        let problem = match variants.get(&row.sku) {
            None => Some(Problem::UnknownSku),
            Some((_, ProductKind::Digital)) => Some(Problem::DigitalVariant),
            Some((id, _)) => match levels.get(id) {
                Some(level) if row.on_hand < level.reserved => {
                    Some(Problem::BelowReserved { reserved: level.reserved })
                }
                _ => {
                    wanted.push(LevelToSet {
                        variant: *id,
                        on_hand: row.on_hand,
                        reason: row.reason.as_deref().unwrap_or(DEFAULT_REASON),
                    });
                    None
                }
            },
        };
        if let Some(problem) = problem {
            problems.push(bad(row.line, Some(&row.sku), problem));
        }
    }
    if !problems.is_empty() {
        problems.sort_by_key(|p| p.line);
        return Err(ImportError::Invalid(problems));
    }
    let set = inventory.set_levels(&wanted, actor).await?;
    Ok(rows
        .into_iter()
        .zip(set)
        .map(|(row, (before, after))| ImportedLevel {
            line: row.line,
            sku: row.sku,
            variant_id: after.variant_id,
            before: before.on_hand,
            on_hand: after.on_hand,
            delta: after.on_hand - before.on_hand,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(file: &str) -> Vec<(u64, Problem)> {
        parse(file.as_bytes()).1.into_iter().map(|p| (p.line, p.problem)).collect()
    }

    #[test]
    fn rows_are_read_with_quoted_fields_a_byte_order_mark_and_any_column_order() {
        let file = "\u{feff}reason,SKU,on_hand\n\"count, aisle 3\",KOPI-250,12\n,\"TEH,1\",0\n\"two\nlines\",X,1\nrecount,Y,+2\n";
        let (rows, problems) = parse(file.as_bytes());
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].sku, "KOPI-250");
        assert_eq!(rows[0].on_hand, 12);
        assert_eq!(rows[0].reason.as_deref(), Some("count, aisle 3"));
        assert_eq!((rows[1].sku.as_str(), rows[1].on_hand, rows[1].reason.as_deref()), ("TEH,1", 0, None));
        assert_eq!(
            (rows[2].sku.as_str(), rows[2].on_hand, rows[2].line),
            ("Y", 2, 6),
            "lines count the file's"
        );
        let refused: Vec<(u64, Option<&str>, Problem)> =
            problems.iter().map(|p| (p.line, p.sku.as_deref(), p.problem)).collect();
        assert_eq!(refused, vec![(4, Some("X"), Problem::BadReason)], "a reason is one line");
    }

    #[test]
    fn every_bad_line_is_named_with_what_is_wrong() {
        let file = "sku,on_hand\nA,1.5\nB,-2\n,3\nA,4\nC,x\nD,2000000000\nE,7\nA,5\n";
        assert_eq!(
            problems(file),
            vec![
                (2, Problem::NotAWholeNumber),
                (3, Problem::Negative),
                (4, Problem::MissingSku),
                (5, Problem::DuplicateSku { first_line: 2 }),
                (6, Problem::NotAWholeNumber),
                (7, Problem::TooLarge),
                (9, Problem::DuplicateSku { first_line: 2 }),
            ]
        );
        assert_eq!(parse(file.as_bytes()).0.len(), 1, "only E's row is good");
    }

    #[test]
    fn a_wrong_header_an_empty_file_or_too_many_rows_is_refused_as_a_whole() {
        assert_eq!(problems("code,on_hand\nA,1\n"), vec![(1, Problem::Header)]);
        assert_eq!(problems("sku,sku,on_hand\nA,A,1\n"), vec![(1, Problem::Header)]);
        assert_eq!(problems("sku\nA\n"), vec![(1, Problem::Header)]);
        assert_eq!(problems(""), vec![(1, Problem::Header)]);
        assert_eq!(problems("sku,on_hand\n"), vec![(2, Problem::NoRows)]);
        assert_eq!(problems("sku,on_hand\nA,1,extra\n"), vec![(2, Problem::Unreadable)]);
        let mut big = String::from("sku,on_hand\n");
        for i in 0..=MAX_IMPORT_ROWS {
            big.push_str(&format!("S{i},1\n"));
        }
        assert_eq!(problems(&big), vec![(1002, Problem::TooManyRows { max: MAX_IMPORT_ROWS })]);
    }

    #[test]
    fn levels_are_whole_numbers_from_zero_to_the_limit() {
        assert_eq!(level_of("0"), Ok(0));
        assert_eq!(level_of("-0"), Ok(0));
        assert_eq!(level_of("+7"), Ok(7));
        assert_eq!(level_of("1000000000"), Ok(MAX_LEVEL));
        assert_eq!(level_of("1000000001"), Err(Problem::TooLarge));
        assert_eq!(level_of("99999999999999999999999"), Err(Problem::TooLarge));
        assert_eq!(level_of(""), Err(Problem::NotAWholeNumber));
        assert_eq!(level_of("1e3"), Err(Problem::NotAWholeNumber));
        assert_eq!(level_of("-1"), Err(Problem::Negative));
    }
}
