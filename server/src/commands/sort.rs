//! SORT and SORT_RO: sort the elements of a list, set or sorted set
//! numerically or lexicographically, optionally by (and fetching) the values of
//! other keys or hash fields named by a pattern, with LIMIT and STORE.
//!
//! Keys named by BY/GET patterns are read one shard lock at a time, so unlike
//! Redis the lookups are not atomic with respect to concurrent writers.

use std::cmp::Ordering;

use bytes::Bytes;
use ferrite_storage::{Entry, KeyspaceRead, ListValue, Value};

use crate::command::{is, parse_i64, CmdError, CmdResult, CommandSpec, Ctx};
use crate::key_spec::{flags::*, BeginSearch, FindKeys, KeyRef, KeySpec};
use crate::notify::class;

/// SORT's keys: the sorted key and the last STORE's destination (Redis's
/// `sortGetKeys`: arguments of LIMIT, GET and BY are skipped, so a pattern
/// named "store" is not taken for the option).
fn sort_keys(args: &[Bytes]) -> Vec<KeyRef> {
    let mut store = None;
    let mut i = 2;
    while i < args.len() {
        if is(&args[i], "limit") {
            i += 2;
        } else if is(&args[i], "get") || is(&args[i], "by") {
            i += 1;
        } else if is(&args[i], "store") && i + 1 < args.len() {
            store = Some(i + 1);
        }
        i += 1;
    }
    let store = store.map(|pos| KeyRef {
        pos,
        flags: OW | UPDATE,
    });
    std::iter::once(SORTED_KEY).chain(store).collect()
}

/// SORT_RO's keys (Redis's `sortROGetKeys`): the sorted key only.
fn sort_ro_keys(_args: &[Bytes]) -> Vec<KeyRef> {
    vec![SORTED_KEY]
}

/// The key SORT and SORT_RO sort.
const SORTED_KEY: KeyRef = KeyRef {
    pos: 1,
    flags: RO | ACCESS,
};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sort", -2, sort).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS), KeySpec::new(RO | ACCESS, BeginSearch::Unknown, FindKeys::Unknown).notes("For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort"), KeySpec::new(OW | UPDATE, BeginSearch::Unknown, FindKeys::Unknown).notes("For the optional STORE keyword. It is marked 'unknown' because the keyword can appear anywhere in the argument array")])
        .flags(&["write", "denyoom"])
        .key_finder(sort_keys)
        .acl(&[
            "@write",
            "@set",
            "@sortedset",
            "@list",
            "@slow",
            "@dangerous",
        ])
        .doc(
            "generic",
            "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.",
        ),
    CommandSpec::new("sort_ro", -2, sort_ro).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS), KeySpec::new(RO | ACCESS, BeginSearch::Unknown, FindKeys::Unknown).notes("For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort")])
        .flags(&["readonly"])
        .key_finder(sort_ro_keys)
        .acl(&[
            "@read",
            "@set",
            "@sortedset",
            "@list",
            "@slow",
            "@dangerous",
        ])
        .doc(
            "generic",
            "Returns the sorted elements of a list, a set, or a sorted set.",
        ),
];

/// The options of one SORT call.
#[derive(Default)]
struct SortOptions {
    by: Option<Bytes>,
    gets: Vec<Bytes>,
    limit: Option<(i64, i64)>,
    desc: bool,
    alpha: bool,
    store: Option<Bytes>,
}

