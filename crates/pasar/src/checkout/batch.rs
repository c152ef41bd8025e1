//! Group commit for checkouts (issue 5): buyers checking out at the same moment are written
//! in one transaction, so a hot SKU costs one guarded update and one commit per batch rather
//! than per buyer.
//!
//! One worker per process takes whatever has queued while the previous batch was being
//! written (up to the batch size), so a batch grows with the load and a lone buyer waits for
//! nobody. Several processes on one database each batch their own buyers; the batches lock
//! stock rows and ledger accounts in key order, as single checkouts do, and the guarded
//! updates keep them correct against each other. A batch that fails as a whole (a duplicate
//! idempotency key raced in from another process, a lost connection) is handed back, and each
//! of its buyers is placed in a transaction of its own, so one buyer's trouble never fails
//! the others.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, oneshot};

use super::service::{Checkout, CheckoutError, Placed, Prepared};
use crate::ids::UserId;

/// Checkouts that may wait for the worker at once; beyond it buyers wait to queue.
const QUEUE_DEPTH: usize = 4096;

/// The answer to a batched checkout.
pub(super) enum Batched {
    Placed(Box<Placed>),
    /// Not written in a batch: place it alone.
    Alone(Box<Prepared>),
}

struct Waiting {
    prepared: Prepared,
    answer: oneshot::Sender<Result<Batched, CheckoutError>>,
}

/// How the batches have gone since the process started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchStats {
    /// Batch transactions committed.
    pub batches: u64,
    /// Checkouts answered from committed batches (placed or refused).
    pub checkouts: u64,
    /// Checkouts handed back to be placed alone because their batch failed as a whole.
    pub handed_back: u64,
}

#[derive(Default)]
struct Counters {
    batches: AtomicU64,
    checkouts: AtomicU64,
    handed_back: AtomicU64,
}

#[derive(Clone)]
pub(super) struct BatchQueue {
    queue: mpsc::Sender<Waiting>,
    counters: Arc<Counters>,
}

impl BatchQueue {
    /// Starts the worker, which writes batches of up to `most` checkouts through `checkout`
    /// and stops when the last queue handle is dropped.
    pub(super) fn start(checkout: Checkout, most: usize) -> Self {
        let (queue, waiting) = mpsc::channel(QUEUE_DEPTH);
        let counters = Arc::new(Counters::default());
        tokio::spawn(write_batches(checkout, waiting, most, counters.clone()));
        Self { queue, counters }
    }

    pub(super) async fn place(&self, prepared: Prepared) -> Result<Batched, CheckoutError> {
        let (answer, answered) = oneshot::channel();
        if let Err(refused) = self.queue.send(Waiting { prepared, answer }).await {
            return Ok(Batched::Alone(Box::new(refused.0.prepared)));
        }
        answered.await.map_err(|_| CheckoutError::Internal("the checkout batch worker stopped".into()))?
    }

    pub(super) fn stats(&self) -> BatchStats {
        BatchStats {
            batches: self.counters.batches.load(Ordering::Relaxed),
            checkouts: self.counters.checkouts.load(Ordering::Relaxed),
            handed_back: self.counters.handed_back.load(Ordering::Relaxed),
        }
    }
}

async fn write_batches(
    checkout: Checkout,
    mut waiting: mpsc::Receiver<Waiting>,
    most: usize,
    counters: Arc<Counters>,
) {
    // Batches are a power of two in size (what does not fit waits for the next one, which
    // starts at once), so the batch's multi-row statements take a few shapes that stay
    // prepared on the connection rather than being parsed and planned for every batch.
    let most = if most.is_power_of_two() { most } else { most.next_power_of_two() / 2 };
    let mut queued: VecDeque<Waiting> = VecDeque::with_capacity(most);
    loop {
        if queued.is_empty() {
            match waiting.recv().await {
                Some(first) => queued.push_back(first),
                None => return,
            }
        }
        while queued.len() < most {
            match waiting.try_recv() {
                Ok(next) => queued.push_back(next),
                Err(_) => break,
            }
        }
        let size =
            if queued.len().is_power_of_two() { queued.len() } else { queued.len().next_power_of_two() / 2 };
        let mut batch: Vec<Waiting> = queued.drain(..size).collect();
        // A buyer who reuses an idempotency key within one batch goes after it, alone, and
        // finds the order the first one placed.
        let mut keys: HashSet<(UserId, String)> = HashSet::new();
        let repeated: Vec<bool> = batch
            .iter()
            .map(|w| match &w.prepared.idempotency_key {
                Some(key) => !keys.insert((w.prepared.buyer.user, key.clone())),
                None => false,
            })
            .collect();
        let (repeats, firsts): (Vec<_>, Vec<_>) =
            batch.drain(..).zip(repeated).partition(|(_, repeated)| *repeated);
        let (prepared, answers): (Vec<Prepared>, Vec<_>) =
            firsts.into_iter().map(|(w, _)| (w.prepared, w.answer)).unzip();

        match checkout.place_batch(&prepared).await {
            Ok(outcomes) => {
                counters.batches.fetch_add(1, Ordering::Relaxed);
                counters.checkouts.fetch_add(outcomes.len() as u64, Ordering::Relaxed);
                for (answer, outcome) in answers.into_iter().zip(outcomes) {
                    let _ = answer.send(outcome.map(|placed| Batched::Placed(Box::new(placed))));
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, checkouts = prepared.len(), "checkout batch failed; placing each alone");
                counters.handed_back.fetch_add(prepared.len() as u64, Ordering::Relaxed);
                for (answer, prepared) in answers.into_iter().zip(prepared) {
                    let _ = answer.send(Ok(Batched::Alone(Box::new(prepared))));
                }
            }
        }
        for (w, _) in repeats {
            let _ = w.answer.send(Ok(Batched::Alone(Box::new(w.prepared))));
        }
    }
}
