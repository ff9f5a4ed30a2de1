//! Starting a child in a process group of its own ([`Spawn`]) and owning that group
//! until it is gone ([`Group`]).

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use crate::own::{OwnChild, own_child};

/// How long to wait for a process group to die after SIGKILL before reporting it as
/// unstoppable (a process in uninterruptible sleep).
pub const KILL_WAIT: Duration = Duration::from_secs(30);

/// A step of the child's own between fork and exec (after the runner's): it may only
/// make async-signal-safe calls on memory prepared before the fork.
type Hook = Box<dyn FnMut() -> io::Result<()> + Send + Sync>;

/// How to start one child: a [`Command`] (program, arguments, environment, working
/// directory, stdio), and what the runner does between fork and exec.
pub struct Spawn {
    command: Command,
    death_signal: libc::c_int,
    nice: Option<i32>,
    hook: Option<Hook>,
}

impl std::fmt::Debug for Spawn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spawn")
            .field("command", &self.command)
            .field("death_signal", &self.death_signal)
            .field("nice", &self.nice)
            .field("hook", &self.hook.is_some())
            .finish()
    }
}

impl Spawn {
    /// `command` as it is set up, started in a group of its own, receiving SIGKILL when
    /// the thread that starts it ends (even on `kill -9` of fuzzfleet: the kernel sends
    /// it).
    pub fn new(command: Command) -> Spawn {
        Spawn {
            command,
            death_signal: libc::SIGKILL,
            nice: None,
            hook: None,
        }
    }

    /// The command, to change its arguments, environment or stdio.
    pub fn command(&mut self) -> &mut Command {
        &mut self.command
    }

    /// The signal the child receives when the thread that started it ends (SIGTERM for
    /// a child that should clean up, such as ssh).
    pub fn death_signal(mut self, signal: libc::c_int) -> Spawn {
        self.death_signal = signal;
        self
    }

    /// Runs the child at niceness `nice` at least (19: lowest priority); `None`
    /// inherits. Background work must not slow the fuzzers down.
    pub fn nice(mut self, nice: Option<i32>) -> Spawn {
        self.nice = nice;
        self
    }

    /// Adds a step of the caller's own between fork and exec, after the runner's (group,
    /// parent-death signal, signals, priority); its error fails the spawn.
    ///
    /// # Safety
    ///
    /// As [`CommandExt::pre_exec`]: `hook` runs in the forked child and may only make
    /// async-signal-safe calls, on memory prepared before the fork (no allocation).
    pub unsafe fn pre_exec<F>(mut self, hook: F) -> Spawn
    where
        F: FnMut() -> io::Result<()> + Send + Sync + 'static,
    {
        self.hook = Some(Box::new(hook));
        self
    }

    /// Starts the child. It is registered as a child this process reaps itself
    /// ([`crate::own_children`]) until its [`Group`] has reaped it.
    pub fn spawn(self) -> io::Result<Group> {
        Ok(Group::new(self.spawn_child()?))
    }

    /// Starts the child the same way, but hands it over as a plain [`Child`] to a
    /// caller that waits for, signals (the whole group) and reaps it by itself, such as
    /// a benchmark reading a zombie's CPU times. Nothing kills it on drop, and it is
    /// not registered as an owned child.
    pub fn spawn_child(self) -> io::Result<Child> {
        let Spawn {
            mut command,
            death_signal,
            nice,
            mut hook,
        } = self;
        // SAFETY: getpid has no preconditions.
        let parent = unsafe { libc::getpid() };
        // SAFETY: the hook only makes async-signal-safe system calls and allocates
        // nothing (its errors are raw OS errors); the caller's hook promises the same.
        unsafe {
            command.pre_exec(move || {
                if libc::setpgid(0, 0) != 0 {
                    return Err(io::Error::last_os_error());
                }
                if libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    death_signal as libc::c_ulong,
                    0 as libc::c_ulong,
                    0 as libc::c_ulong,
                    0 as libc::c_ulong,
                ) != 0
                {
                    return Err(io::Error::last_os_error());
                }
                // The parent may have died between the fork and the prctl: then no
                // signal will ever come, and the child must not run on as an orphan.
                if libc::getppid() != parent {
                    return Err(io::Error::from_raw_os_error(libc::ESRCH));
                }
                // No signal blocked and the stop signals at their defaults, whatever
                // fuzzfleet inherited (a shell's `&` ignores SIGINT; a parent may block
                // SIGTERM): otherwise the child could not be stopped gracefully.
                let mut empty: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut empty);
                if libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut()) != 0 {
                    return Err(io::Error::last_os_error());
                }
                for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
                    libc::signal(sig, libc::SIG_DFL);
                }
                if let Some(nice) = nice {
                    lower_priority(nice)?;
                }
                match hook.as_mut() {
                    Some(hook) => hook(),
                    None => Ok(()),
                }
            });
        }
        command.spawn()
    }
}

