//! TEMPORARY STUB written by the lead so the workspace compiles; helper-2 replaces this
//! whole file with the real checker (overwrite freely).
use serde::{Deserialize, Serialize};
pub type Key = u32;
pub type Value = u64;
pub type ClientId = u32;
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    Ok,
    Failed,
    Indeterminate,
}
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpKind {
    Append {
        key: Key,
        value: Value,
    },
    Read {
        key: Key,
        result: Option<Vec<Value>>,
    },
}
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    pub client: ClientId,
    pub invoke_ms: u64,
    pub complete_ms: u64,
    pub kind: OpKind,
    pub outcome: Outcome,
}
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    pub ops: Vec<Op>,
    pub final_states: Vec<(u32, std::collections::BTreeMap<Key, Vec<Value>>)>,
}
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnomalyKind {
    LostAppend,
}
impl AnomalyKind {
    pub fn name(&self) -> &'static str {
        "lost_append"
    }
}
#[derive(Clone, Debug)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    pub key: Key,
    pub ops: Vec<Op>,
    pub explanation: String,
}
impl std::fmt::Display for Anomaly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.explanation)
    }
}
pub fn check(_h: &History) -> Vec<Anomaly> {
    Vec::new()
}
