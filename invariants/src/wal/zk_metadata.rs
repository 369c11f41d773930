//! ZooKeeper's metadata is monotonic and says what the layout says (issue 22, check
//! 2), judged on ZooKeeper's applied transactions, not on what any node believes:
//!
//! - `/epoch` only grows: every bump reserves a term above the one before (two
//!   takeovers that reserved one term could both lead in it);
//! - `/commit` never decreases under one leadership (epoch, or term when unfenced).
//!   Across a takeover it does, in the design as built: a new leader records its own
//!   commit index, which Raft lets lag its predecessor's (fenced, 2 nodes, seed 478:
//!   68 back to 64 at a takeover); no reader uses `/commit`, so that is a finding,
//!   not a violation. A deposed leader's unconditional `setData` that moves it back
//!   (an unfenced run: 325 to 200) is a stale write: `epoch_currency` judges it;
//! - `/snapshot` never points back, and `/snap/<i>`'s header says `last_index` i;
//! - (a published snapshot covering no index above the recorded commit does NOT hold
//!   in the design as built: `/commit` is advisory, one `setData` in flight, read by
//!   no reader, and a publication does not wait for it: fenced, 2 nodes, seed 272
//!   publishes 73 over a recorded 72. What a publication must not do, cover what the
//!   WALs never confirmed, is `wal_chain`'s rule.)
//! - a WAL entry znode holds the entry of its own index, of a term no higher than its
//!   WAL's, above its WAL's start (`prev_index`), and is never created again with
//!   other content (after a truncation deleted it); a WAL header is never created
//!   again with other content either;
//! - a WAL header's and `/leader`'s epoch is the epoch current when ZooKeeper applies
//!   them (fenced; elsewhere the header's epoch is its term), and `/leader` names the
//!   node whose session wrote it;
//! - (fenced) a leadership acts only under the epoch that reserved its very term: a
//!   WAL header or `/leader` applied under epoch e names the term and the node that
//!   e's bump reserved in `/epoch`. A campaign of an earlier takeover that finishes
//!   after its node bumped the epoch again would otherwise lead the old term under the
//!   new epoch, and the old term could commit after another node reserved a term
//!   between the two (fenced, 3 nodes, seed 9065).
//!
//! Ignores: failed transactions, znodes outside the layout (membership), and the
//! chunks' content (`state_agreement` judges what a snapshot holds once installed).

use std::collections::BTreeMap;

use zkwal_raft::{Entry, Index, NodeId, Term};
use zkwal_wal::layout::{self, LeaderInfo, SnapHeader, WalHeader};

use super::zk_view::{Change, Place, Txn, ZkView};
use crate::raft::Violation;

pub const NAME: &str = "zk_metadata";

#[derive(Default)]
pub struct ZkMetadata {
    /// The last `/commit`: the epoch of the leadership that set it, and the index.
    commit: Option<(u64, Index)>,
    snapshot: Option<Index>,
    /// Every WAL header ever created, by WAL name: its content.
    headers: BTreeMap<String, WalHeader>,
    /// Every WAL entry ever created, by (WAL name, index): (term, payload digest).
    entries: BTreeMap<(String, Index), (Term, u64)>,
}

fn fail(t: &Txn, what: String) -> Result<(), Violation> {
    let by = t.node.map_or(String::new(), |n| format!(" by node {n}"));
    Err(Violation::new(
        NAME,
        format!("zxid {} (t={} ms){by}: {what}", t.zxid, t.time_ms),
    ))
}

/// fenced: the leadership of `id` in `term` that writes `path` (its WAL header or
/// `/leader`) acts under the current epoch, so that epoch's bump must have reserved
/// this very term for this very node.
fn reserved_for(
    view: &ZkView,
    t: &Txn,
    path: &str,
    term: Term,
    id: NodeId,
) -> Result<(), Violation> {
    if view.reserved_term == term && view.reserved_for == Some(id) {
        return Ok(());
    }
    let whom = view
        .reserved_for
        .map_or("no node".to_string(), |n| format!("node {n}"));
    fail(
        t,
        format!(
            "{path}: node {id} leads term {term} under epoch {}, which reserved term {} for {whom}",
            view.epoch, view.reserved_term
        ),
    )
}

