//! Payments' types and pure rules: the payment state machine, fee rules and payout
//! destinations.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::identity::domain::Text;
use crate::ids::PaymentId;
use crate::money::{Money, MoneyError};
use crate::time::Timestamp;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Pending,
    Succeeded,
    Failed,
    Expired,
    /// The buyer or an admin called it off before paying.
    Cancelled,
    Refunded,
}

impl PaymentStatus {
    pub const ALL: [PaymentStatus; 6] =
        [Self::Pending, Self::Succeeded, Self::Failed, Self::Expired, Self::Cancelled, Self::Refunded];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
            Self::Refunded => "refunded",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether a payment may move from `self` to `to`. Payments only move forward; the one
    /// way out of `expired`, `failed` or `cancelled` is money that arrived anyway (the gateway
    /// says the payment succeeded), which must be recorded, never dropped.
    pub fn can_become(self, to: PaymentStatus) -> bool {
        use PaymentStatus::*;
        matches!(
            (self, to),
            (Pending, Succeeded | Failed | Expired | Cancelled)
                | (Expired | Failed | Cancelled, Succeeded)
                | (Succeeded, Refunded)
        )
    }
}

/// What a payment pays for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentPurpose {
    Order,
    /// Money added to the payer's wallet.
    Deposit,
}

impl PaymentPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Order => "order",
            Self::Deposit => "deposit",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Order, Self::Deposit].into_iter().find(|p| p.as_str() == text)
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Payment {
    pub id: PaymentId,
    pub purpose: PaymentPurpose,
    /// The order (or other record) being paid.
    pub reference: String,
    /// The gateway that collects it (`wallet` for the buyer's own balance).
    pub provider: String,
    /// How the buyer pays at that gateway, such as `qris`, `bni_va`, `card`, `konbini`.
    pub method: String,
    pub status: PaymentStatus,
    /// What is owed, before the gateway's fee.
    pub amount: Money,
    /// The gateway's fee, shown to the buyer before paying.
    pub fee: Money,
    /// What the buyer pays: amount plus fee.
    pub total: Money,
    /// Where the buyer pays (a hosted page), once the gateway has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkout_url: Option<String>,
    /// What the buyer pays with, when the method has one: the raw QRIS string or the virtual
    /// account number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_number: Option<String>,
    /// For QRIS: the QR code to scan, as a PNG (only for the payer and admins).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr_code_url: Option<String>,
    /// Method-specific instructions (a konbini slip: stores, codes, the voucher page).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub instructions: Option<serde_json::Value>,
    pub expires_at: Timestamp,
    pub created_at: Timestamp,
    #[serde(skip)]
    pub payer_id: String,
    /// What the provider keeps, when it said: the shop's cost, posted to the fees account.
    #[serde(skip)]
    pub provider_fee: Option<Money>,
    #[serde(skip)]
    pub provider_ref: Option<String>,
}

/// A gateway's fee: a share in basis points, rounded up, plus a fixed amount in minor units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeeRule {
    pub basis_points: i64,
    pub fixed_minor: i64,
}

impl FeeRule {
    /// Pakasir QRIS: 0.7% + Rp 310, rounded up (seed 000).
    pub const PAKASIR_QRIS: FeeRule = FeeRule { basis_points: 70, fixed_minor: 310 };

    pub fn fee_for(self, amount: Money) -> Result<Money, MoneyError> {
        amount.share_rounded_up(self.basis_points)?.checked_add(Money::new(self.fixed_minor, amount.currency))
    }
}

/// A bank's code as payout gateways name it (`BCA`, `BANK_MANDIRI`, `MBBEMYKL`): 2 to 20
/// characters of `A-Z`, `0-9` and `_`, upper-cased.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BankCode(String);

impl BankCode {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let code = raw.trim().to_ascii_uppercase();
        if !(2..=20).contains(&code.len()) {
            return Err("bank_code must be 2 to 20 characters");
        }
        if !code.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') {
            return Err("bank_code may only contain letters, digits and _");
        }
        Ok(Self(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for BankCode {
    type Error = &'static str;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<BankCode> for String {
    fn from(code: BankCode) -> Self {
        code.0
    }
}

impl utoipa::PartialSchema for BankCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[A-Za-z0-9_]{2,20}$"))
            .examples(["BCA"])
            .into()
    }
}

impl ToSchema for BankCode {}

/// A bank account number: 5 to 34 digits, written with or without spaces and dashes (which
/// are dropped). It is never serialized, and its `Debug` shows only the last four digits, so
/// answers, events and logs never hold it whole.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct AccountNumber(String);

impl AccountNumber {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let digits: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err("account_number may only contain digits, spaces and dashes");
        }
        if !(5..=34).contains(&digits.len()) {
            return Err("account_number must be 5 to 34 digits");
        }
        Ok(Self(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What answers and pages show of the number.
    pub fn last4(&self) -> &str {
        &self.0[self.0.len() - 4..]
    }
}

impl fmt::Debug for AccountNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountNumber(…{})", self.last4())
    }
}

impl TryFrom<String> for AccountNumber {
    type Error = &'static str;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl utoipa::PartialSchema for AccountNumber {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[ -]*([0-9][ -]*){5,34}$"))
            .examples(["1234-5678-90"])
            .into()
    }
}

