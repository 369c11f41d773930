//! `zk.client_expiry`: who decides that a node's ZooKeeper session is over, on one
//! schedule where the two policies differ, for every WAL variant.
//!
//! The schedule: 2 nodes, a quiet network, a 1,000 ms session, and the whole ensemble
//! unavailable for 2,500 ms from 3,000 ms. The outage closes every connection at once
//! and freezes expiry at the service, so the server never expires a session during
//! it; when it ends every session gets a fresh timeout.
//! - `server` (the Java client): both nodes wait Disconnected and resume their
//!   sessions when the ensemble returns; the leader keeps leading (no session lost,
//!   no step-down, no session expired, fenced bumps its epoch only for the first
//!   election).
//! - `curator` (Curator ≥ 3.0): each node's timer ends 1,000 ms after its connection
//!   was lost, still inside the outage: both see LOST from their own timer, the
//!   leader steps down, both open new sessions once the ensemble is back, and the
//!   abandoned sessions, which the service still held, expire a timeout after the
//!   outage (their `/leader` and membership ephemerals with them). A new leadership
//!   follows (fenced: a takeover, so a second epoch bump).
//!
//! Both stay safe and live; what differs is the path, which each test asserts.

use zkwal_sim::faults::FaultKind;
use zkwal_sim::run::run_scenario;
use zkwal_sim::scenario::{Fault, Scenario, TimedFault, Variant};
use zkwal_sim::world::RunResult;
use zkwal_zk::ClientExpiry;

const OUTAGE_AT_MS: u64 = 3_000;
const OUTAGE_MS: u64 = 2_500;
const SESSION_MS: u64 = 1_000;

fn scripted(v: Variant, expiry: ClientExpiry) -> Scenario {
    let mut sc = Scenario::generate_with(7, v, 2, true);
    sc.options.net.loss_ppm = 0;
    sc.options.net.dup_ppm = 0;
    sc.options.net.reorder_ppm = 0;
    let zk = sc.options.zk.as_mut().expect("zk");
    zk.session_timeout_ms = SESSION_MS;
    zk.client_expiry = expiry;
    sc.faults = vec![TimedFault {
        at_ms: OUTAGE_AT_MS,
        fault: Fault::ZkOutage { ms: OUTAGE_MS },
    }];
    sc.validate().expect("valid");
    sc
}

fn run(v: Variant, expiry: ClientExpiry) -> RunResult {
    let r = run_scenario(&scripted(v, expiry));
    assert_eq!(
        r.violation.as_ref().map(|f| f.invariant.as_str()),
        None,
        "{v:?} {expiry:?}: {:?}",
        r.violation
    );
    assert_eq!(r.faults.get(FaultKind::ZkOutage), 1, "{v:?} {expiry:?}");
    // The outage outlasts the session timeout: the condition where they differ.
    assert!(OUTAGE_MS > SESSION_MS);
    r
}

/// What both policies do on the schedule, and how they differ; `fenced` also checks
/// the epoch bumps.
fn check(v: Variant) {
    let server = run(v, ClientExpiry::Server);
    assert_eq!(server.wal.sessions_lost, 0, "{v:?}: {:?}", server.wal);
    assert_eq!(server.wal.session_step_downs, 0, "{v:?}");
    assert_eq!(
        server.faults.get(FaultKind::ZkSessionExpired),
        0,
        "{v:?}: the service expires nothing (frozen during the outage, resumed after)"
    );

    let curator = run(v, ClientExpiry::Curator);
    assert_eq!(
        (
            curator.wal.sessions_lost,
            curator.wal.sessions_lost_by_client
        ),
        (2, 2),
        "{v:?}: both nodes' own timers end inside the outage: {:?}",
        curator.wal
    );
    assert_eq!(
        curator.wal.session_step_downs, 1,
        "{v:?}: the leader steps down on LOST"
    );
    assert_eq!(
        curator.faults.get(FaultKind::ZkSessionExpired),
        2,
        "{v:?}: the abandoned sessions stay at the service until it expires them"
    );
    if v == Variant::Fenced {
        assert_eq!(server.wal.epoch_bumps, 1, "the first election only");
        assert!(
            curator.wal.epoch_bumps >= 2,
            "a takeover after the step-down: {:?}",
            curator.wal
        );
    }
    // The leadership lost to the client's timer costs writes: a step-down and a new
    // election (fenced: a takeover) after the ensemble returns, where `server`
    // resumes at once.
    assert!(
        curator.figures.leader_changes > server.figures.leader_changes,
        "{v:?}: leader changes server {} curator {}",
        server.figures.leader_changes,
        curator.figures.leader_changes
    );
}

#[test]
fn seed_lost_session_steps_the_leader_down() {
    check(Variant::Seed);
}

#[test]
fn seed_zk_quorum_lost_session_steps_the_leader_down() {
    check(Variant::SeedZkQuorum);
}

#[test]
fn fenced_lost_session_steps_the_leader_down_and_takes_over_again() {
    check(Variant::Fenced);
}

/// `raft` ignores ZooKeeper in its decisions: under `curator` its nodes only reopen
/// their sessions (membership znodes), no leader steps down.
#[test]
fn raft_lost_session_changes_no_leadership() {
    let server = run(Variant::Raft, ClientExpiry::Server);
    let curator = run(Variant::Raft, ClientExpiry::Curator);
    assert_eq!(curator.wal.sessions_lost_by_client, 2, "{:?}", curator.wal);
    assert_eq!(curator.wal.session_step_downs, 0);
    assert_eq!(
        curator.figures.leader_changes,
        server.figures.leader_changes
    );
}

/// The default is `server`, and a scenario file without the field reads as `server`
/// (the pinned seeds predate it).
#[test]
fn the_default_policy_is_the_servers() {
    let sc = Scenario::generate_with(3, Variant::Fenced, 2, true);
    assert_eq!(
        sc.options.zk.as_ref().expect("zk").client_expiry,
        ClientExpiry::Server
    );
    let mut json = serde_json::to_value(&sc).expect("json");
    json["options"]["zk"]
        .as_object_mut()
        .expect("zk")
        .remove("client_expiry");
    let back: Scenario = serde_json::from_value(json).expect("reads");
    assert_eq!(back, sc);
}
