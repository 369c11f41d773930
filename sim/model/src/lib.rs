//! `zkwal-model`: the simulator's model, what one run is. A seed becomes a
//! [`scenario`], the [`world`] runs it to a verdict; nothing here reads a clock, starts
//! a thread or knows the commands (`zkwal-sim`, which uses this crate; the madsim tier,
//! `sim/madsim`, uses it too).
//!
//! - [`scenario`]: a seed becomes plain data (options, client scripts, timed faults);
//! - [`world`]: the event loop that runs a scenario (nodes, disks, network, clients);
//! - [`queue`], [`network`], [`overlap`], [`disk`], [`faults`], [`clients`], [`trace`], [`zookeeper`],
//!   [`rng`]: the world's parts;
//! - [`run`]: runs one seed, catching a panic as a violation (optionally recorded or
//!   timed), and what a range of seeds runs;
//! - [`metrics`]: the figures measured from the clients' side (downtime per failover,
//!   availability, latency, ZooKeeper cost), mergeable across runs;
//! - [`phases`]: each failover's unavailability split into detection, takeover,
//!   election and first commit;
//! - [`profile`]: fault profiles (`swarm`, `churn`) and scenario options set by name;
//! - [`timeline`]: what a replay records (the counterexample and the diagram are drawn
//!   from it).

pub mod branch;
pub mod ceiling;
pub mod clients;
pub mod disk;
pub mod faults;
pub mod metrics;
pub mod network;
pub mod overlap;
pub mod phases;
pub mod profile;
pub mod queue;
pub mod rng;
pub mod run;
pub mod scenario;
pub mod situations;
pub mod timeline;
pub mod trace;
pub mod world;
pub mod zookeeper;
