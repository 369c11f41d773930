//! Failover phases: where each failover's unavailability goes (DESIGN.md §2,
//! question 9: "failover needs session expiry + catch-up + election").
//!
//! A failover and its unavailability are those of [`crate::metrics::RunFigures::of_run`]:
//! one or more leader changes during the fault phase inside one gap `[prev, next)`
//! between acknowledged writes, measured as the instants of the gap at which some
//! client was trying to write. This module cuts that gap at six milestones, each the
//! first of its kind at or after the one before (and clamped into the gap, so they
//! never go backwards):
//!
//! 1. `prev`, the last acknowledged write;
//! 2. **stop**: the old leader (the one before the gap's first leader change) stopped
//!    serving: it crashed or was wiped, was paused, was cut from its peers (a
//!    partition that leaves it without a strict majority) or, for the ZooKeeper
//!    variants, from ZooKeeper (its link cut, the ensemble unavailable or electing),
//!    or it stepped down. No such event in `[prev, first leader change]`: `prev`;
//! 3. **reaction**: the node that ends the gap as leader (the gap's last leader
//!    change) learned that it must act: its first takeover or failover read (what a
//!    WAL variant needs before it may lead: `seed` and `seed-zk-quorum` begin it
//!    when the watch says the leader's znode is gone, after the old session expired;
//!    `fenced` at its election timeout, since the epoch bump fences the old leader
//!    without waiting for its session), or, when it made none (`raft`), its first
//!    campaign (its election timeout);
//! 4. **leadership**: that node became leader (the gap's last leader change);
//! 5. **request**: it accepted its first client write after that;
//! 6. `next`, the first acknowledged write after the leader change.
//!
//! Phases, each the trying instants of its sub-interval (so they add up exactly, in
//! virtual ms, to the failover's unavailability):
//!
//! - `unservable`: the instants, in any of the sub-intervals below, at which no node
//!   could serve (every node down or paused, or for the ZooKeeper variants cut from a
//!   ZooKeeper quorum: the availability ceiling's definition, `ceiling.rs`). This is
//!   the schedule's downtime, which no design avoids; each phase below is its
//!   sub-interval less these instants, so they are the design's own;
//! - `before_fault` `[prev, stop)`: clients were trying while the old leader still
//!   served (the write in flight when the fault hit, or a cause not seen);
//! - `detection` `[stop, reaction)`: until the future leader learned that the old one
//!   was gone (session timeout and watch for `seed` and `seed-zk-quorum`, campaigns
//!   it lost meanwhile included; the election timeout for `fenced` and `raft`; when
//!   the old leader itself leads again, its downtime too);
//! - `takeover` and `election`, which tile `[reaction, leadership)`: from each
//!   takeover read the future leader began to its next reaction is `takeover` (epoch
//!   bump, `sync`, WAL read, appending what it read); from each campaign it began to
//!   its next reaction is `election` (lost campaigns included: in a 2-node `raft`
//!   group the survivor campaigns until the peer returns);
//! - `client_retry` `[leadership, request)`: the clients finding the new leader
//!   (attempt timeouts, redirects, retry intervals);
//! - `first_commit` `[request, next)`: the new leader's first write to its end (for
//!   the WAL variants the new WAL's header and the entry in ZooKeeper, then Raft).
//!
//! What it ignores: which fault made the leader change when several hit the old leader
//! (the first after `prev` is taken); leader changes inside the gap other than the
//! first (whose leader is the old one) and the last (whose node is the future
//! leader). The record is only observed: nothing here acts on the run.

use serde::{Deserialize, Serialize};
use zkwal_raft::Role;
use zkwal_wal::WalEvent;

