//! A local push service (RFC 8030) on 127.0.0.1:0 with the browsers subscribed to it. Each
//! browser has its own P-256 key pair and auth secret, as `PushManager.subscribe()` makes; a
//! push to `/push/{browser}` is accepted only with a valid VAPID authorization (RFC 8292:
//! an ES256 JWT for this origin, not expired, with the key it names) and is opened with that
//! browser's private key (RFC 8291), so a message arrives only if Pasar encrypted it for that
//! browser. A browser can be made gone (410) or the service made to fail (5xx) on demand.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use serde_json::{Value, json};
use web_push_native::Auth;
use web_push_native::p256::SecretKey;
use web_push_native::p256::elliptic_curve::sec1::ToEncodedPoint as _;

/// A message a browser received and could read.
#[derive(Clone, Debug)]
pub struct Received {
    pub browser: usize,
    pub message: Value,
    /// The key the VAPID authorization named.
    pub vapid_key: String,
    pub ttl: Option<String>,
}

struct Browser {
    secret: SecretKey,
    auth: [u8; 16],
    gone: bool,
}

#[derive(Default)]
struct Inner {
    browsers: Vec<Browser>,
    received: Vec<Received>,
    refused: Vec<String>,
    failing: usize,
}

pub struct FakePushService {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakePushService {
    pub async fn start() -> Self {
        let inner: Arc<Mutex<Inner>> = Arc::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new().route("/push/{browser}", post(push)).with_state((inner.clone(), url.clone()));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, inner }
    }

    /// A new browser: its subscription as `PushSubscription.toJSON()` gives it.
    pub fn new_browser(&self) -> (usize, Value) {
        let secret = SecretKey::random(&mut rand::rngs::OsRng);
        let auth: [u8; 16] = rand::random();
        let p256dh = URL_SAFE_NO_PAD.encode(secret.public_key().to_encoded_point(false).as_bytes());
        let mut inner = self.inner.lock().unwrap();
        inner.browsers.push(Browser { secret, auth, gone: false });
        let id = inner.browsers.len() - 1;
        let subscription = json!({
            "endpoint": format!("{}/push/{id}", self.url),
            "expirationTime": null,
            "keys": {"p256dh": p256dh, "auth": URL_SAFE_NO_PAD.encode(auth)},
        });
        (id, subscription)
    }

    /// The browser unsubscribed on its side: pushes to it are 410 Gone from now on.
    pub fn make_gone(&self, browser: usize) {
        self.inner.lock().unwrap().browsers[browser].gone = true;
    }

    /// The next `count` pushes are answered 503.
    pub fn fail_next(&self, count: usize) {
        self.inner.lock().unwrap().failing = count;
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// Why pushes were refused (bad authorization, unreadable body).
    pub fn refused(&self) -> Vec<String> {
        self.inner.lock().unwrap().refused.clone()
    }
}

async fn push(
    State((inner, origin)): State<(Arc<Mutex<Inner>>, String)>,
    Path(browser): Path<usize>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let mut inner = inner.lock().unwrap();
    if inner.failing > 0 {
        inner.failing -= 1;
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let vapid_key = match check_vapid(header("authorization").as_deref(), &origin) {
        Ok(key) => key,
        Err(why) => {
            inner.refused.push(why);
            return StatusCode::UNAUTHORIZED;
        }
    };
    if header("content-encoding").as_deref() != Some("aes128gcm") {
        inner.refused.push("content-encoding is not aes128gcm".into());
        return StatusCode::BAD_REQUEST;
    }
    let Some(target) = inner.browsers.get(browser) else { return StatusCode::NOT_FOUND };
    if target.gone {
        return StatusCode::GONE;
    }
    let opened =
        web_push_native::decrypt(body.to_vec(), &target.secret, &Auth::clone_from_slice(&target.auth));
    let Ok(plain) = opened else {
        inner.refused.push("the body does not open with this browser's keys".into());
        return StatusCode::BAD_REQUEST;
    };
    let message = serde_json::from_slice(&plain).unwrap_or(Value::Null);
    let ttl = header("ttl");
    inner.received.push(Received { browser, message, vapid_key, ttl });
    StatusCode::CREATED
}

/// RFC 8292: `vapid t=<JWT>, k=<key>`, the JWT signed with that key (ES256), its audience this
/// origin, its expiry in the next 24 hours.
fn check_vapid(authorization: Option<&str>, origin: &str) -> Result<String, String> {
    let rest = authorization.and_then(|a| a.strip_prefix("vapid ")).ok_or("no vapid authorization")?;
    let mut token = None;
    let mut key = None;
    for part in rest.split(',').map(str::trim) {
        if let Some(t) = part.strip_prefix("t=") {
            token = Some(t);
        } else if let Some(k) = part.strip_prefix("k=") {
            key = Some(k);
        }
    }
    let (token, key) = token.zip(key).ok_or("vapid without t= and k=")?;
    let verifying = URL_SAFE_NO_PAD
        .decode(key)
        .ok()
        .and_then(|bytes| VerifyingKey::from_sec1_bytes(&bytes).ok())
        .ok_or("k= is not a P-256 key")?;
    let (signed, signature) = token.rsplit_once('.').ok_or("not a JWT")?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .ok()
        .and_then(|bytes| Signature::from_slice(&bytes).ok())
        .ok_or("not an ES256 signature")?;
    verifying.verify(signed.as_bytes(), &signature).map_err(|_| "the JWT's signature is wrong")?;
    let (header, claims) = signed.split_once('.').ok_or("not a JWT")?;
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).map_err(|_| "header")?)
        .map_err(|_| "header is not JSON")?;
    if header["alg"] != "ES256" {
        return Err("alg is not ES256".into());
    }
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).map_err(|_| "claims")?)
        .map_err(|_| "claims are not JSON")?;
    if claims["aud"] != origin {
        return Err(format!("aud {} is not {origin}", claims["aud"]));
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let exp = claims["exp"].as_i64().ok_or("no exp")?;
    if exp <= now || exp > now + 24 * 60 * 60 {
        return Err(format!("exp {exp} is not within the next 24 hours"));
    }
    if claims["sub"]
        .as_str()
        .is_none_or(|s| !(s.starts_with("mailto:") || s.starts_with("https:") || s.starts_with("http:")))
    {
        return Err("sub is not a mailto: or https: contact".into());
    }
    Ok(key.to_owned())
}
