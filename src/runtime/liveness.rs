//! Whether the holder of a lease is still alive (issue #14: a killed run blocked its day for
//! ten minutes). A lease names its owner `HOST-PID-RANDOM@TABLE`, where TABLE identifies the
//! process table the PID belongs to: this kernel's boot and its PID namespace. Another process
//! that sees the same TABLE can ask the kernel whether that PID still runs, and take a dead
//! owner's lease at once; from any other machine or container the lease must run out.
//!
//! The answer errs one way only: a PID reused by an unrelated process looks alive (the lease
//! then runs out as before), while a live owner is never taken for dead — the same TABLE means
//! the same kernel and namespace, where a PID that does not exist is a process that ended.

/// This process's table: a short hash of the kernel's boot id and the PID namespace, or `None`
/// where `/proc` does not tell (not Linux), and leases only ever run out.
pub fn process_table() -> Option<String> {
    use sha2::{Digest, Sha256};
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let namespace = std::fs::read_link("/proc/self/ns/pid").ok()?;
    let mut h = Sha256::new();
    h.update(boot.trim().as_bytes());
    h.update(namespace.to_string_lossy().as_bytes());
    Some(
        h.finalize()[..6]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

/// Whether `owner` (another lease holder's name) is a process of this machine's table that has
/// ended. `false` when it cannot be known.
pub fn is_gone(owner: &str) -> bool {
    static HERE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let Some(here) = HERE.get_or_init(process_table) else {
        return false;
    };
    let Some((name, table)) = owner.rsplit_once('@') else {
        return false;
    };
    if table != here {
        return false;
    }
    // HOST-PID-RANDOM: the host name may itself hold dashes, the last two parts do not.
    let mut parts = name.rsplitn(3, '-');
    let (Some(_random), Some(pid), Some(_host)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_that_ended_is_gone_and_a_live_one_is_not() {
        let Some(table) = process_table() else {
            return; // not Linux: leases only run out, which the callers handle
        };
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(is_gone(&format!("my-host-{pid}-abcd1234@{table}")));
        // Alive: this process, and PID 1.
        assert!(!is_gone(&super::super::owner_name()));
        assert!(!is_gone(&format!("h-1-abcd1234@{table}")));
        // Another machine's or container's PID tells nothing here.
        assert!(!is_gone(&format!("my-host-{pid}-abcd1234@000000000000")));
        assert!(!is_gone(&format!("my-host-{pid}-abcd1234")));
    }
}
