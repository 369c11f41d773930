//! The `zkwal-sim` command line. Exit codes: 0 no violation, 1 a seed violated an
//! invariant (or `--check-determinism` found a difference), 2 bad input (arguments,
//! files), 130 stopped by Ctrl-C (or SIGTERM) with no violation found. Wall-clock time is read here only, to
//! report speed; it never reaches a run.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::args::{parse_range, parse_target, CaseArgs, SpecArgs};
use crate::batch;
use crate::regress;
use crate::run::{quiet_panics, run_scenario};

#[derive(Parser, Debug)]
#[command(
    name = "zkwal-sim",
    version,
    about = "Deterministic simulator for a Raft group that keeps its WAL in ZooKeeper"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a range of seeds and report violations.
    Run(RunArgs),
    /// Run one seed (or a saved scenario) with a readable trace (RUST_LOG filters it).
    Replay(ReplayArgs),
    /// Print the scenario a seed becomes, as JSON (to save, edit and replay).
    Scenario(Target),
    /// Replay every regression case in a folder against its expected verdict.
    Regress {
        #[arg(long, default_value = "seeds")]
        dir: PathBuf,
    },
    /// Run every built variant on the same seeds; print their figures side by side.
    Report(crate::report::ReportArgs),
    /// Run one variant on the same seeds at each value of one option.
    Sweep(crate::report::SweepArgs),
    /// Merge the `--json` summaries of shards (`run`, `report` or `sweep`) into one.
    Merge(crate::merge::MergeArgs),
    /// The standard scenario on one thread against an empty event loop: speed, ceiling.
    Bench(crate::bench::BenchArgs),
    /// Shrink a failing seed (or scenario) to a minimal scenario that fails the same way.
    Shrink(crate::shrink::ShrinkArgs),
}

#[derive(Args, Debug)]
pub struct Target {
    /// Design variant: raft, seed, seed-zk-quorum, fenced.
    #[arg(long, default_value = "raft")]
    pub variant: String,
    #[arg(long, default_value_t = 3)]
    pub nodes: u32,
    #[arg(long)]
    pub seed: u64,
    /// Place a mock ZooKeeper ensemble on the network (with its faults).
    #[arg(long)]
    pub zk: bool,
    #[command(flatten)]
    pub spec: SpecArgs,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[arg(long, default_value = "raft")]
    pub variant: String,
    #[arg(long, default_value_t = 3)]
    pub nodes: u32,
    /// Half-open range of seeds, `A..B`.
    #[arg(long, default_value = "0..10000")]
    pub seeds: String,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Write a JSON summary to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Place a mock ZooKeeper ensemble on the network (with its faults).
    #[arg(long)]
    pub zk: bool,
    /// Write a regression case for every failing seed into this folder (as it fails).
    #[arg(long)]
    pub save_failures: Option<PathBuf>,
    /// Run only part K of N of the seed range (K from 0; contiguous blocks).
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Run every seed twice and compare trace hashes; stop at the first difference.
    #[arg(long)]
    pub check_determinism: bool,
    #[command(flatten)]
    pub spec: SpecArgs,
}

#[derive(Args, Debug)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub case: CaseArgs,
    /// Write the run as a self-contained HTML space-time diagram to this file.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

/// Runs the CLI; returns the exit code, or a one-line error (exit 2).
pub fn main_with(cli: Cli) -> Result<i32, String> {
    match cli.command {
        Command::Run(a) => run(a),
        Command::Replay(a) => replay(a),
        Command::Scenario(t) => {
            let v = parse_target(&t.variant, t.nodes)?;
            let sc = t.spec.parse()?.scenario(t.seed, v, t.nodes, t.zk)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&sc).map_err(|e| e.to_string())?
            );
            Ok(0)
        }
        Command::Regress { dir } => regress_all(&dir),
        Command::Report(a) => crate::report::report(a),
        Command::Sweep(a) => crate::report::sweep(a),
        Command::Merge(a) => crate::merge::merge(a),
        Command::Bench(a) => crate::bench::bench(a),
        Command::Shrink(a) => crate::shrink::command(a),
    }
}

