//! Watch rules: one-shot data, exists and child watches; which read sets which
//! watch; delete fires data and child watches once; a client sees the watch event
//! before any reply revealing the change; events in update order; watches re-armed
//! on a new connection.

mod common;
use common::*;
use zkwal_zk::*;

fn ev(event: EventType, path: &str) -> WatchedEvent {
    WatchedEvent {
        event,
        path: path.into(),
    }
}

fn two_clients() -> (World, usize, usize) {
    let mut w = World::new(3);
    let a = w.connected_client(vec![0], 4_000);
    let b = w.connected_client(vec![1], 4_000);
    (w, a, b)
}

#[test]
fn data_watch_is_one_shot() {
    let (mut w, a, b) = two_clients();
    w.call(b, create("/x", b"0", CreateMode::Persistent))
        .unwrap();
    w.call(a, get("/x", true)).unwrap();
    w.call(b, set("/x", b"1", -1)).unwrap();
    w.call(b, set("/x", b"2", -1)).unwrap();
    w.run_for(100);
    assert_eq!(
        w.watch_events(a),
        vec![ev(EventType::NodeDataChanged, "/x")]
    );
    // re-armed, fires again once
    w.call(a, get("/x", true)).unwrap();
    w.call(b, delete("/x", -1)).unwrap();
    w.run_for(100);
    assert_eq!(
        w.watch_events(a),
        vec![
            ev(EventType::NodeDataChanged, "/x"),
            ev(EventType::NodeDeleted, "/x")
        ]
    );
}

#[test]
fn exists_watch_on_a_missing_node_fires_on_creation() {
    let (mut w, a, b) = two_clients();
    assert_eq!(
        w.call(a, exists("/n", true)),
        Ok(Response::Exists { stat: None })
    );
    w.call(b, create("/n", b"", CreateMode::Persistent))
        .unwrap();
    w.run_for(100);
    assert_eq!(w.watch_events(a), vec![ev(EventType::NodeCreated, "/n")]);
    // exists on an existing node sets a data watch
    w.call(a, exists("/n", true)).unwrap();
    w.call(b, set("/n", b"1", -1)).unwrap();
    w.run_for(100);
    assert_eq!(
        w.watch_events(a).last(),
        Some(&ev(EventType::NodeDataChanged, "/n"))
    );
}

#[test]
fn get_data_and_children_on_a_missing_node_set_no_watch() {
    let (mut w, a, b) = two_clients();
    assert_eq!(w.call(a, get("/m", true)), Err(ErrorCode::NoNode));
    assert_eq!(w.call(a, children("/m", true)), Err(ErrorCode::NoNode));
    w.call(b, create("/m", b"", CreateMode::Persistent))
        .unwrap();
    w.call(b, create("/m/k", b"", CreateMode::Persistent))
        .unwrap();
    w.run_for(100);
    assert!(w.watch_events(a).is_empty());
}

#[test]
fn child_watch_fires_on_child_create_and_delete_and_node_delete() {
    let (mut w, a, b) = two_clients();
    w.call(b, create("/p", b"", CreateMode::Persistent))
        .unwrap();
    w.call(a, children("/p", true)).unwrap();
    // data change of the parent does not fire a child watch
    w.call(b, set("/p", b"d", -1)).unwrap();
    w.call(b, create("/p/c", b"", CreateMode::Persistent))
        .unwrap();
    w.run_for(100);
    assert_eq!(
        w.watch_events(a),
        vec![ev(EventType::NodeChildrenChanged, "/p")]
    );
    w.call(a, children("/p", true)).unwrap();
    w.call(b, delete("/p/c", -1)).unwrap();
    w.run_for(100);
    assert_eq!(w.watch_events(a).len(), 2);
    // a node with both a data and a child watch: one NodeDeleted
    w.call(a, children("/p", true)).unwrap();
    w.call(a, get("/p", true)).unwrap();
    w.call(b, delete("/p", -1)).unwrap();
    w.run_for(100);
    assert_eq!(
        w.watch_events(a),
        vec![
            ev(EventType::NodeChildrenChanged, "/p"),
            ev(EventType::NodeChildrenChanged, "/p"),
            ev(EventType::NodeDeleted, "/p"),
        ]
    );
}