impl ToSchema for AccountNumber {}

/// Where a payout goes: a bank account, as the account holder gives it. Answers show it
/// [`masked`](PayoutDestination::masked).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayoutDestination {
    pub bank_code: BankCode,
    pub account_number: AccountNumber,
    /// The account holder's name as the bank knows it.
    pub account_name: Text<100>,
}

impl PayoutDestination {
    pub fn masked(&self) -> MaskedDestination {
        MaskedDestination {
            bank_code: self.bank_code.clone(),
            account_number_last4: self.account_number.last4().to_owned(),
            account_name: self.account_name.clone(),
        }
    }
}

/// A payout destination as answers show it: the account number's last four digits only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct MaskedDestination {
    pub bank_code: BankCode,
    #[schema(example = "7890")]
    pub account_number_last4: String,
    pub account_name: Text<100>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use proptest::prelude::*;

    #[test]
    fn the_pakasir_fee_is_seven_tenths_of_a_percent_plus_310_rounded_up() {
        let fee = FeeRule::PAKASIR_QRIS.fee_for(Money::new(150_000, Currency::IDR)).unwrap();
        assert_eq!(fee.amount, 1_050 + 310);
        let odd = FeeRule::PAKASIR_QRIS.fee_for(Money::new(10_001, Currency::IDR)).unwrap();
        assert_eq!(odd.amount, 71 + 310);
    }

    fn any_status() -> impl Strategy<Value = PaymentStatus> {
        (0usize..6).prop_map(|i| PaymentStatus::ALL[i])
    }

    fn destination(json: serde_json::Value) -> Result<PayoutDestination, serde_json::Error> {
        serde_json::from_value(json)
    }

    #[test]
    fn a_destination_is_normalised_and_shown_masked() {
        let parsed = destination(serde_json::json!({
            "bank_code": " bca ", "account_number": "1234 5678-90", "account_name": "  Ana Suryani "
        }))
        .unwrap();
        assert_eq!(parsed.bank_code.as_str(), "BCA");
        assert_eq!(parsed.account_number.as_str(), "1234567890");
        assert_eq!(parsed.account_name.as_str(), "Ana Suryani");
        let masked = serde_json::to_value(parsed.masked()).unwrap();
        assert_eq!(
            masked,
            serde_json::json!({"bank_code": "BCA", "account_number_last4": "7890", "account_name": "Ana Suryani"})
        );
        assert!(!format!("{parsed:?}").contains("123456"), "Debug must not show the whole number");
    }

    #[test]
    fn bank_codes_are_two_to_twenty_letters_digits_or_underscores() {
        assert!(BankCode::parse("BANK_MANDIRI").is_ok());
        assert!(BankCode::parse("014").is_ok());
        assert!(BankCode::parse("B").is_err());
        assert!(BankCode::parse(&"A".repeat(21)).is_err());
        assert!(BankCode::parse("BCA-1").is_err());
        assert!(BankCode::parse("BČA").is_err());
        assert!(BankCode::parse("").is_err());
    }

    #[test]
    fn account_numbers_are_five_to_thirty_four_digits() {
        assert!(AccountNumber::parse("12345").is_ok());
        assert!(AccountNumber::parse(&"9".repeat(34)).is_ok());
        assert!(AccountNumber::parse("1234").is_err());
        assert!(AccountNumber::parse(&"9".repeat(35)).is_err());
        assert!(AccountNumber::parse("12 34").is_err());
        assert!(AccountNumber::parse("12345x").is_err());
        assert!(AccountNumber::parse("１２３４５").is_err(), "full-width digits are not digits here");
        assert!(AccountNumber::parse("--- ---").is_err());
    }

    #[test]
    fn a_destination_with_an_unknown_field_a_blank_name_or_a_missing_part_is_refused() {
        let good =
            serde_json::json!({"bank_code": "BCA", "account_number": "1234567890", "account_name": "Ana"});
        assert!(destination(good.clone()).is_ok());
        let mut extra = good.clone();
        extra["iban"] = "x".into();
        assert!(destination(extra).is_err());
        let mut blank = good.clone();
        blank["account_name"] = "   ".into();
        assert!(destination(blank).is_err());
        let mut long = good.clone();
        long["account_name"] = "a".repeat(101).into();
        assert!(destination(long).is_err());
        let mut missing = good;
        missing.as_object_mut().unwrap().remove("bank_code");
        assert!(destination(missing).is_err());
    }

    proptest! {
        #[test]
        fn no_sequence_of_updates_takes_a_payment_back_to_pending(updates in proptest::collection::vec(any_status(), 0..20)) {
            let mut status = PaymentStatus::Pending;
            let mut left_pending = false;
            for update in updates {
                if status.can_become(update) {
                    status = update;
                    left_pending = true;
                }
                if left_pending {
                    prop_assert_ne!(status, PaymentStatus::Pending);
                }
            }
        }

        #[test]
        fn a_refunded_payment_never_moves_and_a_failed_one_only_to_succeeded(to in any_status()) {
            prop_assert!(!PaymentStatus::Refunded.can_become(to));
            prop_assert_eq!(PaymentStatus::Failed.can_become(to), to == PaymentStatus::Succeeded);
        }
    }
}
