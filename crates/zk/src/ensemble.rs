//! The service party: a ZooKeeper ensemble of N servers behind one leader.
//!
//! Model: the leader orders every write into one committed log (zxid order) and
//! applies it at once to its head state, which decides each write's outcome. Each
//! server applies a prefix of that log, `lag_ms` behind the commit time, and serves
//! its clients from its own applied tree: reads may be stale, writes and session
//! events reach a client only once its server has applied them, and `sync` waits
//! until the server has applied the leader's zxid as of the sync. Each connection
//! has one in-order pipeline, like the real CommitProcessor: a read waits behind the
//! session's earlier writes, and watch events are queued when the server applies the
//! change, hence before any reply that reveals it.
//!
//! Sessions live in the leader's tracker; any message a connection delivers touches
//! its session, and the tracker expires a session no earlier than `timeout` after the
//! last touch, at the next `tick_time_ms` boundary (so between T and T + tickTime).
//! Expiry is a transaction that deletes the ephemerals and fires their watches; the
//! server holding the session's connection closes it when it applies that close.
//!
//! Not modelled: leader election and epochs (the leader never changes; an outage is
//! [`Ensemble::set_unavailable`]), quorum traffic and its latency (a write commits at
//! the instant its request reaches the ensemble), observers, read-only mode.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;
use crate::proto::{
    Accept, ClientBody, ClientMsg, ConnId, EventType, InOrder, Request, Response, ServerBody,
    ServerId, ServerMsg, SessionId, WatchedEvent, Xid, Zxid,
};
use crate::tree::{DataTree, Trigger, TxnOp, TxnResult, WatchTable};

/// jute.maxbuffer's default: the largest request packet the server accepts.
pub const DEFAULT_MAX_PACKET_BYTES: usize = 1_048_575;

/// Default time from a write reaching the leader to its commit (proposal, fsync of
/// the transaction log, a quorum's acks): a few ms on a LAN with an SSD.
pub const DEFAULT_COMMIT_LATENCY_MS: u64 = 2;

fn default_commit_latency_ms() -> u64 {
    DEFAULT_COMMIT_LATENCY_MS
}

/// Bound on output messages queued and not yet polled; past it, the oldest
/// connection's traffic is the caller's bug (asserted in debug builds).
const MAX_OUTBOUND: usize = 1 << 20;

/// Static configuration of the ensemble.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnsembleConfig {
    pub servers: u32,
    pub tick_time_ms: u64,
    /// Smallest negotiated session timeout (default 2 x tickTime).
    pub min_session_timeout_ms: u64,
    /// Largest negotiated session timeout (default 20 x tickTime).
    pub max_session_timeout_ms: u64,
    /// jute.maxbuffer: a request packet longer than this drops the connection.
    pub max_packet_bytes: usize,
    /// Time from a write reaching the leader (which decides its outcome and zxid at
    /// once) to its commit, after which servers apply it (each `lag_ms` later) and
    /// answer it. A connection the server closes meanwhile loses the reply of a write
    /// that will still be applied, as on a real server.
    #[serde(default = "default_commit_latency_ms")]
    pub commit_latency_ms: u64,
}

impl EnsembleConfig {
    /// The defaults of a real server with this tickTime.
    pub fn new(servers: u32, tick_time_ms: u64) -> Self {
        assert!(servers >= 1 && tick_time_ms >= 1);
        EnsembleConfig {
            servers,
            tick_time_ms,
            min_session_timeout_ms: 2 * tick_time_ms,
            max_session_timeout_ms: 20 * tick_time_ms,
            max_packet_bytes: DEFAULT_MAX_PACKET_BYTES,
            commit_latency_ms: DEFAULT_COMMIT_LATENCY_MS,
        }
    }

    /// The timeout the server grants for a requested one.
    pub fn negotiate_timeout_ms(&self, requested_ms: u64) -> u64 {
        requested_ms.clamp(self.min_session_timeout_ms, self.max_session_timeout_ms)
    }
}

/// Counters for reports (operations and bytes per client write, faults seen).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnsembleStats {
    /// Messages delivered in order to a connection (pings and connects included).
    pub messages_in: u64,
    pub request_bytes: u64,
    pub reply_bytes: u64,
    /// Transactions committed (each takes a zxid, failed writes included).
    pub txns: u64,
    pub reads: u64,
    pub syncs: u64,
    pub sessions_created: u64,
    pub sessions_expired: u64,
    pub sessions_closed: u64,
    /// Connections refused because the client had seen a newer zxid.
    pub connects_refused_stale_server: u64,
    /// Connections dropped because a request exceeded `max_packet_bytes`.
    pub oversize_requests: u64,
    pub watch_events: u64,
}

