//! One migration history for both backends. Each module owns its migrations (next to its
//! storage code); this runner applies them in version order, each in its own transaction, and
//! refuses to start when an applied migration's text has changed since it ran.

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};
use sqlx::{Executor, Row};

use super::{Db, Dialect};

/// A schema change. `sql` is portable SQL that produces the same schema on SQLite and
/// PostgreSQL; `postgres` overrides it where PostgreSQL needs different text.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
    pub postgres: Option<&'static str>,
}

impl Migration {
    fn sql_for(&self, dialect: Dialect) -> &'static str {
        match (dialect, self.postgres) {
            (Dialect::Postgres, Some(sql)) => sql,
            _ => self.sql,
        }
    }

    fn checksum(&self, dialect: Dialect) -> String {
        hex::encode(Sha256::digest(self.sql_for(dialect).as_bytes()))
    }
}

/// A fingerprint of a schema history, used by tests to name a migrated template database that
/// stays valid until a migration is added.
pub fn schema_fingerprint(migrations: &[&'static Migration]) -> String {
    let mut known = migrations.to_vec();
    known.sort_by_key(|m| m.version);
    let mut hasher = Sha256::new();
    for migration in known {
        hasher.update(migration.version.to_be_bytes());
        hasher.update(migration.checksum(Dialect::Postgres));
    }
    hex::encode(&hasher.finalize()[..6])
}

/// Applies every migration in `known` that has not run yet. Safe to call from several
/// instances at once: PostgreSQL serialises them with an advisory lock, SQLite with its write
/// lock. Checksums of applied migrations must match.
pub async fn migrate(db: &Db, mut known: Vec<&'static Migration>) -> anyhow::Result<usize> {
    known.sort_by_key(|m| m.version);
    let dialect = db.dialect();
    if dialect == Dialect::Sqlite {
        return apply_pending(db, dialect, known).await;
    }
    let mut lock = db.writers.acquire().await?;
    lock.execute("SELECT pg_advisory_lock(7273657275)").await?;
    let result = apply_pending(db, dialect, known).await;
    lock.execute("SELECT pg_advisory_unlock(7273657275)").await?;
    result
}

async fn apply_pending(db: &Db, dialect: Dialect, known: Vec<&'static Migration>) -> anyhow::Result<usize> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            checksum TEXT NOT NULL,
            applied_at BIGINT NOT NULL
        )",
    )
    .execute(&db.writers)
    .await
    .context("creating schema_migrations")?;

    let applied: Vec<(i64, String)> =
        sqlx::query("SELECT version, checksum FROM schema_migrations ORDER BY version")
            .fetch_all(db.reader())
            .await?
            .into_iter()
            .map(|row| (row.get::<i64, _>(0), row.get::<String, _>(1)))
            .collect();

    for (version, checksum) in &applied {
        match known.iter().find(|m| m.version == *version) {
            None => bail!("the database has migration {version}, which this build does not know"),
            Some(m) if m.checksum(dialect) != *checksum => {
                bail!("migration {version} ({}) changed after it was applied", m.name)
            }
            Some(_) => {}
        }
    }

    let mut count = 0;
    for migration in known {
        if applied.iter().any(|(v, _)| *v == migration.version) {
            continue;
        }
        let mut tx = db.begin().await?;
        sqlx::raw_sql(migration.sql_for(dialect))
            .execute(&mut *tx)
            .await
            .with_context(|| format!("applying migration {} ({})", migration.version, migration.name))?;
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(migration.version)
        .bind(migration.name)
        .bind(migration.checksum(dialect))
        .bind(chrono::Utc::now().timestamp_millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(version = migration.version, name = migration.name, "applied migration");
        count += 1;
    }
    Ok(count)
}
