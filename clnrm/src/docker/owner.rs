//! Who owns a container: the host, the process id and the process start time, so that a dead
//! owner can be told from a live one even after its pid is reused.

use std::fmt;

/// The process that owns containers, written into the [`super::labels::OWNER`] label as
/// `HOST/PID/START`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// A stable id of the machine (`/etc/machine-id`, else the host name).
    pub host: String,
    /// The process id.
    pub pid: u32,
    /// The process start time in clock ticks since boot (`/proc/PID/stat` field 22); 0 where
    /// unknown.
    pub start: u64,
}

impl Owner {
    /// The current process.
    pub fn current() -> Owner {
        let pid = std::process::id();
        Owner {
            host: host_id(),
            pid,
            start: process_start(pid).unwrap_or(0),
        }
    }

    /// Process `pid` of this machine, if it runs.
    pub fn of(pid: u32) -> Option<Owner> {
        Some(Owner {
            host: host_id(),
            pid,
            start: process_start(pid)?,
        })
    }

    /// The parent of this process, if known.
    pub fn parent() -> Option<Owner> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let after = &stat[stat.rfind(')')? + 1..];
        // Field 4 is the parent pid; `after` starts at field 3.
        let ppid: u32 = after.split_whitespace().nth(1)?.parse().ok()?;
        Owner::of(ppid)
    }

    /// Parses a label value written by [`fmt::Display`].
    pub fn parse(label: &str) -> Option<Owner> {
        let mut parts = label.rsplitn(3, '/');
        let start = parts.next()?.parse().ok()?;
        let pid = parts.next()?.parse().ok()?;
        let host = parts.next()?.to_owned();
        Some(Owner { host, pid, start })
    }

    /// Is this owner a process of this machine that no longer runs? Owners on other machines
    /// (a shared remote Docker engine) are never considered dead: their runs are not ours to
    /// remove.
    pub fn is_dead_here(&self) -> bool {
        if self.host != host_id() {
            return false;
        }
        match process_start(self.pid) {
            None => true,
            Some(start) => self.start != 0 && start != self.start,
        }
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.host, self.pid, self.start)
    }
}

fn host_id() -> String {
    for path in [
        "/etc/machine-id",
        "/var/lib/dbus/machine-id",
        "/proc/sys/kernel/hostname",
    ] {
        if let Ok(id) = std::fs::read_to_string(path) {
            let id = id.trim();
            if !id.is_empty() {
                return id.replace('/', "_");
            }
        }
    }
    "unknown-host".to_owned()
}

/// The start time of a live process, `None` when there is no such process.
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses: fields after it are
    // counted from the last ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `after` starts at field 3 (state); field 22 is starttime.
    let state = fields.first()?;
    if *state == "Z" || *state == "X" {
        return None;
    }
    fields.get(22 - 3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_label_round_trips() {
        let owner = Owner {
            host: "abc".into(),
            pid: 42,
            start: 777,
        };
        assert_eq!(Owner::parse(&owner.to_string()), Some(owner));
    }

    #[test]
    fn current_process_is_alive_and_a_gone_pid_is_dead() {
        let me = Owner::current();
        assert!(me.start > 0, "start time read from /proc");
        assert!(!me.is_dead_here());
        let reused = Owner {
            start: me.start + 1,
            ..me.clone()
        };
        assert!(
            reused.is_dead_here(),
            "same pid, other start time: a reused pid"
        );
        let other_host = Owner {
            host: "elsewhere".into(),
            pid: u32::MAX,
            start: 1,
        };
        assert!(!other_host.is_dead_here());
        let gone = Owner {
            pid: u32::MAX - 1,
            ..me
        };
        assert!(gone.is_dead_here());
    }

    #[test]
    fn garbage_labels_do_not_parse() {
        assert_eq!(Owner::parse("nonsense"), None);
        assert_eq!(Owner::parse("h/x/1"), None);
    }
}
