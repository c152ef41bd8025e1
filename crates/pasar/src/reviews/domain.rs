//! Reviews' types and pure rules: who is a verified buyer of a line, the edit window, who may
//! reply, the star histogram and the rating it adds up to, and the listing orders with their
//! cursors. No I/O here.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::identity::Role;
use crate::ids::{MediaId, OrderLineId, ProductId, ReviewId, UserId};
use crate::orders::{FulfilmentStatus, Order, OrderStatus};
use crate::rating::Rating;
use crate::time::Timestamp;

/// How long after writing it a buyer may still edit a review.
pub const EDIT_WINDOW: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// Most images one review may show.
pub const MAX_IMAGES: usize = 5;

/// One to five stars.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Stars(u8);

impl Stars {
    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<i64> for Stars {
    type Error = String;
    fn try_from(stars: i64) -> Result<Self, String> {
        match u8::try_from(stars) {
            Ok(stars @ 1..=5) => Ok(Self(stars)),
            _ => Err("must be a whole number of stars from 1 to 5".into()),
        }
    }
}

impl From<Stars> for i64 {
    fn from(stars: Stars) -> i64 {
        i64::from(stars.0)
    }
}

impl utoipa::PartialSchema for Stars {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Integer)
            .minimum(Some(1))
            .maximum(Some(5))
            .into()
    }
}

impl ToSchema for Stars {}

/// What a buyer writes: at most 2,000 characters, line breaks allowed, no other control
/// characters; may be empty (stars alone are a review).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ReviewText(String);

impl ReviewText {
    pub const MAX: usize = 2_000;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let text = raw.trim();
        if text.chars().count() > Self::MAX {
            return Err(format!("must be at most {} characters", Self::MAX));
        }
        if text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
            return Err("must not contain control characters other than line breaks and tabs".into());
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ReviewText {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        Self::parse(&raw)
    }
}

impl From<ReviewText> for String {
    fn from(text: ReviewText) -> String {
        text.0
    }
}

impl utoipa::PartialSchema for ReviewText {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("At most 2,000 characters; line breaks and tabs, no other control characters."))
            .max_length(Some(Self::MAX))
            .pattern(Some(r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"))
            .into()
    }
}

impl ToSchema for ReviewText {}

/// Whether the line counts as delivered to its buyer, so it may be reviewed: its store's part
/// of the order was delivered (in a marketplace the other stores' parts may still be on their
/// way). An order written before orders had parts is delivered as a whole.
pub fn line_is_delivered(order: &Order, line: OrderLineId) -> bool {
    let Some(line) = order.lines.iter().find(|l| l.id == line) else { return false };
    match order.fulfilments.iter().find(|f| Some(f.id) == line.fulfilment_id) {
        Some(part) => part.status == FulfilmentStatus::Delivered,
        None => matches!(order.status, OrderStatus::Delivered | OrderStatus::Completed),
    }
}

/// Whether `buyer` may review `line` of `order`: it is their order and the line was delivered.
pub fn is_verified_buyer(order: &Order, line: OrderLineId, buyer: UserId) -> bool {
    order.buyer_id == buyer && line_is_delivered(order, line)
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("a review can be edited for 30 days after it was written")]
pub struct EditWindowClosed;

/// A review written at `created_at` may be edited until 30 days later (exclusive).
pub fn check_edit_window(created_at: Timestamp, now: Timestamp) -> Result<(), EditWindowClosed> {
    if now < created_at.plus(EDIT_WINDOW) { Ok(()) } else { Err(EditWindowClosed) }
}

/// Who answers for a product: its seller, or the shop's admins when the shop sells it itself.
pub fn may_reply(product_seller: Option<UserId>, caller: UserId, role: Role) -> bool {
    match product_seller {
        Some(seller) => role == Role::Seller && seller == caller,
        None => role.is_staff(),
    }
}

/// How many visible reviews gave each number of stars: `counts[0]` is one star.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Histogram {
    pub counts: [i64; 5],
}

impl Histogram {
    pub fn add(&mut self, stars: Stars, count: i64) {
        self.counts[usize::from(stars.get() - 1)] += count;
    }

