//! The client-side vocabulary both implementations speak ([`Zk`]), the normalized
//! results they are compared on, the proptest generator of operation sequences, and
//! the runner that plays one sequence against one implementation.

use std::collections::BTreeMap;
use std::fmt;

use proptest::prelude::*;
pub use zkwal_zk::{CreateMode, ErrorCode};

/// The Stat fields a real server and the mock must agree on. Times are left out
/// (wall clock vs virtual time); zxids are compared as offsets from the sequence's
/// root node's czxid, which is deterministic because nothing else writes to the
/// server while a sequence runs; the ephemeral owner as the index of the session in
/// the sequence (`None`: persistent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NStat {
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub num_children: i32,
    pub data_length: i32,
    pub owner: Option<usize>,
    pub czxid: i64,
    pub mzxid: i64,
    pub pzxid: i64,
}

/// A Stat as an implementation sees it, before normalization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawStat {
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub num_children: i32,
    pub data_length: i32,
    pub ephemeral_owner: i64,
    pub czxid: i64,
    pub mzxid: i64,
    pub pzxid: i64,
}

/// One operation of a multi.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MOp {
    Create {
        path: String,
        data: Vec<u8>,
        mode: CreateMode,
    },
    Delete {
        path: String,
        version: i32,
    },
    SetData {
        path: String,
        data: Vec<u8>,
        version: i32,
    },
    Check {
        path: String,
        version: i32,
    },
}

/// A successful multi's per-operation result. 3.8.0 sends no Stat for a create in a
/// multi, so only the created path is compared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MRes {
    Create { path: String },
    Delete,
    SetData { stat: RawStat },
    Check,
}

/// A failed multi: the whole request failed (`index: None`, e.g. ConnectionLoss) or
/// operation `index` failed with `code` (the earlier ones report 0, the later ones
/// RuntimeInconsistency, and nothing is applied).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MultiErr {
    pub index: Option<usize>,
    pub code: ErrorCode,
}

/// What a watch registration was told.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum EvKind {
    NodeCreated,
    NodeDeleted,
    NodeDataChanged,
    NodeChildrenChanged,
    /// The session closed while the watch was pending.
    SessionClosed,
    /// The session expired while the watch was pending.
    SessionExpired,
}

/// One watch event, as delivered to the registration made by operation `reg`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct WatchEv {
    pub reg: usize,
    pub kind: EvKind,
    /// Relative to the sequence's root ("" for session events).
    pub path: String,
}

/// How a session ended up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessState {
    Connected,
    Closed,
    Expired,
}

/// The client operations, against either implementation. Sessions are numbered in
/// the order [`Zk::open`] returned them; paths are absolute. `reg` identifies the
/// watch a read with `watch = true` sets, so that its events can be compared.
pub trait Zk {
    /// Opens a session with the requested timeout; returns its index and the
    /// negotiated timeout.
    fn open(&mut self, timeout_ms: u64) -> (usize, u64);
    fn session_id(&self, s: usize) -> i64;
    fn create(
        &mut self,
        s: usize,
        path: &str,
        data: &[u8],
        mode: CreateMode,
    ) -> Result<(String, RawStat), ErrorCode>;
    fn delete(&mut self, s: usize, path: &str, version: i32) -> Result<(), ErrorCode>;
    fn set_data(
        &mut self,
        s: usize,
        path: &str,
        data: &[u8],
        version: i32,
    ) -> Result<RawStat, ErrorCode>;
    fn get_data(
        &mut self,
        s: usize,
        path: &str,
        watch: Option<usize>,
    ) -> Result<(Vec<u8>, RawStat), ErrorCode>;
    fn exists(
        &mut self,
        s: usize,
        path: &str,
        watch: Option<usize>,
    ) -> Result<Option<RawStat>, ErrorCode>;
    fn get_children(
        &mut self,
        s: usize,
        path: &str,
        watch: Option<usize>,
    ) -> Result<(Vec<String>, RawStat), ErrorCode>;
    fn multi(&mut self, s: usize, ops: &[MOp]) -> Result<Vec<MRes>, MultiErr>;
    /// Sends every setData on one connection before waiting for any reply
    /// (pipelined), then returns their outcomes in order.
    fn set_data_pipelined(
        &mut self,
        s: usize,
        sets: &[(String, Vec<u8>, i32)],
    ) -> Vec<Result<RawStat, ErrorCode>>;
    /// Closes the session and waits until the service has closed it.
    fn close(&mut self, s: usize);
    /// The watch events every session received up to now (the implementation makes
    /// sure that events the last operation triggered have arrived), oldest first.
    fn take_events(&mut self, s: usize) -> Vec<WatchEv>;
    fn state(&mut self, s: usize) -> SessState;
    /// Cuts session `s` off from the service (`true`) or lets it through again.
    fn freeze(&mut self, s: usize, frozen: bool);
    /// Lets `ms` of (real or virtual) time pass.
    fn sleep_ms(&mut self, ms: u64);
    /// The (real or virtual) clock, in ms from an arbitrary start.
    fn now_ms(&self) -> u64;
}

