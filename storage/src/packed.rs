//! `PackedSeq`: byte strings back to back in one buffer, Redis's listpack
//! idea. Each entry is `varint(len) bytes reversed-varint(len)`, so the
//! buffer can be walked from either end; the overhead is two bytes per entry
//! for entries under 128 bytes. Small lists keep their elements in one, small
//! hashes their fields and values (alternating). The buffer is reallocated to
//! exactly what each write needs (as Redis reallocates its listpacks), so a
//! small collection does not carry a doubled capacity.

/// Writes `n` as LEB128 into `buf`, returning how many bytes it took.
fn varint(mut n: usize, buf: &mut [u8; 10]) -> usize {
    let mut i = 0;
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            buf[i] = byte;
            return i + 1;
        }
        buf[i] = byte | 0x80;
        i += 1;
    }
}

fn packed_entry_size(len: usize) -> usize {
    let mut buf = [0; 10];
    2 * varint(len, &mut buf) + len
}

fn write_entry(out: &mut Vec<u8>, value: &[u8]) {
    let mut header = [0; 10];
    let n = varint(value.len(), &mut header);
    out.extend_from_slice(&header[..n]);
    out.extend_from_slice(value);
    out.extend(header[..n].iter().rev());
}

fn encode_entry(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(packed_entry_size(value.len()));
    write_entry(&mut out, value);
    out
}

/// The entry starting at `offset`: (data start, data end, next entry offset).
fn entry_forward(bytes: &[u8], offset: usize) -> (usize, usize, usize) {
    let (mut len, mut shift, mut pos) = (0usize, 0, offset);
    loop {
        let byte = bytes[pos];
        pos += 1;
        len |= ((byte & 0x7f) as usize) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            break;
        }
    }
    let header = pos - offset;
    (pos, pos + len, pos + len + header)
}

/// The entry ending at `end`: (entry start, data start, data end).
fn entry_backward(bytes: &[u8], end: usize) -> (usize, usize, usize) {
    let (mut len, mut shift, mut pos) = (0usize, 0, end);
    loop {
        pos -= 1;
        let byte = bytes[pos];
        len |= ((byte & 0x7f) as usize) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            break;
        }
    }
    let header = end - pos;
    let data_end = pos;
    let data_start = data_end - len;
    (data_start - header, data_start, data_end)
}

/// Byte offset of entry `index` in a packed buffer (`bytes.len()` for one past the end).
fn packed_offset(bytes: &[u8], len: usize, index: usize) -> usize {
    if index >= len {
        return bytes.len();
    }
    if index <= len / 2 {
        let mut offset = 0;
        for _ in 0..index {
            offset = entry_forward(bytes, offset).2;
        }
        offset
    } else {
        let mut end = bytes.len();
        for _ in index..len {
            end = entry_backward(bytes, end).0;
        }
        end
    }
}

/// Entries packed in one buffer (see the module doc), followed by the entry
/// count as a little-endian `u32`; an empty sequence owns no allocation. The
/// buffer is a boxed slice of exactly the bytes in use: the type is two words,
/// so the collection types holding it stay small.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PackedSeq {
    buf: Box<[u8]>,
}

const COUNT_BYTES: usize = 4;

impl PackedSeq {
    pub(crate) fn len(&self) -> usize {
        match self.buf.len().checked_sub(COUNT_BYTES) {
            Some(at) => {
                let count: [u8; COUNT_BYTES] = self.buf[at..].try_into().unwrap_or_default();
                u32::from_le_bytes(count) as usize
            }
            None => 0,
        }
    }

    /// The entries, without the count.
    fn bytes(&self) -> &[u8] {
        &self.buf[..self.buf.len().saturating_sub(COUNT_BYTES)]
    }

    /// Bytes the entries take (what encoding limits compare).
    pub(crate) fn byte_len(&self) -> usize {
        self.bytes().len()
    }

    pub(crate) fn heap_size(&self) -> usize {
        self.buf.len()
    }

    /// Runs `change` on the entries and the count, then stores them back in
    /// an exact-size buffer.
    fn edit<R>(&mut self, change: impl FnOnce(&mut Vec<u8>, &mut usize) -> R) -> R {
        let mut count = self.len();
        let mut bytes = std::mem::take(&mut self.buf).into_vec();
        bytes.truncate(bytes.len().saturating_sub(COUNT_BYTES));
        let result = change(&mut bytes, &mut count);
        if count > 0 {
            bytes.reserve_exact(COUNT_BYTES);
            bytes.extend_from_slice(&(count as u32).to_le_bytes());
            self.buf = bytes.into_boxed_slice();
        }
        result
    }

    fn offset(&self, index: usize) -> usize {
        packed_offset(self.bytes(), self.len(), index)
    }

    pub(crate) fn get(&self, index: usize) -> Option<&[u8]> {
        if index >= self.len() {
            return None;
        }
        let bytes = self.bytes();
        let (start, stop, _) = entry_forward(bytes, self.offset(index));
        Some(&bytes[start..stop])
    }

