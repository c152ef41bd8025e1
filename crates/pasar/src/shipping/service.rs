//! Shipping's use cases: zones and methods for admins, quotes for buyers, and the price a
//! checkout charges (the same rules as the quote, so the two never differ).

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use utoipa::ToSchema;

use super::domain::{self, DeliveryDays, Destination, Method, Parcel, PostalRange, Rate, Zone};
use super::store;
use crate::db::{self, Db};
use crate::ids::{ShippingMethodId, ShippingZoneId, UserId};
use crate::money::{Currency, Money};
use crate::time::Clock;

/// How long an instance trusts its copy of the zones and methods: a change made here shows at
/// once, one made on another instance within this.
const FRESH_FOR: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum ShippingError {
    #[error("{0}")]
    Invalid(String),
    #[error("shipping method {0} does not deliver this order to this address")]
    Unavailable(String),
    #[error("a shipping method with code {0} exists")]
    CodeTaken(String),
    #[error("zone {0} is served by a method; remove it from the method first")]
    ZoneInUse(ShippingZoneId),
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A zone as an admin gives it.
#[derive(Clone, Debug)]
pub struct NewZone {
    pub name: String,
    pub country: String,
    pub postal_prefixes: Vec<String>,
    pub postal_ranges: Vec<PostalRange>,
    pub area: Option<Vec<[f64; 2]>>,
}

/// A method as an admin gives it.
#[derive(Clone, Debug)]
pub struct NewMethod {
    pub code: String,
    pub name: String,
    pub currency: Currency,
    pub rate: Rate,
    pub free_above: Option<Money>,
    pub zone_ids: Vec<ShippingZoneId>,
    pub delivery_days: DeliveryDays,
}

/// One way to ship an order to an address, and what it costs.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Quote {
    /// What a checkout names as `shipping_method`.
    pub method: String,
    pub name: String,
    /// What the whole order's shipping costs: the sum of its parcels'.
    pub price: Money,
    pub delivery_days: DeliveryDays,
    /// One per store that ships something (one for a shop's own order): each store sends its
    /// own parcel.
    pub parcels: Vec<ParcelQuote>,
}

#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct ParcelQuote {
    /// The seller whose store ships it; absent for the shop itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seller_id: Option<UserId>,
    pub price: Money,
}

/// The shop's zones and methods, read together.
#[derive(Debug, Default)]
struct Setup {
    zones: Vec<Zone>,
    methods: Vec<Method>,
}

/// A copy of the setup and when it was read.
type ReadAt = (Instant, Arc<Setup>);

#[derive(Clone)]
pub struct Shipping {
    db: Db,
    clock: Clock,
    cached: Arc<RwLock<Option<ReadAt>>>,
}

impl Shipping {
    pub fn new(db: Db, clock: Clock) -> Self {
        Self { db, clock, cached: Arc::default() }
    }

    async fn setup(&self) -> Result<Arc<Setup>, ShippingError> {
        if let Some((read_at, setup)) = self.cached.read().expect("shipping cache").as_ref()
            && read_at.elapsed() < FRESH_FOR
        {
            return Ok(setup.clone());
        }
        let mut conn = self.db.reader().acquire().await?;
        let setup = Arc::new(Setup {
            zones: store::zones(&mut *conn).await?,
            methods: store::methods(&mut *conn).await?,
        });
        *self.cached.write().expect("shipping cache") = Some((Instant::now(), setup.clone()));
        Ok(setup)
    }

    fn forget(&self) {
        *self.cached.write().expect("shipping cache") = None;
    }

    pub async fn zones(&self) -> Result<Vec<Zone>, ShippingError> {
        Ok(self.setup().await?.zones.clone())
    }

    pub async fn methods(&self) -> Result<Vec<Method>, ShippingError> {
        Ok(self.setup().await?.methods.clone())
    }

    pub async fn create_zone(&self, new: NewZone) -> Result<Zone, ShippingError> {
        domain::check_zone_rules(&new.postal_prefixes, &new.postal_ranges, new.area.as_deref())
            .map_err(ShippingError::Invalid)?;
        let zone = Zone {
            id: ShippingZoneId::new(),
            name: new.name,
            country: new.country,
            postal_prefixes: new.postal_prefixes,
            postal_ranges: new.postal_ranges,
            area: new.area,
        };
        let mut tx = self.db.begin().await?;
        store::insert_zone(&mut *tx, &zone, self.clock.now()).await?;
        tx.commit().await?;
        self.forget();
        Ok(zone)
    }

