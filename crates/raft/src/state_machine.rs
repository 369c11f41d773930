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

impl SmState {
    /// A 64-bit digest of the whole state (lists and client table), computed from its
    /// content alone: two states with equal content have equal digests, however they
    /// were reached (applying entries, or installing a snapshot). It is the wrapping
    /// sum of one hash per list element (key, position, value) and one per client
    /// (client, request id, reply), so [`StateMachine::apply`] keeps it up to date in
    /// O(1) per change instead of rehashing the state.
    pub fn digest(&self) -> u64 {
        let mut d = 0u64;
        for (&key, list) in &self.lists {
            for (pos, &value) in list.iter().enumerate() {
                d = d.wrapping_add(element_hash(key, pos, value));
            }
        }
        for (&client, (request_id, reply)) in &self.sessions {
            let r = reply_hash(reply, list_hash(reply_values(reply)));
            d = d.wrapping_add(session_hash(client, *request_id, r));
        }
        d
    }
}

fn reply_values(reply: &ClientReply) -> &[u64] {
    match reply {
        ClientReply::Read(values) => values,
        ClientReply::Appended | ClientReply::Stale => &[],
    }
}

fn mix(mut x: u64) -> u64 {
    // splitmix64's finalizer
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn element_hash(key: u32, pos: usize, value: u64) -> u64 {
    mix(mix(mix(0x6c69_7374 ^ key as u64) ^ pos as u64) ^ value)
}

/// One term of [`list_hash`]: the value at `pos` of a list that a read returned.
fn read_element_hash(pos: usize, value: u64) -> u64 {
    mix(mix(0x7265_6164 ^ pos as u64) ^ value)
}

/// The hash of a list's content, as a read returns it: the wrapping sum of one term
/// per (position, value), so that appending updates it in O(1) and a read's reply is
/// hashed without walking the list (a long run's lists hold thousands of values).
fn list_hash(values: &[u64]) -> u64 {
    values
        .iter()
        .enumerate()
        .fold(0, |h, (pos, &v)| h.wrapping_add(read_element_hash(pos, v)))
}

/// The hash of a reply; `read_list_hash` is [`list_hash`] of a read's values (from the
/// values themselves, or from the state machine's running sum; ignored for others).
fn reply_hash(reply: &ClientReply, read_list_hash: u64) -> u64 {
    match reply {
        ClientReply::Appended => 0x6170_7064,
        ClientReply::Stale => 0x7374_616c,
        ClientReply::Read(values) => mix(0x7265_6164 ^ values.len() as u64) ^ read_list_hash,
    }
}

fn session_hash(client: ClientId, request_id: u64, reply_hash: u64) -> u64 {
    mix(mix(mix(0x7365_7373 ^ client as u64) ^ request_id) ^ reply_hash)
}

/// The state machine plus the index of the last entry applied to it, and the digest
/// of its state ([`SmState::digest`]), maintained as entries are applied.
#[derive(Clone, Debug, Default)]
pub struct StateMachine {
    pub applied: Index,
    pub state: SmState,
    digest: u64,
    /// [`list_hash`] of each list in `state.lists`, kept up to date by appends, so
    /// that a read's reply is hashed in O(1) (the reply itself is still a copy).
    list_hashes: BTreeMap<u32, u64>,
    /// The session table's reply hashes (`reply_hash`), so that replacing a client's
    /// entry subtracts its old term from the digest without rehashing its reply.
    reply_hashes: BTreeMap<ClientId, u64>,
}

impl StateMachine {
    /// A state machine holding `state`, as of applied index `applied` (from a snapshot).
    pub fn restore(applied: Index, state: SmState) -> StateMachine {
        let digest = state.digest();
        let list_hashes = state
            .lists
            .iter()
            .map(|(&key, list)| (key, list_hash(list)))
            .collect();
        let reply_hashes = state
            .sessions
            .iter()
            .map(|(&client, (_, reply))| {
                (client, reply_hash(reply, list_hash(reply_values(reply))))
            })
            .collect();
        StateMachine {
            applied,
            state,
            digest,
            list_hashes,
            reply_hashes,
        }
    }

    /// Equal to `self.state.digest()`, in O(1).
    pub fn digest(&self) -> u64 {
        self.digest
    }

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
        let (reply, list_sum) = match cmd.op {
            Op::Append { key, value } => {
                let list = self.state.lists.entry(key).or_default();
                self.digest = self
                    .digest
                    .wrapping_add(element_hash(key, list.len(), value));
                let sum = self.list_hashes.entry(key).or_default();
                *sum = sum.wrapping_add(read_element_hash(list.len(), value));
                list.push(value);
                (ClientReply::Appended, 0)
            }
            Op::Read { key } => (
                ClientReply::Read(self.state.lists.get(&key).cloned().unwrap_or_default()),
                self.list_hashes.get(&key).copied().unwrap_or_default(),
            ),
        };
        let r = reply_hash(&reply, list_sum);
        self.digest = self
            .digest
            .wrapping_add(session_hash(cmd.client, cmd.request_id, r));
        let old_r = self.reply_hashes.insert(cmd.client, r);
        if let Some((old_id, _)) = self
            .state
            .sessions
            .insert(cmd.client, (cmd.request_id, reply.clone()))
        {
            let old_r = old_r.expect("every session has its reply hash");
            self.digest = self
                .digest
                .wrapping_sub(session_hash(cmd.client, old_id, old_r));
        }
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

#[cfg(test)]
mod tests {
    use super::{SmState, StateMachine};
    use crate::types::{Command, Op};

    #[test]
    fn incremental_digest_equals_digest_of_the_content() {
        let mut sm = StateMachine::default();
        assert_eq!(sm.digest(), SmState::default().digest());
        let mut x = 7u64;
        for index in 1..=300u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let client = (x >> 60) as u32;
            let request_id = (x >> 20) % 40;
            let key = ((x >> 40) % 3) as u32;
            let op = if x % 3 == 0 {
                Op::Read { key }
            } else {
                Op::Append { key, value: index }
            };
            sm.apply(
                index,
                &Command {
                    client,
                    request_id,
                    op,
                },
            );
            assert_eq!(sm.digest(), sm.state.digest(), "after index {index}");
        }
        let restored = StateMachine::restore(sm.applied, sm.state.clone());
        assert_eq!(restored.digest(), sm.digest());
        let mut no_table = sm.state.clone();
        no_table.sessions.clear();
        assert_ne!(no_table.digest(), sm.digest(), "the client table counts");
        let mut swapped = sm.state.clone();
        swapped.lists.get_mut(&0).unwrap().swap(0, 1);
        assert_ne!(swapped.digest(), sm.digest(), "list order counts");
        let mut other_read = sm.state.clone();
        let read = other_read
            .sessions
            .values_mut()
            .find_map(|(_, r)| match r {
                super::ClientReply::Read(values) if values.len() > 1 => Some(values),
                _ => None,
            })
            .expect("some client's latest reply is a read of two values or more");
        read.swap(0, 1);
        assert_ne!(
            other_read.digest(),
            sm.digest(),
            "a cached read's order counts"
        );
    }
}
