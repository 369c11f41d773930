//! At most one node appends to the WAL or acknowledges writes under one epoch: the
//! ZooKeeper epoch in `fenced`, the Raft term elsewhere (the term a write was
//! proposed in). Two nodes acting under one epoch means two leaders wrote or answered
//! at once, which only fencing (or Raft's election safety) rules out.
//! Ignores: epoch 0 (no leadership held), and which node acts in which order.

use std::collections::BTreeMap;

use zkwal_raft::NodeId;

use crate::raft::Violation;

pub const NAME: &str = "wal_single_writer";

#[derive(Default)]
pub struct SingleWriter {
    by_epoch: BTreeMap<u64, NodeId>,
}

impl SingleWriter {
    pub fn on_act(&mut self, node: NodeId, epoch: u64, what: &str) -> Result<(), Violation> {
        if epoch == 0 {
            return Ok(());
        }
        match *self.by_epoch.entry(epoch).or_insert(node) {
            n if n == node => Ok(()),
            other => Err(Violation::new(
                NAME,
                format!(
                    "node {node} {what} under epoch {epoch}, in which node {other} already acted"
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn two_writers_in_one_epoch_are_caught() {
        let mut c = super::SingleWriter::default();
        assert!(c.on_act(1, 3, "appended").is_ok());
        assert!(c.on_act(1, 3, "acknowledged").is_ok());
        assert!(c.on_act(0, 4, "appended").is_ok());
        assert_eq!(
            c.on_act(0, 3, "acknowledged").unwrap_err().invariant,
            super::NAME
        );
    }
}
