//! The tools' side of issue 23: no failure lost, honest outputs, no panic or hang.
//! Each row runs `zkwal-sim` and checks its exit code, a substring of what it printed
//! and the files it left: outputs refused up front (the same path twice, an output
//! that is also an input, bad environment, `--jobs`, oversize input), a final write
//! that fails (`/dev/full`) keeping the summary and the run's exit code, case names
//! that never count another file as saved, a killed run leaving no earlier JSON,
//! `regress` checking every case and pin, a closed pipe, Ctrl-C during `shrink`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod common;
use common::{scratch, sim, BIN};

/// A scenario file that fails (seed variant, 2 nodes, seed 0 violates an invariant).
fn failing_scenario(dir: &Path) -> PathBuf {
    let (code, text, err) = sim(
        dir,
        &[
            "scenario",
            "--variant",
            "seed",
            "--nodes",
            "2",
            "--seed",
            "193",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let p = dir.join("s.json");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn bad_outputs_and_inputs_are_refused_up_front() {
    let d = scratch("refused");
    failing_scenario(&d);
    let (code, _, err) = sim(&d, &["run", "--seeds", "0..2", "--json", "m.json"], &[]);
    assert_eq!(code, 0, "{err}");
    std::fs::write(d.join("file"), "x").unwrap();
    // (args, environment, substring of stderr); every row exits 2 with one line and
    // writes nothing named `out*`.
    let rows: &[(&[&str], &[(&str, &str)], &str)] = &[
        (
            &[
                "run",
                "--seeds",
                "0..2",
                "--json",
                "out",
                "--save-failures",
                "out",
            ],
            &[],
            "names the same path as --json out",
        ),
        (
            &[
                "run",
                "--seeds",
                "0..2",
                "--json",
                "out.json",
                "--save-failures",
                "./out.json",
            ],
            &[],
            "names the same path",
        ),
        (
            &[
                "run",
                "--seeds",
                "0..2",
                "--json",
                "outcases/run.json",
                "--save-failures",
                "outcases",
            ],
            &[],
            "lies inside the --save-failures folder outcases",
        ),
        (
            &[
                "report", "--seeds", "0..2", "--json", "out.json", "--html", "out.json",
            ],
            &[],
            "names the same path",
        ),
        (
            &["merge", "m.json", "--json", "m.json"],
            &[],
            "is also an input",
        ),
        (
            &["replay", "--scenario", "s.json", "--html", "s.json"],
            &[],
            "is also an input",
        ),
        (
            &["shrink", "--scenario", "s.json", "--out", "s.json"],
            &[],
            "is also an input",
        ),
        (
            &["shrink", "--scenario", "s.json", "--out", "file/out.json"],
            &[],
            "--out file",
        ),
        (
            &["replay", "--seed", "1", "--html", "file/out.html"],
            &[],
            "--html file/out.html",
        ),
        (
            &["run", "--seeds", "0..2"],
            &[("ZKWAL_PROGRESS_SECS", "1e30")],
            "ZKWAL_PROGRESS_SECS=1e30",
        ),
        (
            &["run", "--seeds", "0..2"],
            &[("ZKWAL_PROGRESS_SECS", "nan")],
            "ZKWAL_PROGRESS_SECS=nan",
        ),
        (
            &["run", "--seeds", "0..2", "--jobs", "1000000"],
            &[],
            "--jobs must be in",
        ),
        (
            &["run", "--seeds", "0..2", "--jobs", "18446744073709551615"],
            &[],
            "--jobs",
        ),
        (&["replay", "--scenario", "/dev/zero"], &[], "MiB limit"),
    ];
    for (args, env, want) in rows {
        let (code, out, err) = sim(&d, args, env);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains(want), "{args:?}: wanted {want:?} in {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            !out.contains("candidate runs"),
            "{args:?} ran before refusing: {out}"
        );
        let left: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("out"))
            .collect();
        assert!(left.is_empty(), "{args:?} left {left:?}");
    }
    assert!(
        d.join("m.json").exists() && d.join("s.json").exists(),
        "inputs kept"
    );
}

#[test]
fn a_failed_final_write_keeps_the_summary_and_the_exit_code() {
    if !Path::new("/dev/full").exists() {
        return;
    }
    let d = scratch("devfull");
    // (args, what the summary shows): exit 1 when the summary counts a violation,
    // else 2 (a lost output is never a success); the summary is printed either way.
    let rows: &[(&[&str], &str)] = &[
        (
            &[
                "run",
                "--variant",
                "seed",
                "--nodes",
                "2",
                "--seeds",
                "0..6",
                "--json",
                "/dev/full",
            ],
            "FAIL seed=",
        ),
        (
            &["run", "--seeds", "0..3", "--json", "/dev/full"],
            "0 violation(s)",
        ),
        (
            &["bench", "--seeds", "0..2", "--json", "/dev/full"],
            "seeds/s",
        ),
        (
            &[
                "report",
                "--nodes",
                "2",
                "--seeds",
                "0..2",
                "--json",
                "/dev/full",
            ],
            "violation(s)",
        ),
    ];
    for (args, want_out) in rows {
        let (code, out, err) = sim(&d, args, &[("ZKWAL_PROGRESS_SECS", "60")]);
        let found = out
            .lines()
            .last()
            .and_then(|l| l.strip_suffix(" violation(s)"))
            .is_some_and(|n| n != "0");
        assert_eq!(code, if found { 1 } else { 2 }, "{args:?}: {out}{err}");
        assert!(out.contains(want_out), "{args:?}: {out}");
        assert!(err.contains("/dev/full"), "{args:?}: {err}");
    }
}

#[test]
fn saved_failures_are_never_lost_or_miscounted() {
    let d = scratch("save");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "--variant",
            "seed",
            "--nodes",
            "2",
            "--seeds",
            "0..4",
            "--jobs",
            "2",
            "--save-failures",
            "found",
        ];
        args.extend(extra);
        sim(&d, &args, &[])
    };
    let (code, out, err) = run(&[]);
    assert_eq!(code, 1, "{out}{err}");
    let saved: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("saved: "))
        .collect();
    assert!(!saved.is_empty(), "{out}");
    let count = |d: &Path| std::fs::read_dir(d.join("found")).unwrap().count();
    let n = count(&d);
    assert_eq!(n, saved.len(), "{out}");
    // The same run again: the same files, nothing new.
    let (_, again, _) = run(&[]);
    assert_eq!(count(&d), n, "{again}");
    // Other options: other scenarios, other names (the content hash), all written.
    let (_, other, err) = run(&["--set", "raft.heartbeat_interval_ms=60"]);
    let other_saved = other.lines().filter(|l| l.starts_with("saved: ")).count();
    assert!(other_saved > 0, "{other}{err}");
    assert_eq!(count(&d), n + other_saved, "{other}");
    // A file with this name but other content is kept; the case takes the next name.
    let first = d.join(saved[0]);
    std::fs::write(&first, "not this case\n").unwrap();
    let (_, third, _) = run(&[]);
    assert_eq!(std::fs::read_to_string(&first).unwrap(), "not this case\n");
    let moved = saved[0].replace(".json", "-2.json");
    assert!(third.contains(&format!("saved: {moved}")), "{third}");
    assert!(d.join(&moved).exists());
}

