//! ZooKeeper on the simulated network: the mock ensemble (`zkwal-zk`) is one party;
//! each node's ZooKeeper session lives inside its node core (`zkwal-wal`), which keeps
//! an ephemeral membership znode `/nodes/n<id>` in every variant and, in the WAL
//! variants, the whole WAL protocol. This file holds what the world adds around it:
//! which servers a node's session may use (a `zk_pin` fault stages a session on a
//! chosen, possibly lagging, server) and the WAL checkers it feeds.

pub use zkwal_invariants::wal::WalChecks;

use crate::scenario::ZkOptions;

/// The servers a node's session tries, in order: its own rotation of the ensemble, or
/// only the server it is pinned to.
pub fn server_order(node: u32, opts: &ZkOptions, pins: &[Option<u32>]) -> Vec<u32> {
    if let Some(Some(server)) = pins.get(node as usize) {
        return vec![*server];
    }
    (0..opts.servers)
        .map(|i| (i + node) % opts.servers)
        .collect()
}
