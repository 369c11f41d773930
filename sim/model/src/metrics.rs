//! Figures of a run, measured from the clients' side, and their mergeable aggregate
//! over many runs.
//!
//! A run's world keeps a small [`Record`] (who became leader when, and when every node
//! was down); at the end of the run [`RunFigures::of_run`] turns that record, the
//! clients' histories (invocation and completion times, outcomes) and the ZooKeeper
//! ensemble's counters into per-run figures. [`Figures`] adds up the figures of many
//! runs in HDR histograms (3 significant digits) and exact counters, so that merging
//! the figures of two seed ranges gives exactly the figures of one run over both.
//!
//! Only seeds that ran to the end without a violation are measured (a violation stops
//! its seed, so its figures would cover a cut-short run); violations are reported
//! apart.
//!
//! Definitions (all times virtual milliseconds; "fault phase" is `[0, duration_ms)`,
//! before everything heals; a *write* is a client append; a write is *acknowledged*
//! when its operation ends `ok`, at its completion time):
//!
//! - **Failover**: a node becomes leader (a Raft election won, or a WAL variant's
//!   takeover), other than the first leader of the run, during the fault phase.
//!   Leader changes with no acknowledged write between them are one failover.
//! - **Unavailability per failover**: around a failover at time `t`, the gap between
//!   the last write acknowledged at or before `t` (or the start of the run) and the
//!   first acknowledged after `t` (or the end of the run), counting only the instants
//!   at which some client was trying to write (some write invoked and not yet
//!   ended). A failover during which no client was trying is not counted.
//! - **Availability**: the share of the fault phase in which a write invoked then was
//!   acknowledged within the client's operation timeout. Each write invoked in the
//!   fault phase by a scripted client stands for the instants from its invocation to
//!   the next invocation of a write by any client (at most one operation timeout
//!   later, and no later than the end of the fault phase); those instants are
//!   available when it was acknowledged (when several writes were invoked in the same
//!   millisecond, when all of them were). Instants no write stands for (no client
//!   writing) count neither way.
//! - **Write latency**: invocation to acknowledgement of each acknowledged write of a
//!   scripted client, retries included.
//! - **ZooKeeper operations per write**: transactions (each takes a zxid: writes,
//!   failed writes, session creations and closes), reads and syncs the ensemble served,
//!   divided by the writes acknowledged in the run (the liveness probe's included);
//!   **bytes per write**: request plus reply bytes on the wire (pings and connects
//!   included), likewise; **bytes held at most**: the peak of the data tree's size
//!   (data, plus paths but the built-in nodes') at the ensemble's leader.
//! - **Total loss**: every node's process is down at once (crashed or wiped, not yet
//!   restarted; a paused process is not down). **Total-loss recovery**: from the
//!   instant the last node went down to the first write acknowledged after a node
//!   came back; **return to write**: the part of it from the first node's return.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use zkwal_invariants::history::{OpKind, Outcome};
use zkwal_raft::Event;
use zkwal_zk::EnsembleStats;

use crate::clients::Client;
use crate::scenario::Scenario;

/// A node became leader at `at_ms` in `term` (for the WAL variants: took over).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LeaderChange {
    pub at_ms: u64,
    pub node: u32,
    pub term: u64,
}

/// Every node's process was down from `from_ms` until the first returned at `to_ms`
/// (`None`: none returned before the run ended).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TotalLoss {
    pub from_ms: u64,
    pub to_ms: Option<u64>,
}

/// What the world records during a run for the figures. The world calls
/// [`Record::became_leader`] (or [`Record::raft_events`]) when a node starts to lead,
/// [`Record::node_down`] when a node's process dies and [`Record::node_up`] when one
/// starts (every start, the first ones included).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Record {
    pub leader_changes: Vec<LeaderChange>,
    pub total_losses: Vec<TotalLoss>,
    #[serde(skip)]
    running: u32,
    /// When each node could not serve, for the availability ceiling (`ceiling.rs`).
    pub outages: crate::ceiling::Outages,
    /// Stops, reactions and first requests, for the failover phases (`phases.rs`).
    pub milestones: crate::phases::Milestones,
}