/// Things the service decided, for the simulator's trace and checkers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Notice {
    SessionCreated {
        session: SessionId,
        zxid: Zxid,
        timeout_ms: u64,
        at_ms: u64,
    },
    /// The tracker expired the session (no contact for its timeout).
    SessionExpired {
        session: SessionId,
        zxid: Zxid,
        at_ms: u64,
        ephemerals: Vec<String>,
    },
    /// The client closed its session.
    SessionClosed {
        session: SessionId,
        zxid: Zxid,
        at_ms: u64,
    },
}

/// Most notices kept unpolled (oldest dropped first).
const MAX_NOTICES: usize = 4096;

#[derive(Clone, Debug)]
struct Txn {
    zxid: Zxid,
    /// When the leader decided it (the Stat's ctime/mtime).
    time_ms: u64,
    /// When it commits: servers apply it from then on (plus their lag).
    commit_ms: u64,
    op: TxnOp,
    /// The leader's outcome; every server must reproduce it.
    result: TxnResult,
}

#[derive(Clone, Debug)]
struct Server {
    tree: DataTree,
    lag_ms: u64,
    down: bool,
    data_watches: BTreeMap<String, BTreeSet<ConnId>>,
    child_watches: BTreeMap<String, BTreeSet<ConnId>>,
}

#[derive(Clone, Debug)]
enum Pending {
    /// A new session: ConnectOk once the server applied its createSession.
    NewSession {
        zxid: Zxid,
        session: SessionId,
        timeout_ms: u64,
    },
    Resumed {
        session: SessionId,
        timeout_ms: u64,
    },
    /// A write committed at the leader: reply once the server applied `zxid`.
    Write {
        xid: Xid,
        zxid: Zxid,
        result: Result<Response, ErrorCode>,
    },
    Read {
        xid: Xid,
        request: Request,
    },
    Ping,
    Sync {
        xid: Xid,
        path: String,
        target: Zxid,
    },
    SetWatches {
        relative_zxid: Zxid,
        data: Vec<String>,
        exist: Vec<String>,
        child: Vec<String>,
    },
    Immediate {
        xid: Xid,
        result: Result<Response, ErrorCode>,
    },
}

#[derive(Clone, Debug)]
struct Conn {
    server: ServerId,
    session: Option<SessionId>,
    connected: bool,
    recv: InOrder<ClientBody>,
    send_seq: u64,
    queue: VecDeque<Pending>,
}

#[derive(Clone, Debug)]
struct SessionEntry {
    timeout_ms: u64,
    expires_at_ms: u64,
    conn: Option<ConnId>,
}

/// The mock ensemble. See the module docs for the model; the simulator drives it with
/// [`Ensemble::handle_message`], [`Ensemble::tick`] at [`Ensemble::deadline_ms`], and
/// drains [`Ensemble::poll_output`] after each call.
#[derive(Clone, Debug)]
pub struct Ensemble {
    cfg: EnsembleConfig,
    /// The leader's state: every committed transaction applied.
    head: DataTree,
    /// Committed transactions some server has not applied yet (contiguous zxids).
    log: VecDeque<Txn>,
    servers: Vec<Server>,
    sessions: BTreeMap<SessionId, SessionEntry>,
    next_session: u64,
    conns: BTreeMap<ConnId, Conn>,
    /// Highest connection number opened per client; lower ones not in `conns` are dead.
    max_conn_n: BTreeMap<u64, u32>,
    out: VecDeque<ServerMsg>,
    notices: VecDeque<Notice>,
    unavailable: bool,
    now_ms: u64,
    stats: EnsembleStats,
}

fn bucket_ms(t_ms: u64, tick_ms: u64) -> u64 {
    (t_ms / tick_ms + 1) * tick_ms
}

impl Ensemble {
    pub fn new(cfg: EnsembleConfig, now_ms: u64) -> Self {
        let servers = (0..cfg.servers)
            .map(|_| Server {
                tree: DataTree::new(),
                lag_ms: 0,
                down: false,
                data_watches: BTreeMap::new(),
                child_watches: BTreeMap::new(),
            })
            .collect();
        Ensemble {
            cfg,
            head: DataTree::new(),
            log: VecDeque::new(),
            servers,
            sessions: BTreeMap::new(),
            next_session: 1,
            conns: BTreeMap::new(),
            max_conn_n: BTreeMap::new(),
            out: VecDeque::new(),
            notices: VecDeque::new(),
            unavailable: false,
            now_ms,
            stats: EnsembleStats::default(),
        }
    }

