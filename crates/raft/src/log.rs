//! The in-memory Raft log: a snapshot boundary and the entries after it.

use crate::types::{Entry, Index, Snapshot, Term};

#[derive(Clone, Debug)]
pub struct Log {
    /// Everything up to `snapshot.last_index` is compacted into the snapshot.
    pub snapshot: Snapshot,
    /// Entries `snapshot.last_index + 1 ..`, contiguous.
    entries: Vec<Entry>,
}

impl Log {
    pub fn new(snapshot: Snapshot, entries: Vec<Entry>) -> Log {
        let log = Log { snapshot, entries };
        log.check();
        log
    }

    pub fn snapshot_index(&self) -> Index {
        self.snapshot.last_index
    }

    pub fn last_index(&self) -> Index {
        self.entries
            .last()
            .map_or(self.snapshot.last_index, |e| e.index)
    }

    pub fn last_term(&self) -> Term {
        self.entries
            .last()
            .map_or(self.snapshot.last_term, |e| e.term)
    }

    /// The term of the entry at `index`, if this log still knows it (the snapshot
    /// boundary counts: its term is kept).
    pub fn term_at(&self, index: Index) -> Option<Term> {
        if index == self.snapshot.last_index {
            return Some(self.snapshot.last_term);
        }
        self.entry(index).map(|e| e.term)
    }

    pub fn entry(&self, index: Index) -> Option<&Entry> {
        if index <= self.snapshot.last_index {
            return None;
        }
        self.entries
            .get((index - self.snapshot.last_index - 1) as usize)
    }

    /// Entries from `from` (inclusive), at most `max` of them.
    pub fn slice(&self, from: Index, max: usize) -> &[Entry] {
        debug_assert!(from > self.snapshot.last_index);
        let start = (from - self.snapshot.last_index - 1) as usize;
        let start = start.min(self.entries.len());
        let end = (start + max).min(self.entries.len());
        &self.entries[start..end]
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn push(&mut self, entry: Entry) {
        assert_eq!(entry.index, self.last_index() + 1, "log stays contiguous");
        assert!(
            entry.term >= self.last_term(),
            "terms never decrease along a log"
        );
        self.entries.push(entry);
    }

    /// Deletes every entry at or after `index`.
    pub fn truncate_from(&mut self, index: Index) {
        assert!(
            index > self.snapshot.last_index,
            "never truncate into the snapshot"
        );
        self.entries
            .truncate((index - self.snapshot.last_index - 1) as usize);
    }

    /// Replaces the prefix up to `snapshot.last_index` by the snapshot. Entries after
    /// it are kept only if this log holds the snapshot's last entry (same index and
    /// term); otherwise the whole log is discarded (paper §7, classic mistake 14).
    pub fn install_snapshot(&mut self, snapshot: Snapshot) {
        assert!(snapshot.last_index > self.snapshot.last_index);
        if self.term_at(snapshot.last_index) == Some(snapshot.last_term) {
            let keep_from = (snapshot.last_index - self.snapshot.last_index) as usize;
            self.entries.drain(..keep_from);
        } else {
            self.entries.clear();
        }
        self.snapshot = snapshot;
        self.check();
    }

    /// Log invariants: contiguous indexes after the snapshot, terms non-decreasing.
    pub fn check(&self) {
        let mut prev_index = self.snapshot.last_index;
        let mut prev_term = self.snapshot.last_term;
        for e in &self.entries {
            assert_eq!(e.index, prev_index + 1, "log is contiguous");
            assert!(e.term >= prev_term, "terms never decrease along a log");
            prev_index = e.index;
            prev_term = e.term;
        }
    }
}