/// `full_key_access`: the user may read any key, which BY with a pattern
/// and GET need (Redis's `ACLUserCheckCmdWithUnrestrictedKeyAccess`).
fn parse_options(
    args: &[Bytes],
    read_only: bool,
    full_key_access: bool,
) -> Result<SortOptions, CmdError> {
    let mut options = SortOptions::default();
    let mut i = 2;
    while i < args.len() {
        let remaining = args.len() - i - 1;
        let arg = &args[i];
        if is(arg, "asc") {
            options.desc = false;
        } else if is(arg, "desc") {
            options.desc = true;
        } else if is(arg, "alpha") {
            options.alpha = true;
        } else if is(arg, "limit") && remaining >= 2 {
            options.limit = Some((parse_i64(&args[i + 1])?, parse_i64(&args[i + 2])?));
            i += 2;
        } else if is(arg, "store") && remaining >= 1 && !read_only {
            options.store = Some(args[i + 1].clone());
            i += 1;
        } else if is(arg, "by") && remaining >= 1 {
            if args[i + 1].contains(&b'*') && !full_key_access {
                return Err(CmdError::msg(
                    "ERR BY option of SORT denied due to insufficient ACL permissions.",
                ));
            }
            options.by = Some(args[i + 1].clone());
            i += 1;
        } else if is(arg, "get") && remaining >= 1 {
            if !full_key_access {
                return Err(CmdError::msg(
                    "ERR GET option of SORT denied due to insufficient ACL permissions.",
                ));
            }
            options.gets.push(args[i + 1].clone());
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    Ok(options)
}

/// The value a BY/GET pattern names for `element`: `#` is the element itself;
/// the first `*` is replaced by the element; `key->field` reads a hash field.
/// A pattern without `*` names nothing.
fn lookup(ks: &KeyspaceRead<'_>, db: usize, pattern: &[u8], element: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(element.to_vec());
    }
    let star = pattern.iter().position(|&b| b == b'*')?;
    let after = &pattern[star + 1..];
    let (suffix, field) = match after.windows(2).position(|w| w == b"->") {
        Some(arrow) if arrow + 2 < after.len() => (&after[..arrow], Some(&after[arrow + 2..])),
        _ => (after, None),
    };
    let name = [&pattern[..star], element, suffix].concat();
    let key = ks.key(&name);
    let mut shard = ks.lock(db, &key);
    let entry = shard.get(&key)?;
    match field {
        Some(field) => entry.value.as_hash()?.get(field).map(<[u8]>::to_vec),
        None => entry.value.as_string().map(|s| s.to_vec()),
    }
}

/// What kind of collection is being sorted (it decides what "no sort" means).
#[derive(PartialEq, Eq)]
enum Source {
    Missing,
    List,
    Set,
    SortedSet,
}

/// The elements to sort, in their natural order (list order, set order,
/// sorted-set rank order).
fn source_elements(
    ks: &KeyspaceRead<'_>,
    db: usize,
    key: &[u8],
) -> Result<(Vec<Vec<u8>>, Source), CmdError> {
    let hashed = ks.key(key);
    let mut shard = ks.lock(db, &hashed);
    let Some(entry) = shard.get(&hashed) else {
        return Ok((Vec::new(), Source::Missing));
    };
    Ok(match &entry.value {
        Value::List(list) => (list.iter().map(<[u8]>::to_vec).collect(), Source::List),
        Value::Set(set) => (
            set.iter().map(|m| m.with_bytes(<[u8]>::to_vec)).collect(),
            Source::Set,
        ),
        Value::ZSet(zset) => (
            zset.iter().map(|(_, m)| m.to_vec()).collect(),
            Source::SortedSet,
        ),
        _ => return Err(CmdError::WrongType),
    })
}

fn sort(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    sort_generic(ctx, args, false)
}

fn sort_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    sort_generic(ctx, args, true)
}

