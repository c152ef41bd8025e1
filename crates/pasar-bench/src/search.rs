//! The search scenario's catalog and queries: products named from a small vocabulary in
//! Indonesian, English and Japanese, written through the catalog service (100,000 over HTTP
//! would take longer than the load itself) and indexed the way production indexes them: by the
//! outbox relay.

use std::time::Duration;

use anyhow::Context;
use pasar::catalog::{Actor, BrandInput, CategoryInput, NewProduct};
use pasar::http::AppState;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;
use sqlx::Row;
use tokio::time::Instant;

use crate::vocabulary::{ENGLISH, INDONESIAN, JAPANESE, SIZES};

const CATEGORIES: usize = 20;
const BRANDS: usize = 30;
/// Products written at once (SQLite has one writer; more only queue).
const WRITERS: usize = 8;

/// A product name: two to four words of one language and a size.
fn name(rng: &mut StdRng, i: usize) -> String {
    let words = [INDONESIAN, ENGLISH, JAPANESE][i % 3];
    let count = rng.gen_range(2..=4);
    let mut picked: Vec<&str> = words.choose_multiple(rng, count).copied().collect();
    picked.push(SIZES.choose(rng).copied().unwrap_or("1kg"));
    if i % 3 == 2 {
        // Japanese runs its words together, with a space before the size only.
        let size = picked.pop().unwrap_or_default();
        format!("{} {size}", picked.concat())
    } else {
        let mut name = picked.join(" ");
        if let Some(first) = name.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        name
    }
}

/// Writes `count` active products in categories and brands of their own, then waits for the
/// relay to index them all. Returns how long indexing took after the last write.
pub async fn catalog(state: &AppState, count: usize) -> anyhow::Result<Duration> {
    let catalog = &state.catalog;
    let mut categories = Vec::new();
    for i in 0..CATEGORIES {
        let input: CategoryInput = serde_json::from_value(json!({"name": format!("Kategori {i}")}))?;
        categories.push(catalog.create_category(Actor::System, input).await?.id);
    }
    let mut brands = Vec::new();
    for i in 0..BRANDS {
        let input: BrandInput = serde_json::from_value(json!({"name": format!("Merek {i}")}))?;
        brands.push(catalog.create_brand(Actor::System, input).await?.id);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let catalog = catalog.clone();
        let (categories, brands) = (categories.clone(), brands.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(writer as u64);
            for i in (writer..count).step_by(WRITERS) {
                let product: NewProduct = serde_json::from_value(json!({
                    "name": name(&mut rng, i),
                    "slug": format!("p-{i}"),
                    "description": "",
                    "kind": "physical",
                    "status": "active",
                    "category_id": categories[i % categories.len()],
                    "brand_id": brands[(i / 3) % brands.len()],
                    "variants": [{"sku": format!("S-{i}"), "options": {},
                                  "price": {"amount": rng.gen_range(1..5_000) * 100, "currency": "IDR"}}],
                }))?;
                catalog.create_product(Actor::System, product).await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await.context("a seeding task")??;
    }
    println!("wrote {count} products in {:.1} s; the relay indexes them", started.elapsed().as_secs_f64());
    let written = Instant::now();
    loop {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM outbox_events WHERE published_at IS NULL")
            .fetch_one(state.db.reader())
            .await?;
        if row.try_get::<i64, _>("n")? == 0 && state.search.len() >= count as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(written.elapsed())
}

/// The queries of the load: single words, pairs, words being typed, typos and Japanese, some
/// with a filter or another order. Every search counts its facets.
pub fn queries(count: usize) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(42);
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    let latin = || INDONESIAN.iter().chain(ENGLISH).copied().collect::<Vec<_>>();
    let latin = latin();
    (0..count)
        .map(|i| {
            let word = latin.choose(&mut rng).copied().unwrap_or("kopi");
            let q = match i % 6 {
                0 => format!("{word} "),
                1 => format!("{word} {} ", latin.choose(&mut rng).copied().unwrap_or("teh")),
                // Typing: the first letters only.
                2 => word.chars().take(3.max(word.len() / 2)).collect(),
                // A typo: two neighbours swapped in a long word.
                3 if word.len() >= 5 => {
                    let mut chars: Vec<char> = word.chars().collect();
                    chars.swap(1, 2);
                    format!("{} ", chars.into_iter().collect::<String>())
                }
                _ => JAPANESE.choose(&mut rng).copied().unwrap_or("牛乳").to_owned(),
            };
            let extra = match i % 5 {
                0 => "&sort=price_asc",
                1 => "&price_min=10000&price_max=200000",
                _ => "",
            };
            format!("/v1/search?q={}{extra}", encode(&q))
        })
        .collect()
}

/// Suggestion requests: the first letters of words, as a shopper types them.
pub fn suggestions(count: usize) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(7);
    (0..count)
        .map(|_| {
            let word = INDONESIAN.iter().chain(ENGLISH).copied().collect::<Vec<_>>();
            let word = word.choose(&mut rng).copied().unwrap_or("kopi");
            let typed: String = word.chars().take(rng.gen_range(2..=word.len().max(2))).collect();
            format!("/v1/search/suggest?q={typed}")
        })
        .collect()
}
