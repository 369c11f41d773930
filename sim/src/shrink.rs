//! `zkwal-sim shrink`: delta debugging over a failing [`Scenario`], down to one that a
//! person can read. A candidate counts only if it still violates the *same* invariant.
//!
//! The passes, repeated until a whole round changes nothing (or the budget of
//! candidate runs is spent):
//! 1. the horizon: stop the fault phase just after the violation (nothing before it
//!    changes), or halve it; then one node fewer, and one ZooKeeper server;
//! 2. (in one of the two orders tried, see [`shrink`]) a calmer network and disk (no
//!    loss, duplication or reordering, fixed latencies), each kept if it still fails;
//! 3. ddmin (Zeller's delta debugging) over the faults, then over whole clients, then
//!    over the client operations (three ways: later ones move earlier; think times
//!    summed; and pinned, each kept operation started when it started in the current
//!    run, which keeps the operation in flight at a takeover where the race needs it);
//! 4. one-step simplifications, the first that still fails kept each time: calmer
//!    network and disk, fewer keys, shorter pauses, partitions and outages, faults and
//!    operations earlier, smaller partition sides and blank sets, a shorter liveness
//!    window (not for a liveness or convergence verdict, which that window defines),
//!    smaller snapshot, append and WAL publication options.
//!
//! The rounds run in two orders (a calm network first or last), the smaller result
//! kept, then with leader-targeted faults made concrete ([`concretize`]), from that
//! result and from the start, on what is left of the budget; then the same again
//! with every candidate also tried under [`RESEEDS`] other seeds (a race that a
//! removal's shifted schedule loses is often won under another); last,
//! [`single_removals`]: each fault and each started operation removed alone, under up
//! to [`DEEP_RESEEDS`] seeds, for a race as rare as Figure 8's. The horizon pass never
//! reseeds (another seed's run fails at another time and would get the horizon back).
//! Each phase's result is kept only if smaller. "The same failure" is [`failure_of`]:
//! the invariant, and for a panic its message too.
//!
//! Deterministic: candidates are tried in a fixed order and the first that fails the
//! same way wins. Runs of a batch go to several threads (`runner::run_each`), but a
//! batch never holds more candidates than the budget has left and only the runs up to
//! the winner are counted, so the result and the run count are what a sequential
//! shrink gives, whatever `--jobs` is.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::path::PathBuf;

use crate::clients::StepTime;
use crate::regress::Case;
use crate::run::{run_recorded, run_scenario, run_timed};
use crate::runner::run_each;
use crate::scenario::{unique_value, ClientOpKind, ClientStep, Fault, Scenario};
use crate::timeline::{Lane, Recording, What};
use crate::world::RunResult;

#[derive(clap::Args, Debug)]
pub struct ShrinkArgs {
    /// The failing seed, or a saved scenario or `seeds/` case.
    #[command(flatten)]
    pub case: crate::args::CaseArgs,
    /// Where to write the minimal scenario, as a regression case (default:
    /// `seeds/<variant>-n<N>-s<seed>[-zk]-<invariant>-shrunk.json`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// At most this many candidate runs.
    #[arg(long, default_value_t = 20_000, value_parser = crate::args::max_runs_arg, allow_negative_numbers = true)]
    pub max_runs: u64,
    /// Worker threads for a batch of candidates (default: all cores). The result does
    /// not depend on it.
    #[arg(long, value_parser = crate::args::jobs_arg, allow_negative_numbers = true)]
    pub jobs: Option<usize>,
}

/// How big a failing scenario is, and how long its run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    pub faults: usize,
    pub ops: usize,
    pub clients: usize,
    pub keys: u32,
    /// Events the run processed until it stopped.
    pub events: u64,
    /// Virtual time at which the run stopped.
    pub virtual_time_ms: u64,
}

impl Size {
    pub fn of(sc: &Scenario, r: &RunResult) -> Size {
        Size {
            faults: sc.faults.len(),
            ops: sc.clients.iter().map(Vec::len).sum(),
            clients: sc.clients.len(),
            keys: sc.options.client.keys,
            events: r.events,
            virtual_time_ms: r.virtual_time_ms,
        }
    }
}

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} faults, {} ops ({} clients, {} keys), {} events, {} ms virtual",
            self.faults, self.ops, self.clients, self.keys, self.events, self.virtual_time_ms
        )
    }
}

/// The shrinker's bounds.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_runs: u64,
    pub jobs: usize,
}

/// What a shrink found.
#[derive(Clone, Debug)]
pub struct Shrunk {
    pub scenario: Scenario,
    /// The seed of the scenario that was shrunk (the minimal one may run under
    /// another, see [`Eval::reseeds`]): it names the case.
    pub origin_seed: u64,
    pub invariant: String,
    /// What every candidate had to fail with ([`failure_of`]): the invariant, and for a
    /// panic its message too.
    pub failure: String,
    pub before: Size,
    pub after: Size,
    /// Candidate runs counted against the budget.
    pub runs: u64,
    /// Whether the budget ran out before a round changed nothing.
    pub budget_spent: bool,
}

/// Called after every batch with the runs so far and the current size.
pub type Progress<'a> = &'a mut dyn FnMut(u64, &Size);

