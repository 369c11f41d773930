//! [`Zk`] against a real server through the `zookeeper-client` crate (async), driven
//! from the blocking test through a tokio runtime.
//!
//! Watch events: the crate hands each watch-setting call its own one-shot watcher.
//! Each is kept as a pinned future and polled without blocking after every step; to
//! be sure that the events a step triggered have arrived, each session with watches
//! pending first does a round trip (`exists` on "/", which sets no watch and takes no
//! zxid): the server sends a notification on a connection before any later reply on
//! it, and the crate dispatches both in arrival order.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use zookeeper_client as zkc;

use super::model::{
    CreateMode, ErrorCode, EvKind, MOp, MRes, MultiErr, RawStat, SessState, WatchEv, Zk,
};
use super::proxy::Proxy;

type EventFuture = Pin<Box<dyn Future<Output = zkc::WatchedEvent> + Send>>;

struct Session {
    /// `None` once the application closed it.
    client: Option<zkc::Client>,
    state: zkc::StateWatcher,
    id: i64,
    closed: bool,
    watches: Vec<(usize, EventFuture)>,
    events: Vec<WatchEv>,
    /// The session's own loopback proxy, when it may be frozen.
    proxy: Option<Proxy>,
}

/// A set of sessions on one real server.
pub struct RealZk {
    rt: Arc<tokio::runtime::Runtime>,
    addr: String,
    sessions: Vec<Session>,
    /// Sessions opened from now on go through a proxy (for freezing).
    pub via_proxy: bool,
    started: Instant,
}

fn code(e: &zkc::Error) -> ErrorCode {
    use zkc::Error as E;
    match e {
        E::NoNode => ErrorCode::NoNode,
        E::NodeExists => ErrorCode::NodeExists,
        E::BadVersion => ErrorCode::BadVersion,
        E::NoAuth => ErrorCode::NoAuth,
        E::NotEmpty => ErrorCode::NotEmpty,
        E::NoChildrenForEphemerals => ErrorCode::NoChildrenForEphemerals,
        E::BadArguments(_) => ErrorCode::BadArguments,
        E::RuntimeInconsistent => ErrorCode::RuntimeInconsistency,
        E::SessionExpired | E::ClientClosed => ErrorCode::SessionExpired,
        E::SessionMoved => ErrorCode::SessionMoved,
        // A lost connection surfaces as ConnectionLoss, a timeout, or an I/O error
        // ("no response"): the outcome is unknown in every case.
        E::ConnectionLoss | E::Timeout | E::Custom(_) => ErrorCode::ConnectionLoss,
        other => panic!("unexpected error from the real server: {other:?}"),
    }
}

fn raw(s: &zkc::Stat) -> RawStat {
    RawStat {
        version: s.version,
        cversion: s.cversion,
        aversion: s.aversion,
        num_children: s.num_children,
        data_length: s.data_length,
        ephemeral_owner: s.ephemeral_owner,
        czxid: s.czxid,
        mzxid: s.mzxid,
        pzxid: s.pzxid,
    }
}

fn mode(m: CreateMode) -> zkc::CreateMode {
    match m {
        CreateMode::Persistent => zkc::CreateMode::Persistent,
        CreateMode::Ephemeral => zkc::CreateMode::Ephemeral,
        CreateMode::PersistentSequential => zkc::CreateMode::PersistentSequential,
        CreateMode::EphemeralSequential => zkc::CreateMode::EphemeralSequential,
    }
}

fn ev_kind(e: &zkc::WatchedEvent) -> EvKind {
    use zkc::EventType as T;
    match e.event_type {
        T::NodeCreated => EvKind::NodeCreated,
        T::NodeDeleted => EvKind::NodeDeleted,
        T::NodeDataChanged => EvKind::NodeDataChanged,
        T::NodeChildrenChanged => EvKind::NodeChildrenChanged,
        T::Session => match e.session_state {
            zkc::SessionState::Expired => EvKind::SessionExpired,
            zkc::SessionState::Closed => EvKind::SessionClosed,
            other => panic!("unexpected session event {other:?}"),
        },
        #[allow(unreachable_patterns)]
        other => panic!("unexpected event type {other:?}"),
    }
}

/// The crate's expected version: `None` is -1 (any); every other value, -2 and
/// below included, goes to the server as it is.
fn version(v: i32) -> Option<i32> {
    (v != -1).then_some(v)
}

impl RealZk {
    pub fn new(rt: Arc<tokio::runtime::Runtime>, addr: String) -> Self {
        RealZk {
            rt,
            addr,
            sessions: Vec::new(),
            via_proxy: false,
            started: Instant::now(),
        }
    }

    fn client(&self, s: usize) -> Option<&zkc::Client> {
        self.sessions[s].client.as_ref()
    }