/// What the world tells the phases during a run (kept in `Record.milestones`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Milestones {
    /// `(at_ms, node)`: the node stopped serving (see the module).
    stops: Vec<(u64, u32)>,
    /// `(at_ms, node, kind)`: the node began a takeover read or a campaign.
    reactions: Vec<(u64, u32, Reaction)>,
    /// `(at_ms, node)`: the first client write the node accepted after it became leader.
    first_requests: Vec<(u64, u32)>,
    /// Per node: the highest term it was seen campaigning or leading in.
    #[serde(skip)]
    campaign_term: Vec<u64>,
    /// Per node: became leader and has accepted no client write since.
    #[serde(skip)]
    awaiting_request: Vec<bool>,
}

/// How the future leader reacted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Reaction {
    TakeoverRead,
    Campaign,
}

fn slot<T: Default + Clone>(v: &mut Vec<T>, node: u32) -> &mut T {
    let i = node as usize;
    if v.len() <= i {
        v.resize(i + 1, T::default());
    }
    &mut v[i]
}

impl Milestones {
    /// The node stopped serving (crash, wipe, pause, cut off, stepped down).
    pub fn stopped(&mut self, now_ms: u64, node: u32) {
        self.stops.push((now_ms, node));
    }

    /// A partition `side` (of `nodes`) began: the nodes left without a strict majority
    /// of the group on their side stop serving (in a 2-node group, both).
    pub fn partitioned(&mut self, now_ms: u64, side: &[u32], nodes: u32) {
        let inside = side.iter().filter(|&&n| n < nodes).count() as u32;
        for n in 0..nodes {
            let here = if side.contains(&n) {
                inside
            } else {
                nodes - inside
            };
            if 2 * here <= nodes {
                self.stopped(now_ms, n);
            }
        }
    }

    /// A takeover or failover read began at the node.
    pub fn takeover_read(&mut self, now_ms: u64, node: u32) {
        self.reactions.push((now_ms, node, Reaction::TakeoverRead));
    }

    /// The node's Raft role and term after an input: a candidate or leader in a term
    /// above any it was seen in began a campaign now (a lone-quorum campaign wins in
    /// the input that began it).
    pub fn role(&mut self, now_ms: u64, node: u32, role: Role, term: u64) {
        if !matches!(role, Role::Candidate | Role::Leader) {
            return;
        }
        let seen = slot(&mut self.campaign_term, node);
        if term > *seen {
            *seen = term;
            self.reactions.push((now_ms, node, Reaction::Campaign));
        }
    }

    /// A WAL layer's event: a leader that stepped down stopped serving; a takeover or
    /// failover read is a reaction.
    pub fn wal_event(&mut self, now_ms: u64, e: &WalEvent) {
        match e {
            WalEvent::SteppedDown { node, .. } => self.stopped(now_ms, *node),
            WalEvent::TakeoverReadStarted { node } => self.takeover_read(now_ms, *node),
            _ => {}
        }
    }

    /// The node became leader: its next accepted client write is its first request.
    pub fn became_leader(&mut self, node: u32) {
        *slot(&mut self.awaiting_request, node) = true;
    }

    /// The node accepted a client write (it leads).
    pub fn accepted(&mut self, now_ms: u64, node: u32) {
        let waiting = slot(&mut self.awaiting_request, node);
        if *waiting {
            *waiting = false;
            self.first_requests.push((now_ms, node));
        }
    }
}

/// The names of the phases, in order (text rows, JSON fields, chart legend).
pub const NAMES: [&str; 7] = [
    "unservable",
    "before_fault",
    "detection",
    "takeover",
    "election",
    "client_retry",
    "first_commit",
];

/// One failover's unavailability, split (virtual ms; see the module).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phases {
    pub unservable: u64,
    pub before_fault: u64,
    pub detection: u64,
    pub takeover: u64,
    pub election: u64,
    pub client_retry: u64,
    pub first_commit: u64,
}

impl Phases {
    /// The phases in [`NAMES`] order.
    pub fn values(&self) -> [u64; 7] {
        [
            self.unservable,
            self.before_fault,
            self.detection,
            self.takeover,
            self.election,
            self.client_retry,
            self.first_commit,
        ]
    }

    pub fn total(&self) -> u64 {
        self.values().iter().fold(0u64, |a, &v| a.saturating_add(v))
    }

