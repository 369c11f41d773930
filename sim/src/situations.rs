//! The named situations over a range of seeds (`zkwal_wal::Situation`): per situation,
//! how many seeds reached it, how many times in all, and the first seed with its
//! replay command. Printed as a table by `run`, `report`, `sweep` and `merge`, written
//! as the `situations` object of `--json` (merged exactly: counts add, the first seed
//! is the least), and required by `--require-situations`: the gate against a false
//! green, a range that violated nothing because it never reached the moment where the
//! rule matters.

use serde_json::{json, Map, Value};

use crate::profile::{replay_command, Spec};
use crate::scenario::Variant;
pub use zkwal_model::situations::{Situation, SituationCounts};

/// One situation over a range of seeds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reached {
    /// Seeds in which it occurred at least once.
    pub seeds: u64,
    /// Occurrences in all seeds.
    pub occurrences: u64,
    /// The least seed that reached it.
    pub first_seed: Option<u64>,
}

/// Every situation over a range of seeds (a fixed array, in table order).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SituationTotals([Reached; Situation::COUNT]);

impl SituationTotals {
    /// Adds one seed's counts.
    pub fn add_run(&mut self, seed: u64, counts: &SituationCounts) {
        for (s, n) in counts.iter() {
            if n == 0 {
                continue;
            }
            let r = &mut self.0[s as usize];
            r.seeds += 1;
            r.occurrences += n as u64;
            r.first_seed = Some(r.first_seed.map_or(seed, |f| f.min(seed)));
        }
    }

    /// Adds another range's totals (exact: the seeds of two disjoint ranges add up).
    pub fn merge(&mut self, other: &SituationTotals) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            a.seeds += b.seeds;
            a.occurrences += b.occurrences;
            a.first_seed = match (a.first_seed, b.first_seed) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, y) => x.or(y),
            };
        }
    }

    pub fn get(&self, s: Situation) -> Reached {
        self.0[s as usize]
    }

    /// Counts to check for overflow before a merge, named as in the JSON.
    pub fn counts(&self) -> Vec<(&'static str, u64)> {
        let mut v = Vec::with_capacity(2 * Situation::COUNT);
        for s in Situation::ALL {
            v.push((s.name(), self.0[s as usize].seeds));
            v.push((s.name(), self.0[s as usize].occurrences));
        }
        v
    }

    /// The situations the target can reach that no seed reached (the gate's list).
    pub fn missing(&self, variant: Variant, nodes: u32, zk: bool) -> Vec<Situation> {
        Situation::ALL
            .into_iter()
            .filter(|s| s.reachable(variant.wal_variant(), nodes, zk) && self.get(*s).seeds == 0)
            .collect()
    }

    /// The `situations` object of `--json`: per situation (in table order) `seeds`,
    /// `occurrences`, `first_seed` and its `replay` command (null when unreached), the
    /// `question` of DESIGN.md §2 it serves and whether the target can `reach` it.
    pub fn to_json(&self, variant: Variant, nodes: u32, zk: bool, spec: &Spec) -> Value {
        let mut m = Map::new();
        for s in Situation::ALL {
            let r = self.get(s);
            m.insert(
                s.name().to_string(),
                json!({
                    "seeds": r.seeds,
                    "occurrences": r.occurrences,
                    "first_seed": r.first_seed,
                    "replay": r.first_seed.map(|f| replay_command(variant, nodes, f, zk, spec)),
                    "question": s.question(),
                    "reachable": s.reachable(variant.wal_variant(), nodes, zk),
                }),
            );
        }
        Value::Object(m)
    }

    /// Reads back [`SituationTotals::to_json`] (only the counts and the first seed; an
    /// unknown name or a malformed entry is an error, a missing one is zero).
    pub fn from_json(v: &Value) -> Result<SituationTotals, String> {
        let mut t = SituationTotals::default();
        let obj = v
            .as_object()
            .ok_or("situations: expected an object of situations")?;
        for (name, e) in obj {
            let s = Situation::parse(name).ok_or_else(|| format!("unknown situation '{name}'"))?;
            let field = |f: &str| -> Result<Option<u64>, String> {
                match e.get(f) {
                    None | Some(Value::Null) => Ok(None),
                    Some(x) => x
                        .as_u64()
                        .map(Some)
                        .ok_or_else(|| format!("situation '{name}': {f} is not a count")),
                }
            };
            let seeds = field("seeds")?.unwrap_or(0);
            let first_seed = field("first_seed")?;
            if (seeds > 0) != first_seed.is_some() {
                return Err(format!(
                    "situation '{name}': seeds {seeds} with first_seed {first_seed:?}"
                ));
            }
            t.0[s as usize] = Reached {
                seeds,
                occurrences: field("occurrences")?.unwrap_or(0),
                first_seed,
            };
        }
        Ok(t)
    }
}

/// One line per reachable situation no seed reached, naming it: what
/// `--require-situations` prints before exiting 1. `label` names the range
/// (`variant=NAME`, and a sweep's value).
pub fn missing_lines(
    totals: &SituationTotals,
    label: &str,
    variant: Variant,
    nodes: u32,
    zk: bool,
    seeds_run: u64,
) -> Vec<String> {
    totals
        .missing(variant, nodes, zk)
        .into_iter()
        .map(|s| {
            format!(
                "MISSING situation={} {label} nodes={nodes}: reachable, but reached by none of {seeds_run} seed(s) ({})",
                s.name(),
                s.question()
            )
        })
        .collect()
}

/// The exit code with the gate applied: a range that violated nothing but missed a
/// situation exits 1 (an interrupted one keeps 130, its missing lines printed).
pub fn gate_code(code: i32, missing: bool) -> i32 {
    if missing && code == 0 {
        1
    } else {
        code
    }
}
