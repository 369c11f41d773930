//! Session rules: timeout negotiation, expiry decided by the service in tickTime
//! buckets, Disconnected / resumed / Expired as the client sees them, ephemerals and
//! watches on expiry, the dead handle, and a client paused past its timeout.

mod common;
use common::*;
use zkwal_zk::*;

fn session_of(w: &World, c: usize) -> SessionId {
    w.clients[c].session_id().expect("has a session")
}

#[test]
fn timeout_is_negotiated_within_2_and_20_ticks() {
    let cfg = EnsembleConfig::new(1, 200);
    assert_eq!(cfg.negotiate_timeout_ms(100), 400);
    assert_eq!(cfg.negotiate_timeout_ms(100_000), 4_000);
    assert_eq!(cfg.negotiate_timeout_ms(1_000), 1_000);
    let mut w = World::new(1);
    let a = w.connected_client(vec![0], 100);
    assert_eq!(w.clients[a].timeout_ms(), 400);
    let b = w.connected_client(vec![0], 100_000);
    assert_eq!(w.clients[b].timeout_ms(), 4_000);
}

/// Raw protocol, no client: expiry lands at the first tick boundary after last
/// contact + timeout, so between T and T + tickTime after the last contact.
#[test]
fn expiry_is_bucketed_by_tick_time() {
    let mut e = Ensemble::new(EnsembleConfig::new(1, 200), 0);
    let conn = ConnId { client: 1, n: 0 };
    let msg = |seq, body| ClientMsg {
        server: 0,
        conn,
        seq,
        body,
    };
    e.handle_message(
        0,
        msg(
            0,
            ClientBody::Connect {
                session: None,
                requested_timeout_ms: 2_000,
                last_zxid_seen: 0,
            },
        ),
    );
    // The createSession commits after the commit latency; then the reply goes out.
    assert_eq!(e.poll_output(), None);
    assert_eq!(e.deadline_ms(), Some(DEFAULT_COMMIT_LATENCY_MS));
    e.tick(DEFAULT_COMMIT_LATENCY_MS);
    let session = match e.poll_output().unwrap().body {
        ServerBody::ConnectOk {
            session,
            timeout_ms,
        } => {
            assert_eq!(timeout_ms, 2_000);
            session
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(e.session_expires_at_ms(session), Some(2_200));
    e.handle_message(150, msg(1, ClientBody::Ping));
    assert_eq!(e.session_expires_at_ms(session), Some(2_200));
    e.handle_message(250, msg(2, ClientBody::Ping));
    let last_contact = 250;
    assert_eq!(e.session_expires_at_ms(session), Some(2_400));
    assert_eq!(e.deadline_ms(), Some(2_400));
    e.tick(2_399);
    assert!(e.session_alive(session));
    e.tick(2_400);
    assert!(!e.session_alive(session));
    let expired_at = 2_400;
    assert!(expired_at > last_contact + 2_000 && expired_at <= last_contact + 2_000 + 200);
    let mut saw = false;
    while let Some(n) = e.poll_notice() {
        if let Notice::SessionExpired {
            session: s, at_ms, ..
        } = n
        {
            assert_eq!((s, at_ms), (session, 2_400));
            saw = true;
        }
    }
    assert!(saw);
    // the connection is closed once the server applies the expiry (after its commit)
    e.tick(2_400 + DEFAULT_COMMIT_LATENCY_MS);
    let mut closed = false;
    while let Some(m) = e.poll_output() {
        closed |= m.body == ServerBody::Closed;
    }
    assert!(closed);
    e.check_invariants().unwrap();
}

#[test]
fn cut_off_client_sees_disconnected_and_only_the_service_expires_it() {
    let mut w = World::new(3);
    let a = w.connected_client(vec![0, 1, 2], 2_000);
    let s = session_of(&w, a);
    w.call(a, create("/eph", b"", CreateMode::Ephemeral))
        .unwrap();
    w.cut.insert(a);
    w.run_for(20_000);
    // the client never decides expiry itself
    assert_eq!(w.clients[a].state(), SessionState::Disconnected);
    assert!(!w.states(a).contains(&SessionState::Expired));
    assert!(!w.ens.session_alive(s));
    assert!(w.ens.leader_tree().stat("/eph").is_none());
    // reaching the service again, it learns Expired (final)
    w.cut.remove(&a);
    w.run_until_cond(w.now + 5_000, |w| {
        w.clients[a].state() == SessionState::Expired
    });
    assert_eq!(w.clients[a].state(), SessionState::Expired);
    assert_eq!(
        w.states(a),
        vec![
            SessionState::Connected,
            SessionState::Disconnected,
            SessionState::Expired
        ]
    );
    // the handle can do nothing more
    for req in [
        get("/", false),
        create("/x", b"", CreateMode::Persistent),
        Request::Sync { path: "/".into() },
    ] {
        assert_eq!(w.call(a, req), Err(ErrorCode::SessionExpired));
    }
    w.run_for(10_000);
    assert_eq!(w.clients[a].state(), SessionState::Expired);
    assert!(w.clients[a].deadline_ms().is_none());
}

#[test]
fn short_disconnection_resumes_the_session() {
    let mut w = World::new(3);
    let a = w.connected_client(vec![0, 1, 2], 4_000);
    let s = session_of(&w, a);
    w.call(a, create("/eph", b"", CreateMode::Ephemeral))
        .unwrap();
    w.cut.insert(a);
    // past the read timeout (2/3 T) but short of the session timeout
    w.run_for(3_000);
    assert_eq!(w.clients[a].state(), SessionState::Disconnected);
    assert!(w.clients[a].disconnected_since_ms().is_some());
    w.cut.remove(&a);
    w.run_until_cond(w.now + 2_000, |w| {
        w.clients[a].state() == SessionState::Connected
    });
    assert_eq!(w.clients[a].state(), SessionState::Connected);
    assert_eq!(session_of(&w, a), s);
    assert!(w.ens.session_alive(s));
    let st = stat_of(&w.call(a, exists("/eph", false)));
    assert_eq!(st.ephemeral_owner, s.0);
    assert_eq!(
        w.states(a),
        vec![
            SessionState::Connected,
            SessionState::Disconnected,
            SessionState::Connected
        ]
    );
}

#[test]
fn expiry_deletes_ephemerals_and_fires_watches_for_others() {
    let mut w = World::new(3);
    let a = w.connected_client(vec![0], 2_000);
    let b = w.connected_client(vec![1], 2_000);
    w.call(a, create("/lock", b"", CreateMode::Ephemeral))
        .unwrap();
    w.call(a, create("/q", b"", CreateMode::Persistent))
        .unwrap();
    w.call(a, create("/q/m-", b"", CreateMode::EphemeralSequential))
        .unwrap();
    assert!(w.call(b, exists("/lock", true)).unwrap() != Response::Exists { stat: None });
    w.call(b, children("/q", true)).unwrap();
    w.call(b, get("/q/m-0000000000", true)).unwrap();
    w.cut.insert(a);
    w.run_for(5_000);
    let evs = w.watch_events(b);
    assert!(evs.contains(&WatchedEvent {
        event: EventType::NodeDeleted,
        path: "/lock".into()
    }));
    assert!(evs.contains(&WatchedEvent {
        event: EventType::NodeChildrenChanged,
        path: "/q".into()
    }));
    assert!(evs.contains(&WatchedEvent {
        event: EventType::NodeDeleted,
        path: "/q/m-0000000000".into()
    }));
    assert_eq!(
        w.call(b, exists("/lock", false)),
        Ok(Response::Exists { stat: None })
    );
    // one close transaction deleted both
    assert_eq!(w.ens.stats().sessions_expired, 1);
}

/// The scenario: a client paused past its session timeout finds its
/// ephemeral gone and its session expired when it resumes, and a watcher was
/// notified while it was paused.
#[test]
fn paused_client_resumes_expired_and_watcher_was_notified_meanwhile() {
    let mut w = World::new(3);
    let leader = w.connected_client(vec![0, 1, 2], 2_000);
    let follower = w.connected_client(vec![1, 2, 0], 2_000);
    w.call(leader, create("/leader", b"me", CreateMode::Ephemeral))
        .unwrap();
    w.call(follower, exists("/leader", true)).unwrap();
    // a write issued just before the pause: its reply will be lost to the pause
    let xid = w.submit(leader, create("/wal-1", b"entry", CreateMode::Persistent));
    w.pause(leader);
    let paused_at = w.now;
    w.run_for(6_000);
    let resumed_at = w.now;
    // the watcher was told while the leader was paused
    let (t, _) = w.log[follower]
        .iter()
        .find(|(_, e)| {
            *e == ClientEvent::Watch(WatchedEvent {
                event: EventType::NodeDeleted,
                path: "/leader".into(),
            })
        })
        .expect("follower notified");
    assert!(*t > paused_at && *t < resumed_at);
    // the paused process still believes it is connected
    assert_eq!(w.clients[leader].state(), SessionState::Connected);
    w.resume(leader);
    w.run_until_cond(w.now + 5_000, |w| {
        w.clients[leader].state() == SessionState::Expired
    });
    assert_eq!(
        w.states(leader),
        vec![
            SessionState::Connected,
            SessionState::Disconnected,
            SessionState::Expired
        ]
    );
    // its write ended in ConnectionLoss, yet it was applied
    assert_eq!(w.outcome(leader, xid), Some(Err(ErrorCode::ConnectionLoss)));
    assert!(w.call(follower, exists("/wal-1", false)).unwrap() != Response::Exists { stat: None });
    // its ephemeral is gone and it can do nothing more
    assert_eq!(
        w.call(follower, exists("/leader", false)),
        Ok(Response::Exists { stat: None })
    );
    assert_eq!(
        w.call(leader, set("/wal-1", b"late", -1)),
        Err(ErrorCode::SessionExpired)
    );
    assert_eq!(data_of(&w.call(follower, get("/wal-1", false))), b"entry");
}

#[test]
fn close_deletes_ephemerals_at_once_and_kills_the_handle() {
    let mut w = World::new(1);
    let a = w.connected_client(vec![0], 4_000);
    let b = w.connected_client(vec![0], 4_000);
    w.call(a, create("/e", b"", CreateMode::Ephemeral)).unwrap();
    w.call(b, exists("/e", true)).unwrap();
    let s = session_of(&w, a);
    assert_eq!(w.call(a, Request::Close), Ok(Response::Close));
    let xid = w.clients[a].close(w.now);
    assert_eq!(w.clients[a].state(), SessionState::Closed);
    w.flush();
    assert_eq!(w.outcome(a, xid), Some(Err(ErrorCode::SessionExpired)));
    assert!(!w.ens.session_alive(s));
    assert_eq!(
        w.call(b, exists("/e", false)),
        Ok(Response::Exists { stat: None })
    );
    assert_eq!(
        w.watch_events(b),
        vec![WatchedEvent {
            event: EventType::NodeDeleted,
            path: "/e".into()
        }]
    );
    assert_eq!(w.call(a, get("/", false)), Err(ErrorCode::SessionExpired));
    assert_eq!(w.ens.stats().sessions_closed, 1);
}

#[test]
fn session_survives_its_server_going_down() {
    let mut w = World::new(3);
    let a = w.connected_client(vec![0, 1, 2], 4_000);
    let s = session_of(&w, a);
    w.call(a, create("/e", b"", CreateMode::Ephemeral)).unwrap();
    assert_eq!(w.clients[a].server(), Some(0));
    let now = w.now;
    w.ens.set_server_down(now, 0, true);
    w.run_until_cond(w.now + 3_000, |w| {
        w.clients[a].state() == SessionState::Connected && w.clients[a].server() != Some(0)
    });
    assert_eq!(w.clients[a].state(), SessionState::Connected);
    assert_eq!(w.clients[a].server(), Some(1));
    assert_eq!(session_of(&w, a), s);
    assert!(w.call(a, exists("/e", false)).unwrap() != Response::Exists { stat: None });
}

#[test]
fn requests_while_disconnected_fail_with_connection_loss() {
    let mut w = World::new(1);
    let a = w.connected_client(vec![0], 4_000);
    w.cut.insert(a);
    w.run_for(3_000);
    assert_eq!(w.clients[a].state(), SessionState::Disconnected);
    assert_eq!(
        w.call(a, create("/x", b"", CreateMode::Persistent)),
        Err(ErrorCode::ConnectionLoss)
    );
    assert!(w.ens.leader_tree().stat("/x").is_none());
}

/// Curator's simulated expiry against the service's, through an ensemble outage
/// longer than the session timeout: the outage closes both clients' connections at
/// once (SUSPENDED) and freezes expiry at the service. The Curator client gives its
/// session up one negotiated timeout after losing the connection (LOST), while the
/// service still holds the session and its ephemeral; the Java-style client waits,
/// and resumes its session when the ensemble returns. The given-up session, which
/// nobody resumes, is expired by the service a timeout after the outage ends.
#[test]
fn curator_client_gives_its_session_up_while_the_service_keeps_it() {
    let mut w = World::new(3);
    let t = 2_000;
    let cur = w.connected_client_expiring(vec![0, 1, 2], t, ClientExpiry::Curator);
    let srv = w.connected_client_expiring(vec![1, 2, 0], t, ClientExpiry::Server);
    let (s_cur, s_srv) = (session_of(&w, cur), session_of(&w, srv));
    w.call(cur, create("/cur", b"", CreateMode::Ephemeral))
        .unwrap();
    w.call(srv, create("/srv", b"", CreateMode::Ephemeral))
        .unwrap();
    let now = w.now;
    w.ens.set_unavailable(now, true);
    w.run_for(LATENCY_MS + 1);
    let suspended_at = w.clients[cur]
        .disconnected_since_ms()
        .expect("the outage closed the connection");
    assert_eq!(w.clients[cur].lost_at_ms(), Some(suspended_at + t));
    assert_eq!(w.clients[srv].lost_at_ms(), None);
    // Just short of the timer: still reconnecting.
    w.run_until(suspended_at + t - 1);
    assert_eq!(w.clients[cur].state(), SessionState::Disconnected);
    w.run_until(suspended_at + t);
    assert_eq!(w.clients[cur].state(), SessionState::Lost);
    assert_eq!(
        w.states(cur),
        vec![
            SessionState::Connected,
            SessionState::Disconnected,
            SessionState::Lost
        ]
    );
    // The handle is dead and has no timer left; the service knows nothing of it.
    assert!(w.clients[cur].deadline_ms().is_none());
    assert_eq!(w.call(cur, get("/", false)), Err(ErrorCode::SessionExpired));
    w.run_for(1_000);
    assert_eq!(w.clients[srv].state(), SessionState::Disconnected);
    assert!(w.ens.session_alive(s_cur) && w.ens.session_alive(s_srv));
    assert!(w.ens.leader_tree().stat("/cur").is_some());
    // The ensemble returns 3 s after it went: the waiting client resumes its session.
    let back = now + 3_000;
    w.run_until(back);
    w.ens.set_unavailable(back, false);
    w.run_until_cond(back + t, |w| {
        w.clients[srv].state() == SessionState::Connected
    });
    assert_eq!(w.clients[srv].state(), SessionState::Connected);
    assert_eq!(session_of(&w, srv), s_srv);
    assert!(w.ens.leader_tree().stat("/srv").is_some());
    // The abandoned session lives on until the service expires it (a fresh timeout
    // from the outage's end, rounded up to a tick), its ephemeral with it.
    assert!(w.ens.session_alive(s_cur));
    assert!(w.ens.leader_tree().stat("/cur").is_some());
    w.run_until(back + t + TICK_MS + 10);
    assert!(!w.ens.session_alive(s_cur));
    assert!(w.ens.leader_tree().stat("/cur").is_none());
    assert_eq!(w.clients[cur].state(), SessionState::Lost);
    assert!(w.ens.session_alive(s_srv));
}

/// A Curator client whose connection comes back before the timer ends keeps its
/// session (Curator's RECONNECTED): the timer stops on reconnection and starts afresh
/// at the next loss.
#[test]
fn curator_client_that_reconnects_in_time_keeps_its_session() {
    let mut w = World::new(3);
    let t = 4_000;
    let a = w.connected_client_expiring(vec![0, 1, 2], t, ClientExpiry::Curator);
    let s = session_of(&w, a);
    w.cut.insert(a);
    // past the read timeout (2/3 T): the timer runs; the service still holds the
    // session when the link comes back
    w.run_for(3_000);
    assert_eq!(w.clients[a].state(), SessionState::Disconnected);
    let first = w.clients[a].lost_at_ms().expect("timer running");
    w.cut.remove(&a);
    w.run_until_cond(w.now + 2_000, |w| {
        w.clients[a].state() == SessionState::Connected
    });
    assert_eq!(w.clients[a].state(), SessionState::Connected);
    assert!(w.now < first);
    assert_eq!(w.clients[a].lost_at_ms(), None);
    assert_eq!(session_of(&w, a), s);
    // The next loss starts a new timer from that loss.
    w.run_for(1_000);
    w.cut.insert(a);
    w.run_for(3_000);
    let since = w.clients[a].disconnected_since_ms().expect("disconnected");
    assert_eq!(w.clients[a].lost_at_ms(), Some(since + t));
    assert!(since + t > first);
    assert!(!w.states(a).contains(&SessionState::Lost));
}

/// Cut off from every server, a Curator client's timer ends after the service has
/// already expired the session (the service counts from the last contact, the timer
/// from the read timeout 2/3 T later): the client says Lost without ever hearing
/// Expired, and never reconnects.
#[test]
fn cut_off_curator_client_says_lost_without_hearing_expired() {
    let mut w = World::new(3);
    let a = w.connected_client_expiring(vec![0, 1, 2], 2_000, ClientExpiry::Curator);
    let s = session_of(&w, a);
    w.cut.insert(a);
    w.run_for(5_000);
    assert!(!w.ens.session_alive(s));
    assert_eq!(
        w.states(a),
        vec![
            SessionState::Connected,
            SessionState::Disconnected,
            SessionState::Lost
        ]
    );
    w.cut.remove(&a);
    w.run_for(5_000);
    assert_eq!(w.clients[a].state(), SessionState::Lost);
    w.clients[a].check_invariants().unwrap();
}