/// Data of a create or setData: small, or sized against the 1 MB request limit of
/// the real server (jute.maxbuffer = 1,048,575 bytes for the whole request packet).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payload {
    Small(u8),
    /// The largest data the request may carry (+0) or one byte more (+1).
    Limit(u8),
}

/// jute.maxbuffer's default.
pub const MAX_PACKET: usize = 1_048_575;

impl Payload {
    /// Bytes for a create (`create`) or setData request on `full_path`.
    pub fn bytes(self, full_path: &str, create: bool) -> Vec<u8> {
        match self {
            Payload::Small(n) => vec![b'a' + (n % 26); n as usize],
            Payload::Limit(extra) => {
                // setData: header 8 + path (4+P) + data (4+D) + version 4;
                // create2: header 8 + path (4+P) + data (4+D) + ACL 27 + flags 4.
                let fixed = if create { 47 } else { 20 };
                let max = MAX_PACKET - fixed - full_path.len();
                vec![b'x'; max + extra as usize]
            }
        }
    }
}

/// The ops of a multi (full paths) with their data grown so that the whole request
/// packet is `MAX_PACKET + extra` bytes: `extra` 0 is the largest multi the server
/// accepts, 1 one byte over it. The padding is shared out over the ops that carry
/// data (creates and setData, the remainder on the last), as a publication spreads a
/// state over several chunk znodes. Sized by jute's encoding, written out here apart
/// from the mock's own estimate so that the real server checks both:
/// request header 8 (xid, type), then per op a MultiHeader (type 4, done 1, err 4)
/// and its request body, then the closing MultiHeader 9; bodies: create
/// (4+P) + (4+D) + 27 (OPEN_ACL_UNSAFE) + 4 (flags), setData (4+P) + (4+D) + 4,
/// delete and check (4+P) + 4.
pub fn multi_at_limit(ops: &[MOp], extra: u8) -> Vec<MOp> {
    let body = |op: &MOp| match op {
        MOp::Create { path, data, .. } => 4 + path.len() + 4 + data.len() + 27 + 4,
        MOp::SetData { path, data, .. } => 4 + path.len() + 4 + data.len() + 4,
        MOp::Delete { path, .. } | MOp::Check { path, .. } => 4 + path.len() + 4,
    };
    let size = 8 + ops.iter().map(|o| 9 + body(o)).sum::<usize>() + 9;
    let carriers: Vec<usize> = (0..ops.len())
        .filter(|i| matches!(ops[*i], MOp::Create { .. } | MOp::SetData { .. }))
        .collect();
    assert!(
        !carriers.is_empty(),
        "a multi at the limit needs a create or setData"
    );
    let pad = MAX_PACKET + extra as usize - size;
    let mut out = ops.to_vec();
    for (k, i) in carriers.iter().enumerate() {
        let share = if k + 1 == carriers.len() {
            pad - pad / carriers.len() * (carriers.len() - 1)
        } else {
            pad / carriers.len()
        };
        if let MOp::Create { data, .. } | MOp::SetData { data, .. } = &mut out[*i] {
            data.extend(std::iter::repeat_n(b'm', share));
        }
    }
    out
}

