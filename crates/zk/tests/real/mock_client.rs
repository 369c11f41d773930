//! [`Zk`] against the mock: one [`Ensemble`] (one server, tickTime as the real one's)
//! and one [`ClientSession`] per session, on a network that delivers at once. Virtual
//! time stands still during an operation and moves only in [`Zk::sleep_ms`].
//!
//! The mock's client reports one event per server notification; a client library
//! hands it to every watcher the notification concerns. This adapter does what
//! `zookeeper-client` does (its `Watcher::interest`): NodeCreated and NodeDataChanged
//! go to getData/exists watches, NodeChildrenChanged to getChildren watches,
//! NodeDeleted to all; a closed or expired session tells every pending watch.

use std::collections::BTreeMap;

use zkwal_zk::{
    ClientConfig, ClientEvent, ClientSession, Ensemble, EnsembleConfig, EventType, MultiOp,
    OpResult, Request, Response, SessionState, Stat, Xid,
};

use super::model::{
    CreateMode, ErrorCode, EvKind, MOp, MRes, MultiErr, RawStat, SessState, WatchEv, Zk,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// getData or exists (the clients tell an exists watch on a missing node apart,
    /// but it fires on the same events).
    Data,
    Child,
}

struct Session {
    c: ClientSession,
    frozen: bool,
    replies: BTreeMap<Xid, Result<Response, ErrorCode>>,
    /// Watch requests in flight: xid -> (registration, kind, path).
    asked: BTreeMap<Xid, (usize, Kind, String)>,
    regs: Vec<(usize, Kind, String)>,
    events: Vec<WatchEv>,
}

pub struct MockZk {
    pub ens: Ensemble,
    pub now: u64,
    sessions: Vec<Session>,
}

fn raw(s: &Stat) -> RawStat {
    RawStat {
        version: s.version,
        cversion: s.cversion,
        aversion: s.aversion,
        num_children: s.num_children,
        data_length: s.data_length,
        ephemeral_owner: s.ephemeral_owner as i64,
        czxid: s.czxid as i64,
        mzxid: s.mzxid as i64,
        pzxid: s.pzxid as i64,
    }
}

fn interested(kind: Kind, e: EventType) -> bool {
    match e {
        EventType::NodeCreated | EventType::NodeDataChanged => kind == Kind::Data,
        EventType::NodeChildrenChanged => kind == Kind::Child,
        EventType::NodeDeleted => true,
    }
}

impl MockZk {
    pub fn new(tick_ms: u64) -> Self {
        MockZk {
            ens: Ensemble::new(EnsembleConfig::new(1, tick_ms), 0),
            now: 0,
            sessions: Vec::new(),
        }
    }

    /// Delivers every message until nothing moves, then sorts the clients' events.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            for s in &mut self.sessions {
                while let Some(m) = s.c.poll_transmit() {
                    moved = true;
                    if !s.frozen {
                        self.ens.handle_message(self.now, m);
                    }
                }
            }
            while let Some(m) = self.ens.poll_output() {
                moved = true;
                let s = &mut self.sessions[m.conn.client as usize];
                if !s.frozen {
                    s.c.handle_message(self.now, m);
                }
            }
            while self.ens.poll_notice().is_some() {}
            for s in &mut self.sessions {
                while let Some(e) = s.c.poll_event() {
                    moved = true;
                    Self::event(s, e);
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn event(s: &mut Session, e: ClientEvent) {
        match e {
            ClientEvent::Reply { xid, result } => {
                if let Some((reg, kind, path)) = s.asked.remove(&xid) {
                    if result.is_ok() {
                        s.regs.push((reg, kind, path));
                    }
                }
                s.replies.insert(xid, result);
            }
            ClientEvent::Watch(w) => {
                let mut keep = Vec::new();
                for (reg, kind, path) in std::mem::take(&mut s.regs) {
                    if path == w.path && interested(kind, w.event) {
                        let kind = match w.event {
                            EventType::NodeCreated => EvKind::NodeCreated,
                            EventType::NodeDeleted => EvKind::NodeDeleted,
                            EventType::NodeDataChanged => EvKind::NodeDataChanged,
                            EventType::NodeChildrenChanged => EvKind::NodeChildrenChanged,
                        };
                        s.events.push(WatchEv {
                            reg,
                            kind,
                            path: path.clone(),
                        });
                    } else {
                        keep.push((reg, kind, path));
                    }
                }
                s.regs = keep;
            }
            ClientEvent::State(st) => {
                let kind = match st {
                    SessionState::Closed => EvKind::SessionClosed,
                    SessionState::Expired => EvKind::SessionExpired,
                    _ => return,
                };
                for (reg, _, _) in std::mem::take(&mut s.regs) {
                    s.events.push(WatchEv {
                        reg,
                        kind,
                        path: String::new(),
                    });
                }
            }
        }
    }

    /// Runs timers due up to `until`, in order.
    fn advance_to(&mut self, until: u64) {
        loop {
            let next = self
                .sessions
                .iter()
                .filter_map(|s| s.c.deadline_ms())
                .chain(self.ens.deadline_ms())
                .min();
            match next {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    self.ens.tick(self.now);
                    for s in &mut self.sessions {
                        s.c.tick(self.now);
                    }
                    self.pump();
                }
                _ => {
                    self.now = self.now.max(until);
                    self.ens.tick(self.now);
                    self.pump();
                    return;
                }
            }
        }
    }

    /// Submits and waits for the reply (moving time only if the mock needs it, which
    /// it does not on this zero-latency network unless something is broken).
    fn call(
        &mut self,
        s: usize,
        req: Request,
        watch: Option<usize>,
    ) -> Result<Response, ErrorCode> {
        let path = match &req {
            Request::GetData { path, .. } | Request::Exists { path, .. } => {
                Some((Kind::Data, path))
            }
            Request::GetChildren { path, .. } => Some((Kind::Child, path)),
            _ => None,
        }
        .map(|(k, p)| (k, p.clone()));
        let xid = self.sessions[s].c.submit(self.now, req);
        if let (Some(reg), Some((kind, path))) = (watch, path) {
            self.sessions[s].asked.insert(xid, (reg, kind, path));
        }
        self.wait(s, xid)
    }

    /// Runs until request `xid` of session `s` is answered; its result.
    fn wait(&mut self, s: usize, xid: Xid) -> Result<Response, ErrorCode> {
        self.pump();
        let limit = self.now + 60_000;
        while !self.sessions[s].replies.contains_key(&xid) {
            assert!(self.now < limit, "mock: no reply to xid {xid} in 60 s");
            let next = self.now + 1;
            self.advance_to(next);
        }
        self.sessions[s].replies.remove(&xid).expect("reply")
    }
}

