//! `report` (every built variant on the same seeds, side by side) and `sweep` (one
//! variant, the same seeds at each value of one option): the figures of
//! [`crate::metrics`] and the violations, as a table, JSON (`--json`) and a
//! self-contained HTML page with charts (`--html`, [`crate::html`]).
//!
//! Exit codes as `run`: 0 no violation, 1 some seed of some variant (or value)
//! violated an invariant, 2 bad input, refused before anything runs.

use std::path::PathBuf;

use clap::Args;
use serde_json::{json, Value};

use crate::args::{parse_range, parse_target, SpecArgs};
use crate::batch::{check_outputs, exit_code, run_batch, BatchSpec};
use crate::html;
use crate::outcome::{failure_lines, missing_lines, run_json, side_by_side, Outcome};
use crate::output::{print_out, write_file};
use crate::profile::{Profile, Spec};
use crate::run::quiet_panics;
use crate::scenario::Variant;
use crate::shard::{shard_range, Shard};

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Nodes in the Raft group, 1..=9.
    #[arg(long, default_value_t = 2, value_parser = crate::args::nodes_arg, allow_negative_numbers = true)]
    pub nodes: u32,
    /// Half-open range of seeds, `A..B`. The default is README's main command: every
    /// variant on 6,000 seeds takes about a minute on 2 cores.
    #[arg(long, default_value = "0..6000")]
    pub seeds: String,
    /// Worker threads (default: all cores).
    #[arg(long, value_parser = crate::args::jobs_arg, allow_negative_numbers = true)]
    pub jobs: Option<usize>,
    /// Place a mock ZooKeeper ensemble on the network for every variant (the
    /// ZooKeeper-WAL variants have one anyway).
    #[arg(long)]
    pub zk: bool,
    /// `--profile`, `--set NAME=VALUE` and `--pause-monitor`, for every variant.
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Write the figures as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write a self-contained HTML page with the table and charts to this file.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Run only part K of N of the seed range (K from 0; contiguous blocks; `merge`).
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Exit 1, naming it, when a situation some variant (value) can reach was reached
    /// by none of its seeds.
    #[arg(long)]
    pub require_situations: bool,
}

#[derive(Args, Debug)]
pub struct SweepArgs {
    #[arg(long, default_value = "raft")]
    pub variant: String,
    /// Nodes in the Raft group, 1..=9.
    #[arg(long, default_value_t = 2, value_parser = crate::args::nodes_arg, allow_negative_numbers = true)]
    pub nodes: u32,
    #[arg(long, default_value = "0..1000")]
    pub seeds: String,
    /// The option and its values, `NAME=V1,V2,...`: e.g. zk.session_timeout_ms=2000,4000.
    #[arg(long = "set", value_name = "NAME=V1,V2,...")]
    pub set: String,
    /// Fault profile: swarm or churn.
    #[arg(long, default_value = "swarm")]
    pub profile: String,
    #[arg(long, value_parser = crate::args::jobs_arg, allow_negative_numbers = true)]
    pub jobs: Option<usize>,
    /// Place a mock ZooKeeper ensemble on the network.
    #[arg(long)]
    pub zk: bool,
    /// Leaders that detect they were paused step down (Ratis' JvmPauseMonitor).
    #[arg(long)]
    pub pause_monitor: bool,
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write a self-contained HTML page with a chart of downtime against the value.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Run only part K of N of the seed range (K from 0; contiguous blocks; `merge`).
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Exit 1, naming it, when a situation some variant (value) can reach was reached
    /// by none of its seeds.
    #[arg(long)]
    pub require_situations: bool,
}

/// The shared part of `report` and `sweep`: seeds, group size, ZooKeeper, threads.
struct Plan {
    nodes: u32,
    /// The seeds to run: `whole`, or with `--shard` its part.
    start: u64,
    end: u64,
    whole: (u64, u64),
    shard: Option<Shard>,
    zk: bool,
    jobs: usize,
}

impl Plan {
    fn new(
        nodes: u32,
        seeds: &str,
        zk: bool,
        jobs: Option<usize>,
        shard: Option<&str>,
    ) -> Result<Plan, String> {
        let whole = parse_range(seeds)?;
        let (shard, start, end) = shard_range(shard, whole.0, whole.1)?;
        let jobs = crate::runner::jobs(jobs, end - start)?;
        Ok(Plan {
            nodes,
            start,
            end,
            whole,
            shard,
            zk,
            jobs,
        })
    }

