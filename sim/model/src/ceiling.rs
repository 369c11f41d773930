//! The availability ceiling of a run: how much of the fault phase an ideal design
//! could have served under the very faults the run suffered.
//!
//! The world tells [`Outages`] when each node's process goes down and comes back,
//! when it is paused and resumes, when its link to ZooKeeper is cut and restored,
//! and when the ensemble as a whole cannot commit (an outage, or the election of a
//! ZooKeeper leader change). A leader-targeted fault lands on whichever node it hit
//! in this run, so the ceiling is the run's own, not the scenario's guess.
//!
//! An instant is *servable* when some node is running and not paused and, for the
//! ZooKeeper variants (`seed`, `seed-zk-quorum`, `fenced`: every write goes to the
//! ZooKeeper WAL first), that node can reach a ZooKeeper quorum. The ideal design
//! serves at once wherever it is servable: no detection, election, catch-up or
//! network latency. A write invoked at `t` is *achievable* when some instant of
//! `[t, t + op_timeout_ms + attempt_timeout_ms)` is servable: the client takes an
//! answer until its last attempt, sent before the operation's deadline, times out
//! (`clients.rs`), so a real design may acknowledge that late too. `availability_ceiling` samples `t` exactly
//! as `availability` does (`metrics.rs`: each scripted write stands for the instants
//! until the next one), so the two share one denominator and
//! `availability_efficiency` = available ÷ achievable.
//!
//! What it ignores: partitions between nodes (an ideal design needs no peer),
//! message loss and latency, stale ZooKeeper servers, disks without data. It is an
//! upper bound, not a prediction: a design that needs a peer (plain Raft's majority)
//! sits below it by design.

use serde::Serialize;

/// The union of half-open intervals `iv` as sorted, disjoint spans (empty ones
/// dropped): shared with `Coverage` in `metrics.rs` (which imports this module, so it lives here).
pub(crate) fn union_spans(mut iv: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    iv.sort_unstable();
    let mut spans: Vec<(u64, u64)> = Vec::with_capacity(iv.len());
    for (a, b) in iv {
        if b <= a {
            continue;
        }
        match spans.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => spans.push((a, b)),
        }
    }
    spans
}

/// Sorted, disjoint half-open spans: the instants at which no node could serve.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Unservable {
    pub spans: Vec<(u64, u64)>,
}

impl Unservable {
    /// The union of `iv`.
    fn union(iv: Vec<(u64, u64)>) -> Unservable {
        Unservable {
            spans: union_spans(iv),
        }
    }

    /// Covered length of `[a, b)` (spans are few: a linear walk from the first span
    /// that ends after `a`).
    fn within(&self, a: u64, b: u64) -> u64 {
        let i = self.spans.partition_point(|s| s.1 <= a);
        self.spans[i..]
            .iter()
            .take_while(|s| s.0 < b)
            .map(|s| s.1.min(b) - s.0.max(a))
            .sum()
    }
}

/// Half-open spans `[from, to)` of one condition, the last possibly still open.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
struct Spans {
    closed: Vec<(u64, u64)>,
    open_since: Option<u64>,
}

impl Spans {
    fn start(&mut self, now_ms: u64) {
        if self.open_since.is_none() {
            self.open_since = Some(now_ms);
        }
    }

    fn end(&mut self, now_ms: u64) {
        if let Some(a) = self.open_since.take() {
            self.closed.push((a, now_ms));
        }
    }

    fn set(&mut self, now_ms: u64, on: bool) {
        if on {
            self.start(now_ms)
        } else {
            self.end(now_ms)
        }
    }

    /// Every span, an open one running to `end_ms`.
    fn all(&self, end_ms: u64) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.closed
            .iter()
            .copied()
            .chain(self.open_since.map(|a| (a, end_ms.max(a))))
    }
}

/// Why one node could not serve.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
struct NodeOutages {
    /// Seen by [`Outages::up`] at least once (a node never started is down).
    started: bool,
    down: Spans,
    paused: Spans,
    zk_cut: Spans,
}

/// What an ideal design could not serve through, as the run went (see the module).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Outages {
    nodes: Vec<NodeOutages>,
    /// The ensemble unavailable as a whole (outage).
    zk_outage: Spans,
    /// ZooKeeper leader elections `[from, until)`, each cut short by an outage.
    zk_elections: Vec<(u64, u64)>,
}

impl Outages {
    fn node(&mut self, node: u32) -> &mut NodeOutages {
        let i = node as usize;
        if self.nodes.len() <= i {
            self.nodes.resize_with(i + 1, NodeOutages::default);
        }
        &mut self.nodes[i]
    }

    /// The node's process started (its first start included).
    pub fn up(&mut self, now_ms: u64, node: u32) {
        let n = self.node(node);
        if !n.started {
            n.started = true;
            if now_ms > 0 {
                n.down.closed.push((0, now_ms));
            }
        }
        n.down.end(now_ms);
    }

    /// The node's process died (crash or wipe); a pause ends with it.
    pub fn down(&mut self, now_ms: u64, node: u32) {
        let n = self.node(node);
        n.paused.end(now_ms);
        n.down.start(now_ms);
    }

