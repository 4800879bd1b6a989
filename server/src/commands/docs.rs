//! COMMAND DOCS: a command's documentation as Redis 7.0 replies it
//! (`addReplyCommandDocs`), from Redis's own data in `docs_data.rs`.
//! Clients read it: redis-cli builds its help and argument hints from the
//! summary, since, group and arguments.

use ferrite_resp::ReplyWriter;

use super::docs_data::DOCS;
use crate::command::CommandSpec;

/// A command's documentation fields (Redis's `redisCommand` doc part).
#[derive(Debug)]
pub struct CommandDocs {
    pub summary: &'static str,
    pub since: &'static str,
    pub complexity: Option<&'static str>,
    pub doc_flags: &'static [&'static str],
    pub deprecated_since: Option<&'static str>,
    pub replaced_by: Option<&'static str>,
    pub history: &'static [(&'static str, &'static str)],
    pub arguments: &'static [Arg],
    /// COMMAND INFO's tips ("nondeterministic_output",
    /// "request_policy:all_shards", ...), kept with the docs as Redis's JSON
    /// keeps them.
    pub tips: &'static [&'static str],
}

impl CommandDocs {
    pub const fn new(summary: &'static str, since: &'static str) -> CommandDocs {
        CommandDocs {
            summary,
            since,
            complexity: None,
            doc_flags: &[],
            deprecated_since: None,
            replaced_by: None,
            history: &[],
            arguments: &[],
            tips: &[],
        }
    }

    pub const fn complexity(mut self, complexity: &'static str) -> Self {
        self.complexity = Some(complexity);
        self
    }

    pub const fn doc_flags(mut self, flags: &'static [&'static str]) -> Self {
        self.doc_flags = flags;
        self
    }

    pub const fn deprecated_since(mut self, version: &'static str) -> Self {
        self.deprecated_since = Some(version);
        self
    }

    pub const fn replaced_by(mut self, text: &'static str) -> Self {
        self.replaced_by = Some(text);
        self
    }

    pub const fn history(mut self, history: &'static [(&'static str, &'static str)]) -> Self {
        self.history = history;
        self
    }

    pub const fn args(mut self, arguments: &'static [Arg]) -> Self {
        self.arguments = arguments;
        self
    }

    pub const fn tips(mut self, tips: &'static [&'static str]) -> Self {
        self.tips = tips;
        self
    }
}

/// One argument (Redis's `redisCommandArg`, but for the summary no Redis 7.0
/// argument has); `oneof` and `block` ones nest.
#[derive(Debug)]
pub struct Arg {
    pub name: &'static str,
    /// "string", "integer", "double", "key", "pattern", "unix-time",
    /// "pure-token", "oneof" or "block".
    pub kind: &'static str,
    pub key_spec_index: Option<u32>,
    pub token: Option<&'static str>,
    pub since: Option<&'static str>,
    pub deprecated_since: Option<&'static str>,
    /// "optional", "multiple", "multiple_token".
    pub flags: &'static [&'static str],
    pub arguments: &'static [Arg],
}

impl Arg {
    pub const fn new(name: &'static str, kind: &'static str) -> Arg {
        Arg {
            name,
            kind,
            key_spec_index: None,
            token: None,
            since: None,
            deprecated_since: None,
            flags: &[],
            arguments: &[],
        }
    }

    pub const fn key_spec(mut self, index: u32) -> Self {
        self.key_spec_index = Some(index);
        self
    }

    pub const fn token(mut self, token: &'static str) -> Self {
        self.token = Some(token);
        self
    }

    pub const fn since(mut self, version: &'static str) -> Self {
        self.since = Some(version);
        self
    }

    pub const fn deprecated_since(mut self, version: &'static str) -> Self {
        self.deprecated_since = Some(version);
        self
    }

    pub const fn flags(mut self, flags: &'static [&'static str]) -> Self {
        self.flags = flags;
        self
    }

    pub const fn args(mut self, arguments: &'static [Arg]) -> Self {
        self.arguments = arguments;
        self
    }
}

