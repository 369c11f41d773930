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
