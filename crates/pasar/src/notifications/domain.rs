//! What tells whom through which channel (the [`RULES`] table), the categories people choose
//! from, the retry schedule and the unsubscribe token: pure rules, no I/O.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::ToSchema;

use crate::ids::UserId;

/// What a notification is about; people choose per category. Transactional ones (what they
/// bought, their money, their account) cannot be turned off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = NotificationCategory)]
pub enum Category {
    Account,
    Orders,
    Wallet,
    Selling,
    Operations,
    Reviews,
    Marketing,
    /// Chat messages from a store or a buyer that arrived while the person was away.
    Messages,
}

impl Category {
    pub const ALL: [Category; 8] = [
        Category::Account,
        Category::Orders,
        Category::Wallet,
        Category::Selling,
        Category::Operations,
        Category::Reviews,
        Category::Marketing,
        Category::Messages,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Account => "account",
            Category::Orders => "orders",
            Category::Wallet => "wallet",
            Category::Selling => "selling",
            Category::Operations => "operations",
            Category::Reviews => "reviews",
            Category::Marketing => "marketing",
            Category::Messages => "messages",
        }
    }

    pub fn is_transactional(self) -> bool {
        !matches!(self, Category::Reviews | Category::Marketing | Category::Messages)
    }
}

impl FromStr for Category {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Category::ALL.into_iter().find(|c| c.as_str() == s).ok_or_else(|| format!("unknown category {s:?}"))
    }
}

/// Where a notification goes. In-app is always on; the others once configured (and, for
/// Telegram and SMS, when the person has a linked chat or a phone).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    InApp,
    Email,
    Telegram,
    Sms,
    /// Web Push to the browsers the person subscribed (see the push module).
    Push,
}

impl Channel {
    pub const ALL: [Channel; 5] =
        [Channel::InApp, Channel::Email, Channel::Telegram, Channel::Sms, Channel::Push];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::InApp => "in_app",
            Channel::Email => "email",
            Channel::Telegram => "telegram",
            Channel::Sms => "sms",
            Channel::Push => "push",
        }
    }
}

impl FromStr for Channel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s).ok_or_else(|| format!("unknown channel {s:?}"))
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A delivery's state: `pending` until a provider took it (`sent`) or it was given up
/// (`dead`, with the reason). In-app notifications are `sent` when written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = NotificationStatus)]
pub enum Status {
    Pending,
    Sent,
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Sent => "sent",
            Status::Dead => "dead",
        }
    }
}

impl FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [Status::Pending, Status::Sent, Status::Dead]
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown status {s:?}"))
    }
}

/// Who an event's notification is for, read from the event (and the order, variant or review
/// it names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recipient {
    /// `buyer_id` of an order event.
    Buyer,
    /// `user_id` of the event.
    User,
    /// `payee` of a payout event.
    Payee,
    /// Each seller with a line in the order.
    OrderSellers,
    /// The seller of the variant, or the admins for the shop's own products.
    StockOwner,
    /// Every admin and super admin.
    Admins,
    /// The author of the review replied to.
    Reviewer,
    /// The other side of a chat message, when they were not connected as it arrived.
    AwayChatRecipient,
}

/// One row of the table: on `event`, tell `recipient` about it with `template`, in
/// `category`, through `channels` (and always in the app).
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    pub event: &'static str,
    pub recipient: Recipient,
    pub category: Category,
    pub template: &'static str,
    pub channels: &'static [Channel],
}

use Category as C;
use Channel::{Email, Push, Sms, Telegram};
use Recipient as R;

const fn rule(
    event: &'static str,
    recipient: Recipient,
    category: Category,
    template: &'static str,
    channels: &'static [Channel],
) -> Rule {
    Rule { event, recipient, category, template, channels }
}

