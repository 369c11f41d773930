//! Client-history checker: per-key linearizability of a list-append history.
//!
//! # Input model
//!
//! A [`History`] holds what clients did and saw: appends of a value to a key, and reads
//! that return a key's whole list, each with a client, virtual invocation and
//! completion times (ms) and an [`Outcome`]; plus the final state of each node after the
//! cluster healed. The checker trusts nothing else about the system under test.
//!
//! Well-formedness is checked first: a malformed history gets a [`HistoryError`] (from
//! [`check`]), never a verdict. A history is well-formed when
//! * no operation completes before it was invoked;
//! * every value is appended by exactly one operation, whatever its outcome. A retry
//!   belongs to its operation: a client that sends an append again (same value, same
//!   request id) records one operation, invoked at the first attempt and completed at
//!   the last answer or when it gave up, as the simulator does. A retry recorded as an
//!   operation of its own is refused, like any second append of a value: the checker
//!   cannot tell one from the other, and either guess could name a false anomaly;
//! * every key of a final state is named by some operation (an append or a read);
//! * no node has two final states.
//!
//! A history with several malformations gets one error: times first, then values, then
//! final states.
//!
//! Client ids are used in reports only; the checker does not rely on a client having
//! at most one operation outstanding.
//!
//! Semantics of outcomes:
//! * `Ok` append: applied exactly once at some instant in `[invoke_ms, complete_ms]`.
//! * `Failed` append: definitely never applied.
//! * `Indeterminate` append: applied at most once, at some instant `>= invoke_ms`;
//!   its effective completion is +infinity (`complete_ms` is only when the client gave up).
//! * `Ok` read with `Some(list)`: the key's list at some instant in its window.
//!   `Failed`/`Indeterminate` reads, and `Ok` reads without a result, carry no
//!   information and are ignored.
//! * Final states: what each node holds after the cluster healed, taken as an
//!   observation after every operation completed (invoked and completed at
//!   +infinity). A node that has no entry for a key is taken to hold the empty list.
//!   Being at +infinity, final states are concurrent with indeterminate appends (whose
//!   completion is +infinity too), so a node that lags behind the others by
//!   indeterminate appends that no read showed is accepted: such an append may take
//!   effect after that node's state was taken, which linearizability allows.
//!   Acknowledged values must be on every listed node, and so must values that some
//!   read showed. Demanding equal final states is the simulator's `convergence`
//!   check, not this one's.
//!
//! Time comparisons are strict: `x` precedes `y` in real time only if
//! `x.complete_ms < y.invoke_ms`. Equal timestamps count as concurrent, because
//! virtual milliseconds are coarse and events inside one millisecond may be ordered
//! either way; this keeps every rule sound. +infinity is a value of its own, later than
//! every `u64`: an operation completing at `u64::MAX` precedes the final states.
//!
//! # Algorithm (per key, linear apart from sorting)
//!
//! List-append makes the order of effective appends visible: every read returns the
//! sequence of appends applied before it. So instead of searching for a linearization:
//!
//! 1. Take every ok read and every final state of the key as an *observation*, and
//!    let `L` be the longest one (first by invocation time, then node id, on ties).
//!    Every observation must be a prefix of `L`, otherwise **divergence**. `L` gives the
//!    version order: `pos(v)` is the index of `v`'s first occurrence in `L`. An
//!    observation that is a prefix of `L` ("consistent") contains `v` iff
//!    `pos(v) < len`. A value is *observed* if any observation holds it.
//! 2. **duplicate**: a value occurs twice in an observation.
//! 3. **phantom**: an observed value that no client appended to this key, whose append
//!    failed definitely, or that a read returned although its append was invoked only
//!    after the read completed (the read saw a value nobody had appended yet).
//! 4. **lost_append**: an acknowledged append missing from some final state; or never
//!    observed although some read, or some append that *was* observed, began after it
//!    completed.
//! 5. **stale_read**: a consistent read that misses an acknowledged (and not lost)
//!    append that completed before the read began; or a consistent observation that
//!    misses a value shown by a read that completed before the observation began, where
//!    the value is the first occurrence of an append to this key that was not failed and
//!    was invoked before that read completed (this covers indeterminate values that were
//!    seen and then disappeared). A final state that misses an acknowledged append is
//!    reported as lost_append instead.
//! 6. **real_time_order**: an acknowledged append `a` completed before append `b` was
//!    invoked, both are in `L`, but `pos(b) < pos(a)`.
//!
//! Rules 4-6 are answered with sorted arrays and prefix maxima plus binary search
//! (e.g. "largest `pos` among acknowledged appends that completed before time `t`"),
//! so no pair of operations is ever enumerated. One pass over the operations checks
//! well-formedness and copies what the checker needs of each operation next to the
//! others of its key (a counting sort); every append is indexed by value (hash tables
//! built one partition at a time, for uniqueness and to explain values of other
//! keys); each key then has its own hash index of its appends. The cost is `O(n + total length of all observed lists)`
//! (expected, hashing) plus sorting each key's reads and acknowledged appends by time:
//! no structure spans keys once they are grouped, so many keys cost no more than
//! few.
//!
//! # What a report claims
//!
//! Every report states a fact that holds of the history and violates linearizability on
//! its own, and its explanation cites only the evidence it rests on. Knock-on effects of
//! an anomaly already named are not reported again: a phantom or duplicate value that a
//! later observation lacks is not also a stale read, and a value that a diverged
//! observation holds is observed, so it is never called lost for being absent from
//! `L`. Rules 5 and 6 look only at observations consistent with `L`; on a diverged
//! key the other observations are checked for divergence, duplicates, phantoms and (for
//! final states) lost appends.
//!
//! # Soundness (no false alarms) and completeness
//!
//! Each rule is a necessary condition of a linearizable per-key history:
//! a linearizable key moves through append-only states, so all observations are
//! prefix-related (1) and hold each applied value once (2) and only values of applied
//! appends, applied after their invocation and before any read that shows them (3);
//! an acknowledged append takes effect before it completes, so it is in every state
//! observed later, in particular in every final state and in every list showing an
//! append that began later (4, 5); a value a read showed stays in every later state
//! (5); and an append that completed before another began takes effect first (6). The
//! property tests check this on generated linearizable histories.
//!
//! Conversely, when nothing is reported the key is linearizable: order the ops as
//! appends in `L` order, each read of length `k` between `L[k-1]` and `L[k]` (reads of
//! one length by invocation), unobserved acknowledged appends at the end, and drop
//! unobserved indeterminate and failed appends. Points inside intervals can be chosen
//! in a required order iff no op completes before an op required earlier is invoked;
//! rules 3-6 check exactly those pairs (append/append, append/read, read/append,
//! read/read). A test compares the verdict with an exhaustive search on tiny
//! histories.
//!
//! # Not checked
//!
//! * Anything across keys: no multi-key transactions, no cross-key real-time or
//!   causal order (each key is an independent linearizable register of lists).
//! * Final states are not compared with each other by length (see the semantics of
//!   final states above).
//!
//! Reports are bounded: at most [`MAX_REPORTS_PER_KIND_PER_KEY`] anomalies per kind and
//! key; the last one then says how many more were found. Output is deterministic:
//! sorted by key, then kind, then discovery order, independent of hash seeds and of the
//! order of `ops`. The hash index uses a fixed hash function and is only looked up,
//! never iterated.

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

