//! The `zkwal-sim` command line. Exit codes: 0 no violation, 1 a seed violated an
//! invariant (or `--check-determinism` found a difference), 2 bad input (arguments,
//! files), 130 stopped by Ctrl-C (or SIGTERM) with no violation found. Wall-clock time is read here only, to
//! report speed; it never reaches a run.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::args::{parse_range, parse_target, CaseArgs, SpecArgs};
use crate::batch;
use crate::regress;
use crate::run::quiet_panics;

use crate::outln;

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
    /// Run seeds, then branch the runs that reached a rare situation from that instant.
    Explore(crate::explore::ExploreArgs),
    /// Shrink a failing seed (or scenario) to a minimal scenario that fails the same way.
    Shrink(crate::shrink::ShrinkArgs),
}

#[derive(Args, Debug)]
pub struct Target {
    /// Design variant: raft, seed, seed-zk-quorum, fenced.
    #[arg(long, default_value = "raft")]
    pub variant: String,
    /// Nodes in the Raft group, 1..=9.
    #[arg(long, default_value_t = 3, value_parser = crate::args::nodes_arg, allow_negative_numbers = true)]
    pub nodes: u32,
    #[arg(long, value_parser = crate::args::seed_arg, allow_negative_numbers = true)]
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
    /// Nodes in the Raft group, 1..=9.
    #[arg(long, default_value_t = 3, value_parser = crate::args::nodes_arg, allow_negative_numbers = true)]
    pub nodes: u32,
    /// Half-open range of seeds, `A..B`.
    #[arg(long, default_value = "0..10000")]
    pub seeds: String,
    /// Worker threads (default: all cores).
    #[arg(long, value_parser = crate::args::jobs_arg, allow_negative_numbers = true)]
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
    /// Exit 1, naming it, when a situation the variant can reach was reached by no seed.
    #[arg(long)]
    pub require_situations: bool,
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
    crate::progress::plain_interval()?;
    match cli.command {
        Command::Run(a) => run(a),
        Command::Replay(a) => replay(a),
        Command::Scenario(t) => {
            let v = parse_target(&t.variant, t.nodes)?;
            let sc = t.spec.parse()?.scenario(t.seed, v, t.nodes, t.zk)?;
            outln!(
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
        Command::Explore(a) => crate::explore::explore(a),
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
    let jobs = crate::runner::jobs(a.jobs, end - start)?;
    batch::check_outputs(
        &[("--json", a.json.as_deref())],
        &[("--save-failures", a.save_failures.as_deref())],
        &[],
    )?;
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
    // Failures not saved, then outputs not written: printed after the summary.
    let mut errors = b.save_errors.clone();
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
        if let Err(e) = crate::output::write_file(path, "--json", &(text + "\n")) {
            errors.push(e);
        }
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
        for p in &b.saved {
            text.push_str(&format!("saved: {}\n", p.display()));
        }
        text.push_str(&format!(
            "{} regression case(s) saved in {}\n",
            b.saved.len(),
            dir.display()
        ));
    }
    let missing = if a.require_situations {
        crate::situations::missing_lines(
            &b.totals.situations,
            &format!("variant={}", variant.name()),
            variant,
            a.nodes,
            a.zk,
            b.totals.seeds_run,
        )
    } else {
        Vec::new()
    };
    for m in &missing {
        text.push_str(m);
        text.push('\n');
    }
    // Files were written first: a closed pipe cannot lose them.
    crate::output::print_out(&text);
    let code = batch::exit_code(
        b.totals.violations.len(),
        b.mismatch.is_some(),
        b.interrupted,
    );
    let code = crate::situations::gate_code(code, !missing.is_empty());
    Ok(crate::output::finish(code, &errors))
}

fn replay(a: ReplayArgs) -> Result<i32, String> {
    let sc = a.case.scenario("replay")?;
    let input: Vec<&std::path::Path> = a.case.scenario.as_deref().into_iter().collect();
    batch::check_outputs(&[("--html", a.html.as_deref())], &[], &input)?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("zkwal_model=debug"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .without_time()
        .with_target(false)
        .with_writer(|| crate::output::QuietStdout)
        .try_init();
    quiet_panics();
    let mut rec = crate::timeline::Recording::default();
    let r = crate::run::run_recorded(&sc, &mut rec);
    outln!(
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
        None => outln!("verdict: pass"),
        Some(v) => outln!(
            "verdict: FAIL invariant={} at {} ms: {}",
            v.invariant,
            v.virtual_time_ms,
            v.detail
        ),
    }
    outln!("trace hash: {:016x}", r.trace_hash);
    if r.violation.is_some() {
        crate::output::print_out(&crate::counterexample::render(
            &rec,
            &sc,
            &r,
            Default::default(),
        ));
    }
    let mut errors = Vec::new();
    if let Some(path) = &a.html {
        match crate::replay_html::write(path, &rec, &sc, &r) {
            Ok(()) => outln!("html: {}", path.display()),
            Err(e) => errors.push(e),
        }
    }
    let code = if r.violation.is_none() { 0 } else { 1 };
    Ok(crate::output::finish(code, &errors))
}

/// `regress`: replays every case in `dir`, never stopping at a bad one. A case passes
/// when its verdict is the expected one and, if it pins a `trace_hash`, the run's hash
/// is exactly that (a pin that is not 16 hex digits fails the case). Exit 0 when every
/// case passed; 1 when any case failed or could not be read (each is named); 2 only
/// when the folder cannot be listed, holds no case, or not one case could be read.
fn regress_all(dir: &std::path::Path) -> Result<i32, String> {
    quiet_panics();
    let files = regress::case_files(dir)?;
    if files.is_empty() {
        return Err(format!("{}: no *.json regression case", dir.display()));
    }
    let (mut ok, mut failed, mut unreadable) = (0usize, 0usize, 0usize);
    for f in &files {
        let case = match regress::load(f) {
            Ok(case) => case,
            Err(e) => {
                crate::output::print_out(&format!("UNREADABLE {e}\n"));
                unreadable += 1;
                continue;
            }
        };
        let line = match regress::check(&case) {
            Ok(line) => {
                ok += 1;
                format!("ok   {}: {line}\n", f.display())
            }
            Err(line) => {
                failed += 1;
                format!("FAIL {}: {line}\n", f.display())
            }
        };
        crate::output::print_out(&line);
    }
    crate::output::print_out(&format!(
        "{} case(s): {ok} ok, {failed} failed, {unreadable} unreadable\n",
        files.len()
    ));
    if ok + failed == 0 {
        return Err(format!(
            "{}: not one of {} case(s) could be read",
            dir.display(),
            files.len()
        ));
    }
    Ok(if failed + unreadable == 0 { 0 } else { 1 })
}
