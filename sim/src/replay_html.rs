//! `replay --html FILE`: the recorded run as a self-contained page (no network, no
//! external script): a space-time diagram with one lane per node, per ZooKeeper
//! server and per client, messages as arrows, faults as bands, the violation as a red
//! line, details on hover (SVG `<title>`); and, for a client-history verdict, the
//! offending key's operations as bars on a time axis, as Porcupine draws them.
//!
//! Rust only computes coordinates; the page, its SVG elements included, comes from the
//! minijinja template `sim/templates/replay.html`.
//!
//! Time runs downwards and is compressed: each distinct instant gets a row, and a gap
//! between instants adds at most a little space, so that bursts stay readable and long
//! quiet stretches (a pause, a session timeout) do not leave the page empty.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use zkwal_invariants::history::{Op, OpKind, Outcome};

use crate::counterexample;
use crate::scenario::Scenario;
use crate::timeline::{self, Lane, Recording, What};
use crate::world::RunResult;

const TEMPLATE: &str = include_str!("../templates/replay.html");
/// At most this many messages are drawn (the latest before the violation).
pub const MAX_ARROWS: usize = 2_000;
const LANE_W: i64 = 110;
const LEFT: i64 = 90;
const TOP: i64 = 10;
const ROW: i64 = 12;
/// A gap of at least this many ms between two instants gets a visible break.
const BREAK_MS: u64 = 100;
const HIST_W: i64 = 1200;
const HIST_LEFT: i64 = 70;
const HIST_ROW: i64 = 26;

#[derive(Serialize)]
struct LaneView {
    x: i64,
    label: String,
    class: &'static str,
}

#[derive(Serialize)]
struct Tick {
    y: i64,
    label: String,
    gap: bool,
}

#[derive(Serialize)]
struct Arrow {
    x1: i64,
    y1: i64,
    x2: i64,
    y2: i64,
    class: &'static str,
    title: String,
}

#[derive(Serialize)]
struct Band {
    x: i64,
    y: i64,
    h: i64,
    class: &'static str,
    title: String,
}

#[derive(Serialize)]
struct Dot {
    x: i64,
    y: i64,
    class: &'static str,
    title: String,
}

#[derive(Serialize)]
struct Diagram {
    width: i64,
    height: i64,
    lanes: Vec<LaneView>,
    ticks: Vec<Tick>,
    arrows: Vec<Arrow>,
    bands: Vec<Band>,
    dots: Vec<Dot>,
    violation_y: Option<i64>,
    violation_label: String,
    /// Lanes of the nodes the violation names, marked at the violation.
    violation_x: Vec<i64>,
    note: String,
}

#[derive(Serialize)]
struct Bar {
    x: i64,
    y: i64,
    w: i64,
    class: String,
    label: String,
    title: String,
}

#[derive(Serialize)]
struct HistoryChart {
    key: u32,
    kind: String,
    width: i64,
    height: i64,
    rows: Vec<Tick>,
    axis: Vec<AxisTick>,
    bars: Vec<Bar>,
    explanation: String,
}

#[derive(Serialize)]
struct AxisTick {
    x: i64,
    label: String,
}

#[derive(Serialize)]
struct StatusRow {
    node: String,
    role: String,
    term: u64,
    epoch: u64,
    commit: u64,
    last: u64,
    applied: u64,
    session: String,
}

#[derive(Serialize)]
struct Page {
    title: String,
    verdict: String,
    violation: Option<String>,
    replay: String,
    diagram: Diagram,
    history: Option<HistoryChart>,
    status: Vec<StatusRow>,
    timeline: String,
}

/// Writes the page of a recorded replay to `path`.
pub fn write(path: &Path, rec: &Recording, sc: &Scenario, r: &RunResult) -> Result<(), String> {
    let html = render(rec, sc, r)?;
    crate::output::write_file(path, "--html", &html)
}