impl Zk for MockZk {
    fn open(&mut self, timeout_ms: u64) -> (usize, u64) {
        let idx = self.sessions.len();
        let mut cfg = ClientConfig::new(idx as u64, vec![0], timeout_ms);
        // zookeeper-client reads replies of any length (the Java client stops at
        // jute.maxbuffer).
        cfg.max_packet_bytes = usize::MAX;
        self.sessions.push(Session {
            c: ClientSession::new(cfg, self.now),
            frozen: false,
            replies: BTreeMap::new(),
            asked: BTreeMap::new(),
            regs: Vec::new(),
            events: Vec::new(),
        });
        self.pump();
        let limit = self.now + 60_000;
        while self.sessions[idx].c.state() != SessionState::Connected {
            assert!(self.now < limit, "mock session did not connect");
            let next = self.now + 1;
            self.advance_to(next);
        }
        (idx, self.sessions[idx].c.timeout_ms())
    }

    fn session_id(&self, s: usize) -> i64 {
        self.sessions[s].c.session_id().expect("connected").0 as i64
    }

    fn create(
        &mut self,
        s: usize,
        path: &str,
        data: &[u8],
        mode: CreateMode,
    ) -> Result<(String, RawStat), ErrorCode> {
        let req = Request::Create {
            path: path.into(),
            data: data.to_vec(),
            mode,
        };
        match self.call(s, req, None)? {
            Response::Create { path, stat } => Ok((path, raw(&stat))),
            other => panic!("create answered {other:?}"),
        }
    }

    fn delete(&mut self, s: usize, path: &str, version: i32) -> Result<(), ErrorCode> {
        let req = Request::Delete {
            path: path.into(),
            version,
        };
        match self.call(s, req, None)? {
            Response::Delete => Ok(()),
            other => panic!("delete answered {other:?}"),
        }
    }

    fn set_data(
        &mut self,
        s: usize,
        path: &str,
        data: &[u8],
        version: i32,
    ) -> Result<RawStat, ErrorCode> {
        let req = Request::SetData {
            path: path.into(),
            data: data.to_vec(),
            version,
        };
        match self.call(s, req, None)? {
            Response::SetData { stat } => Ok(raw(&stat)),
            other => panic!("setData answered {other:?}"),
        }
    }

    fn get_data(
        &mut self,
        s: usize,
        path: &str,
        watch: Option<usize>,
    ) -> Result<(Vec<u8>, RawStat), ErrorCode> {
        let req = Request::GetData {
            path: path.into(),
            watch: watch.is_some(),
        };
        match self.call(s, req, watch)? {
            Response::GetData { data, stat } => Ok((data, raw(&stat))),
            other => panic!("getData answered {other:?}"),
        }
    }

    fn exists(
        &mut self,
        s: usize,
        path: &str,
        watch: Option<usize>,
    ) -> Result<Option<RawStat>, ErrorCode> {
        let req = Request::Exists {
            path: path.into(),
            watch: watch.is_some(),
        };
        match self.call(s, req, watch)? {
            Response::Exists { stat } => Ok(stat.as_ref().map(raw)),
            other => panic!("exists answered {other:?}"),
        }
    }

