//! `explore`: reach rare situations on purpose (issue 26). A range of seeds runs as
//! `run` runs it (the *plain pass*); the situations that fewer than one seed in
//! `--rare-one-in` reached are *rare*; every seed that reached a rare situation is
//! branched `--fanout` times at the event where it first reached it (`branch.rs`: the
//! same prefix, then the branch's own faults and network, disk and jitter draws); a
//! branch that reaches another rare situation after its branch point branches again, to
//! `--depth` levels, within `--budget` branch runs.
//!
//! Deterministic for any `--jobs`: the rare set comes from the whole plain pass, the
//! branches run in a fixed order (by depth, situation, seed, k) and the budget cuts
//! that order. Branches are prefix replays of plain scenarios, so each one replays
//! alone (`replay --seed S --branch PATH`) and a failing one is saved as a plain
//! scenario. Figures (availability, failover times) are the plain pass's only: a
//! branch is not a new sample of a cluster's life, it re-lives a chosen one.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;

use clap::Args;
use serde_json::{json, Value};

use crate::branch::{self, Step};
use crate::profile::replay_command;

use crate::run::quiet_panics;
use crate::runner::{run_seeds, Control, Stopwatch};
use crate::scenario::Scenario;
use crate::situations::{Situation, SituationTotals};
use crate::world::RunResult;

#[derive(Args, Debug)]
pub struct ExploreArgs {
    #[arg(long, default_value = "fenced")]
    pub variant: String,
    /// Nodes in the Raft group, 1..=9.
    #[arg(long, default_value_t = 2, value_parser = crate::args::nodes_arg, allow_negative_numbers = true)]
    pub nodes: u32,
    /// Half-open range of seeds of the plain pass, `A..B`.
    #[arg(long, default_value = "0..1000")]
    pub seeds: String,
    /// Worker threads (default: all cores).
    #[arg(long, value_parser = crate::args::jobs_arg, allow_negative_numbers = true)]
    pub jobs: Option<usize>,
    /// Place a mock ZooKeeper ensemble on the network (with its faults).
    #[arg(long)]
    pub zk: bool,
    /// Branches at each rare situation a run reached, 1..=64.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub fanout: u32,
    /// Levels of branches below a seed, 1..=8.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=8))]
    pub depth: u32,
    /// A situation is rare when fewer than one seed in this many reached it, 2..=1000000.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(2..=1_000_000))]
    pub rare_one_in: u64,
    /// At most this many branch runs in all, 1..=100000000 (default: 4 per seed).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub budget: Option<u64>,
    /// Write a JSON summary to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write a regression case (a plain scenario) for every failing seed or branch.
    #[arg(long)]
    pub save_failures: Option<PathBuf>,
    #[command(flatten)]
    pub spec: crate::args::SpecArgs,
}

/// Where a run first reached a situation: its seed, its branch path and the point.
#[derive(Clone)]
struct Hit {
    parent: Scenario,
    path: Vec<Step>,
    after_event: u64,
    at_ms: u64,
}

/// A branch to run.
struct Item {
    scenario: Scenario,
    path: Vec<Step>,
}

/// One failing run of the exploration (a seed of the plain pass or a branch).
struct Failure {
    name: String,
    invariant: String,
    detail: String,
    /// Where its case was written (`--save-failures`), or why it could not be.
    saved: Result<Option<PathBuf>, String>,
}

