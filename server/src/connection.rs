//! One client connection: read what is available, parse every complete
//! request, execute them in order, hand all replies to the socket at once
//! (what it does not take waits in `output::PendingOutput` while reading
//! goes on).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracing::{debug, warn};

use ferrite_resp::{ParseLimits, Protocol, ReplyWriter, RequestParser};

use crate::blocking::{Blocked, Wake};
use crate::client::{ClientAddr, ClientState, ReplyMode};
use crate::command::{CmdError, CommandSpec, Ctx};
use crate::output::{PendingOutput, SocketEvent};
use crate::repl::consistency::HeldReplies;
use crate::repl::rewrite::{self, Ran};
use crate::repl::{propagate, Deferred};
use crate::server::Server;
use crate::stats::ServerStats;
use crate::transaction::{ExclusiveScope, MultiState};

const READ_CHUNK: usize = 16 * 1024;

/// A client's byte stream: a TCP connection or a unix socket one.
pub trait ClientIo: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> ClientIo for T {}

pub async fn handle(
    server: Arc<Server>,
    stream: impl ClientIo,
    peer: ClientAddr,
    local: ClientAddr,
) {
    ServerStats::add(&server.stats.total_connections_received, 1);
    let handle = server.clients.register(peer.clone(), local);
    let id = handle.id;
    if server.clients.len() as u64 > server.hot.maxclients.load(Ordering::Relaxed) {
        ServerStats::add(&server.stats.rejected_connections, 1);
        let mut stream = stream;
        let _ = stream
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        server.clients.unregister(id);
        return;
    }
    if crate::protected::refuses(&server, &peer) {
        ServerStats::add(&server.stats.rejected_connections, 1);
        let mut stream = stream;
        let _ = stream.write_all(crate::protected::DENIED).await;
        server.clients.unregister(id);
        return;
    }
    let mut client = ClientState::new(handle.clone(), !server.acl.auth_required());
    crate::acl::set_client_user(&server.acl, &mut client, server.acl.default_user());
    if let Err(e) = serve_client(&server, stream, &mut client).await {
        debug!("Client id={id} addr={peer} closed: {e}");
    }
    if handle.monitor.load(Ordering::SeqCst) {
        server.monitors.fetch_sub(1, Ordering::SeqCst);
    }
    server.client_memory.release(&handle);
    server.watches.unwatch_all(&mut client);
    server.pubsub.unsubscribe_all(&mut client);
    crate::commands::disable_tracking(&server, &mut client);
    server.clients.unregister(id);
}

