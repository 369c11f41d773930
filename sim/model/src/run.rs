//! Running one seed: a scenario to its verdict, a panic inside the model becoming a
//! violation of that seed (never a crashed run); optionally recorded (replay) or timed
//! (the shrinker). Also what a range of seeds runs ([`Target`]). Single-threaded and
//! deterministic; running many seeds at once is the tools' business (`zkwal-sim`'s
//! `runner`).

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::faults::FaultCounts;
use crate::scenario::{Scenario, Variant};
use crate::world::{Found, RunResult, World};

/// Runs a scenario to its verdict, turning a panic into a `panic` violation.
pub fn run_scenario(sc: &Scenario) -> RunResult {
    run_with(sc, None)
}

/// As [`run_scenario`], recording the events that matter (replay's timeline and
/// diagram); the recording keeps what happened before a panic too.
pub fn run_recorded(sc: &Scenario, rec: &mut crate::timeline::Recording) -> RunResult {
    run_with(sc, Some(rec))
}

/// As [`run_scenario`], with when each scripted operation that started ran (by
/// client, in script order; a panic keeps what ran before it).
pub fn run_timed(sc: &Scenario) -> (RunResult, Vec<Vec<crate::clients::StepTime>>) {
    let mut times = Vec::new();
    let r = run_with_then(sc, None, &mut |w| times = w.step_times());
    (r, times)
}

fn run_with(sc: &Scenario, rec: Option<&mut crate::timeline::Recording>) -> RunResult {
    run_with_then(sc, rec, &mut |_| {})
}

/// Runs `sc`, then shows the world (finished or not) to `then` before its verdict.
fn run_with_then(
    sc: &Scenario,
    rec: Option<&mut crate::timeline::Recording>,
    then: &mut dyn FnMut(&World),
) -> RunResult {
    let mut world = None;
    let was_in_run = IN_RUN.with(|f| f.replace(true));
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        world.insert(World::with_recorder(sc, rec)).drive();
    }));
    IN_RUN.with(|f| f.set(was_in_run));
    if let Some(w) = &world {
        then(w);
    }
    match outcome {
        Ok(()) => world.take().expect("the world was built").finish(),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "non-string panic".into());
            // The world is not finished (its state may break its own rules), but its
            // clock still says when the panic came, and its running hash covers the
            // events it ran (a panicking run is as deterministic as any other).
            let (now_ms, events) = world.as_ref().map_or((0, 0), World::clock);
            let mut r = failed_run("panic", msg, now_ms, events);
            r.trace_hash = world.as_ref().map_or(0, World::trace_hash_so_far);
            r
        }
    }
}

/// The result of a run that could not produce one: only its violation, at virtual
/// time `now_ms` after `events` events.
pub fn failed_run(invariant: &str, detail: String, now_ms: u64, events: u64) -> RunResult {
    RunResult {
        violation: Some(Found {
            invariant: invariant.into(),
            detail,
            virtual_time_ms: now_ms,
        }),
        events,
        virtual_time_ms: now_ms,
        situation_first: Default::default(),
        faults: FaultCounts::default(),
        trace_hash: 0,
        ops_ok: 0,
        ops_failed: 0,
        ops_indeterminate: 0,
        zk_watch_events: 0,
        wal: Default::default(),
        figures: Default::default(),
        record: Default::default(),
        situations: Default::default(),
    }
}

pub fn run_seed(seed: u64, variant: Variant, nodes: u32) -> RunResult {
    run_scenario(&Scenario::generate(seed, variant, nodes))
}

/// What a range of seeds runs: the variant, the group size, and whether a ZooKeeper
/// ensemble is placed on the network (with its faults in the swarm).
#[derive(Clone, Copy, Debug)]
pub struct Target {
    pub variant: Variant,
    pub nodes: u32,
    pub zk: bool,
    /// `--pause-monitor`: leaders step down after a detected pause.
    pub pause_monitor: bool,
}

/// The pause monitor as `--pause-monitor` sets it: checks every 100 ms, as a thread
/// that sleeps would; a leader that was stopped for more than 500 ms (a third of the
/// shortest session timeout the swarm draws) steps down.
pub const PAUSE_MONITOR: zkwal_wal::PauseMonitor = zkwal_wal::PauseMonitor {
    check_interval_ms: 100,
    step_down_ms: 500,
};

impl Target {
    /// The scenario of `seed` for this target.
    pub fn scenario(&self, seed: u64) -> Scenario {
        let mut sc = Scenario::generate_with(seed, self.variant, self.nodes, self.zk);
        if self.pause_monitor {
            sc.options.pause_monitor = Some(PAUSE_MONITOR);
        }
        sc
    }
}

thread_local! {
    /// Whether this thread is inside a simulated run, where a panic becomes the seed's
    /// `panic` violation (so [`quiet_panics`] keeps it quiet).
    static IN_RUN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Silences the panic message of a panic inside a simulated run (on any thread): it is
/// reported as that seed's violation instead. A panic anywhere else (the tools
/// themselves) still prints its message, through the hook that was installed before.
/// Call once, from the CLI or a test harness (again is harmless: it stays one layer).
pub fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let outer = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_RUN.with(|f| f.get()) {
                outer(info);
            }
        }));
    });
}
