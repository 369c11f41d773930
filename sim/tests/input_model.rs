//! The input side of issue 23 (items 4 and 5): nothing a user gives is silently
//! ignored, and every refusal says what is wrong, where. Each row runs `zkwal-sim` and
//! checks its exit code and a substring of its one-line error: flags a scenario file
//! fixes, refused with `--scenario`; unknown fields anywhere in a scenario or case
//! file; parse errors quoting serde's own message with its line and column, for the
//! shape the file has (case or scenario); `--nodes` naming its real range. `--set` is
//! checked end to end: its canonical form in the replay line (pasted back, it runs)
//! and in the JSON, a name given twice refused, and `merge` accepting runs whose
//! `--set` differ only in order or spelling.

use std::path::Path;

use serde_json::{json, Value};

mod common;
use common::{scratch, sim};

/// The scenario `scenario --variant fenced --nodes 2 --seed 0` prints (with
/// `--pause-monitor` when `pause_monitor`), as JSON.
fn fenced_scenario(dir: &Path, pause_monitor: bool) -> Value {
    let mut args = vec![
        "scenario",
        "--variant",
        "fenced",
        "--nodes",
        "2",
        "--seed",
        "0",
    ];
    if pause_monitor {
        args.push("--pause-monitor");
    }
    let (code, text, err) = sim(dir, &args, &[]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&text).unwrap()
}

/// The scenario with `edit` applied, written pretty (so errors have real lines).
fn edited(dir: &Path, name: &str, base: &Value, edit: impl FnOnce(&mut Value)) -> String {
    let mut v = base.clone();
    edit(&mut v);
    std::fs::write(
        dir.join(name),
        serde_json::to_string_pretty(&v).unwrap() + "\n",
    )
    .unwrap();
    name.to_string()
}

/// Adds `"bogus": 1` to the object at `at`.
fn bogus(at: &mut Value) {
    at.as_object_mut()
        .expect("an object")
        .insert("bogus".into(), json!(1));
}

/// The fields of an externally tagged variant (`{"zk_pin": {...}}` -> the inner object).
fn inner(tagged: &mut Value) -> &mut Value {
    let kind = tagged.as_object().unwrap().keys().next().unwrap().clone();
    &mut tagged[kind.as_str()]
}

/// The 1-based line of `file` that holds `needle`.
fn line_of(dir: &Path, file: &str, needle: &str) -> usize {
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    1 + text.lines().position(|l| l.contains(needle)).unwrap()
}

