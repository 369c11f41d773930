//! The madsim tier: the event loop's scenarios (the same generator, faults and client
//! scripts) run on madsim's runtime through the async driver. One seed per madsim
//! seed: `MADSIM_TEST_SEED` (first seed), `MADSIM_TEST_NUM` (how many),
//! `MADSIM_TEST_CHECK_DETERMINISM=1` (run a seed twice, compare). Built only with
//! `RUSTFLAGS="--cfg madsim"`; see README.md, "The madsim tier".
#![cfg(madsim)]

use zkwal_model::scenario::Variant;
use zkwal_node::harness::check_seed;

#[madsim::test]
async fn raft_2_nodes() {
    check_seed("raft_2_nodes", Variant::Raft, 2, false).await;
}

#[madsim::test]
async fn raft_3_nodes() {
    check_seed("raft_3_nodes", Variant::Raft, 3, false).await;
}

#[madsim::test]
async fn raft_5_nodes() {
    check_seed("raft_5_nodes", Variant::Raft, 5, false).await;
}

/// Plain Raft with the mock ZooKeeper ensemble on the network (`zkwal-sim run --zk`):
/// every node keeps a session and a membership znode; ZooKeeper outages, lag and
/// cut-offs join the faults; the ensemble's and the sessions' invariants are checked.
#[madsim::test]
async fn raft_3_nodes_zk() {
    check_seed("raft_3_nodes_zk", Variant::Raft, 3, true).await;
}

/// The `fenced` WAL variant (DESIGN.md §3), with its ZooKeeper faults.
#[madsim::test]
async fn fenced_3_nodes() {
    check_seed("fenced_3_nodes", Variant::Fenced, 3, true).await;
}

/// A seed replays exactly: the same run twice on fresh runtimes gives the same
/// counts, virtual end time, outcomes and verdict (madsim's own check,
/// `MADSIM_TEST_CHECK_DETERMINISM=1`, compares every random draw as well).
#[test]
fn a_seed_replays_exactly() {
    for (seed, nodes) in [(3u64, 2u32), (11, 3), (12, 5)] {
        let once = || {
            let rt = madsim::runtime::Runtime::with_seed_and_config(seed, Default::default());
            let sc = zkwal_model::scenario::Scenario::generate(seed, Variant::Raft, nodes);
            let o = rt.block_on(zkwal_node::harness::run(sc));
            (
                o.counts.events,
                o.counts.messages,
                o.net_messages,
                o.virtual_time_ms,
                o.ops,
                o.violation.map(|v| v.invariant),
            )
        };
        let a = once();
        assert!(a.0 > 0 && a.4 .0 > 0, "seed {seed} did nothing: {a:?}");
        assert_eq!(a, once(), "seed {seed}, {nodes} nodes");
    }
}
