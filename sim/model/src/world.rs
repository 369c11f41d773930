//! The world: one event loop in virtual time over a priority queue, driving the Raft
//! cores, their disks, the network, the clients and the faults of one [`Scenario`].
//! A run is a pure function of its Scenario: all randomness comes from ChaCha streams
//! of the Scenario's seed, ties in time are broken by insertion order, and nothing
//! iterates over a randomly-seeded hash map.
//!
//! Phases: `[0, duration_ms)` clients run their scripts and faults fire; at
//! `duration_ms` everything heals (down nodes restart, pauses end, partitions and
//! message loss stop); then a probe client must get a new append acknowledged, and
//! every node must apply it, within `liveness_ms`. Finally the client history and the
//! nodes' final states go to the history checker.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tracing::{debug, enabled, Level};
use zkwal_invariants::history::{self, History};
use zkwal_invariants::raft::{RaftChecks, Violation};
use zkwal_raft::{Config, MsgBody, Payload, Role, WriteId};
use zkwal_wal::{Node, NodeConfig, NodeOutput, WalEvent, ZkClientOptions};
use zkwal_zk::{Ensemble, EnsembleConfig, Notice};

use crate::clients::{Client, ClientAction};
use crate::disk::Disk;
use crate::faults::{FaultCounts, FaultKind};
use crate::network::{BodyView, Delivery, NetMsg, Network, Party};
use crate::overlap::ActiveFaults;
use crate::queue::EventQueue;
use crate::rng::{branch_rng, stream, stream_rng};
use crate::scenario::{ClientOpKind, ClientStep, Fault, Scenario};
use crate::situations::{Situation, SituationCounts, SituationWatch};
use crate::timeline::Recording;
use crate::trace::TraceHash;
use crate::zookeeper::{WalChecks, WalCounts};

mod watch;

/// Every run stops after this many events per 30 virtual seconds of scenario, whatever
/// happens (a bound on every loop). (A normal 10 s seed takes about 5,000 events; a
/// livelocked one is stopped at 400 times that.)
pub const MAX_EVENTS_PER_RUN: u64 = 2_000_000;
/// The ensemble's full invariant check runs once every this many ensemble steps.
const ZK_CHECK_EVERY: u64 = 16;
/// How often the end phase checks whether every node has caught up.
const CONVERGENCE_POLL_MS: u64 = 25;

#[derive(Clone, Debug)]
enum Ev {
    /// The ensemble's next deadline, at `at_ms`; one superseded by an earlier
    /// deadline is stale when it fires and does nothing (it used to re-arm the timer,
    /// so that every earlier deadline, as a lagging server's, left one more timer
    /// firing at every later deadline: a `zk_lag` multiplied a seed's events).
    ZkTimer {
        at_ms: u64,
    },
    /// The node core's other timers: its ZooKeeper session, the pause monitor, retries.
    AuxTimer {
        node: u32,
        incarnation: u32,
    },
    ZkRestore,
    ZkLagEnd {
        server: u32,
        lag_ms: u64,
    },
    ZkReconnect {
        node: u32,
    },
    Deliver {
        from: Party,
        to: Party,
        msg: NetMsg,
    },
    NodeTimer {
        node: u32,
        incarnation: u32,
    },
    DiskDone {
        node: u32,
        incarnation: u32,
        id: WriteId,
    },
    ClientWake {
        client: u32,
    },
    ClientRetry {
        client: u32,
        request_id: u64,
    },
    ClientAttemptTimeout {
        client: u32,
        request_id: u64,
        attempt: u32,
    },
    Fault {
        idx: usize,
    },
    Restart {
        node: u32,
    },
    Resume {
        node: u32,
    },
    /// A partition ends: the directed links it blocked.
    HealPartitions {
        links: Vec<(Party, Party)>,
    },
    Heal,
    Poll,
    Deadline,
}

struct NodeSlot {
    /// The running process (the variant's node core), or None while it is down.
    core: Option<Node>,
    disk: Disk,
    /// Bumped on every crash, so that completions and timers of a dead process are ignored.
    incarnation: u32,
    /// Frozen until this time (0: running).
    paused_until_ms: u64,
    /// Time of the timer event currently queued for this node (u64::MAX: none).
    timer_at_ms: u64,
    /// Time of the aux timer event currently queued for this node (u64::MAX: none).
    aux_at_ms: u64,
    /// Wiped and not yet holding its data again (durable `initialized` marker unset).
    without_data: bool,
    /// ZooKeeper sessions this node has opened (keeps client ids unique).
    zk_sessions: u32,
}

/// What a run produced.
#[derive(Clone, Debug)]
pub struct RunResult {
    pub violation: Option<Found>,
    pub events: u64,
    pub virtual_time_ms: u64,
    pub faults: FaultCounts,
    pub trace_hash: u64,
    pub ops_ok: u64,
    pub ops_failed: u64,
    pub ops_indeterminate: u64,
    /// ZooKeeper membership watch events received by the nodes.
    pub zk_watch_events: u64,
    /// What the WAL layers did (steps of the notes, takeovers, fencing).
    pub wal: WalCounts,
    /// Downtime, availability, latency and ZooKeeper cost of this run (`metrics.rs`).
    pub figures: crate::metrics::RunFigures,
    /// Leader changes and total-loss periods, as the run recorded them.
    pub record: crate::metrics::Record,
    /// How many times each named situation occurred (`situations.rs`).
    pub situations: SituationCounts,
    /// Where each situation was first reached: (events handled, virtual ms), the
    /// branch points of an exploration (`branch.rs`).
    pub situation_first: [Option<(u64, u64)>; zkwal_wal::Situation::COUNT],
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub invariant: String,
    pub detail: String,
    pub virtual_time_ms: u64,
}

pub struct World<'s> {
    sc: &'s Scenario,
    now_ms: u64,
    queue: EventQueue<Ev>,
    nodes: Vec<NodeSlot>,
    clients: Vec<Client>,
    net: Network,
    disk_rng: ChaCha8Rng,
    jitter_rng: ChaCha8Rng,
    checks: RaftChecks,
    wal_checks: WalChecks,
    wal_events: Vec<WalEvent>,
    wal_counts: WalCounts,
    faults: FaultCounts,
    trace: TraceHash,
    events: u64,
    healed: bool,
    /// Index of the liveness probe client in `clients`.
    probe: usize,
    violation: Option<Found>,
    done: bool,
    /// The ZooKeeper ensemble, a party on the network after the clients.
    zk: Option<Ensemble>,
    zk_party: Party,
    zk_timer_at_ms: u64,
    /// Membership watch events the nodes received (a peer's session ended, or began).
    zk_watch_events: u64,
    /// `zk_pin` faults: the one server each node's next sessions use.
    zk_pins: Vec<Option<u32>>,
    /// Ensemble steps so far (its full invariant check runs every ZK_CHECK_EVERY).
    zk_steps: u64,
    /// Faults in progress, so that each lasts exactly its own length.
    active: ActiveFaults,
    record: crate::metrics::Record,
    /// The next of the scenario's branch points (`branch.rs`) not yet entered.
    next_branch: usize,
    /// The named situations: what the world watches to see them, and their counts.
    sit: SituationWatch,
    /// Replay only: the events that matter, for the counterexample timeline and the
    /// HTML diagram (`timeline.rs`). None on every other run, so that a normal run
    /// builds and formats nothing extra.
    recorder: Option<&'s mut Recording>,
}

