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
//! Leader changes are a fault, [`Ensemble::change_leader`]: the followers lose the
//! leader and elect a new one (a short unavailability: their connections close, and
//! nothing commits or expires), while the old leader may keep believing it leads for
//! a while. Meanwhile it serves its clients' reads from its state and answers their
//! `sync` at once with what it had committed (in 3.8 sync is not a quorum operation,
//! ZOOKEEPER-1675), so a sync + read there can miss writes the new leader has
//! acknowledged; its clients' writes cannot commit and end in ConnectionLoss when it
//! steps down, so conditional writes stay linearizable. Committed writes survive.
//!
//! Not modelled: epochs in zxids (a plain counter), quorum traffic (a write commits
//! `commit_latency_ms` after it reaches the leader), observers, read-only mode.

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
#[serde(default)]
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
    /// Leader changes started by [`Ensemble::change_leader`] (the injected fault).
    pub leader_changes: u64,
    /// Syncs a deposed leader answered while the new leader had committed writes the
    /// sync does not cover (ZOOKEEPER-1675: the read after it can miss them).
    pub stale_syncs: u64,
    /// Requests a deposed leader could not commit (writes, session creation and
    /// close): they end in ConnectionLoss, not applied, when it steps down.
    pub stalled_requests: u64,
    /// The most bytes the data tree held at once, at the leader
    /// ([`crate::DataTree::held_bytes`]: data, and paths but the built-in ones).
    pub held_bytes_max: u64,
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
    /// A new leader was elected (the end of a [`Ensemble::change_leader`] election).
    LeaderChanged {
        old: ServerId,
        new: ServerId,
        at_ms: u64,
    },
}

/// Most notices kept unpolled (oldest dropped first).
const MAX_NOTICES: usize = 4096;

/// Most applied transactions kept unpolled (oldest dropped first, and counted in
/// [`Ensemble::applied_dropped`]): a driver that records them drains them after
/// every call.
const MAX_APPLIED: usize = 1 << 16;

/// One transaction the ensemble committed, in zxid order: the ground truth of what
/// ZooKeeper did, for checkers (the nodes' beliefs are not). Recorded only after
/// [`Ensemble::record_applied`]; drained with [`Ensemble::poll_applied`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub zxid: Zxid,
    /// When the leader decided it (the Stat's ctime/mtime).
    pub time_ms: u64,
    /// The client (`ConnId::client`) that owns the transaction's session (also for
    /// the session's expiry, which the service decides); None only for a session
    /// created before recording began and gone since.
    pub client: Option<u64>,
    pub op: TxnOp,
    /// The outcome every server reproduces (a failed multi is recorded too: it has a
    /// zxid and changes nothing).
    pub result: TxnResult,
}

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
    /// Sent to a deposed leader, which cannot commit it: never answered (the
    /// connection closes when that leader steps down).
    Stalled,
}