async fn serve_client(
    server: &Arc<Server>,
    mut stream: impl ClientIo,
    client: &mut ClientState,
) -> std::io::Result<()> {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut parser = RequestParser::new();
    let mut out = ReplyWriter::new(Protocol::Resp2);
    let handle = client.handle.clone();
    let mut monitor_feed: Option<tokio::sync::broadcast::Receiver<Bytes>> = None;
    let mut held = HeldReplies::default();
    let mut pending = PendingOutput::default();
    loop {
        buf.reserve(READ_CHUNK);
        // While replies wait for the socket, requests are still read and
        // run (their replies queue behind); MONITOR lines and pushes wait.
        let read = tokio::select! {
            biased;
            _ = handle.killed() => return Ok(()),
            event = pending.read_or_write(&mut stream, &mut buf) => match event? {
                SocketEvent::Read(read) => read,
                SocketEvent::Wrote => {
                    report_memory(server, client, &buf, &pending);
                    continue;
                }
            },
            line = next_monitor_line(&mut monitor_feed), if pending.is_empty() => {
                match line {
                    Some(line) => stream.write_all(&line).await?,
                    None => return Ok(()),
                }
                continue;
            }
            messages = client.pubsub.next_batch(), if pending.is_empty() => {
                // A subscriber that stops reading must still be closable.
                tokio::select! {
                    biased;
                    _ = handle.killed() => return Ok(()),
                    written = stream.write_all(&messages) => written?,
                }
                ServerStats::add(&server.stats.net_output_bytes, messages.len() as u64);
                continue;
            }
        };
        if read == 0 {
            return Ok(());
        }
        ServerStats::add(&server.stats.net_input_bytes, read as u64);
        // While the batch runs, CLIENT LIST's `qbuf` counts all of it, as
        // Redis trims the commands it ran from its query buffer only after.
        handle.query_buffer_len.store(buf.len(), Ordering::Relaxed);
        let mut limits = ParseLimits {
            max_bulk_len: server.hot.proto_max_bulk_len.load(Ordering::Relaxed),
            unauthenticated: false,
        };
        loop {
            if handle.is_killed() {
                return Ok(());
            }
            // Until it authenticates a client may only send small requests
            // (Redis's `authRequired` limits in the parser).
            limits.unauthenticated = !client.authenticated && server.acl.auth_required();
            let request = match parser.next_request(&mut buf, &limits) {
                Ok(Some(request)) => request,
                Ok(None) => break,
                Err(error) => {
                    out.error(&format!("ERR {error}"));
                    server.stats.record_error("ERR");
                    debug!("Protocol error from client {}: {error}", handle.peer);
                    held.settle(server, &mut out).await;
                    pending.write_all(&mut stream, out.as_bytes()).await?;
                    return Ok(());
                }
            };
            if server.scripting.run.is_running()
                && crate::scripting::refuse_while_busy(server, client, &mut out, &request).await
            {
                continue;
            }
            // Pushes queued so far come before the reply, outside the region
            // a consistency mode may hold and replace.
            client.pubsub.drain_into(&mut out);
            let (mut reply_start, woff_before) = (out.len(), client.repl.woff);
            while execute(server, client, &mut out, &request, None) == Executed::Postponed {
                // The replies so far go out before the client waits.
                held.settle(server, &mut out).await;
                pending.write_all(&mut stream, out.as_bytes()).await?;
                out.clear();
                if !wait_while_postponed(server, &mut stream, &mut buf, client).await? {
                    return Ok(());
                }
                client.pubsub.drain_into(&mut out);
                reply_start = out.len();
            }
            held.note(server, client, reply_start, out.len(), woff_before);
            let deferred = client.repl.deferred.take();
            if deferred.is_some() || client.blocked.is_some() {
                held.settle(server, &mut out).await;
            }
            match deferred {
                Some(Deferred::Sync(request)) => {
                    match crate::repl::master::prepare_sync(server, client, &request).await {
                        Ok(()) => {
                            pending.write_all(&mut stream, out.as_bytes()).await?;
                            let server = server.clone();
                            // What the replica sent after its (P)SYNC is the link's.
                            let leftover = std::mem::take(&mut buf);
                            return crate::repl::master::serve_replica(
                                server, stream, leftover, client, request,
                            )
                            .await;
                        }
                        Err(refusal) => {
                            out.error(refusal);
                            server
                                .stats
                                .record_error(refusal.split(' ').next().unwrap_or("ERR"));
                        }
                    }
                }
                Some(Deferred::Wait {
                    replicas,
                    offset,
                    timeout_ms,
                }) => {
                    pending.write_all(&mut stream, out.as_bytes()).await?;
                    out.clear();
                    let acked = crate::repl::wait::wait(server, replicas, offset, timeout_ms).await;
                    out.integer(acked);
                }
                None => {}
            }
            if let Some(blocked) = client.blocked.take() {
                client.pending_stats.flush(&server.stats);
                pending.write_all(&mut stream, out.as_bytes()).await?;
                out.clear();
                handle.blocked.store(true, Ordering::Relaxed);
                let served = wait_while_blocked(
                    server,
                    &mut stream,
                    &mut buf,
                    client,
                    blocked,
                    &request,
                    &mut out,
                )
                .await;
                handle.blocked.store(false, Ordering::Relaxed);
                if !served? {
                    return Ok(());
                }
            }
            // MONITOR starts the feed; RESET stops it.
            let monitoring = handle.monitor.load(Ordering::Relaxed);
            if monitoring != monitor_feed.is_some() {
                monitor_feed = monitoring.then(|| server.monitor_feed.subscribe());
            }
            if client.close_after_reply || handle.is_killed() {
                break;
            }
        }
        if over_query_buffer_limit(server, client, &buf) {
            return Ok(());
        }
        report_memory(server, client, &buf, &pending);
        client.pending_stats.flush(&server.stats);
        held.settle(server, &mut out).await;
        if !out.is_empty() {
            ServerStats::add(&server.stats.net_output_bytes, out.len() as u64);
            pending.send(&mut stream, out.as_bytes())?;
            out.clear();
            if over_output_limit(server, client, &pending) {
                return Ok(());
            }
        }
        if handle.is_killed() {
            return Ok(());
        }
        if client.close_after_reply {
            return pending.flush(&mut stream).await;
        }
    }
}

