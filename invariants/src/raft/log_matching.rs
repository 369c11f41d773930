//! Log matching (paper §5.3): two logs with an entry of the same index and term hold
//! the same payload there and are identical before it. Checked incrementally: every
//! entry placed in any log must agree, for its (index, term), with every other copy on
//! its payload digest and on the term of the entry before it. By induction on the
//! index this is the full prefix property, at O(log n) per appended entry.
//! Ignores: entries inside snapshots (they were checked when first appended).

use std::collections::BTreeMap;

use zkwal_raft::{Index, NodeId, Term};

use super::Violation;

pub const NAME: &str = "log_matching";

#[derive(Default)]
pub struct LogMatching {
    /// (index, term) -> (term of index - 1, payload digest, first node seen with it)
    seen: BTreeMap<(Index, Term), (Term, u64, NodeId)>,
}

impl LogMatching {
    pub fn on_entry(
        &mut self,
        node: NodeId,
        index: Index,
        term: Term,
        prev_term: Term,
        digest: u64,
    ) -> Result<(), Violation> {
        match self.seen.get(&(index, term)) {
            None => {
                self.seen.insert((index, term), (prev_term, digest, node));
                Ok(())
            }
            Some(&(p, d, first)) if p != prev_term || d != digest => Err(Violation::new(
                NAME,
                format!(
                    "entry ({index}, term {term}) on node {node} has payload {digest:#x} after term {prev_term}, \
                     but node {first} has payload {d:#x} after term {p}"
                ),
            )),
            Some(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn same_index_and_term_with_another_payload_or_predecessor_is_caught() {
        let mut c = super::LogMatching::default();
        assert!(c.on_entry(0, 5, 2, 1, 0xaa).is_ok());
        assert!(
            c.on_entry(1, 5, 2, 1, 0xaa).is_ok(),
            "an identical copy matches"
        );
        assert!(
            c.on_entry(2, 5, 3, 2, 0xbb).is_ok(),
            "another term at the index is allowed"
        );
        assert!(c.on_entry(2, 5, 2, 1, 0xcc).is_err(), "another payload");
        assert!(
            c.on_entry(2, 5, 2, 0, 0xaa).is_err(),
            "another predecessor term"
        );
    }
}