/// One generated step. Paths are relative to the sequence's root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Create {
        s: usize,
        path: String,
        data: Payload,
        mode: CreateMode,
    },
    Delete {
        s: usize,
        path: String,
        version: i32,
    },
    SetData {
        s: usize,
        path: String,
        data: Payload,
        version: i32,
    },
    GetData {
        s: usize,
        path: String,
        watch: bool,
    },
    Exists {
        s: usize,
        path: String,
        watch: bool,
    },
    GetChildren {
        s: usize,
        path: String,
        watch: bool,
    },
    /// Ops with paths relative to the root.
    Multi {
        s: usize,
        ops: Vec<MOp>,
    },
    /// A multi grown to the request limit ([`multi_at_limit`]): at it (`extra` 0)
    /// the server applies it like any multi; one byte over (`extra` 1) it drops the
    /// connection before reading it: ConnectionLoss, nothing applied, the session
    /// and its watches kept.
    MultiAtLimit {
        s: usize,
        ops: Vec<MOp>,
        extra: u8,
    },
    Close {
        s: usize,
    },
    /// setData requests sent on one connection without waiting for replies: when a
    /// later one is over the request limit, the server closes the connection and the
    /// earlier ones, applied, get no reply.
    Pipeline {
        s: usize,
        sets: Vec<(String, Payload, i32)>,
    },
}

/// Sessions per sequence (plus the harness's own session that creates the root and
/// reads the final tree).
pub const SESSIONS: usize = 3;

const PARENTS: [&str; 4] = ["", "/a", "/b", "/a/b"];
const LEAVES: [&str; 6] = [
    "a",
    "b",
    "c",
    "s-0000000000",
    "s-0000000001",
    "s-0000000002",
];

fn parent_strategy() -> impl Strategy<Value = &'static str> {
    prop_oneof![4 => Just(PARENTS[0]), 3 => Just(PARENTS[1]), 2 => Just(PARENTS[2]), 1 => Just(PARENTS[3])]
}

/// Paths in a small namespace, so that operations meet each other's nodes.
fn path_strategy() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        3 => Just(LEAVES[0]), 3 => Just(LEAVES[1]), 3 => Just(LEAVES[2]),
        2 => Just(LEAVES[3]), 1 => Just(LEAVES[4]), 1 => Just(LEAVES[5]),
    ];
    (parent_strategy(), leaf).prop_map(|(p, l)| format!("{p}/{l}"))
}

/// A path to read: also the root itself and the parents.
fn read_path_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => path_strategy(),
        1 => parent_strategy().prop_map(|p| if p.is_empty() { "/".to_string() } else { p.to_string() }),
    ]
}

fn mode_strategy() -> impl Strategy<Value = CreateMode> {
    prop_oneof![
        3 => Just(CreateMode::Persistent),
        2 => Just(CreateMode::Ephemeral),
        2 => Just(CreateMode::PersistentSequential),
        2 => Just(CreateMode::EphemeralSequential),
    ]
}

/// The path a create uses: a sequential create asks for `<parent>/s-`, now and then
/// for `<parent>/` or `<parent>/.` (the suffix makes those valid names).
fn create_path_strategy() -> impl Strategy<Value = (String, CreateMode)> {
    let base = prop_oneof![8 => Just("s-"), 1 => Just(""), 1 => Just(".")];
    (path_strategy(), mode_strategy(), parent_strategy(), base).prop_map(|(path, mode, p, base)| {
        if mode.is_sequential() {
            // Not "/" alone: relative to the root that is the root itself, and a
            // sequential create of it would make a sibling outside it.
            let base = if p.is_empty() && base.is_empty() {
                "s-"
            } else {
                base
            };
            (format!("{p}/{base}"), mode)
        } else {
            (path, mode)
        }
    })
}

