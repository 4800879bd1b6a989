//! An ACL selector: a set of commands, key patterns and channel patterns a
//! user may use together (Redis's `aclSelector`). Every user has a root
//! selector (the rules given outside parentheses) and may have more
//! (`(...)`, Redis 7.0); a command is allowed when one selector allows it.

use std::collections::BTreeMap;

use bytes::Bytes;
use ferrite_storage::glob_match;

use super::commands::{category_index, ChannelArgs, CommandBits, CommandIndex};
use super::RuleError;
use crate::command::CommandSpec;
use crate::commands::CommandTable;
use crate::key_spec::flags as key_flags;

/// Key pattern permissions (`%R~`, `%W~`, `~` = both).
pub const READ: u8 = 1;
pub const WRITE: u8 = 2;
pub const READ_WRITE: u8 = READ | WRITE;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPattern {
    pub pattern: Vec<u8>,
    pub permissions: u8,
}

impl KeyPattern {
    /// `~pat`, `%R~pat` or `%W~pat`, as Redis's `sdsCatPatternString`.
    pub fn describe(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(match self.permissions {
            READ => b"%R~",
            WRITE => b"%W~",
            _ => b"~",
        });
        out.extend_from_slice(&self.pattern);
    }
}

/// Why a command was refused, ordered as Redis ranks them when it picks
/// the error to report among selectors (`ACL_DENIED_CMD` < `KEY` <
/// `CHANNEL`); keys and channels carry the argument's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    Command,
    Key(usize),
    Channel(usize),
}

impl Denied {
    fn rank(self) -> (u8, usize) {
        match self {
            Denied::Command => (1, 0),
            Denied::Key(pos) => (2, pos),
            Denied::Channel(pos) => (4, pos),
        }
    }

    /// The more relevant of two refusals (the higher reason, then the later
    /// argument), as `ACLCheckAllUserCommandPerm` chooses.
    pub fn most_relevant(self, other: Denied) -> Denied {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }
}

/// The context rules are applied in: the command index and table, and
/// `acl-pubsub-default` (whether new selectors start with all channels).
pub struct RuleContext<'a> {
    pub index: &'a CommandIndex,
    pub table: &'a CommandTable,
    pub pubsub_default_all: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub all_keys: bool,
    pub all_channels: bool,
    pub all_commands: bool,
    pub allowed: CommandBits,
    /// Allowed first arguments of otherwise blocked commands, by id
    /// (`+select|0`; deprecated in Redis, still supported).
    pub first_args: BTreeMap<usize, Vec<Vec<u8>>>,
    pub patterns: Vec<KeyPattern>,
    pub channels: Vec<Vec<u8>>,
}

impl Selector {
    /// A selector that allows nothing (but all channels when
    /// `acl-pubsub-default` is `allchannels`).
    pub fn new(ctx: &RuleContext<'_>) -> Selector {
        Selector {
            all_keys: false,
            all_channels: ctx.pubsub_default_all,
            all_commands: false,
            allowed: CommandBits::empty(ctx.index.bit_count()),
            first_args: BTreeMap::new(),
            patterns: Vec::new(),
            channels: Vec::new(),
        }
    }

    /// A selector from `(op op ...)` (Redis's `aclCreateSelectorFromOpSet`).
    pub fn from_op_set(ctx: &RuleContext<'_>, op: &[u8]) -> Result<Selector, RuleError> {
        let inner = &op[1..op.len() - 1];
        let mut selector = Selector::new(ctx);
        for op in ferrite_resp::split_args(inner).unwrap_or_default() {
            selector.apply(ctx, &op)?;
        }
        Ok(selector)
    }

    /// Allows or blocks one command; a container's subcommands with it
    /// (Redis's `ACLChangeSelectorPerm`).
    pub fn change_command(&mut self, index: &CommandIndex, id: usize, allow: bool) {
        self.set_bit(id, allow);
        self.first_args.remove(&id);
        for &sub in index.subcommands(id) {
            self.set_bit(sub, allow);
        }
    }

    fn set_bit(&mut self, id: usize, allow: bool) {
        self.allowed.set(id, allow);
        if !allow {
            self.all_commands = false;
        }
    }

    /// Allows or blocks every command of a category (and, for a container
    /// in it, all its subcommands).
    pub fn change_category(&mut self, index: &CommandIndex, category: usize, allow: bool) {
        for id in index.ids() {
            if index.in_category(id, category) {
                self.change_command(index, id, allow);
            }
        }
    }

