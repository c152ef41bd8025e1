//! Inventory's types and pure rules.

use std::collections::HashMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::ids::{ReservationId, StockMovementId, VariantId};
use crate::time::Timestamp;

/// A file sold as one digital item (an account file, a licence), sealed at rest like a key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct DigitalFile {
    pub file_name: String,
    pub content_type: String,
    #[serde(with = "base64_bytes")]
    pub bytes: Vec<u8>,
}

/// What a delivered digital item holds: a text (a key, an account) or a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemContent {
    Text(String),
    File(DigitalFile),
}

impl ItemContent {
    /// The form sealed at rest: a text as it is, a file as JSON with its bytes in base64 (so
    /// the sealed form of a file never equals the sealed form of a text).
    pub fn to_sealable(&self) -> String {
        match self {
            ItemContent::Text(text) => text.clone(),
            ItemContent::File(file) => serde_json::json!({ "file": file }).to_string(),
        }
    }

    /// What makes two items the same, for refusing duplicates: a text's words, a file's bytes
    /// (whatever it is named).
    pub fn identity(&self) -> String {
        use base64::Engine;
        match self {
            ItemContent::Text(text) => text.clone(),
            ItemContent::File(file) => {
                format!("file:{}", base64::engine::general_purpose::STANDARD.encode(&file.bytes))
            }
        }
    }

    /// How the item is stored: `text` or `file`.
    pub fn kind(&self) -> &'static str {
        match self {
            ItemContent::Text(_) => "text",
            ItemContent::File(_) => "file",
        }
    }

    /// Reads an item back from its sealed form, given its stored kind.
    pub fn from_sealable(kind: &str, opened: String) -> anyhow::Result<Self> {
        if kind != "file" {
            return Ok(ItemContent::Text(opened));
        }
        #[derive(serde::Deserialize)]
        struct Stored {
            file: DigitalFile,
        }
        Ok(ItemContent::File(serde_json::from_str::<Stored>(&opened)?.file))
    }
}

mod base64_bytes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct StockLevel {
    pub variant_id: VariantId,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
    /// `stock.low` fires when available stock drops below this.
    pub low_stock_threshold: i64,
    pub is_digital: bool,
}

impl StockLevel {
    pub fn new(variant_id: VariantId, on_hand: i64, reserved: i64, threshold: i64, is_digital: bool) -> Self {
        Self {
            variant_id,
            on_hand,
            reserved,
            available: on_hand - reserved,
            low_stock_threshold: threshold,
            is_digital,
        }
    }
}

/// How a variant's stock looks to shoppers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StockStatus {
    InStock,
    /// Fewer left than the variant's low-stock threshold.
    LowStock,
    OutOfStock,
}

/// What shoppers see of a variant's stock: what can be bought now and how that stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Availability {
    pub status: StockStatus,
    /// Units that can be bought now (on hand less what unpaid orders hold); for a digital
    /// variant, the keys (or other items) left. Absent when the shop hides its counts
    /// (`PASAR_STOCK_SHOW_COUNTS=false`): then `status` alone tells.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available: Option<i64>,
}

impl Availability {
    /// The same, without the count: what shoppers see when the shop hides its counts.
    pub fn without_count(self) -> Self {
        Self { available: None, ..self }
    }
}

impl StockLevel {
    /// The shoppers' view: out of stock at zero, low below the threshold (the same line
    /// `stock.low` fires at), else in stock.
    pub fn availability(&self) -> Availability {
        let available = self.available.max(0);
        let status = if available == 0 {
            StockStatus::OutOfStock
        } else if available < self.low_stock_threshold {
            StockStatus::LowStock
        } else {
            StockStatus::InStock
        };
        Availability { status, available: Some(available) }
    }
}

/// Why stock on hand changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MovementKind {
    /// An admin counted, received or wrote off stock.
    Adjustment,
    /// Digital items were added.
    DigitalItemsAdded,
    /// A paid order took the stock.
    Sale,
    /// A cancelled paid order put physical stock back.
    Restock,
}

impl MovementKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Adjustment => "adjustment",
            Self::DigitalItemsAdded => "digital_items_added",
            Self::Sale => "sale",
            Self::Restock => "restock",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Adjustment, Self::DigitalItemsAdded, Self::Sale, Self::Restock]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct StockMovement {
    pub id: StockMovementId,
    pub delta: i64,
    pub kind: MovementKind,
    pub reason: String,
    /// The order or other record the movement belongs to.
    pub reference: Option<String>,
    pub actor: String,
    pub on_hand_after: i64,
    pub created_at: Timestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReservationStatus {
    Held,
    Committed,
    Released,
}

impl ReservationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::Committed => "committed",
            Self::Released => "released",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Held, Self::Committed, Self::Released].into_iter().find(|s| s.as_str() == text)
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Reservation {
    pub id: ReservationId,
    pub holder: String,
    pub variant_id: VariantId,
    pub quantity: i64,
    pub status: ReservationStatus,
    pub expires_at: Timestamp,
}

