//! Proptest state-machine test: the data tree and multi against a simple reference
//! model (a flat map of paths, children found by scanning), compared after every
//! transaction: results, error codes, sequential names, every node's data and Stat.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use zkwal_zk::tree::{DataTree, TxnOp, TxnResult};
use zkwal_zk::{CreateMode, ErrorCode, MultiOp, OpResult, SessionId};

#[derive(Clone, Debug, Default)]
struct MNode {
    data: Vec<u8>,
    version: i32,
    cversion: i32,
    owner: u64,
    creates: u32,
    czxid: u64,
    mzxid: u64,
    pzxid: u64,
}

#[derive(Clone, Debug)]
struct Model {
    nodes: BTreeMap<String, MNode>,
    sessions: BTreeSet<u64>,
    zxid: u64,
}

fn parent_of(p: &str) -> String {
    let i = p.rfind('/').unwrap();
    if i == 0 {
        "/".into()
    } else {
        p[..i].into()
    }
}

impl Model {
    fn new() -> Model {
        let mut nodes = BTreeMap::new();
        for p in ["/", "/zookeeper", "/zookeeper/config", "/zookeeper/quota"] {
            // as on a fresh 3.8 server
            let cversion = match p {
                "/" => -1,
                "/zookeeper" => -2,
                _ => 0,
            };
            nodes.insert(
                p.to_string(),
                MNode {
                    cversion,
                    ..MNode::default()
                },
            );
        }
        Model {
            nodes,
            sessions: BTreeSet::new(),
            zxid: 0,
        }
    }

    fn num_children(&self, p: &str) -> usize {
        self.nodes
            .keys()
            .filter(|k| k.as_str() != "/" && parent_of(k) == p)
            .count()
    }

    fn create(
        &mut self,
        s: u64,
        path: &str,
        data: &[u8],
        mode: CreateMode,
    ) -> Result<String, ErrorCode> {
        let par = parent_of(path);
        let Some(pn) = self.nodes.get(&par) else {
            return Err(ErrorCode::NoNode);
        };
        if par == "/zookeeper/config" {
            return Err(ErrorCode::NoAuth);
        }
        let full = if mode.is_sequential() {
            format!("{path}{:010}", pn.creates)
        } else {
            path.to_string()
        };
        if self.nodes.contains_key(&full) {
            return Err(ErrorCode::NodeExists);
        }
        if pn.owner != 0 {
            return Err(ErrorCode::NoChildrenForEphemerals);
        }
        let z = self.zxid;
        let pn = self.nodes.get_mut(&par).unwrap();
        pn.cversion += 1;
        pn.creates += 1;
        pn.pzxid = z;
        self.nodes.insert(
            full.clone(),
            MNode {
                data: data.to_vec(),
                owner: if mode.is_ephemeral() { s } else { 0 },
                czxid: z,
                mzxid: z,
                pzxid: z,
                ..Default::default()
            },
        );
        Ok(full)
    }

    fn delete(&mut self, path: &str, version: i32) -> Result<(), ErrorCode> {
        if ["/", "/zookeeper", "/zookeeper/config", "/zookeeper/quota"].contains(&path) {
            return Err(ErrorCode::BadArguments);
        }
        let Some(n) = self.nodes.get(path) else {
            return Err(ErrorCode::NoNode);
        };
        if version != -1 && version != n.version {
            return Err(ErrorCode::BadVersion);
        }
        if self.num_children(path) > 0 {
            return Err(ErrorCode::NotEmpty);
        }
        self.nodes.remove(path);
        let z = self.zxid;
        let pn = self.nodes.get_mut(&parent_of(path)).unwrap();
        pn.cversion += 1;
        pn.pzxid = z;
        Ok(())
    }

    fn set(&mut self, path: &str, data: &[u8], version: i32) -> Result<(), ErrorCode> {
        let z = self.zxid;
        let Some(n) = self.nodes.get_mut(path) else {
            return Err(ErrorCode::NoNode);
        };
        if path == "/zookeeper/config" {
            return Err(ErrorCode::NoAuth);
        }
        if version != -1 && version != n.version {
            return Err(ErrorCode::BadVersion);
        }
        n.version += 1;
        n.data = data.to_vec();
        n.mzxid = z;
        Ok(())
    }

    fn check(&self, path: &str, version: i32) -> Result<(), ErrorCode> {
        let Some(n) = self.nodes.get(path) else {
            return Err(ErrorCode::NoNode);
        };
        if version != -1 && version != n.version {
            return Err(ErrorCode::BadVersion);
        }
        Ok(())
    }

