//! Named situations: moments of a run where a rule of the design matters (DESIGN.md
//! §10: a verdict of "no violation in N seeds" is only as strong as the situations
//! those seeds reached). Each is recorded every time it occurs, by the part that knows
//! the moment: the node core (here, as [`crate::WalEvent::Reached`]) or the world
//! (`sim/model/src/situations.rs`). Recording observes only: it never changes a run.
//!
//! A run keeps one count per situation in a fixed array ([`SituationCounts`]), indexed
//! by the enum: no map, no allocation on the hot path.

use crate::config::WalVariant;

/// A named situation. Each doc line names the question of DESIGN.md §2 it serves and
/// which variants can reach it ([`Situation::reachable`] is the gate's copy of that).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Situation {
    /// Q3. A node becomes leader while the old leader is paused and still believes it
    /// leads. seed-zk-quorum, fenced (2+ nodes); raft, seed (3+ nodes: the paused
    /// leader's vote is needed with 2).
    TakeoverWhileLeaderPaused,
    /// Q3. The woken old leader's epoch-checked write fails and it steps down. fenced.
    WokenLeaderFencedOut,
    /// Q3. The woken old leader sends AppendEntries after another node moved to a
    /// higher term, before it learns it was deposed. As [`Self::TakeoverWhileLeaderPaused`].
    WokenLeaderAppends,
    /// Q3, compound: the first and the third in one takeover: a node took over while
    /// this leader was paused, and the woken leader then sends AppendEntries.
    PausedTakeoverThenStaleAppend,
    /// Q3, compound: a node took over while this leader was paused, and the woken
    /// leader's epoch-checked write then fails and it steps down. fenced.
    PausedTakeoverThenFencedOut,
    /// Q3. ZooKeeper expires the session of a node that is up and not paused (cut off,
    /// partitioned, or ZooKeeper itself away): a false death. Every variant with ZooKeeper.
    SessionExpiredWhileRunning,
    /// Q6. A node becomes leader while another node's snapshot publication (with its
    /// WAL truncation) is in flight, or within [`PUBLISH_RECENT_MS`] after one was
    /// applied. WAL variants.
    FailoverAroundPublish,
    /// Q6, Q8. A recovery read (takeover, failover or blank disk) found a WAL whose
    /// prefix was truncated and starts from the published snapshot. WAL variants.
    RecoveryFromTruncatedWal,
    /// Q1, Q5. Two takeovers race on `/epoch` and this one loses (BadVersion). fenced.
    EpochRaceLost,
    /// Q1, Q5. A node campaigns in the term its takeover reserved after another node's
    /// later bump reserved a higher one. fenced.
    CampaignInOvertakenTerm,
    /// Q4. A takeover (failover) read begins, or goes on, on a session connected to a
    /// lagging ZooKeeper server. WAL variants.
    TakeoverReadOnLaggingServer,
    /// Q4, Q7. A blank node's recovery read begins or goes on while its session's
    /// server lags or its link to ZooKeeper is cut. WAL variants.
    BlankRecoveryUnderZkFault,
    /// Q2. A WAL entry (a client append) written at step A and never acknowledged is
    /// recovered from the WAL by a takeover (failover) read and applied by that node.
    /// WAL variants.
    UnackedWalEntryApplied,
    /// Q2. A WAL create answered NodeExists: an earlier attempt, whose reply was lost
    /// with the connection, had happened. WAL variants.
    ConnectionLossThenNodeExists,
    /// Q7. Every node down at once, some returning blank, then a write acknowledged.
    /// WAL variants.
    TotalLossBlankReturnAck,
    /// Q9. A ZooKeeper outage ends with the leader of its start still leading in the
    /// same term, its commit index unmoved through the outage, and every other running
    /// node holding an entry past it: the commit waited for ZooKeeper. fenced (the only
    /// variant whose commit needs ZooKeeper).
    CommitHeldByZkOutage,
    /// Raft (Figure 8). A node's entry appended while it led, never committed, is
    /// truncated by a later leader: the leader was deposed with entries on a minority.
    /// Every variant, 2+ nodes.
    LeaderDeposedWithMinorityEntries,
    /// Raft (§5.4.2). A leader's commit index passes an entry of an earlier term.
    /// Every variant.
    CommitOfEarlierTermEntry,
    /// Raft (§7). A follower installs a snapshot while its log reaches past the
    /// snapshot's last index. Every variant, 2+ nodes.
    SnapshotInstallOverLongerLog,
}

