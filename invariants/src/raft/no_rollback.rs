//! No rollback in memory: within one incarnation of a node (from a start to the next
//! crash), its term, commit index and applied index never decrease, and it never
//! installs a snapshot older than what its state machine has already applied (that
//! would take the state machine back to an older state). Checked on every commit
//! change and snapshot install, and against the node's indexes after every input.
//! Ignores: restarts (the node rebuilds from its disk; `durable_monotonic` watches
//! that), and whether the state reached is the right one (`state_agreement`).

use std::collections::BTreeMap;

use zkwal_raft::{Index, NodeId, RaftNode, Term};

use super::Violation;

pub const NAME: &str = "no_rollback";

#[derive(Clone, Copy)]
struct Seen {
    term: Term,
    commit: Index,
    applied: Index,
}

#[derive(Default)]
pub struct NoRollback {
    /// Each running node's indexes after its last input, in this incarnation.
    seen: BTreeMap<NodeId, Seen>,
}

impl NoRollback {
    /// A node (re)started: a new incarnation begins from its durable state.
    pub fn on_start(&mut self, node: NodeId) {
        self.seen.remove(&node);
    }

    pub fn on_commit(&mut self, node: NodeId, from: Index, to: Index) -> Result<(), Violation> {
        if to < from {
            return Err(Violation::new(
                NAME,
                format!("node {node} moved its commit index back from {from} to {to}"),
            ));
        }
        Ok(())
    }

    pub fn on_snapshot(&mut self, node: NodeId, index: Index) -> Result<(), Violation> {
        match self.seen.get(&node) {
            Some(s) if index < s.applied => Err(Violation::new(
                NAME,
                format!(
                    "node {node} installed a snapshot at index {index} after applying up to {}",
                    s.applied
                ),
            )),
            _ => Ok(()),
        }
    }

    pub fn after_step(&mut self, node: &RaftNode) -> Result<(), Violation> {
        let now = Seen {
            term: node.term(),
            commit: node.commit_index(),
            applied: node.applied_index(),
        };
        let id = node.id();
        if let Some(old) = self.seen.insert(id, now) {
            let bad = if now.term < old.term {
                Some(("term", old.term, now.term))
            } else if now.commit < old.commit {
                Some(("commit index", old.commit, now.commit))
            } else if now.applied < old.applied {
                Some(("applied index", old.applied, now.applied))
            } else {
                None
            };
            if let Some((what, a, b)) = bad {
                return Err(Violation::new(
                    NAME,
                    format!("node {id}: {what} went back from {a} to {b} without a restart"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use zkwal_raft::{Config, DurableState, RaftNode};

    #[test]
    fn an_older_snapshot_or_a_commit_going_back_is_caught() {
        let mut c = super::NoRollback::default();
        assert!(c.on_commit(0, 3, 7).is_ok());
        assert_eq!(c.on_commit(0, 7, 5).unwrap_err().invariant, super::NAME);
        let node = RaftNode::new(
            Config::new(0, vec![0, 1, 2]),
            &DurableState::bootstrap(),
            0,
            0,
        );
        assert!(c.after_step(&node).is_ok());
        assert!(c.on_snapshot(0, 0).is_ok(), "not older than applied");
        // Pretend the node had applied up to 10 before this input.
        c.seen.get_mut(&0).unwrap().applied = 10;
        assert!(c.on_snapshot(0, 12).is_ok());
        assert!(c.on_snapshot(0, 6).is_err(), "older than applied");
        assert!(c.after_step(&node).is_err(), "applied went from 10 to 0");
        c.seen.get_mut(&0).unwrap().applied = 10;
        c.on_start(0);
        assert!(c.after_step(&node).is_ok(), "a restart starts over");
    }
}
