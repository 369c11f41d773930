//! `zkwal-sim bench [--json FILE]`: how fast the simulator runs its standard scenario,
//! and how close that is to the ceiling of its own event loop.
//!
//! 1. The standard scenario, on ONE thread (the calling one): variant `fenced`, 2
//!    nodes, the default options and swarm profile, seeds [`BENCH_SEEDS`]. Timed as a
//!    whole (scenario generation, the run, the history check): seeds/s and simulated
//!    events/s.
//! 2. The empty event loop: for each of those seeds, as many events as its run
//!    handled, through the simulator's own queue ([`crate::queue::EventQueue`]) and
//!    ChaCha streams of the seed ([`crate::rng::stream_rng`], one per purpose as a run
//!    has them): pop the earliest event, draw a delay of 1–20 ms from one of the
//!    streams, push the next event; [`EMPTY_LOOP_PENDING`] events pending at all
//!    times. No protocol, no network, no checks: what the loop itself costs.
//! 3. The ratio of the two event rates: the simulator handles one event in the time
//!    the empty loop handles `ratio` of them (1 would be the ceiling).
//!
//! Wall-clock time is read here only to report speed; the runs never see it.

use std::hint::black_box;
use std::path::PathBuf;

use clap::Args;
use rand::Rng;
use serde::Serialize;

use crate::args::parse_range;
use crate::profile::Spec;
use crate::queue::EventQueue;
use crate::rng::{stream, stream_rng};
use crate::run::{quiet_panics, run_scenario};
use crate::runner::Stopwatch;
use crate::scenario::Variant;

/// The standard scenario's seeds: 10–30 s on one core of the 2-core development
/// machine when chosen (about 75–90 fenced seeds/s).
pub const BENCH_SEEDS: &str = "0..2000";
/// Events kept pending in the empty loop (a run's queue holds timers, messages in
/// flight, disk completions and client wake-ups: a few dozen).
pub const EMPTY_LOOP_PENDING: u64 = 32;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Write the figures as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Seeds of the standard scenario; figures compare across builds only at the
    /// default.
    #[arg(long, default_value = BENCH_SEEDS)]
    pub seeds: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Speed {
    pub events: u64,
    pub elapsed_s: f64,
    pub events_per_sec: f64,
    /// Time the bench's thread spent on a CPU (Linux: `/proc/thread-self/schedstat`),
    /// and events per such second: the speed a machine shared with other work still
    /// shows.
    pub cpu_s: Option<f64>,
    pub events_per_cpu_sec: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub variant: &'static str,
    pub nodes: u32,
    pub seeds: String,
    pub profile: &'static str,
    pub threads: u32,
    pub seeds_run: u64,
    pub violations: u64,
    pub seeds_per_sec: f64,
    pub simulator: Speed,
    pub empty_loop: Speed,
    /// `empty_loop.events_per_sec / simulator.events_per_sec`.
    pub ratio: f64,
    /// The same ratio in CPU time (`null` where the thread's CPU time is unknown).
    pub ratio_cpu: Option<f64>,
    pub seeds_per_cpu_sec: Option<f64>,
    /// The machine's 1-minute load average when the bench started (Linux), to read
    /// the figures by.
    pub load_average: Option<f64>,
}

/// The payload of an empty-loop event: which stream draws its successor's delay.
struct Tick {
    stream: u32,
    n: u64,
}

/// `events` events through a fresh queue and the seed's streams; returns a checksum
/// (so that nothing is optimized away).
pub fn empty_loop(seed: u64, events: u64) -> u64 {
    let mut rngs = [
        stream_rng(seed, stream::NETWORK),
        stream_rng(seed, stream::DISK),
        stream_rng(seed, stream::JITTER),
        stream_rng(seed, stream::CLIENTS),
    ];
    let mut q: EventQueue<Tick> = EventQueue::with_capacity(64);
    for n in 0..EMPTY_LOOP_PENDING {
        let s = (n % 4) as u32;
        q.push(rngs[s as usize].gen_range(1..=20), Tick { stream: s, n });
    }
    let mut sum = 0u64;
    for _ in 0..events {
        let Some((at_ms, ev)) = q.pop() else { break };
        let d: u64 = rngs[ev.stream as usize].gen_range(1..=20);
        sum = sum.wrapping_mul(31).wrapping_add(at_ms ^ ev.n);
        q.push(
            at_ms + d,
            Tick {
                stream: ((ev.n + d) % 4) as u32,
                n: ev.n.wrapping_add(1),
            },
        );
    }
    sum
}

fn load_average() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/loadavg").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// CPU time of the calling thread so far, in seconds (Linux only).
fn thread_cpu_secs() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

fn speed(events: u64, secs: f64, cpu: Option<f64>) -> Speed {
    let cpu = cpu.map(|c| c.max(1e-9));
    Speed {
        events,
        elapsed_s: secs,
        events_per_sec: events as f64 / secs,
        cpu_s: cpu,
        events_per_cpu_sec: cpu.map(|c| events as f64 / c),
    }
}

