//! Entries recovered from a WAL land at the (index, term) they were written at, with
//! the payload written (questions 2 and 5 of DESIGN.md §2): an entry a follower or a
//! blank node takes from a WAL must be the one the WAL's leader confirmed at that
//! position, and two nodes that recover the same (index, term) recover the same
//! entry. (That each is then applied once, at that index, on every node is checked
//! by `state_machine_safety` and `applied_bounds`, which see recovered entries like
//! any other.)
//! Ignores: entries whose writer's confirmation was never seen (its reply was lost):
//! their first recovery fixes what they must be.

use std::collections::BTreeMap;

use zkwal_raft::{Index, NodeId, Term};

use crate::raft::Violation;

pub const NAME: &str = "wal_recovery";

#[derive(Default)]
pub struct WalRecovery {
    known: BTreeMap<(Index, Term), (u64, String)>,
}

impl WalRecovery {
    pub fn on_written(
        &mut self,
        index: Index,
        term: Term,
        digest: u64,
        path: &str,
    ) -> Result<(), Violation> {
        self.check((index, term), digest, || {
            format!("a second WAL write at {path}")
        })
    }

    pub fn on_recovered(
        &mut self,
        node: NodeId,
        wal: &str,
        index: Index,
        term: Term,
        digest: u64,
    ) -> Result<(), Violation> {
        self.check((index, term), digest, || {
            format!("node {node} recovered from {wal}")
        })
    }

    fn check(
        &mut self,
        at: (Index, Term),
        digest: u64,
        who: impl Fn() -> String,
    ) -> Result<(), Violation> {
        match self.known.get(&at) {
            None => {
                self.known.insert(at, (digest, who()));
                Ok(())
            }
            Some((d, _)) if *d == digest => Ok(()),
            Some((_, first)) => Err(Violation::new(
                NAME,
                format!(
                    "{} a different entry at ({}, {}) than {first}",
                    who(),
                    at.0,
                    at.1
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_recovered_entry_unlike_the_written_one_is_caught() {
        let mut c = super::WalRecovery::default();
        assert!(c.on_written(4, 2, 7, "/wal/a/4").is_ok());
        assert!(c.on_recovered(1, "/wal/a", 4, 2, 7).is_ok());
        assert_eq!(
            c.on_recovered(2, "/wal/a", 4, 2, 8).unwrap_err().invariant,
            super::NAME
        );
    }
}
