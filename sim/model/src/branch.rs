//! Branches of an exploration (issue 26): a run continued from the instant it first
//! reached a rare situation, with everything after that instant drawn anew.
//!
//! A run is a pure function of its [`Scenario`], so a branch needs no process fork:
//! it is the scenario of its parent with
//! - the same faults up to the branch instant, and after it the faults that the same
//!   target draws for another seed (the *branch seed*, from the branch's salt): the
//!   faults still to come are the branch's own, made concrete in the scenario's list;
//! - a [`BranchPoint`]: once the run has handled the event at which the parent first
//!   reached the situation, the network, disk and election-jitter streams draw from
//!   the branch's salt (`World::enter_branch`).
//!
//! Everything before the branch point is the parent's run event for event (the faults
//! are inserted in time order at the start, so replacing the later ones shifts no
//! earlier event; `tests/branches.rs` checks the running trace hash at the branch
//! point). A branch's scenario is a plain scenario: saved, it replays and shrinks as
//! any case, without exploration. Its name is its seed and its path,
//! `S/<situation>.<k>/<situation>.<k>`, from which [`derive`] rebuilds it exactly.
//!
//! The clients' scripts are kept (their timing after the branch point still changes
//! with the network's and the faults'); the branch seed's scripts would change the
//! prefix's client steps, which are drawn before the run.

use crate::scenario::{BranchPoint, Scenario};
use crate::situations::Situation;

/// One step of a branch path: branch `k` (1-based) at the first reach of `situation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    pub situation: Situation,
    pub k: u32,
}

/// At most this many levels of branches below a seed (a bound on a path).
pub const MAX_DEPTH: usize = 8;

/// The salt of the branch `step` below a parent with salt `parent` (0 for a seed):
/// a SplitMix64 finaliser over both, so that siblings and cousins differ; never 0.
pub fn salt(parent: u64, step: Step) -> u64 {
    let mut z = parent
        .wrapping_add(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(((step.situation as u64) << 32) | u64::from(step.k));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)).max(1)
}

/// The branch seed whose faults a branch with `salt` takes after its instant.
pub fn branch_seed(seed: u64, salt: u64) -> u64 {
    seed ^ salt.rotate_left(17)
}

/// The branch `step` of `parent`, whose run first reached `step.situation` after its
/// `after_event`-th event at `at_ms`. `scenario_of` is the target's seed-to-scenario
/// function (profile, `--set` options and all), used for the branch seed's faults.
pub fn branch(
    parent: &Scenario,
    step: Step,
    after_event: u64,
    at_ms: u64,
    scenario_of: &dyn Fn(u64) -> Result<Scenario, String>,
) -> Result<Scenario, String> {
    let parent_salt = parent.branches.last().map_or(0, |b| b.salt);
    let salt = salt(parent_salt, step);
    let future = scenario_of(branch_seed(parent.seed, salt))?;
    let mut sc = parent.clone();
    // Faults at the branch instant itself may not have fired yet; they stay, so the
    // prefix is the parent's whatever the order within that millisecond.
    sc.faults.retain(|f| f.at_ms <= at_ms);
    sc.faults
        .extend(future.faults.into_iter().filter(|f| f.at_ms > at_ms));
    sc.branches.push(BranchPoint {
        after_event,
        at_ms,
        salt,
        name: format!("{}.{}", step.situation.name(), step.k),
    });
    Ok(sc)
}

/// Parses a branch path `sit.k/sit.k` (what follows `S/` in a branch's name).
pub fn parse_path(path: &str) -> Result<Vec<Step>, String> {
    let steps: Vec<Step> =
        path.split('/')
            .map(|part| {
                let (name, k) = part
                    .rsplit_once('.')
                    .ok_or_else(|| format!("branch step '{part}' is not <situation>.<k>"))?;
                let situation = Situation::parse(name)
                    .ok_or_else(|| format!("branch step '{part}': unknown situation '{name}'"))?;
                let k =
                    k.parse::<u32>().ok().filter(|k| *k >= 1).ok_or_else(|| {
                        format!("branch step '{part}': k must be a number from 1")
                    })?;
                Ok(Step { situation, k })
            })
            .collect::<Result<_, String>>()?;
    if steps.len() > MAX_DEPTH {
        return Err(format!(
            "branch path has {} steps, at most {MAX_DEPTH}",
            steps.len()
        ));
    }
    Ok(steps)
}

/// The name of a branch path, as [`parse_path`] reads it.
pub fn path_name(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| format!("{}.{}", s.situation.name(), s.k))
        .collect::<Vec<_>>()
        .join("/")
}

/// Rebuilds the scenario of the branch `path` below `seed_scenario`: each step runs its
/// parent to find where the parent first reached the step's situation. `run` is the
/// run of a scenario (the caller's, so that a panic becomes a verdict).
pub fn derive(
    seed_scenario: Scenario,
    path: &[Step],
    scenario_of: &dyn Fn(u64) -> Result<Scenario, String>,
    run: &dyn Fn(&Scenario) -> crate::world::RunResult,
) -> Result<Scenario, String> {
    let mut sc = seed_scenario;
    for (depth, step) in path.iter().enumerate() {
        let r = run(&sc);
        let Some((after_event, at_ms)) = r.situation_first[step.situation as usize] else {
            return Err(format!(
                "branch step {} ('{}.{}'): its parent never reaches {}",
                depth + 1,
                step.situation.name(),
                step.k,
                step.situation.name()
            ));
        };
        sc = branch(&sc, *step, after_event, at_ms, scenario_of)?;
    }
    Ok(sc)
}
