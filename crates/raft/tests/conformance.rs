//! Conformance tests of the Raft core, each citing the rule of the Raft paper
//! ("In Search of an Understandable Consensus Algorithm", extended version) or the
//! dissertation it checks. The node is driven by hand: messages in, outputs out,
//! storage completions acknowledged explicitly.

use zkwal_raft::{
    ClientReply, Command, Config, DurableState, Entry, Event, HardState, Log, Message, MsgBody, Op,
    Output, Payload, RaftNode, Role, Snapshot, Write,
};

fn cfg(id: u32, n: u32) -> Config {
    let mut c = Config::new(id, (0..n).collect());
    c.election_timeout_ms_min = 100;
    c.heartbeat_interval_ms = 20;
    c
}

fn cmd(client: u32, request_id: u64, value: u64) -> Command {
    Command {
        client,
        request_id,
        op: Op::Append {
            key: 0,
            value,
            payload_bytes: 0,
        },
    }
}

fn entry(index: u64, term: u64) -> Entry {
    Entry {
        index,
        term,
        payload: Payload::Command(cmd(9, index, index)),
    }
}

fn durable(term: u64, voted_for: Option<u32>, log: Vec<Entry>, commit: u64) -> DurableState {
    DurableState {
        hard: HardState {
            term,
            voted_for,
            commit,
            initialized: true,
            disk_epoch: 0,
        },
        log: Log::new(Snapshot::empty(), log),
    }
}

/// Drains outputs; storage writes are applied to `disk` and acknowledged at once
/// unless `hold_writes`, in which case they are returned unacknowledged.
struct Harness {
    node: RaftNode,
    disk: DurableState,
    now: u64,
    sent: Vec<Message>,
    applied: Vec<(u64, ClientReply)>,
    pending_writes: Vec<(u64, Write)>,
    hold_writes: bool,
}

impl Harness {
    fn new(id: u32, n: u32, disk: DurableState) -> Harness {
        let node = RaftNode::new(cfg(id, n), &disk, 0, 0);
        let mut h = Harness {
            node,
            disk,
            now: 0,
            sent: vec![],
            applied: vec![],
            pending_writes: vec![],
            hold_writes: false,
        };
        h.pump();
        h
    }

    fn pump(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(o) = self.node.poll_output() {
                progressed = true;
                match o {
                    Output::Persist { id, write } => self.pending_writes.push((id, write)),
                    Output::Send(m) => self.sent.push(m),
                    Output::Applied { index, reply, .. } => self.applied.push((index, reply)),
                }
            }
            if !self.hold_writes && !self.pending_writes.is_empty() {
                let writes = std::mem::take(&mut self.pending_writes);
                let last = writes.last().unwrap().0;
                for (_, w) in &writes {
                    self.disk.apply(w);
                }
                self.node.persisted(self.now, last);
                progressed = true;
            }
            if !progressed {
                break;
            }
        }
    }

    fn step(&mut self, from: u32, term: u64, body: MsgBody) {
        let to = self.node.id();
        self.node.step(
            self.now,
            Message {
                from,
                to,
                term,
                disk_epoch: 0,
                body,
            },
        );
        self.pump();
    }

    fn take_sent(&mut self) -> Vec<Message> {
        std::mem::take(&mut self.sent)
    }

    fn elect(&mut self) {
        self.now = self.node.deadline_ms();
        self.node.tick(self.now, 0);
        self.pump();
        let reqs = self.take_sent();
        let term = self.node.term();
        for m in reqs {
            if matches!(m.body, MsgBody::RequestVote { .. }) {
                self.step(m.to, term, MsgBody::RequestVoteResp { granted: true });
            }
        }
        assert_eq!(self.node.role(), Role::Leader);
    }
}

fn append(prev: (u64, u64), entries: Vec<Entry>, commit: u64) -> MsgBody {
    MsgBody::AppendEntries {
        prev_index: prev.0,
        prev_term: prev.1,
        entries,
        leader_commit: commit,
    }
}

fn last_append_resp(msgs: &[Message]) -> (bool, u64) {
    msgs.iter()
        .rev()
        .find_map(|m| match m.body {
            MsgBody::AppendEntriesResp {
                success,
                match_index,
                ..
            } => Some((success, match_index)),
            _ => None,
        })
        .expect("an AppendEntries response")
}

