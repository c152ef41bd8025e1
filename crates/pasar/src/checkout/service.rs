//! The checkout saga's steps and the settlement of payment outcomes.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::{Acquire, Arguments as _, Row};
use utoipa::ToSchema;

use super::batch::{BatchQueue, BatchStats, Batched};
use crate::cart::{CartAccess, CartError, Carts, MAX_LINES, MAX_QUANTITY};
use crate::catalog::{Catalog, CatalogError, ProductKind, SaleVariant};
use crate::db::{self, Connection, Db};
use crate::delivery::{Delivery, DeliveryError};
use crate::identity::{Identity, Principal};
use crate::ids::{
    CartId, DeliverySlotId, FulfilmentId, OrderId, OrderLineId, PaymentId, RefundId, UserId, VariantId,
};
use crate::inventory::{Inventory, InventoryError, ReservationRequest};
use crate::money::Money;
use crate::orders::fulfilment::check_fulfilment_move;
use crate::orders::{
    FulfilmentStatus, Mover, NewOrder, NewOrderLine, Order, OrderStatus, OrderVoucher, Orders, OrdersError,
    ShippingAddress,
};
use crate::payables::{Payables, PayablesError};
use crate::payments::gateway::{GatewayError, ProviderStatus};
use crate::payments::{
    NewPayment, NewRefund, Payment, PaymentPurpose, PaymentStatus, Payments, PaymentsError, Refund,
    RefundDestination, RefundState, RefundStatus, SettleError, SettleFuture, SettlePayment, SettleRefund,
    Settlement, WALLET,
};
use crate::promotions::{self, Candidate, Hold, Priced, Promotions, PromotionsError, Refused, Shopper};
use crate::shipping::domain::ParcelLine;
use crate::shipping::{Destination, Parcel, Quote, Shipping, ShippingError};
use crate::time::{Clock, Timestamp};
use crate::wallet::{Wallet, WalletError};

/// Points stay held a little past the payment deadline, so the expiry sweep (not the hold's
/// own timeout) is what normally releases them.
const POINTS_HOLD_GRACE: Duration = Duration::from_secs(600);

#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemRequest {
    pub variant_id: VariantId,
    /// 1 to 100.
    #[schema(minimum = 1, maximum = 100)]
    pub quantity: i64,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    /// Buy these items; or give `cart_id` to buy a cart.
    pub items: Option<Vec<ItemRequest>>,
    pub cart_id: Option<CartId>,
    /// A gateway (`sandbox`), or `wallet` to pay from the buyer's balance at once.
    #[schema(schema_with = crate::payments::checkout_methods)]
    pub payment_method: String,
    /// Required when anything physical is bought.
    pub shipping_address: Option<ShippingAddress>,
    /// A shipping method's code from `GET /v1/shipping/quote`: required for physical items
    /// when the shop ships with methods; it charges what the quote said.
    pub shipping_method: Option<String>,
    /// A slot from `GET /v1/delivery/slots`: required for physical items sent to an address in
    /// a zone with delivery slots, refused otherwise. A full slot is refused with 409
    /// `slot_full` and the next free slots in `details.next_slots`.
    pub delivery_slot_id: Option<DeliverySlotId>,
    /// Loyalty points to redeem against the order (worth a configured amount each, capped at
    /// a share of the order after its vouchers).
    pub points: Option<i64>,
    /// Voucher codes (case does not matter). Each must apply, or the checkout is refused with
    /// 409 `voucher_not_applicable` and the reason; running automatic promotions are added
    /// when they are eligible. See `POST /v1/vouchers/validate`.
    #[serde(default)]
    pub vouchers: Vec<String>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Placed {
    pub order: Order,
    pub payment: Payment,
}

/// A checkout's totals before it is placed ([`Checkout::preview`]).
#[derive(Clone, Copy, Debug)]
pub struct Preview {
    pub subtotal: Money,
    /// Vouchers and points together.
    pub discount: Money,
    pub shipping: Money,
    /// What is owed, before the payment method's fee.
    pub amount: Money,
}

/// A checkout checked and priced, with its ids chosen, and nothing written yet.
pub(super) struct Prepared {
    pub(super) buyer: Principal,
    pub(super) idempotency_key: Option<String>,
    pub(super) cart: Option<CartAccess>,
    pub(super) points: i64,
    /// The voucher uses to hold, in voucher order.
    pub(super) vouchers: Vec<Hold>,
    /// One per variant, merged.
    pub(super) reservations: Vec<ReservationRequest>,
    pub(super) order: NewOrder,
    pub(super) payment: NewPayment,
}

impl Prepared {
    /// Whether the checkout can be written with others in a batch: buying a cart (emptied in
    /// the same transaction), redeeming points (a ledger hold), vouchers and a delivery slot go
    /// alone.
    fn batchable(&self) -> bool {
        self.cart.is_none()
            && self.points == 0
            && self.vouchers.is_empty()
            && self.order.delivery_slot.is_none()
    }

    pub(super) fn paid_from_wallet(&self) -> bool {
        self.payment.method == WALLET
    }
}

/// A checkout written now, or one written before under the same idempotency key.
pub(super) enum Written {
    Fresh(Placed),
    Replayed(Placed),
}

