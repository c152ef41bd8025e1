//! Chat's types and rules: who a conversation is between and what it is about, which side a
//! user is on, and how a page of messages is asked for.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::identity::domain::Text;
use crate::ids::{ChatMessageId, ConversationId, MediaId, OrderId, ProductId, SellerId, UserId};
use crate::time::Timestamp;

/// The longest message, in characters.
pub const MAX_TEXT: usize = 2_000;

/// A message's text: 1 to 2,000 characters, not only spaces.
pub type MessageText = Text<MAX_TEXT>;

/// Most messages a reconnecting socket is sent from the database at once; a client further
/// behind reads the rest over REST.
pub const MAX_CATCH_UP: usize = 500;

/// The two sides of a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Buyer,
    Store,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buyer => "buyer",
            Side::Store => "store",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "buyer" => Some(Side::Buyer),
            "store" => Some(Side::Store),
            _ => None,
        }
    }
}

/// What a conversation is about: the store in general, one of its products, or one of the
/// buyer's orders from it. A buyer has one conversation per store and subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    Store,
    Product(ProductId),
    Order(OrderId),
}

impl Subject {
    /// The subject as the unique key of a conversation stores it.
    pub fn key(self) -> String {
        match self {
            Subject::Store => "store".to_owned(),
            Subject::Product(id) => format!("product:{id}"),
            Subject::Order(id) => format!("order:{id}"),
        }
    }
}

/// A conversation between one buyer and one store.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Conversation {
    pub id: ConversationId,
    pub buyer_id: UserId,
    pub store_id: SellerId,
    /// The store's owner: who answers for the store.
    pub store_user_id: UserId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_id: Option<ProductId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<OrderId>,
    pub last_message_id: ChatMessageId,
    pub last_message_at: Timestamp,
    /// The last message the buyer has read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buyer_read_up_to: Option<ChatMessageId>,
    /// The last message the store has read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_read_up_to: Option<ChatMessageId>,
    /// When a participant reported it to the shop's admins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reported_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl Conversation {
    /// The side `user` is on; None when the conversation is not theirs.
    pub fn side_of(&self, user: UserId) -> Option<Side> {
        if user == self.buyer_id {
            Some(Side::Buyer)
        } else if user == self.store_user_id {
            Some(Side::Store)
        } else {
            None
        }
    }

    /// The other participant of `side`.
    pub fn other_than(&self, side: Side) -> UserId {
        match side {
            Side::Buyer => self.store_user_id,
            Side::Store => self.buyer_id,
        }
    }
}

/// A conversation as one of its participants sees it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct MyConversation {
    #[serde(flatten)]
    pub conversation: Conversation,
    /// The caller's side.
    pub side: Side,
    /// Messages from the other side the caller has not read.
    pub unread: i64,
}

/// An image sent in a chat, readable by the conversation's participants.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ChatImage {
    pub id: MediaId,
    /// Where the image is served (`GET`, with the access token).
    pub url: String,
    pub content_type: String,
    pub size: u64,
}

/// One message.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ChatMessage {
    pub id: ChatMessageId,
    pub conversation_id: ConversationId,
    pub sender_id: UserId,
    /// The sender's side.
    pub side: Side,
    /// Empty once the sender deleted their account (a message sent is never empty).
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<ChatImage>,
    pub created_at: Timestamp,
}

/// Which messages of a conversation a page holds: those after `after` (oldest first), or
/// else the newest before `before` (or the newest of all); always shown oldest first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Window {
    pub after: Option<ChatMessageId>,
    pub before: Option<ChatMessageId>,
    pub limit: usize,
}

impl Window {
    /// Whether the page is read forwards from `after` (else backwards from the newest).
    pub fn forwards(&self) -> bool {
        self.after.is_some()
    }
}

/// Totals of what a user has not read.
#[derive(Clone, Copy, Debug, Default, Serialize, ToSchema)]
pub struct Unread {
    /// Conversations with at least one unread message.
    pub conversations: i64,
    /// Unread messages across all of them.
    pub messages: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conversation(buyer: UserId, owner: UserId) -> Conversation {
        Conversation {
            id: ConversationId::new(),
            buyer_id: buyer,
            store_id: SellerId::new(),
            store_user_id: owner,
            product_id: None,
            order_id: None,
            last_message_id: ChatMessageId::new(),
            last_message_at: Timestamp::from_millis(0),
            buyer_read_up_to: None,
            store_read_up_to: None,
            reported_at: None,
            created_at: Timestamp::from_millis(0),
        }
    }

    #[test]
    fn a_conversation_is_the_buyers_and_the_store_owners_and_nobody_elses() {
        let (buyer, owner, stranger) = (UserId::new(), UserId::new(), UserId::new());
        let chat = conversation(buyer, owner);
        assert_eq!(chat.side_of(buyer), Some(Side::Buyer));
        assert_eq!(chat.side_of(owner), Some(Side::Store));
        assert_eq!(chat.side_of(stranger), None);
        assert_eq!(chat.other_than(Side::Buyer), owner);
        assert_eq!(chat.other_than(Side::Store), buyer);
    }

    #[test]
    fn each_subject_has_its_own_key() {
        let (product, order) = (ProductId::new(), OrderId::new());
        let keys = [Subject::Store.key(), Subject::Product(product).key(), Subject::Order(order).key()];
        assert_eq!(keys[0], "store");
        assert_eq!(keys[1], format!("product:{product}"));
        assert_eq!(keys[2], format!("order:{order}"));
    }

    #[test]
    fn sides_read_back_from_their_names() {
        for side in [Side::Buyer, Side::Store] {
            assert_eq!(Side::parse(side.as_str()), Some(side));
        }
        assert_eq!(Side::parse("admin"), None);
    }

    #[test]
    fn message_ids_made_later_sort_later_as_text() {
        // Cursors and catch-up compare ids as text in SQL.
        let ids: Vec<String> = (0..1000).map(|_| ChatMessageId::new().to_string()).collect();
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
    }
}
