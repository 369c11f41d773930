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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Op {
    /// Append `value` to the list stored under `key`.
    Append { key: u32, value: u64 },
    /// Return the whole list stored under `key`.
    Read { key: u32 },
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
                let (tag, a, b) = match c.op {
                    Op::Append { key, value } => (1u64, key as u64, value),
                    Op::Read { key } => (2u64, key as u64, 0),
                };
                let mut h = 0xcbf2_9ce4_8422_2325u64;
                for x in [tag, c.client as u64, c.request_id, a, b] {
                    h ^= x;
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