    pub fn set_all_commands(&mut self, index: &CommandIndex, allow: bool) {
        self.allowed = if allow {
            CommandBits::full(index.bit_count())
        } else {
            CommandBits::empty(index.bit_count())
        };
        self.all_commands = allow;
        self.first_args.clear();
    }

    /// Applies one selector rule (Redis's `ACLSetSelector`).
    pub fn apply(&mut self, ctx: &RuleContext<'_>, op: &[u8]) -> Result<(), RuleError> {
        let is = |word: &str| op.eq_ignore_ascii_case(word.as_bytes());
        let index = ctx.index;
        if op.is_empty() {
            return Err(RuleError::Syntax);
        }
        if is("allkeys") || is("~*") {
            self.all_keys = true;
            self.patterns.clear();
        } else if is("resetkeys") {
            self.all_keys = false;
            self.patterns.clear();
        } else if is("allchannels") || is("&*") {
            self.all_channels = true;
            self.channels.clear();
        } else if is("resetchannels") {
            self.all_channels = false;
            self.channels.clear();
        } else if is("allcommands") || is("+@all") {
            self.set_all_commands(index, true);
        } else if is("nocommands") || is("-@all") {
            self.set_all_commands(index, false);
        } else if op[0] == b'~' || op[0] == b'%' {
            self.add_key_pattern(op)?;
        } else if op[0] == b'&' {
            if self.all_channels {
                return Err(RuleError::ChannelAfterAll);
            }
            let pattern = &op[1..];
            if has_spaces(pattern) {
                return Err(RuleError::Syntax);
            }
            if !self.channels.iter().any(|c| c == pattern) {
                self.channels.push(pattern.to_vec());
            }
            self.all_channels = false;
        } else if op.len() >= 2 && (op[0] == b'+' || op[0] == b'-') && op[1] == b'@' {
            let category = category_index(&op[2..]).ok_or(RuleError::UnknownCommand)?;
            self.change_category(index, category, op[0] == b'+');
        } else if op[0] == b'+' {
            self.allow_command(ctx, &op[1..])?;
        } else if op[0] == b'-' {
            let id = index
                .lookup(ctx.table, &op[1..])
                .ok_or(RuleError::UnknownCommand)?;
            self.change_command(index, id, false);
        } else {
            return Err(RuleError::Syntax);
        }
        Ok(())
    }

    /// `+cmd`, `+container|sub`, or `+cmd|firstarg` (Redis's `+` branch).
    fn allow_command(&mut self, ctx: &RuleContext<'_>, name: &[u8]) -> Result<(), RuleError> {
        let index = ctx.index;
        let Some(split) = name.iter().rposition(|&b| b == b'|') else {
            let id = index
                .lookup(ctx.table, name)
                .ok_or(RuleError::UnknownCommand)?;
            self.change_command(index, id, true);
            return Ok(());
        };
        let (base, sub) = (&name[..split], &name[split + 1..]);
        let id = index
            .lookup(ctx.table, base)
            .ok_or(RuleError::UnknownCommand)?;
        if index.parent(id).is_some() {
            return Err(RuleError::FirstArgOfSubcommand);
        }
        if sub.is_empty() {
            return Err(RuleError::Syntax);
        }
        if index.is_container(id) {
            let sub_id = index
                .lookup(ctx.table, name)
                .ok_or(RuleError::UnknownCommand)?;
            self.change_command(index, sub_id, true);
        } else {
            tracing::warn!(
                "Deprecation warning: Allowing a first arg of an otherwise blocked command is a misuse of ACL and may get disabled in the future (offender: +{})",
                String::from_utf8_lossy(name)
            );
            let allowed = self.first_args.entry(id).or_default();
            if !allowed.iter().any(|a| a.eq_ignore_ascii_case(sub)) {
                allowed.push(sub.to_vec());
            }
        }
        Ok(())
    }

