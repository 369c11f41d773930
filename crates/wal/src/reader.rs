//! Reading what ZooKeeper holds for a node that must catch up (steps [3] and [4]):
//! fenced takeovers first bump the epoch and `sync` (a blank fenced node `sync`s and
//! reads the term reserved in `/epoch`); then the published snapshot
//! (when it is ahead of what the node has) and every WAL from the node's last term on,
//! each with its header and the entries above the node's commit index.
//!
//! The reader is plain bookkeeping: it says which requests to send and collects the
//! replies; the node decides what to do with the result. Any failure (ConnectionLoss,
//! a znode deleted by a concurrent truncation, a lost race for the epoch) abandons the
//! read; the node retries it later if it still needs it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use zkwal_raft::{Entry, Index, NodeId, Snapshot, Term};
use zkwal_zk::{ErrorCode, Request, Response};

use crate::layout::{self, SnapHeader, WalHeader};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadPurpose {
    /// A (re)started node reads what the WALs hold beyond its log (not fenced).
    Startup,
    /// The leader's znode vanished: catch up, then campaign (seed, seed-zk-quorum).
    Failover,
    /// fenced: bump the epoch, sync, read to the end, then campaign.
    Takeover,
    /// A blank disk: the published snapshot and every later WAL (step [4]).
    Blank,
}

#[derive(Clone, Debug)]
pub enum ReadStep {
    EpochGet,
    EpochSet,
    Sync,
    /// fenced, blank disk: the term the latest takeover reserved.
    EpochPeek,
    SnapPtr,
    /// A blank read, once everything else is in: `/snapshot` read again. Unchanged
    /// (same mzxid), no publication (and so no truncation) came between the first
    /// read of the pointer and the WAL reads; changed, the read is retried.
    SnapPtrAgain,
    SnapHeader(Index),
    Chunk(u32),
    WalList,
    WalHeader(String),
    WalChildren(String),
    Entry(String, Index),
}

#[derive(Default)]
struct WalRead {
    header: Option<WalHeader>,
    entries: BTreeMap<Index, Entry>,
    /// The lowest entry index listed (read or not): above `header.prev_index + 1`,
    /// the WAL's prefix was truncated.
    lowest_listed: Option<Index>,
}

pub struct Reader {
    pub gen: u64,
    pub purpose: ReadPurpose,
    /// Set once when this read's epoch bump succeeded (fenced).
    pub bumped_epoch: Option<u64>,
    /// fenced: the Raft term this takeover reserved in `/epoch` (above every term an
    /// earlier takeover reserved); it campaigns in that term.
    pub campaign_term: Term,
    /// fenced, blank disk: the term reserved in `/epoch` (0 if none was read).
    reserved_seen: Term,
    min_term: Term,
    base_commit: Index,
    /// Requests sent and not yet answered: at most [`MAX_READS_IN_FLIGHT`].
    outstanding: usize,
    /// Requests due but held back by that window, in the order they are to be sent.
    waiting: VecDeque<(Request, ReadStep)>,
    /// fenced: still in the epoch/sync phase.
    fencing: bool,
    snap: Option<SnapHeader>,
    chunks: BTreeMap<u32, Vec<u8>>,
    wals: BTreeMap<String, WalRead>,
    /// A blank read: `/snapshot`'s mzxid at its first read (None: not read yet;
    /// Some(None): no snapshot published), and whether the second read confirmed it.
    snap_ptr_seen: Option<Option<u64>>,
    /// Set when the second read is not needed (not a fenced blank read) or confirmed.
    snap_ptr_confirmed: bool,
}

type Steps = Vec<(Request, ReadStep)>;

/// Most read requests one reader has in flight on its session. A WAL tail of a few
/// thousand entries is otherwise read by as many `getData`s at once, and one session's
/// replies then outrun what a connection holds behind a reordered gap (the mock's
/// `MAX_HELD`; a real server throttles at `globalOutstandingLimit`, 1,000): every
/// attempt broke its connection and the read was retried forever (a livelock found at
/// fenced, 2 nodes, churn seed 5, 4 KiB payloads, with a trial rule that published
/// only once the WAL outgrew the snapshot; today's publication every
/// `publish_every_entries` keeps tails short, but a leader that cannot publish for a
/// while grows one). Sent in the same order as without the window, so a read of at
/// most this many requests is unchanged.
pub const MAX_READS_IN_FLIGHT: usize = 256;

fn get(path: String, step: ReadStep) -> (Request, ReadStep) {
    (Request::GetData { path, watch: false }, step)
}

