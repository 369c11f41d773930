//! Persistence before acknowledgement (DESIGN.md §5: nothing is acknowledged before it
//! is durable), checked on each Raft message as it leaves its sender, against the
//! sender's durable disk at that moment:
//! - an AppendEntries or InstallSnapshot success naming index m leaves only if the
//!   disk holds the entry at m (or a snapshot past it), of the same term as the
//!   sender's log has there (by log matching, the whole prefix then agrees);
//! - a vote grant in term T leaves only if the disk holds term T with that vote (or a
//!   later term);
//! - a recovery answer (the sender's log, for a node that lost its disk) leaves only
//!   if the disk holds the last entry it sends.
//!
//! Ignores: a reply whose sender has moved to another term (or, for a recovery
//! answer, no longer holds that entry) since it made the reply, because what it named
//! can then no longer be read from its log; refusals (they promise nothing); and the
//! WAL variants' acknowledgements that depend on a ZooKeeper write (checked by those
//! variants' cores).

use zkwal_raft::{DurableState, Index, Message, MsgBody, RaftNode};

use super::Violation;

pub const NAME: &str = "durable_before_ack";

#[derive(Default)]
pub struct DurableBeforeAck;

impl DurableBeforeAck {
    pub fn on_send(
        &mut self,
        node: &RaftNode,
        disk: &DurableState,
        msg: &Message,
    ) -> Result<(), Violation> {
        let bad = match &msg.body {
            MsgBody::AppendEntriesResp {
                success: true,
                match_index,
                ..
            } => acked_index(node, disk, msg, *match_index),
            MsgBody::InstallSnapshotResp { match_index } if *match_index > 0 => {
                acked_index(node, disk, msg, *match_index)
            }
            MsgBody::RequestVoteResp { granted: true } => {
                let hard = &disk.hard;
                if hard.term > msg.term || (hard.term == msg.term && hard.voted_for == Some(msg.to))
                {
                    None
                } else {
                    Some(format!(
                        "its disk holds term {} and vote {:?}",
                        hard.term, hard.voted_for
                    ))
                }
            }
            MsgBody::RecoveryResp { snapshot, entries } => {
                let (index, term) = entries
                    .last()
                    .map_or((snapshot.last_index, snapshot.last_term), |e| {
                        (e.index, e.term)
                    });
                let on_disk =
                    index <= disk.log.snapshot_index() || disk.log.term_at(index) == Some(term);
                let in_memory = node.log().term_at(index) == Some(term);
                if on_disk || !in_memory {
                    None
                } else {
                    Some(format!(
                        "it sends its log up to ({index}, term {term}) but its disk holds {}",
                        disk_view(disk, index)
                    ))
                }
            }
            _ => None,
        };
        bad.map_or(Ok(()), |why| {
            Err(Violation::new(
                NAME,
                format!(
                    "node {} sent {} (term {}) to {}: {why}",
                    msg.from,
                    describe(&msg.body),
                    msg.term,
                    msg.to
                ),
            ))
        })
    }
}

/// Why an acknowledgement of `index` is not backed by the disk, if it is not.
fn acked_index(
    node: &RaftNode,
    disk: &DurableState,
    msg: &Message,
    index: Index,
) -> Option<String> {
    if node.term() != msg.term || index <= disk.log.snapshot_index() {
        return None;
    }
    match (disk.log.term_at(index), node.log().term_at(index)) {
        (None, _) => Some(format!("its disk holds {}", disk_view(disk, index))),
        (Some(d), Some(m)) if d != m => Some(format!(
            "its disk holds term {d} at {index}, its log term {m}"
        )),
        _ => None,
    }
}

fn disk_view(disk: &DurableState, index: Index) -> String {
    format!(
        "entries up to {} (snapshot {}), term {:?} at {index}",
        disk.log.last_index(),
        disk.log.snapshot_index(),
        disk.log.term_at(index)
    )
}

