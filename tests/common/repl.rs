//! Helpers of the replication tests: INFO fields, one-off commands, and
//! waiting for a condition or for a replica to catch up.

pub fn info(port: u16, section: &str) -> String {
    let mut con = connect(port);
    redis::cmd("INFO")
        .arg(section)
        .query(&mut con)
        .expect("info")
}

pub fn field(info: &str, name: &str) -> String {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_default()
        .to_string()
}

pub fn connect(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .expect("client")
        .get_connection()
        .expect("connection")
}

pub fn cmd(port: u16, args: &[&str]) -> redis::Value {
    let mut con = connect(port);
    let mut command = redis::cmd(args[0]);
    for arg in &args[1..] {
        command.arg(*arg);
    }
    command.query(&mut con).expect("command")
}

pub use super::wait_until;

/// Waits until `replica`'s link is up and it processed everything `master` fed.
pub fn wait_in_sync(master: u16, replica: u16) {
    wait_until("the replica to catch up", || {
        let r = info(replica, "replication");
        let m = info(master, "replication");
        field(&r, "master_link_status") == "up"
            && field(&r, "slave_repl_offset") == field(&m, "master_repl_offset")
    });
}

/// Sends `signal` (`-STOP`, `-CONT`...) to process `pid`. No waiting
/// after `-STOP`: a stopped Ferrite replica must acknowledge nothing more
/// once `kill` returned, as a stopped Redis (see
/// `repl::replica::spawn_supervisor`).
pub fn signal(pid: &str, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, pid])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// Reads a replica's view after `SYNC`: skips the master's newline
/// keepalives and the `$<len>` snapshot, leaving the stream next.
pub fn skip_snapshot(sync: &mut super::RawConnection) {
    let header = loop {
        let line = sync.read_line();
        if let Some(len) = line.trim_start_matches('\n').strip_prefix('$') {
            break len.to_string();
        }
    };
    let len: usize = header.parse().expect("snapshot length");
    let mut payload = vec![0u8; len];
    std::io::Read::read_exact(&mut sync.stream, &mut payload).expect("snapshot");
}
