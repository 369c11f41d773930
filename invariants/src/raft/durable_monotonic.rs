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
