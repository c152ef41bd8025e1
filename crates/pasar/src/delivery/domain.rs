//! Delivery slots' pure rules: which slots a zone's weekly templates make on which local days,
//! with what capacity, and whether a slot can still be chosen at a given instant (lead time,
//! same-day cut-off). Local times are the shop's time zone; instants are UTC.

use std::fmt;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{DeliveryTemplateId, ShippingZoneId};
use crate::time::Timestamp;

/// A local time of day in whole minutes, `HH:MM`; `24:00` is the end of the day (a slot may
/// end at midnight).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay(u16);

impl TimeOfDay {
    pub const MIDNIGHT_END: TimeOfDay = TimeOfDay(24 * 60);

    pub fn hm(hour: u16, minute: u16) -> Option<Self> {
        let minutes = hour.checked_mul(60)?.checked_add(minute)?;
        (minute < 60 && minutes <= 24 * 60).then_some(Self(minutes))
    }

    pub fn minutes(self) -> u16 {
        self.0
    }

    pub fn parse(text: &str) -> Option<Self> {
        let (hour, minute) = text.split_once(':')?;
        if hour.len() != 2 || minute.len() != 2 {
            return None;
        }
        Self::hm(hour.parse().ok()?, minute.parse().ok()?)
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl Serialize for TimeOfDay {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&text).ok_or_else(|| serde::de::Error::custom("a local time HH:MM, 00:00 to 24:00"))
    }
}

impl utoipa::PartialSchema for TimeOfDay {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"))
            .examples([serde_json::json!("09:00")])
            .into()
    }
}

impl utoipa::ToSchema for TimeOfDay {}

/// A weekly slot of a zone: on these weekdays, from `start` to `end` local time, for at most
/// `capacity` orders.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Template {
    pub id: DeliveryTemplateId,
    pub zone_id: ShippingZoneId,
    /// ISO weekdays, 1 (Monday) to 7 (Sunday).
    pub weekdays: Vec<u8>,
    pub start: TimeOfDay,
    pub end: TimeOfDay,
    /// Orders per slot.
    pub capacity: i64,
}

/// Slots whose day starts at or after `for_slots_from` can be chosen on the same day only
/// before `order_by` (the evening round leaves the depot with what was ordered by noon).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SameDayCutoff {
    pub order_by: TimeOfDay,
    pub for_slots_from: TimeOfDay,
}

/// How early a zone's slots must be chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Rules {
    /// A slot must start at least this many minutes after the order.
    pub lead_minutes: i64,
    #[serde(default)]
    pub same_day_cutoff: Option<SameDayCutoff>,
}

/// A date's capacity other than its templates': for one template's slot, or for every slot
/// of the date (`template_id` absent). The template's override wins over the date's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CapacityOverride {
    #[schema(value_type = String, format = Date)]
    pub date: Date,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_id: Option<DeliveryTemplateId>,
    pub capacity: i64,
}

/// A slot the templates make on one local day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Planned {
    pub template_id: DeliveryTemplateId,
    pub date: Date,
    pub start: Timestamp,
    pub end: Timestamp,
    pub capacity: i64,
}

/// Why a slot cannot be chosen now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Closed {
    #[error("the slot starts too soon (or has started) to be prepared in time")]
    LeadTime,
    #[error("the same-day cut-off for this slot has passed")]
    CutOff,
}

/// Converts between Pasar's instants and the shop's local time.
#[derive(Clone, Debug)]
pub struct ShopTime(TimeZone);

impl ShopTime {
    pub fn new(zone: TimeZone) -> Self {
        Self(zone)
    }

    /// An IANA zone name, from the bundled time-zone database.
    pub fn named(name: &str) -> Result<Self, String> {
        TimeZone::get(name).map(Self).map_err(|e| format!("unknown time zone {name:?}: {e}"))
    }

    pub fn name(&self) -> &str {
        self.0.iana_name().unwrap_or("UTC")
    }

    fn civil(&self, at: Timestamp) -> jiff::civil::DateTime {
        let at = jiff::Timestamp::from_millisecond(at.millis()).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        self.0.to_datetime(at)
    }

    /// The local date at `at`.
    pub fn date(&self, at: Timestamp) -> Date {
        self.civil(at).date()
    }

    /// The local time of day at `at`, in minutes.
    fn time_of_day(&self, at: Timestamp) -> TimeOfDay {
        let time = self.civil(at).time();
        TimeOfDay(time.hour() as u16 * 60 + time.minute() as u16)
    }

    /// The instant a local date and time of day is (24:00 is the next day's midnight). A time
    /// a clock change skips is taken as the later one, as the `compatible` rule says.
    pub fn instant(&self, date: Date, at: TimeOfDay) -> Option<Timestamp> {
        let (date, minutes) = match at.0 {
            1440 => (date.tomorrow().ok()?, 0),
            minutes => (date, minutes),
        };
        let local = date.at((minutes / 60) as i8, (minutes % 60) as i8, 0, 0);
        let at = self.0.to_timestamp(local).ok()?;
        Some(Timestamp::from_millis(at.as_millisecond()))
    }

