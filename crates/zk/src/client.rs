//! The client party: a sans-IO ZooKeeper client session, modelled on the Java
//! client's ClientCnxn.
//!
//! It connects to one server at a time, pings when it has sent nothing for a third of
//! the session timeout, and declares the connection lost when it has heard nothing
//! for two thirds of it (the Java client's read timeout), or when the server closes
//! the connection. Losing the connection fails every request in flight with
//! ConnectionLoss (a write among them may or may not have been applied), reports
//! `Disconnected`, and reconnects to the next server with its session id and the
//! last zxid it has seen. The service then either resumes the session (`Connected`)
//! or says it expired (`Expired`, final: every later call fails with SessionExpired).
//! By default ([`ClientExpiry::Server`]) the client never decides expiry itself, like
//! the Java client. With [`ClientExpiry::Curator`] it also does what Apache Curator
//! (3.0 and later) does on top of the Java client: when a live connection is lost
//! (Curator's SUSPENDED) a timer of the negotiated session timeout starts, and if no
//! reconnection succeeds before it ends the client gives the session up on its own
//! (`Lost`, Curator's LOST), whatever the service would later say.
//!
//! Requests submitted while not connected fail at once with ConnectionLoss (the Java
//! client would queue them until the next connection attempt succeeds or fails: the
//! caller sees the same outcomes, sooner). A request with an invalid path fails with
//! BadArguments without being sent, as the Java client checks paths before sending,
//! and an empty multi gets an empty result without being sent, as in both the Java
//! client and zookeeper-client (replies still come in request order). Watches are one-shot: the client remembers
//! the ones the server accepted and re-arms them on each new connection (SetWatches,
//! in batches of about 128 KB of paths, as real clients send them).

use std::collections::{BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::ensemble::DEFAULT_MAX_PACKET_BYTES;
use crate::error::ErrorCode;
use crate::proto::{
    Accept, ClientBody, ClientMsg, ConnId, EventType, InOrder, MultiOp, Request, Response,
    ServerBody, ServerId, ServerMsg, SessionId, WatchedEvent, Xid, Zxid,
};

/// Who decides that a session is over.
///
/// - `Server`: only the service (the Java client, `zookeeper-client`): a client that
///   cannot reach any server stays Disconnected for as long as that lasts, and learns
///   the session expired from a server's answer to a reconnection.
/// - `Curator`: Curator's simulated session expiry (Tech Notes 12 and 14, Curator 3.0
///   and later, `ConnectionHandlingPolicy` with the default 100 % of the negotiated
///   timeout): "Curator attempts to simulate server side session loss, by starting a
///   timer (set to the negotiated session timeout length) upon receiving the
///   SUSPENDED event. If the timer expires before Curator re-establishes a connection
///   to Zookeeper then Curator will publish a LOST event" (TN12), and "injects a
///   session end into the managed ZooKeeper client connection" (TN14). The client then
///   reports [`SessionState::Lost`] and its handle is dead, as after an expiry; it
///   sends nothing (the injected end closes the socket, no closeSession reaches the
///   service), so the session may still be alive at the service, its ephemerals with
///   it, until the service expires it: TN12, "though this is not guaranteed as
///   Curator has no connection to the server at this point to confirm this". An
///   expiry the service reports is LOST in Curator too (the client reports
///   `Expired` then, as with `Server`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientExpiry {
    #[default]
    Server,
    Curator,
}

impl ClientExpiry {
    pub const ALL: [ClientExpiry; 2] = [ClientExpiry::Server, ClientExpiry::Curator];

    pub fn name(self) -> &'static str {
        match self {
            ClientExpiry::Server => "server",
            ClientExpiry::Curator => "curator",
        }
    }
}

/// Client configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientConfig {
    /// Unique per ClientSession instance over the ensemble's lifetime.
    pub client: u64,
    /// The connect string: servers tried in this order, round robin.
    pub servers: Vec<ServerId>,
    pub requested_timeout_ms: u64,
    /// Wait after a failed connection attempt before the next one (the Java client
    /// waits a random 0-1 s; the simulator may vary this per client for jitter).
    pub reconnect_delay_ms: u64,
    /// The client's jute.maxbuffer: a longer reply packet drops the connection.
    pub max_packet_bytes: usize,
    /// Who decides that the session is over ([`ClientExpiry`]).
    #[serde(default)]
    pub expiry: ClientExpiry,
}