    pub fn config(&self) -> &EnsembleConfig {
        &self.cfg
    }

    pub fn stats(&self) -> &EnsembleStats {
        &self.stats
    }

    /// The leader's committed state (what a fully caught-up server would serve).
    pub fn leader_tree(&self) -> &DataTree {
        &self.head
    }

    /// The zxid of the last committed transaction.
    pub fn last_zxid(&self) -> Zxid {
        self.head.last_zxid()
    }

    /// The state server `server` serves reads from.
    pub fn server_tree(&self, server: ServerId) -> &DataTree {
        &self.servers[server as usize].tree
    }

    pub fn server_applied_zxid(&self, server: ServerId) -> Zxid {
        self.servers[server as usize].tree.last_zxid()
    }

    /// Is the session alive in the leader's tracker?
    pub fn session_alive(&self, session: SessionId) -> bool {
        self.sessions.contains_key(&session)
    }

    /// When the tracker will expire the session unless it is touched again.
    pub fn session_expires_at_ms(&self, session: SessionId) -> Option<u64> {
        self.sessions.get(&session).map(|s| s.expires_at_ms)
    }

    pub fn is_unavailable(&self) -> bool {
        self.unavailable
    }

    /// The next message to send to a client, in emission order.
    pub fn poll_output(&mut self) -> Option<ServerMsg> {
        self.out.pop_front()
    }

    /// The next notice (session created, expired, closed).
    pub fn poll_notice(&mut self) -> Option<Notice> {
        self.notices.pop_front()
    }

    /// The earliest time at which [`Ensemble::tick`] has something to do: a session
    /// expiry bucket or a lagging server's next transaction.
    pub fn deadline_ms(&self) -> Option<u64> {
        if self.unavailable {
            return None;
        }
        let mut d: Option<u64> = self.sessions.values().map(|s| s.expires_at_ms).min();
        for s in &self.servers {
            if s.down {
                continue;
            }
            if let Some(t) = self.txn(s.tree.last_zxid() + 1) {
                let at = t.commit_ms.saturating_add(s.lag_ms);
                d = Some(d.map_or(at, |d| d.min(at)));
            }
        }
        d
    }

