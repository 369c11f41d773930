//! Raft safety checkers. Each file holds one check, whose header says what it checks
//! and what it ignores. They see typed [`Event`]s from the cores (with a read-only view
//! of the node that emitted them) and durable-state changes from the simulated disks.
//! [`RaftChecks`] runs them all; the first violation stops the seed.

mod applied_bounds;
mod committed_prefix;
mod durable_monotonic;
mod election_safety;
mod leader_completeness;
mod log_matching;
mod state_machine_safety;

pub use committed_prefix::Ledger;

use zkwal_raft::{DurableState, Event, NodeId, RaftNode, Write};

/// A broken invariant: its stable name (used in CLI output and `seeds/` files) and
/// what was seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub invariant: &'static str,
    pub detail: String,
}

impl Violation {
    pub fn new(invariant: &'static str, detail: String) -> Violation {
        Violation { invariant, detail }
    }
}

/// Names of every Raft check, for documentation and `seeds/` validation.
pub const NAMES: [&str; 7] = [
    election_safety::NAME,
    log_matching::NAME,
    leader_completeness::NAME,
    state_machine_safety::NAME,
    committed_prefix::NAME,
    durable_monotonic::NAME,
    applied_bounds::NAME,
];

#[derive(Default)]
pub struct RaftChecks {
    election: election_safety::ElectionSafety,
    matching: log_matching::LogMatching,
    ledger: Ledger,
    completeness: leader_completeness::LeaderCompleteness,
    sm: state_machine_safety::StateMachineSafety,
    durable: durable_monotonic::DurableMonotonic,
    bounds: applied_bounds::AppliedBounds,
}

impl RaftChecks {
    pub fn new() -> RaftChecks {
        RaftChecks::default()
    }

    /// One event from `node`, observed after the input that produced it.
    pub fn on_event(&mut self, node: &RaftNode, event: &Event) -> Result<(), Violation> {
        let id = node.id();
        match *event {
            Event::BecameLeader { term } => {
                self.election.on_leader(id, term)?;
                self.completeness.on_leader(node, term, &self.ledger)?;
            }
            Event::Appended {
                index,
                term,
                prev_term,
                digest,
            } => self.matching.on_entry(id, index, term, prev_term, digest)?,
            Event::Truncated { from, commit } => committed_prefix::on_truncate(id, from, commit)?,
            Event::CommitAdvanced { from, to } => {
                committed_prefix::on_commit(&mut self.ledger, node, from, to)?
            }
            Event::Applied {
                index,
                term,
                digest,
            } => {
                // Order matters only for which name a violation gets: applying an
                // entry out of order or twice is `applied_bounds`; applying another
                // entry than some node applied at that index is `state_machine_safety`.
                self.bounds.on_applied(id, index)?;
                self.sm.on_applied(id, index, term, digest)?;
                self.ledger.record(index, term, digest, id, node.term())?;
            }
            Event::SnapshotInstalled { index, .. } => self.bounds.on_reset(id, index),
            Event::Recovered { .. } => {}
        }
        Ok(())
    }

    /// After every input to `node`: applied <= commit <= last index, as seen from outside.
    pub fn after_step(&mut self, node: &RaftNode) -> Result<(), Violation> {
        self.bounds.after_step(node)
    }

    /// A node (re)started from its durable state: it rebuilds its state machine from
    /// `snapshot_index`, so re-applying entries after that is not a double apply.
    pub fn on_start(&mut self, node: NodeId, snapshot_index: u64) {
        self.bounds.on_reset(node, snapshot_index);
    }

    /// A write became durable on `node`'s disk, changing `before`.
    pub fn on_durable(
        &mut self,
        node: NodeId,
        before: &DurableState,
        write: &Write,
    ) -> Result<(), Violation> {
        self.durable.on_write(node, before, write)
    }
}