/// `run`: exit 0 no violation, 1 a violation (or a determinism mismatch), 2 bad input,
/// 130 stopped by Ctrl-C with no violation found (see `batch.rs`).
fn run(a: RunArgs) -> Result<i32, String> {
    let variant = parse_target(&a.variant, a.nodes)?;
    let whole = parse_range(&a.seeds)?;
    let (shard, start, end) = crate::shard::shard_range(a.shard.as_deref(), whole.0, whole.1)?;
    let spec = a.spec.parse()?;
    spec.scenario(start, variant, a.nodes, a.zk)?; // bad options are refused before anything runs
    let jobs = match a.jobs {
        Some(0) => return Err("--jobs must be at least 1".into()),
        Some(j) => j,
        None => crate::runner::all_cores(),
    };
    if let Some(path) = &a.json {
        batch::check_output_file("--json", path)?;
    }
    if let Some(dir) = &a.save_failures {
        batch::check_output_dir("--save-failures", dir)?;
    }
    quiet_panics();
    let scenario = |seed| spec.scenario(seed, variant, a.nodes, a.zk);
    let b = batch::run_batch(&batch::BatchSpec {
        label: "",
        start,
        end,
        jobs,
        scenario: &scenario,
        check_determinism: a.check_determinism,
        save_failures: a.save_failures.as_deref(),
    });
    let info = batch::RangeInfo {
        variant,
        nodes: a.nodes,
        zk: a.zk,
        spec: &spec,
        whole,
        shard,
        start,
        end,
    };
    if let Some(path) = &a.json {
        let mut doc =
            crate::outcome::run_json(variant, a.nodes, start, end, a.zk, &spec, &b.totals, b.secs);
        info.annotate(
            &mut doc,
            b.done_end,
            b.interrupted,
            b.mismatch,
            a.check_determinism,
        );
        let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
        std::fs::write(path, text + "\n").map_err(|e| format!("--json {}: {e}", path.display()))?;
    }
    let summary = batch::Summary {
        variant,
        nodes: a.nodes,
        zk: a.zk,
        spec: &spec,
        seeds: info.seeds_text(),
        totals: &b.totals,
        secs: b.secs,
        done: format!("{start}..{}", b.done_end),
        not_run: b.interrupted.then(|| format!("{}..{end}", b.done_end)),
        mismatch: b.mismatch,
    };
    let mut text = summary.text();
    if let Some(dir) = &a.save_failures {
        text.push_str(&format!(
            "{} regression case(s) saved in {}\n",
            b.saved.len(),
            dir.display()
        ));
    }
    // Files were written first: a closed pipe cannot lose them.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    if let Some(e) = b.save_errors.first() {
        return Err(format!(
            "{} failure(s) not saved; first: {e}",
            b.save_errors.len()
        ));
    }
    Ok(batch::exit_code(
        b.totals.violations.len(),
        b.mismatch.is_some(),
        b.interrupted,
    ))
}

fn replay(a: ReplayArgs) -> Result<i32, String> {
    let sc = a.case.scenario("replay")?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("zkwal_model=debug"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .without_time()
        .with_target(false)
        .try_init();
    quiet_panics();
    let mut rec = crate::timeline::Recording::default();
    let r = crate::run::run_recorded(&sc, &mut rec);
    println!(
        "seed={} variant={} nodes={} events={} virtual_time_ms={} ops ok={} failed={} indeterminate={}",
        sc.seed,
        sc.variant.name(),
        sc.nodes,
        r.events,
        r.virtual_time_ms,
        r.ops_ok,
        r.ops_failed,
        r.ops_indeterminate
    );
    match &r.violation {
        None => println!("verdict: pass"),
        Some(v) => println!(
            "verdict: FAIL invariant={} at {} ms: {}",
            v.invariant, v.virtual_time_ms, v.detail
        ),
    }
    println!("trace hash: {:016x}", r.trace_hash);
    if r.violation.is_some() {
        print!(
            "{}",
            crate::counterexample::render(&rec, &sc, &r, Default::default())
        );
    }
    if let Some(path) = &a.html {
        crate::replay_html::write(path, &rec, &sc, &r)?;
        println!("html: {}", path.display());
    }
    Ok(if r.violation.is_none() { 0 } else { 1 })
}

fn regress_all(dir: &std::path::Path) -> Result<i32, String> {
    quiet_panics();
    let files = regress::case_files(dir)?;
    let mut bad = 0;
    for f in &files {
        let case = regress::load(f)?;
        let sc = case.scenario()?;
        let r = run_scenario(&sc);
        let got = regress::verdict(&r);
        let ok = got == case.expect;
        println!(
            "{} {}: expected {}, got {}",
            if ok { "ok  " } else { "FAIL" },
            f.display(),
            case.expect,
            got
        );
        bad += usize::from(!ok);
    }
    println!("{} case(s), {} mismatch(es)", files.len(), bad);
    Ok(if bad == 0 { 0 } else { 1 })
}