impl OpKind {
    pub fn key(&self) -> Key {
        match self {
            OpKind::Append { key, .. } | OpKind::Read { key, .. } => *key,
        }
    }
}

/// One client operation. For `Indeterminate` ops `complete_ms` is when the client gave
/// up; the append may take effect at any time after `invoke_ms`. A retried operation is
/// one `Op`, from its first attempt to its last (see the module documentation).
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
    /// `(node id, key -> list)`: what each node holds after healing.
    pub final_states: Vec<(u32, BTreeMap<Key, Vec<Value>>)>,
}

/// Why a history is malformed: [`check`] gives no verdict on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HistoryError {
    /// An operation completes before it was invoked.
    CompletesBeforeInvoked { op: Op },
    /// Two operations append the same value (`first` comes first in `ops`). This is
    /// also how a retry recorded as an operation of its own shows.
    ValueAppendedTwice { value: Value, first: Op, second: Op },
    /// A final state holds a key that no operation names.
    UnknownKeyInFinalState { node: u32, key: Key },
    /// A node has two final states.
    NodeListedTwice { node: u32 },
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("malformed history: ")?;
        match self {
            HistoryError::CompletesBeforeInvoked { op } => {
                write!(f, "an operation completes before it was invoked: {op}")
            }
            HistoryError::ValueAppendedTwice {
                value,
                first,
                second,
            } => write!(
                f,
                "value {value} is appended by two operations ({first}; {second}); values \
                 must be unique, and a retry must be recorded as one operation spanning all \
                 its attempts"
            ),
            HistoryError::UnknownKeyInFinalState { node, key } => write!(
                f,
                "the final state of node {node} holds key {key}, which no operation names"
            ),
            HistoryError::NodeListedTwice { node } => {
                write!(f, "node {node} has two final states")
            }
        }
    }
}

impl std::error::Error for HistoryError {}

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

/// A point of virtual time, or +infinity: later than every operation (final states,
/// the effective completion of an indeterminate append). `Inf` is a value of its own,
/// so a real `u64::MAX` stays finite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Time {
    At(u64),
    Inf,
}

