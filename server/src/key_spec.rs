//! Redis 7.0's key specs: where a command's keys are and how it uses each
//! one. Every command declares Redis's specs (from Redis's
//! `src/commands/*.json`) beside its `CommandSpec`; COMMAND INFO reports
//! them, COMMAND GETKEYS/GETKEYSANDFLAGS and every key lookup of the server
//! (WATCH touches, propagation, blocked clients) find keys with them, and the
//! legacy first/last/step and the `movablekeys` flag are derived from them as
//! Redis derives them (`populateCommandLegacyRangeSpec`).

use bytes::Bytes;

use crate::command::parse_i64;

/// Key-spec flags (Redis's `CMD_KEY_*`), a bit set.
pub mod flags {
    pub const RO: u16 = 1 << 0;
    pub const RW: u16 = 1 << 1;
    pub const OW: u16 = 1 << 2;
    pub const RM: u16 = 1 << 3;
    pub const ACCESS: u16 = 1 << 4;
    pub const UPDATE: u16 = 1 << 5;
    pub const INSERT: u16 = 1 << 6;
    pub const DELETE: u16 = 1 << 7;
    pub const NOT_KEY: u16 = 1 << 8;
    pub const INCOMPLETE: u16 = 1 << 9;
    pub const VARIABLE_FLAGS: u16 = 1 << 10;

    /// Names in the order Redis prints them (`addReplyFlagsForKeyArgs`).
    pub const NAMES: &[(u16, &str)] = &[
        (RO, "RO"),
        (RW, "RW"),
        (OW, "OW"),
        (RM, "RM"),
        (ACCESS, "access"),
        (UPDATE, "update"),
        (INSERT, "insert"),
        (DELETE, "delete"),
        (NOT_KEY, "not_key"),
        (INCOMPLETE, "incomplete"),
        (VARIABLE_FLAGS, "variable_flags"),
    ];
}

/// Where the search for a spec's keys begins.
#[derive(Debug, Clone, Copy)]
pub enum BeginSearch {
    /// At this argument index.
    Index(i32),
    /// After this keyword, searched from `startfrom` (negative: from the end,
    /// backwards): GEORADIUS's STORE, MIGRATE's KEYS.
    Keyword {
        keyword: &'static str,
        startfrom: i32,
    },
    /// Only the command's own key finder knows.
    Unknown,
}

/// How the keys are found once the search has begun.
#[derive(Debug, Clone, Copy)]
pub enum FindKeys {
    /// Keys from the first one to `lastkey` (relative to the first; negative:
    /// from the end), every `step`; with `limit`, a 1/limit share of the rest.
    Range { lastkey: i32, step: i32, limit: i32 },
    /// A count at `keynumidx` (relative to the first), then the keys from
    /// `firstkey` (relative too), every `step`.
    Keynum {
        keynumidx: i32,
        firstkey: i32,
        step: i32,
    },
    /// Only the command's own key finder knows.
    Unknown,
}

/// One key spec.
#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    pub flags: u16,
    pub begin: BeginSearch,
    pub find: FindKeys,
    pub notes: Option<&'static str>,
}

impl KeySpec {
    pub const fn new(flags: u16, begin: BeginSearch, find: FindKeys) -> KeySpec {
        KeySpec {
            flags,
            begin,
            find,
            notes: None,
        }
    }

    /// The common spec: keys from index `at` to `lastkey` every `step`.
    pub const fn range(at: i32, lastkey: i32, step: i32, flags: u16) -> KeySpec {
        KeySpec::new(
            flags,
            BeginSearch::Index(at),
            FindKeys::Range {
                lastkey,
                step,
                limit: 0,
            },
        )
    }

    pub const fn notes(mut self, notes: &'static str) -> KeySpec {
        self.notes = Some(notes);
        self
    }
}

/// A key argument found in a request: its index and its spec's flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRef {
    pub pos: usize,
    pub flags: u16,
}

/// Why the specs could not say where the keys are (Redis's `invalid_spec`):
/// the command's key finder, if any, decides.
#[derive(Debug)]
pub struct InvalidSpec;

/// Redis's `getKeysUsingKeySpecs`: the keys `specs` find in `args` (the
/// whole request, name first), NOT_KEY specs skipped.
pub fn keys_from_specs(specs: &[KeySpec], args: &[Bytes]) -> Result<Vec<KeyRef>, InvalidSpec> {
    let argc = args.len() as i64;
    let mut keys = Vec::new();
    for spec in specs {
        if spec.flags & flags::NOT_KEY != 0 {
            continue;
        }
        let first = match spec.begin {
            BeginSearch::Index(at) => at as i64,
            BeginSearch::Keyword { keyword, startfrom } => {
                match keyword_position(args, keyword, startfrom) {
                    Some(found) => found + 1,
                    None => continue,
                }
            }
            BeginSearch::Unknown => return Err(InvalidSpec),
        };
        let (first, last, step) = match spec.find {
            FindKeys::Range {
                lastkey,
                step,
                limit,
            } => {
                let last = if lastkey >= 0 {
                    first + lastkey as i64
                } else if limit == 0 {
                    argc + lastkey as i64
                } else {
                    first + ((argc - first) / limit as i64 + lastkey as i64)
                };
                (first, last, step as i64)
            }
            FindKeys::Keynum {
                keynumidx,
                firstkey,
                step,
            } => {
                let count = usize::try_from(first + keynumidx as i64)
                    .ok()
                    .and_then(|at| args.get(at))
                    .and_then(|n| parse_i64(n).ok())
                    .filter(|n| *n >= 0)
                    .ok_or(InvalidSpec)?;
                let first = first + firstkey as i64;
                (first, first + count - 1, step as i64)
            }
            FindKeys::Unknown => return Err(InvalidSpec),
        };
        if last >= argc || last < first || first >= argc {
            return Err(InvalidSpec);
        }
        let mut at = first;
        while at <= last {
            keys.push(KeyRef {
                pos: at as usize,
                flags: spec.flags,
            });
            at += step.max(1);
        }
        if spec.flags & flags::INCOMPLETE != 0 {
            return Err(InvalidSpec);
        }
    }
    Ok(keys)
}

