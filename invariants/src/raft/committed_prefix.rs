//! Committed prefix never changes: once any node counts index i as committed, the entry
//! at i is fixed forever (same term and payload, on every node); no node deletes an
//! entry at or below its own commit index; and no leader sends a node an entry that
//! conflicts with one at or below that node's commit index (the node refuses it:
//! `Event::ConflictAtCommit`; the leader lacks a committed entry). The [`Ledger`] is
//! the run's record of committed entries; leader completeness and state machine safety
//! read it too.
//! Ignores: entries compacted into a snapshot before the check saw them (they were
//! applied, and applied entries are recorded in the ledger as well).

use std::collections::BTreeMap;

use zkwal_raft::{Index, NodeId, RaftNode, Term};

use super::Violation;

pub const NAME: &str = "committed_prefix";

#[derive(Default)]
pub struct Ledger {
    /// index -> (entry term, payload digest, first node seen, that node's term then)
    committed: BTreeMap<Index, (Term, u64, NodeId, Term)>,
}

impl Ledger {
    /// Records that the entry (index, term, digest) is committed, as seen on `node`
    /// while in `node_term`. The first node to count an index committed is the leader
    /// that committed it, so the first `node_term` is the term it was committed in.
    pub fn record(
        &mut self,
        index: Index,
        term: Term,
        digest: u64,
        node: NodeId,
        node_term: Term,
    ) -> Result<(), Violation> {
        match self.committed.get(&index) {
            None => {
                self.committed
                    .insert(index, (term, digest, node, node_term));
                Ok(())
            }
            Some(&(t, d, first, _)) if t != term || d != digest => Err(Violation::new(
                NAME,
                format!(
                    "index {index} committed as term {t} payload {d:#x} on node {first}, \
                     but as term {term} payload {digest:#x} on node {node}"
                ),
            )),
            Some(_) => Ok(()),
        }
    }

    /// The highest index known committed in a term before `term`, with its entry term.
    pub fn last_committed_before(&self, term: Term) -> Option<(Index, Term)> {
        self.committed
            .iter()
            .rev()
            .find(|(_, c)| c.3 < term)
            .map(|(i, c)| (*i, c.0))
    }
}

pub fn on_commit(
    ledger: &mut Ledger,
    node: &RaftNode,
    from: Index,
    to: Index,
) -> Result<(), Violation> {
    for index in from + 1..=to {
        if let Some(e) = node.log().entry(index) {
            ledger.record(index, e.term, e.payload.digest(), node.id(), node.term())?;
        }
    }
    Ok(())
}

pub fn on_truncate(node: NodeId, from: Index, commit: Index) -> Result<(), Violation> {
    if from <= commit {
        return Err(Violation::new(
            NAME,
            format!(
                "node {node} deleted entries from {from}, at or below its commit index {commit}"
            ),
        ));
    }
    Ok(())
}

/// A leader of `leader_term` sent `node` an entry at `index`, at or below its commit
/// index `commit`, of another term than the one it holds there (`terms`: the node's,
/// the leader's). The node refused it, so nothing was deleted: the breach is that a
/// committed entry is missing from a leader's log.
pub fn on_conflict_at_commit(
    node: NodeId,
    index: Index,
    commit: Index,
    terms: (Term, Term),
    leader_term: Term,
) -> Result<(), Violation> {
    Err(Violation::new(
        NAME,
        format!(
            "the leader of term {leader_term} sent node {node} an entry of term {} at index \
             {index}, where node {node} committed (commit {commit}) an entry of term {}",
            terms.1, terms.0
        ),
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_committed_index_that_changes_is_caught() {
        let mut l = super::Ledger::default();
        assert!(l.record(4, 2, 0xaa, 0, 2).is_ok());
        assert!(l.record(4, 2, 0xaa, 1, 3).is_ok());
        assert!(l.record(4, 3, 0xbb, 2, 3).is_err());
        assert_eq!(l.last_committed_before(3), Some((4, 2)));
        assert_eq!(l.last_committed_before(2), None);
    }

    #[test]
    fn deleting_at_or_below_commit_is_caught() {
        assert!(super::on_truncate(0, 6, 5).is_ok());
        assert!(super::on_truncate(0, 5, 5).is_err());
    }
}