    /// `at` as an RFC 3339 local time with its offset (`2026-12-04T09:00:00+09:00`).
    pub fn local_rfc3339(&self, at: Timestamp) -> String {
        let at = jiff::Timestamp::from_millisecond(at.millis()).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let offset = self.0.to_offset(at);
        at.display_with_offset(offset).to_string()
    }
}

/// The slots `templates` make on `days` local days from `first`, less `closed` dates, with
/// their capacity after `overrides`; in start order.
pub fn plan(
    templates: &[Template],
    time: &ShopTime,
    first: Date,
    days: u32,
    closed: &[Date],
    overrides: &[CapacityOverride],
) -> Vec<Planned> {
    let mut planned = Vec::new();
    let mut date = first;
    for _ in 0..days {
        if !closed.contains(&date) {
            let weekday = date.weekday().to_monday_one_offset() as u8;
            for template in templates.iter().filter(|t| t.weekdays.contains(&weekday)) {
                let (Some(start), Some(end)) =
                    (time.instant(date, template.start), time.instant(date, template.end))
                else {
                    continue;
                };
                let capacity = overrides
                    .iter()
                    .find(|o| o.date == date && o.template_id == Some(template.id))
                    .or_else(|| overrides.iter().find(|o| o.date == date && o.template_id.is_none()))
                    .map_or(template.capacity, |o| o.capacity);
                planned.push(Planned { template_id: template.id, date, start, end, capacity });
            }
        }
        match date.tomorrow() {
            Ok(next) => date = next,
            Err(_) => break,
        }
    }
    planned.sort_by_key(|p| (p.start, p.end));
    planned
}

/// Whether a slot starting at `start` can still be chosen at `now`.
pub fn check_open(rules: &Rules, time: &ShopTime, start: Timestamp, now: Timestamp) -> Result<(), Closed> {
    let lead = std::time::Duration::from_secs(u64::try_from(rules.lead_minutes).unwrap_or(0) * 60);
    if start < now.plus(lead) {
        return Err(Closed::LeadTime);
    }
    if let Some(cutoff) = rules.same_day_cutoff {
        let same_day = time.date(start) == time.date(now);
        if same_day
            && time.time_of_day(start) >= cutoff.for_slots_from
            && time.time_of_day(now) >= cutoff.order_by
        {
            return Err(Closed::CutOff);
        }
    }
    Ok(())
}