#[test]
fn refused_input_exits_2_with_one_line_naming_it() {
    let d = scratch("model-refused");
    let sc = fenced_scenario(&d, false);
    let sc_pm = fenced_scenario(&d, true);
    assert!(
        sc["faults"].as_array().is_some_and(|f| !f.is_empty()),
        "the scenario has a fault to misspell"
    );
    let plain = edited(&d, "sc.json", &sc, |_| {});
    let files = [
        ("top", edited(&d, "top.json", &sc, bogus)),
        (
            "monitor",
            edited(&d, "monitor.json", &sc, |v| {
                let o = v["options"].as_object_mut().unwrap();
                let pm = o.remove("pause_monitor").unwrap();
                o.insert("pause_monitr".into(), pm);
            }),
        ),
        (
            "fault",
            edited(&d, "fault.json", &sc, |v| {
                bogus(inner(&mut v["faults"][0]["fault"]))
            }),
        ),
        (
            "timed",
            edited(&d, "timed.json", &sc, |v| bogus(&mut v["faults"][0])),
        ),
        (
            "net",
            edited(&d, "net.json", &sc, |v| bogus(&mut v["options"]["net"])),
        ),
        (
            "client",
            edited(&d, "client.json", &sc, |v| {
                bogus(&mut v["options"]["client"])
            }),
        ),
        (
            "wal",
            edited(&d, "wal.json", &sc, |v| bogus(&mut v["options"]["wal"])),
        ),
        (
            "zk",
            edited(&d, "zk.json", &sc, |v| bogus(&mut v["options"]["zk"])),
        ),
        (
            "raft",
            edited(&d, "raft.json", &sc, |v| bogus(&mut v["options"]["raft"])),
        ),
        (
            "disk",
            edited(&d, "disk.json", &sc, |v| bogus(&mut v["options"]["disk"])),
        ),
        (
            "pause_monitor",
            edited(&d, "pm.json", &sc_pm, |v| {
                bogus(&mut v["options"]["pause_monitor"])
            }),
        ),
        (
            "step",
            edited(&d, "step.json", &sc, |v| bogus(&mut v["clients"][0][0])),
        ),
        (
            "op",
            edited(&d, "op.json", &sc, |v| {
                bogus(inner(&mut v["clients"][0][0]["op"]))
            }),
        ),
        // `"nodes": "two"`: serde's type error, at the line it is on.
        (
            "type",
            edited(&d, "type.json", &sc, |v| v["nodes"] = json!("two")),
        ),
        (
            "case",
            edited(
                &d,
                "case.json",
                &json!({"scenario": sc, "expect": "pass", "note": "x"}),
                |v| bogus(&mut v["scenario"]["options"]["net"]),
            ),
        ),
        (
            "seedcase",
            edited(
                &d,
                "seedcase.json",
                &json!({"variant": "raft", "nodes": 2, "seed": 1, "expect": "pass"}),
                |v| {
                    v.as_object_mut().unwrap().insert("nte".into(), json!("x"));
                },
            ),
        ),
    ];
    let file = |k: &str| files.iter().find(|f| f.0 == k).unwrap().1.as_str();
    std::fs::write(
        d.join("syntax.json"),
        "{\n  \"seed\": 0,\n  \"variant\": \n}\n",
    )
    .unwrap();
    let type_error = format!(
        "type.json: not a valid scenario: invalid type: string \"two\", expected u32 at line {} column",
        line_of(&d, file("type"), "\"nodes\": \"two\"")
    );
    // (args, substring of the one-line error); every row exits 2.
    let rows: Vec<(Vec<&str>, &str)> = vec![
        // Flags a scenario file fixes, with `replay` and `shrink`.
        (
            vec!["replay", "--scenario", &plain, "--set", "bogus=1"],
            "--set does not apply with --scenario: the scenario file fixes every option; edit the file",
        ),
        (
            vec!["replay", "--scenario", &plain, "--variant", "fenced"],
            "--variant does not apply with --scenario",
        ),
        (
            vec!["replay", "--scenario", &plain, "--nodes", "2"],
            "--nodes does not apply with --scenario",
        ),
        (
            vec!["replay", "--scenario", &plain, "--zk"],
            "--zk does not apply with --scenario",
        ),
        (
            vec!["replay", "--scenario", &plain, "--profile", "swarm"],
            "--profile does not apply with --scenario",
        ),
        (
            vec!["replay", "--scenario", &plain, "--pause-monitor"],
            "--pause-monitor does not apply with --scenario",
        ),
        (
            vec![
                "shrink",
                "--scenario",
                &plain,
                "--set",
                "raft.heartbeat_interval_ms=30",
            ],
            "--set does not apply with --scenario",
        ),
        (
            vec!["shrink", "--scenario", &plain, "--variant", "seed"],
            "--variant does not apply with --scenario",
        ),
        // Unknown fields, at every level a scenario file holds.
        (
            vec!["replay", "--scenario", file("top")],
            "top.json: not a valid scenario: unknown field `bogus`",
        ),
        (
            vec!["replay", "--scenario", file("monitor")],
            "unknown field `pause_monitr`",
        ),
        (
            vec!["replay", "--scenario", file("fault")],
            "fault.json: not a valid scenario: unknown field `bogus`",
        ),
        (
            vec!["replay", "--scenario", file("timed")],
            "timed.json: not a valid scenario: unknown field `bogus`, expected `at_ms` or `fault`",
        ),
        (
            vec!["replay", "--scenario", file("net")],
            "net.json: not a valid scenario: unknown field `bogus`",
        ),
        (
            vec!["replay", "--scenario", file("client")],
            "client.json: not a valid scenario: unknown field `bogus`",
        ),
        (
            vec!["replay", "--scenario", file("wal")],
            "wal.json: not a valid scenario: unknown field `bogus`",
        ),
        (
            vec!["replay", "--scenario", file("zk")],
            "zk.json: not a valid scenario: unknown field `bogus`",
        ),
        (
            vec!["replay", "--scenario", file("raft")],
            "raft.json: not a valid scenario: unknown field `bogus`",
        ),
        (
            vec!["replay", "--scenario", file("disk")],
            "disk.json: not a valid scenario: unknown field `bogus`",
        ),
        (
            vec!["replay", "--scenario", file("pause_monitor")],
            "pm.json: not a valid scenario: unknown field `bogus`",
        ),
        (
            vec!["replay", "--scenario", file("step")],
            "step.json: not a valid scenario: unknown field `bogus`",
        ),
        (
            vec!["replay", "--scenario", file("op")],
            "op.json: not a valid scenario: unknown field `bogus`",
        ),
        (
            vec!["shrink", "--scenario", file("net")],
            "net.json: not a valid scenario: unknown field `bogus`",
        ),
        // Parse errors: the parse of the file's own shape, with line and column.
        (
            vec!["replay", "--scenario", file("type")],
            &type_error,
        ),
        (
            vec!["replay", "--scenario", "syntax.json"],
            "syntax.json: not valid JSON: expected value at line 4 column 1",
        ),
        (
            vec!["replay", "--scenario", file("case")],
            "case.json: not a valid case: unknown field `bogus`",
        ),
        (
            vec!["replay", "--scenario", file("seedcase")],
            "seedcase.json: not a valid case: unknown field `nte`",
        ),
        // `--nodes` names its real range, negative or too large.
        (
            vec!["run", "--nodes", "-1", "--seeds", "0..1"],
            "--nodes must be in 1..=9, got -1",
        ),
        (
            vec!["run", "--nodes", "4294967296", "--seeds", "0..1"],
            "--nodes must be in 1..=9, got 4294967296",
        ),
        (
            vec!["replay", "--nodes", "-1", "--seed", "0"],
            "--nodes must be in 1..=9, got -1",
        ),
        (
            vec!["scenario", "--nodes", "10", "--seed", "0"],
            "--nodes must be in 1..=9, got 10",
        ),
        (
            vec!["report", "--nodes", "0", "--seeds", "0..1"],
            "--nodes must be in 1..=9, got 0",
        ),
        (
            vec!["run", "--jobs", "-1", "--seeds", "0..1"],
            "--jobs must be in 1..=1024, got -1",
        ),
        (
            vec!["replay", "--seed", "-1"],
            "--seed must be in 0..=18446744073709551615, got -1",
        ),
        // `--set`: a name given twice, even spelt apart.
        (
            vec![
                "run",
                "--seeds",
                "0..1",
                "--set",
                "raft.heartbeat_interval_ms=30",
                "--set",
                " raft.heartbeat_interval_ms=040",
            ],
            "--set raft.heartbeat_interval_ms given twice (raft.heartbeat_interval_ms=30 and raft.heartbeat_interval_ms=40)",
        ),
        // A liveness window shorter than one failover under the options would report
        // the options' slowness as the design's liveness failure (a false verdict).
        (
            vec!["replay", "--variant", "raft", "--nodes", "2", "--seed", "0", "--set", "liveness_ms=1"],
            "options.liveness_ms = 1 is shorter than one failover can take under these options (1000 ms: two elections 600 + a client attempt 400)",
        ),
        (
            vec![
                "replay",
                "--variant",
                "fenced",
                "--nodes",
                "2",
                "--seed",
                "0",
                "--set",
                "raft.election_timeout_ms_min=86400000",
            ],
            "options.liveness_ms = 20000 is shorter than one failover can take under these options (345604353 ms: two elections 345600000",
        ),
    ];
    for (args, want) in &rows {
        let (code, out, err) = sim(&d, args, &[]);
        // A run that was not refused prints its whole trace: its last lines are enough.
        let tail: String = out.lines().rev().take(3).collect::<Vec<_>>().join(" | ");
        assert_eq!(code, 2, "{args:?} was not refused: {tail} {err}");
        assert!(err.contains(want), "{args:?}: wanted {want:?} in {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: one line: {err}");
        assert!(!out.contains("verdict"), "{args:?} ran: {out}");
    }
    // Positions are serde's own: the misspelt monitor's line is the line it is on.
    let (_, _, err) = sim(&d, &["replay", "--scenario", file("monitor")], &[]);
    let line = line_of(&d, file("monitor"), "\"pause_monitr\"");
    assert!(
        err.contains(&format!("at line {line} column")),
        "line {line}: {err}"
    );
    // The unedited files still replay (the refusals above are the edits').
    let (code, out, err) = sim(&d, &["replay", "--scenario", &plain], &[]);
    assert_ne!(code, 2, "{out}{err}");
    let case = edited(
        &d,
        "good-case.json",
        &json!({"scenario": sc, "expect": "pass"}),
        |_| {},
    );
    let (code, out, err) = sim(&d, &["replay", "--scenario", &case], &[]);
    assert_ne!(code, 2, "{out}{err}");
}

