//! The WAL chain is connected (issue 22, check 3): after every transaction ZooKeeper
//! applies, the published snapshot plus the WALs form one chain from index 0, and that
//! chain holds every acknowledged write: the property a blank recovery (step [4])
//! depends on. Judged on ZooKeeper's applied transactions:
//!
//! - the chain starts at the published snapshot (`/snapshot` and its `/snap/<i>`
//!   header: index and term), or at (0, 0);
//! - WALs join it in term order (their names sort by term); a WAL joins where its
//!   header's `(prev_index, prev_term)` is found: the snapshot's last entry, an entry
//!   already in the chain, or an index the snapshot covers. A WAL that does not join
//!   is a violation once its header exists (a reader could not connect it);
//! - a WAL's entries follow its start contiguously (a gap ends its run); each is
//!   merged as Raft appends: an entry the chain holds at the same (index, term) is
//!   kept, a conflicting one cuts the chain there and the WAL's run replaces the rest
//!   (so a new leader's WAL, which rewrites the inherited tail, does not lose what it
//!   has not rewritten yet);
//! - a snapshot is published only over what the chain holds: its (index, term) is
//!   an entry of the chain just before (a snapshot covering what no WAL confirmed
//!   would make a blank recovery adopt entries nobody can check against a WAL);
//! - every write acknowledged so far (its index, term and payload) is covered by the
//!   snapshot or held by the chain, checked at each acknowledgement and after every
//!   transaction that changed the chain.
//!
//! Incremental: an entry appended at the end of the WAL that ends the chain extends
//! it in place; any other change to a WAL, a header or the snapshot rebuilds the
//! chain from the WALs present (bounded by what truncation leaves in them).
//! Ignores: transactions outside `/wal`, `/snapshot` and `/snap` (membership,
//! `/leader`, `/commit`, `/epoch`: `zk_metadata` judges those), and acknowledgements
//! of writes a snapshot already covers (that a snapshot holds the right state is
//! `state_agreement`'s business).

use std::collections::BTreeMap;

use zkwal_raft::{Entry, Index, NodeId, Term};
use zkwal_wal::layout::{self, SnapHeader, WalHeader};

use super::zk_view::{Change, Place, Txn};
use crate::raft::Violation;

pub const NAME: &str = "wal_chain";

#[derive(Default)]
struct Wal {
    header: Option<WalHeader>,
    /// index -> (term, payload digest)
    entries: BTreeMap<Index, (Term, u64)>,
}

#[derive(Default)]
pub struct WalChain {
    /// The snapshot ZooKeeper publishes: (index, term).
    snapshot: (Index, Term),
    /// Snapshot headers present, by index: their last term.
    snap_terms: BTreeMap<Index, Term>,
    wals: BTreeMap<String, Wal>,
    /// The chain above the snapshot: index -> (term, digest, WAL it came from).
    chain: BTreeMap<Index, (Term, u64)>,
    /// The WAL whose run ends the chain, if its run reaches the chain's end: an
    /// entry appended to it right after that end extends the chain in place.
    tail: Option<String>,
    /// Writes acknowledged above the snapshot: index -> (term, digest, node).
    acked: BTreeMap<Index, (Term, u64, NodeId)>,
    /// How many times the chain was rebuilt (for tests of the incremental path).
    pub rebuilds: u64,
}

