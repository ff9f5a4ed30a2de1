//! Running one target process for reproduction or minimization: own process group, optional low priority, captured stderr, a hard deadline (SIGTERM, grace, SIGKILL on the group).

use std::collections::{BTreeSet, VecDeque};
use std::io::{self, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use fleet_engine::EngineCommand;
use fleet_engine::libfuzzer::{ExitKind, classify_exit};

/// How long to wait for a process group to die after SIGKILL before
/// reporting it as unstoppable (a process in uninterruptible sleep).
const KILL_WAIT: Duration = Duration::from_secs(30);
const READ_CHUNK: usize = 64 * 1024;

/// Pids of children this process spawned and will reap itself (reproduction and
/// minimization runs, and whatever a caller registers with [`own_child`]). A supervisor
/// that reaps stray zombies (a child subreaper) must leave these alone, or the owner's
/// wait fails.
static OWN_CHILDREN: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

/// Registers `pid` as a child its spawner reaps itself, until the guard is dropped.
pub fn own_child(pid: u32) -> OwnChild {
    OWN_CHILDREN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(pid);
    OwnChild(pid)
}

/// The children registered with [`own_child`] and not reaped yet.
pub fn own_children() -> BTreeSet<u32> {
    OWN_CHILDREN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

/// Keeps a pid registered as an owned child; unregisters it when dropped.
#[derive(Debug)]
pub struct OwnChild(u32);

impl Drop for OwnChild {
    fn drop(&mut self) {
        OWN_CHILDREN
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.0);
    }
}

/// How a spawned run is bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLimits {
    /// Wall-clock limit of the whole process group; then SIGTERM, `grace`,
    /// SIGKILL. libFuzzer's own `-timeout` normally fires first; this
    /// catches what it cannot (a target blocked in a syscall, a stuck
    /// symbolizer, a minimization that goes on and on).
    pub deadline: Duration,
    pub grace: Duration,
    /// The niceness to run at (19 = lowest priority), or `None` to inherit.
    /// Background work must not slow the fuzzers down.
    pub nice: Option<i32>,
    /// Stderr kept: the first and the last half of this many bytes.
    pub max_output_bytes: usize,
}

impl Default for RunLimits {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(120),
            grace: Duration::from_secs(3),
            nice: Some(19),
            max_output_bytes: 4 << 20,
        }
    }
}

/// Why a run could not be carried out (a crash of the target is a result,
/// not an error).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot start {}: {source}", program.display())]
    Spawn { program: PathBuf, source: io::Error },
    #[error("cannot wait for {} (pid {pid}): {source}", program.display())]
    Wait {
        program: PathBuf,
        pid: u32,
        source: io::Error,
    },
    #[error("process group {pid} of {} did not exit {}s after SIGKILL", program.display(), KILL_WAIT.as_secs())]
    Unstoppable { program: PathBuf, pid: u32 },
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

/// What one run did.
#[derive(Debug, Clone)]
pub(crate) struct Finished {
    pub exit: ExitKind,
    /// Stderr, lossily decoded; the middle is cut when it was too long.
    pub output: String,
    pub elapsed: Duration,
    pub deadline_exceeded: bool,
}

/// Runs `cmd` in `cwd` (stdin and stdout null, stderr captured) in a
/// process group of its own, within `limits`.
pub(crate) fn run(
    cmd: &EngineCommand,
    cwd: &Path,
    limits: &RunLimits,
) -> Result<Finished, RunError> {
    let mut command = Command::new(&cmd.program);
    command
        .args(&cmd.args)
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0);
    let nice = limits.nice;
    // SAFETY: the hook only makes async-signal-safe system calls.
    unsafe {
        command.pre_exec(move || {
            // The run dies with the thread that started it, even on `kill -9` of
            // fuzzfleet: no reproduction outlives the campaign that asked for it.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            match nice {
                Some(nice) => lower_priority(nice),
                None => Ok(()),
            }
        });
    }
    let start = Instant::now();
    let mut child = command.spawn().map_err(|source| RunError::Spawn {
        program: cmd.program.clone(),
        source,
    })?;
    let pid = child.id();
    let _owned = own_child(pid);
    let capture = Arc::new(Mutex::new(Capture::new(limits.max_output_bytes)));
    let (read_done_tx, read_done) = mpsc::channel();
    if let Some(mut stderr) = child.stderr.take() {
        let capture = Arc::clone(&capture);
        thread::spawn(move || {
            let mut chunk = vec![0u8; READ_CHUNK];
            loop {
                match stderr.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => capture
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(&chunk[..n]),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let _ = read_done_tx.send(());
        });
    }
    let (exited_tx, exited) = mpsc::channel();
    thread::spawn(move || {
        let _ = exited_tx.send(wait_exited(pid));
    });
    let wait_error = |source| RunError::Wait {
        program: cmd.program.clone(),
        pid,
        source,
    };
    let mut deadline_exceeded = false;
    match exited.recv_timeout(limits.deadline) {
        Ok(result) => result.map_err(wait_error)?,
        Err(RecvTimeoutError::Timeout) => {
            deadline_exceeded = true;
            signal_group(pid, libc::SIGTERM);
            if exited.recv_timeout(limits.grace).is_err() {
                signal_group(pid, libc::SIGKILL);
                match exited.recv_timeout(KILL_WAIT) {
                    Ok(result) => result.map_err(wait_error)?,
                    Err(_) => {
                        return Err(RunError::Unstoppable {
                            program: cmd.program.clone(),
                            pid,
                        });
                    }
                }
            }
        }
        Err(RecvTimeoutError::Disconnected) => {
            return Err(wait_error(io::Error::other("waiter thread ended")));
        }
    }
    // The leader has exited but is not reaped yet, so its group id cannot
    // be reused: stop whatever it left running (a symbolizer, a
    // minimization step) before reaping it.
    signal_group(pid, libc::SIGKILL);
    let status = child.wait().map_err(wait_error)?;
    let elapsed = start.elapsed();
    let _ = read_done.recv_timeout(limits.grace);
    let output = capture.lock().unwrap_or_else(|e| e.into_inner()).text();
    Ok(Finished {
        exit: classify_exit(status.code(), status.signal()),
        output,
        elapsed,
        deadline_exceeded,
    })
}

