//! The audit chain's rules, pure: how an entry's hash is made, and how a chain is verified.
//!
//! `hash = hex(HMAC-SHA256(key, prev_hash || canonical(entry)))`, where `canonical` is the JSON
//! array `[seq, event_id, recorded_at, occurred_at, actor, action, entity, before, after]`
//! (times in epoch milliseconds, before and after as the stored JSON text or null) and the
//! first entry's `prev_hash` is 64 zeros. Each entry so commits to every entry before it: an
//! edited entry no longer matches its hash, a deleted or moved one breaks the `prev_hash` link
//! or the run of `seq`, and without the key nobody can recompute the chain. A head (the last
//! seq and hash, kept outside the database) catches a tail cut off the end.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An entry as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub seq: i64,
    pub event_id: String,
    pub recorded_at: i64,
    pub occurred_at: i64,
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

/// What an entry says, before it is chained.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub event_id: String,
    pub recorded_at: i64,
    pub occurred_at: i64,
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// The last entry of the chain: its seq and hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub seq: i64,
    pub hash: String,
}

impl Head {
    /// `"<seq> <hash>"`, as kept in the head file.
    pub fn to_line(&self) -> String {
        format!("{} {}\n", self.seq, self.hash)
    }

    pub fn parse(line: &str) -> Option<Self> {
        let (seq, hash) = line.trim().split_once(' ')?;
        let hash = hash.trim();
        (hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Some(Self { seq: seq.parse().ok()?, hash: hash.to_owned() }))
            .flatten()
    }
}

type HmacSha256 = Hmac<Sha256>;

/// The hash `entry` must have, given its contents and `prev_hash` (its own `hash` is ignored).
pub fn hash_of(key: &[u8], entry: &Entry) -> String {
    let canonical = serde_json::json!([
        entry.seq,
        entry.event_id,
        entry.recorded_at,
        entry.occurred_at,
        entry.actor,
        entry.action,
        entry.entity,
        entry.before,
        entry.after,
    ]);
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key");
    mac.update(entry.prev_hash.as_bytes());
    mac.update(canonical.to_string().as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The entry that follows `last` (or starts the chain) with `record`'s contents.
pub fn next_entry(key: &[u8], last: Option<&Head>, record: Record) -> Entry {
    let (seq, prev_hash) = match last {
        Some(head) => (head.seq + 1, head.hash.clone()),
        None => (1, GENESIS.to_owned()),
    };
    let mut entry = Entry {
        seq,
        event_id: record.event_id,
        recorded_at: record.recorded_at,
        occurred_at: record.occurred_at,
        actor: record.actor,
        action: record.action,
        entity: record.entity,
        before: record.before,
        after: record.after,
        prev_hash,
        hash: String::new(),
    };
    entry.hash = hash_of(key, &entry);
    entry
}

/// Why verification stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The entry's contents do not match its hash.
    Edited,
    /// The entry's `prev_hash` is not the hash of the entry before it.
    Unlinked,
    /// The entry's seq is not the one expected at its place.
    SeqGap { expected: i64 },
    /// The head says the chain goes on to `head_seq`; it ends earlier.
    Truncated { head_seq: i64 },
    /// The entry at the head's seq has another hash than the head recorded.
    HeadMismatch,
    /// There are entries but no head to check the end of the chain against.
    HeadMissing,
}

/// The first entry at which the chain is broken, and why. `event_id` is absent when the broken
/// place is past the end (a truncated tail).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Break {
    pub seq: i64,
    pub event_id: Option<String>,
    pub problem: Problem,
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.event_id {
            Some(event) => write!(f, "entry seq {} (event {event}): ", self.seq)?,
            None => write!(f, "entry seq {}: ", self.seq)?,
        }
        match &self.problem {
            Problem::Edited => f.write_str("hash mismatch: the entry was edited"),
            Problem::Unlinked => f.write_str(
                "prev_hash mismatch: the entry before it was deleted or the entries were reordered",
            ),
            Problem::SeqGap { expected } => write!(
                f,
                "seq gap (expected seq {expected}): an entry was deleted or the entries were reordered"
            ),
            Problem::Truncated { head_seq } => write!(
                f,
                "missing: the head records seq {head_seq} but the chain ends before it; the tail was truncated"
            ),
            Problem::HeadMismatch => {
                f.write_str("head mismatch: the entry differs from the one the head recorded")
            }
            Problem::HeadMissing => f.write_str("no head file to check the end of the chain against"),
        }
    }
}

