//! The madsim tier: the event loop's scenarios (the same generator, faults and client
//! scripts) run on madsim's runtime through the async driver. One seed per madsim
//! seed: `MADSIM_TEST_SEED` (first seed), `MADSIM_TEST_NUM` (how many),
//! `MADSIM_TEST_CHECK_DETERMINISM=1` (run a seed twice, compare). Built only with
//! `RUSTFLAGS="--cfg madsim"`; see README.md, "The madsim tier".
#![cfg(madsim)]

use zkwal_node::harness::check_seed;
use zkwal_sim::scenario::Variant;

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
