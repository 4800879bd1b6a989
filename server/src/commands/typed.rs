//! Looking up the value at a key as one particular type, shared by every
//! command family: WRONGTYPE when the key holds another type, collections
//! created empty by the write that fills them and deleted once empty.

use bytes::Bytes;
use ferrite_storage::{Collection, Entry, KeyHash, ShardGuard, ValueKind};

use crate::command::CmdError;

/// The `T` at `key` (`None` if absent), WRONGTYPE if the key holds another
/// type. `touch` updates the key's access time (reads under CLIENT NO-TOUCH
/// and introspection pass false).
pub(crate) fn value_at<'g, T: ValueKind>(
    shard: &'g mut ShardGuard<'_>,
    key: &KeyHash,
    touch: bool,
) -> Result<Option<&'g mut T>, CmdError> {
    let entry = if touch {
        shard.get(key)
    } else {
        shard.peek(key)
    };
    match entry {
        None => Ok(None),
        Some(entry) => T::from_value_mut(&mut entry.value)
            .map(Some)
            .ok_or(CmdError::WrongType),
    }
}

/// The collection at `key`, created empty if missing; the caller must add to it.
pub(crate) fn collection_for_write<'g, T: Collection>(
    shard: &'g mut ShardGuard<'_>,
    key: &KeyHash,
) -> Result<&'g mut T, CmdError> {
    match shard.get(key) {
        Some(entry) if T::from_value(&entry.value).is_none() => return Err(CmdError::WrongType),
        Some(_) => {}
        None => {
            shard.insert(key, Entry::new(T::default().into_value()));
        }
    }
    shard
        .get(key)
        .and_then(|e| T::from_value_mut(&mut e.value))
        .ok_or(CmdError::WrongType)
}

/// Deletes `key` if its collection of type `T` has become empty; true if it
/// did (the caller then reports a `del` event, as Redis does).
pub(crate) fn remove_if_empty<T: Collection>(shard: &mut ShardGuard<'_>, key: &KeyHash) -> bool {
    let empty = shard
        .peek(key)
        .and_then(|e| T::from_value(&e.value))
        .is_some_and(T::is_empty);
    if empty {
        shard.remove(key);
    }
    empty
}

/// The keys `args` name, hashed, each with the index of its shard's guard,
/// and the guards of all their shards.
pub(crate) fn lock_keys<'k, 'a>(
    ctx: &crate::command::Ctx<'_>,
    ks: &'k ferrite_storage::KeyspaceRead<'_>,
    args: &'a [Bytes],
) -> (Vec<ShardGuard<'k>>, Vec<(KeyHash<'a>, usize)>) {
    let keys: Vec<(usize, KeyHash<'a>)> = args.iter().map(|k| (ctx.client.db, ks.key(k))).collect();
    let (guards, positions) = ks.lock_many(&keys);
    let keys = keys
        .into_iter()
        .map(|(_, key)| key)
        .zip(positions)
        .collect();
    (guards, keys)
}