impl ZkMetadata {
    /// One committed transaction, against `view` (the state just before it).
    pub fn on_txn(&mut self, view: &ZkView, fenced: bool, t: &Txn) -> Result<(), Violation> {
        for c in &t.changes {
            let path = c.path();
            match (c, Place::of(path)) {
                (Change::SetData { data, version, .. }, Place::Epoch) => {
                    let reserved = layout::decode::<(NodeId, Term)>(data).map_or(0, |r| r.1);
                    if (*version as u64) <= view.epoch || reserved <= view.reserved_term {
                        return fail(
                            t,
                            format!(
                                "/epoch went from version {} (reserved term {}) to version {version} \
                                 (reserved term {reserved})",
                                view.epoch, view.reserved_term
                            ),
                        );
                    }
                }
                (Change::SetData { data, .. }, Place::Commit) => {
                    let Some(index) = layout::decode::<Index>(data) else {
                        return fail(t, "/commit set to something not an index".into());
                    };
                    let epoch = view
                        .writer_epoch(fenced, t, &Place::Commit, Some(data))
                        .unwrap_or(0);
                    if let Some((e, old)) =
                        self.commit.filter(|(e, old)| *e == epoch && index < *old)
                    {
                        return fail(
                            t,
                            format!("/commit moved back from {old} to {index} under epoch {e}"),
                        );
                    }
                    self.commit = Some((epoch, index));
                }
                (Change::SetData { data, .. }, Place::SnapshotPtr) => {
                    let Some(index) = layout::decode::<Index>(data) else {
                        return fail(t, "/snapshot set to something not an index".into());
                    };
                    if let Some(old) = self.snapshot.filter(|old| index < *old) {
                        return fail(t, format!("/snapshot moved back from {old} to {index}"));
                    }
                    self.snapshot = Some(index);
                }
                (Change::Create { data, .. }, Place::SnapHeader(index)) => {
                    match layout::decode::<SnapHeader>(data) {
                        Some(h) if h.last_index == index => {}
                        Some(h) => {
                            return fail(
                                t,
                                format!("{path} holds a snapshot to index {}", h.last_index),
                            )
                        }
                        None => return fail(t, format!("{path} holds no snapshot header")),
                    }
                }
                (Change::Create { data, .. }, Place::WalHeader(name)) => {
                    let Some(h) = layout::decode::<WalHeader>(data) else {
                        return fail(t, format!("{path} holds no WAL header"));
                    };
                    let (term, id) = layout::parse_wal_name(name).unwrap_or((0, NodeId::MAX));
                    let want = if fenced { view.epoch } else { term };
                    if h.epoch != want {
                        return fail(
                            t,
                            format!(
                                "{path} was written with epoch {} while the current one is {want}",
                                h.epoch
                            ),
                        );
                    }
                    if fenced {
                        reserved_for(view, t, path, term, id)?;
                    }
                    if h.prev_term > term {
                        return fail(
                            t,
                            format!("{path} starts after an entry of term {}", h.prev_term),
                        );
                    }
                    if let Some(old) = self.headers.insert(name.to_string(), h) {
                        if old != h {
                            return fail(
                                t,
                                format!("{path} created again with {h:?}, first {old:?}"),
                            );
                        }
                    }
                }
                (Change::Create { data, .. }, Place::WalEntry(name, index)) => {
                    let Some(e) = layout::decode::<Entry>(data) else {
                        return fail(t, format!("{path} holds no entry"));
                    };
                    let term = layout::parse_wal_name(name).map_or(0, |(term, _)| term);
                    if e.index != index || e.term > term {
                        return fail(
                            t,
                            format!("{path} holds the entry ({}, {})", e.index, e.term),
                        );
                    }
                    if let Some(h) = self.headers.get(name).filter(|h| index <= h.prev_index) {
                        return fail(
                            t,
                            format!("{path} lies at or below its WAL's start {}", h.prev_index),
                        );
                    }
                    let now = (e.term, e.payload.digest());
                    if let Some(old) = self.entries.insert((name.to_string(), index), now) {
                        if old != now {
                            return fail(
                                t,
                                format!(
                                    "{path} created again with ({index}, {}), first ({index}, {})",
                                    now.0, old.0
                                ),
                            );
                        }
                    }
                }
                (Change::Create { data, .. }, Place::Leader) => {
                    let Some(info) = layout::decode::<LeaderInfo>(data) else {
                        return fail(t, "/leader holds no leader".into());
                    };
                    if t.node.is_some_and(|n| n != info.id) {
                        return fail(t, format!("/leader names node {}", info.id));
                    }
                    let want = if fenced { view.epoch } else { info.term };
                    if info.epoch != want {
                        return fail(
                            t,
                            format!(
                                "/leader was written with epoch {} while the current one is {want}",
                                info.epoch
                            ),
                        );
                    }
                    if fenced {
                        reserved_for(view, t, path, info.term, info.id)?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set<'a>(zxid: u64, path: &'a str, data: &'a [u8]) -> Txn<'a> {
        Txn {
            zxid,
            time_ms: 0,
            node: Some(0),
            epoch_check: None,
            session_end: false,
            changes: vec![Change::SetData {
                path,
                data,
                version: zxid as i32,
            }],
        }
    }

    #[test]
    fn commit_moving_back_is_caught() {
        let view = ZkView::default();
        let mut c = ZkMetadata::default();
        assert!(c.on_txn(&view, false, &set(1, "/commit", b"325")).is_ok());
        assert!(c.on_txn(&view, false, &set(2, "/commit", b"325")).is_ok());
        let v = c
            .on_txn(&view, false, &set(3, "/commit", b"200"))
            .unwrap_err();
        assert_eq!(v.invariant, NAME);
        assert!(v.detail.contains("from 325 to 200"), "{}", v.detail);
        // A new leadership starts its own record (see the header).
        let mut view = ZkView::default();
        let h = layout::encode(&WalHeader {
            prev_index: 0,
            prev_term: 0,
            epoch: 7,
        });
        view.apply(
            false,
            &Txn {
                zxid: 4,
                time_ms: 0,
                node: Some(0),
                epoch_check: None,
                session_end: false,
                changes: vec![Change::Create {
                    path: "/wal/00000000000000000007-n0",
                    data: &h,
                }],
            },
        );
        assert!(c.on_txn(&view, false, &set(5, "/commit", b"150")).is_ok());
    }

    #[test]
    fn snapshot_moving_back_is_caught() {
        let view = ZkView::default();
        let mut c = ZkMetadata::default();
        assert!(c.on_txn(&view, false, &set(1, "/commit", b"50")).is_ok());
        assert!(c.on_txn(&view, false, &set(2, "/snapshot", b"40")).is_ok());
        assert!(c.on_txn(&view, false, &set(3, "/snapshot", b"30")).is_err());
    }

    #[test]
    fn an_epoch_bump_that_reserves_no_higher_term_is_caught() {
        let mut view = ZkView::default();
        let mut c = ZkMetadata::default();
        let first = layout::encode(&(0u32, 3u64));
        let t = set(1, "/epoch", &first);
        assert!(c.on_txn(&view, true, &t).is_ok());
        view.apply(true, &t);
        let same = layout::encode(&(1u32, 3u64));
        assert!(c.on_txn(&view, true, &set(2, "/epoch", &same)).is_err());
    }

    #[test]
    fn a_wal_entry_recreated_with_other_content_is_caught() {
        use zkwal_raft::Payload;
        let view = ZkView::default();
        let mut c = ZkMetadata::default();
        let path = "/wal/00000000000000000002-n0/00000000000000000004";
        let a = layout::encode(&Entry {
            index: 4,
            term: 2,
            payload: Payload::Noop,
        });
        let b = layout::encode(&Entry {
            index: 4,
            term: 1,
            payload: Payload::Noop,
        });
        let create = |zxid, data| Txn {
            zxid,
            time_ms: 0,
            node: Some(0),
            epoch_check: None,
            session_end: false,
            changes: vec![Change::Create { path, data }],
        };
        assert!(c.on_txn(&view, false, &create(1, &a)).is_ok());
        assert!(c.on_txn(&view, false, &create(2, &a)).is_ok());
        let v = c.on_txn(&view, false, &create(3, &b)).unwrap_err();
        assert!(v.detail.contains("created again"), "{}", v.detail);
        let wrong_index = layout::encode(&Entry {
            index: 5,
            term: 2,
            payload: Payload::Noop,
        });
        assert!(c.on_txn(&view, false, &create(4, &wrong_index)).is_err());
    }

    /// The fix of fenced, 3 nodes, seed 9065 (crates/wal README): a campaign of an
    /// earlier takeover that finishes after its node bumped the epoch again must not
    /// lead the old term under the new epoch.
    #[test]
    fn a_leadership_under_an_epoch_that_reserved_another_term_is_caught() {
        let mut view = ZkView::default();
        let mut c = ZkMetadata::default();
        let bump = layout::encode(&(1u32, 21u64));
        let t = set(21, "/epoch", &bump);
        assert!(c.on_txn(&view, true, &t).is_ok());
        view.apply(true, &t);
        let h = layout::encode(&WalHeader {
            prev_index: 0,
            prev_term: 0,
            epoch: 21,
        });
        let header = |path| Txn {
            zxid: 22,
            time_ms: 0,
            node: Some(1),
            epoch_check: Some(21),
            session_end: false,
            changes: vec![Change::Create { path, data: &h }],
        };
        let v = c
            .on_txn(&view, true, &header("/wal/00000000000000000020-n1"))
            .unwrap_err();
        assert!(
            v.detail
                .contains("leads term 20 under epoch 21, which reserved term 21 for node 1"),
            "{}",
            v.detail
        );
        let v = c
            .on_txn(&view, true, &header("/wal/00000000000000000021-n0"))
            .unwrap_err();
        assert!(v.detail.contains("node 0 leads term 21"), "{}", v.detail);
        assert!(c
            .on_txn(&view, true, &header("/wal/00000000000000000021-n1"))
            .is_ok());
        // Unfenced variants have no reservation: the rule does not apply.
        let mut c = ZkMetadata::default();
        let unfenced = Txn {
            epoch_check: None,
            ..header("/wal/00000000000000000020-n1")
        };
        let h20 = layout::encode(&WalHeader {
            prev_index: 0,
            prev_term: 0,
            epoch: 20,
        });
        let unfenced = Txn {
            changes: vec![Change::Create {
                path: "/wal/00000000000000000020-n1",
                data: &h20,
            }],
            ..unfenced
        };
        assert!(c.on_txn(&ZkView::default(), false, &unfenced).is_ok());
    }
}
