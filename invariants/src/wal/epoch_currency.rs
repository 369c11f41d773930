//! Epoch currency (issue 22, check 1): ZooKeeper applies no leader write of a node
//! acting under epoch e once the current epoch has moved past e. The rule is judged
//! on ZooKeeper's applied transactions (the ground truth), each at its zxid against
//! the applied state just before it:
//!
//! - the writes judged are a leader's duties: a WAL header or entry (create, or the
//!   truncation's delete), `/leader`, `/commit`, and the snapshot publication
//!   (`/snapshot`, `/snap/...`); not the epoch bump itself, nor membership and parents;
//! - the epoch the writer acted under is, in `fenced`, the version of `/epoch` its
//!   multi checked first (its own words); without that check, the epoch of what it
//!   writes: a WAL entry the epoch in its WAL's header, a header or `/leader` the
//!   epoch they carry, anything else (a delete of the truncation too, whoever's WAL
//!   it empties) the epoch the node last took office under in ZooKeeper (its latest
//!   `/leader` or WAL header);
//! - the current epoch is, in `fenced`, `/epoch`'s version; in the unfenced variants
//!   (`seed`, `seed-zk-quorum`) the same rule runs under the Raft term: a write of a
//!   leader of term t is stale once ZooKeeper has seen a leader of a higher term take
//!   office (a WAL header or `/leader` of that term applied). They have no fence, so
//!   there it is expected to fire (README's variant table).
//!
//! Acknowledgements are judged through the write they rest on: an acknowledged entry
//! reached its WAL first (step A), and that write passed this rule when ZooKeeper
//! applied it, before any acknowledgement could rest on it; `wal_chain` then demands
//! that every acknowledged write stay in the chain ZooKeeper holds. The moment of the
//! acknowledgement itself is not judged: a leader learns that it was fenced only from
//! ZooKeeper's answer to its next conditional write, an acknowledgement sent after the
//! bump for an entry that reached the WAL before it is safe (the takeover reads the
//! WAL to its end only after bumping), and a node that acknowledges a client's retry
//! that another leader committed is right whatever epoch it first proposed it under.
//! A leader that goes on acknowledging after ZooKeeper told it is check 5's
//! (`issues show 22`, part B).
//! Ignores: failed transactions (they change nothing), the end of a session (its
//! ephemeral `/leader` goes with it: ZooKeeper's doing, not the node's), and writes whose epoch nothing tells (a node that never took
//! office in ZooKeeper).

use zkwal_wal::layout;

use super::zk_view::{Change, Place, Txn, ZkView};
use crate::raft::Violation;

pub const NAME: &str = "epoch_currency";

