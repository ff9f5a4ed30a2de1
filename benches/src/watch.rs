//! When each worker process of a run was alive: a thread lists a parent's children in
//! `/proc` every few milliseconds and keeps those running the target binary. Both sides
//! of a comparison are timed by this same watcher (the bench's own children by hand,
//! fuzzfleet's children under fuzzfleet), so its small cost and error fall on both.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::procs;
use fleet_run::procfs;

/// How often the children are listed: the error on each end of a lifetime is below this.
const POLL: Duration = Duration::from_millis(10);

/// One worker process as the watcher saw it.
#[derive(Clone, Debug)]
pub struct Life {
    pub pid: u32,
    /// First listing that showed it running the binary.
    pub seen: Instant,
    /// Last listing that showed it.
    pub last: Instant,
    pub args: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
}

impl Life {
    pub fn duration(&self) -> Duration {
        self.last - self.seen
    }
}

/// Every worker life of one run, in the order they started.
#[derive(Clone, Debug, Default)]
pub struct Lives(pub Vec<Life>);

impl Lives {
    /// Summed lifetimes of all worker processes, in seconds.
    pub fn worker_secs(&self) -> f64 {
        self.0.iter().map(|l| l.duration().as_secs_f64()).sum()
    }

    /// From the first worker's start to the last one's end.
    pub fn window(&self) -> Option<(Instant, Instant)> {
        let start = self.0.iter().map(|l| l.seen).min()?;
        let end = self.0.iter().map(|l| l.last).max()?;
        Some((start, end))
    }

    /// For each worker slot (the lives sharing a value of `var`, e.g. the private
    /// `TMPDIR` fuzzfleet gives each slot), the time between one process's end and the
    /// next one's start, in seconds.
    pub fn gaps_by(&self, var: &str) -> Vec<f64> {
        let mut slots: HashMap<Option<&OsString>, Vec<&Life>> = HashMap::new();
        for life in &self.0 {
            let key = life.env.iter().find(|(k, _)| k == var).map(|(_, v)| v);
            slots.entry(key).or_default().push(life);
        }
        let mut gaps = Vec::new();
        for lives in slots.values_mut() {
            lives.sort_by_key(|l| l.seen);
            gaps.extend(
                lives
                    .windows(2)
                    .map(|w| w[1].seen.duration_since(w[0].last).as_secs_f64()),
            );
        }
        gaps
    }

    pub fn window_secs(&self) -> f64 {
        self.window()
            .map_or(0.0, |(s, e)| e.duration_since(s).as_secs_f64())
    }
}

/// A running watcher; `finish` stops it and returns what it saw.
#[derive(Debug)]
pub struct Watcher {
    stop: Sender<()>,
    thread: JoinHandle<Lives>,
}

/// Starts watching the children of `parent` that run `binary`.
pub fn watch(parent: u32, binary: &Path) -> Watcher {
    let binary = binary
        .canonicalize()
        .unwrap_or_else(|e| panic!("cannot resolve {}: {e}", binary.display()));
    let (stop, rx) = mpsc::channel();
    let thread = thread::Builder::new()
        .name("watch".into())
        .spawn(move || {
            let mut alive: HashMap<u32, Life> = HashMap::new();
            let mut done = Vec::new();
            loop {
                let last_round = match rx.recv_timeout(POLL) {
                    Err(RecvTimeoutError::Timeout) => false,
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => true,
                };
                poll(parent, &binary, &mut alive, &mut done);
                if last_round {
                    break;
                }
            }
            done.extend(alive.into_values());
            done.retain(|l| is_worker(&l.args));
            done.sort_by_key(|l: &Life| l.seen);
            Lives(done)
        })
        .expect("cannot start the watcher thread");
    Watcher { stop, thread }
}

impl Watcher {
    pub fn finish(self) -> Lives {
        let _ = self.stop.send(());
        self.thread.join().expect("the watcher panicked")
    }
}

fn poll(parent: u32, binary: &PathBuf, alive: &mut HashMap<u32, Life>, done: &mut Vec<Life>) {
    let now = Instant::now();
    let children = procs::children(parent);
    let ended: Vec<u32> = alive
        .keys()
        .filter(|p| !children.contains(p))
        .copied()
        .collect();
    for pid in ended {
        done.extend(alive.remove(&pid));
    }
    for pid in children {
        if let Some(life) = alive.get_mut(&pid) {
            life.last = now;
            if life.args.is_empty() {
                read_command(life);
            }
            continue;
        }
        // A child between fork and exec still runs its parent's image: not yet a worker.
        if procfs::exe(pid as i32).is_some_and(|exe| &exe == binary) {
            let mut life = Life {
                pid,
                seen: now,
                last: now,
                args: Vec::new(),
                env: Vec::new(),
            };
            read_command(&mut life);
            alive.insert(pid, life);
        }
    }
}

/// Whether a process of the binary is a fuzzing worker: the crash pipeline's
/// reproductions (`-runs=`), minimizations (`-minimize_crash=`) and corpus replays and
/// merges run the same binary under fuzzfleet, and are not workers.
fn is_worker(args: &[OsString]) -> bool {
    !args.iter().any(|a| {
        let a = a.to_string_lossy();
        ["-runs=", "-minimize_crash=", "-merge="]
            .iter()
            .any(|flag| a.starts_with(flag))
    })
}

/// Reads the arguments and environment of a worker. Just after its exec they may still
/// be empty (the kernel switches `exe` before it sets them up): later polls try again.
fn read_command(life: &mut Life) {
    let pid = life.pid as i32;
    life.args = procfs::cmdline(pid).into_iter().skip(1).collect();
    life.env = procfs::environ(pid);
}
