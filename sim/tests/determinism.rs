//! Determinism (DESIGN.md §7): a run is a pure function of its scenario. Running a few
//! hundred seeds twice, in different orders, must give the same trace hash, verdict
//! and counters each time.

use zkwal_sim::runner::run_seed;
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
    let a = zkwal_sim::runner::run_scenario(&sc);
    let b = zkwal_sim::runner::run_scenario(&back);
    assert_eq!(a.trace_hash, b.trace_hash);
}

#[test]
fn zookeeper_runs_are_deterministic_too() {
    for seed in 0..40u64 {
        let sc = Scenario::generate_with(seed, Variant::Raft, 3, true);
        let a = zkwal_sim::runner::run_scenario(&sc);
        let b = zkwal_sim::runner::run_scenario(&sc);
        assert_eq!(
            (a.trace_hash, a.events, &a.faults),
            (b.trace_hash, b.events, &b.faults),
            "seed {seed}"
        );
        assert!(a.violation.is_none(), "seed {seed}: {:?}", a.violation);
    }
}
