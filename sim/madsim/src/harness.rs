//! The madsim tier's harness (only under `--cfg madsim`): runs one
//! [`Scenario`](zkwal_model::scenario::Scenario) of the event loop's generator on
//! madsim's runtime. Every node, client and the ZooKeeper ensemble is a madsim node
//! with its own IP; crashes are `Handle::kill` / `Handle::restart` (the node's tasks
//! are dropped, its store loses the writes not yet durable), pauses are
//! `Handle::pause` / `Handle::resume`, partitions are `NetSim::clog_link`, message
//! loss and latency are `NetSim`'s config. The same phases as the event loop: faults
//! and clients until `duration_ms`, then healing, the probe write, convergence within
//! `liveness_ms`, and the client-history check.
//!
//! What madsim's network does not do, and the event loop's does: duplicate a message,
//! or hold one back on purpose (`reorder_ppm`); here reordering comes only from the
//! random latency of each message.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use madsim::net::NetSim;
use madsim::runtime::{Handle, NodeHandle};
use madsim::time::{sleep_until, Duration};
use zkwal_model::faults::{FaultCounts, FaultKind};
use zkwal_model::scenario::{Fault, Scenario, Variant};
use zkwal_model::world::Found;

use crate::driver::{run_client, run_node, run_zk};
use crate::world::{Addrs, Counts, Shared};

/// How often the end phase checks for convergence (as the event loop).
const CONVERGENCE_POLL_MS: u64 = 25;
const PORT: u16 = 7000;

/// What a run produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub violation: Option<Found>,
    pub virtual_time_ms: u64,
    pub counts: Counts,
    /// Messages madsim's network carried (`NetSim::stat`).
    pub net_messages: u64,
    pub faults: FaultCounts,
    /// Client operations: ok, failed, indeterminate.
    pub ops: (u64, u64, u64),
}

fn ip(group: u8, k: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(
        10,
        group,
        (k / 250) as u8,
        (k % 250) as u8 + 1,
    ))
}

/// Timed harness actions after the scripted faults: restarts, resumes, heals.
#[derive(Clone, Debug)]
enum Act {
    Fault(usize),
    Restart(u32),
    Resume(u32),
    HealPartitions,
    ZkRestore,
    ZkLagEnd(u32),
    ZkReconnect(u32),
}

struct Run {
    sh: Arc<Shared>,
    handle: Handle,
    net: Arc<NetSim>,
    nodes: Vec<NodeHandle>,
    /// madsim node of each client (the probe's last), and of ZooKeeper.
    clients: Vec<NodeHandle>,
    zk: Option<NodeHandle>,
    /// Links this run clogged (madsim node ids).
    clogged: Vec<(madsim::task::NodeId, madsim::task::NodeId)>,
    /// Pending timed actions (at_ms, seq, act), kept sorted.
    agenda: Vec<(u64, u64, Act)>,
    seq: u64,
}

