//! The baseline: N libFuzzer processes started directly, as a user would by hand, with
//! the command fuzzfleet's engine adapter builds (same flags, environment, shared corpus
//! and artifact dir, in the same state layout) plus `-max_total_time`, their output
//! copied to a log per worker.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use fleet_engine::EngineCommand;
use fleet_engine::libfuzzer::{
    ForkOptions, LibFuzzerOptions, LogLine, StatusEvent, parse_final_stats, parse_line,
    worker_command,
};

use crate::procs::Group;
use crate::scratch::copy_seeds;
use crate::watch::{self, Lives};

/// fuzzfleet's defaults for a target with no `rss_limit_mb` / `timeout_s` in its config.
pub const RSS_LIMIT_MB: u64 = 4096;
pub const TIMEOUT_S: u64 = 25;

/// How the processes fuzz.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// One libFuzzer process per worker, as fuzzfleet runs them.
    Plain,
    /// libFuzzer's fork mode, one job at a time, crashes ignored (`-fork=1 -ignore_crashes=1`).
    Fork,
}

/// Where the workers' output goes.
///
/// By default through a pipe that a thread of the bench copies into the worker's log,
/// as fuzzfleet does and as a terminal would: under heavy disk traffic from other
/// processes, libFuzzer writing its status lines straight into a file (`2> log`) lost
/// 7–23 % of its execs/s on the 2-core test machine, which would flatter fuzzfleet.
/// `FLEET_BENCH_HAND_OUTPUT=file` gives that plain redirect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Pipe,
    File,
}

impl Output {
    pub fn from_env() -> Self {
        match std::env::var("FLEET_BENCH_HAND_OUTPUT").as_deref() {
            Ok("file") => Output::File,
            Ok("pipe") | Err(_) => Output::Pipe,
            Ok(other) => panic!("FLEET_BENCH_HAND_OUTPUT={other}: expected `pipe` or `file`"),
        }
    }
}

/// One target fuzzed by hand.
#[derive(Clone, Debug)]
pub struct Spec<'a> {
    pub binary: &'a Path,
    pub target: &'a str,
    pub seeds: &'a Path,
    pub workers: usize,
    pub run_for: Duration,
    pub mode: Mode,
}

/// What a run by hand did.
#[derive(Debug)]
pub struct HandRun {
    /// Executions summed over the workers (final stats; fork mode: the parent's count).
    pub execs: u64,
    /// Crashes the fork-mode parents counted (0 in plain mode).
    pub crashes: u64,
    pub lives: Lives,
    /// CPU time of the worker processes (fork mode: with the jobs they reaped).
    pub cpu: Duration,
    pub statuses: Vec<ExitStatus>,
    /// The state dir, and the command of each worker.
    pub state: PathBuf,
    pub commands: Vec<EngineCommand>,
}

impl HandRun {
    /// Executions per second of worker time, times the number of workers.
    pub fn execs_per_sec(&self, workers: usize) -> f64 {
        self.execs as f64 * workers as f64 / self.lives.worker_secs()
    }
}

/// The state layout fuzzfleet uses, for the paths the workers see.
pub fn corpus_dir(state: &Path, target: &str) -> PathBuf {
    state.join("corpus").join(target)
}

fn incoming_dir(state: &Path, target: &str) -> PathBuf {
    state.join("incoming").join(target)
}

fn worker_tmp(state: &Path, slot: usize) -> PathBuf {
    state.join("tmp").join(format!("w{slot}"))
}

fn worker_log(state: &Path, target: &str, slot: usize) -> PathBuf {
    state.join("logs").join(target).join(format!("w{slot}.log"))
}

/// The command of worker `slot`.
pub fn command(spec: &Spec, state: &Path, slot: usize) -> EngineCommand {
    let mut opts = LibFuzzerOptions::new(
        spec.binary,
        corpus_dir(state, spec.target),
        incoming_dir(state, spec.target),
    );
    opts.rss_limit_mb = RSS_LIMIT_MB;
    opts.timeout_s = TIMEOUT_S;
    opts.print_final_stats = true;
    opts.max_total_time = Some(spec.run_for);
    if spec.mode == Mode::Fork {
        opts.fork = Some(ForkOptions::keep_going(1));
    }
    opts.env = fleet_build::Sanitizer::Address
        .runtime_asan_options()
        .map(|o| ("ASAN_OPTIONS".into(), o.into()))
        .into_iter()
        .collect();
    opts.env
        .push(("TMPDIR".into(), worker_tmp(state, slot).into_os_string()));
    worker_command(&opts)
}

