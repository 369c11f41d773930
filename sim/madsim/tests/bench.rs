//! Side-by-side speed of the two tiers on the same workload: the same `Scenario`s
//! (cluster size, virtual duration, fault rates and client scripts) run once in the
//! event loop (`zkwal_model::run::run_scenario`) and once on madsim through the async
//! driver, one seed at a time on one thread each. Prints seeds/s and events/s for
//! each tier (madsim also messages/s), and the ratio.
//!
//! ```sh
//! RUSTFLAGS="--cfg madsim" CARGO_TARGET_DIR=target/madsim \
//!   cargo test --release -p zkwal-node --test bench -- --ignored --nocapture
//! ```
//! `BENCH_SEEDS` (default 300) and `BENCH_NODES` (default 3) change the workload.
#![cfg(madsim)]

use std::time::Instant;

use zkwal_model::run::run_scenario;
use zkwal_model::scenario::{Scenario, Variant};
use zkwal_node::harness;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Default)]
struct Tier {
    secs: f64,
    events: u64,
    messages: u64,
    virtual_ms: u64,
    violations: u64,
}

fn event_loop(scs: &[Scenario]) -> Tier {
    let t = Instant::now();
    let mut r = Tier::default();
    for sc in scs {
        let out = run_scenario(sc);
        r.events += out.events;
        r.virtual_ms += out.virtual_time_ms;
        r.violations += u64::from(out.violation.is_some());
    }
    r.secs = t.elapsed().as_secs_f64();
    r
}

fn madsim_tier(scs: &[Scenario]) -> Tier {
    let t = Instant::now();
    let mut r = Tier::default();
    for sc in scs {
        let rt = madsim::runtime::Runtime::with_seed_and_config(sc.seed, Default::default());
        let out = rt.block_on(harness::run(sc.clone()));
        r.events += out.counts.events;
        r.messages += out.net_messages;
        r.virtual_ms += out.virtual_time_ms;
        r.violations += u64::from(out.violation.is_some());
    }
    r.secs = t.elapsed().as_secs_f64();
    r
}

fn report(name: &str, scs: &[Scenario]) {
    let sim = event_loop(scs);
    let mad = madsim_tier(scs);
    let n = scs.len() as f64;
    println!(
        "workload {name}: {} seeds, {} nodes",
        scs.len(),
        scs[0].nodes
    );
    for (tier, r) in [("event loop", &sim), ("madsim", &mad)] {
        let messages = if r.messages == 0 {
            "-".to_string()
        } else {
            format!("{:.0}", r.messages as f64 / r.secs)
        };
        println!(
            "  {tier:>10}: {:>8.1} seeds/s  {:>10.0} events/s  {:>10} messages/s  ({} events, {:.1} virtual s/seed, {} violations, {:.2} s)",
            n / r.secs,
            r.events as f64 / r.secs,
            messages,
            r.events,
            r.virtual_ms as f64 / n / 1000.0,
            r.violations,
            r.secs
        );
    }
    println!(
        "  ratio: event loop / madsim = {:.1}x seeds/s, {:.1}x events/s",
        mad.secs / sim.secs,
        (sim.events as f64 / sim.secs) / (mad.events as f64 / mad.secs)
    );
}

#[test]
#[ignore = "a benchmark: run with --ignored --nocapture"]
fn tiers_side_by_side() {
    zkwal_model::run::quiet_panics();
    let seeds = env("BENCH_SEEDS", 300);
    let nodes = env("BENCH_NODES", 3) as u32;
    // The swarm: the event loop's generated scenarios, faults and clients included.
    let swarm: Vec<Scenario> = (0..seeds)
        .map(|s| Scenario::generate(s, Variant::Raft, nodes))
        .collect();
    report("swarm (10 s of faults and clients, then healing)", &swarm);
    // DESIGN.md §8's figure: heartbeats only, 10 virtual seconds, no faults, no clients.
    let heartbeat: Vec<Scenario> = swarm
        .iter()
        .cloned()
        .map(|mut sc| {
            sc.faults.clear();
            sc.clients.clear();
            sc.options.net.loss_ppm = 0;
            sc.options.net.dup_ppm = 0;
            sc.options.net.reorder_ppm = 0;
            sc
        })
        .collect();
    report("heartbeat (10 s, no faults, no clients)", &heartbeat);
}
