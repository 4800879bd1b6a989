//! The replication backlog: the most recent bytes of the replication stream,
//! indexed by their global offset, so a replica that reconnects can continue
//! from the byte after the last one it processed.
//!
//! Offsets are Redis's: the first byte ever fed has offset 1, and
//! `master_repl_offset` is the offset of the last byte fed. The backlog keeps
//! at least `size` bytes (`repl-backlog-size`) and, like Redis 7.0's shared
//! replication buffer, also whatever an attached replica has not been sent
//! yet: the caller says how far back it must reach when it trims.

//!
//! The bytes live in blocks of [`BLOCK_SIZE`] (Redis 7.0's replication
//! buffer is a list of 16 KB blocks too), not one contiguous ring: while a
//! full sync runs the backlog holds every write since the snapshot, and a
//! ring growing by doubling copied megabytes at a time under the log's lock,
//! which every write waits for.

use std::collections::VecDeque;

/// Bytes per block.
pub const BLOCK_SIZE: usize = 16 * 1024;

/// A window of the stream: the bytes from `first_offset` to the end.
#[derive(Debug)]
pub struct Backlog {
    /// Every block but the last is full.
    blocks: VecDeque<Vec<u8>>,
    /// Bytes at the start of the first block that were trimmed.
    skip: usize,
    /// Bytes held (INFO `repl_backlog_histlen`).
    len: usize,
    /// Offset of the first byte held (INFO `repl_backlog_first_byte_offset`).
    first_offset: u64,
    /// Bytes kept for partial resyncs (`repl-backlog-size`).
    size: usize,
}

impl Backlog {
    /// An empty backlog whose next byte will have offset `next_offset`.
    pub fn new(next_offset: u64, size: usize) -> Backlog {
        Backlog {
            blocks: VecDeque::new(),
            skip: 0,
            len: 0,
            first_offset: next_offset,
            size,
        }
    }

    pub fn first_offset(&self) -> u64 {
        self.first_offset
    }

    /// Bytes held (INFO `repl_backlog_histlen`).
    pub fn histlen(&self) -> u64 {
        self.len as u64
    }

    /// Bytes allocated for the blocks (what the backlog costs in memory).
    pub fn allocated(&self) -> usize {
        self.blocks.len() * BLOCK_SIZE
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

    pub fn append(&mut self, mut bytes: &[u8]) {
        self.len += bytes.len();
        while !bytes.is_empty() {
            let block = match self.blocks.back_mut() {
                Some(block) if block.len() < BLOCK_SIZE => block,
                _ => {
                    self.blocks.push_back(Vec::with_capacity(BLOCK_SIZE));
                    self.blocks.back_mut().expect("a block was just pushed")
                }
            };
            let room = BLOCK_SIZE - block.len();
            let (now, later) = bytes.split_at(room.min(bytes.len()));
            block.extend_from_slice(now);
            bytes = later;
        }
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
        let wanted = (self.len - start).min(max);
        let mut out = Vec::with_capacity(wanted);
        let position = self.skip + start;
        let (mut index, mut within) = (position / BLOCK_SIZE, position % BLOCK_SIZE);
        while out.len() < wanted {
            let block = &self.blocks[index];
            let take = (block.len() - within).min(wanted - out.len());
            out.extend_from_slice(&block[within..within + take]);
            index += 1;
            within = 0;
        }
        Some(out)
    }

    /// Drops the oldest bytes beyond `size`, but none at or after `keep_from`
    /// (the oldest offset an attached replica still needs).
    pub fn trim(&mut self, keep_from: Option<u64>) {
        let mut drop = self.len.saturating_sub(self.size) as u64;
        if let Some(keep_from) = keep_from {
            drop = drop.min(keep_from.saturating_sub(self.first_offset));
        }
        if drop == 0 {
            return;
        }
        self.first_offset += drop;
        self.len -= drop as usize;
        self.skip += drop as usize;
        // Whole blocks trimmed are freed (they are full: only the last is not,
        // and it is only trimmed whole once full).
        while self.skip >= BLOCK_SIZE {
            self.blocks.pop_front();
            self.skip -= BLOCK_SIZE;
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

    #[test]
    fn reads_and_trims_across_blocks() {
        use super::BLOCK_SIZE;
        let stream: Vec<u8> = (0..3 * BLOCK_SIZE + 100).map(|i| (i % 251) as u8).collect();
        let mut backlog = Backlog::new(1, BLOCK_SIZE + 10);
        // Appends of several sizes, some straddling block boundaries.
        for piece in stream.chunks(BLOCK_SIZE / 3 + 7) {
            backlog.append(piece);
        }
        assert_eq!(backlog.histlen(), stream.len() as u64);
        assert_eq!(backlog.allocated(), 4 * BLOCK_SIZE);
        let at = BLOCK_SIZE as u64 - 5;
        assert_eq!(
            backlog.read(at + 1, BLOCK_SIZE + 20).as_deref(),
            Some(&stream[at as usize..at as usize + BLOCK_SIZE + 20])
        );
        backlog.trim(None);
        let first = (stream.len() - BLOCK_SIZE - 10) as u64 + 1;
        assert_eq!(backlog.first_offset(), first);
        assert_eq!(backlog.allocated(), 2 * BLOCK_SIZE);
        assert_eq!(backlog.read(first - 1, 1), None);
        assert_eq!(
            backlog.read(first, usize::MAX).as_deref(),
            Some(&stream[first as usize - 1..])
        );
        // Trimming everything but what is kept, then appending again.
        backlog.set_size(0);
        backlog.trim(None);
        assert_eq!(backlog.histlen(), 0);
        assert!(backlog.allocated() <= BLOCK_SIZE);
        backlog.append(b"xyz");
        assert_eq!(
            backlog.read(stream.len() as u64 + 1, 10).as_deref(),
            Some(&b"xyz"[..])
        );
    }
}