/// Waits for a blocked command to be served, time out, be unblocked, or the
/// client to go away (false). Bytes that arrive meanwhile are kept for later.
async fn wait_while_blocked(
    server: &Server,
    stream: &mut impl ClientIo,
    buf: &mut BytesMut,
    client: &mut ClientState,
    blocked: Blocked,
    request: &[Bytes],
    out: &mut ReplyWriter,
) -> std::io::Result<bool> {
    let handle = client.handle.clone();
    let deadline = blocked.timeout.map(|t| tokio::time::Instant::now() + t);
    let mut wake = blocked.wake;
    let ran_for = blocked.ran_for;
    let sleep_until_deadline = async {
        match deadline {
            Some(deadline) => tokio::time::sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(sleep_until_deadline);
    let outcome = loop {
        buf.reserve(READ_CHUNK);
        tokio::select! {
            biased;
            woken = &mut wake => break woken.ok(),
            _ = handle.killed() => {
                server.blocking.cancel(handle.id);
                return Ok(false);
            }
            _ = &mut sleep_until_deadline => {
                if server.blocking.cancel(handle.id) {
                    break Some(Wake::UnblockedAsTimeout);
                }
                break (&mut wake).await.ok();
            }
            read = stream.read_buf(buf) => {
                if read? == 0 {
                    server.blocking.cancel(handle.id);
                    return Ok(false);
                }
            }
        }
    };
    let name = *client.handle.last_command.lock();
    let command_id = server.commands.lookup(name.as_bytes()).map(|(id, _)| id);
    match outcome {
        Some(Wake::Served(reply)) => {
            out.raw(&reply);
            if let Some(id) = command_id {
                crate::commands::log_if_slow(server, client, request, ran_for, id);
            }
        }
        Some(wake @ (Wake::UnblockedWithError | Wake::RoleChanged)) => {
            let closes = matches!(wake, Wake::RoleChanged);
            out.error(if closes {
                "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)"
            } else {
                "UNBLOCKED client unblocked via CLIENT UNBLOCK"
            });
            // Counted as the blocked command's failure, as in Redis.
            server.stats.record_error("UNBLOCKED");
            if let Some(id) = command_id {
                ServerStats::add(&server.stats.commands[id].failed_calls, 1);
                crate::commands::log_if_slow(server, client, request, ran_for, id);
            }
            if closes {
                // Redis's CLIENT_CLOSE_AFTER_REPLY.
                stream.write_all(out.as_bytes()).await?;
                out.clear();
                return Ok(false);
            }
        }
        Some(Wake::UnblockedAsTimeout) | None => blocked.timeout_reply.write(out),
    }
    stream.write_all(out.as_bytes()).await?;
    out.clear();
    Ok(true)
}

/// Publishes what the client's buffers hold (CLIENT LIST `qbuf`/`omem`/
/// `tot-mem`) and counts it towards `maxmemory-clients`.
fn report_memory(server: &Server, client: &ClientState, buf: &BytesMut, pending: &PendingOutput) {
    let handle = &client.handle;
    handle.output_len.store(pending.len(), Ordering::Relaxed);
    server
        .client_memory
        .update(server, handle, buf.capacity() + pending.len());
}

/// True (logged) when the replies waiting for a normal client's socket
/// exceed `client-output-buffer-limit normal`, which closes it.
fn over_output_limit(server: &Server, client: &ClientState, pending: &PendingOutput) -> bool {
    let handle = &client.handle;
    let over = server
        .normal_output_limits
        .exceeded(pending.len(), &handle.output_soft_limit_since_ms);
    if over {
        warn!(
            "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
            handle.info_line()
        );
    }
    over
}

/// Records the unprocessed bytes of a client (CLIENT LIST `qbuf`); true
/// (logged) when they exceed `client-query-buffer-limit`, which closes it.
fn over_query_buffer_limit(server: &Server, client: &ClientState, buf: &BytesMut) -> bool {
    let handle = &client.handle;
    handle.query_buffer_len.store(buf.len(), Ordering::Relaxed);
    let over = buf.len() as u64 > server.hot.query_buffer_limit.load(Ordering::Relaxed);
    if over {
        warn!(
            "Closing client that reached max query buffer length: id={} addr={}",
            handle.id, handle.peer
        );
    }
    over
}

/// Waits, as a blocked client (CLIENT LIST flag `b`, INFO `blocked_clients`),
/// until the pause that postponed a command ends or eases; false if the
/// client went away or was killed meanwhile. The socket is read on, as
/// Redis reads a blocked client's query buffer: bytes that arrive are kept
/// for later, a closed connection is noticed.
async fn wait_while_postponed(
    server: &Server,
    stream: &mut impl ClientIo,
    buf: &mut BytesMut,
    client: &ClientState,
) -> std::io::Result<bool> {
    let handle = &client.handle;
    let _postponed = server.pause.postponed_client();
    handle.blocked.store(true, Ordering::Relaxed);
    let outcome = loop {
        buf.reserve(READ_CHUNK);
        tokio::select! {
            biased;
            _ = handle.killed() => break Ok(false),
            _ = server.pause.changed() => break Ok(true),
            read = stream.read_buf(buf) => match read {
                Ok(0) => break Ok(false),
                Ok(_) if over_query_buffer_limit(server, client, buf) => break Ok(false),
                Ok(_) => {}
                Err(e) => break Err(e),
            },
        }
    };
    handle.blocked.store(false, Ordering::Relaxed);
    outcome
}

async fn next_monitor_line(
    feed: &mut Option<tokio::sync::broadcast::Receiver<Bytes>>,
) -> Option<Bytes> {
    match feed {
        None => std::future::pending().await,
        Some(receiver) => receiver.recv().await.ok(),
    }
}

/// Whether [`execute`] ran a request (replied to it) or a pause postponed
/// it (no reply yet: the caller waits for [`PauseState::changed`] and
/// executes it again).
///
/// [`PauseState::changed`]: crate::pause::PauseState::changed
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Executed {
    Done,
    Postponed,
}

/// The wall clock as a duration since the Unix epoch (zero before it).
fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
}

/// Runs one request and writes its reply (or not, per CLIENT REPLY). `scope`
/// is set for the commands of a transaction that EXEC runs (never postponed).
pub fn execute(
    server: &Server,
    client: &mut ClientState,
    out: &mut ReplyWriter,
    request: &[Bytes],
    scope: Option<&ExclusiveScope<'_>>,
) -> Executed {
    // The one check client tracking costs while no client tracks.
    let tracking = server.tracking.is_active();
    let _running =
        (tracking && scope.is_none()).then(|| crate::tracking::running(client.handle.id));
    if scope.is_none() {
        if tracking {
            // Keys dropped to respect `tracking-table-max-keys` are
            // invalidated before the command (Redis's `processCommand`).
            server.tracking.enforce_limit();
        }
        // Pushes queued so far precede the reply: they happened before it.
        if tracking || client.pubsub.has_subscribed() {
            client.pubsub.drain_into(out);
        }
    }
    let reply_start = out.len();
    let errors_before = out.errors_written();
    if scope.is_none() && client.reply_mode == ReplyMode::Skip {
        client.reply_mode = ReplyMode::SkipThis;
    }
    // Statistics summed for a run of the same command are published before
    // any other command runs, so INFO or CONFIG RESETSTAT see exact counts.
    if let Some(pending) = client.pending_stats.command_id() {
        let same = request.first().is_some_and(|name| {
            server
                .commands
                .full_name(pending)
                .as_bytes()
                .eq_ignore_ascii_case(name)
        });
        if !same {
            client.pending_stats.flush(&server.stats);
        }
    }
    // Two clock reads a command, as Redis's `call`: its start is also the
    // time its keys expire by (frozen for it, and for the commands an EXEC
    // or a script runs inside it), its end the client's last interaction.
    // Both are kept as durations since the epoch, so each read is converted
    // once and the command's duration is a subtraction.
    let started = since_epoch();
    let clock = ferrite_storage::freeze_clock_at(started.as_millis() as u64);
    let outcome = dispatch(server, client, out, request, scope);
    // Blocked clients its writes made ready are served as of the real time.
    drop(clock);
    let finished = since_epoch();
    let elapsed = finished.saturating_sub(started);
    if let Some(blocked) = client.blocked.as_mut() {
        blocked.ran_for = elapsed;
    }
    client.handle.touch_at(finished.as_millis() as u64);
    match outcome {
        Outcome::Postponed => return Executed::Postponed,
        Outcome::Rejected(command_id) => {
            MultiState::abort(client);
            if let Some(command_id) = command_id {
                client.pending_stats.flush(&server.stats);
                ServerStats::add(&server.stats.total_commands_processed, 1);
                ServerStats::add(&server.stats.commands[command_id].rejected_calls, 1);
            }
        }
        Outcome::Queued => {}
        Outcome::Ran(command_id, order) => {
            // EXEC fails only with its own error, not its commands' (Redis).
            let failed = if server.commands.full_name(command_id) == "exec" {
                out.as_bytes().get(reply_start) == Some(&b'-')
            } else {
                out.errors_written() > errors_before
            };
            crate::persistence::count_change(server, client, command_id, failed);
            let track_latency = server.hot.latency_tracking.load(Ordering::Relaxed);
            client
                .pending_stats
                .record(&server.stats, command_id, elapsed, failed, track_latency);
            crate::commands::observe(server, client, request, elapsed, command_id);
            let mut changed = None;
            if !failed {
                let reply = &out.as_bytes()[reply_start..];
                changed = propagate::record(server, client, command_id, request, reply, scope);
            }
            if order.is_some() {
                propagate::flush(server, client, server.commands.full_name(command_id));
            } else if scope.is_none() {
                propagate::flush_expired_after_read(server);
            }
            if !failed {
                let reply = &out.as_bytes()[reply_start..];
                let written = Written { reply, changed };
                after_write(
                    server, client, command_id, request, written, scope, tracking,
                );
            }
            // After a read's own write (PFCOUNT caching), so that the write
            // does not invalidate what the read lets the client cache.
            if tracking {
                crate::commands::remember_keys(server, client, command_id, request);
            }
            client.unchanged_keys.clear();
            client.reported_change = false;
            drop(order);
        }
    }
    if out.errors_written() > errors_before {
        if let Some(code) = out.take_last_error_code() {
            server.stats.record_error(&code);
        }
    }
    // Pub/Sub pushes at the start of a reply survive CLIENT REPLY OFF/SKIP.
    let kept = reply_start + client.pubsub.take_push_reply_bytes();
    if scope.is_some() {
        return Executed::Done;
    }
    if tracking {
        server.tracking.broadcast();
    }
    crate::commands::end_tracked_command(client, request);
    match client.reply_mode {
        ReplyMode::Off => out.truncate(kept),
        ReplyMode::SkipThis => {
            out.truncate(kept);
            client.reply_mode = ReplyMode::On;
        }
        ReplyMode::On | ReplyMode::Skip => {}
    }
    Executed::Done
}

/// What a write that did not fail left: its reply, and whether it changed
/// anything when propagation already judged it (`propagate::record`).
struct Written<'a> {
    reply: &'a [u8],
    changed: Option<bool>,
}

