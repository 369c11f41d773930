//! One range of seeds as the commands run it (`run`, `report`, `sweep`): on all cores,
//! with progress, stopped cleanly by Ctrl-C, each failure saved the moment it is found,
//! optionally every seed run twice (`--check-determinism`). Also the checks that an
//! output path can be written, made before any seed runs.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Mutex;

use crate::progress::{interrupt_flag, Progress};
use crate::regress;
use crate::runner::{run_seeds, Control, Mismatch, Stopwatch, Totals};
use crate::scenario::Scenario;

/// What to run.
pub struct BatchSpec<'a> {
    /// Names the range in progress lines (a variant, a swept value; may be empty).
    pub label: &'a str,
    pub start: u64,
    pub end: u64,
    pub jobs: usize,
    pub scenario: &'a (dyn Fn(u64) -> Result<Scenario, String> + Sync),
    pub check_determinism: bool,
    /// Write a regression case here for each failing seed, as soon as it fails.
    pub save_failures: Option<&'a Path>,
}

/// What ran.
pub struct Batch {
    pub totals: Totals,
    /// Seeds `start..done_end` ran (all of them).
    pub done_end: u64,
    pub secs: f64,
    /// Stopped by Ctrl-C before the end of the range.
    pub interrupted: bool,
    pub mismatch: Option<Mismatch>,
    /// Regression cases written.
    pub saved: Vec<PathBuf>,
    /// Failures that could not be saved (one line each; also printed at once).
    pub save_errors: Vec<String>,
}

/// Runs a range of seeds (see the module's description).
pub fn run_batch(b: &BatchSpec) -> Batch {
    let stop = interrupt_flag();
    let progress = Progress::new(b.label, b.end - b.start);
    let saved = Mutex::new(Vec::new());
    let save_errors = Mutex::new(Vec::new());
    let on_seed = |seed: u64, r: &crate::world::RunResult| {
        if let (Some(v), Some(dir)) = (&r.violation, b.save_failures) {
            let res =
                (b.scenario)(seed).and_then(|sc| regress::save_failure(dir, &sc, &v.invariant));
            match res {
                Ok(p) => saved.lock().expect("never poisoned").push(p),
                Err(e) => {
                    let line = format!("--save-failures: seed {seed}: {e}");
                    progress.eprintln(&format!("error: {line}"));
                    save_errors.lock().expect("never poisoned").push(line);
                }
            }
        }
        progress.seed_done(r.violation.is_some());
    };
    let control = Control {
        stop,
        check_determinism: b.check_determinism,
        on_seed: &on_seed,
    };
    let clock = Stopwatch::start();
    let ran = run_seeds(b.start, b.end, b.jobs, b.scenario, &control);
    let secs = clock.secs();
    progress.finish();
    let interrupted = ran.done_end < b.end && stop.load(Ordering::SeqCst);
    let mut saved = saved.into_inner().expect("threads joined");
    saved.sort();
    Batch {
        totals: ran.totals,
        done_end: ran.done_end,
        secs,
        interrupted,
        mismatch: ran.mismatch,
        saved,
        save_errors: save_errors.into_inner().expect("threads joined"),
    }
}

/// Refuses, before anything runs, an output file that cannot be written (`flag` names
/// it in the one-line error). An existing regular file is removed once shown
/// writable: a run killed before its end must not leave an earlier run's output at the
/// path, which `merge` would take for this run's (the file is written whole at the
/// end, see [`crate::output::write_file`]). A device (`/dev/null`) is kept; a missing
/// file is created and removed again.
pub fn check_output_file(flag: &str, path: &Path) -> Result<(), String> {
    let err = |e: std::io::Error| format!("{flag} {}: cannot be written: {e}", path.display());
    if path.is_dir() {
        return Err(format!("{flag} {}: is a folder", path.display()));
    }
    if path.exists() {
        std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(err)?;
        if path.is_file() {
            std::fs::remove_file(path).map_err(err)?;
        }
    } else {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(err)?;
        std::fs::remove_file(path).map_err(err)?;
    }
    Ok(())
}

