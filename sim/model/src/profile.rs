//! Fault profiles, and options set by name: what turns (seed, variant, nodes) into the
//! scenario that runs, beyond [`Scenario::generate_with`].
//!
//! - `swarm` (the default): the scenario generator's own swarm of faults, 10 virtual
//!   seconds.
//! - `churn`: the design notes' target, a long-running cluster whose nodes die and are
//!   reborn again and again. One virtual hour of faults ([`CHURN_DURATION_MS`]) with
//!   clients writing throughout; every 2 to 20 s one of: a node crashes (25%, down 0.2
//!   to 15 s), a node is wiped (15%, returns with a blank disk), a node pauses (15%,
//!   50 ms to 10 s), the leader pauses (10%, 2 to 12 s: past a ZooKeeper session
//!   timeout), every node goes down at once (15%, each returning after its own 0.2 to
//!   20 s, one of them blank half of the time), the leader crashes (10%), or a
//!   ZooKeeper server lags (10%, stale reads; without ZooKeeper a node crashes
//!   instead). Every variant gets the same faults at the same times. The network only
//!   delays messages (no loss, duplication or reordering), so the figures show what
//!   node churn costs. The options (timeouts, batch sizes, ZooKeeper, WAL, pause
//!   monitor) are those the generator gives the seed and variant.
//!
//! Options are set by their path in the scenario's `options` JSON, for example
//! `zk.session_timeout_ms`, `zk.tick_time_ms`, `raft.election_timeout_ms_min`,
//! `client.op_timeout_ms`: any option a variant adds is settable the same way.

use rand::Rng;
use serde_json::Value;

use crate::rng::stream_rng;
use crate::scenario::{
    unique_value, ClientOpKind, ClientStep, Fault, Scenario, TimedFault, Variant,
};

/// The churn profile's fault phase: one virtual hour.
pub const CHURN_DURATION_MS: u64 = 3_600_000;
/// The churn profile's own ChaCha stream of the seed (apart from `rng::stream`'s).
const CHURN_STREAM: u64 = 0xc4_0001;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    Swarm,
    Churn,
}

impl Profile {
    pub const ALL: [Profile; 2] = [Profile::Swarm, Profile::Churn];

    pub fn name(self) -> &'static str {
        match self {
            Profile::Swarm => "swarm",
            Profile::Churn => "churn",
        }
    }

    pub fn parse(s: &str) -> Result<Profile, String> {
        Profile::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("unknown profile '{s}' (expected one of: swarm, churn)"))
    }

    /// The scenario of `seed` under this profile.
    pub fn generate(self, seed: u64, variant: Variant, nodes: u32, zk: bool) -> Scenario {
        self.shape(Scenario::generate_with(seed, variant, nodes, zk))
    }

    /// A generated scenario reshaped by this profile (its options kept).
    pub fn shape(self, sc: Scenario) -> Scenario {
        match self {
            Profile::Swarm => sc,
            Profile::Churn => churn(sc),
        }
    }
}

