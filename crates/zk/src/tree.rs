//! The data tree: znodes with data and Stat, the ephemeral index and the set of live
//! sessions, changed only by applying committed transactions in zxid order.
//!
//! Every server of the mock ensemble (and the leader's head state) holds one
//! `DataTree`; they stay identical at equal zxids because [`DataTree::apply`] is a
//! pure function of (tree, transaction). A write that fails still takes a zxid and
//! fails identically on every tree, like the real server's error transaction.
//!
//! Check order follows 3.8's PrepRequestProcessor: create checks that the path has a
//! '/' and no NUL, the parent (NoNode), the parent's ACL (NoAuth), then the full path
//! (BadArguments, after the sequential suffix), existence (NodeExists), an ephemeral
//! parent (NoChildrenForEphemerals); setData checks the path, the node (NoNode), its
//! ACL (NoAuth), the version (BadVersion); delete checks only for a '/' and no NUL
//! (the server does not validate delete paths further), refuses the built-in nodes
//! (BadArguments), then the parent and the node (NoNode), the version (BadVersion)
//! and only then emptiness (NotEmpty). Versions other than -1 must match exactly
//! (so -2 is BadVersion). The built-in nodes start as on a fresh 3.8 server: `/` with
//! cversion -1, `/zookeeper` with cversion -2, `/zookeeper/config` with aversion -1
//! and a read-only ACL (setData and creating children there: NoAuth).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;
use crate::proto::{CreateMode, EventType, MultiOp, OpResult, SessionId, Stat, Zxid};

/// A committed write, as the leader ordered it. Applied by re-execution on each tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnOp {
    CreateSession {
        session: SessionId,
        timeout_ms: u64,
    },
    /// Session close or expiry: deletes the session's ephemerals in one transaction.
    CloseSession {
        session: SessionId,
    },
    Create {
        session: SessionId,
        path: String,
        data: Vec<u8>,
        mode: CreateMode,
    },
    Delete {
        session: SessionId,
        path: String,
        version: i32,
    },
    SetData {
        session: SessionId,
        path: String,
        data: Vec<u8>,
        version: i32,
    },
    Multi {
        session: SessionId,
        ops: Vec<MultiOp>,
    },
}

/// What applying a transaction produced (identical on every tree).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnResult {
    SessionCreated,
    /// The paths of the ephemerals deleted.
    SessionClosed(Vec<String>),
    Created {
        path: String,
        stat: Stat,
    },
    Deleted,
    DataSet {
        stat: Stat,
    },
    /// Per-operation results; on failure the codes as the real server reports them.
    Multi(Vec<OpResult>),
    Failed(ErrorCode),
}

/// Which watch tables a change triggers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WatchTable {
    Data,
    Child,
    /// Data then child watches of the path, each watcher told once (a delete).
    Both,
}

/// A watch trigger produced by a change, in the order the real DataTree fires them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    pub path: String,
    pub event: EventType,
    pub table: WatchTable,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Meta {
    data: Vec<u8>,
    czxid: Zxid,
    mzxid: Zxid,
    ctime_ms: u64,
    mtime_ms: u64,
    version: i32,
    cversion: i32,
    ephemeral_owner: u64,
    pzxid: Zxid,
    /// Successful child creates ever: the sequential suffix (not cversion, which also
    /// counts deletes).
    child_creates: u32,
    /// ACL version (-1 for `/zookeeper/config`, 0 otherwise: ACLs are not modelled).
    aversion: i32,
    /// The node's ACL is world:anyone READ only (`/zookeeper/config`).
    read_only: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Node {
    meta: Meta,
    children: BTreeSet<String>,
}

impl Node {
    fn stat(&self) -> Stat {
        let m = &self.meta;
        Stat {
            czxid: m.czxid,
            mzxid: m.mzxid,
            ctime_ms: m.ctime_ms,
            mtime_ms: m.mtime_ms,
            version: m.version,
            cversion: m.cversion,
            aversion: m.aversion,
            ephemeral_owner: m.ephemeral_owner,
            data_length: m.data.len() as i32,
            num_children: self.children.len() as i32,
            pzxid: m.pzxid,
        }
    }
}

/// Undo record for rolling back a failed multi.
enum Undo {
    /// The node was created: remove it and unlink it from its parent.
    Created(String),
    /// The node was deleted: put it back and relink it.
    Deleted(String, Node),
    /// The node's metadata (not its children) was changed.
    Meta(String, Meta),
}

/// The replicated data tree of one server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataTree {
    nodes: BTreeMap<String, Node>,
    /// Sessions live as of `last_zxid` (created and not yet closed).
    sessions: BTreeMap<SessionId, u64>,
    /// Ephemeral paths per owning session.
    ephemerals: BTreeMap<SessionId, BTreeSet<String>>,
    last_zxid: Zxid,
    /// Bytes held: see [`DataTree::held_bytes`] (kept up to date by every change;
    /// `check_invariants` recounts it).
    held_bytes: u64,
    /// The `last_zxid` at which `check_invariants` last passed.
    verified: VerifiedAt,
}

