//! `pasar demo`: a shop a newcomer can log into and browse at once. Loading it twice changes
//! nothing: accounts are found by email, catalog entries by slug.
//!
//! Each module loads its part in its own step, in the order they depend on each other:
//! accounts, then the marketplace's stores (two approved, one application waiting), then the
//! catalog (the shop's own products and the stores'), then its stock (units on hand, digital
//! keys), then shipping: zones and methods for Jakarta, the rest of Indonesia and a Tokyo
//! grocery round, whose zone delivers in slots.

use std::collections::BTreeMap;

use anyhow::Context;

use crate::catalog::{
    Actor, BrandInput, Catalog, CategoryInput, Description, NewProduct, NewVariant, Price, ProductChange,
    ProductKind, ProductStatus, Sku, Slug, VariantOptions, WeightGrams,
};
use crate::delivery::Delivery;
use crate::delivery::domain::{Rules, SameDayCutoff, TimeOfDay};
use crate::delivery::service::NewTemplate;
use crate::events;
use crate::http::AppState;
use crate::identity::domain::Text;
use crate::identity::{Email, Identity, IdentityError, Password, PersonName, Principal, Role};
use crate::ids::{UserId, VariantId};
use crate::inventory::Inventory;
use crate::money::{Currency, Money};
use crate::payments::PayoutDestination;
use crate::sellers::domain::{Application, Contact};
use crate::sellers::{Decision, SellerStatus, Sellers};
use crate::shipping::domain::{PostalRange, WeightTier};
use crate::shipping::{DeliveryDays, NewMethod, NewZone, Rate, Shipping, ShippingError};

/// What the demo loader found or made.
pub struct DemoShop {
    pub accounts: Vec<DemoAccount>,
    pub stores: Vec<DemoStore>,
    pub catalog: DemoCatalog,
    /// How many variants this run stocked.
    pub stocked: usize,
    /// Shipping zones and methods (by name), and the Tokyo zone's slot templates.
    pub shipping: Vec<DemoEntry>,
}

pub struct DemoAccount {
    pub email: &'static str,
    pub password: &'static str,
    pub role: Role,
    pub created: bool,
}

/// A demo store and its owner's login.
pub struct DemoStore {
    pub slug: &'static str,
    pub name: &'static str,
    pub email: &'static str,
    pub password: &'static str,
    pub status: SellerStatus,
    pub created: bool,
}

/// The demo catalog's entries, each marked with whether this run created it.
pub struct DemoCatalog {
    pub categories: Vec<DemoEntry>,
    pub brands: Vec<DemoEntry>,
    pub products: Vec<DemoProduct>,
}

pub struct DemoEntry {
    pub slug: &'static str,
    pub name: &'static str,
    pub created: bool,
}

pub struct DemoProduct {
    pub slug: &'static str,
    pub name: &'static str,
    pub kind: ProductKind,
    pub created: bool,
    /// The product's variants, for the steps that stock them and for printing.
    pub variants: Vec<DemoVariant>,
}

pub struct DemoVariant {
    pub id: VariantId,
    pub sku: String,
    pub price: Money,
}

const ACCOUNTS: [(&str, &str, &str, Role); 2] = [
    ("admin@pasar.local", "pasar-admin-demo", "Demo Admin", Role::SuperAdmin),
    ("buyer@pasar.local", "pasar-buyer-demo", "Demo Buyer", Role::Customer),
];

/// (slug, name, parent's slug)
const CATEGORIES: [(&str, &str, Option<&str>); 3] =
    [("fashion", "Fashion", None), ("t-shirts", "T-Shirts", Some("fashion")), ("kitchen", "Kitchen", None)];

/// (slug, name)
const BRANDS: [(&str, &str); 2] = [("nusantara-wear", "Nusantara Wear"), ("dapur-ibu", "Dapur Ibu")];

/// A demo variant: (SKU, size, price in rupiah, reseller price, weight in grams).
type VariantSeed = (&'static str, Option<&'static str>, i64, Option<i64>, Option<u32>);

