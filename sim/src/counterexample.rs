//! The counterexample of a failing replay as text: every fault, the last events that
//! matter before the violation, and each node's status at the start of that window and
//! at the violation, printed from the run's [`Recording`] (`zkwal_model::timeline`).

use std::fmt::Write as _;

use crate::scenario::Scenario;
use crate::timeline::{clip, Lane, NodeStatus, Recorded, Recording, What};
use crate::world::RunResult;

/// How long the text timeline gets.
#[derive(Clone, Copy, Debug)]
pub struct TimelineLimits {
    /// Events shown before the violation.
    pub last_events: usize,
    /// Faults listed (the first ones; a count of the rest).
    pub max_faults: usize,
}

impl Default for TimelineLimits {
    fn default() -> Self {
        TimelineLimits {
            last_events: 40,
            max_faults: 40,
        }
    }
}

/// The text counterexample of a failing replay: faults, the last events before the
/// violation, per-node status lines at the start of that window and at the violation,
/// and the offending operations of a client-history verdict.
pub fn render(rec: &Recording, sc: &Scenario, r: &RunResult, lim: TimelineLimits) -> String {
    let mut out = String::new();
    let Some(v) = &r.violation else {
        return "verdict: pass (no counterexample)\n".into();
    };
    let _ = writeln!(
        out,
        "counterexample: variant {}, {} nodes, seed {}: {} at {} ms",
        sc.variant.name(),
        sc.nodes,
        sc.seed,
        v.invariant,
        v.virtual_time_ms
    );
    let faults: Vec<&Recorded> = rec
        .major
        .iter()
        .filter(|e| matches!(e.what, What::Fault { .. }))
        .collect();
    let _ = writeln!(
        out,
        "faults fired: {} (of {} scheduled)",
        faults.len(),
        sc.faults.len()
    );
    for e in faults.iter().take(lim.max_faults) {
        let _ = writeln!(out, "{}", line(e));
    }
    if faults.len() > lim.max_faults {
        let _ = writeln!(out, "  ... {} more", faults.len() - lim.max_faults);
    }
    let printed: Vec<&Recorded> = rec
        .all_events()
        .into_iter()
        .filter(|e| e.what.printed() && !matches!(e.what, What::Fault { .. }))
        .collect();
    let start = printed.len().saturating_sub(lim.last_events);
    let window = &printed[start..];
    let window_seq = window.first().map_or(u64::MAX, |e| e.seq);
    let _ = writeln!(
        out,
        "last {} of {} events{}:",
        window.len(),
        printed.len(),
        if rec.events_dropped > 0 {
            format!(" (the {} earliest were not kept)", rec.events_dropped)
        } else {
            String::new()
        }
    );
    if let Some(first) = window.first() {
        let _ = writeln!(out, "status before {} ms:", first.at_ms);
        out.push_str(&status_lines(&status_at(rec, window_seq)));
    }
    for e in window {
        let _ = writeln!(out, "{}", line(e));
    }
    if rec.violation_event().is_none() {
        let _ = writeln!(
            out,
            "  t={:>6} ms  VIOLATION {}: {}",
            v.virtual_time_ms,
            v.invariant,
            clip(v.detail.clone(), 300)
        );
    }
    let _ = writeln!(out, "status at the violation ({} ms):", v.virtual_time_ms);
    out.push_str(&status_lines(&status_at(rec, u64::MAX)));
    if let Some(a) = &rec.anomaly {
        let _ = writeln!(out, "offending operations on key {}:", a.key);
        for op in a.ops.iter().take(12) {
            let _ = writeln!(out, "  {op}");
        }
    }
    out
}

/// Each node's status as recorded before event `seq` (None: nothing recorded yet).
pub fn status_at(rec: &Recording, seq: u64) -> Vec<Option<NodeStatus>> {
    let mut st = vec![None; rec.nodes as usize];
    for e in rec.all_events() {
        if e.seq >= seq {
            break;
        }
        let Some(Lane::Node(n)) = e.lane else {
            continue;
        };
        match &e.what {
            What::Role { status } | What::Status { status } => st[n as usize] = Some(*status),
            What::Down { .. } => st[n as usize] = Some(NodeStatus::DOWN),
            _ => {}
        }
    }
    st
}

fn status_lines(st: &[Option<NodeStatus>]) -> String {
    let mut out = String::new();
    for (n, s) in st.iter().enumerate() {
        let _ = match s {
            None => writeln!(out, "  n{n}  (no status recorded)"),
            Some(s) if s.role == "down" => writeln!(out, "  n{n}  down"),
            Some(s) => writeln!(
                out,
                "  n{n}  {:<10} term {:<3} epoch {:<3} commit {:<4} last {:<4} applied {:<4}{}",
                s.role,
                s.term,
                s.epoch,
                s.commit,
                s.last,
                s.applied,
                s.session.map_or(String::new(), |z| format!(" zk {z}"))
            ),
        };
    }
    out
}

/// One timeline line: time, lane, what happened.
pub fn line(e: &Recorded) -> String {
    let lane = e.lane.map_or("--".to_string(), |l| l.to_string());
    let text = describe(&e.what);
    format!("  t={:>6} ms  {lane:<4} {}", e.at_ms, clip(text, 160))
}

/// What an event says, in words.
pub fn describe(w: &What) -> String {
    match w {
        What::Fault { idx, text, .. } => format!("FAULT #{idx} {text}"),
        What::Down { wipe, lost } => format!(
            "{} ({lost} unsynced writes lost)",
            if *wipe {
                "wiped (blank disk)"
            } else {
                "crashed"
            }
        ),
        What::Up => "restarted".into(),
        What::Heal => "heal: faults stop".into(),
        What::Role { status } => format!(
            "is {} in term {} (epoch {}, commit {}, last {})",
            status.role, status.term, status.epoch, status.commit, status.last
        ),
        What::Status { status } => format!(
            "commit {} last {} applied {}",
            status.commit, status.last, status.applied
        ),
        What::Raft { text } | What::Wal { text, .. } | What::Session { text } => text.clone(),
        What::Watch { count } => format!("{count} ZooKeeper watch event(s)"),
        What::Violation { invariant, detail } => format!("VIOLATION {invariant}: {detail}"),
    }
}
