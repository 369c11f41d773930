//! State machine safety (paper Figure 3): no two nodes apply different entries at the
//! same index. Every applied (index, term, payload digest) is compared with the first
//! one applied at that index by any node, over the whole run.
//! Ignores: state installed from snapshots (it was produced by applying checked entries).

use std::collections::BTreeMap;

use zkwal_raft::{Index, NodeId, Term};

use super::Violation;

pub const NAME: &str = "state_machine_safety";

#[derive(Default)]
pub struct StateMachineSafety {
    applied: BTreeMap<Index, (Term, u64, NodeId)>,
}

impl StateMachineSafety {
    pub fn on_applied(
        &mut self,
        node: NodeId,
        index: Index,
        term: Term,
        digest: u64,
    ) -> Result<(), Violation> {
        match self.applied.get(&index) {
            None => {
                self.applied.insert(index, (term, digest, node));
                Ok(())
            }
            Some(&(t, d, first)) if t != term || d != digest => Err(Violation::new(
                NAME,
                format!("node {first} applied (term {t}, {d:#x}) at index {index}, node {node} applied (term {term}, {digest:#x})"),
            )),
            Some(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn two_nodes_applying_different_entries_at_an_index_is_caught() {
        let mut c = super::StateMachineSafety::default();
        assert!(c.on_applied(0, 1, 1, 0xaa).is_ok());
        assert!(c.on_applied(1, 1, 1, 0xaa).is_ok());
        assert_eq!(
            c.on_applied(2, 1, 2, 0xbb).unwrap_err().invariant,
            super::NAME
        );
    }
}
