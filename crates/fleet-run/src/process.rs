//! Process-wide duties of a supervisor: becoming a child subreaper, reaping orphans that
//! end up with us, and forwarding SIGINT/SIGTERM/SIGHUP into the dispatcher's event queue.

use std::collections::HashSet;
use std::sync::mpsc::Sender;
use std::thread;

use fleet_sys::procfs;
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::events::Event;

/// Makes this process the reaper of every descendant orphaned below it, so a harness's
/// grandchild that loses its parent is ours to reap, not init's to leak.
pub fn become_subreaper() -> std::io::Result<()> {
    // SAFETY: plain prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Reaps zombie children that are not workers (`live` holds the workers' leaders, which
/// the dispatcher reaps itself after it has seen them exit). Returns how many were reaped.
pub fn reap_orphans(live: &HashSet<i32>) -> usize {
    let me = std::process::id() as i32;
    // Children a thread of ours spawned and reaps itself (triage runs, a background
    // corpus minimization): reaping them here would fail their owner's wait.
    let owned = fleet_crash::own_children();
    let mut reaped = 0;
    for (pid, stat) in procfs::processes() {
        if live.contains(&pid) || owned.contains(&(pid as u32)) {
            continue;
        }
        if stat.is_zombie()
            && stat.ppid == me
            && waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)).is_ok()
        {
            reaped += 1;
        }
    }
    reaped
}

/// Kills and reaps the children left in a session of their own once no worker runs: as
/// the subreaper, this process inherits whatever a worker's processes orphaned outside
/// its process group with `setsid` (a daemon), and none of it may outlive the campaign.
/// Children in fuzzfleet's own session (coverage rounds, reproductions, anything the
/// process hosting the campaign runs) are left alone; what a worker left in its process
/// group died with the group, and in its cgroup with the cgroup. Returns how many were
/// killed.
pub fn kill_orphans() -> usize {
    let me = std::process::id() as i32;
    // SAFETY: getsid(0) has no preconditions.
    let my_session = unsafe { libc::getsid(0) };
    let mut killed = 0;
    for (pid, session) in children(me) {
        if session == my_session {
            continue;
        }
        let pid = Pid::from_raw(pid);
        if nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).is_ok() {
            killed += 1;
        }
        let _ = waitpid(pid, None);
    }
    killed
}

/// Pids whose parent is `parent`, with their session ids.
fn children(parent: i32) -> Vec<(i32, i32)> {
    procfs::processes()
        .into_iter()
        .filter(|(_, s)| s.ppid == parent)
        .map(|(pid, s)| (pid, s.session))
        .collect()
}

/// Forwards SIGINT and SIGTERM to the dispatcher as events (the first stops gracefully,
/// a second escalates). Returns a handle that stops forwarding when dropped.
pub fn forward_signals(tx: Sender<Event>) -> std::io::Result<SignalForwarder> {
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    let handle = signals.handle();
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                if tx.send(Event::Signal(sig)).is_err() {
                    break;
                }
            }
        })?;
    Ok(SignalForwarder { handle })
}

/// Stops signal forwarding (restoring default handling) when dropped.
pub struct SignalForwarder {
    handle: signal_hook::iterator::Handle,
}

impl std::fmt::Debug for SignalForwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignalForwarder")
    }
}

impl Drop for SignalForwarder {
    fn drop(&mut self) {
        self.handle.close();
    }
}