/// Whether a change of available stock from `before` to `after` crosses below the threshold,
/// so `stock.low` fires once per crossing rather than on every sale below it.
pub fn crosses_low_threshold(before: i64, after: i64, threshold: i64) -> bool {
    threshold > 0 && before >= threshold && after < threshold
}

/// Shares out stock among orders in arrival order, each order all or nothing: an order whose
/// lines are all covered by what is left takes them; otherwise it gets the first variant (in
/// variant order) it is short of, and what it would have taken stays for the orders after it.
/// `available` is what each variant has to give (a missing variant has none); it is left
/// holding what remains.
pub fn allocate(
    available: &mut HashMap<VariantId, i64>,
    orders: &[&[(VariantId, i64)]],
) -> Vec<Result<(), VariantId>> {
    orders
        .iter()
        .map(|lines| {
            let mut sorted = lines.to_vec();
            sorted.sort_by_key(|(variant, _)| *variant);
            let short = sorted.iter().find(|(variant, quantity)| {
                available.get(variant).copied().unwrap_or(0) < *quantity || *quantity <= 0
            });
            if let Some((variant, _)) = short {
                return Err(*variant);
            }
            for (variant, quantity) in &sorted {
                *available.entry(*variant).or_default() -= quantity;
            }
            Ok(())
        })
        .collect()
}

/// The most digital items one add takes, and the longest item, in characters.
pub const MAX_ITEMS_PER_ADD: usize = 1000;
pub const MAX_ITEM_CHARS: usize = 4096;

/// Keys pasted one per line (a form's text area, a bot message): each line trimmed, blank
/// lines skipped.
pub fn pasted_keys(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|line| !line.is_empty()).map(str::to_owned).collect()
}

/// The first item an add refuses (blank, or longer than [`MAX_ITEM_CHARS`]), by its index.
pub fn unacceptable_item(items: &[String]) -> Option<usize> {
    items.iter().position(|item| item.trim().is_empty() || item.chars().count() > MAX_ITEM_CHARS)
}

/// Whether an add of `items` is one the inventory takes: 1 to [`MAX_ITEMS_PER_ADD`] items, each
/// acceptable.
pub fn acceptable_items(items: &[String]) -> bool {
    (1..=MAX_ITEMS_PER_ADD).contains(&items.len()) && unacceptable_item(items).is_none()
}

/// Whether a file item's name is one its buyer can receive it under: 1 to 200 characters, not
/// only spaces, without slashes or control characters.
pub fn acceptable_file_name(name: &str) -> bool {
    !name.trim_matches(' ').is_empty()
        && name.chars().count() <= 200
        && !name.chars().any(|c| c.is_control() || c == '/' || c == '\\')
}

