//! The ZooKeeper layout of the WAL variants: znode paths, what each holds, and the
//! encodings (JSON, so that a person can read a znode; its size is what the design
//! carries per write). README.md, "ZooKeeper layout", is the same table in prose.
//!
//! | znode | kind | holds | written by, and how |
//! |---|---|---|---|
//! | `/nodes/n<id>` | ephemeral | nothing | each node's session (membership) |
//! | `/leader` | ephemeral | [`LeaderInfo`] | the leader on election and on every new session (fenced: `multi` with the epoch check) |
//! | `/epoch` | persistent | the id of the last node that bumped it | fenced takeover: `setData` with the version read (the version is the epoch) |
//! | `/commit` | persistent | the leader's commit index (step D) | the leader, one `setData` in flight at a time (fenced: with the epoch check) |
//! | `/wal/<term>-n<id>` | persistent | [`WalHeader`] | the leader of `term` when it takes office (fenced: with the epoch check) |
//! | `/wal/<term>-n<id>/<index>` | persistent | one [`zkwal_raft::Entry`] | step A, before the local append (fenced: with the epoch check) |
//! | `/snapshot` | persistent | index of the published snapshot | the snapshot publication `multi` |
//! | `/snap/<index>` | persistent | [`SnapHeader`] | the same `multi` |
//! | `/snap/<index>/c<k>` | persistent | chunk k of the state machine (JSON) | the same `multi`; each chunk at most `snapshot_chunk_bytes` |
//!
//! Numbers in names are zero-padded to 20 digits, so that sorting names sorts terms
//! and indexes. The latest WAL is the one with the highest term (question 7).

use serde::{Deserialize, Serialize};
use zkwal_raft::{Index, NodeId, SmState, Term};

pub const NODES: &str = "/nodes";
pub const LEADER: &str = "/leader";
pub const EPOCH: &str = "/epoch";
pub const COMMIT: &str = "/commit";
pub const WAL: &str = "/wal";
pub const SNAPSHOT: &str = "/snapshot";
pub const SNAP: &str = "/snap";

/// Persistent parents every WAL node creates when its session connects (NodeExists is fine).
pub const PARENTS: [&str; 5] = [WAL, EPOCH, COMMIT, SNAPSHOT, SNAP];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderInfo {
    pub id: NodeId,
    pub term: Term,
    pub epoch: u64,
}

/// Where a WAL starts: the log position before its first entry (so a reader can check
/// that it follows its own log, question 5) and the epoch it was written under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalHeader {
    pub prev_index: Index,
    pub prev_term: Term,
    pub epoch: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapHeader {
    pub last_index: Index,
    pub last_term: Term,
    pub chunks: u32,
    pub bytes: u64,
}

pub fn member_path(id: NodeId) -> String {
    format!("{NODES}/n{id}")
}

pub fn wal_name(term: Term, id: NodeId) -> String {
    format!("{term:020}-n{id}")
}

pub fn wal_path(term: Term, id: NodeId) -> String {
    format!("{WAL}/{}", wal_name(term, id))
}

pub fn entry_name(index: Index) -> String {
    format!("{index:020}")
}

pub fn entry_path(wal: &str, index: Index) -> String {
    format!("{wal}/{}", entry_name(index))
}

pub fn snap_path(index: Index) -> String {
    format!("{SNAP}/{index:020}")
}

pub fn chunk_path(index: Index, k: u32) -> String {
    format!("{}/c{k}", snap_path(index))
}

/// `(term, leader id)` of a WAL name, or None for a name this layout never writes.
pub fn parse_wal_name(name: &str) -> Option<(Term, NodeId)> {
    let (t, n) = name.split_once("-n")?;
    Some((t.parse().ok()?, n.parse().ok()?))
}

pub fn parse_index(name: &str) -> Option<Index> {
    name.parse().ok()
}

pub fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("plain data serializes")
}

pub fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Option<T> {
    serde_json::from_slice(bytes).ok()
}

/// The state machine of a snapshot, cut into chunks of at most `chunk_bytes`.
pub fn chunk_state(state: &SmState, chunk_bytes: usize) -> Vec<Vec<u8>> {
    let bytes = encode(state);
    bytes
        .chunks(chunk_bytes.max(1))
        .map(|c| c.to_vec())
        .collect()
}

pub fn join_chunks(chunks: &[Vec<u8>]) -> Option<SmState> {
    let bytes: Vec<u8> = chunks.concat();
    decode(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_term_and_parse_back() {
        let a = wal_name(9, 1);
        let b = wal_name(10, 0);
        assert!(a < b, "zero padding sorts terms numerically");
        assert_eq!(parse_wal_name(&b), Some((10, 0)));
        assert_eq!(parse_index(&entry_name(42)), Some(42));
        assert_eq!(parse_wal_name("junk"), None);
    }

    #[test]
    fn chunks_rejoin_to_the_same_state() {
        let mut s = SmState::default();
        for k in 0..50u32 {
            s.lists.insert(k, (0..40).collect());
        }
        let chunks = chunk_state(&s, 1000);
        assert!(chunks.len() > 1, "a small chunk size cuts the state");
        assert!(chunks.iter().all(|c| c.len() <= 1000));
        assert_eq!(join_chunks(&chunks), Some(s));
    }
}
