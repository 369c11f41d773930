//! The node core every variant runs: the Raft core plus, for the WAL variants, a
//! ZooKeeper client session and the WAL protocol on top of it. Sans-IO, like its
//! parts: every input carries `now_ms`; outputs are polled ([`Node::poll_output`]);
//! there is no clock, socket or randomness inside (election jitter is an argument).
//!
//! The world drives every variant through this one type; the variant decides here.
//!
//! Steps of the notes (DESIGN.md §2), where they happen:
//! - [1] a node that becomes Raft leader creates the ephemeral `/leader` znode
//!   ([`Node::on_became_leader`]), and again on every new session while it leads;
//! - [2] A: [`Node::propose`] writes the entry to the leader's WAL first; B: only when
//!   ZooKeeper confirms it does the entry enter the Raft log (`drain_wal_queue`);
//!   C, D: Raft replication and commit (the commit rule of the variant), and the
//!   commit index recorded in `/commit`; E, F: applied, then the client is answered;
//! - [3] followers keep an exists-watch on `/leader`; when it fires NodeDeleted (the
//!   leader's session expired), they read the WALs in ZooKeeper (`reader.rs`), append
//!   what they miss through the Raft append seam, and campaign;
//! - [4] a node with a blank disk loads the snapshot published in ZooKeeper and every
//!   later WAL, and rejoins as a follower; a returning node is brought up to date by
//!   Raft's InstallSnapshot.

use std::collections::{BTreeMap, VecDeque};

use zkwal_raft::{
    ClientId, ClientReply, Command, CommitRule, Config, DurableState, Entry, Index, Message,
    NodeId, Output, Payload, RaftNode, Role, Term, Write, WriteId,
};
use zkwal_zk::{
    ClientConfig, ClientEvent, ClientExpiry, ClientMsg, ClientSession, CreateMode, ErrorCode,
    EventType, MultiOp, Request, Response, ServerMsg, SessionState, Xid,
};

use crate::config::{PauseMonitor, WalOptions, WalVariant, ZkClientOptions};
use crate::events::WalEvent;
use crate::layout::{self, LeaderInfo, SnapHeader, WalHeader};
use crate::reader::{ReadPurpose, ReadStep, Reader};
use crate::situation::Situation;

/// Everything a node is started with.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub raft: Config,
    pub variant: WalVariant,
    /// None: no ZooKeeper (only the `raft` variant may run without it).
    pub zk: Option<ZkClientOptions>,
    pub wal: WalOptions,
    pub pause_monitor: Option<PauseMonitor>,
}

/// What the driver must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeOutput {
    /// As [`Output::Persist`]: make durable in order, then call [`Node::persisted`].
    Persist {
        id: WriteId,
        write: Write,
    },
    Send(Message),
    /// Answer a client whose request this node proposed: it was applied.
    Reply {
        client: ClientId,
        request_id: u64,
        reply: ClientReply,
    },
    /// A message from this node's ZooKeeper session to the ensemble.
    ToZk(ClientMsg),
}

/// What a ZooKeeper request was for (replies come back with its xid).
#[derive(Clone, Debug)]
enum Req {
    Ignore,
    Members,
    LeaderExists,
    LeaderCreate,
    WalHeader {
        term: Term,
    },
    WalEntry {
        term: Term,
        index: Index,
    },
    Commit {
        term: Term,
        index: Index,
    },
    Publish {
        term: Term,
        index: Index,
        bytes: u64,
        chunks: u32,
    },
    /// A step of a publication too large for one request (see `Staged`): the header
    /// or one chunk, each its own epoch-checked create.
    PublishPart {
        term: Term,
        index: Index,
    },
    /// A staged publication's listing of `/snap` (None) or of one snapshot's chunks.
    PublishList {
        term: Term,
        index: Index,
        snap: Option<Index>,
    },
    Survey {
        term: Term,
        what: SurveyReq,
    },
    Read {
        gen: u64,
        step: ReadStep,
    },
}

impl Req {
    /// A write of the WAL protocol (its outcome matters).
    fn is_write(&self) -> bool {
        matches!(
            self,
            Req::LeaderCreate
                | Req::WalHeader { .. }
                | Req::WalEntry { .. }
                | Req::Commit { .. }
                | Req::Publish { .. }
                | Req::PublishPart { .. }
        )
    }
}

#[derive(Clone, Debug)]
enum SurveyReq {
    SnapPtr,
    SnapHeader(Index),
    WalList,
    WalChildren(String),
}

struct Zk {
    session: ClientSession,
    client_id: u64,
    reqs: BTreeMap<Xid, Req>,
    /// fenced: the epoch each epoch-checked request in flight was checked against
    /// (only for the typed event of a failed check; the node decides from `Req`).
    checked: BTreeMap<Xid, u64>,
}

/// One entry on its way through step A.
#[derive(Clone, Debug)]
struct WalWrite {
    index: Index,
    /// The entry's own term: the leader's, or an older one for the inherited tail.
    term: Term,
    payload: Payload,
    /// None for the leader's no-op, already in the log.
    command: Option<Command>,
    sent: bool,
    acked: bool,
}

/// The WAL state of one leadership (one term at this node).
struct Leadership {
    term: Term,
    wal: String,
    header: WalHeader,
    header_sent: bool,
    header_acked: bool,
    /// Entries written or to be written, in index order; the front leaves once acked.
    queue: VecDeque<WalWrite>,
    /// Every entry of this WAL up to here is confirmed by ZooKeeper.
    acked_through: Index,
    commit_in_flight: bool,
    commit_recorded: Index,
    publish_in_flight: bool,
    published: Index,
    /// Own WAL entries deleted up to here.
    own_truncated_through: Index,
    /// What the survey found: the published snapshot, and older WALs with their entries.
    survey_pending: usize,
    survey_failed: bool,
    /// The published snapshot: its index and number of chunks (when known).
    known_snapshot: Option<(Index, Option<u32>)>,
    older: BTreeMap<String, Vec<Index>>,
    /// A publication in steps, under way (`publish_in_flight` is set with it).
    staged: Option<Staged>,
}

/// A snapshot publication too large for one request (the single `multi` would pass
/// `jute.maxbuffer`): its header and each chunk are written by their own
/// epoch-checked creates, `/snap` is listed for orphans of earlier interrupted
/// publications, and once every step succeeded one small `multi` checks the epoch,
/// flips `/snapshot`, and deletes the old snapshot, the WAL entries it covers and the
/// orphans. Until that flip nothing points at the new snapshot: a crash, a lost
/// connection or a deposition between the steps leaves an orphan `/snap/<index>`
/// that no reader follows, cleaned by the next staged publication.
struct Staged {
    index: Index,
    bytes: u64,
    chunks: u32,
    /// Steps sent and not yet answered (header, chunks, listings).
    pending: usize,
    failed: bool,
    /// Other snapshots found under `/snap`, with their chunk names (as listed).
    others: BTreeMap<Index, Option<Vec<String>>>,
}

/// The node core; see the module documentation.
pub struct Node {
    cfg: NodeConfig,
    raft: RaftNode,
    zk: Option<Zk>,
    sessions_opened: u32,
    /// Client requests this node proposed, with the epoch they were proposed under.
    pending: Vec<(ClientId, u64, u64)>,
    outputs: VecDeque<NodeOutput>,
    events: Vec<WalEvent>,
    /// Membership watch events received (a peer's session ended, or began).
    watch_events: u64,
    seen: (Role, Term),
    lead: Option<Leadership>,
    reader: Option<Reader>,
    read_gen: u64,
    read_retry: Option<(u64, ReadPurpose)>,
    /// fenced: the epoch this node set (the `/epoch` version after its bump); 0: none.
    epoch: u64,
    /// fenced: the Raft term that bump reserved. Only a leadership in exactly this
    /// term may act under `epoch`.
    epoch_term: Term,
    /// Pause monitor: when the last check ran, and when the next one is due.
    last_check_ms: u64,
    next_check_ms: u64,
    /// Writes that ended in ConnectionLoss: applied or not, nobody can tell.
    zk_unknown_outcomes: u64,
}