struct ProductSeed {
    slug: &'static str,
    name: &'static str,
    description: &'static str,
    kind: ProductKind,
    category: &'static str,
    brand: &'static str,
    /// The slug of the store that sells it; none for the shop's own.
    store: Option<&'static str>,
    /// Shown first on the home page.
    featured: bool,
    variants: &'static [VariantSeed],
}

/// A demo store: its owner (email, password, name), slug, name, description, and whether the
/// demo admin approves it (else it stays a pending application).
struct StoreSeed {
    email: &'static str,
    password: &'static str,
    owner: &'static str,
    slug: &'static str,
    name: &'static str,
    description: &'static str,
    approved: bool,
}

const STORES: [StoreSeed; 3] = [
    StoreSeed {
        email: "sari@pasar.local",
        password: "pasar-seller-demo",
        owner: "Sari Wulandari",
        slug: "batik-sari",
        name: "Batik Sari",
        description: "Hand-drawn batik from a family workshop in Solo.",
        approved: true,
    },
    StoreSeed {
        email: "tini@pasar.local",
        password: "pasar-seller-demo",
        owner: "Tini Lumowa",
        slug: "dapur-tini",
        name: "Dapur Tini",
        description: "Sambal and spice pastes from Manado, made to order.",
        approved: true,
    },
    StoreSeed {
        email: "rudi@pasar.local",
        password: "pasar-applicant-demo",
        owner: "Rudi Hartono",
        slug: "kopi-rudi",
        name: "Kopi Rudi",
        description: "Single-origin coffee from Gayo, roasted weekly.",
        approved: false,
    },
];

const PRODUCTS: [ProductSeed; 7] = [
    ProductSeed {
        slug: "kaos-polos-katun",
        name: "Kaos Polos Katun",
        description: "A plain t-shirt of combed 30s cotton that stays soft wash after wash.",
        kind: ProductKind::Physical,
        category: "t-shirts",
        brand: "nusantara-wear",
        store: None,
        featured: false,
        variants: &[
            ("KAOS-POLOS-S", Some("S"), 79_000, Some(65_000), Some(180)),
            ("KAOS-POLOS-M", Some("M"), 79_000, Some(65_000), Some(190)),
            ("KAOS-POLOS-L", Some("L"), 85_000, Some(70_000), Some(200)),
        ],
    },
    ProductSeed {
        slug: "kaos-batik-parang",
        name: "Kaos Batik Parang",
        description: "A cotton t-shirt printed with the parang batik motif.",
        kind: ProductKind::Physical,
        category: "t-shirts",
        brand: "nusantara-wear",
        store: None,
        featured: true,
        variants: &[
            ("KAOS-PARANG-M", Some("M"), 120_000, Some(100_000), Some(200)),
            ("KAOS-PARANG-L", Some("L"), 120_000, Some(100_000), Some(210)),
            ("KAOS-PARANG-XL", Some("XL"), 130_000, Some(108_000), Some(220)),
        ],
    },
    ProductSeed {
        slug: "kemeja-batik-tulis",
        name: "Kemeja Batik Tulis",
        description: "A hand-drawn batik shirt from Solo, long sleeves, lined.",
        kind: ProductKind::Physical,
        category: "fashion",
        brand: "nusantara-wear",
        store: None,
        featured: false,
        variants: &[
            ("KEMEJA-TULIS-M", Some("M"), 450_000, None, Some(350)),
            ("KEMEJA-TULIS-L", Some("L"), 450_000, None, Some(370)),
        ],
    },
    ProductSeed {
        slug: "cobek-batu",
        name: "Cobek Batu",
        description: "A volcanic stone mortar and pestle for sambal.",
        kind: ProductKind::Physical,
        category: "kitchen",
        brand: "dapur-ibu",
        store: None,
        featured: false,
        variants: &[
            ("COBEK-18", Some("18 cm"), 95_000, Some(80_000), Some(2_500)),
            ("COBEK-22", Some("22 cm"), 125_000, Some(105_000), Some(3_500)),
        ],
    },
    ProductSeed {
        slug: "e-book-resep-nusantara",
        name: "E-book Resep Nusantara",
        description: "Fifty home recipes from across the archipelago, as a PDF.",
        kind: ProductKind::Digital,
        category: "kitchen",
        brand: "dapur-ibu",
        store: None,
        featured: true,
        variants: &[("EBOOK-RESEP-NUSANTARA", None, 49_000, Some(39_000), None)],
    },
    ProductSeed {
        slug: "selendang-batik-sogan",
        name: "Selendang Batik Sogan",
        description: "A silk shawl in brown sogan batik, drawn by hand.",
        kind: ProductKind::Physical,
        category: "fashion",
        brand: "nusantara-wear",
        store: Some("batik-sari"),
        featured: true,
        variants: &[
            ("SARI-SOGAN-150", Some("150 cm"), 275_000, None, Some(120)),
            ("SARI-SOGAN-200", Some("200 cm"), 340_000, None, Some(150)),
        ],
    },
    ProductSeed {
        slug: "sambal-roa-manado",
        name: "Sambal Roa Manado",
        description: "Smoked garfish sambal, in a jar.",
        kind: ProductKind::Physical,
        category: "kitchen",
        brand: "dapur-ibu",
        store: Some("dapur-tini"),
        featured: false,
        variants: &[
            ("TINI-ROA-150", Some("150 g"), 45_000, None, Some(220)),
            ("TINI-ROA-250", Some("250 g"), 68_000, None, Some(330)),
        ],
    },
];

