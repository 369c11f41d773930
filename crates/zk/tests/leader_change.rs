//! The ensemble's leader changing ([`Ensemble::change_leader`]): a short
//! unavailability, committed writes kept, and ZOOKEEPER-1675 — in 3.8 `sync` is not a
//! quorum operation, so a sync answered by a leader that lost its quorum without
//! noticing yet does not make the following read see writes the new leader has
//! already acknowledged; conditional writes (version checks, multi) stay
//! linearizable, because that old leader cannot commit anything.
//! <https://issues.apache.org/jira/browse/ZOOKEEPER-1675>

mod common;
use common::*;
use zkwal_zk::*;

fn version_of(w: &World) -> (Vec<u8>, i32) {
    let (data, st) = w.ens.leader_tree().get("/k").expect("/k");
    (data.to_vec(), st.version)
}

/// ZOOKEEPER-1675, scripted: a sync + read through the deposed leader misses an
/// acknowledged write, a conditional write through it does not succeed on the stale
/// version, and once it has stepped down everything agrees again.
#[test]
fn zookeeper_1675_sync_and_read_miss_a_write_but_conditional_writes_hold() {
    let mut w = World::new(3);
    assert_eq!(w.ens.leader(), 0);
    // a talks to the leader, b to the followers
    let a = w.connected_client(vec![0], 4_000);
    let b = w.connected_client(vec![1, 2], 4_000);
    w.call(b, create("/k", b"v1", CreateMode::Persistent))
        .unwrap();
    w.call(a, Request::Sync { path: "/k".into() }).unwrap();
    assert_eq!(data_of(&w.call(a, get("/k", false))), b"v1");

    // The leader loses its quorum but believes it leads for 2 s; the followers
    // elect a new leader in 300 ms.
    let t0 = w.now;
    assert!(w.ens.change_leader(t0, 300, 2_000));
    assert_eq!(w.ens.stats().leader_changes, 1);
    assert!(w.ens.leader_change_in_progress());
    assert!(w.ens.server_serving(0) && !w.ens.server_serving(1));
    // b's connection closed; it gets back once the election is over
    w.run_until_cond(t0 + 100, |w| {
        w.clients[b].state() == SessionState::Disconnected
    });
    w.run_until_cond(t0 + 2_000, |w| {
        w.clients[b].state() == SessionState::Connected
    });
    assert!(
        w.now >= t0 + 300,
        "no server but the old leader served during the election: {} {:?} {:?}",
        w.now - t0,
        w.clients[b].server(),
        w.states(b)
    );
    assert_eq!(w.ens.leader(), 1);
    let st = stat_of(&w.call(b, set("/k", b"v2", 0)));
    assert_eq!(st.version, 1);
    let acked_at = w.now;

    // a never noticed anything. Its sync is answered by the deposed leader with what
    // it had committed, and the read that follows misses b's acknowledged write.
    assert_eq!(w.clients[a].state(), SessionState::Connected);
    assert_eq!(w.states(a), vec![SessionState::Connected]);
    let stale_before = w.ens.stats().stale_syncs;
    w.call(a, Request::Sync { path: "/k".into() }).unwrap();
    assert_eq!(data_of(&w.call(a, get("/k", false))), b"v1");
    assert!(w.now > acked_at);
    assert_eq!(w.ens.stats().stale_syncs, stale_before + 1);

    // Conditional writes on the stale version do not succeed: they cannot commit,
    // and end in ConnectionLoss when the old leader steps down, not applied.
    let x1 = w.submit(a, set("/k", b"a", 0));
    let x2 = w.submit(
        a,
        Request::Multi(vec![
            MultiOp::Check {
                path: "/k".into(),
                version: 0,
            },
            MultiOp::SetData {
                path: "/k".into(),
                data: b"a".to_vec(),
                version: -1,
            },
        ]),
    );
    w.run_until_cond(t0 + 3_000, |w| w.outcome(a, x2).is_some());
    assert!(w.now >= t0 + 2_000);
    assert_eq!(w.outcome(a, x1), Some(Err(ErrorCode::ConnectionLoss)));
    assert_eq!(w.outcome(a, x2), Some(Err(ErrorCode::ConnectionLoss)));
    assert!(w.ens.stats().stalled_requests >= 2);
    assert_eq!(version_of(&w), (b"v2".to_vec(), 1));

    // a reconnects to its server, now a follower of the new leader: all agrees.
    w.run_until_cond(w.now + 2_000, |w| {
        w.clients[a].state() == SessionState::Connected
    });
    assert!(!w.ens.leader_change_in_progress());
    w.call(a, Request::Sync { path: "/k".into() }).unwrap();
    assert_eq!(data_of(&w.call(a, get("/k", false))), b"v2");
    assert_eq!(w.call(a, set("/k", b"a", 0)), Err(ErrorCode::BadVersion));
    let r = w
        .call(
            a,
            Request::Multi(vec![
                MultiOp::Check {
                    path: "/k".into(),
                    version: 0,
                },
                MultiOp::SetData {
                    path: "/k".into(),
                    data: b"a".to_vec(),
                    version: -1,
                },
            ]),
        )
        .unwrap();
    assert_eq!(r.multi_failure(), Some((0, ErrorCode::BadVersion)));
    assert_eq!(stat_of(&w.call(a, set("/k", b"a", 1))).version, 2);
    assert_eq!(w.ens.stats().stale_syncs, stale_before + 1);
    let changed: Vec<Notice> = std::iter::from_fn(|| w.ens.poll_notice())
        .filter(|n| matches!(n, Notice::LeaderChanged { .. }))
        .collect();
    assert_eq!(
        changed,
        vec![Notice::LeaderChanged {
            old: 0,
            new: 1,
            at_ms: t0 + 300
        }]
    );
}

