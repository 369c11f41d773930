//! An acknowledged write is durable where the variant says it must be (DESIGN.md §5):
//! in every WAL variant the entry went to its leader's WAL in ZooKeeper before the
//! local append (step A), so when a node acknowledges it (step F) the ensemble's
//! committed tree must hold that entry, with the same payload, at the WAL path where
//! it was confirmed, unless a published snapshot already covers its index (the WAL
//! is truncated after a snapshot). In `fenced` that WAL is the one written under the
//! epoch current at the time (its appends are conditional on the epoch).
//! Ignores: reads (they change nothing), and the `raft` variant (no WAL: Raft's
//! majority is its only durability rule, checked by the Raft checks).

use zkwal_raft::{Entry, Index, NodeId, Payload, Term};
use zkwal_zk::DataTree;

use super::WalLedger;
use crate::raft::Violation;

pub const NAME: &str = "acked_in_wal";

pub fn on_ack(
    ledger: &WalLedger,
    tree: Option<&DataTree>,
    node: NodeId,
    index: Index,
    term: Term,
    digest: u64,
) -> Result<(), Violation> {
    let Some(tree) = tree else { return Ok(()) };
    let Some((path, _)) = ledger.written.get(&(index, term)) else {
        return Err(Violation::new(
            NAME,
            format!(
                "node {node} acknowledged the write at ({index}, {term}) that no WAL in ZooKeeper ever confirmed"
            ),
        ));
    };
    let covered = tree
        .get("/snapshot")
        .and_then(|(data, _)| zkwal_wal::layout::decode::<Index>(data))
        .is_some_and(|s| s >= index);
    if covered {
        return Ok(());
    }
    let stored = tree
        .get(path)
        .and_then(|(data, _)| zkwal_wal::layout::decode::<Entry>(data));
    match stored {
        Some(e) if e.index == index && e.term == term && e.payload.digest() == digest => Ok(()),
        Some(e) => Err(Violation::new(
            NAME,
            format!(
                "node {node} acknowledged ({index}, {term}) but {path} holds ({}, {}) {}",
                e.index,
                e.term,
                if e.payload == Payload::Noop {
                    "noop"
                } else {
                    "another command"
                }
            ),
        )),
        None => Err(Violation::new(
            NAME,
            format!("node {node} acknowledged ({index}, {term}) but {path} is not in ZooKeeper"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ack_without_a_confirmed_wal_entry_is_caught() {
        let ledger = WalLedger::default();
        let tree = DataTree::new();
        let v = on_ack(&ledger, Some(&tree), 1, 5, 2, 9).unwrap_err();
        assert_eq!(v.invariant, NAME);
    }

    #[test]
    fn an_ack_whose_entry_is_missing_from_zookeeper_is_caught() {
        let mut ledger = WalLedger::default();
        ledger
            .written
            .insert((5, 2), ("/wal/x/00000000000000000005".into(), 9));
        let tree = DataTree::new();
        let v = on_ack(&ledger, Some(&tree), 1, 5, 2, 9).unwrap_err();
        assert!(v.detail.contains("not in ZooKeeper"), "{}", v.detail);
    }
}