/// Walks a chain in seq order, one entry at a time, so a long chain need not sit in memory.
pub struct Verifier<'k> {
    key: &'k [u8],
    last: Option<Head>,
    head: Option<Head>,
    head_seen: bool,
    count: u64,
}

impl<'k> Verifier<'k> {
    /// `head` is the latest (seq, hash) recorded outside the database, if any.
    pub fn new(key: &'k [u8], head: Option<Head>) -> Self {
        Self { key, last: None, head, head_seen: false, count: 0 }
    }

    /// Checks the next entry (in the order storage gives by seq).
    pub fn push(&mut self, entry: &Entry) -> Result<(), Break> {
        let broken = |problem| Break { seq: entry.seq, event_id: Some(entry.event_id.clone()), problem };
        let (expected_seq, expected_prev) = match &self.last {
            Some(last) => (last.seq + 1, last.hash.as_str()),
            None => (1, GENESIS),
        };
        if entry.seq != expected_seq {
            return Err(broken(Problem::SeqGap { expected: expected_seq }));
        }
        if entry.prev_hash != expected_prev {
            return Err(broken(Problem::Unlinked));
        }
        if hash_of(self.key, entry) != entry.hash {
            return Err(broken(Problem::Edited));
        }
        if let Some(head) = &self.head {
            if head.seq == entry.seq {
                if head.hash != entry.hash {
                    return Err(broken(Problem::HeadMismatch));
                }
                self.head_seen = true;
            }
        }
        self.last = Some(Head { seq: entry.seq, hash: entry.hash.clone() });
        self.count += 1;
        Ok(())
    }

    /// After the last entry: checks that the chain reaches the head. Returns the entry count.
    pub fn finish(self) -> Result<u64, Break> {
        let end = self.last.as_ref().map_or(0, |last| last.seq);
        match &self.head {
            Some(head) if !self.head_seen => Err(Break {
                seq: end + 1,
                event_id: None,
                problem: Problem::Truncated { head_seq: head.seq },
            }),
            None if self.count > 0 => Err(Break { seq: end, event_id: None, problem: Problem::HeadMissing }),
            _ => Ok(self.count),
        }
    }
}

