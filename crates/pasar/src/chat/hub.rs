//! Live delivery inside one process: a broadcast channel per user with an open socket. A
//! message is published to both participants after it is committed; a socket that falls
//! behind the channel reads what it missed from the database instead.
//!
//! Several instances behind a load balancer do not see each other's sockets yet: a message
//! sent through one instance reaches sockets on that instance only (a client on another
//! instance gets it when it reconnects or reads over REST). Sharing the fan-out (Redis
//! pub/sub or NATS) is a later issue.

use std::sync::Arc;

use dashmap::DashMap;
use tokio::sync::broadcast;

use super::domain::ChatMessage;
use crate::ids::UserId;

/// Messages a socket may fall behind before it reads from the database instead.
const CHANNEL_CAPACITY: usize = 256;

#[derive(Default)]
pub struct Hub {
    users: DashMap<UserId, broadcast::Sender<Arc<ChatMessage>>>,
}

impl Hub {
    /// A socket of `user` starts listening.
    pub fn subscribe(&self, user: UserId) -> broadcast::Receiver<Arc<ChatMessage>> {
        self.users.entry(user).or_insert_with(|| broadcast::channel(CHANNEL_CAPACITY).0).subscribe()
    }

    /// A socket of `user` has stopped listening (its receiver dropped): forget the channel when
    /// it was the last one.
    pub fn leave(&self, user: UserId) {
        self.users.remove_if(&user, |_, sender| sender.receiver_count() == 0);
    }

    pub fn publish(&self, to: [UserId; 2], message: Arc<ChatMessage>) {
        for user in to {
            if let Some(sender) = self.users.get(&user) {
                // No receiver left is not an error: the socket closed meanwhile.
                let _ = sender.send(message.clone());
            }
        }
    }

    /// Whether `user` has a socket open on this instance.
    pub fn is_online(&self, user: UserId) -> bool {
        self.users.get(&user).is_some_and(|sender| sender.receiver_count() > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::domain::Side;
    use crate::ids::{ChatMessageId, ConversationId};
    use crate::time::Timestamp;

    fn message(sender: UserId) -> ChatMessage {
        ChatMessage {
            id: ChatMessageId::new(),
            conversation_id: ConversationId::new(),
            sender_id: sender,
            side: Side::Buyer,
            text: "Masih ada?".into(),
            image: None,
            created_at: Timestamp::from_millis(0),
        }
    }

    #[test]
    fn a_user_is_online_while_a_socket_listens_and_offline_after() {
        let hub = Hub::default();
        let user = UserId::new();
        assert!(!hub.is_online(user));
        let first = hub.subscribe(user);
        let second = hub.subscribe(user);
        assert!(hub.is_online(user));
        drop(first);
        hub.leave(user);
        assert!(hub.is_online(user), "one socket is still open");
        drop(second);
        hub.leave(user);
        assert!(!hub.is_online(user));
        assert!(hub.users.is_empty());
    }

    #[test]
    fn a_message_reaches_both_participants_and_nobody_else() {
        let hub = Hub::default();
        let (buyer, owner, stranger) = (UserId::new(), UserId::new(), UserId::new());
        let (mut to_buyer, mut to_owner, mut to_stranger) =
            (hub.subscribe(buyer), hub.subscribe(owner), hub.subscribe(stranger));
        let sent = Arc::new(message(buyer));
        hub.publish([buyer, owner], sent.clone());
        assert_eq!(to_buyer.try_recv().unwrap().id, sent.id);
        assert_eq!(to_owner.try_recv().unwrap().id, sent.id);
        assert!(to_stranger.try_recv().is_err());
    }
}
