//! A tiny deterministic driver for the tests: the ensemble and some clients on a
//! network with a fixed latency, client cut-offs and client pauses.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use zkwal_zk::*;

pub const TICK_MS: u64 = 200;
pub const LATENCY_MS: u64 = 1;

enum Msg {
    ToEnsemble(ClientMsg),
    ToClient(usize, ServerMsg),
}

pub struct World {
    pub now: u64,
    pub ens: Ensemble,
    pub clients: Vec<ClientSession>,
    /// Events each client reported, with their time.
    pub log: Vec<Vec<(u64, ClientEvent)>>,
    seen: Vec<usize>,
    by_id: BTreeMap<u64, usize>,
    net: BTreeMap<(u64, u64), Msg>,
    seq: u64,
    /// Clients whose messages (both ways) are dropped.
    pub cut: BTreeSet<usize>,
    /// Paused clients: they do not tick, and messages to them wait for the resume.
    pub paused: BTreeSet<usize>,
    held: Vec<(usize, ServerMsg)>,
    /// Drop the next reply (Reply body) sent to this client.
    pub drop_next_reply_to: Option<usize>,
}

impl World {
    pub fn new(servers: u32) -> World {
        World {
            now: 0,
            ens: Ensemble::new(EnsembleConfig::new(servers, TICK_MS), 0),
            clients: Vec::new(),
            log: Vec::new(),
            seen: Vec::new(),
            by_id: BTreeMap::new(),
            net: BTreeMap::new(),
            seq: 0,
            cut: BTreeSet::new(),
            paused: BTreeSet::new(),
            held: Vec::new(),
            drop_next_reply_to: None,
        }
    }

    /// Adds a client connecting through `servers` (in order); returns its index.
    pub fn add_client(&mut self, servers: Vec<ServerId>, timeout_ms: u64) -> usize {
        self.add_client_expiring(servers, timeout_ms, ClientExpiry::Server)
    }

    /// As [`World::add_client`], with the given expiry policy.
    pub fn add_client_expiring(
        &mut self,
        servers: Vec<ServerId>,
        timeout_ms: u64,
        expiry: ClientExpiry,
    ) -> usize {
        let idx = self.clients.len();
        let id = 100 + idx as u64;
        self.by_id.insert(id, idx);
        let mut cfg = ClientConfig::new(id, servers, timeout_ms);
        cfg.expiry = expiry;
        self.clients.push(ClientSession::new(cfg, self.now));
        self.log.push(Vec::new());
        self.seen.push(0);
        self.flush();
        idx
    }

    /// Adds a client and runs until it is connected.
    pub fn connected_client(&mut self, servers: Vec<ServerId>, timeout_ms: u64) -> usize {
        self.connected_client_expiring(servers, timeout_ms, ClientExpiry::Server)
    }

    /// As [`World::connected_client`], with the given expiry policy.
    pub fn connected_client_expiring(
        &mut self,
        servers: Vec<ServerId>,
        timeout_ms: u64,
        expiry: ClientExpiry,
    ) -> usize {
        let c = self.add_client_expiring(servers, timeout_ms, expiry);
        let until = self.now + 5_000;
        self.run_until_cond(until, |w| w.clients[c].state() == SessionState::Connected);
        assert_eq!(self.clients[c].state(), SessionState::Connected);
        c
    }

    fn send(&mut self, at: u64, m: Msg) {
        self.seq += 1;
        self.net.insert((at, self.seq), m);
    }

    /// Moves outputs of every party onto the network.
    pub fn flush(&mut self) {
        for i in 0..self.clients.len() {
            while let Some(m) = self.clients[i].poll_transmit() {
                if !self.cut.contains(&i) {
                    self.send(self.now + LATENCY_MS, Msg::ToEnsemble(m));
                }
            }
            while let Some(e) = self.clients[i].poll_event() {
                self.log[i].push((self.now, e));
            }
        }
        while let Some(m) = self.ens.poll_output() {
            let Some(&c) = self.by_id.get(&m.conn.client) else {
                continue;
            };
            if self.cut.contains(&c) {
                continue;
            }
            if self.drop_next_reply_to == Some(c) && matches!(m.body, ServerBody::Reply { .. }) {
                self.drop_next_reply_to = None;
                continue;
            }
            self.send(self.now + LATENCY_MS, Msg::ToClient(c, m));
        }
        self.ens.check_invariants().expect("ensemble invariants");
        for c in &self.clients {
            c.check_invariants().expect("client invariants");
        }
    }

    fn next_time(&self) -> Option<u64> {
        let mut t = self.net.keys().next().map(|k| k.0);
        let mut consider = |d: Option<u64>| {
            if let Some(d) = d {
                t = Some(t.map_or(d, |t: u64| t.min(d)));
            }
        };
        consider(self.ens.deadline_ms());
        for (i, c) in self.clients.iter().enumerate() {
            if !self.paused.contains(&i) {
                consider(c.deadline_ms());
            }
        }
        t
    }

    /// Runs every event up to and including time `until`; time ends at `until`.
    pub fn run_until(&mut self, until: u64) {
        self.run_until_cond(until, |_| false);
    }

