//! The checkout sweeper: ends unpaid orders at their deadline, releases stock nothing waits
//! for any more, and finishes checkouts a stopped process left half-way. It runs at start
//! (so deadlines that passed while the server was down are honoured at once) and then every
//! second.

use std::time::Duration;

use super::Checkout;
use crate::wallet::Wallet;

/// How long a payment may sit unseen by its gateway before the sweeper asks again (longer
/// than any checkout takes between writing the payment and calling the gateway).
const UNREQUESTED_AFTER: Duration = Duration::from_secs(30);
/// How far past its expiry a reservation may stay held before it counts as orphaned.
const ORPHAN_GRACE: Duration = Duration::from_secs(60);

/// One pass; returns (payments expired, reservations released, checkouts resumed).
pub async fn sweep(checkout: &Checkout, wallet: &Wallet) -> anyhow::Result<(usize, usize, usize)> {
    let expired = checkout.expire_due().await? + wallet.expire_due_deposits().await?;
    let released = checkout.release_orphaned_reservations(ORPHAN_GRACE).await?;
    let resumed = checkout.resume_unrequested(UNREQUESTED_AFTER).await?;
    Ok((expired, released, resumed))
}

pub async fn run(checkout: Checkout, wallet: Wallet) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        match sweep(&checkout, &wallet).await {
            Ok((0, 0, 0)) => {}
            Ok((expired, released, resumed)) => {
                tracing::info!(expired, released, resumed, "checkout sweep");
            }
            Err(err) => tracing::warn!(error = %err, "checkout sweep failed; will retry"),
        }
    }
}