impl Record {
    pub fn became_leader(&mut self, at_ms: u64, node: u32, term: u64) {
        self.leader_changes.push(LeaderChange { at_ms, node, term });
        self.milestones.became_leader(node);
    }

    /// Records the leaderships among a Raft core's events of one input.
    pub fn raft_events(&mut self, at_ms: u64, node: u32, events: &[Event]) {
        for e in events {
            if let Event::BecameLeader { term } = e {
                self.became_leader(at_ms, node, *term);
            }
        }
    }

    pub fn node_up(&mut self, at_ms: u64) {
        if self.running == 0 {
            if let Some(l) = self.total_losses.last_mut() {
                if l.to_ms.is_none() {
                    l.to_ms = Some(at_ms);
                }
            }
        }
        self.running += 1;
    }

    pub fn node_down(&mut self, at_ms: u64) {
        if self.running == 0 {
            return; // not running: nothing went down
        }
        self.running -= 1;
        if self.running == 0 {
            self.total_losses.push(TotalLoss {
                from_ms: at_ms,
                to_ms: None,
            });
        }
    }
}

/// ZooKeeper's counters of one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ZkFigures {
    pub ops: u64,
    pub bytes: u64,
    pub held_bytes_max: u64,
    /// Requests the ensemble refused for passing `jute.maxbuffer` (connection dropped).
    pub oversize_requests: u64,
    /// Snapshots the WAL layer published (with their truncation), set by the world.
    pub snapshots_published: u64,
}

impl ZkFigures {
    pub fn of(s: &EnsembleStats) -> ZkFigures {
        ZkFigures {
            ops: s.txns + s.reads + s.syncs,
            bytes: s.request_bytes + s.reply_bytes,
            held_bytes_max: s.held_bytes_max,
            oversize_requests: s.oversize_requests,
            snapshots_published: 0,
        }
    }
}

/// The figures of one run (see the module's definitions).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RunFigures {
    /// One value per failover, in time order.
    pub unavailability_ms: Vec<u64>,
    /// Every leader change in the fault phase after the first leader.
    pub leader_changes: u64,
    pub write_latency_ms: Vec<u64>,
    pub available_ms: u64,
    /// Fault-phase time some write stood for (availability's denominator).
    pub observed_ms: u64,
    /// Writes acknowledged in the whole run (the liveness probe's included).
    pub writes_acked: u64,
    pub total_losses: u64,
    pub total_loss_recovery_ms: Vec<u64>,
    pub total_loss_return_to_write_ms: Vec<u64>,
    /// `None` when no ZooKeeper ensemble was placed.
    pub zk: Option<ZkFigures>,
    /// Of `observed_ms`, the time an ideal design could have served (`ceiling.rs`).
    pub achievable_ms: u64,
    /// One per failover, as `unavailability_ms`: its phases, adding up to it (`phases.rs`).
    pub phases_ms: Vec<crate::phases::Phases>,
}

/// A write as the figures see it.
struct Write {
    invoke_ms: u64,
    complete_ms: u64,
    ok: bool,
    scripted: bool,
}

/// The union of half-open intervals, with prefix sums to measure any window of it.
struct Coverage {
    /// Disjoint, sorted.
    spans: Vec<(u64, u64)>,
    /// `before[i]`: total length of `spans[..i]`.
    before: Vec<u64>,
}

impl Coverage {
    fn new(iv: Vec<(u64, u64)>) -> Coverage {
        let spans = crate::ceiling::union_spans(iv);
        let mut before = Vec::with_capacity(spans.len() + 1);
        let mut sum = 0;
        for (a, b) in &spans {
            before.push(sum);
            sum += b - a;
        }
        before.push(sum);
        Coverage { spans, before }
    }

    /// Covered length of `[0, x)`.
    fn upto(&self, x: u64) -> u64 {
        let i = self.spans.partition_point(|s| s.1 <= x);
        let partial = match self.spans.get(i) {
            Some(&(a, _)) if a < x => x - a,
            _ => 0,
        };
        self.before[i] + partial
    }

    /// Covered length of `[a, b)`.
    fn within(&self, a: u64, b: u64) -> u64 {
        if b <= a {
            return 0;
        }
        self.upto(b) - self.upto(a)
    }
}

