//! The values a key can hold: strings, lists, hashes, sets, sorted sets and
//! streams.

use crate::hash::HashValue;
use crate::list::ListValue;
use crate::set::SetValue;
use crate::stream::StreamValue;
use crate::zset::ZSetValue;

/// A stored value. Three words, like a string: hashes, sets and sorted sets
/// are two-word handles (their compact form is one buffer pointer and
/// length, their full form a box) held inline, so a small collection costs
/// one allocation, its buffer; a list is three words itself and is boxed,
/// and so is a stream (a tree and its metadata).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(StringValue),
    Hash(HashValue),
    Set(SetValue),
    List(Box<ListValue>),
    ZSet(ZSetValue),
    Stream(Box<StreamValue>),
}

/// The type a value reports to TYPE and SCAN TYPE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    String,
    Hash,
    Set,
    List,
    ZSet,
    Stream,
}

impl ValueType {
    pub fn name(self) -> &'static str {
        match self {
            ValueType::String => "string",
            ValueType::Hash => "hash",
            ValueType::Set => "set",
            ValueType::List => "list",
            ValueType::ZSet => "zset",
            ValueType::Stream => "stream",
        }
    }
}

/// Redis's string encodings, kept because memory and OBJECT ENCODING both
/// depend on them: integers stored as integers; strings set whole, in one
/// exact-size allocation (Redis calls them `embstr` up to 44 bytes and `raw`
/// beyond); and growable strings after APPEND, SETRANGE or SETBIT (`raw`).
#[derive(Debug, Clone, PartialEq)]
pub enum StringValue {
    Int(i64),
    Plain(Box<[u8]>),
    Raw(Box<Vec<u8>>),
}

/// Longest string Redis stores as `embstr`.
const EMBSTR_MAX_LEN: usize = 44;

/// Smallest and largest integer Redis shares (`OBJ_SHARED_INTEGERS`); OBJECT
/// REFCOUNT reports these as shared objects.
const SHARED_INTEGERS: std::ops::Range<i64> = 0..10_000;

impl StringValue {
    /// The encoding Redis would choose for a freshly set value.
    pub fn from_bytes(bytes: &[u8]) -> StringValue {
        if let Some(n) = parse_canonical_i64(bytes) {
            return StringValue::Int(n);
        }
        StringValue::Plain(bytes.into())
    }