    /// Phase by phase, saturating (`merge` refuses sums that would overflow first).
    pub fn plus(&self, o: &Phases) -> Phases {
        Phases {
            unservable: self.unservable.saturating_add(o.unservable),
            before_fault: self.before_fault.saturating_add(o.before_fault),
            detection: self.detection.saturating_add(o.detection),
            takeover: self.takeover.saturating_add(o.takeover),
            election: self.election.saturating_add(o.election),
            client_retry: self.client_retry.saturating_add(o.client_retry),
            first_commit: self.first_commit.saturating_add(o.first_commit),
        }
    }
}

/// A failover as `of_run` found it: the gap `[prev_ms, next_ms)`; the leader before
/// its first leader change (at `first_change_ms`); the node of its last leader change
/// and when it became leader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failover {
    pub prev_ms: u64,
    pub next_ms: u64,
    pub old_leader: u32,
    pub first_change_ms: u64,
    pub new_leader: u32,
    pub leadership_ms: u64,
}

/// Splits one failover. `m`: the run's milestones; `unservable`: sorted, disjoint spans in which no node could serve (`ceiling.rs`);
/// `trying(a, b)`: the time clients were trying within `[a, b)`, additive over
/// adjacent windows (as `Coverage::within` is), so the phases add up exactly to
/// `trying(prev_ms, next_ms)`.
pub fn split(
    m: &Milestones,
    unservable: &[(u64, u64)],
    f: &Failover,
    trying: impl Fn(u64, u64) -> u64,
) -> Phases {
    let (prev, next) = (f.prev_ms, f.next_ms.max(f.prev_ms));
    let at = |t: u64, lo: u64| t.clamp(lo, next);
    let (old, first_change) = (f.old_leader, f.first_change_ms);
    let new_node = f.new_leader;
    let stop = m
        .stops
        .iter()
        .find(|&&(t, n)| n == old && t >= prev && t <= first_change)
        .map_or(prev, |s| s.0);
    let stop = at(stop, prev);
    let leadership = at(f.leadership_ms, stop);
    // The future leader's reactions from the stop to its leadership (recorded in
    // time order).
    let reactions: Vec<(u64, Reaction)> = m
        .reactions
        .iter()
        .filter(|&&(t, n, _)| n == new_node && t >= stop && t <= leadership)
        .map(|&(t, _, k)| (t, k))
        .collect();
    // Detection ends at the first takeover read if the future leader made one (what
    // a ZooKeeper variant needs before it may lead: campaigns before it cannot win),
    // else at its first campaign (`raft`).
    let reaction = reactions
        .iter()
        .find(|r| r.1 == Reaction::TakeoverRead)
        .or(reactions.first())
        .map_or(leadership, |r| r.0);
    let reactions: Vec<(u64, Reaction)> =
        reactions.into_iter().filter(|r| r.0 >= reaction).collect();
    let request = m
        .first_requests
        .iter()
        .find(|&&(t, n)| n == new_node && t >= leadership)
        .map_or(next, |r| r.0);
    let request = at(request, leadership);
    // Each window's trying time, the unservable part of it set apart.
    let mut p = Phases::default();
    let mut take = |a: u64, b: u64| -> u64 {
        let blocked = within_spans(unservable, a, b, &trying);
        p.unservable += blocked;
        trying(a, b) - blocked
    };
    let before_fault = take(prev, stop);
    let detection = take(stop, reaction);
    let (mut takeover, mut election) = (0, 0);
    for (k, &(t, kind)) in reactions.iter().enumerate() {
        let end = reactions.get(k + 1).map_or(leadership, |r| r.0);
        let d = take(t, end);
        match kind {
            Reaction::TakeoverRead => takeover += d,
            Reaction::Campaign => election += d,
        }
    }
    let client_retry = take(leadership, request);
    let first_commit = take(request, next);
    Phases {
        before_fault,
        detection,
        takeover,
        election,
        client_retry,
        first_commit,
        ..p
    }
}

