//! Replays every regression case in `seeds/` against its expected verdict: what once
//! failed stays fixed, and every known failing case keeps failing the same way.

use std::path::Path;

use zkwal_sim::regress;
use zkwal_sim::run::run_scenario;

#[test]
fn every_regression_case_replays_to_its_verdict() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../seeds");
    let files = regress::case_files(&dir).expect("seeds/ is readable");
    assert!(!files.is_empty(), "seeds/ holds regression cases");
    let mut mismatches = Vec::new();
    for f in &files {
        let case = regress::load(f).unwrap_or_else(|e| panic!("{e}"));
        let sc = case.scenario().unwrap();
        let r = run_scenario(&sc);
        let got = regress::verdict(&r).to_string();
        if got != case.expect {
            mismatches.push(format!(
                "{}: expected {}, got {got}",
                f.display(),
                case.expect
            ));
        }
        if let Some(pinned) = &case.trace_hash {
            let hash = format!("{:016x}", r.trace_hash);
            if &hash != pinned {
                mismatches.push(format!(
                    "{}: trace hash {hash}, pinned {pinned}",
                    f.display()
                ));
            }
        }
        // Replaying twice gives the same trace.
        assert_eq!(
            r.trace_hash,
            run_scenario(&sc).trace_hash,
            "{}",
            f.display()
        );
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn corrupt_case_is_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("zkwal-corrupt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        ("truncated.json", "{\"variant\": \"raft\", \"nodes\": 3, \"se"),
        ("unknown-variant.json", "{\"variant\": \"paxos\", \"nodes\": 3, \"seed\": 1, \"expect\": \"pass\"}"),
        ("zero-nodes.json", "{\"variant\": \"raft\", \"nodes\": 0, \"seed\": 1, \"expect\": \"pass\"}"),
        ("both.json", "{\"variant\": \"raft\", \"nodes\": 3, \"seed\": 1, \"expect\": \"pass\", \"scenario\": null, \"x\": 1}"),
    ];
    for (name, text) in cases {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        let err = regress::load(&p).expect_err(name);
        assert!(
            err.contains(name) && !err.contains('\n'),
            "one line naming the file: {err}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_saved_failure_loads_back_as_the_same_scenario() {
    let dir = std::env::temp_dir().join(format!("zkwal-save-{}", std::process::id()));
    let sc = zkwal_sim::scenario::Scenario::generate_with(
        42,
        zkwal_sim::scenario::Variant::Raft,
        2,
        true,
    );
    let path = regress::save_failure(&dir, &sc, "lost_append").unwrap();
    let case = regress::load(&path).unwrap();
    assert_eq!(case.expect, "lost_append");
    assert_eq!(case.scenario().unwrap(), sc);
    std::fs::remove_dir_all(&dir).unwrap();
}
