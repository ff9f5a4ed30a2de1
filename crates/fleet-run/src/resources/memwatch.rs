//! The memory watch of one worker: samples its memory (its cgroup's anonymous memory,
//! else the RSS of its whole process group) every few milliseconds, asks libFuzzer to
//! dump the running input (SIGABRT, which its crash handler answers by writing it) when
//! the worker nears its hard limit, and kills the group at the limit when no cgroup
//! does. It runs beside the worker's wait thread and ends before the worker is reaped,
//! so the pid it signals is always the worker's.

use fleet_sys::procfs;
use std::collections::BTreeSet;
use std::sync::mpsc::{self, Sender};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use super::cgroup::WorkerCgroup;
use crate::events::{Event, RunId, WorkerMsg};

/// Sampling period past half the limit: at the fixture's ~500 MB/s this is ~10 MB
/// between samples, inside the 1/16 of the limit between the dump trigger and the hard
/// limit.
const SAMPLE: Duration = Duration::from_millis(20);
/// Sampling period below half the limit: reaching the dump trigger from there within
/// one period takes growth of over 4 GB/s at a 4 GiB limit (1 GB/s at 256 MiB).
const SAMPLE_FAR: Duration = Duration::from_millis(100);
/// RSS mode rescans the process group's members this often (a /proc walk); in between
/// it reads only the known members' statm.
const RESCAN_MEMBERS: Duration = Duration::from_millis(500);
/// After the dump request, how long the worker gets to write its input and exit before
/// its group is killed.
const DUMP_GRACE: Duration = Duration::from_secs(5);
/// While the worker writes its report, its cgroup limit is raised by this much: the
/// sanitizer's stack trace starts `llvm-symbolizer` in the same cgroup, which a worker
/// at its limit could not afford. The fuzzer itself is stopped (the signal runs its
/// handler on the fuzzing thread), so the fuzzer's own memory does not grow meanwhile.
const REPORT_ALLOWANCE_MB: u64 = 512;

/// Memory limits of one worker, in MiB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The hard limit: the cgroup's, or where the RSS watch kills the group.
    pub hard_mb: u64,
    /// Passed to libFuzzer as `-rss_limit_mb`: it writes the `oom-` input itself.
    pub libfuzzer_mb: u64,
    /// Where fuzzfleet asks libFuzzer to dump the running input (its own check runs
    /// once a second, too slow for a fast grower).
    pub dump_mb: u64,
}

impl Limits {
    /// libFuzzer at 7/8 of the hard limit, the dump request at 15/16.
    pub fn for_hard(hard_mb: u64) -> Limits {
        let hard_mb = hard_mb.max(16);
        Limits {
            hard_mb,
            libfuzzer_mb: hard_mb - hard_mb / 8,
            dump_mb: hard_mb - hard_mb / 16,
        }
    }
}

/// What a worker's watch is told at spawn.
#[derive(Clone, Debug)]
pub struct MemoryWatch {
    pub limits: Limits,
    /// The worker's own cgroup, or `None` for the RSS watch.
    pub cgroup: Option<WorkerCgroup>,
}

/// What the watch saw over the worker's life.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryOutcome {
    /// Peak memory of the fuzzing in MiB: the kernel's high-water mark of the fuzzer
    /// process's RSS (VmHWM) and the worker's memory samples up to a dump request (the
    /// report writing after it runs under the raised limit and is not counted).
    pub peak_mb: u64,
    /// The cgroup's own peak counter, report writing included (cgroup mechanisms only).
    pub cgroup_peak_mb: Option<u64>,
    /// fuzzfleet asked for a dump (the worker neared its limit).
    pub dump_requested: bool,
    /// The worker was killed at its hard limit (by the kernel or by the RSS watch).
    pub killed_at_limit: bool,
}

/// A running watch; `stop` ends it and returns what it saw.
pub struct Running {
    stop: Sender<()>,
    handle: thread::JoinHandle<MemoryOutcome>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("memwatch::Running")
    }
}