    fn seeds(&self) -> String {
        format!("{}..{}", self.start, self.end)
    }

    /// The top-level `shard` field of report and sweep JSON.
    fn shard_json(&self) -> Value {
        json!(self.shard.map(|s| json!({
            "index": s.index,
            "count": s.count,
            "of": format!("{}..{}", self.whole.0, self.whole.1),
        })))
    }

    /// The JSON summary of one outcome: `run_json` and which seeds ran.
    fn outcome_json(&self, o: &Outcome) -> Value {
        let mut doc = run_json(
            o.variant, self.nodes, self.start, self.end, self.zk, &o.spec, &o.totals, o.secs,
        );
        let info = crate::batch::RangeInfo {
            variant: o.variant,
            nodes: self.nodes,
            zk: self.zk,
            spec: &o.spec,
            whole: self.whole,
            shard: self.shard,
            start: self.start,
            end: self.end,
        };
        info.annotate(&mut doc, o.done_end, o.interrupted, None, false);
        doc
    }

    /// A line saying what an interruption left out, if any.
    fn interrupted_note(&self, labelled: &[(String, &Outcome)]) -> Option<String> {
        let cut: Vec<String> = labelled
            .iter()
            .filter(|(_, o)| o.interrupted)
            .map(|(l, o)| match o.totals.seeds_run {
                0 => format!("{l} not run"),
                _ => format!("{l} ran {}..{} of {}", self.start, o.done_end, self.seeds()),
            })
            .collect();
        (!cut.is_empty()).then(|| format!("interrupted: {}", cut.join("; ")))
    }

    /// `nodes=N seeds=A..B [(shard K/N of C..D)] profile=P [zk] [pause-monitor]
    /// [NAME=VALUE ...]`.
    fn describe(&self, spec: &Spec) -> String {
        let shard = self.shard.map_or(String::new(), |s| {
            format!(
                " (shard {} of {}..{})",
                s.name(),
                self.whole.0,
                self.whole.1
            )
        });
        let mut s = format!(
            "nodes={} seeds={}{shard} profile={}",
            self.nodes,
            self.seeds(),
            spec.profile.name()
        );
        if self.zk {
            s.push_str(" zk");
        }
        if spec.pause_monitor {
            s.push_str(" pause-monitor");
        }
        for (n, v) in &spec.sets {
            s.push_str(&format!(" {n}={v}"));
        }
        s
    }

    /// Refuses, before anything runs, a spec that cannot make the first seed's scenario.
    fn check(&self, variant: Variant, spec: &Spec) -> Result<(), String> {
        spec.scenario(self.start, variant, self.nodes, self.zk)
            .map(|_| ())
    }

    fn run(&self, variant: Variant, spec: Spec, label: &str) -> Outcome {
        let (nodes, zk) = (self.nodes, self.zk);
        let b = run_batch(&BatchSpec {
            label,
            start: self.start,
            end: self.end,
            jobs: self.jobs,
            scenario: &|seed| spec.scenario(seed, variant, nodes, zk),
            check_determinism: false,
            save_failures: None,
        });
        Outcome {
            variant,
            nodes,
            zk,
            spec,
            totals: b.totals,
            secs: b.secs,
            done_end: b.done_end,
            interrupted: b.interrupted,
        }
    }

    /// Refuses, before anything runs, `--json` and `--html` paths that cannot be
    /// written or that name one file.
    fn check_outputs(json: Option<&PathBuf>, html: Option<&PathBuf>) -> Result<(), String> {
        check_outputs(
            &[
                ("--json", json.map(|p| p.as_path())),
                ("--html", html.map(|p| p.as_path())),
            ],
            &[],
            &[],
        )
    }
}