/// Shrinks a failing scenario. Err: it does not fail (nothing to shrink).
pub fn shrink(sc: &Scenario, lim: Limits, progress: Progress) -> Result<Shrunk, String> {
    sc.validate()?;
    let r = run_scenario(sc);
    let Some(v) = &r.violation else {
        return Err(format!(
            "seed {} ({} nodes, {}) passes: nothing to shrink",
            sc.seed,
            sc.nodes,
            sc.variant.name()
        ));
    };
    let before = Size::of(sc, &r);
    let failure = failure_of(&v.invariant, &v.detail);
    // Two orders of the same passes, the smaller result kept: each ends in a local
    // minimum, and which one is smaller depends on the case. A calm network last
    // keeps what a removal needs of the random schedule; a calm network first makes
    // removals disturb less. The second gets what the first left of the budget.
    // Then the passes with leader-targeted faults made concrete ([`concretize`]):
    // that helps when removals retarget later leader faults, and hurts when they
    // follow the leader on purpose, so it is tried after the others, on what is left
    // of the budget, and kept only if smaller.
    let mut run_phase =
        |start: &(Scenario, RunResult), work: &dyn Fn(&mut Eval), reseeds: u64, budget: u64| {
            let mut ev = Eval {
                failure: failure.clone(),
                current: start.0.clone(),
                result: start.1.clone(),
                runs: 0,
                max_runs: budget,
                jobs: lim.jobs.max(1),
                reseeds,
                origin_duration_ms: sc.options.duration_ms,
                tried: BTreeSet::new(),
                progress: &mut *progress,
            };
            ev.tried.insert(fingerprint(&start.0));
            work(&mut ev);
            let spent = ev.spent();
            ((ev.current, ev.result), ev.runs, spent)
        };
    let size = |x: &(Scenario, RunResult)| {
        let s = Size::of(&x.0, &x.1);
        (s.faults + s.ops, s.faults, s.events, s.virtual_time_ms)
    };
    let origin = (sc.clone(), r.clone());
    let a = run_phase(&origin, &|ev| passes(ev, false, false), 0, lim.max_runs);
    let b = run_phase(
        &origin,
        &|ev| passes(ev, true, false),
        0,
        lim.max_runs - a.1,
    );
    let mut runs = a.1 + b.1;
    let mut spent = a.2 || b.2;
    let mut best = if size(&b.0) < size(&a.0) { b.0 } else { a.0 };
    // The concrete passes, from the better result, then from the start (the order
    // that starts with them is sometimes the one that gets furthest), each on what
    // is left of the budget.
    for from_best in [true, false] {
        if runs >= lim.max_runs {
            break;
        }
        let start = if from_best {
            best.clone()
        } else {
            origin.clone()
        };
        let c = run_phase(
            &start,
            &|ev| passes(ev, from_best, true),
            0,
            lim.max_runs - runs,
        );
        runs += c.1;
        spent |= c.2;
        if size(&c.0) < size(&best) {
            best = c.0;
        }
    }
    // Last, the same passes with every candidate also tried under other seeds
    // ([`Eval::reseeds`]): a race at a takeover that one removal's shifted schedule
    // loses is often won again under another random schedule, so the operations and
    // faults that only held the race in place can go too.
    for from_best in [true, false] {
        if runs >= lim.max_runs {
            break;
        }
        let start = if from_best {
            best.clone()
        } else {
            origin.clone()
        };
        let c = run_phase(
            &start,
            &|ev| passes(ev, true, true),
            RESEEDS,
            lim.max_runs - runs,
        );
        runs += c.1;
        spent |= c.2;
        if size(&c.0) < size(&best) {
            best = c.0;
        }
    }
    // Then, on whatever budget is left, each fault and each operation removed alone
    // under many more seeds ([`single_removals`]): for a failure as rare as the
    // Figure 8 pattern, one schedule in a few hundred still fails without it.
    if runs < lim.max_runs {
        let c = run_phase(&best, &single_removals, DEEP_RESEEDS, lim.max_runs - runs);
        runs += c.1;
        spent |= c.2;
        if size(&c.0) < size(&best) {
            best = c.0;
        }
    }
    let (scenario, result) = best;
    Ok(Shrunk {
        after: Size::of(&scenario, &result),
        before,
        runs,
        budget_spent: spent,
        invariant: invariant_of(&failure).to_string(),
        failure,
        origin_seed: sc.seed,
        scenario,
    })
}

/// The passes, round after round, until a round changes nothing or the budget is spent
/// (`concrete`: leader-targeted faults are made concrete first, each round).
fn passes(ev: &mut Eval, calm_first: bool, concrete: bool) {
    loop {
        let start = fingerprint(&ev.current);
        horizon(ev);
        if calm_first {
            greedy(ev, &calmer);
        }
        greedy(ev, &fewer_nodes);
        if concrete {
            concretize(ev);
        }
        shrink_faults(ev);
        shrink_clients(ev);
        shrink_ops(ev);
        simplify(ev);
        if ev.spent() || fingerprint(&ev.current) == start {
            break;
        }
    }
}