/// Redis's documentation of a command by full name, if Redis 7.0 has it
/// (commands newer than 7.0 have only their spec's summary and group).
pub fn lookup(full_name: &str) -> Option<&'static CommandDocs> {
    DOCS.binary_search_by(|(name, _)| (*name).cmp(full_name))
        .ok()
        .map(|i| &DOCS[i].1)
}

/// One command's COMMAND DOCS map, fields in Redis's order, subcommands
/// nested.
pub fn write_docs(out: &mut ReplyWriter, spec: &CommandSpec, full_name: &str) {
    let docs = lookup(full_name);
    let has_subs = !spec.subcommands.is_empty();
    let len = docs.map_or(2, |d| {
        2 + 1
            + d.complexity.is_some() as usize
            + !d.doc_flags.is_empty() as usize
            + d.deprecated_since.is_some() as usize
            + d.replaced_by.is_some() as usize
            + !d.history.is_empty() as usize
            + !d.arguments.is_empty() as usize
    });
    out.map(len + has_subs as usize);
    out.bulk(b"summary");
    out.bulk(docs.map_or(spec.summary, |d| d.summary).as_bytes());
    if let Some(docs) = docs {
        out.bulk(b"since");
        out.bulk(docs.since.as_bytes());
    }
    out.bulk(b"group");
    out.bulk(spec.group.as_bytes());
    if let Some(docs) = docs {
        write_doc_fields(out, docs);
    }
    if has_subs {
        out.bulk(b"subcommands");
        out.map(spec.subcommands.len());
        for sub in spec.subcommands {
            let name = format!("{}|{}", spec.name, sub.name);
            out.bulk(name.as_bytes());
            write_docs(out, sub, &name);
        }
    }
}

/// The fields after `group`, each only when Redis has it.
fn write_doc_fields(out: &mut ReplyWriter, docs: &CommandDocs) {
    if let Some(complexity) = docs.complexity {
        out.bulk(b"complexity");
        out.bulk(complexity.as_bytes());
    }
    if !docs.doc_flags.is_empty() {
        out.bulk(b"doc_flags");
        write_status_set(out, docs.doc_flags);
    }
    if let Some(version) = docs.deprecated_since {
        out.bulk(b"deprecated_since");
        out.bulk(version.as_bytes());
    }
    if let Some(text) = docs.replaced_by {
        out.bulk(b"replaced_by");
        out.bulk(text.as_bytes());
    }
    if !docs.history.is_empty() {
        out.bulk(b"history");
        out.set(docs.history.len());
        for (version, change) in docs.history {
            out.array(2);
            out.bulk(version.as_bytes());
            out.bulk(change.as_bytes());
        }
    }
    if !docs.arguments.is_empty() {
        out.bulk(b"arguments");
        write_args(out, docs.arguments);
    }
}

fn write_args(out: &mut ReplyWriter, args: &[Arg]) {
    out.array(args.len());
    for arg in args {
        let nested = matches!(arg.kind, "oneof" | "block");
        let optional = [
            arg.key_spec_index.is_some(),
            arg.token.is_some(),
            arg.since.is_some(),
            arg.deprecated_since.is_some(),
            !arg.flags.is_empty(),
            nested,
        ];
        out.map(2 + optional.iter().filter(|present| **present).count());
        out.bulk(b"name");
        out.bulk(arg.name.as_bytes());
        out.bulk(b"type");
        out.bulk(arg.kind.as_bytes());
        if let Some(index) = arg.key_spec_index {
            out.bulk(b"key_spec_index");
            out.integer(index as i64);
        }
        let texts = [
            ("token", arg.token),
            ("since", arg.since),
            ("deprecated_since", arg.deprecated_since),
        ];
        for (field, value) in texts {
            if let Some(value) = value {
                out.bulk(field.as_bytes());
                out.bulk(value.as_bytes());
            }
        }
        if !arg.flags.is_empty() {
            out.bulk(b"flags");
            write_status_set(out, arg.flags);
        }
        if nested {
            out.bulk(b"arguments");
            write_args(out, arg.arguments);
        }
    }
}

fn write_status_set(out: &mut ReplyWriter, names: &[&str]) {
    out.set(names.len());
    for name in names {
        out.simple(name);
    }
}
