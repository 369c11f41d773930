//! What the tasks share: the node cores (each driven only by its own task; the
//! harness reads them, as a debugger would), the disk stores, the clients' state
//! machines and histories, the ZooKeeper ensemble, and the checkers every task feeds
//! after each input. Every method here is synchronous: a task locks the world, hands
//! one input to its core, and collects what must be sent into an [`Io`]; it sends
//! after unlocking. No lock is held across an `.await`.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use madsim::rand::Rng;
use madsim::time::{Duration, Instant};
use tokio::sync::Notify;
use zkwal_invariants::history::{self, History};
use zkwal_invariants::raft::{RaftChecks, Violation};
use zkwal_invariants::wal::WalChecks;
use zkwal_model::clients::{Client, ClientAction};
use zkwal_model::disk::Disk;
use zkwal_model::faults::{FaultCounts, FaultKind};
use zkwal_model::network::NetMsg;
use zkwal_model::network::Party;
use zkwal_model::scenario::{ClientOpKind, ClientStep, Scenario};
use zkwal_model::world::Found;
use zkwal_raft::{Config, Role, WriteId};
use zkwal_wal::{Node, NodeConfig, NodeOutput, WalEvent, ZkClientOptions};
use zkwal_zk::{Ensemble, EnsembleConfig, Notice};

use crate::wire::Envelope;

/// The ensemble's full invariant check runs once every this many ensemble steps (as in
/// the event loop).
const ZK_CHECK_EVERY: u64 = 16;

/// Where every party listens.
#[derive(Clone, Debug)]
pub struct Addrs {
    /// By party: nodes `0..n`, then the clients (the probe last), then ZooKeeper.
    pub parties: Vec<SocketAddr>,
}

/// A node's disk: the durable state, the writes not yet durable, and when each of
/// them becomes durable (in issue order, one fsync delay after the previous one). A
/// crash loses the pending writes; a wipe loses everything.
pub struct Store {
    pub disk: Disk,
    due: VecDeque<(u64, WriteId)>,
}

impl Store {
    fn new() -> Store {
        Store {
            disk: Disk::new(),
            due: VecDeque::new(),
        }
    }

    /// Issues a write; it becomes durable `fsync_ms` after the previous one.
    fn submit(&mut self, now_ms: u64, fsync_ms: u64, id: WriteId, write: zkwal_raft::Write) {
        self.disk.submit(id, write);
        let at = self.disk.busy_until_ms.max(now_ms) + fsync_ms;
        self.disk.busy_until_ms = at;
        self.due.push_back((at, id));
    }

    /// When the next pending write becomes durable.
    pub fn next_due_ms(&self) -> Option<u64> {
        self.due.front().map(|d| d.0)
    }

    fn crash(&mut self, wipe: bool) -> usize {
        self.due.clear();
        if wipe {
            self.disk.wipe()
        } else {
            self.disk.crash()
        }
    }
}

pub struct Slot {
    /// The running process's core, or None while it is down.
    pub core: Option<Node>,
    pub store: Store,
    pub incarnation: u32,
    pub without_data: bool,
    pub zk_sessions: u32,
    pub paused_until_ms: u64,
}

/// Messages to send once the world is unlocked.
#[derive(Default)]
pub struct Io {
    pub sends: Vec<(SocketAddr, Envelope)>,
}

/// Counters for the benchmark and the summary.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    /// Inputs handed to a core, a client or the ensemble (a message, a timer, a disk
    /// completion): the counterpart of the event loop's events.
    pub events: u64,
    /// Messages sent (before the network drops any).
    pub messages: u64,
}

pub struct World {
    pub sc: Scenario,
    pub addrs: Addrs,
    pub nodes: Vec<Slot>,
    pub clients: Vec<Client>,
    pub probe: usize,
    pub zk_party: Party,
    pub healed: bool,
    checks: RaftChecks,
    wal_checks: WalChecks,
    wal_events: Vec<WalEvent>,
    pub zk: Option<Ensemble>,
    zk_steps: u64,
    pub zk_pins: Vec<Option<u32>>,
    pub violation: Option<Found>,
    pub faults: FaultCounts,
    pub counts: Counts,
}

