//! Tests of the client-history checker: hand-written histories for every verdict and
//! for valid edge cases, then property tests on histories generated from a sequential
//! model (must pass) and single mutations of them (must fail with the right verdict).

use proptest::prelude::*;
use proptest::sample::Index;
use std::collections::{BTreeMap, BTreeSet};
use zkwal_invariants::history::testgen::{self, Config, Fate, Step};
use zkwal_invariants::history::{
    check, kinds, Anomaly, AnomalyKind, History, HistoryError, Key, Op, OpKind, Outcome, Value,
    MAX_REPORTS_PER_KIND_PER_KEY,
};

use AnomalyKind::*;

// ---------------------------------------------------------------- builders

fn append(client: u32, inv: u64, comp: u64, key: Key, value: Value, outcome: Outcome) -> Op {
    Op {
        client,
        invoke_ms: inv,
        complete_ms: comp,
        kind: OpKind::Append { key, value },
        outcome,
    }
}

fn ok_append(client: u32, inv: u64, comp: u64, key: Key, value: Value) -> Op {
    append(client, inv, comp, key, value, Outcome::Ok)
}

fn read(client: u32, inv: u64, comp: u64, key: Key, list: &[Value]) -> Op {
    Op {
        client,
        invoke_ms: inv,
        complete_ms: comp,
        kind: OpKind::Read {
            key,
            result: Some(list.to_vec()),
        },
        outcome: Outcome::Ok,
    }
}

