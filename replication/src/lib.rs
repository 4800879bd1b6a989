//! Ferrite's replication log, independent of sockets and commands: the
//! replication ids (PSYNC2), the offset-indexed backlog, the attached
//! replicas' stream cursors and acknowledgements, and the lock that makes
//! the stream's order the order in which writes took effect. The server
//! crate drives it: it feeds commands, runs the replica links over TCP and
//! answers PSYNC with what [`ReplicationLog`] decides.

mod backlog;
mod encode;
mod ids;
mod log;
mod replicas;

pub use backlog::Backlog;
pub use encode::multibulk;
pub use ids::{new_replication_id, ReplicationIds, NO_ID};
pub use log::{LogStatus, ReplicationLog, StreamRead, WriteOrder};
pub use replicas::{OutputLimit, Replica, ReplicaState};