/// The world behind its lock, with the signals the tasks wait on.
pub struct Shared {
    world: Mutex<World>,
    /// Virtual (or real) time zero of the run.
    pub start: Instant,
    /// A violation was found: the harness stops.
    pub stop: Notify,
    /// The harness changed the ensemble (a fault): the ZooKeeper task drains it.
    pub kick_zk: Notify,
}

impl Shared {
    pub fn new(sc: Scenario, addrs: Addrs) -> Arc<Shared> {
        Arc::new(Shared {
            world: Mutex::new(World::new(sc, addrs)),
            start: Instant::now(),
            stop: Notify::new(),
            kick_zk: Notify::new(),
        })
    }

    pub fn lock(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn now_ms(&self) -> u64 {
        Instant::now().duration_since(self.start).as_millis() as u64
    }

    pub fn at(&self, ms: u64) -> Instant {
        self.start + Duration::from_millis(ms)
    }
}

impl World {
    fn new(sc: Scenario, addrs: Addrs) -> World {
        let n = sc.nodes as usize;
        let o = sc.options.clone();
        let mut clients: Vec<Client> = sc
            .clients
            .iter()
            .enumerate()
            .map(|(c, script)| {
                let mut cl = Client::new(
                    c as u32,
                    script.clone(),
                    sc.nodes,
                    o.client.attempt_timeout_ms,
                    o.client.op_timeout_ms,
                );
                cl.network_duplicates = o.net.dup_ppm > 0;
                cl.value_bytes = o.client.value_bytes;
                cl
            })
            .collect();
        let probe = clients.len();
        clients.push(Client::new(
            probe as u32,
            vec![ClientStep {
                think_ms: 0,
                op: ClientOpKind::Append {
                    key: 0,
                    value: zkwal_model::scenario::unique_value(probe, 0),
                },
            }],
            sc.nodes,
            o.client.attempt_timeout_ms,
            o.liveness_ms,
        ));
        let zk_party = n + clients.len();
        let mut zk_pins = vec![None; n];
        for f in &sc.faults {
            if let (0, zkwal_model::scenario::Fault::ZkPin { node, server }) = (f.at_ms, &f.fault) {
                zk_pins[*node as usize] = Some(*server);
            }
        }
        World {
            addrs,
            nodes: (0..n)
                .map(|_| Slot {
                    core: None,
                    store: Store::new(),
                    incarnation: 0,
                    without_data: false,
                    zk_sessions: 0,
                    paused_until_ms: 0,
                })
                .collect(),
            clients,
            probe,
            zk_party,
            healed: false,
            checks: RaftChecks::new(),
            wal_checks: WalChecks::default(),
            wal_events: Vec::new(),
            zk: o
                .zk
                .as_ref()
                .map(|z| Ensemble::new(EnsembleConfig::new(z.servers, z.tick_time_ms), 0)),
            zk_steps: 0,
            zk_pins,
            violation: None,
            faults: FaultCounts::default(),
            counts: Counts::default(),
            sc,
        }
    }

    pub fn fail(&mut self, invariant: &str, detail: String, now_ms: u64) {
        if self.violation.is_none() {
            self.violation = Some(Found {
                invariant: invariant.to_string(),
                detail,
                virtual_time_ms: now_ms,
            });
        }
    }

    fn violated(&mut self, v: Violation, now_ms: u64) {
        self.fail(v.invariant, v.detail, now_ms);
    }

    fn push(&mut self, io: &mut Io, from: Party, to: Party, msg: NetMsg) {
        self.counts.messages += 1;
        io.sends
            .push((self.addrs.parties[to], Envelope { from, msg }));
    }

    // ----- Nodes -----

    fn raft_config(&self, id: u32) -> Config {
        let r = &self.sc.options.raft;
        let mut cfg = Config::new(id, (0..self.sc.nodes).collect());
        cfg.election_timeout_ms_min = r.election_timeout_ms_min;
        cfg.heartbeat_interval_ms = r.heartbeat_interval_ms;
        cfg.max_entries_per_append = r.max_entries_per_append;
        cfg.snapshot_every_entries = r.snapshot_every_entries;
        cfg
    }

    fn jitter(&self) -> u64 {
        madsim::rand::thread_rng().gen_range(0..self.sc.options.raft.election_timeout_ms_min)
    }

