mod common;
use common::*;
use zkwal_zk::*;

#[test]
fn create_then_read_back() {
    let mut w = World::new(3);
    let c = w.connected_client(vec![0, 1, 2], 4_000);
    let r = w.call(c, create("/a", b"x", CreateMode::Persistent));
    assert!(
        matches!(r, Ok(Response::Create { ref path, .. }) if path == "/a"),
        "{r:?}"
    );
    let r = w.call(c, get("/a", false));
    assert_eq!(data_of(&r), b"x");
}

/// The ground truth for checkers: every committed transaction, in zxid order, with
/// the client whose session it belongs to (an expiry too) and its outcome (a failed
/// multi too). Nothing is recorded unless asked.
#[test]
fn applied_transactions_are_recorded_in_zxid_order_when_asked() {
    let mut w = World::new(3);
    w.ens.record_applied();
    let a = w.connected_client(vec![0, 1, 2], 4_000);
    let b = w.connected_client(vec![1, 2, 0], 4_000);
    w.call(a, create("/x", b"1", CreateMode::Persistent))
        .unwrap();
    w.call(b, set("/x", b"2", 0)).unwrap();
    let r = w.call(
        a,
        Request::Multi(vec![
            MultiOp::Check {
                path: "/x".into(),
                version: 0,
            },
            MultiOp::SetData {
                path: "/x".into(),
                data: b"3".to_vec(),
                version: -1,
            },
        ]),
    );
    assert!(
        matches!(r, Ok(ref m) if m.multi_failure().is_some()),
        "{r:?}"
    );
    let mut got = Vec::new();
    while let Some(t) = w.ens.poll_applied() {
        got.push(t);
    }
    let zxids: Vec<Zxid> = got.iter().map(|t| t.zxid).collect();
    assert_eq!(zxids, (1..=got.len() as Zxid).collect::<Vec<_>>());
    let writes: Vec<(Option<u64>, &TxnOp, &TxnResult)> = got
        .iter()
        .filter(|t| !matches!(t.op, TxnOp::CreateSession { .. }))
        .map(|t| (t.client, &t.op, &t.result))
        .collect();
    assert_eq!(writes.len(), 3);
    assert_eq!(writes[0].0, Some(100));
    assert!(matches!(writes[0].2, TxnResult::Created { path, .. } if path == "/x"));
    assert_eq!(writes[1].0, Some(101));
    assert!(matches!(writes[1].2, TxnResult::DataSet { stat } if stat.version == 1));
    assert_eq!(writes[2].0, Some(100));
    assert!(matches!(writes[2].2, TxnResult::Multi(_)));
    // An expiry: b goes silent; the tracker closes its session.
    w.pause(b);
    w.run_for(10_000);
    let expiry = std::iter::from_fn(|| w.ens.poll_applied())
        .find(|t| matches!(t.op, TxnOp::CloseSession { .. }))
        .expect("b's session expired");
    assert_eq!(expiry.client, Some(101), "the session's owner");
    assert_eq!(w.ens.applied_dropped(), 0);
    // Without asking, nothing is kept.
    let mut quiet = World::new(3);
    let c = quiet.connected_client(vec![0], 4_000);
    quiet
        .call(c, create("/y", b"", CreateMode::Persistent))
        .unwrap();
    assert!(quiet.ens.poll_applied().is_none());
}
