//! Benchmark of the client-history checker: `cargo bench -p zkwal-invariants --bench history`.
//!
//! Builds valid (linearizable) 100,000-operation histories with the sequential-model
//! generator and reports the median wall time of `check` over several runs. Wall-clock
//! timing is fine here: this is a benchmark, not part of a simulated run.

use std::time::{Duration, Instant};
use zkwal_invariants::history::{check, testgen, History, OpKind};

const RUNS: usize = 9;

fn read_values(h: &History) -> usize {
    h.ops
        .iter()
        .map(|op| match &op.kind {
            OpKind::Read {
                result: Some(l), ..
            } => l.len(),
            _ => 0,
        })
        .sum()
}

fn bench(label: &str, n_ops: usize, cfg: testgen::Config) -> Duration {
    let h = testgen::random(0x5eed, n_ops, &cfg);
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        let anomalies = check(std::hint::black_box(&h));
        times.push(start.elapsed());
        assert!(
            anomalies.is_empty(),
            "generated history must pass: {anomalies:?}"
        );
    }
    times.sort();
    let median = times[RUNS / 2];
    println!(
        "history/{label}: {} ops, {} clients, {} keys, {} nodes, {} values in read results: \
         check median {:.1} ms (min {:.1} ms, max {:.1} ms, {RUNS} runs)",
        h.ops.len(),
        cfg.clients,
        cfg.keys,
        cfg.nodes,
        read_values(&h),
        median.as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[RUNS - 1].as_secs_f64() * 1e3,
    );
    median
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument is ignored.
    let cfg = |keys| testgen::Config {
        clients: 10,
        keys,
        nodes: 5,
    };
    bench("100k_ops_1000_keys", 100_000, cfg(1000));
    let m = bench("100k_ops_100_keys", 100_000, cfg(100));
    bench("100k_ops_30_keys", 100_000, cfg(30));
    println!(
        "headline: 100,000-op history (100 keys) checked in {:.1} ms (median)",
        m.as_secs_f64() * 1e3
    );
}