/// The current smallest failing scenario and the budget.
struct Eval<'a> {
    /// The failure key ([`failure_of`]) a candidate must reproduce.
    failure: String,
    current: Scenario,
    /// The run of `current`.
    result: RunResult,
    runs: u64,
    max_runs: u64,
    jobs: usize,
    /// Each candidate is also tried under this many other seeds ([`reseeded`]), right
    /// after itself: the scenario's seed only drives the run's random streams
    /// (network, disk, election jitter), so a candidate under another seed is as
    /// readable, and it is kept if it fails the same way.
    reseeds: u64,
    /// The fault phase of the scenario that was shrunk: a reseeded candidate gets it
    /// back, since under another schedule the violation may come later than the
    /// horizon the current one was cut to (the horizon pass cuts it again).
    origin_duration_ms: u64,
    /// Fingerprints of candidates already run (they are not run or counted again).
    tried: BTreeSet<u64>,
    progress: Progress<'a>,
}

impl Eval<'_> {
    /// The budget is spent, or Ctrl-C asked to stop: the current scenario (the
    /// smallest failing one so far) is then the result, and is written.
    fn spent(&self) -> bool {
        self.runs >= self.max_runs || crate::progress::interrupted()
    }

    /// Runs the candidates in order and makes the first that violates the same
    /// invariant current; returns its position.
    fn first(&mut self, cands: Vec<Scenario>) -> Option<usize> {
        let mut fresh: Vec<(usize, Scenario)> = Vec::new();
        for (i, c) in cands.into_iter().enumerate() {
            if c.validate().is_err() {
                continue;
            }
            let others: Vec<Scenario> = (1..=self.reseeds)
                .map(|k| reseeded(&c, k, self.origin_duration_ms))
                .collect();
            for c in std::iter::once(c).chain(others) {
                if self.tried.insert(fingerprint(&c)) {
                    fresh.push((i, c));
                }
            }
        }
        let mut queue = fresh.into_iter().peekable();
        while queue.peek().is_some() && !self.spent() {
            let room = (self.max_runs - self.runs).min(self.jobs as u64) as usize;
            let batch: Vec<(usize, Scenario)> = queue.by_ref().take(room).collect();
            let scenarios: Vec<Scenario> = batch.iter().map(|(_, c)| c.clone()).collect();
            let results = run_each(&scenarios, self.jobs);
            let hit = results.iter().position(|r| {
                r.violation
                    .as_ref()
                    .is_some_and(|v| failure_of(&v.invariant, &v.detail) == self.failure)
            });
            match hit {
                Some(k) => {
                    self.runs += k as u64 + 1;
                    // Candidates after the winner were run but are not counted: a
                    // sequential shrink would not have run them. They may be tried again.
                    for (_, c) in &batch[k + 1..] {
                        self.tried.remove(&fingerprint(c));
                    }
                    for (_, c) in queue {
                        self.tried.remove(&fingerprint(&c));
                    }
                    let (pos, sc) = batch.into_iter().nth(k).expect("hit is in the batch");
                    self.result = results.into_iter().nth(k).expect("one result each");
                    self.current = sc;
                    self.report();
                    return Some(pos);
                }
                None => {
                    self.runs += batch.len() as u64;
                    self.report();
                }
            }
        }
        for (_, c) in queue {
            self.tried.remove(&fingerprint(&c));
        }
        None
    }

    fn report(&mut self) {
        let size = Size::of(&self.current, &self.result);
        (self.progress)(self.runs, &size);
    }
}

/// How many other seeds the reseeded phase of [`shrink`] tries each candidate under.
const RESEEDS: u64 = 7;

/// How many other seeds [`single_removals`] tries each removal under.
const DEEP_RESEEDS: u64 = 255;

/// Each fault, then each operation that started (pinned, [`pinned_ops`]), removed
/// alone, each removal tried under [`Eval::reseeds`] other seeds, the first that fails
/// the same way kept (then the horizon is cut again), until none does or the budget
/// is spent. Only removals: every step makes the scenario smaller.
fn single_removals(ev: &mut Eval) {
    while !ev.spent() {
        let ops = started_ops(&ev.current);
        ev.runs += 1; // the timed run
        let mut cands = Vec::new();
        for i in 0..ev.current.faults.len() {
            let mut c = ev.current.clone();
            c.faults.remove(i);
            cands.push(c);
        }
        for j in 0..ops.len() {
            let mut keep = ops.clone();
            keep.remove(j);
            cands.push(pinned_ops(&ev.current, &keep));
        }
        if ev.first(cands).is_none() {
            break;
        }
        horizon(ev);
    }
}

