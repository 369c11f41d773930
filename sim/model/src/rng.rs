//! Every random choice of a run comes from a ChaCha stream derived from the seed: one
//! stream per purpose, so that changing how often one purpose draws does not shift
//! the numbers another purpose sees.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub mod stream {
    pub const SCENARIO: u64 = 1;
    pub const NETWORK: u64 = 2;
    pub const DISK: u64 = 3;
    pub const JITTER: u64 = 4;
    pub const CLIENTS: u64 = 5;
}

pub fn stream_rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// The stream `stream` of a branch (`branch.rs`): the seed's own key, a stream number
/// that no seed's own stream uses (`salt` is never 0 for a branch), so a branch draws
/// numbers no other branch or seed draws.
pub fn branch_rng(seed: u64, salt: u64, stream: u64) -> ChaCha8Rng {
    debug_assert!(salt != 0 && stream < 16);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(salt.wrapping_mul(16) | stream);
    rng
}