/// SplitMix64's finalizer: a fixed hash for integer keys.
fn mix(x: u64) -> u64 {
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A hash table from integer keys to small values: open addressing with linear
/// probing, at most half full, and a fixed hash. It cannot be iterated, so its layout
/// never reaches the output; lookups and inserts take expected constant time.
struct IntTable<V: Copy> {
    /// A power of two of them.
    slots: Vec<Option<(u64, V)>>,
    len: usize,
}

impl<V: Copy> Default for IntTable<V> {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl<V: Copy> IntTable<V> {
    fn with_capacity(n: usize) -> Self {
        IntTable {
            slots: vec![None; Self::slots_for(n)],
            len: 0,
        }
    }

    fn slots_for(n: usize) -> usize {
        (2 * n).next_power_of_two().max(8)
    }

    /// Empties the table for about `n` entries. One grown much larger by earlier use is
    /// replaced, since emptying costs its size.
    fn reset(&mut self, n: usize) {
        let want = Self::slots_for(n);
        if self.slots.len() < want || self.slots.len() > 4 * want {
            *self = Self::with_capacity(n);
        } else {
            self.slots.fill(None);
            self.len = 0;
        }
    }

    /// The slot holding `k`, or the empty one where it would go.
    fn slot(&self, k: u64) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = mix(k) as usize & mask;
        while let Some((key, _)) = self.slots[i] {
            if key == k {
                break;
            }
            i = (i + 1) & mask;
        }
        i
    }

    fn get(&self, k: u64) -> Option<V> {
        self.slots[self.slot(k)].map(|(_, v)| v)
    }

    fn contains(&self, k: u64) -> bool {
        self.get(k).is_some()
    }

    /// Inserts `v` at `k` unless `k` is there already; then returns what it holds.
    fn insert_new(&mut self, k: u64, v: V) -> Option<V> {
        let i = self.slot(k);
        if let Some((_, old)) = self.slots[i] {
            return Some(old);
        }
        self.slots[i] = Some((k, v));
        self.len += 1;
        if 2 * self.len > self.slots.len() {
            let grown = vec![None; 2 * self.slots.len()];
            let old = std::mem::replace(&mut self.slots, grown);
            for (k, v) in old.into_iter().flatten() {
                let i = self.slot(k);
                self.slots[i] = Some((k, v));
            }
        }
        None
    }
}

/// No index (a local append or a position that does not exist).
const NONE: usize = usize::MAX;
/// `app_at` entry of a repeated value.
const DUP: usize = usize::MAX - 1;

/// Checks the history. `Ok` with an empty list means every key is linearizable (see the
/// module documentation for exactly what is and is not checked); `Err` means the
/// history is malformed and gets no verdict.
pub fn check(history: &History) -> Result<Vec<Anomaly>, HistoryError> {
    let ctx = Ctx::new(history)?;
    let mut out = Vec::new();
    let mut scratch = Scratch::default();
    let nf = ctx.finals.len();
    for (r, &key) in ctx.keys.iter().enumerate() {
        let key_ops = KeyOps {
            key,
            apps: &ctx.appends[ctx.append_start[r]..ctx.append_start[r + 1]],
            reads: &ctx.reads[ctx.read_start[r]..ctx.read_start[r + 1]],
            finals: &ctx.final_lists[r * nf..(r + 1) * nf],
        };
        check_key(&ctx, &key_ops, &mut scratch, &mut out);
    }
    debug_assert!(out
        .windows(2)
        .all(|w| (w[0].key, w[0].kind) <= (w[1].key, w[1].kind)));
    Ok(out)
}

/// Convenience: the distinct kinds found, in kind order.
pub fn kinds(anomalies: &[Anomaly]) -> BTreeSet<AnomalyKind> {
    anomalies.iter().map(|a| a.kind).collect()
}

/// An append, as the checker needs it (kept next to the other appends of its key).
#[derive(Clone, Copy)]
struct AppendRec {
    value: Value,
    invoke: u64,
    complete: u64,
    /// Index into `h.ops`.
    op: usize,
    outcome: Outcome,
}

/// An ok read with a result, likewise.
#[derive(Clone, Copy)]
struct ReadRec<'a> {
    invoke: u64,
    complete: u64,
    client: ClientId,
    /// Index into `h.ops`.
    op: usize,
    list: &'a [Value],
}

/// The history, validated and indexed: operations grouped by key (keys by rank, in
/// ascending order), appends by value.
struct Ctx<'a> {
    h: &'a History,
    /// value -> index of its (only) append op.
    value_op: ValueIndex,
    /// Rank -> key, ascending.
    keys: Vec<Key>,
    /// Appends of the key of rank `r`: `appends[append_start[r]..append_start[r + 1]]`,
    /// in `ops` order.
    appends: Vec<AppendRec>,
    append_start: Vec<usize>,
    /// Ok reads with a result, grouped the same way.
    reads: Vec<ReadRec<'a>>,
    read_start: Vec<usize>,
    /// `(node id, index into h.final_states)`, by node id.
    finals: Vec<(u32, usize)>,
    /// `final_lists[r * finals.len() + f]`: the list of the key of rank `r` on
    /// `finals[f]`.
    final_lists: Vec<&'a [Value]>,
}

/// Start offsets (`counts.len() + 1` of them) of groups of the given sizes.
fn offsets(counts: &[usize]) -> Vec<usize> {
    let mut start = Vec::with_capacity(counts.len() + 1);
    let mut total = 0;
    start.push(0);
    for &c in counts {
        total += c;
        start.push(total);
    }
    start
}

/// Every append by value, in hash partitions: each partition's table is built in one
/// go and stays in cache meanwhile (one table of all values would take a cache miss
/// per insert). Lookups only, never iterated.
struct ValueIndex {
    /// Partition of `v`: `partition_hash(v) >> shift`; `shift` 64: one partition.
    shift: u32,
    parts: Vec<IntTable<usize>>,
}

