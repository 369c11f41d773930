//! The figures (sim/model/src/metrics.rs): merging the figures of two seed ranges gives
//! exactly the figures of one run over both, whatever the threads; and a run's figures
//! say what its record and its clients saw.

use zkwal_sim::run::{run_seed, Target};
use zkwal_sim::runner::run_range;
use zkwal_sim::scenario::Variant;

fn target(variant: Variant, zk: bool) -> Target {
    Target {
        variant,
        nodes: 2,
        zk,
        pause_monitor: false,
    }
}

#[test]
fn merging_two_seed_ranges_equals_one_run_over_both() {
    for (variant, zk) in [
        (Variant::Raft, false),
        (Variant::Raft, true),
        (Variant::Fenced, true),
    ] {
        let t = target(variant, zk);
        let whole = run_range(0, 120, t, 2, &|_| {});
        let mut a = run_range(0, 45, t, 1, &|_| {});
        let b = run_range(45, 120, t, 2, &|_| {});
        a.merge(b);
        assert_eq!(
            a.figures,
            whole.figures,
            "{} zk={zk}: the merged figures differ",
            variant.name()
        );
        assert_eq!(a.figures.summary(), whole.figures.summary());
        assert_eq!(a.seeds_run, whole.seeds_run);
        assert_eq!(a.events, whole.events);
        let seeds = |t: &zkwal_sim::runner::Totals| -> Vec<u64> {
            t.violations.iter().map(|v| v.seed).collect()
        };
        assert_eq!(seeds(&a), seeds(&whole));
        // The range was long enough to measure something.
        let s = whole.figures.summary();
        assert!(s.failovers > 0, "{} zk={zk}: {s:?}", variant.name());
        assert!(s.unavailability_ms.p50.is_some());
        assert!(s.write_latency_ms.p99.is_some());
        assert!(s.availability.is_some_and(|a| a > 0.0 && a <= 1.0));
        assert!(s.total_losses > 0, "{} zk={zk}: {s:?}", variant.name());
        assert_eq!(s.zk_ops_per_write.is_some(), zk);
        assert_eq!(s.zk_bytes_max.is_some_and(|b| b > 0), zk);
    }
}

#[test]
fn a_runs_figures_follow_its_record() {
    for seed in 0..40 {
        let r = run_seed(seed, Variant::Raft, 2);
        let rec = &r.record;
        assert!(
            !rec.leader_changes.is_empty(),
            "seed {seed}: someone led at some point"
        );
        assert!(rec
            .leader_changes
            .windows(2)
            .all(|w| w[0].at_ms <= w[1].at_ms));
        let f = &r.figures;
        assert!(f.unavailability_ms.len() as u64 <= f.leader_changes);
        assert!(f.available_ms <= f.observed_ms);
        assert!(f.total_loss_recovery_ms.len() as u64 <= f.total_losses);
        for (rec, ret) in f
            .total_loss_recovery_ms
            .iter()
            .zip(&f.total_loss_return_to_write_ms)
        {
            assert!(ret <= rec);
        }
        if r.violation.is_none() {
            assert!(f.writes_acked >= 1, "seed {seed}: the probe write at least");
        }
    }
}
