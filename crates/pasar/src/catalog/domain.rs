//! The catalog's domain types and pure rules. Each type parses once at the edge (serde calls
//! the parser), so the service and the store hold only valid values.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::identity::Role;
use crate::identity::domain::Text;
use crate::ids::{CategoryId, ProductId, UserId, VariantId};
use crate::money::{Currency, Money};

/// A product's name as shoppers see it.
pub type ProductName = Text<200>;
/// A category's or brand's name.
pub type CatalogName = Text<100>;

/// Whether a product ships as a parcel or is delivered as data (keys, accounts, files).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProductKind {
    Physical,
    Digital,
}

impl ProductKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProductKind::Physical => "physical",
            ProductKind::Digital => "digital",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [ProductKind::Physical, ProductKind::Digital].into_iter().find(|k| k.as_str() == text)
    }
}

/// Where a product is in its life: only `active` products are shown and sold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProductStatus {
    Draft,
    Active,
    Archived,
}

impl ProductStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProductStatus::Draft => "draft",
            ProductStatus::Active => "active",
            ProductStatus::Archived => "archived",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [ProductStatus::Draft, ProductStatus::Active, ProductStatus::Archived]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// A stock keeping unit: 1 to 64 characters of `A-Z a-z 0-9 . _ -`, unique across the shop.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, pattern = "^[A-Za-z0-9._-]{1,64}$", example = "TSHIRT-BLK-M")]
pub struct Sku(String);

impl Sku {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let valid = (1..=64).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err("must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' or '-'")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Sku {
    type Error = &'static str;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<Sku> for String {
    fn from(sku: Sku) -> Self {
        sku.0
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A URL-friendly name: lower-case ASCII letters and digits in words joined by single dashes,
/// at most 120 characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Slug(String);

impl utoipa::PartialSchema for Slug {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[a-z0-9]+(-[a-z0-9]+)*$"))
            .min_length(Some(1))
            .max_length(Some(Self::MAX))
            .examples(["black-t-shirt"])
            .into()
    }
}

impl ToSchema for Slug {}

/// Room left below the slug limit for a `-n` suffix.
const SLUG_BASE_MAX: usize = 110;

impl Slug {
    pub const MAX: usize = 120;

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let valid = (1..=Self::MAX).contains(&raw.len())
            && raw.split('-').all(|word| !word.is_empty())
            && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(
                "must be lower-case letters and digits in words joined by single dashes, at most 120 characters",
            )
        }
    }

    /// The slug a name suggests: common accented Latin letters lose their accents, every other
    /// run of characters that is not a letter or digit becomes one dash. A name with nothing
    /// usable (all punctuation, or a script without a Latin spelling) falls back to `fallback`.
    pub fn from_name(name: &str, fallback: &'static str) -> Self {
        let mut slug = String::new();
        let mut pending_dash = false;
        for c in name.chars().flat_map(char::to_lowercase) {
            match plain_letters(c) {
                Some(letters) => {
                    if pending_dash && !slug.is_empty() {
                        slug.push('-');
                    }
                    pending_dash = false;
                    slug.push_str(letters);
                }
                None => pending_dash = true,
            }
            if slug.len() >= SLUG_BASE_MAX {
                break;
            }
        }
        slug.truncate(SLUG_BASE_MAX);
        let slug = slug.trim_end_matches('-');
        if slug.is_empty() { Self(fallback.to_owned()) } else { Self(slug.to_owned()) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The ASCII spelling of a lower-case letter or digit, or None for a separator.
fn plain_letters(c: char) -> Option<&'static str> {
    const ASCII: &str = "abcdefghijklmnopqrstuvwxyz0123456789";
    if c.is_ascii_alphanumeric() {
        let at = ASCII.find(c)?;
        return Some(&ASCII[at..at + 1]);
    }
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' => "a",
        'æ' => "ae",
        'ç' | 'č' => "c",
        'è' | 'é' | 'ê' | 'ë' | 'ē' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'ī' => "i",
        'ñ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' => "o",
        'ù' | 'ú' | 'û' | 'ü' | 'ū' => "u",
        'ý' | 'ÿ' => "y",
        'š' => "s",
        'ž' => "z",
        'ß' => "ss",
        _ => return None,
    })
}

