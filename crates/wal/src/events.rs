//! Typed events of the WAL layer, for the checkers in `invariants/src/wal/`.

use zkwal_raft::{Index, NodeId, Term};

use crate::situation::Situation;

/// What a node's WAL layer did. `epoch` is the leadership the node acted under: the
/// ZooKeeper epoch in `fenced`, the Raft term in every other variant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WalEvent {
    /// ZooKeeper confirmed a WAL append at `path` (step A).
    WalAppended {
        node: NodeId,
        epoch: u64,
        path: String,
        index: Index,
        term: Term,
        digest: u64,
    },
    /// The node answered a client's write ok (step F). `wal_path` is where the variant
    /// says the entry must be durable (None: Raft's majority is the only rule).
    Acked {
        node: NodeId,
        epoch: u64,
        index: Index,
        term: Term,
        digest: u64,
        wal_path: Option<String>,
    },
    /// An entry read from a WAL in ZooKeeper entered this node's log (step [3] or [4]).
    Recovered {
        node: NodeId,
        wal: String,
        index: Index,
        term: Term,
        digest: u64,
    },
    /// A fenced takeover bumped the epoch to `epoch`.
    Fenced { node: NodeId, epoch: u64 },
    /// A snapshot up to `index` was published and the WAL truncated, atomically.
    Published {
        node: NodeId,
        index: Index,
        bytes: u64,
    },
    /// The leader stepped down: `why` is "pause monitor", "fenced" or "session lost".
    SteppedDown { node: NodeId, why: &'static str },
    /// `zk.client_expiry = curator`: the node took its ZooKeeper session as gone
    /// (Curator's LOST) and opened a new one; `by_client` when the client's own timer
    /// decided it (the service may still hold the session), not the service.
    SessionLost { node: NodeId, by_client: bool },
    /// A blank node's recovery read (step [4]) began: its first request to ZooKeeper
    /// leaves the node in the input that emits this event.
    BlankReadStarted { node: NodeId },
    /// A blank node adopted what its recovery read assembled: `term` is the Raft term
    /// it recovered in; the log is the snapshot up to `snapshot_index` (at
    /// `snapshot_term`) and `entries`, each `(index, term, payload digest)`.
    BlankRecovered {
        node: NodeId,
        term: Term,
        snapshot_index: Index,
        snapshot_term: Term,
        entries: Vec<(Index, Term, u64)>,
    },
    /// fenced: ZooKeeper answered one of this node's epoch-checked writes with a failed
    /// check (op 0 of the multi): `/epoch` has moved past `checked`, the epoch the write
    /// was made under. `leading` is the epoch the node held when the answer arrived
    /// (0: none), before it reacted.
    EpochCheckFailed {
        node: NodeId,
        checked: u64,
        leading: u64,
    },
    /// A takeover (fenced) or failover read began: the world checks whether the
    /// node's ZooKeeper server lags at that moment ([`Situation::TakeoverReadOnLaggingServer`]).
    TakeoverReadStarted { node: NodeId },
    /// The node reached a named situation it alone can see (the checkers ignore it:
    /// it is evidence of coverage, not a rule).
    Reached { node: NodeId, situation: Situation },
}