impl ClientConfig {
    pub fn new(client: u64, servers: Vec<ServerId>, requested_timeout_ms: u64) -> Self {
        assert!(!servers.is_empty());
        ClientConfig {
            client,
            servers,
            requested_timeout_ms,
            reconnect_delay_ms: 100,
            max_packet_bytes: DEFAULT_MAX_PACKET_BYTES,
            expiry: ClientExpiry::Server,
        }
    }
}

/// The session state as the client sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionState {
    /// Opening the session for the first time.
    Connecting,
    Connected,
    /// Was connected; the connection is lost; reconnecting. The session may or may
    /// not still be alive at the service, and the client's ephemerals with it.
    Disconnected,
    /// The service said the session expired. Final.
    Expired,
    /// [`ClientExpiry::Curator`] only: the client gave the session up itself, having
    /// been without a connection for the negotiated session timeout (Curator's
    /// simulated expiry, LOST). Final, like `Expired`; but the service may still hold
    /// the session, and its ephemerals, until it expires it.
    Lost,
    /// The application closed the session. Final.
    Closed,
}

/// What the client reports to the application, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientEvent {
    State(SessionState),
    Reply {
        xid: Xid,
        result: Result<Response, ErrorCode>,
    },
    Watch(WatchedEvent),
}

#[derive(Clone, Debug)]
enum WatchReg {
    None,
    /// Answered by the client itself (BadArguments for an invalid path, an empty
    /// result for an empty multi): nothing was sent; the result is reported when its
    /// turn comes, keeping replies in request order.
    Local(Result<Response, ErrorCode>),
    Data(String),
    Exists(String),
    Child(String),
}

#[derive(Clone, Debug)]
enum Link {
    /// No connection; the next attempt at `retry_at_ms`.
    Idle { retry_at_ms: u64 },
    Connecting {
        conn: ConnId,
        server: ServerId,
        send_seq: u64,
        recv: InOrder<ServerBody>,
        started_ms: u64,
    },
    Connected {
        conn: ConnId,
        server: ServerId,
        send_seq: u64,
        recv: InOrder<ServerBody>,
        last_send_ms: u64,
        last_recv_ms: u64,
    },
    /// Expired, lost or closed.
    Dead,
}

/// A SetWatches batch is closed once its paths reach this many bytes (the Java
/// client's `SET_WATCHES_MAX_LENGTH`, zookeeper-client's `SET_WATCHES_MAX_BYTES`).
pub const SET_WATCHES_MAX_BYTES: usize = 128 * 1024;

/// Most application events kept unpolled before the oldest are dropped (a driver
/// that never polls is a bug; debug builds assert).
const MAX_EVENTS: usize = 1 << 20;

/// True when a path of the request fails the client-side check the Java client makes
/// before sending (the server itself checks only the paths of creates).
fn invalid_path(request: &Request) -> bool {
    let bad = |p: &str, sequential: bool| crate::tree::validate_path(p, sequential).is_err();
    match request {
        Request::Create { path, mode, .. } => bad(path, mode.is_sequential()),
        Request::Delete { path, .. }
        | Request::Exists { path, .. }
        | Request::GetData { path, .. }
        | Request::SetData { path, .. }
        | Request::GetChildren { path, .. }
        | Request::Sync { path } => bad(path, false),
        Request::Multi(ops) => ops.iter().any(|op| match op {
            MultiOp::Create { path, mode, .. } => bad(path, mode.is_sequential()),
            other => bad(other.path(), false),
        }),
        Request::Close => false,
    }
}

/// The SetWatches messages that re-arm watches on a new connection, in batches as
/// the Java client (ClientCnxn.primeConnection) sends them: paths are added, data
/// watches first, then exist, then child, while the batch's path bytes are under
/// [`SET_WATCHES_MAX_BYTES`] (the last one added may pass it), so that no batch
/// comes near the server's packet limit. None if there is no watch.
pub fn set_watches_batches<'a>(
    relative_zxid: Zxid,
    data: impl IntoIterator<Item = &'a String>,
    exist: impl IntoIterator<Item = &'a String>,
    child: impl IntoIterator<Item = &'a String>,
) -> Vec<ClientBody> {
    let mut batches = Vec::new();
    let mut lists: [Vec<String>; 3] = Default::default();
    let mut bytes = 0usize;
    let all = data
        .into_iter()
        .map(|p| (0, p))
        .chain(exist.into_iter().map(|p| (1, p)))
        .chain(child.into_iter().map(|p| (2, p)));
    let batch = |lists: &mut [Vec<String>; 3]| {
        let [data, exist, child] = std::mem::take(lists);
        ClientBody::SetWatches {
            relative_zxid,
            data,
            exist,
            child,
        }
    };
    for (kind, path) in all {
        lists[kind].push(path.clone());
        bytes += path.len();
        if bytes >= SET_WATCHES_MAX_BYTES {
            batches.push(batch(&mut lists));
            bytes = 0;
        }
    }
    if lists.iter().any(|l| !l.is_empty()) {
        batches.push(batch(&mut lists));
    }
    batches
}