pub fn report(a: ReportArgs) -> Result<i32, String> {
    let plan = Plan::new(a.nodes, &a.seeds, a.zk, a.jobs, a.shard.as_deref())?;
    let spec = a.spec.parse()?;
    let variants: Vec<Variant> = Variant::ALL.into_iter().filter(|v| v.is_built()).collect();
    let mut specs = Vec::new();
    for &v in &variants {
        parse_target(v.name(), a.nodes)?;
        plan.check(v, &spec)?;
        specs.push(spec.clone());
    }
    Plan::check_outputs(a.json.as_ref(), a.html.as_ref())?;
    quiet_panics();
    let outcomes: Vec<Outcome> = variants
        .iter()
        .zip(specs)
        .map(|(&v, s)| plan.run(v, s, v.name()))
        .collect();
    let title = format!("report: {}", plan.describe(&spec));
    let names: Vec<String> = outcomes
        .iter()
        .map(|o| o.variant.name().to_string())
        .collect();
    let table = side_by_side("variant", &names, &outcomes);
    let labelled: Vec<(String, &Outcome)> = outcomes
        .iter()
        .map(|o| (format!("variant={}", o.variant.name()), o))
        .collect();
    let mut failures = failure_lines(&labelled, plan.nodes, plan.zk);
    let missing = if a.require_situations {
        missing_lines(&labelled)
    } else {
        Vec::new()
    };
    failures.extend(missing.iter().cloned());
    let cut = plan.interrupted_note(&labelled);
    failures.extend(cut.clone());
    // Outputs not written: printed after the summary (see `output::finish`).
    let mut errors: Vec<String> = Vec::new();
    if let Some(path) = &a.json {
        let variants: serde_json::Map<String, Value> = outcomes
            .iter()
            .map(|o| (o.variant.name().to_string(), plan.outcome_json(o)))
            .collect();
        let doc = json!({
            "nodes": plan.nodes,
            "seeds": plan.seeds(),
            "shard": plan.shard_json(),
            "interrupted": cut.is_some(),
            "profile": spec.profile.name(),
            "zk": plan.zk,
            "pause_monitor": spec.pause_monitor,
            "variants": variants,
        });
        let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
        errors.extend(write_file(path, "--json", &(text + "\n")).err());
    }
    if let Some(path) = &a.html {
        let note = same_seeds_note(spec.profile);
        match html::report_page(&title, note, &table, &failures, &outcomes) {
            Ok(page) => errors.extend(write_file(path, "--html", &page).err()),
            Err(e) => errors.push(format!("--html {}: {e}", path.display())),
        }
    }
    let mut out = String::new();
    out.push_str(&title);
    out.push_str(&format!(" ({})\n", same_seeds_note(spec.profile)));
    out.push_str(&table.text());
    for f in &failures {
        out.push_str(f);
        out.push('\n');
    }
    let bad: usize = outcomes.iter().map(|o| o.totals.violations.len()).sum();
    out.push_str(&format!("{bad} violation(s)\n"));
    print_out(&out);
    let code =
        crate::situations::gate_code(exit_code(bad, false, cut.is_some()), !missing.is_empty());
    Ok(crate::output::finish(code, &errors))
}

/// What "side by side" means for a profile.
pub fn same_seeds_note(p: Profile) -> &'static str {
    match p {
        Profile::Swarm => "the same seeds for every variant; the ZooKeeper-WAL variants' seeds also draw ZooKeeper and WAL faults",
        Profile::Churn => "the same seeds and node faults for every variant; ZooKeeper lag only where there is a ZooKeeper",
    }
}

/// A session timeout the ZooKeeper service clamps to [2, 20] ticks runs as the clamped
/// value: say so, so that a flat line in the sweep is not misread.
fn clamp_note(
    plan: &Plan,
    variant: Variant,
    spec: &Spec,
    name: &str,
    value: &str,
) -> Option<String> {
    if name != "zk.session_timeout_ms" {
        return None;
    }
    let sc = spec
        .scenario(plan.start, variant, plan.nodes, plan.zk)
        .ok()?;
    let z = sc.options.zk?;
    let (lo, hi) = (2 * z.tick_time_ms, 20 * z.tick_time_ms);
    let v = z.session_timeout_ms;
    (v < lo || v > hi).then(|| {
        format!(
            "{name}={value} is clamped by the service to {} ms (2 to 20 x zk.tick_time_ms={}); sweep zk.tick_time_ms too",
            v.clamp(lo, hi),
            z.tick_time_ms
        )
    })
}

