//! Client-side caching (Redis's `tracking.c`): which clients may hold which
//! keys in a local cache, and the invalidation messages they are sent when
//! those keys change.
//!
//! A client in the default mode is remembered for every key its read-only
//! commands name (the tracking table: key → client ids); when such a key is
//! written, expires or is evicted, its entry is dropped and each remembered
//! client gets one invalidation. A client in BCAST mode is remembered for
//! prefixes instead, and gets the keys written under its prefixes in one
//! message per prefix at the end of the command (EXEC and scripts included).
//! Keys are names only: the table does not tell databases apart, as in Redis.
//!
//! Messages are RESP3 pushes (`>2 invalidate [keys]`) to the client itself,
//! or, with REDIRECT, go to another client: as a push if that one speaks
//! RESP3, as a `message` on `__redis__:invalidate` if it is a subscribed
//! RESP2 client, else nowhere. They travel through the receiver's outbox
//! (see `pubsub.rs`), so a client's own invalidations follow the reply of
//! the command that caused them.
//!
//! Differences from Redis: keys a write command names count as written when
//! the command did not fail (Redis signals only keys really modified; see
//! `watch.rs`); when the last tracking client turns tracking off, the table
//! is emptied instead of being cleaned lazily.
//!
//! NOLOOP, as in Redis, spares the client whose command is running: the
//! writer, or for a key that expires or is evicted during a command, the
//! client running it ([`running`] records it per thread).
//!
//! With no client tracking, the request path pays one relaxed atomic load.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use ferrite_resp::{Protocol, ReplyWriter};
use parking_lot::Mutex;

use crate::client::{ClientHandle, ClientRegistry};
use crate::pubsub::{protocol_of, PubSub};

thread_local! {
    /// The client whose command this thread is running (Redis's
    /// `server.current_client`), while any client tracks.
    static RUNNING: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Restores the previous running client when dropped.
pub struct Running(Option<u64>);

/// Records that client `id`'s command runs on this thread until the guard
/// is dropped.
pub fn running(id: u64) -> Running {
    Running(RUNNING.replace(Some(id)))
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.set(self.0);
    }
}

/// The bits of [`TrackingFlags`] (Redis's `CLIENT_TRACKING_*`).
pub mod flag {
    pub const ON: u8 = 1 << 0;
    pub const BCAST: u8 = 1 << 1;
    pub const OPTIN: u8 = 1 << 2;
    pub const OPTOUT: u8 = 1 << 3;
    pub const NOLOOP: u8 = 1 << 4;
    /// The client invalidations are redirected to is gone.
    pub const BROKEN_REDIR: u8 = 1 << 5;
}

/// The channel invalidations reach a subscribed RESP2 client on.
pub const CHANNEL: &[u8] = b"__redis__:invalidate";

/// A client's tracking mode, in its shared handle: other clients' writes
/// read it to decide what to send it, CLIENT LIST shows it.
#[derive(Debug, Default)]
pub struct TrackingFlags {
    bits: AtomicU8,
    /// The client id invalidations go to (0: the client itself).
    redirect: AtomicU64,
}

impl TrackingFlags {
    pub fn has(&self, bit: u8) -> bool {
        self.bits.load(Ordering::Relaxed) & bit != 0
    }

    fn bits(&self) -> u8 {
        self.bits.load(Ordering::Relaxed)
    }

    pub fn redirect(&self) -> u64 {
        self.redirect.load(Ordering::Relaxed)
    }

    /// CLIENT GETREDIR and CLIENT LIST's `redir=`: -1 while tracking is off.
    pub fn shown_redirect(&self) -> i64 {
        if self.has(flag::ON) {
            self.redirect() as i64
        } else {
            -1
        }
    }

    /// CLIENT LIST's flag letters, in Redis's order.
    pub fn push_list_flags(&self, flags: &mut String) {
        for (bit, letter) in [
            (flag::ON, 't'),
            (flag::BROKEN_REDIR, 'R'),
            (flag::BCAST, 'B'),
        ] {
            if self.has(bit) {
                flags.push(letter);
            }
        }
    }
}

