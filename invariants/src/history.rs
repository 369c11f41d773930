//! Client-history checker: per-key linearizability of a list-append history.
//!
//! # Input model
//!
//! A [`History`] holds what clients did and saw: appends of a value to a key, and reads
//! that return a key's whole list, each with a client, virtual invocation and
//! completion times (ms) and an [`Outcome`]; plus the final state of each node after the
//! cluster healed. The checker trusts nothing else about the system under test.
//!
//! Preconditions (the simulator guarantees them; the checker does not verify them):
//! every append carries a value that is unique across the whole run; each client has
//! at most one operation outstanding. If a value is nevertheless appended by several
//! operations, the most permissive one is used (ok over indeterminate over failed,
//! then the earliest invocation).
//!
//! Semantics of outcomes:
//! * `Ok` append: applied exactly once at some instant in `[invoke_ms, complete_ms]`.
//! * `Failed` append: definitely never applied.
//! * `Indeterminate` append: applied at most once, at some instant `>= invoke_ms`;
//!   its effective completion is +infinity (`complete_ms` is only when the client gave up).
//! * `Ok` read with `Some(list)`: the key's list at some instant in its window.
//!   `Failed`/`Indeterminate` reads, and `Ok` reads without a result, carry no
//!   information and are ignored.
//! * Final states: every listed node state is an observation taken after every
//!   operation completed (invoked at +infinity). A node that has no entry for a key is
//!   taken to hold the empty list for it.
//!
//! Time comparisons are strict: `x` precedes `y` in real time only if
//! `x.complete_ms < y.invoke_ms`. Equal timestamps count as concurrent, because
//! virtual milliseconds are coarse and events inside one millisecond may be ordered
//! either way; this keeps every rule sound.
//!
//! # Algorithm (per key, `O(n log n + total length of all returned lists)`)
//!
//! List-append makes the order of effective appends visible: every read returns the
//! sequence of appends applied before it. So instead of searching for a linearization:
//!
//! 1. Take every ok read and every final state of the key as an *observation*, and
//!    let `L` be the longest one (first by invocation time, then node id, on ties).
//!    Every observation must be a prefix of `L`, otherwise **divergence**. `L` gives the
//!    version order: `pos(v)` is the index of `v`'s first occurrence in `L`. An
//!    observation that is a prefix of `L` ("consistent") contains `v` iff
//!    `pos(v) < len`.
//! 2. **duplicate**: a value occurs twice in an observation.
//! 3. **phantom**: an observed value that no client appended to this key, whose append
//!    failed definitely, or that a read returned although its append was invoked only
//!    after the read completed (the read saw a value nobody had appended yet).
//! 4. **lost_append**: an acknowledged append missing from some final state; or never
//!    seen in `L` although some read, or some append that *was* observed, began after
//!    it completed.
//! 5. **stale_read**: a consistent read that misses an acknowledged (and not lost)
//!    append that completed before the read began; or a consistent observation shorter
//!    than a read that completed before it began (this also covers indeterminate
//!    values that were seen and then disappeared). A final state that misses an
//!    acknowledged append is reported as lost_append instead.
//! 6. **real_time_order**: an acknowledged append `a` completed before append `b` was
//!    invoked, both are in `L`, but `pos(b) < pos(a)`.
//!
//! Rules 4-6 are answered with sorted arrays and prefix maxima plus binary search
//! (e.g. "largest `pos` among acknowledged appends that completed before time `t`"),
//! so no pair of operations is ever enumerated.
//!
//! # Soundness (no false alarms) and completeness
//!
//! Each rule is a necessary condition of a linearizable per-key history:
//! a linearizable key moves through append-only states, so all observations are
//! prefix-related (1) and hold each applied value once (2) and only values of applied
//! appends, applied after their invocation and before any read that shows them (3);
//! an acknowledged append takes effect before it completes, so it is in every state
//! observed later, in particular in every final state and in every list showing an
//! append that began later (4, 5); a read that completed before another began saw an
//! older state, which is never longer (5); and an append that completed before another
//! began takes effect first (6). The property tests check this on generated
//! linearizable histories.
//!
//! Conversely, when nothing is reported the key is linearizable: order the ops as
//! appends in `L` order, each read of length `k` between `L[k-1]` and `L[k]` (reads of
//! one length by invocation), unobserved acknowledged appends at the end, and drop
//! unobserved indeterminate and failed appends. Points inside intervals can be chosen
//! in a required order iff no op completes before an op required earlier is invoked;
//! rules 3-6 check exactly those pairs (append/append, append/read, read/append,
//! read/read).
//!
//! # Not checked
//!
//! * Anything across keys: no multi-key transactions, no cross-key real-time or
//!   causal order (each key is an independent linearizable register of lists).
//! * Uniqueness of appended values and the one-outstanding-op-per-client rule (input
//!   preconditions above).
//! * Observations on a divergent branch are only checked for divergence, duplicates
//!   and phantoms; final states are still checked for lost appends even if divergent.
//! * Final states are not compared with each other by length: they are all taken "at
//!   the end", concurrent with indeterminate appends, so a node that lacks only
//!   indeterminate values no read ever showed is accepted (acknowledged values must be
//!   on every listed node; values some read showed must be too).
//!
//! Reports are bounded: at most [`MAX_REPORTS_PER_KIND_PER_KEY`] anomalies per kind and
//! key; the last one then says how many more were found. Output is deterministic:
//! sorted by key, then kind, then discovery order, independent of hash seeds.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub type Key = u32;
/// Unique per append across the whole run.
pub type Value = u64;
pub type ClientId = u32;

