//! Short scripted scenarios: hand-written fault schedules whose outcome is known, each
//! checking that the fault really fired and that the cluster stayed safe and live.

use zkwal_sim::faults::FaultKind;
use zkwal_sim::run::run_scenario;
use zkwal_sim::scenario::{Fault, Scenario, TimedFault, Variant};

/// A generated scenario with the network made quiet and the faults replaced.
fn scripted(nodes: u32, faults: Vec<TimedFault>) -> Scenario {
    let mut sc = Scenario::generate(7, Variant::Raft, nodes);
    sc.options.net.loss_ppm = 0;
    sc.options.net.dup_ppm = 0;
    sc.options.net.reorder_ppm = 0;
    sc.faults = faults;
    sc
}

fn at(at_ms: u64, fault: Fault) -> TimedFault {
    TimedFault { at_ms, fault }
}

fn assert_pass(sc: &Scenario) -> zkwal_sim::world::RunResult {
    let r = run_scenario(sc);
    assert!(r.violation.is_none(), "{:?}", r.violation);
    assert!(r.ops_ok > 0);
    r
}

#[test]
fn no_faults_everything_acknowledged() {
    let r = assert_pass(&scripted(3, vec![]));
    assert_eq!(
        r.ops_failed + r.ops_indeterminate,
        0,
        "a quiet cluster answers every operation"
    );
    assert_eq!(r.faults.get(FaultKind::Crash), 0);
}

#[test]
fn leader_crash_and_restart() {
    let sc = scripted(
        3,
        vec![
            at(2_000, Fault::CrashLeader { down_ms: 1_500 }),
            at(6_000, Fault::CrashLeader { down_ms: 10 }),
        ],
    );
    let r = assert_pass(&sc);
    assert_eq!(r.faults.get(FaultKind::Crash), 2);
    assert_eq!(r.faults.get(FaultKind::Restart), 2);
}

#[test]
fn two_node_group_survives_a_wipe_of_either_node() {
    let sc = scripted(
        2,
        vec![
            at(
                1_000,
                Fault::Wipe {
                    node: 0,
                    down_ms: 500,
                },
            ),
            at(
                5_000,
                Fault::Wipe {
                    node: 1,
                    down_ms: 500,
                },
            ),
        ],
    );
    let r = assert_pass(&sc);
    assert_eq!(r.faults.get(FaultKind::Wipe), 2);
    assert_eq!(r.faults.get(FaultKind::WipeSkipped), 0);
}

#[test]
fn second_wipe_waits_for_the_first_recovery() {
    // Node 2 is wiped and stays down; a wipe of node 1 meanwhile is skipped (counted).
    let sc = scripted(
        3,
        vec![
            at(
                1_000,
                Fault::Wipe {
                    node: 2,
                    down_ms: 5_000,
                },
            ),
            at(
                2_000,
                Fault::Wipe {
                    node: 1,
                    down_ms: 100,
                },
            ),
        ],
    );
    let r = assert_pass(&sc);
    assert_eq!(r.faults.get(FaultKind::Wipe), 1);
    assert_eq!(r.faults.get(FaultKind::WipeSkipped), 1);
}

#[test]
fn isolated_leader_is_replaced_and_rejoins() {
    let sc = scripted(5, vec![at(2_000, Fault::IsolateLeader { ms: 3_000 })]);
    let r = assert_pass(&sc);
    assert_eq!(r.faults.get(FaultKind::Partition), 1);
    assert!(
        r.faults.get(FaultKind::PartitionDrop) > 0,
        "the partition dropped messages"
    );
}

#[test]
fn one_way_partition_and_long_pause() {
    let sc = scripted(
        3,
        vec![
            at(
                1_000,
                Fault::Partition {
                    side: vec![0],
                    one_way: true,
                    ms: 2_000,
                },
            ),
            at(4_000, Fault::Pause { node: 1, ms: 3_000 }),
        ],
    );
    let r = assert_pass(&sc);
    assert_eq!(r.faults.get(FaultKind::Pause), 1);
}

#[test]
fn whole_cluster_crash_loses_nothing_acknowledged() {
    let faults = (0..3)
        .map(|n| {
            at(
                3_000,
                Fault::Crash {
                    node: n,
                    down_ms: 1_000,
                },
            )
        })
        .collect();
    let r = assert_pass(&scripted(3, faults));
    assert_eq!(r.faults.get(FaultKind::Crash), 3);
}

#[test]
fn a_panic_in_the_model_is_that_seeds_violation() {
    // Not validated on purpose: a fault aimed at a node that does not exist makes the
    // world index out of bounds. The run must report it, not crash the process.
    let sc = scripted(
        3,
        vec![at(
            1_000,
            Fault::Crash {
                node: 7,
                down_ms: 10,
            },
        )],
    );
    assert!(sc.validate().is_err());
    let r = run_scenario(&sc);
    let v = r.violation.expect("the panic is reported");
    assert_eq!(v.invariant, "panic");
    assert!(v.detail.contains("index out of bounds"), "{}", v.detail);
}

/// The mock ZooKeeper placed on the simulated network, with each of its faults.
fn with_zk(nodes: u32, faults: Vec<TimedFault>) -> Scenario {
    let mut sc = scripted(nodes, faults);
    sc.options.zk = Some(zkwal_sim::scenario::ZkOptions {
        servers: 3,
        tick_time_ms: 200,
        session_timeout_ms: 1_000,
        client_expiry: Default::default(),
    });
    sc.validate().unwrap();
    sc
}

#[test]
fn zookeeper_quiet_run_expires_no_session() {
    let r = assert_pass(&with_zk(3, vec![]));
    assert_eq!(r.faults.get(FaultKind::ZkSessionExpired), 0);
    assert!(
        r.zk_watch_events >= 2,
        "nodes saw each other register: {}",
        r.zk_watch_events
    );
}

#[test]
fn zookeeper_cut_off_node_loses_its_session_while_running() {
    // Cut off for 3 s with a 1 s session: the service expires it, the peers' watches
    // fire, and the node (still running) opens a new session once it can reach it.
    let r = assert_pass(&with_zk(
        3,
        vec![at(2_000, Fault::ZkCutOff { node: 1, ms: 3_000 })],
    ));
    assert_eq!(r.faults.get(FaultKind::ZkCutOff), 1);
    assert_eq!(r.faults.get(FaultKind::ZkSessionExpired), 1);
    assert!(r.zk_watch_events >= 4);
}

#[test]
fn zookeeper_paused_node_loses_its_session() {
    let r = assert_pass(&with_zk(
        3,
        vec![at(2_000, Fault::Pause { node: 2, ms: 2_500 })],
    ));
    assert_eq!(r.faults.get(FaultKind::ZkSessionExpired), 1);
}

#[test]
fn zookeeper_outage_and_lagging_server() {
    let r = assert_pass(&with_zk(
        3,
        vec![
            at(
                1_000,
                Fault::ZkLag {
                    server: 0,
                    lag_ms: 500,
                    ms: 3_000,
                },
            ),
            at(5_000, Fault::ZkOutage { ms: 2_000 }),
        ],
    ));
    assert_eq!(r.faults.get(FaultKind::ZkLag), 1);
    assert_eq!(r.faults.get(FaultKind::ZkOutage), 1);
    // Expiry is frozen while the service is down: a 2 s outage expires nobody.
    assert_eq!(r.faults.get(FaultKind::ZkSessionExpired), 0);
}