impl TryFrom<String> for Slug {
    type Error = &'static str;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<Slug> for String {
    fn from(slug: Slug) -> Self {
        slug.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The first of `base`, `base-2`, `base-3`, … that is not in `taken`.
pub fn free_slug(base: &Slug, taken: &HashSet<String>) -> Slug {
    if !taken.contains(base.as_str()) {
        return base.clone();
    }
    (2u64..)
        .map(|n| format!("{base}-{n}"))
        .find(|candidate| !taken.contains(candidate))
        .map(Slug)
        .expect("a finite set leaves some suffix free")
}

/// Long-form text such as a product description: up to 10,000 characters, line breaks and
/// tabs allowed, other control characters not; may be empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Description(String);

impl utoipa::PartialSchema for Description {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "At most 10,000 characters; line breaks and tabs, no other control characters.",
            ))
            .max_length(Some(Self::MAX))
            .pattern(Some(r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"))
            .into()
    }
}

impl ToSchema for Description {}

impl Description {
    pub const MAX: usize = 10_000;

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

impl TryFrom<String> for Description {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        Self::parse(&raw)
    }
}

impl From<Description> for String {
    fn from(text: Description) -> Self {
        text.0
    }
}

/// What sets a variant apart from its siblings, such as `{"size": "M", "colour": "red"}`: at
/// most 10 options, names up to 50 characters, values up to 100.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "BTreeMap<String, String>", into = "BTreeMap<String, String>")]
pub struct VariantOptions(BTreeMap<String, String>);

impl utoipa::PartialSchema for VariantOptions {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
        let name = match Text::<50>::schema() {
            utoipa::openapi::RefOr::T(schema) => schema,
            utoipa::openapi::RefOr::Ref(_) => unreachable!("Text's schema is inline"),
        };
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .max_properties(Some(Self::MAX_OPTIONS))
            .property_names(Some(name))
            .additional_properties(Some(AdditionalProperties::RefOr(Text::<100>::schema())))
            .examples([serde_json::json!({"size": "M", "colour": "red"})])
            .into()
    }
}

impl ToSchema for VariantOptions {}

impl VariantOptions {
    pub const MAX_OPTIONS: usize = 10;

    pub fn parse(raw: BTreeMap<String, String>) -> Result<Self, String> {
        if raw.len() > Self::MAX_OPTIONS {
            return Err(format!("at most {} options", Self::MAX_OPTIONS));
        }
        let mut options = BTreeMap::new();
        for (name, value) in raw {
            let name = Text::<50>::parse(&name).map_err(|e| format!("option name {name:?} {e}"))?;
            let value = Text::<100>::parse(&value)
                .map_err(|e| format!("option {name:?}: value {e}", name = name.as_str()))?;
            if options.insert(String::from(name), String::from(value)).is_some() {
                return Err("option names must differ after trimming spaces".into());
            }
        }
        Ok(Self(options))
    }

    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// The options as stored: a JSON object with its keys in order.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).expect("a map of strings serialises")
    }

    pub fn from_json(text: &str) -> Result<Self, String> {
        let map: BTreeMap<String, String> = serde_json::from_str(text).map_err(|e| e.to_string())?;
        Self::parse(map)
    }
}

impl TryFrom<BTreeMap<String, String>> for VariantOptions {
    type Error = String;
    fn try_from(raw: BTreeMap<String, String>) -> Result<Self, String> {
        Self::parse(raw)
    }
}

impl From<VariantOptions> for BTreeMap<String, String> {
    fn from(options: VariantOptions) -> Self {
        options.0
    }
}

/// A price a variant sells for: positive, and small enough that order totals cannot overflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Money", into = "Money")]
pub struct Price(Money);

