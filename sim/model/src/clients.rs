//! Clients: each runs its script of appends and reads one operation at a time, with
//! request ids for de-duplication, per-attempt timeouts, retries with the same request
//! id (on the hinted leader or the next node), and an overall deadline. Every operation
//! ends ok, failed (every attempt was refused before being proposed) or indeterminate
//! (some attempt may have been proposed), with its virtual invocation and completion
//! times, in the history format of `zkwal_invariants::history`.

use zkwal_invariants::history::{Op as HistOp, OpKind, Outcome};
use zkwal_raft::{ClientReply, Command, NodeId, Op};

use crate::scenario::{ClientOpKind, ClientStep};

/// Delay before retrying after a "not leader" answer.
pub const RETRY_BACKOFF_MS: u64 = 10;

#[derive(Clone, Debug)]
pub struct InFlight {
    pub op: ClientOpKind,
    pub request_id: u64,
    pub invoke_ms: u64,
    pub deadline_ms: u64,
    pub attempt: u32,
    pub target: u32,
    /// Bit k set: attempt k + 1 was refused ("not leader") before being proposed.
    pub refused: u64,
}

/// When one scripted operation ran (see [`Client::step_times`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepTime {
    pub invoke_ms: u64,
    /// None: still in flight when the run stopped.
    pub complete_ms: Option<u64>,
}

/// What the world must do for a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAction {
    /// Send attempt `attempt` of the current command to `node` now, and arm its timeout.
    Send {
        node: u32,
        command: Command,
        attempt: u32,
    },
    /// Retry after a backoff (then call [`Client::retry`]).
    RetryLater {
        at_ms: u64,
    },
    /// Start the next operation at this time (then call [`Client::start_next`]).
    Wake {
        at_ms: u64,
    },
    Idle,
}

pub struct Client {
    pub id: u32,
    script: Vec<ClientStep>,
    next: usize,
    next_request_id: u64,
    nodes: u32,
    leader_guess: u32,
    attempt_timeout_ms: u64,
    op_timeout_ms: u64,
    pub current: Option<InFlight>,
    pub history: Vec<HistOp>,
    /// The network may deliver a request twice (so a refusal does not prove that no
    /// copy of it will ever be proposed).
    pub network_duplicates: bool,
    /// Request id of the last operation that ended ok (the liveness probe's signal).
    pub last_ok: Option<u64>,
    /// The payload each append carries (`client.value_bytes`).
    pub value_bytes: u32,
}

impl Client {
    pub fn new(
        id: u32,
        script: Vec<ClientStep>,
        nodes: u32,
        attempt_timeout_ms: u64,
        op_timeout_ms: u64,
    ) -> Client {
        Client {
            id,
            script,
            next: 0,
            next_request_id: 1,
            nodes,
            leader_guess: id % nodes,
            attempt_timeout_ms,
            op_timeout_ms,
            current: None,
            history: Vec::new(),
            network_duplicates: true,
            last_ok: None,
            value_bytes: 0,
        }
    }

    pub fn attempt_timeout_ms(&self) -> u64 {
        self.attempt_timeout_ms
    }

    /// When the first operation should start.
    pub fn first_wake(&self) -> ClientAction {
        self.script
            .first()
            .map_or(ClientAction::Idle, |s| ClientAction::Wake {
                at_ms: s.think_ms,
            })
    }

    /// When each scripted operation that started ran: `(invoke_ms, complete_ms)` in
    /// script order, the one still in flight with `None` (operations not started yet
    /// are not listed). The shrinker keeps kept operations at these times.
    pub fn step_times(&self) -> Vec<StepTime> {
        let mut out: Vec<StepTime> = self
            .history
            .iter()
            .map(|o| StepTime {
                invoke_ms: o.invoke_ms,
                complete_ms: Some(o.complete_ms),
            })
            .collect();
        if let Some(cur) = &self.current {
            out.push(StepTime {
                invoke_ms: cur.invoke_ms,
                complete_ms: None,
            });
        }
        debug_assert!(
            out.len() <= self.next,
            "every started step is a scripted one"
        );
        out
    }

    pub fn is_done(&self) -> bool {
        self.current.is_none() && self.next >= self.script.len()
    }

    /// Starts the next scripted operation, unless `accepting` is false (faults over).
    pub fn start_next(&mut self, now_ms: u64, accepting: bool) -> ClientAction {
        if self.current.is_some() || self.next >= self.script.len() {
            return ClientAction::Idle;
        }
        if !accepting {
            self.next = self.script.len();
            return ClientAction::Idle;
        }
        let op = self.script[self.next].op;
        self.next += 1;
        let request_id = self.next_request_id;
        self.next_request_id += 1;
        self.current = Some(InFlight {
            op,
            request_id,
            invoke_ms: now_ms,
            deadline_ms: now_ms + self.op_timeout_ms,
            attempt: 0,
            target: self.leader_guess,
            refused: 0,
        });
        self.send_current()
    }

