//! The fuzzer tier of `cargo test`: a few thousand generated seeds (each with its own
//! swarm mix of faults) must violate nothing. The CLI runs millions the same way.
//!
//! Each test has a fixed default range; the environment asks for others, as
//! `MADSIM_TEST_SEED`/`MADSIM_TEST_NUM` do for madsim:
//! - `ZKWAL_TEST_SEED=S`: every test runs seeds from `S` instead of its own base;
//! - `ZKWAL_TEST_NUM=N`: each test runs `N` seeds instead of its own count.
//!
//! A malformed value is refused with a message naming it. A failing seed is reported
//! with its `zkwal-sim replay` command and the `cargo test` command that reruns it.
//! With fewer seeds than a test's default count, the test still asserts that nothing was
//! violated, but not that every fault kind fired (too few seeds to promise that).

use std::ops::Range;

use zkwal_sim::faults::FaultKind;
use zkwal_sim::profile::{replay_command, Spec};
use zkwal_sim::run::Target;
use zkwal_sim::runner::run_range;
use zkwal_sim::scenario::Variant;

/// The seed base the environment asks for (madsim's `MADSIM_TEST_SEED`).
const SEED_VAR: &str = "ZKWAL_TEST_SEED";
/// How many seeds each test runs (madsim's `MADSIM_TEST_NUM`).
const NUM_VAR: &str = "ZKWAL_TEST_NUM";
/// At most this many seeds per test from the environment (a bound; a larger sweep is
/// the CLI's job: `zkwal-sim run --seeds A..B`).
const MAX_NUM: u64 = 100_000_000;

/// The seeds a test runs: `default` unless the variables' values (`seed`, `num`) say
/// otherwise; an error names the malformed variable.
fn seed_range(
    seed: Option<&str>,
    num: Option<&str>,
    default: Range<u64>,
) -> Result<Range<u64>, String> {
    let start = match seed {
        None => default.start,
        Some(s) => s.trim().parse::<u64>().map_err(|_| {
            format!("{SEED_VAR} must be a seed number (0..=18446744073709551615), got '{s}'")
        })?,
    };
    let count = match num {
        None => default.end - default.start,
        Some(n) => match n.trim().parse::<u64>() {
            Ok(c) if (1..=MAX_NUM).contains(&c) => c,
            _ => {
                return Err(format!(
                    "{NUM_VAR} must be a count of seeds in 1..={MAX_NUM}, got '{n}'"
                ))
            }
        },
    };
    let end = start.checked_add(count).ok_or_else(|| {
        format!("{SEED_VAR}={start} with {NUM_VAR}={count} runs past the last seed")
    })?;
    Ok(start..end)
}