impl utoipa::PartialSchema for Price {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::{ObjectBuilder, schema::Type};
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some("Money that is a price: `amount` from 1 to 10^15 minor units."))
            .property(
                "amount",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .maximum(Some(Self::MAX_AMOUNT))
                    .examples([150000]),
            )
            .property("currency", <crate::money::Currency as utoipa::PartialSchema>::schema())
            .required("amount")
            .required("currency")
            .additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::FreeForm(false)))
            .into()
    }
}

impl ToSchema for Price {}

impl Price {
    pub const MAX_AMOUNT: i64 = Money::LIMIT;

    pub fn parse(money: Money) -> Result<Self, &'static str> {
        if money.amount <= 0 {
            Err("amount must be positive")
        } else if money.amount > Self::MAX_AMOUNT {
            Err("amount is too large")
        } else {
            Ok(Self(money))
        }
    }

    pub fn money(self) -> Money {
        self.0
    }

    pub fn amount(self) -> i64 {
        self.0.amount
    }

    pub fn currency(self) -> Currency {
        self.0.currency
    }
}

impl TryFrom<Money> for Price {
    type Error = &'static str;
    fn try_from(money: Money) -> Result<Self, Self::Error> {
        Self::parse(money)
    }
}

impl From<Price> for Money {
    fn from(price: Price) -> Self {
        price.0
    }
}

/// A parcel's weight: 1 gram to 1,000 kilograms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct WeightGrams(u32);

impl utoipa::PartialSchema for WeightGrams {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Integer)
            .description(Some("A parcel's weight: 1 gram to 1,000 kilograms."))
            .minimum(Some(1))
            .maximum(Some(1_000_000))
            .examples([250])
            .into()
    }
}

impl ToSchema for WeightGrams {}

impl WeightGrams {
    pub fn parse(grams: u32) -> Result<Self, &'static str> {
        if (1..=1_000_000).contains(&grams) { Ok(Self(grams)) } else { Err("must be 1 to 1000000 grams") }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for WeightGrams {
    type Error = &'static str;
    fn try_from(grams: u32) -> Result<Self, Self::Error> {
        Self::parse(grams)
    }
}

impl From<WeightGrams> for u32 {
    fn from(weight: WeightGrams) -> Self {
        weight.0
    }
}

/// A refused change, named by the request field it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Refused {
    pub field: String,
    pub message: String,
}

impl Refused {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// A variant's prices as a pair: the reseller price, when there is one, is in the price's
/// currency.
pub fn check_reseller_price(price: Price, reseller_price: Option<Price>, field: &str) -> Result<(), Refused> {
    match reseller_price {
        Some(reseller) if reseller.currency() != price.currency() => {
            Err(Refused::new(field, format!("must be in {}, the currency of the price", price.currency())))
        }
        _ => Ok(()),
    }
}

/// The variants of one product, as a request lists them: at least one, all in one currency,
/// no SKU twice, no two with the same options. Returns the product's currency.
pub fn check_new_variants<'a>(
    variants: impl IntoIterator<Item = (&'a Sku, &'a VariantOptions, Price, Option<Price>)>,
) -> Result<Currency, Refused> {
    let mut currency = None;
    let mut skus = HashSet::new();
    let mut options_seen = HashSet::new();
    for (index, (sku, options, price, reseller_price)) in variants.into_iter().enumerate() {
        let field = |name: &str| format!("variants[{index}].{name}");
        let expected = *currency.get_or_insert(price.currency());
        if price.currency() != expected {
            return Err(Refused::new(
                field("price.currency"),
                format!("every variant of a product is priced in one currency ({expected})"),
            ));
        }
        check_reseller_price(price, reseller_price, &field("reseller_price.currency"))?;
        if !skus.insert(sku.as_str()) {
            return Err(Refused::new(field("sku"), format!("SKU {sku} appears twice in this request")));
        }
        if !options_seen.insert(options) {
            return Err(Refused::new(
                field("options"),
                "another variant of this product has the same options",
            ));
        }
    }
    currency.ok_or_else(|| Refused::new("variants", "a product needs at least one variant"))
}

