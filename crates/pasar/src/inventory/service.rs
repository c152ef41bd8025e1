//! Inventory's use cases. Reservation, commit and release run inside the caller's transaction
//! (the checkout saga and payment handling), so stock moves atomically with the order.

use std::collections::HashMap;

use super::domain::{
    DigitalFile, ItemContent, MovementKind, Reservation, ReservationStatus, StockLevel, StockMovement,
    allocate, crosses_low_threshold,
};
use super::sealing::ItemSealer;
use super::store::{self, NewMovement};
use crate::db::{Connection, Db};
use crate::events::{self, NewEvent};
use crate::ids::{DigitalItemId, OrderLineId, ReservationId, StockMovementId, VariantId};
use crate::time::{Clock, Timestamp};

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("not enough stock of {variant_id}")]
    OutOfStock { variant_id: VariantId },
    #[error("on hand cannot go below what is reserved or below zero")]
    BelowReserved,
    #[error("a digital variant's stock is its items; add items instead of adjusting")]
    DigitalStockIsItems,
    #[error("{0}")]
    CannotRestock(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// A physical variant's wanted stock on hand, and why (a stock import's row).
#[derive(Clone, Copy, Debug)]
pub struct LevelToSet<'a> {
    pub variant: VariantId,
    pub on_hand: i64,
    pub reason: &'a str,
}

/// A quantity of one variant to hold.
#[derive(Clone, Copy, Debug)]
pub struct ReservationRequest {
    pub variant_id: VariantId,
    pub quantity: i64,
}

/// A digital item delivered on an order line, opened for its reader.
#[derive(Clone, Debug)]
pub struct DeliveredItem {
    pub id: DigitalItemId,
    pub order_line_id: OrderLineId,
    /// The key, account text or file the buyer bought.
    pub content: ItemContent,
}

/// The answer to adding digital items.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ItemsAdded {
    /// How many were added.
    pub added: usize,
    /// The items refused because the variant already holds the same text or file (or the list
    /// repeats it): texts as they are, files by their name.
    pub duplicates: Vec<String>,
    pub level: StockLevel,
}

#[derive(Clone)]
pub struct Inventory {
    db: Db,
    clock: Clock,
    sealer: ItemSealer,
}

impl Inventory {
    pub fn new(db: Db, clock: Clock, sealer: ItemSealer) -> Self {
        Self { db, clock, sealer }
    }

    pub async fn level(&self, variant: VariantId) -> Result<StockLevel, InventoryError> {
        Ok(store::level(self.db.reader(), variant).await?.unwrap_or(StockLevel::new(variant, 0, 0, 0, false)))
    }

    /// The levels of many variants in one read (a variant never stocked is at zero), for
    /// showing availability; a checkout's own reads and guarded updates are what decide a sale.
    pub async fn levels(
        &self,
        variants: &[VariantId],
    ) -> Result<HashMap<VariantId, StockLevel>, InventoryError> {
        if variants.is_empty() {
            return Ok(HashMap::new());
        }
        let mut conn = self.db.reader().acquire().await?;
        let found = store::levels(&mut conn, variants).await?;
        let mut levels: HashMap<VariantId, StockLevel> =
            variants.iter().map(|&v| (v, StockLevel::new(v, 0, 0, 0, false))).collect();
        levels.extend(found.into_iter().map(|level| (level.variant_id, level)));
        Ok(levels)
    }

    /// How many variants have less available than their low-stock threshold.
    pub async fn low_count(&self) -> Result<i64, InventoryError> {
        Ok(store::low_count(self.db.reader()).await?)
    }

    pub async fn movements(
        &self,
        variant: VariantId,
        limit: i64,
    ) -> Result<Vec<StockMovement>, InventoryError> {
        Ok(store::movements(self.db.reader(), variant, limit).await?)
    }

