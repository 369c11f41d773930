//! `zkwal-sim merge FILE... [--json OUT] [--html OUT]`: the `--json` summaries of
//! shards (or of any disjoint seed ranges) made into one, as if one run had covered
//! every seed: seeds, violations, client outcomes, fault counts and every figure. The
//! figures merge exactly: each summary carries its whole aggregate
//! (`figures_aggregate`, histograms included), not only its percentiles.
//!
//! The inputs are all `run` summaries, all `report` summaries or all `sweep`
//! summaries (a merge's own output is one of these, so merges merge again). They must
//! agree on variant, node count, profile, options set, `--zk`, `--pause-monitor` (and,
//! for report and sweep, the variants or the swept values) and the simulator's
//! version, and no seed may have run in two of them: otherwise a one-line error, exit 2.
//!
//! The merged summary's `seeds` is the union of the ranges the inputs were asked to
//! run (a shard counts as its whole `of` range), `seeds_done` the union of those that
//! ran, `seeds_not_run` the difference (shards missing or interrupted), `complete`
//! whether that is empty. `elapsed_s` is the inputs' elapsed time added up, so
//! `seeds_per_sec` is per process-second. Exit 0: no violation; 1: a violation or a
//! determinism mismatch in some input; 2: bad input.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::batch::{check_outputs, Summary};
use crate::faults::{FaultCounts, FaultKind};
use crate::metrics::Figures;
use crate::outcome::{failure_lines, run_json, side_by_side, Outcome};
use crate::output::{print_out, write_file};
use crate::profile::{parse_assignment, Profile, Spec};
use crate::report::same_seeds_note;
use crate::runner::{Mismatch, Totals, ViolationReport};
use crate::scenario::Variant;

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// `--json` summaries of `run`, `report` or `sweep` (all of one kind).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Write the merged summary (of the inputs' kind) as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// For `report` and `sweep` summaries: write the merged page to this file.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Exit 1, naming it, when a situation the variant can reach was reached by no
    /// seed of the merged ranges.
    #[arg(long)]
    pub require_situations: bool,
}

/// A half-open seed range.
type Range = (u64, u64);

/// The fields of one range's summary (`run --json`, one variant of `report`, one value
/// of `sweep`) that merging reads.
#[derive(Deserialize)]
struct RunDoc {
    variant: String,
    nodes: u32,
    seeds: String,
    profile: String,
    options_set: Vec<String>,
    zk: bool,
    pause_monitor: bool,
    seeds_run: u64,
    violations: Vec<ViolationReport>,
    events: u64,
    elapsed_s: f64,
    virtual_time_ms: u64,
    busiest_seed: Busiest,
    ops: Ops,
    faults: BTreeMap<String, u64>,
    figures_aggregate: Option<Figures>,
    /// Absent in summaries written before situations were counted: refused.
    situations: Option<Value>,
    #[serde(default)]
    seeds_done: Option<String>,
    #[serde(default)]
    interrupted: bool,
    #[serde(default)]
    shard: Option<ShardDoc>,
    #[serde(default)]
    check_determinism: bool,
    #[serde(default)]
    determinism_mismatch: Option<Mismatch>,
    #[serde(default)]
    zkwal_sim_version: Option<String>,
    #[serde(default)]
    value: Option<String>,
}

#[derive(Deserialize)]
struct Busiest {
    seed: u64,
    events: u64,
}

#[derive(Deserialize)]
struct Ops {
    ok: u64,
    failed: u64,
    indeterminate: u64,
}

#[derive(Deserialize)]
struct ShardDoc {
    of: String,
}

