//! Web Push's pure parts: the server's VAPID key and the JWT that names it to a push service
//! (RFC 8292), a browser's subscription read from what `PushSubscription.toJSON()` gives, and
//! the message a browser's service worker shows.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use reqwest::Url;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use web_push_native::Auth;
use web_push_native::p256::PublicKey;

use crate::ids::{PushSubscriptionId, UserId};
use crate::time::Timestamp;

/// How long a VAPID token is good for; RFC 8292 allows at most 24 hours.
pub const VAPID_TOKEN_LIFETIME_SECS: i64 = 12 * 60 * 60;

/// The largest message Pasar sends: RFC 8291 leaves 3,993 bytes of plaintext in the 4,096 a
/// push service must accept.
pub const MAX_PAYLOAD_BYTES: usize = 3_993;

/// The server's VAPID key pair (P-256).
#[derive(Clone)]
pub struct VapidKey {
    signing: SigningKey,
}

impl std::fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VapidKey").field("public", &self.public_key()).finish_non_exhaustive()
    }
}

impl VapidKey {
    /// The private key as the usual tools print it: its 32 bytes in unpadded base64url.
    pub fn parse(encoded: &str) -> Result<Self, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded.trim().trim_end_matches('='))
            .map_err(|_| "the VAPID private key must be base64url (32 bytes)".to_owned())?;
        let signing = SigningKey::from_slice(&bytes)
            .map_err(|_| "the VAPID private key is not a P-256 private key (32 bytes)".to_owned())?;
        Ok(Self { signing })
    }

    /// A new random key pair, printed for an operator by `pasar push-keys`.
    pub fn generate() -> Self {
        Self { signing: SigningKey::random(&mut rand::rngs::OsRng) }
    }

    pub fn private_key(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.signing.to_bytes())
    }

    /// The public key as browsers take it for `applicationServerKey`: the uncompressed point in
    /// unpadded base64url.
    pub fn public_key(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.signing.verifying_key().to_encoded_point(false).as_bytes())
    }

    /// The `Authorization` header for a push to `endpoint`: `vapid t=<JWT>, k=<public key>`,
    /// the JWT naming the push service's origin as its audience.
    pub fn authorization(&self, endpoint: &Url, subject: &str, now: Timestamp) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({
            "aud": endpoint.origin().ascii_serialization(),
            "exp": now.unix_seconds() + VAPID_TOKEN_LIFETIME_SECS,
            "sub": subject,
        });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signed = format!("{header}.{claims}");
        let signature: Signature = self.signing.sign(signed.as_bytes());
        let token = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()));
        format!("vapid t={token}, k={}", self.public_key())
    }
}

/// The keys a browser gave with its subscription, as `PushSubscription.toJSON()` names them.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionKeys {
    /// The browser's P-256 public key: the uncompressed point (65 bytes) in base64url.
    #[schema(min_length = 80, max_length = 100)]
    pub p256dh: String,
    /// The browser's authentication secret: 16 bytes in base64url.
    #[schema(min_length = 20, max_length = 30)]
    pub auth: String,
}

/// A browser's subscription, checked: an endpoint URL and keys that are what they say.
#[derive(Clone, Debug)]
pub struct NewSubscription {
    pub endpoint: Url,
    pub p256dh: PublicKey,
    pub auth: Auth,
}

impl NewSubscription {
    /// Reads a subscription; each refusal names the field it is about.
    pub fn parse(endpoint: &str, keys: &SubscriptionKeys) -> Result<Self, (&'static str, String)> {
        let endpoint = Url::parse(endpoint)
            .ok()
            .filter(|url| matches!(url.scheme(), "https" | "http") && url.host_str().is_some())
            .ok_or(("endpoint", "must be the push service's URL".to_owned()))?;
        let p256dh = decode(&keys.p256dh)
            .and_then(|bytes| PublicKey::from_sec1_bytes(&bytes).ok())
            .ok_or(("keys.p256dh", "must be a P-256 public key in base64url".to_owned()))?;
        let auth = decode(&keys.auth)
            .filter(|bytes| bytes.len() == 16)
            .map(|bytes| Auth::clone_from_slice(&bytes))
            .ok_or(("keys.auth", "must be 16 bytes in base64url".to_owned()))?;
        Ok(Self { endpoint, p256dh, auth })
    }
}

fn decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

/// A subscribed browser, as its owner sees it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Subscription {
    pub id: PushSubscriptionId,
    #[serde(skip)]
    pub user_id: UserId,
    pub endpoint: String,
    /// The browser that subscribed, as its `User-Agent` said.
    pub user_agent: Option<String>,
    pub created_at: Timestamp,
    /// When a push to it last went through.
    pub last_sent_at: Option<Timestamp>,
    #[serde(skip)]
    pub p256dh: String,
    #[serde(skip)]
    pub auth: String,
}

impl Subscription {
    pub fn keys(&self) -> Option<NewSubscription> {
        let keys = SubscriptionKeys { p256dh: self.p256dh.clone(), auth: self.auth.clone() };
        NewSubscription::parse(&self.endpoint, &keys).ok()
    }
}

/// What a browser's service worker shows: a title, a line of text and the page it opens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushMessage {
    pub title: String,
    pub body: String,
    /// The page a click opens (a path on the shop, such as `/orders/ord_…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Messages with one tag replace each other on the device (one per order, say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

