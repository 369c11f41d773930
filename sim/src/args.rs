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
    /// Design variant: raft, seed, seed-zk-quorum, fenced (default: raft).
    #[arg(long)]
    pub variant: Option<String>,
    /// Nodes in the Raft group, 1..=9 (default: 3).
    #[arg(long, value_parser = nodes_arg, allow_negative_numbers = true)]
    pub nodes: Option<u32>,
    #[arg(
        long,
        required_unless_present = "scenario",
        value_parser = seed_arg,
        allow_negative_numbers = true
    )]
    pub seed: Option<u64>,
    /// Place a mock ZooKeeper ensemble on the network (with its faults).
    #[arg(long)]
    pub zk: bool,
    /// A saved scenario (JSON, as printed by `zkwal-sim scenario`) or a `seeds/` case.
    /// It fixes everything the flags above and below would choose: they are refused
    /// with it.
    #[arg(long, conflicts_with = "seed")]
    pub scenario: Option<PathBuf>,
    /// A branch below the seed, as `explore` names it after `S/`:
    /// `<situation>.<k>[/<situation>.<k>...]` (`branch.rs`).
    #[arg(long, requires = "seed", value_name = "PATH")]
    pub branch: Option<String>,
    #[command(flatten)]
    pub spec: SpecArgs,
}

/// The default of `--nodes` where a seed names a scenario (`replay`, `shrink`,
/// `scenario`, `run`).
pub const DEFAULT_NODES: u32 = 3;

impl CaseArgs {
    /// The scenario named: loaded from `--scenario`, or generated from `--seed`.
    /// `command` names the subcommand in the error when neither is given.
    pub fn scenario(&self, command: &str) -> Result<Scenario, String> {
        match (&self.scenario, self.seed) {
            (Some(path), _) => {
                self.refuse_with_scenario()?;
                load_scenario(path)
            }
            (None, Some(seed)) => {
                let nodes = self.nodes.unwrap_or(DEFAULT_NODES);
                let v = parse_target(self.variant.as_deref().unwrap_or("raft"), nodes)?;
                let spec = self.spec.parse()?;
                let sc = spec.scenario(seed, v, nodes, self.zk)?;
                let Some(path) = &self.branch else {
                    return Ok(sc);
                };
                let steps =
                    crate::branch::parse_path(path).map_err(|e| format!("--branch: {e}"))?;
                crate::run::quiet_panics();
                crate::branch::derive(
                    sc,
                    &steps,
                    &|s| spec.scenario(s, v, nodes, self.zk),
                    &crate::run::run_scenario,
                )
                .map_err(|e| format!("--branch: {e}"))
            }
            (None, None) => Err(format!("{command} needs --seed or --scenario")),
        }
    }

    /// A scenario file fixes variant, group size, ZooKeeper, faults and every option:
    /// a flag that would choose one of them is refused rather than silently ignored.
    fn refuse_with_scenario(&self) -> Result<(), String> {
        let given = [
            ("--variant", self.variant.is_some(), "the variant"),
            ("--nodes", self.nodes.is_some(), "the number of nodes"),
            ("--zk", self.zk, "whether ZooKeeper is placed"),
            ("--profile", self.spec.profile.is_some(), "the faults"),
            ("--set", !self.spec.set.is_empty(), "every option"),
            (
                "--pause-monitor",
                self.spec.pause_monitor,
                "whether the pause monitor runs",
            ),
        ];
        match given.iter().find(|g| g.1) {
            Some((flag, _, what)) => Err(format!(
                "{flag} does not apply with --scenario: the scenario file fixes {what}; edit the file"
            )),
            None => Ok(()),
        }
    }
}

/// Parses `--nodes` for clap, naming the real range `1..=MAX_NODES` whatever is wrong
/// (negative, too large, not a number): with `allow_negative_numbers` on the flag,
/// `-1` reaches this parser instead of reading as an unknown flag.
pub fn nodes_arg(s: &str) -> Result<u32, String> {
    in_range("--nodes", s, 1, u64::from(MAX_NODES)).map(|n| n as u32)
}

/// Parses `--jobs` for clap, naming its range `1..=MAX_JOBS`.
pub fn jobs_arg(s: &str) -> Result<usize, String> {
    in_range("--jobs", s, 1, crate::runner::MAX_JOBS as u64).map(|n| n as usize)
}

/// Parses `--seed` for clap, naming its range (a negative seed reaches this parser).
pub fn seed_arg(s: &str) -> Result<u64, String> {
    in_range("--seed", s, 0, u64::MAX)
}

/// Parses `shrink --max-runs` for clap, naming its range.
pub fn max_runs_arg(s: &str) -> Result<u64, String> {
    in_range("--max-runs", s, 1, u64::MAX)
}

/// A whole number in `lo..=hi`, or an error naming the flag, that range and `s`
/// (the words [`parse_target`] and [`crate::runner::jobs`] use).
fn in_range(flag: &str, s: &str, lo: u64, hi: u64) -> Result<u64, String> {
    match s.trim().parse::<i128>() {
        Ok(n) if n >= i128::from(lo) && n <= i128::from(hi) => Ok(n as u64),
        _ => Err(format!("{flag} must be in {lo}..={hi}, got {s}")),
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
    /// Fault profile: swarm (10 s of mixed faults; the default) or churn (an hour of
    /// nodes dying and returning).
    #[arg(long)]
    pub profile: Option<String>,
    /// Set a scenario option, NAME=VALUE (repeatable), e.g. zk.session_timeout_ms=4000.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
    /// Leaders that detect they were paused step down (Ratis' JvmPauseMonitor).
    #[arg(long)]
    pub pause_monitor: bool,
}

impl SpecArgs {
    /// The spec these flags give, its `--set` values in canonical form (see
    /// [`Spec::new`]: typed, sorted by name, a name given twice refused).
    pub fn parse(&self) -> Result<Spec, String> {
        Spec::new(
            Profile::parse(self.profile.as_deref().unwrap_or("swarm"))?,
            self.set
                .iter()
                .map(|s| parse_assignment(s))
                .collect::<Result<_, _>>()?,
            self.pause_monitor,
        )
    }
}

/// A saved scenario file, either a bare Scenario or a `seeds/` case, told apart by
/// shape: a JSON object with a `scenario` or an `expect` key is a case (a Scenario has
/// neither), anything else a Scenario. Only that one parse is tried, so its error,
/// with serde's line and column, is the one reported.
fn load_scenario(path: &std::path::Path) -> Result<Scenario, String> {
    let text = crate::output::read_input(path)?;
    let is_case = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(m)) => m.contains_key("scenario") || m.contains_key("expect"),
        Ok(_) => false,
        Err(e) => return Err(format!("{}: not valid JSON: {e}", path.display())),
    };
    if is_case {
        return regress::parse(path, &text)?
            .scenario()
            .map_err(|e| format!("{}: {e}", path.display()));
    }
    let sc: Scenario = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not a valid scenario: {e}", path.display()))?;
    sc.validate()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(sc)
}
