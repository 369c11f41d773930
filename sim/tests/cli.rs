//! The CLI's contract: exit 0 (no violation), 1 (a violation), 2 (bad input, one-line
//! error, never a panic); the JSON summary's fields; replay's trace hash is stable.

mod common;

use common::sim_here as sim;

#[test]
fn bad_input_exits_2_with_one_line() {
    for args in [
        vec!["run", "--variant", "paxos"],
        vec!["run", "--variant", "fenced", "--nodes", "0"],
        vec!["run", "--seeds", "10..5"],
        vec!["run", "--seeds", "abc"],
        vec!["run", "--nodes", "0"],
        vec!["run", "--jobs", "0", "--seeds", "0..1"],
        vec!["replay", "--seed", "x", "--variant", "seed-zk-quorum"],
        vec!["replay", "--scenario", "/nonexistent/file.json"],
        vec!["regress", "--dir", "/nonexistent/dir"],
        vec!["frobnicate"],
    ] {
        let (code, _, err) = sim(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        if args[0] != "frobnicate" && !args.contains(&"abc") && !args.contains(&"x") {
            assert_eq!(
                err.trim().lines().count(),
                1,
                "{args:?}: one line, got {err}"
            );
        }
    }
}

/// Every variant of DESIGN.md §3 runs (its verdict is the simulator's, not assumed).
#[test]
fn every_variant_runs() {
    for v in ["seed", "seed-zk-quorum", "fenced"] {
        let (code, out, err) = sim(&[
            "run",
            "--variant",
            v,
            "--nodes",
            "2",
            "--seeds",
            "0..3",
            "--jobs",
            "1",
        ]);
        assert!(code == 0 || code == 1, "{v}: {out}{err}");
        assert!(out.contains(&format!("variant={v} nodes=2")), "{v}: {out}");
    }
}

#[test]
fn run_writes_the_json_summary() {
    let path = std::env::temp_dir().join(format!("zkwal-cli-{}.json", std::process::id()));
    let (code, out, err) = sim(&[
        "run",
        "--seeds",
        "0..20",
        "--jobs",
        "2",
        "--json",
        path.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("seeds/s"), "{out}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(v["seeds_run"], 20);
    assert!(v["violations"].as_array().unwrap().is_empty());
    assert!(v["seeds_per_sec"].as_f64().unwrap() > 0.0);
    assert!(v["events"].as_u64().unwrap() > 0);
    assert!(v["faults"]["crash"].as_u64().is_some());
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn replay_prints_verdict_and_stable_trace_hash() {
    let (c1, o1, _) = sim(&["replay", "--seed", "77", "--nodes", "3"]);
    let (c2, o2, _) = sim(&["replay", "--seed", "77", "--nodes", "3"]);
    assert_eq!((c1, c2), (0, 0));
    let hash = |o: &str| {
        o.lines()
            .find(|l| l.starts_with("trace hash:"))
            .map(str::to_string)
    };
    assert!(hash(&o1).is_some(), "{o1}");
    assert_eq!(hash(&o1), hash(&o2));
    assert!(o1.contains("verdict: pass"));
}

#[test]
fn scenario_file_replays_like_its_seed() {
    let (_, json, _) = sim(&["scenario", "--seed", "5", "--nodes", "2"]);
    let path = std::env::temp_dir().join(format!("zkwal-sc-{}.json", std::process::id()));
    std::fs::write(&path, json).unwrap();
    let (_, a, _) = sim(&["replay", "--scenario", path.to_str().unwrap()]);
    let (_, b, _) = sim(&["replay", "--seed", "5", "--nodes", "2"]);
    let hash = |o: &str| {
        o.lines()
            .find(|l| l.starts_with("trace hash:"))
            .map(str::to_string)
    };
    assert_eq!(hash(&a), hash(&b));
    std::fs::write(&path, "{ not json").unwrap();
    let (code, _, err) = sim(&["replay", "--scenario", path.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    std::fs::remove_file(&path).unwrap();
}