/// Most ZooKeeper events handled per input (a bound on every loop).
const MAX_ZK_EVENTS_PER_INPUT: usize = 1 << 16;

impl Node {
    /// Starts (or restarts) a node from its durable state. `sessions_opened` is how many
    /// ZooKeeper sessions earlier incarnations opened (client ids stay unique).
    pub fn new(
        mut cfg: NodeConfig,
        durable: &DurableState,
        now_ms: u64,
        jitter_ms: u64,
        sessions_opened: u32,
    ) -> Node {
        assert!(
            cfg.zk.is_some() || !cfg.variant.has_wal(),
            "a WAL variant needs ZooKeeper"
        );
        if cfg.variant.has_wal() {
            // A blank disk is recovered from ZooKeeper (step [4]), not from the peers.
            cfg.raft.peer_recovery = false;
        }
        let mut raft = RaftNode::new(cfg.raft.clone(), durable, now_ms, jitter_ms);
        match cfg.variant {
            WalVariant::Raft | WalVariant::Seed => {}
            WalVariant::SeedZkQuorum => raft.set_commit_rule(CommitRule::MajorityOrExternal),
            WalVariant::Fenced => {
                raft.set_commit_rule(CommitRule::External);
                raft.set_may_campaign(false);
            }
        }
        let seen = (raft.role(), raft.term());
        let mut node = Node {
            raft,
            zk: None,
            sessions_opened,
            pending: Vec::new(),
            outputs: VecDeque::new(),
            events: Vec::new(),
            watch_events: 0,
            seen,
            lead: None,
            reader: None,
            read_gen: 0,
            read_retry: None,
            epoch: 0,
            epoch_term: 0,
            last_check_ms: now_ms,
            next_check_ms: cfg
                .pause_monitor
                .map_or(u64::MAX, |p| now_ms + p.check_interval_ms),
            zk_unknown_outcomes: 0,
            cfg,
        };
        node.open_session(now_ms);
        node.pump(now_ms);
        node
    }

    // ----- Views -----

    pub fn raft(&self) -> &RaftNode {
        &self.raft
    }
    pub fn raft_mut(&mut self) -> &mut RaftNode {
        &mut self.raft
    }
    pub fn variant(&self) -> WalVariant {
        self.cfg.variant
    }
    pub fn sessions_opened(&self) -> u32 {
        self.sessions_opened
    }
    /// The client id of the current ZooKeeper session (its messages carry it).
    pub fn zk_client_id(&self) -> Option<u64> {
        self.zk.as_ref().map(|z| z.client_id)
    }
    pub fn zk_session(&self) -> Option<&ClientSession> {
        self.zk.as_ref().map(|z| &z.session)
    }
    /// The epoch this node acts under: the ZooKeeper epoch (fenced) or the Raft term.
    pub fn epoch(&self) -> u64 {
        if self.cfg.variant.fenced() {
            self.epoch
        } else {
            self.raft.term()
        }
    }
    /// The recovery read in progress, if any, and what it is for.
    pub fn reading(&self) -> Option<ReadPurpose> {
        self.reader.as_ref().map(|r| r.purpose)
    }
    /// Whether this leader's snapshot publication (with its truncation) is in flight.
    pub fn publishing(&self) -> bool {
        self.lead.as_ref().is_some_and(|l| l.publish_in_flight)
    }
    /// The ZooKeeper server the current session is connected to, if any.
    pub fn zk_server(&self) -> Option<u32> {
        self.zk.as_ref().and_then(|z| z.session.server())
    }
    /// Writes whose outcome this node could not know (ConnectionLoss), since the last call.
    pub fn take_unknown_outcomes(&mut self) -> u64 {
        std::mem::take(&mut self.zk_unknown_outcomes)
    }
    pub fn take_watch_events(&mut self) -> u64 {
        std::mem::take(&mut self.watch_events)
    }
    /// The WAL layer's events since the last call (the caller keeps the capacity).
    pub fn drain_wal_events(&mut self, into: &mut Vec<WalEvent>) {
        into.append(&mut self.events);
    }
    /// When [`Node::aux_tick`] must run next: the ZooKeeper session's timers, the
    /// pause monitor's check, a WAL read's retry.
    pub fn aux_deadline_ms(&self) -> Option<u64> {
        let session = self.zk.as_ref().and_then(|z| z.session.deadline_ms());
        let retry = self.read_retry.map(|(at, _)| at);
        let check = (self.next_check_ms != u64::MAX).then_some(self.next_check_ms);
        [session, retry, check].into_iter().flatten().min()
    }

    /// The ZooKeeper session's own invariants.
    pub fn check_zk(&self) -> Result<(), String> {
        self.zk
            .as_ref()
            .map_or(Ok(()), |z| z.session.check_invariants())
    }

    // ----- Inputs -----

    pub fn step(&mut self, now_ms: u64, msg: Message) {
        self.raft.step(now_ms, msg);
        self.pump(now_ms);
    }

    pub fn tick(&mut self, now_ms: u64, jitter_ms: u64) {
        self.raft.tick(now_ms, jitter_ms);
        self.pump(now_ms);
    }

    pub fn persisted(&mut self, now_ms: u64, id: WriteId) {
        self.raft.persisted(now_ms, id);
        self.pump(now_ms);
    }

    /// A client command. The plain Raft path proposes at once; a WAL variant first
    /// writes the entry to its WAL (step A) and proposes it when ZooKeeper confirms.
    /// Err carries the leader hint for a refusal.
    pub fn propose(&mut self, now_ms: u64, command: Command) -> Result<(), Option<NodeId>> {
        if self.wal_entry_too_large(&command) {
            // Refused to the client at once, as failed: written nowhere, so nothing
            // else is held up behind it and no retry can ever succeed (no livelock).
            self.outputs.push_back(NodeOutput::Reply {
                client: command.client,
                request_id: command.request_id,
                reply: ClientReply::TooLarge,
            });
            self.pump(now_ms);
            return Ok(());
        }
        let result = if self.cfg.variant.has_wal() {
            self.propose_via_wal(now_ms, command)
        } else {
            self.raft
                .propose(now_ms, command)
                .map(|_| ())
                .map_err(|nl| nl.leader_hint)
        };
        if result.is_ok() {
            let key = (command.client, command.request_id);
            if !self.pending.iter().any(|p| (p.0, p.1) == key) {
                self.pending.push((key.0, key.1, self.epoch()));
            }
        }
        self.pump(now_ms);
        result
    }

    /// A message from the ensemble to this node's session (an older session's
    /// messages find no listener).
    pub fn zk_message(&mut self, now_ms: u64, msg: ServerMsg) {
        if let Some(z) = self.zk.as_mut() {
            if msg.conn.client == z.client_id {
                z.session.handle_message(now_ms, msg);
            }
        }
        self.pump(now_ms);
    }