/// A hash independent of `IntHasher`'s, whose top bits pick a partition (within one
/// partition, `IntHasher`'s bits still vary fully).
fn partition_hash(v: Value) -> u64 {
    v.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (v >> 29)
}

impl ValueIndex {
    /// Values per partition, about: a table that fits in a core's cache.
    const PART: usize = 4096;

    fn new(h: &History, appends: &[AppendRec]) -> Result<Self, HistoryError> {
        let bits = (appends.len() / Self::PART)
            .next_power_of_two()
            .trailing_zeros();
        let index = ValueIndex {
            shift: 64 - bits,
            parts: Vec::new(),
        };
        let n_parts = 1usize << bits;
        let mut counts = vec![0usize; n_parts];
        for a in appends {
            counts[index.part(a.value)] += 1;
        }
        let start = offsets(&counts);
        let mut next = start.clone();
        let mut by_part = vec![(0, 0); appends.len()];
        for a in appends {
            let p = index.part(a.value);
            by_part[next[p]] = (a.value, a.op);
            next[p] += 1;
        }
        let mut parts = Vec::with_capacity(n_parts);
        for p in 0..n_parts {
            let items = &by_part[start[p]..start[p + 1]];
            let mut m = IntTable::with_capacity(items.len());
            for &(v, i) in items {
                if m.insert_new(v, i).is_some() {
                    return Err(Self::first_repeat(h));
                }
            }
            parts.push(m);
        }
        Ok(ValueIndex { parts, ..index })
    }

    fn part(&self, v: Value) -> usize {
        partition_hash(v).checked_shr(self.shift).unwrap_or(0) as usize
    }

    /// The first append in `ops` whose value an earlier append already had (one is
    /// known to exist).
    fn first_repeat(h: &History) -> HistoryError {
        let mut seen: IntTable<usize> = IntTable::default();
        for (i, op) in h.ops.iter().enumerate() {
            if let OpKind::Append { value, .. } = op.kind {
                if let Some(j) = seen.insert_new(value, i) {
                    return HistoryError::ValueAppendedTwice {
                        value,
                        first: h.ops[j].clone(),
                        second: op.clone(),
                    };
                }
            }
        }
        unreachable!("a value repeats")
    }

    fn get(&self, v: Value) -> Option<usize> {
        self.parts[self.part(v)].get(v)
    }
}

impl<'a> Ctx<'a> {
    fn new(h: &'a History) -> Result<Self, HistoryError> {
        const UNGROUPED: u32 = u32::MAX;
        // Dense key ids in order of first appearance; then ranks by key.
        let mut key_id: IntTable<u32> = IntTable::default();
        let mut dense_keys: Vec<Key> = Vec::new();
        let mut op_dense: Vec<u32> = Vec::with_capacity(h.ops.len());
        let mut n_app: Vec<usize> = Vec::new();
        let mut n_read: Vec<usize> = Vec::new();
        for op in &h.ops {
            if op.complete_ms < op.invoke_ms {
                return Err(HistoryError::CompletesBeforeInvoked { op: op.clone() });
            }
            let key = op.kind.key();
            let d = match key_id.insert_new(u64::from(key), dense_keys.len() as u32) {
                Some(d) => d,
                None => {
                    dense_keys.push(key);
                    n_app.push(0);
                    n_read.push(0);
                    (dense_keys.len() - 1) as u32
                }
            };
            match &op.kind {
                OpKind::Append { .. } => {
                    n_app[d as usize] += 1;
                    op_dense.push(d);
                }
                OpKind::Read { result, .. } => {
                    if op.outcome == Outcome::Ok && result.is_some() {
                        n_read[d as usize] += 1;
                        op_dense.push(d);
                    } else {
                        op_dense.push(UNGROUPED);
                    }
                }
            }
        }
        let n_keys = dense_keys.len();
        let mut by_rank: Vec<u32> = (0..n_keys as u32).collect();
        by_rank.sort_unstable_by_key(|&d| dense_keys[d as usize]);
        let mut rank = vec![0u32; n_keys];
        for (r, &d) in by_rank.iter().enumerate() {
            rank[d as usize] = r as u32;
        }
        let keys: Vec<Key> = by_rank.iter().map(|&d| dense_keys[d as usize]).collect();
        let append_start = offsets(
            &by_rank
                .iter()
                .map(|&d| n_app[d as usize])
                .collect::<Vec<_>>(),
        );
        let read_start = offsets(
            &by_rank
                .iter()
                .map(|&d| n_read[d as usize])
                .collect::<Vec<_>>(),
        );

        // One pass puts every record in its key's group (a counting sort by rank).
        let mut appends = vec![
            AppendRec {
                value: 0,
                invoke: 0,
                complete: 0,
                op: 0,
                outcome: Outcome::Failed,
            };
            append_start[n_keys]
        ];
        let mut reads = vec![
            ReadRec {
                invoke: 0,
                complete: 0,
                client: 0,
                op: 0,
                list: &[],
            };
            read_start[n_keys]
        ];
        let mut next_app = append_start.clone();
        let mut next_read = read_start.clone();
        for (i, op) in h.ops.iter().enumerate() {
            let d = op_dense[i];
            if d == UNGROUPED {
                continue;
            }
            let r = rank[d as usize] as usize;
            match &op.kind {
                OpKind::Append { value, .. } => {
                    appends[next_app[r]] = AppendRec {
                        value: *value,
                        invoke: op.invoke_ms,
                        complete: op.complete_ms,
                        op: i,
                        outcome: op.outcome,
                    };
                    next_app[r] += 1;
                }
                OpKind::Read { result, .. } => {
                    reads[next_read[r]] = ReadRec {
                        invoke: op.invoke_ms,
                        complete: op.complete_ms,
                        client: op.client,
                        op: i,
                        list: result.as_deref().unwrap_or(&[]),
                    };
                    next_read[r] += 1;
                }
            }
        }

        let value_op = ValueIndex::new(h, &appends)?;

        let mut finals: Vec<(u32, usize)> = h
            .final_states
            .iter()
            .enumerate()
            .map(|(f, (node, _))| (*node, f))
            .collect();
        finals.sort_unstable();
        if let Some(w) = finals.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(HistoryError::NodeListedTwice { node: w[0].0 });
        }
        // Both a final state's keys and `keys` are ascending: walk them together.
        let nf = finals.len();
        let mut final_lists: Vec<&'a [Value]> = vec![&[]; n_keys * nf];
        for (fi, &(node, f)) in finals.iter().enumerate() {
            let mut r = 0;
            for (key, list) in &h.final_states[f].1 {
                while r < n_keys && keys[r] < *key {
                    r += 1;
                }
                if r == n_keys || keys[r] != *key {
                    return Err(HistoryError::UnknownKeyInFinalState { node, key: *key });
                }
                final_lists[r * nf + fi] = list;
            }
        }
        Ok(Ctx {
            h,
            value_op,
            keys,
            appends,
            append_start,
            reads,
            read_start,
            finals,
            final_lists,
        })
    }

    fn op(&self, i: usize) -> &'a Op {
        &self.h.ops[i]
    }

    /// Why a value `v` that `key` holds but no append to `key` carries cannot have been
    /// applied, with the op of its append (to another key), if any.
    fn stranger_reason(&self, key: Key, v: Value) -> (String, Option<usize>) {
        match self.value_op.get(v) {
            None => ("no client ever appended it".to_string(), None),
            Some(i) => (
                format!(
                    "it was appended to key {}, not to key {key}",
                    self.h.ops[i].kind.key()
                ),
                Some(i),
            ),
        }
    }
}

