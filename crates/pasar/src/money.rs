//! Money: integer minor units with an ISO 4217 currency, never floats (DESIGN section 6).
//! Arithmetic is checked: mixing currencies or overflowing is an error, not a wrong number.
//! IDR and JPY have no minor unit in practice, so their amounts are whole rupiah and yen.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A currency Pasar accepts, with the number of decimal places its amounts carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "String")]
pub struct Currency(&'static str);

impl utoipa::PartialSchema for Currency {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "A currency Pasar accepts, with the number of decimal places its amounts carry.",
            ))
            .enum_values(Some(CURRENCIES.iter().map(|(code, _)| *code)))
            .examples(["IDR"])
            .into()
    }
}

impl ToSchema for Currency {}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Currency::parse(&code).map_err(serde::de::Error::custom)
    }
}

/// (code, minor-unit digits) for the currencies the seeds sell in; extend as markets open.
const CURRENCIES: [(&str, u32); 11] = [
    ("IDR", 0),
    ("JPY", 0),
    ("USD", 2),
    ("EUR", 2),
    ("SGD", 2),
    ("MYR", 2),
    ("GBP", 2),
    ("AUD", 2),
    ("THB", 2),
    ("PHP", 2),
    ("ZAR", 2),
];

impl Currency {
    pub const IDR: Currency = Currency("IDR");
    pub const JPY: Currency = Currency("JPY");
    pub const USD: Currency = Currency("USD");
    pub const MYR: Currency = Currency("MYR");
    pub const ZAR: Currency = Currency("ZAR");

    pub fn parse(code: &str) -> Result<Self, &'static str> {
        CURRENCIES
            .iter()
            .find(|(known, _)| *known == code)
            .map(|(known, _)| Currency(known))
            .ok_or("not a supported ISO 4217 currency code (upper case, such as IDR)")
    }

    pub fn code(self) -> &'static str {
        self.0
    }

    pub fn minor_digits(self) -> u32 {
        CURRENCIES.iter().find(|(code, _)| *code == self.0).map_or(0, |(_, digits)| *digits)
    }
}

impl From<Currency> for String {
    fn from(currency: Currency) -> Self {
        currency.0.to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// An amount of money. `amount` is in minor units (cents; whole rupiah for IDR).
///
/// What the API accepts is bounded by [`Money::LIMIT`] either way, so no amount a client sends
/// can overflow a sum it joins (a balance, an order's total) or a negation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "MoneyInput")]
pub struct Money {
    #[schema(example = 150000)]
    pub amount: i64,
    pub currency: Currency,
}

/// Money as a client sends it, before its bound is checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MoneyInput {
    amount: i64,
    currency: Currency,
}

impl TryFrom<MoneyInput> for Money {
    type Error = String;

    fn try_from(input: MoneyInput) -> Result<Self, String> {
        if input.amount.unsigned_abs() > Money::LIMIT.unsigned_abs() {
            return Err(format!("amount must be between -{0} and {0} minor units", Money::LIMIT));
        }
        Ok(Money::new(input.amount, input.currency))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("cannot combine {0} with {1}")]
    CurrencyMismatch(Currency, Currency),
    #[error("amount out of range")]
    Overflow,
}

impl Money {
    /// 10^15 minor units (a quadrillion rupiah, ten trillion dollars): the largest amount, either
    /// way, the API accepts.
    pub const LIMIT: i64 = 1_000_000_000_000_000;

    pub const fn new(amount: i64, currency: Currency) -> Self {
        Self { amount, currency }
    }

