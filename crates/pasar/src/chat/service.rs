//! Chat's use cases. A message is written with its event in one transaction and published to
//! the participants' open sockets after the commit, so what a socket shows is always in the
//! database, and a reconnecting client can be given what it missed from there.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use governor::clock::{Clock as _, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use tokio::sync::broadcast;

use super::domain::{
    ChatImage, ChatMessage, Conversation, MAX_CATCH_UP, MessageText, MyConversation, Side, Subject, Unread,
    Window,
};
use super::hub::Hub;
use super::store;
use crate::catalog::media::{MediaKey, UploadRefused, check_upload};
use crate::catalog::{Catalog, CatalogError, MediaStore};
use crate::db::{Connection, Db};
use crate::events::{self, Delivery, Event, NewEvent, Subscriber};
use crate::identity::{self, Principal};
use crate::ids::{ChatMessageId, ConversationId, MediaId, OrderId, ProductId, SellerId, UserId};
use crate::orders::{Orders, OrdersError};
use crate::sellers::{SellerStatus, Sellers, SellersError};
use crate::time::Clock;

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("not found")]
    NotFound,
    #[error("{message}")]
    Invalid { field: String, message: String },
    #[error("this conversation was reported already")]
    AlreadyReported,
    #[error("too many messages; wait {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error(transparent)]
    Upload(#[from] UploadRefused),
    #[error("the image store failed: {0}")]
    Storage(#[from] object_store::Error),
    #[error(transparent)]
    Sellers(#[from] SellersError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Orders(#[from] OrdersError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ChatError {
    ChatError::Invalid { field: field.into(), message: message.into() }
}

/// A buyer's first message to a store, about the store, one of its products or one of the
/// buyer's orders from it.
#[derive(Clone, Debug)]
pub struct NewConversation {
    /// The store's id (`sel_…`) or slug.
    pub store: String,
    pub product: Option<ProductId>,
    pub order: Option<OrderId>,
    pub text: MessageText,
}

#[derive(Clone, Debug)]
pub struct NewMessage {
    pub text: MessageText,
    /// An image the sender uploaded and has not sent yet.
    pub image: Option<MediaId>,
}

/// What starting a conversation gave: the conversation (new, or the one the buyer already had
/// about this subject) and the message added to it.
pub struct Started {
    pub conversation: MyConversation,
    pub message: ChatMessage,
    pub created: bool,
}

type SenderLimiter = RateLimiter<UserId, DefaultKeyedStateStore<UserId>, DefaultClock>;

#[derive(Clone)]
pub struct Chat {
    db: Db,
    clock: Clock,
    sellers: Sellers,
    catalog: Catalog,
    orders: Orders,
    media: MediaStore,
    hub: Arc<Hub>,
    /// Messages per sender per minute, on this instance; None when unlimited.
    limiter: Option<Arc<SenderLimiter>>,
}

impl Chat {
    pub fn new(
        db: Db,
        clock: Clock,
        sellers: Sellers,
        catalog: Catalog,
        orders: Orders,
        media: MediaStore,
        messages_per_minute: u32,
    ) -> Self {
        let limiter = NonZeroU32::new(messages_per_minute).and_then(|count| {
            let quota = Quota::with_period(Duration::from_secs(60) / count.get())?.allow_burst(count);
            Some(Arc::new(RateLimiter::keyed(quota)))
        });
        Self { db, clock, sellers, catalog, orders, media, hub: Arc::new(Hub::default()), limiter }
    }

    /// Whether `user` has a chat socket open on this instance: the notifications module tells
    /// an offline recipient of a message by other means.
    pub fn is_online(&self, user: UserId) -> bool {
        self.hub.is_online(user)
    }

    /// Forgets senders whose allowance is full again, so memory stays bounded.
    pub fn forget_idle_senders(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
        }
    }

    fn check_rate(&self, sender: UserId) -> Result<(), ChatError> {
        let Some(limiter) = &self.limiter else { return Ok(()) };
        limiter.check_key(&sender).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ChatError::RateLimited { retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0) }
        })
    }

    // ---- conversations -----------------------------------------------------------------------

    /// A buyer writes to a store: a new conversation about the subject, or a new message in the
    /// one they already have about it.
    #[tracing::instrument(skip_all)]
    pub async fn start(&self, buyer: UserId, new: NewConversation) -> Result<Started, ChatError> {
        self.check_rate(buyer)?;
        let store = match new.store.parse::<SellerId>() {
            Ok(id) => match self.sellers.get(id).await {
                Ok(store) => Some(store),
                Err(SellersError::NotFound) => None,
                Err(other) => return Err(other.into()),
            },
            Err(_) => match self.sellers.live_store_owner(&new.store).await? {
                Some(owner) => self.sellers.store_of_user(owner).await?,
                None => None,
            },
        };
        let store = store
            .filter(|store| store.status == SellerStatus::Approved)
            .ok_or_else(|| invalid("store", "no open store has this id or slug"))?;
        if store.user_id == buyer {
            return Err(invalid("store", "this is your own store"));
        }
        let subject = match (new.product, new.order) {
            (Some(_), Some(_)) => {
                return Err(invalid("order_id", "a conversation is about a product or an order, not both"));
            }
            (Some(product), None) => {
                let sold_here = match self.catalog.product(product).await {
                    Ok(found) => found.seller_id == Some(store.user_id),
                    Err(CatalogError::ProductNotFound) => false,
                    Err(other) => return Err(other.into()),
                };
                if !sold_here {
                    return Err(invalid("product_id", "not a product of this store"));
                }
                Subject::Product(product)
            }
            (None, Some(order)) => {
                let from_here = match self.orders.order(order).await {
                    Ok(found) => {
                        found.buyer_id == buyer
                            && found.lines.iter().any(|line| line.seller_id == Some(store.user_id))
                    }
                    Err(OrdersError::NotFound) => false,
                    Err(other) => return Err(other.into()),
                };
                if !from_here {
                    return Err(invalid("order_id", "not an order of yours from this store"));
                }
                Subject::Order(order)
            }
            (None, None) => Subject::Store,
        };
        let now = self.clock.now();
        let first = ChatMessageId::new();
        let mut tx = self.db.begin().await?;
        let created = store::insert_conversation(
            &mut *tx,
            ConversationId::new(),
            buyer,
            store.id,
            store.user_id,
            subject,
            first,
            now,
        )
        .await?;
        let conversation = store::conversation_about(&mut *tx, buyer, store.id, subject)
            .await?
            .ok_or(ChatError::NotFound)?;
        let message = self
            .append(
                &mut tx,
                &conversation,
                first,
                buyer,
                Side::Buyer,
                NewMessage { text: new.text, image: None },
            )
            .await?;
        let conversation = self.mine_in(&mut tx, buyer, conversation.id).await?;
        tx.commit().await?;
        self.publish(&conversation.conversation, &message);
        Ok(Started { conversation, message, created })
    }

    /// A participant's message in their conversation; anyone else's is not found.
    #[tracing::instrument(skip_all)]
    pub async fn send(
        &self,
        sender: UserId,
        id: ConversationId,
        new: NewMessage,
    ) -> Result<ChatMessage, ChatError> {
        self.check_rate(sender)?;
        let mut tx = self.db.begin().await?;
        let conversation = store::conversation(&mut *tx, id).await?.ok_or(ChatError::NotFound)?;
        let side = conversation.side_of(sender).ok_or(ChatError::NotFound)?;
        let message = self.append(&mut tx, &conversation, ChatMessageId::new(), sender, side, new).await?;
        tx.commit().await?;
        self.publish(&conversation, &message);
        Ok(message)
    }

    /// Writes a message, moves the conversation's last message and the sender's read marker,
    /// and records `chat.message.sent` (ids only: events reach merchants' webhooks, and a
    /// message's words are the participants' business).
    async fn append(
        &self,
        conn: &mut Connection,
        conversation: &Conversation,
        id: ChatMessageId,
        sender: UserId,
        side: Side,
        new: NewMessage,
    ) -> Result<ChatMessage, ChatError> {
        let image = match new.image {
            None => None,
            Some(image) => Some(
                store::attach_image(&mut *conn, image, sender, conversation.id)
                    .await?
                    .ok_or_else(|| invalid("image", "not an image you uploaded, or one already sent"))?,
            ),
        };
        let message = ChatMessage {
            id,
            conversation_id: conversation.id,
            sender_id: sender,
            side,
            text: new.text.as_ref().to_owned(),
            image,
            created_at: self.clock.now(),
        };
        store::insert_message(&mut *conn, &message).await?;
        store::note_last_message(&mut *conn, &message).await?;
        let recipient = conversation.other_than(side);
        events::record(
            conn,
            message.created_at,
            NewEvent {
                event_type: "chat.message.sent",
                version: 1,
                subject_id: message.id.to_string(),
                actor: sender.to_string(),
                payload: serde_json::json!({
                    "message_id": message.id,
                    "conversation_id": conversation.id,
                    "store_id": conversation.store_id,
                    "sender_id": sender,
                    "recipient_id": recipient,
                    // As this instance saw it when the message was written.
                    "recipient_online": self.hub.is_online(recipient),
                }),
            },
        )
        .await?;
        Ok(message)
    }

    fn publish(&self, conversation: &Conversation, message: &ChatMessage) {
        self.hub.publish([conversation.buyer_id, conversation.store_user_id], Arc::new(message.clone()));
    }

    async fn mine_in(
        &self,
        conn: &mut Connection,
        user: UserId,
        id: ConversationId,
    ) -> Result<MyConversation, ChatError> {
        let conversation = store::conversation(&mut *conn, id).await?.ok_or(ChatError::NotFound)?;
        let side = conversation.side_of(user).ok_or(ChatError::NotFound)?;
        let unread = store::unread_in(&mut *conn, user, id).await?;
        Ok(MyConversation { conversation, side, unread })
    }

    /// A user's conversations, as buyer or as a store's owner, the most recently active first;
    /// and whether more follow.
    #[tracing::instrument(skip_all)]
    pub async fn conversations(
        &self,
        user: UserId,
        after: Option<ChatMessageId>,
        limit: usize,
    ) -> Result<(Vec<MyConversation>, bool), ChatError> {
        let mut found = store::conversations_of(self.db.reader(), user, after, limit + 1).await?;
        let more = found.len() > limit;
        found.truncate(limit);
        let mine = found
            .into_iter()
            .filter_map(|(conversation, unread)| {
                let side = conversation.side_of(user)?;
                Some(MyConversation { conversation, side, unread })
            })
            .collect();
        Ok((mine, more))
    }

    /// One of the user's conversations.
    pub async fn conversation(&self, user: UserId, id: ConversationId) -> Result<MyConversation, ChatError> {
        let mut conn = self.db.reader().acquire().await?;
        self.mine_in(&mut conn, user, id).await
    }

    /// A page of a conversation's messages, for one of its participants.
    #[tracing::instrument(skip_all)]
    pub async fn messages(
        &self,
        user: UserId,
        id: ConversationId,
        window: Window,
    ) -> Result<(Vec<ChatMessage>, bool), ChatError> {
        let mut conn = self.db.reader().acquire().await?;
        let conversation = store::conversation(&mut *conn, id).await?.ok_or(ChatError::NotFound)?;
        conversation.side_of(user).ok_or(ChatError::NotFound)?;
        Ok(store::messages(&mut *conn, id, window).await?)
    }

    /// Marks the conversation read by the caller's side up to a message (the last one when
    /// none is named). A marker never moves back.
    #[tracing::instrument(skip_all)]
    pub async fn mark_read(
        &self,
        user: UserId,
        id: ConversationId,
        up_to: Option<ChatMessageId>,
    ) -> Result<MyConversation, ChatError> {
        let mut tx = self.db.begin().await?;
        let conversation = store::conversation(&mut *tx, id).await?.ok_or(ChatError::NotFound)?;
        let side = conversation.side_of(user).ok_or(ChatError::NotFound)?;
        let up_to = match up_to {
            Some(message) if store::message_in(&mut *tx, id, message).await? => message,
            Some(_) => return Err(invalid("message_id", "not a message of this conversation")),
            None => conversation.last_message_id,
        };
        store::mark_read(&mut *tx, id, side, up_to).await?;
        let mine = self.mine_in(&mut tx, user, id).await?;
        tx.commit().await?;
        Ok(mine)
    }

    /// What the user has not read, over all their conversations.
    pub async fn unread(&self, user: UserId) -> Result<Unread, ChatError> {
        Ok(store::unread_of(self.db.reader(), user).await?)
    }

    /// A participant reports the conversation to the shop's admins, who may then read it.
    #[tracing::instrument(skip_all)]
    pub async fn report(
        &self,
        user: UserId,
        id: ConversationId,
        reason: &str,
    ) -> Result<MyConversation, ChatError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let conversation = store::conversation(&mut *tx, id).await?.ok_or(ChatError::NotFound)?;
        conversation.side_of(user).ok_or(ChatError::NotFound)?;
        if !store::report(&mut *tx, id, user, reason, now).await? {
            return Err(ChatError::AlreadyReported);
        }
        events::record(
            &mut tx,
            now,
            NewEvent {
                event_type: "chat.conversation.reported",
                version: 1,
                subject_id: id.to_string(),
                actor: user.to_string(),
                payload: serde_json::json!({
                    "conversation_id": id,
                    "store_id": conversation.store_id,
                    "reported_by": user,
                }),
            },
        )
        .await?;
        let mine = self.mine_in(&mut tx, user, id).await?;
        tx.commit().await?;
        Ok(mine)
    }

    // ---- admins ------------------------------------------------------------------------------

    /// Reported conversations, the newest first, with why each was reported; and whether more
    /// follow.
    pub async fn reported(
        &self,
        after: Option<ConversationId>,
        limit: usize,
    ) -> Result<(Vec<(Conversation, UserId, String)>, bool), ChatError> {
        let mut conn = self.db.reader().acquire().await?;
        let mut found = store::reported(&mut *conn, after, limit + 1).await?;
        let more = found.len() > limit;
        found.truncate(limit);
        let mut reported = Vec::with_capacity(found.len());
        for conversation in found {
            let (by, reason) =
                store::report_of(&mut *conn, conversation.id).await?.ok_or(ChatError::NotFound)?;
            reported.push((conversation, by, reason));
        }
        Ok((reported, more))
    }

    /// An admin reads a reported conversation (any other is not found). Every read is recorded
    /// as `chat.conversation.read_by_admin`, so the audit store keeps who read what, when.
    #[tracing::instrument(skip_all)]
    pub async fn messages_for_admin(
        &self,
        admin: UserId,
        id: ConversationId,
        window: Window,
    ) -> Result<(Vec<ChatMessage>, bool), ChatError> {
        let mut tx = self.db.begin().await?;
        let conversation = store::conversation(&mut *tx, id)
            .await?
            .filter(|c| c.reported_at.is_some())
            .ok_or(ChatError::NotFound)?;
        events::record(
            &mut tx,
            self.clock.now(),
            NewEvent {
                event_type: "chat.conversation.read_by_admin",
                version: 1,
                subject_id: id.to_string(),
                actor: admin.to_string(),
                payload: serde_json::json!({
                    "conversation_id": id,
                    "store_id": conversation.store_id,
                    "buyer_id": conversation.buyer_id,
                    "admin_id": admin,
                }),
            },
        )
        .await?;
        let page = store::messages(&mut *tx, id, window).await?;
        tx.commit().await?;
        Ok(page)
    }

    // ---- sockets -----------------------------------------------------------------------------

    /// Starts listening for the messages of `user`'s conversations; call [`Chat::leave`] after
    /// dropping the receiver.
    pub fn subscribe(&self, user: UserId) -> broadcast::Receiver<Arc<ChatMessage>> {
        self.hub.subscribe(user)
    }

    pub fn leave(&self, user: UserId) {
        self.hub.leave(user);
    }

    /// The messages of `user`'s conversations after `after`, oldest first, at most
    /// [`MAX_CATCH_UP`]: what a reconnecting socket missed.
    pub async fn missed(&self, user: UserId, after: ChatMessageId) -> Result<Vec<ChatMessage>, ChatError> {
        Ok(store::messages_for_user_after(self.db.reader(), user, after, MAX_CATCH_UP).await?)
    }

    // ---- images ------------------------------------------------------------------------------

    /// Largest image accepted, in bytes.
    pub fn image_max_bytes(&self) -> usize {
        self.media.max_bytes()
    }

    /// Stores an image a user is about to send. The bytes go to the object store first and the
    /// row second; when the row cannot be written the object is removed again.
    #[tracing::instrument(skip_all)]
    pub async fn upload_image(
        &self,
        uploader: UserId,
        content_type: Option<&str>,
        bytes: Bytes,
    ) -> Result<ChatImage, ChatError> {
        let image_type = check_upload(&bytes, content_type, self.media.max_bytes())?;
        let key = MediaKey { id: MediaId::new(), image_type };
        let size = bytes.len();
        let record = async {
            let mut tx = self.db.begin().await?;
            store::insert_image(&mut *tx, uploader, key, size, self.clock.now()).await?;
            tx.commit().await?;
            Ok::<_, ChatError>(())
        };
        self.media.put_recorded(key, bytes, record).await?;
        Ok(ChatImage {
            id: key.id,
            url: format!("/v1/chat/images/{key}"),
            content_type: image_type.content_type().to_owned(),
            size: u64::try_from(size).unwrap_or(u64::MAX),
        })
    }

    /// Erases what a user who deleted their account wrote: their messages' text becomes empty
    /// and their images are deleted (files first, then rows, so a failure leaves rows to retry
    /// from), in one transaction. The conversations and the other side's messages stay.
    #[tracing::instrument(skip_all)]
    pub async fn erase_messages_of(&self, sender: UserId) -> Result<(), ChatError> {
        for key in store::image_keys_of(self.db.reader(), sender).await? {
            self.media.delete(key).await?;
        }
        let mut tx = self.db.begin().await?;
        store::erase_sender(&mut tx, sender).await?;
        tx.commit().await?;
        Ok(())
    }

    /// An image's content type and bytes, for its uploader, the participants of the
    /// conversation it was sent in, and admins once that conversation is reported.
    pub async fn image(&self, caller: Principal, key: &str) -> Result<(String, Bytes), ChatError> {
        let key: MediaKey = key.parse().map_err(|()| ChatError::NotFound)?;
        let mut conn = self.db.reader().acquire().await?;
        let (content_type, uploader, sent_in) =
            store::image(&mut *conn, key).await?.ok_or(ChatError::NotFound)?;
        let readable = uploader == caller.user
            || match sent_in {
                None => false,
                Some(id) => store::conversation(&mut *conn, id).await?.is_some_and(|conversation| {
                    conversation.side_of(caller.user).is_some()
                        || (caller.role.is_staff() && conversation.reported_at.is_some())
                }),
            };
        if !readable {
            return Err(ChatError::NotFound);
        }
        drop(conn);
        let bytes = self.media.get(key).await?.ok_or(ChatError::NotFound)?;
        Ok((content_type, bytes))
    }
}

/// Chat hears of deleted accounts from the outbox.
impl Subscriber for Chat {
    fn name(&self) -> &'static str {
        "chat"
    }

    fn deliver<'a>(&'a self, event: &'a Event) -> Delivery<'a> {
        Box::pin(async move {
            if let Some(sender) = identity::deleted_account(event)? {
                self.erase_messages_of(sender).await?;
            }
            Ok(())
        })
    }
}