/// A client session; see the module docs.
#[derive(Clone, Debug)]
pub struct ClientSession {
    cfg: ClientConfig,
    state: SessionState,
    session: Option<SessionId>,
    timeout_ms: u64,
    last_zxid: Zxid,
    next_xid: Xid,
    conn_n: u32,
    next_server: usize,
    link: Link,
    pending: VecDeque<(Xid, WatchReg, bool)>,
    data_watches: BTreeSet<String>,
    exist_watches: BTreeSet<String>,
    child_watches: BTreeSet<String>,
    out: VecDeque<ClientMsg>,
    events: VecDeque<ClientEvent>,
    disconnected_since_ms: Option<u64>,
    closing: bool,
}

impl ClientSession {
    /// A new session handle; it starts connecting to `servers[0]` at once.
    pub fn new(cfg: ClientConfig, now_ms: u64) -> Self {
        let timeout_ms = cfg.requested_timeout_ms.max(3);
        let mut c = ClientSession {
            cfg,
            state: SessionState::Connecting,
            session: None,
            timeout_ms,
            last_zxid: 0,
            next_xid: 1,
            conn_n: 0,
            next_server: 0,
            link: Link::Idle {
                retry_at_ms: now_ms,
            },
            pending: VecDeque::new(),
            data_watches: BTreeSet::new(),
            exist_watches: BTreeSet::new(),
            child_watches: BTreeSet::new(),
            out: VecDeque::new(),
            events: VecDeque::new(),
            disconnected_since_ms: None,
            closing: false,
        };
        c.connect(now_ms);
        c
    }

    pub fn state(&self) -> SessionState {
        self.state
    }

    pub fn session_id(&self) -> Option<SessionId> {
        self.session
    }

    /// The negotiated timeout once connected (the requested one before).
    pub fn timeout_ms(&self) -> u64 {
        self.timeout_ms
    }

    pub fn last_zxid_seen(&self) -> Zxid {
        self.last_zxid
    }

    /// Since when the client has been without a connection (None while connected).
    pub fn disconnected_since_ms(&self) -> Option<u64> {
        self.disconnected_since_ms
    }

    /// [`ClientExpiry::Curator`]: when the client will give the session up unless it
    /// reconnects first (the loss of its last live connection plus the negotiated
    /// timeout). None otherwise, and while connected.
    pub fn lost_at_ms(&self) -> Option<u64> {
        match (self.cfg.expiry, self.state) {
            (ClientExpiry::Curator, SessionState::Disconnected) => self
                .disconnected_since_ms
                .map(|since| since.saturating_add(self.timeout_ms)),
            _ => None,
        }
    }

    /// The server of the current connection or connection attempt.
    pub fn server(&self) -> Option<ServerId> {
        match &self.link {
            Link::Connecting { server, .. } | Link::Connected { server, .. } => Some(*server),
            _ => None,
        }
    }

