//! The simulated network between parties (nodes and clients): latency, loss,
//! duplication, reordering and partitions (symmetric or one-way). It only decides
//! *when* (or whether) a message arrives; the world's event queue carries it.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use zkwal_raft::{ClientReply, Command, Message, MsgBody, NodeId};
use zkwal_zk::{ClientMsg, ServerMsg};

use crate::faults::{FaultCounts, FaultKind};
use crate::scenario::NetOptions;

/// A party on the network: nodes are `0..nodes`, clients follow.
pub type Party = usize;

pub struct Network {
    opts: NetOptions,
    rng: ChaCha8Rng,
    parties: usize,
    /// `blocked[from * parties + to]`: how many faults in progress block that link
    /// (messages on it are dropped while any does). A count, so that a fault that
    /// ends unblocks only what it blocked: overlapping faults each last their length.
    blocked: Vec<u32>,
    /// Latest delivery time scheduled per link, to count real overtakes.
    last_delivery_ms: Vec<u64>,
    /// After healing, the network stops losing, duplicating and reordering.
    healed: bool,
}

/// Where a sent message goes: nowhere, once, or twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    Dropped,
    Once(u64),
    Twice(u64, u64),
}

impl Network {
    /// A branch (`branch.rs`) draws delays, loss and reordering from its own stream
    /// from now on.
    pub fn reseed(&mut self, rng: ChaCha8Rng) {
        self.rng = rng;
    }

    pub fn new(opts: NetOptions, rng: ChaCha8Rng, parties: usize) -> Network {
        Network {
            opts,
            rng,
            parties,
            blocked: vec![0; parties * parties],
            last_delivery_ms: vec![0; parties * parties],
            healed: false,
        }
    }

    /// Decides the fate of one message sent at `now_ms`, counting each fault injected.
    pub fn route(
        &mut self,
        now_ms: u64,
        from: Party,
        to: Party,
        faults: &mut FaultCounts,
    ) -> Delivery {
        let link = from * self.parties + to;
        if self.blocked[link] > 0 {
            faults.add(FaultKind::PartitionDrop);
            return Delivery::Dropped;
        }
        if !self.healed && self.chance(self.opts.loss_ppm) {
            faults.add(FaultKind::Loss);
            return Delivery::Dropped;
        }
        let first = self.arrival(now_ms, link, faults);
        if !self.healed && self.chance(self.opts.dup_ppm) {
            faults.add(FaultKind::Duplicate);
            let second = self.arrival(now_ms, link, faults);
            return Delivery::Twice(first, second);
        }
        Delivery::Once(first)
    }

    fn arrival(&mut self, now_ms: u64, link: usize, faults: &mut FaultCounts) -> u64 {
        let mut at = now_ms
            + self
                .rng
                .gen_range(self.opts.latency_ms_min..=self.opts.latency_ms_max);
        if !self.healed && self.chance(self.opts.reorder_ppm) {
            at += self
                .rng
                .gen_range(1..=self.opts.reorder_delay_ms_max.max(1));
        }
        if at < self.last_delivery_ms[link] {
            // A message sent later arrives before one sent earlier on the same link.
            faults.add(FaultKind::Reorder);
        }
        self.last_delivery_ms[link] = self.last_delivery_ms[link].max(at);
        at
    }

    fn chance(&mut self, ppm: u32) -> bool {
        ppm > 0 && self.rng.gen_range(0..1_000_000u32) < ppm
    }

    /// The directed links a partition of `side` from the rest (among `nodes`) blocks:
    /// from `side` to the rest, and back unless `one_way`. Blocked with [`Network::block`].
    pub fn partition_links(
        &self,
        side: &[u32],
        one_way: bool,
        nodes: usize,
    ) -> Vec<(Party, Party)> {
        let mut links = Vec::new();
        for a in 0..nodes {
            for b in 0..nodes {
                let a_in = side.contains(&(a as u32));
                let b_in = side.contains(&(b as u32));
                if a_in && !b_in {
                    links.push((a, b));
                    if !one_way {
                        links.push((b, a));
                    }
                }
            }
        }
        links
    }

    /// Both directions between two parties.
    pub fn both_ways(a: Party, b: Party) -> Vec<(Party, Party)> {
        vec![(a, b), (b, a)]
    }

    /// One fault starts blocking `links` (directed); [`Network::unblock`] with the same
    /// links ends it, leaving any other fault's blocks in place.
    pub fn block(&mut self, links: &[(Party, Party)]) {
        for &(a, b) in links {
            self.blocked[a * self.parties + b] += 1;
        }
    }

    /// One fault stops blocking `links`. After [`Network::heal_all`] (every count
    /// zero) a late end is a no-op.
    pub fn unblock(&mut self, links: &[(Party, Party)]) {
        for &(a, b) in links {
            let c = &mut self.blocked[a * self.parties + b];
            *c = c.saturating_sub(1);
        }
    }

    /// Whether any fault in progress blocks messages from `from` to `to`.
    pub fn is_blocked(&self, from: Party, to: Party) -> bool {
        self.blocked[from * self.parties + to] > 0
    }

    /// End of the fault phase: no more partitions, loss, duplication or reordering.
    pub fn heal_all(&mut self) {
        self.blocked.iter_mut().for_each(|b| *b = 0);
        self.healed = true;
    }
}

/// What travels between parties: Raft messages, client requests and replies, and a
/// node's ZooKeeper session traffic.
#[derive(Clone, Debug)]
pub enum NetMsg {
    Raft(Message),
    ClientReq {
        client: u32,
        attempt: u32,
        command: Command,
    },
    ClientResp {
        request_id: u64,
        attempt: u32,
        result: Result<ClientReply, Option<NodeId>>,
    },
    /// A node's ZooKeeper session to the ensemble.
    ToZk(Box<ClientMsg>),
    /// The ensemble to a node's ZooKeeper session.
    FromZk(Box<ServerMsg>),
}

/// A message body without the bulky parts (snapshot state, entry payloads).
pub struct BodyView<'a>(pub &'a MsgBody);

impl std::fmt::Debug for BodyView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            MsgBody::AppendEntries { prev_index, prev_term, entries, leader_commit } => write!(
                f,
                "AppendEntries prev=({prev_index},{prev_term}) entries={}..{} commit={leader_commit}",
                entries.first().map_or(0, |e| e.index),
                entries.last().map_or(0, |e| e.index)
            ),
            MsgBody::InstallSnapshot { snapshot } => {
                write!(f, "InstallSnapshot ({},{})", snapshot.last_index, snapshot.last_term)
            }
            MsgBody::RecoveryResp { snapshot, entries } => {
                write!(f, "RecoveryResp snapshot={} entries={}", snapshot.last_index, entries.len())
            }
            other => write!(f, "{other:?}"),
        }
    }
}