/// Index of `keyword` (any case) searched from `startfrom` towards the end,
/// or from `argc + startfrom` backwards when it is negative; as in Redis, the
/// search stops before the last argument going forwards and before index 1
/// going backwards.
fn keyword_position(args: &[Bytes], keyword: &str, startfrom: i32) -> Option<i64> {
    let argc = args.len() as i64;
    let matches = |at: &i64| args[*at as usize].eq_ignore_ascii_case(keyword.as_bytes());
    if startfrom > 0 {
        (startfrom as i64..argc - 1).find(matches)
    } else {
        let start = argc + startfrom as i64;
        if start >= argc {
            return None;
        }
        (2..=start).rev().find(matches)
    }
}

/// Redis's legacy (first, last, step) for COMMAND INFO, and whether the
/// command has movable keys, derived from its specs as
/// `populateCommandLegacyRangeSpec` does.
pub fn legacy_range(specs: &[KeySpec]) -> ((i32, i32, i32), bool) {
    if let [spec] = specs {
        if let (BeginSearch::Index(at), FindKeys::Range { lastkey, step, .. }) =
            (spec.begin, spec.find)
        {
            let last = if lastkey >= 0 { at + lastkey } else { lastkey };
            return ((at, last, step), spec.flags & flags::INCOMPLETE != 0);
        }
    }
    let (mut first, mut last, mut prev_last) = (i32::MAX, 0i32, 0i32);
    let mut movable = false;
    for spec in specs {
        let (BeginSearch::Index(at), FindKeys::Range { lastkey, step, .. }) =
            (spec.begin, spec.find)
        else {
            movable = true;
            continue;
        };
        if step != 1 || (prev_last != 0 && prev_last != at - 1) {
            movable = true;
            continue;
        }
        movable |= spec.flags & flags::INCOMPLETE != 0;
        first = first.min(at);
        let absolute = if lastkey >= 0 { lastkey + at } else { lastkey };
        // Unsigned, as Redis compares: a negative (from the end) wins.
        last = (last as u32).max(absolute as u32) as i32;
        prev_last = last;
    }
    if first == i32::MAX {
        return ((0, 0, 0), movable);
    }
    ((first, last, 1), movable)
}

#[cfg(test)]
mod tests {
    use super::flags::*;
    use super::*;

    fn args(words: &str) -> Vec<Bytes> {
        words
            .split(' ')
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    #[test]
    fn keynum_and_keyword_specs_find_their_keys() {
        let zunionstore = [
            KeySpec::range(1, 0, 1, OW | UPDATE),
            KeySpec::new(
                RO | ACCESS,
                BeginSearch::Index(2),
                FindKeys::Keynum {
                    keynumidx: 0,
                    firstkey: 1,
                    step: 1,
                },
            ),
        ];
        let found =
            keys_from_specs(&zunionstore, &args("zunionstore d 2 a b weights 1 2")).unwrap();
        let positions: Vec<usize> = found.iter().map(|k| k.pos).collect();
        assert_eq!(positions, [1, 3, 4]);
        assert!(keys_from_specs(&zunionstore, &args("zunionstore d 0")).is_err());
        assert_eq!(legacy_range(&zunionstore), ((1, 1, 1), true));

        let xread = [KeySpec::new(
            RO | ACCESS,
            BeginSearch::Keyword {
                keyword: "STREAMS",
                startfrom: 1,
            },
            FindKeys::Range {
                lastkey: -1,
                step: 1,
                limit: 2,
            },
        )];
        let found = keys_from_specs(&xread, &args("xread count 1 streams a b 0 0")).unwrap();
        let positions: Vec<usize> = found.iter().map(|k| k.pos).collect();
        assert_eq!(positions, [4, 5]);
        assert_eq!(legacy_range(&xread), ((0, 0, 0), true));
    }

    #[test]
    fn a_single_range_is_the_legacy_range() {
        assert_eq!(
            legacy_range(&[KeySpec::range(1, -1, 2, OW | UPDATE)]),
            ((1, -1, 2), false)
        );
        let lmove = [KeySpec::range(1, 0, 1, RW), KeySpec::range(2, 0, 1, RW)];
        assert_eq!(legacy_range(&lmove), ((1, 2, 1), false));
    }
}