/// Replaces a generated scenario's faults and clients by the churn profile's.
fn churn(mut sc: Scenario) -> Scenario {
    let mut rng = stream_rng(sc.seed, CHURN_STREAM);
    let n = sc.nodes;
    let d = CHURN_DURATION_MS;
    let o = &mut sc.options;
    o.duration_ms = d;
    o.net.loss_ppm = 0;
    o.net.dup_ppm = 0;
    o.net.reorder_ppm = 0;
    let zk_servers = o.zk.as_ref().map(|z| z.servers);
    let keys = o.client.keys;
    let mut faults = Vec::new();
    let mut t = rng.gen_range(1_000..=5_000);
    while t < d {
        // Every draw is made whatever the fault, so that every variant (with or without
        // ZooKeeper) gets the same faults at the same times.
        let kind = rng.gen_range(0..100);
        let node = rng.gen_range(0..n);
        let down_ms = rng.gen_range(200..=15_000);
        let pause_ms = rng.gen_range(50..=10_000);
        let leader_pause_ms = rng.gen_range(2_000..=12_000);
        let server = rng.gen_range(0..9u32);
        let lag_ms = rng.gen_range(10..=2_000);
        let lag_for_ms = rng.gen_range(100..=5_000);
        let blank = rng.gen_bool(0.5).then_some(node);
        let all: Vec<(u64, u64)> = (0..n)
            .map(|_| (rng.gen_range(0..=200), rng.gen_range(200..=20_000)))
            .collect();
        let mut push = |at_ms, fault| faults.push(TimedFault { at_ms, fault });
        match kind {
            0..=24 => push(t, Fault::Crash { node, down_ms }),
            25..=39 => push(t, Fault::Wipe { node, down_ms }),
            40..=54 => push(t, Fault::Pause { node, ms: pause_ms }),
            55..=64 => push(
                t,
                Fault::PauseLeader {
                    ms: leader_pause_ms,
                },
            ),
            65..=79 => {
                // Every node down at once; each returns on its own, one maybe blank.
                for (k, &(stagger, down_ms)) in (0..n).zip(&all) {
                    let fault = if blank == Some(k) {
                        Fault::Wipe { node: k, down_ms }
                    } else {
                        Fault::Crash { node: k, down_ms }
                    };
                    push(t + stagger, fault);
                }
            }
            80..=89 => push(t, Fault::CrashLeader { down_ms }),
            _ => match zk_servers {
                Some(servers) => push(
                    t,
                    Fault::ZkLag {
                        server: server % servers,
                        lag_ms,
                        ms: lag_for_ms,
                    },
                ),
                None => push(t, Fault::Crash { node, down_ms }),
            },
        }
        t += rng.gen_range(2_000..=20_000);
    }
    faults.sort_by_key(|f| f.at_ms);
    sc.faults = faults;
    // Clients write throughout: 3 clients, a new operation 0.2 to 1 s after the last
    // ended (the scripts are long enough for the whole hour; the rest is not started).
    let ops = d / 200;
    sc.clients = (0..3usize)
        .map(|c| {
            (0..ops)
                .map(|k| ClientStep {
                    think_ms: rng.gen_range(200..=1_000),
                    op: if rng.gen_bool(0.8) {
                        ClientOpKind::Append {
                            key: rng.gen_range(0..keys),
                            value: unique_value(c, k),
                        }
                    } else {
                        ClientOpKind::Read {
                            key: rng.gen_range(0..keys),
                        }
                    },
                })
                .collect()
        })
        .collect();
    sc
}