/// CLIENT TRACKING ON's options, checked by the command.
#[derive(Debug, Default)]
pub struct Options {
    pub redirect: u64,
    /// [`flag::BCAST`], [`flag::OPTIN`], [`flag::OPTOUT`], [`flag::NOLOOP`].
    pub flags: u8,
    pub prefixes: Vec<Bytes>,
}

/// The tracking state a connection owns.
#[derive(Debug, Default)]
pub struct ClientTracking {
    /// CLIENT CACHING YES (OPTIN) or NO (OPTOUT) applies to the next command
    /// (or transaction).
    pub caching: bool,
    /// BCAST prefixes, in the order CLIENT TRACKINGINFO lists them.
    pub prefixes: BTreeSet<Bytes>,
    /// Set on a script's client: a read command the script runs remembers
    /// the caller's declared keys (Redis's rule for scripts).
    pub script_keys: Option<Vec<Bytes>>,
}

/// What an invalidation says.
enum Payload<'a> {
    Keys(&'a [&'a [u8]]),
    /// Every key (FLUSHDB, FLUSHALL, SWAPDB, a replaced keyspace): a null.
    All,
}

/// The clients of one BCAST prefix and the keys written under it since the
/// last broadcast, each with the id of the client that wrote it last.
#[derive(Debug, Default)]
struct Prefix {
    keys: BTreeMap<Bytes, Option<u64>>,
    clients: BTreeSet<u64>,
}

#[derive(Debug, Default)]
struct Table {
    keys: HashMap<Bytes, BTreeSet<u64>, ahash::RandomState>,
    /// Client ids over all keys (INFO `tracking_total_items`).
    items: u64,
    prefixes: BTreeMap<Bytes, Prefix>,
}

/// The server's tracking table and prefix table.
pub struct Tracking {
    /// Clients with tracking on (INFO `tracking_clients`).
    clients: AtomicUsize,
    /// Some prefix has keys waiting to be broadcast.
    bcast_pending: AtomicBool,
    /// `tracking-table-max-keys` (0: no limit).
    max_keys: AtomicU64,
    /// The table's number of keys, so the limit is checked before every
    /// command without taking the lock.
    key_count: AtomicUsize,
    /// Times the limit was enforced and the table stayed over it: each try
    /// evicts 100 more keys than the last (Redis's `timeout_counter`).
    limit_misses: AtomicU32,
    table: Mutex<Table>,
    registry: Arc<ClientRegistry>,
    pubsub: Arc<PubSub>,
}

impl Tracking {
    pub fn new(registry: Arc<ClientRegistry>, pubsub: Arc<PubSub>) -> Tracking {
        Tracking {
            clients: AtomicUsize::new(0),
            bcast_pending: AtomicBool::new(false),
            max_keys: AtomicU64::new(0),
            key_count: AtomicUsize::new(0),
            limit_misses: AtomicU32::new(0),
            table: Mutex::new(Table::default()),
            registry,
            pubsub,
        }
    }

    /// True while any client tracks: the one check on the request path.
    #[inline]
    pub fn is_active(&self) -> bool {
        self.clients.load(Ordering::Relaxed) > 0
    }

    pub fn set_max_keys(&self, max_keys: u64) {
        self.max_keys.store(max_keys, Ordering::Relaxed);
    }

    /// CLIENT TRACKING ON (again: options replace the old ones, prefixes
    /// add to them) — Redis's `enableTracking`.
    pub fn enable(&self, handle: &ClientHandle, state: &mut ClientTracking, options: Options) {
        let mut table = self.table.lock();
        if !handle.tracking.has(flag::ON) {
            self.clients.fetch_add(1, Ordering::Relaxed);
        }
        handle
            .tracking
            .redirect
            .store(options.redirect, Ordering::Relaxed);
        handle
            .tracking
            .bits
            .store(flag::ON | options.flags, Ordering::Relaxed);
        if options.flags & flag::BCAST != 0 {
            let prefixes = if options.prefixes.is_empty() {
                vec![Bytes::new()]
            } else {
                options.prefixes
            };
            for prefix in prefixes {
                table
                    .prefixes
                    .entry(prefix.clone())
                    .or_default()
                    .clients
                    .insert(handle.id);
                state.prefixes.insert(prefix);
            }
        }
    }

