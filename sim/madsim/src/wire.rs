//! Messages between parties, and how they travel on a `madsim::net::Endpoint`.
//!
//! Under `--cfg madsim` the typed message itself is handed to the simulated network
//! (`send_to_raw`: no encoding, as madsim's own simulators do). Without it, the same
//! `Endpoint` runs on TCP (madsim's std mode, on tokio) and a message is encoded as
//! JSON through a serde mirror of the Raft message (the core's `Message` carries no
//! serde derive, and the cores do not change for this crate). Only this file differs
//! between the two builds.

use std::io;
use std::net::SocketAddr;

use madsim::net::Endpoint;
use zkwal_model::network::NetMsg;
use zkwal_model::network::Party;

/// The one tag every message of this crate uses.
pub const TAG: u64 = 0x7a6b_7761_6c00;

/// A message with its sender's party number.
#[derive(Clone, Debug)]
pub struct Envelope {
    pub from: Party,
    pub msg: NetMsg,
}

#[cfg(madsim)]
pub async fn send(ep: &Endpoint, to: SocketAddr, env: Envelope) -> io::Result<()> {
    ep.send_to_raw(to, TAG, Box::new(env)).await
}

/// Receives the next message (`buf` is scratch space for the TCP build).
#[cfg(madsim)]
pub async fn recv(ep: &Endpoint, _buf: &mut Vec<u8>) -> io::Result<Envelope> {
    let (payload, _from) = ep.recv_from_raw(TAG).await?;
    payload
        .downcast::<Envelope>()
        .map(|b| *b)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not an Envelope"))
}

#[cfg(not(madsim))]
pub async fn send(ep: &Endpoint, to: SocketAddr, env: Envelope) -> io::Result<()> {
    let bytes = serde_json::to_vec(&json::Wire::from(env))?;
    ep.send_to(to, TAG, &bytes).await
}

/// Receives the next message (`buf` is scratch space for the TCP build).
#[cfg(not(madsim))]
pub async fn recv(ep: &Endpoint, buf: &mut Vec<u8>) -> io::Result<Envelope> {
    if buf.len() < 16 << 20 {
        buf.resize(16 << 20, 0);
    }
    let (len, _from) = ep.recv_from(TAG, buf).await?;
    let w: json::Wire = serde_json::from_slice(&buf[..len])?;
    Ok(w.into())
}

#[cfg(not(madsim))]
mod json {
    //! A serde mirror of [`NetMsg`] for the TCP build.
    use std::sync::Arc;

    use serde::{Deserialize, Serialize};
    use zkwal_raft::{
        ClientReply, Command, Entry, Index, Message, MsgBody, NodeId, SmState, Snapshot, Term,
    };
    use zkwal_zk::{ClientMsg, ServerMsg};

    use super::{Envelope, NetMsg};

    #[derive(Serialize, Deserialize)]
    pub struct Wire {
        from: usize,
        msg: WMsg,
    }

    #[derive(Serialize, Deserialize)]
    enum WMsg {
        Raft {
            from: NodeId,
            to: NodeId,
            term: Term,
            disk_epoch: Term,
            body: WBody,
        },
        ClientReq {
            client: u32,
            attempt: u32,
            command: Command,
        },
        ClientResp {
            request_id: u64,
            attempt: u32,
            result: Result<ClientReply, Option<NodeId>>,
        },
        ToZk(ClientMsg),
        FromZk(ServerMsg),
    }

    #[derive(Serialize, Deserialize)]
    struct WSnap {
        last_index: Index,
        last_term: Term,
        state: SmState,
    }

    #[derive(Serialize, Deserialize)]
    enum WBody {
        RequestVote {
            last_log_index: Index,
            last_log_term: Term,
        },
        RequestVoteResp {
            granted: bool,
        },
        AppendEntries {
            prev_index: Index,
            prev_term: Term,
            entries: Vec<Entry>,
            leader_commit: Index,
        },
        AppendEntriesResp {
            success: bool,
            match_index: Index,
            hint_index: Index,
        },
        InstallSnapshot {
            snapshot: WSnap,
        },
        InstallSnapshotResp {
            match_index: Index,
        },
        RecoveryRequest,
        RecoveryResp {
            snapshot: WSnap,
            entries: Vec<Entry>,
        },
    }

    fn wsnap(s: Snapshot) -> WSnap {
        WSnap {
            last_index: s.last_index,
            last_term: s.last_term,
            state: (*s.state).clone(),
        }
    }