/// -1 (any), a version near the ones the nodes reach, or below -1 (no wildcard).
fn version_strategy() -> impl Strategy<Value = i32> {
    prop_oneof![6 => Just(-1), 8 => 0..3i32, 1 => Just(-2)]
}

fn small_payload() -> impl Strategy<Value = Payload> {
    (0u8..12).prop_map(Payload::Small)
}

fn payload_strategy() -> impl Strategy<Value = Payload> {
    prop_oneof![
        60 => small_payload(),
        1 => (0u8..2).prop_map(Payload::Limit),
    ]
}

fn mop_strategy() -> impl Strategy<Value = MOp> {
    prop_oneof![
        3 => (create_path_strategy(), small_payload()).prop_map(|((path, mode), d)| MOp::Create {
            data: d.bytes("", false),
            path,
            mode,
        }),
        2 => (path_strategy(), version_strategy()).prop_map(|(path, version)| MOp::Delete { path, version }),
        2 => (path_strategy(), small_payload(), version_strategy()).prop_map(|(path, d, version)| {
            MOp::SetData { path, data: d.bytes("", false), version }
        }),
        2 => (path_strategy(), version_strategy()).prop_map(|(path, version)| MOp::Check { path, version }),
    ]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let s = 0..SESSIONS;
    prop_oneof![
        12 => (s.clone(), create_path_strategy(), payload_strategy())
            .prop_map(|(s, (path, mode), data)| Op::Create { s, path, data, mode }),
        6 => (s.clone(), path_strategy(), version_strategy())
            .prop_map(|(s, path, version)| Op::Delete { s, path, version }),
        8 => (s.clone(), path_strategy(), payload_strategy(), version_strategy())
            .prop_map(|(s, path, data, version)| Op::SetData { s, path, data, version }),
        6 => (s.clone(), read_path_strategy(), prop::bool::weighted(0.7))
            .prop_map(|(s, path, watch)| Op::GetData { s, path, watch }),
        6 => (s.clone(), read_path_strategy(), prop::bool::weighted(0.7))
            .prop_map(|(s, path, watch)| Op::Exists { s, path, watch }),
        6 => (s.clone(), read_path_strategy(), prop::bool::weighted(0.7))
            .prop_map(|(s, path, watch)| Op::GetChildren { s, path, watch }),
        6 => (s.clone(), prop::collection::vec(mop_strategy(), 1..5))
            .prop_map(|(s, ops)| Op::Multi { s, ops }),
        1 => (s.clone(), prop::collection::vec(mop_strategy(), 1..4), 0u8..2)
            .prop_filter("needs an op that carries data", |(_, ops, _)| {
                ops.iter().any(|o| matches!(o, MOp::Create { .. } | MOp::SetData { .. }))
            })
            .prop_map(|(s, ops, extra)| Op::MultiAtLimit { s, ops, extra }),
        // empty: both clients answer it without sending it (no zxid)
        1 => s.clone().prop_map(|s| Op::Multi { s, ops: vec![] }),
        1 => s.clone().prop_map(|s| Op::Close { s }),
        // Pipelines only of small requests: whether the server answers a request
        // before it reads an oversized one behind it is a race on a real server
        // unless the requests arrive together (the fixed sequences hold them in a
        // proxy to make sure).
        2 => (s, prop::collection::vec((path_strategy(), small_payload(), version_strategy()), 2..4))
            .prop_map(|(s, sets)| Op::Pipeline { s, sets }),
    ]
}