/// Loads every part of the demo shop that is not there yet.
pub async fn load(state: &AppState) -> anyhow::Result<DemoShop> {
    let accounts = load_accounts(&state.identity).await?;
    let stores = load_stores(&state.identity, &state.sellers).await?;
    let catalog = load_catalog(&state.catalog, &state.sellers).await?;
    let stocked = load_stock(&state.inventory, &catalog).await?;
    let shipping = load_shipping(&state.shipping, &state.delivery).await?;
    Ok(DemoShop { accounts, stores, catalog, stocked, shipping })
}

/// Units put on hand for each physical demo variant, and keys added to each digital one.
pub const DEMO_UNITS: i64 = 25;
pub const DEMO_KEYS: usize = 10;

/// Stocks every demo variant that has never had stock: physical ones get units on hand,
/// digital ones get keys. A variant with any movement is left alone, so loading twice (or after
/// an admin's changes) adds nothing.
async fn load_stock(inventory: &Inventory, catalog: &DemoCatalog) -> anyhow::Result<usize> {
    let mut stocked = 0;
    for product in &catalog.products {
        for DemoVariant { id: variant, sku, .. } in &product.variants {
            if !inventory.movements(*variant, 1).await?.is_empty() {
                continue;
            }
            match product.kind {
                ProductKind::Physical => {
                    inventory.adjust(*variant, false, DEMO_UNITS, "demo stock", events::SYSTEM).await?;
                }
                ProductKind::Digital => {
                    let keys: Vec<String> = (1..=DEMO_KEYS).map(|n| format!("{sku}-DEMO-{n:04}")).collect();
                    inventory.add_digital_items(*variant, &keys, events::SYSTEM).await?;
                }
            }
            stocked += 1;
        }
    }
    Ok(stocked)
}

/// Creates the demo accounts that are not there yet.
async fn load_accounts(identity: &Identity) -> anyhow::Result<Vec<DemoAccount>> {
    let mut accounts = Vec::new();
    for (email, password, name, role) in ACCOUNTS {
        let created = match identity
            .create_user(
                Email::parse(email).map_err(anyhow::Error::msg)?,
                Password::parse(password.to_owned()).map_err(anyhow::Error::msg)?,
                PersonName::parse(name).map_err(anyhow::Error::msg)?,
                role,
            )
            .await
        {
            Ok(_) => true,
            Err(IdentityError::EmailTaken) => false,
            Err(other) => return Err(other.into()),
        };
        accounts.push(DemoAccount { email, password, role, created });
    }
    Ok(accounts)
}

/// The demo account's principal, from a real login (the demo admin's decisions are recorded
/// as its own).
async fn signed_in(identity: &Identity, email: &str, password: &str) -> anyhow::Result<Principal> {
    let email = Email::parse(email).map_err(anyhow::Error::msg)?;
    let password = Password::parse(password.to_owned()).map_err(anyhow::Error::msg)?;
    let tokens = identity.login(&email, &password).await?;
    Ok(identity.authenticate(&tokens.access_token).await?)
}