    /// CLIENT TRACKING OFF, RESET, disconnect (Redis's `disableTracking`).
    /// The client's entries in the table are left for writes to drop, as
    /// in Redis, unless no tracking client is left.
    pub fn disable(&self, handle: &ClientHandle, state: &mut ClientTracking) {
        state.caching = false;
        if !handle.tracking.has(flag::ON) {
            return;
        }
        let mut table = self.table.lock();
        for prefix in std::mem::take(&mut state.prefixes) {
            if let Some(entry) = table.prefixes.get_mut(&prefix) {
                entry.clients.remove(&handle.id);
                if entry.clients.is_empty() {
                    table.prefixes.remove(&prefix);
                }
            }
        }
        handle.tracking.bits.store(0, Ordering::Relaxed);
        if self.clients.fetch_sub(1, Ordering::Relaxed) == 1 {
            table.keys.clear();
            table.items = 0;
            self.count_keys(&table);
        }
    }

    /// A read-only command of client `id` fetched `keys`.
    pub fn remember(&self, id: u64, keys: &[&[u8]]) {
        let mut table = self.table.lock();
        for &key in keys {
            let inserted = match table.keys.get_mut(key) {
                Some(ids) => ids.insert(id),
                None => {
                    table
                        .keys
                        .insert(Bytes::copy_from_slice(key), BTreeSet::from([id]));
                    true
                }
            };
            table.items += inserted as u64;
        }
        self.count_keys(&table);
    }

    fn count_keys(&self, table: &Table) {
        self.key_count.store(table.keys.len(), Ordering::Relaxed);
    }

    /// `keys` were written (by client `writer`, or by expiry or eviction
    /// when `None`): tell the clients that may cache them, and queue them
    /// for BCAST clients of matching prefixes (with their writer, for
    /// NOLOOP).
    pub fn invalidate<K: AsRef<[u8]>>(&self, writer: Option<u64>, keys: &[K]) {
        let mut table = self.table.lock();
        for key in keys {
            self.invalidate_key(&mut table, writer, key.as_ref(), true);
        }
        self.count_keys(&table);
    }

    fn invalidate_key(&self, table: &mut Table, writer: Option<u64>, key: &[u8], bcast: bool) {
        if bcast {
            for (prefix, entry) in table.prefixes.iter_mut() {
                if key.starts_with(prefix) {
                    entry.keys.insert(Bytes::copy_from_slice(key), writer);
                    self.bcast_pending.store(true, Ordering::Relaxed);
                }
            }
        }
        let Some(ids) = table.keys.remove(key) else {
            return;
        };
        table.items -= ids.len() as u64;
        let current = writer.or_else(|| RUNNING.get());
        for id in ids {
            let Some(target) = self.registry.get(id) else {
                continue;
            };
            let bits = target.tracking.bits();
            // A client that switched to BCAST since is not sent keys it
            // fetched before; NOLOOP clients are not told of their writes.
            if bits & flag::ON == 0
                || bits & flag::BCAST != 0
                || (bits & flag::NOLOOP != 0 && current == Some(id))
            {
                continue;
            }
            self.send(&target, Payload::Keys(&[key]));
        }
    }

    /// Every key changed at once (Redis's `trackingInvalidateKeysOnFlush`):
    /// each tracking client is sent a null, and the table is emptied.
    pub fn invalidate_all(&self) {
        if !self.is_active() {
            return;
        }
        let mut table = self.table.lock();
        for client in self.registry.all() {
            if client.tracking.has(flag::ON) {
                self.send(&client, Payload::All);
            }
        }
        table.keys.clear();
        table.items = 0;
        self.count_keys(&table);
    }

