//! The TCP listeners: bound at startup, and bound again when CONFIG SET
//! changes `port` or `bind` (Redis's `changeListenPort`/`changeBindAddr`),
//! so they are kept where CONFIG SET can replace them.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpSocket};
use tokio::task::AbortHandle;
use tracing::warn;

use crate::client::ClientAddr;
use crate::server::Server;

/// Pending connections each listener queues (tokio's default).
const BACKLOG: u32 = 1024;

/// The accept loops of the TCP listeners that are open.
#[derive(Default)]
pub struct Listeners {
    accepting: Mutex<Vec<AbortHandle>>,
    /// The server the accept loops hand connections to, set by `start`.
    server: OnceLock<Weak<Server>>,
}

impl Listeners {
    /// Starts accepting connections on `listeners` (the ones bound at
    /// startup).
    pub fn start(&self, server: &Arc<Server>, listeners: Vec<TcpListener>) {
        let _ = self.server.set(Arc::downgrade(server));
        self.accept_on(server, listeners);
    }

    /// Spawns an accept loop for each of `listeners`.
    fn accept_on(&self, server: &Arc<Server>, listeners: Vec<TcpListener>) {
        let mut accepting = self.accepting.lock();
        for listener in listeners {
            accepting.push(tokio::spawn(accept_loop(server.clone(), listener)).abort_handle());
        }
    }

    /// Listens on `bind` and `port` instead of the current addresses. If any
    /// required address cannot be bound, the current listeners stay and the
    /// error is Redis's for the directive that changed (the cause is logged).
    pub fn rebind(&self, bind: &str, port: u16, bind_changed: bool) -> Result<(), &'static str> {
        const FAILED: &str = "Unable to listen on this port. Check server logs.";
        const BIND_FAILED: &str = "Failed to bind to specified addresses.";
        let failed = if bind_changed { BIND_FAILED } else { FAILED };
        let listeners = bind_all(bind, port).map_err(|error| {
            warn!("{error}");
            failed
        })?;
        let server = self.server.get().and_then(Weak::upgrade).ok_or(failed)?;
        for task in self.accepting.lock().drain(..) {
            task.abort();
        }
        self.accept_on(&server, listeners);
        Ok(())
    }
}

async fn accept_loop(server: Arc<Server>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let local = stream.local_addr().unwrap_or(peer);
                let (peer, local) = (ClientAddr::Tcp(peer), ClientAddr::Tcp(local));
                tokio::spawn(crate::connection::handle(
                    server.clone(),
                    stream,
                    peer,
                    local,
                ));
            }
            Err(e) => accept_failed(e).await,
        }
    }
}

pub(crate) async fn accept_failed(error: std::io::Error) {
    warn!("Accepting client connection: {error}");
    tokio::time::sleep(Duration::from_millis(10)).await;
}

/// Binds every `bind` address on `port`; port 0 listens on no TCP address,
/// as in Redis. Addresses prefixed with `-` are optional (Redis's `-::1`):
/// failing to bind them is not an error. Needs a tokio runtime.
pub fn bind_all(bind: &str, port: u16) -> std::io::Result<Vec<TcpListener>> {
    let mut listeners = Vec::new();
    if port == 0 {
        return Ok(listeners);
    }
    for address in bind.split_whitespace() {
        let (optional, host) = match address.strip_prefix('-') {
            Some(host) => (true, host),
            None => (false, address),
        };
        let host = if host == "*" { "0.0.0.0" } else { host };
        let socket_addr: SocketAddr = match format!("{host}:{port}")
            .parse()
            .or_else(|_| format!("[{host}]:{port}").parse())
        {
            Ok(addr) => addr,
            Err(_) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("invalid bind address {host}"),
                ))
            }
        };
        match listen_on(socket_addr) {
            Ok(listener) => listeners.push(listener),
            Err(e) if optional => warn!("Could not bind optional address {socket_addr}: {e}"),
            Err(e) => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("Failed listening on port {port} (tcp), aborting: {e}"),
                ))
            }
        }
    }
    Ok(listeners)
}

/// A listening socket on `addr`, with SO_REUSEADDR as Redis sets it.
fn listen_on(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}