/// Parses `NAME=V1,V2,...`.
pub fn parse_sweep_set(s: &str) -> Result<(String, Vec<String>), String> {
    let (name, values) = s
        .split_once('=')
        .ok_or_else(|| format!("--set must look like NAME=V1,V2,..., got '{s}'"))?;
    let name = name.trim();
    let values: Vec<String> = values.split(',').map(|v| v.trim().to_string()).collect();
    if name.is_empty() || values.iter().any(String::is_empty) {
        return Err(format!("--set must look like NAME=V1,V2,..., got '{s}'"));
    }
    for (i, v) in values.iter().enumerate() {
        if values[..i].contains(v) {
            return Err(format!("--set: value '{v}' given twice"));
        }
    }
    Ok((name.to_string(), values))
}

pub fn sweep(a: SweepArgs) -> Result<i32, String> {
    let variant = parse_target(&a.variant, a.nodes)?;
    let plan = Plan::new(a.nodes, &a.seeds, a.zk, a.jobs, a.shard.as_deref())?;
    let (name, values) = parse_sweep_set(&a.set)?;
    let base = SpecArgs {
        profile: Some(a.profile.clone()),
        set: Vec::new(),
        pause_monitor: a.pause_monitor,
    }
    .parse()?;
    let specs: Vec<Spec> = values
        .iter()
        .map(|v| base.with(&name, v))
        .collect::<Result<_, _>>()?;
    // The values in canonical form (`05` is `5`), each once: they label the columns
    // and the JSON, and `merge` compares them.
    let values: Vec<String> = specs.iter().map(|s| s.sets[0].1.clone()).collect();
    if let Some(i) = (1..values.len()).find(|&i| values[..i].contains(&values[i])) {
        return Err(format!("--set: value '{}' given twice", values[i]));
    }
    let mut notes = Vec::new();
    for (s, v) in specs.iter().zip(&values) {
        plan.check(variant, s)?;
        notes.extend(clamp_note(&plan, variant, s, &name, v));
    }
    Plan::check_outputs(a.json.as_ref(), a.html.as_ref())?;
    quiet_panics();
    let outcomes: Vec<Outcome> = specs
        .into_iter()
        .zip(&values)
        .map(|(s, v)| plan.run(variant, s, &format!("{name}={v}")))
        .collect();
    let title = format!(
        "sweep: variant={} {} option={name}",
        variant.name(),
        plan.describe(&base)
    );
    let table = side_by_side(&name, &values, &outcomes);
    let labelled: Vec<(String, &Outcome)> = values
        .iter()
        .zip(&outcomes)
        .map(|(v, o)| (format!("variant={} {name}={v}", o.variant.name()), o))
        .collect();
    let mut failures = failure_lines(&labelled, plan.nodes, plan.zk);
    let missing = if a.require_situations {
        missing_lines(&labelled)
    } else {
        Vec::new()
    };
    failures.extend(missing.iter().cloned());
    let cut = plan.interrupted_note(&labelled);
    failures.extend(cut.clone());
    // Outputs not written: printed after the summary (see `output::finish`).
    let mut errors: Vec<String> = Vec::new();
    if let Some(path) = &a.json {
        let rows: Vec<Value> = values
            .iter()
            .zip(&outcomes)
            .map(|(v, o)| {
                let mut doc = plan.outcome_json(o);
                doc["value"] = json!(v);
                doc
            })
            .collect();
        let doc = json!({
            "variant": variant.name(),
            "nodes": plan.nodes,
            "seeds": plan.seeds(),
            "shard": plan.shard_json(),
            "interrupted": cut.is_some(),
            "profile": base.profile.name(),
            "zk": plan.zk,
            "pause_monitor": base.pause_monitor,
            "option": name,
            "values": rows,
        });
        let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
        errors.extend(write_file(path, "--json", &(text + "\n")).err());
    }
    if let Some(path) = &a.html {
        match html::sweep_page(&title, &notes, &name, &values, &table, &failures, &outcomes) {
            Ok(page) => errors.extend(write_file(path, "--html", &page).err()),
            Err(e) => errors.push(format!("--html {}: {e}", path.display())),
        }
    }
    let mut out = String::new();
    out.push_str(&title);
    out.push('\n');
    for n in &notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out.push_str(&table.text());
    for f in &failures {
        out.push_str(f);
        out.push('\n');
    }
    let bad: usize = outcomes.iter().map(|o| o.totals.violations.len()).sum();
    out.push_str(&format!("{bad} violation(s)\n"));
    print_out(&out);
    let code =
        crate::situations::gate_code(exit_code(bad, false, cut.is_some()), !missing.is_empty());
    Ok(crate::output::finish(code, &errors))
}
