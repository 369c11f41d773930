//! Running many seeds (issue 14): Ctrl-C keeps every failure found; output paths are
//! refused before any seed runs; shards merged equal one unsharded run; `merge`
//! refuses inputs that are not parts of one run; plain progress lines off a terminal;
//! `bench` prints and writes its figures.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_zkwal-sim");

fn sim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A fresh folder for one test.
fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("zkwal-scale-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Ctrl-C during a run with failures (variant `seed`, 2 nodes, fails on many seeds):
/// the run stops, prints its summary, writes its JSON, and every violation the JSON
/// lists has its regression case in the folder, whether 0 or many seeds ran.
#[test]
fn ctrl_c_keeps_every_failure_found() {
    let dir = tmp("ctrlc");
    let (json, failures) = (dir.join("run.json"), dir.join("failures"));
    let mut child = Command::new(BIN)
        .args([
            "run",
            "--variant",
            "seed",
            "--nodes",
            "2",
            "--seeds",
            "0..1000000",
            "--jobs",
            "2",
            "--json",
            s(&json),
            "--save-failures",
            s(&failures),
        ])
        .env("ZKWAL_PROGRESS_SECS", "0.2")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first progress line says the run (and its Ctrl-C handler) started.
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap();
            if line.starts_with("progress") {
                let _ = tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    rx.recv_timeout(Duration::from_secs(120))
        .expect("a progress line within 2 minutes");
    std::thread::sleep(Duration::from_millis(300));
    let pid = child.id().to_string();
    let kill = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(kill.success());
    let t0 = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(t0.elapsed() < Duration::from_secs(120), "stops promptly");
    let err = reader.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let doc = read(&json);
    let violations = doc["violations"].as_array().unwrap();
    let code = out.status.code().unwrap_or(-1);
    assert_eq!(
        code,
        if violations.is_empty() { 130 } else { 1 },
        "{stdout}{err}"
    );
    assert_eq!(doc["interrupted"], true, "{doc}");
    let ran = doc["seeds_run"].as_u64().unwrap();
    assert!(ran < 1_000_000);
    assert_eq!(doc["seeds_done"], format!("0..{ran}"));
    assert!(
        stdout.contains(&format!(
            "interrupted: {ran} seed(s) ran (0..{ran}); not run: {ran}..1000000"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{} violation(s)", violations.len())),
        "{stdout}"
    );
    assert!(
        err.contains("interrupted: finishing the seeds in progress"),
        "{err}"
    );
    let files: Vec<String> = std::fs::read_dir(&failures)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for v in violations {
        // The name ends with a content hash of the scenario (see `save_failure`).
        let name = format!(
            "seed-n2-s{}-zk-{}-",
            v["seed"],
            v["invariant"].as_str().unwrap()
        );
        assert!(
            files.iter().any(|f| f.starts_with(&name)),
            "{name}* saved; have {files:?}"
        );
        assert!(
            stdout.contains(&format!("FAIL seed={} ", v["seed"])),
            "{stdout}"
        );
    }
    assert_eq!(files.len(), violations.len(), "{files:?}");
    let saved = format!(
        "{} regression case(s) saved in {}",
        files.len(),
        s(&failures)
    );
    assert!(stdout.contains(&saved), "{stdout}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An output that cannot be written is refused at once (exit 2, one line), before a
/// range of seeds that would take hours starts.
#[test]
fn unwritable_outputs_are_refused_before_any_seed_runs() {
    let dir = tmp("outputs");
    let file = dir.join("a-file");
    std::fs::write(&file, "x").unwrap();
    let missing = dir.join("no/such/folder/out.json");
    let under_file = file.join("failures");
    let long = ["--seeds", "0..100000000"];
    let cases: Vec<Vec<&str>> = vec![
        vec!["run", "--json", s(&missing)],
        vec!["run", "--json", s(&dir)],
        vec!["run", "--save-failures", s(&under_file)],
        vec!["report", "--json", s(&missing)],
        vec!["report", "--html", s(&missing)],
        vec![
            "sweep",
            "--variant",
            "fenced",
            "--set",
            "zk.session_timeout_ms=2000,4000",
            "--json",
            s(&missing),
        ],
        vec!["merge", "--json", s(&missing), s(&file)],
    ];
    for mut args in cases {
        if args[0] != "merge" {
            args.extend(long);
        }
        let t0 = Instant::now();
        let (code, out, err) = sim(&args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "{args:?} refused at once"
        );
    }
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "x",
        "left as it was"
    );
    // An existing file is accepted (and overwritten by the run).
    let (code, out, err) = sim(&["run", "--seeds", "0..2", "--json", s(&file)]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(read(&file)["seeds_run"], 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The JSON fields that must be equal between shards merged and one unsharded run:
/// everything but wall-clock speed and the fields that say how the run was split.
fn comparable(doc: &Value) -> Value {
    let mut d = doc.clone();
    let o = d.as_object_mut().unwrap();
    for k in [
        "seeds_per_sec",
        "events_per_sec",
        "elapsed_s",
        "shard",
        "merged_from",
        "seeds_not_run",
        "complete",
    ] {
        o.remove(k);
    }
    d
}

/// Runs `base --shard K/N --json DIR/shardK.json` for every K; checks it says its part.
fn run_shards(dir: &Path, base: &[&str], n: u64, range: &str) -> Vec<PathBuf> {
    (0..n)
        .map(|k| {
            let p = dir.join(format!("shard{k}.json"));
            let shard = format!("{k}/{n}");
            let mut args = base.to_vec();
            args.extend(["--shard", &shard, "--json", s(&p)]);
            let (code, out, err) = sim(&args);
            assert!(code == 0 || code == 1, "{out}{err}");
            assert!(out.contains(&format!("shard {k}/{n} of {range}")), "{out}");
            p
        })
        .collect()
}

#[test]
fn shards_merged_equal_one_unsharded_run() {
    let dir = tmp("shards");
    let range = "0..90";
    let base = [
        "run",
        "--variant",
        "seed",
        "--nodes",
        "2",
        "--seeds",
        range,
        "--jobs",
        "2",
    ];
    let whole = dir.join("whole.json");
    let mut args = base.to_vec();
    args.extend(["--json", s(&whole)]);
    let (code, out, err) = sim(&args);
    assert_eq!(code, 1, "the range has failures: {out}{err}");
    let shards = run_shards(&dir, &base, 3, range);
    let merged = dir.join("merged.json");
    let mut args = vec!["merge", "--json", s(&merged)];
    // In any order.
    args.extend([s(&shards[2]), s(&shards[0]), s(&shards[1])]);
    let (code, out, err) = sim(&args);
    assert_eq!(code, 1, "{out}{err}");
    let (w, m) = (read(&whole), read(&merged));
    assert!(!w["violations"].as_array().unwrap().is_empty());
    assert!(
        w["failovers"].as_u64().unwrap() > 0,
        "figures measured: {w}"
    );
    assert_eq!(m["complete"], true);
    assert_eq!(comparable(&m), comparable(&w));
    // The text says the same as the unsharded run's, but for speed and the seeds line.
    let (_, whole_out, _) = sim(&base);
    let tail = |t: &str| t.lines().skip(1).map(String::from).collect::<Vec<_>>();
    assert_eq!(tail(&out), tail(&whole_out));
    // A missing shard is said, not hidden.
    let (code, out, err) = sim(&["merge", s(&shards[0]), s(&shards[2])]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("incomplete: 30 of 90 seed(s) not run: 30..60"),
        "{out}"
    );
    // A merge merges again.
    let again = dir.join("again.json");
    let (code, _, err) = sim(&["merge", "--json", s(&again), s(&merged)]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(comparable(&read(&again)), comparable(&w));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn report_shards_merged_equal_one_report() {
    let dir = tmp("report-shards");
    let base = ["report", "--nodes", "2", "--seeds", "0..24", "--jobs", "2"];
    let files = run_shards(&dir, &base, 2, "0..24");
    let whole = dir.join("whole.json");
    let mut args = base.to_vec();
    args.extend(["--json", s(&whole)]);
    let (code, out, err) = sim(&args);
    assert!(code == 0 || code == 1, "{out}{err}");
    let merged = dir.join("merged.json");
    let html = dir.join("merged.html");
    let (c, out, err) = sim(&[
        "merge",
        "--json",
        s(&merged),
        "--html",
        s(&html),
        s(&files[0]),
        s(&files[1]),
    ]);
    assert_eq!(c, code, "{out}{err}");
    let (w, m) = (read(&whole), read(&merged));
    let variants = w["variants"].as_object().unwrap();
    assert!(variants.len() >= 2);
    for (name, v) in variants {
        assert_eq!(comparable(&m["variants"][name]), comparable(v), "{name}");
    }
    assert!(std::fs::read_to_string(&html).unwrap().contains("<svg"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn merge_refuses_what_is_not_parts_of_one_run() {
    let dir = tmp("refuse");
    let run = |name: &str, extra: &[&str]| -> PathBuf {
        let p = dir.join(name);
        let mut args = vec!["run", "--jobs", "1", "--json", s(&p)];
        args.extend(extra);
        let (code, out, err) = sim(&args);
        assert!(code == 0 || code == 1, "{out}{err}");
        p
    };
    let a = run("a.json", &["--seeds", "0..10"]);
    let b = run("b.json", &["--seeds", "5..15"]);
    let c = run("c.json", &["--seeds", "10..20", "--nodes", "5"]);
    let d = run(
        "d.json",
        &["--seeds", "10..20", "--set", "client.op_timeout_ms=3000"],
    );
    let e = run("e.json", &["--seeds", "10..20"]);
    let garbage = dir.join("g.json");
    std::fs::write(&garbage, "{\"seeds_run\": 3}").unwrap();
    for (files, says) in [
        (vec![&a, &b], "overlapping"),
        (vec![&a, &c], "nodes=5"),
        (vec![&a, &d], "options_set"),
        (vec![&a, &garbage], "not a zkwal-sim summary"),
    ] {
        let mut args = vec!["merge"];
        args.extend(files.iter().map(|p| s(p)));
        let (code, out, err) = sim(&args);
        assert_eq!(code, 2, "{files:?}: {out}{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(says), "{says}: {err}");
    }
    let (code, out, err) = sim(&["merge", s(&a), s(&e)]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("seeds=0..20 (merged from 2 file(s)) ran=20"),
        "{out}"
    );
    // A phase sum that would wrap when added (a hand-edited part) is refused by name,
    // for each phase of `phases::NAMES` that `a` measured.
    let sums = &read(&a)["figures_aggregate"]["failover_phases_ms"]["sum_ms"];
    let measured: Vec<String> = sums
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, v)| v.as_u64().unwrap() > 0)
        .map(|(k, _)| k.clone())
        .collect();
    assert!(
        !measured.is_empty(),
        "seeds 0..10 measure some phase: {sums}"
    );
    for phase in measured {
        let mut v = read(&e);
        v["figures_aggregate"]["failover_phases_ms"]["sum_ms"][&phase] = Value::from(u64::MAX);
        let f = dir.join("f.json");
        std::fs::write(&f, serde_json::to_string(&v).unwrap()).unwrap();
        let (code, out, err) = sim(&["merge", s(&a), s(&f)]);
        assert_eq!(code, 2, "{phase}: {out}{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        let field = format!("figures.failover_phases_ms.sum_ms.{phase} would overflow");
        assert!(err.contains(&field), "{field}: {err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bench_prints_and_writes_its_figures() {
    let dir = tmp("bench");
    let json = dir.join("bench.json");
    let (code, out, err) = sim(&["bench", "--seeds", "0..3", "--json", s(&json)]);
    assert_eq!(code, 0, "{out}{err}");
    for says in [
        "simulator:",
        "empty loop:",
        "ratio:",
        "variant=fenced nodes=2",
    ] {
        assert!(out.contains(says), "{says}: {out}");
    }
    let b = read(&json);
    assert_eq!(b["seeds_run"], 3);
    assert_eq!(b["threads"], 1);
    let (sim_events, empty_events) = (&b["simulator"]["events"], &b["empty_loop"]["events"]);
    assert!(sim_events.as_u64().unwrap() > 0);
    assert_eq!(sim_events, empty_events);
    assert!(b["ratio"].as_f64().unwrap() > 0.0);
    std::fs::remove_dir_all(&dir).unwrap();
}
