//! SLOWLOG: the most recent commands that took longer than
//! `slowlog-log-slower-than` microseconds, newest first.

use std::collections::VecDeque;

use bytes::Bytes;

/// Redis keeps at most 32 arguments per entry, each at most 128 bytes.
const MAX_ARGS: usize = 32;
const MAX_ARG_LEN: usize = 128;

#[derive(Debug, Clone)]
pub struct SlowlogEntry {
    pub id: u64,
    pub time_s: u64,
    pub duration_us: u64,
    pub args: Vec<Bytes>,
    pub peer: String,
    pub client_name: String,
}

#[derive(Debug, Default)]
pub struct Slowlog {
    entries: VecDeque<SlowlogEntry>,
    next_id: u64,
}

impl Slowlog {
    pub fn record(
        &mut self,
        args: &[Bytes],
        duration_us: u64,
        peer: &str,
        client_name: &str,
        max_len: usize,
    ) {
        let mut kept: Vec<Bytes> = args.iter().take(MAX_ARGS).map(truncate).collect();
        if args.len() > MAX_ARGS {
            kept[MAX_ARGS - 1] = Bytes::from(format!(
                "... ({} more arguments)",
                args.len() - MAX_ARGS + 1
            ));
        }
        self.entries.push_front(SlowlogEntry {
            id: self.next_id,
            time_s: ferrite_storage::now_ms() / 1000,
            duration_us,
            args: kept,
            peer: peer.to_string(),
            client_name: client_name.to_string(),
        });
        self.next_id += 1;
        self.entries.truncate(max_len);
    }

    pub fn entries(&self, count: usize) -> impl Iterator<Item = &SlowlogEntry> {
        self.entries.iter().take(count)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn reset(&mut self) {
        self.entries.clear();
    }

    pub fn trim(&mut self, max_len: usize) {
        self.entries.truncate(max_len);
    }
}

fn truncate(arg: &Bytes) -> Bytes {
    if arg.len() <= MAX_ARG_LEN {
        return arg.clone();
    }
    let mut text = arg[..MAX_ARG_LEN].to_vec();
    text.extend_from_slice(format!("... ({} more bytes)", arg.len() - MAX_ARG_LEN).as_bytes());
    Bytes::from(text)
}
