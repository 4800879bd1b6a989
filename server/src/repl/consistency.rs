//! Ferrite's server-wide consistency modes (`replica-ack-mode`): with
//! `async` (Redis's behaviour, the default) a write's reply is sent at once;
//! with `one` or `all` it is held until one replica, or every replica
//! attached when the reply is due, acknowledged the write's offset, for at
//! most `replica-ack-timeout` milliseconds.
//!
//! The connection task notes each write whose effects reached the stream
//! (the client's write offset moved) and the span of its reply in the
//! output buffer; before the buffer is written it settles them all with one
//! wait for the last offset (an acknowledgement of an offset covers every
//! earlier one), awaiting asynchronously like WAIT. A write whose offset was
//! not acknowledged in time gets, instead of its reply, the error
//! `NOACK Write applied on the master, but acknowledged by only <n> of <m>
//! required replicas within <t> ms`: the write took effect (and stays in the
//! stream), but the promise was not kept. EXEC is one write (one reply).

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::Duration;

use ferrite_resp::ReplyWriter;

use super::wait;
use crate::client::ClientState;
use crate::config::Config;
use crate::server::Server;

/// How many replicas must acknowledge a write before its reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckMode {
    Async,
    One,
    All,
}

impl AckMode {
    pub fn name(self) -> &'static str {
        match self {
            AckMode::Async => "async",
            AckMode::One => "one",
            AckMode::All => "all",
        }
    }

    fn parse(name: &str) -> AckMode {
        match name {
            "one" => AckMode::One,
            "all" => AckMode::All,
            _ => AckMode::Async,
        }
    }
}

/// `replica-ack-mode` and `replica-ack-timeout`, cached from the config for
/// the command path, and the count of writes that timed out.
#[derive(Debug)]
pub struct AckPolicy {
    mode: AtomicU8,
    timeout_ms: AtomicU64,
    /// Replies replaced by NOACK (INFO `replica_ack_timeouts`).
    pub timeouts: AtomicU64,
}

impl Default for AckPolicy {
    fn default() -> Self {
        AckPolicy {
            mode: AtomicU8::new(AckMode::Async as u8),
            timeout_ms: AtomicU64::new(1000),
            timeouts: AtomicU64::new(0),
        }
    }
}

impl AckPolicy {
    pub fn refresh(&self, config: &Config) {
        let mode = AckMode::parse(config.get("replica-ack-mode"));
        self.mode.store(mode as u8, Ordering::Relaxed);
        self.timeout_ms.store(
            config.get_i64("replica-ack-timeout").max(1) as u64,
            Ordering::Relaxed,
        );
    }

    pub fn mode(&self) -> AckMode {
        match self.mode.load(Ordering::Relaxed) {
            m if m == AckMode::One as u8 => AckMode::One,
            m if m == AckMode::All as u8 => AckMode::All,
            _ => AckMode::Async,
        }
    }

    pub fn timeout_ms(&self) -> u64 {
        self.timeout_ms.load(Ordering::Relaxed)
    }
}

/// In `one` and `all` modes a master appends every write even with no
/// replica attached (creating the backlog, as a first replica would), so
/// each write has an offset to wait for and a write nobody acknowledged is
/// reported as such. Called whenever the configuration changes.
pub fn keep_log_active(server: &Server) {
    let repl = &server.replication;
    if repl.acks.mode() == AckMode::Async || repl.is_replica() || repl.log.is_active() {
        return;
    }
    let _order = super::order::write_order_exclusive(server);
    if !repl.is_replica() {
        repl.log.activate();
        server.keyspace.stats().expired_log.set_enabled(true);
    }
}

/// One write whose reply waits: its span in the output buffer and the
/// stream offset after its effects.
#[derive(Debug)]
struct HeldReply {
    start: usize,
    end: usize,
    offset: u64,
}

/// The writes of one connection whose replies are in the output buffer and
/// not yet acknowledged as the mode requires.
#[derive(Debug, Default)]
pub struct HeldReplies {
    held: Vec<HeldReply>,
}

impl HeldReplies {
    /// After a top-level request whose reply spans `start..end` of the
    /// output: holds it if it fed the stream (`woff_before` is the client's
    /// write offset before it ran) and the mode waits for replicas.
    pub fn note(
        &mut self,
        server: &Server,
        client: &ClientState,
        start: usize,
        end: usize,
        woff_before: u64,
    ) {
        let offset = client.repl.woff;
        if offset == woff_before || server.replication.acks.mode() == AckMode::Async {
            return;
        }
        self.held.push(HeldReply { start, end, offset });
    }

    /// Waits for the acknowledgements the held replies need, then replaces
    /// the reply of each write still unacknowledged by the NOACK error.
    pub async fn settle(&mut self, server: &Server, out: &mut ReplyWriter) {
        let Some(last) = self.held.last() else {
            return;
        };
        let policy = &server.replication.acks;
        let log = &server.replication.log;
        let required = match policy.mode() {
            AckMode::Async => 0,
            AckMode::One => 1,
            // Every attached replica; with none attached, still one: the
            // promise is about copies, not about the replicas that happen
            // to be connected.
            AckMode::All => log.status().replicas.len().max(1),
        };
        let timeout_ms = policy.timeout_ms();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(timeout_ms);
        if required > 0 {
            wait::request_acks(server, last.offset);
        }
        if wait::wait_acked(server, required, last.offset, Some(deadline)).await >= required {
            self.held.clear();
            return;
        }
        let first = self.held[0].start;
        let written = out.as_bytes()[first..].to_vec();
        out.truncate(first);
        let mut at = first;
        for held in self.held.drain(..) {
            out.raw(&written[at - first..held.start - first]);
            let acked = log.count_acked(held.offset);
            // A reply suppressed by CLIENT REPLY OFF/SKIP stays suppressed.
            if acked >= required || held.start == held.end {
                out.raw(&written[held.start - first..held.end - first]);
            } else {
                policy.timeouts.fetch_add(1, Ordering::Relaxed);
                server.stats.record_error("NOACK");
                out.error(&format!(
                    "NOACK Write applied on the master, but acknowledged by only {acked} of {required} required replicas within {timeout_ms} ms"
                ));
            }
            at = held.end;
        }
        out.raw(&written[at - first..]);
    }
}
