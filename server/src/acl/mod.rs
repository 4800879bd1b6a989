//! Redis 7.0's ACLs (`acl.c`): users with passwords and selectors, the
//! checks every command passes before it runs, the ACL log, and the
//! `user` directives and `aclfile` users come from.
//!
//! Users are immutable once installed: a change builds a new `User` and
//! swaps it into the registry, bumping a generation counter. A client
//! keeps the `Arc<User>` it authenticated as and looks its user up again
//! only when the generation moved, so the request path costs one relaxed
//! load and, for an unrestricted user (the default one), one flag test.

pub mod commands;
mod describe;
pub mod file;
pub mod log;
pub mod selector;
mod sha256;
pub mod user;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

use crate::client::ClientState;
use crate::command::CommandSpec;
use crate::commands::CommandTable;
use crate::server::Server;
use commands::CommandIndex;
use log::{AclLog, Context, Reason};
use selector::{Denied, RuleContext};
pub use user::User;

pub use describe::command_rules;

/// Why a rule was refused, with Redis's texts (`ACLSetUserStringError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    UnknownCommand,
    Syntax,
    KeyAfterAll,
    ChannelAfterAll,
    NoSuchPassword,
    BadHash,
    FirstArgOfSubcommand,
}

impl RuleError {
    pub fn message(self) -> &'static str {
        match self {
            RuleError::UnknownCommand => "Unknown command or category name in ACL",
            RuleError::Syntax => "Syntax error",
            RuleError::KeyAfterAll => "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            RuleError::ChannelAfterAll => "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
            RuleError::NoSuchPassword => "The password you are trying to remove from the user does not exist",
            RuleError::BadHash => "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
            RuleError::FirstArgOfSubcommand => "Allowing first-arg of a subcommand is not supported",
        }
    }
}

/// Redis's text for a duplicate `user` line in the config file.
pub const DUPLICATE_USER: &str =
    "Duplicate user found. A user can only be defined once in config files";

/// The server's users, ACL log and ACL settings.
pub struct Acl {
    pub index: CommandIndex,
    users: RwLock<BTreeMap<Bytes, Arc<User>>>,
    /// Bumped after every change of a user.
    generation: AtomicU64,
    /// The default user needs a password or is off (Redis's `authRequired`
    /// for clients that never authenticated).
    auth_required: AtomicBool,
    /// `acl-pubsub-default allchannels`.
    pubsub_default_all: AtomicBool,
    log_max_len: AtomicUsize,
    pub log: Mutex<AclLog>,
}

impl Acl {
    pub fn new(table: &CommandTable) -> Acl {
        let index = CommandIndex::new(table);
        let acl = Acl {
            index,
            users: RwLock::new(BTreeMap::new()),
            generation: AtomicU64::new(0),
            auth_required: AtomicBool::new(false),
            pubsub_default_all: AtomicBool::new(false),
            log_max_len: AtomicUsize::new(128),
            log: Mutex::new(AclLog::default()),
        };
        let default = User::new_default(&acl.context(table));
        acl.install(default);
        acl
    }

    pub fn context<'a>(&'a self, table: &'a CommandTable) -> RuleContext<'a> {
        RuleContext {
            index: &self.index,
            table,
            pubsub_default_all: self.pubsub_default_all.load(Ordering::Relaxed),
        }
    }

    /// Takes `acl-pubsub-default` and `acllog-max-len` from the config.
    pub fn configure(&self, config: &crate::config::Config) {
        self.pubsub_default_all.store(
            config.get("acl-pubsub-default") == "allchannels",
            Ordering::Relaxed,
        );
        self.log_max_len.store(
            config.get_i64("acllog-max-len").max(0) as usize,
            Ordering::Relaxed,
        );
    }

    pub fn user(&self, name: &[u8]) -> Option<Arc<User>> {
        self.users.read().get(name).cloned()
    }

    pub fn default_user(&self) -> Arc<User> {
        self.user(b"default")
            .expect("the default user always exists")
    }

    /// Every user, in name order (ACL LIST, USERS, SAVE).
    pub fn users(&self) -> Vec<Arc<User>> {
        self.users.read().values().cloned().collect()
    }