/// One input range, read and checked; or several merged into one.
struct Part {
    /// The input files it comes from.
    files: Vec<String>,
    /// What must be equal across inputs, as `name=value` pairs.
    key: Vec<(&'static str, String)>,
    variant: Variant,
    nodes: u32,
    zk: bool,
    spec: Spec,
    asked: Vec<Range>,
    done: Vec<Range>,
    /// `asked` but not `done`.
    not_run: Vec<Range>,
    interrupted: bool,
    check_determinism: bool,
    mismatch: Option<Mismatch>,
    totals: Totals,
    secs: f64,
}

/// Parses `A..B` or `A..B,C..D,...` (as `seeds` and `seeds_done` are written).
fn parse_ranges(s: &str) -> Result<Vec<Range>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(Vec::new());
    }
    s.split(',')
        .map(|r| {
            let (a, b) = r
                .trim()
                .split_once("..")
                .ok_or_else(|| format!("'{r}' is not a seed range A..B"))?;
            let a: u64 = a
                .trim()
                .parse()
                .map_err(|_| format!("'{r}' is not a seed range"))?;
            let b: u64 = b
                .trim()
                .parse()
                .map_err(|_| format!("'{r}' is not a seed range"))?;
            if a > b {
                return Err(format!("'{r}' is not a seed range"));
            }
            Ok((a, b))
        })
        .collect()
}

/// `A..B,C..D`; empty ranges left out.
fn ranges_text(rs: &[Range]) -> String {
    let v: Vec<String> = rs
        .iter()
        .filter(|r| r.0 < r.1)
        .map(|(a, b)| format!("{a}..{b}"))
        .collect();
    v.join(",")
}

