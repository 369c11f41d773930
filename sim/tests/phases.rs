//! Failover phases (`phases.rs`) on whole runs: over many seeds of every variant, each
//! failover's phases add up exactly (virtual ms) to its unavailability; and scripted
//! 2-node runs whose phases are known by hand (a fenced leader's crash is detected
//! after about one session timeout; a plain Raft survivor campaigns until its peer
//! returns; a total loss is time no node could serve).

mod common;

use zkwal_sim::phases::Phases;
use zkwal_sim::profile::Profile;
use zkwal_sim::run::run_scenario;
use zkwal_sim::scenario::{Fault, Scenario, TimedFault, Variant};

/// Every failover of a run: its phases add up to its unavailability, one split per
/// failover. Returns how many failovers there were.
fn assert_phases_add_up(sc: &Scenario, what: &str) -> usize {
    let r = run_scenario(sc);
    let f = &r.figures;
    assert_eq!(
        f.phases_ms.len(),
        f.unavailability_ms.len(),
        "{what}: one split per failover"
    );
    for (k, (u, p)) in f.unavailability_ms.iter().zip(&f.phases_ms).enumerate() {
        assert_eq!(p.total(), *u, "{what}: failover {k}: {p:?}");
    }
    f.unavailability_ms.len()
}

#[test]
fn phases_add_up_to_each_failover_over_swarm_seeds() {
    for v in Variant::ALL {
        let mut failovers = 0;
        for seed in 0..300 {
            let sc = Scenario::generate_with(seed, v, 2, true);
            failovers += assert_phases_add_up(&sc, &format!("{} n2 seed {seed}", v.name()));
        }
        assert!(failovers > 100, "{v:?}: only {failovers} failovers");
    }
}

#[test]
fn phases_add_up_to_each_failover_under_churn() {
    for v in Variant::ALL {
        let mut failovers = 0;
        for seed in 0..3 {
            let sc = Profile::Churn.generate(seed, v, 2, true);
            failovers += assert_phases_add_up(&sc, &format!("{} churn seed {seed}", v.name()));
        }
        assert!(failovers > 50, "{v:?}: only {failovers} failovers");
    }
}

/// A quiet 2-node run of 10,000 ms in which four clients write back to back (no think
/// time), so that some client is trying at every instant; `session_timeout_ms` for the
/// ZooKeeper variants.
fn scripted(v: Variant, session_timeout_ms: u64, faults: Vec<TimedFault>) -> Scenario {
    let mut sc = common::back_to_back_writers(v, faults, 2_000, 400);
    if let Some(z) = sc.options.zk.as_mut() {
        z.session_timeout_ms = session_timeout_ms;
    }
    sc
}

/// The failover of a scripted run whose leader changes after `fault_ms` (the fault
/// is its last), checked to add up; leader changes at start-up before it are
/// failovers too (the fault phase begins at 0).
fn failover_after(sc: &Scenario, fault_ms: u64) -> (u64, Phases) {
    let r = run_scenario(sc);
    assert!(r.violation.is_none(), "{:?}", r.violation);
    let f = &r.figures;
    let after = r
        .record
        .leader_changes
        .iter()
        .filter(|lc| lc.at_ms > fault_ms)
        .count();
    assert_eq!(after, 1, "{:?}", r.record.leader_changes);
    let (u, p) = (
        *f.unavailability_ms.last().expect("a failover"),
        *f.phases_ms.last().expect("a failover"),
    );
    assert_eq!(p.total(), u, "{p:?}");
    (u, p)
}

/// A 2-node leader crash at 3_000 ms, down `down_ms`.
fn leader_crash(v: Variant, session_ms: u64, down_ms: u64) -> Scenario {
    scripted(
        v,
        session_ms,
        vec![TimedFault {
            at_ms: 3_000,
            fault: Fault::CrashLeader { down_ms },
        }],
    )
}

