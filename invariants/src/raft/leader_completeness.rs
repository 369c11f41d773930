//! Leader completeness (paper §5.4): an entry committed in term t is in the log of
//! every leader of a term above t. Checked when a node becomes leader of term T,
//! against the highest ledger entry committed in a term below T (log matching then
//! covers the prefix before it). A stale leader of an older term (woken from a pause)
//! is held only to what was committed before its own term.
//! Ignores: committed entries inside the new leader's snapshot (a snapshot holds only
//! committed state, checked by state machine safety when it was applied).

use zkwal_raft::{RaftNode, Term};

use super::{Ledger, Violation};

pub const NAME: &str = "leader_completeness";

#[derive(Default)]
pub struct LeaderCompleteness;

impl LeaderCompleteness {
    pub fn on_leader(
        &mut self,
        node: &RaftNode,
        term: Term,
        ledger: &Ledger,
    ) -> Result<(), Violation> {
        let Some((index, committed_term)) = ledger.last_committed_before(term) else {
            return Ok(());
        };
        let log = node.log();
        if index <= log.snapshot_index() {
            return Ok(());
        }
        // The new leader's own no-op is already at the end of its log.
        match log.term_at(index) {
            Some(t) if t == committed_term => Ok(()),
            other => Err(Violation::new(
                NAME,
                format!(
                    "node {} became leader of term {term} without committed entry ({index}, term {committed_term}); \
                     its log has {other:?} there (last index {})",
                    node.id(),
                    log.last_index()
                ),
            )),
        }
    }
}
