//! Catalog: products and their variants, categories, brands and product images.
//!
//! Other modules price and sell through [`Catalog::variants_for_sale`] and never read these
//! tables. Public reads are answered from an in-process cache that every catalog write
//! invalidates (see `cache.rs`).

mod cache;
pub mod domain;
pub mod media;
pub mod routes;
mod service;
mod store;

pub use domain::{
    Description, Price, ProductKind, ProductSort, ProductStatus, SaleVariant, Sku, Slug, VariantOptions,
    WeightGrams,
};
pub use media::MediaStore;
pub use service::{
    Actor, Brand, BrandInput, Catalog, CatalogError, Category, CategoryChange, CategoryInput, CategoryNode,
    Media, NewProduct, NewVariant, Product, ProductChange, ProductFilter, Variant, VariantChange,
    cursor_after,
};

use crate::db::Migration;

pub static MIGRATIONS: &[Migration] = &[
    Migration {
        version: 2026112210,
        name: "catalog: categories, brands, products, variants, media",
        sql: "CREATE TABLE categories (
            id TEXT PRIMARY KEY,
            parent_id TEXT REFERENCES categories (id),
            name TEXT NOT NULL,
            slug TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
          );
          CREATE UNIQUE INDEX categories_slug_key ON categories (slug);
          CREATE INDEX categories_parent ON categories (parent_id);

          CREATE TABLE brands (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            slug TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
          );
          CREATE UNIQUE INDEX brands_slug_key ON brands (slug);

          CREATE TABLE products (
            id TEXT PRIMARY KEY,
            slug TEXT NOT NULL,
            name TEXT NOT NULL,
            name_key TEXT NOT NULL,
            description TEXT NOT NULL,
            kind TEXT NOT NULL,
            status TEXT NOT NULL,
            category_id TEXT NOT NULL REFERENCES categories (id),
            brand_id TEXT REFERENCES brands (id),
            seller_id TEXT,
            currency TEXT NOT NULL,
            price_from BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
          );
          CREATE UNIQUE INDEX products_slug_key ON products (slug);
          CREATE INDEX products_category ON products (category_id);
          CREATE INDEX products_brand ON products (brand_id);
          CREATE INDEX products_status_newest ON products (status, id);
          CREATE INDEX products_status_price ON products (status, price_from, id);
          CREATE INDEX products_status_name ON products (status, name_key, id);

          CREATE TABLE product_variants (
            id TEXT PRIMARY KEY,
            product_id TEXT NOT NULL REFERENCES products (id),
            sku TEXT NOT NULL,
            options TEXT NOT NULL,
            price_amount BIGINT NOT NULL,
            reseller_price_amount BIGINT,
            weight_grams BIGINT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
          );
          CREATE UNIQUE INDEX product_variants_sku_key ON product_variants (sku);
          CREATE INDEX product_variants_product ON product_variants (product_id, id);

          CREATE TABLE product_media (
            id TEXT PRIMARY KEY,
            product_id TEXT NOT NULL REFERENCES products (id),
            object_key TEXT NOT NULL,
            content_type TEXT NOT NULL,
            size_bytes BIGINT NOT NULL,
            created_at BIGINT NOT NULL
          );
          CREATE UNIQUE INDEX product_media_key ON product_media (object_key);
          CREATE INDEX product_media_product ON product_media (product_id, id);",
        postgres: None,
    },
    Migration {
        version: 2026120300,
        name: "catalog: stores whose products are hidden (suspended sellers), products by seller",
        // A table rather than a flag on each product: a product added to a hidden store later
        // is hidden too, and showing the store again is one delete.
        sql: "CREATE TABLE hidden_stores (
            seller_id TEXT PRIMARY KEY,
            hidden_at BIGINT NOT NULL
          );
          CREATE INDEX products_seller ON products (seller_id, id);",
        postgres: None,
    },
    Migration {
        version: 2026120500,
        name: "catalog: a product's rating as the sum of its visible reviews' stars and their count",
        sql: "ALTER TABLE products ADD COLUMN rating_sum BIGINT NOT NULL DEFAULT 0;
          ALTER TABLE products ADD COLUMN rating_count BIGINT NOT NULL DEFAULT 0;",
        postgres: None,
    },
    Migration {
        version: 2026121410,
        name: "catalog: featured products, chosen by the shop's staff for the home page",
        // SQLite has no boolean type: 0 or 1 on both backends, as the other flags are stored.
        sql: "ALTER TABLE products ADD COLUMN featured BIGINT NOT NULL DEFAULT 0;
          CREATE INDEX products_featured ON products (featured, status, id);",
        postgres: None,
    },
];