    /// The deadline of [`Node::aux_deadline_ms`] has passed (maybe late: a pause).
    pub fn aux_tick(&mut self, now_ms: u64) {
        self.monitor(now_ms);
        if let Some(z) = self.zk.as_mut() {
            if z.session.deadline_ms().is_some_and(|d| d <= now_ms) {
                z.session.tick(now_ms);
            }
        }
        if let Some((at, purpose)) = self.read_retry {
            if at <= now_ms {
                self.read_retry = None;
                self.start_read(now_ms, purpose);
            }
        }
        self.pump(now_ms);
    }

    pub fn poll_output(&mut self) -> Option<NodeOutput> {
        loop {
            match self.raft.poll_output() {
                Some(Output::Persist { id, write }) => {
                    return Some(NodeOutput::Persist { id, write })
                }
                Some(Output::Send(m)) => return Some(NodeOutput::Send(m)),
                Some(Output::Applied {
                    index,
                    command,
                    reply,
                }) => {
                    let key = (command.client, command.request_id);
                    if let Some(p) = self.pending.iter().position(|k| (k.0, k.1) == key) {
                        let (_, _, epoch) = self.pending.swap_remove(p);
                        self.on_ack(index, &command, epoch);
                        return Some(NodeOutput::Reply {
                            client: command.client,
                            request_id: command.request_id,
                            reply,
                        });
                    }
                }
                None => break,
            }
        }
        self.outputs.pop_front()
    }

    /// Records a situation only this node can see (an event the world counts).
    fn reach(&mut self, situation: Situation) {
        self.events.push(WalEvent::Reached {
            node: self.raft.id(),
            situation,
        });
    }

    // ----- Pause monitor (JvmPauseMonitor) -----

    /// Runs the periodic check if it is due (only from [`Node::aux_tick`]: the check is
    /// its own timer, like Ratis' thread, so after a pause the inputs queued before
    /// it are handled first). The check compares how long it really slept with its
    /// interval: a leader stopped for longer than the threshold steps down.
    fn monitor(&mut self, now_ms: u64) {
        let Some(pm) = self.cfg.pause_monitor else {
            return;
        };
        if now_ms < self.next_check_ms {
            return;
        }
        let slept = now_ms - self.last_check_ms;
        self.last_check_ms = now_ms;
        self.next_check_ms = now_ms + pm.check_interval_ms;
        if slept > pm.check_interval_ms + pm.step_down_ms && self.raft.role() == Role::Leader {
            self.raft.step_down(now_ms);
            self.events.push(WalEvent::SteppedDown {
                node: self.raft.id(),
                why: "pause monitor",
            });
        }
    }

    // ----- Acknowledgement (step F) -----

    fn on_ack(&mut self, index: Index, command: &Command, epoch: u64) {
        if !matches!(command.op, zkwal_raft::Op::Append { .. }) {
            return;
        }
        let digest = Payload::Command(*command).digest();
        let term = self.raft.log().term_at(index).unwrap_or(0);
        // Where the variant says the entry must be durable: the WAL of the leadership
        // that proposed it (this node, in the term it proposed in).
        let wal_path = if self.cfg.variant.has_wal() && term > 0 {
            Some(layout::entry_path(
                &layout::wal_path(term, self.raft.id()),
                index,
            ))
        } else {
            None
        };
        self.events.push(WalEvent::Acked {
            node: self.raft.id(),
            epoch,
            index,
            term,
            digest,
            wal_path,
        });
    }

    // ----- ZooKeeper session -----

    fn open_session(&mut self, now_ms: u64) {
        let Some(opts) = self.cfg.zk.as_ref() else {
            return;
        };
        self.sessions_opened += 1;
        let id = self.raft.id();
        let client_id = (id as u64) << 32 | self.sessions_opened as u64;
        let mut cfg = ClientConfig::new(client_id, opts.servers.clone(), opts.session_timeout_ms);
        cfg.expiry = opts.client_expiry;
        self.zk = Some(Zk {
            session: ClientSession::new(cfg, now_ms),
            client_id,
            reqs: BTreeMap::new(),
            checked: BTreeMap::new(),
        });
    }

    fn submit(&mut self, now_ms: u64, request: Request, req: Req) {
        let Some(z) = self.zk.as_mut() else { return };
        let checked = match &request {
            Request::Multi(ops) => match ops.first() {
                Some(MultiOp::Check { path, version }) if path == layout::EPOCH => {
                    Some(*version as u64)
                }
                _ => None,
            },
            _ => None,
        };
        let xid = z.session.submit(now_ms, request);
        z.reqs.insert(xid, req);
        if let Some(epoch) = checked {
            z.checked.insert(xid, epoch);
        }
    }

    fn connected(&self) -> bool {
        self.zk
            .as_ref()
            .is_some_and(|z| z.session.state() == SessionState::Connected)
    }

    /// After every input: follow role changes, handle ZooKeeper events, do the
    /// leader's duties, and queue the session's messages. Bounded.
    fn pump(&mut self, now_ms: u64) {
        for _ in 0..4 {
            self.follow_role(now_ms);
            if !self.handle_zk_events(now_ms) {
                break;
            }
        }
        self.follow_role(now_ms);
        if self.cfg.variant.fenced() && self.raft.take_wants_campaign() && self.reader.is_none() {
            // fenced: an election timeout starts a takeover, never a bare campaign.
            self.start_read(now_ms, ReadPurpose::Takeover);
        }
        self.leader_duties(now_ms);
        if let Some(z) = self.zk.as_mut() {
            while let Some(m) = z.session.poll_transmit() {
                self.outputs.push_back(NodeOutput::ToZk(m));
            }
        }
    }

    /// Handles pending session events; returns whether there were any.
    fn handle_zk_events(&mut self, now_ms: u64) -> bool {
        let mut any = false;
        for _ in 0..MAX_ZK_EVENTS_PER_INPUT {
            let Some(ev) = self.zk.as_mut().and_then(|z| z.session.poll_event()) else {
                break;
            };
            any = true;
            match ev {
                ClientEvent::State(SessionState::Connected) => self.on_connected(now_ms),
                ClientEvent::State(SessionState::Lost) => self.on_session_lost(now_ms, true),
                ClientEvent::State(SessionState::Expired) if self.curator() => {
                    // Curator reports the service's expiry as LOST too.
                    self.on_session_lost(now_ms, false)
                }
                ClientEvent::State(SessionState::Expired) => {
                    // The old handle can do nothing more: open a new session (a leader
                    // records `/leader` again there, epoch-checked in fenced).
                    self.open_session(now_ms);
                }
                ClientEvent::State(_) => {}
                ClientEvent::Reply { xid, result } => {
                    let req = self
                        .zk
                        .as_mut()
                        .and_then(|z| z.reqs.remove(&xid))
                        .unwrap_or(Req::Ignore);
                    let checked = self.zk.as_mut().and_then(|z| z.checked.remove(&xid));
                    // Op 0 of an epoch-checked multi is the check: ZooKeeper's answer,
                    // classified here apart from the node's reaction to it.
                    let check_failed =
                        matches!(&result, Ok(r) if matches!(r.multi_failure(), Some((0, _))));
                    if let Some(checked) = checked.filter(|_| check_failed) {
                        self.events.push(WalEvent::EpochCheckFailed {
                            node: self.raft.id(),
                            checked,
                            leading: self.epoch,
                        });
                    }
                    if result == Err(ErrorCode::ConnectionLoss) && req.is_write() {
                        self.zk_unknown_outcomes += 1;
                    }
                    self.on_reply(now_ms, req, result);
                }
                ClientEvent::Watch(w) => {
                    if w.path == layout::NODES && w.event == EventType::NodeChildrenChanged {
                        self.watch_events += 1;
                        self.watch_members(now_ms);
                    } else if w.path == layout::LEADER {
                        self.watch_leader(now_ms);
                        if w.event == EventType::NodeDeleted {
                            self.on_leader_gone(now_ms);
                        }
                    }
                }
            }
        }
        any
    }

