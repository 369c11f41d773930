//! Benchmark of the client-history checker: `cargo bench -p zkwal-invariants --bench history`.
//!
//! Builds valid (linearizable) histories of 100,000 and 1,000,000 operations with the
//! sequential-model generator and reports the median wall time of `check` over several
//! runs. Wall-clock timing is fine here: this is a benchmark, not part of a simulated
//! run. An argument other than `--bench` keeps only the cases whose label contains it
//! (`cargo bench -p zkwal-invariants --bench history -- 1m`).

use std::time::{Duration, Instant};
use zkwal_invariants::history::{check, testgen, History, OpKind};

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

fn bench(label: &str, n_ops: usize, keys: u32, runs: usize) -> Duration {
    let cfg = testgen::Config {
        clients: 10,
        keys,
        nodes: 5,
    };
    let h = testgen::random(0x5eed, n_ops, &cfg);
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let anomalies =
            check(std::hint::black_box(&h)).expect("generated histories are well-formed");
        times.push(start.elapsed());
        assert!(
            anomalies.is_empty(),
            "generated history must pass: {anomalies:?}"
        );
    }
    times.sort();
    let median = times[runs / 2];
    println!(
        "history/{label}: {} ops, {} clients, {} keys, {} nodes, {} values in read results: \
         check median {:.1} ms (min {:.1} ms, max {:.1} ms, {runs} runs)",
        h.ops.len(),
        cfg.clients,
        cfg.keys,
        cfg.nodes,
        read_values(&h),
        median.as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[runs - 1].as_secs_f64() * 1e3,
    );
    median
}

fn main() {
    // `cargo bench` passes `--bench`; another argument filters the cases by label.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let cases: [(&str, usize, u32, usize); 5] = [
        ("100k_ops_1000_keys", 100_000, 1_000, 9),
        ("100k_ops_100_keys", 100_000, 100, 9),
        ("100k_ops_30_keys", 100_000, 30, 9),
        // Keys grow with the history so that read results stay of a realistic length
        // (1,000 keys would put about 10^8 values in read results).
        ("1m_ops_10000_keys", 1_000_000, 10_000, 5),
        ("1m_ops_100000_keys", 1_000_000, 100_000, 5),
    ];
    let mut headline = Vec::new();
    for (label, n, keys, runs) in cases {
        if filter.as_deref().is_some_and(|f| !label.contains(f)) {
            continue;
        }
        let m = bench(label, n, keys, runs);
        if label == "100k_ops_100_keys" || label == "1m_ops_10000_keys" {
            headline.push(format!(
                "{n} ops ({keys} keys) {:.1} ms",
                m.as_secs_f64() * 1e3
            ));
        }
    }
    if !headline.is_empty() {
        println!("headline (median check time): {}", headline.join(", "));
    }
}
