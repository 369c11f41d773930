//! The availability ceiling (`ceiling.rs`) on whole runs: scripted schedules whose
//! ceiling is known by hand, and over many swarm seeds of every variant that no design
//! beats its ceiling (available ≤ achievable ≤ observed). First, exact ceilings of
//! outage timelines sampled by one writer every 100 ms.

mod common;

use zkwal_sim::ceiling::Outages;
use zkwal_sim::run::run_scenario;
use zkwal_sim::scenario::{Fault, Scenario, TimedFault, Variant};

/// One client that invokes a write every 100 ms of a 10,000 ms fault phase (op
/// timeout 100 ms, so each write stands for exactly its 100 ms, and an answer
/// window of as much), every one
/// acknowledged 10 ms later unless invoked in `failing`; and the figures of the
/// run that suffered `outages`.
fn figures_of(
    variant: Variant,
    outages: &Outages,
    failing: std::ops::Range<u64>,
) -> zkwal_sim::metrics::RunFigures {
    use zkwal_invariants::history::{Op, OpKind, Outcome};
    let mut sc = Scenario::generate_with(0, variant, 2, true);
    sc.options.duration_ms = 10_000;
    sc.options.client.op_timeout_ms = 100;
    sc.options.client.attempt_timeout_ms = 0; // no attempt outlives the deadline
    let mut c = zkwal_sim::clients::Client::new(0, Vec::new(), 2, 100, 100);
    c.history = (0..100)
        .map(|k| {
            let t = k * 100;
            Op {
                client: 0,
                invoke_ms: t,
                complete_ms: t + 10,
                kind: OpKind::Append { key: 0, value: k },
                outcome: if failing.contains(&t) {
                    Outcome::Indeterminate
                } else {
                    Outcome::Ok
                },
            }
        })
        .collect();
    let probe = zkwal_sim::clients::Client::new(1, Vec::new(), 2, 100, 100);
    let mut rec = zkwal_sim::metrics::Record::default();
    rec.outages = outages.clone();
    zkwal_sim::metrics::RunFigures::of_run(&sc, &[c, probe], 1, &rec, None, 30_000)
}

fn both_up() -> Outages {
    let mut o = Outages::default();
    o.up(0, 0);
    o.up(0, 1);
    o
}

#[test]
fn both_nodes_down_for_a_tenth_of_the_run_give_a_ceiling_of_nine_tenths() {
    let mut o = both_up();
    o.down(3_000, 0);
    o.down(4_000, 1);
    o.up(5_000, 0); // both down 4_000..5_000
    o.up(6_000, 1);
    o.heal(10_000);
    for v in Variant::ALL {
        let f = figures_of(v, &o, 4_000..5_000);
        assert_eq!(f.observed_ms, 10_000, "{v:?}");
        assert_eq!(f.achievable_ms, 9_000, "{v:?}");
        assert_eq!(f.available_ms, 9_000, "{v:?}");
    }
    // A design that also failed while one node was down sits below its ceiling.
    let f = figures_of(Variant::Raft, &o, 3_000..6_000);
    assert_eq!((f.achievable_ms, f.available_ms), (9_000, 7_000));
}

#[test]
fn a_zookeeper_outage_lowers_only_the_zookeeper_variants_ceiling() {
    let mut o = both_up();
    o.zk_outage(2_000, true);
    o.zk_outage(2_500, false); // 500 ms
    o.zk_election(7_000, 300); // 300 ms without a ZooKeeper leader
    o.heal(10_000);
    for v in Variant::ALL {
        let f = figures_of(v, &o, 0..0);
        let lost = if v == Variant::Raft { 0 } else { 800 };
        assert_eq!(f.achievable_ms, 10_000 - lost, "{v:?}");
    }
}

#[test]
fn a_pause_counts_like_a_crash_and_ends_with_one() {
    let mut o = both_up();
    o.down(1_000, 1); // node 1 down 1_000..3_000
    o.paused(2_000, 0); // node 0 paused from 2_000 ...
    o.up(3_000, 1);
    o.paused(3_500, 1);
    o.down(4_000, 1); // a pause is over when its process crashes
    o.resumed(4_500, 0); // ... to 4_500: nobody serves 2_000..3_000, 3_500..4_500
    o.up(9_000, 1);
    o.heal(10_000);
    let f = figures_of(Variant::Fenced, &o, 0..0);
    assert_eq!(f.achievable_ms, 10_000 - 1_000 - 1_000);
    // A node cut off from ZooKeeper cannot serve a ZooKeeper variant.
    o.zk_link(6_000, 0, true);
    o.zk_link(6_200, 0, false);
    let f = figures_of(Variant::Fenced, &o, 0..0);
    assert_eq!(f.achievable_ms, 10_000 - 1_000 - 1_000 - 200);
    let f = figures_of(Variant::Raft, &o, 0..0);
    assert_eq!(f.achievable_ms, 10_000 - 1_000 - 1_000);
}

