//! A loopback TCP proxy between one client and the real server that can freeze:
//! while frozen it forwards nothing (bytes already on a connection stay unread, as on
//! a black-holed link) and holds new connections unanswered. Unfreezing closes the
//! connections that were open when it froze (the client gave up on them) and bridges
//! the held ones to the server, so the client's next connection attempt reaches the
//! server and hears what it has to say (for an expired session: that it expired).
//!
//! It can also hold what the client sends (the client's bytes wait in the socket)
//! and release it at once, so that requests the client pipelined reach the server
//! back to back, as they do from a client that writes them in one go.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct Proxy {
    addr: SocketAddr,
    frozen: Arc<watch::Sender<bool>>,
    held: Arc<watch::Sender<bool>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub fn start(rt: &tokio::runtime::Runtime, upstream: SocketAddr) -> Proxy {
        let listener = rt
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("proxy bind");
        let addr = listener.local_addr().expect("proxy addr");
        let frozen = Arc::new(watch::Sender::new(false));
        let held = Arc::new(watch::Sender::new(false));
        let (f, h) = (frozen.clone(), held.clone());
        let task = rt.spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(bridge(conn, upstream, f.subscribe(), h.subscribe()));
            }
        });
        Proxy {
            addr,
            frozen,
            held,
            task,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn set_frozen(&self, frozen: bool) {
        self.frozen.send_replace(frozen);
    }

    /// While held, nothing the client sends is read (the server's replies still
    /// pass); released, it all goes to the server in as few writes as it fits.
    pub fn set_held(&self, held: bool) {
        self.held.send_replace(held);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn bridge(
    mut client: TcpStream,
    upstream: SocketAddr,
    mut frozen: watch::Receiver<bool>,
    mut held: watch::Receiver<bool>,
) {
    // Held while frozen.
    if !async { frozen.wait_for(|f| !*f).await.is_ok() }.await {
        return;
    }
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let mut a = vec![0u8; 4 << 20];
    let mut b = [0u8; 64 * 1024];
    loop {
        let holding = *held.borrow_and_update();
        let froze = tokio::select! {
            r = client.read(&mut a), if !holding => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => server.write_all(&a[..n]).await.is_err(),
            },
            r = server.read(&mut b) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => client.write_all(&b[..n]).await.is_err(),
            },
            r = held.changed() => {
                if r.is_err() {
                    return;
                }
                false
            }
            ok = async { frozen.wait_for(|f| *f).await.is_ok() } => {
                if !ok {
                    return;
                }
                true
            }
        };
        if froze {
            // A write failed (return at once) or the link froze: black hole until
            // unfrozen, then drop both sides.
            let frozen_now = *frozen.borrow();
            if frozen_now {
                let _ = async { frozen.wait_for(|f| !*f).await.is_ok() }.await;
            }
            return;
        }
    }
}
