//! A user's saved postal addresses. Every query is scoped to its owner: someone else's address
//! is indistinguishable from one that does not exist.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;
use utoipa::ToSchema;

use super::domain::Text;
use super::service::Identity;
use crate::db::column::parse_text;
use crate::ids::{AddressId, UserId};
use crate::time::Timestamp;

/// An ISO 3166-1 alpha-2 country code, upper case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, pattern = "^[A-Z]{2}$", example = "ID")]
pub struct CountryCode(String);

impl TryFrom<String> for CountryCode {
    type Error = &'static str;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        let code = raw.trim().to_ascii_uppercase();
        if code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(code))
        } else {
            Err("must be a two-letter ISO 3166-1 country code")
        }
    }
}

impl From<CountryCode> for String {
    fn from(code: CountryCode) -> Self {
        code.0
    }
}

/// A phone number: digits with an optional leading `+` and spaces or dashes between, 6 to 20
/// digits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, pattern = r"^\s*\+?[ -]*([0-9][ -]*){6,20}\s*$", example = "+62 812 3456 7890")]
pub struct Phone(String);

impl TryFrom<String> for Phone {
    type Error = &'static str;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        let phone = raw.trim();
        let body = phone.strip_prefix('+').unwrap_or(phone);
        let digits = body.chars().filter(char::is_ascii_digit).count();
        let allowed = body.chars().all(|c| c.is_ascii_digit() || c == ' ' || c == '-');
        if allowed && (6..=20).contains(&digits) {
            Ok(Self(phone.to_string()))
        } else {
            Err("must be a phone number of 6 to 20 digits")
        }
    }
}

impl From<Phone> for String {
    fn from(phone: Phone) -> Self {
        phone.0
    }
}

