//! The fuzzer tier of `cargo test`: a few thousand generated seeds (each with its own
//! swarm mix of faults) must violate nothing. The CLI runs millions the same way.

use zkwal_sim::faults::FaultKind;
use zkwal_sim::run::Target;
use zkwal_sim::runner::run_range;
use zkwal_sim::scenario::Variant;

/// Runs the seeds on one thread and asserts that none violated anything.
fn clean_run(target: Target, seeds: std::ops::Range<u64>) -> zkwal_sim::runner::Totals {
    let t = run_range(seeds.start, seeds.end, target, 1, &|_| {});
    let lines: Vec<String> = t
        .violations
        .iter()
        .take(5)
        .map(|v| format!("seed={} invariant={} {}", v.seed, v.invariant, v.detail))
        .collect();
    assert!(
        t.violations.is_empty(),
        "{} violation(s) with {:?}:\n{}",
        t.violations.len(),
        target,
        lines.join("\n")
    );
    t
}

fn fuzz(nodes: u32, seeds: std::ops::Range<u64>) {
    fuzz_with(nodes, seeds, false)
}

fn fuzz_with(nodes: u32, seeds: std::ops::Range<u64>, zk: bool) {
    let t = clean_run(
        Target {
            variant: Variant::Raft,
            nodes,
            zk,
            pause_monitor: false,
        },
        seeds,
    );
    assert!(t.ops_ok > 0);
    // Faults really happened (counted as injected, not as configured).
    for k in [
        FaultKind::Crash,
        FaultKind::Pause,
        FaultKind::Loss,
        FaultKind::Duplicate,
        FaultKind::Reorder,
    ] {
        assert!(t.faults.get(k) > 0, "{} never injected", k.name());
    }
    if nodes > 1 {
        for k in [
            FaultKind::Wipe,
            FaultKind::Partition,
            FaultKind::PartitionDrop,
        ] {
            assert!(t.faults.get(k) > 0, "{} never injected", k.name());
        }
    }
}

#[test]
fn fuzz_three_nodes() {
    fuzz(3, 1_000_000..1_005_000);
}

#[test]
fn fuzz_two_nodes() {
    fuzz(2, 2_000_000..2_003_000);
}

#[test]
fn fuzz_five_nodes() {
    fuzz(5, 3_000_000..3_001_000);
}

#[test]
fn fuzz_one_node() {
    fuzz(1, 4_000_000..4_000_500);
}

/// The same, with a ZooKeeper ensemble on the network and its faults in the swarm: the
/// mock's own invariants are checked after every step, and the faults must really
/// expire sessions.
#[test]
fn fuzz_three_nodes_with_zookeeper() {
    fuzz_with(3, 5_000_000..5_000_500, true);
}

/// The corrected design under its whole fault model (pauses past the session timeout,
/// stale reads, total loss, blank disks): no violation, and the faults it exists for
/// really fired. (The CLI runs it over far more seeds; see README.)
#[test]
fn fenced_two_nodes() {
    let t = clean_run(
        Target {
            variant: Variant::Fenced,
            nodes: 2,
            zk: true,
            pause_monitor: false,
        },
        0..60,
    );
    assert!(t.ops_ok > 0);
    for k in [
        FaultKind::PauseLeader,
        FaultKind::TotalLoss,
        FaultKind::ZkSessionExpired,
        FaultKind::ZkLag,
        FaultKind::Wipe,
    ] {
        assert!(t.faults.get(k) > 0, "{} never injected", k.name());
    }
}
