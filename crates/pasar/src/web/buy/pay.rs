//! `/pay/{payment_id}`: the pay step of any payment of the signed-in user (an order's or a
//! wallet deposit's), as its method asks: a QRIS code to scan with the time left, a konbini
//! slip, a virtual account number, a redirect to a hosted page, or the sandbox's buttons. The
//! page polls the payment's status (htmx, every 3 s) and sends the browser on once it is paid;
//! without JavaScript a "check status" button does the same.

use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use minijinja::{Value, context};

use super::super::templates::{PageError, PageResult, render};
use super::super::visit::Visit;
use super::{is_htmx, see_other, to_login};
use crate::http::AppState;
use crate::ids::PaymentId;
use crate::payments::providers::sandbox;
use crate::payments::{Payment, PaymentPurpose, PaymentStatus, PaymentsError};

/// The payment `raw` names, when it is the visitor's own; anyone else's is a 404.
async fn own_payment(state: &AppState, visit: &Visit, raw: &str) -> Result<Payment, PageError> {
    let principal = visit.principal.ok_or_else(PageError::not_found)?;
    let id: PaymentId = raw.parse().map_err(|_| PageError::not_found())?;
    let payment = state.payments.payment(id).await.map_err(|err| match err {
        PaymentsError::NotFound => PageError::not_found(),
        err => PageError::internal(err),
    })?;
    if payment.payer_id != principal.user.to_string() {
        return Err(PageError::not_found());
    }
    Ok(payment)
}

/// Where a paid payment sends the buyer: its order, or the wallet for a deposit.
fn paid_path(payment: &Payment) -> String {
    match payment.purpose {
        PaymentPurpose::Order => format!("/orders/{}", payment.reference),
        PaymentPurpose::Deposit => "/account/wallet".to_owned(),
    }
}

/// Paid at a provider's own page: no code or slip of Pasar's to show.
fn hosted(payment: &Payment) -> Option<&str> {
    let own_page = payment.provider == sandbox::NAME
        || payment.payment_number.is_some()
        || payment.instructions.is_some();
    if own_page { None } else { payment.checkout_url.as_deref() }
}

/// A QR code as an SVG drawn from its modules, with the standard four-module quiet zone.
fn qr_svg(text: &str) -> Option<String> {
    use qrcode::{Color, EcLevel, QrCode};
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    let (modules, quiet) = (code.width(), 4);
    let side = modules + 2 * quiet;
    let mut path = String::new();
    for (index, color) in code.to_colors().iter().enumerate() {
        if *color == Color::Dark {
            let (x, y) = (index % modules + quiet, index / modules + quiet);
            let _ = write!(path, "M{x} {y}h1v1h-1z");
        }
    }
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {side} {side}\" width=\"264\" height=\"264\" \
         shape-rendering=\"crispEdges\" aria-hidden=\"true\" class=\"qr\"><rect width=\"{side}\" height=\"{side}\" \
         fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    ))
}

/// What the status part of the page shows (polled while pending).
fn status_context(visit: &Visit, payment: &Payment) -> Value {
    let status = payment.status.as_str();
    context! {
        payment_id => payment.id.to_string(),
        status,
        status_text => super::super::i18n::message(visit.locale, &format!("buy_payment_{status}")),
        pending => payment.status == PaymentStatus::Pending,
        done_href => paid_path(payment),
    }
}