impl<'s> World<'s> {
    pub fn new(sc: &'s Scenario) -> World<'s> {
        World::with_recorder(sc, None)
    }

    /// As [`World::new`], recording into `recorder` when given (it outlives a panic of
    /// the run, so a `panic` verdict still has its timeline).
    pub fn with_recorder(sc: &'s Scenario, recorder: Option<&'s mut Recording>) -> World<'s> {
        let n = sc.nodes as usize;
        let o = &sc.options;
        let mut clients: Vec<Client> = sc
            .clients
            .iter()
            .enumerate()
            .map(|(c, script)| {
                Client::new(
                    c as u32,
                    script.clone(),
                    sc.nodes,
                    o.client.attempt_timeout_ms,
                    o.client.op_timeout_ms,
                )
            })
            .collect();
        for c in clients.iter_mut() {
            c.network_duplicates = o.net.dup_ppm > 0;
            c.value_bytes = o.client.value_bytes;
        }
        let probe = clients.len();
        let probe_value = crate::scenario::unique_value(probe, 0);
        clients.push(Client::new(
            probe as u32,
            vec![ClientStep {
                think_ms: 0,
                op: ClientOpKind::Append {
                    key: 0,
                    value: probe_value,
                },
            }],
            sc.nodes,
            o.client.attempt_timeout_ms,
            o.liveness_ms,
        ));
        let zk_party = n + clients.len();
        let parties = zk_party + usize::from(o.zk.is_some());
        let mut w = World {
            sc,
            now_ms: 0,
            queue: EventQueue::with_capacity(1024),
            nodes: Vec::with_capacity(n),
            clients,
            net: Network::new(o.net.clone(), stream_rng(sc.seed, stream::NETWORK), parties),
            disk_rng: stream_rng(sc.seed, stream::DISK),
            jitter_rng: stream_rng(sc.seed, stream::JITTER),
            checks: RaftChecks::new(),
            wal_checks: WalChecks::default(),
            wal_events: Vec::new(),
            wal_counts: WalCounts::default(),
            faults: FaultCounts::default(),
            trace: TraceHash::default(),
            events: 0,
            healed: false,
            probe,
            violation: None,
            done: false,
            zk: o
                .zk
                .as_ref()
                .map(|z| Ensemble::new(EnsembleConfig::new(z.servers, z.tick_time_ms), 0)),
            zk_party,
            zk_timer_at_ms: u64::MAX,
            zk_watch_events: 0,
            zk_pins: vec![None; n],
            zk_steps: 0,
            active: ActiveFaults::new(n, o.zk.as_ref().map_or(0, |z| z.servers as usize)),
            record: Default::default(),
            next_branch: 0,
            sit: SituationWatch::new(n, sc.variant.wal_variant().has_wal()),
            recorder,
        };
        w.wal_checks = crate::zookeeper::wal_checks(sc.variant, w.zk.as_mut());
        if let Some(r) = w.recorder.as_deref_mut() {
            r.begin(sc);
        }
        for f in &sc.faults {
            if let (0, Fault::ZkPin { node, server }) = (f.at_ms, &f.fault) {
                w.zk_pins[*node as usize] = Some(*server);
            }
        }
        for _ in 0..n {
            w.nodes.push(NodeSlot {
                core: None,
                disk: Disk::new(),
                incarnation: 0,
                paused_until_ms: 0,
                timer_at_ms: u64::MAX,
                aux_at_ms: u64::MAX,
                without_data: false,
                zk_sessions: 0,
            });
        }
        for i in 0..n as u32 {
            w.start_node(i);
        }
        for c in 0..probe {
            let action = w.clients[c].first_wake();
            w.client_action(c, action);
        }
        for (idx, f) in sc.faults.iter().enumerate() {
            if f.at_ms < o.duration_ms {
                w.schedule(f.at_ms, Ev::Fault { idx });
            }
        }
        w.schedule(o.duration_ms, Ev::Heal);
        w.schedule(o.duration_ms + o.liveness_ms, Ev::Deadline);
        w
    }

    /// Runs the scenario to its verdict.
    pub fn run(mut self) -> RunResult {
        self.drive();
        self.finish()
    }

    /// Virtual time now and the events processed so far: what a run that panicked
    /// still tells (the shrinker cuts a panicking scenario's horizon with it).
    pub fn clock(&self) -> (u64, u64) {
        (self.now_ms, self.events)
    }

    /// The running hash of the events processed so far: what a run that panicked still
    /// hashes, so that `--check-determinism` sees nondeterminism before a panic too.
    pub fn trace_hash_so_far(&self) -> u64 {
        self.trace.value()
    }

    /// When each scripted client's started operations ran, by client (the liveness
    /// probe is not scripted and not listed).
    pub fn step_times(&self) -> Vec<Vec<crate::clients::StepTime>> {
        self.clients[..self.probe]
            .iter()
            .map(Client::step_times)
            .collect()
    }

    /// Processes events until the run is done (or its event budget is spent).
    pub fn drive(&mut self) {
        while self.step() {}
        if self.violation.is_none() {
            self.check_history();
        }
    }

    /// Processes one event; false once the run is done (or its event budget is
    /// spent), when [`World::drive`] would stop. Tests step a world to watch its
    /// state between events ([`World::effects`]).
    pub fn step(&mut self) -> bool {
        // The budget is per 30 virtual seconds of scenario (a 10 s swarm seed and its
        // 20 s of healing): an hour-long churn seed gets 120 times as many events.
        let o = &self.sc.options;
        let budget = MAX_EVENTS_PER_RUN * ((o.duration_ms + o.liveness_ms) / 30_000).max(1);
        if self.done {
            return false;
        }
        let Some((at_ms, ev)) = self.queue.pop() else {
            return false;
        };
        debug_assert!(at_ms >= self.now_ms, "time never goes back");
        self.now_ms = at_ms;
        self.events += 1;
        if self.events > budget {
            self.fail("event_budget", format!("more than {budget} events"));
            return false;
        }
        self.sit.clock = (self.events, self.now_ms);
        self.handle(ev);
        if let Some(b) = self.sc.branches.get(self.next_branch) {
            if b.after_event == self.events {
                self.enter_branch();
            }
        }
        true
    }