/// `sc` under its `k`-th other seed, a fixed function of its seed and `k` (SplitMix64's
/// finaliser), so that a shrink stays deterministic; its fault phase back to at least
/// `duration_ms`.
fn reseeded(sc: &Scenario, k: u64, duration_ms: u64) -> Scenario {
    let mut z = sc.seed.wrapping_add(k.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    let mut c = sc.clone();
    c.seed = z ^ (z >> 31);
    c.options.duration_ms = c.options.duration_ms.max(duration_ms);
    c
}

/// What "fails the same way" compares: the invariant's name, and for a panic also its
/// message with every number blanked (`#`), so that a shrink of one assertion's
/// failure cannot wander off to another assertion, while the values it printed (an
/// index, a term) may change as the scenario shrinks.
pub fn failure_of(invariant: &str, detail: &str) -> String {
    if invariant != "panic" {
        return invariant.to_string();
    }
    let mut key = String::from("panic: ");
    let mut in_number = false;
    for ch in detail.chars() {
        if ch.is_ascii_digit() {
            if !in_number {
                key.push('#');
            }
            in_number = true;
        } else {
            key.push(ch);
            in_number = false;
        }
    }
    key
}

/// The invariant named by a failure key of [`failure_of`].
fn invariant_of(failure: &str) -> &str {
    failure.split(':').next().unwrap_or(failure)
}

/// A fixed 64-bit hash of a scenario's JSON (never a randomly seeded hasher).
fn fingerprint(sc: &Scenario) -> u64 {
    crate::regress::scenario_hash(sc)
}

/// Classic ddmin over `items`: subsets, then complements, at growing granularity.
/// `build` makes the candidate scenario holding only the given items.
fn ddmin<T: Clone>(ev: &mut Eval, items: Vec<T>, build: &dyn Fn(&Scenario, &[T]) -> Scenario) {
    let mut items = items;
    let mut n = 2usize;
    while !items.is_empty() && !ev.spent() {
        let len = items.len();
        let k = n.min(len);
        let ranges: Vec<std::ops::Range<usize>> =
            (0..k).map(|i| i * len / k..(i + 1) * len / k).collect();
        let mut sets: Vec<Vec<T>> = Vec::new();
        if k > 2 {
            sets.extend(ranges.iter().map(|r| items[r.clone()].to_vec()));
        }
        for r in &ranges {
            let mut rest = items[..r.start].to_vec();
            rest.extend_from_slice(&items[r.end..]);
            sets.push(rest);
        }
        let cands = sets.iter().map(|s| build(&ev.current, s)).collect();
        match ev.first(cands) {
            Some(i) => {
                let subset = k > 2 && i < k;
                items = sets.swap_remove(i);
                n = if subset { 2 } else { (k - 1).max(2) };
            }
            None if k >= len => break,
            None => n = (2 * k).min(len),
        }
    }
}

fn horizon(ev: &mut Eval) {
    // Never under other seeds: a reseeded candidate gets the longer horizon back,
    // which would undo the cut being tried.
    let reseeds = std::mem::take(&mut ev.reseeds);
    horizon_cut(ev);
    ev.reseeds = reseeds;
}

fn horizon_cut(ev: &mut Eval) {
    let o = &ev.current.options;
    let mut cands = Vec::new();
    if let Some(v) = &ev.result.violation {
        // A violation during the fault phase: healing later changes nothing before it.
        if v.virtual_time_ms + 1 < o.duration_ms {
            let mut c = ev.current.clone();
            c.options.duration_ms = v.virtual_time_ms + 1;
            cands.push(c);
        }
    }
    if o.duration_ms > 1 {
        let mut c = ev.current.clone();
        c.options.duration_ms = o.duration_ms / 2;
        cands.push(c);
    }
    while !ev.spent() && ev.first(cands.clone()).is_some() {
        cands = horizon_cands(&ev.current);
    }
    drop_unfired_faults(ev);
}

fn horizon_cands(sc: &Scenario) -> Vec<Scenario> {
    let mut c = sc.clone();
    c.options.duration_ms /= 2;
    if c.options.duration_ms == 0 {
        return Vec::new();
    }
    vec![c]
}

/// Faults scheduled at or after the end of the fault phase never fire: drop them.
fn drop_unfired_faults(ev: &mut Eval) {
    let d = ev.current.options.duration_ms;
    if ev.current.faults.iter().any(|f| f.at_ms >= d) {
        let mut c = ev.current.clone();
        c.faults.retain(|f| f.at_ms < d);
        ev.first(vec![c]);
    }
}

/// Leader-targeted faults (crash, isolate or pause whoever leads) become the same
/// fault on the node that led when it fired, and one that found no leader is dropped.
/// The run is the same (the world applies the same fault to the same node), but later
/// removals no longer retarget it: dropping an earlier fault that changed who leads
/// would otherwise move every later leader fault to another node.
fn concretize(ev: &mut Eval) {
    if ev.spent() || !ev.current.faults.iter().any(|f| f.fault.aims_at_leader()) {
        return;
    }
    let c = concretized(&ev.current);
    ev.runs += 1; // the recorded run that found the leaders
    if c != ev.current {
        ev.first(vec![c]);
    }
}

/// `sc` with each leader-targeted fault that fired replaced by the same fault on the
/// node that led then (found by one recorded run), and those that found no leader
/// dropped; faults that never fired are kept as they are.
pub fn concretized(sc: &Scenario) -> Scenario {
    let mut rec = Recording::default();
    run_recorded(sc, &mut rec);
    let mut led: BTreeMap<usize, Option<u32>> = BTreeMap::new();
    for e in &rec.major {
        if let What::Fault { idx, lanes, .. } = &e.what {
            let node = lanes.iter().find_map(|l| match l {
                Lane::Node(n) => Some(*n),
                _ => None,
            });
            led.insert(*idx, node);
        }
    }
    let mut c = sc.clone();
    c.faults = sc
        .faults
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            let fault = match (&f.fault, led.get(&i)) {
                (fault, Some(None)) if fault.aims_at_leader() => return None, // no leader: no effect
                (Fault::CrashLeader { down_ms }, Some(Some(node))) => Fault::Crash {
                    node: *node,
                    down_ms: *down_ms,
                },
                (Fault::IsolateLeader { ms }, Some(Some(node))) => Fault::Partition {
                    side: vec![*node],
                    one_way: false,
                    ms: *ms,
                },
                (Fault::PauseLeader { ms }, Some(Some(node))) => Fault::Pause {
                    node: *node,
                    ms: *ms,
                },
                (other, _) => other.clone(),
            };
            Some(crate::scenario::TimedFault {
                at_ms: f.at_ms,
                fault,
            })
        })
        .collect();
    c
}