pub fn explore(a: ExploreArgs) -> Result<i32, String> {
    let variant = crate::args::parse_target(&a.variant, a.nodes)?;
    let (start, end) = crate::args::parse_range(&a.seeds)?;
    let spec = a.spec.parse()?;
    spec.scenario(start, variant, a.nodes, a.zk)?;
    let jobs = crate::runner::jobs(a.jobs, end - start)?;
    crate::batch::check_outputs(
        &[("--json", a.json.as_deref())],
        &[("--save-failures", a.save_failures.as_deref())],
        &[],
    )?;
    let budget = a.budget.unwrap_or(4 * (end - start)).max(1);
    quiet_panics();
    let scenario_of = |seed: u64| spec.scenario(seed, variant, a.nodes, a.zk);
    let never = AtomicBool::new(false);
    let clock = Stopwatch::start();

    // The plain pass: every seed, and where it first reached each situation.
    let seeds = end - start;
    let cap = (seeds / a.rare_one_in + 1) as usize; // more is not rare
    let hits: Mutex<Vec<Vec<(u64, u64, u64)>>> = Mutex::new(vec![Vec::new(); Situation::COUNT]);
    let failures = Mutex::new(Vec::new());
    let on_seed = |seed: u64, r: &RunResult| {
        let mut h = hits.lock().expect("never poisoned");
        for s in Situation::ALL {
            if let Some((ev, ms)) = r.situation_first[s as usize] {
                if h[s as usize].len() <= cap {
                    h[s as usize].push((seed, ev, ms));
                }
            }
        }
        if let Some(v) = &r.violation {
            // A seed whose scenario cannot be made failed as `invalid_scenario`: its
            // failure is listed, with nothing to save.
            let sc = scenario_of(seed).ok();
            failures.lock().expect("never poisoned").push(failure(
                format!("{seed}"),
                sc.as_ref(),
                v,
                a.save_failures.as_deref(),
            ));
        }
    };
    let plain = run_seeds(
        start,
        end,
        jobs,
        &|seed| scenario_of(seed),
        &Control {
            stop: &never,
            check_determinism: false,
            on_seed: &on_seed,
        },
    )
    .totals;
    let plain_secs = clock.secs();
    let mut hits = hits.into_inner().expect("never poisoned");
    let rare: Vec<Situation> = Situation::ALL
        .into_iter()
        .filter(|s| {
            let n = plain.situations.get(*s).seeds;
            n > 0
                && n * a.rare_one_in < plain.seeds_run
                && s.reachable(variant.wal_variant(), a.nodes, true)
        })
        .collect();

    // The first level: each seed that reached a rare situation, in seed order.
    let mut level: Vec<Hit> = Vec::new();
    for s in &rare {
        let list = &mut hits[*s as usize];
        list.sort_unstable();
        for &(seed, ev, ms) in list.iter() {
            level.push(Hit {
                parent: scenario_of(seed)?,
                path: vec![Step {
                    situation: *s,
                    k: 0,
                }],
                after_event: ev,
                at_ms: ms,
            });
        }
    }

    let mut branch_runs = 0u64;
    let mut branch_events = 0u64;
    let mut in_branches = SituationTotals::default();
    let mut by_depth = Vec::new();
    for depth in 1..=a.depth {
        let mut items = Vec::new();
        'fill: for hit in &level {
            for k in 1..=a.fanout {
                if branch_runs + items.len() as u64 >= budget {
                    break 'fill;
                }
                let mut path = hit.path.clone();
                let last = path.last_mut().expect("a hit has a step");
                last.k = k;
                let step = *last;
                items.push(Item {
                    scenario: branch::branch(
                        &hit.parent,
                        step,
                        hit.after_event,
                        hit.at_ms,
                        &scenario_of,
                    )?,
                    path,
                });
            }
        }
        if items.is_empty() {
            break;
        }
        let results: Mutex<Vec<Option<RunResult>>> = Mutex::new(vec![None; items.len()]);
        let on_branch = |i: u64, r: &RunResult| {
            results.lock().expect("never poisoned")[i as usize] = Some(r.clone());
        };
        run_seeds(
            0,
            items.len() as u64,
            jobs,
            &|i| Ok(items[i as usize].scenario.clone()),
            &Control {
                stop: &never,
                check_determinism: false,
                on_seed: &on_branch,
            },
        );
        branch_runs += items.len() as u64;
        by_depth.push(items.len() as u64);
        let mut next = Vec::new();
        for (item, r) in items
            .iter()
            .zip(results.into_inner().expect("never poisoned"))
        {
            let r = r.expect("every branch ran");
            branch_events += r.events;
            let point = item.scenario.branches.last().expect("a branch").after_event;
            // Situations the branch reached after its branch point: its own.
            let mut own = crate::situations::SituationCounts::default();
            for s in Situation::ALL {
                if matches!(r.situation_first[s as usize], Some((ev, _)) if ev > point) {
                    own.add(s);
                }
            }
            in_branches.add_run(item.scenario.seed, &own);
            let name = format!("{}/{}", item.scenario.seed, branch::path_name(&item.path));
            if let Some(v) = &r.violation {
                failures.lock().expect("never poisoned").push(failure(
                    name,
                    Some(&item.scenario),
                    v,
                    a.save_failures.as_deref(),
                ));
                continue;
            }
            if depth < a.depth {
                for s in &rare {
                    if let Some((ev, ms)) =
                        r.situation_first[*s as usize].filter(|(ev, _)| *ev > point)
                    {
                        let mut path = item.path.clone();
                        path.push(Step {
                            situation: *s,
                            k: 0,
                        });
                        next.push(Hit {
                            parent: item.scenario.clone(),
                            path,
                            after_event: ev,
                            at_ms: ms,
                        });
                    }
                }
            }
        }
        level = next;
    }
    let secs = clock.secs();
    let failures = failures.into_inner().expect("never poisoned");

    // Report.
    let label = format!("variant={} nodes={}", variant.name(), a.nodes);
    crate::outln!(
        "{label} seeds={start}..{end}: plain pass {} seeds in {plain_secs:.2}s; {branch_runs} branch run(s) (by depth: {by_depth:?}; fanout {}, depth {}, budget {budget}) in {:.2}s; {} + {branch_events} events",
        plain.seeds_run,
        a.fanout,
        a.depth,
        secs - plain_secs,
        plain.events
    );
    crate::outln!(
        "rare (reached by fewer than 1 seed in {} of the plain pass): {}",
        a.rare_one_in,
        if rare.is_empty() {
            "none".to_string()
        } else {
            rare.iter().map(|s| s.name()).collect::<Vec<_>>().join(", ")
        }
    );
    crate::outln!(
        "situation                             plain seeds  branches reaching it after their point"
    );
    for s in Situation::ALL {
        if !s.reachable(variant.wal_variant(), a.nodes, true) {
            continue;
        }
        crate::outln!(
            "{:<38}{:>11}  {:>10}",
            s.name(),
            plain.situations.get(s).seeds,
            in_branches.get(s).seeds
        );
    }
    for f in &failures {
        let replay = match f.name.split_once('/') {
            Some((seed, path)) => format!(
                "{} --branch {path}",
                replay_command(variant, a.nodes, seed.parse().unwrap_or(0), a.zk, &spec)
            ),
            None => replay_command(variant, a.nodes, f.name.parse().unwrap_or(0), a.zk, &spec),
        };
        crate::outln!(
            "FAIL {} variant={} nodes={} invariant={} replay: {replay}{}",
            f.name,
            variant.name(),
            a.nodes,
            f.invariant,
            match &f.saved {
                Ok(Some(p)) => format!(" (saved: {})", p.display()),
                Ok(None) => String::new(),
                Err(e) => format!(" (NOT saved: {e})"),
            }
        );
    }
    crate::outln!("{} violation(s)", failures.len());
    if let Some(path) = &a.json {
        let doc = json!({
            "variant": variant.name(),
            "nodes": a.nodes,
            "seeds": [start, end],
            "fanout": a.fanout,
            "depth": a.depth,
            "rare_one_in": a.rare_one_in,
            "budget": budget,
            "plain_seeds": plain.seeds_run,
            "plain_events": plain.events,
            "plain_secs": plain_secs,
            "branch_runs": branch_runs,
            "branch_runs_by_depth": by_depth,
            "branch_events": branch_events,
            "secs": secs,
            "rare": rare.iter().map(|s| s.name()).collect::<Vec<_>>(),
            "situations_plain": plain.situations.to_json(variant, a.nodes, a.zk, &spec),
            "situations_in_branches": Situation::ALL.iter().map(|s| (s.name().to_string(), json!(in_branches.get(*s).seeds))).collect::<serde_json::Map<String, Value>>(),
            "violations": failures.iter().map(|f| json!({"name": f.name, "invariant": f.invariant, "detail": f.detail})).collect::<Vec<_>>(),
        });
        let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
        crate::output::write_file(path, "--json", &(text + "\n"))?;
    }
    Ok(if failures.is_empty() { 0 } else { 1 })
}

fn failure(
    name: String,
    sc: Option<&Scenario>,
    v: &crate::world::Found,
    dir: Option<&std::path::Path>,
) -> Failure {
    let saved = match dir.zip(sc) {
        Some((d, sc)) => crate::regress::save_failure(d, sc, &v.invariant).map(Some),
        None => Ok(None),
    };
    Failure {
        name,
        invariant: v.invariant.clone(),
        detail: v.detail.clone(),
        saved,
    }
}
