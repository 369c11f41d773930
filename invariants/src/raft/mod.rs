//! Raft safety checkers. Each file holds one check, whose header says what it checks
//! and what it ignores. They see typed [`Event`]s from the cores (with a read-only view
//! of the node that emitted them), the messages they send (with the sender's durable
//! state) and durable-state changes from the simulated disks.
//! [`RaftChecks`] runs them all; the first violation stops the seed.

mod applied_bounds;
mod committed_prefix;
mod durable_before_ack;
mod durable_monotonic;
mod election_safety;
mod leader_completeness;
mod leader_elected;
mod log_matching;
mod no_rollback;
mod state_agreement;
mod state_machine_safety;

pub use committed_prefix::Ledger;

use zkwal_raft::{DurableState, Event, Message, NodeId, RaftNode, Write};

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
pub const NAMES: [&str; 11] = [
    election_safety::NAME,
    log_matching::NAME,
    leader_completeness::NAME,
    state_machine_safety::NAME,
    committed_prefix::NAME,
    durable_monotonic::NAME,
    applied_bounds::NAME,
    durable_before_ack::NAME,
    no_rollback::NAME,
    leader_elected::NAME,
    state_agreement::NAME,
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
    acks: durable_before_ack::DurableBeforeAck,
    rollback: no_rollback::NoRollback,
    elected: leader_elected::LeaderElected,
    agreement: state_agreement::StateAgreement,
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
                self.elected.on_won(id, term);
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
            Event::ConflictAtCommit {
                index,
                commit,
                ours,
                theirs,
                leader_term,
            } => committed_prefix::on_conflict_at_commit(
                id,
                index,
                commit,
                (ours, theirs),
                leader_term,
            )?,
            Event::CommitAdvanced { from, to } => {
                self.rollback.on_commit(id, from, to)?;
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
            Event::SnapshotInstalled { index, .. } => {
                self.rollback.on_snapshot(id, index)?;
                self.bounds.on_reset(id, index)
            }
            Event::Recovered { .. } => {}
        }
        Ok(())
    }

    /// After every input to `node` (and after its events): applied <= commit <= last
    /// index, nothing went back, a leader won its term, its state machine agrees.
    pub fn after_step(&mut self, node: &RaftNode) -> Result<(), Violation> {
        self.bounds.after_step(node)?;
        self.rollback.after_step(node)?;
        self.elected.after_step(node)?;
        self.agreement.after_step(node)
    }

    /// A node (re)started from its durable state: it rebuilds its state machine from
    /// `snapshot_index`, so re-applying entries after that is not a double apply, and
    /// a new incarnation begins (what it won or applied before no longer counts).
    pub fn on_start(&mut self, node: NodeId, snapshot_index: u64) {
        self.bounds.on_reset(node, snapshot_index);
        self.rollback.on_start(node);
        self.elected.on_start(node);
        self.agreement.on_start(node);
    }

    /// `node` sends `msg` (it leaves now); `disk` is the node's durable state now.
    pub fn on_send(
        &mut self,
        node: &RaftNode,
        disk: &DurableState,
        msg: &Message,
    ) -> Result<(), Violation> {
        self.acks.on_send(node, disk, msg)?;
        self.elected.on_send(node, msg)
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
