//! An ACL user: flags, password hashes and selectors (the first is the root
//! one), changed by rules as Redis's `ACLSetUser` changes them, and
//! described as ACL LIST shows them (`ACLDescribeUser`).

use bytes::Bytes;

use super::describe::describe_selector;
use super::selector::{Denied, RuleContext, Selector};
use super::sha256::hex_digest;
use super::RuleError;
use crate::command::CommandSpec;

/// User flags, in the order Redis describes them (`ACLUserFlags`).
pub const ON: u8 = 1;
pub const OFF: u8 = 2;
pub const NOPASS: u8 = 4;
pub const SKIP_SANITIZE_PAYLOAD: u8 = 8;
pub const SANITIZE_PAYLOAD: u8 = 16;
pub const FLAG_NAMES: &[(u8, &str)] = &[
    (ON, "on"),
    (OFF, "off"),
    (NOPASS, "nopass"),
    (SKIP_SANITIZE_PAYLOAD, "skip-sanitize-payload"),
    (SANITIZE_PAYLOAD, "sanitize-payload"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: Bytes,
    pub flags: u8,
    /// SHA-256 hex digests.
    pub passwords: Vec<String>,
    /// `selectors[0]` is the root selector.
    pub selectors: Vec<Selector>,
}

impl User {
    /// A new user: off, no passwords, no permissions (Redis's `ACLCreateUser`).
    pub fn new(ctx: &RuleContext<'_>, name: Bytes) -> User {
        User {
            name,
            flags: OFF,
            passwords: Vec::new(),
            selectors: vec![Selector::new(ctx)],
        }
    }

    /// The `default` user as Redis creates it: on, nopass, everything.
    pub fn new_default(ctx: &RuleContext<'_>) -> User {
        let mut user = User::new(ctx, Bytes::from_static(b"default"));
        for op in ["+@all", "~*", "&*", "on", "nopass"] {
            user.apply(ctx, op.as_bytes())
                .expect("the default user's rules are valid");
        }
        user
    }

    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    fn set_flag(&mut self, on: u8, off: u8) {
        self.flags = (self.flags | on) & !off;
    }

    /// Whether every command, key and channel is allowed: the request path
    /// then skips all checks.
    pub fn unrestricted(&self) -> bool {
        let root = &self.selectors[0];
        root.all_commands && root.all_keys && root.all_channels
    }

    /// Applies one rule (Redis's `ACLSetUser`).
    pub fn apply(&mut self, ctx: &RuleContext<'_>, op: &[u8]) -> Result<(), RuleError> {
        let is = |word: &str| op.eq_ignore_ascii_case(word.as_bytes());
        if op.is_empty() {
            return Ok(());
        }
        if is("on") {
            self.set_flag(ON, OFF);
        } else if is("off") {
            self.set_flag(OFF, ON);
        } else if is("skip-sanitize-payload") {
            self.set_flag(SKIP_SANITIZE_PAYLOAD, SANITIZE_PAYLOAD);
        } else if is("sanitize-payload") {
            self.set_flag(SANITIZE_PAYLOAD, SKIP_SANITIZE_PAYLOAD);
        } else if is("nopass") {
            self.set_flag(NOPASS, 0);
            self.passwords.clear();
        } else if is("resetpass") {
            self.set_flag(0, NOPASS);
            self.passwords.clear();
        } else if op[0] == b'>' || op[0] == b'#' {
            let hash = password_hash(op)?;
            if !self.passwords.contains(&hash) {
                self.passwords.push(hash);
            }
            self.set_flag(0, NOPASS);
        } else if op[0] == b'<' || op[0] == b'!' {
            let hash = password_hash(op)?;
            let at = self
                .passwords
                .iter()
                .position(|p| *p == hash)
                .ok_or(RuleError::NoSuchPassword)?;
            self.passwords.remove(at);
        } else if op[0] == b'(' && op[op.len() - 1] == b')' {
            let selector = Selector::from_op_set(ctx, op)?;
            self.selectors.push(selector);
        } else if is("clearselectors") {
            self.selectors.truncate(1);
        } else if is("reset") {
            let root = &mut self.selectors[0];
            root.apply(ctx, b"resetkeys")?;
            root.apply(ctx, b"resetchannels")?;
            if ctx.pubsub_default_all {
                root.apply(ctx, b"allchannels")?;
            }
            root.apply(ctx, b"-@all")?;
            self.passwords.clear();
            self.set_flag(OFF | SANITIZE_PAYLOAD, ON | NOPASS | SKIP_SANITIZE_PAYLOAD);
            self.selectors.truncate(1);
        } else {
            self.selectors[0].apply(ctx, op)?;
        }
        Ok(())
    }

    /// Applies `rules` in order, stopping at the first invalid one, whose
    /// error `explain` words.
    pub fn apply_all(
        &mut self,
        ctx: &RuleContext<'_>,
        rules: &[Vec<u8>],
        explain: impl Fn(&str, RuleError) -> String,
    ) -> Result<(), String> {
        for rule in rules {
            self.apply(ctx, rule)
                .map_err(|error| explain(&String::from_utf8_lossy(rule), error))?;
        }
        Ok(())
    }

    /// Whether `password` is one of the user's (any password with nopass).
    pub fn password_matches(&self, password: &[u8]) -> bool {
        if self.has(NOPASS) {
            return true;
        }
        let hash = hex_digest(password);
        self.passwords
            .iter()
            .any(|p| constant_time_eq(p.as_bytes(), hash.as_bytes()))
    }

    /// Redis's `ACLCheckAllUserCommandPerm`: allowed by one selector, or the
    /// most relevant refusal among them.
    pub fn check(
        &self,
        index: &super::commands::CommandIndex,
        id: usize,
        spec: &CommandSpec,
        args: &[Bytes],
    ) -> Result<(), Denied> {
        let mut keys = None;
        let mut relevant = Denied::Command;
        for selector in &self.selectors {
            match selector.check(index, id, spec, args, &mut keys) {
                Ok(()) => return Ok(()),
                Err(denied) => relevant = relevant.most_relevant(denied),
            }
        }
        Err(relevant)
    }

    /// Whether a selector lets the user publish to (or subscribe to)
    /// `channel` (Redis's `ACLUserCheckChannelPerm`).
    pub fn channel_allowed(&self, channel: &[u8], is_pattern: bool) -> bool {
        self.selectors.iter().any(|s| {
            s.all_channels || super::selector::channel_allowed(&s.channels, channel, is_pattern)
        })
    }

    /// Whether a selector lets the user access `key` with the access of
    /// `spec_flags` (Redis's `ACLUserCheckKeyPerm`).
    pub fn key_allowed(&self, key: &[u8], spec_flags: u16) -> bool {
        self.selectors
            .iter()
            .any(|s| s.key_allowed(key, spec_flags))
    }

    /// Flags, passwords and selectors as ACL LIST shows them, without the
    /// `user <name> ` prefix.
    pub fn describe(&self, index: &super::commands::CommandIndex) -> Vec<u8> {
        let mut out = Vec::new();
        for &(flag, name) in FLAG_NAMES {
            if self.has(flag) {
                out.extend_from_slice(name.as_bytes());
                out.push(b' ');
            }
        }
        for password in &self.passwords {
            out.push(b'#');
            out.extend_from_slice(password.as_bytes());
            out.push(b' ');
        }
        for (i, selector) in self.selectors.iter().enumerate() {
            let described = describe_selector(index, selector);
            if i == 0 {
                out.extend_from_slice(&described);
            } else {
                out.extend_from_slice(b" (");
                out.extend_from_slice(&described);
                out.push(b')');
            }
        }
        out
    }

    /// The channels and patterns every selector allows, for deciding which
    /// subscribers lose permission (`None`: some selector allows all).
    pub fn allowed_channels(&self) -> Option<Vec<&[u8]>> {
        let mut all = Vec::new();
        for selector in &self.selectors {
            if selector.all_channels {
                return None;
            }
            all.extend(selector.channels.iter().map(Vec::as_slice));
        }
        Some(all)
    }
}

/// The stored hash of a `>pass`, `<pass` (hashed) or `#hash`, `!hash`
/// (checked) rule.
fn password_hash(op: &[u8]) -> Result<String, RuleError> {
    let rest = &op[1..];
    if op[0] == b'>' || op[0] == b'<' {
        return Ok(hex_digest(rest));
    }
    let valid = rest.len() == 64 && rest.iter().all(|&c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
    if !valid {
        return Err(RuleError::BadHash);
    }
    Ok(String::from_utf8_lossy(rest).into_owned())
}

/// Compares without an early exit, as Redis's `time_independent_strcmp`.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// Joins selector rules split across arguments (`(+get`, `~key)`) into one
/// (Redis's `ACLMergeSelectorArguments`); `Err` holds the index of an
/// unclosed `(`.
pub fn merge_selector_args(args: &[Bytes]) -> Result<Vec<Vec<u8>>, usize> {
    let mut merged = Vec::with_capacity(args.len());
    let mut open: Option<(usize, Vec<u8>)> = None;
    for (i, op) in args.iter().enumerate() {
        if let Some((_, selector)) = open.as_mut() {
            selector.push(b' ');
            selector.extend_from_slice(op);
            if op.last() == Some(&b')') {
                merged.push(open.take().map(|(_, s)| s).unwrap_or_default());
            }
            continue;
        }
        if op.first() == Some(&b'(') && op.last() != Some(&b')') {
            open = Some((i, op.to_vec()));
            continue;
        }
        merged.push(op.to_vec());
    }
    match open {
        Some((at, _)) => Err(at),
        None => Ok(merged),
    }
}
