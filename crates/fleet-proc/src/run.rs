//! Running a child to its end within a deadline, its stderr captured up to a byte cap
//! and handed over line by line as it comes.

use std::io::{self, Read};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use crate::capture::{Capture, Lines};
use crate::group::{KILL_WAIT, Spawn, wait_exited};

const READ_CHUNK: usize = 64 * 1024;
/// The longest line handed to a caller whole; a longer one comes in pieces.
const MAX_LINE: usize = 64 * 1024;
/// Chunks of output read ahead of the lines handed over.
const IN_FLIGHT: usize = 16;
/// How often a run that can be cancelled looks at its flag.
const CANCEL_POLL: Duration = Duration::from_millis(50);

/// Ends a run early from another thread, as its deadline would (SIGTERM, grace,
/// SIGKILL): a campaign that stops does not wait for a minimization to use up its
/// budget. Clones share one flag; once cancelled it stays cancelled.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Two limits are equal when they cancel through the same flag.
impl PartialEq for Cancel {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Cancel {}

/// How a run is bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock limit of the whole process group; then SIGTERM, `grace`, SIGKILL.
    pub deadline: Duration,
    pub grace: Duration,
    /// Stderr kept: the first and the last half of this many bytes.
    pub max_output_bytes: usize,
    /// Ends the run before its deadline when set (see [`Cancel`]).
    pub cancel: Option<Cancel>,
}

/// What one run did.
#[derive(Debug, Clone)]
pub struct Captured {
    pub status: ExitStatus,
    /// Stderr, lossily decoded; the middle is cut when it was too long.
    pub output: String,
    /// From the start to the leader's exit.
    pub elapsed: Duration,
    pub deadline_exceeded: bool,
    /// Stopped early by its [`Cancel`].
    pub cancelled: bool,
}

/// Why a run could not be carried out (a child that fails is a result, not an error).
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
}

enum Msg {
    Chunk(Vec<u8>),
    Eof,
    Exited(io::Result<()>),
}

/// Where a run stands while its leader has not exited.
enum Phase {
    Running,
    Terminated,
    Killed,
}

/// Runs `spawn` (stdin and stdout null, stderr captured) to its end within `limits`,
/// handing each line of stderr to `on_line` as it comes. Past the deadline the group gets
/// SIGTERM, `grace`, then SIGKILL; once the leader exits, whatever it left in its group
/// is killed, and its output is read for at most `grace` more (a grandchild that left
/// the group may hold the pipe open).
pub fn run(
    mut spawn: Spawn,
    limits: &Limits,
    on_line: &mut dyn FnMut(&str),
) -> Result<Captured, RunError> {
    let program = PathBuf::from(spawn.command().get_program());
    spawn
        .command()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut group = spawn.spawn().map_err(|source| RunError::Spawn {
        program: program.clone(),
        source,
    })?;
    let pid = group.pid();
    let wait_error = |source| RunError::Wait {
        program: program.clone(),
        pid,
        source,
    };
    // Bounded: a child that writes faster than its lines are handled waits on its pipe,
    // rather than piling its output up in memory.
    let (tx, rx) = mpsc::sync_channel(IN_FLIGHT);
    let mut eof = true;
    if let Some(mut stderr) = group.take_stderr() {
        eof = false;
        let tx = tx.clone();
        thread::Builder::new()
            .name(format!("run-{pid}-err"))
            .spawn(move || {
                let mut chunk = vec![0u8; READ_CHUNK];
                loop {
                    match stderr.read(&mut chunk) {
                        Ok(0) => break,
                        Ok(n) => {
                            if tx.send(Msg::Chunk(chunk[..n].to_vec())).is_err() {
                                return;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
                let _ = tx.send(Msg::Eof);
            })
            .map_err(wait_error)?;
    }
    thread::Builder::new()
        .name(format!("run-{pid}-wait"))
        .spawn(move || {
            let _ = tx.send(Msg::Exited(wait_exited(pid)));
        })
        .map_err(wait_error)?;

    let mut capture = Capture::new(limits.max_output_bytes);
    let mut lines = Lines::new(MAX_LINE);
    let mut phase = Phase::Running;
    let mut until = start + limits.deadline;
    let mut exited_at: Option<Instant> = None;
    let mut deadline_exceeded = false;
    let mut cancelled = false;
    while exited_at.is_none() || !eof {
        // Looked at before each message, not only when none comes: a run that writes
        // without pause must still stop at its deadline or its cancel, and its output
        // is read for no longer than `grace` after the exit.
        if exited_at.is_some() && Instant::now() >= until {
            break;
        }
        if exited_at.is_none() && matches!(phase, Phase::Running) {
            let now = Instant::now();
            let cancel = limits.cancel.as_ref().is_some_and(Cancel::is_cancelled);
            if now >= until || cancel {
                cancelled = now < until;
                deadline_exceeded = !cancelled;
                group.signal(libc::SIGTERM);
                phase = Phase::Terminated;
                until = now + limits.grace;
            }
        }
        let mut wait = until.saturating_duration_since(Instant::now());
        // Still running (the check above did not stop it): wake to look at the flag.
        if limits.cancel.is_some() && exited_at.is_none() && matches!(phase, Phase::Running) {
            wait = wait.min(CANCEL_POLL);
        }
        match rx.recv_timeout(wait) {
            Ok(Msg::Chunk(bytes)) => {
                capture.push(&bytes);
                lines.push(&bytes, on_line);
            }
            Ok(Msg::Eof) => eof = true,
            Ok(Msg::Exited(result)) => {
                result.map_err(wait_error)?;
                let now = Instant::now();
                exited_at = Some(now);
                // The leader is unreaped, so its group id is still ours: what it left
                // running goes now, which also closes the pipe it may hold.
                group.signal(libc::SIGKILL);
                until = now + limits.grace;
            }
            Err(RecvTimeoutError::Timeout) if exited_at.is_some() => break,
            Err(RecvTimeoutError::Timeout) => match phase {
                // The deadline or a cancel: the top of the loop stops it.
                Phase::Running => {}
                Phase::Terminated => {
                    group.signal(libc::SIGKILL);
                    phase = Phase::Killed;
                    until = Instant::now() + KILL_WAIT;
                }
                Phase::Killed => {
                    // Dropping the group would wait KILL_WAIT again: it is left to the
                    // subreaper.
                    group.detach();
                    return Err(RunError::Unstoppable { program, pid });
                }
            },
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    lines.finish(on_line);
    let status = group.wait().map_err(wait_error)?;
    Ok(Captured {
        status,
        output: capture.text(),
        elapsed: exited_at.unwrap_or_else(Instant::now) - start,
        deadline_exceeded,
        cancelled,
    })
}