    /// Whether the node reaches ZooKeeper as an implementation on Curator would.
    fn curator(&self) -> bool {
        self.cfg
            .zk
            .as_ref()
            .is_some_and(|z| z.client_expiry == ClientExpiry::Curator)
    }

    /// Curator's LOST (its own timer ran out, or the service said the session
    /// expired): an implementation on Curator takes the session, and the leadership it
    /// carried, as gone. Curator's leader recipes give leadership up on LOST under
    /// either error policy (`StandardConnectionStateErrorPolicy` already on SUSPENDED,
    /// `SessionConnectionStateErrorPolicy` only on LOST; this node models the latter):
    /// a WAL variant's leader steps down (fenced: it drops its epoch too, and may lead
    /// again only through a new takeover), then the node opens a new session and
    /// re-creates its ephemerals there (`on_connected`), as Curator's RECONNECTED after
    /// LOST asks. The `raft` variant's decisions ignore ZooKeeper: it only reopens.
    fn on_session_lost(&mut self, now_ms: u64, by_client: bool) {
        let node = self.raft.id();
        self.events.push(WalEvent::SessionLost { node, by_client });
        if self.cfg.variant.has_wal() && self.raft.role() == Role::Leader {
            if self.cfg.variant.fenced() {
                self.lead = None;
                self.epoch = 0;
                self.epoch_term = 0;
                self.raft.set_may_campaign(false);
            }
            self.raft.set_lone_quorum(false);
            self.raft.step_down(now_ms);
            self.events.push(WalEvent::SteppedDown {
                node,
                why: "session lost",
            });
        }
        self.open_session(now_ms);
    }

    /// Registered on every (re)connection: after a resumed session a create fails with
    /// NodeExists, which is fine; after a ConnectionLoss it may or may not have happened.
    fn on_connected(&mut self, now_ms: u64) {
        let create = |path: &str, mode| Request::Create {
            path: path.into(),
            data: vec![],
            mode,
        };
        self.submit(
            now_ms,
            create(layout::NODES, CreateMode::Persistent),
            Req::Ignore,
        );
        let me = layout::member_path(self.raft.id());
        self.submit(now_ms, create(&me, CreateMode::Ephemeral), Req::Ignore);
        self.watch_members(now_ms);
        if !self.cfg.variant.has_wal() {
            return;
        }
        for p in layout::PARENTS {
            self.submit(now_ms, create(p, CreateMode::Persistent), Req::Ignore);
        }
        self.watch_leader(now_ms);
        // Writes that failed with the connection are sent again, in order.
        if let Some(l) = self.lead.as_mut() {
            if !l.header_acked {
                l.header_sent = false;
            }
            for w in l.queue.iter_mut() {
                if !w.acked {
                    w.sent = false;
                }
            }
            l.commit_in_flight = false;
            self.announce_leader(now_ms);
        }
        if self.raft.role() == Role::Recovering && self.reader.is_none() {
            self.start_read(now_ms, ReadPurpose::Blank);
        } else if self.reader.is_none()
            && self.lead.is_none()
            && !self.cfg.variant.fenced()
            && self.sessions_opened == 1
        {
            // A (re)started node first reads what the WALs hold beyond its log.
            self.start_read(now_ms, ReadPurpose::Startup);
        }
        self.resend_wal(now_ms);
    }

    /// A child watch on `/nodes`: told when a peer's session ends (or begins).
    fn watch_members(&mut self, now_ms: u64) {
        self.submit(
            now_ms,
            Request::GetChildren {
                path: layout::NODES.into(),
                watch: true,
            },
            Req::Members,
        );
    }

    fn watch_leader(&mut self, now_ms: u64) {
        if self.cfg.variant.has_wal() {
            self.submit(
                now_ms,
                Request::Exists {
                    path: layout::LEADER.into(),
                    watch: true,
                },
                Req::LeaderExists,
            );
        }
    }

    /// Step [3]: the leader's ephemeral znode is gone (its session ended).
    fn on_leader_gone(&mut self, now_ms: u64) {
        if self.raft.role() == Role::Leader {
            self.announce_leader(now_ms);
            return;
        }
        if self.raft.role() == Role::Recovering || self.reader.is_some() {
            return;
        }
        let purpose = if self.cfg.variant.fenced() {
            ReadPurpose::Takeover
        } else {
            ReadPurpose::Failover
        };
        self.start_read(now_ms, purpose);
    }

    fn on_reply(&mut self, now_ms: u64, req: Req, result: Result<Response, ErrorCode>) {
        match req {
            Req::Ignore | Req::Members => {}
            Req::LeaderExists => {
                // Absent leader znode while we lead (our session is new): record it.
                if let Ok(Response::Exists { stat: None }) = result {
                    if self.raft.role() == Role::Leader {
                        self.announce_leader(now_ms);
                    }
                }
            }
            Req::LeaderCreate => {
                if self.fenced_out(&result) {
                    self.deposed(now_ms);
                }
            }
            Req::WalHeader { term } => {
                if answered_exists(&result) {
                    self.reach(Situation::ConnectionLossThenNodeExists);
                }
                let fenced_out = self.fenced_out(&result);
                let Some(l) = self.lead.as_mut().filter(|l| l.term == term) else {
                    return;
                };
                if fenced_out {
                    self.deposed(now_ms);
                } else if write_done(&result) {
                    l.header_acked = true;
                } else {
                    l.header_sent = false;
                }
            }
            Req::WalEntry { term, index } => self.on_wal_entry_reply(now_ms, term, index, result),
            Req::Commit { term, index } => {
                let fenced_out = self.fenced_out(&result);
                if let Some(l) = self.lead.as_mut().filter(|l| l.term == term) {
                    l.commit_in_flight = false;
                    if result.is_ok() && !fenced_out {
                        l.commit_recorded = l.commit_recorded.max(index);
                    }
                }
                if fenced_out {
                    self.deposed(now_ms);
                }
            }
            Req::Publish {
                term,
                index,
                bytes,
                chunks,
            } => {
                let ok = matches!(&result, Ok(r) if r.multi_failure().is_none());
                let fenced_out = self.fenced_out(&result);
                if let Some(l) = self.lead.as_mut().filter(|l| l.term == term) {
                    l.publish_in_flight = false;
                    l.staged = None;
                    if ok {
                        l.published = index;
                        l.known_snapshot = Some((index, Some(chunks)));
                        l.own_truncated_through =
                            l.own_truncated_through.max(index.min(l.acked_through));
                        for v in l.older.values_mut() {
                            v.retain(|i| *i > index);
                        }
                        l.older.retain(|_, v| !v.is_empty());
                    } else {
                        // Unknown outcome or a race: learn the layout again.
                        l.published = l.published.max(index);
                        l.survey_failed = true;
                    }
                }
                if ok {
                    self.events.push(WalEvent::Published {
                        node: self.raft.id(),
                        index,
                        bytes,
                    });
                }
                if fenced_out {
                    self.deposed(now_ms);
                }
            }
            Req::PublishPart { term, index, .. } => {
                let fenced_out = self.fenced_out(&result);
                if fenced_out {
                    self.deposed(now_ms);
                    return;
                }
                self.on_staged_reply(now_ms, term, index, write_done(&result));
            }
            Req::PublishList { term, index, snap } => {
                self.on_staged_list(now_ms, term, index, snap, result)
            }
            Req::Survey { term, what } => self.on_survey_reply(now_ms, term, what, result),
            Req::Read { gen, step } => {
                if self.reader.as_ref().is_some_and(|r| r.gen == gen) {
                    self.on_read_reply(now_ms, step, result);
                }
            }
        }
    }