/// Runs `sc` to its verdict on the current madsim runtime (call from a
/// `#[madsim::test]` or inside `Runtime::block_on`).
pub async fn run(sc: Scenario) -> Outcome {
    let n = sc.nodes as usize;
    let c = sc.clients.len() + 1;
    let mut parties: Vec<SocketAddr> = (0..n).map(|i| SocketAddr::new(ip(0, i), PORT)).collect();
    parties.extend((0..c).map(|k| SocketAddr::new(ip(1, k), PORT)));
    parties.push(SocketAddr::new(ip(2, 0), PORT));
    let has_zk = sc.options.zk.is_some();
    let o = sc.options.clone();
    let faults = sc.faults.clone();
    let sh = Shared::new(sc, Addrs { parties });
    let handle = Handle::current();
    let net = NetSim::current();
    net.update_config(|cfg| {
        cfg.packet_loss_rate = o.net.loss_ppm as f64 / 1e6;
        cfg.send_latency = Duration::from_millis(o.net.latency_ms_min)
            ..Duration::from_millis(o.net.latency_ms_max + 1);
    });
    let zk = has_zk.then(|| {
        let sh = sh.clone();
        handle
            .create_node()
            .name("zk")
            .ip(ip(2, 0))
            .init(move || run_zk(sh.clone()))
            .build()
    });
    let nodes: Vec<NodeHandle> = (0..n as u32)
        .map(|i| {
            let sh = sh.clone();
            handle
                .create_node()
                .name(format!("n{i}"))
                .ip(ip(0, i as usize))
                .init(move || run_node(sh.clone(), i))
                .build()
        })
        .collect();
    let clients: Vec<NodeHandle> = (0..c)
        .map(|k| {
            handle
                .create_node()
                .name(format!("c{k}"))
                .ip(ip(1, k))
                .build()
        })
        .collect();
    for (k, h) in clients.iter().enumerate().take(c - 1) {
        h.spawn(run_client(sh.clone(), k));
    }
    let mut run = Run {
        sh: sh.clone(),
        handle,
        net,
        nodes,
        clients,
        zk,
        clogged: Vec::new(),
        agenda: Vec::new(),
        seq: 0,
    };
    for (idx, f) in faults.iter().enumerate() {
        if f.at_ms < o.duration_ms {
            run.plan(f.at_ms, Act::Fault(idx));
        }
    }
    // Fault phase.
    loop {
        let Some(&(at, _, _)) = run.agenda.first() else {
            break;
        };
        if at >= o.duration_ms {
            break;
        }
        if !run.wait_until(at).await {
            return run.outcome();
        }
        let (_, _, act) = run.agenda.remove(0);
        run.act(act, &faults);
    }
    if !run.wait_until(o.duration_ms).await {
        return run.outcome();
    }
    // Healing, the probe, convergence.
    run.heal();
    let deadline = o.duration_ms + o.liveness_ms;
    let mut t = o.duration_ms;
    loop {
        t += CONVERGENCE_POLL_MS;
        if t >= deadline {
            if !run.wait_until(deadline).await {
                return run.outcome();
            }
            let now = run.sh.now_ms();
            run.sh.lock().on_deadline(now);
            return run.outcome();
        }
        if !run.wait_until(t).await {
            return run.outcome();
        }
        let mut w = run.sh.lock();
        if w.converged() {
            let now = run.sh.now_ms();
            w.check_history(now);
            drop(w);
            return run.outcome();
        }
    }
}

impl Run {
    fn plan(&mut self, at_ms: u64, act: Act) {
        self.seq += 1;
        let key = (at_ms, self.seq);
        let pos = self.agenda.partition_point(|(a, s, _)| (*a, *s) <= key);
        self.agenda.insert(pos, (at_ms, self.seq, act));
    }

    /// Sleeps until `at_ms`; false if a violation stopped the run first.
    async fn wait_until(&self, at_ms: u64) -> bool {
        if self.sh.lock().violation.is_some() {
            return false;
        }
        tokio::select! {
            biased;
            _ = self.sh.stop.notified() => {}
            _ = sleep_until(self.sh.at(at_ms)) => {}
        }
        self.sh.lock().violation.is_none()
    }

    fn outcome(&self) -> Outcome {
        let now = self.sh.now_ms();
        let w = self.sh.lock();
        Outcome {
            violation: w.violation.clone(),
            virtual_time_ms: now,
            counts: w.counts.clone(),
            net_messages: self.net.stat().msg_count,
            faults: w.faults.clone(),
            ops: w.outcomes(),
        }
    }

    fn kill(&mut self, node: u32, wipe: bool) {
        self.sh.lock().crash(node, wipe);
        self.handle.kill(self.nodes[node as usize].id());
    }

    fn restart(&mut self, node: u32) {
        let mut w = self.sh.lock();
        if w.nodes[node as usize].core.is_some() {
            return;
        }
        w.faults.add(FaultKind::Restart);
        drop(w);
        self.handle.restart(self.nodes[node as usize].id());
    }

    fn clog(&mut self, a: madsim::task::NodeId, b: madsim::task::NodeId) {
        self.net.clog_link(a, b);
        self.clogged.push((a, b));
    }

    /// Clogs links from `side` to the other nodes (and back unless `one_way`).
    fn partition(&mut self, side: &[u32], one_way: bool) {
        let n = self.nodes.len();
        for a in 0..n {
            for b in 0..n {
                if side.contains(&(a as u32)) && !side.contains(&(b as u32)) {
                    let (ia, ib) = (self.nodes[a].id(), self.nodes[b].id());
                    self.clog(ia, ib);
                    if !one_way {
                        self.clog(ib, ia);
                    }
                }
            }
        }
        self.sh.lock().faults.add(FaultKind::Partition);
    }

