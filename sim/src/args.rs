//! The arguments several commands share, and their parsing: which scenario a command
//! runs (`replay`, `shrink`), the flags that shape a seed's scenario (every command that
//! generates one), a variant with its group size, and a seed range (`run`, `report`,
//! `sweep`, `bench`).

use std::path::PathBuf;

use crate::profile::{parse_assignment, Profile, Spec};
use crate::regress;
use crate::scenario::{not_built, Scenario, Variant, MAX_NODES};

/// Which scenario a command runs (`replay`, `shrink`): a seed, generated for a
/// variant, group size, profile and options, or a saved scenario file.
#[derive(clap::Args, Debug)]
pub struct CaseArgs {
    /// Design variant: raft, seed, seed-zk-quorum, fenced.
    #[arg(long, default_value = "raft")]
    pub variant: String,
    #[arg(long, default_value_t = 3)]
    pub nodes: u32,
    #[arg(long, required_unless_present = "scenario")]
    pub seed: Option<u64>,
    /// Place a mock ZooKeeper ensemble on the network (with its faults).
    #[arg(long)]
    pub zk: bool,
    /// A saved scenario (JSON, as printed by `zkwal-sim scenario`) or a `seeds/` case.
    #[arg(long, conflicts_with = "seed")]
    pub scenario: Option<PathBuf>,
    #[command(flatten)]
    pub spec: SpecArgs,
}

impl CaseArgs {
    /// The scenario named: loaded from `--scenario`, or generated from `--seed`.
    /// `command` names the subcommand in the error when neither is given.
    pub fn scenario(&self, command: &str) -> Result<Scenario, String> {
        match (&self.scenario, self.seed) {
            (Some(path), _) => load_scenario(path),
            (None, Some(seed)) => {
                let v = parse_target(&self.variant, self.nodes)?;
                self.spec.parse()?.scenario(seed, v, self.nodes, self.zk)
            }
            (None, None) => Err(format!("{command} needs --seed or --scenario")),
        }
    }
}

/// Parses and checks variant and node count: unknown or unbuilt variants are refused.
pub fn parse_target(variant: &str, nodes: u32) -> Result<Variant, String> {
    let v = Variant::parse(variant)?;
    if !v.is_built() {
        return Err(not_built(v));
    }
    if nodes == 0 || nodes > MAX_NODES {
        return Err(format!("--nodes must be in 1..={MAX_NODES}, got {nodes}"));
    }
    Ok(v)
}

pub fn parse_range(s: &str) -> Result<(u64, u64), String> {
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| format!("--seeds must look like A..B, got '{s}'"))?;
    let a: u64 = a
        .trim()
        .parse()
        .map_err(|_| format!("--seeds: '{a}' is not a seed number"))?;
    let b: u64 = b
        .trim()
        .parse()
        .map_err(|_| format!("--seeds: '{b}' is not a seed number"))?;
    if a >= b {
        return Err(format!("--seeds: empty range {a}..{b}"));
    }
    Ok((a, b))
}

/// The command-line flags that shape a seed's scenario beyond variant, nodes and `--zk`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct SpecArgs {
    /// Fault profile: swarm (10 s of mixed faults) or churn (an hour of nodes dying and
    /// returning).
    #[arg(long, default_value = "swarm")]
    pub profile: String,
    /// Set a scenario option, NAME=VALUE (repeatable), e.g. zk.session_timeout_ms=4000.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
    /// Leaders that detect they were paused step down (Ratis' JvmPauseMonitor).
    #[arg(long)]
    pub pause_monitor: bool,
}

impl SpecArgs {
    pub fn parse(&self) -> Result<Spec, String> {
        Ok(Spec {
            profile: Profile::parse(&self.profile)?,
            sets: self
                .set
                .iter()
                .map(|s| parse_assignment(s))
                .collect::<Result<_, _>>()?,
            pause_monitor: self.pause_monitor,
        })
    }
}

/// The scenario a command names: a saved file, or a seed with its target and options.
/// A saved scenario file, either a bare Scenario or a `seeds/` case.
fn load_scenario(path: &std::path::Path) -> Result<Scenario, String> {
    let text = crate::output::read_input(path)?;
    if let Ok(sc) = serde_json::from_str::<Scenario>(&text) {
        sc.validate()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        return Ok(sc);
    }
    regress::load(path)?
        .scenario()
        .map_err(|e| format!("{}: {e}", path.display()))
}