/// The fields of an address as a client sends them.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressInput {
    /// A name for the address, such as "Home".
    pub label: Option<Text<50>>,
    pub recipient_name: Text<100>,
    pub phone: Phone,
    pub line1: Text<200>,
    pub line2: Option<Text<200>>,
    pub city: Text<100>,
    pub region: Option<Text<100>>,
    pub postal_code: Text<20>,
    pub country: CountryCode,
    /// Make this the default address (any previous default stops being one).
    #[serde(default)]
    pub is_default: bool,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Address {
    pub id: AddressId,
    pub label: Option<String>,
    pub recipient_name: String,
    pub phone: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub region: Option<String>,
    pub postal_code: String,
    pub country: String,
    pub is_default: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A user may keep this many addresses.
pub const MAX_ADDRESSES: i64 = 50;

const COLUMNS: &str = "id, label, recipient_name, phone, line1, line2, city, region, postal_code, \
                       country, is_default, created_at, updated_at";

fn address_of(row: &AnyRow) -> Result<Address, sqlx::Error> {
    Ok(Address {
        id: parse_text(row, "id")?,
        label: row.try_get("label")?,
        recipient_name: row.try_get("recipient_name")?,
        phone: row.try_get("phone")?,
        line1: row.try_get("line1")?,
        line2: row.try_get("line2")?,
        city: row.try_get("city")?,
        region: row.try_get("region")?,
        postal_code: row.try_get("postal_code")?,
        country: row.try_get("country")?,
        is_default: row.try_get::<i64, _>("is_default")? != 0,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
    })
}

#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    #[error("no such address")]
    NotFound,
    #[error("a user may keep at most {MAX_ADDRESSES} addresses")]
    TooMany,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

fn optional(text: &Option<impl AsRef<str>>) -> Option<String> {
    text.as_ref().map(|t| t.as_ref().to_owned())
}

impl Identity {
    pub async fn addresses(&self, owner: UserId) -> Result<Vec<Address>, AddressError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM addresses WHERE user_id = $1 ORDER BY id"))
            .bind(owner.to_string())
            .fetch_all(self.db().reader())
            .await?;
        Ok(rows.iter().map(address_of).collect::<Result<_, _>>()?)
    }

    pub async fn address(&self, owner: UserId, id: AddressId) -> Result<Address, AddressError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM addresses WHERE id = $1 AND user_id = $2"))
            .bind(id.to_string())
            .bind(owner.to_string())
            .fetch_optional(self.db().reader())
            .await?
            .ok_or(AddressError::NotFound)?;
        Ok(address_of(&row)?)
    }

    pub async fn add_address(&self, owner: UserId, input: AddressInput) -> Result<Address, AddressError> {
        let now = self.clock().now();
        let id = AddressId::new();
        let mut tx = self.db().begin().await?;
        let count: i64 = sqlx::query("SELECT COUNT(*) FROM addresses WHERE user_id = $1")
            .bind(owner.to_string())
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if count >= MAX_ADDRESSES {
            return Err(AddressError::TooMany);
        }
        // The first address is the default whether asked or not.
        let is_default = input.is_default || count == 0;
        if is_default {
            clear_default(&mut tx, owner, now).await?;
        }
        sqlx::query(
            "INSERT INTO addresses (id, user_id, label, recipient_name, phone, line1, line2, city,
                                    region, postal_code, country, is_default, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)",
        )
        .bind(id.to_string())
        .bind(owner.to_string())
        .bind(optional(&input.label))
        .bind(input.recipient_name.as_str())
        .bind(String::from(input.phone))
        .bind(input.line1.as_str())
        .bind(optional(&input.line2))
        .bind(input.city.as_str())
        .bind(optional(&input.region))
        .bind(input.postal_code.as_str())
        .bind(String::from(input.country))
        .bind(i64::from(is_default))
        .bind(now.millis())
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM addresses WHERE id = $1"))
            .bind(id.to_string())
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(address_of(&row)?)
    }

    pub async fn replace_address(
        &self,
        owner: UserId,
        id: AddressId,
        input: AddressInput,
    ) -> Result<Address, AddressError> {
        let now = self.clock().now();
        let mut tx = self.db().begin().await?;
        if input.is_default {
            clear_default(&mut tx, owner, now).await?;
        }
        let row = sqlx::query(&format!(
            "UPDATE addresses SET label = $1, recipient_name = $2, phone = $3, line1 = $4, line2 = $5,
                    city = $6, region = $7, postal_code = $8, country = $9,
                    is_default = CASE WHEN $10 = 1 THEN 1 ELSE is_default END, updated_at = $11
             WHERE id = $12 AND user_id = $13
             RETURNING {COLUMNS}"
        ))
        .bind(optional(&input.label))
        .bind(input.recipient_name.as_str())
        .bind(String::from(input.phone))
        .bind(input.line1.as_str())
        .bind(optional(&input.line2))
        .bind(input.city.as_str())
        .bind(optional(&input.region))
        .bind(input.postal_code.as_str())
        .bind(String::from(input.country))
        .bind(i64::from(input.is_default))
        .bind(now.millis())
        .bind(id.to_string())
        .bind(owner.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(AddressError::NotFound)?;
        let address = address_of(&row)?;
        tx.commit().await?;
        Ok(address)
    }

    pub async fn remove_address(&self, owner: UserId, id: AddressId) -> Result<(), AddressError> {
        let mut tx = self.db().begin().await?;
        let removed = sqlx::query("DELETE FROM addresses WHERE id = $1 AND user_id = $2")
            .bind(id.to_string())
            .bind(owner.to_string())
            .execute(&mut *tx)
            .await?;
        if removed.rows_affected() == 0 {
            return Err(AddressError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }
}

async fn clear_default(
    tx: &mut crate::db::Transaction,
    owner: UserId,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE addresses SET is_default = 0, updated_at = $1 WHERE user_id = $2 AND is_default = 1")
        .bind(now.millis())
        .bind(owner.to_string())
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_codes_are_two_letters() {
        assert_eq!(CountryCode::try_from("id".to_string()).unwrap().0, "ID");
        assert!(CountryCode::try_from("IDN".to_string()).is_err());
        assert!(CountryCode::try_from("I1".to_string()).is_err());
    }

    #[test]
    fn phones_are_digits_with_optional_plus() {
        assert!(Phone::try_from("+62 812-3456-7890".to_string()).is_ok());
        assert!(Phone::try_from("12345".to_string()).is_err());
        assert!(Phone::try_from("call me".to_string()).is_err());
    }
}
