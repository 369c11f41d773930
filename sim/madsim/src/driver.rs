//! The tasks: one per node, one per client, one for the ZooKeeper ensemble. Each
//! binds an `Endpoint`, spawns a receiver task that moves arriving messages into a
//! channel (a dropped `recv` future would lose its message; a channel's `recv` is
//! cancel-safe), and loops: wait for a message or the next deadline, lock the world,
//! hand the input to its state machine, unlock, send what it produced.
//!
//! Written against `madsim::{net, time, task}` and tokio's runtime-agnostic parts
//! (`sync`, `select!`): under `--cfg madsim` this runs in the simulation; without it,
//! on tokio with TCP.

use std::sync::Arc;

use madsim::net::Endpoint;
use tokio::sync::mpsc;

use crate::wire::{self, Envelope};
use crate::world::{ClientTimer, Io, Shared};

/// Binds the party's endpoint and starts its receiver task.
async fn open(sh: &Shared, party: usize) -> (Arc<Endpoint>, mpsc::UnboundedReceiver<Envelope>) {
    let addr = sh.lock().addrs.parties[party];
    let ep = Arc::new(Endpoint::bind(addr).await.expect("bind"));
    let (tx, rx) = mpsc::unbounded_channel();
    let rep = ep.clone();
    madsim::task::spawn(async move {
        let mut buf = Vec::new();
        while let Ok(env) = wire::recv(&rep, &mut buf).await {
            if tx.send(env).is_err() {
                break;
            }
        }
    });
    (ep, rx)
}

async fn flush(ep: &Endpoint, io: &mut Io) {
    for (to, env) in io.sends.drain(..) {
        // A send to a party that is down fails or is lost: the network's business.
        let _ = wire::send(ep, to, env).await;
    }
}

/// Waits until `deadline_ms` (forever if None) or a message, whichever comes first.
async fn next(
    sh: &Shared,
    rx: &mut mpsc::UnboundedReceiver<Envelope>,
    deadline_ms: Option<u64>,
) -> Option<Envelope> {
    match deadline_ms {
        None => rx.recv().await,
        Some(d) => {
            tokio::select! {
                biased;
                m = rx.recv() => m,
                _ = madsim::time::sleep_until(sh.at(d)) => None,
            }
        }
    }
}

/// A node's process: starts its core from its disk, then handles messages, timers
/// and disk completions until it is killed.
pub async fn run_node(sh: Arc<Shared>, node: u32) {
    let (ep, mut rx) = open(&sh, node as usize).await;
    let mut io = Io::default();
    sh.lock().start_node(node, sh.now_ms(), &mut io);
    loop {
        flush(&ep, &mut io).await;
        let deadline = sh.lock().node_deadline_ms(node);
        let msg = next(&sh, &mut rx, deadline).await;
        let now = sh.now_ms();
        let mut w = sh.lock();
        match msg {
            Some(env) => w.node_message(node, env, now, &mut io),
            None => w.node_timers(node, now, &mut io),
        }
        if w.violation.is_some() {
            drop(w);
            sh.stop.notify_one();
            return;
        }
    }
}

/// A client: runs its script through the client state machine of the event loop.
/// `start` says whether it wakes for its first operation now (the probe starts at
/// healing, from the harness).
pub async fn run_client(sh: Arc<Shared>, c: usize) {
    let party = sh.lock().nodes.len() + c;
    let (ep, mut rx) = open(&sh, party).await;
    let mut io = Io::default();
    let mut timers: Vec<(u64, ClientTimer)> = Vec::new();
    {
        let now = sh.now_ms();
        let mut w = sh.lock();
        let a = if c == w.probe {
            w.clients[c].start_next(now, true)
        } else {
            w.clients[c].first_wake()
        };
        w.client_action(c, a, now, &mut io, &mut timers);
    }
    loop {
        flush(&ep, &mut io).await;
        // Earliest timer first; ties in the order they were armed.
        let due = timers
            .iter()
            .enumerate()
            .min_by_key(|(k, t)| (t.0, *k))
            .map(|(k, t)| (k, t.0));
        let msg = next(&sh, &mut rx, due.map(|d| d.1)).await;
        let now = sh.now_ms();
        let mut w = sh.lock();
        match msg {
            Some(env) => w.client_message(c, env, now, &mut io, &mut timers),
            None => {
                let (k, _) = due.expect("a timer was due");
                let (_, t) = timers.remove(k);
                w.client_timer(c, t, now, &mut io, &mut timers);
            }
        }
        if w.violation.is_some() {
            drop(w);
            sh.stop.notify_one();
            return;
        }
    }
}

/// The mock ZooKeeper ensemble as one party on the network.
pub async fn run_zk(sh: Arc<Shared>) {
    let party = sh.lock().zk_party;
    let (ep, mut rx) = open(&sh, party).await;
    let mut io = Io::default();
    sh.lock().zk_tick(sh.now_ms(), &mut io);
    loop {
        flush(&ep, &mut io).await;
        let deadline = sh.lock().zk_deadline_ms();
        let sleep = async {
            match deadline {
                Some(d) => madsim::time::sleep_until(sh.at(d)).await,
                None => std::future::pending().await,
            }
        };
        let msg = tokio::select! {
            biased;
            m = rx.recv() => m,
            _ = sh.kick_zk.notified() => None,
            _ = sleep => None,
        };
        let now = sh.now_ms();
        let mut w = sh.lock();
        match msg {
            Some(env) => w.zk_message(env, now, &mut io),
            None => w.zk_tick(now, &mut io),
        }
        if w.violation.is_some() {
            drop(w);
            sh.stop.notify_one();
            return;
        }
    }
}
