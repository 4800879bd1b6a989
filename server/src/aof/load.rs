//! Loading the AOF: at startup with `appendonly yes` (preferred over the RDB
//! file, as Redis) and for DEBUG LOADAOF. The manifest names a base file
//! (an RDB, or commands) and incremental files of commands; an old
//! single-file `appendonly.aof` in `dir` is moved into `appenddirname` as
//! the base first, as Redis 7.0's `aofUpgradePrepare`. Commands are replayed
//! through `connection::execute` as a client of its own (its replies
//! dropped, nothing it does fed anywhere), with Redis's checks and log lines
//! for a torn tail (`aof-load-truncated`) and a bad file.

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use ferrite_resp::{Protocol, ReplyWriter};
use tracing::{info, warn};

use super::manifest::{AofInfo, FileType, Manifest};
use super::{aof_dir, aof_filename, feeding_changed, AofState, Appender};
use crate::client::{ClientAddr, ClientHandle, ClientState};
use crate::server::Server;

/// Redis's `AOF_ANNOTATION_LINE_MAX_LEN`: the longest header line read.
const LINE_MAX: usize = 1024;

/// How loading one file (or all of them) went, as Redis's `AOF_*` codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Loaded {
    Ok,
    NotExist,
    Empty,
    Truncated,
    Failed,
}

/// Startup with `appendonly yes`: loads the AOF, then opens it for
/// appending (creating the directory, a base file and an incremental file
/// as needed). Errors are logged; the caller exits.
pub fn load_at_startup(server: &Server) -> Result<(), ()> {
    let started = Instant::now();
    let dir = aof_dir(server);
    let mut manifest = manifest_from_disk(&dir, &aof_filename(server))?;
    upgrade_if_old_style(server, &mut manifest, &dir)?;
    match load_files(server, &manifest, &dir) {
        Loaded::Failed => return Err(()),
        Loaded::NotExist => {}
        _ => info!(
            "DB loaded from append only file: {:.3} seconds",
            started.elapsed().as_secs_f64()
        ),
    }
    open_on_start(server, manifest, &dir).map_err(|e| warn!("{e}"))
}

/// DEBUG LOADAOF: writes what is pending, empties the dataset and loads
/// the AOF from disk again; a failure to load ends the process, as in Redis.
pub fn debug_loadaof(server: &Server) {
    if server.aof.is_on() {
        let _order = crate::repl::order::write_order_exclusive(server);
        super::flush_and_sync(server);
    }
    empty_data(server);
    let dir = aof_dir(server);
    let filename = aof_filename(server);
    let Ok(mut manifest) = manifest_from_disk(&dir, &filename) else {
        std::process::exit(1);
    };
    super::rewrite::delete_history(server, &mut manifest, &dir, &filename);
    if !matches!(
        load_files(server, &manifest, &dir),
        Loaded::Ok | Loaded::Empty
    ) {
        std::process::exit(1);
    }
    server.aof.inner.lock().manifest = manifest;
    warn!("Append Only File loaded by DEBUG LOADAOF");
}

/// Removes every key and function library (Redis's `emptyData`).
fn empty_data(server: &Server) {
    let ks = server.keyspace.read();
    for db in 0..ks.database_count() {
        ks.for_each_shard(db, |shard| {
            shard.clear();
        });
    }
    drop(ks);
    if let Ok(empty) = crate::scripting::functions::FunctionEngine::with_libraries(Vec::new()) {
        server.scripting.replace_functions(empty);
    }
    server.tracking.invalidate_all();
}

/// The manifest in `dir`, or an empty one when the directory or the file
/// is missing (Redis's `aofLoadManifestFromDisk`). A bad manifest is fatal.
fn manifest_from_disk(dir: &Path, filename: &str) -> Result<Manifest, ()> {
    let path = dir.join(format!("{filename}.manifest"));
    if !dir.is_dir() || !path.exists() {
        return Ok(Manifest::default());
    }
    let text = std::fs::read(&path).map_err(|e| {
        warn!(
            "Fatal error: can't open the AOF manifest file {} for reading: {e}",
            path.display()
        )
    })?;
    Manifest::parse(&text).map_err(|e| {
        warn!("\n*** FATAL AOF MANIFEST FILE ERROR ***\n");
        if let Some((number, line)) = &e.line {
            warn!("Reading the manifest file, at line {number}\n");
            warn!(">>> '{line}'\n");
        }
        warn!("{}\n", e.reason);
    })
}