impl RunFigures {
    /// The figures of a finished run: `clients` are the world's clients, `probe` the
    /// index of the liveness probe among them, `end_ms` the run's last virtual time.
    pub fn of_run(
        sc: &Scenario,
        clients: &[Client],
        probe: usize,
        record: &Record,
        zk: Option<&EnsembleStats>,
        end_ms: u64,
    ) -> RunFigures {
        let fault_end = sc.options.duration_ms;
        let op_timeout = sc.options.client.op_timeout_ms;
        let mut writes = Vec::new();
        for (c, client) in clients.iter().enumerate() {
            for op in &client.history {
                if let OpKind::Append { .. } = op.kind {
                    writes.push(Write {
                        invoke_ms: op.invoke_ms,
                        complete_ms: op.complete_ms,
                        ok: op.outcome == Outcome::Ok,
                        scripted: c != probe,
                    });
                }
            }
        }
        let mut acks: Vec<u64> = writes
            .iter()
            .filter(|w| w.ok)
            .map(|w| w.complete_ms)
            .collect();
        acks.sort_unstable();
        let trying = Coverage::new(
            writes
                .iter()
                .map(|w| (w.invoke_ms, w.complete_ms))
                .collect(),
        );

        let mut f = RunFigures {
            writes_acked: acks.len() as u64,
            zk: zk.map(ZkFigures::of),
            ..RunFigures::default()
        };

        // Failovers: the ack gap around each leader change, while clients were trying.
        let mut last_gap = None;
        let mut failovers: Vec<crate::phases::Failover> = Vec::new();
        for (k, lc) in record.leader_changes.iter().enumerate().skip(1) {
            if lc.at_ms >= fault_end {
                break;
            }
            f.leader_changes += 1;
            let i = acks.partition_point(|&a| a <= lc.at_ms);
            let prev = if i == 0 { 0 } else { acks[i - 1] };
            let next = acks.get(i).copied().unwrap_or(end_ms);
            if last_gap == Some((prev, next)) {
                if let Some(fo) = failovers.last_mut().filter(|fo| fo.prev_ms == prev) {
                    // The gap's last leader change so far.
                    (fo.new_leader, fo.leadership_ms) = (lc.node, lc.at_ms);
                }
                continue; // the same gap: one failover
            }
            last_gap = Some((prev, next));
            let gap = trying.within(prev, next);
            if gap > 0 {
                f.unavailability_ms.push(gap);
                failovers.push(crate::phases::Failover {
                    prev_ms: prev,
                    next_ms: next,
                    old_leader: record.leader_changes[k - 1].node,
                    first_change_ms: lc.at_ms,
                    new_leader: lc.node,
                    leadership_ms: lc.at_ms,
                });
            }
        }

        // Availability: each fault-phase write stands for the instants until the next.
        let mut invoked: Vec<(u64, bool)> = writes
            .iter()
            .filter(|w| w.scripted && w.invoke_ms < fault_end)
            .map(|w| (w.invoke_ms, w.ok))
            .collect();
        invoked.sort_unstable();
        let with_zk = sc.variant != crate::scenario::Variant::Raft && sc.options.zk.is_some();
        let unservable = record.outages.unservable(sc.nodes, with_zk, end_ms);
        f.phases_ms = failovers
            .iter()
            .map(|fo| {
                crate::phases::split(&record.milestones, &unservable.spans, fo, |a, b| {
                    trying.within(a, b)
                })
            })
            .collect();
        // The client takes an answer until its last attempt, sent before the
        // operation's deadline, times out (`clients.rs`).
        let answer_window_ms = op_timeout + sc.options.client.attempt_timeout_ms;
        let mut k = 0;
        while k < invoked.len() {
            let t = invoked[k].0;
            let mut all_ok = true;
            while k < invoked.len() && invoked[k].0 == t {
                all_ok &= invoked[k].1;
                k += 1;
            }
            let next = invoked.get(k).map_or(u64::MAX, |w| w.0);
            let stop = next.min(t + op_timeout).min(fault_end);
            f.observed_ms += stop - t;
            if all_ok {
                f.available_ms += stop - t;
            }
            if crate::ceiling::achievable(&unservable, t, answer_window_ms) {
                f.achievable_ms += stop - t;
            }
        }

        f.write_latency_ms = writes
            .iter()
            .filter(|w| w.scripted && w.ok)
            .map(|w| w.complete_ms - w.invoke_ms)
            .collect();

        for tl in &record.total_losses {
            f.total_losses += 1;
            let Some(back) = tl.to_ms else { continue };
            let i = acks.partition_point(|&a| a < back);
            if let Some(&a) = acks.get(i) {
                f.total_loss_recovery_ms.push(a - tl.from_ms);
                f.total_loss_return_to_write_ms.push(a - back);
            }
        }
        f
    }
}

