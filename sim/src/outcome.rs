//! One range of seeds as the commands show it: its [`Outcome`], the JSON summary of
//! `run --json` and of each range in `report`/`sweep` ([`run_json`]), the one-line
//! figures of `run`, violations grouped by invariant with their replay commands, and the
//! side-by-side [`Table`] that `report`, `sweep` and `merge` print (and `html` draws).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};

use crate::metrics::{Figures, Quantiles, Summary};
use crate::profile::{replay_command, Spec};
use crate::runner::Totals;
use crate::scenario::Variant;
use crate::situations::{Situation, SituationTotals};

/// One range of seeds run for one variant (and, in a sweep, one value).
pub struct Outcome {
    pub variant: Variant,
    /// Group size and ZooKeeper (which situations the target can reach).
    pub nodes: u32,
    pub zk: bool,
    pub spec: Spec,
    pub totals: Totals,
    pub secs: f64,
    /// Seeds `start..done_end` ran: the whole range unless interrupted.
    pub done_end: u64,
    /// Stopped by Ctrl-C before the end of its range.
    pub interrupted: bool,
}

/// Violations grouped by invariant: how many seeds, the first, its replay command.
#[derive(Clone, Debug, Serialize)]
pub struct InvariantViolations {
    pub seeds: u64,
    pub first_seed: u64,
    pub replay: String,
}

pub fn by_invariant(
    totals: &Totals,
    variant: Variant,
    nodes: u32,
    zk: bool,
    spec: &Spec,
) -> BTreeMap<String, InvariantViolations> {
    let mut out: BTreeMap<String, InvariantViolations> = BTreeMap::new();
    for v in &totals.violations {
        out.entry(v.invariant.clone())
            .and_modify(|e| {
                e.seeds += 1;
                if v.seed < e.first_seed {
                    e.first_seed = v.seed;
                    e.replay = replay_command(variant, nodes, v.seed, zk, spec);
                }
            })
            .or_insert_with(|| InvariantViolations {
                seeds: 1,
                first_seed: v.seed,
                replay: replay_command(variant, nodes, v.seed, zk, spec),
            });
    }
    out
}

/// The JSON summary of one range of seeds: the fields of `run --json`, the figures
/// (`unavailability_ms`, `failovers`, `availability`, ...; see `metrics::Summary`),
/// `violations_by_invariant`, and `figures_aggregate` (the whole [`Figures`],
/// histograms included, which `merge` adds up exactly). The callers add which seeds
/// ran (`batch::RangeInfo::annotate`).
#[allow(clippy::too_many_arguments)]
pub fn run_json(
    variant: Variant,
    nodes: u32,
    start: u64,
    end: u64,
    zk: bool,
    spec: &Spec,
    totals: &Totals,
    secs: f64,
) -> Value {
    let faults: serde_json::Map<String, Value> = totals
        .faults
        .iter()
        .map(|(k, n)| (k.to_string(), json!(n)))
        .collect();
    let mut doc = json!({
        "variant": variant.name(),
        "nodes": nodes,
        "seeds": format!("{start}..{end}"),
        "profile": spec.profile.name(),
        "options_set": spec.sets.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>(),
        "zk": zk,
        "pause_monitor": spec.pause_monitor,
        "seeds_run": totals.seeds_run,
        "violations": totals.violations,
        "seeds_per_sec": totals.seeds_run as f64 / secs,
        "events": totals.events,
        "events_per_sec": totals.events as f64 / secs,
        "elapsed_s": secs,
        "virtual_time_ms": totals.virtual_time_ms,
        "busiest_seed": {"seed": totals.busiest_seed.0, "events": totals.busiest_seed.1},
        "ops": {"ok": totals.ops_ok, "failed": totals.ops_failed, "indeterminate": totals.ops_indeterminate},
        "faults": faults,
        "violations_by_invariant": by_invariant(totals, variant, nodes, zk, spec),
        "figures_aggregate": totals.figures,
        "situations": totals.situations.to_json(variant, nodes, zk, spec),
        "zkwal_sim_version": env!("CARGO_PKG_VERSION"),
    });
    let figures = serde_json::to_value(totals.figures.summary()).expect("plain data");
    if let (Value::Object(d), Value::Object(f)) = (&mut doc, figures) {
        d.extend(f);
    }
    doc
}

fn q3(q: Quantiles) -> String {
    let f = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
    if q.max.is_none() {
        return "-".into();
    }
    format!("{} / {} / {}", f(q.p50), f(q.p99), f(q.max))
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |a| format!("{:.3}%", 100.0 * a))
}