/// The zxid at which a tree's full check last passed. [`DataTree::apply`] is the only
/// mutation and always raises `last_zxid`, so a tree still at that zxid is unchanged
/// and its walk can be skipped: the ensemble checks a server whose state has not moved
/// since the last check (a lagging or partitioned one) for free. Not part of a tree's
/// value: two trees compare equal whatever their checks.
#[derive(Clone, Debug, Default)]
struct VerifiedAt(std::cell::Cell<Option<Zxid>>);

impl PartialEq for VerifiedAt {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for VerifiedAt {}

impl Default for DataTree {
    fn default() -> Self {
        Self::new()
    }
}

/// The nodes every real server starts with; deleting them is refused.
const SPECIAL: [&str; 4] = ["/", "/zookeeper", "/zookeeper/config", "/zookeeper/quota"];

/// The cversion a node starts with: a fresh 3.8 server reports -1 for `/` and -2
/// for `/zookeeper`.
fn initial_cversion(path: &str) -> i32 {
    match path {
        "/" => -1,
        "/zookeeper" => -2,
        _ => 0,
    }
}

/// A character PathUtils.validatePath refuses: NUL and other control characters,
/// U+007F-U+009F, U+D800-U+F8FF (surrogates and the private use area), U+FFF0-U+FFFF,
/// and characters outside the BMP (a Java string holds them as surrogate pairs).
pub fn invalid_path_char(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{e000}'..='\u{f8ff}' | '\u{fff0}'..)
}

/// Validates a path as the Java client's PathUtils.validatePath does before sending
/// (and the server for the full path of a create): absolute; no empty, "." or ".."
/// component; no trailing '/'; none of the characters of [`invalid_path_char`]. For
/// a sequential create the path is checked with a suffix appended (`path + "1"`), so
/// it may end in '/', "/." or "/..".
pub fn validate_path(path: &str, sequential: bool) -> Result<(), ErrorCode> {
    if sequential {
        return validate_path(&format!("{path}1"), false);
    }
    if !path.starts_with('/') {
        return Err(ErrorCode::BadArguments);
    }
    if path == "/" {
        return Ok(());
    }
    if path.ends_with('/') || path[1..].chars().any(invalid_path_char) {
        return Err(ErrorCode::BadArguments);
    }
    for comp in path[1..].split('/') {
        if comp.is_empty() || comp == "." || comp == ".." {
            return Err(ErrorCode::BadArguments);
        }
    }
    Ok(())
}

/// The only check the server makes on the path of a delete (and the first one of a
/// create): it has a '/' and no NUL.
fn check_slash_and_nul(path: &str) -> Result<(), ErrorCode> {
    if !path.contains('/') || path.contains('\0') {
        return Err(ErrorCode::BadArguments);
    }
    Ok(())
}

/// Splits "/a/b" into ("/a", "b"); "/a" into ("/", "a"). None for "/".
pub fn split_path(path: &str) -> Option<(&str, &str)> {
    if path == "/" {
        return None;
    }
    let i = path.rfind('/')?;
    let parent = if i == 0 { "/" } else { &path[..i] };
    Some((parent, &path[i + 1..]))
}

/// What a node counts towards [`DataTree::held_bytes`]: its data, and its path unless
/// it is a built-in node.
fn held(path: &str, data: &[u8]) -> u64 {
    let path_bytes = if SPECIAL.contains(&path) {
        0
    } else {
        path.len()
    };
    (path_bytes + data.len()) as u64
}

fn version_matches(expected: i32, actual: i32) -> bool {
    expected == -1 || expected == actual
}

impl DataTree {
    /// A fresh tree as a real server starts: "/", "/zookeeper", "/zookeeper/config"
    /// and "/zookeeper/quota", all at zxid 0.
    pub fn new() -> Self {
        let mut t = DataTree {
            nodes: BTreeMap::new(),
            sessions: BTreeMap::new(),
            ephemerals: BTreeMap::new(),
            last_zxid: 0,
            held_bytes: 0,
            verified: VerifiedAt::default(),
        };
        for p in SPECIAL {
            let config = p == "/zookeeper/config";
            let node = Node {
                meta: Meta {
                    data: Vec::new(),
                    czxid: 0,
                    mzxid: 0,
                    ctime_ms: 0,
                    mtime_ms: 0,
                    version: 0,
                    cversion: initial_cversion(p),
                    ephemeral_owner: 0,
                    pzxid: 0,
                    child_creates: 0,
                    aversion: if config { -1 } else { 0 },
                    read_only: config,
                },
                children: BTreeSet::new(),
            };
            t.nodes.insert(p.to_string(), node);
            if let Some((parent, name)) = split_path(p) {
                let parent = t.nodes.get_mut(parent).expect("special parent first");
                parent.children.insert(name.to_string());
            }
        }
        t
    }

