//! Sellers' domain: a store's standing and the decisions that move it (a pure state machine),
//! the application a customer sends, and what a store looks like to its owner, admins and
//! shoppers.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::catalog::Slug;
use crate::identity::Email;
use crate::identity::addresses::Phone;
use crate::identity::domain::Text;
use crate::ids::{SellerDocumentId, SellerId, UserId};
use crate::payments::{MaskedDestination, PayoutDestination};
use crate::time::Timestamp;

/// Most basis points a commission may be: 100%.
pub const MAX_COMMISSION_BPS: u32 = 10_000;

/// Where a store stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SellerStatus {
    /// Applied; waiting for an admin's decision.
    Pending,
    /// Live: its products sell.
    Approved,
    /// Turned down, with a reason.
    Rejected,
    /// Taken off the shop for now: its products are hidden and cannot be bought; open orders
    /// continue.
    Suspended,
    /// Closed for good because its owner deleted their account: hidden like a suspended store,
    /// its profile erased, and no decision moves it again.
    Closed,
}

impl SellerStatus {
    pub const ALL: [SellerStatus; 5] = [
        SellerStatus::Pending,
        SellerStatus::Approved,
        SellerStatus::Rejected,
        SellerStatus::Suspended,
        SellerStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SellerStatus::Pending => "pending",
            SellerStatus::Approved => "approved",
            SellerStatus::Rejected => "rejected",
            SellerStatus::Suspended => "suspended",
            SellerStatus::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

/// What an admin decides about a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    Approve,
    Reject,
    Suspend,
    Reinstate,
}

impl Decision {
    pub const ALL: [Decision; 4] =
        [Decision::Approve, Decision::Reject, Decision::Suspend, Decision::Reinstate];

    /// The event the decision writes.
    pub fn event_type(self) -> &'static str {
        match self {
            Decision::Approve => "seller.approved",
            Decision::Reject => "seller.rejected",
            Decision::Suspend => "seller.suspended",
            Decision::Reinstate => "seller.reinstated",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
            Decision::Suspend => "suspend",
            Decision::Reinstate => "reinstate",
        }
    }
}

/// A decision the store's status does not allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a {} store cannot be given the decision {}", .from.as_str(), .decision.as_str())]
pub struct InvalidTransition {
    pub from: SellerStatus,
    pub decision: Decision,
}

/// The status a decision moves a store to: pending → approved or rejected; approved ⇄
/// suspended. Everything else (approving twice, reinstating a pending store, any decision on a
/// rejected or closed one) is refused.
pub fn decide(from: SellerStatus, decision: Decision) -> Result<SellerStatus, InvalidTransition> {
    use Decision::*;
    use SellerStatus::*;
    match (from, decision) {
        (Pending, Approve) => Ok(Approved),
        (Pending, Reject) => Ok(Rejected),
        (Approved, Suspend) => Ok(Suspended),
        (Suspended, Reinstate) => Ok(Approved),
        _ => Err(InvalidTransition { from, decision }),
    }
}

/// The status closing a store moves it to, from any status (its owner deleted their account);
/// None when it is closed already, so a redelivered deletion changes nothing more.
pub fn close(from: SellerStatus) -> Option<SellerStatus> {
    (from != SellerStatus::Closed).then_some(SellerStatus::Closed)
}

/// What a closed store shows in place of its name.
pub const CLOSED_STORE_NAME: &str = "Closed store";

/// A closed store's slug, in place of the one its owner chose: unique per store, and never one
/// an application could take (an id holds `_`, which a [`Slug`] refuses), so the old slug is
/// free again and no live store is ever shadowed.
pub fn closed_slug(id: SellerId) -> String {
    format!("closed-{id}")
}

/// How a store is reached.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub email: Email,
    pub phone: Phone,
}

/// A customer's application for a store, as the client sends it.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Application {
    pub store_name: Text<100>,
    /// The store's address in the shop: `/v1/stores/{slug}`; unique.
    pub slug: Slug,
    pub description: Text<2000>,
    pub contact: Contact,
    /// Where the store's earnings are paid.
    pub payout_account: PayoutDestination,
}

/// What a store's owner changes in its profile; absent fields stay as they are. The slug stays:
/// links to the store go on working, and the bank account is not changed from a session.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileChange {
    pub store_name: Option<Text<100>>,
    pub description: Option<Text<2000>>,
    pub contact: Option<Contact>,
}

/// A store as its owner and admins see it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Seller {
    pub id: SellerId,
    /// The store's owner: the user who applied (products carry this id as `seller_id`).
    pub user_id: UserId,
    pub status: SellerStatus,
    pub store_name: String,
    pub slug: String,
    pub description: String,
    /// Absent once the store is closed (erased with its owner's account).
    pub contact: Option<Contact>,
    /// The bank account, with only the account number's last four digits; absent once the
    /// store is closed.
    pub payout_account: Option<MaskedDestination>,
    /// Where the logo is served, once uploaded.
    pub logo_url: Option<String>,
    /// The business documents uploaded with the application (readable by the owner and admins).
    pub documents: Vec<SellerDocument>,
    /// This store's commission in basis points (100 = 1%); absent: the platform default.
    pub commission_bps: Option<u32>,
    /// Why the store was last rejected, suspended or closed.
    pub reason: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// When the store was first approved.
    pub approved_at: Option<Timestamp>,
}

