//! Determinism (DESIGN.md §7): a run is a pure function of its scenario. Running a few
//! hundred seeds twice, in different orders, must give the same trace hash, verdict
//! and counters each time; and `run --check-determinism` finds no difference on a few
//! thousand seeds of every built variant.

use std::process::Command;

use zkwal_sim::run::run_seed;
use zkwal_sim::scenario::{Scenario, Variant};

#[test]
fn same_seed_same_trace_hash() {
    for nodes in [2u32, 3, 5] {
        let seeds: Vec<u64> = (0..100).map(|i| i * 7919 + nodes as u64).collect();
        let first: Vec<_> = seeds
            .iter()
            .map(|&s| run_seed(s, Variant::Raft, nodes))
            .collect();
        // Second pass in reverse order: no state may leak from one run into another.
        let mut second: Vec<_> = seeds
            .iter()
            .rev()
            .map(|&s| run_seed(s, Variant::Raft, nodes))
            .collect();
        second.reverse();
        for ((seed, a), b) in seeds.iter().zip(&first).zip(&second) {
            assert_eq!(
                a.trace_hash, b.trace_hash,
                "seed {seed} nodes {nodes}: trace hash differs"
            );
            assert_eq!(a.events, b.events, "seed {seed}: event count differs");
            assert_eq!(a.violation, b.violation, "seed {seed}: verdict differs");
            assert_eq!(a.faults, b.faults, "seed {seed}: fault counts differ");
        }
        let distinct: std::collections::BTreeSet<u64> =
            first.iter().map(|r| r.trace_hash).collect();
        assert!(distinct.len() > 95, "different seeds give different runs");
    }
}

#[test]
fn scenario_round_trips_through_json() {
    let sc = Scenario::generate(12345, Variant::Raft, 3);
    let text = serde_json::to_string(&sc).unwrap();
    let back: Scenario = serde_json::from_str(&text).unwrap();
    assert_eq!(sc, back);
    let a = zkwal_sim::run::run_scenario(&sc);
    let b = zkwal_sim::run::run_scenario(&back);
    assert_eq!(a.trace_hash, b.trace_hash);
}

#[test]
fn zookeeper_runs_are_deterministic_too() {
    for seed in 0..40u64 {
        let sc = Scenario::generate_with(seed, Variant::Raft, 3, true);
        let a = zkwal_sim::run::run_scenario(&sc);
        let b = zkwal_sim::run::run_scenario(&sc);
        assert_eq!(
            (a.trace_hash, a.events, &a.faults),
            (b.trace_hash, b.events, &b.faults),
            "seed {seed}"
        );
        assert!(a.violation.is_none(), "seed {seed}: {:?}", a.violation);
    }
}

// `run --check-determinism` on every built variant (issue 14): each seed runs twice in
// one process and the two trace hashes must be equal (a hash-map iteration order, a
// thread, the clock or state left over from the first run would show as a
// difference). `seeds/` pins hashes across machines.
//
// Budget: the README's `cargo test --workspace` must stay under 10 minutes on the
// 2-core machine, so these tests are kept to about 30 s there. Seeds are shortened to a
// 2-second fault phase (`--set duration_ms=2000`; the healing, liveness and history
// checks run as usual): a full 10 s fenced seed costs about 5 times as many events.
// Measured at the test profile on the (busy) 2-core machine, run twice: raft about
// 700 seeds/s, fenced about 90 seeds/s per core. Hence 2,000 raft seeds and 1,000 of
// each ZooKeeper-WAL variant: 5,000 seeds (10,000 runs).
fn check(variant: &str, seeds: u64) {
    let json = std::env::temp_dir().join(format!(
        "zkwal-determinism-{}-{variant}.json",
        std::process::id()
    ));
    let range = format!("1000000..{}", 1_000_000 + seeds);
    let out = Command::new(env!("CARGO_BIN_EXE_zkwal-sim"))
        .args([
            "run",
            "--check-determinism",
            "--variant",
            variant,
            "--nodes",
            "2",
            "--seeds",
            &range,
            "--jobs",
            "1",
            "--set",
            "duration_ms=2000",
            "--json",
            json.to_str().unwrap(),
        ])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let code = out.status.code().unwrap_or(-1);
    // Exit 1 also for a variant's own violations (the open cases of DESIGN.md §3).
    assert!(
        code == 0 || code == 1,
        "{variant}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stdout.contains("NONDETERMINISTIC"), "{variant}: {stdout}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    std::fs::remove_file(&json).unwrap();
    assert_eq!(
        doc["determinism_mismatch"],
        serde_json::Value::Null,
        "{variant}"
    );
    assert_eq!(doc["check_determinism"], true);
    assert_eq!(doc["seeds_run"], seeds, "{variant}: every seed ran twice");
}

#[test]
fn raft_runs_twice_alike() {
    check("raft", 2_000);
}

#[test]
fn seed_runs_twice_alike() {
    check("seed", 1_000);
}

#[test]
fn seed_zk_quorum_runs_twice_alike() {
    check("seed-zk-quorum", 1_000);
}

#[test]
fn fenced_runs_twice_alike() {
    check("fenced", 1_000);
}

/// Every built variant is covered here.
#[test]
fn every_built_variant_is_checked() {
    let checked = ["raft", "seed", "seed-zk-quorum", "fenced"];
    for v in zkwal_sim::scenario::Variant::ALL {
        if v.is_built() {
            assert!(checked.contains(&v.name()), "{} is not checked", v.name());
        }
    }
}