/// How an operation ended, as the client saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Outcome {
    Ok,
    /// Definitely not applied.
    Failed,
    /// May or may not have been applied (timeout, connection loss...).
    Indeterminate,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpKind {
    Append {
        key: Key,
        value: Value,
    },
    /// `result` is `Some` only when the outcome is `Ok`.
    Read {
        key: Key,
        result: Option<Vec<Value>>,
    },
}

/// One client operation. For `Indeterminate` ops `complete_ms` is when the client gave
/// up; the append may take effect at any time after `invoke_ms`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    pub client: ClientId,
    pub invoke_ms: u64,
    pub complete_ms: u64,
    pub kind: OpKind,
    pub outcome: Outcome,
}

/// The operations of one run plus each node's final state after the cluster healed.
/// `ops` need not be sorted.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct History {
    pub ops: Vec<Op>,
    /// `(node id, key -> list)`.
    pub final_states: Vec<(u32, BTreeMap<Key, Vec<Value>>)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AnomalyKind {
    LostAppend,
    Duplicate,
    Divergence,
    StaleRead,
    Phantom,
    RealTimeOrder,
}

impl AnomalyKind {
    pub const ALL: [AnomalyKind; 6] = [
        AnomalyKind::LostAppend,
        AnomalyKind::Duplicate,
        AnomalyKind::Divergence,
        AnomalyKind::StaleRead,
        AnomalyKind::Phantom,
        AnomalyKind::RealTimeOrder,
    ];

    /// Stable snake_case name, used as the invariant name in CLI output.
    pub fn name(&self) -> &'static str {
        match self {
            AnomalyKind::LostAppend => "lost_append",
            AnomalyKind::Duplicate => "duplicate",
            AnomalyKind::Divergence => "divergence",
            AnomalyKind::StaleRead => "stale_read",
            AnomalyKind::Phantom => "phantom",
            AnomalyKind::RealTimeOrder => "real_time_order",
        }
    }
}

impl fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One violation: its kind, the key, the client operations involved and a short
/// explanation. Final states are not operations; they are named in the explanation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    pub key: Key,
    pub ops: Vec<Op>,
    pub explanation: String,
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} on key {}: {}", self.kind, self.key, self.explanation)?;
        if !self.ops.is_empty() {
            f.write_str(" | ops: ")?;
            for (i, op) in self.ops.iter().enumerate() {
                if i > 0 {
                    f.write_str("; ")?;
                }
                write!(f, "{op}")?;
            }
        }
        Ok(())
    }
}

fn outcome_str(o: Outcome) -> &'static str {
    match o {
        Outcome::Ok => "ok",
        Outcome::Failed => "failed",
        Outcome::Indeterminate => "indeterminate",
    }
}

/// Writes a list, eliding the middle of long ones.
fn write_list(f: &mut fmt::Formatter<'_>, list: &[Value]) -> fmt::Result {
    const EDGE: usize = 3;
    f.write_str("[")?;
    if list.len() <= 2 * EDGE + 1 {
        for (i, v) in list.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{v}")?;
        }
    } else {
        for v in &list[..EDGE] {
            write!(f, "{v}, ")?;
        }
        write!(f, "...{} more...", list.len() - 2 * EDGE)?;
        for v in &list[list.len() - EDGE..] {
            write!(f, ", {v}")?;
        }
    }
    f.write_str("]")
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "client {} ", self.client)?;
        match &self.kind {
            OpKind::Append { key, value } => write!(f, "append(key {key}, {value})")?,
            OpKind::Read { key, result } => {
                write!(f, "read(key {key})")?;
                if let Some(list) = result {
                    write!(f, " -> {} values ", list.len())?;
                    write_list(f, list)?;
                }
            }
        }
        write!(
            f,
            " @[{}..{}] {}",
            self.invoke_ms,
            self.complete_ms,
            outcome_str(self.outcome)
        )
    }
}

