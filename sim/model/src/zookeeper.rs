//! ZooKeeper on the simulated network: the mock ensemble (`zkwal-zk`) is one party;
//! each node's ZooKeeper session lives inside its node core (`zkwal-wal`), which keeps
//! an ephemeral membership znode `/nodes/n<id>` in every variant and, in the WAL
//! variants, the whole WAL protocol. This file holds what the world adds around it:
//! which servers a node's session may use (a `zk_pin` fault stages a session on a
//! chosen, possibly lagging, server) and the WAL checkers it feeds.

use zkwal_invariants::raft::Violation;
use zkwal_invariants::wal::NodeView;
pub use zkwal_invariants::wal::WalChecks;
use zkwal_raft::Role;
use zkwal_wal::{Node, WalEvent};
use zkwal_zk::{Ensemble, SessionState};

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

/// The WAL checks of a run: in the WAL variants they also judge every transaction
/// the ensemble commits, which it then records (recording observes only).
pub fn wal_checks(variant: crate::scenario::Variant, zk: Option<&mut Ensemble>) -> WalChecks {
    let v = variant.wal_variant();
    match zk {
        Some(e) if v.has_wal() => {
            e.record_applied();
            WalChecks::with_zookeeper(v.fenced())
        }
        _ => WalChecks::default(),
    }
}

/// Hands the WAL checks what the ensemble committed since the last call, in zxid
/// order. Called after every ensemble step, before its replies leave: a node's
/// events come only after the transactions it could have heard of.
pub fn feed_applied(e: &mut Ensemble, checks: &mut WalChecks) -> Result<(), Violation> {
    while let Some(a) = e.poll_applied() {
        checks.on_zk_applied(&a)?;
    }
    Ok(())
}

/// A node after one of its inputs, as the WAL checks of timely reactions see it.
pub fn node_view(node: u32, core: &Node) -> NodeView {
    let raft = core.raft();
    NodeView {
        node,
        leader_term: (raft.role() == Role::Leader).then(|| raft.term()),
        epoch: core.epoch(),
        session_expired: core
            .zk_session()
            .is_some_and(|s| matches!(s.state(), SessionState::Expired | SessionState::Lost)),
    }
}

/// What the nodes' WAL layers did in a run, counted from their typed events: the
/// evidence that a scripted scenario's step really happened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WalCounts {
    /// WAL appends ZooKeeper confirmed (step A).
    pub appended: u64,
    /// Client writes acknowledged (step F).
    pub acked: u64,
    /// Entries taken from a WAL into a log (steps [3] and [4]).
    pub recovered: u64,
    /// fenced: epoch bumps (takeovers).
    pub epoch_bumps: u64,
    /// Snapshots published with their WAL truncation.
    pub published: u64,
    /// Leaders deposed by a failed epoch check.
    pub fenced_out: u64,
    /// Leaders that stepped down after their pause monitor saw a pause.
    pub pause_step_downs: u64,
    /// `zk.client_expiry = curator`: sessions a node took as lost (Curator's LOST),
    /// and of those, how many the client's own timer decided.
    pub sessions_lost: u64,
    pub sessions_lost_by_client: u64,
    /// Leaders that stepped down because their session was lost.
    pub session_step_downs: u64,
}

impl WalCounts {
    pub fn count(&mut self, e: &WalEvent) {
        match e {
            WalEvent::WalAppended { .. } => self.appended += 1,
            WalEvent::Acked { .. } => self.acked += 1,
            WalEvent::Recovered { .. } => self.recovered += 1,
            WalEvent::Fenced { .. } => self.epoch_bumps += 1,
            WalEvent::Published { .. } => self.published += 1,
            WalEvent::SteppedDown { why, .. } if *why == "fenced" => self.fenced_out += 1,
            WalEvent::SteppedDown { why, .. } if *why == "session lost" => {
                self.session_step_downs += 1
            }
            WalEvent::SteppedDown { .. } => self.pause_step_downs += 1,
            WalEvent::SessionLost { by_client, .. } => {
                self.sessions_lost += 1;
                self.sessions_lost_by_client += u64::from(*by_client);
            }
            WalEvent::BlankReadStarted { .. }
            | WalEvent::BlankRecovered { .. }
            | WalEvent::EpochCheckFailed { .. }
            | WalEvent::TakeoverReadStarted { .. }
            | WalEvent::Reached { .. } => {}
        }
    }
}
