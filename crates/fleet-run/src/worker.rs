//! One worker process: spawned in its own process group with a parent-death signal and a
//! private temp dir, its output read on its own thread into a bounded log and turned
//! into events, and its end reported exactly once, after its whole group is gone.

use std::ffi::{CStr, CString, OsString};
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid, waitpid};
use nix::unistd::Pid;

use fleet_proc::Spawn;

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
    /// Bind-mount `tmp_dir` over `/tmp` in a private mount namespace; spawning fails
    /// where that is not permitted (the caller may then spawn without).
    pub hide_tmp: bool,
    /// Paths the worker needs (state dir, binary, dict): those under `/tmp` are bound
    /// back onto the same path under its private `/tmp`, so they stay visible.
    pub visible: Vec<PathBuf>,
    /// Keep `tmp_dir`'s contents when the worker ends (for debugging); otherwise it is
    /// emptied once the worker's whole process group is gone.
    pub keep_tmp: bool,
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
    /// Set by the output reader while the worker writes a failure report.
    writing_report: Arc<AtomicBool>,
}

impl Worker {
    /// Signals the worker's whole process group. The leader is never reaped before the
    /// dispatcher has seen its exit, so the group id cannot have been reused.
    pub fn signal(&self, sig: Signal) {
        let _ = killpg(self.pid, sig);
    }

    /// Whether the worker is writing a failure report (one started in its output and
    /// its input is not written yet): a graceful stop waits for it.
    pub fn writing_report(&self) -> bool {
        self.writing_report.load(Ordering::Relaxed)
    }

    /// Reaps the (already exited) leader; called once its `Exited` event arrived.
    pub fn reap(&self) {
        let _ = waitpid(self.pid, None);
    }
}

