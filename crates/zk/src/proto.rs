//! The plain-data vocabulary shared by the ensemble and the client: operations,
//! results, stats, watch events, and the messages a simulator carries between a
//! [`crate::ClientSession`] and the [`crate::Ensemble`] over its simulated network.
//!
//! Messages model one TCP connection per client-server attachment ([`ConnId`]): each
//! side numbers what it sends on a connection (`seq`) and the receiver delivers in
//! `seq` order, drops duplicates and holds messages that overtook a lost one. A lost
//! message therefore stalls the connection as a black-holed TCP connection would,
//! until the client's read timeout gives up on it; it never reorders a reply before a
//! watch event.
//!
//! Sizes: [`ClientBody::jute_bytes`] and [`ServerBody::jute_bytes`] estimate the
//! length of the jute packet the real client and server would exchange (without the
//! 4-byte length prefix), which is what `jute.maxbuffer` bounds. Formula, with `P`
//! the UTF-8 length of a path and `D` of the data:
//! request header 8 (xid, type); string/buffer 4 + len; int 4; long 8; bool 1;
//! create = 8 + (4+P) + (4+D) + 27 (the OPEN_ACL_UNSAFE list) + 4 (flags);
//! setData = 8 + (4+P) + (4+D) + 4, so a 10-byte path leaves 1,048,575 - 30 bytes of
//! data, as measured on a real 3.8.0; delete/check = 8 + (4+P) + 4;
//! getData/exists/getChildren = 8 + (4+P) + 1; sync = 8 + (4+P);
//! multi = 8 + sum over ops of (9 + op body) + 9; ping/close = 8;
//! connect = 45; setWatches = 8 + 8 + three string lists (4 + sum(4+P)).
//! Replies: header 16 (xid, zxid, err) + body; a Stat is 68 bytes; getData = 16 + (4+D)
//! + 68, so the Java client's 1,048,575-byte read limit admits 1,048,487 data bytes.

use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;

/// A transaction id: the position of a write in the leader's total order. The mock
/// uses a plain counter starting at 1 (0: nothing yet); the real service puts the
/// leader epoch in the high 32 bits, which only matters across leader elections, and
/// the mock does not model those (see README).
pub type Zxid = u64;

/// A client-chosen request id, echoed in the reply.
pub type Xid = u64;

/// A server of the ensemble, `0..servers`.
pub type ServerId = u32;

/// A session id, assigned by the service when a session is created. Never 0 (0 is
/// the `ephemeralOwner` of persistent nodes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SessionId(pub u64);

/// One TCP connection between a client and a server. `client` must be unique per
/// [`crate::ClientSession`] instance over an ensemble's lifetime (a simulator can use
/// `party << 32 | incarnation`); `n` counts that client's connections, from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ConnId {
    pub client: u64,
    pub n: u32,
}

/// How a node is created.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CreateMode {
    Persistent,
    Ephemeral,
    PersistentSequential,
    EphemeralSequential,
}

impl CreateMode {
    pub fn is_ephemeral(self) -> bool {
        matches!(
            self,
            CreateMode::Ephemeral | CreateMode::EphemeralSequential
        )
    }
    pub fn is_sequential(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentSequential | CreateMode::EphemeralSequential
        )
    }
}

/// A node's metadata, field for field as the real `Stat` (times are virtual ms).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stat {
    pub czxid: Zxid,
    pub mzxid: Zxid,
    pub ctime_ms: u64,
    pub mtime_ms: u64,
    /// Data version: bumped by every setData, even with identical bytes.
    pub version: i32,
    /// Children version: bumped by every child create and child delete.
    pub cversion: i32,
    /// ACL version: always 0 (ACLs are not modelled).
    pub aversion: i32,
    /// Owning session id for an ephemeral node, 0 for a persistent one.
    pub ephemeral_owner: u64,
    pub data_length: i32,
    pub num_children: i32,
    /// Zxid of the last child create or delete (or the node's creation).
    pub pzxid: Zxid,
}

/// One operation of a `multi`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MultiOp {
    Create {
        path: String,
        data: Vec<u8>,
        mode: CreateMode,
    },
    /// `version` -1 matches any version.
    Delete { path: String, version: i32 },
    /// `version` -1 matches any version.
    SetData {
        path: String,
        data: Vec<u8>,
        version: i32,
    },
    /// Fails with NoNode or BadVersion unless the node exists at `version` (-1: any).
    Check { path: String, version: i32 },
}

