//! Identity's domain types. Each parses once at the edge (serde calls the parser), so the rest
//! of the module holds only valid values.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An email address, trimmed and lower-cased so that one mailbox is one account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl utoipa::PartialSchema for Email {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        string_schema(Some("email"), 3, 254)
    }
}

impl ToSchema for Email {}

/// A string schema with a format and length bounds.
fn string_schema(
    format: Option<&str>,
    min: usize,
    max: usize,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::{ObjectBuilder, SchemaFormat, schema::Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(format.map(|f| SchemaFormat::Custom(f.to_owned())))
        .min_length(Some(min))
        .max_length(Some(max))
        .into()
}

impl Email {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err("email is required");
        }
        if email.chars().count() > 254 {
            return Err("email must be at most 254 characters");
        }
        let (local, domain) = email.rsplit_once('@').ok_or("not a valid email address")?;
        let valid_local = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.chars().all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let valid_domain = labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if valid_local && valid_domain { Ok(Self(email)) } else { Err("not a valid email address") }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = &'static str;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<Email> for String {
    fn from(email: Email) -> Self {
        email.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password as the user typed it: 8 to 128 characters. Never serialised or logged.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct Password(String);

impl utoipa::PartialSchema for Password {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        string_schema(Some("password"), 8, 128)
    }
}

impl ToSchema for Password {}

impl Password {
    pub fn parse(raw: String) -> Result<Self, &'static str> {
        let length = raw.chars().count();
        if length < 8 {
            Err("password must be at least 8 characters")
        } else if length > 128 {
            Err("password must be at most 128 characters")
        } else if raw.trim().is_empty() {
            Err("password must not be only spaces")
        } else {
            Ok(Self(raw))
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Password {
    type Error = &'static str;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(raw)
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(…)")
    }
}

/// Bounded text for names, labels and address lines: trimmed, not empty, no control
/// characters, at most `MAX` characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Text<const MAX: usize>(String);

impl<const MAX: usize> Text<MAX> {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let text = raw.trim();
        if text.is_empty() {
            return Err("must not be empty".into());
        }
        if text.chars().count() > MAX {
            return Err(format!("must be at most {MAX} characters"));
        }
        if text.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(Self(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> AsRef<str> for Text<MAX> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> TryFrom<String> for Text<MAX> {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        Self::parse(&raw)
    }
}

impl<const MAX: usize> From<Text<MAX>> for String {
    fn from(text: Text<MAX>) -> Self {
        text.0
    }
}

/// [`Text`] as a pattern: no control characters (`char::is_control`), and something besides
/// white space (`char::is_whitespace`, spelled out: a pattern's `\s` is not quite the same set).
pub const TEXT_PATTERN: &str = concat!(
    r"^[^\x00-\x1f\x7f-\x9f]*",
    r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]",
    r"[^\x00-\x1f\x7f-\x9f]*$"
);

/// Not only white space (`char::is_whitespace`), as a pattern.
pub const NOT_BLANK_PATTERN: &str = r"[^\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";

impl<const MAX: usize> utoipa::PartialSchema for Text<MAX> {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::{ObjectBuilder, schema::Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(MAX))
            .pattern(Some(TEXT_PATTERN))
            .description(Some(format!(
                "Text of 1 to {MAX} characters, not only spaces, no control characters"
            )))
            .into()
    }
}

/// One component per bound (`Text100`, `Text200`, …): with utoipa's default name, every `Text`
/// would be one component and all but one field would show another field's limit.
impl<const MAX: usize> ToSchema for Text<MAX> {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Owned(format!("Text{MAX}"))
    }
}

/// A person's name as shown on their account.
pub type PersonName = Text<100>;

/// What a user may do. `admin` runs the shop; `super_admin` also appoints admins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Customer,
    Reseller,
    Seller,
    Admin,
    SuperAdmin,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Customer, Role::Reseller, Role::Seller, Role::Admin, Role::SuperAdmin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Reseller => "reseller",
            Role::Seller => "seller",
            Role::Admin => "admin",
            Role::SuperAdmin => "super_admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == text)
    }

    pub fn is_staff(self) -> bool {
        matches!(self, Role::Admin | Role::SuperAdmin)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RoleChangeRefused {
    #[error("only staff may change roles")]
    NotStaff,
    #[error("you cannot change your own role")]
    OwnRole,
    #[error("only a super_admin may grant or remove the admin and super_admin roles")]
    NeedsSuperAdmin,
}

/// Who may change whose role: staff change customer, reseller and seller roles; granting or
/// taking away `admin` or `super_admin` takes a `super_admin`; nobody changes their own role
/// (so the last super_admin cannot lock the shop out by accident).
pub fn check_role_change(
    actor: Role,
    acting_on_self: bool,
    current: Role,
    wanted: Role,
) -> Result<(), RoleChangeRefused> {
    if !actor.is_staff() {
        return Err(RoleChangeRefused::NotStaff);
    }
    if acting_on_self {
        return Err(RoleChangeRefused::OwnRole);
    }
    if (current.is_staff() || wanted.is_staff()) && actor != Role::SuperAdmin {
        return Err(RoleChangeRefused::NeedsSuperAdmin);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_email_is_normalised_to_lower_case_without_spaces() {
        assert_eq!(Email::parse("  Ana@Example.COM ").unwrap().as_str(), "ana@example.com");
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.com",
            "ana@example",
            "a na@example.com",
            "ana@@example.com",
            "ana@exa_mple.com",
            ".ana@example.com",
            "ana..b@example.com",
            "ana@-example.com",
            "ana@example..com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert!(Email::parse(&long_local).is_err());
    }

    #[test]
    fn passwords_are_between_8_and_128_characters() {
        assert!(Password::parse("short".into()).is_err());
        assert!(Password::parse("        ".into()).is_err());
        assert!(Password::parse("x".repeat(129)).is_err());
        assert!(Password::parse("correct horse".into()).is_ok());
    }

    #[test]
    fn a_password_never_shows_in_debug_output() {
        let password = Password::parse("hunter2hunter2".into()).unwrap();
        assert!(!format!("{password:?}").contains("hunter2"));
    }

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(PersonName::parse("  Ana  ").unwrap().as_str(), "Ana");
        assert!(PersonName::parse("   ").is_err());
        assert!(PersonName::parse(&"a".repeat(101)).is_err());
        assert!(PersonName::parse("Ana\u{0}").is_err());
    }

    #[test]
    fn role_changes_follow_the_staff_rules() {
        use Role::*;
        assert_eq!(check_role_change(Customer, false, Customer, Seller), Err(RoleChangeRefused::NotStaff));
        assert_eq!(check_role_change(Admin, false, Customer, Reseller), Ok(()));
        assert_eq!(check_role_change(Admin, false, Customer, Admin), Err(RoleChangeRefused::NeedsSuperAdmin));
        assert_eq!(check_role_change(Admin, false, Admin, Customer), Err(RoleChangeRefused::NeedsSuperAdmin));
        assert_eq!(check_role_change(SuperAdmin, false, Customer, Admin), Ok(()));
        assert_eq!(
            check_role_change(SuperAdmin, true, SuperAdmin, Customer),
            Err(RoleChangeRefused::OwnRole)
        );
    }

    proptest! {
        #[test]
        fn only_a_super_admin_ever_makes_or_unmakes_staff(actor in 0usize..5, current in 0usize..5, wanted in 0usize..5, own in any::<bool>()) {
            let (actor, current, wanted) = (Role::ALL[actor], Role::ALL[current], Role::ALL[wanted]);
            if check_role_change(actor, own, current, wanted).is_ok() {
                prop_assert!(actor.is_staff());
                prop_assert!(!own);
                if current.is_staff() || wanted.is_staff() {
                    prop_assert_eq!(actor, Role::SuperAdmin);
                }
            }
        }

        #[test]
        fn a_role_round_trips_through_its_name(index in 0usize..5) {
            let role = Role::ALL[index];
            prop_assert_eq!(Role::parse(role.as_str()), Some(role));
        }

        #[test]
        fn any_accepted_email_is_lower_case_and_bounded(raw in "[A-Za-z0-9._%+-]{0,70}@[A-Za-z0-9.-]{0,70}") {
            if let Ok(email) = Email::parse(&raw) {
                prop_assert!(email.as_str().len() <= 254);
                prop_assert_eq!(email.as_str(), raw.trim().to_lowercase());
            }
        }
    }
}
