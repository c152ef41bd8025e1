//! A buyer's wallet history as the buyer reads it: one line per deposit, payment, withdrawal,
//! refund or adjustment, in the state it is in, with money as `{amount, currency}`. The ledger's
//! account codes and the transfers that post or void a hold stay inside the ledger.

use serde::Serialize;
use utoipa::ToSchema;

use crate::ledger::{StatementLine, TransferStatus};
use crate::money::{Currency, Money};
use crate::time::Timestamp;

/// Where a line of the history stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    /// Held (a withdrawal waiting for its payout): not spendable, not gone yet.
    Pending,
    Completed,
    /// A hold that ended without moving money (a failed payout): the funds are back.
    Returned,
}

/// One line of the wallet's history.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct WalletEntry {
    /// Also the position to page from.
    pub id: String,
    /// `deposit`, `order_payment`, `withdrawal`, `refund`, `adjustment`, `points_earned`,
    /// `points_redeemed`, …
    pub kind: String,
    pub state: EntryState,
    /// Positive into the wallet, negative out of it. Absent in the points history.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<Money>,
    /// Points gained (positive) or spent (negative). Only in the points history.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub points: Option<i64>,
    /// The order, payment or payout this is about, or an adjustment's reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    pub created_at: Timestamp,
}

impl WalletEntry {
    /// A statement line of the wallet (`currency`) or, with `None`, of the points account.
    pub fn of(line: StatementLine, currency: Option<Currency>) -> Self {
        let record = line.record;
        let state = match record.status {
            TransferStatus::Posted => EntryState::Completed,
            TransferStatus::Pending => EntryState::Pending,
            TransferStatus::Voided | TransferStatus::Expired => EntryState::Returned,
        };
        // An adjustment's reference is "{admin}: {reason}"; the buyer sees the reason.
        let reference = match (record.kind.as_str(), record.reference) {
            ("adjustment", Some(reference)) => {
                Some(reference.split_once(": ").map_or(reference.clone(), |(_, reason)| reason.to_owned()))
            }
            (_, reference) => reference,
        };
        WalletEntry {
            id: record.id,
            kind: record.kind,
            state,
            amount: currency.map(|currency| Money::new(line.signed_amount, currency)),
            points: currency.is_none().then_some(line.signed_amount),
            reference,
            created_at: record.created_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::TransferRecord;

    fn line(kind: &str, status: TransferStatus, signed_amount: i64, reference: &str) -> StatementLine {
        StatementLine {
            record: TransferRecord {
                id: "t1".into(),
                kind: kind.into(),
                debit_code: "wallet:usr_1:IDR".into(),
                credit_code: "payouts:sandbox:IDR".into(),
                amount: signed_amount.abs(),
                unit: "IDR".into(),
                status,
                pending_id: None,
                reference: Some(reference.into()),
                created_at: Timestamp::from_millis(0),
            },
            signed_amount,
        }
    }

    #[test]
    fn a_withdrawal_reads_as_money_out_in_the_state_its_hold_ended_in() {
        let sent =
            WalletEntry::of(line("withdrawal", TransferStatus::Posted, -500, "pyt_1"), Some(Currency::IDR));
        assert_eq!((sent.state, sent.amount), (EntryState::Completed, Some(Money::new(-500, Currency::IDR))));
        let waiting =
            WalletEntry::of(line("withdrawal", TransferStatus::Pending, -500, "pyt_1"), Some(Currency::IDR));
        assert_eq!(waiting.state, EntryState::Pending);
        let failed =
            WalletEntry::of(line("withdrawal", TransferStatus::Voided, -500, "pyt_1"), Some(Currency::IDR));
        assert_eq!(failed.state, EntryState::Returned);
        let json = serde_json::to_value(&sent).unwrap();
        assert!(json.get("debit_code").is_none() && json.get("points").is_none(), "{json}");
        assert_eq!(json["amount"], serde_json::json!({"amount": -500, "currency": "IDR"}));
    }

    #[test]
    fn an_adjustment_shows_its_reason_not_the_admin() {
        let entry = WalletEntry::of(
            line("adjustment", TransferStatus::Posted, 100, "usr_9: goodwill"),
            Some(Currency::IDR),
        );
        assert_eq!(entry.reference.as_deref(), Some("goodwill"));
    }

    #[test]
    fn points_lines_carry_points_not_money() {
        let entry = WalletEntry::of(line("points_earned", TransferStatus::Posted, 7, "ord_1"), None);
        assert_eq!((entry.points, entry.amount), (Some(7), None));
    }
}