#[test]
fn a_killed_run_leaves_no_earlier_json() {
    let d = scratch("killed");
    let json = d.join("run.json");
    std::fs::write(&json, "{\"seeds_run\": 1}\n").unwrap();
    let mut child = Command::new(BIN)
        .args([
            "run",
            "--seeds",
            "0..100000000",
            "--jobs",
            "1",
            "--json",
            "run.json",
        ])
        .current_dir(&d)
        .env("ZKWAL_PROGRESS_SECS", "60")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut gone = false;
    for _ in 0..400 {
        if !json.exists() {
            gone = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    let _ = child.wait();
    assert!(
        gone,
        "the earlier run's JSON was still there while seeds ran"
    );
    assert!(!json.exists(), "a killed run left a JSON file");
    let (code, _, err) = sim(&d, &["merge", "run.json"], &[]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn regress_checks_every_case_and_every_pin() {
    let d = scratch("regress");
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../seeds");
    let pinned = std::fs::read_dir(&seeds)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .find(|p| {
            let t = std::fs::read_to_string(p).unwrap();
            t.contains("\"trace_hash\"")
        })
        .expect("a case with a pinned trace_hash in seeds/");
    let text = std::fs::read_to_string(&pinned).unwrap();
    let case: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut wrong = case.clone();
    wrong["trace_hash"] = "0123456789abcdef".into();
    let mut not_hex = case.clone();
    not_hex["trace_hash"] = "zzzz".into();
    let w = |name: &str, v: &serde_json::Value| {
        std::fs::write(d.join(name), v.to_string()).unwrap();
    };
    w("a-good.json", &case);
    w(
        "b-unreadable.json",
        &serde_json::json!({"expect": "pass", "bogus": 1}),
    );
    w("c-wrong-hash.json", &wrong);
    std::fs::write(d.join("d-garbage.json"), "{").unwrap();
    w("e-not-hex.json", &not_hex);
    w("f-good.json", &case);
    let (code, out, err) = sim(&d, &["regress", "--dir", "."], &[]);
    assert_eq!(code, 1, "{out}{err}");
    for (name, head) in [
        ("a-good", "ok"),
        ("b-unreadable", "UNREADABLE"),
        ("c-wrong-hash", "FAIL"),
        ("d-garbage", "UNREADABLE"),
        ("e-not-hex", "FAIL"),
        ("f-good", "ok"),
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(head) && l.contains(name)),
            "{name}: {head} expected in {out}"
        );
    }
    assert!(
        out.contains("6 case(s): 2 ok, 2 failed, 2 unreadable"),
        "{out}"
    );
    // Nothing readable at all: exit 2.
    let e = scratch("regress-none");
    std::fs::write(e.join("x.json"), "{").unwrap();
    let (code, out, err) = sim(&e, &["regress", "--dir", "."], &[]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.contains("UNREADABLE"), "{out}");
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../seeds");
    let seeds = seeds.to_str().unwrap();
    for args in [
        vec!["replay", "--seed", "1"],
        vec![
            "replay",
            "--variant",
            "seed",
            "--nodes",
            "2",
            "--seed",
            "193",
        ],
        vec!["scenario", "--seed", "1"],
        vec!["regress", "--dir", seeds],
    ] {
        let mut child = Command::new(BIN)
            .args(&args)
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 16];
        child.stdout.take().unwrap().read_exact(&mut first).unwrap(); // then dropped: closed
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let code = child.wait().unwrap().code();
        assert!(matches!(code, Some(0 | 1)), "{args:?}: {code:?} {err}");
        assert!(
            !err.contains("Broken pipe") && !err.contains("panicked"),
            "{args:?}: {err}"
        );
    }
}

#[cfg(unix)]
#[test]
fn ctrl_c_during_shrink_writes_the_smallest_so_far() {
    use std::io::BufRead;
    let d = scratch("shrink-int");
    let mut child = Command::new(BIN)
        .args([
            "shrink",
            "--variant",
            "seed",
            "--nodes",
            "2",
            "--seed",
            "193",
            "--jobs",
            "1",
            "--out",
            "min.json",
        ])
        .current_dir(&d)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first improvement shows the shrink is under way; then Ctrl-C.
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("shrink:"), "{first}");
    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let code = child.wait().unwrap().code();
    if !out.contains("interrupted") {
        // The shrink ended before the signal arrived: nothing to check.
        assert_eq!(code, Some(0), "{out}{rest:?}");
        return;
    }
    assert_eq!(code, Some(130), "{out}{rest:?}");
    assert!(out.contains("wrote min.json"), "{out}");
    let (code, replay, _) = sim(&d, &["replay", "--scenario", "min.json"], &[]);
    assert_eq!(code, 1, "the smallest so far still fails: {replay}");
}