/// After a write that did not fail: its keys count as changed for WATCH and
/// client tracking, and clients blocked on them are served (when the
/// transaction ends, in EXEC).
#[allow(clippy::too_many_arguments)]
fn after_write(
    server: &Server,
    client: &ClientState,
    command_id: usize,
    request: &[Bytes],
    written: Written<'_>,
    scope: Option<&ExclusiveScope<'_>>,
    tracking: bool,
) {
    let db = client.db;
    let watching = server.watches.is_active();
    let blocked = server.blocking.blocked_clients() > 0 || scope.is_some();
    if !watching && !blocked && !tracking {
        return;
    }
    let spec = server.commands.spec(command_id);
    if !spec.has_flag("write") && !client.reported_change {
        return;
    }
    let keys: Vec<&[u8]> = spec
        .key_positions(request)
        .into_iter()
        .map(|i| request[i].as_ref())
        .collect();
    // A write whose reply says it changed nothing (SADD of a member already
    // there, DEL of a missing key...) touches no watched key and
    // invalidates nothing, as Redis signals only modified keys.
    let changed = (watching || tracking)
        && written.changed.unwrap_or_else(|| {
            let ran = Ran {
                name: server.commands.full_name(command_id),
                args: request,
                reply: written.reply,
                db,
                reported_change: client.reported_change,
            };
            match scope {
                Some(scope) => !rewrite::changed_nothing(&scope.view(), &ran),
                None => !rewrite::changed_nothing(&server.keyspace.read(), &ran),
            }
        });
    if changed {
        let changed_keys: Vec<&[u8]> = keys
            .iter()
            .copied()
            .filter(|key| !client.unchanged_keys.iter().any(|k| k == key))
            .collect();
        if watching {
            match scope {
                Some(scope) => server.watches.touch(&scope.view(), db, &changed_keys),
                None => server
                    .watches
                    .touch(&server.keyspace.read(), db, &changed_keys),
            }
        }
        if tracking {
            server
                .tracking
                .invalidate(Some(client.handle.id), &changed_keys);
        }
    }
    match scope {
        Some(scope) => scope.defer_ready(db, &keys),
        None if blocked => server.blocking.serve_keys(server, db, &keys),
        None => {}
    }
}

