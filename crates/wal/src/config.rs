//! What a node is configured with: its variant and the variant's knobs. Plain data.

use serde::{Deserialize, Serialize};

/// Design variants of DESIGN.md §3. `Raft` is the baseline: the node is the Raft core
/// alone (with, if asked, a ZooKeeper session that only keeps a membership znode).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WalVariant {
    Raft,
    /// The notes as literally as possible: WAL in ZooKeeper, majority still needed.
    Seed,
    /// A survivor that saw the leader's znode vanish and caught up from its WAL may lead
    /// alone; a write is durable once in the ZooKeeper WAL. No fencing.
    SeedZkQuorum,
    /// As seed-zk-quorum, plus a leadership epoch in ZooKeeper that every WAL append,
    /// snapshot publication and metadata write is conditional on; a takeover bumps the
    /// epoch, syncs, reads the old WALs to their end, and only then campaigns.
    Fenced,
}

impl WalVariant {
    /// Whether the variant keeps a WAL in ZooKeeper at all.
    pub fn has_wal(self) -> bool {
        !matches!(self, WalVariant::Raft)
    }
    pub fn fenced(self) -> bool {
        matches!(self, WalVariant::Fenced)
    }
    /// A survivor may lead alone once ZooKeeper says the leader is gone.
    pub fn lone_survivor(self) -> bool {
        matches!(self, WalVariant::SeedZkQuorum | WalVariant::Fenced)
    }
}

/// The notes' own idea for paused leaders (Ratis' JvmPauseMonitor): a thread sleeps
/// `check_interval_ms` and compares how long it really slept; a leader that finds it
/// was stopped for more than `step_down_ms` steps down. Detection happens only when
/// the process runs again, at its next check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PauseMonitor {
    pub check_interval_ms: u64,
    pub step_down_ms: u64,
}

/// How a WAL node uses ZooKeeper.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WalOptions {
    /// Publish a snapshot to ZooKeeper (and truncate the WAL) whenever the leader's
    /// local snapshot is at least this many entries past the last published one.
    pub publish_every_entries: u64,
    /// Largest znode a snapshot chunk may take (ZooKeeper refuses packets over 1 MB).
    pub snapshot_chunk_bytes: usize,
    /// Most znodes a truncation deletes in one `multi` (keeps the packet small).
    pub max_deletes_per_multi: usize,
    /// Wait before retrying a WAL read that failed (ConnectionLoss, a race with a
    /// truncation).
    pub read_retry_ms: u64,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            publish_every_entries: 64,
            snapshot_chunk_bytes: 512 * 1024,
            max_deletes_per_multi: 256,
            read_retry_ms: 100,
        }
    }
}

/// ZooKeeper as a node sees it: the servers it may connect to (in order; the first is
/// where its session goes first), the session timeout it asks for, and who decides
/// that its session is over (the service alone, or also Curator's client-side timer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZkClientOptions {
    pub servers: Vec<u32>,
    pub session_timeout_ms: u64,
    pub client_expiry: zkwal_zk::ClientExpiry,
}