    pub async fn delete_zone(&self, id: ShippingZoneId) -> Result<(), ShippingError> {
        let mut tx = self.db.begin().await?;
        if store::methods(&mut *tx).await?.iter().any(|m| m.zone_ids.contains(&id)) {
            return Err(ShippingError::ZoneInUse(id));
        }
        if !store::delete_zone(&mut *tx, id).await? {
            return Err(ShippingError::NotFound);
        }
        tx.commit().await?;
        self.forget();
        Ok(())
    }

    pub async fn create_method(&self, new: NewMethod) -> Result<Method, ShippingError> {
        new.rate.check(new.currency).map_err(ShippingError::Invalid)?;
        if new.free_above.is_some_and(|m| m.currency != new.currency || m.amount < 0) {
            return Err(ShippingError::Invalid(format!("free_above must be in {}", new.currency)));
        }
        if new.delivery_days.min > new.delivery_days.max || new.delivery_days.max > 90 {
            return Err(ShippingError::Invalid("delivery_days runs from min to max, at most 90".into()));
        }
        if new.zone_ids.is_empty() {
            return Err(ShippingError::Invalid("a method serves at least one zone".into()));
        }
        let mut tx = self.db.begin().await?;
        let zones = store::zones(&mut *tx).await?;
        if let Some(unknown) = new.zone_ids.iter().find(|id| !zones.iter().any(|z| z.id == **id)) {
            return Err(ShippingError::Invalid(format!("no zone {unknown}")));
        }
        let method = Method {
            id: ShippingMethodId::new(),
            code: new.code,
            name: new.name,
            currency: new.currency,
            rate: new.rate,
            free_above: new.free_above,
            zone_ids: new.zone_ids,
            delivery_days: new.delivery_days,
            active: true,
        };
        match store::insert_method(&mut *tx, &method, self.clock.now()).await {
            Err(err) if db::is_unique_violation(&err) => return Err(ShippingError::CodeTaken(method.code)),
            other => other?,
        }
        tx.commit().await?;
        self.forget();
        Ok(method)
    }

    pub async fn delete_method(&self, id: ShippingMethodId) -> Result<(), ShippingError> {
        let mut tx = self.db.begin().await?;
        if !store::delete_method(&mut *tx, id).await? {
            return Err(ShippingError::NotFound);
        }
        tx.commit().await?;
        self.forget();
        Ok(())
    }

    /// The zone an address is in (the most specific one), if any.
    pub async fn zone_of(&self, to: &Destination) -> Result<Option<ShippingZoneId>, ShippingError> {
        Ok(domain::zone_for(&self.setup().await?.zones, to).map(|zone| zone.id))
    }

    /// Whether the shop ships with methods at all (a shop without any charges nothing).
    pub async fn configured(&self) -> Result<bool, ShippingError> {
        Ok(self.setup().await?.methods.iter().any(|m| m.active))
    }

    /// Every method that delivers all of `parcels` (one per store) to `to`, cheapest first.
    pub async fn quote(
        &self,
        to: &Destination,
        parcels: &[(Option<UserId>, Parcel)],
    ) -> Result<Vec<Quote>, ShippingError> {
        let setup = self.setup().await?;
        let Some(zone) = domain::zone_for(&setup.zones, to) else { return Ok(Vec::new()) };
        let Some(currency) = parcels.first().map(|(_, p)| p.value.currency) else { return Ok(Vec::new()) };
        let mut quotes: Vec<Quote> = setup
            .methods
            .iter()
            .filter_map(|method| {
                let priced: Option<Vec<ParcelQuote>> = parcels
                    .iter()
                    .map(|(store, parcel)| {
                        method.price(zone, *parcel).map(|price| ParcelQuote { seller_id: *store, price })
                    })
                    .collect();
                let priced = priced?;
                let price =
                    priced.iter().try_fold(Money::zero(currency), |sum, p| sum.checked_add(p.price)).ok()?;
                Some(Quote {
                    method: method.code.clone(),
                    name: method.name.clone(),
                    price,
                    delivery_days: method.delivery_days,
                    parcels: priced,
                })
            })
            .collect();
        quotes.sort_by_key(|q| (q.price.amount, q.delivery_days.max));
        Ok(quotes)
    }

    /// What `method` charges to carry `parcels` to `to`: what its quote said.
    pub async fn price(
        &self,
        method: &str,
        to: &Destination,
        parcels: &[(Option<UserId>, Parcel)],
    ) -> Result<Money, ShippingError> {
        self.quote(to, parcels)
            .await?
            .into_iter()
            .find(|q| q.method == method)
            .map(|q| q.price)
            .ok_or_else(|| ShippingError::Unavailable(method.to_owned()))
    }
}
