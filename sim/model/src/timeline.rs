//! What a replay records while it runs ([`Recording`], filled only on replay through
//! [`crate::world::World::with_recorder`]): every fault, the events that matter
//! (elections and role changes, ZooKeeper sessions and watches, WAL events,
//! acknowledgements), the messages, and each node's status as it changes. The text
//! counterexample (`zkwal-sim`'s `counterexample`) and the HTML diagram
//! (`replay_html`) are drawn from it.

use std::collections::VecDeque;
use std::fmt::Write as _;

use serde::Serialize;
use zkwal_invariants::history::{Anomaly, Op};
use zkwal_raft::{Event, Role};
use zkwal_wal::{Node, WalEvent};
use zkwal_zk::{ClientBody, Notice, Request, ServerBody, SessionState};

use crate::network::{BodyView, Delivery, NetMsg, Party};
use crate::scenario::{Fault, Scenario};

/// Messages kept (the latest ones): the HTML draws at most these.
pub const KEEP_MESSAGES: usize = 20_000;
/// Events other than messages and faults kept (the latest ones).
pub const KEEP_EVENTS: usize = 50_000;

/// A lane of the diagram: who sent, received or suffered something.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lane {
    Node(u32),
    /// A ZooKeeper server (nodes' sessions talk to one server at a time).
    Zk(u32),
    Client(u32),
}

impl std::fmt::Display for Lane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lane::Node(n) => write!(f, "n{n}"),
            Lane::Zk(s) => write!(f, "zk{s}"),
            Lane::Client(c) => write!(f, "c{c}"),
        }
    }
}

/// What a node looked like after an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct NodeStatus {
    /// "Leader", "Follower", "Candidate", "Recovering", or "down".
    pub role: &'static str,
    pub term: u64,
    /// The epoch the node acts under (fenced: ZooKeeper's; else the Raft term).
    pub epoch: u64,
    pub commit: u64,
    pub last: u64,
    pub applied: u64,
    pub session: Option<&'static str>,
}

impl NodeStatus {
    pub const DOWN: NodeStatus = NodeStatus {
        role: "down",
        term: 0,
        epoch: 0,
        commit: 0,
        last: 0,
        applied: 0,
        session: None,
    };

    fn of(core: &Node) -> NodeStatus {
        let r = core.raft();
        NodeStatus {
            role: role_name(r.role()),
            term: r.term(),
            epoch: core.epoch(),
            commit: r.commit_index(),
            last: r.log().last_index(),
            applied: r.applied_index(),
            session: core.zk_session().map(|s| session_name(s.state())),
        }
    }
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::Leader => "Leader",
        Role::Follower => "Follower",
        Role::Candidate => "Candidate",
        Role::Recovering => "Recovering",
    }
}

fn session_name(s: SessionState) -> &'static str {
    match s {
        SessionState::Connecting => "connecting",
        SessionState::Connected => "connected",
        SessionState::Disconnected => "disconnected",
        SessionState::Expired => "expired",
        SessionState::Lost => "lost",
        SessionState::Closed => "closed",
    }
}

