//! The replicated state machine: lists of values under integer keys, with a client
//! table so that each `(client, request_id)` takes effect at most once (dissertation
//! §6.3: the state machine filters duplicates, not the log).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::types::{ClientId, Command, Index, Op};

/// What applying a command returned; the node that proposed it sends this to the client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientReply {
    Appended,
    Read(Vec<u64>),
    /// The request id is older than the client's latest applied one: the client has
    /// already moved on, nobody waits for this reply.
    Stale,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmState {
    pub lists: BTreeMap<u32, Vec<u64>>,
    /// Latest applied request id of each client and its reply (returned again for a
    /// duplicate of that request).
    pub sessions: BTreeMap<ClientId, (u64, ClientReply)>,
}

/// The state machine plus the index of the last entry applied to it.
#[derive(Clone, Debug, Default)]
pub struct StateMachine {
    pub applied: Index,
    pub state: SmState,
}

impl StateMachine {
    /// Applies `cmd` (the entry at `index`) and returns the reply for the client.
    /// A duplicate of the client's latest request returns the cached reply and changes
    /// nothing: this is what keeps a retried append from being applied twice.
    pub fn apply(&mut self, index: Index, cmd: &Command) -> ClientReply {
        assert_eq!(
            index,
            self.applied + 1,
            "entries are applied in order, each once"
        );
        self.applied = index;
        if let Some((last, reply)) = self.state.sessions.get(&cmd.client) {
            if cmd.request_id == *last {
                return reply.clone();
            }
            if cmd.request_id < *last {
                return ClientReply::Stale;
            }
        }
        let reply = match cmd.op {
            Op::Append { key, value } => {
                self.state.lists.entry(key).or_default().push(value);
                ClientReply::Appended
            }
            Op::Read { key } => {
                ClientReply::Read(self.state.lists.get(&key).cloned().unwrap_or_default())
            }
        };
        self.state
            .sessions
            .insert(cmd.client, (cmd.request_id, reply.clone()));
        reply
    }

    /// Advances over an entry that carries no command (a leader's no-op).
    pub fn skip(&mut self, index: Index) {
        assert_eq!(
            index,
            self.applied + 1,
            "entries are applied in order, each once"
        );
        self.applied = index;
    }
}
