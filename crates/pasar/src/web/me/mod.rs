//! The buyer's account (profile, addresses, wallet, points, notification preferences,
//! sessions), password reset, and the marketplace's store pages.

mod addresses;
mod messages;
mod password;
mod profile;
mod settings;
mod stores;
mod wallet;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::i18n::Messages;
use super::templates::Sources;
use super::visit::Visit;
use crate::http::AppState;
use crate::identity::Principal;

pub(super) const MESSAGES: Messages = messages::MESSAGES;

pub(super) const TEMPLATES: Sources = &[
    ("me/nav.html", include_str!("../templates/me/nav.html")),
    ("me/account.html", include_str!("../templates/me/account.html")),
    ("me/addresses.html", include_str!("../templates/me/addresses.html")),
    ("me/address_form.html", include_str!("../templates/me/address_form.html")),
    ("me/history.html", include_str!("../templates/me/history.html")),
    ("me/wallet.html", include_str!("../templates/me/wallet.html")),
    ("me/points.html", include_str!("../templates/me/points.html")),
    ("me/notifications.html", include_str!("../templates/me/notifications.html")),
    ("me/sessions.html", include_str!("../templates/me/sessions.html")),
    ("me/forgot.html", include_str!("../templates/me/forgot.html")),
    ("me/reset.html", include_str!("../templates/me/reset.html")),
    ("me/store.html", include_str!("../templates/me/store.html")),
];

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/account", get(profile::show))
        .route("/account/name", post(profile::rename))
        .route("/account/password", post(profile::change_password))
        .route("/account/addresses", get(addresses::list).post(addresses::add))
        .route("/account/addresses/new", get(addresses::new))
        .route("/account/addresses/{id}", get(addresses::edit).post(addresses::replace))
        .route("/account/addresses/{id}/delete", post(addresses::remove))
        .route("/account/addresses/{id}/default", post(addresses::make_default))
        .route("/account/wallet", get(wallet::show))
        .route("/account/wallet/deposits", post(wallet::deposit))
        .route("/account/wallet/withdrawals", post(wallet::withdraw))
        .route("/account/points", get(wallet::points))
        .route("/account/notifications", get(settings::notifications).post(settings::save_notifications))
        .route("/account/sessions", get(settings::sessions))
        .route("/account/sessions/end-all", post(settings::end_all))
        .route("/account/sessions/{id}/end", post(settings::end_one))
        .route("/password/forgot", get(password::forgot_page).post(password::forgot))
        .route("/password/reset", get(password::reset_page).post(password::reset))
        .route("/stores/{slug}", get(stores::show))
}

/// A redirect after a POST (or to the login page): `303 See Other` to a path of this site.
pub(super) fn see_other(to: &str) -> Response {
    let location = HeaderValue::from_str(to).unwrap_or(HeaderValue::from_static("/"));
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// The signed-in visitor of an account page; a guest is sent to log in and come back.
pub(super) struct Member(pub Principal);

impl FromRequestParts<AppState> for Member {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let visit = Visit::from_request_parts(parts, state).await?;
        match visit.principal {
            Some(principal) => Ok(Member(principal)),
            None => {
                // Back to the page asked for; after a POST, to the page that holds its form.
                let path = parts.uri.path();
                let back = if parts.method == axum::http::Method::GET { path } else { "/account" };
                let next = form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>();
                Err(see_other(&format!("/login?next={next}")))
            }
        }
    }
}

/// The notice a page shows after a redirect (`?done=…`): only the keys named here, so an
/// address cannot make a page say anything else.
pub(super) fn notice(done: Option<&str>) -> Option<&'static str> {
    const NOTICES: &[&str] = &[
        "me_notice_name_saved",
        "me_notice_password_changed",
        "me_notice_address_saved",
        "me_notice_address_removed",
        "me_notice_default_set",
        "me_notice_withdrawal_started",
        "me_notice_preferences_saved",
        "me_notice_session_ended",
        "me_notice_sessions_ended",
    ];
    let key = format!("me_notice_{}", done?);
    NOTICES.iter().copied().find(|notice| *notice == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_this_area_names_exists() {
        for source in [
            include_str!("mod.rs"),
            include_str!("addresses.rs"),
            include_str!("password.rs"),
            include_str!("profile.rs"),
            include_str!("settings.rs"),
            include_str!("stores.rs"),
            include_str!("wallet.rs"),
        ] {
            super::super::i18n::assert_messages_exist(source);
        }
        for piece in include_str!("mod.rs").split('"').filter(|p| {
            p.starts_with("me_notice_")
                && p.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                && !p.ends_with('_')
        }) {
            assert!(crate::locale::Locale::ALL.iter().all(|l| super::super::i18n::has(*l, piece)), "{piece}");
        }
    }

    #[test]
    fn only_known_notices_are_shown() {
        assert_eq!(notice(Some("name_saved")), Some("me_notice_name_saved"));
        assert_eq!(notice(Some("<script>")), None);
        assert_eq!(notice(None), None);
    }
}