fn describe(body: &MsgBody) -> String {
    match body {
        MsgBody::AppendEntriesResp { match_index, .. } => {
            format!("AppendEntriesResp success up to {match_index}")
        }
        MsgBody::InstallSnapshotResp { match_index } => {
            format!("InstallSnapshotResp up to {match_index}")
        }
        MsgBody::RequestVoteResp { .. } => "a vote grant".to_string(),
        other => other.kind().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use zkwal_raft::{
        Config, DurableState, Entry, HardState, Message, MsgBody, Output, Payload, RaftNode, Write,
    };

    fn msg(term: u64, body: MsgBody) -> Message {
        Message {
            from: 1,
            to: 0,
            term,
            disk_epoch: 0,
            body,
        }
    }

    fn entries(from: u64, to: u64, term: u64) -> Vec<Entry> {
        (from..=to)
            .map(|index| Entry {
                index,
                term,
                payload: Payload::Noop,
            })
            .collect()
    }

    /// Node 1 receives entries 1..=3 of term 2 from leader 0; returns it with its
    /// disk before and after the writes that input issued.
    fn follower_with_pending_append() -> (RaftNode, DurableState, DurableState) {
        let disk = DurableState::bootstrap();
        let mut node = RaftNode::new(Config::new(1, vec![0, 1, 2]), &disk, 0, 0);
        let append = MsgBody::AppendEntries {
            prev_index: 0,
            prev_term: 0,
            entries: entries(1, 3, 2),
            leader_commit: 0,
        };
        node.step(
            1,
            Message {
                from: 0,
                to: 1,
                ..msg(2, append)
            },
        );
        let mut after = disk.clone();
        while let Some(o) = node.poll_output() {
            if let Output::Persist { write, .. } = o {
                after.apply(&write);
            }
        }
        (node, disk, after)
    }

    fn ack(term: u64, match_index: u64) -> Message {
        msg(
            term,
            MsgBody::AppendEntriesResp {
                success: true,
                match_index,
                hint_index: 0,
            },
        )
    }

    #[test]
    fn an_append_acknowledged_before_it_is_durable_is_caught() {
        let (node, before, after) = follower_with_pending_append();
        let mut c = super::DurableBeforeAck;
        assert_eq!(
            c.on_send(&node, &before, &ack(2, 3)).unwrap_err().invariant,
            super::NAME
        );
        assert!(c.on_send(&node, &after, &ack(2, 3)).is_ok());
        assert!(
            c.on_send(&node, &before, &ack(2, 0)).is_ok(),
            "names nothing"
        );
        let refusal = msg(
            2,
            MsgBody::AppendEntriesResp {
                success: false,
                match_index: 0,
                hint_index: 0,
            },
        );
        assert!(c.on_send(&node, &before, &refusal).is_ok());
        // A stale entry of another term at that index on disk does not count.
        let mut stale = before.clone();
        stale.apply(&Write::Append {
            entries: entries(1, 3, 1),
        });
        assert!(c.on_send(&node, &stale, &ack(2, 3)).is_err());
    }

    #[test]
    fn a_vote_granted_before_it_is_durable_is_caught() {
        let mut c = super::DurableBeforeAck;
        let node = RaftNode::new(
            Config::new(1, vec![0, 1, 2]),
            &DurableState::bootstrap(),
            0,
            0,
        );
        let grant = msg(4, MsgBody::RequestVoteResp { granted: true });
        let mut disk = DurableState::bootstrap();
        let hard = |term, voted_for| HardState {
            term,
            voted_for,
            commit: 0,
            initialized: true,
            disk_epoch: 0,
        };
        disk.hard = hard(3, Some(2));
        assert!(
            c.on_send(&node, &disk, &grant).is_err(),
            "older term on disk"
        );
        disk.hard = hard(4, None);
        assert!(c.on_send(&node, &disk, &grant).is_err(), "vote not on disk");
        disk.hard = hard(4, Some(0));
        assert!(c.on_send(&node, &disk, &grant).is_ok());
        let refusal = msg(4, MsgBody::RequestVoteResp { granted: false });
        disk.hard = hard(1, None);
        assert!(c.on_send(&node, &disk, &refusal).is_ok());
    }
}
