//! The processes a benchmark starts: each in its own process group with a parent-death
//! signal, and killed — with the worker groups it started in turn — by its guard when
//! dropped (panics included) or by the signal thread on Ctrl-C. Nothing else is killed.

use std::collections::BTreeSet;
use std::io;
use std::process::{Child, Command, ExitStatus};
use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, Signal, kill, killpg};
use nix::sys::wait::{Id, WaitPidFlag, waitid};
use nix::unistd::{Pid, getpgid};

/// Process groups started and not yet reaped, for the signal thread.
static LIVE: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

/// Makes SIGINT, SIGTERM and SIGHUP kill every group the benchmark started, then exit
/// 130. Call first in `main`, before any thread exists: the signals are blocked in
/// every thread and taken by one waiting thread (`Group::spawn` clears the mask again
/// in its children).
pub fn stop_on_signals() {
    let mut set = SigSet::empty();
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(sig);
    }
    set.thread_block().expect("cannot block signals");
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let sig = set.wait();
            let groups: Vec<i32> = LIVE
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .copied()
                .collect();
            for pgid in groups {
                kill_tree(Pid::from_raw(pgid));
            }
            let name = sig.map_or("a signal", |s| s.as_str());
            eprintln!("\nbench: {name}: killed the processes it started; exiting");
            std::process::exit(130);
        })
        .expect("cannot start the signal thread");
}

/// A child process leading its own process group, killed with everything it started
/// when dropped before it was reaped.
#[derive(Debug)]
pub struct Group {
    child: Child,
    exited: Receiver<()>,
    status: Option<ExitStatus>,
    cpu: Option<CpuTimes>,
}

/// CPU time a process used, read from its zombie before it is reaped.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuTimes {
    /// Its own (user + system).
    pub own: Duration,
    /// Of the children it waited for (user + system).
    pub children: Duration,
}