/// Creates the demo stores' owners and applications that are not there yet, and has the demo
/// admin approve the ones meant to be live.
async fn load_stores(identity: &Identity, sellers: &Sellers) -> anyhow::Result<Vec<DemoStore>> {
    let (admin_email, admin_password, ..) = ACCOUNTS[0];
    let admin = signed_in(identity, admin_email, admin_password).await?;
    let mut stores = Vec::new();
    for seed in &STORES {
        match identity
            .create_user(
                Email::parse(seed.email).map_err(anyhow::Error::msg)?,
                Password::parse(seed.password.to_owned()).map_err(anyhow::Error::msg)?,
                PersonName::parse(seed.owner).map_err(anyhow::Error::msg)?,
                Role::Customer,
            )
            .await
        {
            Ok(_) | Err(IdentityError::EmailTaken) => {}
            Err(other) => return Err(other.into()),
        }
        let owner = signed_in(identity, seed.email, seed.password).await?;
        let (mut store, created) = match sellers.store_of_user(owner.user).await? {
            Some(store) => (store, false),
            None => (sellers.apply(&owner, application(seed)?).await?, true),
        };
        if seed.approved && store.status == SellerStatus::Pending {
            store = sellers.decide(&admin, store.id, Decision::Approve, None).await?;
        }
        stores.push(DemoStore {
            slug: seed.slug,
            name: seed.name,
            email: seed.email,
            password: seed.password,
            status: store.status,
            created,
        });
    }
    Ok(stores)
}

fn application(seed: &StoreSeed) -> anyhow::Result<Application> {
    let text = |value: &str| Text::parse(value).map_err(anyhow::Error::msg);
    Ok(Application {
        store_name: text(seed.name)?,
        slug: slug(seed.slug)?,
        description: Text::parse(seed.description).map_err(anyhow::Error::msg)?,
        contact: Contact {
            email: Email::parse(seed.email).map_err(anyhow::Error::msg)?,
            phone: "+62 812 0000 0000".to_owned().try_into().map_err(anyhow::Error::msg)?,
        },
        payout_account: PayoutDestination {
            bank_code: "BCA".to_owned().try_into().map_err(anyhow::Error::msg)?,
            account_number: "1234567890".to_owned().try_into().map_err(anyhow::Error::msg)?,
            account_name: text(seed.owner)?,
        },
    })
}

fn slug(text: &str) -> anyhow::Result<Slug> {
    Slug::parse(text).map_err(anyhow::Error::msg)
}

/// Creates the demo categories, brands and products that are not there yet (by slug).
async fn load_catalog(catalog: &Catalog, sellers: &Sellers) -> anyhow::Result<DemoCatalog> {
    let mut categories = Vec::new();
    for (slug_text, name, parent) in CATEGORIES {
        let created = if catalog.category_by_slug(&slug(slug_text)?).await?.is_some() {
            false
        } else {
            let parent_id = match parent {
                Some(parent) => Some(
                    catalog
                        .category_by_slug(&slug(parent)?)
                        .await?
                        .with_context(|| format!("demo category {parent} is missing"))?
                        .id,
                ),
                None => None,
            };
            let input = CategoryInput {
                name: Text::parse(name).map_err(anyhow::Error::msg)?,
                slug: Some(slug(slug_text)?),
                parent_id,
            };
            catalog.create_category(Actor::System, input).await?;
            true
        };
        categories.push(DemoEntry { slug: slug_text, name, created });
    }

    let mut brands = Vec::new();
    for (slug_text, name) in BRANDS {
        let created = if catalog.brand_by_slug(&slug(slug_text)?).await?.is_some() {
            false
        } else {
            let input = BrandInput {
                name: Text::parse(name).map_err(anyhow::Error::msg)?,
                slug: Some(slug(slug_text)?),
            };
            catalog.create_brand(Actor::System, input).await?;
            true
        };
        brands.push(DemoEntry { slug: slug_text, name, created });
    }

    let mut products = Vec::new();
    for seed in &PRODUCTS {
        let (product, created) = match catalog.product_by_slug(&slug(seed.slug)?).await? {
            Some(existing) => (existing, false),
            None => {
                let seller = match seed.store {
                    Some(store) => Some(
                        sellers
                            .live_store_owner(store)
                            .await?
                            .with_context(|| format!("demo store {store} is not live"))?,
                    ),
                    None => None,
                };
                let mut product =
                    catalog.create_product(Actor::System, new_product(catalog, seed, seller).await?).await?;
                if seed.featured {
                    // Only when the demo creates it: a product the admin took off the home
                    // page stays off on the next run.
                    let change = ProductChange { featured: Some(true), ..ProductChange::default() };
                    product = catalog.update_product(Actor::System, product.id, change).await?;
                }
                (product, true)
            }
        };
        products.push(DemoProduct {
            slug: seed.slug,
            name: seed.name,
            kind: seed.kind,
            created,
            variants: product
                .variants
                .into_iter()
                .map(|v| DemoVariant { id: v.id, sku: v.sku, price: v.price })
                .collect(),
        });
    }
    Ok(DemoCatalog { categories, brands, products })
}