#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0} is not for sale")]
    NotForSale(VariantId),
    #[error("the store selling {0} is suspended; its products cannot be bought for now")]
    StoreSuspended(VariantId),
    #[error("not enough stock of {0}")]
    OutOfStock(VariantId),
    #[error("no such order")]
    NotFound,
    #[error("the payment gateway is unavailable")]
    GatewayUnavailable,
    #[error("the wallet balance does not cover this order")]
    InsufficientBalance,
    #[error("not enough points")]
    InsufficientPoints,
    #[error(transparent)]
    Voucher(#[from] Refused),
    #[error(transparent)]
    Wallet(WalletError),
    #[error(transparent)]
    Orders(#[from] OrdersError),
    #[error(transparent)]
    Payments(#[from] PaymentsError),
    #[error(transparent)]
    Cart(#[from] CartError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Inventory(InventoryError),
    #[error(transparent)]
    Shipping(#[from] ShippingError),
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    #[error(transparent)]
    Payables(#[from] PayablesError),
    /// The provider did not answer whether it took the refund: it stays pending until
    /// reconciliation learns from the provider where it stands.
    #[error("the payment provider did not answer; refund {0} stays pending until it does")]
    RefundUnanswered(RefundId),
    /// Another request moved the order first (a concurrent cancel); it is in this state now.
    #[error("the order is {0} now; another request changed it first")]
    Changed(OrderStatus),
    #[error("checkout failed: {0}")]
    Internal(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<WalletError> for CheckoutError {
    fn from(err: WalletError) -> Self {
        match err {
            WalletError::InsufficientBalance => Self::InsufficientBalance,
            WalletError::InsufficientPoints => Self::InsufficientPoints,
            WalletError::Database(e) => Self::Database(e),
            other => Self::Wallet(other),
        }
    }
}

impl From<PromotionsError> for CheckoutError {
    fn from(err: PromotionsError) -> Self {
        match err {
            PromotionsError::Refused(refused) => Self::Voucher(refused),
            PromotionsError::Database(e) => Self::Database(e),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<InventoryError> for CheckoutError {
    fn from(err: InventoryError) -> Self {
        match err {
            InventoryError::OutOfStock { variant_id } => Self::OutOfStock(variant_id),
            other => Self::Inventory(other),
        }
    }
}

#[derive(Clone, Copy)]
enum Step {
    Held,
    AwaitingPayment,
    Completed,
    Compensated,
}

impl Step {
    fn as_str(self) -> &'static str {
        match self {
            Step::Held => "held",
            Step::AwaitingPayment => "awaiting_payment",
            Step::Completed => "completed",
            Step::Compensated => "compensated",
        }
    }
}

#[derive(Clone)]
pub struct Checkout {
    db: Db,
    clock: Clock,
    catalog: Catalog,
    carts: Carts,
    inventory: Inventory,
    orders: Orders,
    payments: Payments,
    wallet: Wallet,
    /// The buyer's email, for gateways that need one.
    identity: Identity,
    shipping: Shipping,
    delivery: Delivery,
    payables: Payables,
    promotions: Promotions,
    payment_ttl: Duration,
    /// Where batchable checkouts queue; None in the copy the batch worker itself holds, so
    /// the worker stops once the last handle to the service is dropped.
    batches: Option<BatchQueue>,
}

impl Checkout {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        db: Db,
        clock: Clock,
        catalog: Catalog,
        carts: Carts,
        inventory: Inventory,
        orders: Orders,
        payments: Payments,
        wallet: Wallet,
        identity: Identity,
        shipping: Shipping,
        delivery: Delivery,
        payables: Payables,
        promotions: Promotions,
        payment_ttl: Duration,
        batch_size: usize,
    ) -> Self {
        let worker = Self {
            db,
            clock,
            catalog,
            carts,
            inventory,
            orders,
            payments,
            wallet,
            identity,
            shipping,
            delivery,
            payables,
            promotions,
            payment_ttl,
            batches: None,
        };
        let batches = (batch_size > 1).then(|| BatchQueue::start(worker.clone(), batch_size));
        Self { batches, ..worker }
    }

    /// How batched checkouts have gone; None when batching is off.
    pub fn batch_stats(&self) -> Option<BatchStats> {
        self.batches.as_ref().map(BatchQueue::stats)
    }

    pub fn payments(&self) -> &Payments {
        &self.payments
    }

    /// Places an order awaiting payment. With an idempotency key, a retry (even after a crash
    /// between the order's commit and the answer) returns the same order instead of a second.
    ///
    /// Checkouts of items (not carts) without points are written in batches with the other
    /// buyers checking out at the same moment (see [`super::batch`]); the rest, and any batch
    /// that fails as a whole, go through one transaction each.
    pub async fn place(
        &self,
        buyer: &Principal,
        request: CheckoutRequest,
        idempotency_key: Option<&str>,
    ) -> Result<Placed, CheckoutError> {
        if let Some(key) = idempotency_key {
            if let Some(placed) = self.placed_with_key(buyer, key).await? {
                return Ok(placed);
            }
        }
        let prepared = self.prepare(buyer, &request, idempotency_key).await?;
        let placed = match (&self.batches, prepared.batchable()) {
            (Some(batches), true) => match batches.place(prepared).await? {
                Batched::Placed(placed) => Written::Fresh(*placed),
                Batched::Alone(prepared) => self.place_alone(*prepared).await?,
            },
            _ => self.place_alone(prepared).await?,
        };
        match placed {
            Written::Fresh(placed) if placed.payment.status == PaymentStatus::Pending => {
                let payment = self.request_payment(&placed.payment, &placed.order).await?;
                Ok(Placed { order: placed.order, payment })
            }
            Written::Fresh(placed) | Written::Replayed(placed) => Ok(placed),
        }
    }

    /// What a checkout would cost, checked and priced exactly as [`Self::place`] would, with
    /// nothing held or written: the checkout page's totals before the buyer places the order.
    pub async fn preview(
        &self,
        buyer: &Principal,
        request: &CheckoutRequest,
    ) -> Result<Preview, CheckoutError> {
        let prepared = self.prepare(buyer, request, None).await?;
        let order = &prepared.order;
        let amount = prepared.payment.amount;
        let subtotal = amount
            .checked_sub(order.shipping)
            .and_then(|m| m.checked_add(order.discount))
            .map_err(OrdersError::from)?;
        Ok(Preview { subtotal, discount: order.discount, shipping: order.shipping, amount })
    }

    /// Whether a cart holds anything physical, and the shipping methods quoted for it to
    /// `address` (none without an address, for a digital cart, or where no zone ships).
    pub async fn shipping_quotes(
        &self,
        buyer: &Principal,
        cart_id: CartId,
        address: Option<&ShippingAddress>,
    ) -> Result<(bool, Vec<Quote>), CheckoutError> {
        let (wanted, _) = self.wanted_items(buyer, None, Some(cart_id)).await?;
        let mut lines = Vec::with_capacity(wanted.len());
        for (variant, quantity) in self.on_sale(&wanted).await? {
            lines.push(ParcelLine {
                physical: variant.kind == ProductKind::Physical,
                unit_weight_grams: variant.weight_grams,
                quantity: quantity.max(0) as u64,
                total: variant.price_for(buyer.role).times(quantity).map_err(OrdersError::from)?,
                store: variant.seller_id,
            });
        }
        let physical = lines.iter().any(|l| l.physical);
        let Some(address) = address.filter(|_| physical) else { return Ok((physical, Vec::new())) };
        let parcels = Parcel::per_store(&lines).map_err(OrdersError::from)?;
        Ok((true, self.shipping.quote(&destination(address), &parcels).await?))
    }

    /// Checks and prices a checkout without writing anything.
    async fn prepare(
        &self,
        buyer: &Principal,
        request: &CheckoutRequest,
        idempotency_key: Option<&str>,
    ) -> Result<Prepared, CheckoutError> {
        let (wanted, cart) = self.wanted_items(buyer, request.items.as_deref(), request.cart_id).await?;
        let method = request.payment_method.clone();
        let from_wallet = method == WALLET;

        let ids: Vec<VariantId> = wanted.iter().map(|i| i.variant_id).collect();
        let for_sale = self.catalog.variants_for_sale(&ids).await?;
        let mut lines = Vec::with_capacity(wanted.len());
        let mut parcel_lines = Vec::with_capacity(wanted.len());
        let mut voucher_lines = Vec::with_capacity(wanted.len());
        for item in &wanted {
            let Some(variant) = for_sale.iter().find(|v| v.id == item.variant_id) else {
                if self.catalog.variant_store_suspended(item.variant_id).await? {
                    return Err(CheckoutError::StoreSuspended(item.variant_id));
                }
                return Err(CheckoutError::NotForSale(item.variant_id));
            };
            voucher_lines.push(voucher_line(variant, buyer, item.quantity)?);
            parcel_lines.push(ParcelLine {
                physical: variant.kind == ProductKind::Physical,
                unit_weight_grams: variant.weight_grams,
                quantity: item.quantity.max(0) as u64,
                total: variant.price_for(buyer.role).times(item.quantity).map_err(OrdersError::from)?,
                store: variant.seller_id,
            });
            lines.push(NewOrderLine {
                variant_id: variant.id,
                product_id: variant.product_id,
                product_name: variant.product_name.clone(),
                sku: variant.sku.clone(),
                kind: variant.kind,
                options: variant.options.clone(),
                unit_price: variant.price_for(buyer.role),
                quantity: item.quantity,
                seller_id: variant.seller_id,
                platform_discount: Money::zero(variant.price.currency),
                store_discount: Money::zero(variant.price.currency),
            });
        }
        let currency = lines[0].unit_price.currency;
        if lines.iter().any(|l| l.unit_price.currency != currency) {
            return Err(CheckoutError::Invalid(
                "all items of one checkout must be priced in one currency".into(),
            ));
        }
        if !from_wallet {
            // A provider known to be down is refused before anything is held.
            self.payments.ensure_up(&method, Money::zero(currency))?;
        }
        let physical = lines.iter().any(|l| l.kind == ProductKind::Physical);
        let shipping_address = match (physical, request.shipping_address.clone()) {
            (true, None) => {
                return Err(CheckoutError::Invalid("shipping_address is required for physical items".into()));
            }
            (true, address) => address,
            (false, _) => None,
        };
        let destination = shipping_address.as_ref().map(destination);
        let delivery_slot =
            self.delivery.for_checkout(destination.as_ref(), request.delivery_slot_id).await?;
        let subtotal = Money::sum(
            lines
                .iter()
                .map(|l| l.unit_price.times(l.quantity))
                .collect::<Result<Vec<_>, _>>()
                .map_err(OrdersError::from)?,
        )
        .map_err(OrdersError::from)?
        .ok_or(OrdersError::Empty)?;
        let candidates = self.promotions.candidates(buyer.user, &request.vouchers, true).await?;
        let priced = self.price_vouchers(buyer, &candidates, &voucher_lines).await?;
        for (line, (platform, store)) in lines.iter_mut().zip(&priced.line_discounts) {
            line.platform_discount = Money::new(*platform, currency);
            line.store_discount = Money::new(*store, currency);
        }
        let vouchers_off = Money::new(priced.total(), currency);
        let after_vouchers = subtotal.checked_sub(vouchers_off).map_err(OrdersError::from)?;
        let shipping = self
            .shipping_charge(shipping_address.as_ref(), request.shipping_method.as_deref(), &parcel_lines)
            .await?
            .unwrap_or(Money::zero(currency));
        let points = request.points.unwrap_or(0);
        let rules = self.wallet.points_rules();
        if points < 0 || points > rules.most_redeemable(after_vouchers) {
            return Err(CheckoutError::Invalid(format!(
                "points must be between 0 and {} for this order",
                rules.most_redeemable(after_vouchers)
            )));
        }
        let discount = rules
            .discount_for(points, after_vouchers)
            .checked_add(vouchers_off)
            .map_err(OrdersError::from)?;
        let amount = subtotal
            .checked_sub(discount)
            .and_then(|m| m.checked_add(shipping))
            .map_err(OrdersError::from)?;
        // Nothing left to pay (vouchers covered it all): no gateway is asked for nothing; the
        // order is settled at once like a wallet payment, without moving any money.
        let method = if amount.amount == 0 { WALLET.to_owned() } else { method };
        let order_id = OrderId::new();
        Ok(Prepared {
            buyer: *buyer,
            idempotency_key: idempotency_key.map(str::to_owned),
            cart,
            points,
            vouchers: Hold::for_priced(&candidates, &priced),
            reservations: wanted
                .iter()
                .map(|i| ReservationRequest { variant_id: i.variant_id, quantity: i.quantity })
                .collect(),
            order: NewOrder {
                id: order_id,
                buyer_id: buyer.user,
                lines,
                shipping,
                discount,
                vouchers: priced
                    .applied
                    .iter()
                    .map(|a| OrderVoucher {
                        voucher_id: a.voucher_id,
                        code: a.code.clone(),
                        funder: a.funder,
                        store_id: a.store_id,
                        amount: a.amount,
                    })
                    .collect(),
                shipping_address,
                shipping_method: request.shipping_method.clone(),
                delivery_slot,
            },
            payment: NewPayment {
                id: PaymentId::new(),
                purpose: PaymentPurpose::Order,
                reference: order_id.to_string(),
                payer_id: buyer.user.to_string(),
                method,
                amount,
                expires_at: self.clock.now().plus(self.payment_ttl),
            },
        })
    }

    /// Applies the vouchers to the lines; whether the buyer has a paid order is asked only
    /// when a first-order voucher is among them.
    async fn price_vouchers(
        &self,
        buyer: &Principal,
        candidates: &[Candidate],
        lines: &[promotions::Line],
    ) -> Result<Priced, CheckoutError> {
        if candidates.is_empty() {
            return Ok(Priced { applied: Vec::new(), line_discounts: vec![(0, 0); lines.len()] });
        }
        let first_order = if candidates.iter().any(|c| c.voucher.first_order_only) {
            !self.orders.has_paid_order(buyer.user).await?
        } else {
            true
        };
        Ok(promotions::price(candidates, lines, self.clock.now(), Shopper { first_order })?)
    }

    /// What voucher `code` would take off these items (or this cart) for `buyer`, per line
    /// (in the order of the variants returned), holding nothing.
    pub async fn voucher_quote(
        &self,
        buyer: &Principal,
        code: &str,
        items: Option<Vec<ItemRequest>>,
        cart_id: Option<CartId>,
    ) -> Result<(Vec<VariantId>, Priced), CheckoutError> {
        let (wanted, _) = self.wanted_items(buyer, items.as_deref(), cart_id).await?;
        let ids: Vec<VariantId> = wanted.iter().map(|i| i.variant_id).collect();
        let mut lines = Vec::with_capacity(wanted.len());
        for (variant, quantity) in self.on_sale(&wanted).await? {
            lines.push(voucher_line(&variant, buyer, quantity)?);
        }
        if lines.iter().any(|l| l.total.currency != lines[0].total.currency) {
            return Err(CheckoutError::Invalid("all items must be priced in one currency".into()));
        }
        let candidates = self.promotions.candidates(buyer.user, &[code.to_owned()], false).await?;
        let priced = self.price_vouchers(buyer, &candidates, &lines).await?;
        Ok((ids, priced))
    }

    /// What shipping costs: what the method's quote says for these lines to this address;
    /// nothing for digital orders and for shops that ship without methods.
    async fn shipping_charge(
        &self,
        address: Option<&ShippingAddress>,
        method: Option<&str>,
        lines: &[ParcelLine],
    ) -> Result<Option<Money>, CheckoutError> {
        let Some(address) = address else {
            return match method {
                Some(_) => {
                    Err(CheckoutError::Invalid("shipping_method is for orders with physical items".into()))
                }
                None => Ok(None),
            };
        };
        if method.is_none() && !self.shipping.configured().await? {
            return Ok(None);
        }
        let method = method.ok_or_else(|| {
            CheckoutError::Invalid("shipping_method is required: GET /v1/shipping/quote lists them".into())
        })?;
        let parcels = Parcel::per_store(lines).map_err(OrdersError::from)?;
        if parcels.is_empty() {
            return Ok(None);
        }
        Ok(Some(self.shipping.price(method, &destination(address), &parcels).await?))
    }

    /// Writes one prepared checkout in a transaction of its own.
    pub(super) async fn place_alone(&self, prepared: Prepared) -> Result<Written, CheckoutError> {
        let Prepared { buyer, idempotency_key, cart, points, vouchers, reservations, order, payment } =
            prepared;
        let buyer = &buyer;
        let order_id = order.id;
        let from_wallet = payment.method == WALLET;
        let expires_at = payment.expires_at;
        let now = self.clock.now();

        let mut tx = self.db.begin().await?;
        self.inventory.reserve(&mut tx, &order_id.to_string(), &reservations, expires_at).await?;
        if let Some(slot) = &order.delivery_slot {
            match self.delivery.hold(&mut tx, slot, order_id).await {
                Err(DeliveryError::SlotFull { slot_id, .. }) => {
                    // Nothing is kept; the refusal suggests the next free slots.
                    drop(tx);
                    return Err(self.delivery.full(slot_id).await.into());
                }
                held => held?,
            }
        }
        self.promotions.hold(&mut tx, order_id, buyer.user, &vouchers).await?;
        if points > 0 {
            let hold = self.payment_ttl + POINTS_HOLD_GRACE;
            self.wallet.hold_points(&mut tx, buyer.user, order_id, points, hold).await?;
        }
        let payment = self.payments.create(&mut tx, payment).await?;
        let order = self
            .orders
            .create(
                &mut tx,
                order,
                serde_json::json!({ "payment": { "id": payment.id, "provider": payment.provider, "total": payment.total } }),
            )
            .await?;
        if let Some(cart) = cart {
            self.carts.empty(&mut tx, cart).await?;
        }
        // Paid from the wallet: settled here, in this transaction, or refused with nothing kept.
        let payment = if from_wallet {
            self.wallet.pay_order(&mut tx, &payment, buyer.user).await?;
            let actor = buyer.user.to_string();
            self.payments.transition(&mut tx, &payment, PaymentStatus::Succeeded, &actor).await?;
            Payment { status: PaymentStatus::Succeeded, ..payment }
        } else {
            payment
        };
        let recorded = sqlx::query(
            "INSERT INTO checkouts (order_id, buyer_id, idempotency_key, payment_id, step, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(order_id.to_string())
        .bind(buyer.user.to_string())
        .bind(idempotency_key.as_deref())
        .bind(payment.id.to_string())
        .bind(Step::Held.as_str())
        .bind(now.millis())
        .execute(&mut *tx)
        .await;
        match recorded {
            Err(err) if db::is_unique_violation(&err) => {
                // A concurrent retry with the same key won; answer with its order.
                drop(tx);
                let key = idempotency_key.unwrap_or_default();
                let placed = self.placed_with_key(buyer, &key).await?.ok_or(CheckoutError::NotFound)?;
                return Ok(Written::Replayed(placed));
            }
            other => other?,
        };
        if from_wallet {
            self.fulfil(&mut tx, &payment, order_id, &buyer.user.to_string()).await?;
            tx.commit().await?;
            return Ok(Written::Fresh(Placed { order: self.orders.order(order_id).await?, payment }));
        }
        tx.commit().await?;
        Ok(Written::Fresh(Placed { order, payment }))
    }

    /// Writes a batch of prepared checkouts (items, no cart, no points) in one transaction:
    /// stock is shared out among them in the order given, wallet payments are taken in one
    /// ledger batch, and each table gets one statement for the whole batch. Each checkout gets
    /// its own answer (a 409 for one leaves the others placed); an `Err` means nothing of the
    /// batch was written.
    pub(super) async fn place_batch(
        &self,
        batch: &[Prepared],
    ) -> Result<Vec<Result<Placed, CheckoutError>>, CheckoutError> {
        let now = self.clock.now();
        let holders: Vec<String> = batch.iter().map(|p| p.order.id.to_string()).collect();
        let mut refused: Vec<Option<CheckoutError>> = batch.iter().map(|_| None).collect();
        let mut tx = self.db.begin().await?;

        let mut payments: Vec<Option<Payment>> = batch.iter().map(|_| None).collect();
        // Stock is shared out in arrival order, then wallet payments are taken. Stock held for
        // a buyer whose wallet falls short goes back, and the buyers refused for stock in that
        // round are tried again: the stock goes to those who can pay for it.
        let mut trying: Vec<usize> = (0..batch.len()).collect();
        while !trying.is_empty() {
            let holds: Vec<(&str, &[ReservationRequest], Timestamp)> = trying
                .iter()
                .map(|i| {
                    (holders[*i].as_str(), batch[*i].reservations.as_slice(), batch[*i].payment.expires_at)
                })
                .collect();
            let held = self.inventory.reserve_many(&mut tx, &holds).await?;
            let mut short = Vec::new();
            for (i, outcome) in trying.iter().zip(held) {
                match outcome {
                    Ok(()) => {
                        refused[*i] = None;
                        payments[*i] = Some(self.payments.priced(batch[*i].payment.clone())?);
                    }
                    Err(err) => {
                        short.push(*i);
                        refused[*i] = Some(err.into());
                    }
                }
            }
            let payers: Vec<(usize, &Payment, UserId)> = trying
                .iter()
                .filter(|i| batch[**i].paid_from_wallet())
                .filter_map(|i| Some((*i, payments[*i].as_ref()?, batch[*i].buyer.user)))
                .collect();
            let pairs: Vec<(&Payment, UserId)> = payers.iter().map(|(_, p, buyer)| (*p, *buyer)).collect();
            let paid = self.wallet.pay_orders(&mut tx, &pairs).await?;
            let mut unpaid = Vec::new();
            for ((i, _, _), outcome) in payers.iter().zip(paid) {
                if let Err(err) = outcome {
                    unpaid.push(*i);
                    refused[*i] = Some(err.into());
                }
            }
            for i in &unpaid {
                payments[*i] = None;
                self.inventory.release(&mut tx, &holders[*i]).await?;
            }
            trying = if unpaid.is_empty() { Vec::new() } else { short };
        }

        let placing: Vec<usize> = (0..batch.len()).filter(|i| refused[*i].is_none()).collect();
        let mut placed_payments: Vec<Payment> = placing.iter().filter_map(|i| payments[*i].take()).collect();
        self.payments.insert_many(&mut tx, &placed_payments).await?;
        let new_orders = placing
            .iter()
            .zip(&placed_payments)
            .map(|(i, payment)| {
                let extra = serde_json::json!({ "payment": { "id": payment.id, "provider": payment.provider, "total": payment.total } });
                (batch[*i].order.clone(), extra)
            })
            .collect();
        let mut orders = self.orders.create_many(&mut tx, new_orders).await?;
        let actors: Vec<String> = placing.iter().map(|i| batch[*i].buyer.user.to_string()).collect();

        // Step 3 for the wallet-paid ones: paid, stock sold, digital items delivered.
        let from_wallet: Vec<bool> = placing.iter().map(|i| batch[*i].paid_from_wallet()).collect();
        let mut settled: Vec<(&mut Payment, &str)> = placed_payments
            .iter_mut()
            .zip(&actors)
            .zip(&from_wallet)
            .filter(|(_, wallet)| **wallet)
            .map(|((payment, actor), _)| (payment, actor.as_str()))
            .collect();
        self.payments.transition_many(&mut tx, &mut settled, PaymentStatus::Succeeded).await?;
        let mut paid_orders: Vec<(&mut Order, &str)> = orders
            .iter_mut()
            .zip(&actors)
            .zip(&from_wallet)
            .filter(|(_, wallet)| **wallet)
            .map(|((order, actor), _)| (order, actor.as_str()))
            .collect();
        self.orders
            .transition_many(&mut tx, &mut paid_orders, OrderStatus::Paid, Mover::System, None)
            .await?;
        for (order, _) in paid_orders.iter().filter(|(o, _)| o.lines.iter().any(|l| l.seller_id.is_some())) {
            self.payables.hold_shares(&mut tx, order).await?;
        }
        let lines: Vec<HashMap<VariantId, OrderLineId>> =
            orders.iter().map(|o| o.lines.iter().map(|l| (l.variant_id, l.id)).collect()).collect();
        let sales: Vec<(&str, &HashMap<VariantId, OrderLineId>, &str)> = (0..orders.len())
            .filter(|k| from_wallet[*k])
            .map(|k| (holders[placing[k]].as_str(), &lines[k], actors[k].as_str()))
            .collect();
        self.inventory.commit_many(&mut tx, &sales).await?;
        let mut delivered: Vec<(&mut Order, &str)> = orders
            .iter_mut()
            .zip(&actors)
            .zip(&from_wallet)
            .filter(|((order, _), wallet)| **wallet && order.is_digital_only())
            .map(|((order, actor), _)| (order, actor.as_str()))
            .collect();
        self.orders
            .transition_many(
                &mut tx,
                &mut delivered,
                OrderStatus::Delivered,
                Mover::System,
                Some("digital items delivered"),
            )
            .await?;

        let recorded: Vec<(&Prepared, &Payment, Step)> = placing
            .iter()
            .zip(&placed_payments)
            .zip(&from_wallet)
            .map(|((i, payment), wallet)| {
                (&batch[*i], payment, if *wallet { Step::Completed } else { Step::Held })
            })
            .collect();
        db::bulk::insert_rows(
            &mut tx,
            "INSERT INTO checkouts (order_id, buyer_id, idempotency_key, payment_id, step, created_at, updated_at)",
            "",
            7,
            &recorded,
            |args, (p, payment, step)| {
                args.add(p.order.id.to_string())?;
                args.add(p.buyer.user.to_string())?;
                args.add(p.idempotency_key.as_deref())?;
                args.add(payment.id.to_string())?;
                args.add(step.as_str())?;
                args.add(now.millis())?;
                args.add(now.millis())
            },
        )
        .await?;
        tx.commit().await?;

        let mut placed = orders.into_iter().zip(placed_payments);
        Ok(refused
            .into_iter()
            .map(|refusal| match refusal {
                Some(err) => Err(err),
                None => {
                    let (order, payment) = placed.next().ok_or(CheckoutError::NotFound)?;
                    Ok(Placed { order, payment })
                }
            })
            .collect())
    }

    /// Step 2: the gateway learns of the payment. If it refuses, the checkout is compensated.
    async fn request_payment(&self, payment: &Payment, order: &Order) -> Result<Payment, CheckoutError> {
        let description = format!("Order {}", order.id);
        let email = self.identity.user(order.buyer_id).await.ok().map(|u| u.email);
        match self.payments.request(payment, &description, email.as_deref()).await {
            Ok(requested) => {
                self.set_step(order.id, Step::AwaitingPayment).await?;
                Ok(requested)
            }
            Err(PaymentsError::Gateway(err)) => {
                tracing::warn!(order = %order.id, error = %err, "gateway did not take the payment; releasing the order");
                self.settle_alone(payment.id, ProviderStatus::Failed).await?;
                Err(CheckoutError::GatewayUnavailable)
            }
            Err(down @ PaymentsError::ProviderDown { .. }) => {
                self.settle_alone(payment.id, ProviderStatus::Failed).await?;
                Err(down.into())
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Asks the gateway again for payments it never saw (the process stopped between step 1
    /// and step 2).
    pub async fn resume_unrequested(&self, older_than: Duration) -> Result<usize, CheckoutError> {
        let stale = self.payments.unrequested(self.clock.now().minus(older_than), 100).await?;
        let mut resumed = 0;
        for payment in stale {
            let Ok(order_id) = payment.reference.parse::<OrderId>() else { continue };
            let order = self.orders.order(order_id).await?;
            match self.request_payment(&payment, &order).await {
                Ok(_) | Err(CheckoutError::GatewayUnavailable) => resumed += 1,
                Err(err) => return Err(err),
            }
        }
        Ok(resumed)
    }

    async fn set_step(&self, order: OrderId, step: Step) -> Result<(), sqlx::Error> {
        let mut tx = self.db.begin().await?;
        set_step_in(&mut tx, order, step, self.clock.now().millis()).await?;
        tx.commit().await
    }

    /// The checkout `buyer` placed under idempotency key `key`, if any.
    pub async fn placed_with_key(
        &self,
        buyer: &Principal,
        key: &str,
    ) -> Result<Option<Placed>, CheckoutError> {
        let row = sqlx::query(
            "SELECT order_id, payment_id FROM checkouts WHERE buyer_id = $1 AND idempotency_key = $2",
        )
        .bind(buyer.user.to_string())
        .bind(key)
        .fetch_optional(self.db.reader())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let order: String = row.try_get("order_id")?;
        let payment: String = row.try_get("payment_id")?;
        let order = self.orders.order(order.parse().map_err(|_| CheckoutError::NotFound)?).await?;
        let payment = self.payments.payment(payment.parse().map_err(|_| CheckoutError::NotFound)?).await?;
        Ok(Some(Placed { order, payment }))
    }

    /// The items to buy, merged per variant and bounded, from the request or the cart.
    /// Each wanted item's variant as it sells now, with the quantity wanted, in order; an item
    /// not for sale refuses the lot.
    async fn on_sale(&self, wanted: &[ItemRequest]) -> Result<Vec<(SaleVariant, i64)>, CheckoutError> {
        let ids: Vec<VariantId> = wanted.iter().map(|i| i.variant_id).collect();
        let for_sale = self.catalog.variants_for_sale(&ids).await?;
        wanted
            .iter()
            .map(|item| {
                let variant = for_sale.iter().find(|v| v.id == item.variant_id);
                let variant = variant.cloned().ok_or(CheckoutError::NotForSale(item.variant_id))?;
                Ok((variant, item.quantity))
            })
            .collect()
    }

    async fn wanted_items(
        &self,
        buyer: &Principal,
        items: Option<&[ItemRequest]>,
        cart_id: Option<CartId>,
    ) -> Result<(Vec<ItemRequest>, Option<CartAccess>), CheckoutError> {
        let (raw, cart) = match (items, cart_id) {
            (Some(items), None) => {
                (items.iter().map(|i| (i.variant_id, i.quantity)).collect::<Vec<_>>(), None)
            }
            (None, Some(cart_id)) => {
                let access = self.carts.access(cart_id, Some(buyer), None).await?;
                (self.carts.quantities(access).await?, Some(access))
            }
            _ => return Err(CheckoutError::Invalid("give either items or cart_id".into())),
        };
        let mut merged: Vec<ItemRequest> = Vec::new();
        for (variant_id, quantity) in raw {
            if !(1..=MAX_QUANTITY).contains(&quantity) {
                return Err(CheckoutError::Invalid(format!("quantity must be between 1 and {MAX_QUANTITY}")));
            }
            match merged.iter_mut().find(|i| i.variant_id == variant_id) {
                Some(existing) => existing.quantity += quantity,
                None => merged.push(ItemRequest { variant_id, quantity }),
            }
        }
        if merged.is_empty() {
            return Err(CheckoutError::Invalid("nothing to buy".into()));
        }
        if merged.len() > MAX_LINES || merged.iter().any(|i| i.quantity > MAX_QUANTITY) {
            return Err(CheckoutError::Invalid(format!(
                "at most {MAX_LINES} different items and {MAX_QUANTITY} of each"
            )));
        }
        Ok((merged, cart))
    }

    /// Applies an outcome checkout learnt itself (the gateway refused the payment, or said it
    /// was paid when told of a cancellation), in a transaction of its own.
    async fn settle_alone(
        &self,
        payment_id: PaymentId,
        outcome: ProviderStatus,
    ) -> Result<Settlement, CheckoutError> {
        let mut tx = self.db.begin().await?;
        let payment = self.payments.payment_in(&mut tx, payment_id).await?;
        let settlement = self.settle_in(&mut tx, &payment, outcome).await?;
        tx.commit().await?;
        Ok(settlement)
    }

    /// Applies a payment outcome the gateway vouches for to its order, in the caller's
    /// transaction: paid, a late payment, failed or refunded. Terminal states never regress.
    async fn settle_in(
        &self,
        tx: &mut Connection,
        payment: &Payment,
        outcome: ProviderStatus,
    ) -> Result<Settlement, CheckoutError> {
        let order_id: OrderId = payment.reference.parse().map_err(|_| CheckoutError::NotFound)?;
        let actor = format!("gateway:{}", payment.provider);
        let settlement = match (payment.status, outcome) {
            (PaymentStatus::Pending, ProviderStatus::Succeeded) => {
                if self.payments.transition(&mut *tx, payment, PaymentStatus::Succeeded, &actor).await? {
                    self.fulfil(&mut *tx, payment, order_id, &actor).await?;
                    Settlement::Applied
                } else {
                    Settlement::NoChange
                }
            }
            (
                PaymentStatus::Expired | PaymentStatus::Failed | PaymentStatus::Cancelled,
                ProviderStatus::Succeeded,
            ) => self.late_payment(&mut *tx, payment, order_id, &actor).await?,
            (PaymentStatus::Pending, ProviderStatus::Failed | ProviderStatus::Cancelled) => {
                if self.payments.transition(&mut *tx, payment, PaymentStatus::Failed, &actor).await? {
                    self.unwind(
                        &mut *tx,
                        order_id,
                        OrderStatus::Cancelled,
                        Mover::System,
                        &actor,
                        "payment failed",
                    )
                    .await?;
                    Settlement::Applied
                } else {
                    Settlement::NoChange
                }
            }
            (PaymentStatus::Succeeded, ProviderStatus::Refunded) => {
                if self.payments.transition(&mut *tx, payment, PaymentStatus::Refunded, &actor).await? {
                    self.refund_order(&mut *tx, payment, order_id, Mover::System, &actor).await?;
                    Settlement::Applied
                } else {
                    Settlement::NoChange
                }
            }
            _ => Settlement::NoChange,
        };
        Ok(settlement)
    }

    /// Step 3: the order is paid; its held stock becomes sales and digital items are delivered.
    async fn fulfil(
        &self,
        conn: &mut Connection,
        payment: &Payment,
        order_id: OrderId,
        actor: &str,
    ) -> Result<(), CheckoutError> {
        let order = self.orders.order_in(conn, order_id).await?;
        self.orders.transition(conn, order_id, OrderStatus::Paid, Mover::System, actor, None).await?;
        let lines: HashMap<VariantId, OrderLineId> =
            order.lines.iter().map(|l| (l.variant_id, l.id)).collect();
        self.inventory.commit(conn, &order_id.to_string(), &lines, actor).await?;
        self.delivery.consume(conn, order_id).await?;
        // Vouchers before points, in the order the checkout held them (stock, vouchers, points),
        // so that this and a checkout of the same buyer never wait on each other in a circle.
        self.promotions.consume(conn, order_id, actor).await?;
        self.wallet.consume_points(conn, &order).await?;
        if payment.provider != WALLET {
            self.wallet.post_gateway_sale(conn, payment).await?;
        }
        self.payables.hold_shares(conn, &order).await?;
        if order.is_digital_only() {
            self.orders
                .transition(
                    conn,
                    order_id,
                    OrderStatus::Delivered,
                    Mover::System,
                    actor,
                    Some("digital items delivered"),
                )
                .await?;
        }
        set_step_in(conn, order_id, Step::Completed, self.clock.now().millis()).await?;
        Ok(())
    }

    /// Money arrived after the order ended: fill it again if the stock is still there, else
    /// flag it for a refund. Never oversells: the stock is reserved through the same guard.
    async fn late_payment(
        &self,
        conn: &mut Connection,
        payment: &Payment,
        order_id: OrderId,
        actor: &str,
    ) -> Result<Settlement, CheckoutError> {
        if !self.payments.transition(conn, payment, PaymentStatus::Succeeded, actor).await? {
            return Ok(Settlement::NoChange);
        }
        let order = self.orders.order_in(conn, order_id).await?;
        if !matches!(order.status, OrderStatus::Expired | OrderStatus::Cancelled) {
            self.orders.flag_refund_due(conn, order_id, actor).await?;
            return Ok(Settlement::Applied);
        }
        let requests: Vec<ReservationRequest> = order
            .lines
            .iter()
            .map(|l| ReservationRequest { variant_id: l.variant_id, quantity: l.quantity })
            .collect();
        let holder = order_id.to_string();
        let mut savepoint = conn.begin().await?;
        let reserved = self
            .inventory
            .reserve(&mut savepoint, &holder, &requests, self.clock.now().plus(self.payment_ttl))
            .await;
        let held = match reserved {
            // Its delivery slot's place and its vouchers come back too, within their limits,
            // or the order is not filled.
            Ok(_) => {
                self.delivery.hold_again(&mut savepoint, order_id).await?
                    && self.promotions.hold_again(&mut savepoint, order_id).await?
            }
            Err(InventoryError::OutOfStock { .. }) => false,
            Err(other) => return Err(other.into()),
        };
        if held {
            savepoint.commit().await?;
            self.fulfil(conn, payment, order_id, actor).await?;
        } else {
            savepoint.rollback().await?;
            tracing::warn!(order = %order_id, "payment arrived after the order ended and its stock or vouchers are gone; refund due");
            self.orders.flag_refund_due(conn, order_id, actor).await?;
        }
        Ok(Settlement::Applied)
    }

    /// Step 4: the order ends without payment; everything it held is given back.
    async fn unwind(
        &self,
        conn: &mut Connection,
        order_id: OrderId,
        to: OrderStatus,
        mover: Mover,
        actor: &str,
        note: &str,
    ) -> Result<(), CheckoutError> {
        self.orders.transition(conn, order_id, to, mover, actor, Some(note)).await?;
        // The slot's place and the vouchers go back after the stock: checkouts lock stock rows
        // before slot and voucher rows, and so does this.
        let order = self.orders.order_in(conn, order_id).await?;
        self.wallet.release_points(conn, &order).await?;
        self.inventory.release(conn, &order_id.to_string()).await?;
        self.delivery.release(conn, order_id).await?;
        self.promotions.release(conn, order_id).await?;
        set_step_in(conn, order_id, Step::Compensated, self.clock.now().millis()).await?;
        Ok(())
    }

    async fn refund_order(
        &self,
        conn: &mut Connection,
        payment: &Payment,
        order_id: OrderId,
        mover: Mover,
        actor: &str,
    ) -> Result<(), CheckoutError> {
        let order = self.orders.order_in(conn, order_id).await?;
        if matches!(order.status, OrderStatus::Paid | OrderStatus::Processing) {
            self.orders
                .transition(conn, order_id, OrderStatus::Refunded, mover, actor, Some("refunded"))
                .await?;
            self.inventory.restock(conn, &order_id.to_string(), actor).await?;
            self.delivery.release(conn, order_id).await?;
            self.wallet.post_refund(conn, payment).await?;
            self.payables.claw_back(conn, &order, &payment.id.to_string(), payment.amount, None, &[]).await?;
        }
        Ok(())
    }

    /// Ends pending payments past their deadline and releases their stock. Returns how many.
    pub async fn expire_due(&self) -> Result<usize, CheckoutError> {
        let now = self.clock.now();
        let mut expired = 0;
        for due in self.payments.due(now, 100).await? {
            if due.purpose == PaymentPurpose::Order && self.expire(due.id).await? {
                expired += 1;
            }
        }
        Ok(expired)
    }

    /// Ends an order's pending payment as its deadline passing does: the payment expires, the
    /// order is unwound (everything it held released) and the gateway is told. False when the
    /// payment was not pending any more. The expiry job takes this step for each payment past
    /// its deadline; the sandbox's Expire button takes it at once.
    pub async fn expire(&self, payment_id: PaymentId) -> Result<bool, CheckoutError> {
        let mut tx = self.db.begin().await?;
        let payment = self.payments.payment_in(&mut tx, payment_id).await?;
        if payment.purpose != PaymentPurpose::Order {
            return Err(CheckoutError::NotFound);
        }
        if !self.payments.transition(&mut tx, &payment, PaymentStatus::Expired, crate::events::SYSTEM).await?
        {
            tx.commit().await?;
            return Ok(false);
        }
        let order_id: OrderId = payment.reference.parse().map_err(|_| CheckoutError::NotFound)?;
        self.unwind(
            &mut tx,
            order_id,
            OrderStatus::Expired,
            Mover::System,
            crate::events::SYSTEM,
            "payment time ran out",
        )
        .await?;
        tx.commit().await?;
        // The gateway stops taking it too (a QRIS code must not stay payable); money that
        // arrived meanwhile is a late payment, settled when the gateway reports it.
        if let Err(err) = self.payments.expire_at_gateway(&payment).await {
            tracing::warn!(payment = %payment.id, error = %err, "gateway not told of the expiry");
        }
        Ok(true)
    }

    /// Releases reservations still held well past their expiry whose order is no longer
    /// waiting for payment (a safety net; `expire_due` normally releases them first).
    pub async fn release_orphaned_reservations(&self, grace: Duration) -> Result<usize, CheckoutError> {
        let before = self.clock.now().minus(grace);
        let mut released = 0;
        for holder in self.inventory.overdue_holders(before, 100).await? {
            let mut tx = self.db.begin().await?;
            let waiting = self
                .payments
                .for_reference_in(&mut tx, &holder)
                .await?
                .iter()
                .any(|p| p.status == PaymentStatus::Pending && p.expires_at > before);
            if !waiting {
                released += self.inventory.release(&mut tx, &holder).await?;
            }
            tx.commit().await?;
        }
        Ok(released)
    }

    /// The buyer (or an admin) calls off an unpaid order. The gateway is told afterwards; if it
    /// says the money came in meanwhile, the late payment is settled as such.
    pub async fn cancel_unpaid(
        &self,
        order_id: OrderId,
        mover: Mover,
        actor: &str,
    ) -> Result<Order, CheckoutError> {
        let mut tx = self.db.begin().await?;
        let payments = self.payments.for_reference_in(&mut tx, &order_id.to_string()).await?;
        self.unwind(&mut tx, order_id, OrderStatus::Cancelled, mover, actor, "cancelled").await?;
        for payment in payments.iter().filter(|p| p.status == PaymentStatus::Pending) {
            self.payments.transition(&mut tx, payment, PaymentStatus::Cancelled, actor).await?;
        }
        tx.commit().await?;
        for payment in payments.iter().filter(|p| p.status == PaymentStatus::Pending) {
            match self.payments.cancel_at_gateway(payment).await {
                Ok(ProviderStatus::Succeeded) => {
                    self.settle_alone(payment.id, ProviderStatus::Succeeded).await?;
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(payment = %payment.id, error = %err, "gateway not told of the cancellation")
                }
            }
        }
        Ok(self.orders.order(order_id).await?)
    }

    /// An admin cancels a paid order: what is left of its payment is refunded and all its
    /// physical stock put back.
    pub async fn refund_paid(&self, order_id: OrderId, actor: &str) -> Result<Order, CheckoutError> {
        let request = RefundRequest {
            amount: None,
            reason: "order cancelled".into(),
            restock: Restock::Everything,
            part: None,
        };
        match self.refund(order_id, request, actor).await {
            Ok((_, order)) => Ok(order),
            // Another request is refunding it, or has (its restock may land between this one's
            // reading what was restocked and checking it): only that one may say it cancelled it.
            Err(
                CheckoutError::Payments(
                    PaymentsError::RefundTooLarge { .. } | PaymentsError::NotRefundable(_),
                )
                | CheckoutError::Inventory(InventoryError::CannotRestock(_)),
            ) => Err(CheckoutError::Changed(self.orders.order(order_id).await?.status)),
            Err(other) => Err(other),
        }
    }

    /// Gives back (part of) a paid order's payment: to where it came from, or to the buyer's
    /// wallet for wallet payments and methods the provider cannot refund (a konbini slip).
    /// Refunds never add up to more than was paid, also when requested at once: each is
    /// written pending under a lock on the payment before the provider is asked, and the
    /// provider's answer decides. The order becomes `partially_refunded` or `refunded`, with
    /// the reason in its timeline; the lines asked for are put back in stock.
    pub async fn refund(
        &self,
        order_id: OrderId,
        request: RefundRequest,
        actor: &str,
    ) -> Result<(Refund, Order), CheckoutError> {
        let order = self.orders.order(order_id).await?;
        let payments = self.payments.for_reference(&order_id.to_string()).await?;
        let Some(payment) = payments.into_iter().find(|p| p.status == PaymentStatus::Succeeded) else {
            return Err(CheckoutError::Payments(PaymentsError::NotRefundable(format!(
                "the order is {}: it has no paid payment left to refund",
                order.status
            ))));
        };
        let destination =
            if payment.method == WALLET { RefundDestination::Wallet } else { RefundDestination::Source };
        let mut tx = self.db.begin().await?;
        let lines: Vec<(VariantId, i64)> = match request.restock {
            Restock::Lines(lines) => lines,
            Restock::Everything => {
                let restocked = self.inventory.restocked(&mut tx, &order_id.to_string()).await?;
                order
                    .lines
                    .iter()
                    .filter(|l| l.kind == ProductKind::Physical)
                    .map(|l| (l.variant_id, l.quantity - restocked.get(&l.variant_id).copied().unwrap_or(0)))
                    .filter(|(_, quantity)| *quantity > 0)
                    .collect()
            }
        };
        // What comes back is checked before any money moves.
        self.inventory.check_restock(&mut tx, &order_id.to_string(), &lines).await?;
        let amount = match request.amount {
            Some(amount) => amount,
            None => {
                let refunds = self.payments.refunds_in(&mut tx, payment.id).await?;
                Money::new(
                    crate::payments::refunds::refundable(payment.amount, &refunds),
                    payment.amount.currency,
                )
            }
        };
        let asked = NewRefund {
            amount,
            destination,
            reason: request.reason,
            follow_up: Some(serde_json::json!({ "restock": lines, "fulfilment": request.part })),
        };
        let refund = self.payments.begin_refund(&mut tx, payment.id, asked, actor).await?;
        tx.commit().await?;

        let destination = match destination {
            RefundDestination::Wallet => RefundDestination::Wallet,
            RefundDestination::Source => match self.payments.refund_at_provider(&payment, &refund).await {
                // A refund the provider accepted is the provider's to send; Pasar's books show it gone.
                Ok(RefundStatus::Succeeded | RefundStatus::Pending) => RefundDestination::Source,
                Err(PaymentsError::Gateway(GatewayError::Unsupported(_))) => RefundDestination::Wallet,
                Ok(RefundStatus::Failed) => {
                    self.fail_refund(&refund).await?;
                    return Err(CheckoutError::Invalid("the payment provider refused the refund".into()));
                }
                // No answer: the provider may have taken it, so it is neither failed (a retry
                // could refund twice) nor done.
                Err(PaymentsError::Gateway(GatewayError::Unavailable(reason))) => {
                    tracing::warn!(refund = %refund.id, %reason, "the provider did not answer a refund; reconciliation will");
                    return Err(CheckoutError::RefundUnanswered(refund.id));
                }
                Err(err) => {
                    self.fail_refund(&refund).await?;
                    return Err(err.into());
                }
            },
        };

        let mut tx = self.db.begin().await?;
        let done = self.complete_refund_in(&mut tx, &payment, &refund, destination, actor).await?;
        if done == Settlement::NoChange {
            return Err(CheckoutError::Changed(self.orders.order(order_id).await?.status));
        }
        tx.commit().await?;
        let refund = Refund { status: RefundState::Succeeded, destination, ..refund };
        Ok((refund, self.orders.order(order_id).await?))
    }

    /// The money of `refund` is gone to `destination`: the refund is done, the ledger posts it,
    /// the order becomes `partially_refunded` or `refunded` (with the reason in its timeline)
    /// and the lines asked for go back in stock. `NoChange` when the refund was completed
    /// before (by the request that asked for it, or by reconciliation after a crash).
    async fn complete_refund_in(
        &self,
        conn: &mut Connection,
        payment: &Payment,
        refund: &Refund,
        destination: RefundDestination,
        actor: &str,
    ) -> Result<Settlement, CheckoutError> {
        let order_id: OrderId = payment.reference.parse().map_err(|_| CheckoutError::NotFound)?;
        let (lines, part): (Vec<(VariantId, i64)>, Option<FulfilmentId>) = match &refund.follow_up {
            Some(follow_up) => (
                serde_json::from_value(follow_up["restock"].clone()).map_err(|e| {
                    CheckoutError::Invalid(format!("the refund's stock to put back is unreadable: {e}"))
                })?,
                follow_up["fulfilment"].as_str().and_then(|id| id.parse().ok()),
            ),
            None => (Vec::new(), None),
        };
        if !self.payments.finish_refund(&mut *conn, refund, RefundState::Succeeded, destination).await? {
            return Ok(Settlement::NoChange);
        }
        self.wallet.post_refund_part(&mut *conn, payment, refund, destination).await?;
        let order = self.orders.order_in(&mut *conn, order_id).await?;
        self.payables
            .claw_back(&mut *conn, &order, &refund.id.to_string(), refund.amount, part, &lines)
            .await?;
        let refunds = self.payments.refunds_in(&mut *conn, payment.id).await?;
        let whole = crate::payments::refunds::refundable(payment.amount, &refunds) == 0;
        if let Some(part) = part {
            // A store's part called off: the part is cancelled and the order goes on with the
            // other stores' parts, unless nothing is left of it.
            match self
                .orders
                .move_fulfilment(conn, part, FulfilmentStatus::Cancelled, actor, None, Some(&refund.reason))
                .await
            {
                // The store shipped it meanwhile: the money is back with the buyer all the same.
                Ok(_) | Err(OrdersError::FulfilmentRefused(_)) => {}
                Err(other) => return Err(other.into()),
            }
            if !whole {
                self.inventory.restock_lines(&mut *conn, &order_id.to_string(), &lines, actor).await?;
                return Ok(Settlement::Applied);
            }
        }
        let to = if whole { OrderStatus::Refunded } else { OrderStatus::PartiallyRefunded };
        let note = format!(
            "{} refunded to the {}: {}",
            refund.amount,
            match destination {
                RefundDestination::Source => "payment method",
                RefundDestination::Wallet => "wallet",
            },
            refund.reason
        );
        self.orders.transition(&mut *conn, order_id, to, Mover::Staff, actor, Some(&note)).await?;
        if whole {
            let fresh = self.payments.payment_in(&mut *conn, payment.id).await?;
            self.payments.transition(&mut *conn, &fresh, PaymentStatus::Refunded, actor).await?;
            // Nothing is delivered for a fully refunded order: its slot's place is free again.
            self.delivery.release(&mut *conn, order_id).await?;
        }
        self.inventory.restock_lines(&mut *conn, &order_id.to_string(), &lines, actor).await?;
        Ok(Settlement::Applied)
    }

    /// A store (or staff for it) calls off its part of a paid order before it ships: what the
    /// buyer paid for that part (its lines, less its proportion of the order's discount) is
    /// refunded, its physical lines go back in stock, and the part is cancelled. The order goes
    /// on with the other stores' parts.
    pub async fn cancel_part(
        &self,
        order_id: OrderId,
        part: FulfilmentId,
        reason: &str,
        actor: &str,
    ) -> Result<(Refund, Order), CheckoutError> {
        let order = self.orders.order(order_id).await?;
        let position = order.fulfilments.iter().position(|f| f.id == part).ok_or(CheckoutError::NotFound)?;
        let fulfilment = &order.fulfilments[position];
        check_fulfilment_move(fulfilment.status, FulfilmentStatus::Cancelled).map_err(OrdersError::from)?;
        let amount = Money::new(order.paid_per_part()[position], order.total.currency);
        let restock = order
            .lines
            .iter()
            .filter(|l| fulfilment.line_ids.contains(&l.id) && l.kind == ProductKind::Physical)
            .map(|l| (l.variant_id, l.quantity))
            .collect();
        let request = RefundRequest {
            amount: Some(amount),
            reason: reason.to_owned(),
            restock: Restock::Lines(restock),
            part: Some(part),
        };
        self.refund(order_id, request, actor).await
    }

    async fn fail_refund(&self, refund: &Refund) -> Result<(), CheckoutError> {
        let mut tx = self.db.begin().await?;
        self.payments.finish_refund(&mut tx, refund, RefundState::Failed, refund.destination).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// What to put back in stock with a refund.
#[derive(Clone, Debug)]
pub enum Restock {
    /// (variant, quantity) pairs, each at most what the order bought less what is back.
    Lines(Vec<(VariantId, i64)>),
    /// Every physical line, whatever is not back yet.
    Everything,
}

/// An admin's refund of a paid order.
#[derive(Clone, Debug)]
pub struct RefundRequest {
    /// None refunds whatever is left.
    pub amount: Option<Money>,
    pub reason: String,
    pub restock: Restock,
    /// The store's part this refund calls off, when it is one.
    pub part: Option<FulfilmentId>,
}

/// Where an order goes, as shipping zones see it.
fn destination(address: &ShippingAddress) -> Destination {
    Destination {
        country: address.country.clone().into(),
        postal_code: address.postal_code.as_str().to_owned(),
        coordinates: address.coordinates,
    }
}

/// A line as vouchers see it.
fn voucher_line(
    variant: &SaleVariant,
    buyer: &Principal,
    quantity: i64,
) -> Result<promotions::Line, CheckoutError> {
    Ok(promotions::Line {
        variant_id: variant.id,
        product_id: variant.product_id,
        category_id: variant.category_id,
        store_id: variant.seller_id,
        total: variant.price_for(buyer.role).times(quantity).map_err(OrdersError::from)?,
    })
}

async fn set_step_in(conn: &mut Connection, order: OrderId, step: Step, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE checkouts SET step = $1, updated_at = $2 WHERE order_id = $3")
        .bind(step.as_str())
        .bind(now)
        .bind(order.to_string())
        .execute(conn)
        .await
        .map(|_| ())
}

/// Refunds of orders interrupted before their answer was written are completed here, when
/// reconciliation has learnt from the provider where they stand: the admin's refund, finished
/// late, in the admin's name.
impl SettleRefund for Checkout {
    fn settle<'a>(
        &'a self,
        conn: &'a mut Connection,
        payment: &'a Payment,
        refund: &'a Refund,
        destination: RefundDestination,
    ) -> SettleFuture<'a> {
        Box::pin(async move {
            self.complete_refund_in(conn, payment, refund, destination, &refund.asked_by)
                .await
                .map_err(|e| SettleError(e.into()))
        })
    }
}

/// Orders' payments are settled here: the pipeline in `payments` hands each verified outcome
/// over, inside its de-duplicating transaction.
impl SettlePayment for Checkout {
    fn settle<'a>(
        &'a self,
        conn: &'a mut Connection,
        payment: &'a Payment,
        status: ProviderStatus,
    ) -> SettleFuture<'a> {
        Box::pin(
            async move { self.settle_in(conn, payment, status).await.map_err(|e| SettleError(e.into())) },
        )
    }
}