pub fn on_txn(view: &ZkView, fenced: bool, t: &Txn) -> Result<(), Violation> {
    let Some(node) = t.node.filter(|_| !t.session_end) else {
        return Ok(());
    };
    let (current, since) = view.current(fenced);
    for c in &t.changes {
        let place = Place::of(c.path());
        if !place.is_leader_write() {
            continue;
        }
        let data = match c {
            Change::Create { data, .. } | Change::SetData { data, .. } => Some(*data),
            Change::Delete { .. } => None,
        };
        let Some(e) = view.writer_epoch(fenced, t, &place, data) else {
            continue;
        };
        if e < current {
            let what = match c {
                Change::Create { .. } => "created",
                Change::Delete { .. } => "deleted",
                Change::SetData { .. } => "set",
            };
            let (unit, moved) = if fenced {
                ("epoch", format!("{} moved to {current}", layout::EPOCH))
            } else {
                ("term", format!("a leader of term {current} took office"))
            };
            let by = match since {
                Some((z, Some(n))) => format!(" at zxid {z} (node {n})"),
                Some((z, None)) => format!(" at zxid {z}"),
                None => String::new(),
            };
            return Err(Violation::new(
                NAME,
                format!(
                    "ZooKeeper applied node {node}'s write ({what} {}) under {unit} {e} at zxid {} \
                     (t={} ms), after {moved}{by}",
                    c.path(),
                    t.zxid,
                    t.time_ms
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use zkwal_wal::layout::WalHeader;

    fn txn<'a>(zxid: u64, node: u32, check: Option<i32>, changes: Vec<Change<'a>>) -> Txn<'a> {
        Txn {
            zxid,
            time_ms: zxid * 10,
            node: Some(node),
            epoch_check: check,
            session_end: false,
            changes,
        }
    }

    #[test]
    fn a_wal_append_after_the_bump_is_caught_and_one_before_is_not() {
        let mut view = ZkView::default();
        let bump1 = layout::encode(&(0u32, 1u64));
        view.apply(
            true,
            &txn(
                1,
                0,
                None,
                vec![Change::SetData {
                    path: "/epoch",
                    data: &bump1,
                    version: 1,
                }],
            ),
        );
        let h = layout::encode(&WalHeader {
            prev_index: 0,
            prev_term: 0,
            epoch: 1,
        });
        let header = txn(
            2,
            0,
            None,
            vec![Change::Create {
                path: "/wal/00000000000000000001-n0",
                data: &h,
            }],
        );
        assert!(on_txn(&view, true, &header).is_ok());
        view.apply(true, &header);
        // An append without the epoch check, while epoch 1 is current: fine.
        let append = txn(
            3,
            0,
            None,
            vec![Change::Create {
                path: "/wal/00000000000000000001-n0/00000000000000000001",
                data: b"{}",
            }],
        );
        assert!(on_txn(&view, true, &append).is_ok());
        let bump2 = layout::encode(&(1u32, 2u64));
        view.apply(
            true,
            &txn(
                4,
                1,
                None,
                vec![Change::SetData {
                    path: "/epoch",
                    data: &bump2,
                    version: 2,
                }],
            ),
        );
        let late = txn(
            5,
            0,
            None,
            vec![Change::Create {
                path: "/wal/00000000000000000001-n0/00000000000000000002",
                data: b"{}",
            }],
        );
        let v = on_txn(&view, true, &late).unwrap_err();
        assert_eq!(v.invariant, NAME);
        assert!(v.detail.contains("zxid 4 (node 1)"), "{}", v.detail);
        // A /commit by node 0 is judged by what it last took office under (epoch 1).
        let commit = txn(
            6,
            0,
            None,
            vec![Change::SetData {
                path: "/commit",
                data: b"2",
                version: 3,
            }],
        );
        assert!(on_txn(&view, true, &commit).is_err());
        // The bump itself and membership are not leader writes.
        let member = txn(
            7,
            0,
            None,
            vec![Change::Create {
                path: "/nodes/n0",
                data: b"",
            }],
        );
        assert!(on_txn(&view, true, &member).is_ok());
    }

    /// A leader's truncation deletes entries of older WALs: judged under the
    /// deleter's term, not the WAL's (found by the scripted `wal_scenarios`).
    #[test]
    fn a_current_leader_truncating_an_older_wal_is_not_stale() {
        let mut view = ZkView::default();
        let h = layout::encode(&WalHeader {
            prev_index: 0,
            prev_term: 0,
            epoch: 3,
        });
        view.apply(
            false,
            &txn(
                1,
                0,
                None,
                vec![Change::Create {
                    path: "/wal/00000000000000000003-n0",
                    data: &h,
                }],
            ),
        );
        let truncate = txn(
            2,
            0,
            None,
            vec![Change::Delete {
                path: "/wal/00000000000000000001-n1/00000000000000000001",
            }],
        );
        assert!(on_txn(&view, false, &truncate).is_ok());
    }

    #[test]
    fn unfenced_runs_are_judged_under_the_term() {
        let mut view = ZkView::default();
        let h = layout::encode(&WalHeader {
            prev_index: 0,
            prev_term: 0,
            epoch: 5,
        });
        view.apply(
            false,
            &txn(
                1,
                1,
                None,
                vec![Change::Create {
                    path: "/wal/00000000000000000005-n1",
                    data: &h,
                }],
            ),
        );
        let stale = txn(
            2,
            0,
            None,
            vec![Change::Create {
                path: "/wal/00000000000000000004-n0/00000000000000000003",
                data: b"{}",
            }],
        );
        let v = on_txn(&view, false, &stale).unwrap_err();
        assert!(v.detail.contains("under term 4"), "{}", v.detail);
        let current = txn(
            3,
            1,
            None,
            vec![Change::Create {
                path: "/wal/00000000000000000005-n1/00000000000000000003",
                data: b"{}",
            }],
        );
        assert!(on_txn(&view, false, &current).is_ok());
    }
}
