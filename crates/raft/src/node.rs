//! The Raft node: a sans-IO state machine (paper Figure 2, dissertation chapter 3 and §5).
//!
//! Inputs: [`RaftNode::step`], [`RaftNode::tick`], [`RaftNode::persisted`],
//! [`RaftNode::propose`]; each carries `now_ms`. Outputs: [`RaftNode::poll_output`], and
//! typed [`Event`]s for the checkers ([`RaftNode::take_events`]).
//!
//! Persistence rule: every outbound message is stamped with the id of the last storage
//! write issued before it and leaves only once that write is durable. So a vote grant
//! never leaves before the vote and term are durable (one write: classic mistake 3),
//! an AppendEntries acknowledgement never before its entries, and a leader counts itself
//! in a quorum only for entries its own disk holds. This is stricter than the
//! dissertation needs for the leader's own AppendEntries (§10.2.1 lets a leader send
//! while it writes); we accept the latency for one simple rule.
//!
//! Seams for the ZooKeeper-WAL variants: who may lead ([`RaftNode::has_quorum`]), when
//! an index is committed ([`RaftNode::quorum_match_index`] and the current-term rule in
//! `advance_commit`), and the append path (`append_from_leader`).
//!
//! Disk loss: a node whose disk is blank (`HardState::initialized == false`) starts in
//! [`Role::Recovering`]. It neither votes, campaigns nor acknowledges entries, because
//! it may have voted or acknowledged before it lost its disk. It asks its peers for
//! their durable logs and terms ([`MsgBody::RecoveryRequest`]) and waits for
//! `n - quorum + 1` distinct answers: that set meets every quorum that could have
//! committed an entry or elected a leader with this node's help, so the most
//! up-to-date answer holds every committed entry (the up-to-date lemma of §5.4.1) and
//! the highest answered term is at least every term this node voted in. It adopts that
//! log, takes that term with its vote already spent, and only then rejoins, with that
//! term as its new disk epoch: leaders void what it acknowledged from its old disk
//! (their match index for it) and ignore stale replies from that disk. (Two losses of
//! one node's disk within one term share an epoch; that costs liveness, not safety.) This holds
//! while at most one member at a time is without its data; the simulator's fault
//! model keeps to that and says so.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::log::Log;
use crate::state_machine::{ClientReply, StateMachine};
use crate::storage::{DurableState, HardState, Write, WriteId};
use crate::types::{Command, Entry, Index, Message, MsgBody, NodeId, Payload, Snapshot, Term};

/// Most voters a group may have (quorum computations use fixed arrays of this size).
pub const MAX_VOTERS: usize = 16;

#[derive(Clone, Debug)]
pub struct Config {
    pub id: NodeId,
    /// Every voting member, this node included.
    pub voters: Vec<NodeId>,
    /// An election timeout lasts `election_timeout_ms_min + jitter_ms`, where the driver
    /// draws `jitter_ms` (in `0..election_timeout_ms_min`) and hands it in (§5.2).
    pub election_timeout_ms_min: u64,
    pub heartbeat_interval_ms: u64,
    pub max_entries_per_append: usize,
    /// Take a snapshot once this many applied entries follow the last one (§7).
    pub snapshot_every_entries: u64,
    /// Bound on messages held back waiting for storage; beyond it new ones are dropped,
    /// as a full socket buffer would drop them (Raft tolerates lost messages).
    pub max_held_messages: usize,
    /// A node with a blank disk recovers from its peers' logs (plain Raft). The WAL
    /// variants turn this off: they recover from ZooKeeper instead
    /// ([`RaftNode::recover_external`]).
    pub peer_recovery: bool,
}

/// When an index counts as committed (seam for the ZooKeeper-WAL variants). Every
/// rule also keeps Raft's current-term check (§5.4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitRule {
    /// Plain Raft: held by a majority (the leader counting only its durable log).
    Majority,
    /// Held by a majority, or on the leader's disk and in the external log up to
    /// [`RaftNode::set_external_durable`] (seed-zk-quorum: "durable once in the WAL").
    MajorityOrExternal,
    /// Only on the leader's disk and in the external log (fenced: the WAL written under
    /// the current epoch is the commit record, whatever the followers hold).
    External,
}