/// At most this many anomalies of one kind are reported per key.
pub const MAX_REPORTS_PER_KIND_PER_KEY: usize = 5;

const INF: u64 = u64::MAX;

/// Checks the history; an empty result means every key is linearizable (see the
/// module documentation for exactly what is and is not checked).
pub fn check(history: &History) -> Vec<Anomaly> {
    let ctx = Ctx::new(history);
    let mut out = Vec::new();
    for key in &ctx.keys {
        check_key(&ctx, *key, &mut out);
    }
    // Stable: within (key, kind) the discovery order is kept.
    out.sort_by_key(|a| (a.key, a.kind));
    out
}

/// Convenience: the distinct kinds found, in kind order.
pub fn kinds(anomalies: &[Anomaly]) -> BTreeSet<AnomalyKind> {
    anomalies.iter().map(|a| a.kind).collect()
}

struct Ctx<'a> {
    h: &'a History,
    /// value -> index of the (chosen) append op of that value. Lookups only.
    value_op: BTreeMap<Value, usize>,
    /// key -> effective append ops (index into `h.ops`).
    appends: BTreeMap<Key, Vec<usize>>,
    /// key -> ok reads with a result.
    reads: BTreeMap<Key, Vec<usize>>,
    keys: BTreeSet<Key>,
}

fn append_rank(op: &Op) -> u8 {
    match op.outcome {
        Outcome::Ok => 0,
        Outcome::Indeterminate => 1,
        Outcome::Failed => 2,
    }
}

impl<'a> Ctx<'a> {
    fn new(h: &'a History) -> Self {
        let mut value_op: BTreeMap<Value, usize> = BTreeMap::new();
        let mut reads: BTreeMap<Key, Vec<usize>> = BTreeMap::new();
        let mut keys = BTreeSet::new();
        for (i, op) in h.ops.iter().enumerate() {
            match &op.kind {
                OpKind::Append { key, value } => {
                    keys.insert(*key);
                    value_op
                        .entry(*value)
                        .and_modify(|j| {
                            let old = &h.ops[*j];
                            if (append_rank(op), op.invoke_ms, i)
                                < (append_rank(old), old.invoke_ms, *j)
                            {
                                *j = i;
                            }
                        })
                        .or_insert(i);
                }
                OpKind::Read { key, result } => {
                    keys.insert(*key);
                    if op.outcome == Outcome::Ok && result.is_some() {
                        reads.entry(*key).or_default().push(i);
                    }
                }
            }
        }
        let mut appends: BTreeMap<Key, Vec<usize>> = BTreeMap::new();
        for (i, op) in h.ops.iter().enumerate() {
            if let OpKind::Append { key, value } = op.kind {
                if value_op.get(&value) == Some(&i) {
                    appends.entry(key).or_default().push(i);
                }
            }
        }
        for (_, state) in &h.final_states {
            keys.extend(state.keys().copied());
        }
        Ctx {
            h,
            value_op,
            appends,
            reads,
            keys,
        }
    }

    fn op(&self, i: usize) -> &'a Op {
        &self.h.ops[i]
    }

    /// The append op of `v` if it is an append to `key` that was not definitely failed.
    fn valid_append(&self, key: Key, v: Value) -> Option<usize> {
        let &i = self.value_op.get(&v)?;
        let op = &self.h.ops[i];
        match op.kind {
            OpKind::Append { key: k, .. } if k == key && op.outcome != Outcome::Failed => Some(i),
            _ => None,
        }
    }

    /// Why an observed value `v` of `key` cannot have been applied, if it cannot.
    fn phantom_reason(&self, key: Key, v: Value) -> Option<(String, Option<usize>)> {
        let Some(&i) = self.value_op.get(&v) else {
            return Some(("no client ever appended it".to_string(), None));
        };
        let op = &self.h.ops[i];
        match op.kind {
            OpKind::Append { key: k, .. } if k != key => Some((
                format!("it was appended to key {k}, not to key {key}"),
                Some(i),
            )),
            _ if op.outcome == Outcome::Failed => {
                Some(("its append failed definitely".to_string(), Some(i)))
            }
            _ => None,
        }
    }
}

#[derive(Clone, Copy)]
enum Source {
    /// Index into `h.ops`.
    Read(usize),
    /// Index into `h.final_states`.
    Final(usize),
}

struct Obs<'a> {
    src: Source,
    inv: u64,
    comp: u64,
    list: &'a [Value],
}

