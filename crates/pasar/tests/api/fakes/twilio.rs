//! A local Twilio Messages API on 127.0.0.1:0: `POST /2010-04-01/Accounts/{sid}/Messages.json`
//! with HTTP basic auth (account SID and auth token) and a form of `To`, `From` and `Body`,
//! answered 201 with the message resource as Twilio does (`sid` `SM…`, `status` `queued`). A
//! wrong account or token is 401 (Twilio's error 20003); a `To` that is not a phone number in
//! E.164 (`+` and 8 to 15 digits, spaces and dashes dropped) is 400 (error 21211).

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

pub const ACCOUNT_SID: &str = "AC00000000000000000000000000000001";
pub const AUTH_TOKEN: &str = "twilio-test-auth-token";
pub const FROM: &str = "+15005550006";

/// An SMS Twilio accepted.
#[derive(Clone, Debug)]
pub struct Sms {
    pub to: String,
    pub from: String,
    pub body: String,
}

#[derive(Default)]
struct Inner {
    sent: Vec<Sms>,
}

pub struct FakeTwilio {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeTwilio {
    pub async fn start() -> Self {
        let inner: Arc<Mutex<Inner>> = Arc::default();
        let app = Router::new()
            .route("/2010-04-01/Accounts/{sid}/Messages.json", post(create_message))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, inner }
    }

    pub fn configure(&self, config: &mut pasar::config::Config) {
        config.twilio_account_sid = Some(ACCOUNT_SID.into());
        config.twilio_auth_token = Some(AUTH_TOKEN.into());
        config.twilio_from = Some(FROM.into());
        config.twilio_url = self.url.clone();
    }

    pub fn sent(&self) -> Vec<Sms> {
        self.inner.lock().unwrap().sent.clone()
    }
}

async fn create_message(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(sid): Path<String>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> (StatusCode, Json<Value>) {
    let expected = format!("Basic {}", STANDARD.encode(format!("{ACCOUNT_SID}:{AUTH_TOKEN}")));
    let authorised = headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected.as_str());
    if sid != ACCOUNT_SID || !authorised {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"code": 20003, "message": "Authenticate", "status": 401})),
        );
    }
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let to: String = field("To").chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let digits = to.strip_prefix('+').unwrap_or("");
    if !(8..=15).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_digit()) {
        return (
            StatusCode::BAD_REQUEST,
            Json(
                json!({"code": 21211, "message": format!("The 'To' number {to} is not a valid phone number."), "status": 400}),
            ),
        );
    }
    let sms = Sms { to: to.clone(), from: field("From"), body: field("Body") };
    let mut inner = inner.lock().unwrap();
    inner.sent.push(sms.clone());
    let sid = format!("SM{:032x}", inner.sent.len());
    (
        StatusCode::CREATED,
        Json(
            json!({"sid": sid, "account_sid": ACCOUNT_SID, "to": to, "from": sms.from, "body": sms.body, "status": "queued"}),
        ),
    )
}
