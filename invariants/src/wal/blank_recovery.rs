//! A node recovered from ZooKeeper with a blank disk (step [4]) is complete: it holds
//! every write acknowledged before its recovery read began, at the index and term it
//! was acknowledged at (or a snapshot that covers that index), and it adopts a Raft
//! term above every term reserved in `/epoch` at that moment (fenced: the term a blank
//! node recovers in must be above every leader's, or a leader of that very term keeps
//! the wiped disk's old match index and never repairs it, seed 36063).
//!
//! "Before its recovery read began" means: an `Acked` event of any node that the world
//! saw before the `BlankReadStarted` event of the read that produced the recovery, i.e.
//! acknowledged strictly before that read's first request left the node. A write
//! acknowledged later may not be visible to the read yet and is not required; a read
//! that was abandoned and started again counts from its last start. "Reserved in
//! `/epoch` at that moment" is the term in the ensemble's committed tree (the leader's,
//! not what a lagging server shows) when that first request left: a reservation made
//! while the read was in flight is not required (the node may not see it).
//!
//! An acknowledgement that carries term 0 (the node had compacted the entry into its
//! snapshot when it answered) is matched by its payload digest alone.
//!
//! Ignores: entries at or below the recovered snapshot's index (the snapshot holds the
//! state, not the entries: `state_agreement` compares states), reads and no-ops (never
//! acknowledged), and what happens after the recovery (the Raft checks take over).
//! In the unfenced variants `/epoch` holds no term, so only completeness applies.

use std::collections::BTreeMap;

use zkwal_raft::{Index, NodeId, Term};
use zkwal_zk::DataTree;

use crate::raft::Violation;

pub const NAME: &str = "blank_recovery";

/// An acknowledged write: (index, term, payload digest).
type Ack = (Index, Term, u64);

#[derive(Default)]
pub struct BlankRecovery {
    /// Every acknowledgement so far, in the order the world saw them.
    acks: Vec<Ack>,
    /// Per node, the read in flight: how many acks preceded its start, and the term
    /// reserved in `/epoch` then.
    reads: BTreeMap<NodeId, (usize, Term)>,
}

/// The term reserved in `/epoch` (`[id, term]`), 0 if none.
pub fn reserved_term(tree: Option<&DataTree>) -> Term {
    tree.and_then(|t| t.get(zkwal_wal::layout::EPOCH))
        .and_then(|(data, _)| zkwal_wal::layout::decode::<(NodeId, Term)>(data))
        .map_or(0, |(_, t)| t)
}

impl BlankRecovery {
    pub fn on_ack(&mut self, index: Index, term: Term, digest: u64) {
        self.acks.push((index, term, digest));
    }

    pub fn on_read_started(&mut self, node: NodeId, reserved: Term) {
        self.reads.insert(node, (self.acks.len(), reserved));
    }

    pub fn on_recovered(
        &mut self,
        node: NodeId,
        term: Term,
        snapshot_index: Index,
        entries: &[(Index, Term, u64)],
    ) -> Result<(), Violation> {
        let Some((acked_before, reserved)) = self.reads.remove(&node) else {
            return Ok(());
        };
        if term <= reserved {
            return Err(Violation::new(
                NAME,
                format!(
                    "node {node} recovered its blank disk in term {term}, not above term {reserved} reserved in /epoch when its read began"
                ),
            ));
        }
        for &(index, ack_term, digest) in &self.acks[..acked_before] {
            if index <= snapshot_index {
                continue;
            }
            let held = entries
                .get((index - snapshot_index - 1) as usize)
                .filter(|e| e.0 == index);
            match held {
                // Term 0: the acknowledging node had already compacted the entry
                // into its snapshot and no longer knew its term (the digest decides).
                Some(&(_, t, d)) if (t == ack_term || ack_term == 0) && d == digest => {}
                Some(&(_, t, _)) => {
                    return Err(Violation::new(
                        NAME,
                        format!(
                            "node {node} recovered its blank disk with ({index}, {t}) where ({index}, {ack_term}) was acknowledged before its read began"
                        ),
                    ))
                }
                None => {
                    return Err(Violation::new(
                        NAME,
                        format!(
                            "node {node} recovered its blank disk up to index {} without ({index}, {ack_term}), acknowledged before its read began",
                            snapshot_index + entries.len() as Index
                        ),
                    ))
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recovery_without_an_earlier_ack_is_caught() {
        let mut c = BlankRecovery::default();
        c.on_ack(1, 1, 7);
        c.on_ack(2, 1, 8);
        c.on_read_started(0, 0);
        let v = c.on_recovered(0, 2, 0, &[(1, 1, 7)]).unwrap_err();
        assert_eq!(v.invariant, NAME);
        assert!(v.detail.contains("without (2, 1)"), "{}", v.detail);
    }

    #[test]
    fn a_different_entry_at_an_acked_index_is_caught() {
        let mut c = BlankRecovery::default();
        c.on_ack(1, 1, 7);
        c.on_read_started(0, 0);
        let v = c.on_recovered(0, 3, 0, &[(1, 2, 9)]).unwrap_err();
        assert!(v.detail.contains("with (1, 2)"), "{}", v.detail);
    }

    #[test]
    fn acks_after_the_read_began_and_snapshot_covered_ones_are_not_required() {
        let mut c = BlankRecovery::default();
        c.on_ack(1, 1, 7);
        c.on_ack(2, 1, 8);
        c.on_read_started(0, 0);
        c.on_ack(3, 1, 9);
        assert!(c.on_recovered(0, 2, 1, &[(2, 1, 8)]).is_ok());
    }

    #[test]
    fn a_term_not_above_the_reserved_one_is_caught() {
        let mut c = BlankRecovery::default();
        c.on_read_started(1, 4);
        let v = c.on_recovered(1, 4, 0, &[]).unwrap_err();
        assert!(v.detail.contains("not above term 4"), "{}", v.detail);
        c.on_read_started(1, 4);
        assert!(c.on_recovered(1, 5, 0, &[]).is_ok());
    }

    #[test]
    fn the_reserved_term_is_read_from_epoch() {
        let mut tree = DataTree::new();
        assert_eq!(reserved_term(Some(&tree)), 0);
        let create = zkwal_zk::TxnOp::Create {
            session: zkwal_zk::SessionId(0),
            path: zkwal_wal::layout::EPOCH.into(),
            data: zkwal_wal::layout::encode(&(1u32, 6u64)),
            mode: zkwal_zk::CreateMode::Persistent,
        };
        let session = zkwal_zk::TxnOp::CreateSession {
            session: zkwal_zk::SessionId(0),
            timeout_ms: 4000,
        };
        tree.apply(1, 0, &session);
        tree.apply(2, 0, &create);
        assert_eq!(reserved_term(Some(&tree)), 6);
    }
}
