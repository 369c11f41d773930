//! What ZooKeeper did, as the WAL checks read it: each transaction the ensemble
//! committed ([`zkwal_zk::Applied`], in zxid order) decoded into the changes it made,
//! each named by its place in the WAL layout (`crates/wal/src/layout.rs`), and
//! [`ZkView`], the few facts of the applied state the checks judge a transaction
//! against (the state just before it). Not a check: the checks are
//! `epoch_currency`, `zk_metadata` and `wal_chain`.

use std::collections::BTreeMap;

use zkwal_raft::{Index, NodeId, Term};
use zkwal_wal::layout::{self, LeaderInfo, WalHeader};
use zkwal_zk::{Applied, MultiOp, OpResult, TxnOp, TxnResult, Zxid};

/// Where a znode sits in the WAL layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place<'a> {
    Epoch,
    Commit,
    Leader,
    SnapshotPtr,
    /// `/snap/<index>`
    SnapHeader(Index),
    /// `/snap/<index>/c<k>`
    SnapChunk,
    /// `/wal/<name>`: a WAL's header.
    WalHeader(&'a str),
    /// `/wal/<name>/<index>`: one entry.
    WalEntry(&'a str, Index),
    /// Anything else (membership, the parents).
    Other,
}

impl Place<'_> {
    pub fn of(path: &str) -> Place<'_> {
        match path {
            layout::EPOCH => return Place::Epoch,
            layout::COMMIT => return Place::Commit,
            layout::LEADER => return Place::Leader,
            layout::SNAPSHOT => return Place::SnapshotPtr,
            _ => {}
        }
        if let Some(rest) = path.strip_prefix("/wal/") {
            return match rest.split_once('/') {
                None => Place::WalHeader(rest),
                Some((name, idx)) => match layout::parse_index(idx) {
                    Some(i) => Place::WalEntry(name, i),
                    None => Place::Other,
                },
            };
        }
        if let Some(rest) = path.strip_prefix("/snap/") {
            return match rest.split_once('/') {
                None => layout::parse_index(rest).map_or(Place::Other, Place::SnapHeader),
                Some(_) => Place::SnapChunk,
            };
        }
        Place::Other
    }

    /// A write of the leader's duties (WAL, `/leader`, `/commit`, snapshot and its
    /// truncation): what a deposed leader must no longer get applied.
    pub fn is_leader_write(&self) -> bool {
        !matches!(self, Place::Epoch | Place::Other)
    }
}

/// One change a committed transaction made (a failed multi makes none).
#[derive(Clone, Debug)]
pub enum Change<'a> {
    Create {
        path: &'a str,
        data: &'a [u8],
    },
    Delete {
        path: &'a str,
    },
    /// `version`: the znode's version after the change.
    SetData {
        path: &'a str,
        data: &'a [u8],
        version: i32,
    },
}

impl<'a> Change<'a> {
    pub fn path(&self) -> &'a str {
        match self {
            Change::Create { path, .. }
            | Change::Delete { path }
            | Change::SetData { path, .. } => path,
        }
    }
}

/// A committed transaction that changed the tree.
#[derive(Clone, Debug)]
pub struct Txn<'a> {
    pub zxid: Zxid,
    pub time_ms: u64,
    /// The node whose session issued it (client ids are `node << 32 | session`).
    pub node: Option<NodeId>,
    /// The version of `/epoch` the transaction's multi checked first, if any: the
    /// epoch the writer acted under, in its own words.
    pub epoch_check: Option<i32>,
    /// A session's end (expiry or close): ZooKeeper deleting its ephemerals.
    pub session_end: bool,
    pub changes: Vec<Change<'a>>,
}

/// The changes of one committed transaction; None if it changed nothing.
pub fn decode(a: &Applied) -> Option<Txn<'_>> {
    let mut changes = Vec::new();
    let mut epoch_check = None;
    match (&a.op, &a.result) {
        (TxnOp::Create { data, .. }, TxnResult::Created { path, .. }) => {
            changes.push(Change::Create { path, data })
        }
        (TxnOp::Delete { path, .. }, TxnResult::Deleted) => changes.push(Change::Delete { path }),
        (TxnOp::SetData { path, data, .. }, TxnResult::DataSet { stat }) => {
            changes.push(Change::SetData {
                path,
                data,
                version: stat.version,
            })
        }
        (TxnOp::CloseSession { .. }, TxnResult::SessionClosed(paths)) => {
            changes.extend(paths.iter().map(|p| Change::Delete { path: p }))
        }
        (TxnOp::Multi { ops, .. }, TxnResult::Multi(results)) => {
            if results.iter().any(|r| matches!(r, OpResult::Error { .. })) {
                return None;
            }
            for (k, (op, r)) in ops.iter().zip(results).enumerate() {
                match (op, r) {
                    (MultiOp::Check { path, version }, _) => {
                        if k == 0 && path == layout::EPOCH {
                            epoch_check = Some(*version);
                        }
                    }
                    (MultiOp::Create { data, .. }, OpResult::Create { path }) => {
                        changes.push(Change::Create { path, data })
                    }
                    (MultiOp::Delete { path, .. }, _) => changes.push(Change::Delete { path }),
                    (MultiOp::SetData { path, data, .. }, OpResult::SetData { stat }) => changes
                        .push(Change::SetData {
                            path,
                            data,
                            version: stat.version,
                        }),
                    _ => {}
                }
            }
        }
        _ => return None,
    }
    if changes.is_empty() {
        return None;
    }
    Some(Txn {
        zxid: a.zxid,
        time_ms: a.time_ms,
        node: a.client.map(|c| (c >> 32) as NodeId),
        epoch_check,
        session_end: matches!(a.op, TxnOp::CloseSession { .. }),
        changes,
    })
}