    pub fn run_for(&mut self, ms: u64) {
        let until = self.now + ms;
        self.run_until(until);
    }

    /// Runs until `cond` holds (checked after each step) or time `until`.
    pub fn run_until_cond(&mut self, until: u64, cond: impl Fn(&World) -> bool) {
        self.flush();
        for _ in 0..1_000_000 {
            if cond(self) {
                return;
            }
            let Some(t) = self.next_time().filter(|t| *t <= until) else {
                self.now = self.now.max(until);
                return;
            };
            self.now = self.now.max(t);
            self.step();
        }
        panic!("runaway test world");
    }

    fn step(&mut self) {
        let now = self.now;
        while let Some(entry) = self.net.first_entry() {
            if entry.key().0 > now {
                break;
            }
            match entry.remove() {
                Msg::ToEnsemble(m) => self.ens.handle_message(now, m),
                Msg::ToClient(c, m) => {
                    if self.paused.contains(&c) {
                        self.held.push((c, m));
                    } else {
                        self.clients[c].handle_message(now, m);
                    }
                }
            }
            self.flush();
        }
        if self.ens.deadline_ms().is_some_and(|d| d <= now) {
            self.ens.tick(now);
        }
        for i in 0..self.clients.len() {
            if !self.paused.contains(&i) && self.clients[i].deadline_ms().is_some_and(|d| d <= now)
            {
                self.clients[i].tick(now);
            }
        }
        self.flush();
    }

    pub fn pause(&mut self, c: usize) {
        self.paused.insert(c);
    }

    /// Resumes a paused client: its timers fire late, then held messages arrive.
    pub fn resume(&mut self, c: usize) {
        self.paused.remove(&c);
        let now = self.now;
        self.clients[c].tick(now);
        let held: Vec<(usize, ServerMsg)> = std::mem::take(&mut self.held);
        for (cc, m) in held {
            if cc == c {
                self.clients[c].handle_message(now, m);
            } else {
                self.held.push((cc, m));
            }
        }
        self.flush();
    }

    pub fn submit(&mut self, c: usize, req: Request) -> Xid {
        let x = self.clients[c].submit(self.now, req);
        self.flush();
        x
    }

    /// The outcome of request `xid` of client `c`, if it has one yet.
    pub fn outcome(&self, c: usize, xid: Xid) -> Option<Result<Response, ErrorCode>> {
        self.log[c].iter().find_map(|(_, e)| match e {
            ClientEvent::Reply { xid: x, result } if *x == xid => Some(result.clone()),
            _ => None,
        })
    }

    /// Submits and runs until the outcome (at most 60 s of virtual time).
    pub fn call(&mut self, c: usize, req: Request) -> Result<Response, ErrorCode> {
        let xid = self.submit(c, req);
        let until = self.now + 60_000;
        self.run_until_cond(until, |w| w.outcome(c, xid).is_some());
        self.outcome(c, xid).expect("request finished")
    }

    /// Events of client `c` not returned by an earlier call.
    pub fn new_events(&mut self, c: usize) -> Vec<ClientEvent> {
        let from = self.seen[c];
        self.seen[c] = self.log[c].len();
        self.log[c][from..].iter().map(|(_, e)| e.clone()).collect()
    }

    pub fn watch_events(&self, c: usize) -> Vec<WatchedEvent> {
        self.log[c]
            .iter()
            .filter_map(|(_, e)| match e {
                ClientEvent::Watch(w) => Some(w.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn states(&self, c: usize) -> Vec<SessionState> {
        self.log[c]
            .iter()
            .filter_map(|(_, e)| match e {
                ClientEvent::State(s) => Some(*s),
                _ => None,
            })
            .collect()
    }
}

pub fn create(path: &str, data: &[u8], mode: CreateMode) -> Request {
    Request::Create {
        path: path.into(),
        data: data.to_vec(),
        mode,
    }
}

pub fn get(path: &str, watch: bool) -> Request {
    Request::GetData {
        path: path.into(),
        watch,
    }
}

pub fn exists(path: &str, watch: bool) -> Request {
    Request::Exists {
        path: path.into(),
        watch,
    }
}

pub fn children(path: &str, watch: bool) -> Request {
    Request::GetChildren {
        path: path.into(),
        watch,
    }
}

pub fn set(path: &str, data: &[u8], version: i32) -> Request {
    Request::SetData {
        path: path.into(),
        data: data.to_vec(),
        version,
    }
}

pub fn delete(path: &str, version: i32) -> Request {
    Request::Delete {
        path: path.into(),
        version,
    }
}

pub fn data_of(r: &Result<Response, ErrorCode>) -> Vec<u8> {
    match r {
        Ok(Response::GetData { data, .. }) => data.clone(),
        other => panic!("not getData: {other:?}"),
    }
}

pub fn stat_of(r: &Result<Response, ErrorCode>) -> Stat {
    match r {
        Ok(Response::GetData { stat, .. })
        | Ok(Response::SetData { stat })
        | Ok(Response::Create { stat, .. })
        | Ok(Response::GetChildren { stat, .. }) => *stat,
        Ok(Response::Exists { stat: Some(stat) }) => *stat,
        other => panic!("no stat: {other:?}"),
    }
}
