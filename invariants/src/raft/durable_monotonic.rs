//! Durable state moves forward only: on each node's disk the term and the commit index
//! never decrease, and within one term the recorded vote never changes to another
//! candidate (a double vote). Checked as each write becomes durable.
//! Ignores: the change from a blank disk (after a wipe the node starts over by design).

use zkwal_raft::{DurableState, NodeId, Write};

use super::Violation;

pub const NAME: &str = "durable_monotonic";

#[derive(Default)]
pub struct DurableMonotonic;

impl DurableMonotonic {
    pub fn on_write(
        &mut self,
        node: NodeId,
        before: &DurableState,
        write: &Write,
    ) -> Result<(), Violation> {
        let Write::HardState(new) = write else {
            return Ok(());
        };
        let old = &before.hard;
        if !old.initialized {
            return Ok(());
        }
        let bad = if new.term < old.term {
            Some(format!("term went from {} to {}", old.term, new.term))
        } else if new.commit < old.commit {
            Some(format!(
                "commit index went from {} to {}",
                old.commit, new.commit
            ))
        } else if new.term == old.term && old.voted_for.is_some() && new.voted_for != old.voted_for
        {
            Some(format!(
                "vote in term {} changed from {:?} to {:?}",
                new.term, old.voted_for, new.voted_for
            ))
        } else {
            None
        };
        bad.map_or(Ok(()), |d| {
            Err(Violation::new(NAME, format!("node {node}: durable {d}")))
        })
    }
}

#[cfg(test)]
mod tests {
    use zkwal_raft::{DurableState, HardState, Write};

    fn disk(term: u64, voted_for: Option<u32>, commit: u64) -> DurableState {
        let mut d = DurableState::bootstrap();
        d.hard = HardState {
            term,
            voted_for,
            commit,
            initialized: true,
            disk_epoch: 0,
        };
        d
    }

    fn hs(term: u64, voted_for: Option<u32>, commit: u64) -> Write {
        Write::HardState(HardState {
            term,
            voted_for,
            commit,
            initialized: true,
            disk_epoch: 0,
        })
    }

    #[test]
    fn backwards_term_commit_or_changed_vote_is_caught() {
        let mut c = super::DurableMonotonic;
        assert!(c
            .on_write(0, &disk(3, Some(1), 5), &hs(3, Some(1), 6))
            .is_ok());
        assert!(c.on_write(0, &disk(3, Some(1), 5), &hs(4, None, 5)).is_ok());
        assert!(c
            .on_write(0, &disk(3, Some(1), 5), &hs(2, None, 5))
            .is_err());
        assert!(c
            .on_write(0, &disk(3, Some(1), 5), &hs(3, Some(1), 4))
            .is_err());
        assert!(c
            .on_write(0, &disk(3, Some(1), 5), &hs(3, Some(2), 5))
            .is_err());
        assert!(
            c.on_write(0, &DurableState::blank(), &hs(1, None, 0))
                .is_ok(),
            "after a wipe"
        );
    }
}
