//! `--shard K/N`: the K-th of N parts of a seed range, for running one range on many
//! machines (a Kubernetes indexed Job, a Slurm job array) and `merge`-ing the parts.
//!
//! K counts from 0 (`0/N` to `N-1/N`), as `JOB_COMPLETION_INDEX` and a Slurm array
//! `--array=0-(N-1)` do. The parts are contiguous blocks: of `A..B` (L = B - A
//! seeds), part K is `A + floor(K*L/N) .. A + floor((K+1)*L/N)`. The N parts cover the
//! range exactly once, their sizes differ by at most one, and each part is an ordinary
//! range of seeds: a failing seed replays by its own number, whatever the shard.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This part, `0..count`.
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// Parses `K/N` (0 <= K < N).
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || format!("--shard must look like K/N with 0 <= K < N, got '{s}'");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u64 = k.trim().parse().map_err(|_| bad())?;
        let count: u64 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// This part of `start..end`; refused when it is empty (more parts than seeds).
    pub fn of(self, start: u64, end: u64) -> Result<(u64, u64), String> {
        let (a, b) = self.bounds(start, end);
        if a >= b {
            return Err(format!(
                "--shard {}/{}: no seed of {start}..{end} falls in this part ({} seeds, {} parts)",
                self.index,
                self.count,
                end - start,
                self.count
            ));
        }
        Ok((a, b))
    }

    fn bounds(self, start: u64, end: u64) -> (u64, u64) {
        let len = u128::from(end - start);
        let at = |k: u64| start + (u128::from(k) * len / u128::from(self.count)) as u64;
        (at(self.index), at(self.index + 1))
    }

    /// `K/N`.
    pub fn name(self) -> String {
        format!("{}/{}", self.index, self.count)
    }
}

/// Parses an optional `--shard` and applies it to `start..end`.
pub fn shard_range(
    shard: Option<&str>,
    start: u64,
    end: u64,
) -> Result<(Option<Shard>, u64, u64), String> {
    match shard {
        None => Ok((None, start, end)),
        Some(s) => {
            let sh = Shard::parse(s)?;
            let (a, b) = sh.of(start, end)?;
            Ok((Some(sh), a, b))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_the_range_once_in_order() {
        for (start, end, n) in [
            (0u64, 10u64, 3u64),
            (5, 1_005, 7),
            (0, 4, 4),
            (u64::MAX - 10, u64::MAX, 3),
        ] {
            let mut at = start;
            for k in 0..n {
                let (a, b) = Shard { index: k, count: n }.of(start, end).unwrap();
                assert_eq!(a, at);
                assert!(b - a >= (end - start) / n && b - a <= (end - start) / n + 1);
                at = b;
            }
            assert_eq!(at, end);
        }
        assert_eq!(Shard::parse("2/5").unwrap(), Shard { index: 2, count: 5 });
        for bad in ["5/5", "1/0", "x/2", "3", "-1/2", "1/2/3"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        assert!(Shard { index: 0, count: 5 }.of(0, 3).is_err());
    }
}
