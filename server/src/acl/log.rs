//! The ACL log (ACL LOG): refused commands and failed authentications,
//! newest first, similar events within a minute folded into one entry
//! with a count, at most `acllog-max-len` entries (Redis's `ACLLog`).

use std::collections::VecDeque;

use ferrite_resp::ReplyWriter;

/// Entries this close in time (ms) with the same reason, context, object
/// and user are one entry.
const GROUPING_MAX_DELTA_MS: u64 = 60_000;
/// How many recent entries are searched for one to fold into.
const GROUPING_SCAN: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Command,
    Key,
    Channel,
    Auth,
}

impl Reason {
    fn name(self) -> &'static str {
        match self {
            Reason::Command => "command",
            Reason::Key => "key",
            Reason::Channel => "channel",
            Reason::Auth => "auth",
        }
    }
}

/// Where the refused command was: sent directly, queued in MULTI, or
/// called from a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Toplevel,
    Multi,
    Lua,
}

impl Context {
    fn name(self) -> &'static str {
        match self {
            Context::Toplevel => "toplevel",
            Context::Multi => "multi",
            Context::Lua => "lua",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub count: u64,
    pub reason: Reason,
    pub context: Context,
    pub object: Vec<u8>,
    pub username: Vec<u8>,
    pub created_ms: u64,
    pub client_info: String,
}

#[derive(Debug, Default)]
pub struct AclLog {
    entries: VecDeque<Entry>,
}

impl AclLog {
    /// Adds an entry, or folds it into a similar recent one (which moves to
    /// the front with the newer client info and time).
    pub fn add(&mut self, entry: Entry, max_len: usize) {
        let similar = self.entries.iter().take(GROUPING_SCAN).position(|e| {
            e.reason == entry.reason
                && e.context == entry.context
                && e.created_ms.abs_diff(entry.created_ms) <= GROUPING_MAX_DELTA_MS
                && e.object == entry.object
                && e.username == entry.username
        });
        match similar.and_then(|at| self.entries.remove(at)) {
            Some(mut existing) => {
                existing.count += 1;
                existing.client_info = entry.client_info;
                existing.created_ms = entry.created_ms;
                self.entries.push_front(existing);
            }
            None => {
                self.entries.push_front(entry);
                self.entries.truncate(max_len);
            }
        }
    }

    pub fn reset(&mut self) {
        self.entries.clear();
    }

    /// ACL LOG [count]: the newest `count` entries as maps.
    pub fn write(&self, out: &mut ReplyWriter, count: usize, now_ms: u64) {
        let shown = count.min(self.entries.len());
        out.array(shown);
        for entry in self.entries.iter().take(shown) {
            out.map(7);
            out.bulk(b"count");
            out.integer(entry.count as i64);
            out.bulk(b"reason");
            out.bulk(entry.reason.name().as_bytes());
            out.bulk(b"context");
            out.bulk(entry.context.name().as_bytes());
            out.bulk(b"object");
            out.bulk(&entry.object);
            out.bulk(b"username");
            out.bulk(&entry.username);
            out.bulk(b"age-seconds");
            out.double(now_ms.saturating_sub(entry.created_ms) as f64 / 1000.0);
            out.bulk(b"client-info");
            out.bulk(entry.client_info.as_bytes());
        }
    }
}