/// Creates of the parents, most of them persistent, by some session.
fn prelude_strategy() -> impl Strategy<Value = Vec<Op>> {
    let one = |path: &'static str| {
        (
            prop::bool::weighted(0.85),
            0..SESSIONS,
            prop_oneof![5 => Just(CreateMode::Persistent), 1 => Just(CreateMode::Ephemeral)],
        )
            .prop_map(move |(on, s, mode)| {
                on.then(|| Op::Create {
                    s,
                    path: path.to_string(),
                    data: Payload::Small(1),
                    mode,
                })
            })
    };
    (one("/a"), one("/b"), one("/a/b"))
        .prop_map(|(a, b, c)| [a, b, c].into_iter().flatten().collect())
}

/// A generated sequence: a prelude that creates some parents, then random steps.
pub fn sequence_strategy() -> impl Strategy<Value = Vec<Op>> {
    (
        prelude_strategy(),
        prop::collection::vec(op_strategy(), 1..30),
    )
        .prop_map(|(mut p, body)| {
            p.extend(body);
            p
        })
}

/// The normalized outcome of one step, compared between the implementations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Created(String, NStat),
    Deleted,
    DataSet(NStat),
    Data(usize, u64, NStat),
    Exists(Option<NStat>),
    Children(Vec<String>, NStat),
    Multi(Vec<NMRes>),
    MultiFailed(Option<usize>, ErrorCode),
    Closed,
    /// The outcomes of pipelined requests, in order.
    Pipeline(Vec<Outcome>),
    Err(ErrorCode),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NMRes {
    Create(String),
    Delete,
    SetData(NStat),
    Check,
}

/// One played step: the outcome, and the watch events each session had received by
/// the end of it, sorted (see [`Zk::take_events`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub outcome: Outcome,
    pub events: Vec<(usize, Vec<WatchEv>)>,
}

/// A node of the final tree, read by the harness's session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeDump {
    pub path: String,
    pub data_len: usize,
    pub data_hash: u64,
    pub stat: NStat,
}

/// Everything observed when a sequence ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    pub timeouts: Vec<u64>,
    pub steps: Vec<Step>,
    pub final_tree: Vec<NodeDump>,
}