/// A client on a lagging server polls a node; a writer changes it through another
/// server. Every reply showing the new value comes after the watch event.
#[test]
fn watch_event_arrives_before_any_reply_revealing_the_change() {
    let mut w = World::new(3);
    let now = w.now;
    w.ens.set_server_lag_ms(now, 1, 300);
    let writer = w.connected_client(vec![0], 4_000);
    let reader = w.connected_client(vec![1], 4_000);
    w.call(writer, create("/x", b"old", CreateMode::Persistent))
        .unwrap();
    w.call(reader, Request::Sync { path: "/x".into() }).unwrap();
    assert_eq!(data_of(&w.call(reader, get("/x", true))), b"old");
    let _ = w.submit(writer, set("/x", b"new", -1));
    let mut xids = Vec::new();
    for _ in 0..40 {
        xids.push(w.submit(reader, get("/x", false)));
        w.run_for(20);
    }
    w.run_for(1_000);
    let log = &w.log[reader];
    let event_at = log
        .iter()
        .position(|(_, e)| *e == ClientEvent::Watch(ev(EventType::NodeDataChanged, "/x")))
        .expect("watch fired");
    let mut old_seen = 0;
    let mut new_seen = 0;
    for (i, (_, e)) in log.iter().enumerate() {
        if let ClientEvent::Reply { xid, result } = e {
            if !xids.contains(xid) {
                continue;
            }
            match data_of(result).as_slice() {
                b"new" => {
                    assert!(i > event_at, "new data before the watch event");
                    new_seen += 1;
                }
                b"old" => {
                    assert!(i < event_at, "old data after the watch event");
                    old_seen += 1;
                }
                other => panic!("{other:?}"),
            }
        }
    }
    assert!(old_seen > 0, "the lagging server served stale reads first");
    assert!(new_seen > 0);
}

#[test]
fn events_arrive_in_update_order() {
    let (mut w, a, b) = two_clients();
    for p in ["/a", "/b", "/c"] {
        w.call(b, create(p, b"", CreateMode::Persistent)).unwrap();
        w.call(a, get(p, true)).unwrap();
    }
    w.call(a, children("/", true)).unwrap();
    w.submit(b, set("/c", b"1", -1));
    w.submit(b, set("/a", b"1", -1));
    w.submit(b, create("/d", b"", CreateMode::Persistent));
    w.submit(b, delete("/b", -1));
    w.run_for(500);
    assert_eq!(
        w.watch_events(a),
        vec![
            ev(EventType::NodeDataChanged, "/c"),
            ev(EventType::NodeDataChanged, "/a"),
            ev(EventType::NodeChildrenChanged, "/"),
            ev(EventType::NodeDeleted, "/b"),
        ]
    );
}

#[test]
fn watches_are_rearmed_on_a_new_connection() {
    let mut w = World::new(3);
    let a = w.connected_client(vec![0, 1], 4_000);
    let b = w.connected_client(vec![2], 4_000);
    w.call(b, create("/x", b"", CreateMode::Persistent))
        .unwrap();
    w.call(b, create("/y", b"", CreateMode::Persistent))
        .unwrap();
    w.call(a, get("/x", true)).unwrap();
    w.call(a, get("/y", true)).unwrap();
    w.call(a, exists("/z", true)).unwrap();
    let now = w.now;
    w.ens.set_server_down(now, 0, true);
    // while a is away, /y changes: it must hear about it on reconnecting
    w.call(b, set("/y", b"1", -1)).unwrap();
    w.run_until_cond(w.now + 3_000, |w| {
        w.clients[a].state() == SessionState::Connected && w.clients[a].server() == Some(1)
    });
    w.run_for(100);
    assert_eq!(
        w.watch_events(a),
        vec![ev(EventType::NodeDataChanged, "/y")]
    );
    // the others were re-armed on server 1
    w.call(b, set("/x", b"1", -1)).unwrap();
    w.call(b, create("/z", b"", CreateMode::Persistent))
        .unwrap();
    w.run_for(100);
    assert_eq!(
        w.watch_events(a),
        vec![
            ev(EventType::NodeDataChanged, "/y"),
            ev(EventType::NodeDataChanged, "/x"),
            ev(EventType::NodeCreated, "/z"),
        ]
    );
}

/// More watches than fit in one packet: the client re-arms them in batches of about
/// 128 KB, as real clients do, so the connection survives and every watch returns.
/// (Sent in one message, the SetWatches would exceed jute.maxbuffer and the server
/// would drop each new connection.)
#[test]
fn many_watches_are_rearmed_in_batches_under_the_packet_limit() {
    let mut w = World::new(3);
    let a = w.connected_client(vec![0, 1], 4_000);
    let b = w.connected_client(vec![2], 4_000);
    let long = "x".repeat(1_000);
    let path = |i: usize| format!("/{long}{i:04}");
    let n = 1_200; // about 1.2 MB of paths
    let xids: Vec<Xid> = (0..n)
        .map(|i| w.submit(a, exists(&path(i), true)))
        .collect();
    w.run_for(200);
    for x in xids {
        assert_eq!(w.outcome(a, x), Some(Ok(Response::Exists { stat: None })));
    }
    let now = w.now;
    w.ens.set_server_down(now, 0, true);
    w.run_until_cond(w.now + 3_000, |w| {
        w.clients[a].state() == SessionState::Connected && w.clients[a].server() == Some(1)
    });
    w.run_for(100);
    assert_eq!(w.clients[a].state(), SessionState::Connected);
    assert_eq!(w.ens.stats().oversize_requests, 0);
    for i in [0, n / 2, n - 1] {
        w.call(b, create(&path(i), b"", CreateMode::Persistent))
            .unwrap();
    }
    w.run_for(100);
    assert_eq!(
        w.watch_events(a),
        vec![
            ev(EventType::NodeCreated, &path(0)),
            ev(EventType::NodeCreated, &path(n / 2)),
            ev(EventType::NodeCreated, &path(n - 1)),
        ]
    );
}