/// Sets the calling (child) process's niceness to at least `nice`. Raising niceness is
/// always allowed; if the process is already nicer than asked, lowering it is refused
/// (EACCES) and it stays nicer.
fn lower_priority(nice: i32) -> io::Result<()> {
    // SAFETY: setpriority has no memory-safety preconditions.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EACCES) | Some(libc::EPERM) => Ok(()),
        _ => Err(err),
    }
}

/// How a waited-for group ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended {
    /// The leader's exit status.
    pub status: ExitStatus,
    /// Whether the deadline passed and the group was stopped.
    pub timed_out: bool,
}

/// How the leader's exit is awaited: a pidfd polled with a timeout, or, on a kernel
/// without pidfds, a thread blocked in `waitid`.
enum Waiter {
    Pidfd(OwnedFd),
    Thread(Option<Receiver<io::Result<()>>>),
}

/// A child leading its own process group. Its leader is never reaped before the rest of
/// the group has been sent SIGKILL, so the group id is never someone else's when it is
/// signalled. Dropped before it was waited for, the whole group is killed and reaped.
pub struct Group {
    child: Child,
    pid: u32,
    waiter: Waiter,
    /// The leader has exited (and is not reaped yet).
    exited: bool,
    /// Reaped, with this status.
    status: Option<ExitStatus>,
    detached: bool,
    _owned: OwnChild,
}

impl std::fmt::Debug for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group")
            .field("pid", &self.pid)
            .field("status", &self.status)
            .finish()
    }
}

impl Group {
    fn new(child: Child) -> Group {
        let pid = child.id();
        let owned = own_child(pid);
        // SAFETY: pidfd_open takes a pid and flags; the pid is our unreaped child, so it
        // cannot name another process.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
        let waiter = if fd >= 0 {
            // SAFETY: a fresh fd owned by nobody else.
            Waiter::Pidfd(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
        } else {
            Waiter::Thread(None)
        };
        Group {
            child,
            pid,
            waiter,
            exited: false,
            status: None,
            detached: false,
            _owned: owned,
        }
    }

    /// The leader's pid, which is also the group's id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The leader's stdout, if it was piped and not taken yet.
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout.take()
    }

    /// The leader's stderr, if it was piped and not taken yet.
    pub fn take_stderr(&mut self) -> Option<ChildStderr> {
        self.child.stderr.take()
    }

    /// Sends `signal` to the whole group; a group already reaped is left alone.
    pub fn signal(&self, signal: libc::c_int) {
        if self.status.is_none() {
            signal_group(self.pid, signal);
        }
    }

    /// Waits up to `timeout` (`None`: for ever) for the leader to exit, without reaping
    /// it; true once it has.
    fn wait_exit(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        if self.exited || self.status.is_some() {
            return Ok(true);
        }
        let until = timeout.map(|t| Instant::now() + t);
        let exited = match &mut self.waiter {
            Waiter::Pidfd(fd) => {
                use std::os::fd::AsRawFd;
                loop {
                    let ms = match until {
                        None => -1,
                        Some(until) => {
                            let left = until.saturating_duration_since(Instant::now());
                            // Rounded up, so a wait never ends early.
                            left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
                        }
                    };
                    let mut pfd = libc::pollfd {
                        fd: fd.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    // SAFETY: one valid pollfd.
                    let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
                    if rc > 0 {
                        break true;
                    }
                    if rc == 0 {
                        break false;
                    }
                    let err = io::Error::last_os_error();
                    if err.kind() != io::ErrorKind::Interrupted {
                        return Err(err);
                    }
                }
            }
            Waiter::Thread(rx) => {
                let pid = self.pid;
                let rx = rx.get_or_insert_with(|| {
                    let (tx, rx) = mpsc::channel();
                    thread::spawn(move || {
                        let _ = tx.send(wait_exited(pid));
                    });
                    rx
                });
                let got = match timeout {
                    None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                    Some(t) => rx.recv_timeout(t),
                };
                match got {
                    Ok(result) => {
                        result?;
                        true
                    }
                    Err(RecvTimeoutError::Timeout) => false,
                    Err(RecvTimeoutError::Disconnected) => {
                        return Err(io::Error::other("the waiter thread ended"));
                    }
                }
            }
        };
        self.exited = exited;
        Ok(exited)
    }

    /// Once the leader has exited: kills what it left in its group (a symbolizer, a
    /// merge's child), then reaps it.
    fn finish(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        signal_group(self.pid, libc::SIGKILL);
        let status = self.child.wait()?;
        self.status = Some(status);
        Ok(status)
    }

    /// Waits up to `timeout` for the leader to exit; then the rest of its group is
    /// killed and the leader reaped. `None` when it still runs.
    pub fn wait_timeout(&mut self, timeout: Duration) -> io::Result<Option<ExitStatus>> {
        if self.wait_exit(Some(timeout))? {
            self.finish().map(Some)
        } else {
            Ok(None)
        }
    }

    /// Whether the leader has exited (then the group is killed and the leader reaped).
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.wait_timeout(Duration::ZERO)
    }

