//! What a command is (its spec: arity, flags, key positions, handler) and the
//! context and error types every command implementation uses.

use bytes::Bytes;
use ferrite_resp::ReplyWriter;
use ferrite_storage::{ExpiryPolicy, KeyspaceExclusive, KeyspaceRead};

use crate::client::ClientState;
use crate::key_spec::{self, KeyRef, KeySpec};
use crate::server::Server;
use crate::transaction::ExclusiveScope;

pub type CmdResult = Result<(), CmdError>;
pub type Handler = fn(&mut Ctx<'_>, &[Bytes]) -> CmdResult;
/// Finds the keys of a command where its key specs cannot (Redis's
/// `getkeys_proc`): SORT's STORE anywhere, SET's flags that depend on GET.
pub type KeyFinder = fn(&[Bytes]) -> Vec<KeyRef>;

/// Redis's ACL categories in the order it lists them (`ACLCommandCategories`).
pub const ACL_CATEGORY_ORDER: &[&str] = &[
    "@keyspace",
    "@read",
    "@write",
    "@set",
    "@sortedset",
    "@list",
    "@hash",
    "@string",
    "@bitmap",
    "@hyperloglog",
    "@geo",
    "@stream",
    "@pubsub",
    "@admin",
    "@fast",
    "@slow",
    "@blocking",
    "@dangerous",
    "@connection",
    "@transaction",
    "@scripting",
];

/// A command's static description, as COMMAND INFO reports it.
#[derive(Debug)]
pub struct CommandSpec {
    pub name: &'static str,
    /// Positive: exact argument count (with the name); negative: at least -arity.
    pub arity: i32,
    pub flags: &'static [&'static str],
    /// Redis's key specs (`key_spec.rs`): where the keys are; COMMAND
    /// INFO's first/last/step and `movablekeys` are derived from them.
    pub key_specs: &'static [KeySpec],
    /// Where the key specs cannot say (see `KeyFinder`).
    pub key_finder: Option<KeyFinder>,
    pub categories: &'static [&'static str],
    pub group: &'static str,
    pub summary: &'static str,
    /// `None` for containers (CONFIG, CLIENT, ...), whose subcommands run.
    pub handler: Option<Handler>,
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    pub const fn new(name: &'static str, arity: i32, handler: Handler) -> CommandSpec {
        CommandSpec {
            name,
            arity,
            flags: &[],
            key_specs: &[],
            key_finder: None,
            categories: &[],
            group: "generic",
            summary: "",
            handler: Some(handler),
            subcommands: &[],
        }
    }

    pub const fn container(name: &'static str, subcommands: &'static [CommandSpec]) -> CommandSpec {
        CommandSpec {
            name,
            arity: -2,
            flags: &[],
            key_specs: &[],
            key_finder: None,
            categories: &[],
            group: "server",
            summary: "",
            handler: None,
            subcommands,
        }
    }

    /// A container that also runs on its own (COMMAND with no subcommand).
    pub const fn with_handler(mut self, arity: i32, handler: Handler) -> Self {
        self.arity = arity;
        self.handler = Some(handler);
        self
    }

    pub const fn flags(mut self, flags: &'static [&'static str]) -> Self {
        self.flags = flags;
        self
    }

    /// Redis's key specs for this command.
    pub const fn key_specs(mut self, specs: &'static [KeySpec]) -> Self {
        self.key_specs = specs;
        self
    }

    /// Keys found from the arguments where the specs cannot say.
    pub const fn key_finder(mut self, finder: KeyFinder) -> Self {
        self.key_finder = Some(finder);
        self
    }

    pub const fn acl(mut self, categories: &'static [&'static str]) -> Self {
        self.categories = categories;
        self
    }

    pub const fn doc(mut self, group: &'static str, summary: &'static str) -> Self {
        self.group = group;
        self.summary = summary;
        self
    }

    /// ACL categories as Redis reports them: the declared ones plus those
    /// its flags imply (Redis's `setImplicitACLCategories`: @write, @read
    /// except for scripting, @admin and @dangerous, @pubsub, @fast,
    /// @blocking, and @slow for whatever is not @fast), in Redis's order.
    pub fn acl_categories(&self) -> Vec<&'static str> {
        let declared = |name: &str| self.categories.contains(&name);
        let implied = |name: &str| match name {
            "@write" => self.has_flag("write"),
            "@read" => self.has_flag("readonly") && !declared("@scripting"),
            "@admin" | "@dangerous" => self.has_flag("admin"),
            "@pubsub" => self.has_flag("pubsub"),
            "@fast" => self.has_flag("fast"),
            "@blocking" => self.has_flag("blocking"),
            "@slow" => !declared("@fast") && !self.has_flag("fast"),
            _ => false,
        };
        ACL_CATEGORY_ORDER
            .iter()
            .copied()
            .filter(|name| declared(name) || implied(name))
            .collect()
    }

    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }

    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i32;
        if self.arity >= 0 {
            argc == self.arity
        } else {
            argc >= -self.arity
        }
    }

    /// Positions of the key arguments in `args` (the whole request, name
    /// first): COMMAND GETKEYS, WATCH touches, blocked-client wakeups.
    pub fn key_positions(&self, args: &[Bytes]) -> Vec<usize> {
        self.find_keys(args).iter().map(|key| key.pos).collect()
    }

    /// The key arguments in `args` with their flags, as Redis's
    /// `getKeysFromCommandWithSpecs` finds them: by the key specs when they
    /// can say and their flags do not vary, else by the key finder.
    pub fn find_keys(&self, args: &[Bytes]) -> Vec<KeyRef> {
        use key_spec::flags::VARIABLE_FLAGS;
        let all = self.key_specs.iter().fold(0, |acc, s| acc | s.flags);
        if self.has_real_key_spec() && all & VARIABLE_FLAGS == 0 {
            if let Ok(keys) = key_spec::keys_from_specs(self.key_specs, args) {
                return keys;
            }
        }
        self.key_finder.map_or_else(Vec::new, |finder| finder(args))
    }

    /// Whether the command can have keys at all (Redis's
    /// `doesCommandHaveKeys`).
    pub fn has_keys(&self) -> bool {
        self.key_finder.is_some() || self.has_real_key_spec()
    }

    /// A spec for keys, not for shard channels (NOT_KEY).
    fn has_real_key_spec(&self) -> bool {
        use key_spec::flags::NOT_KEY;
        self.key_specs.iter().any(|s| s.flags & NOT_KEY == 0)
    }
}