impl MultiOp {
    pub fn path(&self) -> &str {
        match self {
            MultiOp::Create { path, .. }
            | MultiOp::Delete { path, .. }
            | MultiOp::SetData { path, .. }
            | MultiOp::Check { path, .. } => path,
        }
    }

    fn jute_bytes(&self) -> usize {
        match self {
            MultiOp::Create { path, data, .. } => create_bytes(path, data) - HEADER,
            MultiOp::Delete { path, .. } | MultiOp::Check { path, .. } => 4 + path.len() + 4,
            MultiOp::SetData { path, data, .. } => 4 + path.len() + 4 + data.len() + 4,
        }
    }
}

/// A client request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    Create {
        path: String,
        data: Vec<u8>,
        mode: CreateMode,
    },
    /// `version` -1 matches any version.
    Delete { path: String, version: i32 },
    /// Sets a data watch whether or not the node exists (a watch on a missing node
    /// fires on its creation).
    Exists { path: String, watch: bool },
    /// Sets a data watch only if the node exists.
    GetData { path: String, watch: bool },
    /// `version` -1 matches any version.
    SetData {
        path: String,
        data: Vec<u8>,
        version: i32,
    },
    /// Sets a child watch only if the node exists. Replies with the node's Stat too
    /// (getChildren2).
    GetChildren { path: String, watch: bool },
    /// Makes the connected server catch up with the leader before replying.
    Sync { path: String },
    /// All or nothing, under one zxid.
    Multi(Vec<MultiOp>),
    /// Closes the session: its ephemerals are deleted; the handle is dead afterwards.
    Close,
}

impl Request {
    /// True for requests that go through the leader and take a zxid.
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Request::Create { .. }
                | Request::Delete { .. }
                | Request::SetData { .. }
                | Request::Multi(_)
                | Request::Close
        )
    }
}

/// The result of one operation of a `multi`, as the real 3.8.0 server reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpResult {
    /// 3.8.0 reports only the path of a node created inside a multi (no Stat).
    Create {
        path: String,
    },
    Delete,
    SetData {
        stat: Stat,
    },
    Check,
    /// The multi failed: `Ok` for the operations before the failing one, the failing
    /// one's code, `RuntimeInconsistency` for the ones after it.
    Error {
        err: ErrorCode,
    },
}

/// A successful reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    Create {
        path: String,
        stat: Stat,
    },
    Delete,
    /// `None`: the node does not exist (the real server says NoNode, which every
    /// client library turns into "no stat"; a watch was set all the same).
    Exists {
        stat: Option<Stat>,
    },
    GetData {
        data: Vec<u8>,
        stat: Stat,
    },
    SetData {
        stat: Stat,
    },
    /// Children in sorted order (the real server gives no order; sort to compare).
    GetChildren {
        children: Vec<String>,
        stat: Stat,
    },
    Sync {
        path: String,
    },
    /// As on the wire: a failed multi is still a successful *reply* whose results
    /// carry the codes; see [`Response::multi_failure`].
    Multi(Vec<OpResult>),
    Close,
}

impl Response {
    /// For a multi reply: the index and code of the failing operation, if it failed.
    pub fn multi_failure(&self) -> Option<(usize, ErrorCode)> {
        match self {
            Response::Multi(results) => results.iter().enumerate().find_map(|(i, r)| match r {
                OpResult::Error { err } if *err != ErrorCode::Ok => Some((i, *err)),
                _ => None,
            }),
            _ => None,
        }
    }
}

/// What a watch event reports (the real `EventType` values are 1..4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventType {
    NodeCreated,
    NodeDeleted,
    NodeDataChanged,
    NodeChildrenChanged,
}

impl EventType {
    pub fn code(self) -> i32 {
        match self {
            EventType::NodeCreated => 1,
            EventType::NodeDeleted => 2,
            EventType::NodeDataChanged => 3,
            EventType::NodeChildrenChanged => 4,
        }
    }
}

/// A one-shot watch firing. Like 3.8's, it carries no zxid and no data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchedEvent {
    pub event: EventType,
    pub path: String,
}

