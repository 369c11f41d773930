//! The servers compared directly: a minimal ZooKeeper client speaking the wire
//! protocol (jute over a blocking TCP socket) to the real server, and the same
//! interface over the mock [`Ensemble`] (raw [`ClientMsg`]s, no [`ClientSession`]).
//! For what real clients send but `zookeeper-client` refuses or sends otherwise: the
//! Java client's sequential create of "/" and delete of "/", paths outside the BMP,
//! paths of reads the server does not check, SetWatches in the Java client's
//! batches (which `zookeeper-client` 0.11 cannot re-send: it tracks replies by xid,
//! and every SetWatches has xid -8).
//!
//! [`ClientSession`]: zkwal_zk::ClientSession

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use zkwal_zk::{
    ClientBody, ClientMsg, ConnId, CreateMode, Ensemble, EnsembleConfig, ErrorCode, EventType,
    MultiOp, Request, Response, ServerBody, SessionId,
};

/// A reply: the zxid of its header, and the outcome (for create and sync the path
/// the server returned, "ok" for other successes).
pub type Reply = (i64, Result<String, ErrorCode>);

/// Connections to one server, by index.
pub trait RawServer {
    /// A new connection: a new session (`None`) or resuming the session of
    /// connection `resume` (which is left alone). Err: refused or closed.
    fn open(&mut self, resume: Option<usize>, last_zxid: i64) -> Result<usize, String>;
    /// One request, waiting for its reply; None if the server closed the connection.
    fn call(&mut self, c: usize, req: &Request) -> Option<Reply>;
    /// Sends SetWatches (no reply is awaited).
    fn set_watches(&mut self, c: usize, body: &ClientBody);
    /// The watch events connection `c` received so far, after a round trip; None if
    /// the server closed it.
    fn events(&mut self, c: usize) -> Option<Vec<(EventType, String)>>;
    /// The client drops connection `c` (its session stays).
    fn drop_conn(&mut self, c: usize);
}

/// A jute record being written.
#[derive(Default)]
struct Jute(Vec<u8>);

impl Jute {
    fn int(&mut self, v: i32) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn long(&mut self, v: i64) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn bool(&mut self, v: bool) -> &mut Self {
        self.0.push(u8::from(v));
        self
    }
    fn buf(&mut self, b: &[u8]) -> &mut Self {
        self.int(b.len() as i32);
        self.0.extend_from_slice(b);
        self
    }
    fn str(&mut self, s: &str) -> &mut Self {
        self.buf(s.as_bytes())
    }
    fn strs(&mut self, v: &[String]) -> &mut Self {
        self.int(v.len() as i32);
        for s in v {
            self.str(s);
        }
        self
    }
}