/// §5.2 and Figure 2 (RequestVote, receiver rule 2): one vote per term, first come first served.
#[test]
fn votes_at_most_once_per_term() {
    let mut h = Harness::new(0, 3, durable(1, None, vec![], 0));
    h.step(
        1,
        2,
        MsgBody::RequestVote {
            last_log_index: 0,
            last_log_term: 0,
        },
    );
    h.step(
        2,
        2,
        MsgBody::RequestVote {
            last_log_index: 0,
            last_log_term: 0,
        },
    );
    let grants: Vec<(u32, bool)> = h
        .take_sent()
        .iter()
        .filter_map(|m| match m.body {
            MsgBody::RequestVoteResp { granted } => Some((m.to, granted)),
            _ => None,
        })
        .collect();
    assert_eq!(grants, vec![(1, true), (2, false)]);
    assert_eq!(h.disk.hard.voted_for, Some(1), "the vote is durable");
}

/// Figure 2 ("persistent state ... updated on stable storage before responding to
/// RPCs"): the vote grant does not leave before the term and vote are durable, and
/// both are in one write (classic mistake 3).
#[test]
fn vote_is_durable_before_the_grant_leaves() {
    let mut h = Harness::new(0, 3, durable(1, None, vec![], 0));
    h.hold_writes = true;
    h.step(
        1,
        2,
        MsgBody::RequestVote {
            last_log_index: 0,
            last_log_term: 0,
        },
    );
    assert!(
        h.take_sent().is_empty(),
        "nothing sent before the write is durable"
    );
    let writes = std::mem::take(&mut h.pending_writes);
    assert!(matches!(
        writes.as_slice(),
        [(
            _,
            Write::HardState(HardState {
                term: 2,
                voted_for: Some(1),
                ..
            })
        )]
    ));
    h.node.persisted(0, writes[0].0);
    h.hold_writes = false;
    h.pump();
    assert!(h
        .take_sent()
        .iter()
        .any(|m| m.body == MsgBody::RequestVoteResp { granted: true }));
}

/// §5.4.1: a vote goes only to a candidate whose log is at least as up to date
/// (last term first, then last index).
#[test]
fn refuses_vote_to_a_less_up_to_date_candidate() {
    let log = vec![entry(1, 1), entry(2, 2)];
    let mut h = Harness::new(0, 3, durable(2, None, log, 0));
    // Longer log but older last term: refused.
    h.step(
        1,
        3,
        MsgBody::RequestVote {
            last_log_index: 5,
            last_log_term: 1,
        },
    );
    // Same last term, shorter: refused.
    h.step(
        2,
        4,
        MsgBody::RequestVote {
            last_log_index: 1,
            last_log_term: 2,
        },
    );
    // Same last term, same length: granted.
    h.step(
        1,
        5,
        MsgBody::RequestVote {
            last_log_index: 2,
            last_log_term: 2,
        },
    );
    let grants: Vec<bool> = h
        .take_sent()
        .iter()
        .filter_map(|m| match m.body {
            MsgBody::RequestVoteResp { granted } => Some(granted),
            _ => None,
        })
        .collect();
    assert_eq!(grants, vec![false, false, true]);
}

/// §5.3 (AppendEntries receiver rule 2): reject when the log has no entry at
/// prevLogIndex with prevLogTerm.
#[test]
fn append_entries_consistency_check() {
    let mut h = Harness::new(0, 3, durable(2, None, vec![entry(1, 1), entry(2, 1)], 0));
    h.step(1, 2, append((2, 2), vec![entry(3, 2)], 0));
    assert_eq!(last_append_resp(&h.take_sent()), (false, 0));
    h.step(1, 2, append((5, 2), vec![], 0));
    assert_eq!(last_append_resp(&h.take_sent()), (false, 0));
    h.step(1, 2, append((2, 1), vec![entry(3, 2)], 0));
    assert_eq!(last_append_resp(&h.take_sent()), (true, 3));
    assert_eq!(h.node.log().last_index(), 3);
}

