//! `zkwal-wal`: the node core of every design variant (DESIGN.md §3).
//!
//! [`Node`] composes the sans-IO Raft core (`zkwal-raft`) with a ZooKeeper client
//! session (`zkwal-zk`) and, for the WAL variants, the protocol of the design notes:
//! leader znode, the WAL in ZooKeeper (step A before the local append), failover by
//! reading the dead leader's WAL, recovery of a blank disk from a snapshot published
//! in ZooKeeper, snapshot publication with WAL truncation in one `multi`, and for
//! `fenced` the leadership epoch every ZooKeeper write is conditional on. The variant
//! changes only three things in the Raft core, through its seams: who may lead when
//! alone (`set_lone_quorum`), when an index is committed (`CommitRule`), and entries
//! appended from a WAL as if a leader had sent them (`append_recovered`).
//!
//! The ZooKeeper layout is in [`layout`]; the typed events for the checkers in
//! [`WalEvent`].

mod config;
mod events;
pub mod layout;
mod node;
mod reader;
mod situation;

pub use config::{PauseMonitor, WalOptions, WalVariant, ZkClientOptions};
pub use events::WalEvent;
pub use node::{Node, NodeConfig, NodeOutput};
pub use reader::ReadPurpose;
pub use situation::{Situation, SituationCounts, PUBLISH_RECENT_MS};
