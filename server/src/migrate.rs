//! MIGRATE's side of the wire: connections to target servers, cached per
//! `host:port` for ten seconds of disuse as Redis caches them
//! (`migrateGetSocket`), and one transfer of AUTH, SELECT and RESTORE
//! commands with Redis's retry and error rules (`migrateCommand`). Blocking
//! socket I/O with the command's timeout, as Redis does; the caller runs it
//! off the worker pool.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use ferrite_replication::multibulk;
use parking_lot::Mutex;

/// Redis's MIGRATE_SOCKET_CACHE_ITEMS and MIGRATE_SOCKET_CACHE_TTL.
const CACHE_ITEMS: usize = 64;
const CACHE_TTL: Duration = Duration::from_secs(10);
/// Redis writes the commands in chunks of this size.
const WRITE_CHUNK: usize = 64 * 1024;
/// Redis reads each reply line into a buffer of this size.
const MAX_LINE: usize = 1024;

struct Cached {
    stream: TcpStream,
    /// The database the target has selected on this connection, if known.
    selected_db: Option<i64>,
    last_use: Instant,
}

/// The open connections to MIGRATE targets.
#[derive(Default)]
pub struct SocketCache {
    sockets: Mutex<HashMap<String, Cached>>,
}

/// Where to send, and how.
pub struct Target<'a> {
    pub host: &'a str,
    pub port: &'a str,
    pub timeout: Duration,
    /// AUTH's arguments: an optional user name, then the password.
    pub auth: Option<(Option<&'a [u8]>, &'a [u8])>,
    pub db: i64,
}

/// What a transfer did: which RESTOREs the target acknowledged (by index)
/// and the reply MIGRATE gives (`None`: OK).
pub struct Transfer {
    pub acknowledged: Vec<usize>,
    pub error: Option<String>,
}

/// How a socket operation failed: timeouts are not retried.
struct SocketError {
    timed_out: bool,
}

impl From<std::io::Error> for SocketError {
    fn from(error: std::io::Error) -> Self {
        let timed_out = matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut);
        SocketError { timed_out }
    }
}

impl SocketCache {
    /// Open connections (INFO's `migrate_cached_sockets`); connections idle
    /// for longer than the cache's TTL are closed first.
    pub fn count(&self) -> usize {
        let mut sockets = self.sockets.lock();
        sockets.retain(|_, cached| cached.last_use.elapsed() <= CACHE_TTL);
        sockets.len()
    }

    /// Sends `restores` (each a complete RESTORE command) to `target`,
    /// after AUTH and SELECT when needed, and reads the replies. A failure
    /// before any reply was read is retried once on a new connection,
    /// unless it was a timeout.
    pub fn transfer(&self, target: &Target<'_>, restores: &[&[u8]]) -> Transfer {
        let name = format!("{}:{}", target.host, target.port);
        let mut sockets = self.sockets.lock();
        sockets.retain(|_, cached| cached.last_use.elapsed() <= CACHE_TTL);
        let mut may_retry = true;
        loop {
            if !sockets.contains_key(&name) && sockets.len() >= CACHE_ITEMS {
                if let Some(evicted) = sockets.keys().next().cloned() {
                    sockets.remove(&evicted);
                }
            }
            let cached = match sockets.entry(name.clone()) {
                Entry::Occupied(cached) => cached.into_mut(),
                Entry::Vacant(slot) => match connect(target) {
                    Some(stream) => slot.insert(Cached {
                        stream,
                        selected_db: None,
                        last_use: Instant::now(),
                    }),
                    None => {
                        return Transfer {
                            acknowledged: Vec::new(),
                            error: Some("IOERR error or timeout connecting to the client".into()),
                        }
                    }
                },
            };
            cached.last_use = Instant::now();
            match exchange(cached, target, restores, may_retry) {
                Exchange::Done {
                    transfer,
                    socket_failed,
                } => {
                    if socket_failed {
                        sockets.remove(&name);
                    }
                    return transfer;
                }
                Exchange::Failed { writing, timed_out } => {
                    sockets.remove(&name);
                    if may_retry && !timed_out {
                        may_retry = false;
                        continue;
                    }
                    let doing = if writing { "writing" } else { "reading" };
                    return Transfer {
                        acknowledged: Vec::new(),
                        error: Some(format!("IOERR error or timeout {doing} to target instance")),
                    };
                }
            }
        }
    }
}