/// A leader that crashes (`deposed_ms` = 0): every connection closes, nothing serves
/// for the election, committed and in-flight writes survive, sessions survive with
/// a fresh timeout, and the old leader's own reads do not go stale.
#[test]
fn a_crash_like_leader_change_is_a_short_outage_that_keeps_committed_writes() {
    let mut w = World::new(3);
    let a = w.connected_client(vec![0, 1], 2_000);
    let b = w.connected_client(vec![2], 2_000);
    w.call(a, create("/e", b"", CreateMode::Ephemeral)).unwrap();
    let sa = w.clients[a].session_id().unwrap();
    // a write in flight (decided, not yet committed) when the leader goes
    let x = w.submit(b, create("/k", b"1", CreateMode::Persistent));
    w.run_for(LATENCY_MS);
    let t0 = w.now;
    assert!(w.ens.change_leader(t0, 1_500, 0));
    assert!(!w.ens.leader_change_in_progress() || !w.ens.server_serving(0));
    w.run_until_cond(t0 + 5_000, |w| w.outcome(b, x).is_some());
    assert_eq!(w.outcome(b, x), Some(Err(ErrorCode::ConnectionLoss)));
    // no expiry during the election, though it lasts most of the session timeout
    w.run_until_cond(t0 + 10_000, |w| {
        w.clients[a].state() == SessionState::Connected
            && w.clients[b].state() == SessionState::Connected
    });
    assert!(w.ens.session_alive(sa));
    assert_eq!(w.clients[a].session_id(), Some(sa));
    assert_eq!(w.ens.stats().sessions_expired, 0);
    // the write in flight was kept by the new leader (its outcome was unknown)
    assert!(w.ens.leader_tree().stat("/k").is_some());
    assert!(w.ens.leader_tree().stat("/e").is_some());
    w.call(a, Request::Sync { path: "/".into() }).unwrap();
    assert!(w.call(a, exists("/k", false)).unwrap() != Response::Exists { stat: None });
    assert_eq!(w.ens.stats().stale_syncs, 0);
    assert_eq!(w.ens.stats().stalled_requests, 0);
}

/// Sessions whose client stays with the deposed leader are not kept alive by it:
/// the new leader expires them if the old one takes too long to step down.
#[test]
fn pings_to_a_deposed_leader_do_not_keep_a_session_alive() {
    let mut w = World::new(3);
    let a = w.connected_client(vec![0], 1_000);
    let sa = w.clients[a].session_id().unwrap();
    let t0 = w.now;
    assert!(w.ens.change_leader(t0, 200, 5_000));
    w.run_until(t0 + 2_000);
    // still connected to the old leader, pinging it, but expired at the new one
    assert_eq!(w.clients[a].state(), SessionState::Connected);
    assert!(!w.ens.session_alive(sa));
    w.run_until_cond(t0 + 8_000, |w| {
        w.clients[a].state() == SessionState::Expired
    });
    assert_eq!(w.clients[a].state(), SessionState::Expired);
}

#[test]
fn change_leader_is_refused_when_it_cannot_happen() {
    let mut w = World::new(1);
    let now = w.now;
    assert!(!w.ens.change_leader(now, 100, 100));
    let mut w = World::new(3);
    let now = w.now;
    w.ens.set_unavailable(now, true);
    assert!(!w.ens.change_leader(now, 100, 100));
    w.ens.set_unavailable(now, false);
    assert!(w.ens.change_leader(now, 100, 500));
    assert!(!w.ens.change_leader(now, 100, 100));
    // an outage ends it at once
    w.run_for(10);
    let now = w.now;
    w.ens.set_unavailable(now, true);
    assert!(!w.ens.leader_change_in_progress());
    w.run_for(10);
    let now = w.now;
    w.ens.set_unavailable(now, false);
    assert_eq!(w.ens.stats().leader_changes, 1);
    w.ens.check_invariants().unwrap();
    // a new client gets in normally afterwards
    let c = w.connected_client(vec![0, 1, 2], 2_000);
    w.call(c, create("/x", b"", CreateMode::Persistent))
        .unwrap();
}