    /// Polls the pending watch futures of session `s` once, without blocking.
    fn poll_watches(&mut self, s: usize) {
        let mut cx = Context::from_waker(Waker::noop());
        let sess = &mut self.sessions[s];
        let mut still = Vec::new();
        for (reg, mut fut) in std::mem::take(&mut sess.watches) {
            match fut.as_mut().poll(&mut cx) {
                Poll::Ready(e) => {
                    let kind = ev_kind(&e);
                    let path = if e.event_type == zkc::EventType::Session {
                        String::new()
                    } else {
                        e.path.clone()
                    };
                    sess.events.push(WatchEv { reg, kind, path });
                }
                Poll::Pending => still.push((reg, fut)),
            }
        }
        sess.watches = still;
    }

    fn add_watch(&mut self, s: usize, reg: usize, w: zkc::OneshotWatcher) {
        self.sessions[s].watches.push((reg, Box::pin(w.changed())));
    }

    fn block<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }
}

impl Zk for RealZk {
    fn open(&mut self, timeout_ms: u64) -> (usize, u64) {
        let proxy = self
            .via_proxy
            .then(|| Proxy::start(&self.rt, self.addr.parse().expect("addr")));
        let target = proxy
            .as_ref()
            .map(|p| p.addr().to_string())
            .unwrap_or_else(|| self.addr.clone());
        let client = self
            .block(
                zkc::Client::connector()
                    .with_session_timeout(Duration::from_millis(timeout_ms))
                    .connect(&target),
            )
            .unwrap_or_else(|e| panic!("connecting to {target}: {e}"));
        let negotiated = client.session_timeout().as_millis() as u64;
        let id = client.session_id().0;
        let state = client.state_watcher();
        self.sessions.push(Session {
            client: Some(client),
            state,
            id,
            closed: false,
            watches: Vec::new(),
            events: Vec::new(),
            proxy,
        });
        (self.sessions.len() - 1, negotiated)
    }

    fn session_id(&self, s: usize) -> i64 {
        self.sessions[s].id
    }

    fn create(
        &mut self,
        s: usize,
        path: &str,
        data: &[u8],
        m: CreateMode,
    ) -> Result<(String, RawStat), ErrorCode> {
        let c = self.client(s).ok_or(ErrorCode::SessionExpired)?;
        let opts = mode(m).with_acls(zkc::Acls::anyone_all());
        let (stat, seq) = self
            .block(c.create(path, data, &opts))
            .map_err(|e| code(&e))?;
        let created = if m.is_sequential() {
            format!("{path}{seq}")
        } else {
            path.to_string()
        };
        Ok((created, raw(&stat)))
    }

    fn delete(&mut self, s: usize, path: &str, v: i32) -> Result<(), ErrorCode> {
        let c = self.client(s).ok_or(ErrorCode::SessionExpired)?;
        self.block(c.delete(path, version(v))).map_err(|e| code(&e))
    }

    fn set_data(
        &mut self,
        s: usize,
        path: &str,
        data: &[u8],
        v: i32,
    ) -> Result<RawStat, ErrorCode> {
        let c = self.client(s).ok_or(ErrorCode::SessionExpired)?;
        self.block(c.set_data(path, data, version(v)))
            .map(|st| raw(&st))
            .map_err(|e| code(&e))
    }

    fn get_data(
        &mut self,
        s: usize,
        path: &str,
        watch: Option<usize>,
    ) -> Result<(Vec<u8>, RawStat), ErrorCode> {
        let c = self.client(s).ok_or(ErrorCode::SessionExpired)?;
        match watch {
            None => self
                .block(c.get_data(path))
                .map(|(d, st)| (d, raw(&st)))
                .map_err(|e| code(&e)),
            Some(reg) => {
                let (d, st, w) = self
                    .block(c.get_and_watch_data(path))
                    .map_err(|e| code(&e))?;
                self.add_watch(s, reg, w);
                Ok((d, raw(&st)))
            }
        }
    }

    fn exists(
        &mut self,
        s: usize,
        path: &str,
        watch: Option<usize>,
    ) -> Result<Option<RawStat>, ErrorCode> {
        let c = self.client(s).ok_or(ErrorCode::SessionExpired)?;
        match watch {
            None => self
                .block(c.check_stat(path))
                .map(|st| st.map(|st| raw(&st)))
                .map_err(|e| code(&e)),
            Some(reg) => {
                let (st, w) = self
                    .block(c.check_and_watch_stat(path))
                    .map_err(|e| code(&e))?;
                self.add_watch(s, reg, w);
                Ok(st.map(|st| raw(&st)))
            }
        }
    }

    fn get_children(
        &mut self,
        s: usize,
        path: &str,
        watch: Option<usize>,
    ) -> Result<(Vec<String>, RawStat), ErrorCode> {
        let c = self.client(s).ok_or(ErrorCode::SessionExpired)?;
        match watch {
            None => self
                .block(c.get_children(path))
                .map(|(ch, st)| (ch, raw(&st)))
                .map_err(|e| code(&e)),
            Some(reg) => {
                let (ch, st, w) = self
                    .block(c.get_and_watch_children(path))
                    .map_err(|e| code(&e))?;
                self.add_watch(s, reg, w);
                Ok((ch, raw(&st)))
            }
        }
    }