/// Refuses, before anything runs, a folder that regression cases cannot be written
/// into: it is created if missing, and a probe file is written and removed.
pub fn check_output_dir(flag: &str, dir: &Path) -> Result<(), String> {
    let err = |e: std::io::Error| format!("{flag} {}: cannot be written: {e}", dir.display());
    std::fs::create_dir_all(dir).map_err(err)?;
    let probe = dir.join(format!(".zkwal-sim-probe-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(err)?;
    std::fs::remove_file(&probe).map_err(err)?;
    Ok(())
}

/// Checks a command's outputs before anything runs: each file
/// ([`check_output_file`]) and folder ([`check_output_dir`]) can be written, no two
/// name one path, and none names one of `inputs` ([`crate::output::check_distinct`]).
pub fn check_outputs(
    files: &[(&str, Option<&Path>)],
    dirs: &[(&str, Option<&Path>)],
    inputs: &[&Path],
) -> Result<(), String> {
    let given = |v: &[(&str, Option<&Path>)]| -> Vec<(String, PathBuf)> {
        v.iter()
            .filter_map(|(f, p)| p.map(|p| (f.to_string(), p.to_path_buf())))
            .collect()
    };
    let (files, dirs) = (given(files), given(dirs));
    let all: Vec<(&str, &Path)> = files
        .iter()
        .chain(&dirs)
        .map(|(f, p)| (f.as_str(), p.as_path()))
        .collect();
    crate::output::check_distinct(&all, inputs)?;
    for (flag, p) in &dirs {
        check_output_dir(flag, p)?;
    }
    for (flag, p) in &files {
        check_output_file(flag, p)?;
    }
    Ok(())
}

/// The exit code of a command that ran seeds: 1 for a violation or a determinism
/// mismatch, else 130 when stopped by Ctrl-C, else 0.
pub fn exit_code(violations: usize, mismatch: bool, interrupted: bool) -> i32 {
    if violations > 0 || mismatch {
        1
    } else if interrupted {
        crate::progress::EXIT_INTERRUPTED
    } else {
        0
    }
}

/// What a range of seeds was: the target and the seeds asked for.
pub struct RangeInfo<'a> {
    pub variant: crate::scenario::Variant,
    pub nodes: u32,
    pub zk: bool,
    pub spec: &'a crate::profile::Spec,
    /// The range given with `--seeds`.
    pub whole: (u64, u64),
    pub shard: Option<crate::shard::Shard>,
    /// The seeds this run (this shard) was to run.
    pub start: u64,
    pub end: u64,
}

impl RangeInfo<'_> {
    /// The fields that say which seeds ran and how the run ended, added to the JSON
    /// summary of [`crate::outcome::run_json`]: `seeds_done` (`A..C`: the seeds that
    /// ran, all of them), `interrupted`, `shard` (`{index, count, of}` or null),
    /// `check_determinism`, `determinism_mismatch` (`{seed, first_hash, second_hash}`
    /// or null).
    pub fn annotate(
        &self,
        doc: &mut serde_json::Value,
        done_end: u64,
        interrupted: bool,
        mismatch: Option<Mismatch>,
        check_determinism: bool,
    ) {
        let shard = self.shard.map(|s| {
            serde_json::json!({
                "index": s.index,
                "count": s.count,
                "of": format!("{}..{}", self.whole.0, self.whole.1),
            })
        });
        doc["seeds_done"] = serde_json::json!(format!("{}..{done_end}", self.start));
        doc["interrupted"] = serde_json::json!(interrupted);
        doc["shard"] = serde_json::json!(shard);
        doc["check_determinism"] = serde_json::json!(check_determinism);
        doc["determinism_mismatch"] = serde_json::json!(mismatch);
    }

    /// `A..B`, or with a shard `A..B (shard K/N of C..D)`.
    pub fn seeds_text(&self) -> String {
        match self.shard {
            None => format!("{}..{}", self.start, self.end),
            Some(s) => format!(
                "{}..{} (shard {} of {}..{})",
                self.start,
                self.end,
                s.name(),
                self.whole.0,
                self.whole.1
            ),
        }
    }
}

/// The text summary of one range of seeds, as `run` (and `merge`) print it.
pub struct Summary<'a> {
    pub variant: crate::scenario::Variant,
    pub nodes: u32,
    pub zk: bool,
    pub spec: &'a crate::profile::Spec,
    /// What follows `seeds=` on the first line.
    pub seeds: String,
    pub totals: &'a Totals,
    pub secs: f64,
    /// Seeds that ran, as text (`A..C`, or a merge's list of ranges).
    pub done: String,
    /// Seeds of the range that did not run (interrupted): `None` when all ran.
    pub not_run: Option<String>,
    pub mismatch: Option<Mismatch>,
}

impl Summary<'_> {
    pub fn text(&self) -> String {
        let t = self.totals;
        let mut out = format!(
            "variant={} nodes={} seeds={} ran={} in {:.2}s: {:.0} seeds/s, {:.0} events/s, {} events, {} s virtual\n",
            self.variant.name(),
            self.nodes,
            self.seeds,
            t.seeds_run,
            self.secs,
            t.seeds_run as f64 / self.secs,
            t.events as f64 / self.secs,
            t.events,
            t.virtual_time_ms / 1000
        );
        out.push_str(&format!(
            "client ops: {} ok, {} failed, {} indeterminate\n",
            t.ops_ok, t.ops_failed, t.ops_indeterminate
        ));
        let faults: Vec<String> = t.faults.iter().map(|(k, n)| format!("{k}={n}")).collect();
        out.push_str(&format!("faults injected: {}\n", faults.join(" ")));
        out.push_str(&crate::outcome::figures_line(&t.figures));
        out.push('\n');
        out.push_str(&crate::outcome::situations_text(
            &t.situations,
            self.variant,
            self.nodes,
            self.zk,
            self.spec,
        ));
        let replay = |seed| {
            crate::profile::replay_command(self.variant, self.nodes, seed, self.zk, self.spec)
        };
        for v in &t.violations {
            out.push_str(&format!(
                "FAIL seed={} variant={} nodes={} invariant={} replay: {}\n",
                v.seed,
                self.variant.name(),
                self.nodes,
                v.invariant,
                replay(v.seed)
            ));
        }
        if let Some(m) = self.mismatch {
            out.push_str(&format!(
                "NONDETERMINISTIC seed={} variant={} nodes={}: trace hash {:016x} then {:016x}; stopped after seeds {} replay: {}\n",
                m.seed,
                self.variant.name(),
                self.nodes,
                m.first_hash,
                m.second_hash,
                self.done,
                replay(m.seed)
            ));
        }
        if let Some(rest) = &self.not_run {
            out.push_str(&format!(
                "interrupted: {} seed(s) ran ({}); not run: {rest}\n",
                t.seeds_run, self.done
            ));
        }
        out.push_str(&format!("{} violation(s)\n", t.violations.len()));
        out
    }
}
