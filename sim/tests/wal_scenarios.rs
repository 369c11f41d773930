//! Scripted scenarios of the notes' steps and open questions (DESIGN.md §2), run for
//! every variant on the same fixed schedule: 2 nodes, a quiet network, a 1,000 ms
//! ZooKeeper session. Each asserts what the simulator says the variant does; README's
//! table of verdicts cites these tests by name.

use zkwal_sim::faults::FaultKind;
use zkwal_sim::run::{run_scenario, PAUSE_MONITOR};
use zkwal_sim::scenario::{Fault, Scenario, TimedFault, Variant};
use zkwal_sim::world::RunResult;

const ALL: [Variant; 4] = [
    Variant::Raft,
    Variant::Seed,
    Variant::SeedZkQuorum,
    Variant::Fenced,
];

fn scripted(v: Variant, faults: Vec<TimedFault>) -> Scenario {
    let mut sc = Scenario::generate_with(7, v, 2, true);
    sc.options.net.loss_ppm = 0;
    sc.options.net.dup_ppm = 0;
    sc.options.net.reorder_ppm = 0;
    sc.options.zk.as_mut().expect("zk").session_timeout_ms = 1_000;
    sc.faults = faults;
    sc
}

fn at(at_ms: u64, fault: Fault) -> TimedFault {
    TimedFault { at_ms, fault }
}

fn verdict(r: &RunResult) -> &str {
    r.violation
        .as_ref()
        .map_or("pass", |v| v.invariant.as_str())
}

fn run(v: Variant, faults: Vec<TimedFault>) -> RunResult {
    run_scenario(&scripted(v, faults))
}

/// Steps [1] and [2]: with no fault every write is acknowledged, and in the WAL
/// variants each went through the WAL first (A before B).
#[test]
fn step_1_2_write_path() {
    for v in ALL {
        let r = run(v, vec![]);
        assert_eq!(verdict(&r), "pass", "{v:?}: {:?}", r.violation);
        assert_eq!(r.ops_failed + r.ops_indeterminate, 0, "{v:?}");
        if v == Variant::Raft {
            assert_eq!(r.wal.appended, 0);
        } else {
            assert!(
                r.wal.appended >= r.wal.acked && r.wal.acked > 0,
                "{v:?}: {:?}",
                r.wal
            );
        }
    }
}

/// Step [3] and question 1: the leader dies for longer than its session timeout. A
/// majority rule (raft, seed) leaves a 2-node group without a leader until it
/// returns; a lone survivor that read the WAL serves at once (seed-zk-quorum,
/// fenced, which takes over by bumping the epoch).
#[test]
fn step_3_failover_after_leader_death() {
    for v in ALL {
        let r = run(v, vec![at(2_000, Fault::CrashLeader { down_ms: 5_000 })]);
        assert_eq!(verdict(&r), "pass", "{v:?}: {:?}", r.violation);
        assert_eq!(r.faults.get(FaultKind::Crash), 1);
        match v {
            Variant::Raft | Variant::Seed => assert!(r.ops_indeterminate > 0, "{v:?}"),
            Variant::SeedZkQuorum | Variant::Fenced => {
                assert_eq!(r.ops_indeterminate, 0, "{v:?}: the survivor serves alone")
            }
        }
        if v == Variant::Fenced {
            assert!(r.wal.epoch_bumps >= 2, "first election and the takeover");
        }
    }
}

/// Question 3: the leader is paused longer than its session timeout while cut off
/// from its follower (both still reach ZooKeeper). The follower takes over alone;
/// the paused leader wakes believing it leads. Without fencing it commits through
/// its WAL after the follower read that WAL: two different entries committed at one
/// index (seed-zk-quorum), caught first as ZooKeeper applies the old leader's WAL
/// append after the new leader's term took office (`epoch_currency`). The fence makes the old leader's writes fail (fenced);
/// a majority rule never lets either commit alone (seed).
#[test]
fn question_3_paused_leader_after_session_expiry() {
    let faults = || {
        vec![
            at(2_000, Fault::IsolateLeader { ms: 8_000 }),
            at(2_000, Fault::PauseLeader { ms: 3_000 }),
        ]
    };
    for v in ALL {
        let r = run(v, faults());
        assert!(r.faults.get(FaultKind::PauseLeader) == 1);
        assert!(r.faults.get(FaultKind::ZkSessionExpired) >= 1, "{v:?}");
        let expected = match v {
            Variant::SeedZkQuorum => "epoch_currency",
            _ => "pass",
        };
        assert_eq!(verdict(&r), expected, "{v:?}: {:?}", r.violation);
    }
    // The pause monitor, on this schedule, makes the old leader step down first.
    let mut sc = scripted(Variant::SeedZkQuorum, faults());
    sc.options.pause_monitor = Some(PAUSE_MONITOR);
    let r = run_scenario(&sc);
    assert_eq!(verdict(&r), "pass", "{:?}", r.violation);
}

