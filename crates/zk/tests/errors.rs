//! One test per error code and per data-tree rule, through the client and ensemble.

mod common;
use common::*;
use zkwal_zk::*;

fn world() -> (World, usize) {
    let mut w = World::new(1);
    let c = w.connected_client(vec![0], 4_000);
    (w, c)
}

#[test]
fn error_codes_have_the_real_wire_values() {
    let expected = [
        (ErrorCode::Ok, 0),
        (ErrorCode::RuntimeInconsistency, -2),
        (ErrorCode::ConnectionLoss, -4),
        (ErrorCode::OperationTimeout, -7),
        (ErrorCode::BadArguments, -8),
        (ErrorCode::NoNode, -101),
        (ErrorCode::NoAuth, -102),
        (ErrorCode::BadVersion, -103),
        (ErrorCode::NoChildrenForEphemerals, -108),
        (ErrorCode::NodeExists, -110),
        (ErrorCode::NotEmpty, -111),
        (ErrorCode::SessionExpired, -112),
        (ErrorCode::SessionMoved, -118),
        (ErrorCode::RequestTimeout, -122),
    ];
    for (e, v) in expected {
        assert_eq!(e.code(), v);
        assert_eq!(ErrorCode::from_code(v), Some(e));
    }
    assert_eq!(EventType::NodeCreated.code(), 1);
    assert_eq!(EventType::NodeChildrenChanged.code(), 4);
}

#[test]
fn no_node() {
    let (mut w, c) = world();
    assert_eq!(w.call(c, get("/missing", false)), Err(ErrorCode::NoNode));
    assert_eq!(w.call(c, set("/missing", b"", -1)), Err(ErrorCode::NoNode));
    assert_eq!(w.call(c, delete("/missing", -1)), Err(ErrorCode::NoNode));
    assert_eq!(
        w.call(c, children("/missing", false)),
        Err(ErrorCode::NoNode)
    );
    // create under a missing parent
    assert_eq!(
        w.call(c, create("/missing/child", b"", CreateMode::Persistent)),
        Err(ErrorCode::NoNode)
    );
    // exists on a missing node is not an error: no stat
    assert_eq!(
        w.call(c, exists("/missing", false)),
        Ok(Response::Exists { stat: None })
    );
}

#[test]
fn node_exists() {
    let (mut w, c) = world();
    assert!(w.call(c, create("/n", b"", CreateMode::Persistent)).is_ok());
    assert_eq!(
        w.call(c, create("/n", b"", CreateMode::Persistent)),
        Err(ErrorCode::NodeExists)
    );
    assert_eq!(
        w.call(c, create("/n", b"", CreateMode::Ephemeral)),
        Err(ErrorCode::NodeExists)
    );
}

#[test]
fn not_empty_and_bad_version_wins_over_not_empty() {
    let (mut w, c) = world();
    w.call(c, create("/p", b"", CreateMode::Persistent))
        .unwrap();
    w.call(c, create("/p/k", b"", CreateMode::Persistent))
        .unwrap();
    assert_eq!(w.call(c, delete("/p", -1)), Err(ErrorCode::NotEmpty));
    assert_eq!(w.call(c, delete("/p", 0)), Err(ErrorCode::NotEmpty));
    // version is checked before emptiness
    assert_eq!(w.call(c, delete("/p", 7)), Err(ErrorCode::BadVersion));
}

#[test]
fn bad_version_on_conditional_set_and_delete() {
    let (mut w, c) = world();
    w.call(c, create("/v", b"0", CreateMode::Persistent))
        .unwrap();
    assert_eq!(w.call(c, set("/v", b"x", 1)), Err(ErrorCode::BadVersion));
    let st = stat_of(&w.call(c, set("/v", b"1", 0)));
    assert_eq!(st.version, 1);
    // identical bytes still bump the version
    let st = stat_of(&w.call(c, set("/v", b"1", 1)));
    assert_eq!(st.version, 2);
    // -1 matches any version
    let st = stat_of(&w.call(c, set("/v", b"2", -1)));
    assert_eq!(st.version, 3);
    assert_eq!(w.call(c, delete("/v", 2)), Err(ErrorCode::BadVersion));
    assert_eq!(w.call(c, delete("/v", 3)), Ok(Response::Delete));
    // recreated: version starts over
    let st = stat_of(&w.call(c, create("/v", b"", CreateMode::Persistent)));
    assert_eq!(st.version, 0);
}

