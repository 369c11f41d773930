//! The run's trace: a running hash of every event processed (what replays compare),
//! and, when a tracing subscriber listens (`replay`), a readable line per event.

/// FNV-1a-style 64-bit running hash; stable across machines and Rust versions.
#[derive(Clone, Copy, Debug)]
pub struct TraceHash(u64);

impl Default for TraceHash {
    fn default() -> Self {
        TraceHash(0xcbf2_9ce4_8422_2325)
    }
}

impl TraceHash {
    #[inline]
    pub fn mix(&mut self, x: u64) {
        self.0 ^= x;
        self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        self.0 ^= self.0 >> 29;
    }

    pub fn value(&self) -> u64 {
        self.0
    }
}