/// A jute record being read.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn int(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
    fn long(&mut self) -> Option<i64> {
        Some(i64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
    fn buf(&mut self) -> Option<Vec<u8>> {
        let n = self.int()?;
        if n < 0 {
            return Some(Vec::new());
        }
        Some(self.take(n as usize)?.to_vec())
    }
    fn str(&mut self) -> Option<String> {
        String::from_utf8(self.buf()?).ok()
    }
}

fn flags(mode: CreateMode) -> i32 {
    match mode {
        CreateMode::Persistent => 0,
        CreateMode::Ephemeral => 1,
        CreateMode::PersistentSequential => 2,
        CreateMode::EphemeralSequential => 3,
    }
}

fn create_body(j: &mut Jute, path: &str, data: &[u8], mode: CreateMode) {
    // OPEN_ACL_UNSAFE: one ACL, perms ALL, world:anyone.
    j.str(path)
        .buf(data)
        .int(1)
        .int(31)
        .str("world")
        .str("anyone");
    j.int(flags(mode));
}

/// Opcode and body of a request.
fn encode(req: &Request) -> (i32, Vec<u8>) {
    let mut j = Jute::default();
    let op = match req {
        Request::Create { path, data, mode } => {
            create_body(&mut j, path, data, *mode);
            1
        }
        Request::Delete { path, version } => {
            j.str(path).int(*version);
            2
        }
        Request::Exists { path, watch } => {
            j.str(path).bool(*watch);
            3
        }
        Request::GetData { path, watch } => {
            j.str(path).bool(*watch);
            4
        }
        Request::SetData {
            path,
            data,
            version,
        } => {
            j.str(path).buf(data).int(*version);
            5
        }
        Request::GetChildren { path, watch } => {
            j.str(path).bool(*watch);
            12
        }
        Request::Sync { path } => {
            j.str(path);
            9
        }
        Request::Multi(ops) => {
            for op in ops {
                match op {
                    MultiOp::Create { path, data, mode } => {
                        j.int(1).bool(false).int(-1);
                        create_body(&mut j, path, data, *mode);
                    }
                    MultiOp::Delete { path, version } => {
                        j.int(2).bool(false).int(-1).str(path).int(*version);
                    }
                    MultiOp::SetData {
                        path,
                        data,
                        version,
                    } => {
                        j.int(5)
                            .bool(false)
                            .int(-1)
                            .str(path)
                            .buf(data)
                            .int(*version);
                    }
                    MultiOp::Check { path, version } => {
                        j.int(13).bool(false).int(-1).str(path).int(*version);
                    }
                }
            }
            j.int(-1).bool(true).int(-1);
            14
        }
        Request::Close => -11,
    };
    (op, j.0)
}

fn event_type(code: i32) -> EventType {
    match code {
        1 => EventType::NodeCreated,
        2 => EventType::NodeDeleted,
        3 => EventType::NodeDataChanged,
        4 => EventType::NodeChildrenChanged,
        other => panic!("event type {other}"),
    }
}

struct RealConn {
    sock: Option<TcpStream>,
    session: i64,
    passwd: Vec<u8>,
    xid: i32,
    events: Vec<(EventType, String)>,
}

/// Raw connections to a real server.
pub struct RawReal {
    addr: String,
    conns: Vec<RealConn>,
}

impl RawReal {
    pub fn new(addr: String) -> Self {
        RawReal {
            addr,
            conns: Vec::new(),
        }
    }

    fn send(sock: &mut TcpStream, body: &[u8]) -> std::io::Result<()> {
        let mut p = (body.len() as u32).to_be_bytes().to_vec();
        p.extend_from_slice(body);
        sock.write_all(&p)
    }

    fn recv(sock: &mut TcpStream) -> std::io::Result<Vec<u8>> {
        let mut len = [0u8; 4];
        sock.read_exact(&mut len)?;
        let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
        sock.read_exact(&mut body)?;
        Ok(body)
    }

    /// Reads until the reply to `xid`; notifications are kept.
    fn wait(&mut self, c: usize, xid: i32) -> Option<(i64, i32, Vec<u8>)> {
        let conn = &mut self.conns[c];
        loop {
            let Ok(p) = Self::recv(conn.sock.as_mut()?) else {
                conn.sock = None;
                return None;
            };
            let mut r = Reader(&p);
            let (x, zxid, err) = (r.int()?, r.long()?, r.int()?);
            if x == -1 {
                let (t, _state, path) = (r.int()?, r.int()?, r.str()?);
                conn.events.push((event_type(t), path));
                continue;
            }
            if x == xid {
                return Some((zxid, err, r.0.to_vec()));
            }
            // pings (-2) and SetWatches (-8) replies
        }
    }
}

impl RawServer for RawReal {
    fn open(&mut self, resume: Option<usize>, last_zxid: i64) -> Result<usize, String> {
        // Right after it answers ruok the server may not serve sessions yet
        // ("ZooKeeperServer not running"): retry a new session for a while.
        let mut tries = 0;
        loop {
            match self.open_once(resume, last_zxid) {
                Err(_) if resume.is_none() && tries < 50 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                r => return r,
            }
        }
    }

    fn call(&mut self, c: usize, req: &Request) -> Option<Reply> {
        self.call_once(c, req)
    }

    fn set_watches(&mut self, c: usize, body: &ClientBody) {
        self.set_watches_once(c, body)
    }

    fn events(&mut self, c: usize) -> Option<Vec<(EventType, String)>> {
        self.events_once(c)
    }

    fn drop_conn(&mut self, c: usize) {
        self.conns[c].sock = None;
    }
}

impl RawReal {
    fn open_once(&mut self, resume: Option<usize>, last_zxid: i64) -> Result<usize, String> {
        let mut sock = TcpStream::connect(&self.addr).map_err(|e| e.to_string())?;
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        let (session, passwd) = match resume {
            Some(c) => (self.conns[c].session, self.conns[c].passwd.clone()),
            None => (0, vec![0; 16]),
        };
        let mut j = Jute::default();
        j.int(0)
            .long(last_zxid)
            .int(4_000)
            .long(session)
            .buf(&passwd)
            .bool(false);
        Self::send(&mut sock, &j.0).map_err(|e| e.to_string())?;
        let p = Self::recv(&mut sock).map_err(|e| e.to_string())?;
        let mut r = Reader(&p);
        let (_proto, timeout, id, passwd) = (
            r.int().ok_or("short")?,
            r.int().ok_or("short")?,
            r.long().ok_or("short")?,
            r.buf().ok_or("short")?,
        );
        if timeout <= 0 {
            return Err("session expired".into());
        }
        self.conns.push(RealConn {
            sock: Some(sock),
            session: id,
            passwd,
            xid: 0,
            events: Vec::new(),
        });
        Ok(self.conns.len() - 1)
    }

    fn call_once(&mut self, c: usize, req: &Request) -> Option<Reply> {
        let (op, body) = encode(req);
        let conn = &mut self.conns[c];
        conn.xid += 1;
        let xid = conn.xid;
        let mut j = Jute::default();
        j.int(xid).int(op);
        j.0.extend_from_slice(&body);
        if Self::send(conn.sock.as_mut()?, &j.0).is_err() {
            conn.sock = None;
            return None;
        }
        let (zxid, err, body) = self.wait(c, xid)?;
        if err != 0 {
            let code = ErrorCode::from_code(err).unwrap_or_else(|| panic!("error code {err}"));
            return Some((zxid, Err(code)));
        }
        let out = match req {
            Request::Create { .. } | Request::Sync { .. } => Reader(&body).str()?,
            _ => "ok".into(),
        };
        Some((zxid, Ok(out)))
    }

    fn set_watches_once(&mut self, c: usize, body: &ClientBody) {
        let ClientBody::SetWatches {
            relative_zxid,
            data,
            exist,
            child,
        } = body
        else {
            panic!("not SetWatches: {body:?}");
        };
        let mut j = Jute::default();
        j.int(-8).int(101).long(*relative_zxid as i64);
        j.strs(data).strs(exist).strs(child);
        let conn = &mut self.conns[c];
        if let Some(sock) = conn.sock.as_mut() {
            if Self::send(sock, &j.0).is_err() {
                conn.sock = None;
            }
        }
    }

    fn events_once(&mut self, c: usize) -> Option<Vec<(EventType, String)>> {
        // A round trip: notifications the server sent before its reply are read.
        let _ = self.call(
            c,
            &Request::Exists {
                path: "/".into(),
                watch: false,
            },
        )?;
        Some(std::mem::take(&mut self.conns[c].events))
    }
}

struct MockConn {
    id: ConnId,
    seq: u64,
    session: Option<SessionId>,
    closed: bool,
    xid: u64,
    replies: BTreeMap<u64, (u64, Result<Response, ErrorCode>)>,
    events: Vec<(EventType, String)>,
    connected: Option<Result<SessionId, String>>,
}

/// Raw connections to the mock ensemble (one server), in virtual time.
pub struct RawMock {
    pub ens: Ensemble,
    now: u64,
    conns: Vec<MockConn>,
}

impl RawMock {
    pub fn new(tick_ms: u64) -> Self {
        RawMock {
            ens: Ensemble::new(EnsembleConfig::new(1, tick_ms), 0),
            now: 0,
            conns: Vec::new(),
        }
    }

    fn send(&mut self, c: usize, body: ClientBody) {
        let conn = &mut self.conns[c];
        let msg = ClientMsg {
            server: 0,
            conn: conn.id,
            seq: conn.seq,
            body,
        };
        conn.seq += 1;
        self.ens.handle_message(self.now, msg);
        self.collect();
    }

    fn collect(&mut self) {
        while let Some(m) = self.ens.poll_output() {
            let conn = &mut self.conns[m.conn.client as usize];
            match m.body {
                ServerBody::ConnectOk { session, .. } => {
                    conn.session = Some(session);
                    conn.connected = Some(Ok(session));
                }
                ServerBody::ConnectExpired => conn.connected = Some(Err("expired".into())),
                ServerBody::Reply { xid, zxid, result } => {
                    conn.replies.insert(xid, (zxid, result));
                }
                ServerBody::Pong { .. } => {}
                ServerBody::Watch(e) => conn.events.push((e.event, e.path)),
                ServerBody::Closed => conn.closed = true,
            }
        }
        while self.ens.poll_notice().is_some() {}
    }

    /// Moves virtual time on until `done` or 60 s passed.
    fn run_until(&mut self, done: impl Fn(&RawMock) -> bool) {
        let limit = self.now + 60_000;
        while !done(self) && self.now < limit {
            self.now = self
                .ens
                .deadline_ms()
                .unwrap_or(limit)
                .clamp(self.now + 1, limit);
            self.ens.tick(self.now);
            self.collect();
        }
    }
}

impl RawServer for RawMock {
    fn open(&mut self, resume: Option<usize>, last_zxid: i64) -> Result<usize, String> {
        let c = self.conns.len();
        let session = resume.map(|r| self.conns[r].session.expect("had a session"));
        self.conns.push(MockConn {
            id: ConnId {
                client: c as u64,
                n: 0,
            },
            seq: 0,
            session,
            closed: false,
            xid: 0,
            replies: BTreeMap::new(),
            events: Vec::new(),
            connected: None,
        });
        self.send(
            c,
            ClientBody::Connect {
                session,
                requested_timeout_ms: 4_000,
                last_zxid_seen: last_zxid as u64,
            },
        );
        self.run_until(|m| m.conns[c].connected.is_some() || m.conns[c].closed);
        match self.conns[c].connected.clone() {
            Some(Ok(_)) => Ok(c),
            Some(Err(e)) => Err(e),
            None => Err("closed".into()),
        }
    }

    fn call(&mut self, c: usize, req: &Request) -> Option<Reply> {
        if self.conns[c].closed {
            return None;
        }
        self.conns[c].xid += 1;
        let xid = self.conns[c].xid;
        self.send(
            c,
            ClientBody::Request {
                xid,
                request: req.clone(),
            },
        );
        self.run_until(|m| m.conns[c].replies.contains_key(&xid) || m.conns[c].closed);
        let (zxid, result) = self.conns[c].replies.remove(&xid)?;
        let out = result.and_then(|r| match r {
            Response::Create { path, .. } => Ok(path),
            Response::Sync { path } => Ok(path),
            // on the wire, exists of a missing node is a NoNode reply
            Response::Exists { stat: None } => Err(ErrorCode::NoNode),
            _ => Ok("ok".into()),
        });
        Some((zxid as i64, out))
    }

    fn set_watches(&mut self, c: usize, body: &ClientBody) {
        if !self.conns[c].closed {
            self.send(c, body.clone());
        }
    }

    fn events(&mut self, c: usize) -> Option<Vec<(EventType, String)>> {
        let _ = self.call(
            c,
            &Request::Exists {
                path: "/".into(),
                watch: false,
            },
        )?;
        Some(std::mem::take(&mut self.conns[c].events))
    }

    fn drop_conn(&mut self, c: usize) {
        // The server learns it when the session moves to a new connection.
        self.conns[c].closed = true;
    }
}
