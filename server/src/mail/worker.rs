//! Who holds an outbox lease. Every server process runs one outbox worker with a random id,
//! registered in `mail_workers` with a heartbeat that also extends its leases. A worker that
//! starts (a restart after a crash, say) looks at the workers registered from the same host:
//! one whose process is gone is dead for sure, so its leases are released at once and the
//! messages it held are sent again without waiting for the lease to run out. Workers on other
//! hosts are never judged that way: their leases run out [`LEASE`] after their last heartbeat,
//! so a live instance's leases are never taken over.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::clock::{Millis, SECOND};
use crate::store::outbox::WorkerRow;

/// How long a claim lasts without a heartbeat.
pub const LEASE: Millis = 60 * SECOND;
/// How often a live worker refreshes its row and extends its leases.
pub const HEARTBEAT: Millis = 5 * SECOND;

/// Wall-clock milliseconds: leases and heartbeats are about processes, not the schedule (the
/// schedule uses the service clock, which tests move).
pub fn wall_now() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

#[derive(Debug, Clone)]
pub struct Identity {
    pub id: String,
    /// Kernel boot and pid namespace; None where /proc is not available.
    pub host_key: Option<String>,
    pub pid: i64,
    pub proc_start: Option<String>,
}

impl Identity {
    pub fn current() -> Self {
        let pid = std::process::id() as i64;
        Self {
            id: format!(
                "w{}",
                crate::crypto::new_token().get(..22).unwrap_or_default()
            ),
            host_key: host_key(),
            pid,
            proc_start: proc_start(pid),
        }
    }

    /// Whether the worker `w` (registered from this host) is certainly dead: its process is
    /// gone, or the pid now belongs to a process started at another time.
    pub fn is_dead(&self, w: &WorkerRow) -> bool {
        if self.host_key.is_none() || w.host_key != self.host_key {
            return false;
        }
        match (proc_start(w.pid), &w.proc_start) {
            (None, _) => true,
            (Some(now), Some(then)) => &now != then,
            (Some(_), None) => false,
        }
    }
}

fn host_key() -> Option<String> {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let ns = std::fs::read_link("/proc/self/ns/pid").ok()?;
    Some(format!("{}/{}", boot.trim(), ns.display()))
}

/// Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot.
fn proc_start(pid: i64) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    after.split_whitespace().nth(19).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gone_process_is_dead_and_a_live_one_is_not() {
        let me = Identity::current();
        if me.host_key.is_none() {
            return;
        }
        let row = |pid: i64, start: Option<String>| WorkerRow {
            id: "x".into(),
            host_key: me.host_key.clone(),
            pid,
            proc_start: start,
        };
        assert!(!me.is_dead(&row(me.pid, me.proc_start.clone())));
        assert!(me.is_dead(&row(me.pid, Some("1".into()))), "pid reused");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i64;
        child.wait().unwrap();
        assert!(me.is_dead(&row(pid, Some("0".into()))));
        let other_host = WorkerRow {
            host_key: Some("elsewhere".into()),
            ..row(pid, None)
        };
        assert!(!me.is_dead(&other_host), "other hosts wait for the lease");
    }
}
