//! Entries recovered from a WAL land at the (index, term) they were written at, with
//! the payload written: what a node says it recovered from a WAL at an index must be
//! what was written to that WAL at that index (same term, same payload) (questions 2 and 5 of DESIGN.md §2): an entry a follower or a
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
    /// What each WAL holds at each index, as its writer confirmed it: (term, digest).
    written: BTreeMap<(String, Index), (Term, u64)>,
}

impl WalRecovery {
    pub fn on_written(
        &mut self,
        index: Index,
        term: Term,
        digest: u64,
        path: &str,
    ) -> Result<(), Violation> {
        if let Some((wal, _)) = path.rsplit_once('/') {
            self.written
                .insert((wal.to_string(), index), (term, digest));
        }
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
        if let Some(&(t, d)) = self.written.get(&(wal.to_string(), index)) {
            if (t, d) != (term, digest) {
                return Err(Violation::new(
                    NAME,
                    format!(
                        "node {node} recovered ({index}, {term}) digest {digest:x} from {wal}, \
                         which holds ({index}, {t}) digest {d:x} there"
                    ),
                ));
            }
        }
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

    /// A recovery that relabels an entry (another term than the WAL holds at that
    /// index) is caught even though nothing was ever written at the new (index, term).
    #[test]
    fn a_relabelled_entry_is_caught() {
        let mut c = super::WalRecovery::default();
        assert!(c
            .on_written(4, 2, 7, "/wal/00000000000000000003-n1/4")
            .is_ok());
        let e = c
            .on_recovered(1, "/wal/00000000000000000003-n1", 4, 3, 7)
            .unwrap_err();
        assert_eq!(e.invariant, super::NAME);
        assert!(c
            .on_recovered(1, "/wal/00000000000000000003-n1", 4, 2, 7)
            .is_ok());
    }
}