impl Group {
    /// Spawns `cmd` as the leader of a new process group, through fuzzfleet's one runner
    /// (`fleet_proc::Spawn`: group, parent-death SIGKILL if this thread ends — so spawn
    /// from the main thread —, no signal blocked though `stop_on_signals` blocked them
    /// here). `cmd` is taken: it is left as an empty command.
    pub fn spawn(cmd: &mut Command) -> io::Result<Self> {
        let cmd = std::mem::replace(cmd, Command::new("/nonexistent/taken-by-Group-spawn"));
        let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
        let child = fleet_proc::Spawn::new(cmd).spawn_child()?;
        let pid = child.id() as i32;
        live.insert(pid);
        drop(live);
        let (tx, exited) = mpsc::channel();
        // Wait without reaping (WNOWAIT): the pid, and so the group id, stays ours
        // until `wait` reaps it, so a kill can never reach a recycled pid.
        thread::Builder::new()
            .name(format!("wait-{pid}"))
            .spawn(move || {
                let exited = || {
                    waitid(
                        Id::Pid(Pid::from_raw(pid)),
                        WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT,
                    )
                };
                while let Err(nix::errno::Errno::EINTR) = exited() {}
                let _ = tx.send(());
            })?;
        Ok(Self {
            child,
            exited,
            status: None,
            cpu: None,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the leader to exit until `deadline`; `None` if it is still running.
    pub fn wait_until(&mut self, deadline: Instant) -> Option<ExitStatus> {
        if let Some(status) = self.status {
            return Some(status);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match self.exited.recv_timeout(left) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => {}
            Err(RecvTimeoutError::Timeout) => return None,
        }
        self.cpu = cpu_times(self.child.id());
        // Whatever the leader left behind in its group goes with it.
        let _ = killpg(self.pgid(), Signal::SIGKILL);
        let status = self.child.wait().expect("cannot reap a child");
        self.status = Some(status);
        self.unregister();
        Some(status)
    }

    /// Waits until `deadline`, then kills the group and panics naming `what`.
    pub fn wait_or_kill(&mut self, deadline: Instant, what: &str) -> ExitStatus {
        match self.wait_until(deadline) {
            Some(status) => status,
            None => panic!("{what} (pid {}) did not exit in time", self.pid()),
        }
    }

    /// Asks the leader to stop (SIGTERM) and waits up to `grace` for it to exit; then
    /// the group is killed as [`Drop`] does. A fuzzfleet campaign stopped so stops its
    /// workers itself and kills what they left in sessions of their own (an AFL++
    /// forkserver's stopped child); SIGKILL leaves those to init.
    pub fn terminate(mut self, grace: Duration) -> Option<ExitStatus> {
        if self.status.is_none() {
            let _ = kill(self.pgid(), Signal::SIGTERM);
        }
        self.wait_until(Instant::now() + grace)
    }

    /// CPU time of the leader and of the children it reaped, once it exited.
    pub fn cpu(&self) -> Option<CpuTimes> {
        self.cpu
    }

    fn pgid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    fn unregister(&self) {
        LIVE.lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(self.child.id() as i32));
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.status.is_none() {
            kill_tree(self.pgid());
            let _ = self.wait_until(Instant::now() + Duration::from_secs(10));
        }
    }
}

/// SIGKILLs the group led by `leader` and the groups its own children lead (fuzzfleet
/// runs each worker in a group of its own). The leader is stopped first so it cannot
/// reap a child, and recycle its pid, between the listing and the kill.
fn kill_tree(leader: Pid) {
    let _ = killpg(leader, Signal::SIGSTOP);
    for child in children(leader.as_raw() as u32) {
        let pid = Pid::from_raw(child as i32);
        if getpgid(Some(pid)) == Ok(pid) {
            let _ = killpg(pid, Signal::SIGKILL);
        } else {
            let _ = kill(pid, Signal::SIGKILL);
        }
    }
    let _ = killpg(leader, Signal::SIGKILL);
}

/// The direct children of `pid`, from every one of its threads.
pub fn children(pid: u32) -> BTreeSet<u32> {
    let Ok(pid) = i32::try_from(pid) else {
        return BTreeSet::new();
    };
    fleet_run::procfs::children(pid)
        .into_iter()
        .filter_map(|p| u32::try_from(p).ok())
        .collect()
}

/// `utime + stime` and `cutime + cstime` of `/proc/<pid>/stat` (a zombie keeps them).
fn cpu_times(pid: u32) -> Option<CpuTimes> {
    let stat = fleet_run::procfs::pid_stat(i32::try_from(pid).ok()?)?;
    // SAFETY: sysconf with a constant name has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let secs = |ticks: u64| Duration::from_secs_f64(ticks as f64 / hz);
    Some(CpuTimes {
        own: secs(stat.utime + stat.stime),
        children: secs(stat.cutime + stat.cstime),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::Path;

    fn gone(pid: u32) -> bool {
        fleet_run::procfs::pid_stat(pid as i32).is_none_or(|s| s.is_zombie())
    }

    fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
        fleet_testkit::wait_until(what, Duration::from_secs(10), &mut cond);
    }

    fn sleeper_pair() -> (Group, u32) {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 100 & exec sleep 100"]);
        let g = Group::spawn(&mut cmd).unwrap();
        let pid = g.pid();
        wait_for("the background sleep", || !children(pid).is_empty());
        let kid = *children(pid).first().unwrap();
        (g, kid)
    }

    #[test]
    fn dropping_a_group_kills_its_leader_and_members() {
        let (g, kid) = sleeper_pair();
        let pid = g.pid();
        drop(g);
        assert!(gone(pid));
        wait_for("the group member to die", || gone(kid));
    }

    #[test]
    fn a_panic_kills_the_groups_started_in_its_scope() {
        let mut pids = Vec::new();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let (g, kid) = sleeper_pair();
            pids = vec![g.pid(), kid];
            panic!("mid-run");
        }));
        assert!(result.is_err());
        for pid in pids {
            wait_for("every process of the group to die", || gone(pid));
        }
    }

    #[test]
    fn children_start_with_no_signal_blocked() {
        let dir = fleet_testkit::temp_dir();
        let out = dir.path().join("status");
        let mut set = SigSet::empty();
        set.add(Signal::SIGTERM);
        set.thread_block().unwrap();
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("grep SigBlk /proc/self/status > {}", out.display()));
        let mut g = Group::spawn(&mut cmd).unwrap();
        set.thread_unblock().unwrap();
        let status = g.wait_or_kill(Instant::now() + Duration::from_secs(10), "sh");
        assert!(status.success());
        let text = fs::read_to_string(Path::new(&out)).unwrap();
        assert_eq!(text.split_whitespace().nth(1), Some("0000000000000000"));
        assert!(g.cpu().is_some());
    }
}