    /// Sends BCAST clients the keys written under their prefixes since the
    /// last call, one message per prefix (Redis does this once per event
    /// loop; Ferrite after each command and each active expire cycle).
    pub fn broadcast(&self) {
        // Loaded first: the common case writes nothing to a shared line.
        if !self.bcast_pending.load(Ordering::Relaxed)
            || !self.bcast_pending.swap(false, Ordering::Relaxed)
        {
            return;
        }
        let mut table = self.table.lock();
        for entry in table.prefixes.values_mut() {
            if entry.keys.is_empty() {
                continue;
            }
            let keys = std::mem::take(&mut entry.keys);
            let all: Vec<&[u8]> = keys.keys().map(|k| k.as_ref()).collect();
            for &id in &entry.clients {
                let Some(client) = self.registry.get(id) else {
                    continue;
                };
                if client.tracking.has(flag::NOLOOP) {
                    let others: Vec<&[u8]> = keys
                        .iter()
                        .filter(|(_, writer)| **writer != Some(id))
                        .map(|(k, _)| k.as_ref())
                        .collect();
                    if !others.is_empty() {
                        self.send(&client, Payload::Keys(&others));
                    }
                } else {
                    self.send(&client, Payload::Keys(&all));
                }
            }
        }
    }

    /// Keeps the table within `tracking-table-max-keys` (Redis's
    /// `trackingLimitUsedSlots`): keys are dropped, their clients told as
    /// if they had changed, at most 100 × (consecutive misses + 1) per call.
    pub fn enforce_limit(&self) {
        let max = self.max_keys.load(Ordering::Relaxed);
        if max == 0 || self.key_count.load(Ordering::Relaxed) as u64 <= max {
            if self.limit_misses.load(Ordering::Relaxed) != 0 {
                self.limit_misses.store(0, Ordering::Relaxed);
            }
            return;
        }
        let mut table = self.table.lock();
        let over = (table.keys.len() as u64).saturating_sub(max);
        if over == 0 {
            self.limit_misses.store(0, Ordering::Relaxed);
            return;
        }
        let misses = self.limit_misses.load(Ordering::Relaxed);
        let effort = 100 * (u64::from(misses) + 1);
        // Hash order: an arbitrary choice, as Redis's random walk.
        let victims: Vec<Bytes> = table
            .keys
            .keys()
            .take(over.min(effort) as usize)
            .cloned()
            .collect();
        for key in victims {
            self.invalidate_key(&mut table, None, &key, false);
        }
        self.count_keys(&table);
        if table.keys.len() as u64 <= max {
            self.limit_misses.store(0, Ordering::Relaxed);
        } else {
            self.limit_misses.store(misses + 1, Ordering::Relaxed);
        }
    }

    /// Redis's `sendTrackingMessage`: the invalidation for `client`, to it
    /// or to the client it redirects to.
    fn send(&self, client: &ClientHandle, payload: Payload<'_>) {
        let redirect = client.tracking.redirect();
        let redirected;
        let target = if redirect == 0 {
            redirected = None;
            client
        } else {
            let Some(target) = self.registry.get(redirect) else {
                client
                    .tracking
                    .bits
                    .fetch_or(flag::BROKEN_REDIR, Ordering::Relaxed);
                if protocol_of(client) == Protocol::Resp3 {
                    let mut out = ReplyWriter::new(Protocol::Resp3);
                    out.push(2);
                    out.bulk(b"tracking-redir-broken");
                    out.integer(redirect as i64);
                    self.pubsub
                        .deliver_push(client, Bytes::from(out.into_vec()));
                }
                return;
            };
            redirected = Some(target);
            redirected.as_deref().unwrap_or(client)
        };
        let protocol = protocol_of(target);
        let mut out = ReplyWriter::new(protocol);
        if protocol == Protocol::Resp3 {
            out.push(2);
            out.bulk(b"invalidate");
        } else if redirected.is_some() && target.subscriptions.is_subscribed() {
            out.push(3);
            out.bulk(b"message");
            out.bulk(CHANNEL);
        } else {
            // RESP2 has no pushes on the client's own connection.
            return;
        }
        match payload {
            Payload::Keys(keys) => {
                out.array(keys.len());
                for key in keys {
                    out.bulk(key);
                }
            }
            // Redis writes the null of the tracking client's protocol;
            // the receiver's is the one its parser expects.
            Payload::All => out.null(),
        }
        self.pubsub
            .deliver_push(target, Bytes::from(out.into_vec()));
    }

