//! COMMAND INFO's reply for one command, as Redis 7.0 writes it: flags in
//! Redis's order (hidden ones left out, `movablekeys` derived from the key
//! specs), the legacy key range, ACL categories, tips (Redis's, from
//! `docs_data.rs`) and key specs.

use ferrite_resp::ReplyWriter;

use super::docs;
use crate::command::CommandSpec;
use crate::key_spec::{flags, legacy_range, BeginSearch, FindKeys, KeySpec};

/// Command flags in the order Redis prints them (`addReplyFlagsForCommand`);
/// `may_replicate`, `sentinel`, `only_sentinel` and `protected` are hidden
/// by Redis and left out here too.
const FLAG_ORDER: &[&str] = &[
    "write",
    "readonly",
    "denyoom",
    "module",
    "admin",
    "pubsub",
    "noscript",
    "blocking",
    "loading",
    "stale",
    "skip_monitor",
    "skip_slowlog",
    "asking",
    "fast",
    "no_auth",
    "no_mandatory_keys",
    "no_async_loading",
    "no_multi",
    "movablekeys",
    "allow_busy",
];

/// One command's COMMAND INFO entry (its subcommands nested).
pub fn write_command_info(out: &mut ReplyWriter, spec: &CommandSpec, full_name: &str) {
    let ((first, last, step), movable) = legacy_range(spec.key_specs);
    out.array(10);
    out.bulk(full_name.as_bytes());
    out.integer(spec.arity as i64);
    let shown: Vec<&str> = FLAG_ORDER
        .iter()
        .copied()
        .filter(|flag| spec.has_flag(flag) || (*flag == "movablekeys" && movable))
        .collect();
    out.set(shown.len());
    for flag in shown {
        out.simple(flag);
    }
    out.integer(first as i64);
    out.integer(last as i64);
    out.integer(step as i64);
    let categories = spec.acl_categories();
    out.set(categories.len());
    for category in categories {
        out.simple(category);
    }
    let tips = docs::lookup(full_name).map_or(&[][..], |d| d.tips);
    out.set(tips.len());
    for tip in tips {
        out.bulk(tip.as_bytes());
    }
    write_key_specs(out, spec);
    out.array(spec.subcommands.len());
    for sub in spec.subcommands {
        let name = format!("{}|{}", spec.name, sub.name);
        write_command_info(out, sub, &name);
    }
}

fn write_key_specs(out: &mut ReplyWriter, spec: &CommandSpec) {
    out.set(spec.key_specs.len());
    for key_spec in spec.key_specs {
        write_key_spec(out, key_spec);
    }
}

fn write_key_spec(out: &mut ReplyWriter, spec: &KeySpec) {
    out.map(3 + spec.notes.is_some() as usize);
    if let Some(notes) = spec.notes {
        out.bulk(b"notes");
        out.bulk(notes.as_bytes());
    }
    out.bulk(b"flags");
    write_key_flags(out, spec.flags);
    out.bulk(b"begin_search");
    match spec.begin {
        BeginSearch::Index(index) => write_typed(out, "index", None, &[("index", index)]),
        BeginSearch::Keyword { keyword, startfrom } => write_typed(
            out,
            "keyword",
            Some(("keyword", keyword)),
            &[("startfrom", startfrom)],
        ),
        BeginSearch::Unknown => write_typed(out, "unknown", None, &[]),
    }
    out.bulk(b"find_keys");
    match spec.find {
        FindKeys::Range {
            lastkey,
            step,
            limit,
        } => write_typed(
            out,
            "range",
            None,
            &[("lastkey", lastkey), ("keystep", step), ("limit", limit)],
        ),
        FindKeys::Keynum {
            keynumidx,
            firstkey,
            step,
        } => write_typed(
            out,
            "keynum",
            None,
            &[
                ("keynumidx", keynumidx),
                ("firstkey", firstkey),
                ("keystep", step),
            ],
        ),
        FindKeys::Unknown => write_typed(out, "unknown", None, &[]),
    }
}

/// `{type: kind, spec: {text field, integer fields...}}`, one part of a key
/// spec.
fn write_typed(
    out: &mut ReplyWriter,
    kind: &str,
    text: Option<(&str, &str)>,
    integers: &[(&str, i32)],
) {
    out.map(2);
    out.bulk(b"type");
    out.bulk(kind.as_bytes());
    out.bulk(b"spec");
    out.map(text.is_some() as usize + integers.len());
    if let Some((name, value)) = text {
        out.bulk(name.as_bytes());
        out.bulk(value.as_bytes());
    }
    for (name, value) in integers {
        out.bulk(name.as_bytes());
        out.integer(*value as i64);
    }
}

/// Key-spec flags as a set of names (COMMAND INFO, GETKEYSANDFLAGS).
pub fn write_key_flags(out: &mut ReplyWriter, bits: u16) {
    let names: Vec<&str> = flags::NAMES
        .iter()
        .filter(|(bit, _)| bits & bit != 0)
        .map(|(_, name)| *name)
        .collect();
    out.set(names.len());
    for name in names {
        out.simple(name);
    }
}