/// `(key, list)` pairs of one node's final state.
type State<'a> = &'a [(Key, &'a [Value])];

fn finals(nodes: &[(u32, State)]) -> Vec<(u32, BTreeMap<Key, Vec<Value>>)> {
    nodes
        .iter()
        .map(|(n, m)| (*n, m.iter().map(|(k, l)| (*k, l.to_vec())).collect()))
        .collect()
}

/// Same final state on nodes 1..=3.
fn same_finals(m: State) -> Vec<(u32, BTreeMap<Key, Vec<Value>>)> {
    finals(&[(1, m), (2, m), (3, m)])
}

fn hist(ops: Vec<Op>, final_states: Vec<(u32, BTreeMap<Key, Vec<Value>>)>) -> History {
    History { ops, final_states }
}

fn assert_valid(h: &History) {
    let a = anomalies(h);
    assert!(a.is_empty(), "expected no anomalies, got:\n{}", show(&a));
    // The input order of ops must not matter.
    let mut rev = h.clone();
    rev.ops.reverse();
    assert!(anomalies(&rev).is_empty());
}

/// The anomalies of a history that must be well-formed.
fn anomalies(h: &History) -> Vec<Anomaly> {
    check(h).unwrap_or_else(|e| panic!("well-formed history refused: {e}\n{h:#?}"))
}

fn show(a: &[Anomaly]) -> String {
    a.iter().map(|x| format!("  {x}\n")).collect()
}

/// Asserts the set of kinds found is exactly `expected`; returns the anomalies.
fn assert_kinds(h: &History, expected: &[AnomalyKind]) -> Vec<Anomaly> {
    let a = anomalies(h);
    let want: BTreeSet<AnomalyKind> = expected.iter().copied().collect();
    assert_eq!(kinds(&a), want, "anomalies:\n{}", show(&a));
    assert_reports_hold(h, &a);
    a
}

/// The result of an ok read.
fn read_list(op: &Op) -> Option<&[Value]> {
    match &op.kind {
        OpKind::Read {
            result: Some(l), ..
        } if op.outcome == Outcome::Ok => Some(l),
        _ => None,
    }
}

fn appended(op: &Op) -> Option<Value> {
    match op.kind {
        OpKind::Append { value, .. } => Some(value),
        OpKind::Read { .. } => None,
    }
}

/// The list of `key` on `node` after healing.
fn final_list(h: &History, node: u32, key: Key) -> &[Value] {
    let (_, m) = h
        .final_states
        .iter()
        .find(|(n, _)| *n == node)
        .expect("a named node has a final state");
    m.get(&key).map_or(&[], |l| l.as_slice())
}

/// Checks that lost_append and stale_read reports state facts of `h`: the value said
/// to be missing is missing from what the report names, and the evidence it cites
/// (an acknowledgement or an earlier read) is there.
fn assert_reports_hold(h: &History, anomalies: &[Anomaly]) {
    for a in anomalies {
        let e = &a.explanation;
        match a.kind {
            LostAppend => {
                let ap = &a.ops[0];
                let v = appended(ap).expect("a lost append names its append first");
                assert_eq!(ap.outcome, Outcome::Ok, "{a}");
                if e.contains("never appears in any observed list") {
                    let mut lists = h
                        .ops
                        .iter()
                        .filter(|op| op.kind.key() == a.key)
                        .filter_map(read_list)
                        .chain(h.final_states.iter().map(|(n, _)| final_list(h, *n, a.key)));
                    assert!(!lists.any(|l| l.contains(&v)), "observed after all: {a}");
                } else {
                    let nodes = e
                        .split("node(s) ")
                        .nth(1)
                        .and_then(|r| r.split(" (").next())
                        .expect("names the nodes");
                    for n in nodes.split(", ") {
                        let n: u32 = n.parse().expect("a node id");
                        assert!(!final_list(h, n, a.key).contains(&v), "{a}");
                    }
                }
            }
            StaleRead => {
                // The stale observation: a read (named first) or a final state.
                let (list, inv) = if e.starts_with("read by client") {
                    let o = &a.ops[0];
                    (read_list(o).expect("an ok read"), Some(o.invoke_ms))
                } else {
                    let node: u32 = e
                        .strip_prefix("final state of node ")
                        .and_then(|r| r.split(' ').next())
                        .and_then(|n| n.parse().ok())
                        .expect("names its observation");
                    (final_list(h, node, a.key), None)
                };
                let x_op = a.ops.last().expect("names the missed append last");
                let x = appended(x_op).expect("names the missed append last");
                assert!(!list.contains(&x), "not missing after all: {a}");
                let before = |t: u64| inv.is_none_or(|i| t < i);
                let acked_before = x_op.outcome == Outcome::Ok && before(x_op.complete_ms);
                let shown_before = a.ops[usize::from(inv.is_some())..]
                    .iter()
                    .filter_map(|op| read_list(op).map(|l| (op, l)))
                    .any(|(op, l)| before(op.complete_ms) && l.contains(&x));
                assert!(acked_before || shown_before, "evidence not there: {a}");
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------- valid histories

#[test]
fn empty_history_is_valid() {
    assert_valid(&History::default());
    assert_valid(&hist(vec![], same_finals(&[])));
}

#[test]
fn sequential_appends_and_reads_are_valid() {
    let h = hist(
        vec![
            ok_append(1, 0, 5, 0, 10),
            read(2, 6, 8, 0, &[10]),
            ok_append(1, 9, 12, 0, 11),
            read(2, 13, 14, 0, &[10, 11]),
            ok_append(3, 13, 20, 1, 100),
            read(1, 21, 22, 1, &[100]),
        ],
        same_finals(&[(0, &[10, 11]), (1, &[100])]),
    );
    assert_valid(&h);
}

#[test]
fn concurrent_appends_may_be_seen_in_either_order() {
    let ops = vec![ok_append(1, 0, 10, 0, 1), ok_append(2, 5, 15, 0, 2)];
    for order in [[1u64, 2], [2, 1]] {
        let mut o = ops.clone();
        o.push(read(3, 20, 21, 0, &order));
        assert_valid(&hist(o, same_finals(&[(0, &order)])));
    }
}

#[test]
fn reads_concurrent_with_an_append_may_or_may_not_see_it() {
    let h = hist(
        vec![
            ok_append(1, 10, 20, 0, 1),
            read(2, 5, 12, 0, &[]),
            read(3, 11, 15, 0, &[1]),
            read(4, 12, 25, 0, &[1]),
            // Begins after read 3 completed: must be at least as long; it is.
            read(2, 16, 18, 0, &[1]),
        ],
        same_finals(&[(0, &[1])]),
    );
    assert_valid(&h);
    // A read concurrent with the append that misses it, invoked after another read saw
    // it, is stale; but two overlapping reads may disagree.
    let h = hist(
        vec![
            ok_append(1, 10, 20, 0, 1),
            read(3, 11, 15, 0, &[1]),
            read(2, 14, 18, 0, &[]),
        ],
        same_finals(&[(0, &[1])]),
    );
    assert_valid(&h);
}

#[test]
fn indeterminate_appends_seen_or_never_seen_are_valid() {
    use Outcome::Indeterminate;
    let h = hist(
        vec![
            // Seen: applied after the client gave up at 10.
            append(1, 0, 10, 0, 1, Indeterminate),
            read(2, 11, 12, 0, &[]),
            read(2, 30, 31, 0, &[1]),
            // Never seen.
            append(3, 0, 10, 0, 2, Indeterminate),
            // Seen only in the final state.
            append(4, 40, 41, 0, 3, Indeterminate),
        ],
        same_finals(&[(0, &[1, 3])]),
    );
    assert_valid(&h);
}

#[test]
fn indeterminate_append_applied_late_can_follow_later_appends() {
    // Its effective completion is +infinity, so it may land after appends invoked later.
    let h = hist(
        vec![
            append(1, 0, 5, 0, 1, Outcome::Indeterminate),
            ok_append(2, 10, 12, 0, 2),
            read(3, 20, 22, 0, &[2, 1]),
        ],
        same_finals(&[(0, &[2, 1])]),
    );
    assert_valid(&h);
}

#[test]
fn failed_appends_and_failed_reads_are_ignored() {
    let h = hist(
        vec![
            append(1, 0, 5, 0, 1, Outcome::Failed),
            ok_append(1, 6, 8, 0, 2),
            Op {
                client: 2,
                invoke_ms: 10,
                complete_ms: 12,
                kind: OpKind::Read {
                    key: 0,
                    result: None,
                },
                outcome: Outcome::Failed,
            },
            Op {
                client: 2,
                invoke_ms: 13,
                complete_ms: 14,
                // Garbage in an indeterminate read must be ignored.
                kind: OpKind::Read {
                    key: 0,
                    result: Some(vec![99, 99]),
                },
                outcome: Outcome::Indeterminate,
            },
        ],
        same_finals(&[(0, &[2])]),
    );
    assert_valid(&h);
}

#[test]
fn equal_timestamps_count_as_concurrent() {
    // Append acknowledged at 10, read invoked at 10 misses it: allowed.
    let h = hist(
        vec![ok_append(1, 0, 10, 0, 1), read(2, 10, 11, 0, &[])],
        same_finals(&[(0, &[1])]),
    );
    assert_valid(&h);
    // Append invoked at 10, read completed at 10 sees it: allowed.
    let h = hist(
        vec![ok_append(1, 10, 12, 0, 1), read(2, 5, 10, 0, &[1])],
        same_finals(&[(0, &[1])]),
    );
    assert_valid(&h);
}

#[test]
fn acked_append_without_later_observation_is_not_lost() {
    // No final states and nothing began after it completed.
    let h = hist(
        vec![ok_append(1, 0, 10, 0, 1), read(2, 5, 12, 0, &[])],
        vec![],
    );
    assert_valid(&h);
}

#[test]
fn history_roundtrips_through_json() {
    let h = testgen::random(
        7,
        200,
        &Config {
            clients: 3,
            keys: 2,
            nodes: 3,
        },
    );
    let s = serde_json::to_string(&h).unwrap();
    let back: History = serde_json::from_str(&s).unwrap();
    assert_eq!(back, h);
    assert_valid(&back);
}

// ---------------------------------------------------------------- violations

#[test]
fn lost_append_missing_from_final_state() {
    let h = hist(
        vec![ok_append(1, 0, 10, 0, 1), ok_append(1, 11, 20, 0, 2)],
        finals(&[(1, &[(0, &[1, 2])]), (2, &[(0, &[1])]), (3, &[])]),
    );
    let a = assert_kinds(&h, &[LostAppend]);
    assert_eq!(a.len(), 2, "{}", show(&a));
    // Value 1 is missing from node 3 only; value 2 from nodes 2 and 3.
    assert!(a[0].explanation.contains("node(s) 3"), "{}", a[0]);
    assert!(a[1].explanation.contains("node(s) 2, 3"), "{}", a[1]);
    assert_eq!(a[1].ops, vec![ok_append(1, 11, 20, 0, 2)]);
}

#[test]
fn lost_append_never_seen_by_a_later_read() {
    let h = hist(
        vec![ok_append(1, 0, 10, 0, 1), read(2, 11, 12, 0, &[])],
        vec![],
    );
    let a = assert_kinds(&h, &[LostAppend]);
    assert_eq!(a[0].ops.len(), 2);
}

#[test]
fn lost_append_never_seen_although_a_later_append_was() {
    // No read began after the append of 1 completed, but the append of 2 (invoked at 2,
    // after 1 was acknowledged at 1) was observed without 1 before it.
    let h = hist(
        vec![
            ok_append(1, 0, 1, 0, 1),
            ok_append(2, 2, 3, 0, 2),
            read(3, 1, 4, 0, &[2]),
        ],
        vec![],
    );
    assert_kinds(&h, &[LostAppend]);
}

#[test]
fn duplicate_in_a_final_state() {
    let h = hist(
        vec![ok_append(1, 0, 10, 0, 1), ok_append(1, 11, 20, 0, 2)],
        same_finals(&[(0, &[1, 2, 1])]),
    );
    let a = assert_kinds(&h, &[Duplicate]);
    assert_eq!(a.len(), 1);
    assert!(a[0].explanation.contains("indexes 0 and 2"), "{}", a[0]);
}

#[test]
fn indeterminate_append_applied_twice_is_a_duplicate() {
    let h = hist(
        vec![
            append(1, 0, 10, 0, 1, Outcome::Indeterminate),
            read(2, 30, 31, 0, &[1, 1]),
        ],
        same_finals(&[(0, &[1, 1])]),
    );
    assert_kinds(&h, &[Duplicate]);
}

#[test]
fn divergent_reads() {
    let h = hist(
        vec![
            ok_append(1, 0, 10, 0, 1),
            ok_append(2, 0, 10, 0, 2),
            read(3, 11, 12, 0, &[1, 2]),
            read(4, 11, 12, 0, &[2, 1]),
        ],
        vec![],
    );
    let a = assert_kinds(&h, &[Divergence]);
    assert_eq!(a[0].ops.len(), 2);
    assert!(a[0].explanation.contains("not prefix-related"), "{}", a[0]);
}

#[test]
fn divergent_final_states() {
    let h = hist(
        vec![
            append(1, 0, 10, 0, 1, Outcome::Indeterminate),
            append(2, 0, 10, 0, 2, Outcome::Indeterminate),
        ],
        finals(&[(1, &[(0, &[1])]), (2, &[(0, &[2])])]),
    );
    let a = assert_kinds(&h, &[Divergence]);
    assert!(a[0].explanation.contains("final state of node"), "{}", a[0]);
}

#[test]
fn stale_read_misses_completed_append_present_at_the_end() {
    let h = hist(
        vec![
            ok_append(1, 0, 10, 0, 1),
            ok_append(1, 11, 12, 0, 2),
            read(2, 15, 16, 0, &[1]),
        ],
        same_finals(&[(0, &[1, 2])]),
    );
    let a = assert_kinds(&h, &[StaleRead]);
    assert!(a[0].explanation.contains("append of 2"), "{}", a[0]);
}

#[test]
fn stale_read_shorter_than_an_earlier_read() {
    // The indeterminate value 1, once seen, must stay in every later read.
    let h = hist(
        vec![
            append(1, 0, 10, 0, 1, Outcome::Indeterminate),
            read(2, 20, 21, 0, &[1]),
            read(3, 22, 23, 0, &[]),
        ],
        same_finals(&[(0, &[1])]),
    );
    let a = assert_kinds(&h, &[StaleRead]);
    assert!(a[0].explanation.contains("shorter"), "{}", a[0]);
}

#[test]
fn final_state_behind_a_read_is_stale() {
    // Node 3 lags: it lacks an indeterminate value a read had seen.
    let h = hist(
        vec![
            append(1, 0, 10, 0, 1, Outcome::Indeterminate),
            read(2, 20, 21, 0, &[1]),
        ],
        finals(&[(1, &[(0, &[1])]), (3, &[])]),
    );
    let a = assert_kinds(&h, &[StaleRead]);
    assert!(
        a[0].explanation.contains("final state of node 3"),
        "{}",
        a[0]
    );
}

#[test]
fn phantom_never_appended() {
    let h = hist(vec![read(1, 0, 1, 0, &[42])], vec![]);
    let a = assert_kinds(&h, &[Phantom]);
    assert!(
        a[0].explanation.contains("no client ever appended"),
        "{}",
        a[0]
    );
}

#[test]
fn phantom_failed_append() {
    let h = hist(
        vec![append(1, 0, 10, 0, 1, Outcome::Failed)],
        same_finals(&[(0, &[1])]),
    );
    let a = assert_kinds(&h, &[Phantom]);
    assert!(a[0].explanation.contains("failed definitely"), "{}", a[0]);
}

#[test]
fn phantom_value_of_another_key() {
    let h = hist(
        vec![
            ok_append(1, 0, 10, 7, 1),
            read(2, 11, 12, 7, &[1]),
            read(3, 13, 14, 8, &[1]),
        ],
        same_finals(&[(7, &[1]), (8, &[1])]),
    );
    let a = assert_kinds(&h, &[Phantom]);
    assert_eq!(a[0].key, 8);
    assert!(a[0].explanation.contains("appended to key 7"), "{}", a[0]);
}

#[test]
fn phantom_read_from_the_future() {
    let h = hist(
        vec![read(2, 0, 5, 0, &[1]), ok_append(1, 6, 10, 0, 1)],
        same_finals(&[(0, &[1])]),
    );
    let a = assert_kinds(&h, &[Phantom]);
    assert!(a[0].explanation.contains("invoked only after"), "{}", a[0]);
}

#[test]
fn real_time_order_violated() {
    let h = hist(
        vec![
            ok_append(1, 0, 10, 0, 1),
            ok_append(2, 11, 20, 0, 2),
            read(3, 21, 22, 0, &[2, 1]),
        ],
        same_finals(&[(0, &[2, 1])]),
    );
    let a = assert_kinds(&h, &[RealTimeOrder]);
    assert_eq!(a.len(), 1);
    let values: Vec<Value> = a[0]
        .ops
        .iter()
        .filter_map(|op| match op.kind {
            OpKind::Append { value, .. } => Some(value),
            OpKind::Read { .. } => None,
        })
        .collect();
    assert_eq!(values, vec![1, 2]);
}

// ------------------------------------------ reports name only what holds (issue 12)

#[test]
fn diverged_key_calls_no_observed_value_lost() {
    // Each value is seen by one read: the reads diverge, and neither value is lost.
    let h = hist(
        vec![
            ok_append(1, 0, 10, 0, 1),
            ok_append(2, 0, 10, 0, 2),
            read(3, 11, 12, 0, &[2]),
            read(4, 13, 14, 0, &[1]),
        ],
        vec![],
    );
    assert_kinds(&h, &[Divergence]);
    // The same whichever read is taken as the reference.
    let mut swapped = h.clone();
    swapped.ops[2] = read(3, 13, 14, 0, &[2]);
    swapped.ops[3] = read(4, 11, 12, 0, &[1]);
    assert_kinds(&swapped, &[Divergence]);
    // A value held only by a diverged final state is observed too.
    let h = hist(
        vec![
            ok_append(1, 0, 10, 0, 1),
            ok_append(2, 0, 10, 0, 2),
            append(5, 0, 10, 0, 3, Outcome::Indeterminate),
            read(3, 11, 12, 0, &[2, 3]),
        ],
        same_finals(&[(0, &[1, 2])]),
    );
    assert_kinds(&h, &[Divergence]);
    // A value missing from a final state is lost, diverged or not: the report names it.
    let h = hist(
        vec![
            ok_append(1, 0, 10, 0, 1),
            ok_append(2, 0, 10, 0, 2),
            read(3, 11, 12, 0, &[2]),
        ],
        same_finals(&[(0, &[1])]),
    );
    let a = assert_kinds(&h, &[Divergence, LostAppend]);
    let lost: Vec<&Anomaly> = a.iter().filter(|x| x.kind == LostAppend).collect();
    assert_eq!(lost.len(), 1, "{}", show(&a));
    assert_eq!(lost[0].ops, vec![ok_append(2, 0, 10, 0, 2)]);
}

#[test]
fn phantom_or_duplicate_that_later_vanishes_is_not_also_a_stale_read() {
    use Outcome::{Failed, Indeterminate};
    // A value nobody appended, then gone from the final states.
    let h = hist(
        vec![ok_append(1, 0, 10, 0, 1), read(2, 11, 12, 0, &[1, 42])],
        same_finals(&[(0, &[1])]),
    );
    assert_kinds(&h, &[Phantom]);
    // A second copy, then gone.
    let h = hist(
        vec![ok_append(1, 0, 10, 0, 1), read(2, 11, 12, 0, &[1, 1])],
        same_finals(&[(0, &[1])]),
    );
    assert_kinds(&h, &[Duplicate]);
    // A failed append seen, then gone from a later read.
    let h = hist(
        vec![
            append(1, 0, 10, 0, 1, Failed),
            read(2, 11, 12, 0, &[1]),
            read(3, 13, 14, 0, &[]),
        ],
        vec![],
    );
    assert_kinds(&h, &[Phantom]);
    // A read from the future, then gone.
    let h = hist(
        vec![
            read(2, 0, 5, 0, &[1]),
            append(1, 6, 10, 0, 1, Indeterminate),
        ],
        same_finals(&[(0, &[])]),
    );
    assert_kinds(&h, &[Phantom]);
}

#[test]
fn real_value_that_vanishes_behind_a_phantom_is_still_a_stale_read() {
    // 2 was really appended and seen; the final states lack it: a separate fact.
    let h = hist(
        vec![
            ok_append(1, 0, 10, 0, 1),
            append(3, 0, 10, 0, 2, Outcome::Indeterminate),
            read(2, 11, 12, 0, &[1, 42, 2]),
        ],
        same_finals(&[(0, &[1, 42])]),
    );
    let a = assert_kinds(&h, &[Phantom, StaleRead]);
    let stale = a.iter().find(|x| x.kind == StaleRead).expect("one");
    assert!(stale.explanation.contains("value 2 (index 2"), "{stale}");
}

#[test]
fn stale_read_explanation_cites_only_its_evidence() {
    // No final states: the explanation must not mention one.
    let h = hist(
        vec![
            ok_append(1, 0, 10, 0, 1),
            ok_append(1, 11, 12, 0, 2),
            read(2, 15, 16, 0, &[1]),
            read(3, 20, 21, 0, &[1, 2]),
        ],
        vec![],
    );
    let a = assert_kinds(&h, &[StaleRead]);
    assert_eq!(a.len(), 1, "{}", show(&a));
    assert!(!a[0].explanation.contains("final state"), "{}", a[0]);
    assert!(
        a[0].explanation
            .contains("acknowledged before the read began"),
        "{}",
        a[0]
    );
}

#[test]
fn infinity_is_later_than_u64_max() {
    use Outcome::Indeterminate;
    // A read completing at u64::MAX precedes the final states: node states that lack
    // what it saw are stale.
    let h = hist(
        vec![
            append(1, 0, 5, 0, 1, Indeterminate),
            read(2, 0, u64::MAX, 0, &[1]),
        ],
        same_finals(&[(0, &[])]),
    );
    let a = assert_kinds(&h, &[StaleRead]);
    assert!(
        a[0].explanation.contains("at the end of the run"),
        "{}",
        a[0]
    );
    // Holding it, they are fine.
    let h = hist(
        vec![
            append(1, 0, 5, 0, 1, Indeterminate),
            read(2, 0, u64::MAX, 0, &[1]),
        ],
        same_finals(&[(0, &[1])]),
    );
    assert_valid(&h);
    // An append acknowledged at u64::MAX must be in the final states.
    let h = hist(
        vec![ok_append(1, 0, u64::MAX, 0, 1)],
        same_finals(&[(0, &[])]),
    );
    assert_kinds(&h, &[LostAppend]);
}

#[test]
fn node_lagging_by_an_unseen_indeterminate_append_is_accepted() {
    // Node 2 lacks value 2, whose append is indeterminate and which no read showed: it
    // may take effect after node 2's state was taken. (Had a read shown it, node 2
    // would be stale: final_state_behind_a_read_is_stale.)
    let h = hist(
        vec![
            ok_append(1, 0, 10, 0, 1),
            append(2, 11, 20, 0, 2, Outcome::Indeterminate),
            read(3, 21, 22, 0, &[1]),
        ],
        finals(&[(1, &[(0, &[1, 2])]), (2, &[(0, &[1])])]),
    );
    assert_valid(&h);
}

// ---------------------------------------------------------------- malformed input

fn assert_refused(h: &History, want: HistoryError) {
    let got = check(h);
    assert_eq!(got, Err(want.clone()));
    let line = want.to_string();
    assert!(line.starts_with("malformed history: "), "{line}");
    assert!(!line.contains('\n'), "{line}");
    // Whatever the order of the operations, there is no verdict.
    let mut rev = h.clone();
    rev.ops.reverse();
    assert!(check(&rev).is_err());
}

#[test]
fn operation_completing_before_it_was_invoked_is_refused() {
    let bad = ok_append(1, 10, 5, 0, 1);
    let h = hist(vec![bad.clone()], same_finals(&[(0, &[1])]));
    assert_refused(&h, HistoryError::CompletesBeforeInvoked { op: bad });
    let bad = read(2, 10, 9, 0, &[]);
    let h = hist(vec![bad.clone()], vec![]);
    assert_refused(&h, HistoryError::CompletesBeforeInvoked { op: bad });
}

#[test]
fn value_appended_twice_is_refused() {
    // By two clients, to two keys: no verdict, not even the phantom on key 1.
    let first = ok_append(1, 0, 10, 0, 7);
    let second = append(2, 0, 10, 1, 7, Outcome::Failed);
    let h = hist(
        vec![first.clone(), second.clone()],
        same_finals(&[(0, &[7]), (1, &[7])]),
    );
    assert_refused(
        &h,
        HistoryError::ValueAppendedTwice {
            value: 7,
            first,
            second,
        },
    );
}

#[test]
fn retry_recorded_as_its_own_operation_is_refused() {
    // The first attempt timed out but took effect, and a read saw it; the retry (same
    // value, same request id) was then acknowledged by de-duplication. Recorded as two
    // operations, the acknowledged one was invoked after the read completed.
    let attempt = append(1, 0, 10, 0, 1, Outcome::Indeterminate);
    let retry = ok_append(1, 13, 20, 0, 1);
    let h = hist(
        vec![attempt.clone(), read(2, 11, 12, 0, &[1]), retry.clone()],
        same_finals(&[(0, &[1])]),
    );
    let want = HistoryError::ValueAppendedTwice {
        value: 1,
        first: attempt,
        second: retry,
    };
    assert!(
        want.to_string()
            .contains("a retry must be recorded as one operation spanning all its attempts"),
        "{want}"
    );
    assert_refused(&h, want);
    // Recorded as one operation from the first attempt to the acknowledgement: valid.
    let h = hist(
        vec![ok_append(1, 0, 20, 0, 1), read(2, 11, 12, 0, &[1])],
        same_finals(&[(0, &[1])]),
    );
    assert_valid(&h);
}

#[test]
fn unknown_key_in_a_final_state_is_refused() {
    let h = hist(
        vec![ok_append(1, 0, 10, 0, 1)],
        finals(&[(1, &[(0, &[1])]), (2, &[(0, &[1]), (5, &[])])]),
    );
    assert_refused(&h, HistoryError::UnknownKeyInFinalState { node: 2, key: 5 });
    // A key named only by a read is known.
    let h = hist(
        vec![ok_append(1, 0, 10, 0, 1), read(2, 0, 1, 5, &[])],
        finals(&[(1, &[(0, &[1])]), (2, &[(0, &[1]), (5, &[])])]),
    );
    assert_valid(&h);
}

#[test]
fn large_histories_find_repeats_and_values_of_other_keys() {
    // Enough appends for the value index to be split in several partitions.
    let cfg = Config {
        clients: 8,
        keys: 4,
        nodes: 3,
    };
    let h = testgen::random(3, 40_000, &cfg);
    let appends: Vec<usize> = (0..h.ops.len())
        .filter(|&i| matches!(h.ops[i].kind, OpKind::Append { .. }))
        .collect();
    assert!(appends.len() > 4 * 4096, "{} appends", appends.len());
    // A repeated value, far apart in `ops`: the error names the two operations.
    let mut m = h.clone();
    let (i, j) = (appends[10], appends[appends.len() - 10]);
    let OpKind::Append { value, .. } = m.ops[i].kind else {
        unreachable!("an append")
    };
    if let OpKind::Append { value: v, .. } = &mut m.ops[j].kind {
        *v = value;
    }
    assert_refused(
        &m,
        HistoryError::ValueAppendedTwice {
            value,
            first: m.ops[i].clone(),
            second: m.ops[j].clone(),
        },
    );
    // A value of key 1 in key 0's final state on every node: a phantom, explained.
    let mut m = h.clone();
    let v = m.final_states[0].1[&1][0];
    for (_, s) in &mut m.final_states {
        s.get_mut(&0).expect("key 0 has a final list").push(v);
    }
    let a = assert_kinds(&m, &[Phantom]);
    assert_eq!(a.len(), 1, "{}", show(&a));
    assert!(
        a[0].explanation
            .contains("it was appended to key 1, not to key 0"),
        "{}",
        a[0]
    );
}

#[test]
fn node_with_two_final_states_is_refused() {
    let h = hist(
        vec![ok_append(1, 0, 10, 0, 1)],
        finals(&[(1, &[(0, &[1])]), (1, &[(0, &[])])]),
    );
    assert_refused(&h, HistoryError::NodeListedTwice { node: 1 });
}

#[test]
fn reports_are_bounded_per_kind_and_key() {
    let ops: Vec<Op> = (0..20)
        .map(|i| ok_append(1, 10 * i, 10 * i + 5, 0, i))
        .collect();
    let h = hist(ops, same_finals(&[(0, &[])]));
    let a = assert_kinds(&h, &[LostAppend]);
    assert_eq!(a.len(), MAX_REPORTS_PER_KIND_PER_KEY);
    let last = a.last().unwrap().explanation.clone();
    assert!(
        last.contains(&format!(
            "and {} more lost_append",
            20 - MAX_REPORTS_PER_KIND_PER_KEY
        )),
        "{last}"
    );
}

#[test]
fn names_and_display() {
    let names: Vec<&str> = AnomalyKind::ALL.iter().map(|k| k.name()).collect();
    assert_eq!(
        names,
        [
            "lost_append",
            "duplicate",
            "divergence",
            "stale_read",
            "phantom",
            "real_time_order"
        ]
    );
    let h = hist(
        vec![
            ok_append(4, 100, 110, 3, 77),
            read(5, 120, 130, 3, &[1, 2, 3, 4, 5, 6, 7, 8, 9]),
        ],
        vec![],
    );
    let a = anomalies(&h);
    let line = a
        .iter()
        .map(|x| x.to_string())
        .find(|l| l.starts_with("lost_append on key 3"))
        .expect("lost append reported");
    assert!(!line.contains('\n'));
    assert!(
        line.contains("client 4 append(key 3, 77) @[100..110] ok"),
        "{line}"
    );
    assert!(
        line.contains("client 5 read(key 3) -> 9 values [1, 2, 3, ...3 more..., 7, 8, 9]"),
        "{line}"
    );
}

#[test]
fn output_is_sorted_by_key_then_kind() {
    let h = hist(
        vec![
            read(1, 0, 1, 2, &[42]),
            ok_append(1, 2, 3, 1, 5),
            ok_append(2, 0, 1, 0, 6),
        ],
        same_finals(&[(0, &[6, 6]), (1, &[]), (2, &[42])]),
    );
    let a = anomalies(&h);
    let got: Vec<(Key, AnomalyKind)> = a.iter().map(|x| (x.key, x.kind)).collect();
    assert_eq!(got, vec![(0, Duplicate), (1, LostAppend), (2, Phantom)]);
}

// ---------------------------------------------------------------- property tests

fn fate() -> impl Strategy<Value = Fate> {
    prop_oneof![
        14 => Just(Fate::Ok),
        1 => Just(Fate::Failed),
        2 => (0u8..4).prop_map(|delay| Fate::IndeterminateApplied { delay }),
        1 => Just(Fate::IndeterminateLost),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    (
        0u32..5,
        0u32..3,
        any::<bool>(),
        fate(),
        0u32..4,
        0u32..25,
        0u32..25,
    )
        .prop_map(|(client, key, read, fate, gap, pre, post)| Step {
            client,
            key,
            read,
            fate,
            gap,
            pre,
            post,
        })
}

fn valid_history() -> impl Strategy<Value = History> {
    (
        1u32..5,
        1u32..4,
        1u32..4,
        prop::collection::vec(step(), 0..120),
    )
        .prop_map(|(clients, keys, nodes, steps)| {
            testgen::build(
                &Config {
                    clients,
                    keys,
                    nodes,
                },
                &steps,
            )
        })
}

/// Every observed list of `key` (ok read results and final states), mutably.
fn for_each_list(h: &mut History, key: Key, mut f: impl FnMut(&mut Vec<Value>)) {
    for op in &mut h.ops {
        if let OpKind::Read {
            key: k,
            result: Some(l),
        } = &mut op.kind
        {
            if *k == key && op.outcome == Outcome::Ok {
                f(l);
            }
        }
    }
    for (_, m) in &mut h.final_states {
        if let Some(l) = m.get_mut(&key) {
            f(l);
        }
    }
}

fn read_lens(h: &History, key: Key) -> Vec<usize> {
    h.ops
        .iter()
        .filter_map(|op| match &op.kind {
            OpKind::Read {
                key: k,
                result: Some(l),
            } if *k == key && op.outcome == Outcome::Ok => Some(l.len()),
            _ => None,
        })
        .collect()
}

fn append_op(h: &History, v: Value) -> &Op {
    h.ops
        .iter()
        .find(|op| matches!(op.kind, OpKind::Append { value, .. } if value == v))
        .expect("generated values have an append")
}

/// The final list of every key with at least `min_len` values (all nodes agree).
fn final_lists(h: &History, min_len: usize) -> Vec<(Key, Vec<Value>)> {
    h.final_states[0]
        .1
        .iter()
        .filter(|(_, l)| l.len() >= min_len)
        .map(|(k, l)| (*k, l.clone()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, max_global_rejects: 4096, ..ProptestConfig::default() })]

    #[test]
    fn generated_valid_histories_pass(h in valid_history()) {
        let a = anomalies(&h);
        prop_assert!(a.is_empty(), "anomalies:\n{}", show(&a));
        let mut rev = h.clone();
        rev.ops.reverse();
        prop_assert!(anomalies(&rev).is_empty());
        // Without final states the reads alone must pass too.
        rev.final_states.clear();
        prop_assert!(anomalies(&rev).is_empty());
    }

    /// Drop an acknowledged value from every observation of its key.
    #[test]
    fn dropping_an_acked_value_is_lost_append(h in valid_history(), pick in any::<Index>()) {
        let acked: Vec<(Key, Value)> = h.ops.iter().filter_map(|op| match op.kind {
            OpKind::Append { key, value } if op.outcome == Outcome::Ok => Some((key, value)),
            _ => None,
        }).collect();
        prop_assume!(!acked.is_empty());
        let (key, v) = *pick.get(&acked);
        let mut m = h.clone();
        for_each_list(&mut m, key, |l| l.retain(|x| *x != v));
        let a = anomalies(&m);
        prop_assert_eq!(kinds(&a), BTreeSet::from([LostAppend]), "anomalies:\n{}", show(&a));
        let want = OpKind::Append { key, value: v };
        prop_assert!(a.iter().any(|x| x.ops.iter().any(|op| op.kind == want)), "value not named");
    }

    /// Swap two adjacent appends where the first completed before the second began,
    /// in every observation (no read shows exactly one of them).
    #[test]
    fn swapping_real_time_ordered_appends_is_real_time_order(h in valid_history(), pick in any::<Index>()) {
        let mut candidates = Vec::new();
        for (key, l) in final_lists(&h, 2) {
            let lens = read_lens(&h, key);
            for j in 0..l.len() - 1 {
                let (a, b) = (append_op(&h, l[j]), append_op(&h, l[j + 1]));
                if a.outcome == Outcome::Ok && a.complete_ms < b.invoke_ms && !lens.contains(&(j + 1)) {
                    candidates.push((key, j));
                }
            }
        }
        prop_assume!(!candidates.is_empty());
        let (key, j) = *pick.get(&candidates);
        let mut m = h.clone();
        for_each_list(&mut m, key, |l| if l.len() > j + 1 { l.swap(j, j + 1) });
        let a = anomalies(&m);
        prop_assert_eq!(kinds(&a), BTreeSet::from([RealTimeOrder]), "anomalies:\n{}", show(&a));
    }

    /// Insert a second copy of an observed value right after it, in every observation
    /// that shows it.
    #[test]
    fn duplicating_a_value_is_duplicate(h in valid_history(), pick in any::<Index>()) {
        let candidates: Vec<(Key, usize)> = final_lists(&h, 1)
            .into_iter()
            .flat_map(|(k, l)| (0..l.len()).map(move |p| (k, p)))
            .collect();
        prop_assume!(!candidates.is_empty());
        let (key, p) = *pick.get(&candidates);
        let mut m = h.clone();
        for_each_list(&mut m, key, |l| if l.len() > p { let v = l[p]; l.insert(p + 1, v) });
        let a = anomalies(&m);
        prop_assert_eq!(kinds(&a), BTreeSet::from([Duplicate]), "anomalies:\n{}", show(&a));
    }

    /// A read that began after another completed returns less than that one did.
    #[test]
    fn shortening_a_later_read_is_stale_read(h in valid_history(), pick in any::<Index>()) {
        let reads: Vec<(usize, Key, u64, u64, usize)> = h.ops.iter().enumerate().filter_map(|(i, op)| match &op.kind {
            OpKind::Read { key, result: Some(l) } if op.outcome == Outcome::Ok =>
                Some((i, *key, op.invoke_ms, op.complete_ms, l.len())),
            _ => None,
        }).collect();
        let mut pairs = Vec::new();
        for &(i1, k1, _, c1, len1) in &reads {
            for &(i2, k2, inv2, _, _) in &reads {
                if k1 == k2 && c1 < inv2 && len1 >= 1 {
                    pairs.push((i1, i2));
                }
            }
        }
        prop_assume!(!pairs.is_empty());
        let (i1, i2) = *pick.get(&pairs);
        let mut shorter = match &h.ops[i1].kind {
            OpKind::Read { result: Some(l), .. } => l.clone(),
            OpKind::Read { .. } | OpKind::Append { .. } => unreachable!("picked an ok read"),
        };
        shorter.pop();
        let mut m = h.clone();
        if let OpKind::Read { result, .. } = &mut m.ops[i2].kind {
            *result = Some(shorter);
        }
        let a = anomalies(&m);
        prop_assert_eq!(kinds(&a), BTreeSet::from([StaleRead]), "anomalies:\n{}", show(&a));
        prop_assert!(a.iter().any(|x| x.ops.contains(&m.ops[i2])), "read not named");
    }

    /// A value that was never appended shows up at the end of every final state.
    #[test]
    fn adding_an_unknown_value_is_phantom(h in valid_history(), pick in any::<Index>()) {
        let keys: Vec<Key> = h.final_states[0].1.keys().copied().collect();
        prop_assume!(!keys.is_empty());
        let key = *pick.get(&keys);
        let mut m = h.clone();
        for (_, s) in &mut m.final_states {
            s.get_mut(&key).expect("all nodes agree").push(u64::MAX);
        }
        let a = anomalies(&m);
        prop_assert_eq!(kinds(&a), BTreeSet::from([Phantom]), "anomalies:\n{}", show(&a));
    }

    /// One node's final state gets a different last value.
    #[test]
    fn rewriting_one_node_is_divergence(h in valid_history(), pick in any::<Index>()) {
        prop_assume!(h.final_states.len() >= 2);
        let keys: Vec<Key> = final_lists(&h, 1).into_iter().map(|(k, _)| k).collect();
        prop_assume!(!keys.is_empty());
        let key = *pick.get(&keys);
        let mut m = h.clone();
        let l = m.final_states[0].1.get_mut(&key).expect("key present");
        *l.last_mut().expect("non-empty") = u64::MAX;
        let a = anomalies(&m);
        prop_assert!(kinds(&a).contains(&Divergence), "anomalies:\n{}", show(&a));
    }
}

/// The part of `h` about `key`.
fn restrict(h: &History, key: Key) -> History {
    History {
        ops: h
            .ops
            .iter()
            .filter(|op| op.kind.key() == key)
            .cloned()
            .collect(),
        final_states: h
            .final_states
            .iter()
            .map(|(n, m)| {
                (
                    *n,
                    m.iter()
                        .filter(|(k, _)| **k == key)
                        .map(|(k, l)| (*k, l.clone()))
                        .collect(),
                )
            })
            .collect(),
    }
}

#[test]
fn keys_are_checked_independently() {
    // Key 0 is big, the others small, and some keys are broken: checking the whole
    // history must give exactly the reports of checking each key alone (nothing of one
    // key leaks into the next).
    let cfg = Config {
        clients: 6,
        keys: 1,
        nodes: 3,
    };
    let mut h = testgen::random(11, 3_000, &cfg);
    let mut r = testgen::SplitMix(5);
    for key in 1..40u32 {
        let small = testgen::random(
            u64::from(key),
            20,
            &Config {
                clients: 3,
                keys: 1,
                nodes: 3,
            },
        );
        for mut op in small.ops {
            match &mut op.kind {
                OpKind::Append { key: k, value } => {
                    *k = key;
                    *value += u64::from(key) << 32;
                }
                OpKind::Read { key: k, result } => {
                    *k = key;
                    for v in result.iter_mut().flatten() {
                        *v += u64::from(key) << 32;
                    }
                }
            }
            h.ops.push(op);
        }
        for ((_, m), (_, sm)) in h.final_states.iter_mut().zip(&small.final_states) {
            if let Some(l) = sm.get(&0) {
                m.insert(key, l.iter().map(|v| v + (u64::from(key) << 32)).collect());
            }
        }
        // Break every third key one way or another.
        if key % 3 == 0 {
            for (_, m) in &mut h.final_states {
                if let Some(l) = m.get_mut(&key) {
                    match r.below(3) {
                        0 => l.push(u64::MAX),
                        1 => {
                            if let Some(&v) = l.first() {
                                l.push(v);
                            }
                        }
                        _ => {
                            l.pop();
                        }
                    }
                }
            }
        }
    }
    let whole = anomalies(&h);
    let keys: BTreeSet<Key> = h.ops.iter().map(|op| op.kind.key()).collect();
    let mut each = Vec::new();
    for key in keys {
        each.extend(anomalies(&restrict(&h, key)));
    }
    assert_eq!(
        kinds(&whole),
        AnomalyKind::ALL
            .into_iter()
            .filter(|k| *k != RealTimeOrder)
            .collect::<BTreeSet<_>>()
    );
    assert!(
        whole == each,
        "whole:\n{}each:\n{}",
        show(&whole),
        show(&each)
    );
}

#[test]
fn larger_random_histories_pass() {
    for seed in 0..20 {
        let cfg = Config {
            clients: 8,
            keys: 4,
            nodes: 3,
        };
        let h = testgen::random(seed, 2_000, &cfg);
        let a = anomalies(&h);
        assert!(a.is_empty(), "seed {seed}:\n{}", show(&a));
    }
}

// ---------------------------------------------------------------- brute-force oracle

/// Exhaustive per-key linearizability search (Wing & Gong style) for tiny histories:
/// ok appends must be linearized, indeterminate appends may be, failed appends never
/// are; ok reads and final states (invoked and completed at +infinity) must return the
/// list at their point. `x` must precede `y` iff `x` completed before `y` was invoked.
/// Times are widened to `u128` so that +infinity is later than every `u64`.
fn brute_force_linearizable(h: &History) -> bool {
    const INF: u128 = u128::MAX;
    struct B {
        inv: u128,
        comp: u128,
        append: Option<Value>,
        read: Vec<Value>,
        required: bool,
    }
    fn dfs(
        ops: &[B],
        done: u32,
        list: &mut Vec<Value>,
        memo: &mut std::collections::HashSet<(u32, Vec<Value>)>,
    ) -> bool {
        if ops
            .iter()
            .enumerate()
            .all(|(i, o)| !o.required || done & (1 << i) != 0)
        {
            return true;
        }
        if !memo.insert((done, list.clone())) {
            return false;
        }
        for (i, o) in ops.iter().enumerate() {
            if done & (1 << i) != 0 {
                continue;
            }
            let blocked = ops
                .iter()
                .enumerate()
                .any(|(j, p)| j != i && done & (1 << j) == 0 && p.required && p.comp < o.inv);
            if blocked {
                continue;
            }
            match o.append {
                Some(v) => {
                    list.push(v);
                    let ok = dfs(ops, done | (1 << i), list, memo);
                    list.pop();
                    if ok {
                        return true;
                    }
                }
                None => {
                    if o.read == *list && dfs(ops, done | (1 << i), list, memo) {
                        return true;
                    }
                }
            }
        }
        false
    }
    let mut keys = BTreeSet::new();
    for op in &h.ops {
        match &op.kind {
            OpKind::Append { key, .. } | OpKind::Read { key, .. } => keys.insert(*key),
        };
    }
    for (_, m) in &h.final_states {
        keys.extend(m.keys().copied());
    }
    keys.into_iter().all(|key| {
        let mut ops = Vec::new();
        for op in &h.ops {
            match &op.kind {
                OpKind::Append { key: k, value } if *k == key => match op.outcome {
                    Outcome::Ok => ops.push(B {
                        inv: op.invoke_ms.into(),
                        comp: op.complete_ms.into(),
                        append: Some(*value),
                        read: vec![],
                        required: true,
                    }),
                    Outcome::Indeterminate => ops.push(B {
                        inv: op.invoke_ms.into(),
                        comp: INF,
                        append: Some(*value),
                        read: vec![],
                        required: false,
                    }),
                    Outcome::Failed => {}
                },
                OpKind::Read {
                    key: k,
                    result: Some(l),
                } if *k == key && op.outcome == Outcome::Ok => ops.push(B {
                    inv: op.invoke_ms.into(),
                    comp: op.complete_ms.into(),
                    append: None,
                    read: l.clone(),
                    required: true,
                }),
                _ => {}
            }
        }
        for (_, m) in &h.final_states {
            ops.push(B {
                inv: INF,
                comp: INF,
                append: None,
                read: m.get(&key).cloned().unwrap_or_default(),
                required: true,
            });
        }
        assert!(ops.len() <= 16, "oracle is for tiny histories");
        dfs(
            &ops,
            0,
            &mut Vec::new(),
            &mut std::collections::HashSet::new(),
        )
    })
}

/// A tiny random history on key 0 (plus one append of value 9 to key 1): appends of
/// 1..=n with random outcomes and windows, reads and final states that are mostly
/// prefixes of one random order of a random subset of values, sometimes not. Every time
/// is `base` plus at most 34. A failed read names key 0, so the history is well-formed
/// even without an append to it.
fn tiny_random_history(r: &mut testgen::SplitMix, base: u64) -> History {
    let n = r.below(6) as u64;
    let mut ops = vec![Op {
        client: 98,
        invoke_ms: base,
        complete_ms: base,
        kind: OpKind::Read {
            key: 0,
            result: None,
        },
        outcome: Outcome::Failed,
    }];
    for v in 1..=n {
        let outcome = match r.below(10) {
            0..=5 => Outcome::Ok,
            6..=8 => Outcome::Indeterminate,
            _ => Outcome::Failed,
        };
        let inv = base + u64::from(r.below(20));
        ops.push(append(
            v as u32,
            inv,
            inv + u64::from(r.below(10)),
            0,
            v,
            outcome,
        ));
    }
    ops.push(ok_append(99, base, base + 1, 1, 9));
    // A base order: a random subset of the values (plus sometimes a stranger), shuffled.
    let mut pool: Vec<Value> = (1..=n).filter(|_| r.below(4) != 0).collect();
    if r.below(8) == 0 {
        pool.push(if r.below(2) == 0 { 9 } else { 42 });
    }
    for i in (1..pool.len()).rev() {
        pool.swap(i, r.below(i as u32 + 1) as usize);
    }
    let list = |r: &mut testgen::SplitMix| -> Vec<Value> {
        let mut l: Vec<Value> = pool[..r.below(pool.len() as u32 + 1) as usize].to_vec();
        match r.below(12) {
            0 if !l.is_empty() => {
                let v = l[r.below(l.len() as u32) as usize];
                l.push(v);
            }
            1 if l.len() >= 2 => l.swap(0, 1),
            2 if !l.is_empty() => {
                l.remove(r.below(l.len() as u32) as usize);
            }
            _ => {}
        }
        l
    };
    for c in 0..r.below(5) {
        let inv = base + u64::from(r.below(25));
        let l = list(r);
        ops.push(read(10 + c, inv, inv + u64::from(r.below(10)), 0, &l));
    }
    let mut final_states = Vec::new();
    for node in 0..r.below(3) {
        let l = list(r);
        final_states.push((node, BTreeMap::from([(0, l), (1, vec![9])])));
    }
    History { ops, final_states }
}

/// Compares the checker with the brute-force search on `cases` tiny histories with
/// times from `base`, and checks that every report it makes holds. Returns the counts
/// of linearizable and non-linearizable cases and the kinds seen.
fn agree_with_brute_force(
    seed: u64,
    cases: usize,
    base: u64,
) -> (usize, usize, BTreeSet<AnomalyKind>) {
    let mut r = testgen::SplitMix(seed);
    let (mut valid, mut invalid) = (0, 0);
    let mut seen_kinds = BTreeSet::new();
    for case in 0..cases {
        let h = tiny_random_history(&mut r, base);
        let a = anomalies(&h);
        let brute = brute_force_linearizable(&h);
        assert_eq!(
            a.is_empty(),
            brute,
            "case {case}: brute force says linearizable={brute}, checker says:\n{}\n{h:#?}",
            show(&a)
        );
        assert_reports_hold(&h, &a);
        if brute {
            valid += 1;
        } else {
            invalid += 1;
            seen_kinds.extend(kinds(&a));
        }
    }
    (valid, invalid, seen_kinds)
}

#[test]
fn checker_agrees_with_brute_force_on_tiny_histories() {
    let (valid, invalid, seen_kinds) = agree_with_brute_force(0xC0FFEE, 30_000, 0);
    // The comparison must exercise both verdicts and every kind.
    assert!(
        valid > 3_000 && invalid > 3_000,
        "valid {valid}, invalid {invalid}"
    );
    assert_eq!(
        seen_kinds,
        AnomalyKind::ALL.into_iter().collect::<BTreeSet<_>>()
    );
    println!("brute force agreement: {valid} linearizable, {invalid} not");
}

#[test]
fn checker_agrees_with_brute_force_at_the_end_of_time() {
    // The latest times are u64::MAX itself: +infinity must still come after them.
    let (valid, invalid, seen_kinds) = agree_with_brute_force(0xE0D, 10_000, u64::MAX - 34);
    assert!(
        valid > 1_000 && invalid > 1_000,
        "valid {valid}, invalid {invalid}"
    );
    assert!(seen_kinds.contains(&StaleRead), "{seen_kinds:?}");
}