/// What a client sends on a connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientBody {
    /// First message of every connection. `session: None` asks for a new session.
    /// The server refuses (closes) the connection if it has applied less than
    /// `last_zxid_seen`, so a client never sees older state after moving.
    Connect {
        session: Option<SessionId>,
        requested_timeout_ms: u64,
        last_zxid_seen: Zxid,
    },
    Request {
        xid: Xid,
        request: Request,
    },
    Ping,
    /// Re-arms the client's watches on a new connection: the server fires at once
    /// those whose node changed after `relative_zxid`, as DataTree.setWatches does.
    SetWatches {
        relative_zxid: Zxid,
        data: Vec<String>,
        exist: Vec<String>,
        child: Vec<String>,
    },
}

const HEADER: usize = 8;
/// Jute size of the OPEN_ACL_UNSAFE list: count 4 + perms 4 + "world" 9 + "anyone" 10.
const OPEN_ACL_BYTES: usize = 27;
/// Jute size of a Stat.
pub const STAT_BYTES: usize = 68;
const REPLY_HEADER: usize = 16;

fn create_bytes(path: &str, data: &[u8]) -> usize {
    HEADER + 4 + path.len() + 4 + data.len() + OPEN_ACL_BYTES + 4
}

fn strings_bytes(v: &[String]) -> usize {
    4 + v.iter().map(|s| 4 + s.len()).sum::<usize>()
}

impl ClientBody {
    /// Estimated jute packet length (see the module docs for the formula); the
    /// server drops a connection whose packet exceeds `max_packet_bytes`.
    pub fn jute_bytes(&self) -> usize {
        match self {
            ClientBody::Connect { .. } => 45,
            ClientBody::Ping => HEADER,
            ClientBody::SetWatches {
                data, exist, child, ..
            } => HEADER + 8 + strings_bytes(data) + strings_bytes(exist) + strings_bytes(child),
            ClientBody::Request { request, .. } => request.jute_bytes(),
        }
    }
}

impl Request {
    /// Estimated jute packet length of this request (see the module docs): what a
    /// client can compare with `jute.maxbuffer` before sending it.
    pub fn jute_bytes(&self) -> usize {
        match self {
            Request::Create { path, data, .. } => create_bytes(path, data),
            Request::Delete { path, .. } => HEADER + 4 + path.len() + 4,
            Request::Exists { path, .. }
            | Request::GetData { path, .. }
            | Request::GetChildren { path, .. } => HEADER + 4 + path.len() + 1,
            Request::SetData { path, data, .. } => HEADER + 4 + path.len() + 4 + data.len() + 4,
            Request::Sync { path } => HEADER + 4 + path.len(),
            Request::Multi(ops) => {
                HEADER + ops.iter().map(|o| 9 + o.jute_bytes()).sum::<usize>() + 9
            }
            Request::Close => HEADER,
        }
    }
}

/// A client message on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientMsg {
    /// The server this connection is attached to.
    pub server: ServerId,
    pub conn: ConnId,
    /// Per-connection sequence number, from 0.
    pub seq: u64,
    pub body: ClientBody,
}

/// What a server sends on a connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServerBody {
    /// The session is established (new) or resumed (existing), with the negotiated
    /// timeout.
    ConnectOk {
        session: SessionId,
        timeout_ms: u64,
    },
    /// The session asked for is expired or unknown (the real server answers with a
    /// timeout of 0): the client's handle is dead.
    ConnectExpired,
    Reply {
        xid: Xid,
        /// The server's last applied zxid when it sent the reply.
        zxid: Zxid,
        result: Result<Response, ErrorCode>,
    },
    Pong {
        zxid: Zxid,
    },
    Watch(WatchedEvent),
    /// The server closed the connection (oversized request, connection refused
    /// because the client has seen a newer zxid, the session expired or moved, the
    /// server or the ensemble went down). Everything in flight on it is lost.
    Closed,
}