    /// An admin's count, receipt or write-off of physical stock.
    pub async fn adjust(
        &self,
        variant: VariantId,
        is_digital: bool,
        delta: i64,
        reason: &str,
        actor: &str,
    ) -> Result<StockLevel, InventoryError> {
        if is_digital {
            return Err(InventoryError::DigitalStockIsItems);
        }
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        store::ensure_level(&mut *tx, variant, false, now).await?;
        let before = store::level(&mut *tx, variant).await?.ok_or(InventoryError::BelowReserved)?;
        let after = adjust_in(&mut tx, &before, delta, reason, actor, now).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Sets physical variants' stock on hand to the levels given (a stock take imported), all
    /// or none: each change is an adjustment by the difference, recorded and audited as one;
    /// a variant already at its level gets no movement. Answers each variant's level before
    /// and after, in the order given. A level below what is reserved refuses the whole set.
    pub async fn set_levels(
        &self,
        levels: &[LevelToSet<'_>],
        actor: &str,
    ) -> Result<Vec<(StockLevel, StockLevel)>, InventoryError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let mut changed = Vec::with_capacity(levels.len());
        for wanted in levels {
            store::ensure_level(&mut *tx, wanted.variant, false, now).await?;
            let before =
                store::level(&mut *tx, wanted.variant).await?.ok_or(InventoryError::BelowReserved)?;
            if before.is_digital {
                return Err(InventoryError::DigitalStockIsItems);
            }
            let delta = wanted.on_hand - before.on_hand;
            let after = if delta == 0 {
                before
            } else {
                adjust_in(&mut tx, &before, delta, wanted.reason, actor, now).await?
            };
            changed.push((before, after));
        }
        tx.commit().await?;
        Ok(changed)
    }

    pub async fn set_low_stock_threshold(
        &self,
        variant: VariantId,
        is_digital: bool,
        threshold: i64,
        actor: &str,
    ) -> Result<StockLevel, InventoryError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        store::ensure_level(&mut *tx, variant, is_digital, now).await?;
        let before = store::level(&mut *tx, variant).await?.ok_or(InventoryError::BelowReserved)?;
        store::set_threshold(&mut *tx, variant, threshold, now).await?;
        events::record(
            &mut tx,
            now,
            NewEvent {
                event_type: "stock.threshold_changed",
                version: 1,
                subject_id: variant.to_string(),
                actor: actor.to_owned(),
                payload: serde_json::json!({
                    "variant_id": variant,
                    "before": { "low_stock_threshold": before.low_stock_threshold },
                    "after": { "low_stock_threshold": threshold },
                }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(StockLevel { low_stock_threshold: threshold, ..before })
    }

    /// Adds digital items (keys, account texts) to a variant's stock, sealed at rest; each
    /// becomes one unit of stock. An item whose text the variant already holds (or that appears
    /// earlier in the same list) is refused, so no key is sold twice; the answer lists those.
    pub async fn add_digital_items(
        &self,
        variant: VariantId,
        items: &[String],
        actor: &str,
    ) -> Result<ItemsAdded, InventoryError> {
        let items: Vec<ItemContent> = items.iter().cloned().map(ItemContent::Text).collect();
        self.add_items(variant, &items, actor).await
    }

    /// Adds files (account files, licences) as digital items, sealed like texts: one unit of
    /// stock each, a file with the same bytes as one the variant holds refused by its name.
    pub async fn add_digital_files(
        &self,
        variant: VariantId,
        files: Vec<DigitalFile>,
        actor: &str,
    ) -> Result<ItemsAdded, InventoryError> {
        let items: Vec<ItemContent> = files.into_iter().map(ItemContent::File).collect();
        self.add_items(variant, &items, actor).await
    }

    async fn add_items(
        &self,
        variant: VariantId,
        items: &[ItemContent],
        actor: &str,
    ) -> Result<ItemsAdded, InventoryError> {
        let now = self.clock.now();
        let sealed: Vec<(DigitalItemId, String, String)> = items
            .iter()
            .map(|item| {
                let id = DigitalItemId::new();
                let sealable = item.to_sealable();
                let digest = self.sealer.digest(&variant.to_string(), &item.identity());
                self.sealer.seal(&id.to_string(), &sealable).map(|s| (id, s, digest))
            })
            .collect::<Result<_, _>>()?;
        let mut tx = self.db.begin().await?;
        store::ensure_level(&mut *tx, variant, true, now).await?;
        let before = store::level(&mut *tx, variant).await?.ok_or(InventoryError::BelowReserved)?;
        if !before.is_digital {
            return Err(InventoryError::Internal(anyhow::anyhow!(
                "variant {variant} has physical stock; digital items cannot be added to it"
            )));
        }
        let mut duplicates = Vec::new();
        for ((id, sealed, digest), item) in sealed.iter().zip(items) {
            if !store::insert_digital_item(&mut *tx, *id, variant, (item.kind(), sealed, digest), now).await?
            {
                duplicates.push(match item {
                    ItemContent::Text(text) => text.clone(),
                    ItemContent::File(file) => file.file_name.clone(),
                });
            }
        }
        let added = items.len() - duplicates.len();
        if added == 0 {
            tx.commit().await?;
            return Ok(ItemsAdded { added, duplicates, level: before });
        }
        let delta = i64::try_from(added).map_err(anyhow::Error::from)?;
        let after = store::change_on_hand(&mut *tx, variant, delta, now)
            .await?
            .ok_or(InventoryError::BelowReserved)?;
        let movement = NewMovement {
            variant,
            delta,
            kind: MovementKind::DigitalItemsAdded,
            reason: "digital items added",
            reference: None,
            actor,
            on_hand_after: after.on_hand,
        };
        record_movement(&mut tx, &movement, &before, &after, now).await?;
        tx.commit().await?;
        Ok(ItemsAdded { added, duplicates, level: after })
    }

    /// Gives items stored before digests existed their digest, so a later upload of the same
    /// text is refused. A variant that already holds one text twice is named in the log (the
    /// second copy keeps no digest, and an admin should remove one).
    pub async fn backfill_item_digests(&self) -> Result<usize, InventoryError> {
        let mut filled = 0;
        let mut after = String::new();
        loop {
            let page = store::items_without_digest(self.db.reader(), &after, 500).await?;
            let Some((last, _, _)) = page.last() else { return Ok(filled) };
            after.clone_from(last);
            let mut tx = self.db.begin().await?;
            for (id, variant, sealed) in &page {
                let digest = self.sealer.digest(variant, &self.sealer.open(id, sealed)?);
                let mut savepoint = sqlx::Connection::begin(&mut *tx).await?;
                match store::set_digest(&mut *savepoint, id, &digest).await {
                    Ok(()) => {
                        savepoint.commit().await?;
                        filled += 1;
                    }
                    Err(err) if crate::db::is_unique_violation(&err) => {
                        savepoint.rollback().await?;
                        tracing::warn!(item = %id, %variant, "this digital item repeats another of its variant: remove one, or the same text is sold twice");
                    }
                    Err(err) => return Err(err.into()),
                }
            }
            tx.commit().await?;
        }
    }

    /// Holds stock for `holder` (an order) until `expires_at`, all lines or none. Lines are
    /// taken in variant order so concurrent multi-line checkouts lock rows in the same order
    /// and cannot deadlock.
    pub async fn reserve(
        &self,
        conn: &mut Connection,
        holder: &str,
        requests: &[ReservationRequest],
        expires_at: Timestamp,
    ) -> Result<Vec<Reservation>, InventoryError> {
        let now = self.clock.now();
        let mut sorted = requests.to_vec();
        sorted.sort_by_key(|r| r.variant_id);
        let mut held = Vec::with_capacity(sorted.len());
        for request in sorted {
            let Some(after) = store::hold(&mut *conn, request.variant_id, request.quantity, now).await?
            else {
                return Err(InventoryError::OutOfStock { variant_id: request.variant_id });
            };
            if crosses_low_threshold(
                after.available + request.quantity,
                after.available,
                after.low_stock_threshold,
            ) {
                record_low_stock(&mut *conn, &after, now).await?;
            }
            let reservation = Reservation {
                id: ReservationId::new(),
                holder: holder.to_owned(),
                variant_id: request.variant_id,
                quantity: request.quantity,
                status: ReservationStatus::Held,
                expires_at,
            };
            store::insert_reservation(&mut *conn, &reservation, now).await?;
            held.push(reservation);
        }
        Ok(held)
    }

    /// [`Inventory::reserve`] for many holders at once (a batch of checkouts), each until its
    /// own expiry, in the order given: each holder gets all its lines or an `OutOfStock` naming the first variant it is
    /// short of, and what a refused holder would have taken stays for those after it. One
    /// locked read, and one multi-row statement guarding each variant's total for the batch.
    pub async fn reserve_many(
        &self,
        conn: &mut Connection,
        holds: &[(&str, &[ReservationRequest], Timestamp)],
    ) -> Result<Vec<Result<(), InventoryError>>, InventoryError> {
        let now = self.clock.now();
        let mut variants: Vec<VariantId> =
            holds.iter().flat_map(|(_, lines, _)| lines.iter().map(|l| l.variant_id)).collect();
        variants.sort();
        variants.dedup();
        let levels = store::lock_levels(&mut *conn, self.db.dialect(), &variants).await?;
        let mut available: HashMap<VariantId, i64> =
            levels.iter().map(|l| (l.variant_id, l.available)).collect();
        let wanted: Vec<Vec<(VariantId, i64)>> = holds
            .iter()
            .map(|(_, lines, _)| lines.iter().map(|l| (l.variant_id, l.quantity)).collect())
            .collect();
        let slices: Vec<&[(VariantId, i64)]> = wanted.iter().map(Vec::as_slice).collect();
        let granted = allocate(&mut available, &slices);

        let mut reservations = Vec::new();
        let mut taken: HashMap<VariantId, i64> = HashMap::new();
        for ((holder, lines, expires_at), outcome) in holds.iter().zip(&granted) {
            if outcome.is_err() {
                continue;
            }
            for line in *lines {
                *taken.entry(line.variant_id).or_default() += line.quantity;
                reservations.push(Reservation {
                    id: ReservationId::new(),
                    holder: (*holder).to_owned(),
                    variant_id: line.variant_id,
                    quantity: line.quantity,
                    status: ReservationStatus::Held,
                    expires_at: *expires_at,
                });
            }
        }
        let mut low = Vec::new();
        let mut takes: Vec<(VariantId, i64)> = taken.into_iter().collect();
        takes.sort();
        let held = store::hold_many(&mut *conn, &takes, now).await?;
        // The rows are locked, so every guard holds; a refusal means the allocation is wrong.
        if held.len() != takes.len() {
            return Err(anyhow::anyhow!("stock changed under a locked batch").into());
        }
        let before: HashMap<VariantId, &StockLevel> = levels.iter().map(|l| (l.variant_id, l)).collect();
        for after in &held {
            let was = before.get(&after.variant_id).map_or(after.available, |l| l.available);
            if crosses_low_threshold(was, after.available, after.low_stock_threshold) {
                low.push(low_stock_event(after));
            }
        }
        store::insert_reservations(&mut *conn, &reservations, now).await?;
        if !low.is_empty() {
            events::record_many(&mut *conn, now, low).await?;
        }
        Ok(granted
            .into_iter()
            .map(|outcome| outcome.map_err(|variant_id| InventoryError::OutOfStock { variant_id }))
            .collect())
    }

    /// [`Inventory::commit`] for many holders at once: one update of their reservations, one
    /// per variant of the levels, and the movements and their events written together.
    /// Each entry is a holder, its order lines by variant, and the actor of its sale.
    pub async fn commit_many(
        &self,
        conn: &mut Connection,
        sales: &[(&str, &HashMap<VariantId, OrderLineId>, &str)],
    ) -> Result<(), InventoryError> {
        let now = self.clock.now();
        let holders: Vec<&str> = sales.iter().map(|(holder, _, _)| *holder).collect();
        let mut committed =
            store::settle_held_of(&mut *conn, &holders, ReservationStatus::Committed, now).await?;
        let position: HashMap<&str, usize> = holders.iter().enumerate().map(|(i, h)| (*h, i)).collect();
        committed.sort_by_key(|r| (r.variant_id, position.get(r.holder.as_str()).copied()));
        let mut totals: Vec<(VariantId, i64)> = Vec::new();
        for r in &committed {
            match totals.last_mut() {
                Some((variant, total)) if *variant == r.variant_id => *total += r.quantity,
                _ => totals.push((r.variant_id, r.quantity)),
            }
        }
        let mut running: HashMap<VariantId, StockLevel> = HashMap::new();
        let totals_by_variant: HashMap<VariantId, i64> = totals.iter().copied().collect();
        let taken = store::take_held_many(&mut *conn, &totals, now).await?;
        if taken.len() != totals.len() {
            return Err(anyhow::anyhow!("a stock level of a committed reservation is missing").into());
        }
        for after in taken {
            let total = totals_by_variant[&after.variant_id];
            let before = StockLevel::new(
                after.variant_id,
                after.on_hand + total,
                after.reserved + total,
                after.low_stock_threshold,
                after.is_digital,
            );
            running.insert(after.variant_id, before);
        }
        let mut movements = Vec::with_capacity(committed.len());
        let mut moved_events = Vec::with_capacity(committed.len());
        for r in &committed {
            let (_, lines, actor) = sales[position[r.holder.as_str()]];
            let before = running[&r.variant_id];
            let after = StockLevel::new(
                r.variant_id,
                before.on_hand - r.quantity,
                before.reserved - r.quantity,
                before.low_stock_threshold,
                before.is_digital,
            );
            running.insert(r.variant_id, after);
            if after.is_digital {
                let line = lines.get(&r.variant_id).ok_or_else(|| {
                    anyhow::anyhow!("no order line for digital variant {} of {}", r.variant_id, r.holder)
                })?;
                self.assign_digital_items(&mut *conn, r.variant_id, r.quantity, &r.holder, *line, now)
                    .await?;
            }
            let movement = NewMovement {
                variant: r.variant_id,
                delta: -r.quantity,
                kind: MovementKind::Sale,
                reason: "order paid",
                reference: Some(r.holder.as_str()),
                actor,
                on_hand_after: after.on_hand,
            };
            let id = StockMovementId::new();
            moved_events.push(movement_event(id, &movement, &before, &after));
            if crosses_low_threshold(before.available, after.available, after.low_stock_threshold) {
                moved_events.push(low_stock_event(&after));
            }
            movements.push((id, movement));
        }
        store::insert_movements(&mut *conn, &movements, now).await?;
        events::record_many(&mut *conn, now, moved_events).await?;
        Ok(())
    }

    /// Gives back what `holder` still holds. Returns how many reservations were released.
    pub async fn release(&self, conn: &mut Connection, holder: &str) -> Result<usize, InventoryError> {
        let now = self.clock.now();
        let mut released = 0;
        for reservation in store::held_by(&mut *conn, holder).await? {
            if store::settle_reservation(&mut *conn, reservation.id, ReservationStatus::Released, now).await?
            {
                store::unhold(&mut *conn, reservation.variant_id, reservation.quantity, now).await?;
                released += 1;
            }
        }
        Ok(released)
    }

    /// Turns `holder`'s held stock into sales: on hand drops, each movement is recorded, and
    /// digital variants' items are assigned to their order lines. `lines` maps each variant
    /// to the order line it was bought on.
    pub async fn commit(
        &self,
        conn: &mut Connection,
        holder: &str,
        lines: &HashMap<VariantId, OrderLineId>,
        actor: &str,
    ) -> Result<(), InventoryError> {
        let now = self.clock.now();
        for reservation in store::held_by(&mut *conn, holder).await? {
            if !store::settle_reservation(&mut *conn, reservation.id, ReservationStatus::Committed, now)
                .await?
            {
                continue;
            }
            let variant = reservation.variant_id;
            let before = store::level(&mut *conn, variant).await?.ok_or(InventoryError::BelowReserved)?;
            let after = store::take_held(&mut *conn, variant, reservation.quantity, now).await?;
            if after.is_digital {
                let line = lines.get(&variant).ok_or_else(|| {
                    anyhow::anyhow!("no order line for digital variant {variant} of {holder}")
                })?;
                self.assign_digital_items(&mut *conn, variant, reservation.quantity, holder, *line, now)
                    .await?;
            }
            let movement = NewMovement {
                variant,
                delta: -reservation.quantity,
                kind: MovementKind::Sale,
                reason: "order paid",
                reference: Some(holder),
                actor,
                on_hand_after: after.on_hand,
            };
            record_movement(&mut *conn, &movement, &before, &after, now).await?;
        }
        Ok(())
    }

    async fn assign_digital_items(
        &self,
        conn: &mut Connection,
        variant: VariantId,
        quantity: i64,
        holder: &str,
        line: OrderLineId,
        now: Timestamp,
    ) -> Result<(), InventoryError> {
        let dialect = self.db.dialect();
        let mut missing = quantity;
        // on_hand counts available items and the reservation guaranteed them, so a short
        // assignment only means rows were taken concurrently; a few passes settle it.
        for _ in 0..5 {
            let assigned =
                store::assign_items(&mut *conn, dialect, variant, missing, holder, &line.to_string(), now)
                    .await?;
            missing -= i64::try_from(assigned).unwrap_or(i64::MAX);
            if missing <= 0 {
                return Ok(());
            }
        }
        Err(InventoryError::Internal(anyhow::anyhow!(
            "digital items of {variant} ran out while delivering {holder}: stock and items disagree"
        )))
    }

    /// Puts a cancelled paid order's physical stock back on hand.
    pub async fn restock(
        &self,
        conn: &mut Connection,
        holder: &str,
        actor: &str,
    ) -> Result<(), InventoryError> {
        let now = self.clock.now();
        for reservation in store::reservations_of(&mut *conn, holder).await? {
            if reservation.status != ReservationStatus::Committed {
                continue;
            }
            let variant = reservation.variant_id;
            let before = store::level(&mut *conn, variant).await?.ok_or(InventoryError::BelowReserved)?;
            if before.is_digital {
                // Delivered keys stay with the buyer; they are not resold.
                continue;
            }
            let after = store::change_on_hand(&mut *conn, variant, reservation.quantity, now)
                .await?
                .ok_or(InventoryError::BelowReserved)?;
            let movement = NewMovement {
                variant,
                delta: reservation.quantity,
                kind: MovementKind::Restock,
                reason: "paid order cancelled",
                reference: Some(holder),
                actor,
                on_hand_after: after.on_hand,
            };
            record_movement(&mut *conn, &movement, &before, &after, now).await?;
        }
        Ok(())
    }

    /// What was put back of `holder`'s (an order's) purchase so far, by variant.
    pub async fn restocked(
        &self,
        conn: &mut Connection,
        holder: &str,
    ) -> Result<std::collections::HashMap<VariantId, i64>, InventoryError> {
        Ok(store::restocked_of(conn, holder, MovementKind::Restock.as_str()).await?)
    }

    /// Checks that `lines` of (variant, quantity) can be put back for `holder` (an order):
    /// each at most what the order took of it less what was put back before, and none digital
    /// (a delivered key stays with its buyer).
    pub async fn check_restock(
        &self,
        conn: &mut Connection,
        holder: &str,
        lines: &[(VariantId, i64)],
    ) -> Result<(), InventoryError> {
        let reservations = store::reservations_of(&mut *conn, holder).await?;
        let put_back = store::restocked_of(&mut *conn, holder, MovementKind::Restock.as_str()).await?;
        let mut asked: std::collections::HashMap<VariantId, i64> = std::collections::HashMap::new();
        for &(variant, quantity) in lines {
            *asked.entry(variant).or_default() += quantity.max(0);
        }
        for &(variant, quantity) in lines {
            let bought: i64 = reservations
                .iter()
                .filter(|r| r.variant_id == variant && r.status == ReservationStatus::Committed)
                .map(|r| r.quantity)
                .sum();
            let back = put_back.get(&variant).copied().unwrap_or(0);
            if quantity <= 0 || asked[&variant] > bought - back {
                return Err(InventoryError::CannotRestock(format!(
                    "{variant}: {} cannot be put back (the order took {bought}, {back} already back)",
                    asked[&variant]
                )));
            }
            let level = store::level(&mut *conn, variant).await?.ok_or(InventoryError::BelowReserved)?;
            if level.is_digital {
                return Err(InventoryError::CannotRestock(format!(
                    "{variant} is digital: its keys are not put back"
                )));
            }
        }
        Ok(())
    }

    /// Puts back part of what `holder` (an order) bought, as [`Inventory::check_restock`]
    /// allows.
    pub async fn restock_lines(
        &self,
        conn: &mut Connection,
        holder: &str,
        lines: &[(VariantId, i64)],
        actor: &str,
    ) -> Result<(), InventoryError> {
        self.check_restock(&mut *conn, holder, lines).await?;
        let now = self.clock.now();
        for &(variant, quantity) in lines {
            let before = store::level(&mut *conn, variant).await?.ok_or(InventoryError::BelowReserved)?;
            let after = store::change_on_hand(&mut *conn, variant, quantity, now)
                .await?
                .ok_or(InventoryError::BelowReserved)?;
            let movement = NewMovement {
                variant,
                delta: quantity,
                kind: MovementKind::Restock,
                reason: "refunded",
                reference: Some(holder),
                actor,
                on_hand_after: after.on_hand,
            };
            record_movement(&mut *conn, &movement, &before, &after, now).await?;
        }
        Ok(())
    }

    /// The digital items delivered to `holder` (an order), opened.
    pub async fn delivered_items(&self, holder: &str) -> Result<Vec<DeliveredItem>, InventoryError> {
        store::items_of_holder(self.db.reader(), holder)
            .await?
            .into_iter()
            .map(|item| {
                let content =
                    ItemContent::from_sealable(&item.kind, self.sealer.open(&item.id, &item.sealed)?)?;
                let order_line_id = item
                    .order_line_id
                    .parse()
                    .map_err(|_| anyhow::anyhow!("digital item {} has a bad order line", item.id))?;
                let id =
                    item.id.parse().map_err(|_| anyhow::anyhow!("digital item {} has a bad id", item.id))?;
                Ok(DeliveredItem { id, order_line_id, content })
            })
            .collect()
    }

    /// Holders whose reservations are past due, for the expiry sweeper.
    pub async fn overdue_holders(&self, now: Timestamp, limit: i64) -> Result<Vec<String>, InventoryError> {
        Ok(store::due_holders(self.db.reader(), now, limit).await?)
    }
}

/// Changes a physical variant's on-hand by `delta` from `before` (read in this transaction),
/// recording the adjustment's movement and events.
async fn adjust_in(
    conn: &mut Connection,
    before: &StockLevel,
    delta: i64,
    reason: &str,
    actor: &str,
    now: Timestamp,
) -> Result<StockLevel, InventoryError> {
    let variant = before.variant_id;
    let after =
        store::change_on_hand(&mut *conn, variant, delta, now).await?.ok_or(InventoryError::BelowReserved)?;
    let movement = NewMovement {
        variant,
        delta,
        kind: MovementKind::Adjustment,
        reason,
        reference: None,
        actor,
        on_hand_after: after.on_hand,
    };
    record_movement(conn, &movement, before, &after, now).await?;
    Ok(after)
}

/// Writes a movement and its events (`stock.moved`, and `stock.low` when available stock
/// crosses below the threshold), in the caller's transaction.
async fn record_movement(
    conn: &mut Connection,
    movement: &NewMovement<'_>,
    before: &StockLevel,
    after: &StockLevel,
    now: Timestamp,
) -> Result<(), InventoryError> {
    let id = store::insert_movement(&mut *conn, movement, now).await?;
    events::record(&mut *conn, now, movement_event(id, movement, before, after)).await?;
    if crosses_low_threshold(before.available, after.available, after.low_stock_threshold) {
        record_low_stock(conn, after, now).await?;
    }
    Ok(())
}

async fn record_low_stock(
    conn: &mut Connection,
    level: &StockLevel,
    now: Timestamp,
) -> Result<(), InventoryError> {
    events::record(conn, now, low_stock_event(level)).await?;
    Ok(())
}

fn movement_event(
    id: StockMovementId,
    movement: &NewMovement<'_>,
    before: &StockLevel,
    after: &StockLevel,
) -> NewEvent<serde_json::Value> {
    NewEvent {
        event_type: "stock.moved",
        version: 1,
        subject_id: movement.variant.to_string(),
        actor: movement.actor.to_owned(),
        payload: serde_json::json!({
            "movement_id": id,
            "variant_id": movement.variant,
            "delta": movement.delta,
            "kind": movement.kind,
            "reason": movement.reason,
            "reference": movement.reference,
            "before": { "on_hand": before.on_hand, "reserved": before.reserved },
            "after": { "on_hand": after.on_hand, "reserved": after.reserved },
        }),
    }
}

fn low_stock_event(level: &StockLevel) -> NewEvent<serde_json::Value> {
    NewEvent {
        event_type: "stock.low",
        version: 1,
        subject_id: level.variant_id.to_string(),
        actor: events::SYSTEM.to_owned(),
        payload: serde_json::json!({
            "variant_id": level.variant_id,
            "available": level.available,
            "threshold": level.low_stock_threshold,
        }),
    }
}
