//! `protected-mode` (Redis's `clientAcceptHandler`): while it is on and the
//! `default` user has no password, only local clients are served; any other
//! connection gets Redis's `-DENIED` explanation and is closed.

use crate::client::ClientAddr;
use crate::server::Server;

/// What a refused client is sent before the connection closes (Redis's text).
pub const DENIED: &[u8] = b"-DENIED Redis is running in protected mode because protected \
mode is enabled and no password is set for the default user. \
In this mode connections are only accepted from the loopback interface. \
If you want to connect from external computers to Redis you \
may adopt one of the following solutions: \
1) Just disable protected mode sending the command \
'CONFIG SET protected-mode no' from the loopback interface \
by connecting to Redis from the same host the server is \
running, however MAKE SURE Redis is not publicly accessible \
from internet if you do so. Use CONFIG REWRITE to make this \
change permanent. \
2) Alternatively you can just disable the protected mode by \
editing the Redis configuration file, and setting the protected \
mode option to 'no', and then restarting the server. \
3) If you started the server manually just for testing, restart \
it with the '--protected-mode no' option. \
4) Setup a an authentication password for the default user. \
NOTE: You only need to do one of the above things in order for \
the server to start accepting connections from the outside.\r\n";

/// Whether a client connecting from `peer` is refused.
pub fn refuses(server: &Server, peer: &ClientAddr) -> bool {
    !is_local(peer)
        && server.config.read().get_bool("protected-mode")
        && server.acl.default_user().has(crate::acl::user::NOPASS)
}

/// Redis's `islocalClient`: a unix socket, or exactly 127.0.0.1 or ::1 (so
/// 127.0.0.2, though a loopback address, is not local).
fn is_local(peer: &ClientAddr) -> bool {
    match peer {
        ClientAddr::Unix(_) => true,
        ClientAddr::Tcp(addr) => matches!(addr.ip().to_string().as_str(), "127.0.0.1" | "::1"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_two_loopback_addresses_and_unix_sockets_are_local() {
        let tcp = |s: &str| ClientAddr::Tcp(s.parse().expect("socket address"));
        assert!(is_local(&tcp("127.0.0.1:5000")));
        assert!(is_local(&tcp("[::1]:5000")));
        assert!(is_local(&ClientAddr::Unix("/tmp/redis.sock".into())));
        assert!(!is_local(&tcp("127.0.0.2:5000")));
        assert!(!is_local(&tcp("10.1.2.3:5000")));
    }
}
