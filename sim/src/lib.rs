//! `zkwal-sim`: the simulator's commands and their outputs, over the model
//! ([`zkwal_model`], re-exported here: [`scenario`], [`world`], [`run`], ...). Arrows
//! run one way: these modules use the model, the model never uses them, and no two
//! modules here import each other in a circle (`sim/tests/tidy.rs` checks both).
//!
//! From the bottom up:
//! - [`runner`], [`progress`], [`shard`]: many seeds across threads, their totals, the
//!   progress line and Ctrl-C, `--shard K/N`;
//! - [`regress`]: the regression cases in `seeds/`;
//! - [`args`], [`output`]: the arguments several commands share, and where outputs go;
//! - [`outcome`]: one range's outcome as the commands show it (JSON summary, figures
//!   line, side-by-side tables);
//! - [`batch`]: a range of seeds as the commands run it (all cores, progress, Ctrl-C,
//!   failures saved as found, `--check-determinism`, `--shard K/N`);
//! - [`html`], [`replay_html`], [`counterexample`]: the report's HTML page, the
//!   replay's space-time diagram, the counterexample timeline printed from a replay;
//! - [`situations`]: the named situations over a range of seeds (table, JSON, the
//!   `--require-situations` gate);
//! - [`report`] (`report`, `sweep`), [`merge`], [`bench`], [`shrink`]: the commands
//!   beyond `run` and `replay`;
//! - [`cli`]: the `zkwal-sim` command line.

pub use zkwal_model::{
    branch, ceiling, clients, disk, faults, metrics, network, overlap, phases, profile, queue, rng,
    run, scenario, timeline, trace, world, zookeeper,
};

pub mod args;
pub mod batch;
pub mod bench;
pub mod cli;
pub mod counterexample;
pub mod explore;
pub mod html;
pub mod merge;
pub mod outcome;
pub mod output;
pub mod progress;
pub mod regress;
pub mod replay_html;
pub mod report;
pub mod runner;
pub mod shard;
pub mod shrink;
pub mod situations;