/// The page of a recorded replay.
pub fn render(rec: &Recording, sc: &Scenario, r: &RunResult) -> Result<String, String> {
    let verdict = match &r.violation {
        None => "pass".to_string(),
        Some(v) => format!("FAIL {} at {} ms", v.invariant, v.virtual_time_ms),
    };
    let page = Page {
        title: format!(
            "{} · {} nodes · seed {}",
            sc.variant.name(),
            sc.nodes,
            sc.seed
        ),
        verdict,
        violation: r.violation.as_ref().map(|v| v.detail.clone()),
        replay: format!(
            "zkwal-sim replay --scenario FILE  ({} faults, {} client operations, {} events, {} ms virtual)",
            sc.faults.len(),
            sc.clients.iter().map(Vec::len).sum::<usize>(),
            r.events,
            r.virtual_time_ms
        ),
        diagram: diagram(rec, r),
        history: history_chart(rec),
        status: counterexample::status_at(rec, u64::MAX)
            .iter()
            .enumerate()
            .map(|(n, s)| status_row(n, s.as_ref()))
            .collect(),
        timeline: counterexample::render(rec, sc, r, Default::default()),
    };
    crate::html::render_template("replay.html", TEMPLATE, &page)
}

fn status_row(n: usize, s: Option<&timeline::NodeStatus>) -> StatusRow {
    let s = s.copied().unwrap_or(timeline::NodeStatus::DOWN);
    StatusRow {
        node: format!("n{n}"),
        role: s.role.into(),
        term: s.term,
        epoch: s.epoch,
        commit: s.commit,
        last: s.last,
        applied: s.applied,
        session: s.session.unwrap_or("-").into(),
    }
}

/// The lanes, left to right: nodes, ZooKeeper servers, clients (the last is the probe).
fn lanes(rec: &Recording) -> Vec<Lane> {
    let mut v: Vec<Lane> = (0..rec.nodes).map(Lane::Node).collect();
    v.extend((0..rec.zk_servers).map(Lane::Zk));
    v.extend((0..rec.clients).map(Lane::Client));
    v
}

/// Compressed time: one row per distinct instant, a little more across a gap.
struct TimeAxis {
    y: BTreeMap<u64, i64>,
}

impl TimeAxis {
    fn new(times: impl Iterator<Item = u64>) -> TimeAxis {
        let mut times: Vec<u64> = times.collect();
        times.sort_unstable();
        times.dedup();
        let mut y = BTreeMap::new();
        let mut at = TOP + ROW;
        let mut prev: Option<u64> = None;
        for t in times {
            if let Some(p) = prev {
                at += ROW + if t - p >= BREAK_MS { ROW } else { 0 };
            }
            y.insert(t, at);
            prev = Some(t);
        }
        TimeAxis { y }
    }

    /// The row of `t`, or of the nearest instant at or before it.
    fn at(&self, t: u64) -> i64 {
        self.y
            .range(..=t)
            .next_back()
            .or_else(|| self.y.iter().next())
            .map_or(TOP, |(_, y)| *y)
    }

    fn bottom(&self) -> i64 {
        self.y.values().next_back().copied().unwrap_or(TOP) + 3 * ROW
    }
}

/// The pauses of each lane, as (from, until) windows in virtual ms.
fn pause_windows(rec: &Recording) -> Vec<(Lane, u64, u64)> {
    rec.all_events()
        .into_iter()
        .filter_map(|e| match &e.what {
            What::Fault {
                lanes,
                until_ms: Some(until),
                holds_inputs: true,
                ..
            } => Some(lanes.iter().map(move |l| (*l, e.at_ms, *until))),
            _ => None,
        })
        .flatten()
        .collect()
}

/// When a message that arrives at `to` at `at` is handled: a paused process handles
/// nothing until its pause ends (the world defers its inputs), and pauses may follow
/// one another, so the windows are applied until none holds it (at most once each).
fn handled_at(windows: &[(Lane, u64, u64)], to: Lane, at: u64) -> u64 {
    let mut t = at;
    for _ in 0..windows.len() {
        match windows
            .iter()
            .find(|(l, from, until)| *l == to && *from <= t && t < *until)
        {
            Some((_, _, until)) => t = *until,
            None => break,
        }
    }
    t
}