/// Highest value the histograms track exactly to 3 digits (100 virtual hours); larger
/// values are recorded as this (the exact maximum is kept apart).
pub const HIST_HIGH_MS: u64 = 100 * 3_600_000;

/// A distribution: an HDR histogram plus the exact maximum. In JSON (`run --json`'s
/// `figures_aggregate`, what `merge` adds up) it is `{"max": M, "counts": [[V, N],
/// ...]}`: for each bucket that holds values, its highest value and how many; read
/// back, it is the same histogram, so merged figures are exact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(into = "DistData", try_from = "DistData")]
pub struct Dist {
    hist: Histogram<u64>,
    max: u64,
}

impl Default for Dist {
    fn default() -> Self {
        Dist {
            hist: Histogram::new_with_bounds(1, HIST_HIGH_MS, 3).expect("valid bounds"),
            max: 0,
        }
    }
}

/// [`Dist`] as plain data.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DistData {
    max: u64,
    counts: Vec<(u64, u64)>,
}

impl From<Dist> for DistData {
    fn from(d: Dist) -> DistData {
        let counts = d
            .hist
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect();
        DistData { max: d.max, counts }
    }
}

impl TryFrom<DistData> for Dist {
    type Error = String;

    fn try_from(data: DistData) -> Result<Dist, String> {
        let mut d = Dist::default();
        for (v, n) in data.counts {
            if n == 0 {
                return Err(format!("histogram bucket [{v}, 0]: an empty bucket"));
            }
            d.hist
                .record_n(v, n)
                .map_err(|e| format!("histogram bucket [{v}, {n}]: {e:?}"))?;
        }
        if data.max > 0 && d.hist.is_empty() {
            return Err("histogram: a maximum without values".into());
        }
        if !d.hist.is_empty() && !d.hist.equivalent(data.max.min(d.hist.high()), d.hist.max()) {
            return Err(format!(
                "histogram: maximum {} outside its top bucket",
                data.max
            ));
        }
        d.max = data.max;
        Ok(d)
    }
}

/// p50, p99 and the exact maximum; `None` when nothing was recorded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Quantiles {
    pub p50: Option<u64>,
    pub p99: Option<u64>,
    pub max: Option<u64>,
}

impl Dist {
    pub fn record(&mut self, v: u64) {
        self.hist.saturating_record(v);
        self.max = self.max.max(v);
    }

    pub fn merge(&mut self, other: &Dist) {
        self.hist
            .add(&other.hist)
            .expect("histograms of equal bounds add");
        self.max = self.max.max(other.max);
    }

    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    /// The value at quantile `q` (to 3 significant digits, never above the maximum).
    pub fn quantile(&self, q: f64) -> Option<u64> {
        (self.count() > 0).then(|| self.hist.value_at_quantile(q).min(self.max))
    }

    pub fn max(&self) -> Option<u64> {
        (self.count() > 0).then_some(self.max)
    }

    pub fn quantiles(&self) -> Quantiles {
        Quantiles {
            p50: self.quantile(0.5),
            p99: self.quantile(0.99),
            max: self.max(),
        }
    }

    /// The cumulative distribution: for each recorded bucket, its highest value (never
    /// above the maximum) and the share of values at or below it.
    pub fn cdf(&self) -> Vec<(u64, f64)> {
        let n = self.count();
        let mut out = Vec::new();
        let mut seen = 0u64;
        for v in self.hist.iter_recorded() {
            seen += v.count_since_last_iteration();
            out.push((v.value_iterated_to().min(self.max), seen as f64 / n as f64));
        }
        out
    }
}