fn latency(s: &Summary) -> String {
    match (s.write_latency_ms.p50, s.write_latency_ms.p99) {
        (Some(a), Some(b)) => format!("{a} / {b}"),
        _ => "-".into(),
    }
}

fn num(v: Option<f64>) -> String {
    v.map_or("-".into(), |x| format!("{x:.1}"))
}

/// The figures of one range as one line (for `run`).
pub fn figures_line(f: &Figures) -> String {
    let s = f.summary();
    format!(
        "figures: failovers={} unavailability p50/p99/max ms={} availability={} write latency p50/p99 ms={} zk ops/write={} zk bytes/write={} zk bytes max={} total losses={} recovery p50/p99/max ms={} availability ceiling={} efficiency={} snapshots published={} zk oversize requests={}",
        s.failovers,
        q3(s.unavailability_ms),
        pct(s.availability),
        latency(&s),
        num(s.zk_ops_per_write),
        num(s.zk_bytes_per_write),
        s.zk_bytes_max.map_or("-".into(), |b| b.to_string()),
        s.total_losses,
        q3(s.total_loss_recovery_ms),
        pct(s.availability_ceiling),
        pct(s.availability_efficiency),
        s.snapshots_published.map_or("-".into(), |b| b.to_string()),
        s.zk_oversize_requests.map_or("-".into(), |b| b.to_string()),
    ) + &phases_text(&s)
}

/// Each failover phase as ` phase NAME p50/p99/max ms=A / B / C (share S)`.
fn phases_text(s: &Summary) -> String {
    crate::phases::NAMES
        .iter()
        .zip(s.failover_phases_ms.values())
        .map(|(n, p)| {
            format!(
                " phase {n} p50/p99/max ms={} ({} of all)",
                q3(p.quantiles),
                pct1(p.share)
            )
        })
        .collect()
}

fn pct1(v: Option<f64>) -> String {
    v.map_or("-".into(), |a| format!("{:.1}%", 100.0 * a))
}

/// One table row per failover phase (`phases.rs`): p50 / p99 / max and its share of
/// all the failovers' unavailability.
fn phase_cells(s: &Summary) -> Vec<(&'static str, String)> {
    const LABELS: [&str; 7] = [
        "  phase no node could serve p50 / p99 / max ms (share)",
        "  phase before fault p50 / p99 / max ms (share)",
        "  phase detection p50 / p99 / max ms (share)",
        "  phase takeover p50 / p99 / max ms (share)",
        "  phase election p50 / p99 / max ms (share)",
        "  phase client retry p50 / p99 / max ms (share)",
        "  phase first commit p50 / p99 / max ms (share)",
    ];
    LABELS
        .iter()
        .zip(s.failover_phases_ms.values())
        .map(|(l, p)| (*l, format!("{} ({})", q3(p.quantiles), pct1(p.share))))
        .collect()
}