fn children(path: String, step: ReadStep) -> (Request, ReadStep) {
    (Request::GetChildren { path, watch: false }, step)
}

impl Reader {
    /// `min_term`: WALs of older terms are not read. `base_commit`: entries at or
    /// below it are committed on this node already and not read.
    pub fn start(
        gen: u64,
        purpose: ReadPurpose,
        min_term: Term,
        base_commit: Index,
        fenced: bool,
    ) -> (Reader, Steps) {
        let blank_sync = fenced && purpose == ReadPurpose::Blank;
        let fencing = (fenced && purpose == ReadPurpose::Takeover) || blank_sync;
        let mut r = Reader {
            gen,
            purpose,
            bumped_epoch: None,
            campaign_term: 0,
            reserved_seen: 0,
            min_term,
            base_commit,
            outstanding: 0,
            waiting: VecDeque::new(),
            fencing,
            snap: None,
            chunks: BTreeMap::new(),
            wals: BTreeMap::new(),
            snap_ptr_seen: None,
            // Like the blank sync, a part of the corrected design only: the unfenced
            // variants read as the notes say, once.
            snap_ptr_confirmed: !blank_sync,
        };
        // A blank fenced node syncs first, so that a session on a lagging server
        // still sees every WAL and the latest reserved term: the term it recovers in
        // must be above every leader's, or a leader of that very term would keep the
        // wiped disk's old match index and never repair it (a livelock found at
        // fenced, 2 nodes, seed 36063, with the session pinned on a lagging server).
        let first = if blank_sync {
            vec![(
                Request::Sync {
                    path: layout::WAL.into(),
                },
                ReadStep::Sync,
            )]
        } else if fencing {
            vec![get(layout::EPOCH.into(), ReadStep::EpochGet)]
        } else {
            r.listing()
        };
        r.outstanding = first.len();
        (r, first)
    }

    fn listing(&self) -> Steps {
        vec![
            get(layout::SNAPSHOT.into(), ReadStep::SnapPtr),
            children(layout::WAL.into(), ReadStep::WalList),
        ]
    }

    pub fn done(&self) -> bool {
        !self.fencing && self.outstanding == 0 && self.waiting.is_empty()
    }