/// Sets the option at `name` (its path in the scenario's `options`, dot-separated) to
/// `value`, parsed as the option's type. Unknown names, options the scenario does not
/// have (`zk.*` without ZooKeeper), groups and values of the wrong type are refused
/// with a one-line error. The scenario is not validated here (see [`Spec`]). Returns
/// the value's canonical form, printed from the typed value (`05` and ` 5` give `5`),
/// which is what replay lines and JSON summaries carry.
pub fn set_option(sc: &mut Scenario, name: &str, value: &str) -> Result<String, String> {
    let mut root = serde_json::to_value(&sc.options).map_err(|e| e.to_string())?;
    let mut at = &mut root;
    let mut walked = String::new();
    for part in name.split('.') {
        let here = walked.clone();
        if !walked.is_empty() {
            walked.push('.');
        }
        walked.push_str(part);
        at = match at {
            Value::Object(map) => {
                let known: Vec<String> = map.keys().cloned().collect();
                map.get_mut(part).ok_or_else(|| {
                    let under = if here.is_empty() {
                        String::new()
                    } else {
                        format!(" under '{here}'")
                    };
                    format!(
                        "unknown option '{name}' (known{under}: {})",
                        known.join(", ")
                    )
                })?
            }
            Value::Null => {
                return Err(format!(
                    "option '{name}': this scenario has no '{here}' (for zk.*, add --zk)"
                ))
            }
            _ => return Err(format!("unknown option '{name}': '{here}' is a value")),
        };
    }
    let bad = |what: &str| format!("option '{name}': '{value}' is not {what}");
    let typed = match at {
        Value::Number(_) => Value::from(
            value
                .trim()
                .parse::<u64>()
                .map_err(|_| bad("a whole number"))?,
        ),
        Value::Bool(_) => Value::from(
            value
                .trim()
                .parse::<bool>()
                .map_err(|_| bad("true or false"))?,
        ),
        Value::String(_) => Value::from(value),
        Value::Null => {
            return Err(format!(
                "option '{name}' is not set in this scenario (for zk.*, add --zk)"
            ))
        }
        Value::Object(map) => {
            let known: Vec<String> = map.keys().cloned().collect();
            return Err(format!(
                "option '{name}' is a group: name one of {}",
                known
                    .iter()
                    .map(|k| format!("{name}.{k}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Value::Array(_) => return Err(format!("option '{name}' is a list; it cannot be set")),
    };
    let canonical = match &typed {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    *at = typed;
    sc.options =
        serde_json::from_value(root).map_err(|e| format!("option '{name}={value}': {e}"))?;
    Ok(canonical)
}

/// Parses `NAME=VALUE`.
pub fn parse_assignment(s: &str) -> Result<(String, String), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("--set must look like NAME=VALUE, got '{s}'"))?;
    let name = name.trim();
    if name.is_empty() || value.is_empty() {
        return Err(format!("--set must look like NAME=VALUE, got '{s}'"));
    }
    Ok((name.to_string(), value.to_string()))
}

/// A profile, the pause monitor, and options set by name: with a seed, variant, node
/// count and `--zk`, a scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    pub profile: Profile,
    pub sets: Vec<(String, String)>,
    /// `--pause-monitor` ([`crate::run::PAUSE_MONITOR`]).
    pub pause_monitor: bool,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            profile: Profile::Swarm,
            sets: Vec::new(),
            pause_monitor: false,
        }
    }
}

impl Spec {
    /// A spec whose options are in canonical form: each value parsed to its option's
    /// type and printed back from it, sorted by name, each name at most once (a name
    /// given twice is refused). Two specs that run the same scenarios are then equal,
    /// and the replay lines and JSON summaries made from them can be pasted back.
    /// Types come from a scenario that has every option group (ZooKeeper, pause
    /// monitor). A value that scenario refuses (unknown name, wrong type) is kept as
    /// given: [`Spec::scenario`], which every command calls before it runs anything,
    /// refuses it in the words of the target's own scenario (`for zk.*, add --zk`).
    pub fn new(
        profile: Profile,
        sets: Vec<(String, String)>,
        pause_monitor: bool,
    ) -> Result<Spec, String> {
        let mut every_option = crate::run::Target {
            variant: Variant::Fenced,
            nodes: 2,
            zk: true,
            pause_monitor: true,
        }
        .scenario(0);
        let mut canonical = Vec::with_capacity(sets.len());
        for (name, value) in sets {
            let v = set_option(&mut every_option, &name, &value).unwrap_or(value);
            canonical.push((name, v));
        }
        canonical.sort();
        if let Some(w) = canonical.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(format!(
                "--set {} given twice ({}={} and {}={}): give each option once",
                w[0].0, w[0].0, w[0].1, w[1].0, w[1].1
            ));
        }
        Ok(Spec {
            profile,
            sets: canonical,
            pause_monitor,
        })
    }

    /// The scenario of `seed`: the target's, reshaped by the profile, with the options
    /// set, validated.
    pub fn scenario(
        &self,
        seed: u64,
        variant: Variant,
        nodes: u32,
        zk: bool,
    ) -> Result<Scenario, String> {
        let target = crate::run::Target {
            variant,
            nodes,
            zk,
            pause_monitor: self.pause_monitor,
        };
        let mut sc = self.profile.shape(target.scenario(seed));
        for (name, value) in &self.sets {
            set_option(&mut sc, name, value)?;
        }
        sc.validate()
            .map_err(|e| format!("with {}: {e}", self.describe_sets()))?;
        Ok(sc)
    }

    fn describe_sets(&self) -> String {
        if self.sets.is_empty() {
            "the defaults".into()
        } else {
            self.sets
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        }
    }

    /// The flags that give this spec on a command line (for replay commands).
    pub fn flags(&self) -> String {
        let mut s = String::new();
        if self.profile != Profile::Swarm {
            s.push_str(&format!(" --profile {}", self.profile.name()));
        }
        if self.pause_monitor {
            s.push_str(" --pause-monitor");
        }
        for (n, v) in &self.sets {
            s.push_str(&format!(" --set {n}={v}"));
        }
        s
    }

    /// With one more option set (canonical, as [`Spec::new`]).
    pub fn with(&self, name: &str, value: &str) -> Result<Spec, String> {
        let mut sets = self.sets.clone();
        sets.push((name.to_string(), value.to_string()));
        Spec::new(self.profile, sets, self.pause_monitor)
    }
}