    /// fenced: a conditional write failed at its epoch check (op 0 of the multi).
    fn fenced_out(&self, result: &Result<Response, ErrorCode>) -> bool {
        self.cfg.variant.fenced()
            && matches!(result, Ok(r) if matches!(r.multi_failure(), Some((0, _))))
    }

    /// This leader's epoch is no longer current: it steps down and serves nothing.
    fn deposed(&mut self, now_ms: u64) {
        self.lead = None;
        self.epoch = 0;
        self.epoch_term = 0;
        if self.raft.role() == Role::Leader {
            self.raft.step_down(now_ms);
            self.events.push(WalEvent::SteppedDown {
                node: self.raft.id(),
                why: "fenced",
            });
        }
        self.raft.set_lone_quorum(false);
        self.raft.set_may_campaign(false);
    }

    // ----- Leadership (steps [1] and [2]) -----

    fn follow_role(&mut self, now_ms: u64) {
        let now = (self.raft.role(), self.raft.term());
        if now == self.seen {
            return;
        }
        let was = self.seen;
        self.seen = now;
        if was.0 == Role::Leader && self.lead.is_some() {
            self.lead = None;
        }
        if now.0 == Role::Leader {
            self.on_became_leader(now_ms);
        } else if self.cfg.variant.fenced() && now.0 == Role::Follower && now.1 > was.1 {
            // Someone else's term: a takeover this node prepared is spent.
            self.raft.set_may_campaign(false);
            self.raft.set_lone_quorum(false);
        }
    }

    fn on_became_leader(&mut self, now_ms: u64) {
        self.raft.set_lone_quorum(false);
        if self.cfg.variant.fenced() {
            self.raft.set_may_campaign(false);
        }
        if !self.cfg.variant.has_wal() {
            return;
        }
        let term = self.raft.term();
        // A leadership acts only under the epoch that reserved its term. A campaign of
        // an earlier takeover can finish after this node bumped the epoch again for a
        // later one: leading in the old term under the new epoch lets the old term
        // commit after another node reserved a term between the two, and that node's
        // leadership then lacks the entry (found at fenced, 3 nodes, seed 9065).
        if self.cfg.variant.fenced() && (self.epoch == 0 || self.epoch_term != term) {
            self.deposed(now_ms);
            return;
        }
        // This WAL starts at the commit index, not at the no-op: the uncommitted tail
        // this leader inherited may hold entries no WAL ever confirmed (a deposed
        // leader's, replicated by Raft), and a reader of this WAL must be able to
        // connect it to what earlier WALs and the published snapshot hold (a gap found
        // by the simulator: fenced, 2 nodes, seed 62). So the tail is written again.
        let prev_index = self.raft.commit_index();
        let prev_term = self.raft.log().term_at(prev_index).unwrap_or(0);
        let header = WalHeader {
            prev_index,
            prev_term,
            epoch: self.epoch(),
        };
        let queue: VecDeque<WalWrite> = self
            .raft
            .log()
            .entries()
            .iter()
            .filter(|e| e.index > prev_index)
            .map(|e| WalWrite {
                index: e.index,
                term: e.term,
                payload: e.payload,
                command: None,
                sent: false,
                acked: false,
            })
            .collect();
        self.lead = Some(Leadership {
            term,
            wal: layout::wal_path(term, self.raft.id()),
            header,
            header_sent: false,
            header_acked: false,
            queue,
            acked_through: prev_index,
            commit_in_flight: false,
            commit_recorded: 0,
            publish_in_flight: false,
            published: 0,
            own_truncated_through: prev_index,
            survey_pending: 0,
            survey_failed: false,
            known_snapshot: None,
            older: BTreeMap::new(),
            staged: None,
        });
        self.announce_leader(now_ms);
        self.resend_wal(now_ms);
        self.survey(now_ms);
    }

    /// Step [1]: record this node as leader (fenced: only under its epoch).
    fn announce_leader(&mut self, now_ms: u64) {
        if !self.connected() || self.raft.role() != Role::Leader {
            return;
        }
        let info = LeaderInfo {
            id: self.raft.id(),
            term: self.raft.term(),
            epoch: self.epoch(),
        };
        let create = MultiOp::Create {
            path: layout::LEADER.into(),
            data: layout::encode(&info),
            mode: CreateMode::Ephemeral,
        };
        let request = self.conditional(vec![create]);
        self.submit(now_ms, request, Req::LeaderCreate);
    }

    /// A write as the variant makes it: fenced wraps it in a multi whose first op
    /// checks the epoch; the others send a multi only for several ops.
    fn conditional(&self, mut ops: Vec<MultiOp>) -> Request {
        if self.cfg.variant.fenced() {
            let mut all = Vec::with_capacity(ops.len() + 1);
            all.push(MultiOp::Check {
                path: layout::EPOCH.into(),
                version: self.epoch as i32,
            });
            all.append(&mut ops);
            return Request::Multi(all);
        }
        if ops.len() == 1 {
            match ops.pop().expect("one op") {
                MultiOp::Create { path, data, mode } => {
                    return Request::Create { path, data, mode }
                }
                MultiOp::SetData {
                    path,
                    data,
                    version,
                } => {
                    return Request::SetData {
                        path,
                        data,
                        version,
                    }
                }
                op => return Request::Multi(vec![op]),
            }
        }
        Request::Multi(ops)
    }

    /// A WAL leader's check of step A: whether `command`'s WAL entry znode, sent as
    /// this variant sends it, would pass ZooKeeper's `jute.maxbuffer` (the server would
    /// drop the connection, and the re-sent write again, forever). Only a leader that
    /// would take the write asks; others answer "not leader" as usual. The exact size
    /// is computed only for payloads near the limit, so small writes cost nothing.
    fn wal_entry_too_large(&self, command: &Command) -> bool {
        let zkwal_raft::Op::Append { payload_bytes, .. } = command.op else {
            return false;
        };
        let limit = zkwal_zk::DEFAULT_MAX_PACKET_BYTES;
        if !self.cfg.variant.has_wal()
            || (payload_bytes as usize) + 4096 < limit
            || self.raft.role() != Role::Leader
        {
            return false;
        }
        let Some(l) = self.lead.as_ref() else {
            return false;
        };
        let index = self.raft.log().last_index() + 1 + l.queue.len() as Index;
        let entry = Entry {
            index,
            term: l.term,
            payload: Payload::Command(*command),
        };
        let create = MultiOp::Create {
            path: layout::entry_path(&l.wal, index),
            data: layout::encode(&entry),
            mode: CreateMode::Persistent,
        };
        self.conditional(vec![create]).jute_bytes() > limit
    }

    fn propose_via_wal(&mut self, now_ms: u64, command: Command) -> Result<(), Option<NodeId>> {
        if self.raft.role() != Role::Leader {
            return Err(self.raft.leader_hint());
        }
        let Some(l) = self.lead.as_mut() else {
            return Err(None);
        };
        let index = self.raft.log().last_index()
            + 1
            + l.queue.iter().filter(|w| w.command.is_some()).count() as Index;
        let term = l.term;
        l.queue.push_back(WalWrite {
            index,
            term,
            payload: Payload::Command(command),
            command: Some(command),
            sent: false,
            acked: false,
        });
        self.resend_wal(now_ms);
        Ok(())
    }