    fn get_children(
        &mut self,
        s: usize,
        path: &str,
        watch: Option<usize>,
    ) -> Result<(Vec<String>, RawStat), ErrorCode> {
        let req = Request::GetChildren {
            path: path.into(),
            watch: watch.is_some(),
        };
        match self.call(s, req, watch)? {
            Response::GetChildren { children, stat } => Ok((children, raw(&stat))),
            other => panic!("getChildren answered {other:?}"),
        }
    }

    fn multi(&mut self, s: usize, ops: &[MOp]) -> Result<Vec<MRes>, MultiErr> {
        let ops = ops
            .iter()
            .map(|o| match o {
                MOp::Create { path, data, mode } => MultiOp::Create {
                    path: path.clone(),
                    data: data.clone(),
                    mode: *mode,
                },
                MOp::Delete { path, version } => MultiOp::Delete {
                    path: path.clone(),
                    version: *version,
                },
                MOp::SetData {
                    path,
                    data,
                    version,
                } => MultiOp::SetData {
                    path: path.clone(),
                    data: data.clone(),
                    version: *version,
                },
                MOp::Check { path, version } => MultiOp::Check {
                    path: path.clone(),
                    version: *version,
                },
            })
            .collect();
        let resp = self
            .call(s, Request::Multi(ops), None)
            .map_err(|code| MultiErr { index: None, code })?;
        if let Some((index, code)) = resp.multi_failure() {
            let Response::Multi(rs) = &resp else {
                unreachable!()
            };
            // The shape 3.8 reports: Ok before the failing op, -2 after it.
            for (i, r) in rs.iter().enumerate() {
                let want = match i.cmp(&index) {
                    std::cmp::Ordering::Less => ErrorCode::Ok,
                    std::cmp::Ordering::Equal => code,
                    std::cmp::Ordering::Greater => ErrorCode::RuntimeInconsistency,
                };
                assert_eq!(
                    r,
                    &OpResult::Error { err: want },
                    "mock multi result {i} of {rs:?}"
                );
            }
            return Err(MultiErr {
                index: Some(index),
                code,
            });
        }
        match resp {
            Response::Multi(rs) => Ok(rs
                .into_iter()
                .map(|r| match r {
                    OpResult::Create { path } => MRes::Create { path },
                    OpResult::Delete => MRes::Delete,
                    OpResult::SetData { stat } => MRes::SetData { stat: raw(&stat) },
                    OpResult::Check => MRes::Check,
                    OpResult::Error { err } => panic!("error {err} in a successful multi"),
                })
                .collect()),
            other => panic!("multi answered {other:?}"),
        }
    }

    fn set_data_pipelined(
        &mut self,
        s: usize,
        sets: &[(String, Vec<u8>, i32)],
    ) -> Vec<Result<RawStat, ErrorCode>> {
        let xids: Vec<Xid> = sets
            .iter()
            .map(|(path, data, version)| {
                let req = Request::SetData {
                    path: path.clone(),
                    data: data.clone(),
                    version: *version,
                };
                self.sessions[s].c.submit(self.now, req)
            })
            .collect();
        xids.into_iter()
            .map(|xid| match self.wait(s, xid)? {
                Response::SetData { stat } => Ok(raw(&stat)),
                other => panic!("setData answered {other:?}"),
            })
            .collect()
    }

    fn close(&mut self, s: usize) {
        self.sessions[s].c.close(self.now);
        self.pump();
        let limit = self.now + 60_000;
        while !matches!(
            self.sessions[s].c.state(),
            SessionState::Closed | SessionState::Expired
        ) {
            assert!(self.now < limit, "mock: close did not finish");
            let next = self.now + 1;
            self.advance_to(next);
        }
    }

    fn take_events(&mut self, s: usize) -> Vec<WatchEv> {
        // Writes whose reply was lost still commit: wait for the server to apply
        // everything (the real adapter's round trip waits as long, in real time).
        self.pump();
        let limit = self.now + 60_000;
        while self.ens.server_applied_zxid(0) < self.ens.last_zxid() {
            assert!(self.now < limit, "mock: the server did not catch up");
            let next = self.now + 1;
            self.advance_to(next);
        }
        std::mem::take(&mut self.sessions[s].events)
    }

    fn state(&mut self, s: usize) -> SessState {
        match self.sessions[s].c.state() {
            SessionState::Closed => SessState::Closed,
            SessionState::Expired => SessState::Expired,
            _ => SessState::Connected,
        }
    }

    fn freeze(&mut self, s: usize, frozen: bool) {
        self.sessions[s].frozen = frozen;
    }

    fn sleep_ms(&mut self, ms: u64) {
        let until = self.now + ms;
        self.advance_to(until);
    }

    fn now_ms(&self) -> u64 {
        self.now
    }
}
