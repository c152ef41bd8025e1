//! The languages Pasar speaks to people in: Indonesian (the default, as the shop's home market),
//! English and Japanese. A user's language chooses their emails, messages and pages.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Timelike};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::money::Money;
use crate::time::Timestamp;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    #[default]
    Id,
    En,
    Ja,
}

impl Locale {
    pub const ALL: [Locale; 3] = [Locale::Id, Locale::En, Locale::Ja];

    pub fn as_str(self) -> &'static str {
        match self {
            Locale::Id => "id",
            Locale::En => "en",
            Locale::Ja => "ja",
        }
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Locale {
    type Err = String;

    /// A language tag's primary subtag: `id`, `en-GB` and `ja-JP` all parse.
    fn from_str(tag: &str) -> Result<Self, String> {
        let primary = tag.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
        Locale::ALL
            .into_iter()
            .find(|l| l.as_str() == primary)
            .ok_or_else(|| format!("{tag:?} is not a language Pasar speaks: use id, en or ja"))
    }
}

/// Formatting for people: money and dates as each language writes them.
impl Locale {
    /// An amount as a reader of this language expects it: `Rp 1.250.000` in Indonesian,
    /// `Rp 1,250,000` in English, `1,250,000円` for yen in Japanese; other currencies by code.
    pub fn format_money(self, money: Money) -> String {
        let digits = money.currency.minor_digits();
        let (group, decimal) = if self == Locale::Id { ('.', ',') } else { (',', '.') };
        let scale = 10_u64.pow(digits);
        let units = money.amount.unsigned_abs();
        let whole = grouped(units / scale, group);
        let number = if digits == 0 {
            whole
        } else {
            format!("{whole}{decimal}{:0width$}", units % scale, width = digits as usize)
        };
        let sign = if money.amount < 0 { "-" } else { "" };
        match (money.currency.code(), self) {
            ("JPY", Locale::Ja) => format!("{sign}{number}円"),
            ("JPY", _) => format!("{sign}¥{number}"),
            ("IDR", _) => format!("{sign}Rp {number}"),
            ("USD", _) => format!("{sign}US${number}"),
            (code, _) => format!("{sign}{code} {number}"),
        }
    }

    /// A moment as a date and time (UTC until users carry a time zone): `1 Desember 2026
    /// 09.05`, `1 December 2026, 09:05`, `2026年12月1日 09:05`.
    pub fn format_datetime(self, at: Timestamp) -> String {
        let Some(at) = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(at.millis()) else {
            return String::new();
        };
        let (year, month, day) = (at.year(), at.month(), at.day());
        let (hour, minute) = (at.hour(), at.minute());
        let month_name = |names: [&'static str; 12]| names[month as usize - 1];
        match self {
            Locale::Id => format!(
                "{day} {} {year} {hour:02}.{minute:02} UTC",
                month_name([
                    "Januari",
                    "Februari",
                    "Maret",
                    "April",
                    "Mei",
                    "Juni",
                    "Juli",
                    "Agustus",
                    "September",
                    "Oktober",
                    "November",
                    "Desember",
                ])
            ),
            Locale::En => format!(
                "{day} {} {year}, {hour:02}:{minute:02} UTC",
                month_name([
                    "January",
                    "February",
                    "March",
                    "April",
                    "May",
                    "June",
                    "July",
                    "August",
                    "September",
                    "October",
                    "November",
                    "December",
                ])
            ),
            Locale::Ja => format!("{year}年{month}月{day}日 {hour:02}:{minute:02} UTC"),
        }
    }
}

/// `1234567` as `1.234.567` (or with `,`).
fn grouped(number: u64, separator: char) -> String {
    let digits = number.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(separator);
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    #[test]
    fn money_is_written_as_each_language_writes_it() {
        let rupiah = Money { amount: 1_250_000, currency: Currency::IDR };
        assert_eq!(Locale::Id.format_money(rupiah), "Rp 1.250.000");
        assert_eq!(Locale::En.format_money(rupiah), "Rp 1,250,000");
        let yen = Money { amount: 1_000, currency: Currency::JPY };
        assert_eq!(Locale::Ja.format_money(yen), "1,000円");
        assert_eq!(Locale::En.format_money(yen), "¥1,000");
        let dollars = Money { amount: -123_456, currency: Currency::USD };
        assert_eq!(Locale::En.format_money(dollars), "-US$1,234.56");
        assert_eq!(Locale::Id.format_money(dollars), "-US$1.234,56");
        assert_eq!(Locale::Id.format_money(Money { amount: 5, currency: Currency::MYR }), "MYR 0,05");
    }

    #[test]
    fn dates_are_written_as_each_language_writes_them() {
        // 2026-12-01T09:05:00Z
        let at = Timestamp::from_millis(1_796_115_900_000);
        assert_eq!(Locale::Id.format_datetime(at), "1 Desember 2026 09.05 UTC");
        assert_eq!(Locale::En.format_datetime(at), "1 December 2026, 09:05 UTC");
        assert_eq!(Locale::Ja.format_datetime(at), "2026年12月1日 09:05 UTC");
    }

    #[test]
    fn a_language_tag_is_read_by_its_primary_subtag() {
        assert_eq!("en-GB".parse::<Locale>(), Ok(Locale::En));
        assert_eq!("JA_jp".parse::<Locale>(), Ok(Locale::Ja));
        assert_eq!("id".parse::<Locale>(), Ok(Locale::Id));
        assert!("fr".parse::<Locale>().is_err());
        assert!("".parse::<Locale>().is_err());
    }
}