#[tracing::instrument(skip_all)]
pub async fn show(State(state): State<AppState>, visit: Visit, Path(raw): Path<String>) -> PageResult {
    if visit.principal.is_none() {
        return Ok(to_login(&format!(
            "/pay/{}",
            raw.chars().filter(char::is_ascii_alphanumeric).collect::<String>()
        )));
    }
    let payment = own_payment(&state, &visit, &raw).await?;
    if payment.status == PaymentStatus::Succeeded {
        return Ok(see_other(&paid_path(&payment)));
    }
    if payment.status == PaymentStatus::Pending {
        if let Some(url) = hosted(&payment).filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        {
            return Ok(see_other(url));
        }
    }
    let locale = visit.locale;
    let pending = payment.status == PaymentStatus::Pending;
    let sandbox = pending && state.sandbox_enabled && payment.provider == sandbox::NAME;
    let qr = match (pending, payment.method.as_str(), &payment.payment_number) {
        (true, "qris", Some(qris)) => qr_svg(qris),
        _ => None,
    };
    let number = match (pending, payment.method.as_str(), &payment.payment_number) {
        (true, method, Some(number)) if method != "qris" => Some(number.clone()),
        _ => None,
    };
    let slip = payment.instructions.as_ref().filter(|_| pending).map(|i| {
        let text = |key: &str| i.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        context! {
            store => text("store"),
            receipt => text("receipt"),
            confirmation_code => text("confirmation_code"),
            deadline => text("payment_deadline"),
            instructions_url => text("instructions_url").filter(|u| u.starts_with("https://")),
        }
    });
    let page = context! {
        back => format!("/pay/{}", payment.id),
        payment_id => payment.id.to_string(),
        for_order => payment.purpose == PaymentPurpose::Order,
        reference => payment.reference.as_str(),
        method => payment.method.as_str(),
        amount => locale.format_money(payment.amount),
        fee => locale.format_money(payment.fee),
        total => locale.format_money(payment.total),
        expires_iso => payment.expires_at.to_rfc3339(),
        expires_text => locale.format_datetime(payment.expires_at),
        sandbox,
        qr_svg => qr.map(Value::from_safe_string),
        number,
        slip,
        state => status_context(&visit, &payment),
    };
    Ok(render(&visit, StatusCode::OK, "buy/pay.html", page))
}

/// The payment's status, polled by the page: the status part again while it waits; once paid,
/// `HX-Redirect` (htmx) or a 303 to where the buyer goes next.
#[tracing::instrument(skip_all)]
pub async fn status(
    State(state): State<AppState>,
    visit: Visit,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> PageResult {
    let payment = own_payment(&state, &visit, &raw).await?;
    let htmx = is_htmx(&headers);
    if payment.status == PaymentStatus::Succeeded {
        let to = paid_path(&payment);
        if htmx {
            let location = HeaderValue::from_str(&to).map_err(PageError::internal)?;
            return Ok((StatusCode::OK, [("hx-redirect", location)]).into_response());
        }
        return Ok(see_other(&to));
    }
    if !htmx {
        return Ok(see_other(&format!("/pay/{}", payment.id)));
    }
    Ok(render(
        &visit,
        StatusCode::OK,
        "buy/pay_status.html",
        context! { state => status_context(&visit, &payment) },
    ))
}

/// The sandbox gateway's buttons, pressed from the pay step: what `POST
/// /sandbox/pay/{id}/succeed`, `/fail` and `/expire` do, for the visitor's own sandbox payment.
#[tracing::instrument(skip_all)]
pub async fn sandbox(
    State(state): State<AppState>,
    visit: Visit,
    Path((raw, outcome)): Path<(String, String)>,
) -> PageResult {
    let payment = own_payment(&state, &visit, &raw).await?;
    if !state.sandbox_enabled || payment.provider != sandbox::NAME {
        return Err(PageError::not_found());
    }
    let pressed = match outcome.as_str() {
        "succeed" => state.sandbox.settle(payment.id, "succeeded").await,
        "fail" => state.sandbox.settle(payment.id, "failed").await,
        "expire" => sandbox::expire(&state, payment.id).await,
        _ => return Err(PageError::not_found()),
    };
    match pressed {
        // Not pending any more (paid, or its time is up): the page shows where it stands.
        Ok(_) => Ok(see_other(&format!("/pay/{}", payment.id))),
        Err(err) => Err(PageError::internal(err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_qr_code_is_an_svg_of_dark_modules_only() {
        let svg = qr_svg("00020101021226610016ID.CO.QRIS.WWW").unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("h1v1h-1z"));
        assert!(!svg.contains("<script") && !svg.contains("style"));
    }
}
