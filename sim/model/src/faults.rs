//! Counting of faults as they are actually injected (not as configured): a run's
//! summary shows that each kind really happened, and how often.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FaultKind {
    Crash,
    Restart,
    Wipe,
    Pause,
    Partition,
    PartitionDrop,
    Loss,
    Duplicate,
    Reorder,
    /// Writes lost because they were not yet durable when their node crashed.
    UnsyncedWriteLost,
    /// A wipe skipped because another node was still without its data (the fault
    /// model allows one disk loss at a time; see README).
    WipeSkipped,
    /// The whole ZooKeeper ensemble went unavailable.
    ZkOutage,
    /// A ZooKeeper server started lagging behind the leader.
    ZkLag,
    /// A node was cut off from the ensemble.
    ZkCutOff,
    /// The ensemble expired a session (counted from the service's own notices).
    ZkSessionExpired,
    /// A pause aimed at the leader (also counted as `pause`).
    PauseLeader,
    /// A node's sessions were pinned to one server.
    ZkPin,
    /// Every node down at once.
    TotalLoss,
    /// A WAL-protocol write that ended in ConnectionLoss: applied or not, unknown.
    ZkConnectionLoss,
    /// The ensemble's leader changed (with ZOOKEEPER-1675's stale syncs meanwhile).
    ZkLeaderChange,
}

impl FaultKind {
    pub const ALL: [FaultKind; 20] = [
        FaultKind::Crash,
        FaultKind::Restart,
        FaultKind::Wipe,
        FaultKind::Pause,
        FaultKind::Partition,
        FaultKind::PartitionDrop,
        FaultKind::Loss,
        FaultKind::Duplicate,
        FaultKind::Reorder,
        FaultKind::UnsyncedWriteLost,
        FaultKind::WipeSkipped,
        FaultKind::ZkOutage,
        FaultKind::ZkLag,
        FaultKind::ZkCutOff,
        FaultKind::ZkSessionExpired,
        FaultKind::PauseLeader,
        FaultKind::ZkPin,
        FaultKind::TotalLoss,
        FaultKind::ZkConnectionLoss,
        FaultKind::ZkLeaderChange,
    ];

    /// The kind of a name as [`FaultKind::name`] gives it.
    pub fn parse(name: &str) -> Option<FaultKind> {
        FaultKind::ALL.into_iter().find(|k| k.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Crash => "crash",
            FaultKind::Restart => "restart",
            FaultKind::Wipe => "wipe",
            FaultKind::Pause => "pause",
            FaultKind::Partition => "partition",
            FaultKind::PartitionDrop => "partition_drop",
            FaultKind::Loss => "loss",
            FaultKind::Duplicate => "duplicate",
            FaultKind::Reorder => "reorder",
            FaultKind::UnsyncedWriteLost => "unsynced_write_lost",
            FaultKind::WipeSkipped => "wipe_skipped",
            FaultKind::ZkOutage => "zk_outage",
            FaultKind::ZkLag => "zk_lag",
            FaultKind::ZkCutOff => "zk_cut_off",
            FaultKind::ZkSessionExpired => "zk_session_expired",
            FaultKind::PauseLeader => "pause_leader",
            FaultKind::ZkPin => "zk_pin",
            FaultKind::TotalLoss => "total_loss",
            FaultKind::ZkConnectionLoss => "zk_connection_loss",
            FaultKind::ZkLeaderChange => "zk_leader_change",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultCounts {
    counts: [u64; FaultKind::ALL.len()],
}

impl FaultCounts {
    pub fn add(&mut self, kind: FaultKind) {
        self.counts[kind as usize] += 1;
    }

    /// Adds `n` injections of `kind` (counts read back from a summary).
    pub fn add_n(&mut self, kind: FaultKind, n: u64) {
        self.counts[kind as usize] += n;
    }

    pub fn get(&self, kind: FaultKind) -> u64 {
        self.counts[kind as usize]
    }

    pub fn merge(&mut self, other: &FaultCounts) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
    }

    /// `(name, count)` for every kind, in a fixed order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        FaultKind::ALL.iter().map(move |k| (k.name(), self.get(*k)))
    }
}