impl WalChain {
    /// One committed transaction (after `zk_metadata` vetted the layout).
    pub fn on_txn(&mut self, t: &Txn) -> Result<(), Violation> {
        let mut dirty = false;
        let mut new_headers: Vec<String> = Vec::new();
        for c in &t.changes {
            match (c, Place::of(c.path())) {
                (Change::Create { data, .. }, Place::WalEntry(name, index)) => {
                    let Some(e) = layout::decode::<Entry>(data) else {
                        continue;
                    };
                    let v = (e.term, e.payload.digest());
                    let Some(w) = self.wals.get_mut(name) else {
                        continue;
                    };
                    w.entries.insert(index, v);
                    let last = self.last_index();
                    let extends = !dirty
                        && self.tail.as_deref() == Some(name)
                        && index == last + 1
                        && e.term >= self.last_term();
                    if extends {
                        self.chain.insert(index, v);
                    } else {
                        dirty = true;
                    }
                }
                (Change::Delete { .. }, Place::WalEntry(name, index)) => {
                    if let Some(w) = self.wals.get_mut(name) {
                        w.entries.remove(&index);
                    }
                    dirty = true;
                }
                (Change::Create { data, .. }, Place::WalHeader(name)) => {
                    let header = layout::decode::<WalHeader>(data);
                    self.wals.insert(
                        name.to_string(),
                        Wal {
                            header,
                            entries: BTreeMap::new(),
                        },
                    );
                    new_headers.push(name.to_string());
                    dirty = true;
                }
                (Change::Delete { .. }, Place::WalHeader(name)) => {
                    self.wals.remove(name);
                    dirty = true;
                }
                (Change::Create { data, .. }, Place::SnapHeader(index)) => {
                    if let Some(h) = layout::decode::<SnapHeader>(data) {
                        self.snap_terms.insert(index, h.last_term);
                    }
                }
                (Change::Delete { .. }, Place::SnapHeader(index)) => {
                    self.snap_terms.remove(&index);
                }
                (Change::SetData { data, .. }, Place::SnapshotPtr) => {
                    if let Some(index) = layout::decode::<Index>(data) {
                        let term = self.snap_terms.get(&index).copied().unwrap_or(0);
                        if !dirty
                            && index > self.snapshot.0
                            && self.chain.get(&index).map(|v| v.0) != Some(term)
                        {
                            return Err(Violation::new(
                                NAME,
                                format!(
                                    "zxid {} (t={} ms): a snapshot to ({index}, {term}) was published \
                                     where the chain ZooKeeper holds {}",
                                    t.zxid,
                                    t.time_ms,
                                    match self.chain.get(&index) {
                                        Some(v) => format!("({index}, {})", v.0),
                                        None => format!("nothing (it ends at {})", self.last_index()),
                                    }
                                ),
                            ));
                        }
                        self.snapshot = (index, term);
                        self.acked = self.acked.split_off(&(index + 1));
                        dirty = true;
                    }
                }
                _ => {}
            }
        }
        if !dirty {
            return Ok(());
        }
        let unjoined = self.rebuild();
        if let Some(name) = unjoined.into_iter().find(|n| new_headers.contains(n)) {
            let h = self.wals[&name].header;
            return Err(Violation::new(
                NAME,
                format!(
                    "zxid {} (t={} ms): the WAL {name} starts at {} which neither the snapshot \
                     ({}, {}) nor an earlier WAL holds: a blank recovery cannot connect it",
                    t.zxid,
                    t.time_ms,
                    h.map_or("no header".to_string(), |h| format!(
                        "({}, {})",
                        h.prev_index, h.prev_term
                    )),
                    self.snapshot.0,
                    self.snapshot.1
                ),
            ));
        }
        let acked: Vec<(Index, (Term, u64, NodeId))> =
            self.acked.iter().map(|(i, v)| (*i, *v)).collect();
        for (index, (term, digest, node)) in acked {
            self.covered(index, term, digest, node).map_err(|why| {
                Violation::new(
                    NAME,
                    format!(
                        "after zxid {} (t={} ms) the chain in ZooKeeper {why}",
                        t.zxid, t.time_ms
                    ),
                )
            })?;
        }
        Ok(())
    }

    /// A write acknowledged by `node`: it must be in the chain now, and stay.
    pub fn on_ack(
        &mut self,
        node: NodeId,
        index: Index,
        term: Term,
        digest: u64,
    ) -> Result<(), Violation> {
        if index <= self.snapshot.0 {
            return Ok(());
        }
        self.covered(index, term, digest, node).map_err(|why| {
            Violation::new(NAME, format!("at an acknowledgement the chain {why}"))
        })?;
        self.acked.insert(index, (term, digest, node));
        Ok(())
    }

    fn covered(&self, index: Index, term: Term, digest: u64, node: NodeId) -> Result<(), String> {
        if index <= self.snapshot.0 {
            return Ok(());
        }
        match self.chain.get(&index) {
            Some(&(t, d)) if t == term && d == digest => Ok(()),
            Some(&(t, _)) => Err(format!(
                "holds ({index}, {t}) where node {node} acknowledged ({index}, {term})"
            )),
            None => Err(format!(
                "ends at {} (snapshot {}): it lacks ({index}, {term}), which node {node} acknowledged",
                self.last_index(),
                self.snapshot.0
            )),
        }
    }

    fn last_index(&self) -> Index {
        self.chain
            .last_key_value()
            .map_or(self.snapshot.0, |(i, _)| *i)
    }

    fn last_term(&self) -> Term {
        self.chain
            .last_key_value()
            .map_or(self.snapshot.1, |(_, v)| v.0)
    }

