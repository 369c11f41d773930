//! Starts and stops a standalone ZooKeeper 3.8 server (Debian's package `zookeeper`)
//! on 127.0.0.1 for the conformance tests.
//!
//! The server is a child process the test owns: a temporary dataDir, a free loopback
//! port, a small tickTime, `admin.enableServer=false`. [`RealServer::start`] waits
//! until it answers `ruok` with `imok`; dropping the guard kills it by its process id
//! and waits for it, which also happens when a test panics (the guard is dropped while
//! unwinding).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The command that installs the server on Debian.
pub const INSTALL_HINT: &str = "apt-get install -y --no-install-recommends zookeeper";

/// The jars of Debian's package that a standalone server needs.
const JARS: [&str; 4] = [
    "/usr/share/java/zookeeper.jar",
    "/usr/share/java/zookeeper-jute.jar",
    "/usr/share/java/slf4j-api.jar",
    "/usr/share/java/slf4j-simple.jar",
];

/// The tickTime of every server the tests start (sessions: 400 ms .. 4 s).
pub const TICK_MS: u64 = 200;

/// A running server; killed when dropped.
pub struct RealServer {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl RealServer {
    /// Starts a server, or says why it could not.
    pub fn start() -> Result<RealServer, String> {
        for jar in JARS {
            if !Path::new(jar).exists() {
                return Err(format!("{jar} is missing"));
            }
        }
        let dir = tempfile::Builder::new()
            .prefix("zkwal-conformance-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        let port = free_port().map_err(|e| format!("free port: {e}"))?;
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).map_err(|e| format!("dataDir: {e}"))?;
        let cfg = dir.path().join("zoo.cfg");
        std::fs::write(
            &cfg,
            format!(
                "tickTime={TICK_MS}\n\
                 dataDir={}\n\
                 clientPort={port}\n\
                 clientPortAddress=127.0.0.1\n\
                 admin.enableServer=false\n\
                 4lw.commands.whitelist=ruok,srvr\n\
                 maxClientCnxns=0\n\
                 preAllocSize=4096\n\
                 autopurge.purgeInterval=0\n",
                data.display()
            ),
        )
        .map_err(|e| format!("zoo.cfg: {e}"))?;
        let log = std::fs::File::create(dir.path().join("server.log"))
            .map_err(|e| format!("log file: {e}"))?;
        let log2 = log.try_clone().map_err(|e| format!("log file: {e}"))?;
        let child = Command::new("java")
            .arg("-Xmx512m")
            .arg("-cp")
            .arg(JARS.join(":"))
            .arg("org.apache.zookeeper.server.ZooKeeperServerMain")
            .arg(&cfg)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| format!("java: {e}"))?;
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut server = RealServer { child, addr, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if ruok(addr) {
                return Ok(server);
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!(
                    "the server exited with {status}; log:\n{}",
                    server.log_tail()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the server did not answer ruok in 30 s; log:\n{}",
                    server.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `127.0.0.1:<port>`.
    pub fn connect_string(&self) -> String {
        self.addr.to_string()
    }

    /// The last lines of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for RealServer {
    fn drop(&mut self) {
        // Child::kill sends SIGKILL to this child's pid only.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on now: bind port 0 and release it.
fn free_port() -> std::io::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// The four-letter word `ruok`: true when the server answers `imok`.
fn ruok(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"ruok").is_err() {
        return false;
    }
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf == "imok"
}

/// Starts a server for a test, or decides the test is skipped: `None` after printing
/// one line naming the install command, unless `ZKWAL_REQUIRE_REAL_ZK=1`, in which case
/// it panics.
pub fn server_or_skip(test: &str) -> Option<RealServer> {
    match RealServer::start() {
        Ok(s) => Some(s),
        Err(why) => {
            if std::env::var("ZKWAL_REQUIRE_REAL_ZK").as_deref() == Ok("1") {
                panic!(
                    "{test}: ZKWAL_REQUIRE_REAL_ZK=1 but no ZooKeeper server could be started \
                     (install with: {INSTALL_HINT}): {why}"
                );
            }
            // Straight to stderr, past the test harness's output capture.
            let line = format!(
                "skipping {test}: no ZooKeeper server (install with: {INSTALL_HINT}): {}\n",
                why.lines().next().unwrap_or("")
            );
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
            None
        }
    }
}
