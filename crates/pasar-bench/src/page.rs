//! The storefront page's weight: what a browser's first visit to a product page transfers,
//! compressed as a browser asks for it (gzip), the page and every file it loads.

use anyhow::Context;

/// The budget the storefront keeps for a product page and what it loads.
const BUDGET_BYTES: usize = 100 * 1024;

/// Fetches `path` and each `/static/…` file it names, with `Accept-Encoding: gzip`, and prints
/// each one's transferred size and the sum against the budget.
pub async fn print_weight(base: &str, path: &str) -> anyhow::Result<()> {
    // reqwest here has no gzip feature, so a body is counted as it came over the wire.
    let client = reqwest::Client::new();
    let fetch = |url: String| {
        let client = client.clone();
        async move {
            let response = client.get(&url).header("accept-encoding", "gzip").send().await?;
            anyhow::ensure!(response.status().is_success(), "GET {url}: {}", response.status());
            let encoding = response
                .headers()
                .get("content-encoding")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("identity");
            let encoding = encoding.to_owned();
            let body = response.bytes().await?;
            Ok::<_, anyhow::Error>((body, encoding))
        }
    };
    let (html, encoding) = fetch(format!("{base}{path}")).await?;
    let mut parts = vec![(path.to_owned(), html.len(), encoding)];
    // The templates write `/` in attribute values as `&#x2f;`.
    let text = decompressed(&html, &parts[0].2)?.replace("&#x2f;", "/");
    let mut assets: Vec<&str> = text.split('"').filter(|piece| piece.starts_with("/static/")).collect();
    assets.sort_unstable();
    assets.dedup();
    for asset in assets {
        let (body, encoding) = fetch(format!("{base}{asset}")).await?;
        parts.push((asset.to_owned(), body.len(), encoding));
    }
    let total: usize = parts.iter().map(|(_, bytes, _)| bytes).sum();
    println!("product page weight, first visit (Accept-Encoding: gzip):");
    for (name, bytes, encoding) in &parts {
        println!("  {name:<48} {bytes:>7} B ({encoding})");
    }
    let verdict = if total <= BUDGET_BYTES { "within" } else { "OVER" };
    println!("  total {:.1} KB, {verdict} the {} KB budget", total as f64 / 1024.0, BUDGET_BYTES / 1024);
    Ok(())
}

/// The page's HTML, to find what it loads.
fn decompressed(body: &[u8], encoding: &str) -> anyhow::Result<String> {
    match encoding {
        "gzip" => {
            use std::io::Read;
            let mut text = String::new();
            flate2::read::GzDecoder::new(body).read_to_string(&mut text).context("the page's gzip")?;
            Ok(text)
        }
        _ => Ok(String::from_utf8_lossy(body).into_owned()),
    }
}