    /// Requests sent and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// The next message to put on the network (to `msg.server`).
    pub fn poll_transmit(&mut self) -> Option<ClientMsg> {
        self.out.pop_front()
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    fn read_timeout_ms(&self) -> u64 {
        (self.timeout_ms * 2 / 3).max(1)
    }

    fn ping_interval_ms(&self) -> u64 {
        (self.read_timeout_ms() / 2).max(1)
    }

    fn connect_timeout_ms(&self) -> u64 {
        (self.timeout_ms / self.cfg.servers.len() as u64).max(1)
    }

    /// When [`ClientSession::tick`] must run next.
    pub fn deadline_ms(&self) -> Option<u64> {
        let link = self.link_deadline_ms();
        match (link, self.lost_at_ms()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn link_deadline_ms(&self) -> Option<u64> {
        match &self.link {
            Link::Idle { retry_at_ms } => Some(*retry_at_ms),
            Link::Connecting { started_ms, .. } => Some(started_ms + self.connect_timeout_ms()),
            Link::Connected {
                last_send_ms,
                last_recv_ms,
                ..
            } => Some(
                (last_recv_ms + self.read_timeout_ms()).min(last_send_ms + self.ping_interval_ms()),
            ),
            Link::Dead => None,
        }
    }

    /// Timers: Curator's session timer, reconnect, connect timeout, read timeout, ping.
    pub fn tick(&mut self, now_ms: u64) {
        if self.lost_at_ms().is_some_and(|at| now_ms >= at) {
            // Curator's injected session end: the handle is dead; a reconnection
            // attempt in progress is abandoned (its socket closed), nothing is sent.
            self.finish(SessionState::Lost);
            return;
        }
        match &self.link {
            Link::Idle { retry_at_ms } => {
                if now_ms >= *retry_at_ms {
                    self.connect(now_ms);
                }
            }
            Link::Connecting { started_ms, .. } => {
                if now_ms >= started_ms + self.connect_timeout_ms() {
                    self.lose_connection(now_ms);
                }
            }
            Link::Connected {
                last_send_ms,
                last_recv_ms,
                ..
            } => {
                if now_ms >= last_recv_ms + self.read_timeout_ms() {
                    self.lose_connection(now_ms);
                } else if now_ms >= last_send_ms + self.ping_interval_ms() {
                    self.send(now_ms, ClientBody::Ping);
                }
            }
            Link::Dead => {}
        }
    }

    /// Issues a request; its outcome comes later as [`ClientEvent::Reply`] with the
    /// returned xid (at once if the session is not connected).
    pub fn submit(&mut self, now_ms: u64, request: Request) -> Xid {
        let xid = self.next_xid;
        self.next_xid += 1;
        let fail = match self.state {
            SessionState::Expired | SessionState::Lost | SessionState::Closed => {
                Some(ErrorCode::SessionExpired)
            }
            _ if self.closing => Some(ErrorCode::SessionExpired),
            SessionState::Connected => None,
            SessionState::Connecting | SessionState::Disconnected => {
                Some(ErrorCode::ConnectionLoss)
            }
        };
        // Like the Java client (PathUtils.validatePath in every call), an invalid path
        // fails in the client, before anything is sent: no round trip, no zxid taken.
        // An empty multi is answered by the client too, whatever the session's state
        // (the Java client and zookeeper-client return an empty result at once).
        let local = if invalid_path(&request) {
            Some(Err(ErrorCode::BadArguments))
        } else if matches!(&request, Request::Multi(ops) if ops.is_empty()) {
            Some(Ok(Response::Multi(Vec::new())))
        } else {
            None
        };
        if let Some(result) = local {
            if !self.pending.is_empty() {
                self.pending
                    .push_back((xid, WatchReg::Local(result), false));
            } else {
                self.event(ClientEvent::Reply { xid, result });
            }
            return xid;
        }
        if let Some(err) = fail {
            self.event(ClientEvent::Reply {
                xid,
                result: Err(err),
            });
            return xid;
        }
        let reg = match &request {
            Request::GetData { path, watch: true } => WatchReg::Data(path.clone()),
            Request::Exists { path, watch: true } => WatchReg::Exists(path.clone()),
            Request::GetChildren { path, watch: true } => WatchReg::Child(path.clone()),
            _ => WatchReg::None,
        };
        let is_close = matches!(request, Request::Close);
        self.pending.push_back((xid, reg, is_close));
        self.send(now_ms, ClientBody::Request { xid, request });
        xid
    }

    /// Closes the session (its ephemerals go at once). Returns the xid of the close
    /// request; the state becomes Closed when it is answered or the connection drops.
    pub fn close(&mut self, now_ms: u64) -> Xid {
        if self.state == SessionState::Connected && !self.closing {
            let xid = self.submit(now_ms, Request::Close);
            self.closing = true;
            return xid;
        }
        let xid = self.submit(now_ms, Request::Close);
        if !matches!(
            self.state,
            SessionState::Expired | SessionState::Lost | SessionState::Closed
        ) {
            self.finish(SessionState::Closed);
        }
        xid
    }

    /// A message from the network.
    pub fn handle_message(&mut self, now_ms: u64, msg: ServerMsg) {
        let current = match &self.link {
            Link::Connecting { conn, .. } | Link::Connected { conn, .. } => *conn,
            _ => return,
        };
        if msg.conn != current {
            return;
        }
        if msg.body == ServerBody::Closed {
            // Out of band, like a TCP reset.
            self.lose_connection(now_ms);
            return;
        }
        let accepted = match &mut self.link {
            Link::Connecting { recv, .. } | Link::Connected { recv, .. } => {
                recv.accept(msg.seq, msg.body)
            }
            _ => unreachable!("checked above"),
        };
        let bodies = match accepted {
            Accept::Deliver(b) => b,
            Accept::Broken => {
                self.lose_connection(now_ms);
                return;
            }
        };
        for body in bodies {
            if !matches!(self.link, Link::Connecting { .. } | Link::Connected { .. }) {
                break;
            }
            if let Link::Connected { last_recv_ms, .. } = &mut self.link {
                *last_recv_ms = now_ms;
            }
            if body.jute_bytes() > self.cfg.max_packet_bytes {
                // "Packet len N is out of range!": the Java client drops the connection.
                self.lose_connection(now_ms);
                return;
            }
            self.receive(now_ms, body);
        }
    }

    fn receive(&mut self, now_ms: u64, body: ServerBody) {
        match body {
            ServerBody::ConnectOk {
                session,
                timeout_ms,
            } => {
                let Link::Connecting {
                    conn,
                    server,
                    send_seq,
                    recv,
                    ..
                } = std::mem::replace(&mut self.link, Link::Dead)
                else {
                    debug_assert!(false, "ConnectOk outside connecting");
                    return;
                };
                debug_assert!(self.session.is_none_or(|s| s == session));
                self.session = Some(session);
                self.timeout_ms = timeout_ms;
                self.link = Link::Connected {
                    conn,
                    server,
                    send_seq,
                    recv,
                    last_send_ms: now_ms,
                    last_recv_ms: now_ms,
                };
                self.disconnected_since_ms = None;
                self.set_state(SessionState::Connected);
                for body in self.set_watches_batches() {
                    self.send(now_ms, body);
                }
            }
            ServerBody::ConnectExpired => {
                self.finish(SessionState::Expired);
            }
            ServerBody::Pong { .. } => {}
            ServerBody::Watch(e) => {
                match e.event {
                    EventType::NodeCreated | EventType::NodeDataChanged => {
                        self.data_watches.remove(&e.path);
                        self.exist_watches.remove(&e.path);
                    }
                    EventType::NodeDeleted => {
                        self.data_watches.remove(&e.path);
                        self.exist_watches.remove(&e.path);
                        self.child_watches.remove(&e.path);
                    }
                    EventType::NodeChildrenChanged => {
                        self.child_watches.remove(&e.path);
                    }
                }
                self.event(ClientEvent::Watch(e));
            }
            ServerBody::Reply { xid, zxid, result } => {
                self.last_zxid = self.last_zxid.max(zxid);
                let Some((pxid, reg, is_close)) = self.pending.pop_front() else {
                    debug_assert!(false, "reply {xid} with nothing pending");
                    return;
                };
                debug_assert_eq!(pxid, xid, "replies come in request order");
                if let Ok(resp) = &result {
                    match (reg, resp) {
                        (WatchReg::Data(p), _) => {
                            self.data_watches.insert(p);
                        }
                        (WatchReg::Exists(p), Response::Exists { stat: Some(_) }) => {
                            self.data_watches.insert(p);
                        }
                        (WatchReg::Exists(p), _) => {
                            self.exist_watches.insert(p);
                        }
                        (WatchReg::Child(p), _) => {
                            self.child_watches.insert(p);
                        }
                        (WatchReg::None | WatchReg::Local(_), _) => {}
                    }
                }
                self.event(ClientEvent::Reply { xid, result });
                self.answer_local();
                if is_close {
                    self.finish(SessionState::Closed);
                }
            }
            ServerBody::Closed => unreachable!("handled out of band"),
        }
    }

    fn connect(&mut self, now_ms: u64) {
        let server = self.cfg.servers[self.next_server % self.cfg.servers.len()];
        self.next_server = (self.next_server + 1) % self.cfg.servers.len();
        let conn = ConnId {
            client: self.cfg.client,
            n: self.conn_n,
        };
        self.conn_n += 1;
        self.link = Link::Connecting {
            conn,
            server,
            send_seq: 0,
            recv: InOrder::new(),
            started_ms: now_ms,
        };
        let body = ClientBody::Connect {
            session: self.session,
            requested_timeout_ms: self.cfg.requested_timeout_ms,
            last_zxid_seen: self.last_zxid,
        };
        self.send(now_ms, body);
    }

    fn send(&mut self, now_ms: u64, body: ClientBody) {
        let (conn, server, seq) = match &mut self.link {
            Link::Connecting {
                conn,
                server,
                send_seq,
                ..
            } => (*conn, *server, send_seq),
            Link::Connected {
                conn,
                server,
                send_seq,
                last_send_ms,
                ..
            } => {
                *last_send_ms = now_ms;
                (*conn, *server, send_seq)
            }
            _ => return,
        };
        let s = *seq;
        *seq += 1;
        self.out.push_back(ClientMsg {
            server,
            conn,
            seq: s,
            body,
        });
    }

    /// The SetWatches messages that re-arm every watch on a new connection.
    fn set_watches_batches(&self) -> Vec<ClientBody> {
        set_watches_batches(
            self.last_zxid,
            &self.data_watches,
            &self.exist_watches,
            &self.child_watches,
        )
    }

    /// Reports the client-answered requests now at the head of the pending queue.
    fn answer_local(&mut self) {
        while matches!(self.pending.front(), Some((_, WatchReg::Local(_), _))) {
            let Some((xid, WatchReg::Local(result), _)) = self.pending.pop_front() else {
                unreachable!("checked")
            };
            self.event(ClientEvent::Reply { xid, result });
        }
    }

    /// Empties the pending queue: `err` for what was sent, their own result for what
    /// the client answered itself.
    fn fail_pending(&mut self, err: ErrorCode) {
        while let Some((xid, reg, _)) = self.pending.pop_front() {
            let result = match reg {
                WatchReg::Local(result) => result,
                _ => Err(err),
            };
            self.event(ClientEvent::Reply { xid, result });
        }
    }

    /// The connection is gone: everything in flight ends in ConnectionLoss.
    fn lose_connection(&mut self, now_ms: u64) {
        let was_connected = matches!(self.link, Link::Connected { .. });
        self.fail_pending(ErrorCode::ConnectionLoss);
        if self.closing {
            self.finish(SessionState::Closed);
            return;
        }
        if was_connected {
            // Reconnect at once, as the Java client does after losing a live connection.
            self.disconnected_since_ms = Some(now_ms);
            self.link = Link::Idle {
                retry_at_ms: now_ms,
            };
            self.set_state(SessionState::Disconnected);
            self.connect(now_ms);
        } else {
            self.link = Link::Idle {
                retry_at_ms: now_ms + self.cfg.reconnect_delay_ms,
            };
        }
    }

    fn finish(&mut self, state: SessionState) {
        self.link = Link::Dead;
        self.fail_pending(ErrorCode::SessionExpired);
        self.data_watches.clear();
        self.exist_watches.clear();
        self.child_watches.clear();
        self.out.clear();
        self.set_state(state);
    }

    fn set_state(&mut self, state: SessionState) {
        if self.state != state {
            self.state = state;
            self.event(ClientEvent::State(state));
        }
    }

    fn event(&mut self, e: ClientEvent) {
        debug_assert!(self.events.len() < MAX_EVENTS, "events not polled");
        if self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(e);
    }

    /// Client-side invariants: replies pending only on a live connection, state and
    /// link agree.
    pub fn check_invariants(&self) -> Result<(), String> {
        match (&self.link, self.state) {
            (Link::Dead, SessionState::Expired | SessionState::Lost | SessionState::Closed) => {}
            (Link::Dead, s) => return Err(format!("dead link in state {s:?}")),
            (Link::Connected { .. }, SessionState::Connected) => {}
            (Link::Connected { .. }, s) => return Err(format!("connected link in state {s:?}")),
            (_, SessionState::Connected) => return Err("connected state without link".into()),
            _ => {}
        }
        if !matches!(self.link, Link::Connected { .. }) && !self.pending.is_empty() {
            return Err("requests pending without a connection".into());
        }
        Ok(())
    }
}