#[test]
fn no_children_for_ephemerals() {
    let (mut w, c) = world();
    w.call(c, create("/e", b"", CreateMode::Ephemeral)).unwrap();
    assert_eq!(
        w.call(c, create("/e/k", b"", CreateMode::Persistent)),
        Err(ErrorCode::NoChildrenForEphemerals)
    );
    assert_eq!(
        w.call(c, create("/e/", b"", CreateMode::EphemeralSequential)),
        Err(ErrorCode::NoChildrenForEphemerals)
    );
    // an existing name wins over the ephemeral-parent check (3.8's order) - cannot
    // exist under an ephemeral, so check the missing-parent order instead
    assert_eq!(
        w.call(c, create("/e/k/j", b"", CreateMode::Persistent)),
        Err(ErrorCode::NoNode)
    );
}

#[test]
fn bad_arguments_for_invalid_paths() {
    let (mut w, c) = world();
    for p in [
        "a",
        "/a/",
        "/a//b",
        "/a/./b",
        "/a/../b",
        "",
        "/a\u{1}",
        "/a\u{7f}",
        "/a\u{9f}",
        "/a\u{e000}",
        "/a\u{fff0}",
        "/a\u{ffff}",
        "/a\u{1f600}",
    ] {
        assert_eq!(
            w.call(c, create(p, b"", CreateMode::Persistent)),
            Err(ErrorCode::BadArguments),
            "{p}"
        );
    }
    assert_eq!(w.call(c, delete("/", -1)), Err(ErrorCode::BadArguments));
    assert_eq!(
        w.call(c, delete("/zookeeper", -1)),
        Err(ErrorCode::BadArguments)
    );
}

