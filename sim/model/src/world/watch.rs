//! What the world watches to name situations (`crate::situations`): observation only.
//! These hooks read the world's state and the cores' events and count situations; they
//! never schedule, send or draw from a random stream, so a run's events and trace hash
//! are the same with or without them.

use zkwal_raft::{Event, Role};
use zkwal_wal::{Node, ReadPurpose, WalEvent};
use zkwal_zk::Ensemble;

use super::{NodeSlot, World};
use crate::situations::{Situation, SituationWatch, Woke, MAX_PENDING_RECOVERED};

impl World<'_> {
    /// A paused node resumes: if it still believes it leads, it is a woken leader.
    pub(super) fn watch_resume(&mut self, node: u32) {
        let i = node as usize;
        let taken_over = std::mem::take(&mut self.sit.nodes[i].taken_over_while_paused);
        let Some(raft) = self.nodes[i].core.as_ref().map(Node::raft) else {
            return;
        };
        if raft.role() == Role::Leader {
            self.sit.nodes[i].woke = Some(Woke {
                term: raft.term(),
                taken_over,
                appended: false,
            });
        }
    }

    /// A woken leader sends AppendEntries in `term`: stale if another node is already
    /// in a later term (it was deposed and does not know it yet).
    pub(super) fn watch_woken_append(&mut self, node: u32, term: u64) {
        let i = node as usize;
        let deposed = self
            .nodes
            .iter()
            .enumerate()
            .any(|(j, s)| j != i && s.core.as_ref().is_some_and(|c| c.raft().term() > term));
        let Some(w) = self.sit.nodes[i].woke.as_mut() else {
            return;
        };
        if !deposed || w.appended {
            return;
        }
        w.appended = true;
        let taken_over = w.taken_over;
        self.sit.reach(Situation::WokenLeaderAppends);
        if taken_over {
            self.sit.reach(Situation::PausedTakeoverThenStaleAppend);
        }
    }

    /// A campaign (RequestVote) in `term` by a node whose own epoch bump was overtaken
    /// by another node's later one (fenced).
    pub(super) fn watch_campaign(&mut self, node: u32, term: u64) {
        let i = node as usize;
        let bumped = self.nodes[i]
            .core
            .as_ref()
            .is_some_and(|c| c.variant().fenced() && c.epoch() != 0);
        let w = &mut self.sit.nodes[i];
        if bumped && self.sit.last_bumper != Some(node) && w.overtaken_counted != term {
            w.overtaken_counted = term;
            self.sit.reach(Situation::CampaignInOvertakenTerm);
        }
    }

    /// The Raft core's events of one input at `node`.
    pub(super) fn watch_raft_events(&mut self, node: u32, events: &[Event]) {
        let i = node as usize;
        for e in events {
            match *e {
                Event::BecameLeader { term } => {
                    self.sit.leaders_seen += 1;
                    self.sit.nodes[i].led = (term, 0);
                    self.watch_new_leader(node);
                }
                Event::Appended { index, term, .. } => {
                    let led = &mut self.sit.nodes[i].led;
                    if led.0 == term {
                        led.1 = led.1.max(index);
                    }
                }
                Event::Truncated { from, commit } => {
                    let led = &mut self.sit.nodes[i].led;
                    if led.0 > 0 && from <= led.1 && from > commit {
                        led.1 = from - 1;
                        self.sit.reach(Situation::LeaderDeposedWithMinorityEntries);
                    }
                }
                Event::CommitAdvanced { from, .. } => {
                    let raft = self.nodes[i].core.as_ref().expect("node is up").raft();
                    if raft.role() == Role::Leader
                        && raft
                            .log()
                            .term_at(from + 1)
                            .is_some_and(|t| t < raft.term())
                    {
                        self.sit.reach(Situation::CommitOfEarlierTermEntry);
                    }
                }
                Event::SnapshotInstalled { .. } => {
                    if std::mem::take(&mut self.sit.nodes[i].install_over_longer) {
                        self.sit.reach(Situation::SnapshotInstallOverLongerLog);
                    }
                }
                Event::Applied { index, digest, .. } if !self.sit.pending_recovered.is_empty() => {
                    self.sit.on_applied(node, index, digest)
                }
                _ => {}
            }
        }
    }

    /// `node` became leader: was the old one paused, believing it leads? Was a
    /// snapshot publication in flight, or just applied?
    pub(super) fn watch_new_leader(&mut self, node: u32) {
        let now = self.now_ms;
        for (j, s) in self.nodes.iter().enumerate() {
            if j != node as usize
                && s.paused_until_ms > now
                && s.core
                    .as_ref()
                    .is_some_and(|c| c.raft().role() == Role::Leader)
            {
                self.sit.nodes[j].taken_over_while_paused = true;
                self.sit.counts.add(Situation::TakeoverWhileLeaderPaused);
            }
        }
        if self.sit.wal && self.sit.leaders_seen > 1 {
            let publishing =
                self.nodes.iter().enumerate().any(|(j, s)| {
                    j != node as usize && s.core.as_ref().is_some_and(Node::publishing)
                });
            let recent = self
                .sit
                .last_publish_ms
                .is_some_and(|t| now <= t + zkwal_wal::PUBLISH_RECENT_MS);
            if publishing || recent {
                self.sit.reach(Situation::FailoverAroundPublish);
            }
        }
    }

    /// A WAL event (an associated function: the caller holds other parts of the world).
    pub(super) fn watch_wal_event(
        sit: &mut SituationWatch,
        nodes: &[NodeSlot],
        zk: Option<&Ensemble>,
        now: u64,
        e: &WalEvent,
    ) {
        let lagging = |node: u32| {
            let server = nodes[node as usize].core.as_ref().and_then(Node::zk_server);
            match (zk, server) {
                (Some(z), Some(s)) => z.server_lag_ms(s) > 0,
                _ => false,
            }
        };
        match e {
            WalEvent::Reached { situation, .. } => sit.reach(*situation),
            WalEvent::SteppedDown { node, why } if *why == "fenced" => {
                if let Some(w) = sit.nodes[*node as usize].woke.take() {
                    sit.reach(Situation::WokenLeaderFencedOut);
                    if w.taken_over {
                        sit.reach(Situation::PausedTakeoverThenFencedOut);
                    }
                }
            }
            WalEvent::Acked { digest, .. } if sit.wal => {
                sit.acked.insert(*digest);
                if std::mem::take(&mut sit.blank_loss_pending) {
                    sit.reach(Situation::TotalLossBlankReturnAck);
                }
            }
            WalEvent::Recovered {
                node,
                index,
                digest,
                ..
            } => {
                if !sit.nodes[*node as usize].blank_reading
                    && sit.appends.contains(digest)
                    && !sit.acked.contains(digest)
                    && sit.pending_recovered.len() < MAX_PENDING_RECOVERED
                {
                    sit.pending_recovered.push((*node, *index, *digest));
                }
            }
            WalEvent::BlankReadStarted { node } => {
                let w = &mut sit.nodes[*node as usize];
                w.blank_reading = true;
                if now < w.cut_off_until_ms || lagging(*node) {
                    sit.reach(Situation::BlankRecoveryUnderZkFault);
                }
            }
            WalEvent::BlankRecovered { node, .. } => {
                sit.nodes[*node as usize].blank_reading = false
            }
            WalEvent::TakeoverReadStarted { node } => {
                if lagging(*node) {
                    sit.reach(Situation::TakeoverReadOnLaggingServer);
                }
            }
            WalEvent::Fenced { node, .. } => sit.last_bumper = Some(*node),
            WalEvent::Published { .. } => sit.last_publish_ms = Some(now),
            _ => {}
        }
    }

    /// A ZooKeeper fault began: recovery reads in progress on the nodes it hits
    /// (`hits(node, its session's server)`) are now reads under it.
    pub(super) fn watch_zk_fault(&mut self, hits: impl Fn(u32, Option<u32>) -> bool) {
        for (j, s) in self.nodes.iter().enumerate() {
            let Some(core) = s.core.as_ref() else {
                continue;
            };
            if !hits(j as u32, core.zk_server()) {
                continue;
            }
            match core.reading() {
                Some(ReadPurpose::Takeover | ReadPurpose::Failover) => {
                    self.sit.counts.add(Situation::TakeoverReadOnLaggingServer)
                }
                Some(ReadPurpose::Blank) => {
                    self.sit.counts.add(Situation::BlankRecoveryUnderZkFault)
                }
                _ => {}
            }
        }
    }

    /// A ZooKeeper outage ends: did the leader's commit wait for it? The same leader,
    /// in the same term, as when it began, its commit index unmoved through it, and
    /// every other running node holding an entry past that index.
    pub(super) fn watch_commit_held(&mut self) {
        let Some(l) = self.current_leader() else {
            return;
        };
        let raft = self.nodes[l as usize]
            .core
            .as_ref()
            .expect("leader is up")
            .raft();
        let commit = raft.commit_index();
        if self.sit.outage_commit.take() != Some((l, raft.term(), commit))
            || raft.log().last_index() <= commit
            || self.nodes[l as usize].paused_until_ms > self.now_ms
        {
            return;
        }
        let mut others = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != l as usize)
            .filter_map(|(_, s)| s.core.as_ref().map(Node::raft))
            .peekable();
        if others.peek().is_some() && others.all(|r| r.log().last_index() > commit) {
            self.sit.reach(Situation::CommitHeldByZkOutage);
        }
    }
}
