//! The replication backlog: the most recent bytes of the replication stream,
//! indexed by their global offset, so a replica that reconnects can continue
//! from the byte after the last one it processed.
//!
//! Offsets are Redis's: the first byte ever fed has offset 1, and
//! `master_repl_offset` is the offset of the last byte fed. The backlog keeps
//! at least `size` bytes (`repl-backlog-size`) and, like Redis 7.0's shared
//! replication buffer, also whatever an attached replica has not been sent
//! yet: the caller says how far back it must reach when it trims.

use std::collections::VecDeque;

/// A window of the stream: the bytes from `first_offset` to the end.
#[derive(Debug)]
pub struct Backlog {
    bytes: VecDeque<u8>,
    /// Offset of `bytes[0]` (INFO `repl_backlog_first_byte_offset`).
    first_offset: u64,
    /// Bytes kept for partial resyncs (`repl-backlog-size`).
    size: usize,
}

impl Backlog {
    /// An empty backlog whose next byte will have offset `next_offset`.
    pub fn new(next_offset: u64, size: usize) -> Backlog {
        Backlog {
            bytes: VecDeque::new(),
            first_offset: next_offset,
            size,
        }
    }

    pub fn first_offset(&self) -> u64 {
        self.first_offset
    }

    /// Bytes held (INFO `repl_backlog_histlen`).
    pub fn histlen(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// Offset the next byte fed will have.
    pub fn next_offset(&self) -> u64 {
        self.first_offset + self.histlen()
    }

    pub fn size(&self) -> usize {
        self.size
    }

    pub fn set_size(&mut self, size: usize) {
        self.size = size;
    }

    pub fn append(&mut self, bytes: &[u8]) {
        self.bytes.extend(bytes);
    }

    /// Whether a replica can continue at `offset` (Redis's range check in
    /// `masterTryPartialResynchronization`).
    pub fn covers(&self, offset: u64) -> bool {
        offset >= self.first_offset && offset <= self.next_offset()
    }

    /// Up to `max` bytes starting at `offset`; `None` if `offset` is no
    /// longer (or not yet) held.
    pub fn read(&self, offset: u64, max: usize) -> Option<Vec<u8>> {
        if !self.covers(offset) {
            return None;
        }
        let start = (offset - self.first_offset) as usize;
        let end = self.bytes.len().min(start.saturating_add(max));
        Some(self.bytes.range(start..end).copied().collect())
    }

    /// Drops the oldest bytes beyond `size`, but none at or after `keep_from`
    /// (the oldest offset an attached replica still needs).
    pub fn trim(&mut self, keep_from: Option<u64>) {
        let over = self.bytes.len().saturating_sub(self.size) as u64;
        let mut drop = over;
        if let Some(keep_from) = keep_from {
            drop = drop.min(keep_from.saturating_sub(self.first_offset));
        }
        if drop > 0 {
            self.bytes.drain(..drop as usize);
            self.first_offset += drop;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Backlog;

    #[test]
    fn reads_by_offset_and_trims_to_its_size() {
        let mut backlog = Backlog::new(1, 4);
        backlog.append(b"abcdef");
        assert_eq!(backlog.read(1, 100).as_deref(), Some(&b"abcdef"[..]));
        assert_eq!(backlog.read(3, 2).as_deref(), Some(&b"cd"[..]));
        assert_eq!(backlog.read(7, 10).as_deref(), Some(&b""[..]));
        assert_eq!(backlog.read(8, 10), None);
        backlog.trim(None);
        assert_eq!(backlog.first_offset(), 3);
        assert_eq!(backlog.histlen(), 4);
        assert_eq!(backlog.read(2, 1), None);
        assert_eq!(backlog.read(3, 100).as_deref(), Some(&b"cdef"[..]));
    }

    #[test]
    fn keeps_what_a_replica_still_needs() {
        let mut backlog = Backlog::new(11, 2);
        backlog.append(b"0123456789");
        backlog.trim(Some(13));
        assert_eq!(backlog.first_offset(), 13);
        assert_eq!(backlog.histlen(), 8);
        backlog.trim(Some(100));
        assert_eq!(backlog.first_offset(), 19);
        assert_eq!(backlog.next_offset(), 21);
    }
}