fn diagram(rec: &Recording, r: &RunResult) -> Diagram {
    let lanes = lanes(rec);
    let x_of = |l: Lane| {
        let i = lanes.iter().position(|x| *x == l).unwrap_or(0) as i64;
        LEFT + LANE_W / 2 + i * LANE_W
    };
    let v_event = rec.violation_event();
    let v_seq = v_event.map_or(u64::MAX, |e| e.seq);
    let v_ms = r
        .violation
        .as_ref()
        .map(|v| v.virtual_time_ms)
        .or(v_event.map(|e| e.at_ms))
        .unwrap_or(r.virtual_time_ms);
    let before: Vec<&timeline::Message> = rec.messages.iter().filter(|m| m.seq < v_seq).collect();
    let drawn = &before[before.len().saturating_sub(MAX_ARROWS)..];
    let t0 = drawn
        .first()
        .map_or(0, |m| m.at_ms)
        .min(rec.major.first().map_or(u64::MAX, |e| e.at_ms));
    let events: Vec<&timeline::Recorded> = rec
        .all_events()
        .into_iter()
        .filter(|e| e.at_ms >= t0 && e.seq <= v_seq && !matches!(e.what, What::Status { .. }))
        .collect();
    let clip = |t: u64| t.clamp(t0, v_ms);
    let held = pause_windows(rec);
    let handled = |to: Lane, at: u64| handled_at(&held, to, at);
    let mut times: Vec<u64> = vec![t0, v_ms];
    for m in drawn {
        times.push(m.at_ms);
        times.extend(m.arrive_ms.map(|a| clip(handled(m.to, a))));
        times.extend(m.again_ms.map(|a| clip(handled(m.to, a))));
    }
    for e in &events {
        times.push(e.at_ms);
        if let What::Fault {
            until_ms: Some(u), ..
        } = e.what
        {
            times.push(clip(u));
        }
    }
    let axis = TimeAxis::new(times.into_iter());
    let y = |t: u64| axis.at(t);
    let mut arrows = Vec::new();
    for m in drawn {
        let (x1, y1, x2) = (x_of(m.from), y(m.at_ms), x_of(m.to));
        let title = format!(
            "{} ms {} -> {}: {}{}",
            m.at_ms,
            m.from,
            m.to,
            m.label,
            match (m.arrive_ms, m.again_ms) {
                (None, _) => " (dropped)".to_string(),
                (Some(a), None) => format!(" (arrives {a} ms)"),
                (Some(a), Some(b)) => format!(" (arrives {a} ms and again {b} ms)"),
            }
        );
        let title = match m.arrive_ms.map(|a| (a, handled(m.to, a))) {
            Some((a, h)) if h > a => format!("{title}, held by a pause until {h} ms"),
            _ => title,
        };
        match m.arrive_ms {
            None => arrows.push(Arrow {
                x1,
                y1,
                x2: (x1 + x2) / 2,
                y2: y1 + ROW / 2,
                class: "dropped",
                title,
            }),
            Some(a) => {
                for at in std::iter::once(a).chain(m.again_ms) {
                    let at = handled(m.to, at);
                    let late = at > v_ms;
                    arrows.push(Arrow {
                        x1,
                        y1,
                        x2,
                        y2: y(clip(at)),
                        class: if late { "inflight" } else { m.class },
                        title: title.clone(),
                    });
                }
            }
        }
    }
    let mut bands = Vec::new();
    let mut dots = Vec::new();
    for e in &events {
        let title = format!("{} ms: {}", e.at_ms, counterexample::describe(&e.what));
        match &e.what {
            What::Fault {
                lanes: hit,
                until_ms,
                ..
            } => {
                let y1 = y(e.at_ms);
                let y2 = until_ms.map_or(y1 + ROW, |u| y(clip(u)).max(y1 + ROW / 2));
                for l in hit {
                    bands.push(Band {
                        x: x_of(*l) - 9,
                        y: y1,
                        h: y2 - y1,
                        class: "fault",
                        title: title.clone(),
                    });
                }
                dots.push(Dot {
                    x: LEFT - 6,
                    y: y1,
                    class: "faultmark",
                    title,
                });
            }
            What::Violation { .. } => {}
            What::Heal => dots.push(Dot {
                x: LEFT - 6,
                y: y(e.at_ms),
                class: "heal",
                title,
            }),
            // The service's own notices (a session expired, its ephemerals deleted)
            // belong to the ensemble: a dot on each ZooKeeper lane.
            What::Session { .. } if e.lane.is_none() => {
                for l in lanes.iter().filter(|l| matches!(l, Lane::Zk(_))) {
                    dots.push(Dot {
                        x: x_of(*l),
                        y: y(e.at_ms),
                        class: "zkev",
                        title: title.clone(),
                    });
                }
            }
            w => {
                let Some(lane) = e.lane else { continue };
                let class = match w {
                    What::Down { .. } => "down",
                    What::Up => "up",
                    What::Role { status } if status.role == "Leader" => "leader",
                    What::Role { .. } => "role",
                    What::Wal { ack: true, .. } => "ack",
                    What::Wal { .. } => "wal",
                    What::Session { .. } | What::Watch { .. } => "zkev",
                    _ => "event",
                };
                dots.push(Dot {
                    x: x_of(lane),
                    y: y(e.at_ms),
                    class,
                    title,
                });
            }
        }
    }
    let mut ticks = Vec::new();
    let mut last_label_y: Option<i64> = None;
    let mut prev_t: Option<u64> = None;
    for (t, ty) in &axis.y {
        let gap = prev_t.is_some_and(|p| t - p >= BREAK_MS);
        if gap || last_label_y.is_none_or(|l| ty - l >= 3 * ROW) {
            ticks.push(Tick {
                y: *ty,
                label: format!("{t} ms"),
                gap,
            });
            last_label_y = Some(*ty);
        }
        prev_t = Some(*t);
    }
    let lane_views = lanes
        .iter()
        .map(|l| LaneView {
            x: x_of(*l),
            label: match l {
                Lane::Client(c) if *c + 1 == rec.clients => "probe".to_string(),
                other => other.to_string(),
            },
            class: match l {
                Lane::Node(_) => "node",
                Lane::Zk(_) => "zk",
                Lane::Client(_) => "client",
            },
        })
        .collect();
    let note = format!(
        "{} of {} messages drawn (the latest before the violation{}); hover over an arrow, band or dot for details.",
        drawn.len(),
        rec.messages_dropped as usize + rec.messages.len(),
        if rec.messages_dropped > 0 {
            format!("; the {} earliest were not recorded", rec.messages_dropped)
        } else {
            String::new()
        }
    );
    Diagram {
        width: LEFT + LANE_W * lanes.len() as i64 + 20,
        height: axis.bottom(),
        lanes: lane_views,
        ticks,
        arrows,
        bands,
        dots,
        violation_y: r.violation.as_ref().map(|_| y(v_ms)),
        violation_x: r.violation.as_ref().map_or(Vec::new(), |v| {
            named_nodes(&v.detail, rec.nodes)
                .into_iter()
                .map(|n| x_of(Lane::Node(n)))
                .collect()
        }),
        violation_label: r.violation.as_ref().map_or(String::new(), |v| {
            format!("{} at {} ms", v.invariant, v.virtual_time_ms)
        }),
        note,
    }
}

