//! `zkwal-raft`: a sans-IO Raft core.
//!
//! The core never touches a clock, a socket, a disk or a random number generator.
//! The driver (the simulator, later a real server) hands it inputs, each carrying
//! the current virtual time `now_ms`:
//! - [`RaftNode::step`] for a message from a peer,
//! - [`RaftNode::tick`] when the deadline returned by [`RaftNode::deadline_ms`] is reached
//!   (with the next election jitter, drawn by the driver),
//! - [`RaftNode::persisted`] when a storage write it asked for is durable,
//! - [`RaftNode::propose`] for a client command;
//!
//! and polls outputs with [`RaftNode::poll_output`]: storage writes to make durable (in
//! order), messages to send, and applied commands. A message that depends on state
//! not yet durable (a vote, an AppendEntries acknowledgement) is held inside the core
//! until every write issued before it is durable, so a driver cannot send it too early.
//!
//! Choices the paper leaves open are written next to the code that makes them; the
//! main ones: reads go through the log (no lease or ReadIndex); a snapshot is sent whole
//! in one message; a node that lost its disk ("wiped") recovers through the
//! [`Message::RecoveryRequest`] protocol before it may vote again (see `node.rs`).

mod log;
mod node;
mod state_machine;
mod storage;
mod types;

pub use log::Log;
pub use node::{CommitRule, Config, Event, NotLeader, Output, RaftNode, Role};
pub use state_machine::{ClientReply, SmState, StateMachine};
pub use storage::{DurableState, HardState, Write, WriteId};
pub use types::{
    payload_text, ClientId, Command, Entry, Index, Message, MsgBody, NodeId, Op, OpWire, Payload,
    Snapshot, Term, MAX_PAYLOAD_BYTES,
};