/// One recorded event (messages are kept apart, see [`Message`]).
#[derive(Clone, Debug, Serialize)]
pub struct Recorded {
    /// Order of recording, shared with messages.
    pub seq: u64,
    pub at_ms: u64,
    pub lane: Option<Lane>,
    pub what: What,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum What {
    /// A scheduled fault fired: scenario index, description, the lanes it hits and
    /// until when (for the diagram's bands).
    Fault {
        idx: usize,
        text: String,
        lanes: Vec<Lane>,
        until_ms: Option<u64>,
        /// A pause: the lanes' processes handle no input until `until_ms`, so messages
        /// that arrive meanwhile are handled then (the diagram draws them so).
        holds_inputs: bool,
    },
    Down {
        wipe: bool,
        lost: usize,
    },
    Up,
    Heal,
    /// The node's role or term changed.
    Role {
        status: NodeStatus,
    },
    /// Every status change (commit, last index...): for the status lines, not printed.
    Status {
        status: NodeStatus,
    },
    /// A Raft event worth reading (elections, truncation, snapshots, recovery).
    Raft {
        text: String,
    },
    /// A WAL-layer event (steps A and F of the notes, recovery, fencing, publication).
    Wal {
        text: String,
        ack: bool,
    },
    Session {
        text: String,
    },
    Watch {
        count: u64,
    },
    Violation {
        invariant: String,
        detail: String,
    },
}

impl What {
    /// Whether the text timeline shows it (status changes only feed the status lines).
    pub fn printed(&self) -> bool {
        !matches!(self, What::Status { .. })
    }
}

/// A message as sent: where it goes and when it arrives (None: dropped).
#[derive(Clone, Debug, Serialize)]
pub struct Message {
    pub seq: u64,
    pub at_ms: u64,
    pub from: Lane,
    pub to: Lane,
    pub arrive_ms: Option<u64>,
    /// The second copy of a duplicated message.
    pub again_ms: Option<u64>,
    /// "raft", "client", "zk" or "ping" (ZooKeeper pings and pongs).
    pub class: &'static str,
    pub label: String,
}

/// Everything recorded during one replay.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Recording {
    pub nodes: u32,
    /// Scripted clients plus the liveness probe (the last one).
    pub clients: u32,
    pub zk_servers: u32,
    pub fenced: bool,
    /// Faults, downs, restarts and the violation: always kept.
    pub major: Vec<Recorded>,
    /// Everything else, the latest [`KEEP_EVENTS`].
    pub events: VecDeque<Recorded>,
    pub messages: VecDeque<Message>,
    /// Events and messages that fell out of the rings.
    pub events_dropped: u64,
    pub messages_dropped: u64,
    pub history: Vec<Op>,
    pub anomaly: Option<Anomaly>,
    #[serde(skip)]
    status: Vec<NodeStatus>,
    #[serde(skip)]
    seq: u64,
}

