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
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let case: Case = serde_json::from_str(&text)
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

/// The verdict name of a run: "pass" or the violated invariant.
pub fn verdict(r: &crate::world::RunResult) -> &str {
    r.violation
        .as_ref()
        .map_or("pass", |v| v.invariant.as_str())
}

/// Writes a regression case for a failing seed into `dir` (never overwriting): the
/// whole scenario, so the case replays even after the generator changes.
pub fn save_failure(dir: &Path, sc: &Scenario, invariant: &str) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let zk = if sc.options.zk.is_some() { "-zk" } else { "" };
    let name = format!(
        "{}-n{}-s{}{zk}-{invariant}.json",
        sc.variant.name(),
        sc.nodes,
        sc.seed
    );
    let path = dir.join(name);
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
    let text = serde_json::to_string_pretty(&case).map_err(|e| e.to_string())?;
    if !path.exists() {
        // Written whole or not at all (a second Ctrl-C may end the process at any
        // point): a temporary file in the same folder, then renamed.
        let tmp = dir.join(format!(
            ".{}.tmp",
            path.file_name().unwrap_or_default().to_string_lossy()
        ));
        let err = |e: std::io::Error| format!("{}: {e}", path.display());
        std::fs::write(&tmp, text + "\n").map_err(err)?;
        std::fs::rename(&tmp, &path).map_err(err)?;
    }
    Ok(path)
}