    /// One reply. Ok: the requests to send next. Err(retry): the read is abandoned,
    /// and `retry` says whether trying again later makes sense.
    pub fn on_reply(
        &mut self,
        step: ReadStep,
        result: Result<Response, ErrorCode>,
        id: NodeId,
        term: Term,
    ) -> Result<Steps, bool> {
        self.outstanding -= 1;
        let mut next = Vec::new();
        match (step, result) {
            (ReadStep::EpochGet, Ok(Response::GetData { data, stat })) => {
                let reserved = layout::decode::<(NodeId, Term)>(&data).map_or(0, |(_, t)| t);
                self.campaign_term = reserved.max(term) + 1;
                let data = layout::encode(&(id, self.campaign_term));
                next.push((
                    Request::SetData {
                        path: layout::EPOCH.into(),
                        data,
                        version: stat.version,
                    },
                    ReadStep::EpochSet,
                ));
            }
            (ReadStep::EpochSet, Ok(Response::SetData { stat })) => {
                self.bumped_epoch = Some(stat.version as u64);
                next.push((
                    Request::Sync {
                        path: layout::WAL.into(),
                    },
                    ReadStep::Sync,
                ));
            }
            // Another node bumped first: it is taking over, this node is not.
            (ReadStep::EpochSet, Err(ErrorCode::BadVersion)) => return Err(false),
            (ReadStep::Sync, Ok(_)) => {
                self.fencing = false;
                next = self.listing();
                if self.purpose == ReadPurpose::Blank {
                    next.push(get(layout::EPOCH.into(), ReadStep::EpochPeek));
                }
            }
            (ReadStep::EpochPeek, Ok(Response::GetData { data, .. })) => {
                self.reserved_seen = layout::decode::<(NodeId, Term)>(&data).map_or(0, |(_, t)| t);
            }
            (ReadStep::SnapPtr, Ok(Response::GetData { data, stat })) => {
                self.snap_ptr_seen = Some(Some(stat.mzxid));
                if let Some(index) = layout::decode::<Index>(&data) {
                    if index > self.base_commit {
                        next.push(get(layout::snap_path(index), ReadStep::SnapHeader(index)));
                    }
                }
            }
            (ReadStep::SnapHeader(index), Ok(Response::GetData { data, .. })) => {
                let h: SnapHeader = layout::decode(&data).ok_or(false)?;
                if h.last_index != index {
                    return Err(false);
                }
                self.snap = Some(h);
                for k in 0..h.chunks {
                    next.push(get(layout::chunk_path(h.last_index, k), ReadStep::Chunk(k)));
                }
            }
            (ReadStep::Chunk(k), Ok(Response::GetData { data, .. })) => {
                self.chunks.insert(k, data);
            }
            (
                ReadStep::WalList,
                Ok(Response::GetChildren {
                    children: names, ..
                }),
            ) => {
                for name in names {
                    let Some((t, _)) = layout::parse_wal_name(&name) else {
                        continue;
                    };
                    if t < self.min_term {
                        continue;
                    }
                    let path = format!("{}/{name}", layout::WAL);
                    next.push(get(path.clone(), ReadStep::WalHeader(name.clone())));
                    next.push(children(path, ReadStep::WalChildren(name.clone())));
                    self.wals.insert(name, WalRead::default());
                }
            }
            (ReadStep::WalHeader(name), Ok(Response::GetData { data, .. })) => {
                let h = layout::decode(&data).ok_or(false)?;
                self.wals.entry(name).or_default().header = Some(h);
            }
            (ReadStep::WalChildren(name), Ok(Response::GetChildren { children: kids, .. })) => {
                let wal = format!("{}/{name}", layout::WAL);
                let lowest = kids.iter().filter_map(|k| layout::parse_index(k)).min();
                self.wals.entry(name.clone()).or_default().lowest_listed = lowest;
                for k in kids {
                    if let Some(i) = layout::parse_index(&k) {
                        if i > self.base_commit {
                            next.push(get(
                                layout::entry_path(&wal, i),
                                ReadStep::Entry(name.clone(), i),
                            ));
                        }
                    }
                }
            }
            (ReadStep::Entry(name, i), Ok(Response::GetData { data, .. })) => {
                let e: Entry = layout::decode(&data).ok_or(false)?;
                if e.index != i {
                    return Err(false);
                }
                self.wals.entry(name).or_default().entries.insert(i, e);
            }
            (ReadStep::SnapPtrAgain, Ok(Response::GetData { stat, .. })) => {
                if self.snap_ptr_seen != Some(Some(stat.mzxid)) {
                    return Err(true);
                }
                self.snap_ptr_confirmed = true;
            }
            (ReadStep::SnapPtrAgain, Err(ErrorCode::NoNode)) => {
                if self.snap_ptr_seen != Some(None) {
                    return Err(true);
                }
                self.snap_ptr_confirmed = true;
            }
            // No snapshot published yet: nothing to read there.
            (ReadStep::SnapPtr, Err(ErrorCode::NoNode)) => self.snap_ptr_seen = Some(None),
            (ReadStep::EpochPeek, Err(ErrorCode::NoNode)) => {}
            // Anything else (ConnectionLoss, a znode truncated meanwhile): try again.
            _ => return Err(true),
        }
        // A blank node reads the snapshot pointer, then the WALs, in separate reads: a
        // publication between them (its `multi` truncates the WAL entries the new
        // snapshot covers) would leave it the old snapshot (or none) and WALs that
        // begin above it, a gap it cannot bridge, and it would recover without writes
        // acknowledged long before (found by `blank_recovery`: fenced, 2 nodes, seed
        // 23091; 3 nodes, seed 2700; fenced only, as the blank sync). One session's requests are answered in order, so
        // a second read of the pointer, sent after every other reply is in, that shows
        // the same mzxid proves no publication came in between.
        self.waiting.extend(next);
        if self.waiting.is_empty()
            && self.outstanding == 0
            && !self.fencing
            && !self.snap_ptr_confirmed
        {
            self.waiting
                .push_back(get(layout::SNAPSHOT.into(), ReadStep::SnapPtrAgain));
        }
        let room = MAX_READS_IN_FLIGHT.saturating_sub(self.outstanding);
        let send: Steps = self.waiting.drain(..room.min(self.waiting.len())).collect();
        self.outstanding += send.len();
        debug_assert!(self.outstanding <= MAX_READS_IN_FLIGHT);
        Ok(send)
    }

    /// Whether this read must start from the published snapshot it fetched because a
    /// WAL's prefix was truncated: some WAL lists its lowest entry above the one after
    /// its header's `prev_index`, and the snapshot reaches the gap
    /// ([`crate::Situation::RecoveryFromTruncatedWal`]).
    pub fn from_truncated_wal(&self) -> bool {
        let Some(snap) = self.snap else { return false };
        self.wals
            .values()
            .any(|w| match (w.header, w.lowest_listed) {
                (Some(h), Some(lo)) => lo > h.prev_index + 1 && lo <= snap.last_index + 1,
                _ => false,
            })
    }