async fn new_product(
    catalog: &Catalog,
    seed: &ProductSeed,
    seller: Option<UserId>,
) -> anyhow::Result<NewProduct> {
    let category = catalog
        .category_by_slug(&slug(seed.category)?)
        .await?
        .with_context(|| format!("demo category {} is missing", seed.category))?;
    let brand = catalog
        .brand_by_slug(&slug(seed.brand)?)
        .await?
        .with_context(|| format!("demo brand {} is missing", seed.brand))?;
    let rupiah = |amount: i64| Price::parse(Money::new(amount, Currency::IDR)).map_err(anyhow::Error::msg);
    let mut variants = Vec::new();
    for &(sku, size, price, reseller_price, weight) in seed.variants {
        let options: BTreeMap<String, String> =
            size.map(|size| ("size".to_owned(), size.to_owned())).into_iter().collect();
        variants.push(NewVariant {
            sku: Sku::parse(sku).map_err(anyhow::Error::msg)?,
            options: VariantOptions::parse(options).map_err(anyhow::Error::msg)?,
            price: rupiah(price)?,
            reseller_price: reseller_price.map(rupiah).transpose()?,
            weight_grams: weight.map(WeightGrams::parse).transpose().map_err(anyhow::Error::msg)?,
        });
    }
    Ok(NewProduct {
        name: Text::parse(seed.name).map_err(anyhow::Error::msg)?,
        slug: Some(slug(seed.slug)?),
        description: Description::parse(seed.description).map_err(anyhow::Error::msg)?,
        kind: seed.kind,
        status: ProductStatus::Active,
        category_id: category.id,
        brand_id: Some(brand.id),
        seller_id: seller,
        variants,
    })
}

// ---- shipping and delivery slots --------------------------------------------------------------

/// (name, country, postal-code prefixes, postal-code ranges)
type ZoneSeed =
    (&'static str, &'static str, &'static [&'static str], &'static [(&'static str, &'static str)]);

const ZONES: [ZoneSeed; 3] = [
    ("Jakarta", "ID", &["10", "11", "12", "13", "14"], &[]),
    ("Indonesia", "ID", &[], &[]),
    // Tokyo's 23 wards and the Tama area: postal codes 100-0000 to 208-9999.
    ("Tokyo", "JP", &[], &[("100-0000", "208-9999")]),
];

/// The Tokyo grocery round's slots, every day: (start, end).
const TOKYO_SLOTS: [(u16, u16); 4] = [(9, 12), (12, 15), (15, 18), (18, 21)];
const TOKYO_SLOT_CAPACITY: i64 = 20;

fn rupiah(amount: i64) -> Money {
    Money::new(amount, Currency::IDR)
}

/// One of the demo's shipping methods, its zones named.
struct DemoMethod {
    code: &'static str,
    name: &'static str,
    rate: Rate,
    free_above: Option<Money>,
    zones: &'static [&'static str],
    days: DeliveryDays,
}

