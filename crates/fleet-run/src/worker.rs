//! One worker process: spawned in its own process group with a parent-death signal and a
//! private temp dir, its output read on its own thread into a bounded log and turned
//! into events, and its end reported exactly once, after its whole group is gone.

use std::ffi::{CString, OsString};
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Sender};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid, waitpid};
use nix::unistd::Pid;

use crate::events::{Event, RunId, WorkerExit, WorkerMsg};
use crate::worker_output::{BoundedLog, read_output};

/// After the process ended, how long to wait for its output to drain (a grandchild that
/// left the group may hold the pipe open forever).
const DRAIN_WAIT: Duration = Duration::from_secs(3);

/// Everything needed to start one worker.
#[derive(Clone, Debug)]
pub struct WorkerSpec {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
    pub log_path: PathBuf,
    /// The worker's private temp dir: `TMPDIR`, and `/tmp` itself when `hide_tmp`.
    pub tmp_dir: PathBuf,
    /// Bind-mount `tmp_dir` over `/tmp` in a private mount namespace (where permitted).
    pub hide_tmp: bool,
    /// The log is rotated once at half this size, so at most this much is kept.
    pub max_log_bytes: u64,
    /// The memory watch (and cgroup) of this run; `None`: unwatched.
    pub memory: Option<crate::resources::MemoryWatch>,
}

/// A running worker, owned by the dispatcher.
#[derive(Debug)]
pub struct Worker {
    pub run: RunId,
    pub pid: Pid,
    pub started: Instant,
}

impl Worker {
    /// Signals the worker's whole process group. The leader is never reaped before the
    /// dispatcher has seen its exit, so the group id cannot have been reused.
    pub fn signal(&self, sig: Signal) {
        let _ = killpg(self.pid, sig);
    }

    /// Reaps the (already exited) leader; called once its `Exited` event arrived.
    pub fn reap(&self) {
        let _ = waitpid(self.pid, None);
    }
}

/// Starts a worker; its messages arrive on `tx` tagged with `run`.
pub fn spawn(run: RunId, spec: &WorkerSpec, tx: Sender<Event>) -> io::Result<Worker> {
    reset_dir(&spec.tmp_dir)?;
    if let Some(dir) = spec.log_path.parent() {
        fs::create_dir_all(dir)?;
    }
    let (reader, writer) = io::pipe()?;
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .env("TMPDIR", &spec.tmp_dir)
        .stdin(Stdio::null())
        .stdout(writer.try_clone()?)
        .stderr(writer)
        .process_group(0);
    let parent = std::process::id() as libc::pid_t;
    let tmp = CString::new(spec.tmp_dir.as_os_str().as_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let hide_tmp = spec.hide_tmp;
    let cgroup_procs = match spec.memory.as_ref().and_then(|m| m.cgroup.as_ref()) {
        Some(cg) => Some(
            CString::new(cg.procs_file().as_os_str().as_bytes())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
        ),
        None => None,
    };
    // SAFETY: the closure runs between fork and exec and only makes raw syscalls on
    // memory prepared before the fork; it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            // Die with fuzzfleet, even on `kill -9` (the signal follows the spawning
            // thread, which is the dispatcher: it lives as long as the campaign).
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                return Err(io::Error::other("fuzzfleet exited while starting a worker"));
            }
            // Join the run's memory cgroup before exec, so every byte the worker ever
            // allocates (and every process it starts) is under its limit.
            if let Some(procs) = &cgroup_procs {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    return Err(io::Error::last_os_error());
                }
                let written = libc::write(fd, c"0".as_ptr().cast(), 1);
                libc::close(fd);
                if written != 1 {
                    return Err(io::Error::last_os_error());
                }
            }
            // A worker starts with no signal blocked and the stop signals at their
            // defaults, whatever fuzzfleet inherited (a shell's `&` ignores SIGINT; a
            // parent may block SIGTERM): otherwise it could not be stopped gracefully.
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
            for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
                libc::signal(sig, libc::SIG_DFL);
            }
            if hide_tmp && libc::unshare(libc::CLONE_NEWNS) == 0 {
                // Private propagation first, so the bind below never reaches the host.
                let flags = libc::MS_REC | libc::MS_PRIVATE;
                if libc::mount(
                    std::ptr::null(),
                    c"/".as_ptr(),
                    std::ptr::null(),
                    flags,
                    std::ptr::null(),
                ) == 0
                {
                    libc::mount(
                        tmp.as_ptr(),
                        c"/tmp".as_ptr(),
                        std::ptr::null(),
                        libc::MS_BIND | libc::MS_REC,
                        std::ptr::null(),
                    );
                }
            }
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    // Close our copies of the pipe's write end, so the reader sees EOF when the group ends.
    drop(cmd);
    let pid = Pid::from_raw(child.id() as i32);
    let started = Instant::now();

    // A watch that cannot start leaves the worker to libFuzzer's limit (and its cgroup).
    let watch = spec
        .memory
        .clone()
        .and_then(|m| m.start(run, pid, tx.clone()).ok());
    let log = BoundedLog::open(&spec.log_path, spec.max_log_bytes)?;
    let (done_tx, done_rx) = mpsc::channel();
    let reader_tx = tx.clone();
    thread::Builder::new()
        .name(format!("worker-{run}-out"))
        .spawn(move || {
            let summary = read_output(run, reader, log, &reader_tx);
            let _ = done_tx.send(summary);
        })?;
    thread::Builder::new()
        .name(format!("worker-{run}-wait"))
        .spawn(move || {
            let (code, signal) = wait_exit(pid);
            // The watch ends before the leader can be reaped: it never signals a reused pid.
            let memory = watch.map(|w| w.stop());
            // Whatever the leader left behind in its group goes too.
            let _ = killpg(pid, Signal::SIGKILL);
            let summary = done_rx.recv_timeout(DRAIN_WAIT).unwrap_or_default();
            let _ = tx.send(Event::Worker(
                run,
                WorkerMsg::Exited(WorkerExit {
                    code,
                    signal,
                    tail: summary.tail,
                    saw_inited: summary.saw_inited,
                    at: Instant::now(),
                    memory,
                }),
            ));
        })?;
    Ok(Worker { run, pid, started })
}

/// Waits for the leader to end without reaping it (WNOWAIT keeps its pid reserved).
fn wait_exit(pid: Pid) -> (Option<i32>, Option<i32>) {
    loop {
        match waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT) {
            Ok(WaitStatus::Exited(_, code)) => return (Some(code), None),
            Ok(WaitStatus::Signaled(_, sig, _)) => return (None, Some(sig as i32)),
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return (None, None),
        }
    }
}

/// Empties (or creates) a directory, so a restarted worker starts from a clean temp dir.
pub fn reset_dir(dir: &Path) -> io::Result<()> {
    match fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    fs::create_dir_all(dir)
}
