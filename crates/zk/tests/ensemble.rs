//! Ensemble rules: linearizable writes through the leader, stale reads from a lagging
//! server and `sync`, no going back in time on reconnect, ConnectionLoss with unknown
//! outcome, the injectable faults, and a duplicating, reordering network.

mod common;
use common::*;
use zkwal_zk::*;

#[test]
fn lagging_server_serves_a_stale_read_and_sync_fixes_it() {
    let mut w = World::new(3);
    let writer = w.connected_client(vec![0], 4_000);
    let reader = w.connected_client(vec![1], 4_000);
    w.call(writer, create("/k", b"1", CreateMode::Persistent))
        .unwrap();
    w.run_for(10);
    let now = w.now;
    w.ens.set_server_lag_ms(now, 1, 1_000);
    w.call(writer, set("/k", b"2", -1)).unwrap();
    // stale: server 1 has not applied the write yet
    assert_eq!(data_of(&w.call(reader, get("/k", false))), b"1");
    assert!(w.ens.server_applied_zxid(1) < w.ens.last_zxid());
    // sync waits until the server has the leader's zxid as of the sync
    let before = w.now;
    assert_eq!(
        w.call(reader, Request::Sync { path: "/k".into() }),
        Ok(Response::Sync { path: "/k".into() })
    );
    assert!(w.now > before);
    assert_eq!(data_of(&w.call(reader, get("/k", false))), b"2");
}

#[test]
fn writes_are_linearizable_through_the_leader() {
    let mut w = World::new(3);
    let a = w.connected_client(vec![0], 4_000);
    let b = w.connected_client(vec![1], 4_000);
    w.call(a, create("/k", b"", CreateMode::Persistent))
        .unwrap();
    w.run_for(10);
    let now = w.now;
    w.ens.set_server_lag_ms(now, 1, 500);
    let st = stat_of(&w.call(a, set("/k", b"a", 0)));
    assert_eq!(st.version, 1);
    // b's server has not seen a's write, but the leader has: the conditional write
    // is decided against the latest state
    assert_eq!(w.call(b, set("/k", b"b", 0)), Err(ErrorCode::BadVersion));
    let st_b = stat_of(&w.call(b, set("/k", b"b", 1)));
    assert!(st_b.mzxid > st.mzxid);
    // and b reads its own write
    assert_eq!(data_of(&w.call(b, get("/k", false))), b"b");
}

#[test]
fn a_client_sees_its_own_operations_in_order_on_a_lagging_server() {
    let mut w = World::new(3);
    let now = w.now;
    w.ens.set_server_lag_ms(now, 1, 300);
    let a = w.connected_client(vec![1], 4_000);
    // pipelined: the read is sent before the write is answered
    let x1 = w.submit(a, create("/o", b"v", CreateMode::Persistent));
    let x2 = w.submit(a, get("/o", false));
    let x3 = w.submit(a, set("/o", b"w", -1));
    let x4 = w.submit(a, get("/o", false));
    w.run_for(2_000);
    assert!(w.outcome(a, x1).unwrap().is_ok());
    assert_eq!(data_of(&w.outcome(a, x2).unwrap()), b"v");
    assert!(w.outcome(a, x3).unwrap().is_ok());
    assert_eq!(data_of(&w.outcome(a, x4).unwrap()), b"w");
    let order: Vec<Xid> = w.log[a]
        .iter()
        .filter_map(|(_, e)| match e {
            ClientEvent::Reply { xid, .. } => Some(*xid),
            _ => None,
        })
        .collect();
    assert_eq!(order, vec![x1, x2, x3, x4]);
}

#[test]
fn reconnecting_never_shows_older_state() {
    let mut w = World::new(3);
    let a = w.connected_client(vec![0, 1], 4_000);
    let b = w.connected_client(vec![2], 4_000);
    w.call(b, create("/k", b"1", CreateMode::Persistent))
        .unwrap();
    w.run_for(10);
    let now = w.now;
    w.ens.set_server_lag_ms(now, 1, 2_000);
    w.call(b, set("/k", b"2", -1)).unwrap();
    w.call(a, Request::Sync { path: "/".into() }).unwrap();
    assert_eq!(data_of(&w.call(a, get("/k", false))), b"2");
    let seen = w.clients[a].last_zxid_seen();
    let now = w.now;
    w.ens.set_server_down(now, 0, true);
    w.run_until_cond(w.now + 10_000, |w| {
        w.clients[a].state() == SessionState::Connected && w.clients[a].server() != Some(0)
    });
    assert_eq!(w.clients[a].state(), SessionState::Connected);
    assert_eq!(w.clients[a].server(), Some(1));
    // server 1 refused it until it had caught up with what the client had seen
    assert!(w.ens.stats().connects_refused_stale_server >= 1);
    assert!(w.ens.server_applied_zxid(1) >= seen);
    assert_eq!(data_of(&w.call(a, get("/k", false))), b"2");
}

