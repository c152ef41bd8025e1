//! `POST /v1/webhooks/telegram`: the updates Telegram delivers in webhook mode, checked against
//! the secret Telegram sends back in `X-Telegram-Bot-Api-Secret-Token`.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::domain::Update;
use crate::http::error::{ApiError, ErrorEnvelope};
use crate::http::extract::RawBody;
use crate::http::{ApiResult, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(receive_update))
}

#[derive(Serialize, ToSchema)]
struct Handled {
    ok: bool,
}

/// Telegram delivers one update. A missing or wrong secret is refused with 401 before the
/// body is read; an update Telegram delivers again is handled once.
#[utoipa::path(
    post, path = "/v1/webhooks/telegram", tag = "telegram",
    params(("X-Telegram-Bot-Api-Secret-Token" = String, Header, description = "the webhook's secret")),
    request_body(content = String, description = "a Telegram Update", content_type = "application/json"),
    extensions(("x-raw-body" = json!(true))),
    responses(
        (status = 200, body = Handled),
        (status = 401, description = "missing or wrong secret", body = ErrorEnvelope),
        (status = 503, description = "the update could not be handled now; Telegram retries it", body = ErrorEnvelope),
    )
)]
async fn receive_update(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Json<Handled>> {
    let Some(bot) = state.telegram.as_ref() else { return Err(ApiError::not_found()) };
    let presented = headers.get("x-telegram-bot-api-secret-token").map(|v| v.as_bytes()).unwrap_or_default();
    if !bot.secret_matches(presented) {
        return Err(ApiError::unauthorized(
            "invalid_secret",
            "missing or wrong X-Telegram-Bot-Api-Secret-Token",
        ));
    }
    let update: Update = match serde_json::from_slice(&body) {
        Ok(update) => update,
        Err(err) => {
            // Telegram would retry a refused update forever; one this bot cannot read is dropped.
            tracing::warn!(error = %err, "an unreadable Telegram update was dropped");
            return Ok(Json(Handled { ok: false }));
        }
    };
    bot.handle(update).await.map_err(ApiError::unavailable)?;
    Ok(Json(Handled { ok: true }))
}