    /// INFO `tracking_clients`.
    pub fn client_count(&self) -> usize {
        self.clients.load(Ordering::Relaxed)
    }

    /// INFO `tracking_total_keys`, `tracking_total_items`,
    /// `tracking_total_prefixes`.
    pub fn totals(&self) -> (usize, u64, usize) {
        let table = self.table.lock();
        (table.keys.len(), table.items, table.prefixes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientAddr;
    use std::net::{Ipv4Addr, SocketAddr};

    fn setup() -> (Tracking, Arc<ClientRegistry>) {
        let registry = Arc::new(ClientRegistry::default());
        let tracking = Tracking::new(registry.clone(), Arc::new(PubSub::default()));
        (tracking, registry)
    }

    fn connect(registry: &ClientRegistry) -> Arc<ClientHandle> {
        let addr = ClientAddr::Tcp(SocketAddr::from((Ipv4Addr::LOCALHOST, 1)));
        registry.register(addr.clone(), addr)
    }

    #[test]
    fn a_write_drops_the_key_and_its_items() {
        let (tracking, registry) = setup();
        let client = connect(&registry);
        let mut state = ClientTracking::default();
        tracking.enable(&client, &mut state, Options::default());
        tracking.remember(client.id, &[b"a", b"b"]);
        tracking.remember(client.id, &[b"a"]);
        assert_eq!(tracking.totals(), (2, 2, 0));
        tracking.invalidate(None, &[b"a"]);
        assert_eq!(tracking.totals(), (1, 1, 0));
        tracking.disable(&client, &mut state);
        assert!(!tracking.is_active());
        assert_eq!(tracking.totals(), (0, 0, 0));
    }

    #[test]
    fn the_limit_evicts_100_more_keys_each_time_it_is_missed() {
        let (tracking, registry) = setup();
        let client = connect(&registry);
        tracking.enable(&client, &mut ClientTracking::default(), Options::default());
        let keys: Vec<Vec<u8>> = (0..250).map(|i| format!("k{i}").into_bytes()).collect();
        let keys: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
        tracking.remember(client.id, &keys);
        tracking.set_max_keys(1);
        tracking.enforce_limit();
        assert_eq!(tracking.totals().0, 150);
        tracking.enforce_limit();
        assert_eq!(tracking.totals().0, 1);
    }

    #[test]
    fn noloop_spares_the_client_running_when_a_key_expires() {
        let (tracking, registry) = setup();
        let client = connect(&registry);
        client.resp.store(3, Ordering::Relaxed);
        let mut state = crate::client::ClientState::new(client.clone(), true);
        let noloop = Options {
            flags: flag::NOLOOP,
            ..Default::default()
        };
        tracking.enable(&client, &mut state.tracking, noloop);
        tracking.remember(client.id, &[b"k"]);
        {
            let _running = running(client.id);
            tracking.invalidate(None, &[b"k"]);
        }
        tracking.remember(client.id, &[b"k"]);
        // Expired by the active cycle: no client is running.
        tracking.invalidate(None, &[b"k"]);
        let mut out = ReplyWriter::new(Protocol::Resp3);
        state.pubsub.drain_into(&mut out);
        assert_eq!(
            out.as_bytes(),
            b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"
        );
    }

    #[test]
    fn bcast_prefixes_are_shared_and_released() {
        let (tracking, registry) = setup();
        let (a, b) = (connect(&registry), connect(&registry));
        let (mut sa, mut sb) = (ClientTracking::default(), ClientTracking::default());
        let bcast = |prefixes: &[&'static [u8]]| Options {
            redirect: 0,
            flags: flag::BCAST,
            prefixes: prefixes.iter().map(|p| Bytes::from_static(p)).collect(),
        };
        tracking.enable(&a, &mut sa, bcast(&[b"x:", b"y:"]));
        tracking.enable(&b, &mut sb, bcast(&[b"x:"]));
        assert_eq!(tracking.totals().2, 2);
        tracking.disable(&a, &mut sa);
        assert_eq!(tracking.totals().2, 1);
        assert!(sa.prefixes.is_empty());
        tracking.disable(&b, &mut sb);
        assert_eq!(tracking.totals().2, 0);
    }
}
