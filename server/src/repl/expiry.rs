//! Which expiry policy a command's lookups follow (Redis's `lookupKey` and
//! `expireIfNeeded`): a master deletes expired keys it meets; a replica
//! applying its master's stream sees every key (the master already judged
//! them); a replica's own clients see expired keys as absent but do not
//! delete them, except that a write on a writable replica deletes them and
//! has the expiries it sets expired by the replica itself.

use ferrite_storage::ExpiryPolicy;

use crate::client::ClientState;
use crate::command::CommandSpec;
use crate::server::Server;

/// The policy for running `spec` (named `name`) for `client`.
pub fn policy(
    server: &Server,
    client: &ClientState,
    spec: &CommandSpec,
    name: &str,
) -> ExpiryPolicy {
    let repl = &server.replication;
    if client.repl.replaying_aof {
        // Nothing expires while the AOF loads (Redis's `keyIsExpired`).
        ExpiryPolicy::Ignore
    } else if !repl.is_replica() {
        ExpiryPolicy::Delete
    } else if client.repl.is_master {
        ExpiryPolicy::Ignore
    } else if !repl.gate.read_only() && super::gate::writes(client, spec, name) {
        ExpiryPolicy::DeleteAndTrack
    } else {
        ExpiryPolicy::Hide
    }
}

/// Makes this server a replica (its master decides when keys expire) or a
/// master again (it expires keys itself, lazily and actively).
pub(crate) fn set_replica(server: &Server, replica: bool) {
    server.replication.set_replica(replica);
    server.keyspace.set_replica(replica);
}