    /// Every clogged link opens (as the event loop: the first heal ends all).
    fn heal_partitions(&mut self) {
        for (a, b) in self.clogged.drain(..) {
            self.net.unclog_link(a, b);
        }
    }

    fn pause(&mut self, node: u32, ms: u64) {
        let now = self.sh.now_ms();
        let mut w = self.sh.lock();
        let slot = &mut w.nodes[node as usize];
        if slot.core.is_none() {
            return;
        }
        slot.paused_until_ms = slot.paused_until_ms.max(now + ms);
        let until = slot.paused_until_ms;
        w.faults.add(FaultKind::Pause);
        drop(w);
        self.handle.pause(self.nodes[node as usize].id());
        self.plan(until, Act::Resume(node));
    }

    fn resume(&mut self, node: u32) {
        let now = self.sh.now_ms();
        let mut w = self.sh.lock();
        let slot = &mut w.nodes[node as usize];
        if slot.paused_until_ms != 0 && slot.paused_until_ms <= now {
            slot.paused_until_ms = 0;
            drop(w);
            self.handle.resume(self.nodes[node as usize].id());
        }
    }

    fn act(&mut self, act: Act, faults: &[zkwal_model::scenario::TimedFault]) {
        let now = self.sh.now_ms();
        match act {
            Act::Restart(node) => self.restart(node),
            Act::Resume(node) => self.resume(node),
            Act::HealPartitions => self.heal_partitions(),
            Act::ZkRestore => self.zk_do(|e, now| e.set_unavailable(now, false)),
            Act::ZkLagEnd(server) => self.zk_do(|e, now| e.set_server_lag_ms(now, server, 0)),
            Act::ZkReconnect(node) => {
                if let Some(zk) = &self.zk {
                    let (a, b) = (self.nodes[node as usize].id(), zk.id());
                    self.net.unclog_link(a, b);
                    self.net.unclog_link(b, a);
                }
            }
            Act::Fault(idx) => match faults[idx].fault.clone() {
                Fault::Crash { node, down_ms } => {
                    if self.sh.lock().nodes[node as usize].core.is_some() {
                        self.kill(node, false);
                        self.plan(now + down_ms, Act::Restart(node));
                    }
                }
                Fault::Wipe { node, down_ms } => {
                    let mut w = self.sh.lock();
                    let other_without = w.sc.variant == Variant::Raft
                        && w.nodes
                            .iter()
                            .enumerate()
                            .any(|(j, s)| j != node as usize && s.without_data);
                    if other_without {
                        w.faults.add(FaultKind::WipeSkipped);
                    } else if w.nodes[node as usize].core.is_some() {
                        drop(w);
                        self.kill(node, true);
                        self.plan(now + down_ms, Act::Restart(node));
                    }
                }
                Fault::Pause { node, ms } => self.pause(node, ms),
                Fault::CrashLeader { down_ms } => {
                    let leader = self.sh.lock().current_leader();
                    if let Some(node) = leader {
                        self.kill(node, false);
                        self.plan(now + down_ms, Act::Restart(node));
                    }
                }
                Fault::IsolateLeader { ms } => {
                    let leader = self.sh.lock().current_leader();
                    if let Some(node) = leader {
                        self.partition(&[node], false);
                        self.plan(now + ms, Act::HealPartitions);
                    }
                }
                Fault::Partition { side, one_way, ms } => {
                    self.partition(&side, one_way);
                    self.plan(now + ms, Act::HealPartitions);
                }
                Fault::PauseLeader { ms } => {
                    let leader = self.sh.lock().current_leader();
                    if let Some(node) = leader {
                        self.sh.lock().faults.add(FaultKind::PauseLeader);
                        self.pause(node, ms);
                    }
                }
                Fault::ZkOutage { ms } => {
                    if self.zk.is_some() {
                        self.zk_do(|e, now| e.set_unavailable(now, true));
                        self.sh.lock().faults.add(FaultKind::ZkOutage);
                        self.plan(now + ms, Act::ZkRestore);
                    }
                }
                Fault::ZkLag { server, lag_ms, ms } => {
                    if self.zk.is_some() {
                        self.zk_do(|e, now| e.set_server_lag_ms(now, server, lag_ms));
                        self.sh.lock().faults.add(FaultKind::ZkLag);
                        self.plan(now + ms, Act::ZkLagEnd(server));
                    }
                }
                Fault::ZkCutOff { node, ms } => {
                    if let Some(zk) = &self.zk {
                        let (a, b) = (self.nodes[node as usize].id(), zk.id());
                        self.clog(a, b);
                        self.clog(b, a);
                        self.sh.lock().faults.add(FaultKind::ZkCutOff);
                        self.plan(now + ms, Act::ZkReconnect(node));
                    }
                }
                Fault::ZkLeaderChange {
                    unavailable_ms,
                    deposed_ms,
                } => {
                    let mut changed = false;
                    self.zk_do(|e, now| changed = e.change_leader(now, unavailable_ms, deposed_ms));
                    if changed {
                        self.sh.lock().faults.add(FaultKind::ZkLeaderChange);
                    }
                }
                Fault::ZkPin { node, server } => {
                    let mut w = self.sh.lock();
                    w.zk_pins[node as usize] = Some(server);
                    w.faults.add(FaultKind::ZkPin);
                }
                Fault::TotalLoss { down_ms, blank } => {
                    let mut any = false;
                    for node in 0..self.nodes.len() as u32 {
                        if self.sh.lock().nodes[node as usize].core.is_some() {
                            self.kill(node, blank.contains(&node));
                            any = true;
                        }
                        self.plan(now + down_ms, Act::Restart(node));
                    }
                    if any {
                        self.sh.lock().faults.add(FaultKind::TotalLoss);
                    }
                }
            },
        }
    }