/// Question 4: both nodes' sessions sit on a server that lags 3 s behind; the leader
/// dies. Every variant stays safe on this schedule: fenced because its epoch bump is
/// a write (its reply waits until that server has caught up), the others because
/// the lag ends before they could lose anything here (the fuzzer explores more).
#[test]
fn question_4_takeover_on_a_lagging_server() {
    for v in ALL {
        let r = run(
            v,
            vec![
                at(0, Fault::ZkPin { node: 0, server: 2 }),
                at(0, Fault::ZkPin { node: 1, server: 2 }),
                at(
                    1_000,
                    Fault::ZkLag {
                        server: 2,
                        lag_ms: 3_000,
                        ms: 8_000,
                    },
                ),
                at(3_000, Fault::CrashLeader { down_ms: 6_000 }),
            ],
        );
        assert_eq!(verdict(&r), "pass", "{v:?}: {:?}", r.violation);
        assert_eq!(r.faults.get(FaultKind::ZkLag), 1);
    }
}

/// Step [4]: every node dies and both return with blank disks. Plain Raft cannot
/// recover (no peer holds the data); the WAL variants rebuild from the snapshot and
/// WALs in ZooKeeper, and every acknowledged write survives (history check).
#[test]
fn step_4_total_loss_blank_disks() {
    for v in ALL {
        let r = run(
            v,
            vec![at(
                4_000,
                Fault::TotalLoss {
                    down_ms: 1_000,
                    blank: vec![0, 1],
                },
            )],
        );
        assert_eq!(r.faults.get(FaultKind::TotalLoss), 1);
        if v == Variant::Raft {
            assert_eq!(verdict(&r), "liveness");
        } else {
            assert_eq!(verdict(&r), "pass", "{v:?}: {:?}", r.violation);
            assert!(r.wal.recovered > 0, "{v:?}: {:?}", r.wal);
        }
    }
}

/// Step [4], both nodes returning with their old disks: they resume as before.
#[test]
fn step_4_total_loss_old_disks() {
    for v in ALL {
        let r = run(
            v,
            vec![at(
                4_000,
                Fault::TotalLoss {
                    down_ms: 1_000,
                    blank: vec![],
                },
            )],
        );
        assert_eq!(verdict(&r), "pass", "{v:?}: {:?}", r.violation);
    }
}

/// The appends of a scenario's client scripts (the liveness probe's not included).
fn scripted_appends(sc: &Scenario) -> u64 {
    sc.clients
        .iter()
        .flatten()
        .filter(|s| matches!(s.op, zkwal_sim::scenario::ClientOpKind::Append { .. }))
        .count() as u64
}

/// Question 6, a write too large for the WAL: with `client.value_bytes` past
/// ZooKeeper's `jute.maxbuffer`, a WAL variant's leader refuses every append before
/// writing anything (its WAL entry znode would drop the connection at every retry).
/// Each ends failed in the client history, never indeterminate; the reads succeed,
/// the liveness probe's small append commits (no livelock), and no check fires.
/// Plain `raft` has no WAL and takes them.
#[test]
fn question_6_write_too_large_for_the_wal() {
    for v in ALL {
        let mut sc = scripted(v, vec![]);
        sc.options.client.value_bytes = 1_100_000;
        let appends = scripted_appends(&sc);
        assert!(appends > 0);
        let r = run_scenario(&sc);
        assert_eq!(verdict(&r), "pass", "{v:?}: {:?}", r.violation);
        assert_eq!(r.ops_indeterminate, 0, "{v:?}");
        let zk = r.figures.zk.expect("an ensemble");
        assert_eq!(zk.oversize_requests, 0, "{v:?}: nothing too large was sent");
        if v == Variant::Raft {
            assert_eq!(r.ops_failed, 0, "{v:?}");
        } else {
            assert_eq!(r.ops_failed, appends, "{v:?}: every append refused");
            assert!(r.ops_ok > 0, "{v:?}: the reads still succeed");
            assert_eq!(r.wal.acked, 1, "{v:?}: only the probe's append");
        }
    }
}

/// Question 6, a state past 1 MB: 256 KiB payloads, a snapshot published every 8
/// entries. The publication's single `multi` would pass `jute.maxbuffer`, so it goes
/// in steps (chunks in their own epoch-checked creates, then the flip): snapshots are
/// published and nothing is refused by ZooKeeper; then both nodes lose their disks
/// and rebuild from that snapshot and the WAL tail, every acknowledged write kept.
#[test]
fn question_6_publication_of_a_state_past_1_mb() {
    for v in [Variant::Seed, Variant::SeedZkQuorum, Variant::Fenced] {
        let mut sc = scripted(
            v,
            vec![at(
                9_000,
                Fault::TotalLoss {
                    down_ms: 1_000,
                    blank: vec![0, 1],
                },
            )],
        );
        sc.options.client.value_bytes = 256 * 1024;
        sc.options.raft.snapshot_every_entries = 8;
        sc.options.wal.publish_every_entries = 8;
        let r = run_scenario(&sc);
        assert_eq!(verdict(&r), "pass", "{v:?}: {:?}", r.violation);
        let zk = r.figures.zk.expect("an ensemble");
        assert_eq!(zk.oversize_requests, 0, "{v:?}");
        assert!(r.wal.published > 0, "{v:?}: {:?}", r.wal);
        assert!(
            r.wal.acked * 256 * 1024 > 2 << 20,
            "{v:?}: the state passes 2 MB ({} writes)",
            r.wal.acked
        );
        assert!(r.wal.recovered > 0, "{v:?}: {:?}", r.wal);
    }
}