#[test]
fn sequential_suffix_counts_child_creates_not_cversion() {
    let (mut w, c) = world();
    w.call(c, create("/q", b"", CreateMode::Persistent))
        .unwrap();
    let mut names = Vec::new();
    for _ in 0..4 {
        match w.call(c, create("/q/n-", b"", CreateMode::PersistentSequential)) {
            Ok(Response::Create { path, .. }) => names.push(path),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(names[0], "/q/n-0000000000");
    assert_eq!(names[3], "/q/n-0000000003");
    w.call(c, delete("/q/n-0000000001", -1)).unwrap();
    let st = stat_of(&w.call(c, exists("/q", false)));
    assert_eq!(st.cversion, 5, "4 creates + 1 delete");
    // ephemeral and persistent sequential children share the counter
    match w.call(c, create("/q/e-", b"", CreateMode::EphemeralSequential)) {
        Ok(Response::Create { path, stat }) => {
            assert_eq!(path, "/q/e-0000000004");
            assert_ne!(stat.ephemeral_owner, 0);
        }
        other => panic!("{other:?}"),
    }
    // a failed create does not advance the counter
    w.call(c, create("/q/p", b"", CreateMode::Persistent))
        .unwrap();
    match w.call(c, create("/q/", b"", CreateMode::PersistentSequential)) {
        Ok(Response::Create { path, .. }) => assert_eq!(path, "/q/0000000006"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn stat_fields_follow_the_rules() {
    let (mut w, c) = world();
    let z0 = w.ens.last_zxid();
    let st = stat_of(&w.call(c, create("/s", b"abc", CreateMode::Persistent)));
    assert_eq!(st.czxid, z0 + 1);
    assert_eq!((st.czxid, st.mzxid, st.pzxid), (z0 + 1, z0 + 1, z0 + 1));
    assert_eq!((st.version, st.cversion, st.aversion), (0, 0, 0));
    assert_eq!(
        (st.data_length, st.num_children, st.ephemeral_owner),
        (3, 0, 0)
    );
    w.call(c, create("/s/k", b"", CreateMode::Persistent))
        .unwrap();
    let st2 = stat_of(&w.call(c, get("/s", false)));
    // a child create changes cversion and pzxid, not version or mzxid
    assert_eq!(st2.version, 0);
    assert_eq!(st2.mzxid, st.mzxid);
    assert_eq!(st2.cversion, 1);
    assert_eq!(st2.pzxid, z0 + 2);
    assert_eq!(st2.num_children, 1);
    let st3 = stat_of(&w.call(c, set("/s", b"", -1)));
    assert_eq!(st3.mzxid, z0 + 3);
    assert_eq!(st3.data_length, 0);
    let e = stat_of(&w.call(c, create("/eph", b"", CreateMode::Ephemeral)));
    assert_eq!(e.ephemeral_owner, w.clients[c].session_id().unwrap().0);
}

#[test]
fn every_write_takes_one_zxid_and_reads_none() {
    let (mut w, c) = world();
    let z = w.ens.last_zxid();
    w.call(c, create("/z", b"", CreateMode::Persistent))
        .unwrap();
    assert_eq!(w.ens.last_zxid(), z + 1);
    // failed writes take one too
    assert!(w
        .call(c, create("/z", b"", CreateMode::Persistent))
        .is_err());
    assert_eq!(w.ens.last_zxid(), z + 2);
    assert!(w.call(c, set("/z", b"", 9)).is_err());
    assert_eq!(w.ens.last_zxid(), z + 3);
    // a multi takes exactly one, failed or not
    let ops = vec![
        MultiOp::Create {
            path: "/m1".into(),
            data: vec![],
            mode: CreateMode::Persistent,
        },
        MultiOp::Create {
            path: "/m2".into(),
            data: vec![],
            mode: CreateMode::Persistent,
        },
    ];
    w.call(c, Request::Multi(ops.clone())).unwrap();
    assert_eq!(w.ens.last_zxid(), z + 4);
    let r = w.call(c, Request::Multi(ops)).unwrap();
    assert_eq!(r.multi_failure(), Some((0, ErrorCode::NodeExists)));
    assert_eq!(w.ens.last_zxid(), z + 5);
    // reads, exists, sync and pings take none
    w.call(c, get("/z", true)).unwrap();
    w.call(c, exists("/nope", true)).unwrap();
    w.call(c, children("/", false)).unwrap();
    w.call(c, Request::Sync { path: "/".into() }).unwrap();
    w.run_for(10_000);
    assert_eq!(w.ens.last_zxid(), z + 5);
    // session creation takes one
    let _c2 = w.connected_client(vec![0], 4_000);
    assert_eq!(w.ens.last_zxid(), z + 6);
}

#[test]
fn multi_is_all_or_nothing_with_real_per_op_results() {
    let (mut w, c) = world();
    w.call(c, create("/x", b"0", CreateMode::Persistent))
        .unwrap();
    let ops = vec![
        MultiOp::Create {
            path: "/y".into(),
            data: b"y".to_vec(),
            mode: CreateMode::Persistent,
        },
        MultiOp::SetData {
            path: "/x".into(),
            data: b"1".to_vec(),
            version: 0,
        },
        MultiOp::Check {
            path: "/x".into(),
            version: 5,
        },
        MultiOp::Delete {
            path: "/x".into(),
            version: -1,
        },
    ];
    let r = w.call(c, Request::Multi(ops)).unwrap();
    assert_eq!(
        r,
        Response::Multi(vec![
            OpResult::Error { err: ErrorCode::Ok },
            OpResult::Error { err: ErrorCode::Ok },
            OpResult::Error {
                err: ErrorCode::BadVersion
            },
            OpResult::Error {
                err: ErrorCode::RuntimeInconsistency
            },
        ])
    );
    assert_eq!(r.multi_failure(), Some((2, ErrorCode::BadVersion)));
    // nothing applied
    assert_eq!(
        w.call(c, exists("/y", false)),
        Ok(Response::Exists { stat: None })
    );
    assert_eq!(data_of(&w.call(c, get("/x", false))), b"0");
    // later operations see the effects of earlier ones
    let ops = vec![
        MultiOp::Create {
            path: "/y".into(),
            data: vec![],
            mode: CreateMode::Persistent,
        },
        MultiOp::Create {
            path: "/y/z".into(),
            data: vec![],
            mode: CreateMode::Persistent,
        },
        MultiOp::SetData {
            path: "/x".into(),
            data: b"1".to_vec(),
            version: 0,
        },
        MultiOp::Check {
            path: "/x".into(),
            version: 1,
        },
        MultiOp::Delete {
            path: "/y/z".into(),
            version: 0,
        },
    ];
    let r = w.call(c, Request::Multi(ops)).unwrap();
    assert_eq!(r.multi_failure(), None);
    match r {
        Response::Multi(rs) => {
            assert_eq!(rs[0], OpResult::Create { path: "/y".into() });
            assert!(matches!(rs[2], OpResult::SetData { stat } if stat.version == 1));
            assert_eq!(rs[3], OpResult::Check);
            assert_eq!(rs[4], OpResult::Delete);
        }
        other => panic!("{other:?}"),
    }
    // all under one zxid
    let y = stat_of(&w.call(c, get("/y", false)));
    let x = stat_of(&w.call(c, get("/x", false)));
    assert_eq!(y.czxid, x.mzxid);
}

#[test]
fn oversized_request_drops_the_connection_and_applies_nothing() {
    let (mut w, c) = world();
    // a 10-character path: at most 1,048,575 - 30 bytes of data
    let path = "/123456789";
    assert_eq!(path.len(), 10);
    w.call(c, create(path, b"", CreateMode::Persistent))
        .unwrap();
    let max = DEFAULT_MAX_PACKET_BYTES - 30;
    let st = stat_of(&w.call(c, set(path, &vec![7u8; max], -1)));
    assert_eq!(st.data_length as usize, max);
    let z = w.ens.last_zxid();
    w.new_events(c);
    let r = w.call(c, set(path, &vec![8u8; max + 1], -1));
    assert_eq!(r, Err(ErrorCode::ConnectionLoss));
    assert_eq!(w.ens.last_zxid(), z, "nothing applied");
    assert!(w
        .new_events(c)
        .contains(&ClientEvent::State(SessionState::Disconnected)));
    assert_eq!(w.ens.stats().oversize_requests, 1);
    // the session survives: the client reconnects
    w.run_until_cond(w.now + 5_000, |w| {
        w.clients[c].state() == SessionState::Connected
    });
    assert_eq!(w.clients[c].state(), SessionState::Connected);
    assert_eq!(stat_of(&w.call(c, exists(path, false))).version, 1);
}

#[test]
fn client_refuses_a_reply_larger_than_its_buffer() {
    let (mut w, c) = world();
    let path = "/big";
    w.call(c, create(path, b"", CreateMode::Persistent))
        .unwrap();
    // storable (request fits) but the reply (88 + D) exceeds the client's limit
    let d = DEFAULT_MAX_PACKET_BYTES - 88 + 1;
    assert!(w.call(c, set(path, &vec![1u8; d], -1)).is_ok());
    assert_eq!(w.call(c, get(path, false)), Err(ErrorCode::ConnectionLoss));
    w.run_until_cond(w.now + 5_000, |w| {
        w.clients[c].state() == SessionState::Connected
    });
    w.call(c, set(path, &vec![1u8; d - 1], -1)).unwrap();
    assert_eq!(data_of(&w.call(c, get(path, false))).len(), d - 1);
}

/// Paths a sequential create may take: the client checks `path + "1"` (the Java
/// client's rule) and the server names the node: "/d/." makes "/d/.0000000000",
/// "/" makes a child of the root ("/0000000001"), as on a real 3.8 server through
/// the Java client.
#[test]
fn sequential_creates_of_dot_paths_and_of_the_root() {
    let (mut w, c) = world();
    w.call(c, create("/d", b"", CreateMode::Persistent))
        .unwrap();
    let made = |w: &mut World, p: &str| match w
        .call(c, create(p, b"", CreateMode::PersistentSequential))
    {
        Ok(Response::Create { path, .. }) => path,
        other => panic!("{p}: {other:?}"),
    };
    assert_eq!(made(&mut w, "/d/."), "/d/.0000000000");
    assert_eq!(made(&mut w, "/d/.."), "/d/..0000000001");
    assert_eq!(made(&mut w, "/d/"), "/d/0000000002");
    assert_eq!(made(&mut w, "/"), "/0000000001");
    assert_eq!(
        w.call(c, create("/", b"", CreateMode::Persistent)),
        Err(ErrorCode::NodeExists)
    );
    assert_eq!(
        w.call(c, create("/d//", b"", CreateMode::PersistentSequential)),
        Err(ErrorCode::BadArguments)
    );
}

/// The built-in nodes as on a fresh 3.8 server; `/zookeeper/config` is read-only.
#[test]
fn built_in_nodes_and_the_read_only_config_node() {
    let (mut w, c) = world();
    let st = |w: &mut World, p: &str| stat_of(&w.call(c, exists(p, false)));
    assert_eq!(st(&mut w, "/").cversion, -1);
    assert_eq!(st(&mut w, "/zookeeper").cversion, -2);
    assert_eq!(st(&mut w, "/zookeeper/config").aversion, -1);
    assert_eq!(st(&mut w, "/zookeeper/quota").aversion, 0);
    let z = w.ens.last_zxid();
    assert_eq!(
        w.call(c, set("/zookeeper/config", b"x", -1)),
        Err(ErrorCode::NoAuth)
    );
    assert_eq!(
        w.call(c, set("/zookeeper/config", b"x", 7)),
        Err(ErrorCode::NoAuth),
        "the ACL is checked before the version"
    );
    assert_eq!(
        w.call(
            c,
            create("/zookeeper/config/x", b"", CreateMode::Persistent)
        ),
        Err(ErrorCode::NoAuth)
    );
    assert_eq!(
        w.call(c, delete("/zookeeper/config", -1)),
        Err(ErrorCode::BadArguments)
    );
    assert_eq!(w.ens.last_zxid(), z + 4, "each failed write takes a zxid");
    // reading it is allowed; quota is writable
    assert!(w.call(c, get("/zookeeper/config", false)).is_ok());
    assert_eq!(
        stat_of(&w.call(c, set("/zookeeper/quota", b"q", -1))).version,
        1
    );
    w.call(c, create("/zookeeper/x", b"", CreateMode::Persistent))
        .unwrap();
    assert_eq!(st(&mut w, "/zookeeper").cversion, -1);
    w.call(c, create("/x", b"", CreateMode::Persistent))
        .unwrap();
    assert_eq!(st(&mut w, "/").cversion, 0);
    // versions below -1 are not wildcards
    assert_eq!(w.call(c, set("/x", b"", -2)), Err(ErrorCode::BadVersion));
    assert_eq!(w.call(c, delete("/x", -2)), Err(ErrorCode::BadVersion));
}

/// An empty multi is answered by the client: nothing sent, no zxid, in order.
#[test]
fn an_empty_multi_takes_no_zxid() {
    let (mut w, c) = world();
    let z = w.ens.last_zxid();
    let txns = w.ens.stats().txns;
    assert_eq!(
        w.call(c, Request::Multi(vec![])),
        Ok(Response::Multi(vec![]))
    );
    assert_eq!((w.ens.last_zxid(), w.ens.stats().txns), (z, txns));
    // behind a request in flight, its answer waits for that one's reply
    let x1 = w.submit(c, create("/e", b"", CreateMode::Persistent));
    let x2 = w.submit(c, Request::Multi(vec![]));
    assert_eq!(w.outcome(c, x2), None);
    w.run_for(100);
    let order: Vec<Xid> = w.log[c]
        .iter()
        .filter_map(|(_, e)| match e {
            ClientEvent::Reply { xid, .. } => Some(*xid),
            _ => None,
        })
        .collect();
    assert_eq!(&order[order.len() - 2..], &[x1, x2]);
    assert_eq!(w.ens.last_zxid(), z + 1);
}

/// The server validates only the paths of creates and setData (and multi's check):
/// to a client that sends them unchecked, reads of an invalid path find no node,
/// sync answers, and a delete finds no node (taking a zxid).
#[test]
fn the_server_does_not_check_paths_of_reads_delete_and_sync() {
    let mut e = Ensemble::new(EnsembleConfig::new(1, 200), 0);
    let conn = ConnId { client: 1, n: 0 };
    let mut seq = 0;
    let mut send = |e: &mut Ensemble, now: u64, body: ClientBody| {
        e.handle_message(
            now,
            ClientMsg {
                server: 0,
                conn,
                seq,
                body,
            },
        );
        seq += 1;
    };
    send(
        &mut e,
        0,
        ClientBody::Connect {
            session: None,
            requested_timeout_ms: 4_000,
            last_zxid_seen: 0,
        },
    );
    let reqs = [
        Request::GetData {
            path: "/a/.".into(),
            watch: false,
        },
        Request::Exists {
            path: "/a/..".into(),
            watch: false,
        },
        Request::GetChildren {
            path: "/a//b".into(),
            watch: false,
        },
        Request::Sync {
            path: "/a/.".into(),
        },
        Request::Delete {
            path: "/a/.".into(),
            version: -1,
        },
        Request::Delete {
            path: "a".into(),
            version: -1,
        },
        Request::SetData {
            path: "/a/.".into(),
            data: vec![],
            version: -1,
        },
    ];
    for (i, request) in reqs.into_iter().enumerate() {
        send(
            &mut e,
            10,
            ClientBody::Request {
                xid: i as Xid + 1,
                request,
            },
        );
    }
    e.tick(100);
    let replies: Vec<Result<Response, ErrorCode>> = std::iter::from_fn(|| e.poll_output())
        .filter_map(|m| match m.body {
            ServerBody::Reply { result, .. } => Some(result),
            _ => None,
        })
        .collect();
    assert_eq!(
        replies,
        vec![
            Err(ErrorCode::NoNode),
            Ok(Response::Exists { stat: None }),
            Err(ErrorCode::NoNode),
            Ok(Response::Sync {
                path: "/a/.".into()
            }),
            Err(ErrorCode::NoNode),
            Err(ErrorCode::BadArguments),
            Err(ErrorCode::BadArguments),
        ]
    );
    // createSession and the three failed writes
    assert_eq!(e.last_zxid(), 4);
}