    /// Sends the WAL header and every unsent entry, in order, if connected.
    fn resend_wal(&mut self, now_ms: u64) {
        if !self.connected() {
            return;
        }
        let Some(l) = self.lead.as_mut() else { return };
        let term = l.term;
        let mut requests = Vec::new();
        if !l.header_sent && !l.header_acked {
            l.header_sent = true;
            requests.push((
                MultiOp::Create {
                    path: l.wal.clone(),
                    data: layout::encode(&l.header),
                    mode: CreateMode::Persistent,
                },
                Req::WalHeader { term },
            ));
        }
        for w in l.queue.iter_mut() {
            if w.sent || w.acked {
                continue;
            }
            w.sent = true;
            let entry = Entry {
                index: w.index,
                term: w.term,
                payload: w.payload,
            };
            requests.push((
                MultiOp::Create {
                    path: layout::entry_path(&l.wal, w.index),
                    data: layout::encode(&entry),
                    mode: CreateMode::Persistent,
                },
                Req::WalEntry {
                    term,
                    index: w.index,
                },
            ));
        }
        for (op, req) in requests {
            let request = self.conditional(vec![op]);
            self.submit(now_ms, request, req);
        }
    }

    fn on_wal_entry_reply(
        &mut self,
        now_ms: u64,
        term: Term,
        index: Index,
        result: Result<Response, ErrorCode>,
    ) {
        if answered_exists(&result) {
            self.reach(Situation::ConnectionLossThenNodeExists);
        }
        let fenced_out = self.fenced_out(&result);
        let done = write_done(&result);
        let node = self.raft.id();
        let epoch = self.epoch();
        let Some(l) = self.lead.as_mut().filter(|l| l.term == term) else {
            return;
        };
        if fenced_out {
            self.deposed(now_ms);
            return;
        }
        let Some(w) = l.queue.iter_mut().find(|w| w.index == index) else {
            return;
        };
        if done {
            w.acked = true;
            let digest = w.payload.digest();
            let entry_term = w.term;
            self.events.push(WalEvent::WalAppended {
                node,
                epoch,
                path: layout::entry_path(&l.wal, index),
                index,
                term: entry_term,
                digest,
            });
        } else {
            w.sent = false;
        }
        self.drain_wal_queue(now_ms);
    }

    /// Step B: entries confirmed by ZooKeeper enter the Raft log, in index order.
    fn drain_wal_queue(&mut self, now_ms: u64) {
        let mut acked_through = None;
        loop {
            let Some(l) = self.lead.as_mut() else { return };
            if !l.header_acked || !l.queue.front().is_some_and(|w| w.acked) {
                break;
            }
            let w = l.queue.pop_front().expect("front exists");
            if let Some(cmd) = w.command {
                match self.raft.propose(now_ms, cmd) {
                    Ok(i) if i == w.index => {}
                    _ => {
                        // Leadership moved under us: this WAL is over.
                        self.lead = None;
                        return;
                    }
                }
            }
            let l = self.lead.as_mut().expect("still leading");
            l.acked_through = w.index;
            acked_through = Some(w.index);
        }
        if let Some(i) = acked_through {
            if self.cfg.variant.lone_survivor() {
                self.raft.set_external_durable(now_ms, i);
            }
        }
    }

    /// Learns what older WALs and which snapshot ZooKeeper holds, for truncation.
    fn survey(&mut self, now_ms: u64) {
        let Some(l) = self.lead.as_mut() else { return };
        let term = l.term;
        l.survey_pending = 2;
        l.survey_failed = false;
        l.older.clear();
        self.submit(
            now_ms,
            Request::GetData {
                path: layout::SNAPSHOT.into(),
                watch: false,
            },
            Req::Survey {
                term,
                what: SurveyReq::SnapPtr,
            },
        );
        self.submit(
            now_ms,
            Request::GetChildren {
                path: layout::WAL.into(),
                watch: false,
            },
            Req::Survey {
                term,
                what: SurveyReq::WalList,
            },
        );
    }

    fn on_survey_reply(
        &mut self,
        now_ms: u64,
        term: Term,
        what: SurveyReq,
        result: Result<Response, ErrorCode>,
    ) {
        let own = layout::wal_name(term, self.raft.id());
        let Some(l) = self.lead.as_mut().filter(|l| l.term == term) else {
            return;
        };
        l.survey_pending = l.survey_pending.saturating_sub(1);
        let mut children_of = Vec::new();
        match (what, result) {
            (SurveyReq::SnapPtr, Ok(Response::GetData { data, .. })) => {
                if let Some(index) = layout::decode::<Index>(&data) {
                    l.known_snapshot = Some((index, None));
                    l.published = l.published.max(index);
                    l.survey_pending += 1;
                    self.submit(
                        now_ms,
                        Request::GetData {
                            path: layout::snap_path(index),
                            watch: false,
                        },
                        Req::Survey {
                            term,
                            what: SurveyReq::SnapHeader(index),
                        },
                    );
                    return;
                }
            }
            (SurveyReq::SnapHeader(index), Ok(Response::GetData { data, .. })) => {
                if let Some(h) = layout::decode::<SnapHeader>(&data) {
                    l.known_snapshot = Some((index, Some(h.chunks)));
                }
            }
            (SurveyReq::WalList, Ok(Response::GetChildren { children, .. })) => {
                for c in children {
                    if c != own && layout::parse_wal_name(&c).is_some_and(|(t, _)| t < term) {
                        children_of.push(c);
                    }
                }
            }
            (SurveyReq::WalChildren(name), Ok(Response::GetChildren { children, .. })) => {
                let idx: Vec<Index> = children
                    .iter()
                    .filter_map(|c| layout::parse_index(c))
                    .collect();
                l.older.insert(name, idx);
            }
            _ => l.survey_failed = true,
        }
        l.survey_pending += children_of.len();
        for name in children_of {
            self.submit(
                now_ms,
                Request::GetChildren {
                    path: format!("{}/{name}", layout::WAL),
                    watch: false,
                },
                Req::Survey {
                    term,
                    what: SurveyReq::WalChildren(name),
                },
            );
        }
    }

    /// Step D (commit index in `/commit`) and snapshot publication with truncation.
    fn leader_duties(&mut self, now_ms: u64) {
        if !self.cfg.variant.has_wal() || self.raft.role() != Role::Leader || !self.connected() {
            return;
        }
        let commit = self.raft.commit_index();
        let Some(l) = self.lead.as_mut() else { return };
        let term = l.term;
        if !l.commit_in_flight && commit > l.commit_recorded {
            l.commit_in_flight = true;
            let op = MultiOp::SetData {
                path: layout::COMMIT.into(),
                data: layout::encode(&commit),
                version: -1,
            };
            let request = self.conditional(vec![op]);
            self.submit(
                now_ms,
                request,
                Req::Commit {
                    term,
                    index: commit,
                },
            );
        }
        let l = self.lead.as_mut().expect("leading");
        if l.survey_failed && l.survey_pending == 0 && !l.publish_in_flight {
            self.survey(now_ms);
            return;
        }
        let snap = self.raft.log().snapshot.clone();
        let every = self.cfg.wal.publish_every_entries;
        if l.publish_in_flight
            || l.survey_pending > 0
            || snap.last_index < l.published + every
            || snap.last_index > l.acked_through
        {
            return;
        }
        let index = snap.last_index;
        let chunks = layout::chunk_state(&snap.state, self.cfg.wal.snapshot_chunk_bytes);
        let bytes: u64 = chunks.iter().map(|c| c.len() as u64).sum();
        let header = SnapHeader {
            last_index: index,
            last_term: snap.last_term,
            chunks: chunks.len() as u32,
            bytes,
        };
        let mut ops = vec![MultiOp::Create {
            path: layout::snap_path(index),
            data: layout::encode(&header),
            mode: CreateMode::Persistent,
        }];
        for (k, c) in chunks.into_iter().enumerate() {
            ops.push(MultiOp::Create {
                path: layout::chunk_path(index, k as u32),
                data: c,
                mode: CreateMode::Persistent,
            });
        }
        ops.push(MultiOp::SetData {
            path: layout::SNAPSHOT.into(),
            data: layout::encode(&index),
            version: -1,
        });
        // Truncation, in the same multi: the old snapshot and the WAL entries the new
        // one covers (older WALs emptied by it go too). A reader never needs them: it
        // starts from the published snapshot.
        let max = self.cfg.wal.max_deletes_per_multi;
        let deletes = truncation_deletes(l, index, max);
        l.publish_in_flight = true;
        let n_chunks = header.chunks;
        for path in deletes {
            ops.push(MultiOp::Delete { path, version: -1 });
        }
        let request = self.conditional(ops);
        if request.jute_bytes() > zkwal_zk::DEFAULT_MAX_PACKET_BYTES {
            // ZooKeeper would drop the connection (and again at every retry): stage it.
            self.start_staged(now_ms, term, header, request);
            return;
        }
        self.submit(
            now_ms,
            request,
            Req::Publish {
                term,
                index,
                bytes,
                chunks: n_chunks,
            },
        );
    }