    /// Bytes the tree holds for its users: the data of every node plus the path of
    /// every node but the built-in `/`, `/zookeeper`, `/zookeeper/config` and
    /// `/zookeeper/quota`.
    pub fn held_bytes(&self) -> u64 {
        self.held_bytes
    }

    /// The zxid of the last transaction applied.
    pub fn last_zxid(&self) -> Zxid {
        self.last_zxid
    }

    /// The node's data and Stat.
    pub fn get(&self, path: &str) -> Option<(&[u8], Stat)> {
        self.nodes.get(path).map(|n| (&n.meta.data[..], n.stat()))
    }

    pub fn stat(&self, path: &str) -> Option<Stat> {
        self.nodes.get(path).map(Node::stat)
    }

    /// The node's children, sorted.
    pub fn children(&self, path: &str) -> Option<Vec<String>> {
        self.nodes
            .get(path)
            .map(|n| n.children.iter().cloned().collect())
    }

    /// Is the session live as of this tree's zxid?
    pub fn session_live(&self, session: SessionId) -> bool {
        self.sessions.contains_key(&session)
    }

    /// Live sessions as of this tree's zxid, with their timeouts.
    pub fn sessions(&self) -> impl Iterator<Item = (SessionId, u64)> + '_ {
        self.sessions.iter().map(|(s, t)| (*s, *t))
    }

    /// The ephemerals a session owns.
    pub fn ephemerals_of(&self, session: SessionId) -> Vec<String> {
        self.ephemerals
            .get(&session)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Every path in the tree, sorted.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.nodes.keys().map(String::as_str)
    }

    /// Applies the transaction committed at `zxid` (which must be the next one).
    /// Returns its result and the watch triggers it fires, in firing order.
    pub fn apply(&mut self, zxid: Zxid, time_ms: u64, op: &TxnOp) -> (TxnResult, Vec<Trigger>) {
        assert!(
            zxid > self.last_zxid,
            "zxid {zxid} applied after {}",
            self.last_zxid
        );
        self.last_zxid = zxid;
        let mut triggers = Vec::new();
        let result = match op {
            TxnOp::CreateSession {
                session,
                timeout_ms,
            } => {
                self.sessions.insert(*session, *timeout_ms);
                TxnResult::SessionCreated
            }
            TxnOp::CloseSession { session } => {
                let paths = self.ephemerals_of(*session);
                for p in &paths {
                    let r = self.delete(zxid, p, -1, &mut None, &mut triggers);
                    debug_assert!(r.is_ok(), "ephemeral {p} deletable: {r:?}");
                }
                self.ephemerals.remove(session);
                self.sessions.remove(session);
                TxnResult::SessionClosed(paths)
            }
            TxnOp::Create {
                session,
                path,
                data,
                mode,
            } => match self.check_session(*session).and_then(|_| {
                self.create(
                    zxid,
                    time_ms,
                    *session,
                    path,
                    data,
                    *mode,
                    &mut None,
                    &mut triggers,
                )
            }) {
                Ok(path) => {
                    let stat = self.stat(&path).expect("just created");
                    TxnResult::Created { path, stat }
                }
                Err(e) => TxnResult::Failed(e),
            },
            TxnOp::Delete {
                session,
                path,
                version,
            } => match self
                .check_session(*session)
                .and_then(|_| self.delete(zxid, path, *version, &mut None, &mut triggers))
            {
                Ok(()) => TxnResult::Deleted,
                Err(e) => TxnResult::Failed(e),
            },
            TxnOp::SetData {
                session,
                path,
                data,
                version,
            } => match self.check_session(*session).and_then(|_| {
                self.set_data(
                    zxid,
                    time_ms,
                    path,
                    data,
                    *version,
                    &mut None,
                    &mut triggers,
                )
            }) {
                Ok(stat) => TxnResult::DataSet { stat },
                Err(e) => TxnResult::Failed(e),
            },
            TxnOp::Multi { session, ops } => match self.check_session(*session) {
                Err(e) => TxnResult::Failed(e),
                Ok(()) => TxnResult::Multi(self.multi(zxid, time_ms, *session, ops, &mut triggers)),
            },
        };
        (result, triggers)
    }