fn sort_generic(ctx: &mut Ctx<'_>, args: &[Bytes], read_only: bool) -> CmdResult {
    let full_key_access = crate::acl::full_key_access(ctx, args, crate::key_spec::flags::ACCESS);
    let options = parse_options(args, read_only, full_key_access)?;
    let db = ctx.client.db;
    let ks = ctx.keyspace();
    let (mut elements, source) = source_elements(&ks, db, &args[1])?;
    let is_set = source == Source::Set;
    // BY with a pattern without `*` means "do not sort"; a set is still
    // sorted (ALPHA) when stored or sorted for a script, so the result is
    // deterministic, as in Redis.
    let dont_sort = options.by.as_ref().is_some_and(|by| !by.contains(&b'*'));
    let forced = dont_sort && is_set && (options.store.is_some() || ctx.client.in_script);
    let alpha = options.alpha || forced;
    if !dont_sort || forced {
        let by = if dont_sort {
            None
        } else {
            options.by.as_deref()
        };
        let mut keyed = Vec::with_capacity(elements.len());
        for element in elements {
            let sort_value = match by {
                Some(pattern) => lookup(&ks, db, pattern, &element),
                None => Some(element.clone()),
            };
            let score = if alpha {
                0.0
            } else {
                match &sort_value {
                    None => 0.0,
                    Some(text) => parse_score(text).ok_or_else(|| {
                        CmdError::msg("ERR One or more scores can't be converted into double")
                    })?,
                }
            };
            keyed.push((element, sort_value, score));
        }
        keyed.sort_by(|a, b| {
            let order = if alpha {
                match (&a.1, &b.1) {
                    (Some(x), Some(y)) => x.cmp(y),
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                    (None, None) => Ordering::Equal,
                }
            } else {
                a.2.partial_cmp(&b.2)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| a.0.cmp(&b.0))
            };
            if options.desc {
                order.reverse()
            } else {
                order
            }
        });
        elements = keyed.into_iter().map(|(element, _, _)| element).collect();
    } else if source == Source::SortedSet && options.desc {
        // Unsorted DESC on a sorted set walks it from the highest score, as Redis does.
        elements.reverse();
    }
    let (start, end) = limit_range(options.limit, elements.len());
    let selected = if start <= end && start < elements.len() {
        &elements[start..=end]
    } else {
        &[][..]
    };
    let mut output: Vec<Option<Vec<u8>>> = Vec::new();
    for element in selected {
        if options.gets.is_empty() {
            output.push(Some(element.clone()));
        }
        for pattern in &options.gets {
            output.push(lookup(&ks, db, pattern, element));
        }
    }
    if let Some(destination) = &options.store {
        let limits = ctx.server.keyspace.encoding_limits.get();
        let key = ks.key(destination);
        let mut shard = ks.lock(db, &key);
        if output.is_empty() {
            if shard.remove(&key).is_some() {
                ctx.notify(class::GENERIC, "del", key.bytes);
            }
        } else {
            let items: Vec<Vec<u8>> = output
                .iter()
                .map(|v| v.clone().unwrap_or_default())
                .collect();
            let list = ListValue::from_items(items.iter().map(Vec::as_slice), &limits);
            shard.insert(&key, Entry::new(Value::List(Box::new(list))));
            ctx.notify(class::LIST, "sortstore", key.bytes);
        }
        drop(shard);
        drop(ks);
        ctx.server
            .blocking
            .serve_keys(ctx.server, db, &[destination.as_ref()]);
        ctx.out.integer(output.len() as i64);
        return Ok(());
    }
    drop(ks);
    ctx.out.array(output.len());
    for value in &output {
        match value {
            Some(value) => ctx.out.bulk(value),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// A score as Redis's `strtod` check accepts it: the whole text, not NaN.
fn parse_score(text: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(text).ok()?;
    let value: f64 = text.parse().ok()?;
    (!value.is_nan()).then_some(value)
}

/// LIMIT offset count as Redis clamps it: an inclusive range of indexes.
fn limit_range(limit: Option<(i64, i64)>, len: usize) -> (usize, usize) {
    let len = len as i64;
    let (offset, count) = limit.unwrap_or((0, -1));
    let mut start = offset.max(0);
    let mut end = if count < 0 {
        len - 1
    } else {
        start.saturating_add(count) - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }
    if start < 0 || end < start {
        return (1, 0);
    }
    (start as usize, end as usize)
}

#[cfg(test)]
mod tests {
    use super::limit_range;

    #[test]
    fn limits_clamp_like_redis() {
        assert_eq!(limit_range(None, 5), (0, 4));
        assert_eq!(limit_range(Some((1, 2)), 5), (1, 2));
        assert_eq!(limit_range(Some((-3, 2)), 5), (0, 1));
        let (start, end) = limit_range(Some((10, 2)), 5);
        assert!(start > end);
        let (start, end) = limit_range(Some((0, 0)), 5);
        assert!(start > end);
    }
}