    /// Advances virtual time: lagging servers apply what is due, the tracker expires
    /// sessions whose bucket has passed.
    pub fn tick(&mut self, now_ms: u64) {
        self.set_now(now_ms);
        self.advance();
        if self.unavailable {
            return;
        }
        let due: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, e)| e.expires_at_ms <= now_ms)
            .map(|(s, _)| *s)
            .collect();
        for session in due {
            let entry = self.sessions.remove(&session).expect("listed");
            let (zxid, result) = self.commit(TxnOp::CloseSession { session });
            let ephemerals = match result {
                TxnResult::SessionClosed(p) => p,
                other => panic!("close gave {other:?}"),
            };
            debug_assert!(entry.expires_at_ms <= now_ms);
            self.stats.sessions_expired += 1;
            self.notice(Notice::SessionExpired {
                session,
                zxid,
                at_ms: now_ms,
                ephemerals,
            });
        }
        self.advance();
    }

    /// Fault: the whole ensemble unavailable (quorum lost) or back. Going down closes
    /// every connection (clients see Disconnected) and freezes session expiry; coming
    /// back, every server catches up with the log (as followers sync with a new
    /// leader) and every session gets a fresh timeout from now, as a new leader's
    /// session tracker does.
    pub fn set_unavailable(&mut self, now_ms: u64, unavailable: bool) {
        self.set_now(now_ms);
        self.advance();
        if unavailable == self.unavailable {
            return;
        }
        if unavailable {
            let all: Vec<ConnId> = self.conns.keys().copied().collect();
            for c in all {
                self.close_conn(c, true);
            }
            self.unavailable = true;
        } else {
            self.unavailable = false;
            for s in 0..self.servers.len() {
                if !self.servers[s].down {
                    self.catch_up(s as ServerId);
                }
            }
            let tick = self.cfg.tick_time_ms;
            for e in self.sessions.values_mut() {
                e.expires_at_ms = bucket_ms(now_ms + e.timeout_ms, tick);
            }
        }
        self.truncate_log();
    }

    /// Fault: one server lags `lag_ms` behind the leader's commits (its reads are
    /// stale by up to that much, and its clients' writes are acknowledged that late).
    pub fn set_server_lag_ms(&mut self, now_ms: u64, server: ServerId, lag_ms: u64) {
        self.set_now(now_ms);
        self.servers[server as usize].lag_ms = lag_ms;
        self.advance();
    }

    pub fn server_lag_ms(&self, server: ServerId) -> u64 {
        self.servers[server as usize].lag_ms
    }

    /// Fault: one server crashes (its connections close; clients move elsewhere) or
    /// restarts (it syncs with the leader before serving again).
    pub fn set_server_down(&mut self, now_ms: u64, server: ServerId, down: bool) {
        self.set_now(now_ms);
        self.advance();
        let s = server as usize;
        if self.servers[s].down == down {
            return;
        }
        if down {
            let at: Vec<ConnId> = self
                .conns
                .iter()
                .filter(|(_, c)| c.server == server)
                .map(|(id, _)| *id)
                .collect();
            for c in at {
                self.close_conn(c, true);
            }
            self.servers[s].down = true;
        } else {
            self.servers[s].down = false;
            if !self.unavailable {
                self.catch_up(server);
            }
        }
        self.truncate_log();
    }

    /// A message from a client, delivered by the network to server `msg.server`.
    pub fn handle_message(&mut self, now_ms: u64, msg: ClientMsg) {
        self.set_now(now_ms);
        self.advance();
        let server = msg.server;
        let cid = msg.conn;
        if server >= self.cfg.servers {
            return;
        }
        if self.unavailable || self.servers[server as usize].down {
            // The process is not serving: the connection is refused or reset.
            self.emit_reset(server, cid);
            return;
        }
        if !self.conns.contains_key(&cid) {
            let max = self.max_conn_n.get(&cid.client).copied();
            if max.is_some_and(|m| cid.n <= m) {
                // A connection this service already closed.
                self.emit_reset(server, cid);
                return;
            }
            self.max_conn_n.insert(cid.client, cid.n);
            // The client abandoned its older connections when it opened this one.
            let older: Vec<ConnId> = self
                .conns
                .range(
                    ConnId {
                        client: cid.client,
                        n: 0,
                    }..cid,
                )
                .map(|(id, _)| *id)
                .collect();
            for c in older {
                self.close_conn(c, false);
            }
            self.conns.insert(
                cid,
                Conn {
                    server,
                    session: None,
                    connected: false,
                    recv: InOrder::new(),
                    send_seq: 0,
                    queue: VecDeque::new(),
                },
            );
        }
        let conn = self.conns.get_mut(&cid).expect("present");
        if conn.server != server {
            // A connection belongs to one server; anything else is a driver bug.
            debug_assert!(
                false,
                "{cid:?} sent to server {server}, is on {}",
                conn.server
            );
            return;
        }
        let bodies = match conn.recv.accept(msg.seq, msg.body) {
            Accept::Deliver(b) => b,
            Accept::Broken => {
                self.close_conn(cid, true);
                return;
            }
        };
        for body in bodies {
            if !self.conns.contains_key(&cid) {
                break;
            }
            self.process(cid, body);
        }
        self.advance();
        if self.conns.contains_key(&cid) {
            self.drain(cid);
        }
        debug_assert!(self.out.len() < MAX_OUTBOUND, "outbound queue not drained");
    }

    fn set_now(&mut self, now_ms: u64) {
        debug_assert!(now_ms >= self.now_ms, "time went back");
        self.now_ms = self.now_ms.max(now_ms);
    }

    fn notice(&mut self, n: Notice) {
        if self.notices.len() >= MAX_NOTICES {
            self.notices.pop_front();
        }
        self.notices.push_back(n);
    }

    fn touch(&mut self, cid: ConnId) {
        let Some(session) = self.conns.get(&cid).and_then(|c| c.session) else {
            return;
        };
        let now = self.now_ms;
        let tick = self.cfg.tick_time_ms;
        if let Some(e) = self.sessions.get_mut(&session) {
            if e.conn == Some(cid) {
                e.expires_at_ms = e.expires_at_ms.max(bucket_ms(now + e.timeout_ms, tick));
            }
        }
    }

    fn process(&mut self, cid: ConnId, body: ClientBody) {
        let bytes = body.jute_bytes();
        if bytes > self.cfg.max_packet_bytes {
            // The real server reads the length first and drops the connection.
            self.stats.oversize_requests += 1;
            self.close_conn(cid, true);
            return;
        }
        self.stats.messages_in += 1;
        self.stats.request_bytes += bytes as u64;
        let conn = self.conns.get(&cid).expect("open");
        let server = conn.server;
        let connected = conn.connected;
        match body {
            ClientBody::Connect {
                session,
                requested_timeout_ms,
                last_zxid_seen,
            } => {
                if connected {
                    self.close_conn(cid, true);
                    return;
                }
                if last_zxid_seen > self.servers[server as usize].tree.last_zxid() {
                    // "Refusing session request for client as it has seen zxid ...":
                    // the client must try another server (or this one later).
                    self.stats.connects_refused_stale_server += 1;
                    self.close_conn(cid, true);
                    return;
                }
                match session {
                    None => {
                        let timeout_ms = self.cfg.negotiate_timeout_ms(requested_timeout_ms);
                        let session = SessionId(self.next_session);
                        self.next_session += 1;
                        let (zxid, _) = self.commit(TxnOp::CreateSession {
                            session,
                            timeout_ms,
                        });
                        self.sessions.insert(
                            session,
                            SessionEntry {
                                timeout_ms,
                                expires_at_ms: bucket_ms(
                                    self.now_ms + timeout_ms,
                                    self.cfg.tick_time_ms,
                                ),
                                conn: Some(cid),
                            },
                        );
                        self.stats.sessions_created += 1;
                        let at_ms = self.now_ms;
                        self.notice(Notice::SessionCreated {
                            session,
                            zxid,
                            timeout_ms,
                            at_ms,
                        });
                        let conn = self.conns.get_mut(&cid).expect("open");
                        conn.connected = true;
                        conn.session = Some(session);
                        conn.queue.push_back(Pending::NewSession {
                            zxid,
                            session,
                            timeout_ms,
                        });
                    }
                    Some(session) => match self.sessions.get_mut(&session) {
                        None => {
                            self.emit(cid, ServerBody::ConnectExpired);
                            self.close_conn(cid, false);
                        }
                        Some(entry) => {
                            let old = entry.conn.replace(cid);
                            let timeout_ms = entry.timeout_ms;
                            if let Some(old) = old.filter(|o| *o != cid) {
                                self.close_conn(old, true);
                            }
                            let conn = self.conns.get_mut(&cid).expect("open");
                            conn.connected = true;
                            conn.session = Some(session);
                            conn.queue.push_back(Pending::Resumed {
                                session,
                                timeout_ms,
                            });
                            self.touch(cid);
                        }
                    },
                }
            }
            _ if !connected => {
                // Anything before a Connect is a protocol error.
                self.close_conn(cid, true);
            }
            ClientBody::Ping => {
                self.touch(cid);
                self.push(cid, Pending::Ping);
            }
            ClientBody::SetWatches {
                relative_zxid,
                data,
                exist,
                child,
            } => {
                self.touch(cid);
                self.push(
                    cid,
                    Pending::SetWatches {
                        relative_zxid,
                        data,
                        exist,
                        child,
                    },
                );
            }
            ClientBody::Request { xid, request } => {
                self.touch(cid);
                let session = self.conns[&cid].session.expect("connected");
                if self
                    .sessions
                    .get(&session)
                    .is_some_and(|e| e.conn != Some(cid))
                {
                    self.push(
                        cid,
                        Pending::Immediate {
                            xid,
                            result: Err(ErrorCode::SessionMoved),
                        },
                    );
                    return;
                }
                let pending = match request {
                    Request::Exists { .. }
                    | Request::GetData { .. }
                    | Request::GetChildren { .. } => Pending::Read { xid, request },
                    Request::Sync { path } => {
                        self.stats.syncs += 1;
                        Pending::Sync {
                            xid,
                            path,
                            target: self.head.last_zxid(),
                        }
                    }
                    Request::Close => {
                        let (zxid, _) = self.commit(TxnOp::CloseSession { session });
                        if self.sessions.remove(&session).is_some() {
                            self.stats.sessions_closed += 1;
                            let at_ms = self.now_ms;
                            self.notice(Notice::SessionClosed {
                                session,
                                zxid,
                                at_ms,
                            });
                        }
                        Pending::Write {
                            xid,
                            zxid,
                            result: Ok(Response::Close),
                        }
                    }
                    Request::Create { path, data, mode } => self.write(
                        xid,
                        TxnOp::Create {
                            session,
                            path,
                            data,
                            mode,
                        },
                    ),
                    Request::Delete { path, version } => self.write(
                        xid,
                        TxnOp::Delete {
                            session,
                            path,
                            version,
                        },
                    ),
                    Request::SetData {
                        path,
                        data,
                        version,
                    } => self.write(
                        xid,
                        TxnOp::SetData {
                            session,
                            path,
                            data,
                            version,
                        },
                    ),
                    Request::Multi(ops) => self.write(xid, TxnOp::Multi { session, ops }),
                };
                self.push(cid, pending);
            }
        }
    }

    fn push(&mut self, cid: ConnId, p: Pending) {
        self.conns.get_mut(&cid).expect("open").queue.push_back(p);
    }

    fn write(&mut self, xid: Xid, op: TxnOp) -> Pending {
        let (zxid, result) = self.commit(op);
        let result = match result {
            TxnResult::Created { path, stat } => Ok(Response::Create { path, stat }),
            TxnResult::Deleted => Ok(Response::Delete),
            TxnResult::DataSet { stat } => Ok(Response::SetData { stat }),
            TxnResult::Multi(r) => Ok(Response::Multi(r)),
            TxnResult::Failed(e) => Err(e),
            other => panic!("write gave {other:?}"),
        };
        Pending::Write { xid, zxid, result }
    }

    /// Orders a transaction at the leader: it takes the next zxid and the leader's
    /// head state decides its outcome.
    fn commit(&mut self, op: TxnOp) -> (Zxid, TxnResult) {
        debug_assert!(!self.unavailable);
        let zxid = self.head.last_zxid() + 1;
        let (result, _) = self.head.apply(zxid, self.now_ms, &op);
        self.stats.txns += 1;
        if let Some(last) = self.log.back() {
            debug_assert_eq!(last.zxid + 1, zxid);
        }
        self.log.push_back(Txn {
            zxid,
            time_ms: self.now_ms,
            commit_ms: self.now_ms.saturating_add(self.cfg.commit_latency_ms),
            op,
            result: result.clone(),
        });
        (zxid, result)
    }

    fn txn(&self, zxid: Zxid) -> Option<&Txn> {
        let first = self.log.front()?.zxid;
        if zxid < first {
            return None;
        }
        self.log.get((zxid - first) as usize)
    }

    /// Every running server applies what its lag makes due.
    fn advance(&mut self) {
        if self.unavailable {
            return;
        }
        for s in 0..self.servers.len() {
            if self.servers[s].down {
                continue;
            }
            loop {
                let next = self.servers[s].tree.last_zxid() + 1;
                let due = match self.txn(next) {
                    Some(t) => t.commit_ms.saturating_add(self.servers[s].lag_ms) <= self.now_ms,
                    None => false,
                };
                if !due {
                    break;
                }
                self.apply_at(s as ServerId, next);
            }
        }
        self.truncate_log();
    }

    /// The server applies everything committed, whatever its lag.
    fn catch_up(&mut self, server: ServerId) {
        while self.servers[server as usize].tree.last_zxid() < self.head.last_zxid() {
            let next = self.servers[server as usize].tree.last_zxid() + 1;
            self.apply_at(server, next);
        }
    }

    fn truncate_log(&mut self) {
        let min = self
            .servers
            .iter()
            .map(|s| s.tree.last_zxid())
            .min()
            .unwrap_or(0);
        while self.log.front().is_some_and(|t| t.zxid <= min) {
            self.log.pop_front();
        }
    }

    /// One server applies one transaction: fires its watches, answers what became
    /// answerable on its connections, and closes the connection of a closed session.
    fn apply_at(&mut self, server: ServerId, zxid: Zxid) {
        let txn = self.txn(zxid).expect("txn in log").clone();
        let s = server as usize;
        let (result, triggers) = self.servers[s].tree.apply(zxid, txn.time_ms, &txn.op);
        assert_eq!(
            result, txn.result,
            "server {server} diverged from the leader at zxid {zxid}"
        );
        for t in &triggers {
            self.fire(server, t);
        }
        let here: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.server == server)
            .map(|(id, _)| *id)
            .collect();
        for c in &here {
            self.drain(*c);
        }
        if let TxnOp::CloseSession { session } = txn.op {
            for c in here {
                if self
                    .conns
                    .get(&c)
                    .is_some_and(|c| c.session == Some(session))
                {
                    self.close_conn(c, true);
                }
            }
        }
    }

    fn fire(&mut self, server: ServerId, t: &Trigger) {
        let s = &mut self.servers[server as usize];
        let mut watchers: BTreeSet<ConnId> = BTreeSet::new();
        let mut order: Vec<ConnId> = Vec::new();
        if matches!(t.table, WatchTable::Data | WatchTable::Both) {
            if let Some(w) = s.data_watches.remove(&t.path) {
                for c in w {
                    if watchers.insert(c) {
                        order.push(c);
                    }
                }
            }
        }
        if matches!(t.table, WatchTable::Child | WatchTable::Both) {
            if let Some(w) = s.child_watches.remove(&t.path) {
                for c in w {
                    if watchers.insert(c) {
                        order.push(c);
                    }
                }
            }
        }
        for c in order {
            self.stats.watch_events += 1;
            self.emit(
                c,
                ServerBody::Watch(WatchedEvent {
                    event: t.event,
                    path: t.path.clone(),
                }),
            );
        }
    }

    /// Answers from the head of the connection's pipeline while the head is ready.
    fn drain(&mut self, cid: ConnId) {
        loop {
            let Some(conn) = self.conns.get(&cid) else {
                return;
            };
            let server = conn.server;
            let applied = self.servers[server as usize].tree.last_zxid();
            let ready = match conn.queue.front() {
                None => return,
                Some(Pending::NewSession { zxid, .. }) | Some(Pending::Write { zxid, .. }) => {
                    *zxid <= applied
                }
                Some(Pending::Sync { target, .. }) => *target <= applied,
                Some(_) => true,
            };
            if !ready {
                return;
            }
            let p = self
                .conns
                .get_mut(&cid)
                .expect("open")
                .queue
                .pop_front()
                .expect("front");
            match p {
                Pending::NewSession {
                    session,
                    timeout_ms,
                    ..
                }
                | Pending::Resumed {
                    session,
                    timeout_ms,
                } => self.emit(
                    cid,
                    ServerBody::ConnectOk {
                        session,
                        timeout_ms,
                    },
                ),
                Pending::Write { xid, result, .. } | Pending::Immediate { xid, result } => self
                    .emit(
                        cid,
                        ServerBody::Reply {
                            xid,
                            zxid: applied,
                            result,
                        },
                    ),
                Pending::Ping => self.emit(cid, ServerBody::Pong { zxid: applied }),
                Pending::Sync { xid, path, .. } => self.emit(
                    cid,
                    ServerBody::Reply {
                        xid,
                        zxid: applied,
                        result: Ok(Response::Sync { path }),
                    },
                ),
                Pending::Read { xid, request } => {
                    self.stats.reads += 1;
                    let result = self.read(server, cid, request);
                    self.emit(
                        cid,
                        ServerBody::Reply {
                            xid,
                            zxid: applied,
                            result,
                        },
                    );
                }
                Pending::SetWatches {
                    relative_zxid,
                    data,
                    exist,
                    child,
                } => self.set_watches(server, cid, relative_zxid, data, exist, child),
            }
        }
    }

    fn read(
        &mut self,
        server: ServerId,
        cid: ConnId,
        request: Request,
    ) -> Result<Response, ErrorCode> {
        let s = &mut self.servers[server as usize];
        match request {
            Request::Exists { path, watch } => {
                crate::tree::validate_path(&path, false)?;
                let stat = s.tree.stat(&path);
                if watch {
                    s.data_watches.entry(path).or_default().insert(cid);
                }
                Ok(Response::Exists { stat })
            }
            Request::GetData { path, watch } => {
                crate::tree::validate_path(&path, false)?;
                let (data, stat) = s.tree.get(&path).ok_or(ErrorCode::NoNode)?;
                let data = data.to_vec();
                if watch {
                    s.data_watches.entry(path).or_default().insert(cid);
                }
                Ok(Response::GetData { data, stat })
            }
            Request::GetChildren { path, watch } => {
                crate::tree::validate_path(&path, false)?;
                let stat = s.tree.stat(&path).ok_or(ErrorCode::NoNode)?;
                let children = s.tree.children(&path).expect("exists");
                if watch {
                    s.child_watches.entry(path).or_default().insert(cid);
                }
                Ok(Response::GetChildren { children, stat })
            }
            other => panic!("not a read: {other:?}"),
        }
    }

    /// DataTree.setWatches: fire at once what changed after `rel`, re-arm the rest.
    fn set_watches(
        &mut self,
        server: ServerId,
        cid: ConnId,
        rel: Zxid,
        data: Vec<String>,
        exist: Vec<String>,
        child: Vec<String>,
    ) {
        let mut fire: Vec<(EventType, String)> = Vec::new();
        let s = &mut self.servers[server as usize];
        for p in data {
            match s.tree.stat(&p) {
                None => fire.push((EventType::NodeDeleted, p)),
                Some(st) if st.mzxid > rel => fire.push((EventType::NodeDataChanged, p)),
                Some(_) => {
                    s.data_watches.entry(p).or_default().insert(cid);
                }
            }
        }
        for p in exist {
            match s.tree.stat(&p) {
                Some(_) => fire.push((EventType::NodeCreated, p)),
                None => {
                    s.data_watches.entry(p).or_default().insert(cid);
                }
            }
        }
        for p in child {
            match s.tree.stat(&p) {
                None => fire.push((EventType::NodeDeleted, p)),
                Some(st) if st.pzxid > rel => fire.push((EventType::NodeChildrenChanged, p)),
                Some(_) => {
                    s.child_watches.entry(p).or_default().insert(cid);
                }
            }
        }
        for (event, path) in fire {
            self.stats.watch_events += 1;
            self.emit(cid, ServerBody::Watch(WatchedEvent { event, path }));
        }
    }

    fn emit(&mut self, cid: ConnId, body: ServerBody) {
        let conn = self
            .conns
            .get_mut(&cid)
            .expect("emit on an open connection");
        let seq = conn.send_seq;
        conn.send_seq += 1;
        self.stats.reply_bytes += body.jute_bytes() as u64;
        self.out.push_back(ServerMsg {
            server: conn.server,
            conn: cid,
            seq,
            body,
        });
    }

    /// A reset for a connection the server does not hold (`Closed` is out of band).
    fn emit_reset(&mut self, server: ServerId, cid: ConnId) {
        self.out.push_back(ServerMsg {
            server,
            conn: cid,
            seq: 0,
            body: ServerBody::Closed,
        });
    }

    /// Closes a connection: its pipeline and watches are dropped; the session stays.
    fn close_conn(&mut self, cid: ConnId, notify: bool) {
        if !self.conns.contains_key(&cid) {
            return;
        }
        if notify {
            self.emit(cid, ServerBody::Closed);
        }
        let conn = self.conns.remove(&cid).expect("present");
        let s = &mut self.servers[conn.server as usize];
        for table in [&mut s.data_watches, &mut s.child_watches] {
            table.retain(|_, w| {
                w.remove(&cid);
                !w.is_empty()
            });
        }
        if let Some(session) = conn.session {
            if let Some(e) = self.sessions.get_mut(&session) {
                if e.conn == Some(cid) {
                    e.conn = None;
                }
            }
        }
    }

    /// Checks the ensemble's invariants; Err names the first one broken.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.head
            .check_invariants()
            .map_err(|e| format!("leader: {e}"))?;
        let head = self.head.last_zxid();
        for (i, s) in self.servers.iter().enumerate() {
            s.tree
                .check_invariants()
                .map_err(|e| format!("server {i}: {e}"))?;
            if s.tree.last_zxid() > head {
                return Err(format!(
                    "server {i} applied {} > leader {head}",
                    s.tree.last_zxid()
                ));
            }
            if s.tree.last_zxid() < head && self.txn(s.tree.last_zxid() + 1).is_none() {
                return Err(format!("server {i} lost the log it still needs"));
            }
            for (path, w) in s.data_watches.iter().chain(s.child_watches.iter()) {
                for c in w {
                    if self.conns.get(c).map(|c| c.server) != Some(i as ServerId) {
                        return Err(format!("server {i}: watch on {path} for a closed {c:?}"));
                    }
                }
            }
        }
        for (k, t) in self.log.iter().enumerate() {
            if t.zxid != self.log[0].zxid + k as u64 {
                return Err("log zxids not contiguous".into());
            }
        }
        if let Some(last) = self.log.back() {
            if last.zxid != head {
                return Err("log does not end at the leader's zxid".into());
            }
        }
        let tracked: Vec<SessionId> = self.sessions.keys().copied().collect();
        let live: Vec<SessionId> = self.head.sessions().map(|(s, _)| s).collect();
        if tracked != live {
            return Err(format!(
                "tracker {tracked:?} != leader tree sessions {live:?}"
            ));
        }
        for (id, e) in &self.sessions {
            if let Some(c) = e.conn {
                match self.conns.get(&c) {
                    Some(conn) if conn.session == Some(*id) => {}
                    _ => return Err(format!("{id:?} owned by a closed or foreign {c:?}")),
                }
            }
        }
        for (id, c) in &self.conns {
            for p in &c.queue {
                if let Pending::Write { zxid, .. } | Pending::NewSession { zxid, .. } = p {
                    if *zxid > head {
                        return Err(format!("{id:?} waits for uncommitted zxid {zxid}"));
                    }
                }
            }
        }
        Ok(())
    }
}
