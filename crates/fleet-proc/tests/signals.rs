//! A child starts with the stop signals at their defaults whatever its parent ignores
//! (a shell's `&` ignores SIGINT): otherwise it could not be stopped gracefully. In a
//! test binary of its own, since signal dispositions are the whole process's.

use std::io::Read;
use std::process::{Command, Stdio};

use fleet_proc::Spawn;

/// The mask of a `SigIgn:` line of `/proc/PID/status`.
fn sig_ign(line: &str) -> u64 {
    let hex = line.trim().strip_prefix("SigIgn:").unwrap().trim();
    u64::from_str_radix(hex, 16).unwrap()
}

#[test]
fn a_child_does_not_inherit_ignored_stop_signals() {
    // SAFETY: setting a disposition to SIG_IGN in this test's own process.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
    }
    let bits = |mask: u64| {
        (
            mask & (1 << (libc::SIGINT - 1)) != 0,
            mask & (1 << (libc::SIGTERM - 1)) != 0,
        )
    };
    // Started plainly, the child ignores both, as the parent does.
    let plain = Command::new("/bin/sh")
        .args(["-c", "grep SigIgn /proc/self/status"])
        .output()
        .unwrap();
    assert_eq!(
        bits(sig_ign(&String::from_utf8_lossy(&plain.stdout))),
        (true, true)
    );
    // Through the runner, neither.
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", "grep SigIgn /proc/self/status"])
        .stdout(Stdio::piped());
    let mut group = Spawn::new(cmd).spawn().unwrap();
    let mut out = String::new();
    group
        .take_stdout()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(group.wait().unwrap().success());
    assert_eq!(bits(sig_ign(&out)), (false, false));
}