/// What one key is checked on.
struct KeyOps<'k, 'a> {
    key: Key,
    apps: &'k [AppendRec],
    reads: &'k [ReadRec<'a>],
    /// In node-id order, parallel to `Ctx::finals`.
    finals: &'k [&'a [Value]],
}

/// Buffers reused from key to key (a key's appends are numbered `0..` locally).
#[derive(Default)]
struct Scratch<'a> {
    sorted_reads: Vec<ReadRec<'a>>,
    obs: Vec<Obs<'a>>,
    consistent: Vec<bool>,
    /// Value -> local append.
    local: IntTable<usize>,
    /// Local append -> index of its value's first occurrence in `L`, or `NONE`.
    pos: Vec<usize>,
    /// Local append -> its value is in some observation.
    observed: Vec<bool>,
    /// Local append -> reported as lost.
    lost: Vec<bool>,
    /// Per index of `L`: the local append of a first occurrence, `NONE` for a first
    /// occurrence of a value no append to this key carries, `DUP` for a repeat.
    app_at: Vec<usize>,
    strangers: IntTable<usize>,
    seen: IntTable<usize>,
    dup_reported: IntTable<()>,
    phantom_reported: IntTable<()>,
    /// `(complete, invoke, local)` of acknowledged appends.
    acked: Vec<(u64, u64, usize)>,
    /// `(complete, pos, local)`.
    acked_in_l: Vec<(u64, usize, usize)>,
    kept: Vec<(u64, usize, usize)>,
    /// `(complete, reach, obs index)` of consistent reads.
    reads_by_comp: Vec<(u64, usize, usize)>,
    inv_prefix: Vec<(Option<u64>, usize)>,
    rt_prefix: Vec<(usize, usize)>,
    kept_prefix: Vec<(usize, usize)>,
    reach_prefix: Vec<(usize, usize)>,
    final_misses_acked: Vec<bool>,
}

#[derive(Clone, Copy)]
enum Source {
    /// Index into `h.ops`.
    Read(usize),
    /// Index into `h.final_states`.
    Final(usize),
}

#[derive(Clone, Copy)]
struct Obs<'a> {
    src: Source,
    inv: Time,
    comp: Time,
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

/// Writes the prefix maxima of `(value, payload)` to `out`: `out[i]` is the max over
/// `items[..=i]` (first maximum wins).
fn prefix_max<T: Ord + Copy>(out: &mut Vec<(T, usize)>, items: impl Iterator<Item = (T, usize)>) {
    out.clear();
    for (v, p) in items {
        let next = match out.last() {
            Some(&(m, q)) if m >= v => (m, q),
            _ => (v, p),
        };
        out.push(next);
    }
}

