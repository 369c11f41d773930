//! The replicated state machine: lists of values under integer keys, with a client
//! table so that each `(client, request_id)` takes effect at most once (dissertation
//! §6.3: the state machine filters duplicates, not the log).

use std::collections::BTreeMap;

use serde::ser::{SerializeMap, SerializeSeq, SerializeStruct};
use serde::{Deserialize, Serialize, Serializer};

use crate::types::{payload_text, ClientId, Command, Index, Op};

/// What applying a command returned; the node that proposed it sends this to the client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientReply {
    Appended,
    Read(Vec<u64>),
    /// The request id is older than the client's latest applied one: the client has
    /// already moved on, nobody waits for this reply.
    Stale,
    /// Refused before anything was written: the append's WAL entry would pass
    /// ZooKeeper's `jute.maxbuffer`. Never produced by the state machine (the command
    /// never enters a log); every node refuses the same command alike, so the client
    /// may end the operation failed.
    TooLarge,
}

/// The state: lists of values, each value with its payload's length, and the client
/// table. Serialized (snapshot chunks in ZooKeeper) as it always was when no value has
/// a payload; a value with one is written `[value, "<payload>"]`, its bytes in full
/// ([`payload_text`]), so a snapshot's size is the size of what it holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "SmStateWire")]
pub struct SmState {
    pub lists: BTreeMap<u32, Vec<u64>>,
    /// The payload length of each list element, by key: absent for a list none of
    /// whose values carries a payload, else exactly as long as the list.
    pub payload_bytes: BTreeMap<u32, Vec<u32>>,
    /// Latest applied request id of each client and its reply (returned again for a
    /// duplicate of that request).
    pub sessions: BTreeMap<ClientId, (u64, ClientReply)>,
}

/// How [`SmState`] is read back: a list element is a bare value or `[value, payload]`.
#[derive(Deserialize)]
struct SmStateWire {
    lists: BTreeMap<u32, Vec<ItemWire>>,
    sessions: BTreeMap<ClientId, (u64, ClientReply)>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ItemWire {
    Plain(u64),
    WithPayload(u64, String),
}

impl TryFrom<SmStateWire> for SmState {
    type Error = String;
    fn try_from(w: SmStateWire) -> Result<SmState, String> {
        let mut state = SmState {
            sessions: w.sessions,
            ..SmState::default()
        };
        for (key, items) in w.lists {
            let mut values = Vec::with_capacity(items.len());
            let mut lens = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    ItemWire::Plain(v) => {
                        values.push(v);
                        lens.push(0);
                    }
                    ItemWire::WithPayload(v, text) => {
                        let len = u32::try_from(text.len()).map_err(|e| e.to_string())?;
                        if text != payload_text(v, len) {
                            return Err(format!("the payload of value {v} is not its own"));
                        }
                        values.push(v);
                        lens.push(len);
                    }
                }
            }
            if lens.iter().any(|&l| l > 0) {
                state.payload_bytes.insert(key, lens);
            }
            state.lists.insert(key, values);
        }
        Ok(state)
    }
}

impl Serialize for SmState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        /// One list, its values with their payloads.
        struct Items<'a>(&'a [u64], Option<&'a Vec<u32>>);
        impl Serialize for Items<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut seq = s.serialize_seq(Some(self.0.len()))?;
                for (pos, &v) in self.0.iter().enumerate() {
                    match self.1.map_or(0, |l| l[pos]) {
                        0 => seq.serialize_element(&v)?,
                        len => seq.serialize_element(&(v, payload_text(v, len)))?,
                    }
                }
                seq.end()
            }
        }
        struct Lists<'a>(&'a SmState);
        impl Serialize for Lists<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut map = s.serialize_map(Some(self.0.lists.len()))?;
                for (key, list) in &self.0.lists {
                    map.serialize_entry(key, &Items(list, self.0.payload_bytes.get(key)))?;
                }
                map.end()
            }
        }
        let mut st = s.serialize_struct("SmState", 2)?;
        st.serialize_field("lists", &Lists(self))?;
        st.serialize_field("sessions", &self.sessions)?;
        st.end()
    }
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
            let lens = self.payload_bytes.get(&key);
            for (pos, &value) in list.iter().enumerate() {
                let len = lens.map_or(0, |l| l[pos]);
                d = d.wrapping_add(element_hash(key, pos, value, len));
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
        ClientReply::Appended | ClientReply::Stale | ClientReply::TooLarge => &[],
    }
}

fn mix(mut x: u64) -> u64 {
    // splitmix64's finalizer
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// One list element: its key, position, value and payload length (the payload is a
/// function of value and length, so this covers its bytes; without a payload the hash
/// is what it was before payloads existed).
fn element_hash(key: u32, pos: usize, value: u64, payload_bytes: u32) -> u64 {
    let h = mix(mix(mix(0x6c69_7374 ^ key as u64) ^ pos as u64) ^ value);
    if payload_bytes == 0 {
        h
    } else {
        mix(h ^ 0x7061_7931_0000_0000 ^ payload_bytes as u64)
    }
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
        ClientReply::TooLarge => 0x6269_6767,
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
            Op::Append {
                key,
                value,
                payload_bytes,
            } => {
                let list = self.state.lists.entry(key).or_default();
                if payload_bytes > 0 || self.state.payload_bytes.contains_key(&key) {
                    let lens = self.state.payload_bytes.entry(key).or_default();
                    lens.resize(list.len(), 0);
                    lens.push(payload_bytes);
                }
                self.digest =
                    self.digest
                        .wrapping_add(element_hash(key, list.len(), value, payload_bytes));
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
                Op::Append {
                    key,
                    value: index,
                    payload_bytes: (index % 4 == 0) as u32 * (index as u32 % 300),
                }
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
        let mut no_payload = sm.state.clone();
        no_payload.payload_bytes.clear();
        assert_ne!(no_payload.digest(), sm.digest(), "the payloads count");
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

    #[test]
    fn serialized_state_carries_every_payload_byte_and_reads_back() {
        let mut sm = StateMachine::default();
        let append = |key, value, payload_bytes| Command {
            client: 1,
            request_id: value,
            op: Op::Append {
                key,
                value,
                payload_bytes,
            },
        };
        sm.apply(1, &append(0, 1, 0));
        sm.apply(2, &append(1, 2, 0));
        let plain = serde_json::to_string(&sm.state).unwrap();
        assert_eq!(
            plain, r#"{"lists":{"0":[1],"1":[2]},"sessions":{"1":[2,"Appended"]}}"#,
            "without payloads, the JSON is what the derived form was"
        );
        sm.apply(3, &append(0, 3, 1000));
        let json = serde_json::to_vec(&sm.state).unwrap();
        assert!(
            json.len() > plain.len() + 1000,
            "the payload's bytes are written"
        );
        let back: SmState = serde_json::from_slice(&json).unwrap();
        assert_eq!(back, sm.state);
        assert_eq!(back.payload_bytes.get(&0), Some(&vec![0, 1000]));
        let forged = String::from_utf8(json)
            .unwrap()
            .replacen("[3,\"", "[3,\"x", 1);
        assert!(serde_json::from_str::<SmState>(&forged).is_err());
    }
}