/// True when making `new_parent` the parent of `category` would put the category inside its
/// own subtree. `parents` maps every category to its parent.
pub fn would_cycle(
    category: CategoryId,
    new_parent: CategoryId,
    parents: &HashMap<CategoryId, Option<CategoryId>>,
) -> bool {
    let mut at = Some(new_parent);
    // Bounded by the number of categories, so a tree already broken cannot loop forever.
    for _ in 0..=parents.len() {
        match at {
            None => return false,
            Some(id) if id == category => return true,
            Some(id) => at = parents.get(&id).copied().flatten(),
        }
    }
    true
}

/// A variant as it sells right now: its product is active. What cart and checkout price
/// lines with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SaleVariant {
    pub id: VariantId,
    pub product_id: ProductId,
    pub product_name: String,
    pub sku: String,
    pub kind: ProductKind,
    pub options: BTreeMap<String, String>,
    pub price: Money,
    pub reseller_price: Option<Money>,
    pub seller_id: Option<UserId>,
    /// The product's category (vouchers may apply to categories).
    pub category_id: CategoryId,
    /// What one unit weighs, when known (a parcel's weight for shipping rates).
    #[serde(default)]
    pub weight_grams: Option<u32>,
}

impl SaleVariant {
    /// The price this buyer pays: the reseller price for resellers when set, else the price.
    pub fn price_for(&self, role: Role) -> Money {
        match (role, self.reseller_price) {
            (Role::Reseller, Some(reseller_price)) => reseller_price,
            _ => self.price,
        }
    }
}

/// How a product listing is ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProductSort {
    /// Newest first.
    #[default]
    Newest,
    /// Cheapest first, by the lowest variant price.
    PriceAsc,
    /// Dearest first, by the lowest variant price.
    PriceDesc,
    /// By name, A to Z.
    Name,
}

/// Where a listing page ends: the sort key of its last product and that product's id, so the
/// next page starts right after it however many products were added meanwhile. Tagged with
/// the sort, so a cursor from one order is refused by another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProductCursor {
    Newest { id: ProductId },
    Price { sort: ProductSort, price: i64, id: ProductId },
    Name { name: String, id: ProductId },
}

impl ProductCursor {
    pub fn sort(&self) -> ProductSort {
        match self {
            ProductCursor::Newest { .. } => ProductSort::Newest,
            ProductCursor::Price { sort, .. } => *sort,
            ProductCursor::Name { .. } => ProductSort::Name,
        }
    }
}

impl fmt::Display for ProductCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProductCursor::Newest { id } => write!(f, "newest:{id}"),
            ProductCursor::Price { sort: ProductSort::PriceDesc, price, id } => {
                write!(f, "price_desc:{price}:{id}")
            }
            ProductCursor::Price { price, id, .. } => write!(f, "price_asc:{price}:{id}"),
            ProductCursor::Name { name, id } => write!(f, "name:{name}:{id}"),
        }
    }
}

impl FromStr for ProductCursor {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        let (rest, id) = text.rsplit_once(':').ok_or(())?;
        let id: ProductId = id.parse().map_err(|_| ())?;
        let (tag, key) = rest.split_once(':').unwrap_or((rest, ""));
        match tag {
            "newest" if key.is_empty() && !rest.contains(':') => Ok(ProductCursor::Newest { id }),
            "price_asc" | "price_desc" => {
                let sort = if tag == "price_asc" { ProductSort::PriceAsc } else { ProductSort::PriceDesc };
                Ok(ProductCursor::Price { sort, price: key.parse().map_err(|_| ())?, id })
            }
            "name" => Ok(ProductCursor::Name { name: key.to_owned(), id }),
            _ => Err(()),
        }
    }
}

