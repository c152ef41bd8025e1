//! Shipping's rules, with no I/O: which zone an address falls in (the most specific one), and
//! what a method's rate charges for a parcel.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{ShippingMethodId, ShippingZoneId, UserId};
use crate::money::{Currency, Money};

/// Where a parcel goes, as far as zones care.
#[derive(Clone, Debug, PartialEq)]
pub struct Destination {
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
    pub postal_code: String,
    pub coordinates: Option<Coordinates>,
}

/// A point on the map (WGS 84 degrees).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Coordinates {
    #[schema(minimum = -90, maximum = 90)]
    pub lat: f64,
    #[schema(minimum = -180, maximum = 180)]
    pub lng: f64,
}

impl Coordinates {
    pub fn is_valid(&self) -> bool {
        (-90.0..=90.0).contains(&self.lat) && (-180.0..=180.0).contains(&self.lng)
    }
}

/// Postal codes from `from` to `to`, both included, compared as numbers of the same length
/// (`10110` to `10199`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostalRange {
    pub from: String,
    pub to: String,
}

/// A delivery zone: a country, narrowed by postal-code prefixes or ranges, or by an area on
/// the map. An address matches the most specific zone that contains it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Zone {
    pub id: ShippingZoneId,
    pub name: String,
    pub country: String,
    pub postal_prefixes: Vec<String>,
    pub postal_ranges: Vec<PostalRange>,
    /// The area's outer ring as [lng, lat] pairs (a GeoJSON Polygon's first ring).
    #[schema(value_type = Option<Vec<Vec<f64>>>)]
    pub area: Option<Vec<[f64; 2]>>,
}

/// How closely a zone fits an address: an area beats postal codes, which beat the whole
/// country; among postal rules, the one covering fewer codes wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fit {
    Country,
    /// `Reverse` of the number of postal codes the matching rule covers.
    Postal(std::cmp::Reverse<u128>),
    Area,
}

impl Zone {
    /// How this zone fits `to`, or None when the address is outside it.
    pub fn fit(&self, to: &Destination) -> Option<Fit> {
        if self.country != to.country {
            return None;
        }
        if let Some(area) = &self.area {
            let inside = to.coordinates.is_some_and(|point| contains(area, point));
            return inside.then_some(Fit::Area);
        }
        if self.postal_prefixes.is_empty() && self.postal_ranges.is_empty() {
            return Some(Fit::Country);
        }
        let code = normalise_postal(&to.postal_code);
        let digits = code.len() as u32;
        let by_prefix = self
            .postal_prefixes
            .iter()
            .filter(|prefix| code.starts_with(prefix.as_str()))
            .map(|prefix| 10u128.saturating_pow(digits.saturating_sub(prefix.len() as u32)));
        let by_range = self.postal_ranges.iter().filter_map(|range| range_width(range, &code));
        by_prefix.chain(by_range).min().map(|covered| Fit::Postal(std::cmp::Reverse(covered)))
    }
}

/// The zone that fits `to` most closely (the oldest one on a tie).
pub fn zone_for<'a>(zones: &'a [Zone], to: &Destination) -> Option<&'a Zone> {
    zones
        .iter()
        .filter_map(|zone| zone.fit(to).map(|fit| (fit, zone)))
        .max_by(|(a, za), (b, zb)| a.cmp(b).then_with(|| zb.id.cmp(&za.id)))
        .map(|(_, zone)| zone)
}

/// Postal codes are compared without spaces or dashes, upper case (`100-0001` is `1000001`).
pub fn normalise_postal(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect()
}

fn range_width(range: &PostalRange, code: &str) -> Option<u128> {
    let (from, to) = (normalise_postal(&range.from), normalise_postal(&range.to));
    if from.len() != code.len() || to.len() != code.len() {
        return None;
    }
    let (from, to, code): (u128, u128, u128) = (from.parse().ok()?, to.parse().ok()?, code.parse().ok()?);
    (from <= code && code <= to).then(|| to - from + 1)
}