/// A command failed; the text is the error reply (code first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdError {
    Syntax,
    WrongType,
    NotInteger,
    NotFloat,
    Overflow,
    NoSuchKey,
    DbIndexOutOfRange,
    Other(String),
}

impl CmdError {
    pub fn msg(text: impl Into<String>) -> CmdError {
        CmdError::Other(text.into())
    }

    /// Redis's `addReplySubcommandSyntaxError`: a subcommand given the
    /// wrong arguments (`args` is the whole request).
    pub fn subcommand_syntax(args: &[Bytes]) -> CmdError {
        let sub = String::from_utf8_lossy(&args[1]);
        CmdError::Other(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
            sub.chars().take(128).collect::<String>(),
            String::from_utf8_lossy(&args[0]).to_ascii_uppercase()
        ))
    }

    pub fn text(&self) -> &str {
        match self {
            CmdError::Syntax => "ERR syntax error",
            CmdError::WrongType => {
                "WRONGTYPE Operation against a key holding the wrong kind of value"
            }
            CmdError::NotInteger => "ERR value is not an integer or out of range",
            CmdError::NotFloat => "ERR value is not a valid float",
            CmdError::Overflow => "ERR increment or decrement would overflow",
            CmdError::NoSuchKey => "ERR no such key",
            CmdError::DbIndexOutOfRange => "ERR DB index is out of range",
            CmdError::Other(text) => text,
        }
    }
}

/// Everything a command implementation may touch.
pub struct Ctx<'a> {
    pub server: &'a Server,
    pub client: &'a mut ClientState,
    pub out: &'a mut ReplyWriter,
    /// The full name used for errors and stats (`get`, `config|get`).
    pub command_name: &'static str,
    /// Set while the command runs inside EXEC, which holds the keyspace.
    pub scope: Option<&'a ExclusiveScope<'a>>,
    /// How the command's lookups treat expired keys (`repl::expiry`).
    pub expiry: ExpiryPolicy,
}