impl Recording {
    pub(crate) fn begin(&mut self, sc: &Scenario) {
        self.nodes = sc.nodes;
        self.clients = sc.clients.len() as u32 + 1;
        self.zk_servers = sc.options.zk.as_ref().map_or(0, |z| z.servers);
        self.fenced = sc.variant == crate::scenario::Variant::Fenced;
        self.status = vec![NodeStatus::DOWN; sc.nodes as usize];
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn push(&mut self, at_ms: u64, lane: Option<Lane>, what: What) {
        let seq = self.next_seq();
        let e = Recorded {
            seq,
            at_ms,
            lane,
            what,
        };
        match e.what {
            What::Fault { .. }
            | What::Down { .. }
            | What::Up
            | What::Heal
            | What::Violation { .. } => self.major.push(e),
            _ => {
                if self.events.len() == KEEP_EVENTS {
                    self.events.pop_front();
                    self.events_dropped += 1;
                }
                self.events.push_back(e);
            }
        }
    }

    fn lane_of(&self, p: Party, msg: &NetMsg) -> Lane {
        let n = self.nodes as usize;
        if p < n {
            Lane::Node(p as u32)
        } else if p < n + self.clients as usize {
            Lane::Client((p - n) as u32)
        } else {
            match msg {
                NetMsg::ToZk(m) => Lane::Zk(m.server),
                NetMsg::FromZk(m) => Lane::Zk(m.server),
                _ => Lane::Zk(0),
            }
        }
    }

    pub(crate) fn message(&mut self, now: u64, from: Party, to: Party, msg: &NetMsg, d: Delivery) {
        let (arrive_ms, again_ms) = match d {
            Delivery::Dropped => (None, None),
            Delivery::Once(a) => (Some(a), None),
            Delivery::Twice(a, b) => (Some(a), Some(b)),
        };
        let (class, label) = message_label(msg);
        let m = Message {
            seq: self.next_seq(),
            at_ms: now,
            from: self.lane_of(from, msg),
            to: self.lane_of(to, msg),
            arrive_ms,
            again_ms,
            class,
            label,
        };
        if self.messages.len() == KEEP_MESSAGES {
            self.messages.pop_front();
            self.messages_dropped += 1;
        }
        self.messages.push_back(m);
    }

    pub(crate) fn fault(&mut self, now: u64, idx: usize, f: &Fault, leader: Option<u32>) {
        let all_nodes: Vec<Lane> = (0..self.nodes).map(Lane::Node).collect();
        let all_zk: Vec<Lane> = (0..self.zk_servers).map(Lane::Zk).collect();
        let leader: Vec<Lane> = leader.map(Lane::Node).into_iter().collect();
        let (lanes, span) = match f {
            Fault::Crash { node, down_ms } | Fault::Wipe { node, down_ms } => {
                (vec![Lane::Node(*node)], Some(*down_ms))
            }
            Fault::Pause { node, ms } | Fault::ZkCutOff { node, ms } => {
                (vec![Lane::Node(*node)], Some(*ms))
            }
            Fault::Partition { side, ms, .. } => {
                (side.iter().map(|n| Lane::Node(*n)).collect(), Some(*ms))
            }
            Fault::CrashLeader { down_ms } => (leader, Some(*down_ms)),
            Fault::IsolateLeader { ms } | Fault::PauseLeader { ms } => (leader, Some(*ms)),
            Fault::ZkOutage { ms } => (all_zk, Some(*ms)),
            Fault::ZkLag { server, ms, .. } => (vec![Lane::Zk(*server)], Some(*ms)),
            Fault::ZkPin { node, server } => (vec![Lane::Node(*node), Lane::Zk(*server)], None),
            Fault::TotalLoss { down_ms, .. } => (all_nodes, Some(*down_ms)),
            Fault::ZkLeaderChange { unavailable_ms, .. } => (all_zk, Some(*unavailable_ms)),
        };
        let mut text = fault_text(f);
        if f.aims_at_leader() {
            match lanes.first() {
                Some(l) => {
                    let _ = write!(text, " -> {l}");
                }
                None => text.push_str(" (no leader: no effect)"),
            }
        }
        let lane = lanes.first().copied();
        self.push(
            now,
            lane,
            What::Fault {
                idx,
                text,
                lanes,
                until_ms: span.map(|s| now + s),
                holds_inputs: matches!(f, Fault::Pause { .. } | Fault::PauseLeader { .. }),
            },
        );
    }

    pub(crate) fn down(&mut self, now: u64, node: u32, wipe: bool, lost: usize) {
        self.status[node as usize] = NodeStatus::DOWN;
        self.push(now, Some(Lane::Node(node)), What::Down { wipe, lost });
    }

    pub(crate) fn up(&mut self, now: u64, node: u32) {
        self.push(now, Some(Lane::Node(node)), What::Up);
    }

    pub(crate) fn heal(&mut self, now: u64) {
        self.push(now, None, What::Heal);
    }

    /// After each input of a node: its Raft events worth reading, and its status when
    /// it changed.
    pub(crate) fn node_step(&mut self, now: u64, core: &Node, events: &[Event]) {
        let node = core.raft().id();
        let lane = Some(Lane::Node(node));
        for e in events {
            let text = match e {
                Event::BecameLeader { term } => format!("became leader of term {term}"),
                Event::Truncated { from, commit } => {
                    format!("truncated its log from index {from} (commit {commit})")
                }
                Event::ConflictAtCommit {
                    index,
                    commit,
                    theirs,
                    leader_term,
                    ..
                } => format!(
                    "refused the leader of term {leader_term}'s entry of term {theirs} at \
                     {index}: a conflict at or below its commit {commit}"
                ),
                Event::SnapshotInstalled { index, term } => {
                    format!("installed a snapshot up to ({index}, term {term})")
                }
                Event::Recovered { term, last_index } => {
                    format!("recovered its blank disk: term {term}, last index {last_index}")
                }
                Event::Appended { .. } | Event::CommitAdvanced { .. } | Event::Applied { .. } => {
                    continue
                }
            };
            self.push(now, lane, What::Raft { text });
        }
        let status = NodeStatus::of(core);
        let before = self.status[node as usize];
        if status == before {
            return;
        }
        self.status[node as usize] = status;
        if status.session != before.session && before.role != "down" {
            if let Some(s) = status.session {
                let text = format!("ZooKeeper session {}", s);
                self.push(now, lane, What::Session { text });
            }
        }
        if (status.role, status.term, status.epoch) != (before.role, before.term, before.epoch) {
            self.push(now, lane, What::Role { status });
        } else {
            self.push(now, lane, What::Status { status });
        }
    }

    pub(crate) fn wal(&mut self, now: u64, events: &[WalEvent]) {
        for e in events {
            let (node, ack, text) = match e {
                WalEvent::WalAppended {
                    node,
                    index,
                    term,
                    path,
                    ..
                } => (
                    *node,
                    false,
                    format!("WAL append ({index}, t{term}) at {path}"),
                ),
                WalEvent::Acked {
                    node,
                    index,
                    term,
                    epoch,
                    ..
                } => (
                    *node,
                    true,
                    format!("acknowledged ({index}, t{term}) to its client, epoch {epoch}"),
                ),
                WalEvent::Recovered {
                    node,
                    wal,
                    index,
                    term,
                    ..
                } => (
                    *node,
                    false,
                    format!("recovered ({index}, t{term}) from WAL {wal}"),
                ),
                WalEvent::Fenced { node, epoch } => {
                    (*node, false, format!("fenced: bumped /epoch to {epoch}"))
                }
                WalEvent::Published { node, index, bytes } => (
                    *node,
                    false,
                    format!("published a snapshot up to {index} ({bytes} bytes), WAL truncated"),
                ),
                WalEvent::SteppedDown { node, why } => {
                    (*node, false, format!("stepped down ({why})"))
                }
                WalEvent::SessionLost { node, by_client } => (
                    *node,
                    false,
                    if *by_client {
                        "ZooKeeper session lost (client timer), new session".to_string()
                    } else {
                        "ZooKeeper session lost (expired), new session".to_string()
                    },
                ),
                WalEvent::BlankReadStarted { node } => {
                    (*node, false, "blank disk: recovery read begins".to_string())
                }
                WalEvent::BlankRecovered {
                    node,
                    term,
                    snapshot_index,
                    entries,
                    ..
                } => (
                    *node,
                    false,
                    format!(
                        "blank disk recovered in term {term}: snapshot to {snapshot_index}, {} entries",
                        entries.len()
                    ),
                ),
                WalEvent::EpochCheckFailed {
                    node,
                    checked,
                    leading,
                } => (
                    *node,
                    false,
                    format!("epoch check failed (written under {checked}, leading under {leading})"),
                ),
                WalEvent::TakeoverReadStarted { node } => {
                    (*node, false, "takeover read begins".to_string())
                }
                WalEvent::Reached { node, situation } => (
                    *node,
                    false,
                    format!("situation reached: {}", situation.name()),
                ),
            };
            self.push(now, Some(Lane::Node(node)), What::Wal { text, ack });
        }
    }

    pub(crate) fn watch(&mut self, now: u64, node: u32, count: u64) {
        self.push(now, Some(Lane::Node(node)), What::Watch { count });
    }

    pub(crate) fn zk_notice(&mut self, now: u64, n: &Notice) {
        let text = match n {
            Notice::SessionCreated { session, .. } => format!("session {:#x} created", session.0),
            Notice::SessionExpired {
                session,
                ephemerals,
                ..
            } => format!(
                "session {:#x} expired; ephemerals deleted: {}",
                session.0,
                if ephemerals.is_empty() {
                    "none".to_string()
                } else {
                    ephemerals.join(", ")
                }
            ),
            Notice::SessionClosed { session, .. } => format!("session {:#x} closed", session.0),
            Notice::LeaderChanged { old, new, .. } => {
                format!("ensemble leader changed: zk{old} -> zk{new}")
            }
        };
        self.push(now, None, What::Session { text });
    }

    pub(crate) fn violation(&mut self, now: u64, invariant: &str, detail: &str) {
        self.push(
            now,
            None,
            What::Violation {
                invariant: invariant.into(),
                detail: detail.into(),
            },
        );
    }

    pub(crate) fn history(&mut self, ops: impl Iterator<Item = Op>) {
        self.history = ops.collect();
    }

    pub(crate) fn anomaly(&mut self, a: &Anomaly) {
        self.anomaly = Some(a.clone());
    }

    /// The violating step, if the run recorded one.
    pub fn violation_event(&self) -> Option<&Recorded> {
        self.major
            .iter()
            .find(|e| matches!(e.what, What::Violation { .. }))
    }

    /// Every non-message event, in recording order.
    pub fn all_events(&self) -> Vec<&Recorded> {
        let mut all: Vec<&Recorded> = self.major.iter().chain(self.events.iter()).collect();
        all.sort_by_key(|e| e.seq);
        all
    }
}

/// A fault as `kind {fields}`, from its JSON form (the names the scenario file uses).
pub fn fault_text(f: &Fault) -> String {
    match serde_json::to_value(f) {
        Ok(serde_json::Value::Object(m)) if m.len() == 1 => {
            let (k, v) = m.into_iter().next().expect("one entry");
            format!("{k} {v}")
        }
        Ok(v) => v.to_string(),
        Err(_) => format!("{f:?}"),
    }
}

/// Shortens `s` to at most `max` characters (on a char boundary).
pub fn clip(mut s: String, max: usize) -> String {
    if s.chars().count() > max {
        s = s.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
    }
    s
}

fn message_label(msg: &NetMsg) -> (&'static str, String) {
    match msg {
        NetMsg::Raft(m) => ("raft", format!("t{} {:?}", m.term, BodyView(&m.body))),
        NetMsg::ClientReq {
            client,
            attempt,
            command,
        } => (
            "client",
            format!(
                "c{client} request #{} {:?} (attempt {attempt})",
                command.request_id, command.op
            ),
        ),
        NetMsg::ClientResp {
            request_id, result, ..
        } => (
            "client",
            match result {
                Ok(r) => clip(format!("reply #{request_id} {r:?}"), 120),
                Err(hint) => format!("reply #{request_id} not leader (hint {hint:?})"),
            },
        ),
        NetMsg::ToZk(m) => match &m.body {
            ClientBody::Ping => ("ping", "ping".into()),
            ClientBody::Request { xid, request } => {
                ("zk", format!("xid {xid} {}", request_label(request)))
            }
            other => ("zk", clip(format!("{other:?}"), 100)),
        },
        NetMsg::FromZk(m) => match &m.body {
            ServerBody::Pong { .. } => ("ping", "pong".into()),
            ServerBody::Reply { xid, result, .. } => (
                "zk",
                match result {
                    Ok(_) => format!("xid {xid} ok"),
                    Err(e) => format!("xid {xid} error {e:?}"),
                },
            ),
            ServerBody::Watch(e) => ("zk", format!("watch {:?} {}", e.event, e.path)),
            other => ("zk", clip(format!("{other:?}"), 100)),
        },
    }
}

fn request_label(r: &Request) -> String {
    match r {
        Request::Create { path, .. } => format!("create {path}"),
        Request::Delete { path, .. } => format!("delete {path}"),
        Request::Exists { path, watch } => format!("exists {path}{}", watch_mark(*watch)),
        Request::GetData { path, watch } => format!("getData {path}{}", watch_mark(*watch)),
        Request::SetData { path, version, .. } => format!("setData {path} v{version}"),
        Request::GetChildren { path, watch } => {
            format!("getChildren {path}{}", watch_mark(*watch))
        }
        Request::Sync { path } => format!("sync {path}"),
        Request::Multi(ops) => format!("multi of {}", ops.len()),
        Request::Close => "close".into(),
    }
}

fn watch_mark(w: bool) -> &'static str {
    if w {
        " (watch)"
    } else {
        ""
    }
}
