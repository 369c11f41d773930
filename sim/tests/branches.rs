//! Branches of an exploration (`sim/model/src/branch.rs`, issue 26): a branch is its
//! parent event for event up to its branch point, differs after it, replays bit for
//! bit as a plain scenario (saved and loaded again), and is rebuilt exactly from its
//! name; `explore` and `replay --branch` on the command line.

mod common;

use zkwal_sim::branch::{self, Step};
use zkwal_sim::run::{run_scenario, Target};
use zkwal_sim::scenario::{Scenario, Variant};
use zkwal_sim::situations::Situation;
use zkwal_sim::world::World;

const FENCED: Target = Target {
    variant: Variant::Fenced,
    nodes: 2,
    zk: true,
    pause_monitor: false,
};

fn of(seed: u64) -> Result<Scenario, String> {
    Ok(FENCED.scenario(seed))
}

/// The running trace hash after `events` events of `sc`'s run.
fn hash_after(sc: &Scenario, events: u64) -> u64 {
    let mut w = World::new(sc);
    for _ in 0..events {
        assert!(w.step(), "the run ended before event {events}");
    }
    w.trace_hash_so_far()
}

/// Seeds of the fenced swarm with where they first reached `s`.
fn reaching(s: Situation, seeds: std::ops::Range<u64>) -> Vec<(Scenario, u64, u64)> {
    seeds
        .filter_map(|seed| {
            let sc = FENCED.scenario(seed);
            let r = run_scenario(&sc);
            r.situation_first[s as usize].map(|(ev, ms)| (sc, ev, ms))
        })
        .collect()
}

#[test]
fn a_branch_is_its_parent_up_to_its_point_and_its_own_after() {
    let s = Situation::EpochRaceLost;
    let found = reaching(s, 0..40);
    assert!(
        found.len() >= 3,
        "seeds 0..40 reach {} in {}",
        s.name(),
        found.len()
    );
    let mut differ = 0;
    for (parent, ev, ms) in found.iter().take(3) {
        let whole = run_scenario(parent);
        for k in 1..=3 {
            let b = branch::branch(parent, Step { situation: s, k }, *ev, *ms, &of).unwrap();
            assert!(b
                .faults
                .iter()
                .all(|f| f.at_ms > *ms || parent.faults.contains(f)));
            // Event for event the parent's up to the branch point.
            assert_eq!(
                hash_after(&b, *ev),
                hash_after(parent, *ev),
                "seed {}",
                parent.seed
            );
            let r = run_scenario(&b);
            // It reached the situation at the same point, inherited from the prefix.
            assert_eq!(r.situation_first[s as usize], Some((*ev, *ms)));
            if r.trace_hash != whole.trace_hash {
                differ += 1;
            }
            // A plain scenario: saved and loaded again, it replays bit for bit.
            let text = serde_json::to_string(&b).unwrap();
            let back: Scenario = serde_json::from_str(&text).unwrap();
            back.validate().unwrap();
            assert_eq!(run_scenario(&back).trace_hash, r.trace_hash);
        }
    }
    assert!(
        differ >= 8,
        "only {differ} of 9 branches left their parent's path"
    );
}

#[test]
fn a_branch_is_rebuilt_from_its_name() {
    let s = Situation::EpochRaceLost;
    // A branch that reaches some situation after its point, and that situation.
    let (parent, b1, k1, s2, ev2, ms2) = reaching(s, 0..40)
        .into_iter()
        .flat_map(|(parent, ev, ms)| (1..=4).map(move |k| (parent.clone(), ev, ms, k)))
        .find_map(|(parent, ev, ms, k)| {
            let b1 = branch::branch(&parent, Step { situation: s, k }, ev, ms, &of).unwrap();
            let r1 = run_scenario(&b1);
            Situation::ALL.into_iter().find_map(|x| {
                r1.situation_first[x as usize]
                    .filter(|(e, _)| *e > ev)
                    .map(|(e, m)| (parent.clone(), b1.clone(), k, x, e, m))
            })
        })
        .expect("some branch reaches a situation after its point");
    let b2 = branch::branch(
        &b1,
        Step {
            situation: s2,
            k: 5,
        },
        ev2,
        ms2,
        &of,
    )
    .unwrap();
    let name = format!("{}.{k1}/{}.5", s.name(), s2.name());
    let steps = branch::parse_path(&name).unwrap();
    assert_eq!(branch::path_name(&steps), name);
    let again = branch::derive(parent.clone(), &steps, &of, &run_scenario).unwrap();
    assert_eq!(again, b2);
    // Bad names are refused with a reason.
    for bad in [
        "",
        "epoch_race_lost",
        "epoch_race_lost.0",
        "no_such.1",
        "epoch_race_lost.x",
    ] {
        assert!(branch::parse_path(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn explore_and_replay_branch_on_the_command_line() {
    let dir = common::scratch("explore");
    // The same exploration on two threads and on one: (exit code, output, summary).
    let explore = |jobs: &str| {
        let json = dir.join(format!("e{jobs}.json"));
        let (code, out, err) = common::sim(
            &dir,
            &[
                "explore",
                "--variant",
                "fenced",
                "--nodes",
                "2",
                "--seeds",
                "0..30",
                "--jobs",
                jobs,
                "--fanout",
                "2",
                "--depth",
                "2",
                "--rare-one-in",
                "4",
                "--json",
                json.to_str().unwrap(),
            ],
            &[],
        );
        assert_eq!(code, 0, "{out}{err}");
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        (out, doc)
    };
    let (out, doc) = explore("2");
    let runs = doc["branch_runs"].as_u64().unwrap();
    assert!(runs > 0, "{out}");
    assert!(!doc["rare"].as_array().unwrap().is_empty(), "{out}");
    // The same branches and counts on one thread.
    let (_, doc1) = explore("1");
    for k in [
        "branch_runs",
        "branch_runs_by_depth",
        "branch_events",
        "rare",
        "situations_in_branches",
        "plain_events",
    ] {
        assert_eq!(doc[k], doc1[k], "{k}");
    }
    // Bad branch names exit 2 with one line.
    let (code, out, err) = common::sim(
        &dir,
        &[
            "replay",
            "--variant",
            "fenced",
            "--nodes",
            "2",
            "--seed",
            "3",
            "--branch",
            "nope.1",
        ],
        &[],
    );
    assert_eq!(code, 2, "{out}{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("unknown situation 'nope'"), "{err}");
}