/// The nodes a violation's detail names ("node 1", "nodes 0 and 1", "n2"), in order.
fn named_nodes(detail: &str, nodes: u32) -> Vec<u32> {
    let words: Vec<&str> = detail
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let mut out = Vec::new();
    let mut add = |n: u32| {
        if n < nodes && !out.contains(&n) {
            out.push(n);
        }
    };
    for (i, w) in words.iter().enumerate() {
        if *w == "node" || *w == "nodes" {
            for x in words[i + 1..]
                .iter()
                .take_while(|x| x.parse::<u32>().is_ok() || **x == "and")
            {
                if let Ok(n) = x.parse() {
                    add(n);
                }
            }
        } else if let Some(n) = w.strip_prefix('n').and_then(|d| d.parse().ok()) {
            add(n);
        }
    }
    out
}

/// A value as `client.k` (values are `(client + 1) << 32 | k`).
fn short_value(v: u64) -> String {
    format!("{}.{}", (v >> 32).saturating_sub(1), v & 0xffff_ffff)
}

fn op_label(op: &Op) -> String {
    match &op.kind {
        OpKind::Append { value, .. } => format!("A {}", short_value(*value)),
        OpKind::Read {
            result: Some(list), ..
        } => {
            let shown: Vec<String> = list
                .iter()
                .rev()
                .take(3)
                .rev()
                .map(|v| short_value(*v))
                .collect();
            format!(
                "R [{}{}]",
                if list.len() > 3 { "…," } else { "" },
                shown.join(",")
            )
        }
        OpKind::Read { result: None, .. } => "R ?".into(),
    }
}