/// Runs the bench over `start..end` (see the module's description).
pub fn run_bench(start: u64, end: u64) -> BenchReport {
    let variant = Variant::Fenced;
    let nodes = 2;
    let spec = Spec::default();
    let load = load_average();
    quiet_panics();
    let mut per_seed = Vec::with_capacity((end - start) as usize);
    let mut violations = 0;
    let (clock, cpu0) = (Stopwatch::start(), thread_cpu_secs());
    for seed in start..end {
        let r = match spec.scenario(seed, variant, nodes, false) {
            Ok(sc) => run_scenario(&sc),
            Err(_) => continue,
        };
        violations += u64::from(r.violation.is_some());
        per_seed.push((seed, r.events));
    }
    let (sim_secs, cpu1) = (clock.secs(), thread_cpu_secs());
    let events: u64 = per_seed.iter().map(|s| s.1).sum();
    let clock = Stopwatch::start();
    let mut sum = 0u64;
    for &(seed, n) in &per_seed {
        sum ^= empty_loop(seed, n);
    }
    black_box(sum);
    let (empty_secs, cpu2) = (clock.secs(), thread_cpu_secs());
    let diff = |a: Option<f64>, b: Option<f64>| Some(b? - a?);
    let simulator = speed(events, sim_secs, diff(cpu0, cpu1));
    let empty = speed(events, empty_secs, diff(cpu1, cpu2));
    let ratio_cpu = match (empty.events_per_cpu_sec, simulator.events_per_cpu_sec) {
        (Some(e), Some(s)) => Some(e / s),
        _ => None,
    };
    let seeds_per_cpu_sec = simulator.cpu_s.map(|c| per_seed.len() as f64 / c);
    BenchReport {
        variant: variant.name(),
        nodes,
        seeds: format!("{start}..{end}"),
        profile: spec.profile.name(),
        threads: 1,
        seeds_run: per_seed.len() as u64,
        violations,
        seeds_per_sec: per_seed.len() as f64 / sim_secs,
        ratio: empty.events_per_sec / simulator.events_per_sec.max(1e-9),
        ratio_cpu,
        seeds_per_cpu_sec,
        simulator,
        empty_loop: empty,
        load_average: load,
    }
}

impl BenchReport {
    pub fn text(&self) -> String {
        let load = self
            .load_average
            .map_or(String::new(), |l| format!(", load average {l:.2} at start"));
        let cpu = |s: &Speed, what: &str| match (s.cpu_s, s.events_per_cpu_sec) {
            (Some(c), Some(e)) => {
                format!("            on CPU {c:.2}s: {what}{e:.0} events per CPU-second\n")
            }
            _ => String::new(),
        };
        let seeds_cpu = self
            .seeds_per_cpu_sec
            .map_or(String::new(), |s| format!("{s:.1} seeds and "));
        let ratio_cpu = self
            .ratio_cpu
            .map_or(String::new(), |r| format!("ratio in CPU time: {r:.1}\n"));
        format!(
            "bench: variant={} nodes={} seeds={} profile={}, {} thread{load}\n\
             simulator:  {} seeds in {:.2}s: {:.1} seeds/s, {:.0} events/s ({} events, {} violation(s))\n\
             {}\
             empty loop: {} events in {:.2}s: {:.0} events/s (queue + ChaCha streams, {} pending, no protocol)\n\
             {}\
             ratio: {:.1} (the empty loop handles {:.1} events in the time the simulator handles one)\n{ratio_cpu}",
            self.variant,
            self.nodes,
            self.seeds,
            self.profile,
            self.threads,
            self.seeds_run,
            self.simulator.elapsed_s,
            self.seeds_per_sec,
            self.simulator.events_per_sec,
            self.simulator.events,
            self.violations,
            cpu(&self.simulator, &seeds_cpu),
            self.empty_loop.events,
            self.empty_loop.elapsed_s,
            self.empty_loop.events_per_sec,
            EMPTY_LOOP_PENDING,
            cpu(&self.empty_loop, ""),
            self.ratio,
            self.ratio,
        )
    }
}

pub fn bench(a: BenchArgs) -> Result<i32, String> {
    let (start, end) = parse_range(&a.seeds)?;
    crate::batch::check_outputs(&[("--json", a.json.as_deref())], &[], &[])?;
    let r = run_bench(start, end);
    let mut errors = Vec::new();
    if let Some(p) = &a.json {
        let text = serde_json::to_string_pretty(&r).map_err(|e| e.to_string())?;
        errors.extend(crate::output::write_file(p, "--json", &(text + "\n")).err());
    }
    crate::output::print_out(&r.text());
    Ok(crate::output::finish(0, &errors))
}
