//! Election safety (paper Figure 3): at most one leader per term, over the whole
//! history of the run (crashes and restarts included), not just at one instant.
//! Ignores: whether leaders are useful (liveness is checked after the run).

use std::collections::BTreeMap;

use zkwal_raft::{NodeId, Term};

use super::Violation;

pub const NAME: &str = "election_safety";

#[derive(Default)]
pub struct ElectionSafety {
    leaders: BTreeMap<Term, NodeId>,
}

impl ElectionSafety {
    pub fn on_leader(&mut self, node: NodeId, term: Term) -> Result<(), Violation> {
        match self.leaders.insert(term, node) {
            Some(other) if other != node => Err(Violation::new(
                NAME,
                format!("nodes {other} and {node} were both leader in term {term}"),
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn two_leaders_in_one_term_are_caught() {
        let mut c = super::ElectionSafety::default();
        assert!(c.on_leader(1, 3).is_ok());
        assert!(
            c.on_leader(1, 3).is_ok(),
            "the same leader reported twice is fine"
        );
        assert!(c.on_leader(2, 4).is_ok());
        assert_eq!(c.on_leader(0, 3).unwrap_err().invariant, super::NAME);
    }
}