    /// The stars added up and the number of reviews: what the rating is made of.
    pub fn sum_and_count(&self) -> (i64, i64) {
        let sum = self.counts.iter().zip(1..).map(|(count, stars)| count * stars).sum();
        (sum, self.counts.iter().sum())
    }

    pub fn rating(&self) -> Rating {
        let (sum, count) = self.sum_and_count();
        Rating::of(sum, count)
    }
}

/// The histogram as the API shows it: `{"1": n, …, "5": n}`.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
pub struct StarCounts {
    #[serde(rename = "1")]
    pub one: i64,
    #[serde(rename = "2")]
    pub two: i64,
    #[serde(rename = "3")]
    pub three: i64,
    #[serde(rename = "4")]
    pub four: i64,
    #[serde(rename = "5")]
    pub five: i64,
}

impl From<Histogram> for StarCounts {
    fn from(h: Histogram) -> Self {
        let [one, two, three, four, five] = h.counts;
        Self { one, two, three, four, five }
    }
}

/// How a product's reviews are listed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewSort {
    /// Newest first.
    #[default]
    Newest,
    /// Most stars first, newest first among equals.
    Highest,
    /// Fewest stars first, newest first among equals.
    Lowest,
    /// Reviews with images first, newest first within each.
    WithPhotos,
}

/// The position right after a review in a listing: the sort's key and the id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReviewCursor {
    Newest { id: ReviewId },
    Stars { sort: ReviewSort, stars: u8, id: ReviewId },
    Photos { with_photos: bool, id: ReviewId },
}

impl ReviewCursor {
    /// The position after a review with these keys in a listing sorted by `sort`.
    pub fn after(sort: ReviewSort, stars: Stars, with_photos: bool, id: ReviewId) -> Self {
        match sort {
            ReviewSort::Newest => Self::Newest { id },
            ReviewSort::Highest | ReviewSort::Lowest => Self::Stars { sort, stars: stars.get(), id },
            ReviewSort::WithPhotos => Self::Photos { with_photos, id },
        }
    }

    pub fn sort(self) -> ReviewSort {
        match self {
            Self::Newest { .. } => ReviewSort::Newest,
            Self::Stars { sort, .. } => sort,
            Self::Photos { .. } => ReviewSort::WithPhotos,
        }
    }
}

impl fmt::Display for ReviewCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Newest { id } => write!(f, "n:{id}"),
            Self::Stars { sort: ReviewSort::Lowest, stars, id } => write!(f, "l:{stars}:{id}"),
            Self::Stars { stars, id, .. } => write!(f, "h:{stars}:{id}"),
            Self::Photos { with_photos, id } => write!(f, "p:{}:{id}", u8::from(*with_photos)),
        }
    }
}

impl FromStr for ReviewCursor {
    type Err = ();
    fn from_str(text: &str) -> Result<Self, ()> {
        let parts: Vec<&str> = text.split(':').collect();
        let id = |text: &str| text.parse::<ReviewId>().map_err(|_| ());
        let stars = |text: &str| text.parse::<u8>().ok().filter(|s| (1..=5).contains(s)).ok_or(());
        match parts.as_slice() {
            ["n", at] => Ok(Self::Newest { id: id(at)? }),
            ["h", s, at] => Ok(Self::Stars { sort: ReviewSort::Highest, stars: stars(s)?, id: id(at)? }),
            ["l", s, at] => Ok(Self::Stars { sort: ReviewSort::Lowest, stars: stars(s)?, id: id(at)? }),
            ["p", "0", at] => Ok(Self::Photos { with_photos: false, id: id(at)? }),
            ["p", "1", at] => Ok(Self::Photos { with_photos: true, id: id(at)? }),
            _ => Err(()),
        }
    }
}

/// A review's author as others see them: a display name, never an email or an id.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ReviewAuthor {
    pub name: String,
}

/// An image on a review.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct ReviewImage {
    pub id: MediaId,
    /// Where the image is served, such as `/media/reviews/med_….jpg`.
    pub url: String,
    pub content_type: String,
    /// Bytes.
    pub size: u64,
}