fn hash(data: &[u8]) -> u64 {
    // FNV-1a: enough to tell data apart.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Plays `seq` against `zk` under the root `root` (which must not exist yet).
pub fn play<Z: Zk>(zk: &mut Z, root: &str, seq: &[Op]) -> Trace {
    // Session 0 is the harness's: it creates the root and reads the final tree.
    let (admin, _) = zk.open(4_000);
    let (_, root_stat) = zk
        .create(admin, root, b"", CreateMode::Persistent)
        .unwrap_or_else(|e| panic!("creating root {root}: {e}"));
    let base = root_stat.czxid;
    let mut timeouts = Vec::new();
    let mut sessions = Vec::new();
    for _ in 0..SESSIONS {
        let (s, t) = zk.open(4_000);
        sessions.push(s);
        timeouts.push(t);
    }
    let ids: Vec<i64> = sessions.iter().map(|s| zk.session_id(*s)).collect();
    let norm = |st: RawStat| NStat {
        version: st.version,
        cversion: st.cversion,
        aversion: st.aversion,
        num_children: st.num_children,
        data_length: st.data_length,
        owner: if st.ephemeral_owner == 0 {
            None
        } else {
            Some(
                ids.iter()
                    .position(|i| *i == st.ephemeral_owner)
                    .unwrap_or(usize::MAX),
            )
        },
        czxid: st.czxid - base,
        mzxid: st.mzxid - base,
        pzxid: st.pzxid - base,
    };
    let full = |p: &str| {
        if p == "/" {
            root.to_string()
        } else {
            format!("{root}{p}")
        }
    };
    let rel = |p: &str| {
        let r = p.strip_prefix(root).unwrap_or(p);
        if r.is_empty() {
            "/".to_string()
        } else {
            r.to_string()
        }
    };
    let mut steps = Vec::new();
    for (i, op) in seq.iter().enumerate() {
        let outcome = match op {
            Op::Create {
                s,
                path,
                data,
                mode,
            } => {
                let p = full(path);
                let bytes = data.bytes(&p, true);
                match zk.create(sessions[*s], &p, &bytes, *mode) {
                    Ok((path, st)) => Outcome::Created(rel(&path), norm(st)),
                    Err(e) => Outcome::Err(e),
                }
            }
            Op::Delete { s, path, version } => match zk.delete(sessions[*s], &full(path), *version)
            {
                Ok(()) => Outcome::Deleted,
                Err(e) => Outcome::Err(e),
            },
            Op::SetData {
                s,
                path,
                data,
                version,
            } => {
                let p = full(path);
                let bytes = data.bytes(&p, false);
                match zk.set_data(sessions[*s], &p, &bytes, *version) {
                    Ok(st) => Outcome::DataSet(norm(st)),
                    Err(e) => Outcome::Err(e),
                }
            }
            Op::GetData { s, path, watch } => {
                match zk.get_data(sessions[*s], &full(path), watch.then_some(i)) {
                    Ok((d, st)) => Outcome::Data(d.len(), hash(&d), norm(st)),
                    Err(e) => Outcome::Err(e),
                }
            }
            Op::Exists { s, path, watch } => {
                match zk.exists(sessions[*s], &full(path), watch.then_some(i)) {
                    Ok(st) => Outcome::Exists(st.map(norm)),
                    Err(e) => Outcome::Err(e),
                }
            }
            Op::GetChildren { s, path, watch } => {
                match zk.get_children(sessions[*s], &full(path), watch.then_some(i)) {
                    Ok((mut c, st)) => {
                        c.sort();
                        Outcome::Children(c, norm(st))
                    }
                    Err(e) => Outcome::Err(e),
                }
            }
            Op::Multi { s, ops } | Op::MultiAtLimit { s, ops, .. } => {
                let ops: Vec<MOp> = ops
                    .iter()
                    .map(|o| match o {
                        MOp::Create { path, data, mode } => MOp::Create {
                            path: full(path),
                            data: data.clone(),
                            mode: *mode,
                        },
                        MOp::Delete { path, version } => MOp::Delete {
                            path: full(path),
                            version: *version,
                        },
                        MOp::SetData {
                            path,
                            data,
                            version,
                        } => MOp::SetData {
                            path: full(path),
                            data: data.clone(),
                            version: *version,
                        },
                        MOp::Check { path, version } => MOp::Check {
                            path: full(path),
                            version: *version,
                        },
                    })
                    .collect();
                let ops = match op {
                    Op::MultiAtLimit { extra, .. } => multi_at_limit(&ops, *extra),
                    _ => ops,
                };
                match zk.multi(sessions[*s], &ops) {
                    Ok(rs) => Outcome::Multi(
                        rs.into_iter()
                            .map(|r| match r {
                                MRes::Create { path } => NMRes::Create(rel(&path)),
                                MRes::Delete => NMRes::Delete,
                                MRes::SetData { stat } => NMRes::SetData(norm(stat)),
                                MRes::Check => NMRes::Check,
                            })
                            .collect(),
                    ),
                    Err(e) => Outcome::MultiFailed(e.index, e.code),
                }
            }
            Op::Pipeline { s, sets } => {
                let sets: Vec<(String, Vec<u8>, i32)> = sets
                    .iter()
                    .map(|(path, data, version)| {
                        let p = full(path);
                        let bytes = data.bytes(&p, false);
                        (p, bytes, *version)
                    })
                    .collect();
                Outcome::Pipeline(
                    zk.set_data_pipelined(sessions[*s], &sets)
                        .into_iter()
                        .map(|r| match r {
                            Ok(st) => Outcome::DataSet(norm(st)),
                            Err(e) => Outcome::Err(e),
                        })
                        .collect(),
                )
            }
            Op::Close { s } => {
                if zk.state(sessions[*s]) == SessState::Connected {
                    zk.close(sessions[*s]);
                    Outcome::Closed
                } else {
                    Outcome::Err(ErrorCode::SessionExpired)
                }
            }
        };
        let events = sessions
            .iter()
            .enumerate()
            .map(|(k, s)| {
                let mut ev = zk.take_events(*s);
                ev.iter_mut()
                    .for_each(|e| e.path = rel_event(&e.path, root));
                ev.sort();
                (k, ev)
            })
            .filter(|(_, ev)| !ev.is_empty())
            .collect();
        steps.push(Step { outcome, events });
    }
    let final_tree = dump(zk, admin, root, &norm);
    for s in sessions {
        if zk.state(s) == SessState::Connected {
            zk.close(s);
        }
    }
    // Remove the sequence's tree so that the server does not keep it in memory.
    for n in final_tree.iter().rev() {
        let _ = zk.delete(admin, &full(&n.path), -1);
    }
    let _ = zk.delete(admin, root, -1);
    zk.close(admin);
    Trace {
        timeouts,
        steps,
        final_tree,
    }
}

fn rel_event(p: &str, root: &str) -> String {
    if p.is_empty() {
        return String::new();
    }
    let r = p.strip_prefix(root).unwrap_or(p);
    if r.is_empty() {
        "/".into()
    } else {
        r.into()
    }
}

/// Reads the tree under `root` depth first (children sorted), relative paths.
pub fn dump<Z: Zk>(
    zk: &mut Z,
    s: usize,
    root: &str,
    norm: &dyn Fn(RawStat) -> NStat,
) -> Vec<NodeDump> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_string()];
    while let Some(p) = stack.pop() {
        let Ok((data, st)) = zk.get_data(s, &p, None) else {
            continue;
        };
        let rel = p.strip_prefix(root).unwrap_or(&p);
        out.push(NodeDump {
            path: if rel.is_empty() {
                "/".into()
            } else {
                rel.into()
            },
            data_len: data.len(),
            data_hash: hash(&data),
            stat: norm(st),
        });
        if let Ok((mut c, _)) = zk.get_children(s, &p, None) {
            c.sort();
            for name in c.into_iter().rev() {
                stack.push(format!("{p}/{name}"));
            }
        }
    }
    out
}

