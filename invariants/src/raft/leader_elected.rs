//! Leaders that never won: a node acts as leader of term T only if it won the election
//! of term T in its current incarnation (the core reported `BecameLeader { term: T }`).
//! "Acts as leader" is having the leader role in term T after an input, or sending an
//! AppendEntries or InstallSnapshot stamped with term T. So a leader that adopts a
//! higher term and keeps leading, or a node that restarts as leader, is named here
//! instead of through what it breaks later.
//! Ignores: whether the election itself was sound (how votes were counted is the
//! variant's quorum rule; two winners of one term are `election_safety`).

use std::collections::BTreeMap;

use zkwal_raft::{Message, MsgBody, NodeId, RaftNode, Role, Term};

use super::Violation;

pub const NAME: &str = "leader_elected";

#[derive(Default)]
pub struct LeaderElected {
    /// Terms each node won in its current incarnation, in increasing order.
    won: BTreeMap<NodeId, Vec<Term>>,
}

impl LeaderElected {
    pub fn on_start(&mut self, node: NodeId) {
        self.won.remove(&node);
    }

    pub fn on_won(&mut self, node: NodeId, term: Term) {
        self.won.entry(node).or_default().push(term);
    }

    fn has_won(&self, node: NodeId, term: Term) -> bool {
        self.won
            .get(&node)
            .is_some_and(|terms| terms.iter().rev().any(|&t| t == term))
    }

    pub fn after_step(&mut self, node: &RaftNode) -> Result<(), Violation> {
        let id = node.id();
        if node.role() != Role::Leader {
            return Ok(());
        }
        let last = self.won.get(&id).and_then(|t| t.last().copied());
        if last == Some(node.term()) {
            return Ok(());
        }
        Err(Violation::new(
            NAME,
            format!(
                "node {id} is leader in term {} but won no election in it (last won: {last:?})",
                node.term()
            ),
        ))
    }

    /// A message leaves `node`. A leader in the message's term is checked by
    /// `after_step` at the end of this input (when this input's events are seen).
    pub fn on_send(&mut self, node: &RaftNode, msg: &Message) -> Result<(), Violation> {
        if !matches!(
            msg.body,
            MsgBody::AppendEntries { .. } | MsgBody::InstallSnapshot { .. }
        ) {
            return Ok(());
        }
        if node.role() == Role::Leader && node.term() == msg.term {
            return Ok(());
        }
        if self.has_won(node.id(), msg.term) {
            return Ok(());
        }
        Err(Violation::new(
            NAME,
            format!(
                "node {} sent {} to {} in term {} without having won that term",
                msg.from,
                msg.body.kind(),
                msg.to,
                msg.term
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use zkwal_raft::{Config, DurableState, Message, MsgBody, RaftNode, Snapshot};

    fn heartbeat(term: u64) -> Message {
        Message {
            from: 0,
            to: 1,
            term,
            disk_epoch: 0,
            body: MsgBody::AppendEntries {
                prev_index: 0,
                prev_term: 0,
                entries: Vec::new(),
                leader_commit: 0,
            },
        }
    }

    #[test]
    fn sending_as_leader_of_a_term_not_won_is_caught() {
        let mut c = super::LeaderElected::default();
        let node = RaftNode::new(
            Config::new(0, vec![0, 1, 2]),
            &DurableState::bootstrap(),
            0,
            0,
        );
        assert!(c.after_step(&node).is_ok(), "a follower");
        assert!(c.on_send(&node, &heartbeat(3)).is_err(), "never won term 3");
        c.on_won(0, 3);
        assert!(
            c.on_send(&node, &heartbeat(3)).is_ok(),
            "a late message of term 3"
        );
        c.on_won(0, 5);
        assert!(c.on_send(&node, &heartbeat(3)).is_ok());
        assert!(
            c.on_send(&node, &heartbeat(4)).is_err(),
            "adopted term 4, never won it"
        );
        let snapshot = Message {
            body: MsgBody::InstallSnapshot {
                snapshot: Snapshot::empty(),
            },
            ..heartbeat(6)
        };
        assert!(c.on_send(&node, &snapshot).is_err());
        c.on_start(0);
        assert!(
            c.on_send(&node, &heartbeat(5)).is_err(),
            "won in an earlier life"
        );
    }

    #[test]
    fn a_leader_role_in_a_term_not_won_is_caught() {
        // A group of one elects itself once its vote is durable.
        let mut node = RaftNode::new(Config::new(0, vec![0]), &DurableState::bootstrap(), 0, 0);
        node.tick(1_000, 0);
        while node.poll_output().is_some() {}
        node.persisted(1_001, 1);
        assert_eq!(node.role(), zkwal_raft::Role::Leader);
        let mut c = super::LeaderElected::default();
        assert_eq!(c.after_step(&node).unwrap_err().invariant, super::NAME);
        c.on_won(0, node.term() - 1);
        assert!(c.after_step(&node).is_err(), "won an older term only");
        c.on_won(0, node.term());
        assert!(c.after_step(&node).is_ok());
    }
}