/// A leader change in progress (see [`Ensemble::change_leader`]).
#[derive(Clone, Debug)]
struct LeaderChange {
    old_leader: ServerId,
    new_leader: ServerId,
    /// The last zxid the old leader had committed: all it serves, and what its syncs
    /// wait for, while it believes it still leads.
    frozen_zxid: Zxid,
    /// While `Some`, the election: no server but the deposed leader serves clients,
    /// nothing commits, no session expires.
    election_ends_ms: Option<u64>,
    /// While `Some`, the old leader (if it was up) still believes it leads.
    deposed_ends_ms: Option<u64>,
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
    /// The server that leads; only [`Ensemble::change_leader`] changes it.
    leader: ServerId,
    leader_change: Option<LeaderChange>,
    now_ms: u64,
    stats: EnsembleStats,
    /// Committed transactions not yet polled; None: not recorded (the default).
    applied: Option<VecDeque<Applied>>,
    /// While recording: the client that owns each live session.
    session_clients: BTreeMap<SessionId, u64>,
    applied_dropped: u64,
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
            leader: 0,
            leader_change: None,
            now_ms,
            stats: EnsembleStats::default(),
            applied: None,
            session_clients: BTreeMap::new(),
            applied_dropped: 0,
        }
    }

    /// From now on, record every committed transaction for [`Ensemble::poll_applied`].
    /// Recording observes only: it changes no outcome, message or timing.
    pub fn record_applied(&mut self) {
        if self.applied.is_none() {
            self.applied = Some(VecDeque::new());
            for (session, entry) in &self.sessions {
                if let Some(c) = entry.conn {
                    self.session_clients.insert(*session, c.client);
                }
            }
        }
    }

    /// Recorded transactions dropped because nobody polled them (a checker that sees a
    /// gap in zxids can tell it from this).
    pub fn applied_dropped(&self) -> u64 {
        self.applied_dropped
    }

    /// The next committed transaction, in zxid order (None when not recording).
    pub fn poll_applied(&mut self) -> Option<Applied> {
        self.applied.as_mut()?.pop_front()
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

    /// The server that leads (0 at first). During a leader change, the old one until
    /// the election ends.
    pub fn leader(&self) -> ServerId {
        self.leader
    }

    /// Is a leader change (its election, or a deposed leader still serving) going on?
    pub fn leader_change_in_progress(&self) -> bool {
        self.leader_change.is_some()
    }

    /// Does server `server` serve clients now (up, not in an outage or an election)?
    pub fn server_serving(&self, server: ServerId) -> bool {
        !self.unavailable && !self.servers[server as usize].down && !self.electing(server)
    }

    /// The old leader while it still believes it leads after losing its quorum.
    fn deposed(&self, server: ServerId) -> bool {
        self.leader_change
            .as_ref()
            .is_some_and(|lc| lc.deposed_ends_ms.is_some() && lc.old_leader == server)
    }

    /// No leader: an election is running.
    fn leaderless(&self) -> bool {
        self.leader_change
            .as_ref()
            .is_some_and(|lc| lc.election_ends_ms.is_some())
    }

    /// The server takes part in an election (so it does not serve).
    fn electing(&self, server: ServerId) -> bool {
        self.leaderless() && !self.deposed(server)
    }

    /// The highest zxid server `server` may apply now: the deposed leader's own
    /// commits only, everything committed for the others.
    fn apply_limit(&self, server: ServerId) -> Zxid {
        match &self.leader_change {
            Some(lc) if self.deposed(server) => lc.frozen_zxid,
            _ => self.head.last_zxid(),
        }
    }

    /// Fault: the ensemble's leader changes, as when it crashes (`deposed_ms` = 0)
    /// or loses its quorum without noticing at once (`deposed_ms` > 0: a partition,
    /// a long pause). Returns false (nothing happens) with fewer than 3 servers (no
    /// quorum without the leader), during an outage or during another leader change.
    ///
    /// At `now_ms` the followers lose the leader: their client connections close
    /// (clients see Disconnected and move) and for `unavailable_ms` they elect a new
    /// leader, serving nobody; nothing commits and no session expires meanwhile. The
    /// new leader (the next server after the old one that is up) keeps every
    /// committed write; servers catch up with it, and every session gets a fresh
    /// timeout, as under a new leader's session tracker; [`Notice::LeaderChanged`].
    ///
    /// For `deposed_ms` from `now_ms` the old leader (if up) still believes it leads:
    /// it keeps its connections, accepts connections, serves reads from what it had
    /// committed, and answers `sync` with that (ZOOKEEPER-1675: in 3.8 sync is not a
    /// quorum operation, so past the election a sync + read there can miss writes
    /// the new leader acknowledged; counted in [`EnsembleStats::stale_syncs`]). What
    /// needs a commit (writes, session creation and close) stalls; when it steps
    /// down its connections close, those requests end in ConnectionLoss without
    /// having been applied, and it rejoins as a follower. Session pings it receives
    /// do not reach the new leader. Conditional writes therefore stay linearizable.
    ///
    /// Call [`Ensemble::tick`] at [`Ensemble::deadline_ms`] as usual: the phases end
    /// there. Realistic values: an election of a few hundred ms to a few s; a
    /// deposed leader lasting up to about syncLimit x tickTime (it notices the lost
    /// quorum at its next ack check), past the election when the followers noticed
    /// first.
    pub fn change_leader(&mut self, now_ms: u64, unavailable_ms: u64, deposed_ms: u64) -> bool {
        self.enter(now_ms);
        self.advance();
        if self.cfg.servers < 3 || self.unavailable || self.leader_change.is_some() {
            return false;
        }
        let old = self.leader;
        let n = self.cfg.servers;
        let new = (1..n)
            .map(|k| (old + k) % n)
            .find(|s| !self.servers[*s as usize].down)
            .unwrap_or((old + 1) % n);
        // What the old leader had committed: writes decided but not yet committed
        // are the new leader's to commit.
        let frozen_zxid = self
            .log
            .iter()
            .rev()
            .find(|t| t.commit_ms <= self.now_ms)
            .map_or_else(
                || {
                    self.log
                        .front()
                        .map_or(self.head.last_zxid(), |t| t.zxid - 1)
                },
                |t| t.zxid,
            );
        let old_up = !self.servers[old as usize].down;
        let stays = old_up && deposed_ms > 0;
        let closing: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| !(stays && c.server == old))
            .map(|(id, _)| *id)
            .collect();
        for c in closing {
            self.close_conn(c, true);
        }
        self.leader_change = Some(LeaderChange {
            old_leader: old,
            new_leader: new,
            frozen_zxid,
            election_ends_ms: Some(self.now_ms.saturating_add(unavailable_ms)),
            deposed_ends_ms: stays.then(|| self.now_ms.saturating_add(deposed_ms)),
        });
        self.stats.leader_changes += 1;
        self.progress();
        true
    }

    /// Ends the phases of a leader change that are due, in time order (the deposed
    /// leader stepping down first on a tie).
    fn progress(&mut self) {
        loop {
            let Some(lc) = &self.leader_change else {
                return;
            };
            let deposed = lc.deposed_ends_ms.filter(|t| *t <= self.now_ms);
            let election = lc.election_ends_ms.filter(|t| *t <= self.now_ms);
            match (deposed, election) {
                (Some(d), e) if e.is_none_or(|e| d <= e) => self.end_deposed(),
                (_, Some(e)) => self.end_election(e),
                _ => return,
            }
            if self
                .leader_change
                .as_ref()
                .is_some_and(|lc| lc.deposed_ends_ms.is_none() && lc.election_ends_ms.is_none())
            {
                self.leader_change = None;
            }
        }
    }

    /// The deposed leader notices it lost its quorum: it closes its connections and
    /// rejoins (as a follower, once there is a leader).
    fn end_deposed(&mut self) {
        self.advance();
        let lc = self.leader_change.as_mut().expect("in progress");
        lc.deposed_ends_ms = None;
        let old = lc.old_leader;
        let at: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.server == old)
            .map(|(id, _)| *id)
            .collect();
        for c in at {
            self.close_conn(c, true);
        }
        if !self.unavailable && !self.servers[old as usize].down && !self.leaderless() {
            self.catch_up(old);
        }
        self.truncate_log();
    }

    /// The new leader is elected at `at_ms`: the servers sync with it, sessions get
    /// a fresh timeout.
    fn end_election(&mut self, at_ms: u64) {
        self.advance();
        let lc = self.leader_change.as_mut().expect("in progress");
        lc.election_ends_ms = None;
        let (old, new) = (lc.old_leader, lc.new_leader);
        self.leader = new;
        for s in 0..self.cfg.servers {
            if !self.servers[s as usize].down && !self.deposed(s) {
                self.catch_up(s);
            }
        }
        let tick = self.cfg.tick_time_ms;
        for e in self.sessions.values_mut() {
            e.expires_at_ms = bucket_ms(at_ms + e.timeout_ms, tick);
        }
        self.notice(Notice::LeaderChanged { old, new, at_ms });
        self.truncate_log();
    }

    /// Ends a leader change at once (an outage overrides it).
    fn finish_leader_change(&mut self) {
        let Some(lc) = self.leader_change.as_mut() else {
            return;
        };
        let now = self.now_ms;
        if let Some(d) = lc.deposed_ends_ms.as_mut() {
            *d = (*d).min(now);
        }
        if let Some(e) = lc.election_ends_ms.as_mut() {
            *e = (*e).min(now);
        }
        self.progress();
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
        let mut d: Option<u64> = if self.leaderless() {
            None
        } else {
            self.sessions.values().map(|s| s.expires_at_ms).min()
        };
        let mut consider = |at: u64| d = Some(d.map_or(at, |d: u64| d.min(at)));
        if let Some(lc) = &self.leader_change {
            lc.election_ends_ms.into_iter().for_each(&mut consider);
            lc.deposed_ends_ms.into_iter().for_each(&mut consider);
        }
        for (i, s) in self.servers.iter().enumerate() {
            let i = i as ServerId;
            if s.down || self.electing(i) {
                continue;
            }
            let next = s.tree.last_zxid() + 1;
            if next > self.apply_limit(i) {
                continue;
            }
            if let Some(t) = self.txn(next) {
                consider(t.commit_ms.saturating_add(s.lag_ms));
            }
        }
        d
    }

    /// Advances virtual time: lagging servers apply what is due, the tracker expires
    /// sessions whose bucket has passed.
    pub fn tick(&mut self, now_ms: u64) {
        self.enter(now_ms);
        self.advance();
        if self.unavailable || self.leaderless() {
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
        self.enter(now_ms);
        self.advance();
        if unavailable == self.unavailable {
            return;
        }
        if unavailable {
            // An outage of the whole ensemble overrides a leader change.
            self.finish_leader_change();
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
        self.enter(now_ms);
        self.servers[server as usize].lag_ms = lag_ms;
        self.advance();
    }

    pub fn server_lag_ms(&self, server: ServerId) -> u64 {
        self.servers[server as usize].lag_ms
    }

    /// Fault: one server crashes (its connections close; clients move elsewhere) or
    /// restarts (it syncs with the leader before serving again).
    pub fn set_server_down(&mut self, now_ms: u64, server: ServerId, down: bool) {
        self.enter(now_ms);
        self.advance();
        let s = server as usize;
        if self.servers[s].down == down {
            return;
        }
        if down {
            if self.deposed(server) {
                // A crashed deposed leader believes nothing any more.
                let lc = self.leader_change.as_mut().expect("in progress");
                lc.deposed_ends_ms = Some(self.now_ms);
                self.progress();
            }
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
            if !self.unavailable && !self.electing(server) {
                self.catch_up(server);
            }
        }
        self.truncate_log();
    }

    /// A message from a client, delivered by the network to server `msg.server`.
    pub fn handle_message(&mut self, now_ms: u64, msg: ClientMsg) {
        self.enter(now_ms);
        self.advance();
        let server = msg.server;
        let cid = msg.conn;
        if server >= self.cfg.servers {
            return;
        }
        if !self.server_serving(server) {
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

    /// Every input starts here: time moves, due leader-change phases end.
    fn enter(&mut self, now_ms: u64) {
        self.set_now(now_ms);
        self.progress();
    }

    fn notice(&mut self, n: Notice) {
        if self.notices.len() >= MAX_NOTICES {
            self.notices.pop_front();
        }
        self.notices.push_back(n);
    }

    fn touch(&mut self, cid: ConnId) {
        let Some(conn) = self.conns.get(&cid) else {
            return;
        };
        let Some(session) = conn.session else {
            return;
        };
        if self.deposed(conn.server) {
            // The deposed leader's tracker is not the new leader's.
            return;
        }
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
                if self.deposed(server) {
                    self.connect_deposed(cid, server, session, requested_timeout_ms);
                    return;
                }
                match session {
                    None => {
                        let timeout_ms = self.cfg.negotiate_timeout_ms(requested_timeout_ms);
                        let session = SessionId(self.next_session);
                        self.next_session += 1;
                        if self.applied.is_some() {
                            self.session_clients.insert(session, cid.client);
                        }
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
                if self.deposed(server) {
                    self.request_deposed(cid, xid, request);
                    return;
                }
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

    /// A Connect reaching the deposed leader: it revalidates a session its own tree
    /// knows, and cannot commit a new one.
    fn connect_deposed(
        &mut self,
        cid: ConnId,
        server: ServerId,
        session: Option<SessionId>,
        requested_timeout_ms: u64,
    ) {
        let conn = self.conns.get_mut(&cid).expect("open");
        match session {
            None => {
                conn.queue.push_back(Pending::Stalled);
                self.stats.stalled_requests += 1;
            }
            Some(session) => {
                let tree = &self.servers[server as usize].tree;
                let Some(timeout_ms) = tree
                    .sessions()
                    .find_map(|(s, t)| (s == session).then_some(t))
                else {
                    self.emit(cid, ServerBody::ConnectExpired);
                    self.close_conn(cid, false);
                    return;
                };
                let _ = requested_timeout_ms;
                let conn = self.conns.get_mut(&cid).expect("open");
                conn.connected = true;
                conn.session = Some(session);
                conn.queue.push_back(Pending::Resumed {
                    session,
                    timeout_ms,
                });
            }
        }
    }

    /// A request reaching the deposed leader: reads and syncs from what it had
    /// committed, everything that needs a commit stalls.
    fn request_deposed(&mut self, cid: ConnId, xid: Xid, request: Request) {
        let frozen = self.leader_change.as_ref().expect("deposed").frozen_zxid;
        let pending = match request {
            Request::Exists { .. } | Request::GetData { .. } | Request::GetChildren { .. } => {
                Pending::Read { xid, request }
            }
            Request::Sync { path } => {
                self.stats.syncs += 1;
                Pending::Sync {
                    xid,
                    path,
                    target: frozen,
                }
            }
            _ => {
                self.stats.stalled_requests += 1;
                Pending::Stalled
            }
        };
        self.push(cid, pending);
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
        debug_assert!(!self.unavailable && !self.leaderless());
        let zxid = self.head.last_zxid() + 1;
        let (result, _) = self.head.apply(zxid, self.now_ms, &op);
        self.stats.txns += 1;
        self.stats.held_bytes_max = self.stats.held_bytes_max.max(self.head.held_bytes());
        if let Some(last) = self.log.back() {
            debug_assert_eq!(last.zxid + 1, zxid);
        }
        if let Some(applied) = self.applied.as_mut() {
            let session = match &op {
                TxnOp::CreateSession { session, .. }
                | TxnOp::CloseSession { session }
                | TxnOp::Create { session, .. }
                | TxnOp::Delete { session, .. }
                | TxnOp::SetData { session, .. }
                | TxnOp::Multi { session, .. } => *session,
            };
            let client = self.session_clients.get(&session).copied();
            if let TxnOp::CloseSession { session } = &op {
                self.session_clients.remove(session);
            }
            if applied.len() >= MAX_APPLIED {
                applied.pop_front();
                self.applied_dropped += 1;
            }
            applied.push_back(Applied {
                zxid,
                time_ms: self.now_ms,
                client,
                op: op.clone(),
                result: result.clone(),
            });
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
            if self.servers[s].down || self.electing(s as ServerId) {
                continue;
            }
            let limit = self.apply_limit(s as ServerId);
            loop {
                let next = self.servers[s].tree.last_zxid() + 1;
                if next > limit {
                    break;
                }
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
                Some(Pending::Stalled) => false,
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
                Pending::Sync { xid, path, target } => {
                    if self.deposed(server) && self.head.last_zxid() > target {
                        self.stats.stale_syncs += 1;
                    }
                    self.emit(
                        cid,
                        ServerBody::Reply {
                            xid,
                            zxid: applied,
                            result: Ok(Response::Sync { path }),
                        },
                    )
                }
                Pending::Stalled => unreachable!("never ready"),
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

    /// A read, served from the server's tree. The server does not validate the
    /// paths of reads: an invalid one is just a node that does not exist.
    fn read(
        &mut self,
        server: ServerId,
        cid: ConnId,
        request: Request,
    ) -> Result<Response, ErrorCode> {
        let s = &mut self.servers[server as usize];
        match request {
            Request::Exists { path, watch } => {
                let stat = s.tree.stat(&path);
                if watch {
                    s.data_watches.entry(path).or_default().insert(cid);
                }
                Ok(Response::Exists { stat })
            }
            Request::GetData { path, watch } => {
                let (data, stat) = s.tree.get(&path).ok_or(ErrorCode::NoNode)?;
                let data = data.to_vec();
                if watch {
                    s.data_watches.entry(path).or_default().insert(cid);
                }
                Ok(Response::GetData { data, stat })
            }
            Request::GetChildren { path, watch } => {
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
        if let Some(lc) = &self.leader_change {
            let applied = self.servers[lc.old_leader as usize].tree.last_zxid();
            if self.deposed(lc.old_leader) && applied > lc.frozen_zxid {
                return Err(format!(
                    "deposed leader {} applied {applied} > its last commit {}",
                    lc.old_leader, lc.frozen_zxid
                ));
            }
        }
        for (id, c) in &self.conns {
            if !self.server_serving(c.server) {
                return Err(format!("{id:?} open on server {} not serving", c.server));
            }
            if c.queue.iter().any(|p| matches!(p, Pending::Stalled)) && !self.deposed(c.server) {
                return Err(format!("{id:?} has a stalled request off a deposed leader"));
            }
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