    /// `~pat`, `%R~pat`, `%W~pat`, `%RW~pat`.
    fn add_key_pattern(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if self.all_keys {
            return Err(RuleError::KeyAfterAll);
        }
        let mut permissions = 0;
        let mut offset = 1;
        if op[0] == b'%' {
            while offset < op.len() {
                let c = op[offset].to_ascii_uppercase();
                offset += 1;
                if c == b'R' && permissions & READ == 0 {
                    permissions |= READ;
                } else if c == b'W' && permissions & WRITE == 0 {
                    permissions |= WRITE;
                } else if c == b'~' {
                    break;
                } else {
                    return Err(RuleError::Syntax);
                }
            }
        } else {
            permissions = READ_WRITE;
        }
        let pattern = &op[offset.min(op.len())..];
        if has_spaces(pattern) {
            return Err(RuleError::Syntax);
        }
        match self.patterns.iter_mut().find(|p| p.pattern == pattern) {
            Some(existing) => existing.permissions |= permissions,
            None => self.patterns.push(KeyPattern {
                pattern: pattern.to_vec(),
                permissions,
            }),
        }
        self.all_keys = false;
        Ok(())
    }

    /// Whether this selector lets `args` run as command `id` (Redis's
    /// `ACLSelectorCheckCmd`); `keys` caches the command's keys between
    /// selectors.
    pub fn check(
        &self,
        index: &CommandIndex,
        id: usize,
        spec: &CommandSpec,
        args: &[Bytes],
        keys: &mut Option<Vec<crate::key_spec::KeyRef>>,
    ) -> Result<(), Denied> {
        if !self.all_commands && !index.no_auth(id) && !self.allowed.get(id) {
            let at = if index.parent(id).is_some() { 2 } else { 1 };
            let first = args.get(at).filter(|_| args.len() >= 2);
            let allowed = self
                .first_args
                .get(&id)
                .zip(first)
                .is_some_and(|(list, arg)| list.iter().any(|a| a.eq_ignore_ascii_case(arg)));
            if !allowed {
                return Err(Denied::Command);
            }
        }
        if !self.all_keys && spec.has_keys() {
            let keys = keys.get_or_insert_with(|| spec.find_keys(args));
            for key in keys.iter() {
                if !self.key_allowed(&args[key.pos], key.flags) {
                    return Err(Denied::Key(key.pos));
                }
            }
        }
        if !self.all_channels {
            if let Some(kind) = index.channels(id) {
                let end = if kind == ChannelArgs::Publish {
                    2.min(args.len())
                } else {
                    args.len()
                };
                for (pos, channel) in args.iter().enumerate().take(end).skip(1) {
                    let pattern = kind == ChannelArgs::PatternSubscribe;
                    if !channel_allowed(&self.channels, channel, pattern) {
                        return Err(Denied::Channel(pos));
                    }
                }
            }
        }
        Ok(())
    }

    /// Redis's `ACLSelectorCheckKey`: a pattern with every permission the
    /// key spec's access needs matches the key.
    pub fn key_allowed(&self, key: &[u8], spec_flags: u16) -> bool {
        if self.all_keys {
            return true;
        }
        let needed = needed_permissions(spec_flags);
        self.patterns
            .iter()
            .any(|p| p.permissions & needed == needed && glob_match(&p.pattern, key, false))
    }

    /// Redis's `ACLSelectorHasUnrestrictedKeyAccess`: a `*` pattern with
    /// the permissions `spec_flags` need.
    pub fn unrestricted_keys(&self, spec_flags: u16) -> bool {
        let needed = needed_permissions(spec_flags);
        self.all_keys
            || self
                .patterns
                .iter()
                .any(|p| p.permissions & needed == needed && p.pattern == b"*")
    }
}

/// The key pattern permissions a key spec's flags need.
fn needed_permissions(spec_flags: u16) -> u8 {
    let mut needed = 0;
    if spec_flags & key_flags::ACCESS != 0 {
        needed |= READ;
    }
    if spec_flags & (key_flags::INSERT | key_flags::DELETE | key_flags::UPDATE) != 0 {
        needed |= WRITE;
    }
    needed
}

/// Redis's `ACLCheckChannelAgainstList`: a channel matches the patterns as
/// a glob; a PSUBSCRIBE pattern only equals one literally.
pub fn channel_allowed(list: &[Vec<u8>], channel: &[u8], is_pattern: bool) -> bool {
    list.iter().any(|allowed| {
        if is_pattern {
            allowed == channel
        } else {
            glob_match(allowed, channel, false)
        }
    })
}

/// Redis's `ACLStringHasSpaces`: whitespace or NUL.
pub fn has_spaces(text: &[u8]) -> bool {
    text.iter()
        .any(|&b| b.is_ascii_whitespace() || b == 0 || b == 0x0b)
}
