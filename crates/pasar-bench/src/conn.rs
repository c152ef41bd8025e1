//! The load's HTTP client: every buyer loop owns one keep-alive HTTP/1.1 connection over
//! loopback TCP (hyper's connection-level client), as an app or a browser tab keeps one.
//!
//! Why not reqwest here: its pooled client (a shared pool behind a lock, a URL parsed and a
//! redirect and retry layer per request) cost as much CPU per request as Pasar's whole stack,
//! on the same two cores, so the figures measured the client. Seeding still uses reqwest.

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Longest one request may take before it counts as a transport error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How one request ended: a status with the whole body, or no answer at all.
pub enum Reply {
    Status(u16, Bytes),
    Transport,
}

pub struct Connection {
    server: SocketAddr,
    host: HeaderValue,
    /// `None` until the first request, and again after a transport error (the next request
    /// connects anew, as a client would).
    sender: Option<SendRequest<Full<Bytes>>>,
}

/// `Authorization: Bearer <token>`, built once per loop rather than once per request.
pub fn bearer(token: &str) -> HeaderValue {
    HeaderValue::try_from(format!("Bearer {token}")).expect("access tokens are header-safe")
}

impl Connection {
    pub fn new(server: SocketAddr) -> Self {
        let host = HeaderValue::try_from(server.to_string()).expect("a socket address is header-safe");
        Self { server, host, sender: None }
    }

    /// Sends one request (a JSON body when given) and reads its answer to the end.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        token: Option<&HeaderValue>,
        json: Option<Bytes>,
    ) -> Reply {
        match tokio::time::timeout(REQUEST_TIMEOUT, self.try_send(method, path, token, json)).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) | Err(_) => {
                self.sender = None;
                Reply::Transport
            }
        }
    }

    async fn try_send(
        &mut self,
        method: Method,
        path: &str,
        token: Option<&HeaderValue>,
        json: Option<Bytes>,
    ) -> anyhow::Result<Reply> {
        let sender = match &mut self.sender {
            Some(sender) => sender,
            None => self.sender.insert(connect(self.server).await?),
        };
        let mut request = Request::builder().method(method).uri(path).header(HOST, self.host.clone());
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, token.clone());
        }
        if json.is_some() {
            request = request.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        let request = request.body(Full::new(json.unwrap_or_default()))?;
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        Ok(Reply::Status(status, body))
    }
}

async fn connect(server: SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(server).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    // Drives the connection until the sender is dropped or the server closes it.
    tokio::spawn(connection);
    Ok(sender)
}
