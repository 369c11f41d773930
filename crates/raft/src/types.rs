//! Plain data shared by the core, the simulator and the checkers.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::state_machine::SmState;

pub type NodeId = u32;
pub type Term = u64;
pub type Index = u64;
pub type ClientId = u32;

/// What a client asks the replicated state machine to do. Reads go through the log
/// too, so a read is linearizable without leases (classic mistake 17 cannot happen).
///
/// Serialized (WAL entries in ZooKeeper) through [`OpWire`]: an append without a
/// payload is exactly the JSON it always was, one with a payload carries its
/// `payload_bytes` bytes as text, so every byte count ZooKeeper sees is real.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "OpWire", try_from = "OpWire")]
pub enum Op {
    /// Append `value`, with a payload of `payload_bytes` bytes, to the list stored
    /// under `key`. The payload's bytes are a pure function of `(value,
    /// payload_bytes)` ([`payload_text`]): the log, messages and the state machine hold
    /// the pair (an `Entry` stays small and `Copy`), and the bytes are written out
    /// wherever the entry or the state is serialized (WAL znodes, snapshot chunks).
    Append {
        key: u32,
        value: u64,
        payload_bytes: u32,
    },
    /// Return the whole list stored under `key`.
    Read { key: u32 },
}

/// The largest payload an append may carry (the scenario's `client.value_bytes` is
/// refused above it): 4 MiB, four times ZooKeeper's default `jute.maxbuffer`, so that
/// writes too large for a WAL znode can be asked for and must be refused.
pub const MAX_PAYLOAD_BYTES: u32 = 4 << 20;

/// The payload of an append of `value` with `len` bytes: printable ASCII (so that it
/// is one byte per character in JSON), derived from `value` alone by splitmix64, so a
/// replay and every node produce the same bytes and nothing random is drawn.
pub fn payload_text(value: u64, len: u32) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = Vec::with_capacity(len as usize);
    let mut state = value ^ 0x7061_796c_6f61_6400;
    while out.len() < len as usize {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        for k in 0..10 {
            if out.len() == len as usize {
                break;
            }
            out.push(ALPHABET[((z >> (6 * k)) & 63) as usize]);
        }
    }
    String::from_utf8(out).expect("the alphabet is ASCII")
}

/// The serialized form of [`Op`]: as derived before payloads existed, plus the
/// payload's text when there is one (checked against its value when read back).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum OpWire {
    Append {
        key: u32,
        value: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payload: Option<String>,
    },
    Read {
        key: u32,
    },
}

impl From<Op> for OpWire {
    fn from(op: Op) -> OpWire {
        match op {
            Op::Append {
                key,
                value,
                payload_bytes,
            } => OpWire::Append {
                key,
                value,
                payload: (payload_bytes > 0).then(|| payload_text(value, payload_bytes)),
            },
            Op::Read { key } => OpWire::Read { key },
        }
    }
}

impl TryFrom<OpWire> for Op {
    type Error = String;
    fn try_from(w: OpWire) -> Result<Op, String> {
        Ok(match w {
            OpWire::Append {
                key,
                value,
                payload,
            } => {
                let payload_bytes = payload.as_ref().map_or(0, |p| p.len()) as u32;
                if payload.is_some_and(|p| p != payload_text(value, payload_bytes)) {
                    return Err(format!("the payload of value {value} is not its own"));
                }
                Op::Append {
                    key,
                    value,
                    payload_bytes,
                }
            }
            OpWire::Read { key } => Op::Read { key },
        })
    }
}

/// A client command with its de-duplication identity: `(client, request_id)` is applied
/// at most once by the state machine, however many times it is proposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Command {
    pub client: ClientId,
    /// Strictly increasing per client; a retry reuses the id of the attempt it retries.
    pub request_id: u64,
    pub op: Op,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Payload {
    /// Appended by every new leader so that it can commit entries of earlier terms
    /// (paper §5.4.2, dissertation §3.6.2).
    Noop,
    Command(Command),
}

impl Payload {
    /// A stable 64-bit digest for the checkers (log matching compares payloads).
    pub fn digest(&self) -> u64 {
        match *self {
            Payload::Noop => 0x9e37_79b9_7f4a_7c15,
            Payload::Command(c) => {
                let (tag, a, b, len) = match c.op {
                    Op::Append {
                        key,
                        value,
                        payload_bytes,
                    } => (1u64, key as u64, value, payload_bytes),
                    Op::Read { key } => (2u64, key as u64, 0, 0),
                };
                let mut h = 0xcbf2_9ce4_8422_2325u64;
                for x in [tag, c.client as u64, c.request_id, a, b] {
                    h ^= x;
                    h = h.wrapping_mul(0x0100_0000_01b3).rotate_left(23);
                }
                // The payload is a function of (value, length): its length covers it.
                // Without one the digest is what it always was (pinned hashes).
                if len > 0 {
                    h ^= 0x7061_7931_0000_0000 | len as u64;
                    h = h.wrapping_mul(0x0100_0000_01b3).rotate_left(23);
                }
                h
            }
        }
    }
}

/// One log entry. Small and `Copy`, so logs and messages hold no per-entry heap data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub index: Index,
    pub term: Term,
    pub payload: Payload,
}

/// A snapshot of the state machine after applying every entry up to `last_index`.
/// The state is shared (`Arc`): a snapshot is immutable once taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub last_index: Index,
    pub last_term: Term,
    pub state: Arc<SmState>,
}

impl Snapshot {
    pub fn empty() -> Snapshot {
        Snapshot {
            last_index: 0,
            last_term: 0,
            state: Arc::new(SmState::default()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub from: NodeId,
    pub to: NodeId,
    /// The sender's current term; every receiver steps down on a higher one (§5.1).
    pub term: Term,
    /// The sender's disk epoch: 0 for the disk it was created with, else the term at
    /// which it last recovered from a lost disk. A leader forgets what a follower
    /// acknowledged from an older disk epoch (see `node.rs`, "Disk loss").
    pub disk_epoch: Term,
    pub body: MsgBody,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MsgBody {
    RequestVote {
        last_log_index: Index,
        last_log_term: Term,
    },
    RequestVoteResp {
        granted: bool,
    },
    AppendEntries {
        prev_index: Index,
        prev_term: Term,
        entries: Vec<Entry>,
        leader_commit: Index,
    },
    /// `match_index` is `prev_index + entries.len()` on success; on failure `hint_index`
    /// is the highest index the follower may share with the leader.
    AppendEntriesResp {
        success: bool,
        match_index: Index,
        hint_index: Index,
    },
    InstallSnapshot {
        snapshot: Snapshot,
    },
    InstallSnapshotResp {
        match_index: Index,
    },
    /// Sent by a node that came back with an empty disk (see `node.rs`, "Disk loss").
    RecoveryRequest,
    /// The responder's durable log: its snapshot and the entries after it.
    RecoveryResp {
        snapshot: Snapshot,
        entries: Vec<Entry>,
    },
}

impl MsgBody {
    pub fn kind(&self) -> &'static str {
        match self {
            MsgBody::RequestVote { .. } => "RequestVote",
            MsgBody::RequestVoteResp { .. } => "RequestVoteResp",
            MsgBody::AppendEntries { .. } => "AppendEntries",
            MsgBody::AppendEntriesResp { .. } => "AppendEntriesResp",
            MsgBody::InstallSnapshot { .. } => "InstallSnapshot",
            MsgBody::InstallSnapshotResp { .. } => "InstallSnapshotResp",
            MsgBody::RecoveryRequest => "RecoveryRequest",
            MsgBody::RecoveryResp { .. } => "RecoveryResp",
        }
    }
}