#[test]
fn set_values_print_in_canonical_form_and_merge_compares_them() {
    let d = scratch("model-set");
    // The seed variant on 2 nodes fails some of these seeds: their replay lines carry
    // the options sorted by name, each value as its type prints it.
    let (code, out, err) = sim(
        &d,
        &[
            "run",
            "--variant",
            "seed",
            "--nodes",
            "2",
            "--seeds",
            "0..20",
            "--jobs",
            "2",
            "--set",
            "zk.session_timeout_ms= 04000",
            "--set",
            "raft.election_timeout_ms_min=0300",
            "--json",
            "seed.json",
        ],
        &[],
    );
    assert_eq!(code, 1, "a seed fails: {out}{err}");
    let canonical = "--set raft.election_timeout_ms_min=300 --set zk.session_timeout_ms=4000";
    let replay = out
        .lines()
        .find_map(|l| l.split_once("replay: zkwal-sim ").map(|(_, c)| c))
        .unwrap_or_else(|| panic!("a replay line in {out}"));
    assert!(replay.ends_with(canonical), "{replay}");
    // Pasted back (split at spaces, as a shell would), it runs and fails the same way.
    let args: Vec<&str> = replay.split(' ').collect();
    let (code, again, err) = sim(&d, &args, &[]);
    assert_eq!(code, 1, "{replay}: {err}");
    assert!(again.contains("verdict: FAIL"), "{again}");
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("seed.json")).unwrap()).unwrap();
    assert_eq!(
        doc["options_set"],
        json!([
            "raft.election_timeout_ms_min=300",
            "zk.session_timeout_ms=4000"
        ])
    );

    // Two halves of one run, their `--set` given in another order and spelling: merged.
    let half = |seeds: &str, sets: [&str; 2], json: &str| {
        let (code, out, err) = sim(
            &d,
            &[
                "run", "--seeds", seeds, "--jobs", "1", "--set", sets[0], "--set", sets[1],
                "--json", json,
            ],
            &[],
        );
        assert_eq!(code, 0, "{out}{err}");
    };
    half(
        "0..3",
        [
            "raft.heartbeat_interval_ms=030",
            "raft.election_timeout_ms_min=300",
        ],
        "a.json",
    );
    half(
        "3..6",
        [
            "raft.election_timeout_ms_min=0300",
            "raft.heartbeat_interval_ms=30",
        ],
        "b.json",
    );
    let (code, out, err) = sim(&d, &["merge", "a.json", "b.json", "--json", "ab.json"], &[]);
    assert_eq!(code, 0, "{out}{err}");
    let merged: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("ab.json")).unwrap()).unwrap();
    assert_eq!(
        merged["options_set"],
        json!([
            "raft.election_timeout_ms_min=300",
            "raft.heartbeat_interval_ms=30"
        ])
    );
    assert_eq!(merged["seeds_run"], json!(6));
    // Summaries written before canonical forms (order and zeros as typed) merge too.
    for (f, sets) in [
        (
            "a.json",
            json!([
                "raft.heartbeat_interval_ms=030",
                "raft.election_timeout_ms_min=300"
            ]),
        ),
        (
            "b.json",
            json!([
                "raft.election_timeout_ms_min=0300",
                "raft.heartbeat_interval_ms=30"
            ]),
        ),
    ] {
        let p = d.join(f);
        let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        v["options_set"] = sets;
        std::fs::write(&p, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    }
    let (code, out, err) = sim(&d, &["merge", "a.json", "b.json"], &[]);
    assert_eq!(code, 0, "{out}{err}");
}