    fn check_session(&self, session: SessionId) -> Result<(), ErrorCode> {
        if self.sessions.contains_key(&session) {
            Ok(())
        } else {
            Err(ErrorCode::SessionExpired)
        }
    }

    fn multi(
        &mut self,
        zxid: Zxid,
        time_ms: u64,
        session: SessionId,
        ops: &[MultiOp],
        triggers: &mut Vec<Trigger>,
    ) -> Vec<OpResult> {
        let mut undo = Some(Vec::new());
        let mut local = Vec::new();
        let mut results = Vec::with_capacity(ops.len());
        let mut failed = None;
        for (i, op) in ops.iter().enumerate() {
            let r = match op {
                MultiOp::Create { path, data, mode } => self
                    .create(
                        zxid, time_ms, session, path, data, *mode, &mut undo, &mut local,
                    )
                    .map(|path| OpResult::Create { path }),
                MultiOp::Delete { path, version } => self
                    .delete(zxid, path, *version, &mut undo, &mut local)
                    .map(|_| OpResult::Delete),
                MultiOp::SetData {
                    path,
                    data,
                    version,
                } => self
                    .set_data(zxid, time_ms, path, data, *version, &mut undo, &mut local)
                    .map(|stat| OpResult::SetData { stat }),
                MultiOp::Check { path, version } => {
                    self.check(path, *version).map(|_| OpResult::Check)
                }
            };
            match r {
                Ok(res) => results.push(res),
                Err(e) => {
                    failed = Some((i, e));
                    break;
                }
            }
        }
        match failed {
            None => {
                triggers.append(&mut local);
                results
            }
            Some((fi, err)) => {
                self.rollback(undo.take().expect("undo log"));
                (0..ops.len())
                    .map(|i| OpResult::Error {
                        err: match i.cmp(&fi) {
                            std::cmp::Ordering::Less => ErrorCode::Ok,
                            std::cmp::Ordering::Equal => err,
                            std::cmp::Ordering::Greater => ErrorCode::RuntimeInconsistency,
                        },
                    })
                    .collect()
            }
        }
    }

    fn rollback(&mut self, undo: Vec<Undo>) {
        for u in undo.into_iter().rev() {
            match u {
                Undo::Created(path) => {
                    let node = self.nodes.remove(&path).expect("created node present");
                    self.held_bytes -= held(&path, &node.meta.data);
                    debug_assert!(node.children.is_empty());
                    if node.meta.ephemeral_owner != 0 {
                        self.unindex_ephemeral(SessionId(node.meta.ephemeral_owner), &path);
                    }
                    let (parent, name) = split_path(&path).expect("not root");
                    self.nodes
                        .get_mut(parent)
                        .expect("parent present")
                        .children
                        .remove(name);
                }
                Undo::Deleted(path, node) => {
                    if node.meta.ephemeral_owner != 0 {
                        self.ephemerals
                            .entry(SessionId(node.meta.ephemeral_owner))
                            .or_default()
                            .insert(path.clone());
                    }
                    let (parent, name) = split_path(&path).expect("not root");
                    self.nodes
                        .get_mut(parent)
                        .expect("parent present")
                        .children
                        .insert(name.to_string());
                    self.held_bytes += held(&path, &node.meta.data);
                    self.nodes.insert(path, node);
                }
                Undo::Meta(path, meta) => {
                    let node = self.nodes.get_mut(&path).expect("node present");
                    self.held_bytes -= node.meta.data.len() as u64;
                    self.held_bytes += meta.data.len() as u64;
                    node.meta = meta;
                }
            }
        }
    }

