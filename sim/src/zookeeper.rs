//! ZooKeeper on the simulated network: the mock ensemble (`zkwal-zk`) as one party,
//! and in each node a ZooKeeper session driven by a small application, [`NodeZk`].
//!
//! What the nodes do with ZooKeeper so far is the groundwork the WAL variants build
//! on (DESIGN.md §2, step [1] and [3]): each node keeps an ephemeral membership znode
//! `/nodes/n<id>` and a child watch on `/nodes`, so that it is told when a peer's
//! session ends; when its own session expires it opens a new one and registers again,
//! as an application must. The `raft` variant's decisions ignore all of it: there, the
//! ensemble only proves the mock under the full fault model (its own invariants are
//! checked after every step) and shows what the faults do to sessions.

use zkwal_zk::{
    ClientConfig, ClientEvent, ClientSession, CreateMode, EventType, Request, Response,
    SessionState,
};

use crate::scenario::ZkOptions;

pub const MEMBERS: &str = "/nodes";

/// A node's ZooKeeper session and the membership application on top of it.
pub struct NodeZk {
    pub session: ClientSession,
    /// Unique per session instance in a run: `node << 32 | sessions opened so far`.
    pub client_id: u64,
    node: u32,
    /// Members listed by the latest `getChildren`, sorted.
    pub members_seen: Vec<String>,
    /// Child-watch events received by this session and not yet reported.
    pub watch_events: u64,
    /// Time of the next session tick queued in the world (u64::MAX: none).
    pub timer_at_ms: u64,
}

/// What the world must do after a node's ZooKeeper events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZkAppAction {
    None,
    /// The session expired: open a new one (the old handle can do nothing more).
    Renew,
}

impl NodeZk {
    pub fn new(node: u32, generation: u32, opts: &ZkOptions, now_ms: u64) -> NodeZk {
        let client_id = (node as u64) << 32 | generation as u64;
        let servers: Vec<u32> = (0..opts.servers)
            .map(|i| (i + node) % opts.servers)
            .collect();
        let cfg = ClientConfig::new(client_id, servers, opts.session_timeout_ms);
        NodeZk {
            session: ClientSession::new(cfg, now_ms),
            client_id,
            node,
            members_seen: Vec::new(),
            watch_events: 0,
            timer_at_ms: u64::MAX,
        }
    }

    fn register(&mut self, now_ms: u64) {
        // Pipelined on one session, so they run in this order.
        let s = &mut self.session;
        s.submit(
            now_ms,
            Request::Create {
                path: MEMBERS.into(),
                data: vec![],
                mode: CreateMode::Persistent,
            },
        );
        let me = format!("{MEMBERS}/n{}", self.node);
        s.submit(
            now_ms,
            Request::Create {
                path: me,
                data: vec![],
                mode: CreateMode::Ephemeral,
            },
        );
        self.watch_members(now_ms);
    }

    fn watch_members(&mut self, now_ms: u64) {
        self.session.submit(
            now_ms,
            Request::GetChildren {
                path: MEMBERS.into(),
                watch: true,
            },
        );
    }

    /// Handles every pending session event; bounded by what the session queued.
    pub fn handle_events(&mut self, now_ms: u64) -> ZkAppAction {
        let mut action = ZkAppAction::None;
        while let Some(ev) = self.session.poll_event() {
            match ev {
                // Registered on every (re)connection: after a resumed session the
                // create fails with NodeExists, which is fine; after a ConnectionLoss
                // the earlier attempt may or may not have happened.
                ClientEvent::State(SessionState::Connected) => self.register(now_ms),
                ClientEvent::State(SessionState::Expired) => action = ZkAppAction::Renew,
                ClientEvent::State(_) => {}
                ClientEvent::Reply {
                    result: Ok(Response::GetChildren { children, .. }),
                    ..
                } => {
                    self.members_seen = children;
                }
                ClientEvent::Reply { .. } => {}
                ClientEvent::Watch(w) => {
                    if w.event == EventType::NodeChildrenChanged && w.path == MEMBERS {
                        self.watch_events += 1;
                        self.watch_members(now_ms);
                    }
                }
            }
        }
        action
    }
}