    /// Adds or replaces a user.
    pub fn install(&self, user: User) {
        if &user.name[..] == b"default" {
            self.note_default(&user);
        }
        self.users.write().insert(user.name.clone(), Arc::new(user));
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Replaces every user at once (ACL LOAD).
    fn install_all(&self, users: BTreeMap<Bytes, Arc<User>>) {
        if let Some(default) = users.get(&b"default"[..]) {
            self.note_default(default);
        }
        *self.users.write() = users;
        self.generation.fetch_add(1, Ordering::Release);
    }

    fn note_default(&self, user: &User) {
        let required = !user.has(user::NOPASS) || user.has(user::OFF);
        self.auth_required.store(required, Ordering::Relaxed);
    }

    /// Removes a user; false if there was none.
    fn remove(&self, name: &[u8]) -> bool {
        let removed = self.users.write().remove(name).is_some();
        self.generation.fetch_add(1, Ordering::Release);
        removed
    }

    /// Whether a client that never authenticated must (Redis's `authRequired`).
    pub fn auth_required(&self) -> bool {
        self.auth_required.load(Ordering::Relaxed)
    }

    /// `requirepass`: the default user's only password, or nopass when
    /// empty (Redis's `ACLUpdateDefaultUserPassword`).
    pub fn set_default_password(&self, table: &CommandTable, password: &str) {
        let ctx = self.context(table);
        let mut user = (*self.default_user()).clone();
        let _ = user.apply(&ctx, b"resetpass");
        let rule = if password.is_empty() {
            b"nopass".to_vec()
        } else {
            [b">", password.as_bytes()].concat()
        };
        let _ = user.apply(&ctx, &rule);
        self.install(user);
    }

    /// Records a refusal or a failed authentication in the ACL log.
    pub fn log_denial(
        &self,
        reason: Reason,
        context: Context,
        object: &[u8],
        username: &[u8],
        handle: &crate::client::ClientHandle,
    ) {
        let entry = log::Entry {
            count: 1,
            reason,
            context,
            object: object.to_vec(),
            username: username.to_vec(),
            created_ms: now_ms(),
            client_info: handle.info_line(),
        };
        let max_len = self.log_max_len.load(Ordering::Relaxed);
        self.log.lock().add(entry, max_len);
    }
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The user a client runs as. `None` is Redis's client without a user (the
/// master link, internal clients): it may run anything.
#[derive(Debug, Clone, Default)]
pub struct ClientAcl {
    user: Option<Arc<User>>,
    /// The registry's generation `user` was looked up at.
    generation: u64,
    /// `user` allows everything: no check needed.
    unrestricted: bool,
}

impl ClientAcl {
    pub fn new(acl: &Acl, user: Arc<User>) -> ClientAcl {
        ClientAcl {
            unrestricted: user.unrestricted(),
            generation: acl.generation.load(Ordering::Acquire),
            user: Some(user),
        }
    }

    pub fn user(&self) -> Option<&Arc<User>> {
        self.user.as_ref()
    }
}

/// Brings the client's user up to date after ACL changes; a client whose
/// user was deleted is the default user again, unauthenticated (it is
/// being disconnected, as in Redis).
fn refresh(acl: &Acl, client: &mut ClientState) {
    let generation = acl.generation.load(Ordering::Acquire);
    if generation == client.acl.generation {
        return;
    }
    client.acl.generation = generation;
    let Some(current) = &client.acl.user else {
        return;
    };
    let user = match acl.user(&current.name) {
        Some(user) => user,
        None => {
            client.authenticated = false;
            acl.default_user()
        }
    };
    client.acl.unrestricted = user.unrestricted();
    client.acl.user = Some(user);
}

/// Makes `client` run as `user` (AUTH, HELLO AUTH, RESET).
pub fn set_client_user(acl: &Acl, client: &mut ClientState, user: Arc<User>) {
    *client.handle.user.lock() = user.name.clone();
    client.acl = ClientAcl::new(acl, user);
}

/// The user's refusal of a command, if any, after bringing the client's
/// user up to date (nothing to check for an unrestricted user).
fn denial(
    server: &Server,
    client: &mut ClientState,
    id: usize,
    spec: &CommandSpec,
    request: &[Bytes],
) -> Option<(Arc<User>, Denied)> {
    refresh(&server.acl, client);
    if client.acl.unrestricted {
        return None;
    }
    let user = client.acl.user.clone()?;
    let denied = user.check(&server.acl.index, id, spec, request).err()?;
    Some((user, denied))
}

/// The ACL check of a command about to run (Redis's `ACLCheckAllPerm` in
/// `processCommand`, and again in EXEC for queued commands): `Err` is the
/// reply. Commands a script calls are checked by [`check_script_call`].
pub fn check_command(
    server: &Server,
    client: &mut ClientState,
    id: usize,
    spec: &CommandSpec,
    request: &[Bytes],
    in_exec: bool,
) -> Result<(), String> {
    let Some((user, denied)) = denial(server, client, id, spec, request) else {
        return Ok(());
    };
    let context = if in_exec || client.multi.is_some() {
        Context::Multi
    } else {
        Context::Toplevel
    };
    log_denied(server, client, &user, denied, id, request, context);
    Err(if in_exec {
        let reason = match denied {
            Denied::Command => "no permission to execute the command or subcommand",
            Denied::Key(_) => "no permission to touch the specified keys",
            Denied::Channel(_) => "no permission to access one of the channels used as arguments",
        };
        format!("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {reason}")
    } else {
        match denied {
            Denied::Command => format!(
                "NOPERM this user has no permissions to run the '{}' command",
                server.acl.index.full_name(id)
            ),
            Denied::Key(_) => {
                "NOPERM this user has no permissions to access one of the keys used as arguments"
                    .to_string()
            }
            Denied::Channel(_) => "NOPERM this user has no permissions to access one of the channels used as arguments".to_string(),
        }
    })
}

/// The check of a command a script calls (Redis's `scriptVerifyACL`):
/// logged in the `lua` context; `Err` is the script's error text.
pub fn check_script_call(
    server: &Server,
    client: &mut ClientState,
    id: usize,
    spec: &CommandSpec,
    request: &[Bytes],
) -> Result<(), String> {
    let Some((user, denied)) = denial(server, client, id, spec, request) else {
        return Ok(());
    };
    log_denied(server, client, &user, denied, id, request, Context::Lua);
    Err(format!(
        "ERR The user executing the script {}",
        script_denial_message(denied)
    ))
}

/// The command a request names, as Redis's `lookupCommand` finds it for
/// ACL DRYRUN and redis.acl_check_cmd: a container's subcommand when there
/// is a second argument (none if that names no subcommand).
pub fn lookup_command(server: &Server, request: &[Bytes]) -> Option<(usize, &'static CommandSpec)> {
    let (id, spec) = server.commands.lookup(request.first()?)?;
    if !spec.subcommands.is_empty() && request.len() >= 2 {
        return server.commands.lookup_subcommand(id, &request[1]);
    }
    Some((id, spec))
}

/// Whether `acl`'s user may run `request` (redis.acl_check_cmd); `None`
/// when it names no command.
pub fn command_allowed(server: &Server, acl: &ClientAcl, request: &[Bytes]) -> Option<bool> {
    let (id, spec) = lookup_command(server, request)?;
    Some(match acl.user() {
        Some(user) => user.check(&server.acl.index, id, spec, request).is_ok(),
        None => true,
    })
}

/// Whether the running command's user may run it and access every key with
/// the access `spec_flags` describe (Redis's
/// `ACLUserCheckCmdWithUnrestrictedKeyAccess`): SORT's BY and GET.
pub fn full_key_access(ctx: &crate::command::Ctx<'_>, args: &[Bytes], spec_flags: u16) -> bool {
    if ctx.client.acl.unrestricted {
        return true;
    }
    let Some(user) = ctx.client.acl.user() else {
        return true;
    };
    let Some((id, spec)) = ctx.server.commands.lookup(ctx.command_name.as_bytes()) else {
        return true;
    };
    let mut keys = None;
    user.selectors.iter().any(|s| {
        s.check(&ctx.server.acl.index, id, spec, args, &mut keys)
            .is_ok()
            && s.unrestricted_keys(spec_flags)
    })
}

/// Redis's `getAclErrorMessage`.
pub fn script_denial_message(denied: Denied) -> &'static str {
    match denied {
        Denied::Command => "can't run this command or subcommand",
        Denied::Key(_) => {
            "can't access at least one of the keys mentioned in the command arguments"
        }
        Denied::Channel(_) => "can't publish to the channel mentioned in the command",
    }
}

fn log_denied(
    server: &Server,
    client: &ClientState,
    user: &User,
    denied: Denied,
    id: usize,
    request: &[Bytes],
    context: Context,
) {
    let (reason, object): (Reason, &[u8]) = match denied {
        Denied::Command => (Reason::Command, server.acl.index.full_name(id).as_bytes()),
        Denied::Key(pos) => (Reason::Key, &request[pos]),
        Denied::Channel(pos) => (Reason::Channel, &request[pos]),
    };
    // The entry's client info names the refused command (Redis sets
    // `lastcmd` at lookup); a script's shows its caller's EVAL.
    if !client.in_script {
        *client.handle.last_command.lock() = server.acl.index.full_name(id);
    }
    server
        .acl
        .log_denial(reason, context, object, &user.name, &client.handle);
}

/// AUTH and HELLO's AUTH (Redis's `ACLAuthenticateUser`): on success the
/// client runs as the user; a failure is logged (`object` is the command
/// name as sent; `in_multi`: run by EXEC).
pub fn authenticate(
    server: &Server,
    client: &mut ClientState,
    credentials: (&[u8], &[u8]),
    object: &[u8],
    in_multi: bool,
) -> bool {
    let (username, password) = credentials;
    let user = server
        .acl
        .user(username)
        .filter(|u| !u.has(user::OFF) && u.password_matches(password));
    match user {
        Some(user) => {
            set_client_user(&server.acl, client, user);
            client.authenticated = true;
            true
        }
        None => {
            let context = if in_multi {
                Context::Multi
            } else {
                Context::Toplevel
            };
            server
                .acl
                .log_denial(Reason::Auth, context, object, username, &client.handle);
            false
        }
    }
}

/// ACL SETUSER (Redis's `ACLStringSetUser`): every rule is applied to a
/// copy, which replaces the user only if all of them were valid.
pub fn set_user(
    server: &Server,
    client: &mut ClientState,
    name: &[u8],
    args: &[Bytes],
) -> Result<(), String> {
    let acl = &server.acl;
    let rules = user::merge_selector_args(args).map_err(|at| {
        format!(
            "ERR Unmatched parenthesis in acl selector starting at '{}'.",
            String::from_utf8_lossy(&args[at])
        )
    })?;
    let ctx = acl.context(&server.commands);
    let existing = acl.user(name);
    let mut user = match &existing {
        Some(existing) => (**existing).clone(),
        None => User::new(&ctx, Bytes::copy_from_slice(name)),
    };
    user.apply_all(&ctx, &rules, |rule, error| {
        format!(
            "ERR Error in ACL SETUSER modifier '{rule}': {}",
            error.message()
        )
    })?;
    if let Some(existing) = &existing {
        kill_subscribers_losing_channels(server, client, &user, existing);
    }
    acl.install(user);
    Ok(())
}

/// ACL DELUSER of one user: its clients are disconnected (the current one
/// after its reply), as Redis's `ACLFreeUserAndKillClients`.
pub fn delete_user(server: &Server, client: &mut ClientState, name: &[u8]) -> bool {
    if !server.acl.remove(name) {
        return false;
    }
    disconnect_users_clients(server, client, |user| user == name);
    true
}

/// Disconnects every client authenticated as a user `doomed` names.
fn disconnect_users_clients(
    server: &Server,
    client: &mut ClientState,
    doomed: impl Fn(&[u8]) -> bool,
) {
    for handle in server.clients.all() {
        if !doomed(&handle.user.lock()) {
            continue;
        }
        if handle.id == client.handle.id {
            client.close_after_reply = true;
        } else {
            handle.kill();
        }
    }
}

/// Redis's `ACLKillPubsubClientsIfNeeded`: when a user's channel rules no
/// longer cover what they covered, its subscribers whose subscriptions are
/// not allowed any more are disconnected.
fn kill_subscribers_losing_channels(
    server: &Server,
    client: &mut ClientState,
    new: &User,
    original: &User,
) {
    let Some(upcoming) = new.allowed_channels() else {
        return;
    };
    let kept = original
        .allowed_channels()
        .is_some_and(|old| old.iter().all(|c| upcoming.contains(c)));
    if kept {
        return;
    }
    let upcoming: Vec<Vec<u8>> = upcoming.into_iter().map(<[u8]>::to_vec).collect();
    for handle in server.clients.all() {
        if handle.client_type() != "pubsub" || *handle.user.lock() != original.name {
            continue;
        }
        let revoked = server
            .pubsub
            .subscriptions_of(handle.id)
            .iter()
            .any(|(kind, name)| {
                let pattern = *kind == crate::pubsub::Kind::Pattern;
                !selector::channel_allowed(&upcoming, name, pattern)
            });
        if revoked {
            if handle.id == client.handle.id {
                client.close_after_reply = true;
            } else {
                handle.kill();
            }
        }
    }
}
