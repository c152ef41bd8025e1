//! `pasar demo`: a shop a newcomer can log into at once. Loading it twice changes nothing.

use crate::identity::{Email, Identity, IdentityError, Password, PersonName, Role};

pub struct DemoAccount {
    pub email: &'static str,
    pub password: &'static str,
    pub role: Role,
    pub created: bool,
}

const ACCOUNTS: [(&str, &str, &str, Role); 2] = [
    ("admin@pasar.local", "pasar-admin-demo", "Demo Admin", Role::SuperAdmin),
    ("buyer@pasar.local", "pasar-buyer-demo", "Demo Buyer", Role::Customer),
];

/// Creates the demo accounts that are not there yet.
pub async fn load(identity: &Identity) -> anyhow::Result<Vec<DemoAccount>> {
    let mut accounts = Vec::new();
    for (email, password, name, role) in ACCOUNTS {
        let created = match identity
            .create_user(
                Email::parse(email).map_err(anyhow::Error::msg)?,
                Password::parse(password.to_owned()).map_err(anyhow::Error::msg)?,
                PersonName::parse(name).map_err(anyhow::Error::msg)?,
                role,
            )
            .await
        {
            Ok(_) => true,
            Err(IdentityError::EmailTaken) => false,
            Err(other) => return Err(other.into()),
        };
        accounts.push(DemoAccount { email, password, role, created });
    }
    Ok(accounts)
}