/// The facts of the applied state the checks judge the next transaction against.
#[derive(Default)]
pub struct ZkView {
    /// fenced: the version of `/epoch` (the epoch), the term its last bump reserved
    /// and the node it reserved it for (what `/epoch` holds), and that bump's zxid
    /// and node.
    pub epoch: u64,
    pub reserved_term: Term,
    pub reserved_for: Option<NodeId>,
    pub epoch_bumped_at: Option<(Zxid, Option<NodeId>)>,
    /// The highest leadership term ZooKeeper has seen take office: the term of a WAL
    /// header or of a `/leader` znode created (the unfenced variants' "epoch"), and
    /// the transaction that first showed it.
    pub term: Term,
    pub term_seen_at: Option<(Zxid, Option<NodeId>)>,
    /// Each WAL present, by name: the epoch its header was written under (fenced:
    /// the header's `epoch`; elsewhere its term).
    pub wal_epochs: BTreeMap<String, u64>,
    /// What each node last took office under in ZooKeeper (its latest `/leader` or
    /// WAL header): the epoch its other leader writes act under.
    pub acting: BTreeMap<NodeId, u64>,
}

impl ZkView {
    /// The epoch a leader write at `place` acts under (None: nothing tells). `data`:
    /// what a create or setData writes (None: a delete). `fenced` picks the
    /// ZooKeeper epoch over the Raft term.
    pub fn writer_epoch(
        &self,
        fenced: bool,
        t: &Txn,
        place: &Place,
        data: Option<&[u8]>,
    ) -> Option<u64> {
        if fenced {
            if let Some(v) = t.epoch_check {
                return Some(v.max(0) as u64);
            }
        }
        let acting = || t.node.and_then(|n| self.acting.get(&n).copied());
        let Some(data) = data else {
            // A delete (the truncation of a publication) is the deleter's act, not
            // the act of the WAL's writer.
            return acting();
        };
        match place {
            Place::WalEntry(name, _) => {
                if fenced {
                    self.wal_epochs.get(*name).copied()
                } else {
                    layout::parse_wal_name(name).map(|(term, _)| term)
                }
            }
            Place::WalHeader(name) => {
                if fenced {
                    match layout::decode::<WalHeader>(data) {
                        Some(h) => Some(h.epoch),
                        None => self.wal_epochs.get(*name).copied(),
                    }
                } else {
                    layout::parse_wal_name(name).map(|(term, _)| term)
                }
            }
            Place::Leader => match layout::decode::<LeaderInfo>(data) {
                Some(info) => Some(if fenced { info.epoch } else { info.term }),
                None => acting(),
            },
            _ => acting(),
        }
    }

    /// The epoch ZooKeeper holds as current, and the transaction that made it so.
    pub fn current(&self, fenced: bool) -> (u64, Option<(Zxid, Option<NodeId>)>) {
        if fenced {
            (self.epoch, self.epoch_bumped_at)
        } else {
            (self.term, self.term_seen_at)
        }
    }

    /// Takes in a committed transaction (after the checks judged it).
    pub fn apply(&mut self, fenced: bool, t: &Txn) {
        for c in &t.changes {
            let place = Place::of(c.path());
            match (c, &place) {
                (Change::SetData { data, version, .. }, Place::Epoch) => {
                    self.epoch = (*version).max(0) as u64;
                    let reserved = layout::decode::<(NodeId, Term)>(data);
                    self.reserved_term = reserved.map_or(0, |r| r.1);
                    self.reserved_for = reserved.map(|r| r.0);
                    self.epoch_bumped_at = Some((t.zxid, t.node));
                }
                (Change::Create { data, .. }, Place::WalHeader(name)) => {
                    let term = layout::parse_wal_name(name).map_or(0, |(term, _)| term);
                    let epoch = if fenced {
                        layout::decode::<WalHeader>(data).map_or(0, |h| h.epoch)
                    } else {
                        term
                    };
                    self.wal_epochs.insert(name.to_string(), epoch);
                    self.took_office(t, term, epoch);
                }
                (Change::Delete { .. }, Place::WalHeader(name)) => {
                    self.wal_epochs.remove(*name);
                }
                (Change::Create { data, .. }, Place::Leader) => {
                    if let Some(info) = layout::decode::<LeaderInfo>(data) {
                        let epoch = if fenced { info.epoch } else { info.term };
                        self.took_office(t, info.term, epoch);
                    }
                }
                _ => {}
            }
        }
    }

    fn took_office(&mut self, t: &Txn, term: Term, epoch: u64) {
        if term > self.term {
            self.term = term;
            self.term_seen_at = Some((t.zxid, t.node));
        }
        if let Some(n) = t.node {
            self.acting.insert(n, epoch);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_follow_the_layout() {
        assert_eq!(Place::of("/epoch"), Place::Epoch);
        assert_eq!(
            Place::of("/wal/00000000000000000003-n1"),
            Place::WalHeader("00000000000000000003-n1")
        );
        assert_eq!(
            Place::of("/wal/00000000000000000003-n1/00000000000000000007"),
            Place::WalEntry("00000000000000000003-n1", 7)
        );
        assert_eq!(
            Place::of("/snap/00000000000000000009"),
            Place::SnapHeader(9)
        );
        assert_eq!(Place::of("/snap/00000000000000000009/c0"), Place::SnapChunk);
        assert_eq!(Place::of("/wal"), Place::Other);
        assert_eq!(Place::of("/nodes/n1"), Place::Other);
    }
}