/// A business document of an application.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SellerDocument {
    pub id: SellerDocumentId,
    pub content_type: String,
    /// Bytes.
    pub size: u64,
    /// Where the owner or an admin downloads it.
    pub url: String,
    pub created_at: Timestamp,
}

/// A store as shoppers see it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct StorePage {
    pub slug: String,
    pub store_name: String,
    pub description: String,
    pub logo_url: Option<String>,
    /// Active products on sale; list them with `GET /v1/products?store={slug}`.
    pub product_count: i64,
    /// Over the visible reviews of everything the store sold.
    pub rating: crate::rating::Rating,
    /// When the store was approved.
    pub joined_at: Timestamp,
}

/// The formats a business document may have: a PDF or an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocumentType {
    Pdf,
    Image(crate::catalog::media::ImageType),
}

impl DocumentType {
    /// The format the bytes are, judged by their signature.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(b"%PDF-") {
            return Some(DocumentType::Pdf);
        }
        crate::catalog::media::ImageType::sniff(bytes).map(DocumentType::Image)
    }

    pub fn content_type(self) -> &'static str {
        match self {
            DocumentType::Pdf => "application/pdf",
            DocumentType::Image(image) => image.content_type(),
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            DocumentType::Pdf => "pdf",
            DocumentType::Image(image) => image.extension(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_status() -> impl Strategy<Value = SellerStatus> {
        (0usize..SellerStatus::ALL.len()).prop_map(|i| SellerStatus::ALL[i])
    }

    fn any_decision() -> impl Strategy<Value = Decision> {
        (0usize..4).prop_map(|i| Decision::ALL[i])
    }

    #[test]
    fn an_application_is_approved_or_rejected_and_a_live_store_is_suspended_and_reinstated() {
        assert_eq!(decide(SellerStatus::Pending, Decision::Approve), Ok(SellerStatus::Approved));
        assert_eq!(decide(SellerStatus::Pending, Decision::Reject), Ok(SellerStatus::Rejected));
        assert_eq!(decide(SellerStatus::Approved, Decision::Suspend), Ok(SellerStatus::Suspended));
        assert_eq!(decide(SellerStatus::Suspended, Decision::Reinstate), Ok(SellerStatus::Approved));
    }

    #[test]
    fn decisions_out_of_turn_are_refused() {
        for (from, decision) in [
            (SellerStatus::Approved, Decision::Approve),
            (SellerStatus::Pending, Decision::Suspend),
            (SellerStatus::Pending, Decision::Reinstate),
            (SellerStatus::Rejected, Decision::Approve),
            (SellerStatus::Suspended, Decision::Approve),
            (SellerStatus::Approved, Decision::Reject),
        ] {
            assert_eq!(decide(from, decision), Err(InvalidTransition { from, decision }));
        }
    }

    #[test]
    fn any_store_closes_once_and_a_closed_store_takes_no_decision() {
        for from in SellerStatus::ALL {
            let expected = (from != SellerStatus::Closed).then_some(SellerStatus::Closed);
            assert_eq!(close(from), expected, "closing a {} store", from.as_str());
        }
        for decision in Decision::ALL {
            assert_eq!(
                decide(SellerStatus::Closed, decision),
                Err(InvalidTransition { from: SellerStatus::Closed, decision })
            );
        }
    }

    #[test]
    fn a_closed_stores_slug_is_its_own_and_no_application_could_choose_it() {
        let (a, b) = (SellerId::new(), SellerId::new());
        assert_ne!(closed_slug(a), closed_slug(b));
        assert!(crate::catalog::Slug::parse(&closed_slug(a)).is_err());
    }

    #[test]
    fn statuses_read_back_from_their_names() {
        for status in SellerStatus::ALL {
            assert_eq!(SellerStatus::parse(status.as_str()), Some(status));
        }
    }

    #[test]
    fn documents_are_pdfs_or_images_by_their_first_bytes() {
        assert_eq!(DocumentType::sniff(b"%PDF-1.7\n"), Some(DocumentType::Pdf));
        assert_eq!(DocumentType::sniff(b"\x89PNG\r\n\x1a\n").map(DocumentType::extension), Some("png"));
        assert_eq!(DocumentType::sniff(b"<html>"), None);
    }

    proptest! {
        /// Whatever decisions come, a rejected or closed store stays so, only an approval or a
        /// rejection leaves pending, and a store is never pending again.
        #[test]
        fn no_sequence_of_decisions_breaks_the_rules(start in any_status(), decisions in prop::collection::vec(any_decision(), 0..20)) {
            let mut status = start;
            for decision in decisions {
                match decide(status, decision) {
                    Ok(next) => {
                        prop_assert_ne!(status, SellerStatus::Rejected);
                        prop_assert_ne!(status, SellerStatus::Closed);
                        prop_assert_ne!(next, SellerStatus::Pending);
                        prop_assert_ne!(next, SellerStatus::Closed);
                        if status == SellerStatus::Pending {
                            prop_assert!(matches!(decision, Decision::Approve | Decision::Reject));
                        }
                        status = next;
                    }
                    Err(refused) => prop_assert_eq!(refused.from, status),
                }
            }
        }
    }
}
