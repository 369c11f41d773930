//! Tidy: bans sources of nondeterminism from the cores and the run path — std
//! `HashMap`/`HashSet` (randomly seeded iteration), wall clocks, unseeded randomness and
//! threads. The CLI, the seed runner and the progress display may read the clock (to
//! report speed, to pace progress lines) and use threads (to run whole seeds in
//! parallel, to print progress); nothing else may.

use std::path::{Path, PathBuf};

const BANNED: [&str; 9] = [
    "HashMap",
    "HashSet",
    "Instant::now",
    "SystemTime",
    "thread_rng",
    "rand::random",
    "std::thread",
    "thread::spawn",
    "from_entropy",
];

/// Files allowed to use threads and the clock: they are outside any single run.
const EXEMPT: [&str; 4] = [
    "sim/src/cli.rs",
    "sim/src/runner.rs",
    "sim/src/main.rs",
    "sim/src/progress.rs",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_nondeterminism_in_cores_and_run_path() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let mut files = Vec::new();
    for dir in [
        "crates/raft/src",
        "crates/zk/src",
        "crates/wal/src",
        "invariants/src",
        "sim/src",
    ] {
        if root.join(dir).exists() {
            rust_files(&root.join(dir), &mut files);
        }
    }
    assert!(files.len() > 10);
    let mut hits = Vec::new();
    for f in &files {
        let rel = f
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if EXEMPT.contains(&rel.as_str()) {
            continue;
        }
        for (n, line) in std::fs::read_to_string(f).unwrap().lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            for b in BANNED {
                if code.contains(b) {
                    hits.push(format!("{rel}:{}: {b}", n + 1));
                }
            }
        }
    }
    assert!(
        hits.is_empty(),
        "nondeterminism sources:\n{}",
        hits.join("\n")
    );
}