    /// Starts a publication in steps (see [`Staged`]) from the single `multi` that
    /// would have been too large: its header and chunk creates are sent as requests of
    /// their own (in order on the session, so the header lands first), with a listing
    /// of `/snap` for orphans. The truncation waits for the flip.
    fn start_staged(&mut self, now_ms: u64, term: Term, header: SnapHeader, request: Request) {
        let index = header.last_index;
        let snap = layout::snap_path(index);
        let Request::Multi(ops) = request else {
            unreachable!("a publication is a multi")
        };
        // The header, then each chunk (the creates under `/snap/<index>`, in order).
        let parts: Vec<MultiOp> = ops
            .into_iter()
            .filter(|op| matches!(op, MultiOp::Create { path, .. } if path.starts_with(&snap)))
            .collect();
        let Some(l) = self.lead.as_mut() else { return };
        l.staged = Some(Staged {
            index,
            bytes: header.bytes,
            chunks: header.chunks,
            pending: 1 + parts.len(),
            failed: false,
            others: BTreeMap::new(),
        });
        self.submit(
            now_ms,
            Request::GetChildren {
                path: layout::SNAP.into(),
                watch: false,
            },
            Req::PublishList {
                term,
                index,
                snap: None,
            },
        );
        for op in parts {
            let request = self.conditional(vec![op]);
            self.submit(now_ms, request, Req::PublishPart { term, index });
        }
    }

    /// A step of a staged publication was answered: once none is pending, flip (every
    /// step succeeded) or give up and learn the layout again (the next publication
    /// retries; what this one wrote is an orphan until then).
    fn on_staged_reply(&mut self, now_ms: u64, term: Term, index: Index, ok: bool) {
        let Some(l) = self.lead.as_mut().filter(|l| l.term == term) else {
            return;
        };
        let Some(st) = l.staged.as_mut().filter(|st| st.index == index) else {
            return;
        };
        st.pending = st.pending.saturating_sub(1);
        st.failed |= !ok;
        if st.pending > 0 {
            return;
        }
        let st = l.staged.take().expect("present");
        if st.failed {
            // As after a failed single multi: learn the layout again, and try the next
            // snapshot `publish_every_entries` on (bounds the retries).
            l.publish_in_flight = false;
            l.published = l.published.max(index);
            l.survey_failed = true;
            return;
        }
        let max = self.cfg.wal.max_deletes_per_multi;
        let mut deletes = truncation_deletes(l, index, max);
        for (j, names) in &st.others {
            let Some(names) = names else { continue };
            if *j == index || l.known_snapshot.is_some_and(|(o, _)| o == *j) {
                continue;
            }
            if deletes.len() + names.len() + 1 > max {
                break;
            }
            let snap = layout::snap_path(*j);
            deletes.extend(names.iter().map(|n| format!("{snap}/{n}")));
            deletes.push(snap);
        }
        let mut ops = vec![MultiOp::SetData {
            path: layout::SNAPSHOT.into(),
            data: layout::encode(&index),
            version: -1,
        }];
        ops.extend(
            deletes
                .into_iter()
                .map(|path| MultiOp::Delete { path, version: -1 }),
        );
        let request = self.conditional(ops);
        self.submit(
            now_ms,
            request,
            Req::Publish {
                term,
                index,
                bytes: st.bytes,
                chunks: st.chunks,
            },
        );
    }

    /// The staged publication of snapshot `index` by this node's leadership of `term`,
    /// if it is still the one under way.
    fn staged_mut(&mut self, term: Term, index: Index) -> Option<&mut Staged> {
        self.lead
            .as_mut()
            .filter(|l| l.term == term)
            .and_then(|l| l.staged.as_mut())
            .filter(|st| st.index == index)
    }

    /// A staged publication's listing of `/snap` (`snap` None) or of one snapshot's
    /// chunks came back.
    fn on_staged_list(
        &mut self,
        now_ms: u64,
        term: Term,
        index: Index,
        snap: Option<Index>,
        result: Result<Response, ErrorCode>,
    ) {
        let mut list = Vec::new();
        let ok = match (snap, result) {
            (None, Ok(Response::GetChildren { children, .. })) => {
                if let Some(st) = self.staged_mut(term, index) {
                    for j in children.iter().filter_map(|c| layout::parse_index(c)) {
                        if j != index {
                            st.others.insert(j, None);
                            st.pending += 1;
                            list.push(j);
                        }
                    }
                }
                true
            }
            (Some(j), Ok(Response::GetChildren { children, .. })) => {
                if let Some(st) = self.staged_mut(term, index) {
                    st.others.insert(j, Some(children));
                }
                true
            }
            (Some(j), Err(ErrorCode::NoNode)) => {
                if let Some(st) = self.staged_mut(term, index) {
                    st.others.remove(&j);
                }
                true
            }
            _ => false,
        };
        for j in list {
            self.submit(
                now_ms,
                Request::GetChildren {
                    path: layout::snap_path(j),
                    watch: false,
                },
                Req::PublishList {
                    term,
                    index,
                    snap: Some(j),
                },
            );
        }
        self.on_staged_reply(now_ms, term, index, ok);
    }

    // ----- Reading WALs (steps [3] and [4]) -----

    fn start_read(&mut self, now_ms: u64, purpose: ReadPurpose) {
        if !self.cfg.variant.has_wal() {
            return;
        }
        if !self.connected() {
            self.read_retry = Some((now_ms + self.cfg.wal.read_retry_ms, purpose));
            return;
        }
        self.read_gen += 1;
        match purpose {
            ReadPurpose::Blank => self.events.push(WalEvent::BlankReadStarted {
                node: self.raft.id(),
            }),
            ReadPurpose::Takeover | ReadPurpose::Failover => {
                self.events.push(WalEvent::TakeoverReadStarted {
                    node: self.raft.id(),
                })
            }
            ReadPurpose::Startup => {}
        }
        let (min_term, base_commit) = match purpose {
            ReadPurpose::Blank => (0, 0),
            _ => (self.raft.log().last_term(), self.raft.commit_index()),
        };
        let (reader, first) = Reader::start(
            self.read_gen,
            purpose,
            min_term,
            base_commit,
            self.cfg.variant.fenced(),
        );
        self.reader = Some(reader);
        self.submit_reads(now_ms, first);
    }

