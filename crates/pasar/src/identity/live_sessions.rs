//! Live sessions remembered in memory for a short while, so that authenticating a request does
//! not read the database each time.
//!
//! Why it is never stale on this instance: every path that ends a session or changes a role
//! forgets the affected entries right after its commit. A check that read the database while
//! such a change committed could file the old answer after the forgetting; so forgetting first
//! bumps an epoch, and a check that sees the epoch moved while it ran drops what it filed.
//! Other instances sharing the database learn of the change when their entry expires (the TTL).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dashmap::DashMap;

use super::domain::Role;
use crate::ids::{SessionId, UserId};

/// Most sessions remembered at once; beyond it a check simply reads the database.
const MAX_ENTRIES: usize = 100_000;

struct Entry {
    user: UserId,
    role: Role,
    checked_at: Instant,
}

pub struct LiveSessions {
    ttl: Duration,
    epoch: AtomicU64,
    entries: DashMap<SessionId, Entry>,
}

/// What a check must hand back to [`LiveSessions::remember`]: the epoch it started in.
#[derive(Clone, Copy)]
pub struct Epoch(u64);

impl LiveSessions {
    /// A zero `ttl` remembers nothing.
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, epoch: AtomicU64::new(0), entries: DashMap::new() }
    }

    /// The role of `user` in the live `session`, if it was checked within the TTL.
    pub fn role(&self, session: SessionId, user: UserId) -> Option<Role> {
        let entry = self.entries.get(&session)?;
        (entry.user == user && entry.checked_at.elapsed() < self.ttl).then_some(entry.role)
    }

    /// To be taken before reading the database for a check.
    pub fn epoch(&self) -> Epoch {
        Epoch(self.epoch.load(Ordering::SeqCst))
    }

    /// Files a check's answer read from the database since `since`.
    pub fn remember(&self, since: Epoch, session: SessionId, user: UserId, role: Role) {
        if self.ttl.is_zero() || self.entries.len() >= MAX_ENTRIES {
            return;
        }
        self.entries.insert(session, Entry { user, role, checked_at: Instant::now() });
        if self.epoch.load(Ordering::SeqCst) != since.0 {
            // A session ended or a role changed while the database was read: this answer may
            // predate it, and the forgetting may have run before it was filed.
            self.entries.remove(&session);
        }
    }

    /// Forgets one session (it was just revoked).
    pub fn forget_session(&self, session: SessionId) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.entries.remove(&session);
    }

    /// Forgets every session of `user` (their role just changed).
    pub fn forget_user(&self, user: UserId) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.entries.retain(|_, entry| entry.user != user);
    }

    /// Drops expired entries, so memory follows the sessions in use.
    pub fn forget_expired(&self) {
        self.entries.retain(|_, entry| entry.checked_at.elapsed() < self.ttl);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> LiveSessions {
        LiveSessions::new(Duration::from_secs(60))
    }

    #[test]
    fn a_remembered_session_is_served_for_its_user_only() {
        let (sessions, session, user) = (cache(), SessionId::new(), UserId::new());
        sessions.remember(sessions.epoch(), session, user, Role::Customer);
        assert_eq!(sessions.role(session, user), Some(Role::Customer));
        assert_eq!(sessions.role(session, UserId::new()), None);
    }

    #[test]
    fn forgetting_a_session_or_a_user_takes_effect_at_once() {
        let (sessions, user) = (cache(), UserId::new());
        let (first, second) = (SessionId::new(), SessionId::new());
        sessions.remember(sessions.epoch(), first, user, Role::Customer);
        sessions.remember(sessions.epoch(), second, user, Role::Customer);
        sessions.forget_session(first);
        assert_eq!(sessions.role(first, user), None);
        assert_eq!(sessions.role(second, user), Some(Role::Customer));
        sessions.forget_user(user);
        assert_eq!(sessions.role(second, user), None);
    }

    #[test]
    fn an_answer_read_across_a_revocation_is_not_kept() {
        let (sessions, session, user) = (cache(), SessionId::new(), UserId::new());
        let since = sessions.epoch();
        // The session is revoked while the check still reads the database.
        sessions.forget_session(session);
        sessions.remember(since, session, user, Role::Customer);
        assert_eq!(sessions.role(session, user), None);
    }

    #[test]
    fn entries_expire_and_a_zero_ttl_remembers_nothing() {
        let (session, user) = (SessionId::new(), UserId::new());
        let expiring = LiveSessions::new(Duration::from_millis(1));
        expiring.remember(expiring.epoch(), session, user, Role::Customer);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(expiring.role(session, user), None);
        expiring.forget_expired();
        assert!(expiring.entries.is_empty());

        let off = LiveSessions::new(Duration::ZERO);
        off.remember(off.epoch(), session, user, Role::Customer);
        assert_eq!(off.role(session, user), None);
    }
}