impl<'a> Ctx<'a> {
    /// The keyspace, held shared for the rest of the command (or seen through
    /// the running transaction's exclusive hold).
    pub fn keyspace(&self) -> KeyspaceRead<'a> {
        match self.scope {
            Some(scope) => scope.view(),
            None => self.server.keyspace.read(),
        }
        .with_expiry(self.expiry)
    }

    /// Whether an expiry time of `at_ms` given at `now_ms` deletes the key at
    /// once (Redis's `checkAlreadyExpired`): on a master. A replica keeps the
    /// key with that expiry, for its master's DEL (or, for its own client's
    /// key on a writable replica, its active cycle) to remove.
    pub fn expired_at_once(&self, at_ms: i64, now_ms: u64) -> bool {
        // Loading the AOF keeps the expiry too, as Redis's
        // `checkAlreadyExpired` does while `server.loading`.
        at_ms <= now_ms as i64
            && !self.server.replication.is_replica()
            && !self.client.repl.replaying_aof
    }

    /// Runs `f` with the keyspace held exclusively (SWAPDB).
    pub fn with_exclusive<R>(&self, f: impl FnOnce(&KeyspaceExclusive<'_>) -> R) -> R {
        match self.scope {
            Some(scope) => f(scope.keyspace()),
            None => f(&self.server.keyspace.exclusive()),
        }
    }

    /// The command wrote `keys` of `db` where the generic after-write path
    /// does not look (it sees the keys the command names, in the client's
    /// database): touch their watchers and serve clients blocked on them, at
    /// once or when the running transaction ends. Used for COPY/MOVE targets
    /// in another database.
    pub fn keys_written(&self, db: usize, keys: &[&[u8]]) {
        self.server.watches.touch(&self.keyspace(), db, keys);
        match self.scope {
            Some(scope) => scope.defer_ready(db, keys),
            None => self.server.blocking.serve_keys(self.server, db, keys),
        }
    }

    /// Serves clients blocked on any key of `db` (after SWAPDB), at once or
    /// when the running transaction ends.
    pub fn database_ready(&self, db: usize) {
        match self.scope {
            Some(scope) => scope.defer_database_ready(db),
            None => self.server.blocking.serve_database(self.server, db),
        }
    }

    /// Runs a blocking command: replies now if `attempt` has something to
    /// serve (its errors are the command's errors), else blocks the client on
    /// `keys`; the attempt is tried once more under the blocking registry's
    /// lock, then again whenever one of the keys becomes ready.
    pub fn serve_or_block(
        &mut self,
        keys: Vec<Bytes>,
        pushes_to: Vec<Bytes>,
        args: &[Bytes],
        timeout: Option<std::time::Duration>,
        timeout_reply: crate::blocking::TimeoutReply,
        attempt: crate::blocking::Attempt,
    ) -> CmdResult {
        if attempt(&self.keyspace(), self.events(), args, self.out)? {
            return Ok(());
        }
        if self.scope.is_some() {
            // Inside MULTI a blocking command never blocks: it replies as if
            // its timeout had passed (Redis).
            timeout_reply.write(self.out);
            return Ok(());
        }
        let request = crate::blocking::BlockRequest {
            client_id: self.client.handle.id,
            db: self.client.db,
            keys,
            pushes_to,
            args,
            protocol: self.out.protocol(),
            timeout,
            timeout_reply,
            attempt,
        };
        self.client.blocked = self.server.blocking.block(self.server, request, self.out);
        Ok(())
    }

    /// Reports a keyspace event on `key` of the client's database
    /// (`notify-keyspace-events`; one atomic load when off).
    pub fn notify(&self, class: u32, event: &str, key: &[u8]) {
        self.server
            .notifier
            .notify(class, event, self.client.db, key);
    }

    /// Where events on keys of the client's database go, for helpers that a
    /// blocked client's attempt shares.
    pub fn events(&self) -> crate::notify::DbEvents<'a> {
        crate::notify::DbEvents {
            notifier: &self.server.notifier,
            db: self.client.db,
        }
    }

    /// As [`Ctx::notify`] for a key of database `db` (MOVE, COPY ... DB).
    pub fn notify_db(&self, class: u32, event: &str, db: usize, key: &[u8]) {
        self.server.notifier.notify(class, event, db, key);
    }

    /// The collection encoding thresholds in force (CONFIG SET changes them).
    pub fn encoding_limits(&self) -> ferrite_storage::EncodingLimits {
        self.server.keyspace.encoding_limits.get()
    }

    pub fn record_lookup(&self, hit: bool) {
        let stats = &self.server.stats;
        let counter = if hit {
            &stats.keyspace_hits
        } else {
            &stats.keyspace_misses
        };
        crate::stats::ServerStats::add(counter, 1);
    }
}

/// Parses an argument as a strict integer (Redis's `string2ll`).
pub fn parse_i64(arg: &[u8]) -> Result<i64, CmdError> {
    ferrite_storage_int(arg).ok_or(CmdError::NotInteger)
}

fn ferrite_storage_int(arg: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(arg).ok()?;
    if text.is_empty() || text.starts_with('+') || text.len() > 20 {
        return None;
    }
    if text.len() > 1 && (text.starts_with('0') || text.starts_with("-0")) {
        return None;
    }
    text.parse().ok()
}