    fn multi(&mut self, s: usize, ops: &[MOp]) -> Result<Vec<MRes>, MultiErr> {
        let whole = |code| MultiErr { index: None, code };
        if ops.is_empty() && self.client(s).is_none() {
            // The crate answers an empty multi itself whatever the session's state
            // (MultiWriter::commit checks for no operations before anything else);
            // this adapter dropped the closed handle, so say what it would.
            return Ok(Vec::new());
        }
        let c = self.client(s).ok_or(whole(ErrorCode::SessionExpired))?;
        let mut w = c.new_multi_writer();
        for op in ops {
            let r = match op {
                MOp::Create {
                    path,
                    data,
                    mode: m,
                } => w.add_create(path, data, &mode(*m).with_acls(zkc::Acls::anyone_all())),
                MOp::Delete { path, version: v } => w.add_delete(path, version(*v)),
                MOp::SetData {
                    path,
                    data,
                    version: v,
                } => w.add_set_data(path, data, version(*v)),
                MOp::Check { path, version: v } => w.add_check_version(path, *v),
            };
            r.map_err(|e| whole(code(&e)))?;
        }
        match self.block(w.commit()) {
            Ok(rs) => Ok(rs
                .into_iter()
                .map(|r| match r {
                    zkc::MultiWriteResult::Check => MRes::Check,
                    zkc::MultiWriteResult::Delete => MRes::Delete,
                    zkc::MultiWriteResult::Create { path, .. } => MRes::Create { path },
                    zkc::MultiWriteResult::SetData { stat } => MRes::SetData { stat: raw(&stat) },
                    #[allow(unreachable_patterns)]
                    other => panic!("unexpected multi result {other:?}"),
                })
                .collect()),
            Err(zkc::MultiWriteError::OperationFailed { index, source }) => Err(MultiErr {
                index: Some(index),
                code: code(&source),
            }),
            Err(zkc::MultiWriteError::RequestFailed { source }) => Err(whole(code(&source))),
        }
    }

    fn set_data_pipelined(
        &mut self,
        s: usize,
        sets: &[(String, Vec<u8>, i32)],
    ) -> Vec<Result<RawStat, ErrorCode>> {
        let Some(c) = self.client(s).cloned() else {
            return vec![Err(ErrorCode::SessionExpired); sets.len()];
        };
        // The crate sends a request when the call is made, not when it is awaited,
        // but from its own task, maybe one by one: through a proxy they are held
        // and then reach the server back to back, as from the Java client.
        let proxy = self.sessions[s].proxy.as_ref();
        if let Some(p) = proxy {
            p.set_held(true);
        }
        let calls: Vec<_> = sets
            .iter()
            .map(|(path, data, v)| c.set_data(path, data, version(*v)))
            .collect();
        if let Some(p) = proxy {
            std::thread::sleep(Duration::from_millis(30));
            p.set_held(false);
        }
        self.block(async {
            let mut out = Vec::new();
            for call in calls {
                out.push(call.await.map(|st| raw(&st)).map_err(|e| code(&e)));
            }
            out
        })
    }

    fn close(&mut self, s: usize) {
        let sess = &mut self.sessions[s];
        if sess.closed {
            return;
        }
        sess.closed = true;
        // The crate closes the session when the last handle is dropped; wait until
        // the service has answered the close.
        drop(sess.client.take());
        let mut state = sess.state.clone();
        let rt = self.rt.clone();
        rt.block_on(async {
            let wait = async {
                loop {
                    if state.peek_state().is_terminated() {
                        return;
                    }
                    state.changed().await;
                }
            };
            if tokio::time::timeout(Duration::from_secs(10), wait)
                .await
                .is_err()
            {
                panic!("session {s} did not close within 10 s");
            }
        });
        self.poll_watches(s);
    }

    fn take_events(&mut self, s: usize) -> Vec<WatchEv> {
        if !self.sessions[s].watches.is_empty() {
            if let Some(c) = self.sessions[s].client.clone() {
                // Round trip: notifications sent before its reply have been dispatched.
                let _ = self.block(c.check_stat("/"));
            }
            self.poll_watches(s);
        }
        std::mem::take(&mut self.sessions[s].events)
    }

    fn state(&mut self, s: usize) -> SessState {
        let sess = &self.sessions[s];
        if sess.closed {
            return SessState::Closed;
        }
        match sess.state.peek_state() {
            zkc::SessionState::Expired => SessState::Expired,
            zkc::SessionState::Closed => SessState::Closed,
            _ => SessState::Connected,
        }
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn freeze(&mut self, s: usize, frozen: bool) {
        self.sessions[s]
            .proxy
            .as_ref()
            .expect("session opened without a proxy")
            .set_frozen(frozen);
    }

    fn sleep_ms(&mut self, ms: u64) {
        std::thread::sleep(Duration::from_millis(ms));
        for s in 0..self.sessions.len() {
            self.poll_watches(s);
        }
    }
}

impl Drop for RealZk {
    fn drop(&mut self) {
        // Close what is still open so that no session outlives its sequence.
        for s in 0..self.sessions.len() {
            if !self.sessions[s].closed && self.sessions[s].client.is_some() {
                let st = self.sessions[s].state.peek_state();
                if !st.is_terminated() && !std::thread::panicking() {
                    self.close(s);
                }
            }
        }
    }
}