/// How a request ended: refused before running (with the command's id when
/// it was found), postponed by a pause, queued by MULTI, or run (holding the
/// replication write order if it writes, until its effects are propagated).
enum Outcome<'a> {
    Rejected(Option<usize>),
    Postponed,
    Queued,
    Ran(usize, Option<ferrite_replication::WriteOrder<'a>>),
}

/// Whether a command is refused while memory is over `maxmemory` (Redis's
/// `processCommand`): a `denyoom` command, an EXEC that queued one, and, to
/// bound a transaction's queue, anything queued inside MULTI.
fn needs_memory(
    server: &Server,
    client: &ClientState,
    spec: &CommandSpec,
    full_name: &str,
) -> bool {
    match &client.multi {
        Some(multi) if full_name == "exec" => multi.commands.iter().any(|queued| {
            queued
                .first()
                .and_then(|name| server.commands.lookup(name))
                .is_some_and(|(_, spec)| spec.has_flag("denyoom"))
        }),
        Some(_) => !matches!(full_name, "discard" | "quit" | "reset"),
        None => spec.has_flag("denyoom"),
    }
}

/// Commands that run at once inside MULTI instead of being queued.
const RUN_INSIDE_MULTI: &[&str] = &["exec", "discard", "multi", "watch", "quit", "reset"];

