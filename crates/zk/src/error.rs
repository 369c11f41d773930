//! ZooKeeper's result codes, with the numeric values of the real service (3.8), so
//! that traces and differential tests against a real server compare like with like.

use serde::{Deserialize, Serialize};

/// A ZooKeeper result code (`KeeperException.Code`). Only the codes the mock can
/// produce (or that a client library maps onto it) are listed; the values are the
/// wire values of the real server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ErrorCode {
    /// 0: success; also the per-operation code of the operations before the failing
    /// one in a failed `multi`.
    Ok,
    /// -2: the per-operation code of the operations after the failing one in a failed
    /// `multi`.
    RuntimeInconsistency,
    /// -4: the connection to the server was lost (or never there) before the reply
    /// arrived. For a write the outcome is unknown: it may or may not have been applied.
    ConnectionLoss,
    /// -7: an operation timed out (reserved: the mock's client reports a lost reply as
    /// ConnectionLoss, as the Java client does).
    OperationTimeout,
    /// -8: invalid path or argument.
    BadArguments,
    /// -101: the node (or, for create, its parent) does not exist.
    NoNode,
    /// -102: not authorized (the ACL forbids it: `/zookeeper/config` is read-only).
    NoAuth,
    /// -103: the expected version does not match the node's version.
    BadVersion,
    /// -108: ephemeral nodes may not have children.
    NoChildrenForEphemerals,
    /// -110: the node already exists.
    NodeExists,
    /// -111: the node has children.
    NotEmpty,
    /// -112: the session expired (or was closed); the handle is dead for good.
    SessionExpired,
    /// -118: the session moved to another server (a request on a superseded connection).
    SessionMoved,
    /// -122: request timeout (reserved, as OperationTimeout).
    RequestTimeout,
}

impl ErrorCode {
    /// The wire value of the code, as the real server and the Java client report it.
    pub fn code(self) -> i32 {
        match self {
            ErrorCode::Ok => 0,
            ErrorCode::RuntimeInconsistency => -2,
            ErrorCode::ConnectionLoss => -4,
            ErrorCode::OperationTimeout => -7,
            ErrorCode::BadArguments => -8,
            ErrorCode::NoNode => -101,
            ErrorCode::NoAuth => -102,
            ErrorCode::BadVersion => -103,
            ErrorCode::NoChildrenForEphemerals => -108,
            ErrorCode::NodeExists => -110,
            ErrorCode::NotEmpty => -111,
            ErrorCode::SessionExpired => -112,
            ErrorCode::SessionMoved => -118,
            ErrorCode::RequestTimeout => -122,
        }
    }

    /// The code for a wire value, if the mock knows it.
    pub fn from_code(code: i32) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|c| c.code() == code)
    }

    /// Every code the mock knows.
    pub const ALL: [ErrorCode; 14] = [
        ErrorCode::Ok,
        ErrorCode::RuntimeInconsistency,
        ErrorCode::ConnectionLoss,
        ErrorCode::OperationTimeout,
        ErrorCode::BadArguments,
        ErrorCode::NoNode,
        ErrorCode::NoAuth,
        ErrorCode::BadVersion,
        ErrorCode::NoChildrenForEphemerals,
        ErrorCode::NodeExists,
        ErrorCode::NotEmpty,
        ErrorCode::SessionExpired,
        ErrorCode::SessionMoved,
        ErrorCode::RequestTimeout,
    ];

    /// True when the outcome of a write that ended with this code is unknown: the
    /// request may or may not have been applied.
    pub fn is_indeterminate(self) -> bool {
        matches!(
            self,
            ErrorCode::ConnectionLoss | ErrorCode::OperationTimeout | ErrorCode::RequestTimeout
        )
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}({})", self, self.code())
    }
}