impl ServerBody {
    /// Estimated jute packet length of the reply, which the client checks against its
    /// own `max_packet_bytes` (the Java client refuses larger packets).
    pub fn jute_bytes(&self) -> usize {
        match self {
            ServerBody::ConnectOk { .. } | ServerBody::ConnectExpired => 36,
            ServerBody::Pong { .. } | ServerBody::Closed => REPLY_HEADER,
            ServerBody::Watch(e) => REPLY_HEADER + 4 + 4 + 4 + e.path.len(),
            ServerBody::Reply { result, .. } => {
                REPLY_HEADER
                    + match result {
                        Err(_) => 0,
                        Ok(Response::Create { path, .. }) => 4 + path.len() + STAT_BYTES,
                        Ok(Response::Delete) | Ok(Response::Close) => 0,
                        Ok(Response::Exists { .. }) | Ok(Response::SetData { .. }) => STAT_BYTES,
                        Ok(Response::GetData { data, .. }) => 4 + data.len() + STAT_BYTES,
                        Ok(Response::GetChildren { children, .. }) => {
                            strings_bytes(children) + STAT_BYTES
                        }
                        Ok(Response::Sync { path }) => 4 + path.len(),
                        Ok(Response::Multi(rs)) => {
                            rs.iter()
                                .map(|r| {
                                    9 + match r {
                                        OpResult::Create { path } => 4 + path.len(),
                                        OpResult::SetData { .. } => STAT_BYTES,
                                        OpResult::Error { .. } => 4,
                                        OpResult::Delete | OpResult::Check => 0,
                                    }
                                })
                                .sum::<usize>()
                                + 9
                        }
                    }
            }
        }
    }
}

/// A server message on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerMsg {
    pub server: ServerId,
    pub conn: ConnId,
    /// Per-connection sequence number, from 0.
    pub seq: u64,
    pub body: ServerBody,
}

/// Delivers one side of a connection in `seq` order: duplicates are dropped, early
/// messages held until the gap closes. Bounded: past `MAX_HELD` held messages the
/// connection is declared broken.
#[derive(Clone, Debug, Default)]
pub(crate) struct InOrder<T> {
    next: u64,
    held: std::collections::BTreeMap<u64, T>,
}

/// Most messages held behind a gap before the connection is declared broken.
pub(crate) const MAX_HELD: usize = 1024;

pub(crate) enum Accept<T> {
    /// Messages now deliverable, in order (possibly none).
    Deliver(Vec<T>),
    /// Too many held: the connection is broken.
    Broken,
}

impl<T> InOrder<T> {
    pub(crate) fn new() -> Self {
        InOrder {
            next: 0,
            held: std::collections::BTreeMap::new(),
        }
    }

    pub(crate) fn accept(&mut self, seq: u64, msg: T) -> Accept<T> {
        if seq < self.next || self.held.contains_key(&seq) {
            return Accept::Deliver(Vec::new());
        }
        if seq > self.next {
            if self.held.len() >= MAX_HELD {
                return Accept::Broken;
            }
            self.held.insert(seq, msg);
            return Accept::Deliver(Vec::new());
        }
        let mut out = vec![msg];
        self.next += 1;
        while let Some(m) = self.held.remove(&self.next) {
            out.push(m);
            self.next += 1;
        }
        Accept::Deliver(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivered(a: Accept<u32>) -> Vec<u32> {
        match a {
            Accept::Deliver(v) => v,
            Accept::Broken => panic!("broken"),
        }
    }

    #[test]
    fn in_order_drops_duplicates_and_holds_early_messages() {
        let mut r = InOrder::new();
        assert_eq!(delivered(r.accept(1, 11)), Vec::<u32>::new());
        assert_eq!(delivered(r.accept(0, 10)), vec![10, 11]);
        assert_eq!(delivered(r.accept(0, 10)), Vec::<u32>::new());
        assert_eq!(delivered(r.accept(3, 13)), Vec::<u32>::new());
        assert_eq!(delivered(r.accept(3, 13)), Vec::<u32>::new());
        assert_eq!(delivered(r.accept(2, 12)), vec![12, 13]);
    }

    #[test]
    fn in_order_is_bounded() {
        let mut r = InOrder::new();
        for s in 1..=MAX_HELD as u64 {
            assert!(matches!(r.accept(s, 0u8), Accept::Deliver(_)));
        }
        assert!(matches!(r.accept(MAX_HELD as u64 + 1, 0), Accept::Broken));
    }

    #[test]
    fn set_data_size_matches_the_measured_limit() {
        let body = |n| ClientBody::Request {
            xid: 1,
            request: Request::SetData {
                path: "/123456789".into(),
                data: vec![0; n],
                version: -1,
            },
        };
        assert_eq!(body(0).jute_bytes(), 30);
        assert_eq!(body(1_048_575 - 30).jute_bytes(), 1_048_575);
        let reply = |n| ServerBody::Reply {
            xid: 1,
            zxid: 1,
            result: Ok(Response::GetData {
                data: vec![0; n],
                stat: Stat::default(),
            }),
        };
        assert_eq!(reply(1_048_487).jute_bytes(), 1_048_575);
    }
}
