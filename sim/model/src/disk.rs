//! A node's simulated disk: durable state plus writes issued but not yet durable.
//! Writes become durable in issue order; a crash loses the ones still pending; a
//! wipe loses everything.

use std::collections::VecDeque;

use zkwal_raft::{DurableState, Write, WriteId};

pub struct Disk {
    pub durable: DurableState,
    pending: VecDeque<(WriteId, Write)>,
    /// When the last pending write will be durable (writes complete in order).
    pub busy_until_ms: u64,
}

impl Disk {
    pub fn new() -> Disk {
        Disk {
            durable: DurableState::bootstrap(),
            pending: VecDeque::new(),
            busy_until_ms: 0,
        }
    }

    pub fn submit(&mut self, id: WriteId, write: Write) {
        debug_assert!(
            self.pending.back().is_none_or(|(last, _)| *last < id),
            "writes are issued in order"
        );
        self.pending.push_back((id, write));
    }

    /// Makes every pending write up to `id` durable, calling `on_write` with the durable
    /// state before and the write, so checkers can watch durable state change.
    pub fn complete(&mut self, id: WriteId, mut on_write: impl FnMut(&DurableState, &Write)) {
        while let Some((wid, _)) = self.pending.front() {
            if *wid > id {
                break;
            }
            let (_, write) = self.pending.pop_front().expect("front exists");
            on_write(&self.durable, &write);
            self.durable.apply(&write);
        }
    }

    /// The process died: pending writes are lost. Returns how many.
    pub fn crash(&mut self) -> usize {
        let lost = self.pending.len();
        self.pending.clear();
        lost
    }

    /// The disk is replaced by a blank one.
    pub fn wipe(&mut self) -> usize {
        let lost = self.crash();
        self.durable = DurableState::blank();
        lost
    }
}

impl Default for Disk {
    fn default() -> Self {
        Disk::new()
    }
}
