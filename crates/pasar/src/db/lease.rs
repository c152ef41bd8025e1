//! Turns for jobs that run once across all instances (reconciliation, pruning): whoever takes
//! the lease runs the job and holds it for the job's interval.

use std::time::Duration;

use super::{Db, Migration};
use crate::time::Timestamp;

pub static MIGRATIONS: &[Migration] = &[Migration {
    version: 2026112300,
    name: "jobs: leases for once-per-cluster jobs",
    sql: "CREATE TABLE job_leases (
            name TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            lease_until BIGINT NOT NULL
          );",
    postgres: None,
}];

/// This instance, as a holder of job leases.
#[derive(Clone)]
pub struct Leases {
    db: Db,
    holder: String,
}

impl Leases {
    pub fn new(db: Db) -> Self {
        Self { db, holder: uuid::Uuid::now_v7().simple().to_string() }
    }

    /// Takes `job`'s turn for `interval` if no instance holds it now; true when this instance
    /// should run the job.
    pub async fn take_turn(
        &self,
        job: &str,
        interval: Duration,
        now: Timestamp,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "INSERT INTO job_leases (name, holder, lease_until) VALUES ($1, '', 0) ON CONFLICT (name) DO NOTHING",
        )
        .bind(job)
        .execute(&mut *tx)
        .await?;
        let taken = sqlx::query(
            "UPDATE job_leases SET holder = $1, lease_until = $2 WHERE name = $3 AND lease_until <= $4",
        )
        .bind(&self.holder)
        .bind(now.plus(interval).millis())
        .bind(job)
        .bind(now.millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(taken.rows_affected() == 1)
    }
}