/// A template's own rules: weekdays 1 to 7, start before end, capacity 0 to 10,000.
pub fn check_template(
    weekdays: &[u8],
    start: TimeOfDay,
    end: TimeOfDay,
    capacity: i64,
) -> Result<(), String> {
    if weekdays.is_empty() || weekdays.iter().any(|d| !(1..=7).contains(d)) {
        return Err("weekdays are 1 (Monday) to 7 (Sunday), at least one".into());
    }
    if start >= end {
        return Err("a slot starts before it ends".into());
    }
    if !(0..=10_000).contains(&capacity) {
        return Err("capacity is 0 to 10000 orders".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn tokyo() -> ShopTime {
        ShopTime::named("Asia/Tokyo").unwrap()
    }

    fn utc(text: &str) -> Timestamp {
        Timestamp::from_millis(text.parse::<jiff::Timestamp>().unwrap().as_millisecond())
    }

    fn hm(text: &str) -> TimeOfDay {
        TimeOfDay::parse(text).unwrap()
    }

    fn template(start: &str, end: &str, capacity: i64) -> Template {
        Template {
            id: DeliveryTemplateId::new(),
            zone_id: ShippingZoneId::new(),
            weekdays: (1..=7).collect(),
            start: hm(start),
            end: hm(end),
            capacity,
        }
    }

    fn grocery_rules() -> Rules {
        Rules {
            lead_minutes: 60,
            same_day_cutoff: Some(SameDayCutoff { order_by: hm("12:00"), for_slots_from: hm("15:00") }),
        }
    }

    #[test]
    fn times_of_day_parse_and_print_as_hh_mm() {
        assert_eq!(hm("09:30").minutes(), 570);
        assert_eq!(hm("24:00"), TimeOfDay::MIDNIGHT_END);
        assert_eq!(hm("18:05").to_string(), "18:05");
        for bad in ["9:00", "24:01", "12:60", "ab:cd", "1200", ""] {
            assert_eq!(TimeOfDay::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_tokyo_slot_is_nine_hours_before_in_utc() {
        let slots = plan(&[template("09:00", "12:00", 20)], &tokyo(), date(2026, 12, 3), 1, &[], &[]);
        assert_eq!(slots.len(), 1);
        assert_eq!(slots[0].start, utc("2026-12-03T00:00:00Z"));
        assert_eq!(slots[0].end, utc("2026-12-03T03:00:00Z"));
        assert_eq!(tokyo().local_rfc3339(slots[0].start), "2026-12-03T09:00:00+09:00");
    }

    #[test]
    fn a_slot_ending_at_midnight_ends_on_the_next_local_day() {
        let slots = plan(&[template("21:00", "24:00", 5)], &tokyo(), date(2026, 12, 3), 1, &[], &[]);
        assert_eq!(slots[0].end, utc("2026-12-03T15:00:00Z"));
    }

    #[test]
    fn only_the_templates_weekdays_get_slots() {
        let mut weekend = template("09:00", "12:00", 20);
        weekend.weekdays = vec![6, 7];
        // 2026-12-03 is a Thursday: a week from it has one Saturday and one Sunday.
        let slots = plan(&[weekend], &tokyo(), date(2026, 12, 3), 7, &[], &[]);
        let dates: Vec<Date> = slots.iter().map(|s| s.date).collect();
        assert_eq!(dates, vec![date(2026, 12, 5), date(2026, 12, 6)]);
    }

    #[test]
    fn a_closed_date_has_no_slots() {
        let templates = [template("09:00", "12:00", 20), template("15:00", "18:00", 20)];
        let slots = plan(&templates, &tokyo(), date(2026, 12, 31), 3, &[date(2027, 1, 1)], &[]);
        assert!(slots.iter().all(|s| s.date != date(2027, 1, 1)));
        assert_eq!(slots.len(), 4);
    }

    #[test]
    fn a_templates_override_beats_the_dates_override() {
        let morning = template("09:00", "12:00", 20);
        let evening = template("18:00", "21:00", 20);
        let day = date(2026, 12, 24);
        let overrides = [
            CapacityOverride { date: day, template_id: None, capacity: 10 },
            CapacityOverride { date: day, template_id: Some(evening.id), capacity: 40 },
        ];
        let slots = plan(&[morning.clone(), evening.clone()], &tokyo(), day, 2, &[], &overrides);
        let capacity = |id, d| slots.iter().find(|s| s.template_id == id && s.date == d).unwrap().capacity;
        assert_eq!(capacity(morning.id, day), 10);
        assert_eq!(capacity(evening.id, day), 40);
        assert_eq!(capacity(evening.id, date(2026, 12, 25)), 20, "the next day keeps the template's");
    }

    #[test]
    fn the_evening_slot_closes_at_the_cut_off_in_tokyo_time() {
        let evening = tokyo().instant(date(2026, 12, 3), hm("18:00")).unwrap();
        // 11:59 and 12:00 in Tokyo are 02:59 and 03:00 UTC.
        assert_eq!(check_open(&grocery_rules(), &tokyo(), evening, utc("2026-12-03T02:59:00Z")), Ok(()));
        assert_eq!(
            check_open(&grocery_rules(), &tokyo(), evening, utc("2026-12-03T03:00:00Z")),
            Err(Closed::CutOff)
        );
    }

    #[test]
    fn the_cut_off_spares_slots_before_its_hour_and_the_next_days() {
        let now = utc("2026-12-03T04:00:00Z"); // 13:00 in Tokyo
        let afternoon = tokyo().instant(date(2026, 12, 3), hm("14:00")).unwrap();
        let tomorrow_evening = tokyo().instant(date(2026, 12, 4), hm("18:00")).unwrap();
        assert_eq!(check_open(&grocery_rules(), &tokyo(), afternoon, now), Ok(()));
        assert_eq!(check_open(&grocery_rules(), &tokyo(), tomorrow_evening, now), Ok(()));
    }

    #[test]
    fn after_tokyo_midnight_the_new_days_evening_opens_though_the_utc_date_has_not_changed() {
        // 2026-12-03T15:30Z is 00:30 on 4 December in Tokyo, still 3 December in UTC.
        let now = utc("2026-12-03T15:30:00Z");
        let evening = tokyo().instant(date(2026, 12, 4), hm("18:00")).unwrap();
        assert_eq!(check_open(&grocery_rules(), &tokyo(), evening, now), Ok(()));
        // At 12:00 Tokyo on the 4th, 03:00Z, it closes.
        assert_eq!(
            check_open(&grocery_rules(), &tokyo(), evening, utc("2026-12-04T03:00:00Z")),
            Err(Closed::CutOff)
        );
    }

    #[test]
    fn a_slot_inside_the_lead_time_or_started_is_closed() {
        let morning = tokyo().instant(date(2026, 12, 3), hm("09:00")).unwrap();
        assert_eq!(check_open(&grocery_rules(), &tokyo(), morning, utc("2026-12-02T23:00:00Z")), Ok(()));
        assert_eq!(
            check_open(&grocery_rules(), &tokyo(), morning, utc("2026-12-02T23:01:00Z")),
            Err(Closed::LeadTime)
        );
        assert_eq!(
            check_open(&grocery_rules(), &tokyo(), morning, utc("2026-12-03T01:00:00Z")),
            Err(Closed::LeadTime)
        );
    }

    #[test]
    fn templates_are_checked() {
        assert!(check_template(&[1, 7], hm("09:00"), hm("12:00"), 20).is_ok());
        assert!(check_template(&[], hm("09:00"), hm("12:00"), 20).is_err());
        assert!(check_template(&[0], hm("09:00"), hm("12:00"), 20).is_err());
        assert!(check_template(&[1], hm("12:00"), hm("12:00"), 20).is_err());
        assert!(check_template(&[1], hm("09:00"), hm("12:00"), -1).is_err());
    }
}
