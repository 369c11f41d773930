//! Proptest over whole runs: random client operations, lag changes, outages, server
//! crashes, leader changes (with a deposed leader serving stale syncs), cut-offs and
//! pauses. Checked throughout: the ensemble's and clients'
//! invariants (in the test world's flush). Checked per client: replies come in
//! request order, a node's mzxid never goes back in what one client reads, and no
//! write acknowledged OK is missing from the leader's log (by its zxid). At the end,
//! after healing, every server converges to the leader's tree.

mod common;
use common::*;
use proptest::prelude::*;
use std::collections::BTreeMap;
use zkwal_zk::*;

#[derive(Clone, Debug)]
enum Step {
    Op(usize, u8, u8, u8),
    Run(u64),
    Lag(u32, u64),
    Unavailable(bool),
    ServerDown(u32, bool),
    Cut(usize, bool),
    Pause(usize, bool),
    LeaderChange(u64, u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        10 => (0..3usize, 0..8u8, 0..4u8, 0..3u8).prop_map(|(c, k, p, v)| Step::Op(c, k, p, v)),
        6 => (1..1_500u64).prop_map(Step::Run),
        1 => (0..3u32, prop_oneof![Just(0u64), 1..3_000u64]).prop_map(|(s, l)| Step::Lag(s, l)),
        1 => any::<bool>().prop_map(Step::Unavailable),
        1 => (0..3u32, any::<bool>()).prop_map(|(s, d)| Step::ServerDown(s, d)),
        1 => (0..3usize, any::<bool>()).prop_map(|(c, b)| Step::Cut(c, b)),
        1 => (0..3usize, any::<bool>()).prop_map(|(c, b)| Step::Pause(c, b)),
        1 => (0..1_000u64, prop_oneof![Just(0u64), 1..3_000u64])
            .prop_map(|(u, d)| Step::LeaderChange(u, d)),
    ]
}

const PATHS: [&str; 4] = ["/a", "/a/b", "/c", "/c/"];

fn request(kind: u8, p: u8, v: u8) -> Request {
    let path = PATHS[p as usize].to_string();
    let version = v as i32 - 1;
    match kind {
        0 => {
            let mode = if path.ends_with('/') {
                CreateMode::PersistentSequential
            } else if v == 0 {
                CreateMode::Ephemeral
            } else {
                CreateMode::Persistent
            };
            Request::Create {
                path,
                data: vec![v],
                mode,
            }
        }
        1 => Request::Delete { path, version },
        2 => Request::SetData {
            path,
            data: vec![v; 3],
            version,
        },
        3 => Request::GetData {
            path,
            watch: v == 1,
        },
        4 => Request::Exists { path, watch: true },
        5 => Request::GetChildren {
            path,
            watch: v == 2,
        },
        6 => Request::Sync { path },
        _ => Request::Multi(vec![
            MultiOp::Check {
                path: "/a".into(),
                version,
            },
            MultiOp::SetData {
                path: "/a".into(),
                data: vec![9],
                version: -1,
            },
        ]),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn random_runs_keep_every_rule(steps in prop::collection::vec(step(), 1..60)) {
        let mut w = World::new(3);
        let clients: Vec<usize> = (0..3)
            .map(|i| w.add_client(vec![i as u32, (i as u32 + 1) % 3, (i as u32 + 2) % 3], 2_000))
            .collect();
        w.run_for(50);
        let mut sent: Vec<Vec<Xid>> = vec![Vec::new(); 3];
        let mut paths: Vec<BTreeMap<Xid, String>> = vec![BTreeMap::new(); 3];
        for s in &steps {
            let now = w.now;
            match s.clone() {
                Step::Op(c, k, p, v) => {
                    if !w.paused.contains(&c) {
                        let x = w.submit(clients[c], request(k, p, v));
                        sent[c].push(x);
                        paths[c].insert(x, PATHS[p as usize].to_string());
                    }
                }
                Step::Run(ms) => w.run_for(ms),
                Step::Lag(s, l) => w.ens.set_server_lag_ms(now, s, l),
                Step::Unavailable(b) => w.ens.set_unavailable(now, b),
                Step::ServerDown(s, d) => w.ens.set_server_down(now, s, d),
                Step::LeaderChange(u, d) => {
                    w.ens.change_leader(now, u, d);
                }
                Step::Cut(c, b) => {
                    if b {
                        w.cut.insert(clients[c]);
                    } else {
                        w.cut.remove(&clients[c]);
                    }
                }
                Step::Pause(c, b) => {
                    if b {
                        w.pause(clients[c]);
                    } else if w.paused.contains(&clients[c]) {
                        w.resume(clients[c]);
                    }
                }
            }
        }
        // heal
        let now = w.now;
        w.ens.set_unavailable(now, false);
        for s in 0..3 {
            w.ens.set_server_down(now, s, false);
            w.ens.set_server_lag_ms(now, s, 0);
        }
        w.cut.clear();
        for c in clients.clone() {
            if w.paused.contains(&c) {
                w.resume(c);
            }
        }
        w.run_for(10_000);
        // every request got exactly one outcome, in request order
        for (i, c) in clients.iter().enumerate() {
            let replies: Vec<Xid> = w.log[*c]
                .iter()
                .filter_map(|(_, e)| match e {
                    ClientEvent::Reply { xid, .. } => Some(*xid),
                    _ => None,
                })
                .collect();
            prop_assert_eq!(&replies, &sent[i]);
            // reads never go back in time: a node's mzxid only grows in what a
            // client reads (a recreated node has a larger one)
            let mut seen: BTreeMap<String, Zxid> = BTreeMap::new();
            for (_, e) in &w.log[*c] {
                if let ClientEvent::Reply { xid, result: Ok(Response::GetData { stat, .. }) } = e {
                    let path = paths[i][xid].clone();
                    let last = seen.entry(path.clone()).or_insert(0);
                    prop_assert!(stat.mzxid >= *last, "{} went back from {} to {}", path, last, stat.mzxid);
                    *last = stat.mzxid;
                }
            }
            let st = w.clients[*c].state();
            prop_assert!(matches!(st, SessionState::Connected | SessionState::Expired), "{:?}", st);
        }
        // convergence: every server applies the whole log once healed
        for s in 0..3 {
            prop_assert_eq!(w.ens.server_applied_zxid(s), w.ens.last_zxid());
            prop_assert_eq!(w.ens.server_tree(s), w.ens.leader_tree());
        }
        w.ens.check_invariants().unwrap();
    }
}
