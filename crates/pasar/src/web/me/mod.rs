//! The buyer's account (wallet, points, addresses, notification preferences, sessions), password reset, and the marketplace's store pages.

use axum::Router;

use super::i18n::Messages;
use super::templates::Sources;
use crate::http::AppState;

pub(super) const MESSAGES: Messages = &[];

pub(super) const TEMPLATES: Sources = &[];

pub(super) fn routes() -> Router<AppState> {
    Router::new()
}