/// [`Situation::FailoverAroundPublish`]: a publication applied this recently (virtual
/// ms) before a node becomes leader counts as "just applied".
pub const PUBLISH_RECENT_MS: u64 = 1_000;

impl Situation {
    pub const COUNT: usize = 19;

    /// Every situation, in table order.
    pub const ALL: [Situation; Situation::COUNT] = [
        Situation::TakeoverWhileLeaderPaused,
        Situation::WokenLeaderFencedOut,
        Situation::WokenLeaderAppends,
        Situation::PausedTakeoverThenStaleAppend,
        Situation::PausedTakeoverThenFencedOut,
        Situation::SessionExpiredWhileRunning,
        Situation::FailoverAroundPublish,
        Situation::RecoveryFromTruncatedWal,
        Situation::EpochRaceLost,
        Situation::CampaignInOvertakenTerm,
        Situation::TakeoverReadOnLaggingServer,
        Situation::BlankRecoveryUnderZkFault,
        Situation::UnackedWalEntryApplied,
        Situation::ConnectionLossThenNodeExists,
        Situation::TotalLossBlankReturnAck,
        Situation::CommitHeldByZkOutage,
        Situation::LeaderDeposedWithMinorityEntries,
        Situation::CommitOfEarlierTermEntry,
        Situation::SnapshotInstallOverLongerLog,
    ];

    /// The name in tables, JSON and the gate's messages.
    pub fn name(self) -> &'static str {
        match self {
            Situation::TakeoverWhileLeaderPaused => "takeover_while_leader_paused",
            Situation::WokenLeaderFencedOut => "woken_leader_fenced_out",
            Situation::WokenLeaderAppends => "woken_leader_appends",
            Situation::PausedTakeoverThenStaleAppend => "paused_takeover_then_stale_append",
            Situation::PausedTakeoverThenFencedOut => "paused_takeover_then_fenced_out",
            Situation::SessionExpiredWhileRunning => "session_expired_while_running",
            Situation::FailoverAroundPublish => "failover_around_publish",
            Situation::RecoveryFromTruncatedWal => "recovery_from_truncated_wal",
            Situation::EpochRaceLost => "epoch_race_lost",
            Situation::CampaignInOvertakenTerm => "campaign_in_overtaken_term",
            Situation::TakeoverReadOnLaggingServer => "takeover_read_on_lagging_server",
            Situation::BlankRecoveryUnderZkFault => "blank_recovery_under_zk_fault",
            Situation::UnackedWalEntryApplied => "unacked_wal_entry_applied",
            Situation::ConnectionLossThenNodeExists => "connection_loss_then_node_exists",
            Situation::TotalLossBlankReturnAck => "total_loss_blank_return_ack",
            Situation::CommitHeldByZkOutage => "commit_held_by_zk_outage",
            Situation::LeaderDeposedWithMinorityEntries => "leader_deposed_with_minority_entries",
            Situation::CommitOfEarlierTermEntry => "commit_of_earlier_term_entry",
            Situation::SnapshotInstallOverLongerLog => "snapshot_install_over_longer_log",
        }
    }

    pub fn parse(name: &str) -> Option<Situation> {
        Situation::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The question of DESIGN.md §2 it serves (or "raft" for Raft's own).
    pub fn question(self) -> &'static str {
        match self {
            Situation::TakeoverWhileLeaderPaused
            | Situation::WokenLeaderFencedOut
            | Situation::WokenLeaderAppends
            | Situation::PausedTakeoverThenStaleAppend
            | Situation::PausedTakeoverThenFencedOut
            | Situation::SessionExpiredWhileRunning => "Q3",
            Situation::FailoverAroundPublish => "Q6",
            Situation::RecoveryFromTruncatedWal => "Q6,Q8",
            Situation::EpochRaceLost | Situation::CampaignInOvertakenTerm => "Q1,Q5",
            Situation::TakeoverReadOnLaggingServer => "Q4",
            Situation::BlankRecoveryUnderZkFault => "Q4,Q7",
            Situation::UnackedWalEntryApplied | Situation::ConnectionLossThenNodeExists => "Q2",
            Situation::TotalLossBlankReturnAck => "Q7",
            Situation::CommitHeldByZkOutage => "Q9",
            Situation::LeaderDeposedWithMinorityEntries
            | Situation::CommitOfEarlierTermEntry
            | Situation::SnapshotInstallOverLongerLog => "raft",
        }
    }

    /// Whether a run of `variant` with `nodes` nodes (`zk`: a ZooKeeper ensemble on the
    /// network) can reach it at all: the gate requires only these. Rules that no run
    /// can meet (plain Raft has no WAL, a lone node no takeover) say no here; a
    /// generator that does not happen to reach a reachable one is what the gate is for.
    pub fn reachable(self, variant: WalVariant, nodes: u32, zk: bool) -> bool {
        let wal = variant.has_wal();
        let fenced = variant.fenced();
        // A takeover while the old leader still holds its role needs a quorum without
        // it: 3+ nodes under majority, 2 where a lone survivor may lead.
        let takeover = nodes >= 3 || (nodes == 2 && variant.lone_survivor());
        match self {
            Situation::TakeoverWhileLeaderPaused
            | Situation::WokenLeaderAppends
            | Situation::PausedTakeoverThenStaleAppend => takeover,
            Situation::WokenLeaderFencedOut | Situation::PausedTakeoverThenFencedOut => {
                fenced && nodes >= 2
            }
            Situation::SessionExpiredWhileRunning => wal || zk,
            Situation::FailoverAroundPublish
            | Situation::TakeoverReadOnLaggingServer
            | Situation::UnackedWalEntryApplied => wal && nodes >= 2,
            Situation::RecoveryFromTruncatedWal
            | Situation::BlankRecoveryUnderZkFault
            | Situation::ConnectionLossThenNodeExists
            | Situation::TotalLossBlankReturnAck => wal,
            Situation::EpochRaceLost | Situation::CampaignInOvertakenTerm => fenced && nodes >= 2,
            Situation::CommitHeldByZkOutage => fenced && nodes >= 2,
            Situation::LeaderDeposedWithMinorityEntries
            | Situation::SnapshotInstallOverLongerLog => nodes >= 2,
            Situation::CommitOfEarlierTermEntry => true,
        }
    }
}