/// Whether `point` lies inside the ring (boundary included), by the `geo` crate's test.
fn contains(ring: &[[f64; 2]], point: Coordinates) -> bool {
    use geo::{Contains, Intersects};
    let polygon = geo::Polygon::new(ring.iter().map(|&[x, y]| geo::coord! { x: x, y: y }).collect(), vec![]);
    let point = geo::Point::new(point.lng, point.lat);
    polygon.contains(&point) || polygon.intersects(&point)
}

/// Checks a zone's rules once, at the edge: postal rules are digits and letters, ranges run
/// low to high with codes of one length, and an area is a closed ring of at least 4 valid
/// points (GeoJSON's rule).
pub fn check_zone_rules(
    postal_prefixes: &[String],
    postal_ranges: &[PostalRange],
    area: Option<&[[f64; 2]]>,
) -> Result<(), String> {
    if area.is_some() && !(postal_prefixes.is_empty() && postal_ranges.is_empty()) {
        return Err("a zone is an area or postal codes, not both".into());
    }
    for prefix in postal_prefixes {
        if prefix.is_empty() || prefix.len() > 12 || normalise_postal(prefix) != *prefix {
            return Err(format!("postal prefix {prefix:?} must be 1 to 12 digits or capital letters"));
        }
    }
    for range in postal_ranges {
        let (from, to) = (normalise_postal(&range.from), normalise_postal(&range.to));
        let numbers = (from.parse::<u128>(), to.parse::<u128>());
        match numbers {
            (Ok(low), Ok(high))
                if from.len() == to.len() && !from.is_empty() && from.len() <= 12 && low <= high => {}
            _ => {
                return Err(format!(
                    "postal range {}–{} must be two numeric codes of one length, low to high",
                    range.from, range.to
                ));
            }
        }
    }
    if let Some(ring) = area {
        let valid = ring.iter().all(|&[lng, lat]| Coordinates { lat, lng }.is_valid());
        if ring.len() < 4 || ring.first() != ring.last() || !valid || ring.len() > 10_000 {
            return Err("area must be a closed ring of 4 to 10,000 [lng, lat] points".into());
        }
    }
    Ok(())
}

/// A parcel as rates see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parcel {
    pub weight_grams: u64,
    /// What the goods in it cost the buyer.
    pub value: Money,
}

impl Parcel {
    /// The parcel of an order's lines: the physical ones' weights (a variant without a weight
    /// counts as nothing) and the value of everything bought; None when nothing is physical.
    pub fn of(lines: &[ParcelLine]) -> Option<Result<Parcel, crate::money::MoneyError>> {
        let physical = lines.iter().filter(|l| l.physical);
        let weight_grams =
            physical.clone().map(|l| u64::from(l.unit_weight_grams.unwrap_or(0)) * l.quantity).sum();
        physical.clone().next()?;
        let value =
            lines.iter().map(|l| l.total).try_fold(Money::zero(lines[0].total.currency), Money::checked_add);
        Some(value.map(|value| Parcel { weight_grams, value }))
    }

    /// The parcels of a marketplace order: each store ships its own lines, so each store with
    /// something physical makes one parcel (in the order the stores first appear).
    pub fn per_store(
        lines: &[ParcelLine],
    ) -> Result<Vec<(Option<UserId>, Parcel)>, crate::money::MoneyError> {
        let mut stores: Vec<Option<UserId>> = Vec::new();
        for line in lines {
            if !stores.contains(&line.store) {
                stores.push(line.store);
            }
        }
        let mut parcels = Vec::new();
        for store in stores {
            let own: Vec<ParcelLine> = lines.iter().filter(|l| l.store == store).copied().collect();
            if let Some(parcel) = Self::of(&own) {
                parcels.push((store, parcel?));
            }
        }
        Ok(parcels)
    }
}

/// A line of an order, as its parcel sees it.
#[derive(Clone, Copy, Debug)]
pub struct ParcelLine {
    pub physical: bool,
    pub unit_weight_grams: Option<u32>,
    pub quantity: u64,
    /// What the line costs the buyer.
    pub total: Money,
    /// The seller whose store ships it; none for the shop itself.
    pub store: Option<UserId>,
}

/// One step of a weight-based rate: parcels up to this weight cost `price`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeightTier {
    #[schema(minimum = 1)]
    pub up_to_grams: u64,
    pub price: Money,
}

