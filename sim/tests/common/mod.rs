//! What the tests share: a scratch folder, a run of the `zkwal-sim` binary with its
//! exit code and output, and a quiet scripted scenario of back-to-back writers.

// Each test binary that includes this module uses only some of its helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub const BIN: &str = env!("CARGO_BIN_EXE_zkwal-sim");

/// A fresh scratch folder for one test (named by the test binary's process and `name`).
pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("zkwal-input-tools-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs the binary in `dir`: (exit code, stdout, stderr).
pub fn sim(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs the binary in the test's working directory (the package root): (exit code,
/// stdout, stderr).
pub fn sim_here(args: &[&str]) -> (i32, String, String) {
    sim(Path::new("."), args, &[])
}

/// A 2-node run of seed 11 of `v` (with ZooKeeper) on a quiet network (no loss,
/// duplication or reordering), its faults replaced by `faults`, and four clients that
/// write back to back (no think time, 400 appends each) with the given operation and
/// attempt timeouts, so that client writes sample the whole fault phase.
pub fn back_to_back_writers(
    v: zkwal_sim::scenario::Variant,
    faults: Vec<zkwal_sim::scenario::TimedFault>,
    op_timeout_ms: u64,
    attempt_timeout_ms: u64,
) -> zkwal_sim::scenario::Scenario {
    use zkwal_sim::scenario::{ClientOpKind, ClientStep, Scenario};
    let mut sc = Scenario::generate_with(11, v, 2, true);
    sc.options.net.loss_ppm = 0;
    sc.options.net.dup_ppm = 0;
    sc.options.net.reorder_ppm = 0;
    sc.options.client.op_timeout_ms = op_timeout_ms;
    sc.options.client.attempt_timeout_ms = attempt_timeout_ms;
    sc.faults = faults;
    sc.clients = (0..4u64)
        .map(|c| {
            (0..400u64)
                .map(|k| ClientStep {
                    think_ms: 0,
                    op: ClientOpKind::Append {
                        key: 0,
                        value: zkwal_sim::scenario::unique_value(c as usize, k),
                    },
                })
                .collect()
        })
        .collect();
    sc
}
