//! The languages Pasar speaks to people in: Indonesian (the default, as the shop's home market),
//! English and Japanese. A user's language chooses their emails, messages and pages.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_language_tag_is_read_by_its_primary_subtag() {
        assert_eq!("en-GB".parse::<Locale>(), Ok(Locale::En));
        assert_eq!("JA_jp".parse::<Locale>(), Ok(Locale::Ja));
        assert_eq!("id".parse::<Locale>(), Ok(Locale::Id));
        assert!("fr".parse::<Locale>().is_err());
        assert!("".parse::<Locale>().is_err());
    }
}