/// A table: a header row and rows of cells (text and HTML are drawn from it).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Aligned columns: the first left-aligned, the others right-aligned.
    pub fn text(&self) -> String {
        let cols = self.header.len();
        let mut width = vec![0; cols];
        for row in std::iter::once(&self.header).chain(&self.rows) {
            for (i, c) in row.iter().enumerate().take(cols) {
                width[i] = width[i].max(c.chars().count());
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (i, c) in row.iter().enumerate().take(cols) {
                if i == 0 {
                    line.push_str(&format!("{c:<w$}", w = width[i]));
                } else {
                    line.push_str(&format!("  {c:>w$}", w = width[i]));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// The figures rows of an outcome, in table order, with their labels; then one row
/// per named situation: the seeds that reached it (`-`: this target cannot).
fn figure_cells(o: &Outcome) -> Vec<(std::borrow::Cow<'static, str>, String)> {
    let t = &o.totals;
    let s = t.figures.summary();
    vec![
        ("seeds run", t.seeds_run.to_string()),
        ("violations (seeds)", t.violations.len().to_string()),
        (
            "seeds measured (no violation)",
            s.seeds_measured.to_string(),
        ),
        ("failovers", s.failovers.to_string()),
        ("unavailability p50 / p99 / max ms", q3(s.unavailability_ms)),
        ("availability", pct(s.availability)),
        ("availability ceiling", pct(s.availability_ceiling)),
        ("availability efficiency", pct(s.availability_efficiency)),
        ("write latency p50 / p99 ms", latency(&s)),
        ("writes acknowledged", s.writes_acked.to_string()),
        ("zk ops per write", num(s.zk_ops_per_write)),
        ("zk bytes per write", num(s.zk_bytes_per_write)),
        (
            "zk bytes held at most",
            s.zk_bytes_max.map_or("-".into(), |b| b.to_string()),
        ),
        ("total losses", s.total_losses.to_string()),
        (
            "total-loss recovery p50 / p99 / max ms",
            q3(s.total_loss_recovery_ms),
        ),
        (
            "  of which after a return p50 / p99 / max",
            q3(s.total_loss_return_to_write_ms),
        ),
        ("leader changes", s.leader_changes.to_string()),
        (
            "client ops ok / failed / indeterminate",
            format!("{} / {} / {}", t.ops_ok, t.ops_failed, t.ops_indeterminate),
        ),
        ("seeds/s", format!("{:.0}", t.seeds_run as f64 / o.secs)),
    ]
    .into_iter()
    .chain(phase_cells(&s))
    .map(|(l, c)| (std::borrow::Cow::Borrowed(l), c))
    .chain(crate::situations::Situation::ALL.into_iter().map(|s| {
        let r = t.situations.get(s);
        let reachable = s.reachable(o.variant.wal_variant(), o.nodes, o.zk);
        let cell = if reachable || r.seeds > 0 {
            r.seeds.to_string()
        } else {
            "-".into()
        };
        (
            std::borrow::Cow::Owned(format!("seeds reaching {} ({})", s.name(), s.question())),
            cell,
        )
    }))
    .collect()
}

/// Outcomes as columns (headed by `labels`), figures as rows; `corner` heads the
/// column of figure names.
pub(crate) fn side_by_side(corner: &str, labels: &[String], outcomes: &[Outcome]) -> Table {
    let mut header = vec![corner.to_string()];
    header.extend(labels.iter().cloned());
    let cells: Vec<Vec<(std::borrow::Cow<str>, String)>> =
        outcomes.iter().map(figure_cells).collect();
    let rows = (0..cells.first().map_or(0, Vec::len))
        .map(|r| {
            let mut row = vec![cells[0][r].0.to_string()];
            row.extend(cells.iter().map(|c| c[r].1.clone()));
            row
        })
        .collect();
    Table { header, rows }
}

/// With `--require-situations`: one line per (outcome, situation it can reach that no
/// seed reached), `MISSING situation=... LABEL ...`.
pub(crate) fn missing_lines(outcomes: &[(String, &Outcome)]) -> Vec<String> {
    let mut out = Vec::new();
    for (label, o) in outcomes {
        out.extend(crate::situations::missing_lines(
            &o.totals.situations,
            label,
            o.variant,
            o.nodes,
            o.zk,
            o.totals.seeds_run,
        ));
    }
    out
}

/// One line per (outcome, invariant): `FAIL ... replay: ...`.
pub(crate) fn failure_lines(outcomes: &[(String, &Outcome)], nodes: u32, zk: bool) -> Vec<String> {
    let mut out = Vec::new();
    for (label, o) in outcomes {
        for (inv, v) in by_invariant(&o.totals, o.variant, nodes, zk, &o.spec) {
            out.push(format!(
                "FAIL {label} invariant={inv} seeds={} first seed={} replay: {}",
                v.seeds, v.first_seed, v.replay
            ));
        }
    }
    out
}

/// The named situations as a text table: one row per situation the target can reach
/// (or that was reached), then the first seeds' replay commands.
pub fn situations_text(
    totals: &SituationTotals,
    variant: Variant,
    nodes: u32,
    zk: bool,
    spec: &Spec,
) -> String {
    let mut t = Table {
        header: vec![
            "situation".into(),
            "question".into(),
            "seeds".into(),
            "occurrences".into(),
            "first seed".into(),
        ],
        rows: Vec::new(),
    };
    let mut replays = Vec::new();
    for s in Situation::ALL {
        let r = totals.get(s);
        let reachable = s.reachable(variant.wal_variant(), nodes, zk);
        if !reachable && r.seeds == 0 {
            continue;
        }
        t.rows.push(vec![
            s.name().into(),
            s.question().into(),
            r.seeds.to_string(),
            r.occurrences.to_string(),
            r.first_seed.map_or("-".into(), |f| f.to_string()),
        ]);
        if let Some(f) = r.first_seed {
            replays.push(format!(
                "  {}: {}",
                s.name(),
                replay_command(variant, nodes, f, zk, spec)
            ));
        }
    }
    let mut out = String::from("situations reached (seeds that reached each; unreachable ones for this target not listed):\n");
    out.push_str(&t.text());
    if !replays.is_empty() {
        out.push_str("first seeds' replay commands:\n");
        for r in replays {
            out.push_str(&r);
            out.push('\n');
        }
    }
    out
}