    /// Applies one transaction; returns a comparable summary of its result.
    fn apply(&mut self, op: &TxnOp) -> String {
        self.zxid += 1;
        let live = |m: &Model, s: &SessionId| m.sessions.contains(&s.0);
        match op {
            TxnOp::CreateSession { session, .. } => {
                self.sessions.insert(session.0);
                "session".into()
            }
            TxnOp::CloseSession { session } => {
                let eph: Vec<String> = self
                    .nodes
                    .iter()
                    .filter(|(_, n)| n.owner == session.0)
                    .map(|(p, _)| p.clone())
                    .collect();
                for p in &eph {
                    self.delete(p, -1).unwrap();
                }
                self.sessions.remove(&session.0);
                format!("closed {eph:?}")
            }
            TxnOp::Create { session, .. }
            | TxnOp::Delete { session, .. }
            | TxnOp::SetData { session, .. }
            | TxnOp::Multi { session, .. }
                if !live(self, session) =>
            {
                format!("err {:?}", ErrorCode::SessionExpired)
            }
            TxnOp::Create {
                session,
                path,
                data,
                mode,
            } => match self.create(session.0, path, data, *mode) {
                Ok(p) => format!("created {p}"),
                Err(e) => format!("err {e:?}"),
            },
            TxnOp::Delete { path, version, .. } => match self.delete(path, *version) {
                Ok(()) => "deleted".into(),
                Err(e) => format!("err {e:?}"),
            },
            TxnOp::SetData {
                path,
                data,
                version,
                ..
            } => match self.set(path, data, *version) {
                Ok(()) => "set".into(),
                Err(e) => format!("err {e:?}"),
            },
            TxnOp::Multi { session, ops } => {
                let saved = self.clone();
                let mut res = Vec::new();
                let mut failed = None;
                for (i, op) in ops.iter().enumerate() {
                    let r = match op {
                        MultiOp::Create { path, data, mode } => self
                            .create(session.0, path, data, *mode)
                            .map(|p| format!("c {p}")),
                        MultiOp::Delete { path, version } => {
                            self.delete(path, *version).map(|_| "d".into())
                        }
                        MultiOp::SetData {
                            path,
                            data,
                            version,
                        } => self.set(path, data, *version).map(|_| "s".into()),
                        MultiOp::Check { path, version } => {
                            self.check(path, *version).map(|_| "k".into())
                        }
                    };
                    match r {
                        Ok(s) => res.push(s),
                        Err(e) => {
                            failed = Some((i, e));
                            break;
                        }
                    }
                }
                if let Some((fi, e)) = failed {
                    let zxid = self.zxid;
                    *self = saved;
                    self.zxid = zxid;
                    let codes: Vec<ErrorCode> = (0..ops.len())
                        .map(|i| {
                            if i < fi {
                                ErrorCode::Ok
                            } else if i == fi {
                                e
                            } else {
                                ErrorCode::RuntimeInconsistency
                            }
                        })
                        .collect();
                    format!("multi failed {codes:?}")
                } else {
                    format!("multi {res:?}")
                }
            }
        }
    }
}

fn summarize(r: &TxnResult) -> String {
    match r {
        TxnResult::SessionCreated => "session".into(),
        TxnResult::SessionClosed(p) => format!("closed {p:?}"),
        TxnResult::Created { path, .. } => format!("created {path}"),
        TxnResult::Deleted => "deleted".into(),
        TxnResult::DataSet { .. } => "set".into(),
        TxnResult::Failed(e) => format!("err {e:?}"),
        TxnResult::Multi(rs) => {
            if rs.iter().any(|r| matches!(r, OpResult::Error { .. })) {
                let codes: Vec<ErrorCode> = rs
                    .iter()
                    .map(|r| match r {
                        OpResult::Error { err } => *err,
                        other => panic!("mixed multi results {other:?}"),
                    })
                    .collect();
                format!("multi failed {codes:?}")
            } else {
                let v: Vec<String> = rs
                    .iter()
                    .map(|r| match r {
                        OpResult::Create { path } => format!("c {path}"),
                        OpResult::Delete => "d".into(),
                        OpResult::SetData { .. } => "s".into(),
                        OpResult::Check => "k".into(),
                        OpResult::Error { .. } => unreachable!(),
                    })
                    .collect();
                format!("multi {v:?}")
            }
        }
    }
}

fn assert_same(tree: &DataTree, model: &Model) {
    let paths: Vec<&str> = tree.paths().collect();
    let mpaths: Vec<&str> = model.nodes.keys().map(String::as_str).collect();
    assert_eq!(paths, mpaths);
    for (p, m) in &model.nodes {
        let (data, st) = tree.get(p).unwrap();
        assert_eq!(data, &m.data[..], "{p} data");
        assert_eq!(st.version, m.version, "{p} version");
        assert_eq!(st.cversion, m.cversion, "{p} cversion");
        let aversion = if p == "/zookeeper/config" { -1 } else { 0 };
        assert_eq!(st.aversion, aversion, "{p} aversion");
        assert_eq!(st.ephemeral_owner, m.owner, "{p} owner");
        assert_eq!(
            st.num_children as usize,
            model.num_children(p),
            "{p} numChildren"
        );
        assert_eq!(st.data_length as usize, m.data.len(), "{p} dataLength");
        assert_eq!(
            (st.czxid, st.mzxid, st.pzxid),
            (m.czxid, m.mzxid, m.pzxid),
            "{p} zxids"
        );
        let kids = tree.children(p).unwrap();
        assert_eq!(kids.len(), model.num_children(p));
    }
    tree.check_invariants().unwrap();
}

