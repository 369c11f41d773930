//! Running many seeds: a range across threads (each thread runs whole, independent
//! seeds; each run is single-threaded and deterministic, [`zkwal_model::run`]), their
//! totals, and the determinism check's mismatch.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::faults::FaultCounts;
use crate::metrics::Figures;
use crate::run::{failed_run, run_scenario, Target};
use crate::scenario::Scenario;
use crate::world::RunResult;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViolationReport {
    pub seed: u64,
    pub invariant: String,
    pub virtual_time_ms: u64,
    pub detail: String,
}

/// Totals over a range of seeds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Totals {
    pub seeds_run: u64,
    pub events: u64,
    pub virtual_time_ms: u64,
    pub ops_ok: u64,
    pub ops_failed: u64,
    pub ops_indeterminate: u64,
    pub violations: Vec<ViolationReport>,
    /// The seed that needed the most events, and how many (a lead for profiling).
    pub busiest_seed: (u64, u64),
    #[serde(skip)]
    pub faults: FaultCounts,
    /// Downtime, availability, latency and ZooKeeper cost over the seeds that ran to
    /// the end without a violation (`metrics.rs`).
    #[serde(skip)]
    pub figures: Figures,
    /// The named situations the seeds reached (every seed, a violating one up to its
    /// violation).
    #[serde(skip)]
    pub situations: crate::situations::SituationTotals,
}

impl Totals {
    fn add(&mut self, seed: u64, r: RunResult) {
        self.seeds_run += 1;
        self.events += r.events;
        if r.events > self.busiest_seed.1 {
            self.busiest_seed = (seed, r.events);
        }
        self.virtual_time_ms += r.virtual_time_ms;
        self.ops_ok += r.ops_ok;
        self.ops_failed += r.ops_failed;
        self.ops_indeterminate += r.ops_indeterminate;
        self.faults.merge(&r.faults);
        self.situations.add_run(seed, &r.situations);
        if r.violation.is_none() {
            // A seed that violated stopped there: its figures cover a cut-short run.
            self.figures.add_run(&r.figures);
        }
        if let Some(v) = r.violation {
            self.violations.push(ViolationReport {
                seed,
                invariant: v.invariant,
                virtual_time_ms: v.virtual_time_ms,
                detail: v.detail,
            });
        }
    }
}

impl Totals {
    /// Adds up the totals of another range of seeds (exact: the figures of two ranges
    /// merged equal those of one run over both, violations sorted by seed).
    pub fn merge(&mut self, other: Totals) {
        let (s, o) = (self.busiest_seed, other.busiest_seed);
        if o.1 > s.1 || (o.1 == s.1 && o.0 < s.0 && o.1 > 0) {
            self.busiest_seed = o;
        }
        self.seeds_run += other.seeds_run;
        self.events += other.events;
        self.virtual_time_ms += other.virtual_time_ms;
        self.ops_ok += other.ops_ok;
        self.ops_failed += other.ops_failed;
        self.ops_indeterminate += other.ops_indeterminate;
        self.faults.merge(&other.faults);
        self.figures.merge(&other.figures);
        self.situations.merge(&other.situations);
        self.violations.extend(other.violations);
        self.violations.sort_by_key(|v| v.seed);
    }
}

/// Runs seeds `start..end` on `jobs` threads. `progress` is called after each seed
/// (from any thread) with the number done so far.
pub fn run_range(
    start: u64,
    end: u64,
    target: Target,
    jobs: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Totals {
    let scenario = |seed| Ok(target.scenario(seed));
    run_range_with(start, end, jobs, &scenario, progress)
}

/// As [`run_range`], with the scenario of each seed from `scenario` (a fault profile,
/// options set by name). A seed whose scenario cannot be made is reported as an
/// `invalid_scenario` violation of that seed.
pub fn run_range_with(
    start: u64,
    end: u64,
    jobs: usize,
    scenario: &(dyn Fn(u64) -> Result<Scenario, String> + Sync),
    progress: &(dyn Fn(u64) + Sync),
) -> Totals {
    let done = AtomicU64::new(0);
    let never = AtomicBool::new(false);
    let on_seed = |_: u64, _: &RunResult| progress(done.fetch_add(1, Ordering::Relaxed) + 1);
    let control = Control {
        stop: &never,
        check_determinism: false,
        on_seed: &on_seed,
    };
    run_seeds(start, end, jobs, scenario, &control).totals
}

/// How [`run_seeds`] runs a range beyond the seeds' scenarios.
pub struct Control<'a> {
    /// Once set (Ctrl-C), no worker takes a new seed; every seed already taken runs to
    /// its end and is counted. Only read here.
    pub stop: &'a AtomicBool,
    /// Run each seed twice and compare the trace hashes; the first mismatch stops the
    /// range as `stop` does.
    pub check_determinism: bool,
    /// Called after each seed, on the worker's thread, with its (first) result: to save
    /// a failure the moment it is found, or to show progress.
    pub on_seed: &'a (dyn Fn(u64, &RunResult) + Sync),
}

