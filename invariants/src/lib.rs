//! `zkwal-invariants`: what must hold.
//!
//! - [`raft`]: safety checks over typed events from the Raft cores and over durable
//!   state, evaluated during the run after every step;
//! - [`history`]: the client-history checker (linearizability per key for list-append),
//!   evaluated at the end of every seed on what clients saw, trusting nothing else.

pub mod history;
pub mod raft;