/// §5.3 (receiver rule 3): "if an existing entry conflicts with a new one (same index
/// but different terms), delete the existing entry and all that follow it" — only
/// then. A stale or duplicate AppendEntries whose entries already match truncates
/// nothing (classic mistake 5).
#[test]
fn duplicate_append_entries_never_truncates() {
    let mut h = Harness::new(0, 3, durable(2, None, vec![], 0));
    h.step(
        1,
        2,
        append((0, 0), vec![entry(1, 2), entry(2, 2), entry(3, 2)], 0),
    );
    assert_eq!(h.node.log().last_index(), 3);
    // A delayed copy of an earlier, shorter message.
    h.step(1, 2, append((0, 0), vec![entry(1, 2)], 0));
    assert_eq!(
        h.node.log().last_index(),
        3,
        "entries 2 and 3 survive the stale message"
    );
    assert_eq!(last_append_resp(&h.take_sent()), (true, 1));
}

/// §5.3 (receiver rule 3) with a real conflict: the conflicting suffix goes, the new
/// entries take its place (classic mistake 6).
#[test]
fn conflicting_suffix_is_replaced() {
    let mut h = Harness::new(
        0,
        3,
        durable(2, None, vec![entry(1, 1), entry(2, 1), entry(3, 1)], 1),
    );
    h.step(1, 3, append((1, 1), vec![entry(2, 3)], 1));
    let log = h.node.log();
    assert_eq!(log.last_index(), 2);
    assert_eq!(log.term_at(2), Some(3));
    assert_eq!(
        h.disk.log.entries().len(),
        2,
        "the durable log was truncated too"
    );
    assert_eq!(h.disk.log.entries()[1].term, 3);
}

/// Figure 2 (receiver rule 5): commitIndex = min(leaderCommit, index of last new
/// entry) — a heartbeat cannot commit entries it did not verify (classic mistake 7),
/// and the commit index never goes back (mistake 13).
#[test]
fn commit_index_is_capped_at_the_verified_prefix() {
    let mut h = Harness::new(
        0,
        3,
        durable(2, None, vec![entry(1, 1), entry(2, 1), entry(3, 1)], 0),
    );
    // Leader of term 2 whose log diverges after index 1: heartbeat with prev (1, 1).
    h.step(1, 2, append((1, 1), vec![], 3));
    assert_eq!(h.node.commit_index(), 1, "only index 1 is verified");
    h.step(1, 2, append((3, 1), vec![], 3));
    assert_eq!(h.node.commit_index(), 3);
    h.step(1, 2, append((1, 1), vec![], 1));
    assert_eq!(
        h.node.commit_index(),
        3,
        "an old message does not move commit back"
    );
}

/// §5.4.2 and Figure 8: a leader never commits an entry of an earlier term by counting
/// replicas; it commits its own no-op, which commits the earlier entries with it.
#[test]
fn leader_does_not_commit_old_term_entries_by_counting_replicas() {
    let mut h = Harness::new(0, 3, durable(2, None, vec![entry(1, 1), entry(2, 2)], 0));
    h.elect(); // term 3, no-op at index 3
    assert_eq!(h.node.log().term_at(3), Some(3));
    let term = h.node.term();
    // A follower acknowledges index 2 only (it has the old entries, not the no-op).
    h.step(
        1,
        term,
        MsgBody::AppendEntriesResp {
            success: true,
            match_index: 2,
            hint_index: 0,
        },
    );
    assert_eq!(
        h.node.commit_index(),
        0,
        "index 2 is on a majority but of term 2"
    );
    h.step(
        1,
        term,
        MsgBody::AppendEntriesResp {
            success: true,
            match_index: 3,
            hint_index: 0,
        },
    );
    assert_eq!(h.node.commit_index(), 3);
}

/// §5.1: a server that sees a higher term in any message, replies included, steps
/// down (classic mistake 9); replies of older terms are ignored (mistake 10).
#[test]
fn leader_steps_down_on_higher_term_reply_and_ignores_stale_ones() {
    let mut h = Harness::new(0, 3, durable(1, None, vec![], 0));
    h.elect();
    let term = h.node.term();
    h.step(
        1,
        term - 1,
        MsgBody::AppendEntriesResp {
            success: true,
            match_index: 99,
            hint_index: 0,
        },
    );
    assert_eq!(h.node.role(), Role::Leader);
    assert_eq!(h.node.commit_index(), 0, "a stale reply counts for nothing");
    h.step(
        2,
        term + 5,
        MsgBody::AppendEntriesResp {
            success: false,
            match_index: 0,
            hint_index: 0,
        },
    );
    assert_eq!(h.node.role(), Role::Follower);
    assert_eq!(h.node.term(), term + 5);
    assert_eq!(h.disk.hard.term, term + 5, "the new term is durable");
}