fn history_chart(rec: &Recording) -> Option<HistoryChart> {
    let a = rec.anomaly.as_ref()?;
    let ops: Vec<&Op> = rec
        .history
        .iter()
        .filter(|o| o.kind.key() == a.key)
        .collect();
    if ops.is_empty() {
        return None;
    }
    let t_min = ops.iter().map(|o| o.invoke_ms).min().unwrap_or(0);
    let t_max = ops
        .iter()
        .map(|o| o.complete_ms.max(o.invoke_ms + 1))
        .max()
        .unwrap_or(t_min + 1);
    let span = (t_max - t_min).max(1) as f64;
    let x = |t: u64| HIST_LEFT + ((t.saturating_sub(t_min)) as f64 / span * HIST_W as f64) as i64;
    let mut clients: Vec<u32> = ops.iter().map(|o| o.client).collect();
    clients.sort_unstable();
    clients.dedup();
    let row_y =
        |c: u32| TOP + 20 + clients.iter().position(|x| *x == c).unwrap_or(0) as i64 * HIST_ROW;
    let bars = ops
        .iter()
        .map(|o| {
            let offending = a.ops.contains(o);
            let outcome = match o.outcome {
                Outcome::Ok => "ok",
                Outcome::Failed => "failed",
                Outcome::Indeterminate => "indeterminate",
            };
            let x1 = x(o.invoke_ms);
            let x2 = if o.outcome == Outcome::Indeterminate {
                x(t_max)
            } else {
                x(o.complete_ms)
            };
            Bar {
                x: x1,
                y: row_y(o.client),
                w: (x2 - x1).max(3),
                class: format!("{outcome}{}", if offending { " offending" } else { "" }),
                label: op_label(o),
                title: format!("{o}{}", if offending { "  ← offending" } else { "" }),
            }
        })
        .collect();
    let rows = clients
        .iter()
        .map(|c| Tick {
            y: row_y(*c),
            label: format!("c{c}"),
            gap: false,
        })
        .collect();
    let axis = (0..=6)
        .map(|i| {
            let t = t_min + (t_max - t_min) * i / 6;
            AxisTick {
                x: x(t),
                label: format!("{t} ms"),
            }
        })
        .collect();
    Some(HistoryChart {
        key: a.key,
        kind: a.kind.name().into(),
        width: HIST_LEFT + HIST_W + 40,
        height: TOP + 20 + clients.len() as i64 * HIST_ROW + 30,
        rows,
        axis,
        bars,
        explanation: a.explanation.clone(),
    })
}