/// Sorted, with touching and overlapping ranges joined.
fn union(mut rs: Vec<Range>) -> Vec<Range> {
    rs.retain(|r| r.0 < r.1);
    rs.sort_unstable();
    let mut out: Vec<Range> = Vec::with_capacity(rs.len());
    for (a, b) in rs {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// `of` minus `minus` (both unions).
fn difference(of: &[Range], minus: &[Range]) -> Vec<Range> {
    let mut out = Vec::new();
    for &(mut a, b) in of {
        for &(c, d) in minus {
            if d <= a || c >= b {
                continue;
            }
            if c > a {
                out.push((a, c));
            }
            a = a.max(d);
        }
        if a < b {
            out.push((a, b));
        }
    }
    out
}

fn count(rs: &[Range]) -> u64 {
    rs.iter().map(|r| r.1 - r.0).sum()
}

impl Part {
    fn read(file: &str, v: &Value) -> Result<Part, String> {
        let d =
            RunDoc::deserialize(v).map_err(|e| format!("{file}: not a zkwal-sim summary: {e}"))?;
        let bad = |what: String| format!("{file}: {what}");
        let variant = Variant::parse(&d.variant).map_err(bad)?;
        // Canonical, so that runs whose `--set` differ only in order or spelling
        // (`05` and `5`) compare equal.
        let spec = Spec::new(
            Profile::parse(&d.profile).map_err(bad)?,
            d.options_set
                .iter()
                .map(|s| parse_assignment(s))
                .collect::<Result<_, _>>()
                .map_err(bad)?,
            d.pause_monitor,
        )
        .map_err(bad)?;
        let figures = d.figures_aggregate.ok_or_else(|| {
            bad("no figures_aggregate (written by an older zkwal-sim?): cannot merge its figures exactly".into())
        })?;
        let asked = match &d.shard {
            Some(s) => parse_ranges(&s.of),
            None => parse_ranges(&d.seeds),
        }
        .map_err(|e| bad(format!("seeds: {e}")))?;
        let done = parse_ranges(d.seeds_done.as_deref().unwrap_or(&d.seeds))
            .map_err(|e| bad(format!("seeds_done: {e}")))?;
        let done = union(done);
        if count(&done) != d.seeds_run {
            return Err(bad(format!(
                "seeds_run is {} but seeds_done ({}) holds {} seeds",
                d.seeds_run,
                ranges_text(&done),
                count(&done)
            )));
        }
        if !difference(&done, &union(asked.clone())).is_empty() {
            return Err(bad("seeds_done goes beyond seeds".into()));
        }
        let within = |seed: u64| done.iter().any(|&(a, b)| a <= seed && seed < b);
        if let Some(v) = d.violations.iter().find(|v| !within(v.seed)) {
            return Err(bad(format!(
                "violation of seed {} outside seeds_done",
                v.seed
            )));
        }
        let mut faults = FaultCounts::default();
        for (name, n) in &d.faults {
            let k = FaultKind::parse(name).ok_or_else(|| bad(format!("unknown fault '{name}'")))?;
            faults.add_n(k, *n);
        }
        let situations = match &d.situations {
            Some(v) => crate::situations::SituationTotals::from_json(v).map_err(|e| bad(e))?,
            None => return Err(bad("no situations (a summary of an older zkwal-sim)".into())),
        };
        let mut violations = d.violations;
        violations.sort_by_key(|v| v.seed);
        let totals = Totals {
            seeds_run: d.seeds_run,
            events: d.events,
            virtual_time_ms: d.virtual_time_ms,
            ops_ok: d.ops.ok,
            ops_failed: d.ops.failed,
            ops_indeterminate: d.ops.indeterminate,
            violations,
            busiest_seed: (d.busiest_seed.seed, d.busiest_seed.events),
            faults,
            figures,
            situations,
        };
        let key = vec![
            ("variant", variant.name().to_string()),
            ("nodes", d.nodes.to_string()),
            ("profile", spec.profile.name().to_string()),
            (
                "options_set",
                spec.sets
                    .iter()
                    .map(|(n, v)| format!("{n}={v}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            ("zk", d.zk.to_string()),
            ("pause_monitor", d.pause_monitor.to_string()),
            (
                "zkwal_sim_version",
                d.zkwal_sim_version.unwrap_or_else(|| "unknown".into()),
            ),
            ("value", d.value.unwrap_or_default()),
        ];
        Ok(Part {
            files: vec![file.to_string()],
            key,
            variant,
            nodes: d.nodes,
            zk: d.zk,
            spec,
            not_run: difference(&union(asked.clone()), &done),
            asked,
            done,
            interrupted: d.interrupted,
            check_determinism: d.check_determinism,
            mismatch: d.determinism_mismatch,
            totals,
            secs: d.elapsed_s.max(0.0),
        })
    }
}

/// Refuses parts whose counts would overflow when added (hand-edited or corrupt
/// inputs): a merged total that wrapped would be a false figure.
fn check_sums(parts: &[Part]) -> Result<(), String> {
    let counts = |t: &Totals| -> Vec<(Cow<'static, str>, u64)> {
        let f = &t.figures;
        let mut v: Vec<(Cow<'static, str>, u64)> = [
            ("seeds_run", t.seeds_run),
            ("events", t.events),
            ("virtual_time_ms", t.virtual_time_ms),
            ("ops.ok", t.ops_ok),
            ("ops.failed", t.ops_failed),
            ("ops.indeterminate", t.ops_indeterminate),
            ("figures.runs", f.runs),
            ("figures.leader_changes", f.leader_changes),
            ("figures.available_ms", f.available_ms),
            ("figures.observed_ms", f.observed_ms),
            ("figures.achievable_ms", f.achievable_ms),
            ("figures.writes_acked", f.writes_acked),
            ("figures.total_losses", f.total_losses),
            ("figures.zk_runs", f.zk_runs),
            ("figures.zk_writes_acked", f.zk_writes_acked),
            ("figures.zk_ops", f.zk_ops),
            ("figures.zk_bytes", f.zk_bytes),
            ("figures.unavailability_ms", f.unavailability_ms.count()),
            ("figures.write_latency_ms", f.write_latency_ms.count()),
            (
                "figures.total_loss_recovery_ms",
                f.total_loss_recovery_ms.count(),
            ),
            (
                "figures.total_loss_return_to_write_ms",
                f.total_loss_return_to_write_ms.count(),
            ),
        ]
        .into_iter()
        .chain(t.faults.iter())
        .chain(t.situations.counts())
        .map(|(name, n)| (Cow::Borrowed(name), n))
        .collect();
        // Each failover phase's exact sum and its count, named from `phases::NAMES`.
        let ph = &f.failover_phases_ms;
        let per_phase = ph.sum_ms.values().into_iter().zip(ph.dists());
        for (name, (sum, dist)) in crate::phases::NAMES.iter().zip(per_phase) {
            v.push((
                format!("figures.failover_phases_ms.sum_ms.{name}").into(),
                sum,
            ));
            v.push((
                format!("figures.failover_phases_ms.{name}").into(),
                dist.count(),
            ));
        }
        v
    };
    let mut sums: Vec<(Cow<'static, str>, u64)> = Vec::new();
    for p in parts {
        let c = counts(&p.totals);
        if sums.is_empty() {
            sums = c;
            continue;
        }
        for ((name, sum), (_, n)) in sums.iter_mut().zip(c) {
            *sum = sum.checked_add(n).ok_or_else(|| {
                format!(
                    "{}: {name} would overflow when added to the other inputs: refused",
                    p.files[0]
                )
            })?;
        }
    }
    Ok(())
}

/// Merges parts of one range; refuses mismatched or overlapping ones.
fn merge_parts(mut parts: Vec<Part>) -> Result<Part, String> {
    let first = parts.first().ok_or("nothing to merge")?;
    for p in &parts[1..] {
        for ((name, a), (_, b)) in first.key.iter().zip(&p.key) {
            if a != b {
                return Err(format!(
                    "{}: {name}={b} differs from {}'s {name}={a}: not parts of one run",
                    p.files[0], first.files[0]
                ));
            }
        }
    }
    let mut spans: Vec<(Range, &str)> = parts
        .iter()
        .flat_map(|p| p.done.iter().map(move |&r| (r, p.files[0].as_str())))
        .collect();
    spans.sort_unstable();
    for w in spans.windows(2) {
        let ((a, fa), (b, fb)) = (w[0], w[1]);
        if b.0 < a.1 {
            return Err(format!(
                "{fb}: seeds {}..{} also ran in {fa} ({}..{}): overlapping inputs",
                b.0,
                b.1.min(a.1),
                a.0,
                a.1
            ));
        }
    }
    check_sums(&parts)?;
    let asked = union(parts.iter().flat_map(|p| p.asked.clone()).collect());
    let done = union(parts.iter().flat_map(|p| p.done.clone()).collect());
    let not_run = difference(&asked, &done);
    let mut totals = Totals::default();
    let mut secs = 0.0;
    let mut mismatch: Option<Mismatch> = None;
    for p in &parts {
        totals.merge(p.totals.clone());
        secs += p.secs;
        if let Some(m) = p.mismatch {
            if mismatch.is_none_or(|o| m.seed < o.seed) {
                mismatch = Some(m);
            }
        }
    }
    let files = parts.iter().flat_map(|p| p.files.clone()).collect();
    let interrupted = parts.iter().any(|p| p.interrupted);
    let check_determinism = parts.iter().all(|p| p.check_determinism);
    let first = parts.swap_remove(0);
    Ok(Part {
        files,
        asked,
        done,
        not_run,
        interrupted,
        check_determinism,
        mismatch,
        totals,
        secs: secs.max(1e-9),
        ..first
    })
}

impl Part {
    /// The merged summary, in `run --json`'s shape.
    fn json(&self) -> Value {
        let lo = self.asked.first().map_or(0, |r| r.0);
        let hi = self.asked.last().map_or(0, |r| r.1);
        let mut doc = run_json(
            self.variant,
            self.nodes,
            lo,
            hi,
            self.zk,
            &self.spec,
            &self.totals,
            self.secs,
        );
        doc["seeds"] = json!(ranges_text(&self.asked));
        doc["seeds_done"] = json!(ranges_text(&self.done));
        doc["seeds_not_run"] = json!(ranges_text(&self.not_run));
        doc["complete"] = json!(self.not_run.is_empty());
        doc["interrupted"] = json!(self.interrupted);
        doc["shard"] = Value::Null;
        doc["check_determinism"] = json!(self.check_determinism);
        doc["determinism_mismatch"] = json!(self.mismatch);
        doc["merged_from"] = json!(self.files);
        doc
    }

    fn outcome(&self) -> Outcome {
        Outcome {
            variant: self.variant,
            nodes: self.nodes,
            zk: self.zk,
            spec: self.spec.clone(),
            totals: self.totals.clone(),
            secs: self.secs,
            done_end: self.done.last().map_or(0, |r| r.1),
            interrupted: !self.not_run.is_empty(),
        }
    }

    fn not_run_line(&self, label: &str) -> Option<String> {
        (!self.not_run.is_empty()).then(|| {
            format!(
                "incomplete: {label}{} of {} seed(s) not run: {}",
                count(&self.not_run),
                count(&self.asked),
                ranges_text(&self.not_run)
            )
        })
    }
}

/// The kind of summary a JSON document is.
enum Kind {
    Run,
    Report,
    Sweep,
}

fn kind_of(file: &str, v: &Value) -> Result<Kind, String> {
    if v.get("variants").is_some_and(Value::is_object) {
        Ok(Kind::Report)
    } else if v.get("values").is_some_and(Value::is_array) {
        Ok(Kind::Sweep)
    } else if v.get("seeds_run").is_some() {
        Ok(Kind::Run)
    } else {
        Err(format!(
            "{file}: not the --json summary of run, report or sweep"
        ))
    }
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = crate::output::read_input(path)?;
    serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))
}

/// The rows (variants of a report, values of a sweep) of every input, by label, in
/// the first input's order; every input must have the same labels.
fn rows(
    docs: &[(String, Value)],
    labels_of: &dyn Fn(&Value) -> Vec<(String, Value)>,
) -> Result<Vec<(String, Vec<Part>)>, String> {
    let (f0, d0) = &docs[0];
    let labels: Vec<String> = labels_of(d0).into_iter().map(|(l, _)| l).collect();
    let mut out: Vec<(String, Vec<Part>)> =
        labels.iter().map(|l| (l.clone(), Vec::new())).collect();
    for (file, doc) in docs {
        let these = labels_of(doc);
        let names: Vec<&String> = these.iter().map(|(l, _)| l).collect();
        if names != labels.iter().collect::<Vec<_>>() {
            return Err(format!(
                "{file}: rows {} differ from {f0}'s {}: not parts of one run",
                names
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                labels.join(",")
            ));
        }
        for ((_, row), (label, parts)) in these.iter().zip(out.iter_mut()) {
            parts.push(Part::read(&format!("{file} ({label})"), row)?);
        }
    }
    Ok(out)
}

/// Top-level fields that must agree across report or sweep inputs.
fn same_top(docs: &[(String, Value)], fields: &[&str]) -> Result<(), String> {
    let (f0, d0) = &docs[0];
    for (file, d) in &docs[1..] {
        for f in fields {
            if d.get(f) != d0.get(f) {
                return Err(format!(
                    "{file}: {f}={} differs from {f0}'s {f}={}: not parts of one run",
                    d.get(f).unwrap_or(&Value::Null),
                    d0.get(f).unwrap_or(&Value::Null)
                ));
            }
        }
    }
    Ok(())
}

pub fn merge(a: MergeArgs) -> Result<i32, String> {
    let inputs: Vec<&std::path::Path> = a.files.iter().map(|p| p.as_path()).collect();
    check_outputs(
        &[("--json", a.json.as_deref()), ("--html", a.html.as_deref())],
        &[],
        &inputs,
    )?;
    let mut docs = Vec::new();
    for f in &a.files {
        docs.push((f.display().to_string(), read_json(f)?));
    }
    let kinds: Vec<Kind> = docs
        .iter()
        .map(|(f, d)| kind_of(f, d))
        .collect::<Result<_, _>>()?;
    let same_kind = kinds
        .iter()
        .all(|k| std::mem::discriminant(k) == std::mem::discriminant(&kinds[0]));
    if !same_kind {
        return Err("the inputs mix run, report and sweep summaries".into());
    }
    if a.html.is_some() && matches!(kinds[0], Kind::Run) {
        return Err("--html: only report and sweep summaries have a page".into());
    }
    match kinds[0] {
        Kind::Run => merge_runs(&a, &docs),
        Kind::Report => merge_table(&a, &docs, false),
        Kind::Sweep => merge_table(&a, &docs, true),
    }
}

/// Writes `--json` if asked; the error (if any) is returned to be printed after the
/// summary (see [`crate::output::finish`]).
fn write_json(path: &Option<PathBuf>, doc: &Value) -> Vec<String> {
    let Some(p) = path else { return Vec::new() };
    match serde_json::to_string_pretty(doc) {
        Ok(text) => write_file(p, "--json", &(text + "\n"))
            .err()
            .into_iter()
            .collect(),
        Err(e) => vec![format!("--json {}: {e}", p.display())],
    }
}

fn merge_runs(a: &MergeArgs, docs: &[(String, Value)]) -> Result<i32, String> {
    let parts = docs
        .iter()
        .map(|(f, d)| Part::read(f, d))
        .collect::<Result<Vec<_>, _>>()?;
    let m = merge_parts(parts)?;
    let errors = write_json(&a.json, &m.json());
    let mut out = Summary {
        variant: m.variant,
        nodes: m.nodes,
        zk: m.zk,
        spec: &m.spec,
        seeds: format!(
            "{} (merged from {} file(s))",
            ranges_text(&m.asked),
            m.files.len()
        ),
        totals: &m.totals,
        secs: m.secs,
        done: ranges_text(&m.done),
        not_run: None,
        mismatch: m.mismatch,
    }
    .text();
    if let Some(line) = m.not_run_line("") {
        out.push_str(&line);
        out.push('\n');
    }
    let missing = if a.require_situations {
        crate::outcome::missing_lines(&[(format!("variant={}", m.variant.name()), &m.outcome())])
    } else {
        Vec::new()
    };
    for line in &missing {
        out.push_str(line);
        out.push('\n');
    }
    print_out(&out);
    let code = crate::situations::gate_code(code(&[&m]), !missing.is_empty());
    Ok(crate::output::finish(code, &errors))
}

fn code(ms: &[&Part]) -> i32 {
    let bad = ms
        .iter()
        .any(|m| !m.totals.violations.is_empty() || m.mismatch.is_some());
    i32::from(bad)
}

/// The top-level fields of a merged report or sweep, from its merged rows.
fn merged_top(first: &Value, rows: &[&Part]) -> Value {
    let mut top = first.clone();
    let asked = union(rows.iter().flat_map(|m| m.asked.clone()).collect());
    top["seeds"] = json!(ranges_text(&asked));
    top["shard"] = Value::Null;
    top["interrupted"] = json!(rows.iter().any(|m| m.interrupted));
    top["complete"] = json!(rows.iter().all(|m| m.not_run.is_empty()));
    top["merged_from"] = json!(rows.first().map(|m| m.files.len()).unwrap_or(0));
    top
}

/// The rows of a report (its variants, by name) or a sweep (its values).
fn table_rows(d: &Value, sweep: bool) -> Vec<(String, Value)> {
    if sweep {
        d["values"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .map(|r| (r["value"].as_str().unwrap_or("").to_string(), r.clone()))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        // A JSON object's keys come back sorted by name: the table shows the variants
        // in the report's own order (Variant::ALL), the one `report` prints.
        let mut rows: Vec<(String, Value)> = d["variants"]
            .as_object()
            .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        rows.sort_by_key(|(name, _)| {
            crate::scenario::Variant::ALL
                .iter()
                .position(|v| v.name() == name)
                .unwrap_or(usize::MAX)
        });
        rows
    }
}

/// Merges report summaries (`sweep` false) or sweep summaries, row by row.
fn merge_table(a: &MergeArgs, docs: &[(String, Value)], sweep: bool) -> Result<i32, String> {
    let shared: &[&str] = if sweep {
        &[
            "variant",
            "nodes",
            "profile",
            "zk",
            "pause_monitor",
            "option",
        ]
    } else {
        &["nodes", "profile", "zk", "pause_monitor"]
    };
    same_top(docs, shared)?;
    let merged: Vec<(String, Part)> = rows(docs, &|d| table_rows(d, sweep))?
        .into_iter()
        .map(|(l, parts)| Ok((l, merge_parts(parts)?)))
        .collect::<Result<_, String>>()?;
    let ms: Vec<&Part> = merged.iter().map(|(_, m)| m).collect();
    let labels: Vec<String> = merged.iter().map(|(l, _)| l.clone()).collect();
    let mut top = merged_top(&docs[0].1, &ms);
    let corner = if sweep {
        let name = docs[0].1["option"].as_str().unwrap_or("option").to_string();
        let rows = merged.iter().map(|(l, m)| {
            let mut d = m.json();
            d["value"] = json!(l);
            d
        });
        top["values"] = Value::Array(rows.collect());
        name
    } else {
        let rows = merged.iter().map(|(l, m)| (l.clone(), m.json()));
        top["variants"] = Value::Object(rows.collect());
        "variant".to_string()
    };
    let mut errors = write_json(&a.json, &top);
    let outcomes: Vec<Outcome> = ms.iter().map(|m| m.outcome()).collect();
    let table = side_by_side(&corner, &labels, &outcomes);
    let row_label = |l: &str, o: &Outcome| match sweep {
        true => format!("variant={} {corner}={l}", o.variant.name()),
        false => format!("variant={l}"),
    };
    let labelled: Vec<(String, &Outcome)> = labels
        .iter()
        .zip(&outcomes)
        .map(|(l, o)| (row_label(l, o), o))
        .collect();
    let (first, seeds) = (ms[0], top["seeds"].as_str().unwrap_or(""));
    let mut failures = failure_lines(&labelled, first.nodes, first.zk);
    for ((label, _), m) in labelled.iter().zip(&ms) {
        failures.extend(m.not_run_line(&format!("{label}: ")));
    }
    let missing = if a.require_situations {
        crate::outcome::missing_lines(&labelled)
    } else {
        Vec::new()
    };
    failures.extend(missing.iter().cloned());
    let from = format!("merged from {} file(s)", docs.len());
    let (profile, nodes) = (first.spec.profile, first.nodes);
    let (title, page) = if sweep {
        let title = format!(
            "sweep ({from}): variant={} nodes={nodes} seeds={seeds} profile={} option={corner}",
            first.variant.name(),
            profile.name()
        );
        let page =
            crate::html::sweep_page(&title, &[], &corner, &labels, &table, &failures, &outcomes)?;
        (title, page)
    } else {
        let note = same_seeds_note(profile);
        let title = format!(
            "report ({from}): nodes={nodes} seeds={seeds} profile={}",
            profile.name()
        );
        let page = crate::html::report_page(&title, note, &table, &failures, &outcomes)?;
        (format!("{title} ({note})"), page)
    };
    if let Some(p) = &a.html {
        errors.extend(write_file(p, "--html", &page).err());
    }
    print_table(&title, &table, &failures, &ms);
    let code = crate::situations::gate_code(code(&ms), !missing.is_empty());
    Ok(crate::output::finish(code, &errors))
}

fn print_table(title: &str, table: &crate::outcome::Table, failures: &[String], ms: &[&Part]) {
    let mut out = format!("{title}\n");
    out.push_str(&table.text());
    for f in failures {
        out.push_str(f);
        out.push('\n');
    }
    let bad: usize = ms.iter().map(|m| m.totals.violations.len()).sum();
    out.push_str(&format!("{bad} violation(s)\n"));
    print_out(&out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_join_and_subtract() {
        assert_eq!(
            union(vec![(5, 9), (0, 3), (3, 5), (20, 30), (25, 26)]),
            vec![(0, 9), (20, 30)]
        );
        assert_eq!(
            difference(&[(0, 100)], &[(10, 20), (30, 40)]),
            vec![(0, 10), (20, 30), (40, 100)]
        );
        assert_eq!(difference(&[(0, 10)], &[(0, 10)]), vec![]);
        assert_eq!(
            parse_ranges("0..10,20..30").unwrap(),
            vec![(0, 10), (20, 30)]
        );
        assert_eq!(ranges_text(&[(0, 10), (5, 5), (20, 30)]), "0..10,20..30");
        assert!(parse_ranges("5..2").is_err());
        assert!(parse_ranges("x").is_err());
    }
}