    pub const fn zero(currency: Currency) -> Self {
        Self { amount: 0, currency }
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(self.currency, other.currency))
        }
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let amount = self.amount.checked_add(other.amount).ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let amount = self.amount.checked_sub(other.amount).ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    pub fn times(self, quantity: i64) -> Result<Money, MoneyError> {
        let amount = self.amount.checked_mul(quantity).ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    /// `basis_points`/10,000 of this amount, rounded up to the next minor unit (fees are never
    /// rounded in the payer's favour at the merchant's cost).
    pub fn share_rounded_up(self, basis_points: i64) -> Result<Money, MoneyError> {
        let product = i128::from(self.amount) * i128::from(basis_points);
        let share = product.div_euclid(10_000) + i128::from(product.rem_euclid(10_000) != 0);
        i64::try_from(share).map(|amount| Money::new(amount, self.currency)).map_err(|_| MoneyError::Overflow)
    }

    /// Sums amounts of one currency; `None` for an empty list.
    pub fn sum(amounts: impl IntoIterator<Item = Money>) -> Result<Option<Money>, MoneyError> {
        let mut total: Option<Money> = None;
        for amount in amounts {
            total = Some(match total {
                None => amount,
                Some(sum) => sum.checked_add(amount)?,
            });
        }
        Ok(total)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.currency.minor_digits();
        if digits == 0 {
            return write!(f, "{} {}", self.currency, self.amount);
        }
        let scale = 10_i64.pow(digits);
        let sign = if self.amount < 0 { "-" } else { "" };
        let units = self.amount.unsigned_abs();
        let scale = scale.unsigned_abs();
        write!(
            f,
            "{} {sign}{}.{:0width$}",
            self.currency,
            units / scale,
            units % scale,
            width = digits as usize
        )
    }
}

/// How people in a currency's market write an amount: its symbol, the thousands separator and
/// the decimal mark. Currencies not listed are written with their code and `1,234.56`.
const PRESENTATION: [(&str, &str, char, char); 10] = [
    ("IDR", "Rp\u{a0}", '.', ','),
    ("JPY", "¥", ',', '.'),
    ("USD", "$", ',', '.'),
    ("EUR", "€", '.', ','),
    ("SGD", "S$", ',', '.'),
    ("MYR", "RM", ',', '.'),
    ("GBP", "£", ',', '.'),
    ("AUD", "A$", ',', '.'),
    ("THB", "฿", ',', '.'),
    ("PHP", "₱", ',', '.'),
];

/// An amount as a buyer reads it on a page: `Rp 95.975` (dots between thousands, no decimals),
/// `¥1,200`, `$1,234.50`, `-Rp 1.000`. The space after `Rp` does not break. For display only;
/// the API always carries integer minor units.
pub fn format_for_display(money: Money) -> String {
    let code = money.currency.code();
    let (symbol, thousands, decimal) = PRESENTATION
        .iter()
        .find(|(known, ..)| *known == code)
        .map_or((None, ',', '.'), |(_, symbol, thousands, decimal)| (Some(*symbol), *thousands, *decimal));
    let digits = money.currency.minor_digits();
    let scale = 10_u64.pow(digits);
    let units = money.amount.unsigned_abs();
    let whole = (units / scale).to_string();
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(thousands);
        }
        grouped.push(digit);
    }
    if digits > 0 {
        grouped.push(decimal);
        grouped.push_str(&format!("{:0width$}", units % scale, width = digits as usize));
    }
    let sign = if money.amount < 0 { "-" } else { "" };
    match symbol {
        Some(symbol) => format!("{sign}{symbol}{grouped}"),
        None => format!("{sign}{code}\u{a0}{grouped}"),
    }
}