/// `trying` summed over the parts of `[a, b)` inside `spans` (sorted, disjoint).
fn within_spans(spans: &[(u64, u64)], a: u64, b: u64, trying: impl Fn(u64, u64) -> u64) -> u64 {
    let i = spans.partition_point(|s| s.1 <= a);
    spans[i..]
        .iter()
        .take_while(|s| s.0 < b)
        .map(|s| trying(s.0.max(a), s.1.min(b)))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The failover `[prev_ms, next_ms)` from `old` to `new` (leader at `at_ms`).
    fn fo(prev_ms: u64, next_ms: u64, old: u32, new: u32, at_ms: u64) -> Failover {
        Failover {
            prev_ms,
            next_ms,
            old_leader: old,
            first_change_ms: at_ms,
            new_leader: new,
            leadership_ms: at_ms,
        }
    }

    /// Every instant counts (clients always trying).
    fn all(a: u64, b: u64) -> u64 {
        b.saturating_sub(a)
    }

    #[test]
    fn a_fenced_takeover_splits_at_each_milestone() {
        let mut m = Milestones::default();
        m.role(100, 0, Role::Leader, 1);
        m.became_leader(0);
        m.accepted(150, 0);
        m.stopped(1_000, 0); // crash of the leader
        m.takeover_read(1_900, 1); // the watch after the session expired
        m.role(2_100, 1, Role::Leader, 2); // a lone-quorum campaign wins at once
        m.became_leader(1);
        m.accepted(2_300, 1);
        let p = split(&m, &[], &fo(950, 2_350, 0, 1, 2_100), all);
        assert_eq!(
            p,
            Phases {
                unservable: 0,
                before_fault: 50,
                detection: 900,
                takeover: 200,
                election: 0,
                client_retry: 200,
                first_commit: 50,
            }
        );
        assert_eq!(p.total(), 1_400);
    }

    #[test]
    fn lost_campaigns_count_as_election_and_only_trying_instants_count() {
        let mut m = Milestones::default();
        m.stopped(1_000, 0);
        m.role(1_300, 1, Role::Candidate, 2);
        m.role(1_400, 1, Role::Candidate, 2); // the same campaign
        m.role(1_700, 1, Role::Candidate, 3);
        m.role(5_000, 1, Role::Leader, 4);
        m.became_leader(1);
        let f = fo(1_000, 6_000, 0, 1, 5_000);
        let p = split(&m, &[], &f, all);
        assert_eq!((p.detection, p.election), (300, 3_700));
        // No request accepted: the rest is client retry.
        assert_eq!((p.client_retry, p.first_commit), (1_000, 0));
        // Clients trying only in [2_000, 5_500): the sum is that window's length.
        let trying = |a: u64, b: u64| b.min(5_500).saturating_sub(a.max(2_000));
        let p = split(&m, &[], &f, trying);
        assert_eq!(p.total(), 3_500);
        assert_eq!((p.election, p.client_retry), (3_000, 500));
    }

    #[test]
    fn instants_no_node_could_serve_are_set_apart() {
        let mut m = Milestones::default();
        m.stopped(1_000, 0);
        m.role(4_000, 0, Role::Leader, 2); // the old leader back after a total loss
        m.became_leader(0);
        m.accepted(4_100, 0);
        // Both nodes down 1_500..3_000.
        let p = split(&m, &[(1_500, 3_000)], &fo(900, 4_200, 0, 0, 4_000), all);
        assert_eq!(p.unservable, 1_500);
        assert_eq!(p.before_fault, 100);
        assert_eq!(p.detection, 3_000 - 1_500);
        assert_eq!(p.total(), 3_300);
    }

    #[test]
    fn partitions_stop_the_nodes_without_a_majority() {
        let mut m = Milestones::default();
        m.partitioned(10, &[0], 2);
        m.partitioned(20, &[0], 3);
        m.partitioned(30, &[0, 2], 3);
        assert_eq!(m.stops, vec![(10, 0), (10, 1), (20, 0), (30, 1)]);
    }
}