    pub(crate) fn push_back(&mut self, value: &[u8]) {
        self.edit(|bytes, count| {
            bytes.reserve_exact(packed_entry_size(value.len()) + COUNT_BYTES);
            write_entry(bytes, value);
            *count += 1;
        });
    }

    /// Inserts `value` so that it ends up at `index` (0..=len).
    pub(crate) fn insert(&mut self, index: usize, value: &[u8]) {
        self.insert_many(index, &[value]);
    }

    /// Inserts `values`, in order, so that the first ends up at `index`.
    pub(crate) fn insert_many(&mut self, index: usize, values: &[&[u8]]) {
        let offset = self.offset(index);
        let mut entries = Vec::new();
        for value in values {
            write_entry(&mut entries, value);
        }
        self.edit(|bytes, count| {
            bytes.reserve_exact(entries.len() + COUNT_BYTES);
            bytes.splice(offset..offset, entries);
            *count += values.len();
        });
    }

    pub(crate) fn pop_front(&mut self) -> Option<Vec<u8>> {
        if self.len() == 0 {
            return None;
        }
        let (start, stop, next) = entry_forward(self.bytes(), 0);
        let value = self.bytes()[start..stop].to_vec();
        self.edit(|bytes, count| {
            bytes.drain(..next);
            *count -= 1;
        });
        Some(value)
    }

    pub(crate) fn pop_back(&mut self) -> Option<Vec<u8>> {
        if self.len() == 0 {
            return None;
        }
        let (entry, start, stop) = entry_backward(self.bytes(), self.byte_len());
        let value = self.bytes()[start..stop].to_vec();
        self.edit(|bytes, count| {
            bytes.truncate(entry);
            *count -= 1;
        });
        Some(value)
    }

    /// Replaces the entry at `index`; false if out of range.
    pub(crate) fn set(&mut self, index: usize, value: &[u8]) -> bool {
        if index >= self.len() {
            return false;
        }
        let offset = self.offset(index);
        let next = entry_forward(self.bytes(), offset).2;
        let entry = encode_entry(value);
        self.edit(|bytes, _| {
            bytes.reserve_exact((entry.len() + COUNT_BYTES).saturating_sub(next - offset));
            bytes.splice(offset..next, entry);
        });
        true
    }

    /// Keeps only the entries in `start..end` (clamped).
    pub(crate) fn retain_range(&mut self, start: usize, end: usize) {
        let end = end.min(self.len());
        let start = start.min(end);
        let from = self.offset(start);
        let to = self.offset(end);
        self.edit(|bytes, count| {
            bytes.truncate(to);
            bytes.drain(..from);
            *count = end - start;
        });
    }

    /// Removes the entries in `start..end` (clamped).
    pub(crate) fn remove_range(&mut self, start: usize, end: usize) {
        let end = end.min(self.len());
        let start = start.min(end);
        let from = self.offset(start);
        let to = self.offset(end);
        self.edit(|bytes, count| {
            bytes.drain(from..to);
            *count -= end - start;
        });
    }

    /// Removes the entries at the given indexes (ascending, in range).
    pub(crate) fn remove_indexes(&mut self, indexes: &[usize]) {
        if indexes.is_empty() {
            return;
        }
        let old = self.bytes();
        let mut kept = Vec::with_capacity(old.len() + COUNT_BYTES);
        let mut offset = 0;
        let mut doomed = indexes.iter().peekable();
        for i in 0..self.len() {
            let next = entry_forward(old, offset).2;
            if doomed.peek() == Some(&&i) {
                doomed.next();
            } else {
                kept.extend_from_slice(&old[offset..next]);
            }
            offset = next;
        }
        let remaining = self.len() - indexes.len();
        self.edit(|bytes, count| {
            *bytes = kept;
            *count = remaining;
        });
    }

    /// The entries in `start..end` (clamped), front to back; reversible.
    pub(crate) fn range(&self, start: usize, end: usize) -> PackedIter<'_> {
        let end = end.min(self.len());
        let start = start.min(end);
        PackedIter {
            bytes: self.bytes(),
            front: self.offset(start),
            back: self.offset(end),
            remaining: end - start,
        }
    }

    pub(crate) fn iter(&self) -> PackedIter<'_> {
        self.range(0, self.len())
    }
}

/// Iterator over a [`PackedSeq`]'s entries.
#[derive(Debug, Clone)]
pub struct PackedIter<'a> {
    bytes: &'a [u8],
    front: usize,
    back: usize,
    remaining: usize,
}

impl<'a> Iterator for PackedIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let (start, stop, next) = entry_forward(self.bytes, self.front);
        self.front = next;
        Some(&self.bytes[start..stop])
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl DoubleEndedIterator for PackedIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let (entry, start, stop) = entry_backward(self.bytes, self.back);
        self.back = entry;
        Some(&self.bytes[start..stop])
    }
}

impl ExactSizeIterator for PackedIter<'_> {}