fn shrink_faults(ev: &mut Eval) {
    let faults = ev.current.faults.clone();
    ddmin(ev, faults, &|sc, keep| {
        let mut c = sc.clone();
        c.faults = keep.to_vec();
        c
    });
}

fn shrink_clients(ev: &mut Eval) {
    let clients = ev.current.clients.clone();
    ddmin(ev, clients, &|sc, keep| {
        let mut c = sc.clone();
        c.clients = keep.to_vec();
        renumber_values(&mut c);
        c
    });
}

/// Appended values name their client in the high half (`unique_value`): after clients
/// are dropped, the others take their new numbers, so no value can equal the probe's.
fn renumber_values(sc: &mut Scenario) {
    for (c, steps) in sc.clients.iter_mut().enumerate() {
        for s in steps.iter_mut() {
            if let ClientOpKind::Append { value, .. } = &mut s.op {
                *value = unique_value(c, *value & 0xffff_ffff);
            }
        }
    }
}

/// ddmin over the client operations, twice: first the later operations of a client
/// simply move earlier (bold: often a much smaller schedule still fails), then a
/// dropped operation's think time goes to the next kept one of its client, so that
/// the operations kept start when they did (removing one then moves nothing else).
fn shrink_ops(ev: &mut Eval) {
    shrink_ops_keeping(ev, false);
    shrink_ops_keeping(ev, true);
    shrink_ops_pinned(ev);
}

/// ddmin over the operations that started, each kept one started as it did in the
/// current run: its think time becomes the gap, in that run, between the end of the
/// previous kept operation of its client and its own start. Unlike the think-time
/// sums of [`shrink_ops_keeping`], this holds the operation that is in flight at a
/// takeover where it was, which is what a race under load needs; operations that
/// never started go with every candidate.
fn shrink_ops_pinned(ev: &mut Eval) {
    if ev.spent() {
        return;
    }
    let ops = started_ops(&ev.current);
    ev.runs += 1; // the timed run
    ddmin(ev, ops, &pinned_ops);
}

/// The operations of `sc` that start in its run: (client, when it ran, step).
fn started_ops(sc: &Scenario) -> Vec<(usize, StepTime, ClientStep)> {
    let (_, times) = run_timed(sc);
    sc.clients
        .iter()
        .enumerate()
        .flat_map(|(c, steps)| {
            let started = times.get(c).map_or(&[][..], Vec::as_slice);
            steps
                .iter()
                .zip(started)
                .map(move |(s, t)| (c, *t, s.clone()))
        })
        .collect()
}

/// `sc` with only the operations `keep` (client, when it ran, step), in order, each
/// with the think time that starts it when it started, if the operation before it
/// ends when it did.
fn pinned_ops(sc: &Scenario, keep: &[(usize, StepTime, ClientStep)]) -> Scenario {
    let mut c = sc.clone();
    for steps in c.clients.iter_mut() {
        steps.clear();
    }
    let mut free_ms = vec![0u64; c.clients.len()];
    for (client, t, step) in keep {
        let mut step = step.clone();
        step.think_ms = t.invoke_ms.saturating_sub(free_ms[*client]);
        // An operation still in flight is the last that started: nothing follows.
        free_ms[*client] = t.complete_ms.unwrap_or(t.invoke_ms);
        c.clients[*client].push(step);
    }
    c
}

fn shrink_ops_keeping(ev: &mut Eval, keep_times: bool) {
    let ops: Vec<(usize, u64, ClientStep)> = ev
        .current
        .clients
        .iter()
        .enumerate()
        .flat_map(|(c, steps)| {
            steps.iter().scan(0u64, move |at, s| {
                *at += s.think_ms;
                Some((c, *at, s.clone()))
            })
        })
        .collect();
    ddmin(ev, ops, &|sc, keep| {
        let mut c = sc.clone();
        for steps in c.clients.iter_mut() {
            steps.clear();
        }
        let mut last = vec![0u64; c.clients.len()];
        for (client, at, step) in keep {
            let mut step = step.clone();
            if keep_times {
                step.think_ms = at - last[*client];
                last[*client] = *at;
            }
            c.clients[*client].push(step);
        }
        c
    });
}

/// One-step simplifications until none still fails the same way.
fn simplify(ev: &mut Eval) {
    // A liveness or convergence verdict is about the window itself: shortening it
    // would only find the trivial failure of a window too short to commit anything.
    let window = !matches!(invariant_of(&ev.failure), "liveness" | "convergence");
    greedy(ev, &|sc| simplifications(sc, window));
}

