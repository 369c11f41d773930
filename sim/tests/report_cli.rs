//! `report`, `sweep`, `--profile` and `--set` on the command line: exit codes 0, 1
//! and 2 as `run` (bad input refused in one line before anything runs), the JSON
//! fields the issue names, self-contained HTML, and replay commands that reproduce.

mod common;

use std::process::Command;

use common::sim_here as sim;

fn tmp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("zkwal-report-{}-{name}", std::process::id()))
}

/// Exit 1 exactly when some variant violated an invariant, with one FAIL line for
/// each (variant, invariant) naming a replay command.
fn exit_code_follows_violations(code: i32, doc: &serde_json::Value, out: &str, err: &str) {
    let mut fails = 0;
    for (name, v) in doc["variants"].as_object().unwrap() {
        for (inv, e) in v["violations_by_invariant"].as_object().unwrap() {
            fails += 1;
            let line = format!(
                "FAIL variant={name} invariant={inv} seeds={} first seed={} replay: {}",
                e["seeds"],
                e["first_seed"],
                e["replay"].as_str().unwrap()
            );
            assert!(out.contains(&line), "{line} in {out}");
        }
    }
    assert_eq!(code, if fails > 0 { 1 } else { 0 }, "{out}{err}");
}

#[test]
fn bad_set_and_profile_input_exits_2_with_one_line_before_running() {
    let sweep = |set: &str| {
        vec![
            "sweep".to_string(),
            "--nodes".into(),
            "2".into(),
            "--seeds".into(),
            "0..100000".into(),
            "--set".into(),
            set.to_string(),
        ]
    };
    let mut cases: Vec<(Vec<String>, &str)> = vec![
        (sweep("zk.session_timeout=1000,2000"), "--zk"),
        (sweep("nope=1"), "unknown option"),
        (
            sweep("raft.election_timeout_ms_min=300,fast"),
            "not a whole number",
        ),
        (
            sweep("raft.election_timeout_ms_min=-1"),
            "not a whole number",
        ),
        (sweep("raft.election_timeout_ms_min"), "NAME=V1,V2"),
        (sweep("raft.election_timeout_ms_min=300,,400"), "NAME=V1,V2"),
        (sweep("raft.election_timeout_ms_min=300,300"), "twice"),
        (sweep("raft"), "NAME=V1,V2"),
        (sweep("raft=1"), "is a group"),
        (sweep("zk.session_timeout_ms=2000"), "--zk"),
        (sweep("raft.heartbeat_interval_ms=50,1000"), "heartbeat"),
    ];
    let words = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    cases.extend([
        (
            words(&["sweep", "--zk", "--set", "zk.session_timeout=1000,2000"]),
            "unknown option 'zk.session_timeout' (known under 'zk'",
        ),
        (
            words(&[
                "sweep",
                "--variant",
                "paxos",
                "--set",
                "zk.tick_time_ms=100",
            ]),
            "unknown variant",
        ),
        (
            words(&[
                "sweep",
                "--variant",
                "fenced",
                "--set",
                "zk.tick_time=100,200",
            ]),
            "unknown option 'zk.tick_time'",
        ),
        (
            words(&["sweep", "--profile", "storm", "--set", "client.keys=1"]),
            "unknown profile",
        ),
        (
            words(&["report", "--seeds", "0..100000", "--set", "nope=1"]),
            "unknown option",
        ),
        (
            words(&["report", "--seeds", "0..100000", "--profile", "storm"]),
            "unknown profile",
        ),
        (words(&["report", "--seeds", "5..5"]), "empty range"),
        (words(&["report", "--nodes", "0"]), "--nodes"),
        (
            words(&[
                "run",
                "--seeds",
                "0..100000",
                "--set",
                "client.op_timeout_ms=soon",
            ]),
            "not a whole number",
        ),
        (
            words(&["run", "--set", "client.op_timeout_ms"]),
            "NAME=VALUE",
        ),
        (
            words(&["replay", "--seed", "1", "--profile", "storm"]),
            "unknown profile",
        ),
        (
            words(&["scenario", "--seed", "1", "--set", "zk.tick_time_ms=100"]),
            "--zk",
        ),
    ]);
    for (args, says) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out, err) = sim(&args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(
            err.trim().lines().count(),
            1,
            "{args:?}: one line, got {err}"
        );
        assert!(err.contains(says), "{args:?}: expected '{says}' in {err}");
        assert!(out.is_empty(), "{args:?}: nothing ran, yet: {out}");
    }
}

