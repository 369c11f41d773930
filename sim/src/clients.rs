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
    /// Some attempt got no definite refusal: the command may be in some log.
    pub maybe_applied: bool,
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
    /// Request id and index-free result of the last ok operation (for the liveness probe).
    pub last_ok: Option<u64>,
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
            last_ok: None,
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
            maybe_applied: false,
        });
        self.send_current()
    }

    fn send_current(&mut self) -> ClientAction {
        let cur = self.current.as_mut().expect("an operation in flight");
        cur.attempt += 1;
        let op = match cur.op {
            ClientOpKind::Append { key, value } => Op::Append { key, value },
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
        };
        self.last_ok = Some(request_id);
        self.finish(now_ms, Outcome::Ok, result)
    }

    /// A node refused: it is not the leader (the command was not proposed there).
    pub fn on_not_leader(
        &mut self,
        now_ms: u64,
        request_id: u64,
        hint: Option<NodeId>,
    ) -> ClientAction {
        let nodes = self.nodes;
        let Some(cur) = self.current.as_mut() else {
            return ClientAction::Idle;
        };
        if cur.request_id != request_id {
            return ClientAction::Idle;
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
        cur.maybe_applied = true;
        cur.target = (cur.target + 1) % nodes;
        self.leader_guess = cur.target;
        self.retry(now_ms)
    }

    /// Sends the current operation again with the same request id, or gives up once
    /// its deadline has passed.
    pub fn retry(&mut self, now_ms: u64) -> ClientAction {
        let Some(cur) = &self.current else {
            return ClientAction::Idle;
        };
        if now_ms >= cur.deadline_ms {
            let outcome = if cur.maybe_applied {
                Outcome::Indeterminate
            } else {
                Outcome::Failed
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