/// Verifies a whole chain given in seq order against its head: the number of entries, or the
/// first broken one.
pub fn verify<'e>(
    key: &[u8],
    entries: impl IntoIterator<Item = &'e Entry>,
    head: Option<Head>,
) -> Result<u64, Break> {
    let mut verifier = Verifier::new(key, head);
    for entry in entries {
        verifier.push(entry)?;
    }
    verifier.finish()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const KEY: &[u8] = b"an audit key of at least 32 chars!";

    fn record(i: usize) -> Record {
        Record {
            event_id: format!("evt_{i:032}"),
            recorded_at: 1_700_000_000_000 + i as i64,
            occurred_at: 1_700_000_000_000 + i as i64,
            actor: format!("usr_{i}"),
            action: "user.role_changed".into(),
            entity: format!("usr_{}", i % 3),
            before: (i % 2 == 0).then(|| format!(r#"{{"role":"customer{i}"}}"#)),
            after: Some(format!(r#"{{"role":"seller{i}"}}"#)),
        }
    }

    fn chain_of(records: Vec<Record>) -> (Vec<Entry>, Option<Head>) {
        let mut entries: Vec<Entry> = Vec::new();
        for record in records {
            let last = entries.last().map(|e| Head { seq: e.seq, hash: e.hash.clone() });
            entries.push(next_entry(KEY, last.as_ref(), record));
        }
        let head = entries.last().map(|e| Head { seq: e.seq, hash: e.hash.clone() });
        (entries, head)
    }

    fn chain(n: usize) -> (Vec<Entry>, Option<Head>) {
        chain_of((0..n).map(record).collect())
    }

    /// Changes one of an entry's eleven stored fields.
    fn edit(entry: &mut Entry, field: usize) {
        match field {
            0 => entry.seq += 100,
            1 => entry.event_id.push('x'),
            2 => entry.recorded_at += 1,
            3 => entry.occurred_at -= 1,
            4 => entry.actor.push('x'),
            5 => entry.action.push('x'),
            6 => entry.entity.push('x'),
            7 => entry.before = Some(entry.before.take().map_or("{}".into(), |b| b.replace('r', "R"))),
            8 => entry.after = entry.after.take().map(|a| a.replace("seller", "admin")),
            9 => {
                let flipped = if entry.prev_hash.starts_with('0') { "1" } else { "0" };
                entry.prev_hash.replace_range(..1, flipped);
            }
            _ => entry.hash = "0".repeat(64),
        }
    }

    #[test]
    fn an_intact_chain_verifies_and_starts_from_sixty_four_zeros() {
        let (entries, head) = chain(5);
        assert_eq!(entries[0].prev_hash, GENESIS);
        assert_eq!(entries[0].seq, 1);
        assert_eq!(verify(KEY, &entries, head), Ok(5));
        assert_eq!(verify(KEY, &[], None), Ok(0));
    }

    #[test]
    fn another_key_cannot_verify_the_chain() {
        let (entries, head) = chain(2);
        let err = verify(b"some other key of at least 32 chars", &entries, head).unwrap_err();
        assert_eq!((err.seq, err.problem), (1, Problem::Edited));
    }

    #[test]
    fn a_cut_tail_is_caught_by_the_head_and_a_missing_head_is_reported() {
        let (mut entries, head) = chain(4);
        entries.pop();
        let err = verify(KEY, &entries, head).unwrap_err();
        assert_eq!(err, Break { seq: 4, event_id: None, problem: Problem::Truncated { head_seq: 4 } });
        assert!(err.to_string().contains("truncated"), "{err}");
        assert_eq!(verify(KEY, &entries, None).unwrap_err().problem, Problem::HeadMissing);
    }

    #[test]
    fn a_chain_rewritten_past_the_head_is_caught() {
        let (entries, head) = chain(3);
        let (other, _) = chain_of((10..13).map(record).collect());
        let err = verify(KEY, &other, head.clone()).unwrap_err();
        assert_eq!((err.seq, err.problem), (3, Problem::HeadMismatch));
        let head_line = head.unwrap().to_line();
        assert_eq!(Head::parse(&head_line).map(|h| h.seq), Some(3));
        assert_eq!(verify(KEY, &entries, Head::parse(&head_line)), Ok(3));
        assert_eq!(Head::parse("3 nothex"), None);
    }

    proptest! {
        #[test]
        fn editing_any_field_of_any_entry_is_caught_at_that_entry(
            n in 1usize..10, at in 0usize..10, field in 0usize..11,
        ) {
            let at = at % n;
            let (mut entries, head) = chain(n);
            edit(&mut entries[at], field);
            let err = verify(KEY, &entries, head).unwrap_err();
            prop_assert_eq!(err.event_id.as_ref(), Some(&entries[at].event_id), "{}", err);
        }

        #[test]
        fn deleting_an_entry_is_caught_at_the_one_after_it_or_by_the_head(n in 1usize..10, at in 0usize..10) {
            let at = at % n;
            let (mut entries, head) = chain(n);
            entries.remove(at);
            let err = verify(KEY, &entries, head).unwrap_err();
            if at < n - 1 {
                prop_assert_eq!(err.seq, at as i64 + 2);
                prop_assert_eq!(err.event_id.as_ref(), Some(&entries[at].event_id));
                prop_assert_eq!(err.problem, Problem::SeqGap { expected: at as i64 + 1 });
            } else {
                prop_assert_eq!(err.problem, Problem::Truncated { head_seq: n as i64 });
            }
        }

        #[test]
        fn swapping_two_entries_contents_is_caught_at_the_first_of_them(
            n in 2usize..10, a in 0usize..10, b in 0usize..10,
        ) {
            let (a, b) = (a % n, b % n);
            prop_assume!(a != b);
            let (first, second) = (a.min(b), a.max(b));
            let (mut entries, head) = chain(n);
            // Everything but seq moves, as when two rows' contents are exchanged in place.
            let (seq_first, seq_second) = (entries[first].seq, entries[second].seq);
            entries.swap(first, second);
            entries[first].seq = seq_first;
            entries[second].seq = seq_second;
            let err = verify(KEY, &entries, head).unwrap_err();
            prop_assert_eq!(err.seq, first as i64 + 1);
            prop_assert_eq!(err.problem, Problem::Unlinked);
        }
    }
}