fn methods() -> Vec<DemoMethod> {
    let tier = |up_to_grams, amount| WeightTier { up_to_grams, price: rupiah(amount) };
    vec![
        DemoMethod {
            code: "regular",
            name: "Reguler (2-4 hari)",
            rate: Rate::ByWeight {
                tiers: vec![tier(1_000, 15_000), tier(5_000, 35_000), tier(20_000, 90_000)],
            },
            free_above: Some(rupiah(500_000)),
            zones: &["Jakarta", "Indonesia"],
            days: DeliveryDays { min: 2, max: 4 },
        },
        DemoMethod {
            code: "express",
            name: "Express Jakarta (besok)",
            rate: Rate::Flat { price: rupiah(25_000) },
            free_above: None,
            zones: &["Jakarta"],
            days: DeliveryDays { min: 1, max: 1 },
        },
        // The shop's currency: the demo catalog is priced in rupiah, and a method charges in
        // the currency of what it carries.
        DemoMethod {
            code: "tokyo_same_day",
            name: "Tokyo same-day (in the slot you choose)",
            rate: Rate::Flat { price: rupiah(30_000) },
            free_above: None,
            zones: &["Tokyo"],
            days: DeliveryDays { min: 0, max: 1 },
        },
    ]
}

/// Creates the demo zones, methods and the Tokyo zone's slots that are not there yet (zones by
/// name, methods by code; the slots when the Tokyo zone has none).
async fn load_shipping(shipping: &Shipping, delivery: &Delivery) -> anyhow::Result<Vec<DemoEntry>> {
    let mut entries = Vec::new();
    let mut zone_ids = BTreeMap::new();
    for (name, country, prefixes, ranges) in ZONES {
        let existing = shipping.zones().await?.into_iter().find(|z| z.name == name && z.country == country);
        let (zone, created) = match existing {
            Some(zone) => (zone, false),
            None => {
                let new = NewZone {
                    name: name.to_owned(),
                    country: country.to_owned(),
                    postal_prefixes: prefixes.iter().map(|p| (*p).to_owned()).collect(),
                    postal_ranges: ranges
                        .iter()
                        .map(|(from, to)| PostalRange { from: (*from).to_owned(), to: (*to).to_owned() })
                        .collect(),
                    area: None,
                };
                (shipping.create_zone(new).await?, true)
            }
        };
        zone_ids.insert(name, zone.id);
        entries.push(DemoEntry { slug: "zone", name, created });
    }
    let known = shipping.methods().await?;
    for DemoMethod { code, name, rate, free_above, zones, days: delivery_days } in methods() {
        if known.iter().any(|m| m.code == code) {
            entries.push(DemoEntry { slug: code, name, created: false });
            continue;
        }
        let new = NewMethod {
            code: code.to_owned(),
            name: name.to_owned(),
            currency: Currency::IDR,
            rate,
            free_above,
            zone_ids: zones.iter().map(|z| zone_ids[z]).collect(),
            delivery_days,
        };
        let created = match shipping.create_method(new).await {
            Ok(_) => true,
            // Another loader made it meanwhile.
            Err(ShippingError::CodeTaken(_)) => false,
            Err(other) => return Err(other.into()),
        };
        entries.push(DemoEntry { slug: code, name, created });
    }
    let tokyo = zone_ids["Tokyo"];
    let created = delivery.setup(tokyo).await?.templates.is_empty();
    if created {
        let hour = |h| TimeOfDay::hm(h, 0).context("a demo slot hour");
        for (start, end) in TOKYO_SLOTS {
            let template = NewTemplate {
                weekdays: (1..=7).collect(),
                start: hour(start)?,
                end: hour(end)?,
                capacity: TOKYO_SLOT_CAPACITY,
            };
            delivery.create_template(tokyo, template).await?;
        }
        // Order by noon for the afternoon and evening rounds of the same day.
        let rules = Rules {
            lead_minutes: 60,
            same_day_cutoff: Some(SameDayCutoff { order_by: hour(12)?, for_slots_from: hour(15)? }),
        };
        delivery.set_rules(tokyo, rules).await?;
    }
    entries.push(DemoEntry {
        slug: "slots",
        name: "Tokyo: 09-12, 12-15, 15-18, 18-21 daily, 20 orders each",
        created,
    });
    Ok(entries)
}
