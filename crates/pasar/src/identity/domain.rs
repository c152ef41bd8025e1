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

/// An IANA time zone name such as `Asia/Jakarta`, checked against the time zone database
/// bundled in the binary and kept in its canonical spelling.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeZoneName(String);

impl TimeZoneName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        let plausible = !name.is_empty()
            && name.len() <= 64
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c));
        let unknown = || format!("{name:?} is not an IANA time zone name such as Asia/Jakarta");
        if !plausible {
            return Err(unknown());
        }
        let zone = jiff::tz::TimeZone::get(name).map_err(|_| unknown())?;
        let canonical = zone.iana_name().filter(|n| n.eq_ignore_ascii_case(name)).ok_or_else(unknown)?;
        Ok(Self(canonical.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TimeZoneName {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        Self::parse(&raw)
    }
}

impl From<TimeZoneName> for String {
    fn from(zone: TimeZoneName) -> Self {
        zone.0
    }
}

impl utoipa::PartialSchema for TimeZoneName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::{ObjectBuilder, schema::Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(64))
            .pattern(Some(r"^[A-Za-z0-9/_+-]+$"))
            .description(Some("An IANA time zone name, such as Asia/Jakarta"))
            .into()
    }
}

impl ToSchema for TimeZoneName {}

/// What an account token proves when it is used; each purpose has its own lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountTokenPurpose {
    /// The owner reads mail at the account's address (24 hours).
    EmailVerification,
    /// The owner chooses a new password (30 minutes).
    PasswordReset,
    /// The owner reads mail at the new address they asked for; using it applies the change
    /// (24 hours).
    EmailChange,
}

impl AccountTokenPurpose {
    pub const ALL: [AccountTokenPurpose; 3] = [
        AccountTokenPurpose::EmailVerification,
        AccountTokenPurpose::PasswordReset,
        AccountTokenPurpose::EmailChange,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AccountTokenPurpose::EmailVerification => "email_verification",
            AccountTokenPurpose::PasswordReset => "password_reset",
            AccountTokenPurpose::EmailChange => "email_change",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|purpose| purpose.as_str() == text)
    }

    pub fn lifetime(self) -> std::time::Duration {
        const HOUR: u64 = 3600;
        std::time::Duration::from_secs(match self {
            AccountTokenPurpose::EmailVerification | AccountTokenPurpose::EmailChange => 24 * HOUR,
            AccountTokenPurpose::PasswordReset => 30 * 60,
        })
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeactivationRefused {
    #[error("only staff may deactivate or reactivate accounts")]
    NotStaff,
    #[error("you cannot deactivate or reactivate your own account")]
    OwnAccount,
    #[error("only a super_admin may deactivate or reactivate an admin or super_admin")]
    NeedsSuperAdmin,
}

/// Who may switch whose account off and on: the rules of role changes (staff act on
/// customers, resellers and sellers; a staff account takes a `super_admin`; nobody acts on
/// themselves, so the last super_admin cannot lock the shop out).
pub fn check_deactivation(
    actor: Role,
    acting_on_self: bool,
    target: Role,
) -> Result<(), DeactivationRefused> {
    match check_role_change(actor, acting_on_self, target, target) {
        Ok(()) => Ok(()),
        Err(RoleChangeRefused::NotStaff) => Err(DeactivationRefused::NotStaff),
        Err(RoleChangeRefused::OwnRole) => Err(DeactivationRefused::OwnAccount),
        Err(RoleChangeRefused::NeedsSuperAdmin) => Err(DeactivationRefused::NeedsSuperAdmin),
    }
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

    #[test]
    fn time_zones_are_iana_names_in_their_canonical_spelling() {
        assert_eq!(TimeZoneName::parse("Asia/Jakarta").unwrap().as_str(), "Asia/Jakarta");
        assert_eq!(TimeZoneName::parse(" asia/tokyo ").unwrap().as_str(), "Asia/Tokyo");
        assert_eq!(TimeZoneName::parse("UTC").unwrap().as_str(), "UTC");
        for bad in ["", "Mars/Olympus", "Asia/../../etc/passwd", "+07:00", "Asia/Jakarta\u{0}"] {
            assert!(TimeZoneName::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn account_tokens_live_a_day_except_a_password_reset_which_lives_half_an_hour() {
        for purpose in AccountTokenPurpose::ALL {
            assert_eq!(AccountTokenPurpose::parse(purpose.as_str()), Some(purpose));
        }
        assert_eq!(AccountTokenPurpose::PasswordReset.lifetime().as_secs(), 1800);
        assert_eq!(AccountTokenPurpose::EmailVerification.lifetime().as_secs(), 86_400);
        assert_eq!(AccountTokenPurpose::EmailChange.lifetime().as_secs(), 86_400);
    }

    #[test]
    fn deactivation_follows_the_staff_rules() {
        use Role::*;
        assert_eq!(check_deactivation(Customer, false, Customer), Err(DeactivationRefused::NotStaff));
        assert_eq!(check_deactivation(Admin, false, Seller), Ok(()));
        assert_eq!(check_deactivation(Admin, false, Admin), Err(DeactivationRefused::NeedsSuperAdmin));
        assert_eq!(check_deactivation(SuperAdmin, false, Admin), Ok(()));
        assert_eq!(check_deactivation(SuperAdmin, true, SuperAdmin), Err(DeactivationRefused::OwnAccount));
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