    /// Changes the ensemble (a fault) and wakes its task to send what follows.
    fn zk_do(&mut self, f: impl FnOnce(&mut zkwal_zk::Ensemble, u64)) {
        let now = self.sh.now_ms();
        if let Some(e) = self.sh.lock().zk.as_mut() {
            f(e, now);
        }
        self.sh.kick_zk.notify_one();
    }

    /// End of the fault phase: links open, loss stops, paused nodes resume, down
    /// nodes restart, ZooKeeper recovers, the probe client starts.
    fn heal(&mut self) {
        self.sh.lock().healed = true;
        self.heal_partitions();
        self.net.update_config(|cfg| cfg.packet_loss_rate = 0.0);
        self.zk_do(|e, now| {
            e.set_unavailable(now, false);
            for server in 0..e.config().servers {
                e.set_server_lag_ms(now, server, 0);
            }
        });
        for node in 0..self.nodes.len() as u32 {
            let paused = {
                let mut w = self.sh.lock();
                std::mem::take(&mut w.nodes[node as usize].paused_until_ms) != 0
            };
            if paused {
                self.handle.resume(self.nodes[node as usize].id());
            }
            self.restart(node);
        }
        let probe = self.clients.len() - 1;
        self.clients[probe].spawn(run_client(self.sh.clone(), probe));
    }
}

/// The command that replays one seed of this tier.
pub fn replay_command(test: &str, seed: u64) -> String {
    format!(
        "MADSIM_TEST_SEED={seed} RUSTFLAGS=\"--cfg madsim\" CARGO_TARGET_DIR=target/madsim \
         cargo test --profile madsim -p zkwal-node --test madsim -- {test} --exact"
    )
}

/// Runs the seed madsim gave this test as an event-loop scenario, and panics with the
/// seed and the replay command on a violation.
pub async fn check_seed(test: &str, variant: Variant, nodes: u32, zk: bool) -> Outcome {
    let seed = Handle::current().seed();
    let sc = Scenario::generate_with(seed, variant, nodes, zk);
    let out = run(sc).await;
    if std::env::var_os("ZKWAL_NODE_VERBOSE").is_some() {
        println!(
            "seed={seed} {} n={nodes}: {} ms virtual, {} events, {} messages, ops ok/failed/indet {:?}, faults {:?}, verdict {:?}",
            variant.name(),
            out.virtual_time_ms,
            out.counts.events,
            out.net_messages,
            out.ops,
            out.faults.iter().collect::<Vec<_>>(),
            out.violation.as_ref().map(|v| v.invariant.clone())
        );
    }
    if let Some(v) = &out.violation {
        panic!(
            "FAIL seed={seed} variant={} nodes={nodes} invariant={} at {} ms: {}\n  replay: {}",
            variant.name(),
            v.invariant,
            v.virtual_time_ms,
            v.detail,
            replay_command(test, seed)
        );
    }
    out
}