/// Takes the first candidate of `make` that still fails, until none does.
fn greedy(ev: &mut Eval, make: &dyn Fn(&Scenario) -> Vec<Scenario>) {
    while !ev.spent() {
        let cands = make(&ev.current);
        if ev.first(cands).is_none() {
            break;
        }
    }
}

/// The scenario with one node fewer (the highest numbered one), with every fault on
/// that node dropped and partition sides and blank sets without it; then with the
/// ZooKeeper ensemble down to one server, if no fault names another. A person reads
/// a two-node counterexample faster than a five-node one.
fn fewer_nodes(sc: &Scenario) -> Vec<Scenario> {
    let mut out = Vec::new();
    if sc.nodes > 1 {
        let gone = sc.nodes - 1;
        let mut c = sc.clone();
        c.nodes = gone;
        c.faults.retain_mut(|f| match &mut f.fault {
            Fault::Crash { node, .. }
            | Fault::Wipe { node, .. }
            | Fault::Pause { node, .. }
            | Fault::ZkCutOff { node, .. }
            | Fault::ZkPin { node, .. } => *node != gone,
            Fault::Partition { side, .. } => {
                side.retain(|n| *n != gone);
                !side.is_empty()
            }
            Fault::TotalLoss { blank, .. } => {
                blank.retain(|n| *n != gone);
                true
            }
            _ => true,
        });
        out.push(c);
    }
    if let Some(z) = &sc.options.zk {
        let names_a_server = sc
            .faults
            .iter()
            .any(|f| matches!(f.fault, Fault::ZkLag { .. } | Fault::ZkPin { .. }));
        if z.servers > 1 && !names_a_server {
            let mut c = sc.clone();
            if let Some(z) = c.options.zk.as_mut() {
                z.servers = 1;
            }
            out.push(c);
        }
    }
    out
}

/// A calmer network and disk, tried before ddmin: with fixed latencies and no loss,
/// dropping a fault or an operation no longer reshuffles every later message's fate.
fn calmer(sc: &Scenario) -> Vec<Scenario> {
    let mut out = Vec::new();
    for f in CALMER {
        let mut c = sc.clone();
        f(&mut c);
        if c != *sc {
            out.push(c);
        }
    }
    out
}

const CALMER: [fn(&mut Scenario); 5] = [
    |c| c.options.net.loss_ppm = 0,
    |c| c.options.net.dup_ppm = 0,
    |c| c.options.net.reorder_ppm = 0,
    |c| c.options.net.latency_ms_max = c.options.net.latency_ms_min,
    |c| c.options.disk.fsync_ms_max = c.options.disk.fsync_ms_min,
];

/// Every one-step simplification of `sc`, in the order they are tried (`window`:
/// the liveness window may shrink too).
fn simplifications(sc: &Scenario, window: bool) -> Vec<Scenario> {
    let mut out = Vec::new();
    let mut with = |f: &dyn Fn(&mut Scenario)| {
        let mut c = sc.clone();
        f(&mut c);
        if c != *sc {
            out.push(c);
        }
    };
    for f in CALMER {
        with(&f);
    }
    // Fewer keys.
    with(&|c| set_keys(c, 1));
    with(&|c| set_keys(c, c.options.client.keys.div_ceil(2)));
    // Shorter and earlier faults.
    for i in 0..sc.faults.len() {
        with(&|c| halve_fault(&mut c.faults[i].fault));
        with(&|c| c.faults[i].at_ms /= 2);
        with(&|c| shrink_sets(&mut c.faults[i].fault));
    }
    // Earlier operations.
    for k in 0..sc.clients.len() {
        with(&|c| {
            for s in c.clients[k].iter_mut() {
                s.think_ms /= 2;
            }
        });
    }
    if window {
        with(&|c| c.options.liveness_ms = (c.options.liveness_ms / 2).max(c.failover_bound_ms()));
    }
    // Smaller protocol options: a failure that needs a snapshot, a WAL publication or
    // a long append then needs fewer client operations to build the log up to it.
    with(&|c| {
        c.options.raft.snapshot_every_entries = (c.options.raft.snapshot_every_entries / 2).max(1)
    });
    with(&|c| c.options.raft.max_entries_per_append = 1);
    with(&|c| {
        c.options.raft.max_entries_per_append = (c.options.raft.max_entries_per_append / 2).max(1)
    });
    with(&|c| {
        c.options.wal.publish_every_entries = (c.options.wal.publish_every_entries / 2).max(1)
    });
    out
}

/// Keys become `key % keys` (all on one key when 1).
fn set_keys(sc: &mut Scenario, keys: u32) {
    sc.options.client.keys = keys.max(1);
    for steps in sc.clients.iter_mut() {
        for s in steps.iter_mut() {
            match &mut s.op {
                ClientOpKind::Append { key, .. } | ClientOpKind::Read { key } => {
                    *key %= keys.max(1)
                }
            }
        }
    }
}