const PATHS: [&str; 10] = [
    "/a",
    "/b",
    "/a/b",
    "/a/c",
    "/a/b/c",
    "/b/x",
    "/zookeeper",
    "/",
    "/zookeeper/config",
    "/zookeeper/config/x",
];
const SEQ_BASES: [&str; 6] = ["/a/", "/a/s-", "/b/q", "/a/b/e-", "/", "/a/."];

fn mode() -> impl Strategy<Value = CreateMode> {
    prop_oneof![
        Just(CreateMode::Persistent),
        Just(CreateMode::Ephemeral),
        Just(CreateMode::PersistentSequential),
        Just(CreateMode::EphemeralSequential),
    ]
}

fn path() -> impl Strategy<Value = String> {
    (0..PATHS.len()).prop_map(|i| PATHS[i].to_string())
}

fn create_path(mode: CreateMode) -> BoxedStrategy<String> {
    if mode.is_sequential() {
        (0..SEQ_BASES.len())
            .prop_map(|i| SEQ_BASES[i].to_string())
            .boxed()
    } else {
        path().boxed()
    }
}

fn data() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..3)
}

fn version() -> impl Strategy<Value = i32> {
    prop_oneof![4 => Just(-1), 1 => Just(-2), 6 => 0..3i32]
}

fn multi_op() -> impl Strategy<Value = MultiOp> {
    prop_oneof![
        mode().prop_flat_map(|m| (create_path(m), data()).prop_map(move |(path, data)| {
            MultiOp::Create {
                path,
                data,
                mode: m,
            }
        })),
        (path(), version()).prop_map(|(path, version)| MultiOp::Delete { path, version }),
        (path(), data(), version()).prop_map(|(path, data, version)| MultiOp::SetData {
            path,
            data,
            version
        }),
        (path(), version()).prop_map(|(path, version)| MultiOp::Check { path, version }),
    ]
}

/// A transaction for session slot 0..3 (slot 3 is never created: always expired).
fn txn() -> impl Strategy<Value = TxnOp> {
    let s = (1..=4u64).prop_map(SessionId);
    prop_oneof![
        4 => (s.clone(), mode()).prop_flat_map(|(session, m)| (create_path(m), data()).prop_map(
            move |(path, data)| TxnOp::Create {
                session,
                path,
                data,
                mode: m
            }
        )),
        2 => (s.clone(), path(), version()).prop_map(|(session, path, version)| TxnOp::Delete {
            session,
            path,
            version
        }),
        2 => (s.clone(), path(), data(), version()).prop_map(|(session, path, data, version)| {
            TxnOp::SetData {
                session,
                path,
                data,
                version,
            }
        }),
        3 => (s.clone(), prop::collection::vec(multi_op(), 0..4))
            .prop_map(|(session, ops)| TxnOp::Multi { session, ops }),
        1 => s.clone().prop_map(|session| TxnOp::CloseSession { session }),
        1 => s.prop_map(|session| TxnOp::CreateSession {
            session,
            timeout_ms: 4000
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn tree_matches_reference_model(ops in prop::collection::vec(txn(), 1..60)) {
        let mut tree = DataTree::new();
        let mut model = Model::new();
        // Sessions 1..=3 start live; 4 only if the test creates it.
        for s in 1..=3 {
            let op = TxnOp::CreateSession { session: SessionId(s), timeout_ms: 4000 };
            model.apply(&op);
            tree.apply(model.zxid, 0, &op);
        }
        for op in &ops {
            let expected = model.apply(op);
            let (got, _) = tree.apply(model.zxid, model.zxid * 10, op);
            prop_assert_eq!(summarize(&got), expected, "op {:?}", op);
            assert_same(&tree, &model);
        }
    }

    /// Applying the same transactions to two trees gives equal trees (what lets every
    /// server of the ensemble re-execute the leader's log).
    #[test]
    fn apply_is_deterministic(ops in prop::collection::vec(txn(), 1..40)) {
        let mut a = DataTree::new();
        for s in 1..=3 {
            a.apply(s, 0, &TxnOp::CreateSession { session: SessionId(s), timeout_ms: 4000 });
        }
        let mut b = a.clone();
        for (i, op) in ops.iter().enumerate() {
            let z = 4 + i as u64;
            let (ra, ta) = a.apply(z, z, op);
            let (rb, tb) = b.apply(z, z, op);
            prop_assert_eq!(ra, rb);
            prop_assert_eq!(ta, tb);
        }
        prop_assert_eq!(a, b);
    }
}