    fn unindex_ephemeral(&mut self, session: SessionId, path: &str) {
        if let Some(set) = self.ephemerals.get_mut(&session) {
            set.remove(path);
            if set.is_empty() {
                self.ephemerals.remove(&session);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn create(
        &mut self,
        zxid: Zxid,
        time_ms: u64,
        session: SessionId,
        path: &str,
        data: &[u8],
        mode: CreateMode,
        undo: &mut Option<Vec<Undo>>,
        triggers: &mut Vec<Trigger>,
    ) -> Result<String, ErrorCode> {
        check_slash_and_nul(path)?;
        let last_slash = path.rfind('/').expect("checked");
        let parent_path = if last_slash == 0 {
            "/"
        } else {
            &path[..last_slash]
        };
        let parent = self.nodes.get(parent_path).ok_or(ErrorCode::NoNode)?;
        if parent.meta.read_only {
            return Err(ErrorCode::NoAuth);
        }
        let full = if mode.is_sequential() {
            format!("{path}{:010}", parent.meta.child_creates)
        } else {
            path.to_string()
        };
        validate_path(&full, false)?;
        if self.nodes.contains_key(&full) {
            return Err(ErrorCode::NodeExists);
        }
        if parent.meta.ephemeral_owner != 0 {
            return Err(ErrorCode::NoChildrenForEphemerals);
        }
        let parent_path = parent_path.to_string();
        let name = full[last_slash + 1..].to_string();
        let parent = self.nodes.get_mut(&parent_path).expect("checked");
        if let Some(u) = undo.as_mut() {
            u.push(Undo::Meta(parent_path.clone(), parent.meta.clone()));
        }
        parent.meta.cversion += 1;
        parent.meta.pzxid = zxid;
        parent.meta.child_creates += 1;
        parent.children.insert(name);
        let owner = if mode.is_ephemeral() { session.0 } else { 0 };
        self.held_bytes += held(&full, data);
        self.nodes.insert(
            full.clone(),
            Node {
                meta: Meta {
                    data: data.to_vec(),
                    czxid: zxid,
                    mzxid: zxid,
                    ctime_ms: time_ms,
                    mtime_ms: time_ms,
                    version: 0,
                    cversion: 0,
                    ephemeral_owner: owner,
                    pzxid: zxid,
                    child_creates: 0,
                    aversion: 0,
                    read_only: false,
                },
                children: BTreeSet::new(),
            },
        );
        if owner != 0 {
            self.ephemerals
                .entry(session)
                .or_default()
                .insert(full.clone());
        }
        if let Some(u) = undo.as_mut() {
            u.push(Undo::Created(full.clone()));
        }
        triggers.push(Trigger {
            path: full.clone(),
            event: EventType::NodeCreated,
            table: WatchTable::Data,
        });
        triggers.push(Trigger {
            path: parent_path,
            event: EventType::NodeChildrenChanged,
            table: WatchTable::Child,
        });
        Ok(full)
    }

    fn delete(
        &mut self,
        zxid: Zxid,
        path: &str,
        version: i32,
        undo: &mut Option<Vec<Undo>>,
        triggers: &mut Vec<Trigger>,
    ) -> Result<(), ErrorCode> {
        check_slash_and_nul(path)?;
        if SPECIAL.contains(&path) {
            return Err(ErrorCode::BadArguments);
        }
        let (parent_path, name) = split_path(path).ok_or(ErrorCode::BadArguments)?;
        if !self.nodes.contains_key(parent_path) {
            return Err(ErrorCode::NoNode);
        }
        let node = self.nodes.get(path).ok_or(ErrorCode::NoNode)?;
        if !version_matches(version, node.meta.version) {
            return Err(ErrorCode::BadVersion);
        }
        if !node.children.is_empty() {
            return Err(ErrorCode::NotEmpty);
        }
        let parent_path = parent_path.to_string();
        let name = name.to_string();
        let node = self.nodes.remove(path).expect("checked");
        self.held_bytes -= held(path, &node.meta.data);
        if node.meta.ephemeral_owner != 0 {
            self.unindex_ephemeral(SessionId(node.meta.ephemeral_owner), path);
        }
        let parent = self.nodes.get_mut(&parent_path).expect("checked");
        if let Some(u) = undo.as_mut() {
            u.push(Undo::Meta(parent_path.clone(), parent.meta.clone()));
        }
        parent.meta.cversion += 1;
        parent.meta.pzxid = zxid;
        parent.children.remove(&name);
        if let Some(u) = undo.as_mut() {
            u.push(Undo::Deleted(path.to_string(), node));
        }
        triggers.push(Trigger {
            path: path.to_string(),
            event: EventType::NodeDeleted,
            table: WatchTable::Both,
        });
        triggers.push(Trigger {
            path: parent_path,
            event: EventType::NodeChildrenChanged,
            table: WatchTable::Child,
        });
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn set_data(
        &mut self,
        zxid: Zxid,
        time_ms: u64,
        path: &str,
        data: &[u8],
        version: i32,
        undo: &mut Option<Vec<Undo>>,
        triggers: &mut Vec<Trigger>,
    ) -> Result<Stat, ErrorCode> {
        validate_path(path, false)?;
        let node = self.nodes.get_mut(path).ok_or(ErrorCode::NoNode)?;
        if node.meta.read_only {
            return Err(ErrorCode::NoAuth);
        }
        if !version_matches(version, node.meta.version) {
            return Err(ErrorCode::BadVersion);
        }
        if let Some(u) = undo.as_mut() {
            u.push(Undo::Meta(path.to_string(), node.meta.clone()));
        }
        node.meta.version += 1;
        node.meta.mzxid = zxid;
        node.meta.mtime_ms = time_ms;
        self.held_bytes -= node.meta.data.len() as u64;
        self.held_bytes += data.len() as u64;
        node.meta.data = data.to_vec();
        let stat = node.stat();
        triggers.push(Trigger {
            path: path.to_string(),
            event: EventType::NodeDataChanged,
            table: WatchTable::Data,
        });
        Ok(stat)
    }

    fn check(&self, path: &str, version: i32) -> Result<(), ErrorCode> {
        validate_path(path, false)?;
        let node = self.nodes.get(path).ok_or(ErrorCode::NoNode)?;
        if !version_matches(version, node.meta.version) {
            return Err(ErrorCode::BadVersion);
        }
        Ok(())
    }

    /// Checks the tree's structural invariants: every non-root node's parent exists
    /// and lists it; every listed child exists; ephemerals have no children and are
    /// owned by a live session; the ephemeral index matches the nodes; no zxid in a
    /// Stat is newer than the tree.
    pub fn check_invariants(&self) -> Result<(), String> {
        if self.verified.0.get() == Some(self.last_zxid) {
            return Ok(());
        }
        let mut eph_count = 0usize;
        let mut counted = 0u64;
        // Parent and child links agree when every non-root node is listed by its
        // parent and the child lists hold exactly as many names as there are non-root
        // nodes (names in one set are distinct, so listed names map one-to-one onto
        // nodes). That needs no path built per child, which kept this walk allocation
        // free: it runs every few ensemble steps over thousands of WAL znodes.
        let mut listed = 0usize;
        // Siblings are neighbours in path order: the last parent found is reused.
        let mut last_parent: Option<(&str, &Node)> = None;
        for (path, node) in &self.nodes {
            counted += (path.len() + node.meta.data.len()) as u64;
            listed += node.children.len();
            if let Some((parent, name)) = split_path(path) {
                let p = match last_parent {
                    Some((pp, pn)) if pp == parent => pn,
                    _ => {
                        let (pp, pn) = self
                            .nodes
                            .get_key_value(parent)
                            .ok_or_else(|| format!("{path}: parent {parent} missing"))?;
                        last_parent = Some((pp.as_str(), pn));
                        pn
                    }
                };
                if !p.children.contains(name) {
                    return Err(format!("{path}: not listed by parent {parent}"));
                }
            } else if path != "/" {
                return Err(format!("bad path {path}"));
            }
            let m = &node.meta;
            if m.czxid > self.last_zxid || m.mzxid > self.last_zxid || m.pzxid > self.last_zxid {
                return Err(format!("{path}: zxid newer than tree {}", self.last_zxid));
            }
            if m.mzxid < m.czxid || m.pzxid < m.czxid {
                return Err(format!("{path}: mzxid/pzxid before czxid"));
            }
            if (m.cversion as i64) - (initial_cversion(path) as i64) < m.child_creates as i64 {
                return Err(format!("{path}: cversion below child creates"));
            }
            if m.ephemeral_owner != 0 {
                eph_count += 1;
                let s = SessionId(m.ephemeral_owner);
                if !node.children.is_empty() {
                    return Err(format!("{path}: ephemeral with children"));
                }
                if !self.sessions.contains_key(&s) {
                    return Err(format!("{path}: owner {s:?} not a live session"));
                }
                if !self
                    .ephemerals
                    .get(&s)
                    .is_some_and(|set| set.contains(path))
                {
                    return Err(format!("{path}: missing from the ephemeral index"));
                }
            }
        }
        if listed + 1 != self.nodes.len() {
            return Err(format!(
                "child lists name {listed} nodes, the tree has {} besides /",
                self.nodes.len() - 1
            ));
        }
        // Built-in nodes cannot be deleted: their paths are always in the sum.
        let counted = counted - SPECIAL.iter().map(|p| p.len() as u64).sum::<u64>();
        if counted != self.held_bytes {
            return Err(format!(
                "held bytes {} but the nodes hold {counted}",
                self.held_bytes
            ));
        }
        let indexed: usize = self.ephemerals.values().map(BTreeSet::len).sum();
        if indexed != eph_count {
            return Err(format!(
                "ephemeral index has {indexed} paths, tree {eph_count}"
            ));
        }
        self.verified.0.set(Some(self.last_zxid));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_validation() {
        for ok in ["/", "/a", "/a/b", "/a-b.c"] {
            assert_eq!(validate_path(ok, false), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "a",
            "/a/",
            "//",
            "/a//b",
            "/.",
            "/a/..",
            "/a\0",
            "/a\u{1}",
            "/a\u{7f}",
            "/a\u{9f}",
            "/a\u{e000}",
            "/a\u{f8ff}",
            "/a\u{fff0}",
            "/a\u{ffff}",
            "/a\u{1f600}",
        ] {
            assert_eq!(
                validate_path(bad, false),
                Err(ErrorCode::BadArguments),
                "{bad:?}"
            );
        }
        for ok in ["/a\u{a0}", "/a\u{d7ff}", "/a\u{f900}", "/a\u{ffef}"] {
            assert_eq!(validate_path(ok, false), Ok(()), "{ok:?}");
        }
        for ok in ["/a/", "/a/.", "/a/..", "/", "/a"] {
            assert_eq!(validate_path(ok, true), Ok(()), "sequential {ok}");
        }
        assert_eq!(validate_path("/a//", true), Err(ErrorCode::BadArguments));
        assert_eq!(split_path("/a/b"), Some(("/a", "b")));
        assert_eq!(split_path("/a"), Some(("/", "a")));
        assert_eq!(split_path("/"), None);
    }

    #[test]
    fn fresh_tree_is_like_a_fresh_server() {
        let t = DataTree::new();
        assert_eq!(t.children("/").unwrap(), vec!["zookeeper".to_string()]);
        assert_eq!(
            t.children("/zookeeper").unwrap(),
            vec!["config".to_string(), "quota".to_string()]
        );
        assert_eq!(t.last_zxid(), 0);
        t.check_invariants().unwrap();
    }

    #[test]
    fn held_bytes_follow_every_change_and_a_rolled_back_multi() {
        let mut t = DataTree::new();
        let s = SessionId(1);
        let mut z = 0;
        let mut apply = |t: &mut DataTree, op: TxnOp| {
            z += 1;
            let r = t.apply(z, 0, &op).0;
            t.check_invariants().unwrap();
            r
        };
        apply(
            &mut t,
            TxnOp::CreateSession {
                session: s,
                timeout_ms: 1,
            },
        );
        assert_eq!(t.held_bytes(), 0);
        let create = |path: &str, data: Vec<u8>, mode| TxnOp::Create {
            session: s,
            path: path.into(),
            data,
            mode,
        };
        apply(&mut t, create("/w", vec![0; 10], CreateMode::Persistent));
        apply(
            &mut t,
            create("/w/e-", vec![0; 5], CreateMode::EphemeralSequential),
        );
        assert_eq!(t.held_bytes(), 2 + 10 + 15 + 5);
        let set = TxnOp::SetData {
            session: s,
            path: "/w".into(),
            data: vec![1; 3],
            version: -1,
        };
        apply(&mut t, set);
        assert_eq!(t.held_bytes(), 2 + 3 + 15 + 5);
        // A multi that fails at its last op leaves the count as it was.
        let before = t.held_bytes();
        let multi = TxnOp::Multi {
            session: s,
            ops: vec![
                MultiOp::SetData {
                    path: "/w".into(),
                    data: vec![2; 100],
                    version: -1,
                },
                MultiOp::Create {
                    path: "/x".into(),
                    data: vec![3; 7],
                    mode: CreateMode::Persistent,
                },
                MultiOp::Delete {
                    path: "/w/e-0000000000".into(),
                    version: -1,
                },
                MultiOp::Check {
                    path: "/w".into(),
                    version: 99,
                },
            ],
        };
        assert!(matches!(apply(&mut t, multi), TxnResult::Multi(_)));
        assert_eq!(t.held_bytes(), before);
        apply(&mut t, TxnOp::CloseSession { session: s });
        assert_eq!(t.held_bytes(), 2 + 3);
    }

    #[test]
    fn close_session_deletes_only_its_ephemerals_in_one_zxid() {
        let mut t = DataTree::new();
        let (s1, s2) = (SessionId(1), SessionId(2));
        t.apply(
            1,
            0,
            &TxnOp::CreateSession {
                session: s1,
                timeout_ms: 1,
            },
        );
        t.apply(
            2,
            0,
            &TxnOp::CreateSession {
                session: s2,
                timeout_ms: 1,
            },
        );
        for (z, s, p) in [(3, s1, "/a"), (4, s1, "/b"), (5, s2, "/c")] {
            let (r, _) = t.apply(
                z,
                0,
                &TxnOp::Create {
                    session: s,
                    path: p.into(),
                    data: vec![],
                    mode: CreateMode::Ephemeral,
                },
            );
            assert!(matches!(r, TxnResult::Created { .. }));
        }
        let (r, triggers) = t.apply(6, 0, &TxnOp::CloseSession { session: s1 });
        assert_eq!(r, TxnResult::SessionClosed(vec!["/a".into(), "/b".into()]));
        assert_eq!(triggers.len(), 4);
        assert!(t.stat("/a").is_none() && t.stat("/c").is_some());
        assert_eq!(t.stat("/").unwrap().pzxid, 6);
        assert!(!t.session_live(s1));
        t.check_invariants().unwrap();
        // a write from the closed session fails (and still took its zxid)
        let (r, _) = t.apply(
            7,
            0,
            &TxnOp::SetData {
                session: s1,
                path: "/c".into(),
                data: vec![],
                version: -1,
            },
        );
        assert_eq!(r, TxnResult::Failed(ErrorCode::SessionExpired));
        assert_eq!(t.last_zxid(), 7);
    }

    /// The full check catches each broken parent/child link, and its skip of an
    /// unchanged tree never hides a change made through `apply`.
    #[test]
    fn check_catches_broken_links() {
        let mut t = DataTree::new();
        t.apply(
            1,
            0,
            &TxnOp::CreateSession {
                session: SessionId(1),
                timeout_ms: 1,
            },
        );
        for (z, p) in [(2, "/a"), (3, "/a/b"), (4, "/a/c")] {
            let op = TxnOp::Create {
                session: SessionId(1),
                path: p.into(),
                data: vec![],
                mode: CreateMode::Persistent,
            };
            assert!(matches!(t.apply(z, 0, &op).0, TxnResult::Created { .. }));
        }
        t.check_invariants().unwrap();
        let broken = |f: &dyn Fn(&mut DataTree)| {
            let mut b = t.clone();
            f(&mut b);
            b.verified = VerifiedAt::default();
            b.check_invariants().unwrap_err()
        };
        let e = broken(&|b| {
            b.nodes
                .get_mut("/a")
                .unwrap()
                .children
                .insert("ghost".into());
        });
        assert!(e.contains("child lists"), "{e}");
        let e = broken(&|b| {
            b.nodes.get_mut("/a").unwrap().children.remove("c");
        });
        assert!(e.contains("/a/c: not listed"), "{e}");
        let e = broken(&|b| {
            let n = b.nodes.remove("/a").unwrap();
            b.nodes.insert("/z".into(), n);
        });
        assert!(e.contains("parent /a missing"), "{e}");
        // A change through apply raises last_zxid, so the next check walks again.
        t.apply(
            5,
            0,
            &TxnOp::Delete {
                session: SessionId(1),
                path: "/a/c".into(),
                version: -1,
            },
        );
        assert_ne!(t.verified.0.get(), Some(t.last_zxid()));
        t.check_invariants().unwrap();
        assert_eq!(t.verified.0.get(), Some(t.last_zxid()));
    }
}