/// Starts a worker; its messages arrive on `tx` tagged with `run`.
pub fn spawn(run: RunId, spec: &WorkerSpec, tx: Sender<Event>) -> io::Result<Worker> {
    discard_dir(&spec.tmp_dir)?;
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
        .stderr(writer);
    let private_tmp = if spec.hide_tmp {
        Some(PrivateTmp::prepare(&spec.tmp_dir, &spec.visible)?)
    } else {
        None
    };
    let cgroup_procs = match spec.memory.as_ref().and_then(|m| m.cgroup.as_ref()) {
        Some(cg) => Some(
            CString::new(cg.procs_file().as_os_str().as_bytes())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
        ),
        None => None,
    };
    // Its own group, and SIGKILL when fuzzfleet dies, even on `kill -9` (the signal
    // follows the spawning thread, which is the dispatcher: it lives as long as the
    // campaign); then the worker's own steps.
    // SAFETY: the hook runs between fork and exec and only makes raw syscalls on
    // memory prepared before the fork; it allocates nothing.
    let spawn = unsafe {
        Spawn::new(cmd).pre_exec(move || {
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
            if let Some(p) = &private_tmp {
                p.enter()?;
            }
            Ok(())
        })
    };
    let child = spawn.spawn_child().map_err(|e| match spec.hide_tmp {
        // The mount namespace is the likely refusal; the caller tells which by
        // spawning again without it.
        true => io::Error::new(e.kind(), format!("{e} (with a private /tmp)")),
        false => e,
    })?;
    // The dispatcher signals, waits for and reaps the worker itself (below and in
    // `Worker::reap`), always while its leader is unreaped.
    let pid = Pid::from_raw(child.id() as i32);
    let started = Instant::now();

    // A watch that cannot start leaves the worker to libFuzzer's limit (and its cgroup).
    let watch = spec
        .memory
        .clone()
        .and_then(|m| m.start(run, pid, tx.clone()).ok());
    let log = BoundedLog::open(&spec.log_path, spec.max_log_bytes)?;
    let (done_tx, done_rx) = mpsc::channel();
    let (keep_tmp, tmp_dir) = (spec.keep_tmp, spec.tmp_dir.clone());
    let reader_tx = tx.clone();
    let writing_report = Arc::new(AtomicBool::new(false));
    let reporting = Arc::clone(&writing_report);
    thread::Builder::new()
        .name(format!("worker-{run}-out"))
        .spawn(move || {
            let summary = read_output(run, reader, log, &reader_tx, &reporting);
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
            // What the worker left in its temp dir goes with it (before `Exited`, so a
            // restart on this slot never races the removal).
            if !keep_tmp {
                let _ = discard_dir(&tmp_dir);
            }
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
    Ok(Worker {
        run,
        pid,
        started,
        writing_report,
    })
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

/// Set (to anything but `0`), workers' temp dirs are kept when they end, for debugging.
pub const KEEP_TMP_ENV: &str = "FUZZFLEET_KEEP_TMP";

/// Whether [`KEEP_TMP_ENV`] asks to keep workers' temp dirs.
pub fn keep_tmp_requested() -> bool {
    std::env::var_os(KEEP_TMP_ENV).is_some_and(|v| !v.is_empty() && v != "0")
}

/// A private `/tmp` for one worker, every C string it needs made before the fork: the
/// worker's own dir, bind-mounted over `/tmp` in a mount namespace of its own, with
/// the paths it needs under the old `/tmp` bound back onto the same paths first.
struct PrivateTmp {
    dir: CString,
    /// (source, mount point inside `dir`), outermost first.
    binds: Vec<(CString, CString)>,
}

impl PrivateTmp {
    /// Works out the binds for `visible` and makes their mount points inside `dir` (a
    /// directory for a directory, an empty file for a file). Paths not under `/tmp`,
    /// or missing, need nothing.
    fn prepare(dir: &Path, visible: &[PathBuf]) -> io::Result<Self> {
        let cstr = |p: &Path| {
            CString::new(p.as_os_str().as_bytes())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
        };
        let mut binds = Vec::new();
        for (source, inside) in tmp_binds(visible) {
            let Ok(meta) = fs::metadata(&source) else {
                continue;
            };
            let point = dir.join(&inside);
            if meta.is_dir() {
                fs::create_dir_all(&point)?;
            } else {
                if let Some(parent) = point.parent() {
                    fs::create_dir_all(parent)?;
                }
                fs::File::create(&point)?;
            }
            binds.push((cstr(&source)?, cstr(&point)?));
        }
        Ok(Self {
            dir: cstr(dir)?,
            binds,
        })
    }

    /// Between fork and exec: a private mount namespace whose `/tmp` is `dir`, the binds
    /// in place. Only raw system calls on memory made before the fork.
    fn enter(&self) -> io::Result<()> {
        let mount = |source: &CStr, target: &CStr, flags: libc::c_ulong| {
            // SAFETY: both strings live in `self`, made before the fork.
            let rc = unsafe {
                libc::mount(
                    source.as_ptr(),
                    target.as_ptr(),
                    std::ptr::null(),
                    flags,
                    std::ptr::null(),
                )
            };
            if rc == 0 {
                Ok(())
            } else {
                Err(io::Error::last_os_error())
            }
        };
        // SAFETY: unshare has no memory preconditions.
        if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // Private propagation first, so no mount below ever reaches the host.
        // SAFETY: a null source and type are allowed for a propagation change.
        if unsafe {
            libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            )
        } != 0
        {
            return Err(io::Error::last_os_error());
        }
        for (source, point) in &self.binds {
            mount(source, point, libc::MS_BIND | libc::MS_REC)?;
        }
        mount(&self.dir, c"/tmp", libc::MS_BIND | libc::MS_REC)
    }
}

/// For each of `paths` under `/tmp` (the outermost of nested ones only), the path to
/// bind and where it goes relative to the private `/tmp`. A file directly in `/tmp`
/// is bound alone; a deeper file brings its directory (a binary's libraries sit next
/// to it). `/tmp` itself is never bound: that would be no private `/tmp` at all.
pub fn tmp_binds(paths: &[PathBuf]) -> Vec<(PathBuf, PathBuf)> {
    let tmp = Path::new("/tmp");
    let mut wanted: Vec<PathBuf> = paths
        .iter()
        .filter_map(|p| {
            let p = std::path::absolute(p).ok()?;
            // The path as the worker uses it (not canonical: a symlink under /tmp must
            // be there by its own name), with `.` and doubled slashes gone.
            let p: PathBuf = p.components().collect();
            let inside = p.strip_prefix(tmp).ok()?;
            if inside.as_os_str().is_empty() {
                return None;
            }
            let whole = if p.is_dir() || inside.components().count() == 1 {
                p.clone()
            } else {
                p.parent()?.to_path_buf()
            };
            Some(whole)
        })
        .collect();
    wanted.sort();
    wanted.dedup();
    let mut out: Vec<(PathBuf, PathBuf)> = Vec::new();
    for p in wanted {
        // Sorted, so a path's ancestors come before it.
        if out.iter().any(|(outer, _)| p.starts_with(outer)) {
            continue;
        }
        let inside = p
            .strip_prefix(tmp)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        out.push((p, inside));
    }
    out
}

/// Whether a worker can have a private `/tmp` here, with `visible` bound back: runs
/// `sh` the way a worker starts, its private `/tmp` in `dir` (made, then removed), and
/// checks that its `/tmp` is `dir` and that it sees each of `visible`. What `doctor`
/// shows.
pub fn probe_private_tmp(dir: &Path, visible: &[PathBuf]) -> io::Result<()> {
    reset_dir(dir)?;
    // `dir` itself must be found inside to be compared with `/tmp`.
    let mut needed = visible.to_vec();
    needed.push(dir.to_path_buf());
    let result = (|| {
        let tmp = PrivateTmp::prepare(dir, &needed)?;
        let mut cmd = Command::new("/bin/sh");
        cmd.args([
            "-c",
            r#"test /tmp -ef "$1" || exit 3; shift; for p; do test -e "$p" || exit 4; done"#,
            "sh",
        ])
        .arg(dir)
        .args(visible.iter().filter(|p| p.exists()))
        .stdin(Stdio::null());
        // SAFETY: `enter` makes raw system calls on memory prepared before the fork.
        let mut probe = unsafe { Spawn::new(cmd).pre_exec(move || tmp.enter()) }.spawn()?;
        let ended = probe.wait_deadline(PROBE_DEADLINE, Duration::from_secs(1))?;
        if ended.timed_out {
            return Err(io::Error::other("the probe did not end in time"));
        }
        match ended.status.code() {
            Some(0) => Ok(()),
            Some(3) => Err(io::Error::other(
                "/tmp inside the namespace is not the private dir",
            )),
            Some(4) => Err(io::Error::other(
                "a path the worker needs is not visible under the private /tmp",
            )),
            other => Err(io::Error::other(format!("the probe exited {other:?}"))),
        }
    })();
    let _ = fs::remove_dir_all(dir);
    result
}

/// How long the private `/tmp` probe (a shell running `test`) may take.
const PROBE_DEADLINE: Duration = Duration::from_secs(30);

/// Prefix of a temp dir set aside to be removed in the background.
pub const DISCARDED_PREFIX: &str = ".discarded-";

/// Empties (or creates) `dir` at once: its contents are renamed aside and removed by a
/// background thread, so a worker that left millions of files holds up neither its
/// end nor the next start. What a process that died mid-removal left aside is removed
/// by the next removal in the same parent (or by the disk guard's prune).
pub fn discard_dir(dir: &Path) -> io::Result<()> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
        return reset_dir(dir);
    };
    let aside = parent.join(format!(
        "{DISCARDED_PREFIX}{}-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    match fs::rename(dir, &aside) {
        Ok(()) => sweep(parent),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        // Not renamable (a mount point, say): emptied in place.
        Err(_) => return reset_dir(dir),
    }
    fs::create_dir_all(dir)
}

/// Removes every dir set aside in `parent`, on one background thread per parent.
fn sweep(parent: &Path) {
    use std::collections::BTreeSet;
    use std::sync::Mutex;
    static SWEEPING: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());
    let aside = |parent: &Path| -> Vec<PathBuf> {
        fs::read_dir(parent)
            .map(|d| {
                d.flatten()
                    .filter(|e| {
                        e.file_name()
                            .to_string_lossy()
                            .starts_with(DISCARDED_PREFIX)
                    })
                    .map(|e| e.path())
                    .collect()
            })
            .unwrap_or_default()
    };
    let parent = parent.to_path_buf();
    if !SWEEPING
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(parent.clone())
    {
        // The thread there lists the parent again before it ends: it finds this one.
        return;
    }
    let mine = parent.clone();
    let work = move || {
        loop {
            let mut found = aside(&parent);
            if found.is_empty() {
                let mut sweeping = SWEEPING.lock().unwrap_or_else(|e| e.into_inner());
                // Listed again under the lock: a dir set aside meanwhile is not missed.
                found = aside(&parent);
                if found.is_empty() {
                    sweeping.remove(&parent);
                    return;
                }
            }
            let mut removed = false;
            for dir in found {
                removed |= fs::remove_dir_all(dir).is_ok();
            }
            if !removed {
                // Nothing would go (permissions): no spinning on it; the next sweep
                // here tries again.
                SWEEPING
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&parent);
                return;
            }
        }
    };
    if thread::Builder::new()
        .name("tmp-sweeper".into())
        .spawn(work)
        .is_err()
    {
        // Nothing to run it on: the next sweep here takes it up.
        SWEEPING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&mine);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    #[test]
    fn only_the_outermost_paths_under_tmp_are_bound_back() {
        let binds = tmp_binds(&[
            p("/tmp/ff-test-state-that-does-not-exist"),
            p("/tmp/ff-test-state-that-does-not-exist/corpus/t"),
            p("/var/lib/fuzzfleet"),
            p("/tmp"),
            p("/tmp/"),
            p("/tmp/x.dict"),
            p("/tmp/build/bin/target_bin"),
            p("/tmp//build/./bin/other_bin"),
            p("/tmpfoo/state"),
        ]);
        assert_eq!(
            binds,
            vec![
                (p("/tmp/build/bin"), p("build/bin")),
                (
                    p("/tmp/ff-test-state-that-does-not-exist"),
                    p("ff-test-state-that-does-not-exist")
                ),
                (p("/tmp/x.dict"), p("x.dict")),
            ]
        );
    }

    #[test]
    fn a_discarded_dir_is_empty_at_once_and_its_contents_go_in_the_background() {
        let root = fleet_testkit::state_temp_dir();
        let dir = root.path().join("w0");
        fs::create_dir_all(dir.join("leveldb-1")).unwrap();
        for i in 0..2000 {
            fs::write(dir.join(format!("leak-{i}")), b"x").unwrap();
        }
        // What a process killed mid-removal left aside goes too.
        let stale = root.path().join(format!("{DISCARDED_PREFIX}w1-1-0"));
        fs::create_dir_all(stale.join("d")).unwrap();
        discard_dir(&dir).unwrap();
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let entries = || fs::read_dir(root.path()).unwrap().count();
        while entries() > 1 && std::time::Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        let left: Vec<_> = fs::read_dir(root.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left, [std::ffi::OsString::from("w0")]);
    }

    #[test]
    fn a_private_tmp_shows_the_paths_under_the_machines_tmp_a_worker_needs() {
        if unsafe { libc::geteuid() } != 0 {
            fleet_testkit::missing("a mount namespace needs root here");
            return;
        }
        // A state dir under the machine's /tmp, removed even if the test fails.
        let outer = tempfile::Builder::new()
            .prefix("fuzzfleet-test-")
            .tempdir_in("/tmp")
            .unwrap();
        let state = outer.path().join("state");
        let bin = outer.path().join("bin");
        fs::create_dir_all(state.join("corpus/t")).unwrap();
        fs::create_dir_all(&bin).unwrap();
        fs::write(bin.join("target"), b"").unwrap();
        let dir = state.join("tmp/w0");
        probe_private_tmp(&dir, &[state.clone(), bin.join("target")]).unwrap();
        // The probe cleans up after itself: nothing inside the state dir's tmp/.
        assert!(!dir.exists());
        // Without the binds, the same paths are hidden: the probe sees they are not.
        reset_dir(&dir).unwrap();
        let prepared = PrivateTmp::prepare(&dir, &[]).unwrap();
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", r#"test -e "$1""#, "sh"]).arg(&state);
        // SAFETY: `enter` makes raw system calls on memory prepared before the fork.
        let mut probe = unsafe { Spawn::new(cmd).pre_exec(move || prepared.enter()) }
            .spawn()
            .unwrap();
        assert!(!probe.wait().unwrap().success());
    }
}