    /// Builds the chain again from the WALs present; returns the WALs that do not
    /// join it.
    fn rebuild(&mut self) -> Vec<String> {
        self.rebuilds += 1;
        self.chain.clear();
        self.tail = None;
        let mut unjoined = Vec::new();
        let snap = self.snapshot.0;
        for (name, w) in &self.wals {
            let Some(h) = w.header else {
                unjoined.push(name.clone());
                continue;
            };
            let joins = h.prev_index < snap
                || (h.prev_index == snap && h.prev_term == self.snapshot.1)
                || (h.prev_index > snap
                    && self.chain.get(&h.prev_index).map(|v| v.0) == Some(h.prev_term));
            // A WAL whose start the snapshot covers joins at the snapshot's end only
            // if its run reaches past it without a gap.
            if !joins {
                unjoined.push(name.clone());
                continue;
            }
            let mut next = h.prev_index.max(snap) + 1;
            let mut reached_end = true;
            for (&i, &(term, digest)) in w.entries.range(next..) {
                if i != next {
                    reached_end = false;
                    break;
                }
                match self.chain.get(&i) {
                    Some(&(t, _)) if t == term => {}
                    _ => {
                        self.chain.split_off(&i);
                        self.chain.insert(i, (term, digest));
                    }
                }
                next += 1;
            }
            let end = self.chain.last_key_value().map_or(snap, |(i, _)| *i);
            self.tail = (reached_end && next == end + 1).then(|| name.clone());
        }
        unjoined
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zkwal_raft::Payload;

    const A: &str = "00000000000000000001-n0";
    const B: &str = "00000000000000000002-n1";

    fn create<'a>(zxid: u64, path: &'a str, data: &'a [u8]) -> Txn<'a> {
        Txn {
            zxid,
            time_ms: 0,
            node: Some(0),
            epoch_check: None,
            session_end: false,
            changes: vec![Change::Create { path, data }],
        }
    }

    fn header(prev_index: Index, prev_term: Term) -> Vec<u8> {
        layout::encode(&WalHeader {
            prev_index,
            prev_term,
            epoch: 1,
        })
    }

    fn entry(index: Index, term: Term) -> Vec<u8> {
        layout::encode(&Entry {
            index,
            term,
            payload: Payload::Noop,
        })
    }

    fn digest() -> u64 {
        Payload::Noop.digest()
    }

    #[test]
    fn appends_extend_in_place_and_a_new_wal_keeps_the_unrewritten_tail() {
        let mut c = WalChain::default();
        let wal_a = format!("/wal/{A}");
        assert!(c.on_txn(&create(1, &wal_a, &header(0, 0))).is_ok());
        for i in 1..=5 {
            let p = format!("{wal_a}/{i:020}");
            assert!(c.on_txn(&create(1 + i, &p, &entry(i, 1))).is_ok());
            assert!(c.on_ack(0, i, 1, digest()).is_ok());
        }
        assert_eq!(
            c.rebuilds, 1,
            "appends at the end extend the chain in place"
        );
        // A new leader's WAL starting at its commit index 3 rewrites 4 first: 5 stays.
        let wal_b = format!("/wal/{B}");
        assert!(c.on_txn(&create(10, &wal_b, &header(3, 1))).is_ok());
        let p = format!("{wal_b}/{:020}", 4);
        assert!(c.on_txn(&create(11, &p, &entry(4, 1))).is_ok());
        // Its own entry at 6 after rewriting 5.
        let p = format!("{wal_b}/{:020}", 5);
        assert!(c.on_txn(&create(12, &p, &entry(5, 1))).is_ok());
        let p = format!("{wal_b}/{:020}", 6);
        assert!(c.on_txn(&create(13, &p, &entry(6, 2))).is_ok());
        assert_eq!(c.last_index(), 6);
    }

    #[test]
    fn a_new_wal_that_cuts_an_acknowledged_write_is_caught() {
        let mut c = WalChain::default();
        let wal_a = format!("/wal/{A}");
        assert!(c.on_txn(&create(1, &wal_a, &header(0, 0))).is_ok());
        for i in 1..=3 {
            let p = format!("{wal_a}/{i:020}");
            assert!(c.on_txn(&create(1 + i, &p, &entry(i, 1))).is_ok());
        }
        assert!(c.on_ack(0, 3, 1, digest()).is_ok());
        let wal_b = format!("/wal/{B}");
        assert!(c.on_txn(&create(10, &wal_b, &header(2, 1))).is_ok());
        // Its own entry at 3 (term 2): the acknowledged (3, 1) is cut.
        let p = format!("{wal_b}/{:020}", 3);
        let v = c.on_txn(&create(11, &p, &entry(3, 2))).unwrap_err();
        assert_eq!(v.invariant, NAME);
        assert!(v.detail.contains("holds (3, 2)"), "{}", v.detail);
    }

    #[test]
    fn a_wal_that_starts_where_no_entry_is_is_caught() {
        let mut c = WalChain::default();
        let wal_a = format!("/wal/{A}");
        assert!(c.on_txn(&create(1, &wal_a, &header(0, 0))).is_ok());
        let wal_b = format!("/wal/{B}");
        let v = c.on_txn(&create(2, &wal_b, &header(4, 1))).unwrap_err();
        assert!(v.detail.contains("cannot connect"), "{}", v.detail);
    }

    #[test]
    fn an_ack_the_chain_lacks_is_caught() {
        let mut c = WalChain::default();
        let wal_a = format!("/wal/{A}");
        assert!(c.on_txn(&create(1, &wal_a, &header(0, 0))).is_ok());
        let v = c.on_ack(1, 1, 1, digest()).unwrap_err();
        assert!(v.detail.contains("lacks (1, 1)"), "{}", v.detail);
    }
}