    pub fn paused(&mut self, now_ms: u64, node: u32) {
        self.node(node).paused.start(now_ms);
    }

    pub fn resumed(&mut self, now_ms: u64, node: u32) {
        self.node(node).paused.end(now_ms);
    }

    /// Whether the node's link to the ensemble is blocked from now on.
    pub fn zk_link(&mut self, now_ms: u64, node: u32, blocked: bool) {
        self.node(node).zk_cut.set(now_ms, blocked);
    }

    /// Whether the whole ensemble is unavailable from now on; an outage cuts short a
    /// ZooKeeper election (as the ensemble does).
    pub fn zk_outage(&mut self, now_ms: u64, unavailable: bool) {
        if unavailable {
            for e in &mut self.zk_elections {
                e.1 = e.1.min(now_ms.max(e.0));
            }
        }
        self.zk_outage.set(now_ms, unavailable);
    }

    /// A ZooKeeper leader change began: no quorum for `unavailable_ms`.
    pub fn zk_election(&mut self, now_ms: u64, unavailable_ms: u64) {
        self.zk_elections
            .push((now_ms, now_ms.saturating_add(unavailable_ms)));
    }

    /// Everything heals at `now_ms` (the end of the fault phase).
    pub fn heal(&mut self, now_ms: u64) {
        for n in &mut self.nodes {
            n.paused.end(now_ms);
            n.zk_cut.end(now_ms);
        }
        self.zk_outage.end(now_ms);
    }

    /// The instants at which no node could serve, up to `end_ms`; `with_zk`: a node
    /// also needs a ZooKeeper quorum.
    pub fn unservable(&self, nodes: u32, with_zk: bool, end_ms: u64) -> Unservable {
        let quorum_lost: Vec<(u64, u64)> = if with_zk {
            self.zk_outage
                .all(end_ms)
                .chain(self.zk_elections.iter().copied())
                .collect()
        } else {
            Vec::new()
        };
        let mut none_serves: Option<Vec<(u64, u64)>> = None;
        for i in 0..nodes as usize {
            let spans: Vec<(u64, u64)> = match self.nodes.get(i) {
                Some(n) if n.started => {
                    let mut v: Vec<(u64, u64)> =
                        n.down.all(end_ms).chain(n.paused.all(end_ms)).collect();
                    if with_zk {
                        v.extend(n.zk_cut.all(end_ms));
                        v.extend(quorum_lost.iter().copied());
                    }
                    Unservable::union(v).spans
                }
                _ => vec![(0, end_ms)],
            };
            none_serves = Some(match none_serves {
                None => spans,
                Some(acc) => intersect(&acc, &spans),
            });
        }
        Unservable::union(none_serves.unwrap_or_else(|| vec![(0, end_ms)]))
    }
}

/// The intersection of two sorted lists of disjoint half-open spans.
fn intersect(a: &[(u64, u64)], b: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() && j < b.len() {
        let lo = a[i].0.max(b[j].0);
        let hi = a[i].1.min(b[j].1);
        if lo < hi {
            out.push((lo, hi));
        }
        if a[i].1 <= b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// Whether a write invoked at `t_ms` was achievable: some instant of
/// `[t_ms, t_ms + answer_window_ms)` is servable.
pub fn achievable(unservable: &Unservable, t_ms: u64, answer_window_ms: u64) -> bool {
    unservable.within(t_ms, t_ms + answer_window_ms) < answer_window_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_instant_is_unservable_while_one_node_serves() {
        let mut o = Outages::default();
        o.up(0, 0);
        o.up(0, 1);
        o.down(1_000, 0);
        o.paused(1_500, 1); // both out 1_500..2_000
        o.up(2_000, 0);
        o.resumed(2_500, 1);
        o.down(3_000, 1); // never back: open to the end
        let u = o.unservable(2, false, 10_000);
        assert_eq!(u.spans, vec![(1_500, 2_000)]);
        assert!(achievable(&u, 1_400, 200));
        assert!(!achievable(&u, 1_500, 500));
        assert!(achievable(&u, 1_500, 501));
    }

    #[test]
    fn the_zookeeper_variants_need_a_quorum_and_a_link() {
        let mut o = Outages::default();
        o.up(0, 0);
        o.up(0, 1);
        o.zk_link(100, 0, true);
        o.zk_link(400, 0, false);
        o.down(200, 1);
        o.up(300, 1);
        o.zk_outage(1_000, true);
        o.zk_outage(1_200, false);
        o.zk_election(2_000, 500);
        o.zk_outage(2_100, true); // cuts the election short
        o.heal(2_300);
        let u = o.unservable(2, true, 5_000);
        assert_eq!(u.spans, vec![(200, 300), (1_000, 1_200), (2_000, 2_300)]);
        let u = o.unservable(2, false, 5_000);
        assert_eq!(u.spans, vec![]);
    }

    #[test]
    fn intersections_of_span_lists() {
        assert_eq!(
            intersect(&[(0, 10), (20, 30)], &[(5, 25), (28, 40)]),
            vec![(5, 10), (20, 25), (28, 30)]
        );
    }
}