/// Two runs of one seed that gave different trace hashes (in JSON as 16 hex digits, as
/// `replay` prints a trace hash).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    pub seed: u64,
    #[serde(with = "hex_hash")]
    pub first_hash: u64,
    #[serde(with = "hex_hash")]
    pub second_hash: u64,
}

mod hex_hash {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:016x}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let s = String::deserialize(d)?;
        u64::from_str_radix(&s, 16).map_err(serde::de::Error::custom)
    }
}

/// What [`run_seeds`] ran.
#[derive(Clone, Debug)]
pub struct RangeRun {
    pub totals: Totals,
    /// Seeds `start..done_end` ran, every one of them (workers take seeds in order and
    /// finish each one they take): `end` unless stopped early.
    pub done_end: u64,
    /// With `check_determinism`: the lowest seed found whose two runs differed.
    pub mismatch: Option<Mismatch>,
}

/// Runs seeds `start..end` on `jobs` threads under `control` (see [`Control`]).
pub fn run_seeds(
    start: u64,
    end: u64,
    jobs: usize,
    scenario: &(dyn Fn(u64) -> Result<Scenario, String> + Sync),
    control: &Control,
) -> RangeRun {
    let next = AtomicU64::new(start);
    let totals = Mutex::new(Totals::default());
    let mismatch: Mutex<Option<Mismatch>> = Mutex::new(None);
    let halted = AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| {
                let mut local = Totals::default();
                while !control.stop.load(Ordering::SeqCst) && !halted.load(Ordering::SeqCst) {
                    let seed = next.fetch_add(1, Ordering::SeqCst);
                    if seed >= end {
                        break;
                    }
                    let sc = scenario(seed);
                    let r = match &sc {
                        Ok(sc) => run_scenario(sc),
                        Err(e) => invalid_scenario(e.clone()),
                    };
                    if let (true, Ok(sc)) = (control.check_determinism, &sc) {
                        let again = run_scenario(sc);
                        if again.trace_hash != r.trace_hash {
                            let m = Mismatch {
                                seed,
                                first_hash: r.trace_hash,
                                second_hash: again.trace_hash,
                            };
                            let mut slot = mismatch.lock().expect("never poisoned");
                            if slot.is_none_or(|o| seed < o.seed) {
                                *slot = Some(m);
                            }
                            halted.store(true, Ordering::SeqCst);
                        }
                    }
                    (control.on_seed)(seed, &r);
                    local.add(seed, r);
                }
                totals
                    .lock()
                    .expect("no thread panics while holding it")
                    .merge(local);
            });
        }
    });
    RangeRun {
        totals: totals.into_inner().expect("threads joined"),
        done_end: next.into_inner().min(end),
        mismatch: mismatch.into_inner().expect("threads joined"),
    }
}

fn invalid_scenario(detail: String) -> RunResult {
    failed_run("invalid_scenario", detail, 0, 0)
}

/// Runs each scenario on up to `jobs` threads; the results come in the order given
/// (the shrinker's batches of candidates: which one wins never depends on `jobs`).
pub fn run_each(scenarios: &[Scenario], jobs: usize) -> Vec<RunResult> {
    let next = AtomicU64::new(0);
    let results: Mutex<Vec<Option<RunResult>>> = Mutex::new(vec![None; scenarios.len()]);
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, scenarios.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(sc) = scenarios.get(i) else { break };
                let r = run_scenario(sc);
                results.lock().expect("no thread panics while holding it")[i] = Some(r);
            });
        }
    });
    results
        .into_inner()
        .expect("threads joined")
        .into_iter()
        .map(|r| r.expect("every scenario ran"))
        .collect()
}

/// The most worker threads a command starts (`--jobs`): far above any machine's cores,
/// low enough that starting them is quick and the first Ctrl-C is seen at once.
pub const MAX_JOBS: usize = 1024;

/// The worker threads for `tasks` independent tasks (seeds, shrink candidates):
/// `--jobs` when given (refused unless in 1..=[`MAX_JOBS`]), else one per core; never
/// more than the tasks.
pub fn jobs(requested: Option<usize>, tasks: u64) -> Result<usize, String> {
    let j = match requested {
        Some(j) if j == 0 || j > MAX_JOBS => {
            return Err(format!("--jobs must be in 1..={MAX_JOBS}, got {j}"))
        }
        Some(j) => j,
        None => all_cores(),
    };
    Ok(j.min(usize::try_from(tasks).unwrap_or(usize::MAX)).max(1))
}

/// The default number of worker threads: one per core.
pub fn all_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Wall-clock time of a whole range of seeds (to report speed; never seen by a run).
pub struct Stopwatch(std::time::Instant);

impl Stopwatch {
    pub fn start() -> Stopwatch {
        Stopwatch(std::time::Instant::now())
    }

    /// Seconds since the start (never zero, to divide by).
    pub fn secs(&self) -> f64 {
        self.0.elapsed().as_secs_f64().max(1e-9)
    }
}