#[test]
fn seed_zk_quorum_detects_a_crash_after_about_one_session_timeout() {
    for session_ms in [1_000, 2_000, 3_000] {
        let sc = leader_crash(Variant::SeedZkQuorum, session_ms, 6_000);
        let (u, p) = failover_after(&sc, 3_000);
        eprintln!("seed-zk-quorum session {session_ms} ms: unavailability {u} ms, {p:?}");
        // The dead leader's session expires between two thirds of the timeout (its
        // last ping) and the timeout plus two ticks (200 ms: the service checks at
        // ticks); then the watch reaches the survivor.
        assert!(
            p.detection >= session_ms * 2 / 3 && p.detection <= session_ms + 600,
            "session {session_ms}: {p:?}"
        );
        // The other node serves throughout: none of it is the schedule's.
        assert_eq!(p.unservable, 0, "{p:?}");
        // The failover read and its lone-quorum campaign are a few round trips.
        assert!(p.takeover > 0 && p.takeover < 500, "{p:?}");
        assert!(u - p.detection < 1_500, "{p:?}");
    }
}

#[test]
fn fenced_detects_a_crash_at_its_election_timeout_whatever_the_session_timeout() {
    for session_ms in [1_000, 3_000] {
        let sc = leader_crash(Variant::Fenced, session_ms, 6_000);
        let timeout = sc.options.raft.election_timeout_ms_min;
        let (u, p) = failover_after(&sc, 3_000);
        eprintln!("fenced session {session_ms} ms: unavailability {u} ms, {p:?}");
        // The survivor's election timeout (randomised in [min, 2 min)) after the last
        // heartbeat starts the takeover: the epoch bump fences the old leader without
        // waiting for its session to expire.
        assert!(p.detection <= 2 * timeout, "{p:?}");
        assert!(p.takeover > 0 && p.takeover < 500, "{p:?}");
        assert_eq!(p.unservable, 0, "{p:?}");
        assert!(u < session_ms * 2 / 3, "{p:?}");
    }
}

#[test]
fn a_raft_survivor_campaigns_until_its_peer_returns() {
    let sc = leader_crash(Variant::Raft, 2_000, 2_000);
    let (u, p) = failover_after(&sc, 3_000);
    eprintln!("raft: unavailability {u} ms, {p:?}");
    let timeout = sc.options.raft.election_timeout_ms_min;
    // Detection: the survivor's election timeout (randomised in [min, 2 min)) after
    // the last heartbeat.
    assert!(p.detection <= 2 * timeout, "{p:?}");
    // No quorum before the peer returns at 5_000: detection and election cover the
    // 2_000 ms it was down, give or take an election timeout.
    let lead = p.detection + p.election;
    assert!(
        lead >= 2_000 - timeout && lead <= 2_000 + 2 * timeout,
        "{p:?}"
    );
    assert_eq!((p.unservable, p.takeover), (0, 0), "{p:?}");
}

#[test]
fn a_total_loss_is_time_no_node_could_serve() {
    for v in [Variant::Raft, Variant::Fenced] {
        let sc = scripted(
            v,
            2_000,
            vec![TimedFault {
                at_ms: 3_000,
                fault: Fault::TotalLoss {
                    down_ms: 1_500,
                    blank: vec![],
                },
            }],
        );
        let r = run_scenario(&sc);
        assert!(r.violation.is_none(), "{:?}", r.violation);
        let f = &r.figures;
        eprintln!(
            "{v:?} total loss: {:?} {:?}",
            f.unavailability_ms, f.phases_ms
        );
        // Both nodes down 3_000..4_500: all of it the schedule's (a client tries
        // throughout), in the one failover around it.
        let hit: Vec<(&u64, &Phases)> = f
            .unavailability_ms
            .iter()
            .zip(&f.phases_ms)
            .filter(|(_, p)| p.unservable > 0)
            .collect();
        assert_eq!(hit.len(), 1, "{v:?}");
        let (u, p) = hit[0];
        assert_eq!(p.total(), *u);
        assert!(p.unservable >= 1_450 && p.unservable <= 1_500, "{p:?}");
        assert!(u - p.unservable < 1_000, "{p:?}");
    }
}