/// One step of a value-based rate: orders worth at least `from` cost `price`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValueTier {
    pub from: Money,
    pub price: Money,
}

/// What a method charges.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Rate {
    /// One price for any parcel.
    Flat { price: Money },
    /// By the parcel's weight: the first tier it fits; heavier than the last tier is not
    /// carried by this method.
    ByWeight { tiers: Vec<WeightTier> },
    /// By the order's value: the tier with the highest `from` the value reaches.
    ByValue { tiers: Vec<ValueTier> },
}

impl Rate {
    /// Checks once, at the edge, that every price is in `currency`, not negative, and the
    /// tiers rise.
    pub fn check(&self, currency: Currency) -> Result<(), String> {
        let price_ok = |price: &Money| price.currency == currency && price.amount >= 0;
        let ok = match self {
            Rate::Flat { price } => price_ok(price),
            Rate::ByWeight { tiers } => {
                !tiers.is_empty()
                    && tiers.iter().all(|t| price_ok(&t.price) && t.up_to_grams > 0)
                    && tiers.windows(2).all(|w| w[0].up_to_grams < w[1].up_to_grams)
            }
            Rate::ByValue { tiers } => {
                !tiers.is_empty()
                    && tiers
                        .iter()
                        .all(|t| price_ok(&t.price) && t.from.currency == currency && t.from.amount >= 0)
                    && tiers.windows(2).all(|w| w[0].from.amount < w[1].from.amount)
            }
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "prices must be in {currency} and not negative, with at least one tier, tiers rising"
            ))
        }
    }

    /// What carrying `parcel` costs, or None when this rate does not carry it (too heavy, or
    /// worth less than the lowest value tier).
    pub fn price(&self, parcel: Parcel) -> Option<Money> {
        match self {
            Rate::Flat { price } => Some(*price),
            Rate::ByWeight { tiers } => {
                tiers.iter().find(|t| parcel.weight_grams <= t.up_to_grams).map(|t| t.price)
            }
            Rate::ByValue { tiers } => {
                tiers.iter().rev().find(|t| parcel.value.amount >= t.from.amount).map(|t| t.price)
            }
        }
    }
}

/// How long delivery takes, in days after dispatch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryDays {
    #[schema(minimum = 0, maximum = 90)]
    pub min: u32,
    #[schema(minimum = 0, maximum = 90)]
    pub max: u32,
}

/// Whether `code` may name a method: 1 to 40 lower-case letters, digits and `_`.
pub fn method_code_ok(code: &str) -> bool {
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_';
    !code.is_empty() && code.len() <= 40 && code.bytes().all(allowed)
}

/// A way to ship: its rate, the zones it serves, free delivery above a threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Method {
    pub id: ShippingMethodId,
    /// What a checkout names, such as `regular` or `same_day`.
    pub code: String,
    pub name: String,
    pub currency: Currency,
    pub rate: Rate,
    /// Orders worth at least this ship free.
    pub free_above: Option<Money>,
    /// The zones it serves.
    pub zone_ids: Vec<ShippingZoneId>,
    pub delivery_days: DeliveryDays,
    pub active: bool,
}