fn dispatch<'s>(
    server: &'s Server,
    client: &mut ClientState,
    out: &mut ReplyWriter,
    request: &[Bytes],
    scope: Option<&ExclusiveScope<'_>>,
) -> Outcome<'s> {
    let Some(name) = request.first() else {
        return Outcome::Rejected(None);
    };
    let Some((mut command_id, mut spec)) = server.commands.lookup(name) else {
        out.error(&unknown_command_error(request));
        return Outcome::Rejected(None);
    };
    if !spec.subcommands.is_empty() && request.len() >= 2 {
        match server.commands.lookup_subcommand(command_id, &request[1]) {
            Some((sub_id, sub)) => {
                command_id = sub_id;
                spec = sub;
            }
            None => {
                out.error(&format!(
                    "ERR unknown subcommand '{}'. Try {} HELP.",
                    truncated(&request[1]),
                    spec.name.to_ascii_uppercase()
                ));
                return Outcome::Rejected(Some(command_id));
            }
        }
    }
    let full_name = server.commands.full_name(command_id);
    let rejected = |out: &mut ReplyWriter, text: &str| {
        out.error(text);
        Outcome::Rejected(Some(command_id))
    };
    if !spec.arity_ok(request.len()) {
        return rejected(
            out,
            &format!("ERR wrong number of arguments for '{full_name}' command"),
        );
    }
    if !client.authenticated && !spec.has_flag("no_auth") && server.acl.auth_required() {
        return rejected(out, "NOAUTH Authentication required.");
    }
    // A script's calls are checked where it calls them (`scripting::invoke`).
    if !(scope.is_some() && client.in_script) {
        let in_exec = scope.is_some();
        if let Err(refusal) =
            crate::acl::check_command(server, client, command_id, spec, request, in_exec)
        {
            return rejected(out, &refusal);
        }
    }
    if let Some(refusal) =
        crate::pubsub::refusal_while_subscribed(client, out.protocol(), full_name)
    {
        return rejected(out, &refusal);
    }
    // The keyspace is only taken when memory is over the limit.
    if scope.is_none() && crate::eviction::over_limit(server) {
        let out_of_memory = !crate::eviction::perform_evictions(server, &server.keyspace.read());
        // Invalidations of evicted keys come before the reply, as in Redis.
        client.pubsub.drain_into(out);
        if out_of_memory && needs_memory(server, client, spec, full_name) {
            return refuse(server, client, command_id, crate::eviction::OOM_ERROR, out);
        }
    }
    // A command EXEC runs is not checked again: EXEC was (Redis's execCommand
    // calls each one directly), so a transaction that demotes the server
    // still runs its later writes. A script's commands are checked.
    let queued_in_exec = scope.is_some() && !client.in_script;
    if let Some(refusal) =
        crate::repl::gate::refusal(server, client, spec, full_name).filter(|_| !queued_in_exec)
    {
        return refuse(server, client, command_id, refusal, out);
    }
    if let Some(refusal) = crate::loading::refusal(&server.loading, client, spec, full_name)
        .filter(|_| !queued_in_exec)
    {
        return refuse(server, client, command_id, refusal, out);
    }
    // A paused server postpones the command, to be processed again once
    // the pause ends or eases (Redis's blockPostponeClient). The commands
    // EXEC and scripts run are judged with them.
    if scope.is_none()
        && server.pause.is_active()
        && server.pause.postpones(crate::command_flags::may_replicate(
            server, client, spec, full_name, request,
        ))
    {
        // CLIENT LIST shows the command waiting (Redis sets `lastcmd` first).
        *client.handle.last_command.lock() = full_name;
        return Outcome::Postponed;
    }
    let Some(handler) = spec.handler else {
        return rejected(
            out,
            &format!("ERR wrong number of arguments for '{full_name}' command"),
        );
    };
    if client.multi.is_some() {
        if spec.has_flag("no_multi") {
            return rejected(out, "ERR Command not allowed inside a transaction");
        }
        if !RUN_INSIDE_MULTI.contains(&full_name) {
            MultiState::queue(client, request, spec);
            out.simple("QUEUED");
            return Outcome::Queued;
        }
    }
    if scope.is_none() {
        *client.handle.last_command.lock() = full_name;
    }
    let order = propagate::order_for(server, client, spec, full_name, scope);
    if order.is_some() && !queued_in_exec {
        if let Some(refusal) =
            crate::repl::gate::refusal_under_order(server, client, spec, full_name)
        {
            drop(order);
            // Only a demotion racing this command gets here (`refusal`
            // passed); an EXEC is discarded as every refused EXEC is.
            return refuse(server, client, command_id, refusal, out);
        }
    }
    let expiry = crate::repl::expiry::policy(server, client, spec, full_name);
    let mut ctx = Ctx {
        server,
        client,
        out,
        command_name: full_name,
        scope,
        expiry,
    };
    if let Err(error) = handler(&mut ctx, request) {
        write_error(ctx.out, &error);
    }
    Outcome::Ran(command_id, order)
}

pub fn write_error(out: &mut ReplyWriter, error: &CmdError) {
    out.error(error.text());
}

/// A command refused before it runs; a refused EXEC discards its transaction
/// and says why, as Redis's `execCommandAbort` does.
fn refuse<'s>(
    server: &Server,
    client: &mut ClientState,
    command_id: usize,
    error: &str,
    out: &mut ReplyWriter,
) -> Outcome<'s> {
    let exec = server.commands.full_name(command_id) == "exec";
    crate::transaction::write_refusal(server, client, out, exec, error);
    Outcome::Rejected(Some(command_id))
}

/// Redis's text: `ERR unknown command 'foo', with args beginning with: 'a' 'b' `.
fn unknown_command_error(request: &[Bytes]) -> String {
    let mut args = String::new();
    for arg in request.iter().skip(1) {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        let shown = &arg[..arg.len().min(room)];
        args.push_str(&format!("'{}' ", String::from_utf8_lossy(shown)));
    }
    format!(
        "ERR unknown command '{}', with args beginning with: {args}",
        truncated(&request[0])
    )
}

fn truncated(arg: &[u8]) -> String {
    let end = arg.len().min(128);
    String::from_utf8_lossy(&arg[..end]).into_owned()
}
