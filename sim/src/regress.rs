//! Regression cases in `seeds/`: each file is one JSON object naming a seed (with its
//! variant and node count) or carrying a whole saved [`Scenario`], and the verdict it
//! must replay to. `cargo test` replays every case forever after; `zkwal-sim run
//! --save-failures seeds/` writes new ones, so a failing seed is never lost.
//!
//! ```json
//! {"variant": "raft", "nodes": 3, "seed": 42, "expect": "pass", "note": "why it is here"}
//! {"scenario": { ... }, "expect": "election_safety", "note": "..."}
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::scenario::{Scenario, Variant};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<Scenario>,
    /// "pass", or the name of the invariant the case must violate.
    pub expect: String,
    /// When present, the run's trace hash (hex) must be exactly this: a pin that a
    /// seed replays bit for bit on every machine and build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_hash: Option<String>,
    #[serde(default)]
    pub note: String,
}

impl Case {
    /// The scenario this case replays, or a one-line reason it cannot be run.
    pub fn scenario(&self) -> Result<Scenario, String> {
        let sc =
            match (&self.scenario, self.seed) {
                (Some(sc), None) => sc.clone(),
                (None, Some(seed)) => {
                    let v = Variant::parse(
                        self.variant
                            .as_deref()
                            .ok_or("a seed case needs \"variant\"")?,
                    )?;
                    let nodes = self.nodes.ok_or("a seed case needs \"nodes\"")?;
                    if nodes == 0 || nodes > crate::scenario::MAX_NODES {
                        return Err(format!(
                            "nodes must be in 1..={}",
                            crate::scenario::MAX_NODES
                        ));
                    }
                    Scenario::generate(seed, v, nodes)
                }
                _ => return Err(
                    "a case has either \"seed\" (with variant and nodes) or \"scenario\", not both"
                        .into(),
                ),
            };
        sc.validate()?;
        Ok(sc)
    }
}

/// Loads one case file, with a one-line error naming the file.
pub fn load(path: &Path) -> Result<Case, String> {
    parse(path, &crate::output::read_input(path)?)
}

/// Parses the text of a case file read from `path`: serde's error (with its line and
/// column) or the reason its scenario cannot run, naming the file.
pub fn parse(path: &Path, text: &str) -> Result<Case, String> {
    let case: Case = serde_json::from_str(text)
        .map_err(|e| format!("{}: not a valid case: {e}", path.display()))?;
    case.scenario()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(case)
}

/// Every `*.json` file in `dir`, sorted by name.
pub fn case_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let rd = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    Ok(files)
}

/// Replays `case` and compares it with what it pins: `Ok` with the verdict (and hash)
/// when both match, else `Err` saying what differed. A pinned `trace_hash` that is not
/// 16 hex digits is a failure: a pin that cannot match must not read as "ok".
pub fn check(case: &Case) -> Result<String, String> {
    let sc = case.scenario()?;
    let pin = match &case.trace_hash {
        None => None,
        Some(h) if h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some(u64::from_str_radix(h, 16).map_err(|e| e.to_string())?)
        }
        Some(h) => return Err(format!("pinned trace_hash '{h}' is not 16 hex digits")),
    };
    let r = crate::run::run_scenario(&sc);
    let got = verdict(&r);
    let mut diffs = Vec::new();
    if got != case.expect {
        diffs.push(format!("expected {}, got {got}", case.expect));
    }
    if let Some(pin) = pin.filter(|p| *p != r.trace_hash) {
        diffs.push(format!(
            "trace hash {:016x}, pinned {pin:016x}",
            r.trace_hash
        ));
    }
    let hash = pin.map_or(String::new(), |p| format!(", trace hash {p:016x}"));
    if diffs.is_empty() {
        Ok(format!("expected {}, got {got}{hash}", case.expect))
    } else {
        Err(diffs.join("; "))
    }
}

/// The verdict name of a run: "pass" or the violated invariant.
pub fn verdict(r: &crate::world::RunResult) -> &str {
    r.violation
        .as_ref()
        .map_or("pass", |v| v.invariant.as_str())
}

/// A content hash of a scenario (its JSON, through the trace's FNV-style hash):
/// stable across machines and builds, so it can name a file.
pub fn scenario_hash(sc: &Scenario) -> u64 {
    let text = serde_json::to_string(sc).unwrap_or_default();
    let mut h = crate::trace::TraceHash::default();
    for chunk in text.as_bytes().chunks(8) {
        let mut w = [0u8; 8];
        w[..chunk.len()].copy_from_slice(chunk);
        h.mix(u64::from_le_bytes(w));
    }
    h.value()
}

/// The most names [`save_failure`] tries for one case (`-2`, `-3`, ... after the
/// first) before it reports the case as not saved.
pub const MAX_NAME_TRIES: u32 = 100;

/// Writes a regression case for a failing seed into `dir`: the whole scenario, so the
/// case replays even after the generator changes. The name carries variant, nodes,
/// seed, ZooKeeper, invariant and a content hash of the scenario (which covers
/// profile, `--set` options and pause monitor), so two runs that differ in anything
/// get two files. A file already there with the same content is this case (kept); one
/// with other content is never overwritten nor counted as this case: the next free
/// name (`-2`, `-3`, ...) is taken. Written whole or not at all (a temporary file,
/// then linked to its name, which fails rather than replace a file made meanwhile).
pub fn save_failure(dir: &Path, sc: &Scenario, invariant: &str) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let zk = if sc.options.zk.is_some() { "-zk" } else { "" };
    let stem = format!(
        "{}-n{}-s{}{zk}-{invariant}-{:016x}",
        sc.variant.name(),
        sc.nodes,
        sc.seed,
        scenario_hash(sc)
    );
    let case = Case {
        variant: None,
        nodes: None,
        seed: None,
        scenario: Some(sc.clone()),
        expect: invariant.into(),
        trace_hash: None,
        note: format!(
            "found by zkwal-sim run (seed {}, {} nodes); violates {invariant}",
            sc.seed, sc.nodes
        ),
    };
    let text = serde_json::to_string_pretty(&case).map_err(|e| e.to_string())? + "\n";
    let tmp = dir.join(format!(".{stem}.tmp-{}", std::process::id()));
    let err = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
    std::fs::write(&tmp, &text).map_err(|e| err(&tmp, e))?;
    let mut result = Err(format!(
        "{}: {MAX_NAME_TRIES} names taken by other content",
        dir.join(format!("{stem}.json")).display()
    ));
    for k in 1..=MAX_NAME_TRIES {
        let name = if k == 1 {
            format!("{stem}.json")
        } else {
            format!("{stem}-{k}.json")
        };
        let path = dir.join(name);
        match std::fs::hard_link(&tmp, &path) {
            Ok(()) => {
                result = Ok(path);
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if std::fs::read(&path).is_ok_and(|b| b == text.as_bytes()) {
                    result = Ok(path);
                    break;
                }
            }
            Err(e) => {
                result = Err(err(&path, e));
                break;
            }
        }
    }
    let _ = std::fs::remove_file(&tmp);
    result
}
