//! The faults in progress, kept apart so that each fault's effect lasts exactly its own
//! length when faults overlap (issue 30): a fault that ends undoes only its own share.
//!
//! - node down (crash, wipe, crash-leader, total loss): a node restarts only once the
//!   last of the down faults that hit it has ended (a crash that hits a node already
//!   down keeps it down for its own length too);
//! - link blocks (partition, isolate-leader, zk cut-off): counted per link in
//!   [`crate::network::Network`];
//! - ZooKeeper outage: the ensemble is back only when the last outage has ended; an
//!   outage that overrides a leader change in progress (the ensemble's rule) also lasts
//!   to the end of that change's election, and a leader change that fires during an
//!   outage adds its election to the outage (there is no quorum to elect with);
//! - ZooKeeper server lag: a server lags by the largest lag in progress on it.
//!
//! A pause freezes one process: a crash ends that process and so its pause (a restarted
//! process runs). Two overlapping leader changes: the second is skipped by the ensemble
//! (it never starts; counted as not injected). Healing (end of the fault phase) ends
//! everything at once.

/// Faults in progress (see the module doc). Bounded: one entry per node, per server,
/// and per lag in progress.
#[derive(Debug, Default)]
pub struct ActiveFaults {
    /// Per node: the end of the latest down fault that hit it (0: none).
    down_until_ms: Vec<u64>,
    /// Outages in progress (elections absorbed by an outage count as one each).
    zk_outages: u32,
    /// Per server: the lags in progress on it, in ms.
    zk_lags: Vec<Vec<u64>>,
    /// The end of the election of the leader change in progress (0: none).
    zk_election_until_ms: u64,
}

impl ActiveFaults {
    pub fn new(nodes: usize, zk_servers: usize) -> ActiveFaults {
        ActiveFaults {
            down_until_ms: vec![0; nodes],
            zk_outages: 0,
            zk_lags: vec![Vec::new(); zk_servers],
            zk_election_until_ms: 0,
        }
    }

    /// A down fault hits `node` until `until_ms`.
    pub fn down(&mut self, node: u32, until_ms: u64) {
        let d = &mut self.down_until_ms[node as usize];
        *d = (*d).max(until_ms);
    }

    /// Whether every down fault that hit `node` has ended at `now_ms`.
    pub fn may_restart(&self, node: u32, now_ms: u64) -> bool {
        now_ms >= self.down_until_ms[node as usize]
    }

    /// An outage starts; true if it is the first in progress (the ensemble goes down).
    pub fn outage_start(&mut self) -> bool {
        self.zk_outages += 1;
        self.zk_outages == 1
    }

    /// An outage ends; true if it was the last (the ensemble comes back). A late end
    /// after healing is a no-op.
    pub fn outage_end(&mut self) -> bool {
        if self.zk_outages == 0 {
            return false;
        }
        self.zk_outages -= 1;
        self.zk_outages == 0
    }

    /// A leader change started at `now_ms` whose election lasts `unavailable_ms`.
    pub fn election(&mut self, now_ms: u64, unavailable_ms: u64) {
        self.zk_election_until_ms = now_ms.saturating_add(unavailable_ms);
    }

    /// The end of the election in progress at `now_ms`, if any.
    pub fn election_until_ms(&self, now_ms: u64) -> Option<u64> {
        (self.zk_election_until_ms > now_ms).then_some(self.zk_election_until_ms)
    }

    /// A lag of `lag_ms` starts on `server`; the server's lag now.
    pub fn lag_start(&mut self, server: u32, lag_ms: u64) -> u64 {
        let l = &mut self.zk_lags[server as usize];
        l.push(lag_ms);
        l.iter().copied().max().unwrap_or(0)
    }

    /// A lag of `lag_ms` on `server` ends; the server's lag now (0: none left).
    pub fn lag_end(&mut self, server: u32, lag_ms: u64) -> u64 {
        let l = &mut self.zk_lags[server as usize];
        if let Some(i) = l.iter().position(|x| *x == lag_ms) {
            l.swap_remove(i);
        }
        l.iter().copied().max().unwrap_or(0)
    }

    /// The end of the fault phase: nothing is in progress any more.
    pub fn heal(&mut self) {
        self.down_until_ms.iter_mut().for_each(|d| *d = 0);
        self.zk_outages = 0;
        self.zk_lags.iter_mut().for_each(Vec::clear);
        self.zk_election_until_ms = 0;
    }
}

/// What the faults do to the world at one instant, read from the world's state
/// ([`crate::world::World::effects`]): what a test that overlaps faults watches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effects {
    pub now_ms: u64,
    /// The running node that leads in the highest term, if any.
    pub leader: Option<u32>,
    /// Per node: its process is down.
    pub down: Vec<bool>,
    /// Per node: its process is frozen.
    pub paused: Vec<bool>,
    /// Per node: bumped on every crash.
    pub incarnation: Vec<u32>,
    /// The directed links (party to party) on which messages are dropped.
    pub blocked: Vec<(usize, usize)>,
    /// The ZooKeeper ensemble's party on the network.
    pub zk_party: usize,
    /// ZooKeeper servers serving clients (up, no outage, not electing).
    pub zk_serving_servers: u32,
    /// Per ZooKeeper server: how far behind the leader its commits run, in ms.
    pub zk_lag_ms: Vec<u64>,
}
