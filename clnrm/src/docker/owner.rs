//! Who owns a container: the host, the process id, the process start time and the process's PID
//! namespace, so that a dead owner can be told from a live one even after its pid is reused, and
//! a clnrm running in a container (another PID namespace, often sharing the host's
//! `/etc/machine-id`) is never taken for a dead process of this machine.

use std::fmt;

/// The process that owns containers, written into the [`super::labels::OWNER`] label as
/// `HOST/PID/START/PIDNS` (labels of older versions, `HOST/PID/START`, still parse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// A stable id of the machine (`/etc/machine-id`, else the host name).
    pub host: String,
    /// The process id.
    pub pid: u32,
    /// The process start time in clock ticks since boot (`/proc/PID/stat` field 22); 0 where
    /// unknown.
    pub start: u64,
    /// The inode of the process's PID namespace (`/proc/PID/ns/pid`); 0 where unknown (labels
    /// of older versions), taken as this process's own.
    pub pid_ns: u64,
}

/// The inode of the kernel's initial PID namespace (`PROC_PID_INIT_INO`): a process there sees
/// every process of the machine.
const INITIAL_PID_NS: u64 = 0xEFFF_FFFC;

impl Owner {
    /// The current process.
    pub fn current() -> Owner {
        let pid = std::process::id();
        Owner {
            host: host_id(),
            pid,
            start: process_start(pid).unwrap_or(0),
            pid_ns: pid_namespace("self").unwrap_or(0),
        }
    }

    /// Process `pid` of this machine, if it runs.
    pub fn of(pid: u32) -> Option<Owner> {
        Some(Owner {
            host: host_id(),
            pid,
            start: process_start(pid)?,
            pid_ns: pid_namespace(&pid.to_string()).unwrap_or(0),
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

    /// Parses a label value written by [`fmt::Display`] (or by an older version, without the
    /// namespace).
    pub fn parse(label: &str) -> Option<Owner> {
        let parts: Vec<&str> = label.split('/').collect();
        let (host, pid, start, pid_ns) = match parts.as_slice() {
            [host, pid, start] => (host, pid, start, "0"),
            [host, pid, start, ns] => (host, pid, start, *ns),
            _ => return None,
        };
        Some(Owner {
            host: (*host).to_owned(),
            pid: pid.parse().ok()?,
            start: start.parse().ok()?,
            pid_ns: pid_ns.parse().ok()?,
        })
    }

    /// Is this owner a process of this machine that no longer runs? Owners on other machines
    /// (a shared remote Docker engine) are never considered dead: their runs are not ours to
    /// remove.
    ///
    /// An owner in another PID namespace (a clnrm in a container sharing this machine's id) is
    /// looked up by its namespace's pid (`NSpid` in `/proc/*/status`), which works from the
    /// initial namespace and from any ancestor of the owner's. It is dead only when this
    /// process sees every process of that namespace (it runs in the initial namespace, or one
    /// process of the owner's namespace is visible) and none is the owner: a namespace this
    /// process cannot see into is never judged, so a live owner is never reaped.
    pub fn is_dead_here(&self) -> bool {
        if self.host != host_id() {
            return false;
        }
        let mine = pid_namespace("self").unwrap_or(0);
        if self.pid_ns == 0 || self.pid_ns == mine {
            return match process_start(self.pid) {
                None => true,
                Some(start) => self.start != 0 && start != self.start,
            };
        }
        let members = processes_in_namespace(self.pid_ns);
        if members.is_empty() && mine != INITIAL_PID_NS {
            // Gone, or out of sight: not ours to judge.
            return false;
        }
        !members
            .iter()
            .any(|&(ns_pid, start)| ns_pid == self.pid && (self.start == 0 || start == self.start))
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/{}",
            self.host, self.pid, self.start, self.pid_ns
        )
    }
}

/// The inode of the PID namespace of `/proc/<which>` (`self` or a pid).
fn pid_namespace(which: &str) -> Option<u64> {
    let link = std::fs::read_link(format!("/proc/{which}/ns/pid")).ok()?;
    let text = link.to_string_lossy();
    text.strip_prefix("pid:[")?.strip_suffix(']')?.parse().ok()
}

/// (pid inside the namespace, start time) of every process this process sees in PID namespace
/// `ns`.
fn processes_in_namespace(ns: u64) -> Vec<(u32, u64)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        if pid_namespace(name) != Some(ns) {
            continue;
        }
        let Ok(pid) = name.parse::<u32>() else {
            continue;
        };
        // `NSpid:` lists the pid in each namespace from this one inward; the last is the
        // pid the process sees itself as.
        let ns_pid = std::fs::read_to_string(format!("/proc/{name}/status"))
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix("NSpid:"))
                    .and_then(|pids| pids.split_whitespace().last()?.parse().ok())
            });
        if let (Some(ns_pid), Some(start)) = (ns_pid, process_start(pid)) {
            found.push((ns_pid, start));
        }
    }
    found
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
            pid_ns: 4026531836,
        };
        assert_eq!(Owner::parse(&owner.to_string()), Some(owner));
        let old = Owner::parse("abc/42/777").expect("labels of older versions parse");
        assert_eq!((old.pid, old.start, old.pid_ns), (42, 777, 0));
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
            pid_ns: 0,
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