/// The key products are sorted and searched by name with: the name in lower case, so order
/// and search ignore case on both databases.
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// A LIKE pattern that finds `text` anywhere, with `%`, `_` and `\` taken literally (the
/// query says `ESCAPE '\'`).
pub fn contains_pattern(text: &str) -> String {
    let escaped = name_key(text).replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn idr(amount: i64) -> Price {
        Price::parse(Money::new(amount, Currency::IDR)).unwrap()
    }

    #[test]
    fn skus_are_short_and_plain() {
        assert!(Sku::parse("TSHIRT-BLK_M.2").is_ok());
        assert!(Sku::parse("").is_err());
        assert!(Sku::parse("has space").is_err());
        assert!(Sku::parse("kaos/m").is_err());
        assert!(Sku::parse(&"x".repeat(65)).is_err());
        assert!(Sku::parse(&"x".repeat(64)).is_ok());
    }

    #[test]
    fn a_slug_is_made_from_a_name() {
        assert_eq!(Slug::from_name("Kaos Polos — Hitam!", "product").as_str(), "kaos-polos-hitam");
        assert_eq!(Slug::from_name("  Café Crème  ", "product").as_str(), "cafe-creme");
        assert_eq!(Slug::from_name("100% Cotton", "product").as_str(), "100-cotton");
        assert_eq!(Slug::from_name("！？", "product").as_str(), "product");
    }

    #[test]
    fn a_taken_slug_gets_the_first_free_number() {
        let base = Slug::parse("kaos").unwrap();
        let taken: HashSet<String> = ["kaos", "kaos-2", "kaos-4"].map(String::from).into();
        assert_eq!(free_slug(&base, &taken).as_str(), "kaos-3");
        assert_eq!(free_slug(&base, &HashSet::new()).as_str(), "kaos");
    }

    #[test]
    fn given_slugs_must_already_be_slugs() {
        assert!(Slug::parse("black-t-shirt").is_ok());
        for bad in ["", "Black", "a--b", "-a", "a-", "a b", "a_b"] {
            assert!(Slug::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn options_are_bounded_and_trimmed() {
        let options = VariantOptions::parse([(" size ".into(), " M ".into())].into()).unwrap();
        assert_eq!(options.to_json(), r#"{"size":"M"}"#);
        let many: BTreeMap<String, String> = (0..11).map(|i| (format!("k{i}"), "v".into())).collect();
        assert!(VariantOptions::parse(many).is_err());
        assert!(VariantOptions::parse([("size".into(), "".into())].into()).is_err());
        assert!(
            VariantOptions::parse([("size".into(), "M".into()), (" size".into(), "L".into())].into())
                .is_err()
        );
    }

    #[test]
    fn prices_are_positive() {
        assert!(Price::parse(Money::new(0, Currency::IDR)).is_err());
        assert!(Price::parse(Money::new(-5, Currency::IDR)).is_err());
        assert!(Price::parse(Money::new(Price::MAX_AMOUNT + 1, Currency::IDR)).is_err());
        assert_eq!(idr(150_000).amount(), 150_000);
    }

    #[test]
    fn variants_of_one_product_share_a_currency_and_differ() {
        let (a, b) = (Sku::parse("A").unwrap(), Sku::parse("B").unwrap());
        let (m, l) = (
            VariantOptions::parse([("size".into(), "M".into())].into()).unwrap(),
            VariantOptions::parse([("size".into(), "L".into())].into()).unwrap(),
        );
        let usd = Price::parse(Money::new(100, Currency::USD)).unwrap();
        assert_eq!(
            check_new_variants([(&a, &m, idr(1), None), (&b, &l, idr(2), Some(idr(1)))]),
            Ok(Currency::IDR)
        );
        assert_eq!(
            check_new_variants([(&a, &m, idr(1), None), (&b, &l, usd, None)]).unwrap_err().field,
            "variants[1].price.currency"
        );
        assert_eq!(
            check_new_variants([(&a, &m, idr(1), Some(usd))]).unwrap_err().field,
            "variants[0].reseller_price.currency"
        );
        assert_eq!(
            check_new_variants([(&a, &m, idr(1), None), (&a, &l, idr(1), None)]).unwrap_err().field,
            "variants[1].sku"
        );
        assert_eq!(
            check_new_variants([(&a, &m, idr(1), None), (&b, &m, idr(1), None)]).unwrap_err().field,
            "variants[1].options"
        );
        assert_eq!(check_new_variants([]).unwrap_err().field, "variants");
    }

    #[test]
    fn a_category_cannot_move_under_itself_or_its_descendants() {
        let (root, child, grandchild, other) =
            (CategoryId::new(), CategoryId::new(), CategoryId::new(), CategoryId::new());
        let parents: HashMap<_, _> =
            [(root, None), (child, Some(root)), (grandchild, Some(child)), (other, None)].into();
        assert!(would_cycle(root, root, &parents));
        assert!(would_cycle(root, grandchild, &parents));
        assert!(would_cycle(child, grandchild, &parents));
        assert!(!would_cycle(grandchild, root, &parents));
        assert!(!would_cycle(root, other, &parents));
    }

    #[test]
    fn resellers_pay_the_reseller_price_when_there_is_one() {
        let variant = SaleVariant {
            id: VariantId::new(),
            product_id: ProductId::new(),
            product_name: "Kaos".into(),
            sku: "KAOS-M".into(),
            kind: ProductKind::Physical,
            options: BTreeMap::new(),
            price: Money::new(150_000, Currency::IDR),
            reseller_price: Some(Money::new(120_000, Currency::IDR)),
            seller_id: None,
            category_id: CategoryId::new(),
            weight_grams: Some(200),
        };
        assert_eq!(variant.price_for(Role::Reseller).amount, 120_000);
        for role in [Role::Customer, Role::Seller, Role::Admin, Role::SuperAdmin] {
            assert_eq!(variant.price_for(role).amount, 150_000);
        }
        let plain = SaleVariant { reseller_price: None, ..variant };
        assert_eq!(plain.price_for(Role::Reseller).amount, 150_000);
    }

    #[test]
    fn like_patterns_take_wildcards_literally() {
        assert_eq!(contains_pattern("50%_Off\\"), "%50\\%\\_off\\\\%");
    }

    #[test]
    fn cursors_from_other_sorts_or_garbage_are_refused() {
        let id = ProductId::new();
        assert!(format!("bogus:{id}").parse::<ProductCursor>().is_err());
        assert!(format!("price_asc:cheap:{id}").parse::<ProductCursor>().is_err());
        assert!(format!("newest:1:{id}").parse::<ProductCursor>().is_err());
        assert!("newest:prd_nope".parse::<ProductCursor>().is_err());
    }

    proptest! {
        #[test]
        fn every_generated_slug_parses(name in "\\PC{0,200}") {
            let slug = Slug::from_name(&name, "product");
            prop_assert_eq!(Slug::parse(slug.as_str()), Ok(slug.clone()));
            prop_assert!(slug.as_str().len() <= SLUG_BASE_MAX);
        }

        #[test]
        fn a_free_slug_is_never_taken_and_still_a_slug(taken in proptest::collection::hash_set(0u64..20, 0..20)) {
            let base = Slug::parse("kaos").unwrap();
            let taken: HashSet<String> =
                taken.into_iter().map(|n| if n < 2 { "kaos".to_owned() } else { format!("kaos-{n}") }).collect();
            let free = free_slug(&base, &taken);
            prop_assert!(!taken.contains(free.as_str()));
            prop_assert!(Slug::parse(free.as_str()).is_ok());
        }

        #[test]
        fn a_cursor_round_trips_through_its_text(name in "\\PC{0,60}", price in any::<i64>(), which in 0usize..4) {
            let id = ProductId::new();
            let cursor = match which {
                0 => ProductCursor::Newest { id },
                1 => ProductCursor::Price { sort: ProductSort::PriceAsc, price, id },
                2 => ProductCursor::Price { sort: ProductSort::PriceDesc, price, id },
                _ => ProductCursor::Name { name, id },
            };
            prop_assert_eq!(cursor.to_string().parse::<ProductCursor>(), Ok(cursor));
        }
    }
}