    fn snap(s: WSnap) -> Snapshot {
        Snapshot {
            last_index: s.last_index,
            last_term: s.last_term,
            state: Arc::new(s.state),
        }
    }

    impl From<Envelope> for Wire {
        fn from(e: Envelope) -> Wire {
            let msg = match e.msg {
                NetMsg::Raft(m) => WMsg::Raft {
                    from: m.from,
                    to: m.to,
                    term: m.term,
                    disk_epoch: m.disk_epoch,
                    body: match m.body {
                        MsgBody::RequestVote {
                            last_log_index,
                            last_log_term,
                        } => WBody::RequestVote {
                            last_log_index,
                            last_log_term,
                        },
                        MsgBody::RequestVoteResp { granted } => WBody::RequestVoteResp { granted },
                        MsgBody::AppendEntries {
                            prev_index,
                            prev_term,
                            entries,
                            leader_commit,
                        } => WBody::AppendEntries {
                            prev_index,
                            prev_term,
                            entries,
                            leader_commit,
                        },
                        MsgBody::AppendEntriesResp {
                            success,
                            match_index,
                            hint_index,
                        } => WBody::AppendEntriesResp {
                            success,
                            match_index,
                            hint_index,
                        },
                        MsgBody::InstallSnapshot { snapshot } => WBody::InstallSnapshot {
                            snapshot: wsnap(snapshot),
                        },
                        MsgBody::InstallSnapshotResp { match_index } => {
                            WBody::InstallSnapshotResp { match_index }
                        }
                        MsgBody::RecoveryRequest => WBody::RecoveryRequest,
                        MsgBody::RecoveryResp { snapshot, entries } => WBody::RecoveryResp {
                            snapshot: wsnap(snapshot),
                            entries,
                        },
                    },
                },
                NetMsg::ClientReq {
                    client,
                    attempt,
                    command,
                } => WMsg::ClientReq {
                    client,
                    attempt,
                    command,
                },
                NetMsg::ClientResp {
                    request_id,
                    attempt,
                    result,
                } => WMsg::ClientResp {
                    request_id,
                    attempt,
                    result,
                },
                NetMsg::ToZk(m) => WMsg::ToZk(*m),
                NetMsg::FromZk(m) => WMsg::FromZk(*m),
            };
            Wire { from: e.from, msg }
        }
    }

    impl From<Wire> for Envelope {
        fn from(w: Wire) -> Envelope {
            let msg = match w.msg {
                WMsg::Raft {
                    from,
                    to,
                    term,
                    disk_epoch,
                    body,
                } => NetMsg::Raft(Message {
                    from,
                    to,
                    term,
                    disk_epoch,
                    body: match body {
                        WBody::RequestVote {
                            last_log_index,
                            last_log_term,
                        } => MsgBody::RequestVote {
                            last_log_index,
                            last_log_term,
                        },
                        WBody::RequestVoteResp { granted } => MsgBody::RequestVoteResp { granted },
                        WBody::AppendEntries {
                            prev_index,
                            prev_term,
                            entries,
                            leader_commit,
                        } => MsgBody::AppendEntries {
                            prev_index,
                            prev_term,
                            entries,
                            leader_commit,
                        },
                        WBody::AppendEntriesResp {
                            success,
                            match_index,
                            hint_index,
                        } => MsgBody::AppendEntriesResp {
                            success,
                            match_index,
                            hint_index,
                        },
                        WBody::InstallSnapshot { snapshot } => MsgBody::InstallSnapshot {
                            snapshot: snap(snapshot),
                        },
                        WBody::InstallSnapshotResp { match_index } => {
                            MsgBody::InstallSnapshotResp { match_index }
                        }
                        WBody::RecoveryRequest => MsgBody::RecoveryRequest,
                        WBody::RecoveryResp { snapshot, entries } => MsgBody::RecoveryResp {
                            snapshot: snap(snapshot),
                            entries,
                        },
                    },
                }),
                WMsg::ClientReq {
                    client,
                    attempt,
                    command,
                } => NetMsg::ClientReq {
                    client,
                    attempt,
                    command,
                },
                WMsg::ClientResp {
                    request_id,
                    attempt,
                    result,
                } => NetMsg::ClientResp {
                    request_id,
                    attempt,
                    result,
                },
                WMsg::ToZk(m) => NetMsg::ToZk(Box::new(m)),
                WMsg::FromZk(m) => NetMsg::FromZk(Box::new(m)),
            };
            Envelope { from: w.from, msg }
        }
    }
}