enum Exchange {
    /// Replies were read; `socket_failed`: the connection broke after some.
    Done {
        transfer: Transfer,
        socket_failed: bool,
    },
    /// Nothing was acknowledged: the caller may retry.
    Failed { writing: bool, timed_out: bool },
}

fn connect(target: &Target<'_>) -> Option<TcpStream> {
    let port: u16 = target.port.parse().ok()?;
    let address = (target.host, port).to_socket_addrs().ok()?.next()?;
    let stream = TcpStream::connect_timeout(&address, target.timeout).ok()?;
    stream.set_read_timeout(Some(target.timeout)).ok()?;
    stream.set_write_timeout(Some(target.timeout)).ok()?;
    let _ = stream.set_nodelay(true);
    Some(stream)
}

fn exchange(
    cached: &mut Cached,
    target: &Target<'_>,
    restores: &[&[u8]],
    may_retry: bool,
) -> Exchange {
    let select = cached.selected_db != Some(target.db);
    let mut request = Vec::new();
    if let Some((user, password)) = target.auth {
        let mut args: Vec<&[u8]> = vec![b"AUTH"];
        args.extend(user);
        args.push(password);
        multibulk(&mut request, &args);
    }
    if select {
        multibulk(
            &mut request,
            &[&b"SELECT"[..], target.db.to_string().as_bytes()],
        );
    }
    for restore in restores {
        request.extend_from_slice(restore);
    }
    let stream = &mut cached.stream;
    if let Err(error) = request
        .chunks(WRITE_CHUNK)
        .try_for_each(|c| stream.write_all(c))
    {
        let timed_out = SocketError::from(error).timed_out;
        return Exchange::Failed {
            writing: true,
            timed_out,
        };
    }
    let mut first_error = None;
    for expected in [target.auth.is_some(), select] {
        if !expected {
            continue;
        }
        match read_line(stream) {
            Ok(line) => {
                if line.starts_with('-') && first_error.is_none() {
                    first_error = Some(line);
                }
            }
            Err(error) => {
                return Exchange::Failed {
                    writing: false,
                    timed_out: error.timed_out,
                }
            }
        }
    }
    let mut acknowledged = Vec::new();
    let mut target_error = None;
    for index in 0..restores.len() {
        let line = match read_line(stream) {
            Ok(line) => line,
            Err(error) => {
                // Nothing acknowledged yet: a retry on a new connection may
                // work (Redis retries only then).
                if target_error.is_none() && index == 0 && may_retry && !error.timed_out {
                    return Exchange::Failed {
                        writing: false,
                        timed_out: false,
                    };
                }
                let error = target_error.unwrap_or_else(|| {
                    "IOERR error or timeout reading to target instance".to_string()
                });
                return Exchange::Done {
                    transfer: Transfer {
                        acknowledged,
                        error: Some(error),
                    },
                    socket_failed: true,
                };
            }
        };
        let failed = first_error
            .as_deref()
            .or(line.starts_with('-').then_some(&*line));
        match failed {
            Some(error) => {
                if target_error.is_none() {
                    target_error = Some(format!(
                        "ERR Target instance replied with error: {}",
                        &error[1..]
                    ));
                }
            }
            None => acknowledged.push(index),
        }
    }
    // After an error the target's selected database is not known.
    cached.selected_db = target_error.is_none().then_some(target.db);
    Exchange::Done {
        transfer: Transfer {
            acknowledged,
            error: target_error,
        },
        socket_failed: false,
    }
}

/// One reply line without its CRLF, read a byte at a time as Redis's
/// `syncReadLine` does (nothing past it is consumed); longer lines are cut
/// at Redis's buffer size.
fn read_line(stream: &mut TcpStream) -> Result<String, SocketError> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        if stream.read(&mut byte)? == 0 {
            return Err(SocketError { timed_out: false });
        }
        match byte[0] {
            b'\n' => break,
            b'\r' => {}
            other if line.len() < MAX_LINE - 1 => line.push(other),
            _ => {}
        }
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}