/// The seller's (or the shop's) answer to a review.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ReviewReply {
    pub text: String,
    pub created_at: Timestamp,
}

/// A review as the API shows it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Review {
    pub id: ReviewId,
    pub product_id: ProductId,
    pub order_line_id: OrderLineId,
    pub author: ReviewAuthor,
    pub rating: Stars,
    pub text: String,
    pub images: Vec<ReviewImage>,
    /// The seller's answer, once given.
    pub reply: Option<ReviewReply>,
    /// Hidden by an admin: not listed and not counted in ratings.
    pub hidden: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The author, kept for the rules (edits, the event) and never shown.
    #[serde(skip)]
    pub author_id: UserId,
    /// The seller of the product when it was reviewed: the store whose rating it counts in.
    #[serde(skip)]
    pub seller_id: Option<UserId>,
    #[serde(skip)]
    pub hidden_reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{OrderId, VariantId};
    use crate::money::{Currency, Money};
    use proptest::prelude::*;

    fn order(status: OrderStatus, buyer: UserId, line: OrderLineId) -> Order {
        let idr = Currency::parse("IDR").unwrap();
        let money = Money::new(10_000, idr);
        Order {
            id: OrderId::new(),
            buyer_id: buyer,
            status,
            lines: vec![crate::orders::OrderLine {
                id: line,
                variant_id: VariantId::new(),
                product_id: ProductId::new(),
                product_name: "Kopi".into(),
                sku: "KOPI-1".into(),
                kind: crate::catalog::ProductKind::Physical,
                options: Default::default(),
                unit_price: money,
                quantity: 1,
                line_total: money,
                seller_id: None,
                fulfilment_id: None,
                platform_discount: Money::new(0, idr),
                store_discount: Money::new(0, idr),
                items: Vec::new(),
                files: Vec::new(),
            }],
            subtotal: money,
            discount: Money::new(0, idr),
            shipping: Money::new(0, idr),
            total: money,
            vouchers: Vec::new(),
            shipping_address: None,
            shipping_method: None,
            delivery_slot: None,
            tracking_number: None,
            refund_due: false,
            timeline: Vec::new(),
            fulfilments: Vec::new(),
            created_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
        }
    }

    /// `order` split into one store's part holding the line, in `part` status.
    fn in_a_part(mut order: Order, part: FulfilmentStatus) -> Order {
        let id = crate::ids::FulfilmentId::new();
        order.lines[0].fulfilment_id = Some(id);
        order.fulfilments.push(crate::orders::Fulfilment {
            id,
            seller_id: Some(UserId::new()),
            status: part,
            line_ids: vec![order.lines[0].id],
            tracking_number: None,
            carrier: None,
            delivered_at: None,
            timeline: Vec::new(),
            updated_at: Timestamp::from_millis(0),
        });
        order
    }

    #[test]
    fn a_line_is_delivered_when_its_stores_part_is_whatever_the_other_parts_do() {
        let (buyer, line) = (UserId::new(), OrderLineId::new());
        let shipped = order(OrderStatus::Shipped, buyer, line);
        assert!(is_verified_buyer(&in_a_part(shipped.clone(), FulfilmentStatus::Delivered), line, buyer));
        let delivered = order(OrderStatus::Delivered, buyer, line);
        assert!(!is_verified_buyer(&in_a_part(delivered, FulfilmentStatus::Cancelled), line, buyer));
        assert!(!is_verified_buyer(&in_a_part(shipped, FulfilmentStatus::Shipped), line, buyer));
    }

    #[test]
    fn only_the_buyer_of_a_delivered_or_completed_line_is_a_verified_buyer() {
        let (buyer, line) = (UserId::new(), OrderLineId::new());
        for status in OrderStatus::ALL {
            let verified = is_verified_buyer(&order(status, buyer, line), line, buyer);
            let expected = matches!(status, OrderStatus::Delivered | OrderStatus::Completed);
            assert_eq!(verified, expected, "{status}");
        }
        let delivered = order(OrderStatus::Delivered, buyer, line);
        assert!(!is_verified_buyer(&delivered, line, UserId::new()), "someone else's order");
        assert!(!is_verified_buyer(&delivered, OrderLineId::new(), buyer), "a line of another order");
    }

    #[test]
    fn a_review_can_be_edited_until_thirty_days_have_passed() {
        let written = Timestamp::from_millis(1_000_000);
        assert!(check_edit_window(written, written).is_ok());
        assert!(check_edit_window(written, written.plus(EDIT_WINDOW - Duration::from_millis(1))).is_ok());
        assert_eq!(check_edit_window(written, written.plus(EDIT_WINDOW)), Err(EditWindowClosed));
    }

    #[test]
    fn the_seller_replies_for_its_products_and_admins_for_the_shops_own() {
        let (seller, other) = (UserId::new(), UserId::new());
        assert!(may_reply(Some(seller), seller, Role::Seller));
        assert!(!may_reply(Some(seller), other, Role::Seller), "another store");
        assert!(!may_reply(Some(seller), other, Role::Admin), "a seller's product is the seller's to answer");
        assert!(!may_reply(Some(seller), seller, Role::Customer), "no longer a seller");
        assert!(may_reply(None, other, Role::Admin));
        assert!(may_reply(None, other, Role::SuperAdmin));
        assert!(!may_reply(None, other, Role::Seller));
        assert!(!may_reply(None, other, Role::Customer));
    }

    #[test]
    fn stars_are_whole_numbers_from_one_to_five() {
        assert!(Stars::try_from(0).is_err());
        assert!(Stars::try_from(6).is_err());
        assert!(Stars::try_from(-1).is_err());
        assert_eq!(Stars::try_from(5).map(Stars::get), Ok(5));
        assert!(serde_json::from_str::<Stars>("4.5").is_err());
    }

    #[test]
    fn review_text_is_bounded_and_keeps_line_breaks() {
        assert_eq!(ReviewText::parse("  Enak!\nMantap  ").unwrap().as_str(), "Enak!\nMantap");
        assert!(ReviewText::parse("").is_ok());
        assert!(ReviewText::parse(&"a".repeat(ReviewText::MAX)).is_ok());
        assert!(ReviewText::parse(&"a".repeat(ReviewText::MAX + 1)).is_err());
        assert!(ReviewText::parse("bell\u{7}").is_err());
    }

    #[test]
    fn the_histogram_adds_up_to_the_rating() {
        let mut h = Histogram::default();
        for stars in [5, 5, 4, 1] {
            h.add(Stars::try_from(stars).unwrap(), 1);
        }
        assert_eq!(h.sum_and_count(), (15, 4));
        assert_eq!((h.rating().average, h.rating().count), (3.75, 4));
        assert_eq!(StarCounts::from(h).five, 2);
    }

    fn any_sort() -> impl Strategy<Value = ReviewSort> {
        prop_oneof![
            Just(ReviewSort::Newest),
            Just(ReviewSort::Highest),
            Just(ReviewSort::Lowest),
            Just(ReviewSort::WithPhotos)
        ]
    }

    proptest! {
        #[test]
        fn a_cursor_round_trips_and_keeps_its_sort(sort in any_sort(), stars in 1i64..=5, photos: bool) {
            let cursor = ReviewCursor::after(sort, Stars::try_from(stars).unwrap(), photos, ReviewId::new());
            let parsed: ReviewCursor = cursor.to_string().parse().unwrap();
            prop_assert_eq!(parsed, cursor);
            prop_assert_eq!(parsed.sort(), sort);
        }

        #[test]
        fn the_rating_of_a_histogram_is_its_exact_mean(counts in proptest::array::uniform5(0i64..1000)) {
            let h = Histogram { counts };
            let (sum, count) = h.sum_and_count();
            let rating = h.rating();
            prop_assert_eq!(rating.count, count);
            if count > 0 {
                let exact = sum as f64 / count as f64;
                prop_assert!((rating.average - exact).abs() <= 0.005 + 1e-9);
                prop_assert!((1.0..=5.0).contains(&rating.average));
            } else {
                prop_assert_eq!(rating.average, 0.0);
            }
        }
    }
}
