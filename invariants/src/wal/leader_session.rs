//! A leader never runs on an expired ZooKeeper session. When the service expires a
//! session it deletes the session's ephemerals, `/leader` among them, and that is what
//! starts a failover or takeover elsewhere (step [3]); the expired handle can do
//! nothing more (every call fails with SessionExpired). So a node that is Raft leader
//! must, by the end of the input in which its client learns the session expired, have
//! opened a new session (and then records `/leader` again, epoch-checked in `fenced`,
//! which fails if a takeover fenced it) or have stepped down. A leader that goes on
//! with the dead handle can never write its WAL again, yet keeps its followers from
//! campaigning with heartbeats: the group is stuck until something else deposes it.
//!
//! The bound is counted from when the node learns of the expiry, and it is zero:
//! reacting needs no I/O. It is not counted from the service's expiry (the world's
//! `SessionExpired` notice): like ZooKeeper's Java client, a client learns that its
//! session expired only from a server's answer to its reconnection, which a node
//! paused, or cut off from every server, cannot get for as long as that lasts; no
//! option bounds that time, and flagging it would flag what no implementation can
//! avoid. (After its read timeout, 2/3 of `session_timeout_ms`, the client is
//! Disconnected and reconnects; the service expires the session `session_timeout_ms`
//! after its last contact, rounded up to its tick, so a node that can reach a server
//! learns it within about one connection round trip of that.)
//!
//! With `zk.client_expiry = curator` a session the client itself gave up (`Lost`,
//! Curator's LOST) counts as expired here: the handle is as dead.
//!
//! Ignores: followers and candidates (they hold no leadership to give up), and the
//! time a leader spends Disconnected before the expiry is known (its writes then wait
//! or fail; `acked_in_wal` and the fence judge what they do).

use super::NodeView;
use crate::raft::Violation;

pub const NAME: &str = "leader_session";

/// After every input of `v.node`.
pub fn after_step(v: &NodeView) -> Result<(), Violation> {
    match v.leader_term {
        Some(term) if v.session_expired => Err(Violation::new(
            NAME,
            format!(
                "node {} is still leader of term {term} on a ZooKeeper session it knows expired",
                v.node
            ),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leader_on_an_expired_session_is_caught() {
        let mut v = NodeView {
            node: 1,
            leader_term: Some(3),
            epoch: 2,
            session_expired: true,
        };
        assert_eq!(after_step(&v).unwrap_err().invariant, NAME);
        v.leader_term = None;
        assert!(after_step(&v).is_ok());
        v.leader_term = Some(3);
        v.session_expired = false;
        assert!(after_step(&v).is_ok());
    }
}