    /// The node's process starts (or restarts) from its disk.
    pub fn start_node(&mut self, node: u32, now_ms: u64, io: &mut Io) {
        let i = node as usize;
        let o = &self.sc.options;
        let zk = o.zk.as_ref().map(|z| ZkClientOptions {
            servers: zkwal_model::zookeeper::server_order(node, z, &self.zk_pins),
            session_timeout_ms: z.session_timeout_ms,
            client_expiry: z.client_expiry,
        });
        let ncfg = NodeConfig {
            raft: self.raft_config(node),
            variant: self.sc.variant.wal_variant(),
            zk,
            wal: o.wal.clone(),
            pause_monitor: o.pause_monitor,
        };
        let jitter = self.jitter();
        let core = Node::new(
            ncfg,
            &self.nodes[i].store.disk.durable,
            now_ms,
            jitter,
            self.nodes[i].zk_sessions,
        );
        self.checks
            .on_start(node, core.raft().log().snapshot_index());
        self.nodes[i].core = Some(core);
        self.counts.events += 1;
        self.after_input(node, now_ms, io);
    }

    /// The process died (the harness kills its madsim node right after).
    pub fn crash(&mut self, node: u32, wipe: bool) {
        let slot = &mut self.nodes[node as usize];
        if let Some(core) = slot.core.take() {
            slot.zk_sessions = core.sessions_opened();
        }
        slot.incarnation += 1;
        slot.paused_until_ms = 0;
        let lost = slot.store.crash(wipe);
        if wipe {
            slot.without_data = true;
        }
        for _ in 0..lost {
            self.faults.add(FaultKind::UnsyncedWriteLost);
        }
        self.faults.add(if wipe {
            FaultKind::Wipe
        } else {
            FaultKind::Crash
        });
    }

