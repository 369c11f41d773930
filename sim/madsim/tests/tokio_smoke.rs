//! The same driver on real tokio and TCP (madsim's std mode, no `--cfg madsim`): a
//! 3-node Raft cluster on 127.0.0.1 with three clients, no faults, in real time. The
//! writes must be acknowledged, every node must converge, and the checkers and the
//! client-history check must pass. This is the "start of a real node" half of the
//! crate; the simulated half is `tests/madsim.rs`.
#![cfg(not(madsim))]

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use zkwal_model::scenario::{Scenario, Variant};
use zkwal_node::driver::{run_client, run_node};
use zkwal_node::world::{Addrs, Io, Shared};

/// Free local ports (bound, then released).
fn free_addrs(k: usize) -> Vec<SocketAddr> {
    let ls: Vec<TcpListener> = (0..k)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    ls.iter().map(|l| l.local_addr().expect("addr")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raft_3_nodes_on_tokio() {
    let mut sc = Scenario::generate(7, Variant::Raft, 3);
    sc.faults.clear();
    sc.options.duration_ms = 1_500;
    sc.options.net.loss_ppm = 0;
    sc.options.net.dup_ppm = 0;
    for script in sc.clients.iter_mut() {
        script.truncate(5);
        for step in script.iter_mut() {
            step.think_ms = step.think_ms.min(50);
        }
    }
    let clients = sc.clients.len();
    let parties = free_addrs(3 + clients + 2);
    let sh = Shared::new(sc, Addrs { parties });
    for i in 0..3 {
        tokio::spawn(run_node(sh.clone(), i));
    }
    for c in 0..clients {
        tokio::spawn(run_client(sh.clone(), c));
    }
    // The scripts run, then the probe write, as in the simulated tiers.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    sh.lock().healed = true;
    let probe = clients;
    tokio::spawn(run_client(sh.clone(), probe));
    let mut converged = false;
    for _ in 0..400 {
        tokio::time::sleep(Duration::from_millis(25)).await;
        if sh.lock().converged() {
            converged = true;
            break;
        }
    }
    let now = sh.now_ms();
    let mut w = sh.lock();
    if converged {
        w.check_history(now);
    } else {
        w.on_deadline(now);
    }
    let (ok, _, _) = w.outcomes();
    assert!(w.violation.is_none(), "{:?}", w.violation);
    assert!(ok > 3, "only {ok} operations ok");
    let _ = Io::default();
}
