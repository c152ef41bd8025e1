//! One chat socket: catch up from the database after the client's last seen message, then
//! forward what the hub publishes and send what the client writes, until either side leaves
//! or the session behind the token ends.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use super::domain::{ChatMessage, MessageText};
use super::service::{Chat, ChatError, NewMessage};
use crate::http::error::ApiError;
use crate::identity::{Identity, IdentityError};
use crate::ids::{ChatMessageId, ConversationId, MediaId, UserId};

/// Largest frame a client may send: a 2,000-character message in JSON with room to spare.
pub const MAX_FRAME: usize = 16 * 1024;

/// How often an idle socket checks that its session still stands.
const SESSION_CHECK: Duration = Duration::from_secs(30);

/// The close code when the token expired or the session ended: reconnect with a fresh token.
const SESSION_ENDED: u16 = 4001;
const INTERNAL_ERROR: u16 = 1011;

/// Longest `ref` echoed back.
const MAX_REF: usize = 100;

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ServerFrame<'a> {
    Message {
        message: &'a ChatMessage,
    },
    /// The messages after the client's `after` are all sent; live ones follow.
    Ready,
    Sent {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<&'a str>,
        message_id: ChatMessageId,
    },
    Error {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<&'a str>,
        code: &'static str,
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientFrame {
    Send {
        conversation_id: ConversationId,
        text: String,
        #[serde(default)]
        image: Option<MediaId>,
        #[serde(default, rename = "ref")]
        reference: Option<String>,
    },
}

/// Why a socket's loop ended.
enum Stop {
    /// The client closed or the connection dropped: nothing more to say.
    ClientLeft,
    SessionEnded,
    Failed,
}

pub async fn serve(
    chat: Chat,
    identity: Identity,
    token: String,
    user: UserId,
    after: Option<ChatMessageId>,
    mut socket: WebSocket,
) {
    let mut live = chat.subscribe(user);
    let ended = Connection { chat: &chat, identity: &identity, token: &token, user, socket: &mut socket }
        .run(&mut live, after)
        .await;
    drop(live);
    chat.leave(user);
    let close = match ended {
        Stop::ClientLeft => return,
        Stop::SessionEnded => (SESSION_ENDED, "the session ended or the token expired; reconnect"),
        Stop::Failed => (INTERNAL_ERROR, "the server could not go on; reconnect"),
    };
    let _ = socket.send(Message::Close(Some(CloseFrame { code: close.0, reason: close.1.into() }))).await;
}

struct Connection<'a> {
    chat: &'a Chat,
    identity: &'a Identity,
    token: &'a str,
    user: UserId,
    socket: &'a mut WebSocket,
}

impl Connection<'_> {
    async fn run(
        &mut self,
        live: &mut broadcast::Receiver<Arc<ChatMessage>>,
        after: Option<ChatMessageId>,
    ) -> Stop {
        // Listening began before the database is read, so nothing falls between the two; what
        // is in both is sent once.
        let mut sent_from_database = HashSet::new();
        let mut last = after;
        if let Some(after) = after {
            if let Err(ended) = self.catch_up(after, &mut sent_from_database, &mut last).await {
                return ended;
            }
        }
        if self.send(&ServerFrame::Ready).await.is_err() {
            return Stop::ClientLeft;
        }
        let mut check = tokio::time::interval(SESSION_CHECK);
        check.tick().await;
        loop {
            tokio::select! {
                pushed = live.recv() => match pushed {
                    Ok(message) => {
                        if sent_from_database.remove(&message.id) {
                            continue;
                        }
                        if self.send(&ServerFrame::Message { message: &message }).await.is_err() {
                            return Stop::ClientLeft;
                        }
                        last = last.max(Some(message.id));
                    }
                    // Fell behind the channel: the database has everything.
                    Err(RecvError::Lagged(_)) => {
                        let Some(from) = last else { continue };
                        if let Err(ended) = self.catch_up(from, &mut sent_from_database, &mut last).await {
                            return ended;
                        }
                    }
                    Err(RecvError::Closed) => return Stop::Failed,
                },
                incoming = self.socket.recv() => match incoming {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Stop::ClientLeft,
                    Some(Ok(Message::Text(text))) => {
                        if !self.session_stands().await {
                            return Stop::SessionEnded;
                        }
                        if self.answer(text.as_str()).await.is_err() {
                            return Stop::ClientLeft;
                        }
                    }
                    // Pings are answered by the library; binary frames mean nothing here.
                    Some(Ok(_)) => {}
                },
                _ = check.tick() => {
                    if !self.session_stands().await {
                        return Stop::SessionEnded;
                    }
                }
            }
        }
    }

    /// Sends the messages after `after` from the database, noting them as sent.
    async fn catch_up(
        &mut self,
        after: ChatMessageId,
        sent: &mut HashSet<ChatMessageId>,
        last: &mut Option<ChatMessageId>,
    ) -> Result<(), Stop> {
        let missed = self.chat.missed(self.user, after).await.map_err(|err| {
            tracing::error!(error = %err, "reading the messages a chat socket missed failed");
            Stop::Failed
        })?;
        for message in &missed {
            self.send(&ServerFrame::Message { message }).await.map_err(|()| Stop::ClientLeft)?;
            sent.insert(message.id);
            *last = (*last).max(Some(message.id));
        }
        Ok(())
    }

    /// Whether the token still names a live session of this user.
    async fn session_stands(&mut self) -> bool {
        match self.identity.authenticate(self.token).await {
            Ok(principal) => principal.user == self.user,
            Err(IdentityError::Unauthenticated) => false,
            // A passing failure (the database) does not end the socket.
            Err(err) => {
                tracing::warn!(error = %err, "could not check a chat socket's session");
                true
            }
        }
    }

    /// Handles one frame from the client: a message to send.
    async fn answer(&mut self, text: &str) -> Result<(), ()> {
        let frame = match serde_json::from_str::<ClientFrame>(text) {
            Ok(frame) => frame,
            Err(err) => {
                let message = format!("not a frame this socket takes: {err}");
                return self.send(&ServerFrame::Error { reference: None, code: "bad_frame", message }).await;
            }
        };
        let ClientFrame::Send { conversation_id, text, image, reference } = frame;
        let reference = reference.map(|r| r.chars().take(MAX_REF).collect::<String>());
        let reference = reference.as_deref();
        let text = match MessageText::parse(&text) {
            Ok(text) => text,
            Err(why) => {
                let message = format!("text {why}");
                return self
                    .send(&ServerFrame::Error { reference, code: "validation_failed", message })
                    .await;
            }
        };
        match self.chat.send(self.user, conversation_id, NewMessage { text, image }).await {
            Ok(message) => self.send(&ServerFrame::Sent { reference, message_id: message.id }).await,
            Err(err) => {
                let message = match &err {
                    ChatError::Invalid { field, message } => format!("{field}: {message}"),
                    other => other.to_string(),
                };
                let code = ApiError::from(err).code();
                self.send(&ServerFrame::Error { reference, code, message }).await
            }
        }
    }

    async fn send(&mut self, frame: &ServerFrame<'_>) -> Result<(), ()> {
        let text = serde_json::to_string(frame).map_err(|_| ())?;
        self.socket.send(Message::Text(text.into())).await.map_err(|_| ())
    }
}