impl Method {
    /// What this method charges for `parcel` going to `zone`; None when it does not serve the
    /// zone, the currency, or the parcel.
    pub fn price(&self, zone: &Zone, parcel: Parcel) -> Option<Money> {
        if !self.active || !self.zone_ids.contains(&zone.id) || parcel.value.currency != self.currency {
            return None;
        }
        let price = self.rate.price(parcel)?;
        match self.free_above {
            Some(threshold) if parcel.value.amount >= threshold.amount => Some(Money::zero(self.currency)),
            _ => Some(price),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn zone(prefixes: &[&str], ranges: &[(&str, &str)], area: Option<Vec<[f64; 2]>>) -> Zone {
        Zone {
            id: ShippingZoneId::new(),
            name: "z".into(),
            country: "ID".into(),
            postal_prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
            postal_ranges: ranges
                .iter()
                .map(|(f, t)| PostalRange { from: f.to_string(), to: t.to_string() })
                .collect(),
            area,
        }
    }

    fn to(postal: &str, coordinates: Option<(f64, f64)>) -> Destination {
        Destination {
            country: "ID".into(),
            postal_code: postal.into(),
            coordinates: coordinates.map(|(lat, lng)| Coordinates { lat, lng }),
        }
    }

    fn idr(amount: i64) -> Money {
        Money::new(amount, Currency::IDR)
    }

    #[test]
    fn the_most_specific_zone_wins() {
        let country = zone(&[], &[], None);
        let jakarta = zone(&["1"], &[], None);
        let central = zone(&["101"], &[], None);
        let block = zone(&[], &[("10110", "10119")], None);
        let zones = vec![country.clone(), jakarta.clone(), central.clone(), block.clone()];
        assert_eq!(zone_for(&zones, &to("10115", None)).map(|z| z.id), Some(block.id));
        assert_eq!(zone_for(&zones, &to("10150", None)).map(|z| z.id), Some(central.id));
        assert_eq!(zone_for(&zones, &to("12000", None)).map(|z| z.id), Some(jakarta.id));
        assert_eq!(zone_for(&zones, &to("60111", None)).map(|z| z.id), Some(country.id));
        let elsewhere = Destination { country: "JP".into(), ..to("10115", None) };
        assert_eq!(zone_for(&zones, &elsewhere), None);
    }

    #[test]
    fn an_area_holds_the_points_inside_it_and_beats_postal_codes() {
        // A square around central Tokyo, [lng, lat].
        let square = vec![[139.6, 35.6], [139.9, 35.6], [139.9, 35.8], [139.6, 35.8], [139.6, 35.6]];
        let area = Zone { country: "JP".into(), ..zone(&[], &[], Some(square)) };
        let tokyo = Zone { country: "JP".into(), ..zone(&["1"], &[], None) };
        let zones = vec![tokyo.clone(), area.clone()];
        let inside = Destination { country: "JP".into(), ..to("100-0001", Some((35.68, 139.76))) };
        let outside = Destination { country: "JP".into(), ..to("100-0001", Some((35.9, 139.76))) };
        let unknown = Destination { country: "JP".into(), ..to("100-0001", None) };
        assert_eq!(zone_for(&zones, &inside).map(|z| z.id), Some(area.id));
        assert_eq!(zone_for(&zones, &outside).map(|z| z.id), Some(tokyo.id));
        assert_eq!(zone_for(&zones, &unknown).map(|z| z.id), Some(tokyo.id));
    }

    #[test]
    fn postal_codes_are_compared_without_separators() {
        let zone = Zone { country: "JP".into(), ..zone(&["100"], &[], None) };
        let to = Destination { country: "JP".into(), postal_code: "100-0001".into(), coordinates: None };
        assert!(zone.fit(&to).is_some());
    }

    #[test]
    fn zone_rules_are_checked_at_the_edge() {
        assert!(check_zone_rules(&["101".into()], &[], None).is_ok());
        assert!(check_zone_rules(&["10 1".into()], &[], None).is_err());
        let backwards = PostalRange { from: "10199".into(), to: "10110".into() };
        assert!(check_zone_rules(&[], &[backwards], None).is_err());
        let uneven = PostalRange { from: "1011".into(), to: "10199".into() };
        assert!(check_zone_rules(&[], &[uneven], None).is_err());
        let open = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]];
        assert!(check_zone_rules(&[], &[], Some(&open)).is_err());
        let closed = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]];
        assert!(check_zone_rules(&[], &[], Some(&closed)).is_ok());
        assert!(check_zone_rules(&["1".into()], &[], Some(&closed)).is_err());
    }

    fn method(rate: Rate, free_above: Option<i64>, zone: &Zone) -> Method {
        Method {
            id: ShippingMethodId::new(),
            code: "regular".into(),
            name: "Regular".into(),
            currency: Currency::IDR,
            rate,
            free_above: free_above.map(idr),
            zone_ids: vec![zone.id],
            delivery_days: DeliveryDays { min: 2, max: 4 },
            active: true,
        }
    }

    #[test]
    fn weight_tiers_charge_the_first_tier_the_parcel_fits_and_refuse_heavier_ones() {
        let jakarta = zone(&["1"], &[], None);
        let tiers = vec![
            WeightTier { up_to_grams: 1_000, price: idr(10_000) },
            WeightTier { up_to_grams: 5_000, price: idr(25_000) },
        ];
        let by_weight = method(Rate::ByWeight { tiers }, Some(500_000), &jakarta);
        let parcel = |grams, value| Parcel { weight_grams: grams, value: idr(value) };
        assert_eq!(by_weight.price(&jakarta, parcel(1_000, 100_000)), Some(idr(10_000)));
        assert_eq!(by_weight.price(&jakarta, parcel(1_001, 100_000)), Some(idr(25_000)));
        assert_eq!(by_weight.price(&jakarta, parcel(5_001, 100_000)), None, "too heavy");
        assert_eq!(by_weight.price(&jakarta, parcel(3_000, 500_000)), Some(idr(0)), "free above");
        let elsewhere = zone(&["6"], &[], None);
        assert_eq!(by_weight.price(&elsewhere, parcel(100, 1)), None, "another zone");
    }

    #[test]
    fn value_tiers_charge_the_highest_tier_reached() {
        let jakarta = zone(&["1"], &[], None);
        let tiers = vec![
            ValueTier { from: idr(0), price: idr(20_000) },
            ValueTier { from: idr(200_000), price: idr(9_000) },
        ];
        let by_value = method(Rate::ByValue { tiers }, None, &jakarta);
        let parcel = |value| Parcel { weight_grams: 0, value: idr(value) };
        assert_eq!(by_value.price(&jakarta, parcel(199_999)), Some(idr(20_000)));
        assert_eq!(by_value.price(&jakarta, parcel(200_000)), Some(idr(9_000)));
    }

    #[test]
    fn rates_in_another_currency_or_with_falling_tiers_are_refused() {
        assert!(Rate::Flat { price: idr(1) }.check(Currency::JPY).is_err());
        let falling = vec![
            WeightTier { up_to_grams: 5_000, price: idr(1) },
            WeightTier { up_to_grams: 1_000, price: idr(1) },
        ];
        assert!(Rate::ByWeight { tiers: falling }.check(Currency::IDR).is_err());
        assert!(Rate::ByWeight { tiers: vec![] }.check(Currency::IDR).is_err());
    }

    proptest! {
        #[test]
        fn a_heavier_parcel_never_costs_less_under_rising_weight_tiers(
            prices in proptest::collection::vec(0i64..100_000, 1..6),
            a in 0u64..30_000,
            b in 0u64..30_000,
        ) {
            let mut sorted = prices.clone();
            sorted.sort();
            let tiers = sorted
                .iter()
                .enumerate()
                .map(|(i, &p)| WeightTier { up_to_grams: (i as u64 + 1) * 5_000, price: idr(p) })
                .collect();
            let rate = Rate::ByWeight { tiers };
            let (light, heavy) = (a.min(b), a.max(b));
            let price = |grams| rate.price(Parcel { weight_grams: grams, value: idr(0) });
            if let (Some(low), Some(high)) = (price(light), price(heavy)) {
                prop_assert!(low.amount <= high.amount);
            }
            if price(heavy).is_some() {
                prop_assert!(price(light).is_some(), "what carries a heavy parcel carries a lighter one");
            }
        }
    }

    #[test]
    fn each_store_ships_its_own_parcel_and_a_store_selling_only_downloads_ships_none() {
        let store_a = Some(UserId::new());
        let store_b = Some(UserId::new());
        let line = |store, physical, grams, total| ParcelLine {
            physical,
            unit_weight_grams: Some(grams),
            quantity: 1,
            total: idr(total),
            store,
        };
        let lines = [
            line(store_a, true, 500, 100),
            line(store_b, false, 0, 40),
            line(store_a, true, 250, 60),
            line(None, true, 1000, 10),
        ];
        let parcels = Parcel::per_store(&lines).unwrap();
        assert_eq!(
            parcels,
            vec![
                (store_a, Parcel { weight_grams: 750, value: idr(160) }),
                (None, Parcel { weight_grams: 1000, value: idr(10) }),
            ]
        );
    }
}