impl PushMessage {
    /// The JSON the service worker reads, cut to what a push may carry: the body loses its end
    /// first (at a character boundary), since the title and link matter more.
    pub fn payload(&self) -> Vec<u8> {
        let mut message = self.clone();
        loop {
            let bytes = serde_json::to_vec(&message).unwrap_or_default();
            if bytes.len() <= MAX_PAYLOAD_BYTES || message.body.is_empty() {
                return bytes;
            }
            let excess = bytes.len() - MAX_PAYLOAD_BYTES;
            let mut keep = message.body.len().saturating_sub(excess.max(1));
            while !message.body.is_char_boundary(keep) {
                keep -= 1;
            }
            message.body.truncate(keep);
        }
    }
}

#[cfg(test)]
mod tests {
    use p256::ecdsa::signature::Verifier as _;
    use p256::ecdsa::{Signature, VerifyingKey};
    use web_push_native::p256::SecretKey;
    use web_push_native::p256::elliptic_curve::sec1::ToEncodedPoint as _;

    use super::*;

    fn browser() -> (SecretKey, SubscriptionKeys) {
        let secret = SecretKey::random(&mut rand::rngs::OsRng);
        let keys = SubscriptionKeys {
            p256dh: URL_SAFE_NO_PAD.encode(secret.public_key().to_encoded_point(false).as_bytes()),
            auth: URL_SAFE_NO_PAD.encode([7u8; 16]),
        };
        (secret, keys)
    }

    #[test]
    fn a_vapid_token_is_signed_by_the_key_it_names_for_the_push_services_origin() {
        let key = VapidKey::generate();
        let endpoint = Url::parse("https://push.example.net:8443/wpush/v2/abc?x=1").unwrap();
        let now = Timestamp::from_millis(1_800_000_000_000);
        let header = key.authorization(&endpoint, "mailto:ops@pasar.test", now);

        let rest = header.strip_prefix("vapid t=").unwrap();
        let (token, public) = rest.split_once(", k=").unwrap();
        assert_eq!(public, key.public_key());
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let verifying = VerifyingKey::from_sec1_bytes(&URL_SAFE_NO_PAD.decode(public).unwrap()).unwrap();
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap()).unwrap();
        verifying.verify(signed.as_bytes(), &signature).expect("the signature verifies");

        let claims = signed.split('.').nth(1).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
        assert_eq!(claims["aud"], "https://push.example.net:8443");
        assert_eq!(claims["sub"], "mailto:ops@pasar.test");
        assert_eq!(claims["exp"], now.unix_seconds() + 12 * 60 * 60);
    }

    #[test]
    fn a_vapid_key_reads_back_from_what_it_prints() {
        let key = VapidKey::generate();
        let again = VapidKey::parse(&key.private_key()).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        assert_eq!(URL_SAFE_NO_PAD.decode(key.public_key()).unwrap().len(), 65);
        assert!(VapidKey::parse("not base64!").is_err());
        assert!(VapidKey::parse(&URL_SAFE_NO_PAD.encode([0u8; 32])).is_err(), "zero is no key");
        assert!(VapidKey::parse(&URL_SAFE_NO_PAD.encode([1u8; 16])).is_err(), "too short");
    }

    #[test]
    fn a_subscription_with_keys_that_are_not_keys_is_refused_by_field() {
        let (_, keys) = browser();
        assert!(NewSubscription::parse("https://push.example.net/a", &keys).is_ok());
        assert_eq!(NewSubscription::parse("ftp://push.example.net/a", &keys).unwrap_err().0, "endpoint");
        assert_eq!(NewSubscription::parse("not a url", &keys).unwrap_err().0, "endpoint");
        let bad_point = SubscriptionKeys { p256dh: URL_SAFE_NO_PAD.encode([4u8; 65]), ..keys.clone() };
        assert_eq!(NewSubscription::parse("https://p.example/a", &bad_point).unwrap_err().0, "keys.p256dh");
        let short_auth = SubscriptionKeys { auth: URL_SAFE_NO_PAD.encode([1u8; 8]), ..keys };
        assert_eq!(NewSubscription::parse("https://p.example/a", &short_auth).unwrap_err().0, "keys.auth");
    }

    #[test]
    fn only_the_subscribed_browser_can_read_what_is_sent_to_it() {
        let (secret, keys) = browser();
        let subscription = NewSubscription::parse("https://push.example.net/a", &keys).unwrap();
        let message = PushMessage {
            title: "Pesanan dibayar".into(),
            body: "ご注文ありがとうございます".into(),
            url: Some("/orders/ord_1".into()),
            tag: None,
        };
        let sealed =
            web_push_native::encrypt(message.payload(), &subscription.p256dh, &subscription.auth).unwrap();
        let opened = web_push_native::decrypt(sealed.clone(), &secret, &subscription.auth).unwrap();
        assert_eq!(serde_json::from_slice::<PushMessage>(&opened).unwrap(), message);

        let (stranger, _) = browser();
        assert!(web_push_native::decrypt(sealed, &stranger, &subscription.auth).is_err());
    }

    #[test]
    fn a_long_message_is_cut_to_what_a_push_may_carry_keeping_its_title_and_link() {
        let message = PushMessage {
            title: "Receipt".into(),
            body: "日本語".repeat(2_000),
            url: Some("/orders/ord_1".into()),
            tag: Some("ord_1".into()),
        };
        let payload = message.payload();
        assert!(payload.len() <= MAX_PAYLOAD_BYTES);
        let cut: PushMessage = serde_json::from_slice(&payload).unwrap();
        assert_eq!((cut.title.as_str(), cut.url.as_deref()), ("Receipt", Some("/orders/ord_1")));
        assert!(message.body.starts_with(&cut.body) && cut.body.len() > 3_000);
    }
}