/// An `appendonly.aof` of Redis before 7.0 in `dir`: moved into the AOF
/// directory as the base file of a new manifest (Redis's
/// `aofUpgradePrepare`, under the same three conditions).
fn upgrade_if_old_style(server: &Server, manifest: &mut Manifest, dir: &Path) -> Result<(), ()> {
    let filename = aof_filename(server);
    if !Path::new(&filename).is_file() {
        return Ok(());
    }
    let only_old_base = manifest.incr.is_empty()
        && manifest.base.as_ref().is_some_and(|b| b.name == filename)
        && !dir.join(&filename).exists();
    if dir.is_dir() && !manifest.is_empty() && !only_old_base {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| {
        warn!(
            "Can't open or create append-only dir {}: {e}",
            dir.display()
        )
    })?;
    manifest.base = Some(AofInfo {
        name: filename.clone(),
        seq: 1,
        kind: FileType::Base,
    });
    manifest.base_seq = 1;
    manifest.persist(dir, &filename).map_err(|e| warn!("{e}"))?;
    std::fs::rename(&filename, dir.join(&filename)).map_err(|e| {
        warn!(
            "Error trying to move the old AOF file {filename} into dir {}: {e}",
            dir.display()
        )
    })?;
    info!(
        "Successfully migrated an old-style AOF file ({filename}) into the AOF directory ({}).",
        dir.display()
    );
    Ok(())
}

/// Loads the base and incremental files in order (Redis's
/// `loadAppendOnlyFiles`).
fn load_files(server: &Server, manifest: &Manifest, dir: &Path) -> Loaded {
    if manifest.is_empty() {
        return Loaded::NotExist;
    }
    let mut total = 0u64;
    for info in manifest.loading_order() {
        match std::fs::metadata(dir.join(&info.name)) {
            Ok(meta) => total += meta.len(),
            Err(e) => {
                warn!("The append log file {} doesn't exist: {e}", info.name);
                return Loaded::Failed;
            }
        }
    }
    if total == 0 {
        return Loaded::Empty;
    }
    let files: Vec<&AofInfo> = manifest.loading_order().collect();
    let old_style_name = aof_filename(server);
    let mut outcome = Loaded::Ok;
    for (index, info) in files.iter().enumerate() {
        let last = index + 1 == files.len();
        let started = Instant::now();
        let mut loaded = load_one(server, dir, &info.name, info.name == old_style_name);
        let kind = if info.kind == FileType::Base {
            "base"
        } else {
            "incr"
        };
        if loaded == Loaded::Ok || (loaded == Loaded::Truncated && last) {
            info!(
                "DB loaded from {kind} file {}: {:.3} seconds",
                info.name,
                started.elapsed().as_secs_f64()
            );
        }
        if loaded == Loaded::Empty {
            loaded = Loaded::Ok;
        }
        if loaded == Loaded::Truncated && !last {
            warn!("Fatal error: the truncated file is not the last file");
            loaded = Loaded::Failed;
        }
        if matches!(loaded, Loaded::Failed | Loaded::NotExist) {
            return Loaded::Failed;
        }
        outcome = loaded;
    }
    let base_size = manifest
        .base
        .as_ref()
        .and_then(|b| std::fs::metadata(dir.join(&b.name)).ok())
        .map_or(0, |m| m.len());
    server
        .aof
        .stats
        .rewrite_base_size
        .store(base_size, Ordering::Relaxed);
    server.aof.inner.lock().base_size = base_size;
    outcome
}

/// Why a command could not be read.
enum Unreadable {
    /// The file ends inside a command.
    Truncated,
    /// Not the protocol at all.
    Format,
}

/// One file: an RDB part if it starts with `REDIS`, then commands
/// (Redis's `loadSingleAppendOnlyFile`).
fn load_one(server: &Server, dir: &Path, name: &str, old_style: bool) -> Loaded {
    let path = dir.join(name);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => Bytes::from(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            warn!("The append log file {name} doesn't exist: {e}");
            return Loaded::NotExist;
        }
        Err(e) => {
            warn!("Fatal error: can't open the append log file {name} for reading: {e}");
            return Loaded::Failed;
        }
    };
    if bytes.is_empty() {
        return Loaded::Empty;
    }
    let mut pos = 0;
    if bytes.starts_with(b"REDIS") {
        if old_style {
            info!("Reading RDB preamble from AOF file...");
        } else {
            info!("Reading RDB base file on AOF loading...");
        }
        match load_rdb_part(server, &bytes) {
            Ok(consumed) => pos = consumed,
            Err(e) => {
                warn!("{e}");
                if old_style {
                    warn!("Error reading the RDB preamble of the AOF file {name}, AOF loading aborted");
                } else {
                    warn!("Error reading the RDB base file {name}, AOF loading aborted");
                }
                return Loaded::Failed;
            }
        }
        if old_style {
            info!("Reading the remaining AOF tail...");
        }
    }
    replay(server, &path, name, &bytes, pos)
}

