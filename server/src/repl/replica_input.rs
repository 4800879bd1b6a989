//! What a replica sends on its link to the master. A replica only
//! acknowledges (`REPLCONF ACK <offset> [FACK <offset>]`, which gets no
//! reply). Redis runs whatever else arrives and, since the reply would go
//! down the replication link, disconnects the replica with a log line
//! (`logInvalidUseAndFreeClientAsync`). Ferrite does not run such a command
//! (its effect would be lost with the link anyway, except for commands that
//! change server state, which Redis would have applied): it logs Redis's
//! lines and the link ends.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ferrite_resp::{ParseLimits, RequestParser};
use tokio::io::{AsyncRead, AsyncReadExt};
use tracing::warn;

use crate::client::ClientHandle;
use crate::server::Server;

/// Requests a replica sends are small: an ACK, or a stray command.
const LIMITS: ParseLimits = ParseLimits {
    max_bulk_len: 1 << 20,
    unauthenticated: false,
};

/// What the link gets from the replica next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// `REPLCONF ACK <offset>`.
    Ack(u64),
    /// The replica closed the connection, broke the protocol or sent a
    /// command that would get a reply: the link ends.
    End,
}

/// The replica's side of the link: the reading half of its connection,
/// its bytes parsed as they arrive.
pub struct ReplicaInput<R> {
    reader: R,
    buf: BytesMut,
    parser: RequestParser,
    handle: Arc<ClientHandle>,
}

impl<R: AsyncRead + Unpin> ReplicaInput<R> {
    /// `leftover`: what the replica sent after its SYNC or PSYNC, already
    /// read by the connection.
    pub fn new(reader: R, leftover: BytesMut, handle: Arc<ClientHandle>) -> ReplicaInput<R> {
        ReplicaInput {
            reader,
            buf: leftover,
            parser: RequestParser::new(),
            handle,
        }
    }

    /// Waits for the next acknowledgement, or the end of the link.
    /// Cancel-safe: what was read stays for the next call.
    pub async fn next(&mut self, server: &Server) -> std::io::Result<Received> {
        loop {
            loop {
                let request = match self.parser.next_request(&mut self.buf, &LIMITS) {
                    Ok(Some(request)) => request,
                    Ok(None) => break,
                    Err(error) => {
                        warn!("Protocol error from replica {}: {error}", self.handle.peer);
                        return Ok(Received::End);
                    }
                };
                self.handle.touch();
                match ack_offset(&request) {
                    Some(Some(offset)) => return Ok(Received::Ack(offset)),
                    // An ACK without a valid offset is ignored, as Redis does.
                    Some(None) => {}
                    None => {
                        log_rogue_command(server, &self.handle, &request);
                        return Ok(Received::End);
                    }
                }
            }
            if self.reader.read_buf(&mut self.buf).await? == 0 {
                return Ok(Received::End);
            }
        }
    }

    /// Resolves once the link must end while the replica waits for or
    /// receives its file: it closed the connection or sent what ends the
    /// link, was killed (CLIENT KILL) or dropped for its output limit.
    /// What it acknowledges meanwhile is ignored.
    pub async fn gone(&mut self, server: &Server) -> std::io::Result<()> {
        let handle = self.handle.clone();
        let mut check = tokio::time::interval(DROP_CHECK_PERIOD);
        loop {
            tokio::select! {
                received = self.next(server) => {
                    if received? == Received::End {
                        return Ok(());
                    }
                }
                _ = handle.killed() => return Ok(()),
                _ = check.tick() => {
                    if server.replication.log.is_dropped(handle.id) {
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// How often a link waiting for its file checks whether it was dropped.
const DROP_CHECK_PERIOD: Duration = Duration::from_millis(100);

/// `Some` for a `REPLCONF ACK`, with its offset if it has a valid one.
fn ack_offset(request: &[Bytes]) -> Option<Option<u64>> {
    let is_ack = request.len() >= 3
        && request[0].eq_ignore_ascii_case(b"replconf")
        && request[1].eq_ignore_ascii_case(b"ack");
    is_ack.then(|| std::str::from_utf8(&request[2]).ok()?.parse().ok())
}

/// Redis's lines for a replica whose command generated a reply: the
/// keyspace refusal it gets first for a command that reads or writes keys
/// (processCommand's "Replica can't interact with the keyspace", logged as
/// an error sent to a replica), then the disconnection.
fn log_rogue_command(server: &Server, handle: &ClientHandle, request: &[Bytes]) {
    let command = crate::acl::lookup_command(server, request);
    let name = command.map_or("<unknown>", |(id, _)| server.commands.full_name(id));
    let touches_keys = command.is_some_and(|(_, spec)| {
        ["readonly", "write", "may_replicate"]
            .iter()
            .any(|flag| spec.has_flag(flag))
    });
    if touches_keys {
        warn!(
            "== CRITICAL == This master is sending an error to its replica: 'Replica can't interact with the keyspace' after processing the command '{name}'"
        );
    }
    warn!(
        "Replica generated a reply to command '{name}', disconnecting it: {}",
        handle.info_line()
    );
}