/// Halves how long a fault lasts (pauses, downtime, partitions, outages, lag).
fn halve_fault(f: &mut Fault) {
    match f {
        Fault::Crash { down_ms, .. }
        | Fault::Wipe { down_ms, .. }
        | Fault::CrashLeader { down_ms }
        | Fault::TotalLoss { down_ms, .. } => *down_ms /= 2,
        Fault::Pause { ms, .. }
        | Fault::Partition { ms, .. }
        | Fault::IsolateLeader { ms }
        | Fault::ZkOutage { ms }
        | Fault::ZkCutOff { ms, .. }
        | Fault::PauseLeader { ms } => *ms /= 2,
        Fault::ZkLag { lag_ms, ms, .. } => {
            *ms /= 2;
            *lag_ms = (*lag_ms).min(*ms);
        }
        Fault::ZkLeaderChange {
            unavailable_ms,
            deposed_ms,
        } => {
            *unavailable_ms /= 2;
            *deposed_ms /= 2;
        }
        Fault::ZkPin { .. } => {}
    }
}

/// Drops the last member of a partition side (keeping one) or of a blank set.
fn shrink_sets(f: &mut Fault) {
    match f {
        Fault::Partition { side, .. } if side.len() > 1 => {
            side.pop();
        }
        Fault::TotalLoss { blank, .. } => {
            blank.pop();
        }
        _ => {}
    }
}

/// The regression case a shrink writes: the minimal scenario and its verdict.
pub fn case_of(s: &Shrunk) -> Case {
    Case {
        variant: None,
        nodes: None,
        seed: None,
        scenario: Some(s.scenario.clone()),
        expect: s.invariant.clone(),
        trace_hash: None,
        note: format!(
            "shrunk by zkwal-sim shrink (seed {}{}, {}, {} nodes): {} faults, {} ops -> {} faults, {} ops; violates {}",
            s.origin_seed,
            if s.scenario.seed == s.origin_seed {
                String::new()
            } else {
                format!(", now run under seed {}", s.scenario.seed)
            },
            s.scenario.variant.name(),
            s.scenario.nodes,
            s.before.faults,
            s.before.ops,
            s.after.faults,
            s.after.ops,
            s.invariant
        ),
    }
}

/// The default file of a shrunk case, in `seeds/`.
pub fn default_path(s: &Shrunk) -> PathBuf {
    let sc = &s.scenario;
    let zk = if sc.options.zk.is_some() { "-zk" } else { "" };
    PathBuf::from("seeds").join(format!(
        "{}-n{}-s{}{zk}-{}-shrunk.json",
        sc.variant.name(),
        sc.nodes,
        s.origin_seed,
        s.invariant
    ))
}

/// The `shrink` command: load or generate the scenario, shrink, write the case.
pub fn command(a: ShrinkArgs) -> Result<i32, String> {
    let sc = a.case.scenario("shrink")?;
    if a.max_runs == 0 {
        return Err("--max-runs must be at least 1".into());
    }
    let jobs = crate::runner::jobs(a.jobs, a.max_runs)?;
    // Checked before the work: `--out`, or the folder of the default path.
    let input: Vec<&std::path::Path> = a.case.scenario.as_deref().into_iter().collect();
    match &a.out {
        Some(out) => {
            if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("--out {}: {e}", dir.display()))?;
            }
            crate::batch::check_outputs(&[("--out", Some(out))], &[], &input)?
        }
        None => crate::batch::check_output_dir("shrink", std::path::Path::new("seeds"))?,
    }
    // Ctrl-C ends the shrink at the next batch; the smallest failing scenario found so
    // far is written as usual (a second Ctrl-C exits at once).
    let stop = crate::progress::interrupt_flag();
    crate::run::quiet_panics();
    let terminal = std::io::stderr().is_terminal();
    let bar = indicatif::ProgressBar::new(a.max_runs);
    if terminal {
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} runs  {msg}")
                .expect("valid template"),
        );
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut last = None;
    let mut progress = |runs: u64, size: &Size| {
        if terminal {
            bar.set_position(runs);
            bar.set_message(size.to_string());
        } else if last != Some(*size) {
            eprintln!("shrink: {runs} runs: {size}");
        }
        last = Some(*size);
    };
    let s = shrink(
        &sc,
        Limits {
            max_runs: a.max_runs,
            jobs,
        },
        &mut progress,
    )?;
    bar.finish_and_clear();
    let path = a.out.clone().unwrap_or_else(|| default_path(&s));
    let text = serde_json::to_string_pretty(&case_of(&s)).map_err(|e| e.to_string())?;
    let written = crate::output::write_file(&path, "shrink", &(text + "\n"));
    let interrupted = stop.load(std::sync::atomic::Ordering::SeqCst);
    crate::outln!("invariant: {}", s.invariant);
    if s.failure != s.invariant {
        crate::outln!("failure:   {}", s.failure);
    }
    crate::outln!("before: {}", s.before);
    crate::outln!("after:  {}", s.after);
    crate::outln!(
        "{} candidate runs{}",
        s.runs,
        if interrupted {
            " (interrupted: the smallest failing scenario found so far)"
        } else if s.budget_spent {
            " (budget spent: raise --max-runs to shrink further)"
        } else {
            ""
        }
    );
    if written.is_ok() {
        crate::outln!("wrote {}", path.display());
        crate::outln!("replay: zkwal-sim replay --scenario {}", path.display());
    }
    let code = if interrupted {
        crate::progress::EXIT_INTERRUPTED
    } else {
        0
    };
    let errors: Vec<String> = written.err().into_iter().collect();
    Ok(crate::output::finish(code, &errors))
}