    /// Waits for the leader to exit; then the rest of its group is killed and the
    /// leader reaped.
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        self.wait_exit(None)?;
        self.finish()
    }

    /// Stops the group: SIGTERM, up to `grace` to exit, then SIGKILL.
    pub fn stop(&mut self, grace: Duration) -> io::Result<ExitStatus> {
        if self.status.is_none() && !self.exited {
            self.signal(libc::SIGTERM);
            if let Some(status) = self.wait_timeout(grace)? {
                return Ok(status);
            }
        }
        self.kill()
    }

    /// Kills the whole group and reaps the leader; an error if it has not exited
    /// [`KILL_WAIT`] after SIGKILL.
    pub fn kill(&mut self) -> io::Result<ExitStatus> {
        self.signal(libc::SIGKILL);
        match self.wait_timeout(KILL_WAIT)? {
            Some(status) => Ok(status),
            None => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "process group {} did not exit {}s after SIGKILL",
                    self.pid,
                    KILL_WAIT.as_secs()
                ),
            )),
        }
    }

    /// Waits up to `deadline` for the leader to exit; past it, the group is stopped
    /// ([`Group::stop`] with `grace`).
    pub fn wait_deadline(&mut self, deadline: Duration, grace: Duration) -> io::Result<Ended> {
        if let Some(status) = self.wait_timeout(deadline)? {
            return Ok(Ended {
                status,
                timed_out: false,
            });
        }
        Ok(Ended {
            status: self.stop(grace)?,
            timed_out: true,
        })
    }

    /// Hands the running group to a caller that signals, waits for and reaps it itself
    /// (the campaign's dispatcher does, for workers): returns its pid, and dropping
    /// no longer kills it. Such a caller must signal the group only while its leader
    /// is unreaped.
    pub fn detach(mut self) -> u32 {
        self.detached = true;
        self.pid
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.detached || self.status.is_some() {
            return;
        }
        if self.exited {
            let _ = self.finish();
        } else {
            // A group that will not die in time is left to the subreaper; a drop never
            // hangs for ever.
            let _ = self.kill();
        }
    }
}

/// Blocks until process `pid` (a child of this process) has exited, without reaping it
/// (WNOWAIT keeps its pid, and so its group id, reserved).
pub fn wait_exited(pid: u32) -> io::Result<()> {
    loop {
        // SAFETY: siginfo_t is plain data; waitid writes it.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: a valid pointer to a siginfo_t owned by this frame.
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Sends `signal` to process group `pgid`; a group that is already gone is fine. Call
/// it only while the group's leader is unreaped (its id cannot have been reused).
pub fn signal_group(pgid: u32, signal: libc::c_int) {
    if pgid == 0 || pgid > i32::MAX as u32 {
        return;
    }
    // SAFETY: kill has no memory-safety preconditions; a positive pgid, negated, names
    // exactly that group (never -1, every process).
    unsafe {
        libc::kill(-(pgid as libc::pid_t), signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The waiter used on a kernel without pidfds times out and sees an exit too.
    #[test]
    fn the_thread_waiter_times_out_and_then_sees_the_exit() {
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", "read line; exit 3"])
            .stdin(std::process::Stdio::piped());
        let mut group = Spawn::new(cmd).spawn().unwrap();
        group.waiter = Waiter::Thread(None);
        assert_eq!(group.wait_timeout(Duration::from_millis(50)).unwrap(), None);
        // Closing its stdin ends it.
        drop(group.child.stdin.take());
        let status = group.wait_timeout(Duration::from_secs(60)).unwrap();
        assert_eq!(status.and_then(|s| s.code()), Some(3));
    }
}