/// How many times each situation occurred in one run: a fixed array indexed by
/// [`Situation`] (cheap to copy, add and clear).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SituationCounts([u32; Situation::COUNT]);

impl SituationCounts {
    pub fn add(&mut self, s: Situation) {
        let c = &mut self.0[s as usize];
        *c = c.saturating_add(1);
    }

    pub fn get(&self, s: Situation) -> u32 {
        self.0[s as usize]
    }

    /// Every situation with its count, in table order (zeros included).
    pub fn iter(&self) -> impl Iterator<Item = (Situation, u32)> + '_ {
        Situation::ALL.into_iter().map(|s| (s, self.0[s as usize]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lists_every_situation_once_in_enum_order() {
        for (i, s) in Situation::ALL.iter().enumerate() {
            assert_eq!(*s as usize, i, "{s:?}");
            assert_eq!(Situation::parse(s.name()), Some(*s));
        }
    }

    #[test]
    fn plain_raft_reaches_none_of_the_zookeeper_ones() {
        for s in Situation::ALL {
            if s.question() != "raft"
                && !matches!(
                    s,
                    Situation::TakeoverWhileLeaderPaused
                        | Situation::WokenLeaderAppends
                        | Situation::PausedTakeoverThenStaleAppend
                        | Situation::SessionExpiredWhileRunning
                )
            {
                assert!(!s.reachable(WalVariant::Raft, 5, true), "{s:?}");
            }
        }
        assert!(!Situation::SessionExpiredWhileRunning.reachable(WalVariant::Raft, 3, false));
        assert!(!Situation::TakeoverWhileLeaderPaused.reachable(WalVariant::Raft, 2, false));
        assert!(Situation::TakeoverWhileLeaderPaused.reachable(WalVariant::Fenced, 2, true));
    }
}
