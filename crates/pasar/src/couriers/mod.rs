//! Couriers and tracking: a part of an order leaves with a shipment, booked through a courier
//! service (Biteship) or shipped by hand with a tracking number. Each shipment keeps a timeline
//! of the courier's events, fed by its webhooks and by polling; the courier's "delivered"
//! delivers the part.

pub mod biteship;
pub mod courier;
pub mod domain;
pub mod routes;
mod service;
mod store;

pub use courier::{Courier, CourierError, Party, Rate};
pub use domain::{Shipment, TrackingEvent};
pub use service::{Booking, Couriers, CouriersError};

use crate::db::Migration;

pub static MIGRATIONS: &[Migration] = &[Migration {
    version: 2026120850,
    name: "couriers: shipments and their tracking events",
    sql: "CREATE TABLE shipments (
            id TEXT PRIMARY KEY,
            order_id TEXT NOT NULL,
            fulfilment_id TEXT NOT NULL,
            provider TEXT,
            provider_ref TEXT,
            tracking_ref TEXT,
            courier TEXT,
            service TEXT,
            tracking_number TEXT NOT NULL,
            tracking_url TEXT,
            label_url TEXT,
            status TEXT NOT NULL,
            settled BIGINT NOT NULL,
            polled_at BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
          );
          CREATE INDEX shipments_order ON shipments (order_id, id);
          CREATE INDEX shipments_fulfilment ON shipments (fulfilment_id);
          CREATE UNIQUE INDEX shipments_provider_ref ON shipments (provider, provider_ref);
          CREATE INDEX shipments_polling ON shipments (provider, settled, polled_at);

          CREATE TABLE shipment_events (
            id TEXT PRIMARY KEY,
            shipment_id TEXT NOT NULL REFERENCES shipments (id),
            status TEXT NOT NULL,
            description TEXT NOT NULL,
            location TEXT,
            occurred_at BIGINT NOT NULL,
            recorded_at BIGINT NOT NULL
          );
          CREATE UNIQUE INDEX shipment_events_key ON shipment_events (shipment_id, status);",
    postgres: None,
}];

/// The shop's pickup address from the configuration: all four parts, or none.
pub fn shop_origin(config: &crate::config::Config) -> anyhow::Result<Option<Party>> {
    let parts = [
        &config.shipping_origin_name,
        &config.shipping_origin_phone,
        &config.shipping_origin_address,
        &config.shipping_origin_postal_code,
    ];
    match parts.map(|p| p.clone().filter(|v| !v.trim().is_empty())) {
        [Some(name), Some(phone), Some(address), Some(postal_code)] => {
            Ok(Some(Party { name, phone, address, postal_code }))
        }
        [None, None, None, None] => Ok(None),
        _ => anyhow::bail!(
            "PASAR_SHIPPING_ORIGIN_NAME, _PHONE, _ADDRESS and _POSTAL_CODE go together: set all four or none"
        ),
    }
}