/// Classic mistake 12: matchIndex and nextIndex never regress on reordered replies.
#[test]
fn match_index_never_regresses_on_reordered_replies() {
    let mut h = Harness::new(0, 3, durable(1, None, vec![], 0));
    h.elect();
    let term = h.node.term();
    for v in 0..3 {
        h.node.propose(h.now, cmd(1, v + 1, v)).unwrap();
        h.pump();
    }
    h.step(
        1,
        term,
        MsgBody::AppendEntriesResp {
            success: true,
            match_index: 4,
            hint_index: 0,
        },
    );
    assert_eq!(h.node.commit_index(), 4);
    // An old reply arrives late, then a stale rejection.
    h.step(
        1,
        term,
        MsgBody::AppendEntriesResp {
            success: true,
            match_index: 2,
            hint_index: 0,
        },
    );
    h.step(
        1,
        term,
        MsgBody::AppendEntriesResp {
            success: false,
            match_index: 0,
            hint_index: 0,
        },
    );
    let sent = h.take_sent();
    // The retry after the stale rejection starts after the acknowledged prefix.
    let retry = sent
        .iter()
        .rev()
        .find(|m| m.to == 1 && matches!(m.body, MsgBody::AppendEntries { .. }))
        .unwrap();
    match &retry.body {
        MsgBody::AppendEntries { prev_index, .. } => {
            assert!(*prev_index >= 4, "prev {prev_index} regressed")
        }
        _ => unreachable!(),
    }
    assert_eq!(h.node.commit_index(), 4);
}

/// Dissertation §6.3: the state machine applies each client request id at most once;
/// a duplicate gets the first reply.
#[test]
fn duplicate_request_is_applied_once() {
    let mut h = Harness::new(0, 1, durable(1, None, vec![], 0));
    h.elect();
    h.node.propose(h.now, cmd(7, 1, 42)).unwrap();
    h.node.propose(h.now, cmd(7, 1, 42)).unwrap();
    h.pump();
    assert_eq!(h.node.state_machine().state.lists.get(&0), Some(&vec![42]));
    assert_eq!(
        h.applied.len(),
        2,
        "both entries are applied, the second as a duplicate"
    );
    assert!(h.applied.iter().all(|(_, r)| *r == ClientReply::Appended));
}

/// §7: a snapshot behind the follower's commit index changes nothing (classic mistake 14);
/// a newer one whose last entry matches keeps the entries after it.
#[test]
fn install_snapshot_rules() {
    let mut h = Harness::new(
        0,
        3,
        durable(2, None, (1..=6).map(|i| entry(i, 2)).collect(), 4),
    );
    let state = h.node.state_machine().state.clone();
    let old = Snapshot {
        last_index: 3,
        last_term: 2,
        state: std::sync::Arc::new(state.clone()),
    };
    h.step(1, 2, MsgBody::InstallSnapshot { snapshot: old });
    assert_eq!(h.node.log().last_index(), 6);
    assert_eq!(h.node.log().snapshot_index(), 0);
    let newer = Snapshot {
        last_index: 5,
        last_term: 2,
        state: std::sync::Arc::new(state),
    };
    h.step(1, 2, MsgBody::InstallSnapshot { snapshot: newer });
    assert_eq!(h.node.log().snapshot_index(), 5);
    assert_eq!(
        h.node.log().last_index(),
        6,
        "entry 6 follows the snapshot and is kept"
    );
    assert_eq!(h.node.commit_index(), 5);
    assert_eq!(h.disk.log.snapshot_index(), 5);
    assert_eq!(h.disk.log.entries().len(), 1);
}

