//! `zkwal-node`: an async driver for the sans-IO cores, and the madsim test tier.
//!
//! The cores (`zkwal_wal::Node`, which composes the Raft core for every variant, and
//! the mock ZooKeeper `Ensemble`) run as async tasks: one task per node, its messages
//! on a `madsim::net::Endpoint`, its timers on `madsim::time`, its disk a [`Store`]
//! whose writes become durable after an fsync delay and whose pending writes a crash
//! loses; each client is a task; the ensemble is a task on the same network. The
//! driver ([`driver`], [`world`], [`wire`]) uses only madsim's tokio-shaped API and
//! tokio's runtime-agnostic parts, so it builds in both modes:
//!
//! - with `RUSTFLAGS="--cfg madsim"`: madsim's deterministic runtime and simulated
//!   network; [`harness`] runs the event loop's scenarios on it (the madsim tier,
//!   `tests/madsim.rs`);
//! - without: madsim's std mode, i.e. tokio and TCP (`tests/tokio_smoke.rs` runs a
//!   cluster on real sockets): the start of a real node.
//!
//! [`Store`]: world::Store

pub mod driver;
#[cfg(madsim)]
pub mod harness;
pub mod wire;
pub mod world;