/// The figures of many runs, added up. `merge` is exact: merging the figures of two
/// seed ranges equals the figures of one run over both. Serialized whole (histograms
/// included) as `run --json`'s `figures_aggregate`, so that `merge` is exact too.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Figures {
    pub runs: u64,
    pub unavailability_ms: Dist,
    pub leader_changes: u64,
    pub write_latency_ms: Dist,
    pub available_ms: u64,
    pub observed_ms: u64,
    pub writes_acked: u64,
    pub total_losses: u64,
    pub total_loss_recovery_ms: Dist,
    pub total_loss_return_to_write_ms: Dist,
    /// Runs with a ZooKeeper ensemble, their writes acknowledged and ZooKeeper counters.
    pub zk_runs: u64,
    pub zk_writes_acked: u64,
    pub zk_ops: u64,
    pub zk_bytes: u64,
    pub zk_held_bytes_max: u64,
    /// Of `observed_ms`, the time an ideal design could have served (`ceiling.rs`).
    pub achievable_ms: u64,
    /// Each failover's phases (`phases.rs`).
    pub failover_phases_ms: PhaseDists,
    /// ZooKeeper's refusals of requests over `jute.maxbuffer`, and snapshots published
    /// (absent in files written before they were counted: 0).
    #[serde(default)]
    pub zk_oversize_requests: u64,
    #[serde(default)]
    pub snapshots_published: u64,
}

impl Figures {
    pub fn add_run(&mut self, r: &RunFigures) {
        self.runs += 1;
        for &v in &r.unavailability_ms {
            self.unavailability_ms.record(v);
        }
        self.leader_changes += r.leader_changes;
        for &v in &r.write_latency_ms {
            self.write_latency_ms.record(v);
        }
        self.available_ms += r.available_ms;
        self.observed_ms += r.observed_ms;
        self.writes_acked += r.writes_acked;
        self.total_losses += r.total_losses;
        for &v in &r.total_loss_recovery_ms {
            self.total_loss_recovery_ms.record(v);
        }
        for &v in &r.total_loss_return_to_write_ms {
            self.total_loss_return_to_write_ms.record(v);
        }
        if let Some(z) = &r.zk {
            self.zk_runs += 1;
            self.zk_writes_acked += r.writes_acked;
            self.zk_ops += z.ops;
            self.zk_bytes += z.bytes;
            self.zk_held_bytes_max = self.zk_held_bytes_max.max(z.held_bytes_max);
            self.zk_oversize_requests += z.oversize_requests;
            self.snapshots_published += z.snapshots_published;
        }
        self.achievable_ms += r.achievable_ms;
        for p in &r.phases_ms {
            self.failover_phases_ms.add(p);
        }
    }

    pub fn merge(&mut self, o: &Figures) {
        self.runs += o.runs;
        self.unavailability_ms.merge(&o.unavailability_ms);
        self.leader_changes += o.leader_changes;
        self.write_latency_ms.merge(&o.write_latency_ms);
        self.available_ms += o.available_ms;
        self.observed_ms += o.observed_ms;
        self.writes_acked += o.writes_acked;
        self.total_losses += o.total_losses;
        self.total_loss_recovery_ms.merge(&o.total_loss_recovery_ms);
        self.total_loss_return_to_write_ms
            .merge(&o.total_loss_return_to_write_ms);
        self.zk_runs += o.zk_runs;
        self.zk_writes_acked += o.zk_writes_acked;
        self.zk_ops += o.zk_ops;
        self.zk_bytes += o.zk_bytes;
        self.zk_held_bytes_max = self.zk_held_bytes_max.max(o.zk_held_bytes_max);
        self.achievable_ms += o.achievable_ms;
        self.failover_phases_ms.merge(&o.failover_phases_ms);
        self.zk_oversize_requests += o.zk_oversize_requests;
        self.snapshots_published += o.snapshots_published;
    }