    fn send_current(&mut self) -> ClientAction {
        let cur = self.current.as_mut().expect("an operation in flight");
        cur.attempt += 1;
        let op = match cur.op {
            ClientOpKind::Append { key, value } => Op::Append {
                key,
                value,
                payload_bytes: self.value_bytes,
            },
            ClientOpKind::Read { key } => Op::Read { key },
        };
        ClientAction::Send {
            node: cur.target,
            command: Command {
                client: self.id,
                request_id: cur.request_id,
                op,
            },
            attempt: cur.attempt,
        }
    }

    /// A node answered with the command's result.
    pub fn on_reply(&mut self, now_ms: u64, request_id: u64, reply: &ClientReply) -> ClientAction {
        let Some(cur) = &self.current else {
            return ClientAction::Idle;
        };
        if cur.request_id != request_id {
            return ClientAction::Idle; // a late answer to an operation already ended
        }
        let result = match reply {
            ClientReply::Read(list) => Some(list.clone()),
            ClientReply::Appended => None,
            ClientReply::Stale => return ClientAction::Idle,
            // No node writes a command too large for its WAL: it is in no log.
            ClientReply::TooLarge => return self.finish(now_ms, Outcome::Failed, None),
        };
        self.last_ok = Some(request_id);
        self.finish(now_ms, Outcome::Ok, result)
    }

    /// A node refused: it is not the leader (the command was not proposed there).
    pub fn on_not_leader(
        &mut self,
        now_ms: u64,
        request_id: u64,
        attempt: u32,
        hint: Option<NodeId>,
    ) -> ClientAction {
        let nodes = self.nodes;
        let Some(cur) = self.current.as_mut() else {
            return ClientAction::Idle;
        };
        if cur.request_id != request_id {
            return ClientAction::Idle;
        }
        if (1..=64).contains(&attempt) {
            cur.refused |= 1 << (attempt - 1);
        }
        if attempt != cur.attempt {
            return ClientAction::Idle; // an older attempt's answer: a retry is already under way
        }
        cur.target = match hint {
            Some(h) if h != cur.target => h,
            _ => (cur.target + 1) % nodes,
        };
        self.leader_guess = cur.target;
        ClientAction::RetryLater {
            at_ms: now_ms + RETRY_BACKOFF_MS,
        }
    }

    /// Attempt `attempt` got no answer in time: it may or may not have been proposed.
    pub fn on_attempt_timeout(
        &mut self,
        now_ms: u64,
        request_id: u64,
        attempt: u32,
    ) -> ClientAction {
        let nodes = self.nodes;
        let Some(cur) = self.current.as_mut() else {
            return ClientAction::Idle;
        };
        if cur.request_id != request_id || cur.attempt != attempt {
            return ClientAction::Idle;
        }
        cur.target = (cur.target + 1) % nodes;
        self.leader_guess = cur.target;
        self.retry(now_ms)
    }

    /// Sends the current operation again with the same request id, or gives up once
    /// its deadline has passed. Giving up is `Failed` only when every attempt was
    /// refused before being proposed and the network cannot deliver a stray copy of a
    /// request later (no duplication); otherwise the command may still be in some
    /// log, and the outcome is `Indeterminate`.
    pub fn retry(&mut self, now_ms: u64) -> ClientAction {
        let Some(cur) = &self.current else {
            return ClientAction::Idle;
        };
        if now_ms >= cur.deadline_ms {
            let all_refused = cur.attempt <= 64 && cur.refused == u64::MAX >> (64 - cur.attempt);
            let outcome = if all_refused && !self.network_duplicates {
                Outcome::Failed
            } else {
                Outcome::Indeterminate
            };
            return self.finish(now_ms, outcome, None);
        }
        self.send_current()
    }

    fn finish(&mut self, now_ms: u64, outcome: Outcome, result: Option<Vec<u64>>) -> ClientAction {
        let cur = self.current.take().expect("an operation in flight");
        let kind = match cur.op {
            ClientOpKind::Append { key, value } => OpKind::Append { key, value },
            ClientOpKind::Read { key } => OpKind::Read { key, result },
        };
        self.history.push(HistOp {
            client: self.id,
            invoke_ms: cur.invoke_ms,
            complete_ms: now_ms,
            kind,
            outcome,
        });
        match self.script.get(self.next) {
            Some(step) => ClientAction::Wake {
                at_ms: now_ms + step.think_ms,
            },
            None => ClientAction::Idle,
        }
    }
}