impl Ctx<'_> {
    fn describe(&self, o: &Obs) -> String {
        match o.src {
            Source::Read(i) => {
                let op = self.op(i);
                format!(
                    "read by client {} @[{}..{}] ({} values)",
                    op.client,
                    op.invoke_ms,
                    op.complete_ms,
                    o.list.len()
                )
            }
            Source::Final(f) => format!(
                "final state of node {} ({} values)",
                self.h.final_states[f].0,
                o.list.len()
            ),
        }
    }

    fn describe_append(&self, i: usize) -> String {
        let op = self.op(i);
        let value = match op.kind {
            OpKind::Append { value, .. } => value,
            OpKind::Read { .. } => 0,
        };
        match op.outcome {
            Outcome::Ok => format!(
                "append of {value} by client {} (invoked {}, acknowledged {})",
                op.client, op.invoke_ms, op.complete_ms
            ),
            Outcome::Indeterminate => format!(
                "append of {value} by client {} (invoked {}, indeterminate)",
                op.client, op.invoke_ms
            ),
            Outcome::Failed => format!(
                "append of {value} by client {} (invoked {}, failed)",
                op.client, op.invoke_ms
            ),
        }
    }

    fn obs_ops(&self, o: &Obs) -> Vec<Op> {
        match o.src {
            Source::Read(i) => vec![self.op(i).clone()],
            Source::Final(_) => Vec::new(),
        }
    }
}

/// Collects anomalies of one key, keeping at most `MAX_REPORTS_PER_KIND_PER_KEY` per
/// kind and counting the rest.
struct Reporter {
    key: Key,
    found: BTreeMap<AnomalyKind, (Vec<Anomaly>, usize)>,
}

impl Reporter {
    fn new(key: Key) -> Self {
        Reporter {
            key,
            found: BTreeMap::new(),
        }
    }

    /// Records an anomaly; `make` is only called if it will be kept.
    fn report(&mut self, kind: AnomalyKind, make: impl FnOnce() -> (Vec<Op>, String)) {
        let entry = self.found.entry(kind).or_default();
        if entry.0.len() < MAX_REPORTS_PER_KIND_PER_KEY {
            let (ops, explanation) = make();
            entry.0.push(Anomaly {
                kind,
                key: self.key,
                ops,
                explanation,
            });
        } else {
            entry.1 += 1;
        }
    }

    fn finish(self, out: &mut Vec<Anomaly>) {
        for (kind, (mut list, more)) in self.found {
            if more > 0 {
                if let Some(last) = list.last_mut() {
                    last.explanation.push_str(&format!(
                        " (and {more} more {kind} anomalies on key {} not shown)",
                        self.key
                    ));
                }
            }
            out.extend(list);
        }
    }
}

/// Prefix maxima of `(value, payload)`: `out[i]` is the max over `items[..=i]`
/// (first maximum wins).
fn prefix_max(items: impl Iterator<Item = (usize, usize)>) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (v, p) in items {
        let next = match out.last() {
            Some(&(m, q)) if m >= v => (m, q),
            _ => (v, p),
        };
        out.push(next);
    }
    out
}

