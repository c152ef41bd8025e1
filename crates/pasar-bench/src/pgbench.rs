//! The hot-row baseline on PostgreSQL: how many single-row guarded decrements per second the same
//! server manages with nothing else in the way, measured by pgbench beside the flash sale.

use std::time::Duration;

use anyhow::Context;
use sqlx::{Connection, Executor};

const PGBENCH: &str = "/usr/bin/pgbench";
const SCRIPT: &str = "UPDATE hot SET available = available - 1 WHERE id = 1 AND available > 0;\n";
/// pgbench runs for 10 s; it is killed if it has not finished well after that.
const PGBENCH_LIMIT: Duration = Duration::from_secs(60);

pub struct Baseline {
    pub tps: f64,
    pub command: String,
}

/// Runs pgbench against the bench database; `Ok(None)` (with a printed note) when pgbench is
/// not installed.
pub async fn hot_row(database_url: &str) -> anyhow::Result<Option<Baseline>> {
    if !std::path::Path::new(PGBENCH).exists() {
        println!("pgbench: skipped, {PGBENCH} is not installed");
        return Ok(None);
    }
    let mut db =
        sqlx::AnyConnection::connect(database_url).await.context("connecting to the bench database")?;
    db.execute("CREATE TABLE hot (id INT PRIMARY KEY, available BIGINT NOT NULL)").await?;
    // Far more than 10 s of decrements, so the guard never stops them.
    db.execute("INSERT INTO hot (id, available) VALUES (1, 1000000000)").await?;
    db.close().await?;
    let dir = tempfile::tempdir()?;
    let script = dir.path().join("hot.sql");
    std::fs::write(&script, SCRIPT)?;
    let args = ["-n", "-c", "64", "-j", "2", "-T", "10", "-f"];
    let command = format!("{PGBENCH} {} {} {database_url}", args.join(" "), script.display());
    let output = tokio::time::timeout(
        PGBENCH_LIMIT,
        tokio::process::Command::new(PGBENCH)
            .args(args)
            .arg(&script)
            .arg(database_url)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .context("pgbench ran past its time limit")?
    .context("running pgbench")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(
        output.status.success(),
        "pgbench failed ({}): {}{}",
        output.status,
        stdout,
        String::from_utf8_lossy(&output.stderr)
    );
    let tps = parse_tps(&stdout).with_context(|| format!("no tps line in pgbench's output: {stdout}"))?;
    Ok(Some(Baseline { tps, command }))
}

/// The figure of pgbench's `tps = 1234.5 (without initial connection time)` line.
fn parse_tps(output: &str) -> Option<f64> {
    output
        .lines()
        .find_map(|line| line.trim().strip_prefix("tps = ")?.split_whitespace().next()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::parse_tps;

    #[test]
    fn the_tps_line_is_read() {
        let output = "number of failed transactions: 0 (0.000%)\nlatency average = 4.2 ms\n\
                      initial connection time = 20.1 ms\ntps = 15234.871 (without initial connection time)\n";
        assert_eq!(parse_tps(output), Some(15234.871));
        assert_eq!(parse_tps("no figures"), None);
    }
}
