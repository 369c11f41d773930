//! `zkwal-sim`: the deterministic simulator.
//!
//! - [`scenario`]: a seed becomes plain data (options, client scripts, timed faults);
//! - [`world`]: the event loop that runs a scenario (nodes, disks, network, clients);
//! - [`queue`], [`network`], [`disk`], [`faults`], [`clients`], [`trace`], [`zookeeper`]: the
//!   world's parts;
//! - [`runner`]: runs one seed (catching panics as violations) or many in parallel;
//! - [`metrics`]: the figures measured from the clients' side (downtime per failover,
//!   availability, latency, ZooKeeper cost), mergeable across runs;
//! - [`regress`]: the regression cases in `seeds/`;
//! - [`profile`]: fault profiles (`swarm`, `churn`) and scenario options set by name;
//! - [`report`], [`html`]: the `report` and `sweep` commands, their tables, JSON and HTML;
//! - [`batch`], [`progress`], [`shard`]: a range of seeds as the commands run it (all
//!   cores, progress, Ctrl-C, failures saved as found, `--check-determinism`,
//!   `--shard K/N`);
//! - [`merge`]: the `merge` command (shards' JSON summaries into one);
//! - [`bench`]: the `bench` command (the standard scenario against an empty event loop);
//! - [`shrink`]: delta debugging of a failing scenario down to a minimal one;
//! - [`replay_html`]: the replay's space-time diagram as a self-contained HTML page;
//! - [`timeline`]: what a replay records, and the counterexample timeline printed from it;
//! - [`cli`]: the `zkwal-sim` command line.

pub mod batch;
pub mod bench;
pub mod cli;
pub mod clients;
pub mod disk;
pub mod faults;
pub mod html;
pub mod merge;
pub mod metrics;
pub mod network;
pub mod profile;
pub mod progress;
pub mod queue;
pub mod regress;
pub mod replay_html;
pub mod report;
pub mod rng;
pub mod runner;
pub mod scenario;
pub mod shard;
pub mod shrink;
pub mod timeline;
pub mod trace;
pub mod world;
pub mod zookeeper;
