//! Carts' use cases and storage (small enough to keep together).

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{Any, Executor, Row};
use utoipa::ToSchema;

use crate::catalog::Catalog;
use crate::db::{self, Connection, Db};
use crate::identity::{Principal, Role};
use crate::ids::{CartId, ProductId, UserId, VariantId};
use crate::money::Money;
use crate::time::{Clock, Timestamp};

/// Most units of one variant in a cart (and in one checkout line).
pub const MAX_QUANTITY: i64 = 100;
/// Most distinct variants in a cart (and in one checkout).
pub const MAX_LINES: usize = 50;

#[derive(Debug, thiserror::Error)]
pub enum CartError {
    #[error("no such cart")]
    NotFound,
    #[error("{0} is not for sale")]
    NotForSale(VariantId),
    #[error("the store selling {0} is suspended; its products cannot be bought for now")]
    StoreSuspended(VariantId),
    #[error("at most {MAX_QUANTITY} of one item")]
    TooMany,
    #[error("at most {MAX_LINES} different items in a cart")]
    TooManyLines,
    #[error(transparent)]
    Catalog(#[from] crate::catalog::CatalogError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Proof that the caller may use a cart.
#[derive(Clone, Copy, Debug)]
pub struct CartAccess {
    pub cart: CartId,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CartLine {
    pub variant_id: VariantId,
    pub product_id: Option<ProductId>,
    pub product_name: Option<String>,
    pub sku: Option<String>,
    pub quantity: i64,
    /// The price now, for this buyer; absent when the item is no longer for sale.
    pub unit_price: Option<Money>,
    pub line_total: Option<Money>,
    pub available: bool,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CartView {
    pub id: CartId,
    pub items: Vec<CartLine>,
    /// Sum of the lines still for sale; absent for an empty cart or mixed currencies.
    pub subtotal: Option<Money>,
    /// The secret a guest presents as `X-Cart-Token`; only in the answer that created the cart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Carts started and checked out in one UTC hour (its start, in millis).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CartsInHour {
    pub hour: i64,
    pub started: i64,
    pub checked_out: i64,
}

#[derive(Clone)]
pub struct Carts {
    db: Db,
    clock: Clock,
    catalog: Catalog,
}

impl Carts {
    pub fn new(db: Db, clock: Clock, catalog: Catalog) -> Self {
        Self { db, clock, catalog }
    }

    /// A signed-in buyer's cart (made on first use), or a new guest cart with its token.
    pub async fn open(&self, owner: Option<UserId>) -> Result<(CartAccess, Option<String>), CartError> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let result = match owner {
            Some(owner) => {
                sqlx::query(
                    "INSERT INTO carts (id, owner_id, token_hash, created_at, updated_at)
                     VALUES ($1, $2, NULL, $3, $3) ON CONFLICT (owner_id) DO NOTHING",
                )
                .bind(CartId::new().to_string())
                .bind(owner.to_string())
                .bind(now.millis())
                .execute(&mut *tx)
                .await?;
                let id = owned_cart(&mut *tx, owner).await?.ok_or(CartError::NotFound)?;
                (CartAccess { cart: id }, None)
            }
            None => {
                let id = CartId::new();
                let token = base64::Engine::encode(
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                    rand::random::<[u8; 24]>(),
                );
                sqlx::query(
                    "INSERT INTO carts (id, owner_id, token_hash, created_at, updated_at) VALUES ($1, NULL, $2, $3, $3)",
                )
                .bind(id.to_string())
                .bind(hash_token(&token))
                .bind(now.millis())
                .execute(&mut *tx)
                .await?;
                (CartAccess { cart: id }, Some(token))
            }
        };
        tx.commit().await?;
        Ok(result)
    }

    /// Per UTC hour of [from, to), for analytics' conversion figures: the carts that got their
    /// first item, and those checked out. A cart emptied by hand and filled again is the same
    /// basket; a guest's basket merged at login goes on as the buyer's (or ends, merged, when
    /// the buyer had one going).
    pub async fn started_and_checked_out_per_hour(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<CartsInHour>, CartError> {
        let rows = sqlx::query(
            "SELECT hour, SUM(started) AS started, SUM(checked_out) AS checked_out FROM (
               SELECT (filled_at / 3600000) * 3600000 AS hour, 1 AS started, 0 AS checked_out
               FROM cart_fills WHERE filled_at >= $1 AND filled_at < $2
               UNION ALL
               SELECT (ended_at / 3600000) * 3600000 AS hour, 0 AS started, 1 AS checked_out
               FROM cart_fills WHERE ended_at >= $1 AND ended_at < $2 AND outcome = 'checked_out'
             ) AS counted GROUP BY hour ORDER BY hour",
        )
        .bind(from.millis())
        .bind(to.millis())
        .fetch_all(self.db.reader())
        .await?;
        Ok(rows
            .iter()
            .map(|row| {
                Ok(CartsInHour {
                    hour: row.try_get("hour")?,
                    started: row.try_get("started")?,
                    checked_out: row.try_get("checked_out")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?)
    }

    /// Lets the caller into a cart they own, or a guest cart whose token they hold. Any other
    /// cart is "not found".
    pub async fn access(
        &self,
        cart: CartId,
        caller: Option<&Principal>,
        token: Option<&str>,
    ) -> Result<CartAccess, CartError> {
        let row = sqlx::query("SELECT owner_id, token_hash FROM carts WHERE id = $1")
            .bind(cart.to_string())
            .fetch_optional(self.db.reader())
            .await?
            .ok_or(CartError::NotFound)?;
        let owner: Option<String> = row.try_get("owner_id")?;
        let token_hash: Option<String> = row.try_get("token_hash")?;
        let owns = match (owner, caller) {
            (Some(owner), Some(caller)) => owner == caller.user.to_string(),
            _ => false,
        };
        let holds_token = match (token_hash, token) {
            (Some(stored), Some(token)) => stored == hash_token(token),
            _ => false,
        };
        if owns || holds_token { Ok(CartAccess { cart }) } else { Err(CartError::NotFound) }
    }

    pub async fn quantities(&self, access: CartAccess) -> Result<Vec<(VariantId, i64)>, CartError> {
        quantities(self.db.reader(), access.cart).await
    }

    /// The cart priced for `role` from the catalog as it is now.
    pub async fn view(&self, access: CartAccess, role: Role) -> Result<CartView, CartError> {
        let items = self.quantities(access).await?;
        let ids: Vec<VariantId> = items.iter().map(|(id, _)| *id).collect();
        let for_sale = self.catalog.variants_for_sale(&ids).await?;
        let lines: Vec<CartLine> = items
            .into_iter()
            .map(|(variant_id, quantity)| match for_sale.iter().find(|v| v.id == variant_id) {
                Some(variant) => {
                    let unit_price = variant.price_for(role);
                    CartLine {
                        variant_id,
                        product_id: Some(variant.product_id),
                        product_name: Some(variant.product_name.clone()),
                        sku: Some(variant.sku.clone()),
                        quantity,
                        unit_price: Some(unit_price),
                        line_total: unit_price.times(quantity).ok(),
                        available: true,
                    }
                }
                None => CartLine {
                    variant_id,
                    product_id: None,
                    product_name: None,
                    sku: None,
                    quantity,
                    unit_price: None,
                    line_total: None,
                    available: false,
                },
            })
            .collect();
        let subtotal = Money::sum(lines.iter().filter_map(|l| l.line_total)).ok().flatten();
        Ok(CartView { id: access.cart, items: lines, subtotal, token: None })
    }

    /// Adds units of a variant that is for sale now.
    pub async fn add(&self, access: CartAccess, variant: VariantId, quantity: i64) -> Result<(), CartError> {
        if self.catalog.variants_for_sale(&[variant]).await?.is_empty() {
            if self.catalog.variant_store_suspended(variant).await? {
                return Err(CartError::StoreSuspended(variant));
            }
            return Err(CartError::NotForSale(variant));
        }
        let mut tx = self.db.begin().await?;
        let current = quantities(&mut *tx, access.cart).await?;
        let existing = current.iter().find(|(id, _)| *id == variant).map(|(_, q)| *q);
        if existing.is_none() && current.len() >= MAX_LINES {
            return Err(CartError::TooManyLines);
        }
        let total = existing.unwrap_or(0) + quantity;
        if total > MAX_QUANTITY {
            return Err(CartError::TooMany);
        }
        let now = self.clock.now().millis();
        put(&mut tx, access.cart, variant, total, now).await?;
        // The basket starts with its first item; one going already carries on.
        sqlx::query(
            "INSERT INTO cart_fills (id, cart_id, filled_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(access.cart.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets a line's quantity; the line must be in the cart.
    pub async fn set_quantity(
        &self,
        access: CartAccess,
        variant: VariantId,
        quantity: i64,
    ) -> Result<(), CartError> {
        let mut tx = self.db.begin().await?;
        let done = sqlx::query("UPDATE cart_items SET quantity = $1 WHERE cart_id = $2 AND variant_id = $3")
            .bind(quantity)
            .bind(access.cart.to_string())
            .bind(variant.to_string())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(CartError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn remove(&self, access: CartAccess, variant: VariantId) -> Result<(), CartError> {
        let mut tx = self.db.begin().await?;
        let done = sqlx::query("DELETE FROM cart_items WHERE cart_id = $1 AND variant_id = $2")
            .bind(access.cart.to_string())
            .bind(variant.to_string())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(CartError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    /// Moves a guest cart's items into the buyer's own cart (quantities add up, capped) and
    /// deletes the guest cart. A wrong token merges nothing.
    pub async fn merge_guest(
        &self,
        owner: UserId,
        guest: CartId,
        token: &str,
    ) -> Result<CartAccess, CartError> {
        let guest_access = self.access(guest, None, Some(token)).await?;
        let (mine, _) = self.open(Some(owner)).await?;
        if mine.cart == guest_access.cart {
            return Ok(mine);
        }
        let now = self.clock.now().millis();
        let mut tx = self.db.begin().await?;
        let theirs = quantities(&mut *tx, guest).await?;
        let mut current = quantities(&mut *tx, mine.cart).await?;
        for (variant, quantity) in theirs {
            match current.iter().position(|(id, _)| *id == variant) {
                Some(at) => {
                    let combined = (current[at].1 + quantity).min(MAX_QUANTITY);
                    current[at].1 = combined;
                    put(&mut tx, mine.cart, variant, combined, now).await?;
                }
                None if current.len() < MAX_LINES => {
                    current.push((variant, quantity));
                    put(&mut tx, mine.cart, variant, quantity, now).await?;
                }
                None => {}
            }
        }
        // The guest's basket goes on as the buyer's, unless the buyer had one going.
        sqlx::query(
            "UPDATE cart_fills SET ended_at = $1, outcome = 'merged'
             WHERE cart_id = $2 AND ended_at IS NULL
               AND EXISTS (SELECT 1 FROM cart_fills WHERE cart_id = $3 AND ended_at IS NULL)",
        )
        .bind(now)
        .bind(guest.to_string())
        .bind(mine.cart.to_string())
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE cart_fills SET cart_id = $1 WHERE cart_id = $2 AND ended_at IS NULL")
            .bind(mine.cart.to_string())
            .bind(guest.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM cart_items WHERE cart_id = $1")
            .bind(guest.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM carts WHERE id = $1").bind(guest.to_string()).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(mine)
    }

    /// Empties a cart inside the caller's transaction (a checkout that bought it): its basket
    /// ends checked out.
    pub async fn empty(&self, conn: &mut Connection, access: CartAccess) -> Result<(), CartError> {
        sqlx::query("DELETE FROM cart_items WHERE cart_id = $1")
            .bind(access.cart.to_string())
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "UPDATE cart_fills SET ended_at = $1, outcome = 'checked_out' WHERE cart_id = $2 AND ended_at IS NULL",
        )
        .bind(self.clock.now().millis())
        .bind(access.cart.to_string())
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

async fn owned_cart<'c>(
    ex: impl Executor<'c, Database = Any>,
    owner: UserId,
) -> Result<Option<CartId>, CartError> {
    let row = sqlx::query("SELECT id FROM carts WHERE owner_id = $1")
        .bind(owner.to_string())
        .fetch_optional(ex)
        .await?;
    row.map(|row| {
        let id: String = row.try_get("id")?;
        id.parse().map_err(|_| CartError::NotFound)
    })
    .transpose()
}

async fn quantities<'c>(
    ex: impl Executor<'c, Database = Any>,
    cart: CartId,
) -> Result<Vec<(VariantId, i64)>, CartError> {
    let rows = sqlx::query(
        "SELECT variant_id, quantity FROM cart_items WHERE cart_id = $1 ORDER BY added_at, variant_id",
    )
    .bind(cart.to_string())
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|row| {
            let id: String = row.try_get("variant_id")?;
            Ok((id.parse().map_err(|_| CartError::NotFound)?, row.try_get("quantity")?))
        })
        .collect()
}

async fn put(
    tx: &mut db::Transaction,
    cart: CartId,
    variant: VariantId,
    quantity: i64,
    now: i64,
) -> Result<(), CartError> {
    sqlx::query(
        "INSERT INTO cart_items (cart_id, variant_id, quantity, added_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (cart_id, variant_id) DO UPDATE SET quantity = excluded.quantity",
    )
    .bind(cart.to_string())
    .bind(variant.to_string())
    .bind(quantity)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE carts SET updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(cart.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}
