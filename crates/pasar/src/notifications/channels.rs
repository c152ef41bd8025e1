//! The providers behind the channels: email over SMTP (lettre), SendGrid's v3 Mail Send API or
//! `.eml` files in a directory, and SMS through Twilio's Messages API. Each answer is sorted
//! into sent, try again later, slow down (the provider's rate limit) or give up.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use reqwest::StatusCode;
use serde_json::json;

use super::templates::Rendered;
use crate::config::Config;

/// Why a send did not go through.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later (a 5xx, a timeout, a connection refused, an SMTP 4xx).
    #[error("{0}")]
    Transient(String),
    /// Will never succeed as it is (a 4xx, an SMTP 5xx, a malformed address).
    #[error("{0}")]
    Permanent(String),
    /// The provider asked us to slow down: nothing more to it before `retry_after`.
    #[error("rate limited by the provider for {retry_after:?}")]
    RateLimited { retry_after: Duration },
}

/// How long a provider call may take.
const TIMEOUT: Duration = Duration::from_secs(15);
/// When a 429 names no Retry-After.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Where emails go.
pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    SendGrid {
        http: reqwest::Client,
        url: String,
        key: String,
    },
    /// No provider configured: every email is written to a file, so a newcomer sees them.
    Files {
        transport: AsyncFileTransport<Tokio1Executor>,
        dir: PathBuf,
    },
}

impl Mailer {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        if let Some(url) = &config.smtp_url {
            let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                .context("PASAR_SMTP_URL is smtp://host:port or smtps://user:pass@host")?
                .timeout(Some(TIMEOUT))
                .build();
            return Ok(Mailer::Smtp(transport));
        }
        if let Some(key) = &config.sendgrid_api_key {
            let http = reqwest::Client::builder().timeout(TIMEOUT).build()?;
            let url = format!("{}/v3/mail/send", config.sendgrid_url.trim_end_matches('/'));
            return Ok(Mailer::SendGrid { http, url, key: key.clone() });
        }
        let dir = config.mail_dir.clone().unwrap_or_else(|| config.data_dir.join("mail"));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("creating the mail directory {}", dir.display()))?;
        Ok(Mailer::Files { transport: AsyncFileTransport::new(&dir), dir })
    }

    /// The directory emails are written to when no provider is configured.
    pub fn mail_dir(&self) -> Option<&std::path::Path> {
        match self {
            Mailer::Files { dir, .. } => Some(dir),
            _ => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Mailer::Smtp(_) => "SMTP".into(),
            Mailer::SendGrid { .. } => "SendGrid".into(),
            Mailer::Files { dir, .. } => format!("files in {}", dir.display()),
        }
    }

    pub async fn send(&self, from: &str, to: &str, message: &Rendered) -> Result<(), SendError> {
        match self {
            Mailer::Smtp(transport) => {
                let email = mime(from, to, message)?;
                transport.send(email).await.map(|_| ()).map_err(|e| {
                    if e.is_permanent() {
                        SendError::Permanent(format!("SMTP refused: {e}"))
                    } else {
                        SendError::Transient(format!("SMTP: {e}"))
                    }
                })
            }
            Mailer::Files { transport, .. } => {
                let email = mime(from, to, message)?;
                transport
                    .send(email)
                    .await
                    .map(|_| ())
                    .map_err(|e| SendError::Transient(format!("writing the email: {e}")))
            }
            Mailer::SendGrid { http, url, key } => {
                let from: Mailbox =
                    from.parse().map_err(|e| SendError::Permanent(format!("sender {from:?}: {e}")))?;
                let body = json!({
                    "personalizations": [{"to": [{"email": to}]}],
                    "from": {"email": from.email.to_string(), "name": from.name},
                    "subject": message.subject,
                    "content": [
                        {"type": "text/plain", "value": message.text},
                        {"type": "text/html", "value": message.html},
                    ],
                });
                let answer = http.post(url).bearer_auth(key).json(&body).send().await;
                classify("SendGrid", answer).await
            }
        }
    }
}

fn mime(from: &str, to: &str, message: &Rendered) -> Result<Message, SendError> {
    let from: Mailbox = from.parse().map_err(|e| SendError::Permanent(format!("sender {from:?}: {e}")))?;
    let to: Mailbox = to.parse().map_err(|e| SendError::Permanent(format!("recipient {to:?}: {e}")))?;
    Message::builder()
        .from(from)
        .to(to)
        .subject(&message.subject)
        .multipart(MultiPart::alternative_plain_html(message.text.clone(), message.html.clone()))
        .map_err(|e| SendError::Permanent(format!("building the email: {e}")))
}

/// Sorts a provider's HTTP answer: 2xx sent, 429 slow down, 5xx and no answer transient, any
/// other 4xx permanent (with what the provider said, for the admins).
async fn classify(provider: &str, answer: reqwest::Result<reqwest::Response>) -> Result<(), SendError> {
    let response = match answer {
        Ok(response) => response,
        Err(e) => return Err(SendError::Transient(format!("{provider} did not answer: {e}"))),
    };
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(DEFAULT_RETRY_AFTER, Duration::from_secs);
        return Err(SendError::RateLimited { retry_after });
    }
    let said: String = response.text().await.unwrap_or_default().chars().take(300).collect();
    let reason = format!("{provider} answered {status}: {said}");
    if status.is_server_error() {
        Err(SendError::Transient(reason))
    } else {
        Err(SendError::Permanent(reason))
    }
}

/// SMS through Twilio's Messages API.
pub struct Twilio {
    http: reqwest::Client,
    url: String,
    sid: String,
    token: String,
    from: String,
}

impl Twilio {
    pub fn from_config(config: &Config) -> anyhow::Result<Option<Self>> {
        let (Some(sid), Some(token), Some(from)) =
            (&config.twilio_account_sid, &config.twilio_auth_token, &config.twilio_from)
        else {
            return Ok(None);
        };
        Ok(Some(Self {
            http: reqwest::Client::builder().timeout(TIMEOUT).build()?,
            url: format!(
                "{}/2010-04-01/Accounts/{sid}/Messages.json",
                config.twilio_url.trim_end_matches('/')
            ),
            sid: sid.clone(),
            token: token.clone(),
            from: from.clone(),
        }))
    }

    pub async fn send(&self, to: &str, text: &str) -> Result<(), SendError> {
        let answer = self
            .http
            .post(&self.url)
            .basic_auth(&self.sid, Some(&self.token))
            .form(&[("To", to), ("From", self.from.as_str()), ("Body", text)])
            .send()
            .await;
        classify("Twilio", answer).await
    }
}