fn check_key(ctx: &Ctx, key: Key, out: &mut Vec<Anomaly>) {
    use AnomalyKind::*;
    let h = ctx.h;
    let mut rep = Reporter::new(key);
    let no_ops: Vec<usize> = Vec::new();
    let appends = ctx.appends.get(&key).unwrap_or(&no_ops);

    // ---- Observations: ok reads by invocation, then final states by node id.
    let mut read_ops: Vec<usize> = ctx.reads.get(&key).unwrap_or(&no_ops).clone();
    read_ops.sort_by_key(|&i| {
        let op = ctx.op(i);
        (op.invoke_ms, op.complete_ms, op.client, i)
    });
    let mut obs: Vec<Obs> = Vec::new();
    for i in read_ops {
        let op = ctx.op(i);
        if let OpKind::Read {
            result: Some(list), ..
        } = &op.kind
        {
            obs.push(Obs {
                src: Source::Read(i),
                inv: op.invoke_ms,
                comp: op.complete_ms,
                list,
            });
        }
    }
    let n_reads = obs.len();
    let mut finals: Vec<usize> = (0..h.final_states.len()).collect();
    finals.sort_by_key(|&f| (h.final_states[f].0, f));
    for f in finals {
        let list = h.final_states[f]
            .1
            .get(&key)
            .map(|v| v.as_slice())
            .unwrap_or(&[]);
        obs.push(Obs {
            src: Source::Final(f),
            inv: INF,
            comp: INF,
            list,
        });
    }

    // ---- 1. The reference order L and divergence.
    let mut l_idx = 0;
    for (i, o) in obs.iter().enumerate() {
        if o.list.len() > obs[l_idx].list.len() {
            l_idx = i;
        }
    }
    let l: &[Value] = obs.get(l_idx).map(|o| o.list).unwrap_or(&[]);
    let consistent: Vec<bool> = obs.iter().map(|o| l.starts_with(o.list)).collect();
    for (i, o) in obs.iter().enumerate() {
        if consistent[i] {
            continue;
        }
        rep.report(Divergence, || {
            let d = o
                .list
                .iter()
                .zip(l)
                .position(|(a, b)| a != b)
                .unwrap_or(o.list.len().min(l.len()));
            let mut ops = ctx.obs_ops(o);
            ops.extend(ctx.obs_ops(&obs[l_idx]));
            let expl = format!(
                "{} and {} are not prefix-related: at index {d} one has {} and the other {}",
                ctx.describe(o),
                ctx.describe(&obs[l_idx]),
                o.list[d],
                l[d]
            );
            (ops, expl)
        });
    }
    // The first consistent observation that shows index `p` of L.
    let first_showing = |p: usize| -> Option<&Obs> {
        obs.iter()
            .zip(&consistent)
            .find(|(o, &c)| c && o.list.len() > p)
            .map(|(o, _)| o)
    };

    // ---- Positions in L (first occurrence) and 2. duplicates.
    let mut pos: BTreeMap<Value, usize> = BTreeMap::new();
    let mut dup_reported: BTreeSet<Value> = BTreeSet::new();
    for (j, &v) in l.iter().enumerate() {
        if let Some(&first) = pos.get(&v) {
            if dup_reported.insert(v) {
                rep.report(Duplicate, || {
                    let w = first_showing(j).expect("L itself shows index j");
                    let mut ops = ctx.obs_ops(w);
                    if let Some(&a) = ctx.value_op.get(&v) {
                        ops.push(ctx.op(a).clone());
                    }
                    let expl = format!(
                        "value {v} appears twice in {}, at indexes {first} and {j}; \
                         an append must take effect at most once",
                        ctx.describe(w)
                    );
                    (ops, expl)
                });
            }
        } else {
            pos.insert(v, j);
        }
    }
    for (i, o) in obs.iter().enumerate() {
        if consistent[i] {
            continue;
        }
        let mut seen: BTreeMap<Value, usize> = BTreeMap::new();
        for (j, &v) in o.list.iter().enumerate() {
            if let Some(&first) = seen.get(&v) {
                if dup_reported.insert(v) {
                    rep.report(Duplicate, || {
                        let mut ops = ctx.obs_ops(o);
                        if let Some(&a) = ctx.value_op.get(&v) {
                            ops.push(ctx.op(a).clone());
                        }
                        let expl = format!(
                            "value {v} appears twice in {}, at indexes {first} and {j}; \
                             an append must take effect at most once",
                            ctx.describe(o)
                        );
                        (ops, expl)
                    });
                }
            } else {
                seen.insert(v, j);
            }
        }
    }

    // ---- 3. Phantoms: values that cannot have been applied to this key.
    let mut phantom_reported: BTreeSet<Value> = BTreeSet::new();
    for (j, &v) in l.iter().enumerate() {
        if pos.get(&v) != Some(&j) {
            continue;
        }
        if let Some((why, a)) = ctx.phantom_reason(key, v) {
            phantom_reported.insert(v);
            rep.report(Phantom, || {
                let w = first_showing(j).expect("L itself shows index j");
                let mut ops = ctx.obs_ops(w);
                ops.extend(a.map(|a| ctx.op(a).clone()));
                (
                    ops,
                    format!("{} shows value {v}, but {why}", ctx.describe(w)),
                )
            });
        }
    }
    for (i, o) in obs.iter().enumerate() {
        if consistent[i] {
            continue;
        }
        for &v in o.list {
            if pos.contains_key(&v) || phantom_reported.contains(&v) {
                continue;
            }
            if let Some((why, a)) = ctx.phantom_reason(key, v) {
                phantom_reported.insert(v);
                rep.report(Phantom, || {
                    let mut ops = ctx.obs_ops(o);
                    ops.extend(a.map(|a| ctx.op(a).clone()));
                    (
                        ops,
                        format!("{} shows value {v}, but {why}", ctx.describe(o)),
                    )
                });
            }
        }
    }
    // Reads from the future: a read shows a value whose append was invoked after the
    // read completed. Prefix max over L of append invocation times.
    let inv_prefix = prefix_max(l.iter().map(|&v| match ctx.valid_append(key, v) {
        Some(a) => (ctx.op(a).invoke_ms as usize, a),
        None => (0, usize::MAX),
    }));
    let future_expl = |o: &Obs, a: usize| -> (Vec<Op>, String) {
        let mut ops = ctx.obs_ops(o);
        ops.push(ctx.op(a).clone());
        let expl = format!(
            "{} completed at {} but shows the {}, which was invoked only after that: \
             no client had appended this value yet",
            ctx.describe(o),
            o.comp,
            ctx.describe_append(a)
        );
        (ops, expl)
    };
    for (i, o) in obs[..n_reads].iter().enumerate() {
        if consistent[i] {
            if let Some(&(inv, a)) = o.list.len().checked_sub(1).map(|k| &inv_prefix[k]) {
                if a != usize::MAX && inv as u64 > o.comp {
                    rep.report(Phantom, || future_expl(o, a));
                }
            }
        } else if let Some(a) = o
            .list
            .iter()
            .filter_map(|&v| ctx.valid_append(key, v))
            .find(|&a| ctx.op(a).invoke_ms > o.comp)
        {
            rep.report(Phantom, || future_expl(o, a));
        }
    }

    // ---- 4. Lost acknowledged appends.
    let mut acked: Vec<(usize, Value)> = appends
        .iter()
        .filter_map(|&a| match ctx.op(a) {
            Op {
                outcome: Outcome::Ok,
                kind: OpKind::Append { value, .. },
                ..
            } => Some((a, *value)),
            _ => None,
        })
        .collect();
    acked.sort_by_key(|&(a, _)| (ctx.op(a).complete_ms, ctx.op(a).invoke_ms, a));
    let final_obs: Vec<usize> = (n_reads..obs.len()).collect();
    let divergent_final_sets: BTreeMap<usize, BTreeSet<Value>> = final_obs
        .iter()
        .filter(|&&i| !consistent[i])
        .map(|&i| (i, obs[i].list.iter().copied().collect()))
        .collect();
    let max_read_inv = obs[..n_reads].iter().map(|o| o.inv).max();
    // The observed append (in L, valid) with the latest invocation.
    let latest_observed_append = l
        .iter()
        .enumerate()
        .filter_map(|(j, &v)| ctx.valid_append(key, v).map(|b| (b, j)))
        .max_by_key(|&(b, _)| (ctx.op(b).invoke_ms, std::cmp::Reverse(b)));
    let mut final_misses_acked = vec![false; obs.len()];
    let mut lost: BTreeSet<usize> = BTreeSet::new();
    for &(a, v) in &acked {
        let p = pos.get(&v).copied();
        let comp = ctx.op(a).complete_ms;
        let mut missing_nodes: Vec<u32> = Vec::new();
        for &fi in &final_obs {
            let has = match divergent_final_sets.get(&fi) {
                Some(set) => set.contains(&v),
                None => p.is_some_and(|p| p < obs[fi].list.len()),
            };
            if !has {
                final_misses_acked[fi] = true;
                if let Source::Final(f) = obs[fi].src {
                    missing_nodes.push(h.final_states[f].0);
                }
            }
        }
        if !missing_nodes.is_empty() {
            lost.insert(a);
            rep.report(LostAppend, || {
                let nodes: Vec<String> = missing_nodes.iter().map(|n| n.to_string()).collect();
                let expl = format!(
                    "the {} is missing from the final state of node(s) {}",
                    ctx.describe_append(a),
                    nodes.join(", ")
                );
                (vec![ctx.op(a).clone()], expl)
            });
            continue;
        }
        if p.is_some() {
            continue;
        }
        if max_read_inv.is_some_and(|t| t > comp) {
            lost.insert(a);
            rep.report(LostAppend, || {
                let r = obs[..n_reads].partition_point(|o| o.inv <= comp);
                let o = &obs[r];
                let mut ops = vec![ctx.op(a).clone()];
                ops.extend(ctx.obs_ops(o));
                let expl = format!(
                    "the {} never appears in any observed list, although the {} began \
                     after it completed",
                    ctx.describe_append(a),
                    ctx.describe(o)
                );
                (ops, expl)
            });
        } else if let Some((b, bj)) =
            latest_observed_append.filter(|&(b, _)| ctx.op(b).invoke_ms > comp && b != a)
        {
            lost.insert(a);
            rep.report(LostAppend, || {
                let expl = format!(
                    "the {} never appears in any observed list, although the {}, invoked \
                     after it completed, was observed (at index {})",
                    ctx.describe_append(a),
                    ctx.describe_append(b),
                    bj
                );
                (vec![ctx.op(a).clone(), ctx.op(b).clone()], expl)
            });
        }
    }

    // Acknowledged appends present in L, by completion time, with prefix maxima of
    // their position: over all of them (real-time order) and over the non-lost ones
    // (stale reads; a lost value is reported once, as lost).
    let acked_in_l: Vec<(u64, usize, usize)> = acked
        .iter()
        .filter_map(|&(a, v)| pos.get(&v).map(|&p| (ctx.op(a).complete_ms, p, a)))
        .collect();
    let rt_prefix = prefix_max(acked_in_l.iter().map(|&(_, p, a)| (p, a)));
    let kept: Vec<(u64, usize, usize)> = acked_in_l
        .iter()
        .copied()
        .filter(|(_, _, a)| !lost.contains(a))
        .collect();
    let kept_prefix = prefix_max(kept.iter().map(|&(_, p, a)| (p, a)));

    // ---- 5. Stale reads.
    let mut reads_by_comp: Vec<(u64, usize, usize)> = (0..n_reads)
        .filter(|&i| consistent[i])
        .map(|i| (obs[i].comp, obs[i].list.len(), i))
        .collect();
    reads_by_comp.sort();
    let len_prefix = prefix_max(reads_by_comp.iter().map(|&(_, len, i)| (len, i)));
    for (i, o) in obs.iter().enumerate() {
        if !consistent[i] {
            continue;
        }
        let len = o.list.len();
        if i < n_reads {
            let c = kept.partition_point(|x| x.0 < o.inv);
            if c > 0 && kept_prefix[c - 1].0 >= len {
                rep.report(StaleRead, || {
                    // The earliest-positioned missed value is the most telling witness.
                    let missed: Vec<&(u64, usize, usize)> =
                        kept[..c].iter().filter(|x| x.1 >= len).collect();
                    let w = missed
                        .iter()
                        .min_by_key(|x| (x.1, x.2))
                        .expect("prefix max says one is missing");
                    let mut ops = ctx.obs_ops(o);
                    ops.push(ctx.op(w.2).clone());
                    let more = if missed.len() > 1 {
                        format!(" (it misses {} such appends)", missed.len())
                    } else {
                        String::new()
                    };
                    let expl = format!(
                        "{} misses the {}, which completed before the read began and is in \
                         the final state{more}",
                        ctx.describe(o),
                        ctx.describe_append(w.2)
                    );
                    (ops, expl)
                });
                continue;
            }
        } else if final_misses_acked[i] {
            continue;
        }
        let c = reads_by_comp.partition_point(|x| x.0 < o.inv);
        if c > 0 && len_prefix[c - 1].0 > len {
            let w = &obs[len_prefix[c - 1].1];
            rep.report(StaleRead, || {
                let mut ops = ctx.obs_ops(o);
                ops.extend(ctx.obs_ops(w));
                let when = if o.inv == INF {
                    "at the end of the run".to_string()
                } else {
                    format!("when it began at {}", o.inv)
                };
                let expl = format!(
                    "{} is shorter than the {}, which had already completed {when}; \
                     value {} (index {}) went missing",
                    ctx.describe(o),
                    ctx.describe(w),
                    w.list[len],
                    len
                );
                (ops, expl)
            });
        }
    }

    // ---- 6. Real-time order between appends.
    if !rt_prefix.is_empty() {
        for (j, &v) in l.iter().enumerate() {
            if pos.get(&v) != Some(&j) {
                continue;
            }
            let Some(b) = ctx.valid_append(key, v) else {
                continue;
            };
            let b_inv = ctx.op(b).invoke_ms;
            let c = acked_in_l.partition_point(|x| x.0 < b_inv);
            if c == 0 {
                continue;
            }
            let (pa, a) = rt_prefix[c - 1];
            if pa > j && a != b {
                rep.report(RealTimeOrder, || {
                    let expl = format!(
                        "the {} completed before the {} began, yet {} is at index {j} and {} \
                         at index {pa} of {}",
                        ctx.describe_append(a),
                        ctx.describe_append(b),
                        v,
                        l[pa],
                        ctx.describe(&obs[l_idx])
                    );
                    let mut ops = vec![ctx.op(a).clone(), ctx.op(b).clone()];
                    ops.extend(ctx.obs_ops(&obs[l_idx]));
                    (ops, expl)
                });
            }
        }
    }

    rep.finish(out);
}