#[test]
fn lost_reply_ends_in_connection_loss_though_the_write_was_applied() {
    let mut w = World::new(3);
    let a = w.connected_client(vec![0, 1, 2], 4_000);
    let b = w.connected_client(vec![2], 4_000);
    w.drop_next_reply_to = Some(a);
    let r = w.call(a, create("/job", b"", CreateMode::Persistent));
    assert_eq!(r, Err(ErrorCode::ConnectionLoss));
    assert!(ErrorCode::ConnectionLoss.is_indeterminate());
    // applied all the same
    assert!(w.call(b, exists("/job", false)).unwrap() != Response::Exists { stat: None });
    // the session survives; a retry finds its own earlier write
    w.run_until_cond(w.now + 5_000, |w| {
        w.clients[a].state() == SessionState::Connected
    });
    assert_eq!(
        w.call(a, create("/job", b"", CreateMode::Persistent)),
        Err(ErrorCode::NodeExists)
    );
}

#[test]
fn whole_ensemble_unavailable_then_back() {
    let mut w = World::new(3);
    let a = w.connected_client(vec![0, 1, 2], 2_000);
    let s = w.clients[a].session_id().unwrap();
    w.call(a, create("/e", b"", CreateMode::Ephemeral)).unwrap();
    let now = w.now;
    w.ens.set_unavailable(now, true);
    w.run_for(50);
    assert_eq!(w.clients[a].state(), SessionState::Disconnected);
    assert_eq!(w.call(a, get("/e", false)), Err(ErrorCode::ConnectionLoss));
    // longer than the session timeout: sessions do not expire without a leader
    w.run_for(10_000);
    assert!(w.ens.session_alive(s));
    let now = w.now;
    w.ens.set_unavailable(now, false);
    w.run_until_cond(w.now + 3_000, |w| {
        w.clients[a].state() == SessionState::Connected
    });
    assert_eq!(w.clients[a].state(), SessionState::Connected);
    assert_eq!(w.clients[a].session_id(), Some(s));
    assert!(w.call(a, exists("/e", false)).unwrap() != Response::Exists { stat: None });
}

#[test]
fn unavailable_longer_than_a_client_stays_away_expires_it_afterwards() {
    // After the outage every session gets a fresh timeout; a client that does not come
    // back within it expires then.
    let mut w = World::new(1);
    let a = w.connected_client(vec![0], 2_000);
    let s = w.clients[a].session_id().unwrap();
    let now = w.now;
    w.ens.set_unavailable(now, true);
    w.cut.insert(a);
    w.run_for(5_000);
    let now = w.now;
    w.ens.set_unavailable(now, false);
    w.run_for(1_900);
    assert!(w.ens.session_alive(s));
    w.run_for(400);
    assert!(!w.ens.session_alive(s));
}

/// Raw protocol on a network that duplicates and reorders: each request applies once,
/// in connection order.
#[test]
fn duplicated_and_reordered_messages_apply_once_in_order() {
    let mut e = Ensemble::new(EnsembleConfig::new(1, 200), 0);
    let conn = ConnId { client: 9, n: 0 };
    let msg = |seq, body| ClientMsg {
        server: 0,
        conn,
        seq,
        body,
    };
    let connect = msg(
        0,
        ClientBody::Connect {
            session: None,
            requested_timeout_ms: 4_000,
            last_zxid_seen: 0,
        },
    );
    let c1 = msg(
        1,
        ClientBody::Request {
            xid: 1,
            request: create("/a", b"", CreateMode::Persistent),
        },
    );
    let c2 = msg(
        2,
        ClientBody::Request {
            xid: 2,
            request: create("/a/b", b"", CreateMode::Persistent),
        },
    );
    // /a/b overtakes /a, and everything is duplicated
    e.handle_message(1, c2.clone());
    e.handle_message(2, connect.clone());
    e.handle_message(3, c1.clone());
    e.handle_message(4, c2);
    e.handle_message(5, c1);
    e.handle_message(6, connect);
    let mut replies = Vec::new();
    while let Some(m) = e.poll_output() {
        if let ServerBody::Reply { xid, result, .. } = m.body {
            replies.push((xid, result.is_ok()));
        }
    }
    assert_eq!(replies, vec![(1, true), (2, true)]);
    assert_eq!(e.last_zxid(), 3, "createSession + two creates");
    e.check_invariants().unwrap();
}

#[test]
fn lagging_server_with_a_lag_past_the_read_timeout_disconnects_its_writers() {
    // A write (or sync) waits for the client's server to apply it, and pings queue
    // behind it: a client on a server lagging more than 2/3 of its timeout loses the
    // connection and moves to another server, as with a real slow follower.
    let mut w = World::new(3);
    let a = w.connected_client(vec![1, 0], 3_000);
    let now = w.now;
    w.ens.set_server_lag_ms(now, 1, 10_000);
    let r = w.call(a, create("/slow", b"", CreateMode::Persistent));
    assert_eq!(r, Err(ErrorCode::ConnectionLoss));
    w.run_until_cond(w.now + 3_000, |w| {
        w.clients[a].state() == SessionState::Connected
    });
    assert_eq!(w.clients[a].server(), Some(0));
    assert!(w.call(a, exists("/slow", false)).unwrap() != Response::Exists { stat: None });
}