/// Describes where two traces of the same sequence differ, or None.
pub fn diff(seq: &[Op], mock: &Trace, real: &Trace) -> Option<String> {
    let mut out = String::new();
    if mock.timeouts != real.timeouts {
        out += &format!(
            "negotiated timeouts: mock {:?} real {:?}\n",
            mock.timeouts, real.timeouts
        );
    }
    for (i, op) in seq.iter().enumerate() {
        let (m, r) = (&mock.steps[i], &real.steps[i]);
        if m != r {
            out += &format!(
                "step {i}: {op:?}\n  mock: {:?}\n  real: {:?}\n",
                Short(m),
                Short(r)
            );
            break;
        }
    }
    if out.is_empty() && mock.final_tree != real.final_tree {
        let m: BTreeMap<&str, &NodeDump> = mock
            .final_tree
            .iter()
            .map(|n| (n.path.as_str(), n))
            .collect();
        let r: BTreeMap<&str, &NodeDump> = real
            .final_tree
            .iter()
            .map(|n| (n.path.as_str(), n))
            .collect();
        for k in m.keys().chain(r.keys()) {
            if m.get(k) != r.get(k) {
                out += &format!(
                    "final tree at {k}:\n  mock: {:?}\n  real: {:?}\n",
                    m.get(k),
                    r.get(k)
                );
                break;
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

struct Short<'a>(&'a Step);

impl fmt::Debug for Short<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0.outcome)?;
        if !self.0.events.is_empty() {
            write!(f, " events {:?}", self.0.events)?;
        }
        Ok(())
    }
}

/// A readable listing of a sequence for failure messages.
pub fn listing(seq: &[Op]) -> String {
    seq.iter()
        .enumerate()
        .map(|(i, op)| format!("  {i}: {op:?}\n"))
        .collect()
}