/// A quiet 2-node run of 10,000 ms in which four clients write back to back (no think
/// time, 250 ms operation timeout), so that client writes sample the whole fault phase.
fn scripted(v: Variant, faults: Vec<TimedFault>) -> Scenario {
    common::back_to_back_writers(v, faults, 250, 100)
}

/// (ceiling, unachievable ms, observed ms) of a run; `None` when an unfenced variant
/// violated an invariant (its figures would cover a cut-short run). `raft` and
/// `fenced` must pass.
fn ceiling(sc: &Scenario) -> Option<(f64, u64, u64)> {
    let r = run_scenario(sc);
    if matches!(sc.variant, Variant::Seed | Variant::SeedZkQuorum) && r.violation.is_some() {
        return None;
    }
    assert!(r.violation.is_none(), "{:?}", r.violation);
    let f = &r.figures;
    assert!(f.available_ms <= f.achievable_ms && f.achievable_ms <= f.observed_ms);
    Some((
        f.achievable_ms as f64 / f.observed_ms as f64,
        f.observed_ms - f.achievable_ms,
        f.observed_ms,
    ))
}

/// A span of `d` ms in which no design can serve leaves writes invoked in its first
/// `d - w` ms unachievable (`w`: the client's answer window, operation plus attempt
/// timeout, 350 ms); with back-to-back writers the lost time is that within one
/// window (the writes on either edge stand for up to one).
fn assert_lost_about(lost_ms: u64, span_ms: u64, what: &str) {
    let op = 250 + 100;
    let expect = span_ms - op;
    assert!(
        lost_ms + op >= expect && lost_ms <= expect + op,
        "{what}: {lost_ms} ms unachievable, expected {expect} ± {op}"
    );
}

#[test]
fn both_nodes_down_for_a_tenth_of_the_run() {
    for v in Variant::ALL {
        let sc = scripted(
            v,
            vec![TimedFault {
                at_ms: 4_000,
                fault: Fault::TotalLoss {
                    down_ms: 1_000,
                    blank: vec![],
                },
            }],
        );
        let Some((c, lost, observed)) = ceiling(&sc) else {
            continue;
        };
        assert!(
            observed >= 9_500,
            "{v:?}: writers sample the run ({observed})"
        );
        assert_lost_about(lost, 1_000, v.name());
        assert!(c > 0.85 && c < 0.95, "{v:?}: {c}");
    }
}

#[test]
fn a_zookeeper_outage_bounds_only_the_zookeeper_variants() {
    for v in Variant::ALL {
        let sc = scripted(
            v,
            vec![TimedFault {
                at_ms: 3_000,
                fault: Fault::ZkOutage { ms: 2_000 },
            }],
        );
        let Some((_, lost, _)) = ceiling(&sc) else {
            continue;
        };
        if v == Variant::Raft {
            assert_eq!(lost, 0, "raft does not need ZooKeeper");
        } else {
            assert_lost_about(lost, 2_000, v.name());
        }
    }
}

#[test]
fn pauses_of_both_nodes_bound_every_variant() {
    for v in Variant::ALL {
        let sc = scripted(
            v,
            vec![
                TimedFault {
                    at_ms: 2_000,
                    fault: Fault::Pause { node: 0, ms: 2_000 },
                },
                TimedFault {
                    at_ms: 2_500,
                    fault: Fault::Pause { node: 1, ms: 1_000 },
                },
            ],
        );
        let Some((_, lost, _)) = ceiling(&sc) else {
            continue;
        };
        assert_lost_about(lost, 1_000, v.name());
    }
}

/// Over swarm seeds of every variant (ZooKeeper faults in the swarm): no run is more
/// available than its ceiling, and the ceiling is below 1 in some.
#[test]
fn no_run_beats_its_ceiling() {
    let mut below = 0;
    for v in Variant::ALL {
        for seed in 0..150 {
            let sc = Scenario::generate_with(seed, v, 2, true);
            let r = run_scenario(&sc);
            if r.violation.is_some() {
                continue;
            }
            let f = &r.figures;
            assert!(
                f.available_ms <= f.achievable_ms,
                "{v:?} seed {seed}: available {} > achievable {}",
                f.available_ms,
                f.achievable_ms
            );
            assert!(f.achievable_ms <= f.observed_ms);
            below += u32::from(f.achievable_ms < f.observed_ms);
        }
    }
    assert!(below > 0, "no seed had a ceiling below 1");
}