    /// The published snapshot, if this read fetched one (it is ahead of the node).
    pub fn snapshot(&self) -> Option<Snapshot> {
        let h = self.snap?;
        let chunks: Vec<Vec<u8>> = (0..h.chunks)
            .map(|k| self.chunks.get(&k).cloned())
            .collect::<Option<_>>()?;
        let state = layout::join_chunks(&chunks)?;
        Some(Snapshot {
            last_index: h.last_index,
            last_term: h.last_term,
            state: Arc::new(state),
        })
    }

    /// Every WAL read, oldest term first, with its header and the contiguous run of
    /// entries from the lowest one read.
    pub fn wals(&self) -> Vec<(String, WalHeader, Vec<Entry>)> {
        let mut out = Vec::new();
        for (name, w) in &self.wals {
            let Some(h) = w.header else { continue };
            let mut run: Vec<Entry> = Vec::new();
            for (i, e) in &w.entries {
                if run.last().is_some_and(|l| l.index + 1 != *i) {
                    break;
                }
                run.push(*e);
            }
            out.push((format!("{}/{name}", layout::WAL), h, run));
        }
        out
    }

    /// Step [4]: the log a blank node adopts: the published snapshot (or an empty one)
    /// and, WAL after WAL in term order, the entries that follow it; the highest term
    /// seen (in a WAL's name or, fenced, reserved in `/epoch`); and which WAL each
    /// adopted entry came from.
    pub fn assemble_blank(&self) -> (Snapshot, Vec<Entry>, Term, Vec<(String, Entry)>) {
        let snapshot = self.snapshot().unwrap_or_else(Snapshot::empty);
        let mut log = zkwal_raft::Log::new(snapshot.clone(), Vec::new());
        let mut from: BTreeMap<Index, String> = BTreeMap::new();
        let mut max_term = snapshot.last_term.max(self.reserved_seen);
        for (wal, h, run) in self.wals() {
            if let Some((t, _)) = layout::parse_wal_name(wal.trim_start_matches("/wal/")) {
                max_term = max_term.max(t);
            }
            let snap = log.snapshot_index();
            let run: Vec<Entry> = run.into_iter().filter(|e| e.index > snap).collect();
            let Some(first) = run.first() else { continue };
            let prev = first.index - 1;
            let prev_term = if prev == h.prev_index {
                h.prev_term
            } else if prev == snap {
                log.snapshot.last_term
            } else {
                continue;
            };
            if log.term_at(prev) != Some(prev_term) || first.term < prev_term {
                continue;
            }
            // As a Raft follower appends: an entry already held at the same (index,
            // term) is the same entry (log matching) and stays, and so does what follows
            // it; only a conflict truncates. A later WAL whose rewrite of its inherited
            // tail stopped part way (its leader paused or died) must not cut the earlier
            // WAL's acknowledged entries beyond it (found by `blank_recovery`: fenced,
            // 2 nodes, seed 890).
            for e in run {
                match log.term_at(e.index) {
                    Some(t) if t == e.term && e.index <= log.last_index() => continue,
                    Some(_) if e.index <= log.last_index() => log.truncate_from(e.index),
                    _ => {}
                }
                if e.term < log.last_term() {
                    break;
                }
                log.push(e);
                from.insert(e.index, wal.clone());
            }
        }
        let entries = log.entries().to_vec();
        let used = entries
            .iter()
            .filter_map(|e| from.get(&e.index).map(|w| (w.clone(), *e)))
            .collect();
        (snapshot, entries, max_term, used)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zkwal_raft::Payload;

    fn wal(prev: (Index, Term), entries: &[(Index, Term)]) -> WalRead {
        WalRead {
            header: Some(WalHeader {
                prev_index: prev.0,
                prev_term: prev.1,
                epoch: 1,
            }),
            entries: entries
                .iter()
                .map(|&(index, term)| {
                    (
                        index,
                        Entry {
                            index,
                            term,
                            payload: Payload::Noop,
                        },
                    )
                })
                .collect(),
            lowest_listed: entries.first().map(|e| e.0),
        }
    }

    fn assembled(wals: Vec<(&str, WalRead)>) -> Vec<(Index, Term)> {
        let (mut r, _) = Reader::start(1, ReadPurpose::Blank, 0, 0, true);
        for (name, w) in wals {
            r.wals.insert(name.to_string(), w);
        }
        let (_, entries, _, _) = r.assemble_blank();
        entries.iter().map(|e| (e.index, e.term)).collect()
    }

    #[test]
    fn a_later_wal_cut_short_keeps_the_earlier_wals_entries_beyond_it() {
        // The leader of term 3 began rewriting its inherited tail from its commit index
        // 0 and stopped after index 2: entries 3 and 4 of term 1 were acknowledged.
        let got = assembled(vec![
            (
                &layout::wal_name(1, 0),
                wal((0, 0), &[(1, 1), (2, 1), (3, 1), (4, 1)]),
            ),
            (&layout::wal_name(3, 1), wal((0, 0), &[(1, 1), (2, 1)])),
        ]);
        assert_eq!(got, vec![(1, 1), (2, 1), (3, 1), (4, 1)]);
    }

    #[test]
    fn a_later_wal_replaces_a_conflicting_suffix() {
        let got = assembled(vec![
            (
                &layout::wal_name(1, 0),
                wal((0, 0), &[(1, 1), (2, 1), (3, 1)]),
            ),
            (&layout::wal_name(3, 1), wal((1, 1), &[(2, 3)])),
        ]);
        assert_eq!(got, vec![(1, 1), (2, 3)]);
    }

    #[test]
    fn a_wal_truncated_below_the_snapshot_is_a_recovery_from_the_snapshot() {
        let (mut r, _) = Reader::start(1, ReadPurpose::Takeover, 0, 0, true);
        r.wals
            .insert(layout::wal_name(1, 0), wal((0, 0), &[(6, 1), (7, 1)]));
        assert!(
            !r.from_truncated_wal(),
            "no snapshot read: nothing to start from"
        );
        r.snap = Some(SnapHeader {
            last_index: 5,
            last_term: 1,
            chunks: 0,
            bytes: 0,
        });
        assert!(r.from_truncated_wal());
        // A WAL whose entries follow its header: not truncated.
        r.wals.clear();
        r.wals
            .insert(layout::wal_name(1, 0), wal((5, 1), &[(6, 1), (7, 1)]));
        assert!(!r.from_truncated_wal());
    }

    /// A WAL tail far longer than the window (a leader that did not publish for a
    /// while) is read with never more than [`MAX_READS_IN_FLIGHT`] requests out, in
    /// the order they would have gone without the window, and completely. Without the
    /// window all 2,000 `getData`s go at once: the livelock in the constant's comment.
    #[test]
    fn a_long_wal_is_read_through_a_bounded_window() {
        use std::collections::VecDeque;
        use zkwal_zk::Stat;
        const ENTRIES: Index = 2_000;
        let name = layout::wal_name(3, 1);
        let (mut r, first) = Reader::start(1, ReadPurpose::Startup, 0, 0, false);
        let mut out: VecDeque<(Request, ReadStep)> = first.into_iter().collect();
        let mut answered = 0;
        let mut most_out = out.len();
        let mut entry_order = Vec::new();
        while let Some((req, step)) = out.pop_front() {
            let reply = match (&req, &step) {
                (_, ReadStep::SnapPtr) => Err(ErrorCode::NoNode),
                (_, ReadStep::WalList) => Ok(Response::GetChildren {
                    children: vec![name.clone()],
                    stat: Stat::default(),
                }),
                (_, ReadStep::WalHeader(_)) => Ok(Response::GetData {
                    data: layout::encode(&WalHeader {
                        prev_index: 0,
                        prev_term: 0,
                        epoch: 1,
                    }),
                    stat: Stat::default(),
                }),
                (_, ReadStep::WalChildren(_)) => Ok(Response::GetChildren {
                    children: (1..=ENTRIES).map(layout::entry_name).collect(),
                    stat: Stat::default(),
                }),
                (_, ReadStep::Entry(_, i)) => {
                    entry_order.push(*i);
                    Ok(Response::GetData {
                        data: layout::encode(&Entry {
                            index: *i,
                            term: 3,
                            payload: Payload::Noop,
                        }),
                        stat: Stat::default(),
                    })
                }
                other => panic!("unexpected request {other:?}"),
            };
            answered += 1;
            let next = r.on_reply(step, reply, 0, 0).expect("every reply succeeds");
            out.extend(next);
            most_out = most_out.max(out.len());
            assert!(answered < 10 * ENTRIES, "the read ends");
        }
        assert!(r.done());
        assert!(
            most_out <= MAX_READS_IN_FLIGHT,
            "{most_out} requests were out at once"
        );
        assert_eq!(
            entry_order,
            (1..=ENTRIES).collect::<Vec<_>>(),
            "sent in order"
        );
        let wals = r.wals();
        assert_eq!(wals.len(), 1);
        assert_eq!(wals[0].2.len(), ENTRIES as usize, "every entry was read");
    }
}
