//! The named situations and the gate against false greens (`--require-situations`):
//! a range that cannot reach a situation fails, naming it; the default swarm passes
//! (for `fenced`, the fuzz tier in `fuzz.rs` requires its situations too); counting
//! them changes no run; `merge` adds them up exactly.

mod common;

use common::sim_here as sim;

use zkwal_sim::run::Target;
use zkwal_sim::runner::{run_range, run_range_with};
use zkwal_sim::scenario::{Fault, Variant};
use zkwal_sim::situations::{missing_lines, Situation, SituationTotals};

fn tmp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("zkwal-situations-{}-{name}", std::process::id()))
}

const FENCED: Target = Target {
    variant: Variant::Fenced,
    nodes: 2,
    zk: true,
    pause_monitor: false,
};

/// The default swarm's fenced seeds, with every pause taken out of their scenarios:
/// the situations that need a paused leader are reached by none, and the gate names
/// each of them; the same seeds with their pauses reach them.
#[test]
fn the_gate_names_what_seeds_without_pauses_cannot_reach() {
    let seeds = 0..200;
    let without_pauses = |seed| {
        let mut sc = FENCED.scenario(seed);
        sc.faults
            .retain(|f| !matches!(f.fault, Fault::Pause { .. } | Fault::PauseLeader { .. }));
        Ok(sc)
    };
    let t = run_range_with(seeds.start, seeds.end, 1, &without_pauses, &|_| {});
    let missing = t.situations.missing(Variant::Fenced, 2, true);
    for s in [
        Situation::TakeoverWhileLeaderPaused,
        Situation::WokenLeaderAppends,
        Situation::WokenLeaderFencedOut,
        Situation::PausedTakeoverThenStaleAppend,
        Situation::PausedTakeoverThenFencedOut,
    ] {
        assert!(missing.contains(&s), "{} reached without pauses", s.name());
    }
    let lines = missing_lines(
        &t.situations,
        "variant=fenced",
        Variant::Fenced,
        2,
        true,
        200,
    );
    assert!(
        lines.iter().any(|l| l.starts_with(
            "MISSING situation=takeover_while_leader_paused variant=fenced nodes=2: reachable"
        )),
        "{lines:?}"
    );
    let with = run_range(seeds.start, seeds.end, FENCED, 1, &|_| {});
    for s in [
        Situation::TakeoverWhileLeaderPaused,
        Situation::WokenLeaderAppends,
        Situation::WokenLeaderFencedOut,
    ] {
        assert!(with.situations.get(s).seeds > 0, "{}", s.name());
    }
}

/// On the command line: exit 1 with a MISSING line per unreached situation when the
/// range is too short to reach them; exit 0 when every reachable one was reached (a
/// lone Raft node can reach only the commit of an earlier term's entry). Without the
/// flag the same short range exits 0. The table and the JSON object are there.
#[test]
fn require_situations_exits_1_naming_each_unreached_one() {
    let (code, out, err) = sim(&[
        "run",
        "--variant",
        "fenced",
        "--nodes",
        "2",
        "--seeds",
        "0..2",
        "--jobs",
        "1",
        "--require-situations",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("0 violation(s)"), "{out}");
    assert!(out.contains("situations reached"), "{out}");
    let missing: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("MISSING situation="))
        .collect();
    assert!(!missing.is_empty(), "{out}");
    assert!(
        missing
            .iter()
            .all(|l| l
                .contains("variant=fenced nodes=2: reachable, but reached by none of 2 seed(s)"))
    );
    let (code, out, _) = sim(&[
        "run",
        "--variant",
        "fenced",
        "--nodes",
        "2",
        "--seeds",
        "0..2",
        "--jobs",
        "1",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("MISSING"), "{out}");

    let json = tmp("raft1.json");
    let (code, out, err) = sim(&[
        "run",
        "--variant",
        "raft",
        "--nodes",
        "1",
        "--seeds",
        "0..40",
        "--jobs",
        "1",
        "--require-situations",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let s = &doc["situations"]["commit_of_earlier_term_entry"];
    assert!(s["seeds"].as_u64().unwrap() > 0, "{s}");
    assert_eq!(s["reachable"], true);
    let first = s["first_seed"].as_u64().unwrap();
    assert_eq!(
        s["replay"],
        format!("zkwal-sim replay --variant raft --nodes 1 --seed {first}")
    );
    assert_eq!(doc["situations"]["epoch_race_lost"]["reachable"], false);
    assert_eq!(doc["situations"]["epoch_race_lost"]["seeds"], 0);
    let _ = std::fs::remove_file(&json);
}

/// Two shards merged give the situations of one run over both (seeds and occurrences
/// add, the first seed is the least); the gate works on the merge too.
#[test]
fn merge_adds_situations_exactly() {
    let (a, b, whole) = (tmp("s0.json"), tmp("s1.json"), tmp("all.json"));
    let merged = tmp("merged.json");
    let run = |seeds: &str, out: &std::path::Path| {
        let (code, o, e) = sim(&[
            "run",
            "--variant",
            "fenced",
            "--nodes",
            "2",
            "--seeds",
            seeds,
            "--jobs",
            "1",
            "--json",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{o}{e}");
    };
    run("0..15", &a);
    run("15..30", &b);
    run("0..30", &whole);
    let (code, out, err) = sim(&[
        "merge",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--json",
        merged.to_str().unwrap(),
        "--require-situations",
    ]);
    assert!(code == 0 || code == 1, "{out}{err}");
    let read = |p: &std::path::Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let (m, w) = (read(&merged), read(&whole));
    assert_eq!(m["situations"], w["situations"]);
    let t = SituationTotals::from_json(&w["situations"]).unwrap();
    let unreached = t.missing(Variant::Fenced, 2, true);
    assert_eq!(code, i32::from(!unreached.is_empty()), "{out}");
    for s in unreached {
        assert!(
            out.contains(&format!("MISSING situation={} ", s.name())),
            "{out}"
        );
    }
    for p in [a, b, whole, merged] {
        let _ = std::fs::remove_file(p);
    }
}

/// A summary whose situations do not read back is refused by `merge`, naming it.
#[test]
fn merge_refuses_malformed_situations() {
    let a = tmp("bad.json");
    let (code, _, _) = sim(&[
        "run",
        "--variant",
        "raft",
        "--nodes",
        "1",
        "--seeds",
        "0..3",
        "--jobs",
        "1",
        "--json",
        a.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&a).unwrap()).unwrap();
    doc["situations"]["no_such_situation"] = serde_json::json!({"seeds": 1});
    std::fs::write(&a, doc.to_string()).unwrap();
    let (code, _, err) = sim(&["merge", a.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("unknown situation 'no_such_situation'"),
        "{err}"
    );
    let _ = std::fs::remove_file(&a);
}