/// Loads an RDB at the start of `bytes` into the keyspace (replacing it:
/// it is always the first file) and returns its length.
fn load_rdb_part(server: &Server, bytes: &[u8]) -> Result<usize, String> {
    let verify = server.config.read().get_bool("rdbchecksum");
    let count = server.keyspace.database_count();
    let loaded = server
        .keyspace
        .load_rdb(bytes, count, verify)
        .map_err(|e| {
            format!(
                "Internal error in RDB reading offset {}: {}",
                e.offset, e.message
            )
        })?;
    let functions = crate::persistence::functions_of(&loaded)?;
    let consumed = loaded.summary.consumed;
    loaded.install(&server.keyspace.exclusive());
    server.scripting.replace_functions(functions);
    Ok(consumed)
}

/// Replays the commands of `bytes` from `pos`, handling a torn tail as
/// `aof-load-truncated` says.
fn replay(server: &Server, path: &Path, name: &str, bytes: &Bytes, mut pos: usize) -> Loaded {
    let addr = ClientAddr::Unix(Arc::from(""));
    let handle = Arc::new(ClientHandle::new(u64::MAX, addr.clone(), addr));
    let mut client = ClientState::new(handle, true);
    client.repl.is_master = true;
    client.repl.replaying_aof = true;
    let mut out = ReplyWriter::new(Protocol::Resp2);
    let (mut valid_up_to, mut valid_before_multi) = (pos, pos);
    let failure = loop {
        let request = match next_command(bytes, pos) {
            Ok(Some((request, next))) => {
                pos = next;
                request
            }
            Ok(None) => break None,
            Err(e) => break Some(e),
        };
        if server.commands.lookup(&request[0]).is_none() {
            warn!(
                "Unknown command '{}' reading the append only file {name}",
                String::from_utf8_lossy(&request[0])
            );
            return Loaded::Failed;
        }
        if request[0].eq_ignore_ascii_case(b"multi") {
            valid_before_multi = valid_up_to;
        }
        // Never postponed in practice: nothing pauses the server while it loads.
        let _ = crate::connection::execute(server, &mut client, &mut out, &request, None);
        out.clear();
        valid_up_to = pos;
    };
    let failure = match failure {
        None if client.multi.is_some() => {
            warn!("Revert incomplete MULTI/EXEC transaction in AOF file {name}");
            valid_up_to = valid_before_multi;
            Unreadable::Truncated
        }
        None => return Loaded::Ok,
        Some(failure) => failure,
    };
    if let Unreadable::Format = failure {
        warn!("Bad file format reading the append only file {name}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>");
        return Loaded::Failed;
    }
    if server.config.read().get_bool("aof-load-truncated") {
        warn!("!!! Warning: short read while loading the AOF file {name}!!!");
        warn!("!!! Truncating the AOF {name} at offset {valid_up_to} !!!");
        let truncated = OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|file| file.set_len(valid_up_to as u64));
        match truncated {
            Ok(()) => {
                warn!("AOF {name} loaded anyway because aof-load-truncated is enabled");
                return Loaded::Truncated;
            }
            Err(e) => warn!("Error truncating the AOF file {name}: {e}"),
        }
    }
    warn!("Unexpected end of file reading the append only file {name}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.");
    Loaded::Failed
}

/// One line as C's `fgets` with a `LINE_MAX` buffer reads it: up to and
/// including `\n`, at most `LINE_MAX - 1` bytes. `None` at the end.
fn read_line(bytes: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    if pos >= bytes.len() {
        return None;
    }
    let window = &bytes[pos..bytes.len().min(pos + LINE_MAX - 1)];
    let len = window
        .iter()
        .position(|&b| b == b'\n')
        .map_or(window.len(), |i| i + 1);
    Some((&window[..len], pos + len))
}

/// C's `atoi`/`strtol` on a header: leading digits (with a sign), 0 if none.
fn header_number(text: &[u8]) -> i64 {
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let mut value: i64 = 0;
    for &b in digits.iter().take_while(|b| b.is_ascii_digit()) {
        value = value.saturating_mul(10).saturating_add((b - b'0') as i64);
    }
    if negative {
        -value
    } else {
        value
    }
}

