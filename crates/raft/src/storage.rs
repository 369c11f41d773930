//! What the core asks storage to make durable, and what storage hands back on restart.
//!
//! Writes are applied by storage in the order they were issued; [`crate::RaftNode::persisted`]
//! reports the highest write id that is durable. A crash loses every write not yet
//! reported durable. The simulator's disk (sim/src/disk.rs) implements exactly this.

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
}

/// Everything a disk holds for one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DurableState {
    pub hard: HardState,
    pub snapshot: Snapshot,
    /// Entries `snapshot.last_index + 1 ..`, contiguous.
    pub log: Vec<Entry>,
}

impl DurableState {
    /// The disk of a member created with the cluster.
    pub fn bootstrap() -> DurableState {
        DurableState {
            hard: HardState {
                initialized: true,
                ..HardState::default()
            },
            snapshot: Snapshot::empty(),
            log: Vec::new(),
        }
    }

    /// A blank disk: what a wiped node finds.
    pub fn blank() -> DurableState {
        DurableState {
            hard: HardState::default(),
            snapshot: Snapshot::empty(),
            log: Vec::new(),
        }
    }

    pub fn last_index(&self) -> Index {
        self.log
            .last()
            .map_or(self.snapshot.last_index, |e| e.index)
    }

    fn term_at(&self, index: Index) -> Option<Term> {
        if index == self.snapshot.last_index {
            return Some(self.snapshot.last_term);
        }
        if index < self.snapshot.last_index || index > self.last_index() {
            return None;
        }
        Some(self.log[(index - self.snapshot.last_index - 1) as usize].term)
    }

    /// Applies one write as a disk would when it becomes durable.
    pub fn apply(&mut self, write: &Write) {
        match write {
            Write::HardState(hs) => self.hard = *hs,
            Write::Append { entries } => {
                let Some(first) = entries.first() else { return };
                assert!(
                    first.index > self.snapshot.last_index && first.index <= self.last_index() + 1,
                    "append at {} leaves a gap after durable index {} (snapshot {})",
                    first.index,
                    self.last_index(),
                    self.snapshot.last_index
                );
                self.log
                    .truncate((first.index - self.snapshot.last_index - 1) as usize);
                self.log.extend_from_slice(entries);
            }
            Write::Snapshot { snapshot } => {
                if snapshot.last_index <= self.snapshot.last_index {
                    return;
                }
                if self.term_at(snapshot.last_index) == Some(snapshot.last_term) {
                    let keep_from = (snapshot.last_index - self.snapshot.last_index) as usize;
                    self.log.drain(..keep_from);
                } else {
                    self.log.clear();
                }
                self.snapshot = snapshot.clone();
            }
        }
    }
}