#[cfg(test)]
mod tests {
    use super::{failure_of, fewer_nodes, invariant_of, pinned_ops, reseeded, started_ops};
    use crate::run::run_timed;
    use crate::scenario::{Fault, Scenario, TimedFault, Variant};

    #[test]
    fn pinning_every_started_operation_replays_the_same_run() {
        // The pinned think times are the gaps the run had, so keeping every started
        // operation (and dropping those that never started) starts and ends each
        // when it did, with the same verdict. (The trace hash may differ: a client
        // with operations left after the fault phase is done later.)
        // (fenced: the unfenced variants' runs now stop within a few seconds, at
        // the first stale write or broken WAL chain, with too few operations.)
        for seed in 0..4 {
            let sc = Scenario::generate_with(seed, Variant::Fenced, 2, true);
            let ops = started_ops(&sc);
            assert!(ops.len() > 10, "seed {seed}: a run with load");
            let pinned = pinned_ops(&sc, &ops);
            let ((a, ta), (b, tb)) = (run_timed(&sc), run_timed(&pinned));
            assert_eq!(ta, tb, "seed {seed}");
            assert_eq!(a.violation, b.violation, "seed {seed}");
            assert_eq!(
                (a.ops_ok, a.ops_failed, a.ops_indeterminate),
                (b.ops_ok, b.ops_failed, b.ops_indeterminate),
                "seed {seed}"
            );
            // Dropping a client's first operation leaves its second starting when it
            // did (the run's first wake is at the think time itself).
            let c0 = ops[0].0;
            let second = ops.iter().filter(|o| o.0 == c0).nth(1).expect("two ops").1;
            let (_, t) = run_timed(&pinned_ops(&sc, &ops[1..]));
            assert_eq!(t[c0][0].invoke_ms, second.invoke_ms, "seed {seed}");
        }
    }

    #[test]
    fn another_seed_is_a_fixed_function_of_the_seed_and_changes_nothing_else() {
        let mut sc = Scenario::generate_with(7, Variant::SeedZkQuorum, 2, true);
        sc.options.duration_ms = 1_000;
        let a = reseeded(&sc, 1, 10_000);
        assert_eq!(a, reseeded(&sc, 1, 10_000));
        assert_ne!(a.seed, sc.seed);
        assert_ne!(a.seed, reseeded(&sc, 2, 10_000).seed);
        assert_eq!(a.options.duration_ms, 10_000, "the horizon comes back");
        assert_eq!(
            reseeded(&sc, 1, 500).options.duration_ms,
            1_000,
            "never shorter"
        );
        let mut back = a.clone();
        back.seed = sc.seed;
        back.options.duration_ms = sc.options.duration_ms;
        assert_eq!(back, sc);
    }

    #[test]
    fn a_panic_is_the_same_failure_only_with_the_same_message() {
        let a = failure_of("panic", "term never decreases: 5 -> 3");
        assert_eq!(a, failure_of("panic", "term never decreases: 12 -> 7"));
        assert_ne!(
            a,
            failure_of("panic", "entries are applied in order, each once")
        );
        assert_eq!(invariant_of(&a), "panic");
        assert_eq!(
            failure_of("election_safety", "n0 and n1 in term 4"),
            "election_safety"
        );
    }

    #[test]
    fn one_node_fewer_drops_its_faults_and_keeps_the_others() {
        let mut sc = Scenario::generate_with(1, Variant::Seed, 3, true);
        let at = |fault| TimedFault { at_ms: 10, fault };
        sc.faults = vec![
            at(Fault::Crash {
                node: 2,
                down_ms: 5,
            }),
            at(Fault::Crash {
                node: 0,
                down_ms: 5,
            }),
            at(Fault::Partition {
                side: vec![2],
                one_way: false,
                ms: 5,
            }),
            at(Fault::Partition {
                side: vec![1, 2],
                one_way: false,
                ms: 5,
            }),
            at(Fault::TotalLoss {
                down_ms: 5,
                blank: vec![0, 2],
            }),
            at(Fault::CrashLeader { down_ms: 5 }),
        ];
        let cands = fewer_nodes(&sc);
        let two = &cands[0];
        assert_eq!(two.nodes, 2);
        assert_eq!(
            two.faults
                .iter()
                .map(|f| f.fault.clone())
                .collect::<Vec<_>>(),
            vec![
                Fault::Crash {
                    node: 0,
                    down_ms: 5
                },
                Fault::Partition {
                    side: vec![1],
                    one_way: false,
                    ms: 5
                },
                Fault::TotalLoss {
                    down_ms: 5,
                    blank: vec![0]
                },
                Fault::CrashLeader { down_ms: 5 },
            ]
        );
        assert!(two.validate().is_ok());
        // And one ZooKeeper server, since no fault names a server.
        assert_eq!(cands[1].options.zk.as_ref().unwrap().servers, 1);
        assert_eq!(cands[1].nodes, 3);
    }
}
