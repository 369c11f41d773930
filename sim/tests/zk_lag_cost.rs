//! A `zk_lag` costs events only for what it changes (issue 30): before the fix, each
//! earlier ensemble deadline (a lagging server's next transaction) left one more
//! ZooKeeper timer that fired at every later deadline, and seed 96 (fenced, 2 nodes)
//! took 15,024 events with its lags against 3,154 without (12,650 of them timers).

use zkwal_sim::run::run_scenario;
use zkwal_sim::scenario::{Fault, Scenario, Variant};

fn events_with_and_without_lag(seed: u64) -> Option<(u64, u64)> {
    let sc = Scenario::generate_with(seed, Variant::Fenced, 2, true);
    if !sc
        .faults
        .iter()
        .any(|f| matches!(f.fault, Fault::ZkLag { .. }))
    {
        return None;
    }
    let mut without = sc.clone();
    without
        .faults
        .retain(|f| !matches!(f.fault, Fault::ZkLag { .. }));
    Some((run_scenario(&sc).events, run_scenario(&without).events))
}

#[test]
fn a_lag_does_not_multiply_the_events() {
    let (with, without) = events_with_and_without_lag(96).expect("seed 96 has lags");
    assert!(
        with <= 2 * without,
        "seed 96: {with} events with its lags, {without} without"
    );
    let (mut total_with, mut total_without) = (0, 0);
    for seed in 0..60 {
        if let Some((a, b)) = events_with_and_without_lag(seed) {
            total_with += a;
            total_without += b;
        }
    }
    // Lags change what happens (stale reads, slower acknowledgements): a little.
    assert!(
        total_with * 10 <= total_without * 12,
        "seeds 0..60: {total_with} events with their lags, {total_without} without"
    );
}
