//! What the world remembers to recognise the named situations only it can see (a
//! takeover while the old leader is paused, a session expired under a running node,
//! a total loss then a write, ...; the list and each one's question are in
//! `zkwal_wal::Situation`). The node cores report the ones they alone see as
//! `WalEvent::Reached`; the world counts both into one [`SituationCounts`] per run.
//!
//! Observation only: nothing here is read by the run's decisions, and nothing it does
//! draws randomness or touches the trace hash, so every pinned trace hash stays.
//! Per-node state is a few flags; the only collections are the digests of client
//! appends and of acknowledged ones in the WAL variants (a few hundred per run), and
//! the never-acknowledged entries a takeover recovered, bounded by
//! [`MAX_PENDING_RECOVERED`].

use std::collections::BTreeSet;

use zkwal_raft::{Index, Term};
pub use zkwal_wal::{Situation, SituationCounts};

/// At most this many recovered, never-acknowledged entries are followed to their
/// application at once (a bound; more are not followed).
pub const MAX_PENDING_RECOVERED: usize = 256;

/// A leader that resumed from a pause still believing it leads.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Woke {
    /// The term it led in when it resumed.
    pub term: Term,
    /// Another node became leader while it was paused.
    pub taken_over: bool,
    /// Its stale AppendEntries was already counted.
    pub appended: bool,
}

/// Per node.
#[derive(Clone, Debug, Default)]
pub(crate) struct NodeWatch {
    /// Another node became leader while this one was paused as leader.
    pub taken_over_while_paused: bool,
    pub woke: Option<Woke>,
    /// The last term this node led in, and the highest index it appended then.
    pub led: (Term, Index),
    /// The InstallSnapshot being stepped arrived over a log reaching past it.
    pub install_over_longer: bool,
    /// A blank recovery read is in progress.
    pub blank_reading: bool,
    /// The node's link to ZooKeeper is cut until then (a `zk_cut_off` fault).
    pub cut_off_until_ms: u64,
    /// The term whose campaign after another node's later bump was counted.
    pub overtaken_counted: Term,
}

/// The world's side of the situations of one run.
#[derive(Clone, Debug, Default)]
pub struct SituationWatch {
    pub counts: SituationCounts,
    pub(crate) nodes: Vec<NodeWatch>,
    /// The variant keeps a WAL (the WAL situations' state is kept only then).
    pub(crate) wal: bool,
    pub(crate) last_publish_ms: Option<u64>,
    /// Digests of client appends sent, and of those acknowledged (WAL variants).
    pub(crate) appends: BTreeSet<u64>,
    pub(crate) acked: BTreeSet<u64>,
    /// (node, index, digest) of never-acknowledged appends a takeover recovered.
    pub(crate) pending_recovered: Vec<(u32, Index, u64)>,
    /// Every node went down with some blank; the first acknowledgement after counts.
    pub(crate) blank_loss_pending: bool,
    /// The node whose epoch bump was the latest (fenced).
    pub(crate) last_bumper: Option<u32>,
    /// Leaders seen so far in the run (a failover is any but the first).
    pub(crate) leaders_seen: u64,
    /// When the last ZooKeeper outage began: the leader, its term and commit index.
    pub(crate) outage_commit: Option<(u32, u64, Index)>,
    /// The event being handled: (events handled so far, virtual ms).
    pub(crate) clock: (u64, u64),
    /// Where each situation was first reached, as `clock` then: an exploration's
    /// branch point (`branch.rs`).
    pub first: [Option<(u64, u64)>; Situation::COUNT],
}

impl SituationWatch {
    pub fn new(nodes: usize, wal: bool) -> SituationWatch {
        SituationWatch {
            nodes: vec![NodeWatch::default(); nodes],
            wal,
            ..SituationWatch::default()
        }
    }

    pub fn reach(&mut self, s: Situation) {
        self.counts.add(s);
        self.first[s as usize].get_or_insert(self.clock);
    }

    /// A recovered entry's application at `node`: the never-acknowledged case counts.
    pub(crate) fn on_applied(&mut self, node: u32, index: Index, digest: u64) {
        if let Some(k) = self
            .pending_recovered
            .iter()
            .position(|&(n, i, d)| n == node && i == index && d == digest)
        {
            self.pending_recovered.swap_remove(k);
            if !self.acked.contains(&digest) {
                self.reach(Situation::UnackedWalEntryApplied);
            }
        }
    }
}
