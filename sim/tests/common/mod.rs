//! What the CLI tests that run the `zkwal-sim` binary share: a scratch folder and a
//! run of the binary with its exit code and output.

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