/// Runs `spec.workers` processes in the fresh directory `dir` until they exit.
pub fn run(spec: &Spec, dir: &Path) -> HandRun {
    let state = dir.join("state");
    copy_seeds(spec.seeds, &corpus_dir(&state, spec.target))
        .unwrap_or_else(|e| panic!("cannot copy seeds {}: {e}", spec.seeds.display()));
    fs::create_dir_all(incoming_dir(&state, spec.target)).expect("incoming dir");
    let commands: Vec<EngineCommand> = (0..spec.workers)
        .map(|slot| command(spec, &state, slot))
        .collect();
    for slot in 0..spec.workers {
        fs::create_dir_all(worker_tmp(&state, slot)).expect("worker tmp dir");
        fs::create_dir_all(worker_log(&state, spec.target, slot).parent().unwrap())
            .expect("log dir");
    }
    let watcher = watch::watch(std::process::id(), spec.binary);
    let mut groups = Vec::new();
    let mut drained = Vec::new();
    for (slot, cmd) in commands.iter().enumerate() {
        let mut log = File::create(worker_log(&state, spec.target, slot)).expect("worker log");
        let mut c = Command::new(&cmd.program);
        c.args(&cmd.args)
            .envs(cmd.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        match Output::from_env() {
            Output::File => {
                c.stdout(log.try_clone().expect("log")).stderr(log);
            }
            Output::Pipe => {
                let (mut reader, writer) = io::pipe().expect("pipe");
                c.stdout(writer.try_clone().expect("pipe")).stderr(writer);
                let (done, rx) = mpsc::channel();
                thread::spawn(move || {
                    let _ = io::copy(&mut reader, &mut log);
                    let _ = done.send(());
                });
                drained.push(rx);
            }
        }
        groups.push(
            Group::spawn(&mut c)
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", cmd.program.display())),
        );
        // `c` and with it our copies of the pipe's write end go here, so the reader
        // sees EOF when the worker's group is gone.
    }
    // Fork mode finishes its current job after the time is up; allow for it.
    let deadline = Instant::now() + spec.run_for + Duration::from_secs(60);
    let statuses: Vec<ExitStatus> = groups
        .iter_mut()
        .map(|g| g.wait_or_kill(deadline, "a libFuzzer worker started by hand"))
        .collect();
    for rx in drained {
        rx.recv_timeout(Duration::from_secs(10))
            .expect("a worker's output was not drained 10 s after it exited");
    }
    let lives = watcher.finish();
    let cpu = groups
        .iter()
        .filter_map(|g| g.cpu())
        .map(|c| c.own + c.children)
        .sum();
    assert_eq!(
        lives.0.len(),
        spec.workers,
        "the watcher saw {} worker processes, not {}",
        lives.0.len(),
        spec.workers
    );
    let mut execs = 0;
    let mut crashes = 0;
    for slot in 0..spec.workers {
        let path = worker_log(&state, spec.target, slot);
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let (e, c) = match spec.mode {
            Mode::Plain => (final_execs(&text, &path), 0),
            Mode::Fork => fork_counts(&text, &path),
        };
        execs += e;
        crashes += c;
    }
    HandRun {
        execs,
        crashes,
        lives,
        cpu,
        statuses,
        state,
        commands,
    }
}

fn final_execs(text: &str, path: &Path) -> u64 {
    parse_final_stats(text)
        .unwrap_or_else(|e| panic!("no final stats in {}: {e}", path.display()))
        .executed_units
}

/// Total executions and crashes from a fork-mode parent's last `#N: … job:` line: it
/// sums the final stats of every finished job.
fn fork_counts(text: &str, path: &Path) -> (u64, u64) {
    text.lines()
        .rev()
        .find_map(|l| match parse_line(l) {
            Ok(Some(LogLine::Status(s))) => match s.event {
                StatusEvent::ForkJob(job) => Some((s.execs, job.crashes)),
                _ => None,
            },
            _ => None,
        })
        .unwrap_or_else(|| panic!("no fork-mode status line in {}", path.display()))
}