impl Config {
    pub fn new(id: NodeId, voters: Vec<NodeId>) -> Config {
        Config {
            id,
            voters,
            election_timeout_ms_min: 300,
            heartbeat_interval_ms: 50,
            max_entries_per_append: 64,
            snapshot_every_entries: 64,
            max_held_messages: 4096,
            peer_recovery: true,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Follower,
    Candidate,
    Leader,
    /// Came back with a blank disk; see the module documentation.
    Recovering,
}

/// What the driver must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Make `write` durable after every write with a smaller id, then call
    /// [`RaftNode::persisted`] with `id`.
    Persist {
        id: WriteId,
        write: Write,
    },
    Send(Message),
    /// A committed command was applied; the node that holds the client's request replies.
    Applied {
        index: Index,
        command: Command,
        reply: ClientReply,
    },
}

/// Typed events for the checkers in `invariants/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    BecameLeader {
        term: Term,
    },
    /// An entry entered the in-memory log; `prev_term` is the term of the entry before it.
    Appended {
        index: Index,
        term: Term,
        prev_term: Term,
        digest: u64,
    },
    /// Every entry at or after `from` was deleted (a conflicting suffix); `commit` is
    /// the node's commit index at that moment.
    Truncated {
        from: Index,
        commit: Index,
    },
    /// A leader of `leader_term` sent an entry of term `theirs` at `index`, at or below
    /// this node's `commit`, where this node holds one of term `ours`: a committed
    /// entry the leader does not have. Raft's Leader Completeness (§5.4) rules it out;
    /// a variant that commits outside Raft's quorum (seed-zk-quorum's lone survivor
    /// acknowledging through ZooKeeper alone) reaches it. The node refuses the whole
    /// message and keeps its log, so that the checks name the breach
    /// (`committed_prefix`) instead of the run ending in an assertion.
    ConflictAtCommit {
        index: Index,
        commit: Index,
        ours: Term,
        theirs: Term,
        leader_term: Term,
    },
    CommitAdvanced {
        from: Index,
        to: Index,
    },
    Applied {
        index: Index,
        term: Term,
        digest: u64,
    },
    /// The state machine and log prefix were replaced by a snapshot up to `index`.
    SnapshotInstalled {
        index: Index,
        term: Term,
    },
    /// A wiped node finished recovery and rejoins with `term`.
    Recovered {
        term: Term,
        last_index: Index,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotLeader {
    pub leader_hint: Option<NodeId>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Progress {
    next: Index,
    matched: Index,
    /// No new InstallSnapshot to this peer before this time (one whole snapshot is big).
    snapshot_retry_at_ms: u64,
    /// The peer's disk epoch as last seen; `matched` is only valid for it.
    disk_epoch: Term,
}

/// Best answer collected so far by a recovering node.
#[derive(Debug, Default)]
struct Recovery {
    responders: u64,
    max_term: Term,
    best: Option<(Snapshot, Vec<Entry>)>,
}

pub struct RaftNode {
    cfg: Config,
    // State mirrored to storage (persisted through `Write`s).
    term: Term,
    voted_for: Option<NodeId>,
    log: Log,
    commit: Index,
    /// The hard state most recently issued to storage (not necessarily durable yet).
    issued_hard: HardState,
    // Volatile.
    role: Role,
    leader_hint: Option<NodeId>,
    sm: StateMachine,
    votes: u64,
    progress: Vec<Progress>,
    deadline_ms: u64,
    jitter_ms: u64,
    recovery: Recovery,
    /// The write that made this candidate's term and self-vote durable: its own vote
    /// counts only once that write is durable (else a crash could reuse the term).
    campaign_write: WriteId,
    /// See [`HardState::disk_epoch`].
    disk_epoch: Term,
    // Storage bookkeeping.
    last_issued_write: WriteId,
    last_durable_write: WriteId,
    /// (write id, log last index once that write is durable), in issue order.
    write_marks: VecDeque<(WriteId, Index)>,
    /// Log last index covered by durable writes: what this node may count as its own ack.
    durable_last_index: Index,
    held: VecDeque<(WriteId, Message)>,
    outputs: VecDeque<Output>,
    events: Vec<Event>,
    // Seams set by the ZooKeeper-WAL variants (crates/wal); plain Raft keeps the defaults.
    /// A candidate's own durable vote is a quorum ([`RaftNode::set_lone_quorum`]).
    lone_quorum: bool,
    commit_rule: CommitRule,
    /// Highest index of this leader's log that is durable outside the group (the WAL).
    external_durable: Index,
    /// False: an election timeout does not start a campaign; it only raises
    /// [`RaftNode::take_wants_campaign`] (fenced: campaign only after a takeover).
    may_campaign: bool,
    wants_campaign: bool,
}

impl RaftNode {
    /// Starts (or restarts) a node from its durable state only (§5.1: volatile state
    /// is rebuilt). The committed prefix in the log is applied again on top of the
    /// snapshot, because the state machine is volatile.
    pub fn new(cfg: Config, durable: &DurableState, now_ms: u64, jitter_ms: u64) -> RaftNode {
        assert!(!cfg.voters.is_empty() && cfg.voters.len() <= MAX_VOTERS);
        assert!(cfg.voters.contains(&cfg.id));
        let n = cfg.voters.len();
        let blank = !durable.hard.initialized;
        let (log, hard) = if blank {
            (
                Log::new(Snapshot::empty(), Vec::new()),
                HardState::default(),
            )
        } else {
            (durable.log.clone(), durable.hard)
        };
        let commit = hard.commit.max(log.snapshot_index());
        assert!(
            commit <= log.last_index(),
            "durable commit {commit} beyond durable log {}",
            log.last_index()
        );
        let sm = StateMachine::restore(log.snapshot_index(), (*log.snapshot.state).clone());
        let last = log.last_index();
        let mut node = RaftNode {
            term: hard.term,
            voted_for: hard.voted_for,
            commit,
            issued_hard: hard,
            role: if blank {
                Role::Recovering
            } else {
                Role::Follower
            },
            leader_hint: None,
            sm,
            votes: 0,
            progress: vec![Progress::default(); n],
            deadline_ms: 0,
            jitter_ms,
            recovery: Recovery::default(),
            campaign_write: 0,
            disk_epoch: hard.disk_epoch,
            last_issued_write: 0,
            last_durable_write: 0,
            write_marks: VecDeque::new(),
            durable_last_index: last,
            held: VecDeque::new(),
            outputs: VecDeque::new(),
            events: Vec::new(),
            lone_quorum: false,
            commit_rule: CommitRule::Majority,
            external_durable: 0,
            may_campaign: true,
            wants_campaign: false,
            log,
            cfg,
        };
        node.reset_election_deadline(now_ms);
        if node.role == Role::Recovering {
            // Ask at once; `tick` repeats the request until enough peers answered.
            node.deadline_ms = now_ms;
        }
        node.finish();
        node
    }

    // ----- Read-only views (for the driver and the checkers) -----

    pub fn id(&self) -> NodeId {
        self.cfg.id
    }
    pub fn config(&self) -> &Config {
        &self.cfg
    }
    pub fn role(&self) -> Role {
        self.role
    }
    pub fn term(&self) -> Term {
        self.term
    }
    pub fn voted_for(&self) -> Option<NodeId> {
        self.voted_for
    }
    pub fn commit_index(&self) -> Index {
        self.commit
    }
    pub fn applied_index(&self) -> Index {
        self.sm.applied
    }
    pub fn log(&self) -> &Log {
        &self.log
    }
    pub fn state_machine(&self) -> &StateMachine {
        &self.sm
    }
    pub fn leader_hint(&self) -> Option<NodeId> {
        self.leader_hint
    }
    /// When the driver must call [`RaftNode::tick`] next.
    pub fn deadline_ms(&self) -> u64 {
        self.deadline_ms
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// Hands the buffered events to a checker; give the vector back with
    /// [`RaftNode::return_events`] to keep its capacity (no allocation per step).
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }
    pub fn return_events(&mut self, mut events: Vec<Event>) {
        events.clear();
        if self.events.is_empty() {
            self.events = events;
        }
    }

    // ----- Inputs -----

    /// A message from a peer.
    pub fn step(&mut self, now_ms: u64, msg: Message) {
        assert_eq!(msg.to, self.cfg.id, "message delivered to the wrong node");
        if self.role == Role::Recovering {
            if let MsgBody::RecoveryResp { snapshot, entries } = msg.body {
                self.on_recovery_resp(msg.from, msg.term, snapshot, entries);
            }
            // Everything else is ignored: see "Disk loss" above.
            self.finish();
            return;
        }
        if msg.term > self.term && !matches!(msg.body, MsgBody::RecoveryRequest) {
            let leader = match msg.body {
                MsgBody::AppendEntries { .. } | MsgBody::InstallSnapshot { .. } => Some(msg.from),
                _ => None,
            };
            self.become_follower(now_ms, msg.term, leader);
            // A vote request persists term and vote together, in one write, below.
            if !matches!(msg.body, MsgBody::RequestVote { .. }) {
                self.persist_hard_state();
            }
        }
        match msg.body {
            MsgBody::RequestVote {
                last_log_index,
                last_log_term,
            } => self.on_request_vote(now_ms, msg.from, msg.term, last_log_index, last_log_term),
            MsgBody::RequestVoteResp { granted } => {
                self.on_vote_resp(now_ms, msg.from, msg.term, granted)
            }
            MsgBody::AppendEntries {
                prev_index,
                prev_term,
                entries,
                leader_commit,
            } => self.on_append_entries(
                now_ms,
                msg.from,
                msg.term,
                prev_index,
                prev_term,
                &entries,
                leader_commit,
            ),
            MsgBody::AppendEntriesResp {
                success,
                match_index,
                hint_index,
            } => {
                if self.current_disk_epoch(msg.from, msg.disk_epoch) {
                    self.on_append_resp(
                        now_ms,
                        msg.from,
                        msg.term,
                        success,
                        match_index,
                        hint_index,
                    )
                }
            }
            MsgBody::InstallSnapshot { snapshot } => {
                self.on_install_snapshot(now_ms, msg.from, msg.term, snapshot)
            }
            MsgBody::InstallSnapshotResp { match_index } => {
                if msg.term == self.term
                    && self.role == Role::Leader
                    && self.current_disk_epoch(msg.from, msg.disk_epoch)
                {
                    self.on_ack(now_ms, msg.from, match_index);
                }
            }
            MsgBody::RecoveryRequest => {
                // Answered after every write issued so far is durable (the held-message
                // rule), so the log sent is durable here.
                let body = MsgBody::RecoveryResp {
                    snapshot: self.log.snapshot.clone(),
                    entries: self.log.entries().to_vec(),
                };
                self.send(msg.from, body);
            }
            MsgBody::RecoveryResp { .. } => {}
        }
        self.finish();
    }

    /// The deadline from [`RaftNode::deadline_ms`] has passed (possibly late, if the
    /// process was paused). `jitter_ms` is used for the next election timeout.
    pub fn tick(&mut self, now_ms: u64, jitter_ms: u64) {
        self.jitter_ms = jitter_ms;
        if now_ms < self.deadline_ms {
            return;
        }
        match self.role {
            Role::Leader => {
                for i in 0..self.cfg.voters.len() {
                    let peer = self.cfg.voters[i];
                    if peer != self.cfg.id {
                        self.send_append(now_ms, peer, true);
                    }
                }
                self.deadline_ms = now_ms + self.cfg.heartbeat_interval_ms;
            }
            Role::Follower | Role::Candidate if self.may_campaign => self.campaign(now_ms),
            Role::Follower | Role::Candidate => {
                self.wants_campaign = true;
                self.reset_election_deadline(now_ms);
            }
            Role::Recovering if !self.cfg.peer_recovery => {
                self.deadline_ms = now_ms + self.cfg.election_timeout_ms_min;
            }
            Role::Recovering => {
                for i in 0..self.cfg.voters.len() {
                    let peer = self.cfg.voters[i];
                    if peer != self.cfg.id && self.recovery.responders & (1 << i) == 0 {
                        self.send(peer, MsgBody::RecoveryRequest);
                    }
                }
                self.deadline_ms = now_ms + self.cfg.election_timeout_ms_min;
            }
        }
        self.finish();
    }

    /// Storage reports that every write up to `id` is durable.
    pub fn persisted(&mut self, now_ms: u64, id: WriteId) {
        assert!(
            id <= self.last_issued_write,
            "storage acknowledged a write never issued"
        );
        if id <= self.last_durable_write {
            return;
        }
        self.last_durable_write = id;
        while let Some(&(wid, last)) = self.write_marks.front() {
            if wid > id {
                break;
            }
            self.durable_last_index = last;
            self.write_marks.pop_front();
        }
        if self.role == Role::Leader {
            self.advance_commit();
        }
        if self.role == Role::Candidate && self.has_quorum(self.votes) && id >= self.campaign_write
        {
            // A group of one: its own durable vote is the quorum.
            self.become_leader(now_ms);
        }
        self.finish();
    }

    /// A client command. Only a leader accepts it; the reply comes as
    /// [`Output::Applied`] once the entry is committed and applied.
    pub fn propose(&mut self, now_ms: u64, command: Command) -> Result<Index, NotLeader> {
        if self.role != Role::Leader {
            return Err(NotLeader {
                leader_hint: self.leader_hint,
            });
        }
        let index = self.append_as_leader(Payload::Command(command));
        for i in 0..self.cfg.voters.len() {
            let peer = self.cfg.voters[i];
            // Only peers that are caught up get it now; the others are sent their
            // missing entries as their acknowledgements come in.
            if peer != self.cfg.id && self.progress[i].next == index {
                self.send_append(now_ms, peer, false);
            }
        }
        self.finish();
        Ok(index)
    }

    // ----- Seams for the ZooKeeper-WAL variants (crates/wal) -----
    //
    // Plain Raft never calls these; with their defaults the core is the Raft above.

    /// Quorum rule seam: with `lone`, a candidate's own durable vote wins an election
    /// (seed-zk-quorum and fenced let a lone survivor lead once ZooKeeper says so).
    pub fn set_lone_quorum(&mut self, lone: bool) {
        self.lone_quorum = lone;
    }

    /// Commit rule seam; see [`CommitRule`].
    pub fn set_commit_rule(&mut self, rule: CommitRule) {
        self.commit_rule = rule;
    }

    /// This leader's log is durable outside the group up to `index` (its WAL in
    /// ZooKeeper acknowledged every entry of this leadership up to there). May commit.
    pub fn set_external_durable(&mut self, now_ms: u64, index: Index) {
        let _ = now_ms;
        self.external_durable = index;
        if self.role == Role::Leader {
            self.advance_commit();
        }
        self.finish();
    }

    /// Whether an election timeout may start a campaign (see `may_campaign`).
    pub fn set_may_campaign(&mut self, may: bool) {
        self.may_campaign = may;
    }

    /// True once if an election timeout fired while campaigning was not allowed.
    pub fn take_wants_campaign(&mut self) -> bool {
        std::mem::take(&mut self.wants_campaign)
    }

    /// Starts an election now (after catching up from a WAL: "then hold an election").
    /// With `exact_term`, in exactly that term (fenced: the term its epoch bump
    /// reserved, above every term an earlier takeover reserved, so that two takeovers
    /// never share a term and a stale one loses to every newer term), and not at all if
    /// this node's term has already reached it. Returns whether a campaign started.
    pub fn campaign_now(&mut self, now_ms: u64, exact_term: Option<Term>) -> bool {
        if !matches!(self.role, Role::Follower | Role::Candidate) {
            return false;
        }
        if let Some(t) = exact_term {
            if self.term >= t {
                return false;
            }
            self.term = t - 1;
            self.voted_for = None;
        }
        self.campaign(now_ms);
        self.finish();
        true
    }

    /// A leader gives up leadership in its term (the pause monitor, or a fenced leader
    /// whose conditional write failed). Raft allows this at any time.
    pub fn step_down(&mut self, now_ms: u64) {
        if self.role == Role::Leader {
            self.become_follower(now_ms, self.term, None);
            self.reset_election_deadline(now_ms);
            self.finish();
        }
    }

    /// Append path seam: entries read from a WAL in ZooKeeper, placed as if a leader had
    /// sent them after `(prev_index, prev_term)`. Refused (nothing changes) if this log
    /// does not hold `(prev_index, prev_term)`, if the node leads or is recovering, or
    /// if an entry conflicts with one at or below the commit index. Returns how many
    /// entries are in the log afterwards beyond `prev_index` (new or already there).
    pub fn append_recovered(
        &mut self,
        now_ms: u64,
        prev_index: Index,
        prev_term: Term,
        entries: &[Entry],
    ) -> Result<usize, &'static str> {
        let _ = now_ms;
        if matches!(self.role, Role::Leader | Role::Recovering) {
            return Err("a leader or recovering node appends nothing from a WAL");
        }
        // Entries at or below the snapshot are committed: skip them.
        let snap = self.log.snapshot_index();
        let skip = entries.iter().take_while(|e| e.index <= snap).count();
        let (prev_index, prev_term, entries) = if skip > 0 {
            (snap, self.log.snapshot.last_term, &entries[skip..])
        } else {
            (prev_index, prev_term, entries)
        };
        if self.log.term_at(prev_index) != Some(prev_term) {
            return Err("the WAL does not follow this log");
        }
        if entries.first().is_some_and(|e| e.term < prev_term) {
            return Err("a WAL entry's term is below its predecessor's");
        }
        for (k, e) in entries.iter().enumerate() {
            if e.index != prev_index + 1 + k as Index {
                return Err("WAL entries are not contiguous");
            }
            if let Some(t) = self.log.term_at(e.index) {
                if t != e.term && e.index <= self.commit {
                    return Err("a WAL entry conflicts with a committed one");
                }
                // An entry of a later term came from a later leader: an older WAL
                // never overrides it (question 5: the WAL must not undo replication
                // a newer leader already did; a leader's view of this follower would
                // be wrong and replication would stall).
                if t > e.term {
                    return Err("the log holds a newer entry than the WAL there");
                }
            }
            if k > 0 && e.term < entries[k - 1].term {
                return Err("WAL entry terms decrease");
            }
        }
        if let Some(last) = entries.last() {
            if last.term > self.term {
                // Entries of a term we have not seen: adopt it (as a message would).
                self.become_follower(now_ms, last.term, None);
                self.persist_hard_state();
            }
        }
        let appended = self.append_from_leader(prev_index, prev_term, entries);
        debug_assert!(appended, "conflicts at or below commit were refused above");
        self.finish();
        Ok(entries.len())
    }

    /// Installs a snapshot read from outside the group (the one published in ZooKeeper)
    /// on a follower whose commit index is behind it, as an InstallSnapshot from a
    /// leader would (§7); a snapshot at or behind the commit index changes nothing.
    pub fn install_external_snapshot(&mut self, now_ms: u64, snapshot: Snapshot) -> bool {
        if matches!(self.role, Role::Leader | Role::Recovering)
            || snapshot.last_index <= self.commit
        {
            return false;
        }
        if snapshot.last_term > self.term {
            // A snapshot of a term not seen yet: adopt it first (as a message would).
            self.become_follower(now_ms, snapshot.last_term, None);
            self.persist_hard_state();
        }
        self.adopt_snapshot(snapshot);
        self.finish();
        true
    }

    /// Ends the recovery of a blank disk from data kept outside the group (a snapshot
    /// and WAL entries in ZooKeeper, notes step [4]), with `term` the highest term it
    /// found; its vote in that term counts as spent. Only while [`Role::Recovering`].
    pub fn recover_external(
        &mut self,
        now_ms: u64,
        snapshot: Snapshot,
        entries: Vec<Entry>,
        term: Term,
    ) {
        assert_eq!(self.role, Role::Recovering, "only a blank node recovers");
        let log = Log::new(snapshot.clone(), entries.clone());
        let term = term.max(log.last_term());
        self.adopt_recovered_log(snapshot, entries, term);
        self.reset_election_deadline(now_ms);
        self.finish();
    }

    // ----- Elections (§5.2, §5.4.1) -----

    fn campaign(&mut self, now_ms: u64) {
        self.term += 1;
        self.role = Role::Candidate;
        self.voted_for = Some(self.cfg.id);
        self.leader_hint = None;
        self.votes = 1 << self.pos(self.cfg.id);
        self.persist_hard_state();
        self.campaign_write = self.last_issued_write;
        self.reset_election_deadline(now_ms);
        let (last_log_index, last_log_term) = (self.log.last_index(), self.log.last_term());
        for i in 0..self.cfg.voters.len() {
            let peer = self.cfg.voters[i];
            if peer != self.cfg.id {
                self.send(
                    peer,
                    MsgBody::RequestVote {
                        last_log_index,
                        last_log_term,
                    },
                );
            }
        }
    }

    fn on_request_vote(
        &mut self,
        now_ms: u64,
        from: NodeId,
        term: Term,
        last_index: Index,
        last_term: Term,
    ) {
        // A candidate's log is up to date if its last term is higher, or equal with an
        // index at least ours (§5.4.1).
        let up_to_date = (last_term, last_index) >= (self.log.last_term(), self.log.last_index());
        let granted = term == self.term
            && (self.voted_for.is_none() || self.voted_for == Some(from))
            && up_to_date;
        if granted {
            self.voted_for = Some(from);
            self.reset_election_deadline(now_ms);
        }
        // Term and vote in one write, durable before the answer leaves (mistake 3).
        self.persist_hard_state();
        self.send(from, MsgBody::RequestVoteResp { granted });
    }

    fn on_vote_resp(&mut self, now_ms: u64, from: NodeId, term: Term, granted: bool) {
        // Stale replies (an older term, or after the election ended) count for nothing.
        if self.role != Role::Candidate || term != self.term || !granted {
            return;
        }
        // Our RequestVote leaves only once the campaign write is durable, so a grant
        // that arrives before that answers a request of an earlier incarnation (sent
        // in this same term before a wipe or crash): it counts for nothing, or this
        // node could lead before its own vote is durable and reuse the term after a
        // crash (found with --zk, 3 nodes, seed 5000470, once ZooKeeper commits took
        // 2 ms).
        if self.last_durable_write < self.campaign_write {
            return;
        }
        self.votes |= 1 << self.pos(from);
        if self.has_quorum(self.votes) {
            self.become_leader(now_ms);
        }
    }

    /// Quorum rule (seam): a strict majority of the voters in `set` (a bit per voter).
    pub fn has_quorum(&self, set: u64) -> bool {
        if self.lone_quorum && set & (1 << self.pos(self.cfg.id)) != 0 {
            return true;
        }
        set.count_ones() as usize >= self.quorum_size()
    }

    pub fn quorum_size(&self) -> usize {
        self.cfg.voters.len() / 2 + 1
    }

    fn become_follower(&mut self, now_ms: u64, term: Term, leader: Option<NodeId>) {
        assert!(term >= self.term);
        if term > self.term {
            self.term = term;
            // The vote is cleared only when the term changes (classic mistake 11).
            self.voted_for = None;
            self.leader_hint = None;
        }
        let was_follower = self.role == Role::Follower;
        self.role = Role::Follower;
        self.votes = 0;
        // The election timer restarts on hearing from a leader (and on granting a vote,
        // in `on_request_vote`), not on merely seeing a higher term: otherwise a node
        // with a stale log that keeps campaigning would stop the up-to-date one from
        // ever timing out and winning (a liveness trap seen in 2-node groups).
        if leader.is_some() {
            self.leader_hint = leader;
            self.reset_election_deadline(now_ms);
        } else if !was_follower {
            self.reset_election_deadline(now_ms);
        }
    }

    fn become_leader(&mut self, now_ms: u64) {
        assert_eq!(self.role, Role::Candidate);
        self.role = Role::Leader;
        self.leader_hint = Some(self.cfg.id);
        let next = self.log.last_index() + 1;
        for p in self.progress.iter_mut() {
            *p = Progress {
                next,
                matched: 0,
                snapshot_retry_at_ms: 0,
                disk_epoch: 0,
            };
        }
        self.events.push(Event::BecameLeader { term: self.term });
        // The no-op lets this leader commit entries of earlier terms (§5.4.2).
        self.append_as_leader(Payload::Noop);
        for i in 0..self.cfg.voters.len() {
            let peer = self.cfg.voters[i];
            if peer != self.cfg.id {
                self.send_append(now_ms, peer, false);
            }
        }
        self.deadline_ms = now_ms + self.cfg.heartbeat_interval_ms;
    }

    // ----- Replication (§5.3) -----

    fn append_as_leader(&mut self, payload: Payload) -> Index {
        let entry = Entry {
            index: self.log.last_index() + 1,
            term: self.term,
            payload,
        };
        self.events.push(Event::Appended {
            index: entry.index,
            term: entry.term,
            prev_term: self.log.last_term(),
            digest: payload.digest(),
        });
        self.log.push(entry);
        self.issue_write(Write::Append {
            entries: vec![entry],
        });
        entry.index
    }

    /// Sends `peer` what it misses: entries from its `next` index, or the snapshot if
    /// those are compacted. A heartbeat with nothing new is an empty AppendEntries that
    /// probes the peer's log at `next - 1`.
    fn send_append(&mut self, now_ms: u64, peer: NodeId, heartbeat: bool) {
        let i = self.pos(peer);
        let p = self.progress[i];
        if p.next <= self.log.snapshot_index() {
            if now_ms >= p.snapshot_retry_at_ms {
                self.progress[i].snapshot_retry_at_ms = now_ms + self.cfg.election_timeout_ms_min;
                self.send(
                    peer,
                    MsgBody::InstallSnapshot {
                        snapshot: self.log.snapshot.clone(),
                    },
                );
            }
            return;
        }
        let prev_index = p.next - 1;
        let prev_term = self
            .log
            .term_at(prev_index)
            .expect("next index within the log");
        let entries = self.log.slice(p.next, self.cfg.max_entries_per_append);
        if entries.is_empty() && !heartbeat && p.matched == prev_index {
            return;
        }
        let entries = entries.to_vec();
        // Optimistic pipelining: assume delivery; a rejection moves `next` back.
        self.progress[i].next = prev_index + entries.len() as Index + 1;
        let leader_commit = self.commit;
        self.send(
            peer,
            MsgBody::AppendEntries {
                prev_index,
                prev_term,
                entries,
                leader_commit,
            },
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn on_append_entries(
        &mut self,
        now_ms: u64,
        from: NodeId,
        term: Term,
        prev_index: Index,
        prev_term: Term,
        entries: &[Entry],
        leader_commit: Index,
    ) {
        if term < self.term {
            self.send(
                from,
                MsgBody::AppendEntriesResp {
                    success: false,
                    match_index: 0,
                    hint_index: 0,
                },
            );
            return;
        }
        if self.role == Role::Leader {
            // Another leader in our own term: election safety is broken; the checker
            // reports it. Do not accept its entries.
            return;
        }
        self.become_follower(now_ms, term, Some(from));
        let last = self.log.last_index();
        // Entries at or below our snapshot are committed, hence identical: skip them.
        let snap = self.log.snapshot_index();
        let (prev_index, prev_term, entries) = if prev_index < snap {
            let skip = ((snap - prev_index) as usize).min(entries.len());
            let rest = &entries[skip..];
            if rest.is_empty() {
                let m = prev_index + entries.len() as Index;
                self.send(
                    from,
                    MsgBody::AppendEntriesResp {
                        success: true,
                        match_index: m,
                        hint_index: 0,
                    },
                );
                return;
            }
            (snap, self.log.snapshot.last_term, rest)
        } else {
            (prev_index, prev_term, entries)
        };
        if self.log.term_at(prev_index) != Some(prev_term) {
            let hint_index = if prev_index > last {
                last
            } else {
                // Skip back over the whole conflicting term, never below the commit index
                // (the committed prefix matches every leader's).
                let bad = self.log.term_at(prev_index);
                let mut i = prev_index.saturating_sub(1);
                while i > self.commit && self.log.term_at(i) == bad {
                    i -= 1;
                }
                i
            };
            self.send(
                from,
                MsgBody::AppendEntriesResp {
                    success: false,
                    match_index: 0,
                    hint_index,
                },
            );
            return;
        }
        if !self.append_from_leader(prev_index, prev_term, entries) {
            return;
        }
        let match_index = prev_index + entries.len() as Index;
        // Commit only what this message proves we share with the leader (mistake 7),
        // and never backwards (mistake 13).
        let new_commit = leader_commit.min(match_index);
        if new_commit > self.commit {
            self.events.push(Event::CommitAdvanced {
                from: self.commit,
                to: new_commit,
            });
            self.commit = new_commit;
        }
        self.send(
            from,
            MsgBody::AppendEntriesResp {
                success: true,
                match_index,
                hint_index: 0,
            },
        );
    }

    /// Append path (seam): place entries that follow `(prev_index, prev_term)`, already
    /// verified to be in our log. An entry that is already present with the same term is
    /// kept: only the first real conflict truncates (mistake 5), and never at or below the
    /// commit index: such a conflict is refused whole (false, nothing changed) and
    /// reported as [`Event::ConflictAtCommit`].
    fn append_from_leader(
        &mut self,
        prev_index: Index,
        prev_term: Term,
        entries: &[Entry],
    ) -> bool {
        debug_assert_eq!(self.log.term_at(prev_index), Some(prev_term));
        let mut first_new = entries.len();
        for (k, e) in entries.iter().enumerate() {
            assert_eq!(
                e.index,
                prev_index + 1 + k as Index,
                "AppendEntries carries contiguous entries"
            );
            match self.log.term_at(e.index) {
                Some(t) if t == e.term => continue,
                Some(t) if e.index <= self.commit => {
                    self.events.push(Event::ConflictAtCommit {
                        index: e.index,
                        commit: self.commit,
                        ours: t,
                        theirs: e.term,
                        leader_term: self.term,
                    });
                    return false;
                }
                Some(_) => {
                    self.log.truncate_from(e.index);
                    self.forget_durable_above(e.index - 1);
                    self.events.push(Event::Truncated {
                        from: e.index,
                        commit: self.commit,
                    });
                    first_new = k;
                    break;
                }
                None => {
                    first_new = k;
                    break;
                }
            }
        }
        if first_new == entries.len() {
            return true;
        }
        for e in &entries[first_new..] {
            self.events.push(Event::Appended {
                index: e.index,
                term: e.term,
                prev_term: self.log.last_term(),
                digest: e.payload.digest(),
            });
            self.log.push(*e);
        }
        self.issue_write(Write::Append {
            entries: entries[first_new..].to_vec(),
        });
        true
    }

    /// A leader's view of a follower is only as good as the disk behind it. A reply
    /// from a newer disk epoch (the follower lost its disk and recovered) voids what
    /// it acknowledged before; a reply from an older one is a stale message from a
    /// disk that no longer exists and is ignored. Returns whether to use the reply.
    fn current_disk_epoch(&mut self, from: NodeId, epoch: Term) -> bool {
        if self.role != Role::Leader {
            return true;
        }
        let i = self.pos(from);
        let p = &mut self.progress[i];
        if epoch > p.disk_epoch {
            p.disk_epoch = epoch;
            p.matched = 0;
        }
        epoch == p.disk_epoch
    }

    fn on_append_resp(
        &mut self,
        now_ms: u64,
        from: NodeId,
        term: Term,
        success: bool,
        match_index: Index,
        hint: Index,
    ) {
        if self.role != Role::Leader || term != self.term {
            return; // stale: an older term's reply (higher terms were handled in `step`)
        }
        if success {
            self.on_ack(now_ms, from, match_index);
        } else {
            let i = self.pos(from);
            let p = &mut self.progress[i];
            // Never below what the peer already acknowledged (mistake 12).
            p.next = (p.matched + 1).max(p.next.min(hint + 1));
            self.send_append(now_ms, from, true);
        }
    }

    fn on_ack(&mut self, now_ms: u64, from: NodeId, match_index: Index) {
        let i = self.pos(from);
        let p = &mut self.progress[i];
        // Reordered replies may carry an older match: matched and next only grow.
        if match_index > p.matched {
            p.matched = match_index;
        }
        p.next = p.next.max(p.matched + 1);
        let behind = p.next <= self.log.last_index();
        self.advance_commit();
        if behind {
            self.send_append(now_ms, from, false);
        }
    }

    /// The highest index held by a quorum (seam): the leader counts itself only for
    /// what its own disk holds.
    pub fn quorum_match_index(&self) -> Index {
        let mut m = [0 as Index; MAX_VOTERS];
        let n = self.cfg.voters.len();
        for (i, &v) in self.cfg.voters.iter().enumerate() {
            m[i] = if v == self.cfg.id {
                self.durable_last_index
            } else {
                self.progress[i].matched
            };
        }
        m[..n].sort_unstable_by(|a, b| b.cmp(a));
        let majority = m[self.quorum_size() - 1];
        let external = self.durable_last_index.min(self.external_durable);
        match self.commit_rule {
            CommitRule::Majority => majority,
            CommitRule::MajorityOrExternal => majority.max(external),
            CommitRule::External => external,
        }
    }

    /// Commit rule: an index held by a quorum is committed only if its entry is of the
    /// current term; older entries are committed indirectly (§5.4.2, Figure 8).
    fn advance_commit(&mut self) {
        let q = self.quorum_match_index();
        if q > self.commit && self.log.term_at(q) == Some(self.term) {
            self.events.push(Event::CommitAdvanced {
                from: self.commit,
                to: q,
            });
            self.commit = q;
        }
    }

    // ----- Snapshots (§7) -----

    fn on_install_snapshot(&mut self, now_ms: u64, from: NodeId, term: Term, snapshot: Snapshot) {
        if term < self.term {
            self.send(from, MsgBody::InstallSnapshotResp { match_index: 0 });
            return;
        }
        if self.role == Role::Leader {
            return;
        }
        self.become_follower(now_ms, term, Some(from));
        let index = snapshot.last_index;
        // A snapshot at or behind our commit index adds nothing; installing it would
        // throw away newer entries (mistake 14).
        if index > self.commit {
            self.adopt_snapshot(snapshot);
        }
        self.send(from, MsgBody::InstallSnapshotResp { match_index: index });
    }

    /// Replaces state machine and log prefix by `snapshot`, which is ahead of the
    /// commit index: it is committed, so the commit index moves to it; the log keeps
    /// its suffix only if it holds the snapshot's last entry (§7).
    fn adopt_snapshot(&mut self, snapshot: Snapshot) {
        let index = snapshot.last_index;
        debug_assert!(index > self.commit);
        self.sm = StateMachine::restore(index, (*snapshot.state).clone());
        self.events.push(Event::CommitAdvanced {
            from: self.commit,
            to: index,
        });
        self.commit = index;
        self.events.push(Event::SnapshotInstalled {
            index,
            term: snapshot.last_term,
        });
        let keeps_suffix = self.log.term_at(index) == Some(snapshot.last_term);
        self.log.install_snapshot(snapshot.clone());
        if !keeps_suffix {
            self.forget_durable_above(index);
        }
        self.issue_write(Write::Snapshot { snapshot });
    }

    fn maybe_snapshot(&mut self) {
        let applied = self.sm.applied;
        if applied < self.log.snapshot_index() + self.cfg.snapshot_every_entries {
            return;
        }
        let last_term = self
            .log
            .term_at(applied)
            .expect("applied entries are in the log");
        let snapshot = Snapshot {
            last_index: applied,
            last_term,
            state: Arc::new(self.sm.state.clone()),
        };
        self.log.install_snapshot(snapshot.clone());
        self.issue_write(Write::Snapshot { snapshot });
    }

    // ----- Disk loss -----

    fn on_recovery_resp(
        &mut self,
        from: NodeId,
        term: Term,
        snapshot: Snapshot,
        entries: Vec<Entry>,
    ) {
        let i = self.pos(from);
        if self.recovery.responders & (1 << i) != 0 {
            return;
        }
        self.recovery.responders |= 1 << i;
        self.recovery.max_term = self.recovery.max_term.max(term);
        let key = |s: &Snapshot, e: &[Entry]| match e.last() {
            Some(l) => (l.term, l.index),
            None => (s.last_term, s.last_index),
        };
        let better = match &self.recovery.best {
            None => true,
            Some((s, e)) => key(&snapshot, &entries) > key(s, e),
        };
        if better {
            self.recovery.best = Some((snapshot, entries));
        }
        let n = self.cfg.voters.len();
        let needed = n - self.quorum_size() + 1;
        if (self.recovery.responders.count_ones() as usize) < needed {
            return;
        }
        let (snapshot, entries) = self.recovery.best.take().expect("at least one answer");
        let term = self.recovery.max_term;
        self.recovery = Recovery::default();
        self.adopt_recovered_log(snapshot, entries, term);
    }

    /// Ends a disk-loss recovery: adopts `snapshot` + `entries` as this node's log and
    /// `term` with its vote spent, then rejoins with a new disk epoch.
    fn adopt_recovered_log(&mut self, snapshot: Snapshot, entries: Vec<Entry>, term: Term) {
        debug_assert_eq!(self.role, Role::Recovering);
        self.forget_durable_above(0);
        self.log = Log::new(snapshot.clone(), entries.clone());
        self.sm = StateMachine::restore(snapshot.last_index, (*snapshot.state).clone());
        self.commit = snapshot.last_index;
        self.term = term;
        // Our vote in `term` may have been spent before the disk was lost.
        self.voted_for = Some(self.cfg.id);
        self.role = Role::Follower;
        self.events.push(Event::SnapshotInstalled {
            index: snapshot.last_index,
            term: snapshot.last_term,
        });
        let mut prev_term = snapshot.last_term;
        for e in &entries {
            self.events.push(Event::Appended {
                index: e.index,
                term: e.term,
                prev_term,
                digest: e.payload.digest(),
            });
            prev_term = e.term;
        }
        self.events.push(Event::Recovered {
            term,
            last_index: self.log.last_index(),
        });
        // Whatever an earlier, unfinished recovery left on the disk goes.
        self.issue_write(Write::ResetLog { snapshot });
        if !entries.is_empty() {
            self.issue_write(Write::Append { entries });
        }
        // A new disk epoch: leaders forget what this node acknowledged before.
        self.disk_epoch = term;
        // The `initialized` marker goes last: a crash before it lands means recovering again.
        self.persist_hard_state();
    }

    // ----- Plumbing -----

    fn pos(&self, id: NodeId) -> usize {
        self.cfg
            .voters
            .iter()
            .position(|&v| v == id)
            .expect("message from a non-member")
    }

    fn reset_election_deadline(&mut self, now_ms: u64) {
        self.deadline_ms = now_ms + self.cfg.election_timeout_ms_min + self.jitter_ms;
    }

    /// Durable entries above `index` are being replaced: they no longer count as this
    /// node's own copy of the log (matters if it becomes leader before the write lands).
    fn forget_durable_above(&mut self, index: Index) {
        self.durable_last_index = self.durable_last_index.min(index);
        for mark in self.write_marks.iter_mut() {
            mark.1 = mark.1.min(index);
        }
    }

    fn issue_write(&mut self, write: Write) {
        self.last_issued_write += 1;
        let id = self.last_issued_write;
        self.write_marks.push_back((id, self.log.last_index()));
        self.outputs.push_back(Output::Persist { id, write });
    }

    /// Issues a hard-state write if term, vote, commit or the marker changed. Called as
    /// soon as term or vote change, before any message that depends on them is made.
    fn persist_hard_state(&mut self) {
        let hs = HardState {
            term: self.term,
            voted_for: self.voted_for,
            commit: self.commit,
            initialized: self.role != Role::Recovering,
            disk_epoch: self.disk_epoch,
        };
        if hs != self.issued_hard {
            assert!(hs.term >= self.issued_hard.term, "term never decreases");
            self.issued_hard = hs;
            self.issue_write(Write::HardState(hs));
        }
    }

    fn send(&mut self, to: NodeId, body: MsgBody) {
        if self.held.len() >= self.cfg.max_held_messages {
            return;
        }
        let msg = Message {
            from: self.cfg.id,
            to,
            term: self.term,
            disk_epoch: self.disk_epoch,
            body,
        };
        self.held.push_back((self.last_issued_write, msg));
    }

    /// Common tail of every input: apply what is committed, snapshot, persist the
    /// commit index, release messages whose writes are durable, check invariants.
    fn finish(&mut self) {
        while self.sm.applied < self.commit {
            let index = self.sm.applied + 1;
            let e = *self
                .log
                .entry(index)
                .expect("committed entries above the snapshot are in the log");
            match e.payload {
                Payload::Noop => self.sm.skip(index),
                Payload::Command(command) => {
                    let reply = self.sm.apply(index, &command);
                    self.outputs.push_back(Output::Applied {
                        index,
                        command,
                        reply,
                    });
                }
            }
            self.events.push(Event::Applied {
                index,
                term: e.term,
                digest: e.payload.digest(),
            });
        }
        if self.role != Role::Recovering {
            self.maybe_snapshot();
            self.persist_hard_state();
        }
        while let Some((wid, _)) = self.held.front() {
            if *wid > self.last_durable_write {
                break;
            }
            let (_, msg) = self.held.pop_front().expect("front exists");
            self.outputs.push_back(Output::Send(msg));
        }
        self.check_invariants();
    }

    /// The core's own invariants, checked after every input.
    pub fn check_invariants(&self) {
        assert!(
            self.sm.applied <= self.commit,
            "applied {} > commit {}",
            self.sm.applied,
            self.commit
        );
        assert!(
            self.commit <= self.log.last_index(),
            "commit {} > last index {}",
            self.commit,
            self.log.last_index()
        );
        assert!(
            self.log.snapshot_index() <= self.sm.applied,
            "snapshot beyond applied"
        );
        assert!(
            self.log.last_term() <= self.term,
            "a log term above the current term"
        );
        assert!(self.durable_last_index <= self.log.last_index() || self.role != Role::Leader);
        if self.role == Role::Leader {
            assert_eq!(
                self.voted_for,
                Some(self.cfg.id),
                "a leader voted for itself"
            );
        }
        if cfg!(debug_assertions) {
            self.log.check();
        }
    }
}
