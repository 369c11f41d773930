//! What the core asks storage to make durable, and what storage hands back on restart.
//!
//! Writes are applied by storage in the order they were issued; [`crate::RaftNode::persisted`]
//! reports the highest write id that is durable. A crash loses every write not yet
//! reported durable. The simulator's disk (sim/model/src/disk.rs) implements exactly this.

use crate::log::Log;
use crate::types::{Entry, Index, NodeId, Snapshot, Term};

pub type WriteId = u64;

/// Raft's persistent state (Figure 2) plus the commit index (persisted as etcd does, so
/// that a restarted node can apply its committed prefix at once) and `initialized`,
/// the marker that tells a node whether its disk is the one it had or a blank one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HardState {
    pub term: Term,
    pub voted_for: Option<NodeId>,
    pub commit: Index,
    /// False only on a disk that never held this member's state (lost or replaced).
    /// The simulator creates the initial cluster with it set, as a bootstrap would.
    pub initialized: bool,
    /// The term at which this node last recovered from a lost disk (0: never).
    pub disk_epoch: Term,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Write {
    /// Replace the hard state: term and vote always in one write (classic mistake 3).
    HardState(HardState),
    /// Delete every durable entry at or after `entries[0].index`, then append `entries`.
    Append { entries: Vec<Entry> },
    /// Store `snapshot`; keep the durable entries after it only if the log holds
    /// `(snapshot.last_index, snapshot.last_term)`, else drop the whole log (§7).
    Snapshot { snapshot: Snapshot },
    /// Replace the whole durable log by `snapshot` (even an older one): a recovering
    /// node adopts another node's log over whatever a half-finished recovery left.
    ResetLog { snapshot: Snapshot },
}

/// Everything a disk holds for one node: its hard state and its log (a snapshot and
/// the entries after it). The log is the core's own [`Log`] type, so the disk follows
/// the very same truncation and snapshot rules as the memory.
#[derive(Clone, Debug)]
pub struct DurableState {
    pub hard: HardState,
    pub log: Log,
}

impl DurableState {
    /// The disk of a member created with the cluster.
    pub fn bootstrap() -> DurableState {
        DurableState {
            hard: HardState {
                initialized: true,
                ..HardState::default()
            },
            log: Log::new(Snapshot::empty(), Vec::new()),
        }
    }

    /// A blank disk: what a wiped node finds.
    pub fn blank() -> DurableState {
        DurableState {
            hard: HardState::default(),
            log: Log::new(Snapshot::empty(), Vec::new()),
        }
    }

    /// Applies one write as a disk would when it becomes durable.
    pub fn apply(&mut self, write: &Write) {
        match write {
            Write::HardState(hs) => self.hard = *hs,
            Write::Append { entries } => {
                let Some(first) = entries.first() else { return };
                assert!(
                    first.index > self.log.snapshot_index()
                        && first.index <= self.log.last_index() + 1,
                    "append at {} leaves a gap after durable index {} (snapshot {})",
                    first.index,
                    self.log.last_index(),
                    self.log.snapshot_index()
                );
                self.log.truncate_from(first.index);
                for e in entries {
                    self.log.push(*e);
                }
            }
            Write::ResetLog { snapshot } => self.log = Log::new(snapshot.clone(), Vec::new()),
            Write::Snapshot { snapshot } => {
                // A snapshot older than the durable one changes nothing.
                if snapshot.last_index > self.log.snapshot_index() {
                    self.log.install_snapshot(snapshot.clone());
                }
            }
        }
    }
}