impl MemoryWatch {
    /// Starts watching worker `pid` (the leader of its process group).
    pub fn start(self, run: RunId, pid: Pid, tx: Sender<Event>) -> std::io::Result<Running> {
        let (stop, stopped) = mpsc::channel::<()>();
        let handle = thread::Builder::new()
            .name(format!("worker-{run}-mem"))
            .spawn(move || {
                realtime();
                let mut state = Watch {
                    limits: self.limits,
                    cgroup: self.cgroup,
                    pid,
                    members: BTreeSet::new(),
                    scanned_at: None,
                    outcome: MemoryOutcome::default(),
                    dump_at: None,
                    last_mb: 0,
                };
                // The stop message (or the wait thread dropping its sender) ends the loop;
                // the timeout is the sampling clock.
                while let Err(mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(state.period())
                {
                    state.sample(run, &tx);
                }
                state.finish()
            })?;
        Ok(Running { stop, handle })
    }
}

impl Running {
    /// Ends the watch (the worker has exited) and returns its outcome.
    pub fn stop(self) -> MemoryOutcome {
        let _ = self.stop.send(());
        self.handle.join().unwrap_or_default()
    }
}

struct Watch {
    limits: Limits,
    cgroup: Option<WorkerCgroup>,
    pid: Pid,
    members: BTreeSet<i32>,
    scanned_at: Option<Instant>,
    outcome: MemoryOutcome,
    dump_at: Option<Instant>,
    /// The last sample, MiB.
    last_mb: u64,
}

impl Watch {
    /// Frequent samples only near the limit: far from it they cost CPU for nothing.
    fn period(&self) -> Duration {
        if self.last_mb < self.limits.hard_mb / 2 {
            SAMPLE_FAR
        } else {
            SAMPLE
        }
    }

    fn sample(&mut self, run: RunId, tx: &Sender<Event>) {
        let bytes = match &self.cgroup {
            Some(cg) => cg.anon_bytes(),
            None => Some(self.group_rss()),
        };
        let Some(bytes) = bytes else {
            return;
        };
        let mb = bytes >> 20;
        self.last_mb = mb;
        if self.dump_at.is_none() {
            self.outcome.peak_mb = self.outcome.peak_mb.max(mb);
        }
        if let Some(hwm) = vm_hwm_mb(self.pid.as_raw()) {
            self.outcome.peak_mb = self.outcome.peak_mb.max(hwm);
        }
        // While the worker writes its report its symbolizer counts too: the allowance.
        let hard = match self.dump_at {
            Some(_) => self.limits.hard_mb + REPORT_ALLOWANCE_MB,
            None => self.limits.hard_mb,
        };
        // The raised limit is for the report's symbolizer, not for the fuzzer: if the
        // fuzzer itself still grows (libFuzzer's own out-of-memory handler was already
        // busy printing its heap profile, so the crash handler returned at once), the
        // group goes, and the input with it, rather than the limit.
        if self.dump_at.is_some()
            && (statm_resident(self.pid.as_raw()).unwrap_or(0) * page_bytes()) >> 20
                > self.limits.hard_mb + self.limits.hard_mb / 32
        {
            let _ = killpg(self.pid, Signal::SIGKILL);
            self.outcome.killed_at_limit = true;
            return;
        }
        if self.cgroup.is_none() && mb >= hard {
            // No kernel limit here: the RSS watch is the backstop.
            let _ = killpg(self.pid, Signal::SIGKILL);
            self.outcome.killed_at_limit = true;
            return;
        }
        match self.dump_at {
            None if mb >= self.limits.dump_mb => {
                // Sent before the signal, so the dispatcher knows the artifact that
                // follows is an out-of-memory input, not a crash.
                let _ = tx.send(Event::Worker(
                    run,
                    WorkerMsg::MemoryLimit {
                        used_mb: mb,
                        limit_mb: self.limits.hard_mb,
                    },
                ));
                if let Some(cg) = &self.cgroup {
                    let _ = cg.raise_limit(self.limits.hard_mb + REPORT_ALLOWANCE_MB);
                }
                signal_main_thread(self.pid, Signal::SIGABRT);
                self.outcome.dump_requested = true;
                self.dump_at = Some(Instant::now());
            }
            Some(at) if at.elapsed() >= DUMP_GRACE => {
                let _ = killpg(self.pid, Signal::SIGKILL);
            }
            _ => {}
        }
    }

