//! Index order on each node: applied <= commit <= last log index after every input,
//! and each entry is applied once, in order (applied indexes go up by exactly one,
//! except when a snapshot replaces the state machine or the node restarts and
//! rebuilds it from its snapshot).
//! Ignores: how far apart the three indexes are.

use std::collections::BTreeMap;

use zkwal_raft::{Index, NodeId, RaftNode};

use super::Violation;

pub const NAME: &str = "applied_bounds";

#[derive(Default)]
pub struct AppliedBounds {
    last_applied: BTreeMap<NodeId, Index>,
}

impl AppliedBounds {
    pub fn on_reset(&mut self, node: NodeId, index: Index) {
        self.last_applied.insert(node, index);
    }

    pub fn on_applied(&mut self, node: NodeId, index: Index) -> Result<(), Violation> {
        let last = self.last_applied.entry(node).or_insert(0);
        if index != *last + 1 {
            return Err(Violation::new(
                NAME,
                format!("node {node} applied index {index} right after {last} (each entry once, in order)"),
            ));
        }
        *last = index;
        Ok(())
    }

    pub fn after_step(&mut self, node: &RaftNode) -> Result<(), Violation> {
        let (a, c, l) = (
            node.applied_index(),
            node.commit_index(),
            node.log().last_index(),
        );
        if a <= c && c <= l {
            return Ok(());
        }
        Err(Violation::new(
            NAME,
            format!(
                "node {}: applied {a}, commit {c}, last index {l}",
                node.id()
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn applying_out_of_order_or_twice_is_caught() {
        let mut c = super::AppliedBounds::default();
        assert!(c.on_applied(0, 1).is_ok());
        assert!(c.on_applied(0, 2).is_ok());
        assert!(c.on_applied(0, 2).is_err(), "applied twice");
        c.on_reset(1, 10);
        assert!(c.on_applied(1, 12).is_err(), "skipped index 11");
        c.on_reset(0, 5);
        assert!(
            c.on_applied(0, 6).is_ok(),
            "a restart rebuilds from its snapshot"
        );
    }
}
