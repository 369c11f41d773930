//! `zkwal-invariants`: what must hold.
//!
//! - [`raft`]: safety checks over typed events from the Raft cores and over durable
//!   state, evaluated during the run after every step;
//! - [`history`]: the client-history checker (linearizability per key for list-append),
//!   evaluated at the end of every seed on what clients saw, trusting nothing else.

//! - [`wal`]: checks of the ZooKeeper-WAL layer (durability of acknowledged writes,
//!   one writer per epoch, entries recovered from a WAL), over the nodes' typed
//!   WAL events and the ensemble's data tree; and over ZooKeeper's applied
//!   transactions (epoch currency, monotonic metadata, a connected WAL chain).

pub mod history;
pub mod raft;
pub mod wal;