/// The first consistent observation that shows index `p` of L.
fn first_showing<'o, 'a>(obs: &'o [Obs<'a>], consistent: &[bool], p: usize) -> &'o Obs<'a> {
    obs.iter()
        .zip(consistent)
        .find(|(o, &c)| c && o.list.len() > p)
        .map(|(o, _)| o)
        .expect("L itself shows every index of L")
}

fn check_key<'a>(ctx: &Ctx<'a>, k: &KeyOps<'_, 'a>, s: &mut Scratch<'a>, out: &mut Vec<Anomaly>) {
    use AnomalyKind::*;
    let h = ctx.h;
    let key = k.key;
    let apps = k.apps;
    let mut rep = Reporter::new(key);
    let Scratch {
        sorted_reads,
        obs,
        consistent,
        local,
        pos,
        observed,
        lost,
        app_at,
        strangers,
        seen,
        dup_reported,
        phantom_reported,
        acked,
        acked_in_l,
        kept,
        reads_by_comp,
        inv_prefix,
        rt_prefix,
        kept_prefix,
        reach_prefix,
        final_misses_acked,
    } = s;
    // A local append that did not fail definitely (not `NONE` or `DUP`).
    let valid = |x: usize| x < apps.len() && apps[x].outcome != Outcome::Failed;

    // ---- Observations: ok reads by invocation, then final states by node id.
    sorted_reads.clear();
    sorted_reads.extend_from_slice(k.reads);
    sorted_reads.sort_unstable_by_key(|r| (r.invoke, r.complete, r.client, r.op));
    obs.clear();
    obs.extend(sorted_reads.iter().map(|r| Obs {
        src: Source::Read(r.op),
        inv: Time::At(r.invoke),
        comp: Time::At(r.complete),
        list: r.list,
    }));
    let n_reads = obs.len();
    obs.extend(ctx.finals.iter().zip(k.finals).map(|(&(_, f), &list)| Obs {
        src: Source::Final(f),
        inv: Time::Inf,
        comp: Time::Inf,
        list,
    }));
    let obs: &[Obs<'a>] = obs;
    debug_assert!(obs.windows(2).all(|w| w[0].inv <= w[1].inv));

    // ---- 1. The reference order L and divergence.
    let mut l_idx = 0;
    for (i, o) in obs.iter().enumerate() {
        if o.list.len() > obs[l_idx].list.len() {
            l_idx = i;
        }
    }
    let l: &[Value] = obs.get(l_idx).map(|o| o.list).unwrap_or(&[]);
    consistent.clear();
    consistent.extend(
        obs.iter()
            .enumerate()
            .map(|(i, o)| i == l_idx || l.starts_with(o.list)),
    );
    let consistent: &[bool] = consistent;
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

    // ---- Positions in L (first occurrence) and 2. duplicates.
    local.reset(apps.len());
    for (x, a) in apps.iter().enumerate() {
        local.insert_new(a.value, x);
    }
    pos.clear();
    pos.resize(apps.len(), NONE);
    observed.clear();
    observed.resize(apps.len(), false);
    lost.clear();
    lost.resize(apps.len(), false);
    strangers.reset(0);
    dup_reported.reset(0);
    phantom_reported.reset(0);
    app_at.clear();
    for (j, &v) in l.iter().enumerate() {
        let first = match local.get(v) {
            Some(x) if pos[x] == NONE => {
                pos[x] = j;
                observed[x] = true;
                app_at.push(x);
                continue;
            }
            Some(x) => pos[x],
            None => match strangers.insert_new(v, j) {
                None => {
                    app_at.push(NONE);
                    continue;
                }
                Some(first) => first,
            },
        };
        app_at.push(DUP);
        if dup_reported.insert_new(v, ()).is_none() {
            rep.report(Duplicate, || {
                let w = first_showing(obs, consistent, j);
                let mut ops = ctx.obs_ops(w);
                if let Some(a) = ctx.value_op.get(v) {
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
    }
    let app_at: &[usize] = app_at;
    let local: &IntTable<usize> = local;

    // Why an observed value `v` cannot have been applied to this key, if it cannot.
    let phantom_reason = |v: Value| -> Option<(String, Option<usize>)> {
        match local.get(v) {
            Some(x) => (apps[x].outcome == Outcome::Failed)
                .then(|| ("its append failed definitely".to_string(), Some(apps[x].op))),
            None => Some(ctx.stranger_reason(key, v)),
        }
    };

    // ---- 3. Phantoms in L: values that cannot have been applied to this key.
    for (j, &v) in l.iter().enumerate() {
        if app_at[j] == DUP || valid(app_at[j]) {
            continue;
        }
        if let Some((why, a)) = phantom_reason(v) {
            phantom_reported.insert_new(v, ());
            rep.report(Phantom, || {
                let w = first_showing(obs, consistent, j);
                let mut ops = ctx.obs_ops(w);
                ops.extend(a.map(|a| ctx.op(a).clone()));
                (
                    ops,
                    format!("{} shows value {v}, but {why}", ctx.describe(w)),
                )
            });
        }
    }

    // ---- Diverged observations: duplicates, phantoms, and what they observed.
    for (i, o) in obs.iter().enumerate() {
        if consistent[i] {
            continue;
        }
        seen.reset(o.list.len());
        for (j, &v) in o.list.iter().enumerate() {
            if let Some(first) = seen.insert_new(v, j) {
                if dup_reported.insert_new(v, ()).is_none() {
                    rep.report(Duplicate, || {
                        let mut ops = ctx.obs_ops(o);
                        if let Some(a) = ctx.value_op.get(v) {
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
                continue;
            }
            if let Some(x) = local.get(v) {
                observed[x] = true;
                if pos[x] != NONE {
                    continue; // in L: judged there
                }
            }
            if phantom_reported.contains(v) {
                continue;
            }
            if let Some((why, a)) = phantom_reason(v) {
                phantom_reported.insert_new(v, ());
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
    let observed: &[bool] = observed;

    // Reads from the future: a read shows a value whose append was invoked after the
    // read completed. Prefix max over L of the invocation times of valid appends.
    let valid_inv = |j: usize| -> Option<u64> {
        let x = app_at[j];
        valid(x).then(|| apps[x].invoke)
    };
    prefix_max(inv_prefix, (0..l.len()).map(|j| (valid_inv(j), app_at[j])));
    let future_expl = |o: &Obs, x: usize| -> (Vec<Op>, String) {
        let mut ops = ctx.obs_ops(o);
        ops.push(ctx.op(apps[x].op).clone());
        let Time::At(comp) = o.comp else {
            unreachable!("reads complete at a finite time")
        };
        let expl = format!(
            "{} completed at {comp} but shows the {}, which was invoked only after that: \
             no client had appended this value yet",
            ctx.describe(o),
            ctx.describe_append(apps[x].op)
        );
        (ops, expl)
    };
    for (i, o) in obs[..n_reads].iter().enumerate() {
        if consistent[i] {
            if let Some(&(Some(inv), x)) = o.list.len().checked_sub(1).map(|k| &inv_prefix[k]) {
                if Time::At(inv) > o.comp {
                    rep.report(Phantom, || future_expl(o, x));
                }
            }
        } else if let Some(x) = o
            .list
            .iter()
            .filter_map(|&v| local.get(v))
            .find(|&x| valid(x) && Time::At(apps[x].invoke) > o.comp)
        {
            rep.report(Phantom, || future_expl(o, x));
        }
    }

    // ---- 4. Lost acknowledged appends.
    acked.clear();
    acked.extend(
        apps.iter()
            .enumerate()
            .filter(|(_, a)| a.outcome == Outcome::Ok)
            .map(|(x, a)| (a.complete, a.invoke, x)),
    );
    acked.sort_unstable();
    let acked: &[(u64, u64, usize)] = acked;
    let final_obs = n_reads..obs.len();
    let divergent_final_sets: BTreeMap<usize, IntTable<()>> = final_obs
        .clone()
        .filter(|&i| !consistent[i])
        .map(|i| {
            let mut set = IntTable::with_capacity(obs[i].list.len());
            for &v in obs[i].list {
                set.insert_new(v, ());
            }
            (i, set)
        })
        .collect();
    let max_read_inv = obs[..n_reads].iter().map(|o| o.inv).max();
    // The observed valid append with the latest invocation (first in `ops` on ties).
    let latest_observed_append = (0..apps.len())
        .filter(|&b| observed[b] && valid(b))
        .max_by_key(|&b| (apps[b].invoke, std::cmp::Reverse(b)));
    final_misses_acked.clear();
    final_misses_acked.resize(obs.len(), false);
    for &(comp, _, x) in acked {
        let a = apps[x].op;
        let v = apps[x].value;
        let p = pos[x];
        let mut missing_nodes: Vec<u32> = Vec::new();
        for fi in final_obs.clone() {
            let has = match divergent_final_sets.get(&fi) {
                Some(set) => set.contains(v),
                None => p < obs[fi].list.len(),
            };
            if !has {
                final_misses_acked[fi] = true;
                if let Source::Final(f) = obs[fi].src {
                    missing_nodes.push(h.final_states[f].0);
                }
            }
        }
        if !missing_nodes.is_empty() {
            lost[x] = true;
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
        if observed[x] {
            continue;
        }
        if max_read_inv.is_some_and(|t| t > Time::At(comp)) {
            lost[x] = true;
            rep.report(LostAppend, || {
                let r = obs[..n_reads].partition_point(|o| o.inv <= Time::At(comp));
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
        } else if let Some(y) = latest_observed_append.filter(|&y| apps[y].invoke > comp && y != x)
        {
            lost[x] = true;
            rep.report(LostAppend, || {
                let (b, bv) = (apps[y].op, apps[y].value);
                let (o, j) = obs
                    .iter()
                    .find_map(|o| o.list.iter().position(|&w| w == bv).map(|j| (o, j)))
                    .expect("an observed value is in some observation");
                let mut ops = vec![ctx.op(a).clone(), ctx.op(b).clone()];
                ops.extend(ctx.obs_ops(o));
                let expl = format!(
                    "the {} never appears in any observed list, although the {}, invoked \
                     after it completed, was observed (at index {j} of the {})",
                    ctx.describe_append(a),
                    ctx.describe_append(b),
                    ctx.describe(o)
                );
                (ops, expl)
            });
        }
    }
    let lost: &[bool] = lost;
    let final_misses_acked: &[bool] = final_misses_acked;

    // Acknowledged appends present in L, by completion time, with prefix maxima of
    // their position: over all of them (real-time order) and over the non-lost ones
    // (stale reads; a lost value is reported once, as lost).
    acked_in_l.clear();
    acked_in_l.extend(
        acked
            .iter()
            .filter(|&&(_, _, x)| pos[x] != NONE)
            .map(|&(comp, _, x)| (comp, pos[x], x)),
    );
    let acked_in_l: &[(u64, usize, usize)] = acked_in_l;
    prefix_max(rt_prefix, acked_in_l.iter().map(|&(_, p, x)| (p, x)));
    kept.clear();
    kept.extend(acked_in_l.iter().copied().filter(|&(_, _, x)| !lost[x]));
    let kept: &[(u64, usize, usize)] = kept;
    prefix_max(kept_prefix, kept.iter().map(|&(_, p, x)| (p, x)));

    // ---- 5. Stale reads.
    // A consistent read `w` *shows* index `j` of L when `j < len(w)` and `L[j]` is the
    // first occurrence of a valid append to this key invoked before `w` completed; a
    // later observation that lacks it is stale. `reach(w)` is one past the largest such
    // index (found scanning down from the end: one step in a valid history, at most
    // `len(w)` in any history).
    let shows = |w: &Obs, j: usize| valid_inv(j).is_some_and(|inv| Time::At(inv) <= w.comp);
    reads_by_comp.clear();
    for (i, o) in obs[..n_reads].iter().enumerate() {
        if consistent[i] {
            let Time::At(comp) = o.comp else {
                unreachable!("reads complete at a finite time")
            };
            let reach = (0..o.list.len())
                .rev()
                .find(|&j| shows(o, j))
                .map_or(0, |j| j + 1);
            reads_by_comp.push((comp, reach, i));
        }
    }
    reads_by_comp.sort_unstable();
    let reads_by_comp: &[(u64, usize, usize)] = reads_by_comp;
    prefix_max(reach_prefix, reads_by_comp.iter().map(|&(_, r, i)| (r, i)));
    // Observations come by non-decreasing invocation time, so the appends and reads
    // that completed before each one begins are prefixes that only grow.
    let (mut c_kept, mut c_read) = (0, 0);
    for (i, o) in obs.iter().enumerate() {
        while c_kept < kept.len() && Time::At(kept[c_kept].0) < o.inv {
            c_kept += 1;
        }
        while c_read < reads_by_comp.len() && Time::At(reads_by_comp[c_read].0) < o.inv {
            c_read += 1;
        }
        if !consistent[i] {
            continue;
        }
        let len = o.list.len();
        if i < n_reads {
            let c = c_kept;
            if c > 0 && kept_prefix[c - 1].0 >= len {
                rep.report(StaleRead, || {
                    // The earliest-positioned missed value is the most telling witness.
                    let missed: Vec<&(u64, usize, usize)> =
                        kept[..c].iter().filter(|y| y.1 >= len).collect();
                    let w = apps[missed
                        .iter()
                        .min_by_key(|y| (y.1, y.2))
                        .expect("prefix max says one is missing")
                        .2]
                        .op;
                    let mut ops = ctx.obs_ops(o);
                    ops.push(ctx.op(w).clone());
                    let more = if missed.len() > 1 {
                        format!(" (it misses {} such appends)", missed.len())
                    } else {
                        String::new()
                    };
                    let expl = format!(
                        "{} misses the {}, which was acknowledged before the read began{more}",
                        ctx.describe(o),
                        ctx.describe_append(w)
                    );
                    (ops, expl)
                });
                continue;
            }
        } else if final_misses_acked[i] {
            continue;
        }
        let c = c_read;
        if c > 0 && reach_prefix[c - 1].0 > len {
            let w = &obs[reach_prefix[c - 1].1];
            rep.report(StaleRead, || {
                let j = (len..w.list.len())
                    .find(|&j| shows(w, j))
                    .expect("reach says one is shown");
                let a = apps[app_at[j]].op;
                let mut ops = ctx.obs_ops(o);
                ops.extend(ctx.obs_ops(w));
                ops.push(ctx.op(a).clone());
                let when = match o.inv {
                    Time::Inf => "at the end of the run".to_string(),
                    Time::At(t) => format!("when it began at {t}"),
                };
                let expl = format!(
                    "{} is shorter than the {}, which had already completed {when}; value \
                     {} (index {j}, of the {}) went missing",
                    ctx.describe(o),
                    ctx.describe(w),
                    w.list[j],
                    ctx.describe_append(a)
                );
                (ops, expl)
            });
        }
    }

    // ---- 6. Real-time order between appends.
    if !rt_prefix.is_empty() {
        for (j, &v) in l.iter().enumerate() {
            let y = app_at[j];
            if !valid(y) {
                continue;
            }
            let c = acked_in_l.partition_point(|z| z.0 < apps[y].invoke);
            if c == 0 {
                continue;
            }
            let (pa, x) = rt_prefix[c - 1];
            if pa > j && x != y {
                rep.report(RealTimeOrder, || {
                    let (a, b) = (apps[x].op, apps[y].op);
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