    fn submit_reads(&mut self, now_ms: u64, steps: Vec<(Request, ReadStep)>) {
        let gen = self.read_gen;
        for (request, step) in steps {
            self.submit(now_ms, request, Req::Read { gen, step });
        }
    }

    fn on_read_reply(&mut self, now_ms: u64, step: ReadStep, result: Result<Response, ErrorCode>) {
        let id = self.raft.id();
        let term = self.raft.term();
        if matches!(step, ReadStep::EpochSet) && result == Err(ErrorCode::BadVersion) {
            self.reach(Situation::EpochRaceLost);
        }
        let reader = self.reader.as_mut().expect("checked by caller");
        match reader.on_reply(step, result, id, term) {
            Ok(next) => {
                let reserved = reader.campaign_term;
                if let Some(epoch) = reader.bumped_epoch.take() {
                    // A takeover started before this node won an election ends after
                    // it: its bump fenced this node's own leadership too. Leading on
                    // under the new epoch would put writes of an old term after a
                    // newer term's (readers order WALs by term): found at fenced, 3
                    // nodes, seed 1423. Step down; the takeover campaigns anew.
                    if self.lead.is_some() || self.raft.role() == Role::Leader {
                        self.deposed(now_ms);
                    }
                    self.epoch = epoch;
                    self.epoch_term = reserved;
                    self.events.push(WalEvent::Fenced { node: id, epoch });
                }
                self.submit_reads(now_ms, next);
                if self.reader.as_ref().is_some_and(|r| r.done()) {
                    let r = self.reader.take().expect("present");
                    self.finish_read(now_ms, r);
                }
            }
            Err(retry) => {
                let purpose = reader.purpose;
                self.reader = None;
                if retry {
                    self.read_retry = Some((now_ms + self.cfg.wal.read_retry_ms, purpose));
                }
            }
        }
    }

    /// Everything is read: append it, then (failover, takeover) campaign.
    fn finish_read(&mut self, now_ms: u64, r: Reader) {
        let id = self.raft.id();
        if r.purpose == ReadPurpose::Blank {
            if self.raft.role() != Role::Recovering {
                return;
            }
            if r.from_truncated_wal() {
                self.reach(Situation::RecoveryFromTruncatedWal);
            }
            let (snapshot, entries, max_term, used) = r.assemble_blank();
            for (wal, e) in used {
                self.events.push(WalEvent::Recovered {
                    node: id,
                    wal,
                    index: e.index,
                    term: e.term,
                    digest: e.payload.digest(),
                });
            }
            // One term above every term ZooKeeper shows: a fresh disk epoch (leaders
            // forget what this node's old disk acknowledged; with the highest term
            // itself, two recoveries could share an epoch and a leader would keep a
            // stale match index: a livelock, seed n2 seed 215).
            self.raft
                .recover_external(now_ms, snapshot, entries, max_term + 1);
            let log = self.raft.log();
            self.events.push(WalEvent::BlankRecovered {
                node: id,
                term: self.raft.term(),
                snapshot_index: log.snapshot_index(),
                snapshot_term: log.snapshot.last_term,
                entries: log
                    .entries()
                    .iter()
                    .map(|e| (e.index, e.term, e.payload.digest()))
                    .collect(),
            });
            return;
        }
        if matches!(self.raft.role(), Role::Leader | Role::Recovering) {
            return;
        }
        if r.from_truncated_wal() {
            self.reach(Situation::RecoveryFromTruncatedWal);
        }
        let mut caught_up = true;
        if let Some(s) = r.snapshot() {
            self.raft.install_external_snapshot(now_ms, s);
        }
        for (wal, header, entries) in r.wals() {
            let snap = self.raft.log().snapshot_index();
            let usable: Vec<Entry> = entries.into_iter().filter(|e| e.index > snap).collect();
            // The entry before the first one read: the WAL's start, or one this node
            // holds committed (entries at or below its commit index were not read).
            let (prev_index, prev_term) = match usable.first() {
                None => continue,
                Some(first) if first.index == header.prev_index + 1 => {
                    (header.prev_index, header.prev_term)
                }
                Some(first) if first.index - 1 <= self.raft.commit_index() => {
                    let prev = first.index - 1;
                    match self.raft.log().term_at(prev) {
                        Some(t) => (prev, t),
                        None => {
                            caught_up = false;
                            continue;
                        }
                    }
                }
                Some(_) => {
                    caught_up = false;
                    continue;
                }
            };
            match self
                .raft
                .append_recovered(now_ms, prev_index, prev_term, &usable)
            {
                Ok(_) => {
                    for e in &usable {
                        self.events.push(WalEvent::Recovered {
                            node: id,
                            wal: wal.clone(),
                            index: e.index,
                            term: e.term,
                            digest: e.payload.digest(),
                        });
                    }
                }
                Err(_) => caught_up = false,
            }
        }
        match r.purpose {
            ReadPurpose::Failover | ReadPurpose::Takeover if caught_up => {
                if self.cfg.variant.lone_survivor() {
                    self.raft.set_lone_quorum(true);
                }
                let exact = self.cfg.variant.fenced().then_some(r.campaign_term);
                if !self.raft.campaign_now(now_ms, exact) {
                    self.raft.set_lone_quorum(false);
                }
            }
            ReadPurpose::Failover => {
                self.raft.campaign_now(now_ms, None);
            }
            _ => {}
        }
    }
}

/// A WAL create answered NodeExists (in a fenced multi, at the create, op 1): it is
/// only ever sent again after its connection was lost, so an earlier attempt happened.
fn answered_exists(result: &Result<Response, ErrorCode>) -> bool {
    match result {
        Ok(r) => matches!(r.multi_failure(), Some((i, ErrorCode::NodeExists)) if i >= 1),
        Err(e) => *e == ErrorCode::NodeExists,
    }
}

/// A write is done if it succeeded, or if it had already been applied by an earlier
/// attempt whose reply was lost (NodeExists on the create; in a fenced multi, the
/// create at op 1).
fn write_done(result: &Result<Response, ErrorCode>) -> bool {
    match result {
        Ok(r) => match r.multi_failure() {
            None => true,
            Some((i, ErrorCode::NodeExists)) => i >= 1,
            Some(_) => false,
        },
        Err(ErrorCode::NodeExists) => true,
        Err(_) => false,
    }
}

/// The truncation that goes with publishing the snapshot at `index`: the old published
/// snapshot (its chunks, then its header), this leader's WAL entries the new one
/// covers, and older WALs' covered entries (a WAL emptied by it goes too); at most
/// `max` deletes, older WALs only whole.
fn truncation_deletes(l: &Leadership, index: Index, max: usize) -> Vec<String> {
    let mut deletes = Vec::new();
    if let Some((old, Some(n))) = l.known_snapshot.filter(|(o, _)| *o < index) {
        for k in 0..n {
            deletes.push(layout::chunk_path(old, k));
        }
        deletes.push(layout::snap_path(old));
    }
    let mut k = l.own_truncated_through + 1;
    while k <= index.min(l.acked_through) && deletes.len() < max {
        deletes.push(layout::entry_path(&l.wal, k));
        k += 1;
    }
    for (name, idx) in &l.older {
        let wal = format!("{}/{name}", layout::WAL);
        let covered: Vec<&Index> = idx.iter().filter(|i| **i <= index).collect();
        if deletes.len() + covered.len() + 1 > max {
            break;
        }
        for i in &covered {
            deletes.push(layout::entry_path(&wal, **i));
        }
        if covered.len() == idx.len() {
            deletes.push(wal);
        }
    }
    deletes
}