/// The type a file item is kept with: the declared one without its parameters when it looks
/// like a type, else `application/octet-stream`.
pub fn file_content_type(declared: Option<&str>) -> &str {
    declared
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 100 && v.contains('/'))
        .unwrap_or("application/octet-stream")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn file_names_and_types_are_kept_only_when_sound() {
        assert!(acceptable_file_name("licence key.txt"));
        assert!(!acceptable_file_name("  "));
        assert!(!acceptable_file_name("../etc/passwd"));
        assert!(!acceptable_file_name("a\\b"));
        assert!(!acceptable_file_name(&"x".repeat(201)));
        assert_eq!(file_content_type(Some("text/plain; charset=utf-8")), "text/plain");
        assert_eq!(file_content_type(Some("nonsense")), "application/octet-stream");
        assert_eq!(file_content_type(None), "application/octet-stream");
    }

    #[test]
    fn a_file_item_reads_back_whole_and_a_text_never_reads_as_a_file() {
        let file = ItemContent::File(DigitalFile {
            file_name: "account.txt".into(),
            content_type: "text/plain".into(),
            bytes: vec![0, 159, 146, 150, b'\n'],
        });
        assert_eq!(ItemContent::from_sealable("file", file.to_sealable()).unwrap(), file);
        let text = ItemContent::Text("KEY-1".into());
        assert_eq!(ItemContent::from_sealable("text", text.to_sealable()).unwrap(), text);
        assert!(ItemContent::from_sealable("file", "KEY-1".into()).is_err());
        assert_ne!(file.to_sealable(), ItemContent::Text("account.txt".into()).to_sealable());
    }

    fn variants() -> Vec<VariantId> {
        let mut ids: Vec<VariantId> = (0..4).map(|_| VariantId::new()).collect();
        ids.sort();
        ids
    }

    #[test]
    fn shoppers_see_out_of_stock_at_zero_low_stock_below_the_threshold_and_in_stock_otherwise() {
        let v = VariantId::new();
        let status = |on_hand, reserved, threshold| {
            StockLevel::new(v, on_hand, reserved, threshold, false).availability()
        };
        assert_eq!(status(0, 0, 5), Availability { status: StockStatus::OutOfStock, available: Some(0) });
        assert_eq!(status(3, 3, 0), Availability { status: StockStatus::OutOfStock, available: Some(0) });
        assert_eq!(status(10, 6, 5), Availability { status: StockStatus::LowStock, available: Some(4) });
        assert_eq!(status(10, 5, 5), Availability { status: StockStatus::InStock, available: Some(5) });
        assert_eq!(status(1, 0, 0), Availability { status: StockStatus::InStock, available: Some(1) });
    }

    #[test]
    fn the_first_orders_get_the_stock_and_the_rest_are_told_which_variant_ran_out() {
        let ids = variants();
        let mut available = HashMap::from([(ids[0], 2), (ids[1], 1)]);
        let first = [(ids[0], 1), (ids[1], 1)];
        let second = [(ids[1], 1)];
        let third = [(ids[0], 1)];
        let fourth = [(ids[0], 1), (ids[2], 1)];
        let outcome = allocate(&mut available, &[&first, &second, &third, &fourth]);
        assert_eq!(outcome, vec![Ok(()), Err(ids[1]), Ok(()), Err(ids[0])]);
        assert_eq!(available, HashMap::from([(ids[0], 0), (ids[1], 0)]));
    }

    #[test]
    fn an_order_refused_for_one_variant_leaves_its_other_lines_to_later_orders() {
        let ids = variants();
        let mut available = HashMap::from([(ids[0], 1), (ids[1], 0)]);
        let greedy = [(ids[0], 1), (ids[1], 1)];
        let modest = [(ids[0], 1)];
        assert_eq!(allocate(&mut available, &[&greedy, &modest]), vec![Err(ids[1]), Ok(())]);
    }

    #[test]
    fn low_stock_fires_on_the_crossing_only() {
        assert!(crosses_low_threshold(5, 4, 5));
        assert!(!crosses_low_threshold(4, 3, 5), "already below");
        assert!(!crosses_low_threshold(10, 5, 5), "not below yet");
        assert!(!crosses_low_threshold(1, 0, 0), "no threshold set");
    }

    proptest! {
        #[test]
        fn a_sequence_of_changes_fires_once_per_downward_crossing(changes in proptest::collection::vec(-5i64..5, 1..50), threshold in 1i64..20) {
            let mut level = 30i64;
            let mut fired = 0;
            let mut crossings = 0;
            for change in changes {
                let next = (level + change).max(0);
                if crosses_low_threshold(level, next, threshold) { fired += 1; }
                if level >= threshold && next < threshold { crossings += 1; }
                level = next;
            }
            prop_assert_eq!(fired, crossings);
        }

        #[test]
        fn allocation_never_gives_more_than_there_is_and_refuses_only_when_short(
            stock in proptest::collection::vec(0i64..6, 4),
            orders in proptest::collection::vec(proptest::collection::vec((0usize..4, 1i64..4), 1..4), 0..30),
        ) {
            let ids = variants();
            let start: HashMap<VariantId, i64> = ids.iter().copied().zip(stock).collect();
            let orders: Vec<Vec<(VariantId, i64)>> = orders
                .into_iter()
                .map(|lines| {
                    let mut merged: HashMap<VariantId, i64> = HashMap::new();
                    for (i, q) in lines { *merged.entry(ids[i]).or_default() += q; }
                    merged.into_iter().collect()
                })
                .collect();
            let slices: Vec<&[(VariantId, i64)]> = orders.iter().map(Vec::as_slice).collect();
            let mut left = start.clone();
            let outcome = allocate(&mut left, &slices);
            // Replaying the grants one by one: each fits in what was left, each refusal names a
            // variant that really was short at that moment.
            let mut model = start.clone();
            for (lines, result) in orders.iter().zip(&outcome) {
                match result {
                    Ok(()) => for (v, q) in lines {
                        let have = model.get_mut(v).unwrap();
                        prop_assert!(*have >= *q);
                        *have -= q;
                    },
                    Err(short) => {
                        let wanted = lines.iter().find(|(v, _)| v == short).unwrap().1;
                        prop_assert!(model[short] < wanted);
                        prop_assert!(lines.iter().all(|(v, q)| v >= short || model[v] >= *q));
                    }
                }
            }
            prop_assert_eq!(&left, &model);
            prop_assert!(left.values().all(|&n| n >= 0));
        }
    }

    #[test]
    fn pasted_keys_are_the_trimmed_lines_and_an_add_takes_1_to_1000_of_at_most_4096_characters() {
        assert_eq!(pasted_keys("  A-1 \n\n\tB-2\r\n   \n"), vec!["A-1".to_owned(), "B-2".to_owned()]);
        assert!(!acceptable_items(&[]));
        assert!(acceptable_items(&["k".repeat(MAX_ITEM_CHARS)]));
        assert!(!acceptable_items(&["k".repeat(MAX_ITEM_CHARS + 1)]));
        assert_eq!(unacceptable_item(&["a".into(), " ".into()]), Some(1));
        assert!(acceptable_items(&vec!["k".to_owned(); MAX_ITEMS_PER_ADD]));
        assert!(!acceptable_items(&vec!["k".to_owned(); MAX_ITEMS_PER_ADD + 1]));
    }
}