/// Which event tells whom, about what, through which channels (in-app always, besides these).
/// The Telegram bot already edits its QRIS message into a receipt, delivers items in the chat
/// and alerts its admins (telegram::Deliveries), so those rows do not add Telegram again.
pub static RULES: &[Rule] = &[
    rule("user.registered", R::User, C::Marketing, "welcome", &[Email]),
    rule("user.email_verification_requested", R::User, C::Account, "email_verification", &[Email]),
    rule("user.email_change_requested", R::User, C::Account, "email_verification", &[Email]),
    rule("user.password_reset_requested", R::User, C::Account, "password_reset", &[Email]),
    rule("order.created", R::Buyer, C::Orders, "order_placed", &[Email]),
    rule("order.confirmed", R::Buyer, C::Orders, "payment_received", &[Email, Sms, Push]),
    rule("order.confirmed", R::OrderSellers, C::Selling, "seller_new_order", &[Email, Telegram, Push]),
    rule("order.shipped", R::Buyer, C::Orders, "order_shipped", &[Email, Telegram, Sms, Push]),
    rule("order.delivered", R::Buyer, C::Orders, "order_delivered", &[Email, Push]),
    rule("order.cancelled", R::Buyer, C::Orders, "order_cancelled", &[Email, Telegram, Push]),
    rule("order.refunded", R::Buyer, C::Orders, "order_refunded", &[Email, Telegram]),
    rule("order.partially_refunded", R::Buyer, C::Orders, "order_refunded", &[Email, Telegram]),
    rule("order.expired", R::Buyer, C::Orders, "payment_expired", &[Email]),
    rule("wallet.deposit.completed", R::User, C::Wallet, "deposit_credited", &[Email, Telegram, Push]),
    rule("wallet.withdrawal.completed", R::Payee, C::Wallet, "withdrawal_sent", &[Email, Telegram, Sms]),
    rule("wallet.withdrawal.failed", R::Payee, C::Wallet, "withdrawal_failed", &[Email, Telegram, Sms]),
    rule("seller.payout.completed", R::Payee, C::Selling, "withdrawal_sent", &[Email, Telegram]),
    rule("seller.payout.failed", R::Payee, C::Selling, "withdrawal_failed", &[Email, Telegram]),
    rule("seller.approved", R::User, C::Selling, "seller_approved", &[Email, Telegram]),
    rule("seller.rejected", R::User, C::Selling, "seller_rejected", &[Email, Telegram]),
    rule("stock.low", R::StockOwner, C::Operations, "stock_low", &[Email]),
    rule("payment.provider_down", R::Admins, C::Operations, "provider_down", &[Email, Sms]),
    rule("review.replied", R::Reviewer, C::Reviews, "review_replied", &[Email, Telegram]),
    rule("chat.message.sent", R::AwayChatRecipient, C::Messages, "chat_message", &[Email, Push]),
];

/// The rules for one event type.
pub fn rules_for(event_type: &str) -> impl Iterator<Item = &'static Rule> {
    RULES.iter().filter(move |r| r.event == event_type)
}

/// Attempts at one delivery before it is dead-lettered.
pub const MOST_ATTEMPTS: i64 = 6;

/// How long to wait after the `attempts`-th failed attempt: 10 s, doubling, at most an hour.
pub fn backoff(attempts: i64) -> Duration {
    let exponent = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    Duration::from_secs(10_u64.saturating_mul(2_u64.saturating_pow(exponent)).min(3600))
}

/// The signed token of an unsubscribe link: who and from what, with an HMAC so that nobody
/// can unsubscribe someone else. It does not expire: an old email's link keeps working.
pub struct UnsubscribeToken;

impl UnsubscribeToken {
    pub fn sign(key: &[u8], user: UserId, category: Category) -> String {
        let message = format!("{user}.{}", category.as_str());
        let mac = Self::mac(key, &message);
        format!("{message}.{}", URL_SAFE_NO_PAD.encode(mac))
    }

    pub fn verify(key: &[u8], token: &str) -> Option<(UserId, Category)> {
        let (message, mac) = token.rsplit_once('.')?;
        let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
        let mut check = Hmac::<Sha256>::new_from_slice(key).ok()?;
        check.update(format!("unsubscribe:{message}").as_bytes());
        check.verify_slice(&mac).ok()?;
        let (user, category) = message.split_once('.')?;
        Some((user.parse().ok()?, category.parse().ok()?))
    }

    fn mac(key: &[u8], message: &str) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
        mac.update(format!("unsubscribe:{message}").as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_names_a_known_template_and_transactional_mail_has_no_opt_out() {
        for rule in RULES {
            assert!(
                crate::notifications::templates::NAMES.contains(&rule.template),
                "{} has no template",
                rule.template
            );
        }
        assert!(Category::Orders.is_transactional());
        assert!(!Category::Marketing.is_transactional());
    }

    #[test]
    fn retries_back_off_exponentially_up_to_an_hour() {
        assert_eq!(backoff(1), Duration::from_secs(10));
        assert_eq!(backoff(2), Duration::from_secs(20));
        assert_eq!(backoff(5), Duration::from_secs(160));
        assert_eq!(backoff(30), Duration::from_secs(3600));
    }

    #[test]
    fn an_unsubscribe_token_is_accepted_only_as_signed() {
        let user = UserId::new();
        let token = UnsubscribeToken::sign(b"key", user, Category::Marketing);
        assert_eq!(UnsubscribeToken::verify(b"key", &token), Some((user, Category::Marketing)));
        assert_eq!(UnsubscribeToken::verify(b"other key", &token), None);
        let forged = token.replace("marketing", "reviews");
        assert_eq!(UnsubscribeToken::verify(b"key", &forged), None);
        assert_eq!(UnsubscribeToken::verify(b"key", "garbage"), None);
    }
}