/// Parses a float argument as Redis's `getLongDoubleFromObject` does: no
/// blanks, no NaN; `inf` accepted where the caller allows it.
pub fn parse_f64(arg: &[u8]) -> Result<f64, CmdError> {
    let text = std::str::from_utf8(arg).map_err(|_| CmdError::NotFloat)?;
    if text.is_empty() || text.trim() != text {
        return Err(CmdError::NotFloat);
    }
    let lower = text.to_ascii_lowercase();
    let value = match lower.as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ if lower.contains("nan") || lower.contains("inf") => return Err(CmdError::NotFloat),
        _ => text.parse::<f64>().map_err(|_| CmdError::NotFloat)?,
    };
    Ok(value)
}

/// The arguments of SCAN, HSCAN, SSCAN and ZSCAN:
/// `cursor [MATCH pattern] [COUNT count]`, plus `[TYPE type]` for SCAN.
#[derive(Debug)]
pub struct ScanArgs<'a> {
    pub cursor: u64,
    /// `None` when every element matches (no MATCH, or MATCH `*`).
    pub pattern: Option<&'a [u8]>,
    pub count: usize,
    /// SCAN's TYPE filter (compared case-insensitively with type names).
    pub type_filter: Option<&'a [u8]>,
}

/// Parses `args[at..]` as a scan's cursor and options; `allow_type` accepts
/// SCAN's TYPE option.
pub fn parse_scan_args(
    args: &[Bytes],
    at: usize,
    allow_type: bool,
) -> Result<ScanArgs<'_>, CmdError> {
    let cursor = args
        .get(at)
        .and_then(|c| std::str::from_utf8(c).ok())
        .and_then(|c| c.parse::<u64>().ok())
        .ok_or_else(|| CmdError::msg("ERR invalid cursor"))?;
    let mut scan = ScanArgs {
        cursor,
        pattern: None,
        count: 10,
        type_filter: None,
    };
    let mut i = at + 1;
    while i < args.len() {
        let value = args.get(i + 1).ok_or(CmdError::Syntax)?;
        if is(&args[i], "match") {
            scan.pattern = Some(&value[..]).filter(|p| *p != b"*");
        } else if is(&args[i], "count") {
            let n = parse_i64(value)?;
            if n < 1 {
                return Err(CmdError::Syntax);
            }
            scan.count = n as usize;
        } else if allow_type && is(&args[i], "type") {
            scan.type_filter = Some(&value[..]);
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    Ok(scan)
}

/// The positions an HSCAN/SSCAN call over a hash-table collection returns:
/// `start..end`, and `start` is the next cursor (0 when done). Positions are
/// visited from the end down, because a removal moves the last member into the
/// hole: members not yet visited stay below the cursor, so every member present
/// for the whole scan is returned (Redis's guarantee).
pub fn scan_window(cursor: u64, count: usize, len: usize) -> (usize, usize) {
    let end = match cursor {
        0 => len,
        c => usize::try_from(c).map_or(len, |c| c.min(len)),
    };
    (end.saturating_sub(count), end)
}

/// Parses a count with Redis's `getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX)`.
pub fn parse_signed_count(arg: &[u8]) -> Result<i64, CmdError> {
    match parse_i64(arg)? {
        i64::MIN => Err(CmdError::msg(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        )),
        n => Ok(n),
    }
}

/// Case-insensitive comparison of an argument with an ASCII keyword.
pub fn is(arg: &[u8], keyword: &str) -> bool {
    arg.eq_ignore_ascii_case(keyword.as_bytes())
}

/// An argument as text for messages (lossy).
pub fn text(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_strict() {
        assert_eq!(parse_i64(b"-12"), Ok(-12));
        assert_eq!(parse_i64(b" 1"), Err(CmdError::NotInteger));
        assert_eq!(parse_i64(b"01"), Err(CmdError::NotInteger));
        assert_eq!(parse_i64(b"9223372036854775808"), Err(CmdError::NotInteger));
    }

    #[test]
    fn scan_windows_walk_down_to_zero() {
        assert_eq!(scan_window(0, 10, 25), (15, 25));
        assert_eq!(scan_window(15, 10, 25), (5, 15));
        assert_eq!(scan_window(5, 10, 25), (0, 5));
        assert_eq!(scan_window(30, 10, 12), (2, 12));
    }

    #[test]
    fn floats() {
        assert_eq!(parse_f64(b"1.5"), Ok(1.5));
        assert_eq!(parse_f64(b"-inf"), Ok(f64::NEG_INFINITY));
        assert!(parse_f64(b"nan").is_err());
        assert!(parse_f64(b" 1").is_err());
    }
}