    /// When the node's task must wake next without a message: the core's timer, its
    /// auxiliary timer, or a write becoming durable.
    pub fn node_deadline_ms(&self, node: u32) -> Option<u64> {
        let slot = &self.nodes[node as usize];
        let core = slot.core.as_ref()?;
        let raft = core.raft().deadline_ms();
        [Some(raft), core.aux_deadline_ms(), slot.store.next_due_ms()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Handles everything due at `now_ms` on a node: writes become durable, then the
    /// core's timers.
    pub fn node_timers(&mut self, node: u32, now_ms: u64, io: &mut Io) {
        let i = node as usize;
        if self.violation.is_some() || self.nodes[i].core.is_none() {
            return;
        }
        while let Some(&(at, id)) = self.nodes[i].store.due.front() {
            if at > now_ms {
                break;
            }
            self.nodes[i].store.due.pop_front();
            self.counts.events += 1;
            let checks = &mut self.checks;
            let mut bad = None;
            self.nodes[i].store.disk.complete(id, |before, write| {
                if bad.is_none() {
                    bad = checks.on_durable(node, before, write).err();
                }
            });
            if let Some(v) = bad {
                return self.violated(v, now_ms);
            }
            if self.nodes[i].store.disk.durable.hard.initialized {
                self.nodes[i].without_data = false;
            }
            self.nodes[i]
                .core
                .as_mut()
                .expect("up")
                .persisted(now_ms, id);
            self.after_input(node, now_ms, io);
            if self.violation.is_some() {
                return;
            }
        }
        let jitter = self.jitter();
        let core = self.nodes[i].core.as_mut().expect("up");
        if now_ms >= core.raft().deadline_ms() {
            core.tick(now_ms, jitter);
            self.counts.events += 1;
            self.after_input(node, now_ms, io);
        }
        let Some(core) = self.nodes[i].core.as_mut() else {
            return;
        };
        if core.aux_deadline_ms().is_some_and(|d| d <= now_ms) {
            core.aux_tick(now_ms);
            self.counts.events += 1;
            self.after_input(node, now_ms, io);
        }
    }

    /// A message arrived at a node's endpoint.
    pub fn node_message(&mut self, node: u32, env: Envelope, now_ms: u64, io: &mut Io) {
        let i = node as usize;
        if self.violation.is_some() || self.nodes[i].core.is_none() {
            return;
        }
        self.counts.events += 1;
        let core = self.nodes[i].core.as_mut().expect("up");
        match env.msg {
            NetMsg::Raft(m) => {
                core.step(now_ms, m);
                self.after_input(node, now_ms, io);
            }
            NetMsg::FromZk(m) => {
                core.zk_message(now_ms, *m);
                self.after_input(node, now_ms, io);
            }
            NetMsg::ClientReq {
                client,
                attempt,
                command,
            } => {
                // Proposed again even if proposed before (that entry may have been
                // truncated); the state machine de-duplicates.
                let answer = core.propose(now_ms, command).err();
                self.after_input(node, now_ms, io);
                if let Some(hint) = answer {
                    let party = self.nodes.len() + client as usize;
                    self.push(
                        io,
                        i,
                        party,
                        NetMsg::ClientResp {
                            request_id: command.request_id,
                            attempt,
                            result: Err(hint),
                        },
                    );
                }
            }
            NetMsg::ClientResp { .. } | NetMsg::ToZk(_) => {}
        }
    }

    /// Drains a node's outputs after an input and feeds the checkers.
    fn after_input(&mut self, node: u32, now_ms: u64, io: &mut Io) {
        let i = node as usize;
        loop {
            let Some(core) = self.nodes[i].core.as_mut() else {
                return;
            };
            let Some(out) = core.poll_output() else { break };
            match out {
                NodeOutput::Persist { id, write } => {
                    let d = &self.sc.options.disk;
                    let lat = madsim::rand::thread_rng().gen_range(d.fsync_ms_min..=d.fsync_ms_max);
                    self.nodes[i].store.submit(now_ms, lat, id, write);
                }
                NodeOutput::Send(msg) => {
                    let slot = &self.nodes[i];
                    let raft = slot.core.as_ref().expect("up").raft();
                    if let Err(v) = self.checks.on_send(raft, &slot.store.disk.durable, &msg) {
                        return self.violated(v, now_ms);
                    }
                    let to = msg.to as usize;
                    self.push(io, i, to, NetMsg::Raft(msg));
                }
                NodeOutput::Reply {
                    client,
                    request_id,
                    reply,
                } => {
                    let party = self.nodes.len() + client as usize;
                    self.push(
                        io,
                        i,
                        party,
                        NetMsg::ClientResp {
                            request_id,
                            attempt: 0,
                            result: Ok(reply),
                        },
                    );
                }
                NodeOutput::ToZk(m) => {
                    let zk = self.zk_party;
                    self.push(io, i, zk, NetMsg::ToZk(Box::new(m)));
                }
            }
        }
        if self.after_wal_step(node, now_ms).is_err() {
            return;
        }
        let core = self.nodes[i].core.as_mut().expect("up");
        let events = core.raft_mut().take_events();
        let raft = self.nodes[i].core.as_ref().expect("up").raft();
        let mut result = Ok(());
        for e in &events {
            result = self.checks.on_event(raft, e);
            if result.is_err() {
                break;
            }
        }
        if result.is_ok() {
            result = self.checks.after_step(raft);
        }
        self.nodes[i]
            .core
            .as_mut()
            .expect("up")
            .raft_mut()
            .return_events(events);
        if let Err(v) = result {
            self.violated(v, now_ms);
        }
    }

    /// The WAL layer's checks and the node's ZooKeeper session after an input.
    fn after_wal_step(&mut self, node: u32, now_ms: u64) -> Result<(), ()> {
        let core = self.nodes[node as usize].core.as_mut().expect("up");
        for _ in 0..core.take_unknown_outcomes() {
            self.faults.add(FaultKind::ZkConnectionLoss);
        }
        core.take_watch_events();
        core.drain_wal_events(&mut self.wal_events);
        if let Err(e) = core.check_zk() {
            self.fail(
                "zk_model",
                format!("node {node}'s ZooKeeper session: {e}"),
                now_ms,
            );
            return Err(());
        }
        if self.wal_events.is_empty() {
            return Ok(());
        }
        let events = std::mem::take(&mut self.wal_events);
        let tree = self.zk.as_ref().map(|e| e.leader_tree());
        let mut result = Ok(());
        for e in &events {
            result = self.wal_checks.on_event(e, tree);
            if result.is_err() {
                break;
            }
        }
        if let Err(v) = result {
            self.violated(v, now_ms);
            return Err(());
        }
        Ok(())
    }

    /// The running node that leads in the highest term, if any.
    pub fn current_leader(&self) -> Option<u32> {
        self.nodes
            .iter()
            .filter_map(|s| s.core.as_ref().map(Node::raft))
            .filter(|r| r.role() == Role::Leader)
            .max_by_key(|r| r.term())
            .map(|r| r.id())
    }

    // ----- ZooKeeper -----

    pub fn zk_message(&mut self, env: Envelope, now_ms: u64, io: &mut Io) {
        if self.violation.is_some() {
            return;
        }
        if let (NetMsg::ToZk(m), Some(e)) = (env.msg, self.zk.as_mut()) {
            self.counts.events += 1;
            e.handle_message(now_ms, *m);
            self.after_zk(now_ms, io);
        }
    }

    pub fn zk_tick(&mut self, now_ms: u64, io: &mut Io) {
        if self.violation.is_some() {
            return;
        }
        if let Some(e) = self.zk.as_mut() {
            if e.deadline_ms().is_some_and(|d| d <= now_ms) {
                self.counts.events += 1;
                e.tick(now_ms);
            }
        }
        self.after_zk(now_ms, io);
    }

    pub fn zk_deadline_ms(&self) -> Option<u64> {
        self.zk.as_ref().and_then(|e| e.deadline_ms())
    }

    /// Replies and events to the nodes, notices, the ensemble's invariants.
    fn after_zk(&mut self, now_ms: u64, io: &mut Io) {
        let zk_party = self.zk_party;
        let Some(e) = self.zk.as_mut() else { return };
        let mut out = Vec::new();
        while let Some(m) = e.poll_output() {
            out.push(m);
        }
        let mut expired = 0;
        while let Some(n) = e.poll_notice() {
            if let Notice::SessionExpired { .. } = n {
                expired += 1;
            }
        }
        self.zk_steps += 1;
        let check = if self.zk_steps % ZK_CHECK_EVERY == 1 {
            e.check_invariants()
        } else {
            Ok(())
        };
        for _ in 0..expired {
            self.faults.add(FaultKind::ZkSessionExpired);
        }
        for m in out {
            let node = (m.conn.client >> 32) as usize;
            self.push(io, zk_party, node, NetMsg::FromZk(Box::new(m)));
        }
        if let Err(e) = check {
            self.fail("zk_model", format!("ZooKeeper ensemble: {e}"), now_ms);
        }
    }

    // ----- Clients -----

    /// Carries out a client's action: sends, and the timers the client task must arm.
    pub fn client_action(
        &mut self,
        c: usize,
        action: ClientAction,
        now_ms: u64,
        io: &mut Io,
        timers: &mut Vec<(u64, ClientTimer)>,
    ) {
        let party = self.nodes.len() + c;
        match action {
            ClientAction::Send {
                node,
                command,
                attempt,
            } => {
                let timeout = self.clients[c].attempt_timeout_ms();
                timers.push((
                    now_ms + timeout,
                    ClientTimer::AttemptTimeout {
                        request_id: command.request_id,
                        attempt,
                    },
                ));
                self.push(
                    io,
                    party,
                    node as usize,
                    NetMsg::ClientReq {
                        client: c as u32,
                        attempt,
                        command,
                    },
                );
            }
            ClientAction::RetryLater { at_ms } => {
                let request_id = self.clients[c]
                    .current
                    .as_ref()
                    .map_or(0, |cur| cur.request_id);
                timers.push((at_ms, ClientTimer::Retry { request_id }));
            }
            ClientAction::Wake { at_ms } => timers.push((at_ms, ClientTimer::Wake)),
            ClientAction::Idle => {}
        }
    }

    pub fn client_timer(
        &mut self,
        c: usize,
        t: ClientTimer,
        now_ms: u64,
        io: &mut Io,
        timers: &mut Vec<(u64, ClientTimer)>,
    ) {
        if self.violation.is_some() {
            return;
        }
        self.counts.events += 1;
        let a = match t {
            ClientTimer::Wake => {
                let accepting = !self.healed || c == self.probe;
                self.clients[c].start_next(now_ms, accepting)
            }
            ClientTimer::Retry { request_id } => {
                let cl = &mut self.clients[c];
                if cl
                    .current
                    .as_ref()
                    .is_some_and(|cur| cur.request_id == request_id)
                {
                    cl.retry(now_ms)
                } else {
                    ClientAction::Idle
                }
            }
            ClientTimer::AttemptTimeout {
                request_id,
                attempt,
            } => self.clients[c].on_attempt_timeout(now_ms, request_id, attempt),
        };
        self.client_action(c, a, now_ms, io, timers);
    }

    pub fn client_message(
        &mut self,
        c: usize,
        env: Envelope,
        now_ms: u64,
        io: &mut Io,
        timers: &mut Vec<(u64, ClientTimer)>,
    ) {
        if self.violation.is_some() {
            return;
        }
        self.counts.events += 1;
        let a = match env.msg {
            NetMsg::ClientResp {
                request_id,
                result: Ok(reply),
                ..
            } => self.clients[c].on_reply(now_ms, request_id, &reply),
            NetMsg::ClientResp {
                request_id,
                attempt,
                result: Err(hint),
            } => self.clients[c].on_not_leader(now_ms, request_id, attempt, hint),
            _ => ClientAction::Idle,
        };
        self.client_action(c, a, now_ms, io, timers);
    }

    // ----- End of run -----

    /// Every client is done, the probe write acknowledged, and every node up,
    /// recovered, and caught up with everything committed (including the probe write).
    pub fn converged(&self) -> bool {
        let probe_ok = self.clients[self.probe].last_ok.is_some();
        let clients_done = self.clients.iter().all(|c| c.is_done());
        if !(probe_ok && clients_done) {
            return false;
        }
        let v = zkwal_model::scenario::unique_value(self.probe, 0);
        let max_commit = self
            .nodes
            .iter()
            .filter_map(|s| s.core.as_ref().map(Node::raft))
            .map(|r| r.commit_index())
            .max();
        self.nodes.iter().all(|s| {
            s.core.as_ref().map(Node::raft).is_some_and(|r| {
                r.role() != Role::Recovering
                    && Some(r.applied_index()) == max_commit
                    && r.state_machine()
                        .state
                        .lists
                        .get(&0)
                        .is_some_and(|l| l.contains(&v))
            })
        })
    }

    /// The verdict when the deadline passed without convergence.
    pub fn on_deadline(&mut self, now_ms: u64) {
        let state: Vec<String> = self
            .nodes
            .iter()
            .filter_map(|s| s.core.as_ref().map(Node::raft))
            .map(|r| {
                format!(
                    "n{}:{:?}/t{}/c{}/a{}",
                    r.id(),
                    r.role(),
                    r.term(),
                    r.commit_index(),
                    r.applied_index()
                )
            })
            .collect();
        let state = state.join(" ");
        let liveness_ms = self.sc.options.liveness_ms;
        if self.clients[self.probe].last_ok.is_none() {
            self.fail(
                "liveness",
                format!("no write committed within {liveness_ms} ms after healing; nodes: {state}"),
                now_ms,
            );
        } else if !self.clients.iter().all(|c| c.is_done()) {
            self.fail(
                "liveness",
                format!("client operations still unfinished at the deadline; nodes: {state}"),
                now_ms,
            );
        } else {
            self.fail(
                "convergence",
                format!("not every node applied the probe write within {liveness_ms} ms; nodes: {state}"),
                now_ms,
            );
        }
    }

    /// The client-history check over every client's operations and the final states.
    pub fn check_history(&mut self, now_ms: u64) {
        let mut ops = Vec::new();
        for c in &self.clients {
            ops.extend(c.history.iter().cloned());
        }
        let final_states = self
            .nodes
            .iter()
            .filter_map(|s| s.core.as_ref().map(Node::raft))
            .map(|r| (r.id(), r.state_machine().state.lists.clone()))
            .collect();
        let h = History { ops, final_states };
        match history::check(&h) {
            Err(e) => self.fail("malformed_history", e.to_string(), now_ms),
            Ok(anomalies) => {
                if let Some(a) = anomalies.first() {
                    let more = anomalies.len() - 1;
                    self.fail(a.kind.name(), format!("{a} (+{more} more)"), now_ms);
                }
            }
        }
    }

    /// Client operations by outcome: (ok, failed, indeterminate).
    pub fn outcomes(&self) -> (u64, u64, u64) {
        let mut r = (0, 0, 0);
        for c in &self.clients {
            for op in &c.history {
                match op.outcome {
                    history::Outcome::Ok => r.0 += 1,
                    history::Outcome::Failed => r.1 += 1,
                    history::Outcome::Indeterminate => r.2 += 1,
                }
            }
        }
        r
    }
}

/// A client's timers.
#[derive(Clone, Copy, Debug)]
pub enum ClientTimer {
    Wake,
    Retry { request_id: u64 },
    AttemptTimeout { request_id: u64, attempt: u32 },
}
