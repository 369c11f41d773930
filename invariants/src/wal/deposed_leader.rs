//! fenced: a leader whose epoch-checked write failed stops leading at once. The failed
//! check (op 0 of the write's `multi`) is ZooKeeper's word that `/epoch` has moved past
//! the epoch the leader holds: another node has fenced it and may already have read
//! its WAL to the end. So from the end of the input in which the node received that
//! answer, it must not be Raft leader under that epoch any more (no more heartbeats
//! that hold followers back, no more proposals or acknowledgements as leader).
//!
//! The bound is zero: the answer carries everything the node needs, stepping down
//! needs no I/O, and every moment it stays leader it keeps followers from campaigning
//! while none of its writes can succeed (liveness) and answers reads as if it were
//! current. An implementation may take as long as it likes to *learn* it is fenced
//! (the answer can be delayed by the network or a pause): only the reaction is timed.
//!
//! Ignores: a failed check of a write made under an older epoch than the one the node
//! leads under now (a late answer to an earlier leadership: the current one is not
//! fenced by it); acknowledgements of entries the deposed node applies later as a
//! follower (committed by the new leader, so true); the unfenced variants (no epoch).

use std::collections::BTreeMap;

use zkwal_raft::NodeId;

use super::NodeView;
use crate::raft::Violation;

pub const NAME: &str = "deposed_leader";

#[derive(Default)]
pub struct DeposedLeader {
    /// Per node, the epoch it led under when a write checked against it failed.
    fenced: BTreeMap<NodeId, u64>,
}

impl DeposedLeader {
    pub fn on_check_failed(&mut self, node: NodeId, checked: u64, leading: u64) {
        if leading != 0 && checked == leading {
            self.fenced.insert(node, checked);
        }
    }

    /// After every input of `v.node`.
    pub fn after_step(&mut self, v: &NodeView) -> Result<(), Violation> {
        let Some(&epoch) = self.fenced.get(&v.node) else {
            return Ok(());
        };
        if v.leader_term.is_some() && v.epoch == epoch {
            return Err(Violation::new(
                NAME,
                format!(
                    "node {} is still leader of term {} under epoch {epoch} after ZooKeeper failed its epoch check",
                    v.node,
                    v.leader_term.unwrap_or(0)
                ),
            ));
        }
        self.fenced.remove(&v.node);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(node: NodeId, leader_term: Option<u64>, epoch: u64) -> NodeView {
        NodeView {
            node,
            leader_term,
            epoch,
            session_expired: false,
        }
    }

    #[test]
    fn a_leader_that_stays_after_a_failed_check_is_caught() {
        let mut c = DeposedLeader::default();
        c.on_check_failed(0, 3, 3);
        let v = c.after_step(&view(0, Some(4), 3)).unwrap_err();
        assert_eq!(v.invariant, NAME);
    }

    #[test]
    fn stepping_down_or_a_late_answer_to_an_older_epoch_is_fine() {
        let mut c = DeposedLeader::default();
        c.on_check_failed(0, 3, 3);
        assert!(c.after_step(&view(0, None, 0)).is_ok());
        // Later leading again under a new epoch is not judged by the old failure.
        assert!(c.after_step(&view(0, Some(6), 5)).is_ok());
        c.on_check_failed(1, 2, 5);
        assert!(c.after_step(&view(1, Some(6), 5)).is_ok());
    }
}
