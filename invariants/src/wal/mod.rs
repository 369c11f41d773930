//! Checks of the ZooKeeper-WAL layer, one a file. They see the typed [`WalEvent`]s of
//! every node (`zkwal-wal`) and, where they need it, the ensemble's committed data
//! tree (the leader's, so what is durable in ZooKeeper, not what a lagging server
//! shows). [`WalChecks`] runs them all; the first violation stops the seed.

mod acked_in_wal;
mod single_writer;
mod wal_recovery;

use std::collections::BTreeMap;

use zkwal_raft::{Index, Term};
use zkwal_wal::WalEvent;
use zkwal_zk::DataTree;

use crate::raft::Violation;

/// Names of every WAL check, for documentation and `seeds/` validation.
pub const NAMES: [&str; 3] = [acked_in_wal::NAME, single_writer::NAME, wal_recovery::NAME];

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
}

impl WalChecks {
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
                if wal_path.is_some() {
                    acked_in_wal::on_ack(&self.ledger, tree, *node, *index, *term, *digest)?;
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
            WalEvent::Fenced { .. } | WalEvent::Published { .. } | WalEvent::SteppedDown { .. } => {
            }
        }
        Ok(())
    }
}