    /// A branch of an exploration begins after this event (`branch.rs`): from now on
    /// the network, disk and election jitter draw from the branch's streams. (The
    /// branch's later faults are already in the scenario.)
    fn enter_branch(&mut self) {
        let (seed, salt) = (self.sc.seed, self.sc.branches[self.next_branch].salt);
        self.net.reseed(branch_rng(seed, salt, stream::NETWORK));
        self.disk_rng = branch_rng(seed, salt, stream::DISK);
        self.jitter_rng = branch_rng(seed, salt, stream::JITTER);
        self.next_branch += 1;
        self.trace_line(format_args!(
            "branch {}",
            self.sc.branches[self.next_branch - 1].name
        ));
    }

    /// What the faults do to the world now (observed from its state, not from the
    /// fault bookkeeping).
    pub fn effects(&self) -> crate::overlap::Effects {
        let parties = self.zk_party + usize::from(self.zk.is_some());
        let mut blocked = Vec::new();
        for a in 0..parties {
            for b in 0..parties {
                if self.net.is_blocked(a, b) {
                    blocked.push((a, b));
                }
            }
        }
        let zk = self.zk.as_ref();
        crate::overlap::Effects {
            now_ms: self.now_ms,
            leader: self.current_leader(),
            down: self.nodes.iter().map(|s| s.core.is_none()).collect(),
            paused: self
                .nodes
                .iter()
                .map(|s| s.paused_until_ms > self.now_ms)
                .collect(),
            incarnation: self.nodes.iter().map(|s| s.incarnation).collect(),
            blocked,
            zk_party: self.zk_party,
            zk_serving_servers: zk.map_or(0, |e| {
                (0..e.config().servers)
                    .filter(|s| e.server_serving(*s))
                    .count() as u32
            }),
            zk_lag_ms: zk.map_or(Vec::new(), |e| {
                (0..e.config().servers)
                    .map(|s| e.server_lag_ms(s))
                    .collect()
            }),
        }
    }

    /// The verdict and figures of a run that [`World::drive`] took to its end.
    pub fn finish(mut self) -> RunResult {
        if let Some(r) = self.recorder.as_deref_mut() {
            r.history(self.clients.iter().flat_map(|c| c.history.iter().cloned()));
        }
        let mut figures = crate::metrics::RunFigures::of_run(
            self.sc,
            &self.clients,
            self.probe,
            &self.record,
            self.zk.as_ref().map(|e| e.stats()),
            self.now_ms,
        );
        if let Some(z) = figures.zk.as_mut() {
            z.snapshots_published = self.wal_counts.published;
        }
        let mut r = RunResult {
            violation: self.violation,
            events: self.events,
            virtual_time_ms: self.now_ms,
            faults: self.faults,
            trace_hash: self.trace.value(),
            ops_ok: 0,
            ops_failed: 0,
            ops_indeterminate: 0,
            zk_watch_events: self.zk_watch_events,
            wal: self.wal_counts,
            figures,
            record: self.record,
            situations: self.sit.counts,
            situation_first: self.sit.first,
        };
        for c in &self.clients {
            for op in &c.history {
                match op.outcome {
                    history::Outcome::Ok => r.ops_ok += 1,
                    history::Outcome::Failed => r.ops_failed += 1,
                    history::Outcome::Indeterminate => r.ops_indeterminate += 1,
                }
            }
        }
        r
    }

    fn schedule(&mut self, at_ms: u64, ev: Ev) {
        self.queue.push(at_ms, ev);
    }

    fn fail(&mut self, invariant: &str, detail: String) {
        if self.violation.is_none() {
            debug!(t = self.now_ms, invariant, %detail, "VIOLATION");
            if let Some(r) = self.recorder.as_deref_mut() {
                r.violation(self.now_ms, invariant, &detail);
            }
            self.violation = Some(Found {
                invariant: invariant.to_string(),
                detail,
                virtual_time_ms: self.now_ms,
            });
        }
        self.done = true;
    }

    fn violated(&mut self, v: Violation) {
        self.fail(v.invariant, v.detail);
    }

    fn node_of(ev: &Ev) -> Option<u32> {
        match *ev {
            Ev::Deliver { to, .. } => Some(to as u32),
            Ev::NodeTimer { node, .. } | Ev::DiskDone { node, .. } | Ev::AuxTimer { node, .. } => {
                Some(node)
            }
            _ => None,
        }
    }

