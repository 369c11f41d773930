//! A seed becomes a [`Scenario`]: plain serde data (options, client scripts, timed
//! faults). The run is a pure function of the Scenario, so a Scenario can be saved,
//! edited, shrunk and replayed. Generation uses its own ChaCha stream of the seed
//! ([`stream::SCENARIO`]); the run draws from other streams of the same seed.
//!
//! Swarm testing: each seed first decides which fault kinds it enables and at what
//! rates, so that some seeds hammer one fault and others mix them all.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use zkwal_wal::{PauseMonitor, WalOptions, WalVariant};
use zkwal_zk::ClientExpiry;

use crate::rng::{stream, stream_rng};

/// Design variants of DESIGN.md §3 (their node cores are in `crates/wal`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    Raft,
    Seed,
    SeedZkQuorum,
    Fenced,
}

impl Variant {
    pub const ALL: [Variant; 4] = [
        Variant::Raft,
        Variant::Seed,
        Variant::SeedZkQuorum,
        Variant::Fenced,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Variant::Raft => "raft",
            Variant::Seed => "seed",
            Variant::SeedZkQuorum => "seed-zk-quorum",
            Variant::Fenced => "fenced",
        }
    }

    pub fn parse(s: &str) -> Result<Variant, String> {
        Variant::ALL
            .into_iter()
            .find(|v| v.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Variant::ALL.iter().map(|v| v.name()).collect();
                format!(
                    "unknown variant '{s}' (expected one of: {})",
                    names.join(", ")
                )
            })
    }

    /// Whether the simulator can run this variant yet.
    pub fn is_built(self) -> bool {
        true
    }

    pub fn wal_variant(self) -> WalVariant {
        match self {
            Variant::Raft => WalVariant::Raft,
            Variant::Seed => WalVariant::Seed,
            Variant::SeedZkQuorum => WalVariant::SeedZkQuorum,
            Variant::Fenced => WalVariant::Fenced,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetOptions {
    pub latency_ms_min: u64,
    pub latency_ms_max: u64,
    /// Probability, in parts per million, that a message is lost.
    pub loss_ppm: u32,
    /// Probability, in parts per million, that a message is delivered twice.
    pub dup_ppm: u32,
    /// Probability, in parts per million, that a message is held back by up to
    /// `reorder_delay_ms_max` extra, so that later messages overtake it.
    pub reorder_ppm: u32,
    pub reorder_delay_ms_max: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskOptions {
    /// Time for one write to become durable (writes complete in order).
    pub fsync_ms_min: u64,
    pub fsync_ms_max: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RaftOptions {
    pub election_timeout_ms_min: u64,
    pub heartbeat_interval_ms: u64,
    pub max_entries_per_append: usize,
    pub snapshot_every_entries: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientOptions {
    /// An attempt on one node that gets no reply in this time is retried elsewhere.
    pub attempt_timeout_ms: u64,
    /// An operation without an answer after this long ends indeterminate (or failed,
    /// if every attempt was refused before being proposed).
    pub op_timeout_ms: u64,
    pub keys: u32,
    /// The payload each append carries, in bytes (0: none, only the 8-byte value; the
    /// default, and what every run did before payloads existed). Its bytes are derived
    /// from the value (`zkwal_raft::payload_text`), drawn from no random stream. A
    /// write whose WAL entry would pass ZooKeeper's `jute.maxbuffer` is refused to the
    /// client (the liveness probe's append carries none).
    #[serde(default)]
    pub value_bytes: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// Faults and client scripts run during `[0, duration_ms)`; then everything heals.
    pub duration_ms: u64,
    /// After healing, a leader must be elected and a new write committed, and every
    /// node must catch up, within this bound (liveness).
    pub liveness_ms: u64,
    pub net: NetOptions,
    pub disk: DiskOptions,
    pub raft: RaftOptions,
    pub client: ClientOptions,
    /// A mock ZooKeeper ensemble on the network, or none (the `raft` baseline uses none
    /// unless asked with `--zk`).
    #[serde(default)]
    pub zk: Option<ZkOptions>,
    /// How the WAL variants use ZooKeeper (snapshot publication, chunks, retries).
    #[serde(default)]
    pub wal: WalOptions,
    /// `--pause-monitor`: a leader that detects it was paused steps down (any variant).
    #[serde(default)]
    pub pause_monitor: Option<PauseMonitor>,
}

/// The ZooKeeper ensemble placed on the simulated network (`zookeeper.rs`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZkOptions {
    pub servers: u32,
    pub tick_time_ms: u64,
    /// What each node asks for; the service clamps it to 2..=20 ticks.
    pub session_timeout_ms: u64,
    /// Who decides that a node's session is over: `server` (the service alone, as the
    /// Java client; the default) or `curator` (also Curator's client-side timer of
    /// the negotiated timeout from the connection's loss, and the node reacts to LOST
    /// as an implementation on Curator would). See `zkwal_zk::ClientExpiry`.
    #[serde(default)]
    pub client_expiry: ClientExpiry,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[serde(deny_unknown_fields)]
pub enum Fault {
    /// The process dies (volatile state and unsynced writes lost) and restarts after `down_ms`.
    Crash { node: u32, down_ms: u64 },
    /// As `Crash`, but the node returns with a blank disk.
    Wipe { node: u32, down_ms: u64 },
    /// The process is frozen for `ms`; its timers and inputs are handled late.
    Pause { node: u32, ms: u64 },
    /// Messages from a node in `side` to one outside it are dropped for `ms`; unless
    /// `one_way`, the other direction too.
    Partition {
        side: Vec<u32>,
        one_way: bool,
        ms: u64,
    },
    /// As `Crash`, aimed at whichever node leads (in the highest term) when it fires:
    /// the faults that expose commit-rule mistakes (paper Figure 8) need leaders to die
    /// with entries on a minority.
    CrashLeader { down_ms: u64 },
    /// Cuts the current leader off from every other node, both ways, for `ms`.
    IsolateLeader { ms: u64 },
    /// The whole ZooKeeper ensemble is unavailable for `ms`.
    ZkOutage { ms: u64 },
    /// ZooKeeper server `server` applies the leader's transactions `lag_ms` late for `ms`.
    ZkLag { server: u32, lag_ms: u64, ms: u64 },
    /// Node `node` cannot reach the ensemble for `ms` (it keeps running; its session
    /// may expire meanwhile).
    ZkCutOff { node: u32, ms: u64 },
    /// Freezes whichever node leads when it fires, for `ms` (a GC pause of the leader;
    /// longer than the session timeout, its `/leader` znode goes while it lives).
    PauseLeader { ms: u64 },
    /// From now on, node `node` opens its ZooKeeper sessions on `server` only (stages a
    /// session on a lagging server). Takes effect at the node's next start; at 0 ms,
    /// from the very first.
    ZkPin { node: u32, server: u32 },
    /// Every node crashes at once; they return after `down_ms`, those in `blank` with an
    /// empty disk (step [4] of the notes).
    TotalLoss { down_ms: u64, blank: Vec<u32> },
    /// The ensemble's leader changes: `unavailable_ms` of election, and the old leader
    /// goes on answering reads and `sync` from stale state for `deposed_ms`
    /// (ZOOKEEPER-1675); conditional writes stay linearizable.
    ZkLeaderChange {
        unavailable_ms: u64,
        deposed_ms: u64,
    },
}

impl Fault {
    /// Whether the fault hits whichever node leads when it fires (and nothing when
    /// none does), rather than a node named in the scenario.
    pub fn aims_at_leader(&self) -> bool {
        matches!(
            self,
            Fault::CrashLeader { .. } | Fault::IsolateLeader { .. } | Fault::PauseLeader { .. }
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimedFault {
    pub at_ms: u64,
    pub fault: Fault,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[serde(deny_unknown_fields)]
pub enum ClientOpKind {
    Append { key: u32, value: u64 },
    Read { key: u32 },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientStep {
    /// Pause before this operation starts, after the previous one ended.
    pub think_ms: u64,
    pub op: ClientOpKind,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub seed: u64,
    pub variant: Variant,
    pub nodes: u32,
    pub options: Options,
    pub faults: Vec<TimedFault>,
    pub clients: Vec<Vec<ClientStep>>,
    /// Exploration (`branch.rs`): where this scenario's run leaves its seed's runtime
    /// streams for a branch's. Empty for every seed's own scenario, and then not
    /// written, so saved cases and their hashes are unchanged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub branches: Vec<BranchPoint>,
}

/// One branch of an exploration: once the run has handled its `after_event`-th event
/// (at `at_ms`, where a rare situation was first reached), the network, disk and
/// election-jitter streams are drawn again from the branch's `salt`. The faults after
/// `at_ms` are already the branch's own in the scenario's fault list (made concrete
/// when the branch was made), so a saved branch replays as a plain scenario.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BranchPoint {
    pub after_event: u64,
    pub at_ms: u64,
    pub salt: u64,
    /// The branch's name below its parent (`<situation>.<k>`), for people.
    pub name: String,
}

/// Bounds of what a scenario may ask for (validated on load: bad input is refused).
pub const MAX_NODES: u32 = 9;
pub const MAX_CLIENTS: usize = 64;

impl Scenario {
    /// The scenario of `seed`: every choice drawn from the seed's scenario stream.
    pub fn generate(seed: u64, variant: Variant, nodes: u32) -> Scenario {
        Scenario::generate_with(seed, variant, nodes, false)
    }

    /// As [`Scenario::generate`]; with `zk`, a ZooKeeper ensemble is placed on the
    /// network and ZooKeeper faults join the swarm. (Its draws come after all others,
    /// so a seed's scenario without ZooKeeper is the same either way.)
    pub fn generate_with(seed: u64, variant: Variant, nodes: u32, zk: bool) -> Scenario {
        let mut rng = stream_rng(seed, stream::SCENARIO);
        let duration_ms = 10_000;
        let swarm = Swarm::draw(&mut rng, nodes);
        let net = NetOptions {
            latency_ms_min: 1,
            latency_ms_max: rng.gen_range(2..=20),
            loss_ppm: if swarm.loss {
                rng.gen_range(1_000..=100_000)
            } else {
                0
            },
            dup_ppm: if swarm.dup {
                rng.gen_range(1_000..=50_000)
            } else {
                0
            },
            reorder_ppm: if swarm.reorder {
                rng.gen_range(10_000..=200_000)
            } else {
                0
            },
            reorder_delay_ms_max: 50,
        };
        let options = Options {
            duration_ms,
            liveness_ms: 20_000,
            net,
            disk: DiskOptions {
                fsync_ms_min: 1,
                fsync_ms_max: rng.gen_range(1..=10),
            },
            raft: RaftOptions {
                election_timeout_ms_min: 150,
                heartbeat_interval_ms: 50,
                // Small batches make followers acknowledge part of a leader's log
                // (what the Figure 8 commit mistake needs to show).
                max_entries_per_append: rng.gen_range(1..=32),
                snapshot_every_entries: rng.gen_range(8..=64),
            },
            zk: None,
            wal: WalOptions::default(),
            pause_monitor: None,
            client: ClientOptions {
                attempt_timeout_ms: 400,
                op_timeout_ms: 2_000,
                keys: rng.gen_range(1..=4),
                value_bytes: 0,
            },
        };
        let faults = swarm.faults(&mut rng, nodes, duration_ms);
        let n_clients = rng.gen_range(3..=5usize);
        let clients = (0..n_clients)
            .map(|c| {
                let ops = rng.gen_range(10..=60u64);
                (0..ops)
                    .map(|k| ClientStep {
                        think_ms: rng.gen_range(0..=duration_ms / ops),
                        op: if rng.gen_bool(0.6) {
                            ClientOpKind::Append {
                                key: rng.gen_range(0..options.client.keys),
                                value: unique_value(c, k),
                            }
                        } else {
                            ClientOpKind::Read {
                                key: rng.gen_range(0..options.client.keys),
                            }
                        },
                    })
                    .collect()
            })
            .collect();
        let mut sc = Scenario {
            seed,
            variant,
            nodes,
            options,
            faults,
            clients,
            branches: Vec::new(),
        };
        // The WAL variants need ZooKeeper; their faults are drawn after all others,
        // so a seed's scenario without them is the same either way.
        if zk || variant != Variant::Raft {
            sc.add_zk(&mut rng);
        }
        if variant != Variant::Raft {
            sc.add_wal_faults(&mut rng);
        }
        sc
    }

    /// The faults the WAL variants' questions need (DESIGN.md §2): the leader paused
    /// past its session timeout, a follower's session pinned to a lagging server,
    /// total loss with blank returns.
    fn add_wal_faults(&mut self, rng: &mut ChaCha8Rng) {
        let zk = self.options.zk.clone().expect("added before");
        let duration_ms = self.options.duration_ms;
        if rng.gen_bool(0.5) {
            let node = rng.gen_range(0..self.nodes);
            let server = rng.gen_range(0..zk.servers);
            self.faults.push(TimedFault {
                at_ms: 0,
                fault: Fault::ZkPin { node, server },
            });
            self.faults.push(TimedFault {
                at_ms: rng.gen_range(0..duration_ms / 2),
                fault: Fault::ZkLag {
                    server,
                    lag_ms: rng.gen_range(100..=3_000),
                    ms: rng.gen_range(1_000..=8_000),
                },
            });
        }
        let pauses = rng.gen_range(0..=3);
        for _ in 0..pauses {
            self.faults.push(TimedFault {
                at_ms: rng.gen_range(500..duration_ms),
                fault: Fault::PauseLeader {
                    ms: zk.session_timeout_ms + rng.gen_range(0..=3_000),
                },
            });
        }
        if rng.gen_bool(0.5) {
            let unavailable_ms = rng.gen_range(200..=2_000);
            self.faults.push(TimedFault {
                at_ms: rng.gen_range(500..duration_ms),
                fault: Fault::ZkLeaderChange {
                    unavailable_ms,
                    deposed_ms: if rng.gen_bool(0.5) {
                        0
                    } else {
                        unavailable_ms + rng.gen_range(0..=2_000)
                    },
                },
            });
        }
        if rng.gen_bool(0.3) {
            let blank = (0..self.nodes).filter(|_| rng.gen_bool(0.5)).collect();
            self.faults.push(TimedFault {
                at_ms: rng.gen_range(1_000..duration_ms),
                fault: Fault::TotalLoss {
                    down_ms: rng.gen_range(10..=2_000),
                    blank,
                },
            });
        }
        self.faults.sort_by_key(|f| f.at_ms);
    }

    fn add_zk(&mut self, rng: &mut ChaCha8Rng) {
        let zk = ZkOptions {
            servers: 3,
            tick_time_ms: 200,
            session_timeout_ms: rng.gen_range(400..=4_000),
            // Not drawn: a draw would change the runs, and the pinned hashes, of the
            // seeds that drew `curator`. Set it (`--set zk.client_expiry=curator`) or
            // sweep it (`sweep --set zk.client_expiry=server,curator`).
            client_expiry: ClientExpiry::Server,
        };
        let duration_ms = self.options.duration_ms;
        let mut t = rng.gen_range(0..2_000);
        while t < duration_ms {
            let fault = match rng.gen_range(0..3) {
                0 => Fault::ZkOutage {
                    ms: rng.gen_range(100..=3_000),
                },
                1 => Fault::ZkLag {
                    server: rng.gen_range(0..zk.servers),
                    lag_ms: rng.gen_range(10..=2_000),
                    ms: rng.gen_range(100..=5_000),
                },
                _ => Fault::ZkCutOff {
                    node: rng.gen_range(0..self.nodes),
                    ms: rng.gen_range(100..=6_000),
                },
            };
            self.faults.push(TimedFault { at_ms: t, fault });
            t += rng.gen_range(200..=3_000);
        }
        self.faults.sort_by_key(|f| f.at_ms);
        self.options.zk = Some(zk);
    }

    /// Refuses a scenario the simulator cannot run faithfully (a hand-edited or corrupt
    /// file, an option set out of range): one line naming the field, the value and its
    /// valid range. The ranges keep every sum of virtual times far below `u64::MAX`, so
    /// the model's time arithmetic cannot wrap into a false verdict (see [`MAX_SPAN_MS`]).
    /// The least time one failover can need under these options, whatever the
    /// design: the shortest liveness window (`liveness_ms`) that can judge liveness.
    /// A lower bound, summed from what a failover must wait for in the worst draw:
    /// - two elections at the largest randomised timeout (2 × `election_timeout_ms_min`
    ///   each): one split vote is normal Raft, not a design fault;
    /// - with ZooKeeper: the dead leader's session expiring (the timeout the service
    ///   negotiates, 2..=20 ticks) or, before a session is established, the client's
    ///   connect timeout to one dead server (requested timeout ÷ servers, as the real
    ///   client computes it), whichever is longer, plus one WAL read retry;
    /// - one client attempt timing out and being retried.
    /// Saturating: every term is within `MAX_SPAN_MS` (checked first), the sum cannot
    /// wrap anyway.
    pub fn failover_bound_ms(&self) -> u64 {
        self.failover_bound_terms()
            .iter()
            .fold(0u64, |a, (_, ms)| a.saturating_add(*ms))
    }

    fn failover_bound_terms(&self) -> Vec<(&'static str, u64)> {
        let o = &self.options;
        let mut terms = vec![(
            "two elections",
            o.raft.election_timeout_ms_min.saturating_mul(4),
        )];
        if let Some(z) = &o.zk {
            let negotiated = z.session_timeout_ms.clamp(
                z.tick_time_ms.saturating_mul(2),
                z.tick_time_ms.saturating_mul(20),
            );
            let connect = z.session_timeout_ms / u64::from(z.servers.max(1));
            terms.push(("session expiry", negotiated.max(connect)));
            terms.push(("a WAL read retry", o.wal.read_retry_ms));
        }
        terms.push(("a client attempt", o.client.attempt_timeout_ms));
        terms
    }

    fn failover_bound_parts(&self) -> String {
        self.failover_bound_terms()
            .iter()
            .map(|(what, ms)| format!("{what} {ms}"))
            .collect::<Vec<_>>()
            .join(" + ")
    }

    pub fn validate(&self) -> Result<(), String> {
        range("nodes", self.nodes as u64, 1, MAX_NODES as u64)?;
        if !self.variant.is_built() {
            return Err(not_built(self.variant));
        }
        if self.variant != Variant::Raft && self.options.zk.is_none() {
            return Err(format!(
                "variant '{}' keeps its WAL in ZooKeeper: options.zk is required",
                self.variant.name()
            ));
        }
        let o = &self.options;
        range("options.duration_ms", o.duration_ms, 0, MAX_SPAN_MS)?;
        for (i, pair) in self.branches.windows(2).enumerate() {
            if pair[1].after_event <= pair[0].after_event || pair[1].at_ms < pair[0].at_ms {
                return Err(format!(
                    "branches[{}] must come after branches[{i}] (after_event and at_ms)",
                    i + 1
                ));
            }
        }
        range("options.liveness_ms", o.liveness_ms, 1, MAX_SPAN_MS)?;
        range(
            "options.net.latency_ms_min",
            o.net.latency_ms_min,
            1,
            MAX_SPAN_MS,
        )?;
        range(
            "options.net.latency_ms_max",
            o.net.latency_ms_max,
            o.net.latency_ms_min,
            MAX_SPAN_MS,
        )?;
        for (name, ppm) in [
            ("options.net.loss_ppm", o.net.loss_ppm),
            ("options.net.dup_ppm", o.net.dup_ppm),
            ("options.net.reorder_ppm", o.net.reorder_ppm),
        ] {
            range(name, ppm as u64, 0, 1_000_000)?;
        }
        range(
            "options.net.reorder_delay_ms_max",
            o.net.reorder_delay_ms_max,
            0,
            MAX_SPAN_MS,
        )?;
        range(
            "options.disk.fsync_ms_min",
            o.disk.fsync_ms_min,
            1,
            MAX_SPAN_MS,
        )?;
        range(
            "options.disk.fsync_ms_max",
            o.disk.fsync_ms_max,
            o.disk.fsync_ms_min,
            MAX_SPAN_MS,
        )?;
        // Raft's randomised election timeout is drawn up to twice the minimum.
        range(
            "options.raft.election_timeout_ms_min",
            o.raft.election_timeout_ms_min,
            2,
            MAX_SPAN_MS,
        )?;
        range(
            "options.raft.heartbeat_interval_ms",
            o.raft.heartbeat_interval_ms,
            1,
            o.raft.election_timeout_ms_min - 1,
        )?;
        range(
            "options.raft.max_entries_per_append",
            o.raft.max_entries_per_append as u64,
            1,
            MAX_BATCH_ENTRIES,
        )?;
        range(
            "options.raft.snapshot_every_entries",
            o.raft.snapshot_every_entries,
            1,
            MAX_BATCH_ENTRIES,
        )?;
        range(
            "options.client.attempt_timeout_ms",
            o.client.attempt_timeout_ms,
            1,
            MAX_SPAN_MS,
        )?;
        range(
            "options.client.op_timeout_ms",
            o.client.op_timeout_ms,
            1,
            MAX_SPAN_MS,
        )?;
        range(
            "options.client.keys",
            o.client.keys as u64,
            1,
            MAX_KEYS as u64,
        )?;
        range(
            "options.client.value_bytes",
            o.client.value_bytes as u64,
            0,
            zkwal_raft::MAX_PAYLOAD_BYTES as u64,
        )?;
        if let Some(z) = &o.zk {
            range(
                "options.zk.servers",
                z.servers as u64,
                1,
                MAX_ZK_SERVERS as u64,
            )?;
            range(
                "options.zk.tick_time_ms",
                z.tick_time_ms,
                1,
                MAX_TICK_TIME_MS,
            )?;
            range(
                "options.zk.session_timeout_ms",
                z.session_timeout_ms,
                1,
                MAX_SPAN_MS,
            )?;
        }
        let w = &o.wal;
        range(
            "options.wal.publish_every_entries",
            w.publish_every_entries,
            1,
            MAX_BATCH_ENTRIES,
        )?;
        // ZooKeeper refuses packets over 1 MB (jute.maxbuffer).
        range(
            "options.wal.snapshot_chunk_bytes",
            w.snapshot_chunk_bytes as u64,
            1,
            1 << 20,
        )?;
        range(
            "options.wal.max_deletes_per_multi",
            w.max_deletes_per_multi as u64,
            1,
            MAX_BATCH_ENTRIES,
        )?;
        // 0 would retry a failed read at the same virtual instant, forever (a livelock).
        range("options.wal.read_retry_ms", w.read_retry_ms, 1, MAX_SPAN_MS)?;
        if let Some(p) = o.pause_monitor {
            range(
                "options.pause_monitor.check_interval_ms",
                p.check_interval_ms,
                1,
                MAX_SPAN_MS,
            )?;
            range(
                "options.pause_monitor.step_down_ms",
                p.step_down_ms,
                0,
                MAX_SPAN_MS,
            )?;
        }
        // After healing, a write must commit within `liveness_ms`. A window shorter
        // than one failover under these very options would report the options' own
        // slowness as the design's `liveness` failure: refused, never run into a
        // false verdict (issue 23).
        let failover_ms = self.failover_bound_ms();
        if o.liveness_ms < failover_ms {
            return Err(format!(
                "options.liveness_ms = {} is shorter than one failover can take under these options ({failover_ms} ms: {}); a shorter window would report the options' slowness as a liveness failure of the design: give at least {failover_ms}",
                o.liveness_ms,
                self.failover_bound_parts()
            ));
        }
        if self.clients.len() > MAX_CLIENTS {
            return Err(format!(
                "clients: at most {MAX_CLIENTS} clients, got {}",
                self.clients.len()
            ));
        }
        if self.faults.len() > MAX_FAULTS {
            return Err(format!(
                "faults: at most {MAX_FAULTS} faults, got {}",
                self.faults.len()
            ));
        }
        for (i, f) in self.faults.iter().enumerate() {
            self.validate_fault(i, f)?;
        }
        let mut appended = std::collections::BTreeMap::new();
        for (c, ops) in self.clients.iter().enumerate() {
            if ops.len() > MAX_CLIENT_STEPS {
                return Err(format!(
                    "clients[{c}]: at most {MAX_CLIENT_STEPS} operations, got {}",
                    ops.len()
                ));
            }
            for (k, s) in ops.iter().enumerate() {
                range(
                    &format!("clients[{c}][{k}].think_ms"),
                    s.think_ms,
                    0,
                    MAX_SPAN_MS,
                )?;
                let key = match s.op {
                    ClientOpKind::Append { key, .. } | ClientOpKind::Read { key } => key,
                };
                if key >= o.client.keys {
                    return Err(format!(
                        "clients[{c}][{k}]: key = {key} is outside 0..{} (options.client.keys)",
                        o.client.keys
                    ));
                }
                // The checkers identify an append by its value (the histories are
                // checked as unique-value registers): a repeated value is bad input,
                // not a malformed history of the design.
                if let ClientOpKind::Append { value, .. } = s.op {
                    if let Some((c0, k0)) = appended.insert(value, (c, k)) {
                        return Err(format!(
                            "clients[{c}][{k}]: append value = {value} is already appended by clients[{c0}][{k0}]; append values must be unique"
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// One fault's times in range, and the nodes and ZooKeeper servers it names present.
    fn validate_fault(&self, i: usize, f: &TimedFault) -> Result<(), String> {
        let at = format!("faults[{i}] (at {} ms)", f.at_ms);
        range(&format!("faults[{i}].at_ms"), f.at_ms, 0, MAX_SPAN_MS)?;
        let node = |n: u32| {
            if n < self.nodes {
                Ok(())
            } else {
                Err(format!(
                    "{at}: node = {n} is outside the group 0..{}",
                    self.nodes
                ))
            }
        };
        let zk = || {
            self.options.zk.as_ref().ok_or_else(|| {
                format!("{at}: a ZooKeeper fault, but the scenario has no ZooKeeper (options.zk)")
            })
        };
        let server = |s: u32| {
            let z = zk()?;
            if s < z.servers {
                Ok(())
            } else {
                Err(format!(
                    "{at}: ZooKeeper server = {s} is outside the ensemble 0..{} (options.zk.servers)",
                    z.servers
                ))
            }
        };
        let ms = |name: &str, v: u64| range(&format!("faults[{i}].{name}"), v, 0, MAX_SPAN_MS);
        match &f.fault {
            Fault::Crash { node: n, down_ms } | Fault::Wipe { node: n, down_ms } => {
                node(*n)?;
                ms("down_ms", *down_ms)
            }
            Fault::Pause { node: n, ms: d } => {
                node(*n)?;
                ms("ms", *d)
            }
            Fault::Partition { side, ms: d, .. } => {
                side.iter().try_for_each(|n| node(*n))?;
                ms("ms", *d)
            }
            Fault::CrashLeader { down_ms } => ms("down_ms", *down_ms),
            Fault::IsolateLeader { ms: d } | Fault::PauseLeader { ms: d } => ms("ms", *d),
            Fault::ZkOutage { ms: d } => {
                zk()?;
                ms("ms", *d)
            }
            Fault::ZkLag {
                server: s,
                lag_ms,
                ms: d,
            } => {
                server(*s)?;
                ms("lag_ms", *lag_ms)?;
                ms("ms", *d)
            }
            Fault::ZkCutOff { node: n, ms: d } => {
                node(*n)?;
                zk()?;
                ms("ms", *d)
            }
            Fault::ZkPin { node: n, server: s } => {
                node(*n)?;
                server(*s)
            }
            Fault::TotalLoss { down_ms, blank } => {
                blank.iter().try_for_each(|n| node(*n))?;
                ms("down_ms", *down_ms)
            }
            Fault::ZkLeaderChange {
                unavailable_ms,
                deposed_ms,
            } => {
                zk()?;
                ms("unavailable_ms", *unavailable_ms)?;
                ms("deposed_ms", *deposed_ms)
            }
        }
    }
}

/// Longest virtual time any option or fault field may name: one virtual day. With it,
/// every sum the model forms (a time plus a few spans, a count of steps times a think
/// time) stays below 2^63, so no time arithmetic can wrap; and a span longer than the
/// longest run ([`CHURN_DURATION_MS`](crate::profile::CHURN_DURATION_MS) plus its
/// liveness bound) cannot be simulated to any other verdict than waiting it out.
pub const MAX_SPAN_MS: u64 = 86_400_000;
/// ZooKeeper's tickTime: at most one minute (sessions are 2..=20 ticks).
pub const MAX_TICK_TIME_MS: u64 = 60_000;
/// Largest batch or period counted in entries (appends per message, snapshot period,
/// deletes per `multi`): larger values allocate without bound.
pub const MAX_BATCH_ENTRIES: u64 = 1_000_000;
pub const MAX_KEYS: u32 = 1_024;
pub const MAX_ZK_SERVERS: u32 = 9;
pub const MAX_FAULTS: usize = 100_000;
pub const MAX_CLIENT_STEPS: usize = 1_000_000;

/// `Ok` if `lo <= value <= hi`, else one line naming the field, the value and the range.
fn range(field: &str, value: u64, lo: u64, hi: u64) -> Result<(), String> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "{field} = {value} is outside the valid range {lo}..={hi}"
        ))
    }
}

pub fn not_built(v: Variant) -> String {
    format!("variant '{}' is not built yet (available: raft)", v.name())
}

/// Append values are unique across a run: the client in the high half, a counter below.
pub fn unique_value(client: usize, k: u64) -> u64 {
    ((client as u64 + 1) << 32) | k
}

/// The per-seed mix of fault kinds and their rates.
struct Swarm {
    crash: bool,
    wipe: bool,
    pause: bool,
    partition: bool,
    /// Crash or isolate whoever leads.
    leader: bool,
    loss: bool,
    dup: bool,
    reorder: bool,
    /// Mean gap between two injected node faults.
    mean_gap_ms: u64,
}

impl Swarm {
    fn draw(rng: &mut ChaCha8Rng, nodes: u32) -> Swarm {
        let multi = nodes > 1;
        Swarm {
            crash: rng.gen_bool(0.6),
            wipe: multi && rng.gen_bool(0.5),
            pause: rng.gen_bool(0.5),
            partition: multi && rng.gen_bool(0.5),
            leader: multi && rng.gen_bool(0.5),
            loss: rng.gen_bool(0.5),
            dup: rng.gen_bool(0.4),
            reorder: rng.gen_bool(0.4),
            mean_gap_ms: rng.gen_range(100..=2_000),
        }
    }

    fn faults(&self, rng: &mut ChaCha8Rng, nodes: u32, duration_ms: u64) -> Vec<TimedFault> {
        let mut kinds: Vec<u8> = Vec::new();
        for (on, k) in [
            (self.crash, 0),
            (self.wipe, 1),
            (self.pause, 2),
            (self.partition, 3),
            (self.leader, 4),
            (self.leader, 5),
        ] {
            if on {
                kinds.push(k);
            }
        }
        let mut out = Vec::new();
        if kinds.is_empty() {
            return out;
        }
        let mut t = rng.gen_range(0..self.mean_gap_ms);
        while t < duration_ms {
            let node = rng.gen_range(0..nodes);
            let fault = match kinds[rng.gen_range(0..kinds.len())] {
                0 => Fault::Crash {
                    node,
                    down_ms: rng.gen_range(10..=2_000),
                },
                1 => Fault::Wipe {
                    node,
                    down_ms: rng.gen_range(10..=2_000),
                },
                2 => Fault::Pause {
                    node,
                    ms: rng.gen_range(10..=1_500),
                },
                4 => Fault::CrashLeader {
                    down_ms: rng.gen_range(10..=2_000),
                },
                5 => Fault::IsolateLeader {
                    ms: rng.gen_range(50..=2_000),
                },
                _ => {
                    let mut side: Vec<u32> = (0..nodes).filter(|_| rng.gen_bool(0.5)).collect();
                    if side.is_empty() {
                        side.push(node);
                    }
                    Fault::Partition {
                        side,
                        one_way: rng.gen_bool(0.3),
                        ms: rng.gen_range(50..=3_000),
                    }
                }
            };
            out.push(TimedFault { at_ms: t, fault });
            t += rng.gen_range(1..=2 * self.mean_gap_ms);
        }
        out
    }
}