    /// Failovers counted (one unavailability value each).
    pub fn failovers(&self) -> u64 {
        self.unavailability_ms.count()
    }

    pub fn availability(&self) -> Option<f64> {
        (self.observed_ms > 0).then(|| self.available_ms as f64 / self.observed_ms as f64)
    }

    /// The share of the observed time an ideal design could have served (`ceiling.rs`).
    pub fn availability_ceiling(&self) -> Option<f64> {
        (self.observed_ms > 0).then(|| self.achievable_ms as f64 / self.observed_ms as f64)
    }

    /// Availability ÷ ceiling: the served share of what could have been served.
    pub fn availability_efficiency(&self) -> Option<f64> {
        (self.achievable_ms > 0).then(|| self.available_ms as f64 / self.achievable_ms as f64)
    }

    fn per_zk_write(&self, x: u64) -> Option<f64> {
        (self.zk_runs > 0 && self.zk_writes_acked > 0)
            .then(|| x as f64 / self.zk_writes_acked as f64)
    }

    pub fn summary(&self) -> Summary {
        let lat = self.write_latency_ms.quantiles();
        Summary {
            seeds_measured: self.runs,
            unavailability_ms: self.unavailability_ms.quantiles(),
            failovers: self.failovers(),
            leader_changes: self.leader_changes,
            availability: self.availability(),
            write_latency_ms: Latency {
                p50: lat.p50,
                p99: lat.p99,
            },
            writes_acked: self.writes_acked,
            zk_ops_per_write: self.per_zk_write(self.zk_ops),
            zk_bytes_per_write: self.per_zk_write(self.zk_bytes),
            zk_bytes_max: (self.zk_runs > 0).then_some(self.zk_held_bytes_max),
            total_losses: self.total_losses,
            total_loss_recovery_ms: self.total_loss_recovery_ms.quantiles(),
            total_loss_return_to_write_ms: self.total_loss_return_to_write_ms.quantiles(),
            availability_ceiling: self.availability_ceiling(),
            availability_efficiency: self.availability_efficiency(),
            failover_phases_ms: self.failover_phases_ms.summary(),
            zk_oversize_requests: (self.zk_runs > 0).then_some(self.zk_oversize_requests),
            snapshots_published: (self.zk_runs > 0).then_some(self.snapshots_published),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Latency {
    pub p50: Option<u64>,
    pub p99: Option<u64>,
}

/// The figures as reported (JSON fields of `run`, `report` and `sweep`); `null` where
/// nothing was measured (no failover, no ZooKeeper, ...).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Seeds whose figures these are (those that ran to the end without a violation).
    pub seeds_measured: u64,
    pub unavailability_ms: Quantiles,
    pub failovers: u64,
    pub leader_changes: u64,
    pub availability: Option<f64>,
    pub write_latency_ms: Latency,
    pub writes_acked: u64,
    pub zk_ops_per_write: Option<f64>,
    pub zk_bytes_per_write: Option<f64>,
    pub zk_bytes_max: Option<u64>,
    pub total_losses: u64,
    pub total_loss_recovery_ms: Quantiles,
    pub total_loss_return_to_write_ms: Quantiles,
    /// The share of the observed time an ideal design could have served.
    pub availability_ceiling: Option<f64>,
    /// `availability` ÷ `availability_ceiling`.
    pub availability_efficiency: Option<f64>,
    /// Requests ZooKeeper refused for passing `jute.maxbuffer` (each drops a connection).
    pub zk_oversize_requests: Option<u64>,
    /// Snapshots published to ZooKeeper with their WAL truncation.
    pub snapshots_published: Option<u64>,
    /// Each failover's unavailability split into phases (`phases.rs`).
    pub failover_phases_ms: PhaseSummary,
}

/// The phases of many failovers, added up: a distribution per phase (one value per
/// failover, zeros included) and the exact sum of each, so that each phase's share of
/// all unavailability is exact and merging is exact (as [`Figures`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseDists {
    pub unservable: Dist,
    pub before_fault: Dist,
    pub detection: Dist,
    pub takeover: Dist,
    pub election: Dist,
    pub client_retry: Dist,
    pub first_commit: Dist,
    /// Each phase's total over every failover (virtual ms).
    pub sum_ms: crate::phases::Phases,
}

impl PhaseDists {
    /// The distributions in [`crate::phases::NAMES`] order.
    pub fn dists(&self) -> [&Dist; 7] {
        [
            &self.unservable,
            &self.before_fault,
            &self.detection,
            &self.takeover,
            &self.election,
            &self.client_retry,
            &self.first_commit,
        ]
    }

