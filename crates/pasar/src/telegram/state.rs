//! Where the bot keeps what it remembers between updates: each user's conversation (24 hours
//! after its last change at most) and their actions in the current minute. In the database and
//! in memory by default; in Redis when `REDIS_URL` is set, so that every instance behind a load
//! balancer sees the same conversation and counts the same limit.

use std::time::{Duration, Instant};

use dashmap::DashMap;
use redis::aio::ConnectionManager;

use super::domain::Conversation;
use super::store;
use crate::db::Db;
use crate::time::Clock;

/// How long a conversation's state lasts without a change (seed 000: sessions with a TTL).
pub const CONVERSATION_TTL: Duration = Duration::from_secs(24 * 3600);

/// A Redis connection and the prefix of every key Pasar writes there.
#[derive(Clone)]
pub struct Redis {
    connection: ConnectionManager,
    prefix: String,
}

impl Redis {
    /// Connects to `url`; the manager reconnects by itself after the server restarts.
    pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let connection = tokio::time::timeout(Duration::from_secs(10), client.get_connection_manager())
            .await
            .map_err(|_| anyhow::anyhow!("Redis at the configured REDIS_URL did not answer in 10 s"))??;
        Ok(Self { connection, prefix: prefix.to_owned() })
    }

    fn key(&self, parts: &str) -> String {
        format!("{}{parts}", self.prefix)
    }

    async fn query<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> redis::RedisResult<T> {
        command.query_async(&mut self.connection.clone()).await
    }
}

/// Each user's conversation.
#[derive(Clone)]
pub enum Conversations {
    Database { db: Db, clock: Clock },
    Redis(Redis),
}

impl Conversations {
    /// The user's conversation; `Idle` when none is kept or it is older than the TTL.
    pub async fn get(&self, telegram_id: i64) -> anyhow::Result<Conversation> {
        let text = match self {
            Conversations::Database { db, clock } => {
                match store::conversation(db.reader(), telegram_id).await? {
                    Some((state, at)) if clock.now().duration_since(at) < CONVERSATION_TTL => Some(state),
                    _ => None,
                }
            }
            Conversations::Redis(redis) => {
                let key = redis.key(&format!("telegram:conversation:{telegram_id}"));
                redis.query::<Option<String>>(redis::cmd("GET").arg(&key)).await?
            }
        };
        // A state written by an older version that no longer parses is as good as none.
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default())
    }

    /// Keeps `state` for the user (for the TTL); `Idle` forgets what was kept.
    pub async fn set(&self, telegram_id: i64, state: &Conversation) -> anyhow::Result<()> {
        match self {
            Conversations::Database { db, clock } => {
                let text = serde_json::to_string(state)?;
                store::set_conversation(db, telegram_id, &text, clock.now()).await?;
            }
            Conversations::Redis(redis) => {
                let key = redis.key(&format!("telegram:conversation:{telegram_id}"));
                if *state == Conversation::Idle {
                    redis.query::<()>(redis::cmd("DEL").arg(&key)).await?;
                } else {
                    let text = serde_json::to_string(state)?;
                    let ttl = CONVERSATION_TTL.as_secs();
                    redis.query::<()>(redis::cmd("SET").arg(&key).arg(text).arg("EX").arg(ttl)).await?;
                }
            }
        }
        Ok(())
    }
}

/// Whether a user may act now.
#[derive(Debug, PartialEq, Eq)]
pub enum Allowed {
    Yes,
    /// Over the limit; `tell` for the first action over it in this minute.
    No {
        tell: bool,
    },
}

impl Allowed {
    fn of(count: u64, limit: u32) -> Self {
        match count.checked_sub(u64::from(limit)) {
            None | Some(0) => Allowed::Yes,
            Some(over) => Allowed::No { tell: over == 1 },
        }
    }
}

/// Actions per user per minute: counted in this process, or in Redis for every instance.
pub enum ActionLimit {
    Off,
    InProcess { limit: u32, counts: DashMap<i64, (Instant, u64)> },
    Redis { limit: u32, redis: Redis },
}

impl ActionLimit {
    pub fn new(limit: u32, redis: Option<Redis>) -> Self {
        match (limit, redis) {
            (0, _) => ActionLimit::Off,
            (limit, None) => ActionLimit::InProcess { limit, counts: DashMap::new() },
            (limit, Some(redis)) => ActionLimit::Redis { limit, redis },
        }
    }

    /// Counts one action of the user.
    pub async fn take(&self, telegram_id: i64) -> anyhow::Result<Allowed> {
        match self {
            ActionLimit::Off => Ok(Allowed::Yes),
            ActionLimit::InProcess { limit, counts } => {
                let now = Instant::now();
                let mut entry = counts.entry(telegram_id).or_insert((now, 0));
                let (start, count) = &mut *entry;
                if now.duration_since(*start) >= Duration::from_secs(60) {
                    (*start, *count) = (now, 0);
                }
                *count += 1;
                Ok(Allowed::of(*count, *limit))
            }
            ActionLimit::Redis { limit, redis } => {
                // One counter per user and wall-clock minute, gone a minute after it ends.
                let minute = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() / 60);
                let key = redis.key(&format!("telegram:actions:{telegram_id}:{minute}"));
                let (count, _): (u64, bool) = redis::pipe()
                    .atomic()
                    .cmd("INCR")
                    .arg(&key)
                    .cmd("EXPIRE")
                    .arg(&key)
                    .arg(120)
                    .query_async(&mut redis.connection.clone())
                    .await?;
                Ok(Allowed::of(count, *limit))
            }
        }
    }

    /// Forgets the counts of users idle for a minute (in-process only; Redis expires its own).
    pub fn forget_idle(&self) {
        if let ActionLimit::InProcess { counts, .. } = self {
            counts.retain(|_, (start, _)| start.elapsed() < Duration::from_secs(60));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_action_over_the_limit_is_told_and_the_later_ones_are_not() {
        assert_eq!(Allowed::of(3, 3), Allowed::Yes);
        assert_eq!(Allowed::of(4, 3), Allowed::No { tell: true });
        assert_eq!(Allowed::of(5, 3), Allowed::No { tell: false });
    }

    #[tokio::test]
    async fn in_process_counts_start_again_for_each_user() {
        let limit = ActionLimit::new(2, None);
        assert_eq!(limit.take(1).await.unwrap(), Allowed::Yes);
        assert_eq!(limit.take(1).await.unwrap(), Allowed::Yes);
        assert_eq!(limit.take(1).await.unwrap(), Allowed::No { tell: true });
        assert_eq!(limit.take(2).await.unwrap(), Allowed::Yes);
        assert_eq!(ActionLimit::new(0, None).take(1).await.unwrap(), Allowed::Yes);
    }
}
