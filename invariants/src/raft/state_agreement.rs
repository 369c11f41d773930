//! State machines agree: at the same applied index, every node's state machine (the
//! lists and the client de-duplication table) has the same digest
//! ([`zkwal_raft::SmState::digest`], a function of the content alone). Sampled after
//! every input whose applied index moved, against the first digest any node showed at
//! that index; a snapshot installed with a part missing or altered is caught as soon
//! as the state it produced is compared with a node that applied the entries.
//! Ignores: indexes no two nodes stop at after an input (the digest is sampled, not
//! taken at every entry), and indexes more than `WINDOW` below the newest one seen
//! (a bound on memory).

use std::collections::BTreeMap;

use zkwal_raft::{Index, NodeId, RaftNode};

use super::Violation;

pub const NAME: &str = "state_agreement";

/// How many applied indexes keep their digest.
pub const WINDOW: usize = 4096;

#[derive(Default)]
pub struct StateAgreement {
    /// applied index -> (state digest, first node seen there)
    digests: BTreeMap<Index, (u64, NodeId)>,
    /// Each node's applied index at its last sample.
    last: BTreeMap<NodeId, Index>,
}

impl StateAgreement {
    pub fn on_start(&mut self, node: NodeId) {
        self.last.remove(&node);
    }

    pub fn after_step(&mut self, node: &RaftNode) -> Result<(), Violation> {
        let id = node.id();
        let applied = node.applied_index();
        if self.last.insert(id, applied) == Some(applied) {
            return Ok(());
        }
        self.on_state(id, applied, node.state_machine().digest())
    }

    pub fn on_state(&mut self, node: NodeId, applied: Index, digest: u64) -> Result<(), Violation> {
        match self.digests.get(&applied) {
            Some(&(d, first)) if d != digest => Err(Violation::new(
                NAME,
                format!(
                    "at applied index {applied}, node {first}'s state machine has digest {d:#x}, \
                     node {node}'s has {digest:#x}"
                ),
            )),
            Some(_) => Ok(()),
            None => {
                self.digests.insert(applied, (digest, node));
                if self.digests.len() > WINDOW {
                    self.digests.pop_first();
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use zkwal_raft::{ClientReply, SmState};

    #[test]
    fn a_snapshot_without_the_client_table_is_caught() {
        let mut applied = SmState::default();
        applied.lists.insert(0, vec![11, 12]);
        applied.sessions.insert(1, (4, ClientReply::Appended));
        let mut installed = applied.clone();
        installed.sessions.clear();
        let mut c = super::StateAgreement::default();
        assert!(c.on_state(0, 9, applied.digest()).is_ok());
        assert!(c.on_state(1, 9, applied.digest()).is_ok(), "same state");
        assert!(
            c.on_state(2, 8, installed.digest()).is_ok(),
            "another index"
        );
        assert_eq!(
            c.on_state(2, 9, installed.digest()).unwrap_err().invariant,
            super::NAME
        );
    }
}