    fn dists_mut(&mut self) -> [&mut Dist; 7] {
        [
            &mut self.unservable,
            &mut self.before_fault,
            &mut self.detection,
            &mut self.takeover,
            &mut self.election,
            &mut self.client_retry,
            &mut self.first_commit,
        ]
    }

    pub fn add(&mut self, p: &crate::phases::Phases) {
        for (d, v) in self.dists_mut().into_iter().zip(p.values()) {
            d.record(v);
        }
        self.sum_ms = self.sum_ms.plus(p);
    }

    pub fn merge(&mut self, o: &PhaseDists) {
        for (d, e) in self.dists_mut().into_iter().zip(o.dists()) {
            d.merge(e);
        }
        self.sum_ms = self.sum_ms.plus(&o.sum_ms);
    }

    /// p50/p99/max of each phase and its share of the sum of all phases.
    pub fn summary(&self) -> PhaseSummary {
        let total: u64 = self.sum_ms.total();
        let q = |i: usize| {
            let d = self.dists()[i];
            PhaseQuantiles {
                quantiles: d.quantiles(),
                share: (total > 0).then(|| self.sum_ms.values()[i] as f64 / total as f64),
            }
        };
        PhaseSummary {
            unservable: q(0),
            before_fault: q(1),
            detection: q(2),
            takeover: q(3),
            election: q(4),
            client_retry: q(5),
            first_commit: q(6),
        }
    }
}

/// A phase as reported: p50/p99/max over failovers, and its share of all the
/// failovers' unavailability (`null`: no failover).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct PhaseQuantiles {
    #[serde(flatten)]
    pub quantiles: Quantiles,
    pub share: Option<f64>,
}

/// Every phase as reported (JSON `failover_phases_ms`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct PhaseSummary {
    pub unservable: PhaseQuantiles,
    pub before_fault: PhaseQuantiles,
    pub detection: PhaseQuantiles,
    pub takeover: PhaseQuantiles,
    pub election: PhaseQuantiles,
    pub client_retry: PhaseQuantiles,
    pub first_commit: PhaseQuantiles,
}

impl PhaseSummary {
    /// The phases in [`crate::phases::NAMES`] order.
    pub fn values(&self) -> [PhaseQuantiles; 7] {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Scenario, Variant};
    use zkwal_invariants::history::Op as HistOp;

    fn append(client: u32, invoke_ms: u64, complete_ms: u64, ok: bool) -> HistOp {
        HistOp {
            client,
            invoke_ms,
            complete_ms,
            kind: OpKind::Append { key: 0, value: 1 },
            outcome: if ok {
                Outcome::Ok
            } else {
                Outcome::Indeterminate
            },
        }
    }

    fn clients(histories: Vec<Vec<HistOp>>) -> Vec<Client> {
        histories
            .into_iter()
            .enumerate()
            .map(|(i, h)| {
                let mut c = Client::new(i as u32, Vec::new(), 2, 400, 2_000);
                c.history = h;
                c
            })
            .collect()
    }

    #[test]
    fn coverage_measures_windows_of_a_union() {
        let c = Coverage::new(vec![(10, 20), (15, 30), (40, 50), (5, 5)]);
        assert_eq!(c.within(0, 100), 30);
        assert_eq!(c.within(12, 45), 18 + 5);
        assert_eq!(c.within(30, 40), 0);
        assert_eq!(c.within(25, 25), 0);
    }

