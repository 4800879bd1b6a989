//! Outgoing TCP connections that follow `bind-source-addr` (Redis binds the
//! replica's connection to its master to it): with an address set, the
//! socket is bound to it (any port) before it connects.

use std::io;
use std::net::{IpAddr, SocketAddr};

use tokio::net::{TcpSocket, TcpStream};

/// Connects to `host:port`, from `source` unless it is empty. Each address
/// `host` resolves to is tried in turn; the last error is returned.
pub async fn connect(source: &str, host: &str, port: u16) -> io::Result<TcpStream> {
    if source.is_empty() {
        return TcpStream::connect((host, port)).await;
    }
    let source: IpAddr = source.parse().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("Invalid bind-source-addr '{source}'"),
        )
    })?;
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address to connect to");
    for target in tokio::net::lookup_host((host, port)).await? {
        match connect_one(source, target).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(last)
}

async fn connect_one(source: IpAddr, target: SocketAddr) -> io::Result<TcpStream> {
    let socket = if target.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.bind(SocketAddr::new(source, 0))?;
    socket.connect(target).await
}
