//! DEBUG DIGEST and DEBUG DIGEST-VALUE: a SHA1-based fingerprint of the dataset
//! (or of single values), used to compare two servers' contents. Like Redis's,
//! it is order-independent across keys and 40 zeros for an empty dataset.

use ferrite_storage::stream::StreamId;
use ferrite_storage::{Entry, KeyspaceRead, Value};

const EMPTY: [u8; 20] = [0; 20];

fn hex(digest: &[u8; 20]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// XOR of the SHA1s of `parts`: the same whatever order they come in.
fn unordered_digest<'a>(parts: impl Iterator<Item = [&'a [u8]; 2]>) -> [u8; 20] {
    let mut acc = EMPTY;
    for [first, second] in parts {
        let mut element = sha1_smol::Sha1::new();
        element.update(&(first.len() as u64).to_le_bytes());
        element.update(first);
        element.update(second);
        acc.iter_mut()
            .zip(element.digest().bytes())
            .for_each(|(a, e)| *a ^= e);
    }
    acc
}

fn value_digest(value: &Value) -> [u8; 20] {
    let mut hasher = sha1_smol::Sha1::new();
    match value {
        Value::String(s) => {
            hasher.update(b"string");
            s.with_bytes(|bytes| hasher.update(bytes));
        }
        Value::Hash(hash) => {
            hasher.update(b"hash");
            hasher.update(&unordered_digest(hash.iter().map(|(f, v)| [f, v])));
        }
        Value::Set(set) => {
            hasher.update(b"set");
            let members: Vec<Vec<u8>> = set.iter().map(|m| m.to_vec()).collect();
            hasher.update(&unordered_digest(
                members.iter().map(|m| [m.as_slice(), &[][..]]),
            ));
        }
        Value::List(list) => {
            hasher.update(b"list");
            for item in list.iter() {
                hasher.update(&(item.len() as u64).to_le_bytes());
                hasher.update(item);
            }
        }
        Value::ZSet(z) => {
            hasher.update(b"zset");
            for (score, member) in z.iter() {
                hasher.update(member);
                hasher.update(ferrite_resp::format_double(score).as_bytes());
            }
        }
        Value::Stream(stream) => {
            hasher.update(b"stream");
            hasher.update(stream.last_id().to_string().as_bytes());
            for entry in stream.range(StreamId::MIN, StreamId::MAX, false) {
                hasher.update(entry.id.to_string().as_bytes());
                for item in entry.fields() {
                    hasher.update(&(item.len() as u64).to_le_bytes());
                    hasher.update(item);
                }
            }
        }
    }
    hasher.digest().bytes()
}

fn entry_digest(key: &[u8], entry: &Entry) -> [u8; 20] {
    let mut hasher = sha1_smol::Sha1::new();
    hasher.update(key);
    hasher.update(&value_digest(&entry.value));
    if let Some(at) = entry.expire_at_ms() {
        hasher.update(b"!!expire!!");
        hasher.update(&at.to_le_bytes());
    }
    hasher.digest().bytes()
}

pub fn dataset_digest(ks: &KeyspaceRead<'_>) -> String {
    let mut digest = EMPTY;
    let now = ks.now_ms();
    for db in 0..ks.database_count() {
        ks.for_each_shard(db, |shard| {
            for (key, _, entry) in shard.iter() {
                if entry.is_expired(now) {
                    continue;
                }
                let mut keyed = entry_digest(key, entry);
                keyed[0] ^= db as u8;
                digest.iter_mut().zip(keyed).for_each(|(d, k)| *d ^= k);
            }
        });
    }
    hex(&digest)
}

pub fn key_digest(ks: &KeyspaceRead<'_>, db: usize, key: &[u8]) -> String {
    let hashed = ks.key(key);
    let digest = ks
        .lock(db, &hashed)
        .peek(&hashed)
        .map(|e| value_digest(&e.value));
    hex(&digest.unwrap_or(EMPTY))
}