/// Sets the calling (child) process's niceness to at least `nice`.
/// Raising niceness is always allowed; if the process is already nicer
/// than asked, lowering it is refused (EACCES) and it stays nicer.
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

/// Blocks until process `pid` has exited, without reaping it.
fn wait_exited(pid: u32) -> io::Result<()> {
    loop {
        // SAFETY: siginfo_t is plain data; waitid writes it.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointer to a siginfo_t owned by this frame.
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

/// Sends `signal` to process group `pgid`; a group that is already gone is fine.
fn signal_group(pgid: u32, signal: i32) {
    // SAFETY: kill has no memory-safety preconditions. The group is ours:
    // its leader is our child and not yet reaped.
    unsafe {
        libc::kill(-(pgid as libc::pid_t), signal);
    }
}

/// Stderr bytes kept within a bound: the head, and a rolling tail.
struct Capture {
    half: usize,
    head: Vec<u8>,
    tail: VecDeque<u8>,
    omitted: u64,
}

impl Capture {
    fn new(max: usize) -> Capture {
        Capture {
            half: (max / 2).max(1),
            head: Vec::new(),
            tail: VecDeque::new(),
            omitted: 0,
        }
    }

    fn push(&mut self, mut bytes: &[u8]) {
        let room = self.half.saturating_sub(self.head.len());
        let take = room.min(bytes.len());
        self.head.extend_from_slice(&bytes[..take]);
        bytes = &bytes[take..];
        self.tail.extend(bytes);
        let excess = self.tail.len().saturating_sub(self.half);
        if excess > 0 {
            self.tail.drain(..excess);
            self.omitted += excess as u64;
        }
    }

    fn text(&self) -> String {
        let mut text = String::from_utf8_lossy(&self.head).into_owned();
        if self.omitted > 0 {
            text.push_str(&format!(
                "\n[fleet-crash: {} bytes of output omitted]\n",
                self.omitted
            ));
        }
        let (a, b) = self.tail.as_slices();
        let mut tail = Vec::with_capacity(a.len() + b.len());
        tail.extend_from_slice(a);
        tail.extend_from_slice(b);
        text.push_str(&String::from_utf8_lossy(&tail));
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> EngineCommand {
        let mut cmd = EngineCommand::new("/bin/sh");
        cmd.args = vec!["-c".into(), script.into()];
        cmd
    }

    #[test]
    fn captures_stderr_and_exit() {
        let limits = RunLimits::default();
        let done = run(
            &sh("echo out; echo err >&2; exit 77"),
            Path::new("/"),
            &limits,
        )
        .unwrap();
        assert_eq!(done.exit, ExitKind::Crash);
        assert_eq!(done.output, "err\n");
        assert!(!done.deadline_exceeded);
    }

    #[test]
    fn deadline_kills_the_whole_group() {
        let limits = RunLimits {
            deadline: Duration::from_millis(300),
            grace: Duration::from_millis(200),
            ..RunLimits::default()
        };
        // The shell ignores SIGTERM and leaves a grandchild; both must go.
        let start = Instant::now();
        let done = run(
            &sh("trap '' TERM; sleep 30 & echo started >&2; wait"),
            Path::new("/"),
            &limits,
        )
        .unwrap();
        assert!(done.deadline_exceeded);
        assert_eq!(done.exit, ExitKind::Signal(libc::SIGKILL));
        assert!(start.elapsed() < Duration::from_secs(10));
        assert_eq!(done.output, "started\n");
    }

    #[test]
    fn runs_at_the_requested_niceness() {
        let limits = RunLimits {
            nice: Some(19),
            ..RunLimits::default()
        };
        let done = run(
            &sh("cut -d' ' -f19 /proc/self/stat >&2"),
            Path::new("/"),
            &limits,
        )
        .unwrap();
        assert_eq!(done.output.trim(), "19");
    }

    #[test]
    fn long_output_keeps_head_and_tail() {
        let mut capture = Capture::new(8);
        capture.push(b"abcdefghij");
        capture.push(b"klmnop");
        assert_eq!(
            capture.text(),
            "abcd\n[fleet-crash: 8 bytes of output omitted]\nmnop"
        );
    }

    #[test]
    fn a_missing_program_is_a_spawn_error() {
        let cmd = EngineCommand::new("/nonexistent/fuzz-target");
        let err = run(&cmd, Path::new("/"), &RunLimits::default()).unwrap_err();
        assert!(matches!(err, RunError::Spawn { .. }), "{err}");
        assert!(err.to_string().contains("/nonexistent/fuzz-target"));
    }
}