/// The seeds a test runs, from the environment or its default; panics with a clear
/// message on a malformed value.
fn seeds_or(default: Range<u64>) -> Range<u64> {
    let var = |name: &str| match std::env::var(name) {
        Ok(v) => Some(v),
        Err(std::env::VarError::NotPresent) => None,
        Err(std::env::VarError::NotUnicode(v)) => panic!("{name} is not text: {v:?}"),
    };
    seed_range(var(SEED_VAR).as_deref(), var(NUM_VAR).as_deref(), default)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Runs the seeds on one thread and asserts that none violated anything; a failure
/// lists the first violations with their replay commands. `test` names the test (for
/// the `cargo test` command that reruns a seed).
fn clean_run(test: &str, target: Target, seeds: Range<u64>) -> zkwal_sim::runner::Totals {
    let t = run_range(seeds.start, seeds.end, target, 1, &|_| {});
    let spec = Spec {
        pause_monitor: target.pause_monitor,
        ..Spec::default()
    };
    let lines: Vec<String> = t
        .violations
        .iter()
        .take(5)
        .map(|v| {
            format!(
                "seed={} invariant={} {}\n  replay: {}\n  rerun:  {SEED_VAR}={} {NUM_VAR}=1 cargo test -p zkwal-sim --test fuzz -- {test} --exact",
                v.seed,
                v.invariant,
                v.detail,
                replay_command(target.variant, target.nodes, v.seed, target.zk, &spec),
                v.seed,
            )
        })
        .collect();
    assert!(
        t.violations.is_empty(),
        "{} violation(s) in seeds {}..{} with {:?}:\n{}",
        t.violations.len(),
        seeds.start,
        seeds.end,
        target,
        lines.join("\n")
    );
    t
}

/// Whether `seeds` are at least as many as the test's `default`: only then are the
/// fault kinds promised to fire.
fn enough(seeds: &Range<u64>, default: &Range<u64>) -> bool {
    seeds.end - seeds.start >= default.end - default.start
}

fn fuzz(test: &str, nodes: u32, default: Range<u64>) {
    fuzz_with(test, nodes, default, false)
}

fn fuzz_with(test: &str, nodes: u32, default: Range<u64>, zk: bool) {
    let seeds = seeds_or(default.clone());
    let t = clean_run(
        test,
        Target {
            variant: Variant::Raft,
            nodes,
            zk,
            pause_monitor: false,
        },
        seeds.clone(),
    );
    if !enough(&seeds, &default) {
        return;
    }
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
    fuzz("fuzz_three_nodes", 3, 1_000_000..1_005_000);
}

#[test]
fn fuzz_two_nodes() {
    fuzz("fuzz_two_nodes", 2, 2_000_000..2_003_000);
}

#[test]
fn fuzz_five_nodes() {
    fuzz("fuzz_five_nodes", 5, 3_000_000..3_001_000);
}

#[test]
fn fuzz_one_node() {
    fuzz("fuzz_one_node", 1, 4_000_000..4_000_500);
}

/// The same, with a ZooKeeper ensemble on the network and its faults in the swarm: the
/// mock's own invariants are checked after every step, and the faults must really
/// expire sessions.
#[test]
fn fuzz_three_nodes_with_zookeeper() {
    fuzz_with(
        "fuzz_three_nodes_with_zookeeper",
        3,
        5_000_000..5_000_500,
        true,
    );
}

/// The corrected design under its whole fault model (pauses past the session timeout,
/// stale reads, total loss, blank disks): no violation, the faults it exists for
/// really fired, and every named situation `fenced` can reach was reached (the gate of
/// `--require-situations`: a change to the generator or the protocol that stops the
/// seeds from reaching one fails here, naming it). The default 200 seeds reach all of
/// them; README quotes each one's rate over 100,000 seeds. (The CLI runs it over far
/// more seeds; see README.)
#[test]
fn fenced_two_nodes() {
    let default = 0..200; // paused_takeover_then_fenced_out: first at seed 176
    let seeds = seeds_or(default.clone());
    let t = clean_run(
        "fenced_two_nodes",
        Target {
            variant: Variant::Fenced,
            nodes: 2,
            zk: true,
            pause_monitor: false,
        },
        seeds.clone(),
    );
    if !enough(&seeds, &default) {
        return;
    }
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
    let missing = zkwal_sim::situations::missing_lines(
        &t.situations,
        "variant=fenced",
        Variant::Fenced,
        2,
        true,
        t.seeds_run,
    );
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// The variables are read as documented, and a malformed value is refused by name.
#[test]
fn seed_range_from_the_environment() {
    let d = 1_000..1_500;
    assert_eq!(seed_range(None, None, d.clone()), Ok(1_000..1_500));
    assert_eq!(seed_range(Some("7"), None, d.clone()), Ok(7..507));
    assert_eq!(seed_range(None, Some("20"), d.clone()), Ok(1_000..1_020));
    assert_eq!(seed_range(Some(" 42 "), Some("3"), d.clone()), Ok(42..45));
    let max = u64::MAX.to_string();
    assert_eq!(
        seed_range(Some(&max), Some("1"), d.clone()).unwrap_err(),
        format!("{SEED_VAR}={max} with {NUM_VAR}=1 runs past the last seed")
    );
    for (seed, num, var) in [
        (Some("x"), None, SEED_VAR),
        (Some("-1"), None, SEED_VAR),
        (Some("1..5"), None, SEED_VAR),
        (Some(""), None, SEED_VAR),
        (None, Some("0"), NUM_VAR),
        (None, Some("ten"), NUM_VAR),
        (None, Some("100000001"), NUM_VAR),
    ] {
        let e = seed_range(seed, num, d.clone()).unwrap_err();
        assert!(e.starts_with(&format!("{var} must be")), "{e}");
        assert!(
            e.contains(&format!("got '{}'", seed.or(num).unwrap())),
            "{e}"
        );
    }
}