    fn handle(&mut self, ev: Ev) {
        // A paused process handles nothing: its inputs wait until it resumes.
        if let Some(node) = Self::node_of(&ev) {
            if (node as usize) < self.nodes.len() {
                let until = self.nodes[node as usize].paused_until_ms;
                if until > self.now_ms {
                    self.schedule(until, ev);
                    return;
                }
            }
        }
        match ev {
            Ev::Deliver { from, to, msg } => self.deliver(from, to, msg),
            Ev::NodeTimer { node, incarnation } => self.on_timer(node, incarnation),
            Ev::DiskDone {
                node,
                incarnation,
                id,
            } => self.on_disk_done(node, incarnation, id),
            Ev::ClientWake { client } => {
                let accepting = !self.healed || client as usize == self.probe;
                let a = self.clients[client as usize].start_next(self.now_ms, accepting);
                self.client_action(client as usize, a);
            }
            Ev::ClientRetry { client, request_id } => {
                let c = &mut self.clients[client as usize];
                if c.current
                    .as_ref()
                    .is_some_and(|cur| cur.request_id == request_id)
                {
                    let a = c.retry(self.now_ms);
                    self.client_action(client as usize, a);
                }
            }
            Ev::ClientAttemptTimeout {
                client,
                request_id,
                attempt,
            } => {
                let a = self.clients[client as usize].on_attempt_timeout(
                    self.now_ms,
                    request_id,
                    attempt,
                );
                self.client_action(client as usize, a);
            }
            Ev::Fault { idx } => self.inject(idx),
            Ev::Restart { node } => self.restart(node),
            Ev::Resume { node } => {
                let slot = &mut self.nodes[node as usize];
                if slot.paused_until_ms <= self.now_ms && slot.paused_until_ms != 0 {
                    slot.paused_until_ms = 0;
                    self.watch_resume(node);
                    self.record.outages.resumed(self.now_ms, node);
                    self.trace_line(format_args!("resume node {node}"));
                }
            }
            Ev::HealPartitions { links } => {
                self.net.unblock(&links);
                self.record_zk_links();
            }
            Ev::Heal => self.heal(),
            Ev::ZkTimer { at_ms } => {
                if at_ms != self.zk_timer_at_ms {
                    return;
                }
                self.zk_timer_at_ms = u64::MAX;
                if let Some(e) = self.zk.as_mut() {
                    e.tick(self.now_ms);
                    self.after_zk();
                }
            }
            Ev::AuxTimer { node, incarnation } => self.on_aux_timer(node, incarnation),
            Ev::ZkRestore => {
                if !self.active.outage_end() {
                    return;
                }
                if let Some(e) = self.zk.as_mut() {
                    e.set_unavailable(self.now_ms, false);
                    self.record
                        .outages
                        .zk_outage(self.now_ms, e.is_unavailable());
                    self.trace_line(format_args!("zookeeper available again"));
                    self.watch_commit_held();
                    self.after_zk();
                }
            }
            Ev::ZkLagEnd { server, lag_ms } => {
                if self.healed {
                    return;
                }
                let lag_now = self.active.lag_end(server, lag_ms);
                if let Some(e) = self.zk.as_mut() {
                    e.set_server_lag_ms(self.now_ms, server, lag_now);
                    self.after_zk();
                }
            }
            Ev::ZkReconnect { node } => {
                let zk_party = self.zk_party;
                self.net
                    .unblock(&Network::both_ways(node as usize, zk_party));
                self.record_zk_links();
            }
            Ev::Poll => self.poll_convergence(),
            Ev::Deadline => self.on_deadline(),
        }
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

    fn jitter(&mut self) -> u64 {
        self.jitter_rng
            .gen_range(0..self.sc.options.raft.election_timeout_ms_min)
    }

    fn start_node(&mut self, node: u32) {
        let cfg = self.raft_config(node);
        let jitter = self.jitter();
        let i = node as usize;
        let o = &self.sc.options;
        let zk = o.zk.as_ref().map(|z| ZkClientOptions {
            servers: crate::zookeeper::server_order(node, z, &self.zk_pins),
            session_timeout_ms: z.session_timeout_ms,
            client_expiry: z.client_expiry,
        });
        let ncfg = NodeConfig {
            raft: cfg,
            variant: self.sc.variant.wal_variant(),
            zk,
            wal: o.wal.clone(),
            pause_monitor: o.pause_monitor,
        };
        let core = Node::new(
            ncfg,
            &self.nodes[i].disk.durable,
            self.now_ms,
            jitter,
            self.nodes[i].zk_sessions,
        );
        self.checks
            .on_start(node, core.raft().log().snapshot_index());
        self.nodes[i].core = Some(core);
        self.nodes[i].timer_at_ms = u64::MAX;
        self.nodes[i].aux_at_ms = u64::MAX;
        self.record.node_up(self.now_ms);
        self.record.outages.up(self.now_ms, node);
        self.trace.mix(0x5157 ^ node as u64);
        self.after_input(node);
    }

    /// Drains a node's outputs and events after an input, and re-arms its timer.
    fn after_input(&mut self, node: u32) {
        let i = node as usize;
        loop {
            let Some(core) = self.nodes[i].core.as_mut() else {
                return;
            };
            let Some(out) = core.poll_output() else { break };
            match out {
                NodeOutput::Persist { id, write } => {
                    let d = &self.sc.options.disk;
                    let lat = self.disk_rng.gen_range(d.fsync_ms_min..=d.fsync_ms_max);
                    let slot = &mut self.nodes[i];
                    slot.disk.submit(id, write);
                    let at = slot.disk.busy_until_ms.max(self.now_ms) + lat;
                    slot.disk.busy_until_ms = at;
                    let incarnation = slot.incarnation;
                    self.schedule(
                        at,
                        Ev::DiskDone {
                            node,
                            incarnation,
                            id,
                        },
                    );
                }
                NodeOutput::Send(msg) => {
                    let raft = self.nodes[i].core.as_ref().expect("node is up").raft();
                    if let Err(v) = self.checks.on_send(raft, &self.nodes[i].disk.durable, &msg) {
                        return self.violated(v);
                    }
                    match msg.body {
                        MsgBody::AppendEntries { .. } if self.sit.nodes[i].woke.is_some() => {
                            self.watch_woken_append(node, msg.term)
                        }
                        MsgBody::RequestVote { .. } if self.sit.last_bumper.is_some() => {
                            self.watch_campaign(node, msg.term)
                        }
                        _ => {}
                    }
                    let to = msg.to as usize;
                    self.send(i, to, NetMsg::Raft(msg));
                }
                NodeOutput::Reply {
                    client,
                    request_id,
                    reply,
                } => {
                    let client = self.client_party(client);
                    self.send(
                        i,
                        client,
                        NetMsg::ClientResp {
                            request_id,
                            attempt: 0,
                            result: Ok(reply),
                        },
                    );
                }
                NodeOutput::ToZk(m) => {
                    let zk_party = self.zk_party;
                    self.send(i, zk_party, NetMsg::ToZk(Box::new(m)));
                }
            }
        }
        if self.after_wal_step(node).is_err() {
            return;
        }
        // Checkers see the events of this input, with the node's state after it.
        let raft = self.nodes[i].core.as_mut().expect("node is up").raft_mut();
        let events = raft.take_events();
        self.watch_raft_events(node, &events);
        let raft = self.nodes[i].core.as_ref().expect("node is up").raft();
        self.record.raft_events(self.now_ms, node, &events);
        self.record
            .milestones
            .role(self.now_ms, node, raft.role(), raft.term());
        if let Some(r) = self.recorder.as_deref_mut() {
            r.node_step(
                self.now_ms,
                self.nodes[i].core.as_ref().expect("up"),
                &events,
            );
        }
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
        let deadline = raft.deadline_ms();
        let aux = self.nodes[i]
            .core
            .as_ref()
            .expect("node is up")
            .aux_deadline_ms();
        self.nodes[i]
            .core
            .as_mut()
            .expect("node is up")
            .raft_mut()
            .return_events(events);
        if let Err(v) = result {
            self.violated(v);
            return;
        }
        if let Some(w) = self.sit.nodes[i].woke {
            let raft = self.nodes[i].core.as_ref().expect("node is up").raft();
            if raft.role() != Role::Leader || raft.term() != w.term {
                self.sit.nodes[i].woke = None;
            }
        }
        if let Some(at) = aux {
            if at < self.nodes[i].aux_at_ms {
                self.nodes[i].aux_at_ms = at;
                let incarnation = self.nodes[i].incarnation;
                self.schedule(at.max(self.now_ms), Ev::AuxTimer { node, incarnation });
            }
        }
        // Timers are lazy: a timer that fires early is re-armed for the real deadline.
        if deadline < self.nodes[i].timer_at_ms {
            self.nodes[i].timer_at_ms = deadline;
            let incarnation = self.nodes[i].incarnation;
            self.schedule(
                deadline.max(self.now_ms),
                Ev::NodeTimer { node, incarnation },
            );
        }
    }

    fn client_party(&self, client: u32) -> Party {
        self.nodes.len() + client as usize
    }

    fn send(&mut self, from: Party, to: Party, msg: NetMsg) {
        let delivery = self.net.route(self.now_ms, from, to, &mut self.faults);
        if let Some(r) = self.recorder.as_deref_mut() {
            r.message(self.now_ms, from, to, &msg, delivery);
        }
        match delivery {
            Delivery::Dropped => {}
            Delivery::Once(at) => self.schedule(at, Ev::Deliver { from, to, msg }),
            Delivery::Twice(a, b) => {
                self.schedule(
                    a,
                    Ev::Deliver {
                        from,
                        to,
                        msg: msg.clone(),
                    },
                );
                self.schedule(b, Ev::Deliver { from, to, msg });
            }
        }
    }

    fn deliver(&mut self, from: Party, to: Party, msg: NetMsg) {
        let n = self.nodes.len();
        self.trace_msg(from, to, &msg);
        if to == self.zk_party && self.zk.is_some() {
            if let NetMsg::ToZk(m) = msg {
                self.zk
                    .as_mut()
                    .expect("present")
                    .handle_message(self.now_ms, *m);
                self.after_zk();
            }
            return;
        }
        if let NetMsg::FromZk(m) = msg {
            let now = self.now_ms;
            if let Some(core) = self.nodes[to].core.as_mut() {
                // Messages for an older session of this node find no listener.
                core.zk_message(now, *m);
                self.after_input(to as u32);
            }
            return;
        }
        if to >= n {
            let c = to - n;
            let a = match msg {
                NetMsg::ClientResp {
                    request_id,
                    result: Ok(reply),
                    ..
                } => self.clients[c].on_reply(self.now_ms, request_id, &reply),
                NetMsg::ClientResp {
                    request_id,
                    attempt,
                    result: Err(hint),
                } => self.clients[c].on_not_leader(self.now_ms, request_id, attempt, hint),
                _ => ClientAction::Idle,
            };
            self.client_action(c, a);
            return;
        }
        if self.nodes[to].core.is_none() {
            return; // the process is down: the message is lost
        }
        match msg {
            NetMsg::Raft(m) => {
                if let MsgBody::InstallSnapshot { snapshot } = &m.body {
                    let last = self.nodes[to]
                        .core
                        .as_ref()
                        .expect("up")
                        .raft()
                        .log()
                        .last_index();
                    self.sit.nodes[to].install_over_longer = last > snapshot.last_index;
                }
                self.nodes[to]
                    .core
                    .as_mut()
                    .expect("up")
                    .step(self.now_ms, m);
                self.after_input(to as u32);
            }
            NetMsg::ClientReq {
                client,
                attempt,
                command,
            } => {
                let now = self.now_ms;
                let core = self.nodes[to].core.as_mut().expect("up");
                // Proposed again even if this node proposed it before: that earlier
                // entry may have been truncated. The state machine de-duplicates.
                let answer = core.propose(now, command).err();
                if answer.is_none() {
                    self.record.milestones.accepted(now, to as u32);
                }
                self.after_input(to as u32);
                if let Some(hint) = answer {
                    let party = self.client_party(client);
                    self.send(
                        to,
                        party,
                        NetMsg::ClientResp {
                            request_id: command.request_id,
                            attempt,
                            result: Err(hint),
                        },
                    );
                }
            }
            NetMsg::ClientResp { .. } | NetMsg::ToZk(_) | NetMsg::FromZk(_) => {}
        }
    }

    fn on_timer(&mut self, node: u32, incarnation: u32) {
        let i = node as usize;
        if self.nodes[i].incarnation != incarnation {
            return;
        }
        self.nodes[i].timer_at_ms = u64::MAX;
        let jitter = self.jitter();
        let now = self.now_ms;
        let Some(core) = self.nodes[i].core.as_mut() else {
            return;
        };
        if now >= core.raft().deadline_ms() {
            self.trace.mix(0x7133 ^ (node as u64) << 8 ^ now);
            core.tick(now, jitter);
        }
        self.after_input(node);
    }

    fn on_aux_timer(&mut self, node: u32, incarnation: u32) {
        let i = node as usize;
        if self.nodes[i].incarnation != incarnation {
            return;
        }
        self.nodes[i].aux_at_ms = u64::MAX;
        let now = self.now_ms;
        if let Some(core) = self.nodes[i].core.as_mut() {
            core.aux_tick(now);
            self.after_input(node);
        }
    }

    fn on_disk_done(&mut self, node: u32, incarnation: u32, id: WriteId) {
        let i = node as usize;
        if self.nodes[i].incarnation != incarnation {
            return;
        }
        let checks = &mut self.checks;
        let mut bad = None;
        self.nodes[i].disk.complete(id, |before, write| {
            if bad.is_none() {
                bad = checks.on_durable(node, before, write).err();
            }
        });
        if let Some(v) = bad {
            self.violated(v);
            return;
        }
        if self.nodes[i].disk.durable.hard.initialized {
            self.nodes[i].without_data = false;
        }
        let now = self.now_ms;
        self.trace.mix(0xd15c ^ (node as u64) << 8 ^ id << 16);
        if let Some(core) = self.nodes[i].core.as_mut() {
            core.persisted(now, id);
            self.after_input(node);
        }
    }

    // ----- Faults -----

    fn inject(&mut self, idx: usize) {
        if self.healed {
            return;
        }
        let fault = self.sc.faults[idx].fault.clone();
        self.trace_line(format_args!("fault {fault:?}"));
        if self.recorder.is_some() {
            let leader = self.current_leader();
            let r = self.recorder.as_deref_mut().expect("some");
            r.fault(self.now_ms, idx, &fault, leader);
        }
        self.trace.mix(0xfa17 ^ idx as u64);
        match fault {
            Fault::Crash { node, down_ms } => {
                if self.nodes[node as usize].core.is_some() {
                    self.crash(node, false);
                }
                self.keep_down(node, down_ms);
            }
            Fault::Wipe { node, down_ms } => {
                // Plain Raft: one member at a time may be without its data (README,
                // fault model). The WAL variants recover a blank disk from ZooKeeper.
                let other_without = self.sc.variant == crate::scenario::Variant::Raft
                    && self
                        .nodes
                        .iter()
                        .enumerate()
                        .any(|(j, s)| j != node as usize && s.without_data);
                if other_without {
                    self.faults.add(FaultKind::WipeSkipped);
                } else {
                    if self.nodes[node as usize].core.is_some() {
                        self.crash(node, true);
                    }
                    self.keep_down(node, down_ms);
                }
            }
            Fault::Pause { node, ms } => {
                let slot = &mut self.nodes[node as usize];
                if slot.core.is_some() {
                    slot.paused_until_ms = slot.paused_until_ms.max(self.now_ms + ms);
                    let until = slot.paused_until_ms;
                    self.record.outages.paused(self.now_ms, node);
                    self.record.milestones.stopped(self.now_ms, node);
                    self.faults.add(FaultKind::Pause);
                    self.schedule(until, Ev::Resume { node });
                }
            }
            Fault::CrashLeader { down_ms } => {
                if let Some(node) = self.current_leader() {
                    self.crash(node, false);
                    self.keep_down(node, down_ms);
                }
            }
            Fault::IsolateLeader { ms } => {
                if let Some(node) = self.current_leader() {
                    let links = self.net.partition_links(&[node], false, self.nodes.len());
                    self.net.block(&links);
                    self.record.milestones.stopped(self.now_ms, node);
                    self.faults.add(FaultKind::Partition);
                    self.schedule(self.now_ms + ms, Ev::HealPartitions { links });
                }
            }
            Fault::ZkOutage { ms } => {
                self.sit.outage_commit = self.current_leader().map(|l| {
                    let raft = self.nodes[l as usize].core.as_ref().expect("up").raft();
                    (l, raft.term(), raft.commit_index())
                });
                if self.zk.is_some() {
                    // An outage overrides a leader change in progress (the ensemble's
                    // rule): it also lasts to the end of that change's election.
                    if let Some(until) = self.active.election_until_ms(self.now_ms) {
                        self.active.outage_start();
                        self.schedule(until, Ev::ZkRestore);
                    }
                    if self.active.outage_start() {
                        let e = self.zk.as_mut().expect("some");
                        e.set_unavailable(self.now_ms, true);
                        self.record
                            .outages
                            .zk_outage(self.now_ms, e.is_unavailable());
                    }
                    self.faults.add(FaultKind::ZkOutage);
                    self.zk_stops_all();
                    self.schedule(self.now_ms + ms, Ev::ZkRestore);
                    self.after_zk();
                }
            }
            Fault::ZkLag { server, lag_ms, ms } => {
                if let Some(e) = self.zk.as_mut() {
                    let lag_now = self.active.lag_start(server, lag_ms);
                    e.set_server_lag_ms(self.now_ms, server, lag_now);
                    self.faults.add(FaultKind::ZkLag);
                    self.watch_zk_fault(|_, s| s == Some(server));
                    self.schedule(self.now_ms + ms, Ev::ZkLagEnd { server, lag_ms });
                    self.after_zk();
                }
            }
            Fault::ZkCutOff { node, ms } => {
                if self.zk.is_some() {
                    let zk_party = self.zk_party;
                    self.net.block(&Network::both_ways(node as usize, zk_party));
                    self.record_zk_links();
                    if self.sc.variant.wal_variant().has_wal() {
                        self.record.milestones.stopped(self.now_ms, node);
                    }
                    self.faults.add(FaultKind::ZkCutOff);
                    let w = &mut self.sit.nodes[node as usize];
                    w.cut_off_until_ms = w.cut_off_until_ms.max(self.now_ms + ms);
                    self.watch_zk_fault(|n, _| n == node);
                    self.schedule(self.now_ms + ms, Ev::ZkReconnect { node });
                }
            }
            Fault::PauseLeader { ms } => {
                if let Some(node) = self.current_leader() {
                    let slot = &mut self.nodes[node as usize];
                    slot.paused_until_ms = slot.paused_until_ms.max(self.now_ms + ms);
                    let until = slot.paused_until_ms;
                    self.record.outages.paused(self.now_ms, node);
                    self.record.milestones.stopped(self.now_ms, node);
                    self.faults.add(FaultKind::Pause);
                    self.faults.add(FaultKind::PauseLeader);
                    self.schedule(until, Ev::Resume { node });
                }
            }
            Fault::ZkLeaderChange {
                unavailable_ms,
                deposed_ms,
            } => {
                if let Some(e) = self.zk.as_mut() {
                    if e.is_unavailable() {
                        // No quorum to elect with: the election adds to the outage.
                        self.active.outage_start();
                        self.schedule(self.now_ms + unavailable_ms, Ev::ZkRestore);
                        self.faults.add(FaultKind::ZkLeaderChange);
                    } else if e.change_leader(self.now_ms, unavailable_ms, deposed_ms) {
                        self.active.election(self.now_ms, unavailable_ms);
                        self.record.outages.zk_election(self.now_ms, unavailable_ms);
                        self.faults.add(FaultKind::ZkLeaderChange);
                        self.zk_stops_all();
                    }
                    self.after_zk();
                }
            }
            Fault::ZkPin { node, server } => {
                self.zk_pins[node as usize] = Some(server);
                self.faults.add(FaultKind::ZkPin);
            }
            Fault::TotalLoss { down_ms, blank } => {
                let mut any = false;
                for node in 0..self.nodes.len() as u32 {
                    if self.nodes[node as usize].core.is_some() {
                        self.crash(node, blank.contains(&node));
                        any = true;
                    }
                    self.keep_down(node, down_ms);
                }
                if any {
                    self.faults.add(FaultKind::TotalLoss);
                }
            }
            Fault::Partition { side, one_way, ms } => {
                let links = self.net.partition_links(&side, one_way, self.nodes.len());
                self.net.block(&links);
                self.record
                    .milestones
                    .partitioned(self.now_ms, &side, self.sc.nodes);
                self.faults.add(FaultKind::Partition);
                self.schedule(self.now_ms + ms, Ev::HealPartitions { links });
            }
        }
    }

    /// Tells the figures which nodes' links to the ensemble are blocked now (the
    /// availability ceiling, `ceiling.rs`).
    fn record_zk_links(&mut self) {
        if self.zk.is_none() {
            return;
        }
        for node in 0..self.nodes.len() {
            let blocked = self.net.is_blocked(node, self.zk_party);
            self.record
                .outages
                .zk_link(self.now_ms, node as u32, blocked);
        }
    }

    /// A down fault keeps `node` down for `down_ms` from now, whatever other down
    /// fault ends meanwhile (its restart waits for the last one).
    fn keep_down(&mut self, node: u32, down_ms: u64) {
        self.active.down(node, self.now_ms + down_ms);
        self.schedule(self.now_ms + down_ms, Ev::Restart { node });
    }

    /// The ensemble cannot commit: a ZooKeeper variant's leader stops serving (its
    /// writes go to the WAL first), whichever node leads (the failover phases).
    fn zk_stops_all(&mut self) {
        if self.sc.variant.wal_variant().has_wal() {
            for node in 0..self.sc.nodes {
                self.record.milestones.stopped(self.now_ms, node);
            }
        }
    }

    /// The running node that leads in the highest term, if any.
    fn current_leader(&self) -> Option<u32> {
        self.nodes
            .iter()
            .filter_map(|s| s.core.as_ref().map(Node::raft))
            .filter(|r| r.role() == Role::Leader)
            .max_by_key(|r| r.term())
            .map(|r| r.id())
    }

    fn crash(&mut self, node: u32, wipe: bool) {
        let slot = &mut self.nodes[node as usize];
        // The process died; its session lives on at the service until it expires.
        if let Some(core) = slot.core.take() {
            slot.zk_sessions = core.sessions_opened();
        }
        slot.incarnation += 1;
        slot.paused_until_ms = 0;
        let w = &mut self.sit.nodes[node as usize];
        w.woke = None;
        w.taken_over_while_paused = false;
        w.blank_reading = false;
        w.install_over_longer = false;
        slot.timer_at_ms = u64::MAX;
        slot.aux_at_ms = u64::MAX;
        let lost = if wipe {
            slot.disk.wipe()
        } else {
            slot.disk.crash()
        };
        if wipe {
            slot.without_data = true;
        }
        self.record.node_down(self.now_ms);
        if self.nodes.iter().all(|s| s.core.is_none()) && self.nodes.iter().any(|s| s.without_data)
        {
            self.sit.blank_loss_pending = true;
        }
        self.record.outages.down(self.now_ms, node);
        self.record.milestones.stopped(self.now_ms, node);
        for _ in 0..lost {
            self.faults.add(FaultKind::UnsyncedWriteLost);
        }
        self.faults.add(if wipe {
            FaultKind::Wipe
        } else {
            FaultKind::Crash
        });
        if let Some(r) = self.recorder.as_deref_mut() {
            r.down(self.now_ms, node, wipe, lost);
        }
        self.trace_line(format_args!(
            "{} node {node} ({lost} unsynced writes lost)",
            if wipe { "wipe" } else { "crash" }
        ));
    }

    fn restart(&mut self, node: u32) {
        if self.nodes[node as usize].core.is_some() || !self.active.may_restart(node, self.now_ms) {
            return;
        }
        self.faults.add(FaultKind::Restart);
        if let Some(r) = self.recorder.as_deref_mut() {
            r.up(self.now_ms, node);
        }
        self.trace_line(format_args!("restart node {node}"));
        self.start_node(node);
    }

    fn heal(&mut self) {
        self.healed = true;
        self.active.heal();
        self.net.heal_all();
        self.record.outages.heal(self.now_ms);
        if let Some(r) = self.recorder.as_deref_mut() {
            r.heal(self.now_ms);
        }
        self.trace_line(format_args!("heal: faults stop"));
        if let Some(e) = self.zk.as_mut() {
            e.set_unavailable(self.now_ms, false);
            for server in 0..e.config().servers {
                e.set_server_lag_ms(self.now_ms, server, 0);
            }
            self.after_zk();
        }
        for node in 0..self.nodes.len() as u32 {
            let slot = &mut self.nodes[node as usize];
            slot.paused_until_ms = 0;
            if slot.core.is_none() {
                self.restart(node);
            }
        }
        let probe = self.probe;
        let a = self.clients[probe].start_next(self.now_ms, true);
        self.client_action(probe, a);
        self.schedule(self.now_ms + CONVERGENCE_POLL_MS, Ev::Poll);
    }

    // ----- ZooKeeper -----

    /// The WAL layer's checks and the node's ZooKeeper session after an input.
    /// Err: a violation was reported (the seed stops).
    fn after_wal_step(&mut self, node: u32) -> Result<(), ()> {
        let i = node as usize;
        let core = self.nodes[i].core.as_mut().expect("node is up");
        let watch_events = core.take_watch_events();
        self.zk_watch_events += watch_events;
        if let (Some(r), true) = (self.recorder.as_deref_mut(), watch_events > 0) {
            r.watch(self.now_ms, node, watch_events);
        }
        for _ in 0..core.take_unknown_outcomes() {
            self.faults.add(FaultKind::ZkConnectionLoss);
        }
        core.drain_wal_events(&mut self.wal_events);
        let session = core.check_zk();
        if let Err(e) = session {
            self.fail("zk_model", format!("node {node}'s ZooKeeper session: {e}"));
            return Err(());
        }
        let view = crate::zookeeper::node_view(node, core);
        if self.wal_events.is_empty() {
            return self
                .wal_checks
                .after_step(&view)
                .map_err(|v| self.violated(v));
        }
        let mut events = std::mem::take(&mut self.wal_events);
        let tree = self.zk.as_ref().map(|e| e.leader_tree());
        let mut result = Ok(());
        if let Some(r) = self.recorder.as_deref_mut() {
            r.wal(self.now_ms, &events);
        }
        for e in &events {
            if enabled!(Level::DEBUG) {
                debug!(t = self.now_ms, "wal {e:?}");
            }
            self.wal_counts.count(e);
            self.record.milestones.wal_event(self.now_ms, e);
            Self::watch_wal_event(&mut self.sit, &self.nodes, self.zk.as_ref(), self.now_ms, e);
            result = self.wal_checks.on_event(e, tree);
            if result.is_err() {
                break;
            }
        }
        events.clear();
        self.wal_events = events;
        if result.is_ok() {
            result = self.wal_checks.after_step(&view);
        }
        if let Err(v) = result {
            self.violated(v);
            return Err(());
        }
        Ok(())
    }

    /// Drains the ensemble after an input: replies and events to the nodes, notices
    /// (session expiry counts as a fault that really happened), invariants, timer.
    fn after_zk(&mut self) {
        let zk_party = self.zk_party;
        let now = self.now_ms;
        let Some(e) = self.zk.as_mut() else { return };
        let mut out = Vec::new();
        while let Some(m) = e.poll_output() {
            out.push(m);
        }
        let applied = crate::zookeeper::feed_applied(e, &mut self.wal_checks);
        let mut expired = 0;
        while let Some(n) = e.poll_notice() {
            if let Some(r) = self.recorder.as_deref_mut() {
                r.zk_notice(now, &n);
            }
            if let Notice::SessionExpired { session, .. } = n {
                expired += 1;
                let running = self.nodes.iter().any(|s| {
                    s.paused_until_ms <= now
                        && s.core
                            .as_ref()
                            .and_then(|c| c.zk_session())
                            .and_then(|z| z.session_id())
                            == Some(session)
                });
                if running {
                    self.sit.reach(Situation::SessionExpiredWhileRunning);
                }
            }
        }
        // The ensemble's full check walks the whole data tree: with the WAL variants'
        // thousands of znodes it would dominate the run, so it runs every
        // ZK_CHECK_EVERY ensemble steps (and at the first), not after each.
        self.zk_steps += 1;
        let check = if self.zk_steps % ZK_CHECK_EVERY == 1 {
            e.check_invariants()
        } else {
            Ok(())
        };
        if let Some(at) = e.deadline_ms() {
            let at_ms = at.max(now);
            if at_ms < self.zk_timer_at_ms {
                self.zk_timer_at_ms = at_ms;
                self.schedule(at_ms, Ev::ZkTimer { at_ms });
            }
        }
        for _ in 0..expired {
            self.faults.add(FaultKind::ZkSessionExpired);
        }
        for m in out {
            let node = (m.conn.client >> 32) as usize;
            self.send(zk_party, node, NetMsg::FromZk(Box::new(m)));
        }
        if let Err(e) = check {
            self.fail("zk_model", format!("ZooKeeper ensemble: {e}"));
        }
        if let Err(v) = applied {
            self.violated(v);
        }
    }

    // ----- Clients -----

    fn client_action(&mut self, c: usize, action: ClientAction) {
        let party = self.nodes.len() + c;
        match action {
            ClientAction::Send {
                node,
                command,
                attempt,
            } => {
                self.trace_line(format_args!(
                    "client {c} sends {command:?} attempt {attempt} to node {node}"
                ));
                if self.sit.wal && matches!(command.op, zkwal_raft::Op::Append { .. }) {
                    self.sit.appends.insert(Payload::Command(command).digest());
                }
                let timeout = self.clients[c].attempt_timeout_ms();
                self.schedule(
                    self.now_ms + timeout,
                    Ev::ClientAttemptTimeout {
                        client: c as u32,
                        request_id: command.request_id,
                        attempt,
                    },
                );
                self.send(
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
                self.schedule(
                    at_ms,
                    Ev::ClientRetry {
                        client: c as u32,
                        request_id,
                    },
                );
            }
            ClientAction::Wake { at_ms } => {
                self.schedule(at_ms, Ev::ClientWake { client: c as u32 })
            }
            ClientAction::Idle => {}
        }
    }

    // ----- End of run -----

    /// After healing: done once the probe write is acknowledged, every client is done,
    /// and every node is up, recovered, and has applied the probe write.
    fn poll_convergence(&mut self) {
        if self.done {
            return;
        }
        let probe_ok = self.clients[self.probe].last_ok.is_some();
        let clients_done = self.clients.iter().all(|c| c.is_done());
        if probe_ok && clients_done && self.all_nodes_have_probe() {
            self.done = true;
            return;
        }
        self.schedule(self.now_ms + CONVERGENCE_POLL_MS, Ev::Poll);
    }

    fn probe_value(&self) -> u64 {
        crate::scenario::unique_value(self.probe, 0)
    }

    /// Every node is up, recovered, has applied the probe write, and has applied
    /// everything any node knows committed (so acknowledged writes that completed after
    /// the probe are in every final state too).
    fn all_nodes_have_probe(&self) -> bool {
        let v = self.probe_value();
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

    fn on_deadline(&mut self) {
        if self.done {
            return;
        }
        let leaders: Vec<String> = self
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
        let state = leaders.join(" ");
        if self.clients[self.probe].last_ok.is_none() {
            self.fail(
                "liveness",
                format!(
                    "no write committed within {} ms after healing; nodes: {state}",
                    self.sc.options.liveness_ms
                ),
            );
        } else if !self.clients.iter().all(|c| c.is_done()) {
            self.fail(
                "liveness",
                format!("client operations still unfinished at the deadline; nodes: {state}"),
            );
        } else {
            self.fail(
                "convergence",
                format!(
                    "not every node applied the probe write within {} ms; nodes: {state}",
                    self.sc.options.liveness_ms
                ),
            );
        }
    }

    fn check_history(&mut self) {
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
        let anomalies = match history::check(&h) {
            Ok(anomalies) => anomalies,
            Err(e) => return self.fail("malformed_history", e.to_string()),
        };
        if let Some(a) = anomalies.first() {
            if let Some(r) = self.recorder.as_deref_mut() {
                r.anomaly(a);
            }
            let more = anomalies.len() - 1;
            self.fail(
                a.kind.name(),
                format!(
                    "{a}{}",
                    if more > 0 {
                        format!(" (+{more} more)")
                    } else {
                        String::new()
                    }
                ),
            );
        }
    }

    // ----- Trace -----

    fn trace_msg(&mut self, from: Party, to: Party, msg: &NetMsg) {
        let tag = match msg {
            NetMsg::Raft(m) => {
                let kind = match &m.body {
                    MsgBody::RequestVote { last_log_index, .. } => 1 ^ last_log_index << 4,
                    MsgBody::RequestVoteResp { granted } => 2 ^ (*granted as u64) << 4,
                    MsgBody::AppendEntries {
                        prev_index,
                        entries,
                        ..
                    } => 3 ^ prev_index << 4 ^ (entries.len() as u64) << 40,
                    MsgBody::AppendEntriesResp {
                        success,
                        match_index,
                        ..
                    } => 4 ^ match_index << 4 ^ (*success as u64) << 3,
                    MsgBody::InstallSnapshot { snapshot } => 5 ^ snapshot.last_index << 4,
                    MsgBody::InstallSnapshotResp { match_index } => 6 ^ match_index << 4,
                    MsgBody::RecoveryRequest => 7,
                    MsgBody::RecoveryResp { entries, .. } => 8 ^ (entries.len() as u64) << 4,
                };
                kind ^ m.term << 32
            }
            NetMsg::ClientReq { command, .. } => 9 ^ command.request_id << 4,
            NetMsg::ClientResp {
                request_id, result, ..
            } => 10 ^ request_id << 4 ^ (result.is_ok() as u64) << 3,
            NetMsg::ToZk(m) => 11 ^ (m.seq << 8) ^ m.conn.client << 20,
            NetMsg::FromZk(m) => 12 ^ (m.seq << 8) ^ m.conn.client << 20,
        };
        self.trace.mix(self.now_ms);
        self.trace.mix((from as u64) << 32 | to as u64);
        self.trace.mix(tag);
        if enabled!(Level::DEBUG) {
            match msg {
                NetMsg::Raft(m) => debug!(
                    t = self.now_ms,
                    "n{from} -> n{to} term {} {:?}",
                    m.term,
                    BodyView(&m.body)
                ),
                _ => debug!(t = self.now_ms, "{from} -> {to} {msg:?}"),
            }
        }
    }

    fn trace_line(&mut self, args: std::fmt::Arguments<'_>) {
        if enabled!(Level::DEBUG) {
            debug!(t = self.now_ms, "{}", args);
        }
    }
}

#[cfg(test)]
mod tests {
    /// Events are moved in and out of the queue's slab: keep them small.
    #[test]
    fn events_stay_small() {
        assert!(
            std::mem::size_of::<super::Ev>() <= 96,
            "Ev is {} bytes",
            std::mem::size_of::<super::Ev>()
        );
    }
}