#[test]
fn report_writes_the_named_fields_and_a_self_contained_page() {
    let (json, html) = (tmp("r.json"), tmp("r.html"));
    let (code, out, err) = sim(&[
        "report",
        "--nodes",
        "2",
        "--seeds",
        "0..30",
        "--json",
        json.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert!(out.contains("unavailability p50 / p99 / max ms"), "{out}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    exit_code_follows_violations(code, &doc, &out, &err);
    let variants = doc["variants"].as_object().unwrap();
    let names: Vec<&str> = variants.keys().map(String::as_str).collect();
    for v in ["raft", "seed", "seed-zk-quorum", "fenced"] {
        assert!(names.contains(&v), "every built variant: {names:?}");
    }
    for (name, v) in variants {
        for field in [
            "unavailability_ms",
            "failovers",
            "availability",
            "write_latency_ms",
            "zk_ops_per_write",
            "zk_bytes_per_write",
            "zk_bytes_max",
            "total_loss_recovery_ms",
            "violations_by_invariant",
        ] {
            assert!(v.get(field).is_some(), "{name}: {field}");
        }
        if name != "raft" {
            // The WAL variants always keep their WAL in ZooKeeper.
            assert!(v["zk_bytes_max"].as_u64().unwrap() > 0, "{name}: {v}");
        }
    }
    let raft = &doc["variants"]["raft"];
    for field in [
        "seeds_run",
        "violations",
        "events",
        "faults",
        "ops",
        "seeds_per_sec",
    ] {
        assert!(!raft[field].is_null(), "run's field {field}: {raft}");
    }
    for q in ["p50", "p99", "max"] {
        assert!(raft["unavailability_ms"][q].is_u64(), "{raft}");
        assert!(raft["total_loss_recovery_ms"][q].is_u64(), "{raft}");
    }
    for q in ["p50", "p99"] {
        assert!(raft["write_latency_ms"][q].is_u64(), "{raft}");
    }
    assert!(raft["failovers"].as_u64().unwrap() > 0);
    let a = raft["availability"].as_f64().unwrap();
    assert!(a > 0.0 && a <= 1.0);
    for (name, v) in variants {
        // No design beats the ceiling of its own schedule (`ceiling.rs`).
        let (a, c) = (
            v["availability"].as_f64(),
            v["availability_ceiling"].as_f64(),
        );
        let e = v["availability_efficiency"].as_f64();
        let (a, c, e) = (a.unwrap(), c.unwrap(), e.unwrap());
        assert!(a <= c && c <= 1.0 && e <= 1.0, "{name}: {a} {c} {e}");
        assert!((e - a / c).abs() < 1e-9, "{name}");
    }
    for field in ["zk_ops_per_write", "zk_bytes_per_write", "zk_bytes_max"] {
        // No ZooKeeper without --zk for plain Raft: measured as nothing.
        assert!(
            raft.get(field).is_some_and(|v| v.is_null()),
            "{field}: {raft}"
        );
    }
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.matches("<svg").count() >= 3, "charts inlined");
    assert!(page.contains("Unavailability per failover"));
    for external in ["<script", "<link", "src=\"http", "href=\"http", "@import"] {
        assert!(
            !page.contains(external),
            "the page needs no network: {external}"
        );
    }
    let _ = std::fs::remove_file(&json);
    let _ = std::fs::remove_file(&html);
}

#[test]
fn report_with_zookeeper_measures_its_cost() {
    let json = tmp("rz.json");
    let (code, out, err) = sim(&[
        "report",
        "--nodes",
        "2",
        "--seeds",
        "0..10",
        "--zk",
        "--json",
        json.to_str().unwrap(),
    ]);
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    exit_code_follows_violations(code, &doc, &out, &err);
    let raft = &doc["variants"]["raft"];
    assert!(raft["zk_ops_per_write"].as_f64().unwrap() > 0.0, "{raft}");
    assert!(raft["zk_bytes_per_write"].as_f64().unwrap() > 0.0, "{raft}");
    // The membership znodes: /nodes, /nodes/n0, /nodes/n1.
    assert!(raft["zk_bytes_max"].as_u64().unwrap() >= 24, "{raft}");
    let _ = std::fs::remove_file(&json);
}

#[test]
fn sweep_prints_each_value_and_charts_downtime_against_it() {
    let (json, html) = (tmp("s.json"), tmp("s.html"));
    let (code, out, err) = sim(&[
        "sweep",
        "--nodes",
        "2",
        "--seeds",
        "0..15",
        "--set",
        "raft.election_timeout_ms_min=150,600",
        "--json",
        json.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("raft.election_timeout_ms_min"), "{out}");
    assert!(out.contains("150") && out.contains("600"), "{out}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let values = doc["values"].as_array().unwrap();
    assert_eq!(values.len(), 2);
    assert_eq!(values[1]["value"], "600");
    assert_eq!(
        values[1]["options_set"][0],
        "raft.election_timeout_ms_min=600"
    );
    assert!(values[0]["unavailability_ms"]["p99"].is_u64());
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Downtime per failover against raft.election_timeout_ms_min"));
    assert!(page.matches("<svg").count() >= 1);
    let _ = std::fs::remove_file(&json);
    let _ = std::fs::remove_file(&html);
}

#[test]
fn violations_exit_1_with_a_replay_command_that_reproduces() {
    // The notes' variant as written breaks the WAL chain at seed 0 (README's
    // variant table): a real violation of the design, found on its own.
    let (code, out, err) = sim(&["report", "--nodes", "2", "--seeds", "0..3"]);
    assert_eq!(code, 1, "{out}{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("FAIL variant=seed invariant=wal_chain"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("first seed=0"), "{line}");
    let replay = line.split("replay: ").nth(1).unwrap();
    assert_eq!(replay, "zkwal-sim replay --variant seed --nodes 2 --seed 0");
    let args: Vec<&str> = replay.split(' ').skip(1).collect();
    let out = Command::new(env!("CARGO_BIN_EXE_zkwal-sim"))
        .args(&args)
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("verdict: FAIL invariant=wal_chain"));
}

#[test]
fn churn_runs_an_hour_per_seed() {
    let json = tmp("c.json");
    let (code, out, err) = sim(&[
        "run",
        "--nodes",
        "2",
        "--profile",
        "churn",
        "--seeds",
        "0..1",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(doc["profile"], "churn");
    assert!(doc["virtual_time_ms"].as_u64().unwrap() >= 3_600_000);
    assert!(doc["faults"]["wipe"].as_u64().unwrap() > 0);
    assert!(doc["total_losses"].as_u64().unwrap() > 0);
    assert!(doc["failovers"].as_u64().unwrap() > 10);
    let _ = std::fs::remove_file(&json);
}

#[test]
fn sweep_says_when_the_service_clamps_a_session_timeout() {
    let (code, out, err) = sim(&[
        "sweep",
        "--nodes",
        "2",
        "--seeds",
        "0..3",
        "--zk",
        "--set",
        "zk.session_timeout_ms=2000,10000",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("note: zk.session_timeout_ms=10000 is clamped by the service to 4000 ms"),
        "{out}"
    );
    assert!(
        !out.contains("zk.session_timeout_ms=2000 is clamped"),
        "{out}"
    );
}