    /// RSS of every process in the worker's group, in bytes.
    fn group_rss(&mut self) -> u64 {
        if self
            .scanned_at
            .is_none_or(|t| t.elapsed() >= RESCAN_MEMBERS)
        {
            self.members = group_members(self.pid.as_raw());
            self.scanned_at = Some(Instant::now());
        }
        let page = page_bytes();
        let mut total = 0;
        self.members.retain(|pid| match statm_resident(*pid) {
            Some(pages) => {
                total += pages * page;
                true
            }
            None => false,
        });
        total
    }

    fn finish(mut self) -> MemoryOutcome {
        if let Some(cg) = &self.cgroup {
            self.outcome.cgroup_peak_mb = cg.peak_bytes().map(|b| b >> 20);
            if cg.oom_kills() > 0 {
                self.outcome.killed_at_limit = true;
            }
            cg.kill_and_remove();
        }
        self.outcome
    }
}

/// Runs the calling thread at the lowest realtime priority where allowed (root, or
/// CAP_SYS_NICE): on a loaded machine a sample must not wait ~100 ms for a core while
/// the worker grows 40 MB. The thread sleeps between samples of well under a
/// millisecond, and the kernel's realtime throttling bounds it regardless.
fn realtime() {
    let param = libc::sched_param { sched_priority: 1 };
    // SAFETY: pid 0 is the calling thread; `param` outlives the call. Failure (no
    // privilege) leaves the thread at normal priority.
    unsafe {
        libc::sched_setscheduler(0, libc::SCHED_FIFO, &param);
    }
}

/// Sends `sig` to the process's main thread (its tid is its pid), where libFuzzer runs
/// the inputs: the handler then runs on the thread that allocates, which stops growing.
fn signal_main_thread(pid: Pid, sig: Signal) {
    // SAFETY: tgkill with plain integers; the pid is a worker not yet reaped.
    let r = unsafe { libc::syscall(libc::SYS_tgkill, pid.as_raw(), pid.as_raw(), sig as i32) };
    if r != 0 {
        let _ = kill(pid, sig);
    }
}

/// The kernel's high-water mark of a process's RSS (`VmHWM` in /proc/PID/status), MiB.
fn vm_hwm_mb(pid: i32) -> Option<u64> {
    procfs::vm_hwm_kb(pid).map(|kb| kb >> 10)
}

fn page_bytes() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 { n as u64 } else { 4096 }
}

/// Resident pages of a process (`/proc/PID/statm`, second field).
fn statm_resident(pid: i32) -> Option<u64> {
    procfs::statm_resident(pid)
}

/// Pids whose process group is `pgid`.
pub fn group_members(pgid: i32) -> BTreeSet<i32> {
    procfs::processes()
        .into_iter()
        .filter(|(_, s)| s.pgrp == pgid)
        .map(|(pid, _)| pid)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libfuzzer_gets_a_little_less_than_the_hard_limit_and_the_dump_sits_between() {
        let l = Limits::for_hard(256);
        assert_eq!((l.libfuzzer_mb, l.dump_mb, l.hard_mb), (224, 240, 256));
        let l = Limits::for_hard(4096);
        assert_eq!((l.libfuzzer_mb, l.dump_mb), (3584, 3840));
    }

    #[test]
    fn group_rss_counts_every_process_of_the_group() {
        use std::os::unix::process::CommandExt;
        // A group of two shells: the leader and a child it starts.
        let mut leader = std::process::Command::new("/bin/sh")
            .args(["-c", "sleep 30 & wait"])
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = leader.id() as i32;
        fleet_testkit::wait_until("two members", Duration::from_secs(10), || {
            group_members(pgid).len() == 2
        });
        let mut w = Watch {
            limits: Limits::for_hard(4096),
            cgroup: None,
            pid: Pid::from_raw(pgid),
            members: BTreeSet::new(),
            scanned_at: None,
            outcome: MemoryOutcome::default(),
            dump_at: None,
            last_mb: 0,
        };
        let total = w.group_rss();
        let each: Vec<u64> = group_members(pgid)
            .iter()
            .map(|p| statm_resident(*p).unwrap() * page_bytes())
            .collect();
        assert_eq!(w.members.len(), 2);
        assert!(each.iter().all(|&b| b > 0));
        // Both members counted (resident sizes may move by a page between reads).
        assert!(
            total + (64 << 10) >= each.iter().sum::<u64>(),
            "{total} {each:?}"
        );
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        let _ = leader.wait();
    }
}
