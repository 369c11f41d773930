//! Checks of the ZooKeeper-WAL layer, one a file. They see the typed [`WalEvent`]s of
//! every node (`zkwal-wal`) and, where they need it, the ensemble's committed data
//! tree (the leader's, so what is durable in ZooKeeper, not what a lagging server
//! shows). [`WalChecks`] runs them all; the first violation stops the seed.
//!
//! With [`WalChecks::with_zookeeper`] they also see every transaction the ensemble
//! committed, in zxid order ([`WalChecks::on_zk_applied`]): the ground truth of what
//! ZooKeeper did, which `epoch_currency`, `zk_metadata` and `wal_chain` judge.

mod acked_in_wal;
mod blank_recovery;
mod deposed_leader;
mod epoch_currency;
mod leader_session;
mod single_writer;
mod wal_chain;
mod wal_recovery;
mod zk_metadata;
mod zk_view;

use std::collections::BTreeMap;

use zkwal_raft::{Index, NodeId, Term};
use zkwal_wal::WalEvent;
use zkwal_zk::{Applied, DataTree};

use crate::raft::Violation;

/// Names of every WAL check, for documentation and `seeds/` validation.
pub const NAMES: [&str; 9] = [
    acked_in_wal::NAME,
    single_writer::NAME,
    wal_recovery::NAME,
    epoch_currency::NAME,
    zk_metadata::NAME,
    wal_chain::NAME,
    blank_recovery::NAME,
    deposed_leader::NAME,
    leader_session::NAME,
];

/// A node as the checks of timely reactions see it after each of its inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeView {
    pub node: NodeId,
    /// Some(term) while the node is Raft leader.
    pub leader_term: Option<Term>,
    /// The epoch it acts under (fenced: its ZooKeeper epoch, 0 for none).
    pub epoch: u64,
    /// Its ZooKeeper client knows its session expired.
    pub session_expired: bool,
}

/// What every WAL check may consult: where each (index, term) was confirmed in a WAL,
/// with the entry's digest.
#[derive(Default)]
pub struct WalLedger {
    pub written: BTreeMap<(Index, Term), (String, u64)>,
}

#[derive(Default)]
pub struct WalChecks {
    ledger: WalLedger,
    writer: single_writer::SingleWriter,
    recovery: wal_recovery::WalRecovery,
    blank: blank_recovery::BlankRecovery,
    deposed: deposed_leader::DeposedLeader,
    /// The checks over ZooKeeper's applied transactions; None: not fed them.
    zk: Option<ZkChecks>,
}

/// The checks fed ZooKeeper's applied transactions.
#[derive(Default)]
struct ZkChecks {
    fenced: bool,
    view: zk_view::ZkView,
    metadata: zk_metadata::ZkMetadata,
    chain: wal_chain::WalChain,
}

impl WalChecks {
    /// The checks of ZooKeeper's applied transactions too: the caller feeds every
    /// transaction the ensemble commits to [`WalChecks::on_zk_applied`], in zxid
    /// order, interleaved in time with the nodes' events. `fenced`: the current epoch
    /// is `/epoch`'s version (else the highest Raft term that took office).
    pub fn with_zookeeper(fenced: bool) -> WalChecks {
        WalChecks {
            zk: Some(ZkChecks {
                fenced,
                ..ZkChecks::default()
            }),
            ..WalChecks::default()
        }
    }

    /// One transaction the ensemble committed (ignored unless built
    /// [`WalChecks::with_zookeeper`]).
    pub fn on_zk_applied(&mut self, a: &Applied) -> Result<(), Violation> {
        let Some(z) = self.zk.as_mut() else {
            return Ok(());
        };
        let Some(t) = zk_view::decode(a) else {
            return Ok(());
        };
        epoch_currency::on_txn(&z.view, z.fenced, &t)?;
        z.metadata.on_txn(&z.view, z.fenced, &t)?;
        z.view.apply(z.fenced, &t);
        z.chain.on_txn(&t)
    }

    /// One event; `tree` is the ensemble's committed tree (None: no ZooKeeper).
    pub fn on_event(&mut self, e: &WalEvent, tree: Option<&DataTree>) -> Result<(), Violation> {
        match e {
            WalEvent::WalAppended {
                node,
                epoch,
                path,
                index,
                term,
                digest,
            } => {
                self.writer.on_act(*node, *epoch, "appended to the WAL")?;
                self.recovery.on_written(*index, *term, *digest, path)?;
                self.ledger
                    .written
                    .entry((*index, *term))
                    .or_insert((path.clone(), *digest));
            }
            WalEvent::Acked {
                node,
                epoch,
                index,
                term,
                digest,
                wal_path,
            } => {
                self.writer.on_act(*node, *epoch, "acknowledged a write")?;
                self.blank.on_ack(*index, *term, *digest);
                if wal_path.is_some() {
                    acked_in_wal::on_ack(&self.ledger, tree, *node, *index, *term, *digest)?;
                    if let Some(z) = self.zk.as_mut() {
                        z.chain.on_ack(*node, *index, *term, *digest)?;
                    }
                }
            }
            WalEvent::Recovered {
                node,
                wal,
                index,
                term,
                digest,
            } => {
                self.recovery
                    .on_recovered(*node, wal, *index, *term, *digest)?;
                let path = format!("{wal}/{index:020}");
                self.ledger
                    .written
                    .entry((*index, *term))
                    .or_insert((path, *digest));
            }
            WalEvent::BlankReadStarted { node } => {
                self.blank
                    .on_read_started(*node, blank_recovery::reserved_term(tree));
            }
            WalEvent::BlankRecovered {
                node,
                term,
                snapshot_index,
                entries,
                ..
            } => self
                .blank
                .on_recovered(*node, *term, *snapshot_index, entries)?,
            WalEvent::EpochCheckFailed {
                node,
                checked,
                leading,
            } => self.deposed.on_check_failed(*node, *checked, *leading),
            WalEvent::Fenced { .. }
            | WalEvent::Published { .. }
            | WalEvent::SteppedDown { .. }
            | WalEvent::SessionLost { .. }
            | WalEvent::TakeoverReadStarted { .. }
            | WalEvent::Reached { .. } => {}
        }
        Ok(())
    }

    /// After every input of a node, once its events went through [`WalChecks::on_event`]:
    /// the checks of what a node must have done by then.
    pub fn after_step(&mut self, v: &NodeView) -> Result<(), Violation> {
        self.deposed.after_step(v)?;
        leader_session::after_step(v)
    }
}