/// Shares `discount` out over parts worth `amounts` (an order's lines, a store's parts), in
/// proportion and exactly (largest remainder): the shares add up to `discount` (at most the
/// sum of `amounts`), and none is below zero or above its part.
pub fn allocate(discount: i64, amounts: &[i64]) -> Vec<i64> {
    let total: i128 = amounts.iter().map(|a| i128::from((*a).max(0))).sum();
    let discount = i128::from(discount.max(0)).min(total);
    if total == 0 {
        return vec![0; amounts.len()];
    }
    let mut shares: Vec<i128> = Vec::with_capacity(amounts.len());
    let mut remainders: Vec<(i128, usize)> = Vec::with_capacity(amounts.len());
    for (i, amount) in amounts.iter().enumerate() {
        let exact = discount * i128::from((*amount).max(0));
        shares.push(exact / total);
        remainders.push((exact % total, i));
    }
    let mut left = discount - shares.iter().sum::<i128>();
    // Largest remainder first; ties to the earlier line, so the result is deterministic.
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (remainder, i) in remainders {
        if left == 0 || remainder == 0 {
            break;
        }
        shares[i] += 1;
        left -= 1;
    }
    shares.into_iter().map(|s| i64::try_from(s).unwrap_or(0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn money_reads_from_json_with_a_known_currency_only() {
        let money: Money = serde_json::from_str(r#"{"amount": 150000, "currency": "IDR"}"#).unwrap();
        assert_eq!(money, Money::new(150_000, Currency::IDR));
        assert!(serde_json::from_str::<Money>(r#"{"amount": 1.5, "currency": "IDR"}"#).is_err());
        assert!(serde_json::from_str::<Money>(r#"{"amount": 1, "currency": "idr"}"#).is_err());
        assert!(serde_json::from_str::<Money>(r#"{"amount": 1, "currency": "XXX"}"#).is_err());
    }

    #[test]
    fn money_beyond_the_limit_is_refused_either_way() {
        for amount in [i64::MAX, i64::MIN, Money::LIMIT + 1, -Money::LIMIT - 1] {
            let json = format!(r#"{{"amount": {amount}, "currency": "IDR"}}"#);
            assert!(serde_json::from_str::<Money>(&json).is_err(), "{amount}");
        }
        for amount in [Money::LIMIT, -Money::LIMIT, 0] {
            let json = format!(r#"{{"amount": {amount}, "currency": "IDR"}}"#);
            assert_eq!(serde_json::from_str::<Money>(&json).unwrap().amount, amount);
        }
        assert!(serde_json::from_str::<Money>(r#"{"amount": 1, "currency": "IDR", "x": 1}"#).is_err());
    }

    #[test]
    fn different_currencies_do_not_add() {
        let idr = Money::new(1, Currency::IDR);
        let usd = Money::new(1, Currency::USD);
        assert_eq!(idr.checked_add(usd), Err(MoneyError::CurrencyMismatch(Currency::IDR, Currency::USD)));
    }

    #[test]
    fn the_pakasir_fee_rounds_up() {
        // 0.7% of Rp 10,001 is Rp 70.007, charged as Rp 71.
        let fee = Money::new(10_001, Currency::IDR).share_rounded_up(70).unwrap();
        assert_eq!(fee.amount, 71);
        assert_eq!(Money::new(10_000, Currency::IDR).share_rounded_up(70).unwrap().amount, 70);
    }

    #[test]
    fn money_displays_in_major_units() {
        assert_eq!(Money::new(150_000, Currency::IDR).to_string(), "IDR 150000");
        assert_eq!(Money::new(-1_05, Currency::USD).to_string(), "USD -1.05");
    }

    #[test]
    fn amounts_are_shown_as_their_market_writes_them() {
        let show = |amount, currency| format_for_display(Money::new(amount, currency)).replace('\u{a0}', " ");
        assert_eq!(show(95_975, Currency::IDR), "Rp 95.975");
        assert_eq!(show(1_234_567_890, Currency::IDR), "Rp 1.234.567.890");
        assert_eq!(show(0, Currency::IDR), "Rp 0");
        assert_eq!(show(999, Currency::IDR), "Rp 999");
        assert_eq!(show(-1_000, Currency::IDR), "-Rp 1.000");
        assert_eq!(show(1_200, Currency::JPY), "¥1,200");
        assert_eq!(show(123_450, Currency::USD), "$1,234.50");
        assert_eq!(show(5, Currency::USD), "$0.05");
        assert_eq!(show(123_456, Currency::parse("EUR").unwrap()), "€1.234,56");
        assert_eq!(show(i64::MIN, Currency::IDR), "-Rp 9.223.372.036.854.775.808");
    }

    #[test]
    fn allocation_gives_the_odd_unit_to_the_largest_remainder() {
        assert_eq!(allocate(10, &[1, 1, 1]), vec![1, 1, 1]);
        assert_eq!(allocate(2, &[1, 1, 1]), vec![1, 1, 0]);
        assert_eq!(allocate(100, &[30, 70]), vec![30, 70]);
        assert_eq!(allocate(5, &[0, 10]), vec![0, 5]);
    }

    proptest! {
        #[test]
        fn allocation_is_exact_and_never_leaves_a_line(
            amounts in proptest::collection::vec(0i64..10_000_000_000, 1..20),
            share in 0u32..=1000,
        ) {
            let total: i64 = amounts.iter().sum();
            let discount = i64::try_from(i128::from(total) * i128::from(share) / 1000).unwrap();
            let shares = allocate(discount, &amounts);
            prop_assert_eq!(shares.iter().sum::<i64>(), discount);
            for (share, amount) in shares.iter().zip(&amounts) {
                prop_assert!(*share >= 0 && share <= amount, "{} of {}", share, amount);
            }
        }

        #[test]
        fn addition_is_commutative_and_subtraction_undoes_it(a in -1_000_000_000_000i64..1_000_000_000_000, b in -1_000_000_000_000i64..1_000_000_000_000) {
            let (x, y) = (Money::new(a, Currency::IDR), Money::new(b, Currency::IDR));
            prop_assert_eq!(x.checked_add(y), y.checked_add(x));
            prop_assert_eq!(x.checked_add(y).unwrap().checked_sub(y).unwrap(), x);
        }

        #[test]
        fn overflow_is_an_error_never_a_wrapped_number(a in any::<i64>(), b in any::<i64>()) {
            let sum = Money::new(a, Currency::JPY).checked_add(Money::new(b, Currency::JPY));
            match a.checked_add(b) {
                Some(expected) => prop_assert_eq!(sum.unwrap().amount, expected),
                None => prop_assert_eq!(sum, Err(MoneyError::Overflow)),
            }
        }

        #[test]
        fn a_rounded_up_share_is_never_below_the_exact_share(amount in 0i64..1_000_000_000_000, bp in 0i64..10_000) {
            let share = Money::new(amount, Currency::IDR).share_rounded_up(bp).unwrap().amount;
            let exact = i128::from(amount) * i128::from(bp);
            prop_assert!(i128::from(share) * 10_000 >= exact);
            prop_assert!(i128::from(share - 1) * 10_000 < exact);
        }
    }
}