/// Generators of valid (linearizable) histories from a sequential model, shared by the
/// property tests and the benchmark. Not part of the checker's API.
#[doc(hidden)]
pub mod testgen {
    use super::*;

    /// What happens to one generated operation.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Fate {
        Ok,
        /// Not applied; the client is told so.
        Failed,
        /// Applied `delay` steps later (0: at its own linearization point); the client
        /// gives up without knowing.
        IndeterminateApplied {
            delay: u8,
        },
        /// Never applied; the client gives up without knowing.
        IndeterminateLost,
    }

    /// One step of the sequential model. `gap` spaces linearization points; `pre` and
    /// `post` open the real-time window around this op's linearization point.
    #[derive(Clone, Copy, Debug)]
    pub struct Step {
        pub client: u32,
        pub key: Key,
        pub read: bool,
        pub fate: Fate,
        pub gap: u32,
        pub pre: u32,
        pub post: u32,
    }

    #[derive(Clone, Copy, Debug)]
    pub struct Config {
        pub clients: u32,
        pub keys: u32,
        pub nodes: u32,
    }

    /// Runs the steps against a sequential list-append model. Every op gets a
    /// linearization point strictly after the previous one and a window around it;
    /// clients never have two ops outstanding (an op of a busy client is delayed).
    /// The result is linearizable by construction.
    pub fn build(cfg: &Config, steps: &[Step]) -> History {
        let clients = cfg.clients.max(1);
        let keys = cfg.keys.max(1);
        let mut t: u64 = 0;
        let mut free_at = vec![0u64; clients as usize];
        let mut state: BTreeMap<Key, Vec<Value>> = BTreeMap::new();
        let mut next_value: Value = 1;
        let mut pending: Vec<(u8, Key, Value)> = Vec::new();
        let mut ops = Vec::with_capacity(steps.len());
        for s in steps {
            // Delayed indeterminate appends take effect now, each at its own point.
            let mut still = Vec::new();
            for (d, k, v) in pending.drain(..) {
                if d == 0 {
                    t += 1;
                    state.entry(k).or_default().push(v);
                } else {
                    still.push((d - 1, k, v));
                }
            }
            pending = still;

            let client = s.client % clients;
            let key = s.key % keys;
            let mut lp = t + 1 + u64::from(s.gap);
            let invoke = free_at[client as usize].max(lp.saturating_sub(u64::from(s.pre)));
            lp = lp.max(invoke);
            let post = u64::from(s.post);
            let (kind, outcome, complete) = if s.read {
                match s.fate {
                    Fate::Ok => {
                        let list = state.get(&key).cloned().unwrap_or_default();
                        (
                            OpKind::Read {
                                key,
                                result: Some(list),
                            },
                            Outcome::Ok,
                            lp + post,
                        )
                    }
                    Fate::Failed => (
                        OpKind::Read { key, result: None },
                        Outcome::Failed,
                        lp + post,
                    ),
                    _ => (
                        OpKind::Read { key, result: None },
                        Outcome::Indeterminate,
                        invoke + post,
                    ),
                }
            } else {
                let value = next_value;
                next_value += 1;
                let kind = OpKind::Append { key, value };
                match s.fate {
                    Fate::Ok => {
                        state.entry(key).or_default().push(value);
                        (kind, Outcome::Ok, lp + post)
                    }
                    Fate::Failed => (kind, Outcome::Failed, lp + post),
                    Fate::IndeterminateApplied { delay } => {
                        if delay == 0 {
                            state.entry(key).or_default().push(value);
                        } else {
                            pending.push((delay - 1, key, value));
                        }
                        (kind, Outcome::Indeterminate, invoke + post)
                    }
                    Fate::IndeterminateLost => (kind, Outcome::Indeterminate, invoke + post),
                }
            };
            free_at[client as usize] = complete + 1;
            t = lp;
            ops.push(Op {
                client,
                invoke_ms: invoke,
                complete_ms: complete,
                kind,
                outcome,
            });
        }
        for (_, k, v) in pending {
            state.entry(k).or_default().push(v);
        }
        // Completion order per client, as a simulator would record it.
        ops.sort_by_key(|op| (op.complete_ms, op.client));
        let final_states = (0..cfg.nodes).map(|n| (n, state.clone())).collect();
        History { ops, final_states }
    }

    /// SplitMix64: a tiny deterministic generator, enough for test data.
    pub struct SplitMix(pub u64);

    impl SplitMix {
        pub fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        pub fn below(&mut self, n: u32) -> u32 {
            (self.next_u64() % u64::from(n.max(1))) as u32
        }
    }

    /// `n` random steps: half reads, 85% ok, 5% failed, 5% indeterminate and applied
    /// (possibly a few steps later), 5% indeterminate and never applied.
    pub fn random_steps(seed: u64, n: usize, cfg: &Config) -> Vec<Step> {
        let mut r = SplitMix(seed);
        (0..n)
            .map(|_| {
                let fate = match r.below(100) {
                    0..=84 => Fate::Ok,
                    85..=89 => Fate::Failed,
                    90..=94 => Fate::IndeterminateApplied {
                        delay: r.below(4) as u8,
                    },
                    _ => Fate::IndeterminateLost,
                };
                Step {
                    client: r.below(cfg.clients),
                    key: r.below(cfg.keys),
                    read: r.below(2) == 0,
                    fate,
                    gap: r.below(3),
                    pre: r.below(30),
                    post: r.below(30),
                }
            })
            .collect()
    }

    /// A random valid history of `n` operations.
    pub fn random(seed: u64, n: usize, cfg: &Config) -> History {
        build(cfg, &random_steps(seed, n, cfg))
    }
}
