//! Public identifiers: UUIDv7 with a type prefix (`usr_…`, `adr_…`), Stripe style, so an id
//! says what it names and ids sort by creation time. The prefixed text is also what the database
//! stores, so a row and its API representation never need translating.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a valid {expected} id")]
pub struct InvalidId {
    pub expected: &'static str,
}

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            #[allow(clippy::new_without_default)]
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}_{}", $prefix, self.0.simple())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                let invalid = InvalidId { expected: $prefix };
                let hex = s
                    .strip_prefix($prefix)
                    .and_then(|rest| rest.strip_prefix('_'))
                    .ok_or(invalid)?;
                if hex.len() != 32 {
                    return Err(InvalidId { expected: $prefix });
                }
                Uuid::try_parse(hex).map(Self).map_err(|_| InvalidId { expected: $prefix })
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .pattern(Some(concat!("^", $prefix, "_[0-9a-f]{32}$")))
                    .examples([concat!($prefix, "_0192f5a3c1e27d3a9b4c5d6e7f809112")])
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

prefixed_id!(
    /// A user account.
    UserId,
    "usr"
);
prefixed_id!(
    /// A login session: the family of refresh tokens issued from one login.
    SessionId,
    "ses"
);
prefixed_id!(
    /// A saved postal address of a user.
    AddressId,
    "adr"
);
prefixed_id!(
    /// An event written to the outbox.
    EventId,
    "evt"
);

prefixed_id!(
    /// A product in the catalog.
    ProductId,
    "prd"
);
prefixed_id!(
    /// A sellable variant of a product (one SKU).
    VariantId,
    "var"
);
prefixed_id!(
    /// A category in the catalog tree.
    CategoryId,
    "cat"
);
prefixed_id!(
    /// A brand.
    BrandId,
    "brd"
);
prefixed_id!(
    /// An uploaded image of a product.
    MediaId,
    "med"
);
prefixed_id!(
    /// A shopping cart.
    CartId,
    "crt"
);
prefixed_id!(
    /// An order.
    OrderId,
    "ord"
);
prefixed_id!(
    /// One line of an order.
    OrderLineId,
    "oln"
);
prefixed_id!(
    /// One store's part of an order, packed and shipped by that store.
    FulfilmentId,
    "ful"
);
prefixed_id!(
    /// A parcel on its way: a part of an order handed to a courier, with its tracking events.
    ShipmentId,
    "shp"
);
prefixed_id!(
    /// A payment (for an order or a wallet deposit).
    PaymentId,
    "pay"
);
prefixed_id!(
    /// Money sent out of the shop to a bank account (a wallet withdrawal).
    PayoutId,
    "po"
);
prefixed_id!(
    /// Stock held for an order until it is paid or released.
    ReservationId,
    "rsv"
);
prefixed_id!(
    /// One change of a variant's stock on hand.
    StockMovementId,
    "smv"
);
prefixed_id!(
    /// A digital stock item (a key, an account, a file reference).
    DigitalItemId,
    "dgi"
);
prefixed_id!(
    /// A merchant's endpoint that receives Pasar's events.
    WebhookEndpointId,
    "whe"
);
prefixed_id!(
    /// One delivery of one event to one webhook endpoint.
    WebhookDeliveryId,
    "whd"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_round_trips_through_its_text_form() {
        let id = UserId::new();
        let text = id.to_string();
        assert!(text.starts_with("usr_"));
        assert_eq!(text.len(), 36);
        assert_eq!(text.parse::<UserId>(), Ok(id));
    }

    #[test]
    fn an_id_of_another_kind_is_rejected() {
        let address = AddressId::new().to_string();
        assert!(address.parse::<UserId>().is_err());
        assert!("usr_".parse::<UserId>().is_err());
        assert!("usr_zz".parse::<UserId>().is_err());
        assert!("usr_0192f5a3-c1e2-7d3a-9b4c-5d6e7f809112".parse::<UserId>().is_err());
    }

    #[test]
    fn ids_made_later_sort_after_earlier_ones() {
        let first = UserId::new();
        let second = UserId::new();
        assert!(first.to_string() < second.to_string());
    }
}
prefixed_id!(
    /// One webhook a payment provider sent Pasar, as it arrived.
    IncomingWebhookId,
    "whi"
);
prefixed_id!(
    /// Money given back to a buyer for (part of) a payment.
    RefundId,
    "rfd"
);
prefixed_id!(
    /// A delivery zone: a country, postal codes or an area on the map.
    ShippingZoneId,
    "shz"
);
prefixed_id!(
    /// A way to ship, with its rate and the zones it serves.
    ShippingMethodId,
    "shm"
);
prefixed_id!(
    /// A buyer's review of a product they bought (one order line).
    ReviewId,
    "rev"
);
prefixed_id!(
    /// A seller's store: its application, its profile and its standing.
    SellerId,
    "sel"
);
prefixed_id!(
    /// A business document a seller uploaded with its application (private).
    SellerDocumentId,
    "sdc"
);
prefixed_id!(
    /// A voucher or automatic promotion.
    VoucherId,
    "vch"
);
prefixed_id!(
    /// A browser subscribed to Web Push for one user.
    PushSubscriptionId,
    "psh"
);
prefixed_id!(
    /// A chat between a buyer and a store, about the store, one of its products or an order.
    ConversationId,
    "cnv"
);
prefixed_id!(
    /// One message of a chat conversation.
    ChatMessageId,
    "msg"
);
prefixed_id!(
    /// A notification: one message to one person on one channel.
    NotificationId,
    "ntf"
);
prefixed_id!(
    /// A weekly delivery slot of a zone (weekdays, local start and end, capacity).
    DeliveryTemplateId,
    "dlt"
);
prefixed_id!(
    /// One delivery slot on one day: a window a grocery order is brought in.
    DeliverySlotId,
    "dls"
);