/// The command that replays one seed of a range.
pub fn replay_command(variant: Variant, nodes: u32, seed: u64, zk: bool, spec: &Spec) -> String {
    let zk = if zk { " --zk" } else { "" };
    format!(
        "zkwal-sim replay --variant {} --nodes {nodes} --seed {seed}{zk}{}",
        variant.name(),
        spec.flags()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_set_by_name_and_bad_input_is_refused() {
        let mut sc = Scenario::generate_with(1, Variant::Raft, 2, true);
        set_option(&mut sc, "zk.session_timeout_ms", "6000").unwrap();
        assert_eq!(sc.options.zk.as_ref().unwrap().session_timeout_ms, 6000);
        set_option(&mut sc, "raft.election_timeout_ms_min", "300").unwrap();
        assert_eq!(sc.options.raft.election_timeout_ms_min, 300);
        for (name, value, says) in [
            ("zk.session_timeout", "1", "unknown option"),
            ("nope", "1", "unknown option"),
            ("zk", "1", "is a group"),
            ("zk.session_timeout_ms", "soon", "not a whole number"),
            ("zk.session_timeout_ms", "-5", "not a whole number"),
            ("zk.session_timeout_ms.x", "1", "is a value"),
            (
                "net.loss_ppm",
                "99999999999",
                "option 'net.loss_ppm=99999999999'",
            ),
        ] {
            let e = set_option(&mut sc, name, value).unwrap_err();
            assert!(e.contains(says), "{name}={value}: {e}");
            assert_eq!(e.lines().count(), 1);
        }
        let mut no_zk = Scenario::generate(1, Variant::Raft, 2);
        let e = set_option(&mut no_zk, "zk.tick_time_ms", "100").unwrap_err();
        assert!(e.contains("--zk"), "{e}");
        // A value the scenario cannot run with is refused by validation.
        let spec = Spec::default()
            .with("raft.heartbeat_interval_ms", "1000")
            .unwrap();
        let e = spec.scenario(1, Variant::Raft, 2, false).unwrap_err();
        assert!(e.contains("heartbeat"), "{e}");
    }

    #[test]
    fn churn_lasts_an_hour_with_every_node_fault_and_clients_throughout() {
        let sc = Profile::Churn.generate(7, Variant::Raft, 2, true);
        sc.validate().unwrap();
        assert_eq!(sc.options.duration_ms, CHURN_DURATION_MS);
        assert!(sc.faults.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
        let has = |f: fn(&Fault) -> bool| sc.faults.iter().any(|t| f(&t.fault));
        assert!(has(|f| matches!(f, Fault::Crash { .. })));
        assert!(has(|f| matches!(f, Fault::Wipe { .. })));
        assert!(has(|f| matches!(f, Fault::Pause { ms, .. } if *ms > 4_000)));
        assert!(has(|f| matches!(f, Fault::CrashLeader { .. })));
        assert!(has(|f| matches!(f, Fault::PauseLeader { .. })));
        assert!(has(|f| matches!(f, Fault::ZkLag { .. })));
        assert!(sc.faults.len() > 150, "{} faults", sc.faults.len());
        assert!(sc.faults.last().unwrap().at_ms > CHURN_DURATION_MS - 60_000);
        let think: u64 = sc.clients[0].iter().map(|s| s.think_ms).sum();
        assert!(think > CHURN_DURATION_MS, "scripts cover the hour");
        assert_eq!(Profile::Churn.generate(7, Variant::Raft, 2, true), sc);
        // The same faults for every variant, but for ZooKeeper's own.
        let node_faults = |sc: &Scenario| -> Vec<TimedFault> {
            sc.faults
                .iter()
                .filter(|f| !matches!(f.fault, Fault::ZkLag { .. } | Fault::Crash { .. }))
                .cloned()
                .collect()
        };
        let plain = Profile::Churn.generate(7, Variant::Raft, 2, false);
        assert!(!plain
            .faults
            .iter()
            .any(|f| matches!(f.fault, Fault::ZkLag { .. })));
        assert_eq!(node_faults(&plain), node_faults(&sc));
        for v in Variant::ALL {
            let other = Profile::Churn.generate(7, v, 2, true);
            assert_eq!(other.faults, sc.faults, "{}", v.name());
            assert_eq!(other.clients, sc.clients, "{}", v.name());
        }
    }
}