/// §5.1/§5.6: a restarted node rebuilds everything from durable state only; its state
/// machine is replayed up to the durable commit index; unsynced writes are gone.
#[test]
fn restart_from_durable_state_only() {
    let mut h = Harness::new(0, 1, durable(1, None, vec![], 0));
    h.elect();
    h.node.propose(h.now, cmd(1, 1, 10)).unwrap();
    h.pump();
    h.hold_writes = true;
    h.node.propose(h.now, cmd(1, 2, 11)).unwrap();
    h.pump();
    assert!(
        !h.pending_writes.is_empty(),
        "the second append is not durable"
    );
    let restarted = RaftNode::new(cfg(0, 1), &h.disk, 1_000, 0);
    assert_eq!(restarted.term(), h.node.term());
    assert_eq!(
        restarted.log().last_index(),
        2,
        "no-op and the first append survive"
    );
    assert_eq!(
        restarted.state_machine().state.lists.get(&0),
        Some(&vec![10])
    );
    assert_eq!(restarted.role(), Role::Follower);
}

/// A group of one becomes leader only once its own vote is durable (otherwise a crash
/// could let it lead the same term twice with different entries).
#[test]
fn single_node_leads_only_after_its_vote_is_durable() {
    let mut h = Harness::new(0, 1, durable(1, None, vec![], 0));
    h.hold_writes = true;
    h.now = h.node.deadline_ms();
    h.node.tick(h.now, 0);
    h.pump();
    assert_eq!(h.node.role(), Role::Candidate);
    h.hold_writes = false;
    h.pump();
    assert_eq!(h.node.role(), Role::Leader);
}

/// Disk loss (see node.rs): a node with a blank disk neither votes nor acknowledges
/// until it has heard from `n - quorum + 1` peers; it then adopts the most up-to-date
/// log and the highest term, with its vote in that term already spent.
#[test]
fn wiped_node_recovers_before_voting() {
    let mut h = Harness::new(2, 3, DurableState::blank());
    assert_eq!(h.node.role(), Role::Recovering);
    h.step(
        0,
        5,
        MsgBody::RequestVote {
            last_log_index: 0,
            last_log_term: 0,
        },
    );
    h.step(0, 5, append((0, 0), vec![entry(1, 5)], 0));
    assert!(
        !h.take_sent().iter().any(|m| matches!(
            m.body,
            MsgBody::RequestVoteResp { .. } | MsgBody::AppendEntriesResp { .. }
        )),
        "a recovering node neither votes nor acknowledges"
    );
    let short = vec![entry(1, 4)];
    let long = vec![entry(1, 4), entry(2, 5)];
    h.step(
        0,
        5,
        MsgBody::RecoveryResp {
            snapshot: Snapshot::empty(),
            entries: short,
        },
    );
    assert_eq!(
        h.node.role(),
        Role::Recovering,
        "one answer of the two needed"
    );
    h.step(
        1,
        6,
        MsgBody::RecoveryResp {
            snapshot: Snapshot::empty(),
            entries: long,
        },
    );
    assert_eq!(h.node.role(), Role::Follower);
    assert_eq!(h.node.term(), 6);
    assert_eq!(h.node.voted_for(), Some(2));
    assert_eq!(h.node.log().last_index(), 2);
    assert!(h.disk.hard.initialized, "recovery is durable");
    h.step(
        1,
        6,
        MsgBody::RequestVote {
            last_log_index: 9,
            last_log_term: 6,
        },
    );
    assert!(h
        .take_sent()
        .iter()
        .any(|m| m.body == MsgBody::RequestVoteResp { granted: false }));
}

/// The checkers' events: an entry placed in a log names the term before it (log
/// matching is checked incrementally from these).
#[test]
fn events_describe_appends_and_commits() {
    let mut h = Harness::new(0, 3, durable(2, None, vec![entry(1, 1)], 0));
    h.node.take_events();
    h.step(1, 2, append((1, 1), vec![entry(2, 2)], 2));
    let ev = h.node.take_events();
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::Appended {
            index: 2,
            term: 2,
            prev_term: 1,
            ..
        }
    )));
    assert!(ev
        .iter()
        .any(|e| matches!(e, Event::CommitAdvanced { from: 0, to: 2 })));
    assert!(ev
        .iter()
        .any(|e| matches!(e, Event::Applied { index: 2, .. })));
}