/// The next command at `pos` (annotations `#...` skipped) and the offset
/// after it; `None` at the end of the file. Lengths are bounded by the file
/// itself, so a bad length cannot allocate.
#[allow(clippy::type_complexity)]
fn next_command(bytes: &Bytes, mut pos: usize) -> Result<Option<(Vec<Bytes>, usize)>, Unreadable> {
    let line = loop {
        let Some((line, next)) = read_line(bytes, pos) else {
            return Ok(None);
        };
        pos = next;
        if line.first() != Some(&b'#') {
            break line;
        }
    };
    if line.first() != Some(&b'*') {
        return Err(Unreadable::Format);
    }
    if line.len() == 1 {
        return Err(Unreadable::Truncated);
    }
    let argc = header_number(&line[1..]);
    if argc < 1 {
        return Err(Unreadable::Format);
    }
    let mut args = Vec::new();
    for _ in 0..argc {
        let (line, next) = read_line(bytes, pos).ok_or(Unreadable::Truncated)?;
        if line.first() != Some(&b'$') {
            return Err(Unreadable::Format);
        }
        let len = header_number(&line[1..]).max(0) as usize;
        let end = next.checked_add(len).ok_or(Unreadable::Format)?;
        if end > bytes.len() {
            return Err(Unreadable::Truncated);
        }
        args.push(bytes.slice(next..end));
        // The CRLF after the argument is skipped, not checked, as Redis does.
        if end + 2 > bytes.len() {
            return Err(Unreadable::Truncated);
        }
        pos = end + 2;
    }
    Ok(Some((args, pos)))
}

/// After loading at startup: the directory, a base file if the AOF is new,
/// the last incremental file opened for appending (or a new one), the
/// manifest persisted (Redis's `aofOpenIfNeededOnServerStart`).
fn open_on_start(server: &Server, mut manifest: Manifest, dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| {
        format!(
            "Can't open or create append-only dir {}: {e}",
            dir.display()
        )
    })?;
    let filename = aof_filename(server);
    let had_incr = !manifest.incr.is_empty();
    if manifest.is_empty() {
        super::rewrite::create_base_at_startup(server, &mut manifest, dir)?;
    }
    let name = match manifest.incr.last() {
        Some(last) => last.name.clone(),
        None => manifest.new_incr(&filename),
    };
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .open(dir.join(&name))
        .map_err(|e| format!("Can't open the append-only file {name}: {e}"))?;
    manifest.persist(dir, &filename)?;
    let size = file.metadata().map_or(0, |m| m.len());
    let aof = &server.aof;
    {
        let mut inner = aof.inner.lock();
        if inner.base_size == 0 {
            inner.base_size = manifest
                .base
                .as_ref()
                .and_then(|b| std::fs::metadata(dir.join(&b.name)).ok())
                .map_or(0, |m| m.len());
        }
        inner.manifest = manifest;
        inner.appender = Some(Appender {
            file: Arc::new(file),
            name: name.clone(),
            selected_db: None,
            pending: Vec::new(),
            size,
            unsynced: false,
        });
    }
    aof.set_state(AofState::On);
    feeding_changed(server, true);
    if had_incr {
        info!("Opening AOF incr file {name} on server start");
    } else {
        info!("Creating AOF incr file {name} on server start");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &'static [u8]) -> Result<Option<(Vec<Bytes>, usize)>, Unreadable> {
        next_command(&Bytes::from_static(text), 0)
    }

    #[test]
    fn reads_commands_and_tells_torn_from_bad() {
        let (args, next) = parse(b"#TS:1\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
            .ok()
            .flatten()
            .unwrap();
        assert_eq!(
            args,
            vec![Bytes::from_static(b"GET"), Bytes::from_static(b"k")]
        );
        assert_eq!(next, 26);
        assert!(matches!(parse(b""), Ok(None)));
        assert!(matches!(
            parse(b"*2\r\n$3\r\nGE"),
            Err(Unreadable::Truncated)
        ));
        assert!(matches!(
            parse(b"*2\r\n$3\r\nGET\r\n"),
            Err(Unreadable::Truncated)
        ));
        assert!(matches!(parse(b"*"), Err(Unreadable::Truncated)));
        assert!(matches!(parse(b"SET a b\r\n"), Err(Unreadable::Format)));
        assert!(matches!(parse(b"*1\r\nfoo\r\n"), Err(Unreadable::Format)));
        assert!(matches!(
            parse(b"*1\r\n$99999999999\r\nx\r\n"),
            Err(Unreadable::Truncated)
        ));
    }
}