    #[test]
    fn a_failover_gap_counts_only_while_clients_try() {
        let mut sc = Scenario::generate(0, Variant::Raft, 2);
        sc.options.duration_ms = 10_000;
        sc.options.client.op_timeout_ms = 2_000;
        // Acks at 1000 and 5000; the leader changes at 3000. Client 0 tries from 4000
        // on, client 1 from 1500 to 2500 (gives up): trying 1500..2500 and 4000..5000.
        let cl = clients(vec![
            vec![append(0, 900, 1_000, true), append(0, 4_000, 5_000, true)],
            vec![append(1, 1_500, 2_500, false)],
            vec![],
        ]);
        let mut rec = Record::default();
        rec.node_up(0);
        rec.node_up(0);
        rec.became_leader(200, 0, 1);
        rec.became_leader(3_000, 1, 2);
        rec.became_leader(3_100, 0, 3); // same gap: one failover
        let f = RunFigures::of_run(&sc, &cl, 2, &rec, None, 20_000);
        assert_eq!(f.leader_changes, 2);
        assert_eq!(f.unavailability_ms, vec![2_000]);
        assert_eq!(f.write_latency_ms, vec![100, 1_000]);
        // 900 stands for 900..1500 (ok), 1500 for 1500..3500 (failed, capped at the
        // timeout), 4000 for 4000..6000 (ok).
        assert_eq!(f.observed_ms, 600 + 2_000 + 2_000);
        assert_eq!(f.available_ms, 600 + 2_000);
        assert_eq!(f.writes_acked, 2);
    }

    #[test]
    fn total_loss_runs_from_the_last_death_to_the_first_ack_after_a_return() {
        let sc = Scenario::generate(0, Variant::Raft, 2);
        let mut rec = Record::default();
        rec.node_up(0);
        rec.node_up(0);
        rec.node_down(1_000);
        rec.node_down(1_200); // every node down
        rec.node_up(3_000); // back
        rec.node_up(3_200);
        rec.node_down(3_500);
        rec.node_down(9_000); // down again, never back
        let cl = clients(vec![
            vec![append(0, 800, 1_100, true), append(0, 2_000, 3_400, true)],
            vec![],
        ]);
        let f = RunFigures::of_run(&sc, &cl, 1, &rec, None, 12_000);
        assert_eq!(
            rec.total_losses,
            vec![
                TotalLoss {
                    from_ms: 1_200,
                    to_ms: Some(3_000)
                },
                TotalLoss {
                    from_ms: 9_000,
                    to_ms: None
                }
            ]
        );
        assert_eq!(f.total_losses, 2);
        assert_eq!(f.total_loss_recovery_ms, vec![2_200]);
        assert_eq!(f.total_loss_return_to_write_ms, vec![400]);
    }

    #[test]
    fn figures_read_back_from_json_are_the_same_figures() {
        let mut f = Figures::default();
        for v in [
            0,
            1,
            7,
            999,
            1_000,
            1_001,
            123_456,
            HIST_HIGH_MS,
            HIST_HIGH_MS * 3,
        ] {
            f.write_latency_ms.record(v);
            f.unavailability_ms.record(v / 2 + 1);
        }
        f.runs = 3;
        f.zk_held_bytes_max = 77;
        let text = serde_json::to_string(&f).unwrap();
        let back: Figures = serde_json::from_str(&text).unwrap();
        assert_eq!(back, f);
        assert_eq!(back.summary(), f.summary());
        assert_eq!(back.write_latency_ms.cdf(), f.write_latency_ms.cdf());
        assert_eq!(serde_json::to_string(&back).unwrap(), text);
        for bad in [
            r#"{"max": 5, "counts": []}"#,
            r#"{"max": 5, "counts": [[5, 0]]}"#,
            r#"{"max": 900, "counts": [[5, 1]]}"#,
        ] {
            assert!(serde_json::from_str::<Dist>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dist_quantiles_never_exceed_the_exact_max() {
        let mut d = Dist::default();
        assert_eq!(d.quantiles(), Quantiles::default());
        d.record(1_234_567);
        let q = d.quantiles();
        assert_eq!(q.max, Some(1_234_567));
        assert!(q.p99.unwrap() <= 1_234_567);
        assert!(q.p50.unwrap() >= 1_233_000);
        let mut e = Dist::default();
        e.record(7);
        e.merge(&d);
        assert_eq!(e.count(), 2);
        assert_eq!(e.quantile(0.0), Some(7));
    }
}