    pub fn len(&self) -> usize {
        match self {
            StringValue::Int(n) => itoa::Buffer::new().format(*n).len(),
            StringValue::Plain(b) => b.len(),
            StringValue::Raw(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` with the value's bytes, formatting an integer on the stack.
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            StringValue::Int(n) => f(itoa::Buffer::new().format(*n).as_bytes()),
            StringValue::Plain(b) => f(b),
            StringValue::Raw(v) => f(v),
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.with_bytes(|b| b.to_vec())
    }

    /// The value as an integer if it is one in Redis's strict sense.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            StringValue::Int(n) => Some(*n),
            other => other.with_bytes(parse_canonical_i64),
        }
    }

    /// A growable buffer for in-place modification (APPEND, SETRANGE): the value
    /// becomes `raw`, as in Redis.
    pub fn make_raw(&mut self) -> &mut Vec<u8> {
        if !matches!(self, StringValue::Raw(_)) {
            *self = StringValue::Raw(Box::new(self.to_vec()));
        }
        match self {
            StringValue::Raw(v) => v,
            _ => unreachable!("converted to raw above"),
        }
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            StringValue::Int(_) => "int",
            StringValue::Plain(b) if b.len() <= EMBSTR_MAX_LEN => "embstr",
            StringValue::Plain(_) => "raw",
            StringValue::Raw(_) => "raw",
        }
    }

    pub fn refcount(&self) -> i64 {
        match self {
            StringValue::Int(n) if SHARED_INTEGERS.contains(n) => i32::MAX as i64,
            _ => 1,
        }
    }

    /// Heap bytes used beyond the value's inline size (for MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        match self {
            StringValue::Int(_) => 0,
            StringValue::Plain(b) => b.len(),
            StringValue::Raw(v) => std::mem::size_of::<Vec<u8>>() + v.capacity(),
        }
    }
}

impl Value {
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::String(_) => ValueType::String,
            Value::Hash(_) => ValueType::Hash,
            Value::Set(_) => ValueType::Set,
            Value::List(_) => ValueType::List,
            Value::ZSet(_) => ValueType::ZSet,
            Value::Stream(_) => ValueType::Stream,
        }
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            Value::String(s) => s.encoding_name(),
            Value::Hash(h) => h.encoding_name(),
            Value::Set(s) => s.encoding_name(),
            Value::List(l) => l.encoding_name(),
            Value::ZSet(z) => z.encoding_name(),
            Value::Stream(_) => "stream",
        }
    }

    pub fn as_string(&self) -> Option<&StringValue> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_string_mut(&mut self) -> Option<&mut StringValue> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_hash(&self) -> Option<&HashValue> {
        match self {
            Value::Hash(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_hash_mut(&mut self) -> Option<&mut HashValue> {
        match self {
            Value::Hash(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_set(&self) -> Option<&SetValue> {
        match self {
            Value::Set(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_set_mut(&mut self) -> Option<&mut SetValue> {
        match self {
            Value::Set(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&ListValue> {
        match self {
            Value::List(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_list_mut(&mut self) -> Option<&mut ListValue> {
        match self {
            Value::List(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_zset(&self) -> Option<&ZSetValue> {
        match self {
            Value::ZSet(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_zset_mut(&mut self) -> Option<&mut ZSetValue> {
        match self {
            Value::ZSet(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_stream(&self) -> Option<&StreamValue> {
        match self {
            Value::Stream(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_stream_mut(&mut self) -> Option<&mut StreamValue> {
        match self {
            Value::Stream(v) => Some(v),
            _ => None,
        }
    }

    /// OBJECT REFCOUNT: shared small integers report Redis's shared refcount.
    pub fn refcount(&self) -> i64 {
        match self {
            Value::String(s) => s.refcount(),
            Value::Hash(_) | Value::Set(_) | Value::List(_) | Value::ZSet(_) | Value::Stream(_) => {
                1
            }
        }
    }

    /// Heap bytes the value owns (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        match self {
            Value::String(s) => s.heap_size(),
            Value::Hash(h) => std::mem::size_of::<HashValue>() + h.heap_size(),
            Value::Set(s) => std::mem::size_of::<SetValue>() + s.heap_size(),
            Value::List(l) => std::mem::size_of::<ListValue>() + l.heap_size(),
            Value::ZSet(z) => std::mem::size_of::<ZSetValue>() + z.heap_size(),
            Value::Stream(s) => {
                std::mem::size_of::<StreamValue>() + s.heap_size() + s.groups().heap_size()
            }
        }
    }
}

/// A type a [`Value`] can hold, so command code can ask for "the list at this
/// key" generically and answer WRONGTYPE for any other type.
pub trait ValueKind {
    fn from_value(value: &Value) -> Option<&Self>;
    fn from_value_mut(value: &mut Value) -> Option<&mut Self>;
}

/// A collection type: created empty by the write that fills it, and deleted
/// when it becomes empty (Redis never keeps empty collections).
pub trait Collection: ValueKind + Default {
    fn is_empty(&self) -> bool;
    fn into_value(self) -> Value;
}

impl ValueKind for StringValue {
    fn from_value(value: &Value) -> Option<&Self> {
        value.as_string()
    }
    fn from_value_mut(value: &mut Value) -> Option<&mut Self> {
        value.as_string_mut()
    }
}

/// Streams are not a [`Collection`]: Redis keeps a stream whose entries
/// were all deleted or trimmed (its last ID and groups still matter).
impl ValueKind for StreamValue {
    fn from_value(value: &Value) -> Option<&Self> {
        value.as_stream()
    }
    fn from_value_mut(value: &mut Value) -> Option<&mut Self> {
        value.as_stream_mut()
    }
}

macro_rules! collection_kind {
    ($type:ty, $variant:ident, $get:ident, $get_mut:ident, $wrap:path) => {
        impl ValueKind for $type {
            fn from_value(value: &Value) -> Option<&Self> {
                value.$get()
            }
            fn from_value_mut(value: &mut Value) -> Option<&mut Self> {
                value.$get_mut()
            }
        }

        impl Collection for $type {
            fn is_empty(&self) -> bool {
                <$type>::is_empty(self)
            }
            fn into_value(self) -> Value {
                Value::$variant($wrap(self))
            }
        }
    };
}

collection_kind!(ListValue, List, as_list, as_list_mut, Box::new);
collection_kind!(
    HashValue,
    Hash,
    as_hash,
    as_hash_mut,
    std::convert::identity
);
collection_kind!(SetValue, Set, as_set, as_set_mut, std::convert::identity);
collection_kind!(
    ZSetValue,
    ZSet,
    as_zset,
    as_zset_mut,
    std::convert::identity
);

/// Parses an integer only when its text is exactly how Redis would print it
/// (so `"007"` or `"+1"` stay strings and round-trip unchanged).
pub fn parse_canonical_i64(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() || bytes.len() > 20 {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let n: i64 = text.parse().ok()?;
    (itoa::Buffer::new().format(n).as_bytes() == bytes).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_follow_redis() {
        assert_eq!(StringValue::from_bytes(b"12345").encoding_name(), "int");
        assert_eq!(StringValue::from_bytes(b"0123").encoding_name(), "embstr");
        assert_eq!(
            StringValue::from_bytes(&[b'a'; 44]).encoding_name(),
            "embstr"
        );
        assert_eq!(StringValue::from_bytes(&[b'a'; 45]).encoding_name(), "raw");
        let mut v = StringValue::from_bytes(b"12");
        v.make_raw().extend_from_slice(b"3");
        assert_eq!(v.to_vec(), b"123");
        assert_eq!(v.encoding_name(), "raw");
    }

    /// Every key's slot holds a `Value`: collections inline must not make
    /// it larger than a string.
    #[test]
    fn a_value_is_three_words() {
        let word = std::mem::size_of::<usize>();
        assert_eq!(std::mem::size_of::<HashValue>(), 2 * word);
        assert_eq!(std::mem::size_of::<SetValue>(), 2 * word);
        assert_eq!(std::mem::size_of::<ZSetValue>(), 2 * word);
        assert_eq!(std::mem::size_of::<Value>(), 3 * word);
    }
}
