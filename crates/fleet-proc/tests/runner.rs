//! The runner against real processes: groups, deadlines, drops, parent-death signals,
//! captured output.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fleet_proc::{Cancel, Limits, RunError, Spawn, own_children, run};

fn sh(script: &str) -> Spawn {
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", script]);
    Spawn::new(cmd)
}

/// Whether `pid` is gone: no process, or a zombie nobody has reaped yet (an orphan
/// left to an init that does not reap).
fn gone(pid: u32) -> bool {
    fleet_sys::procfs::pid_stat(pid as i32).is_none_or(|s| s.is_zombie())
}

/// Waits up to 10 s for `cond` (a killed process takes a moment to go).
fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::yield_now();
    }
    cond()
}

fn limits(deadline_ms: u64) -> Limits {
    Limits {
        deadline: Duration::from_millis(deadline_ms),
        grace: Duration::from_millis(200),
        max_output_bytes: 1 << 20,
        cancel: None,
    }
}

#[test]
fn a_deadline_kills_the_whole_group_grandchild_too() {
    let start = Instant::now();
    let mut lines = Vec::new();
    // The shell ignores SIGTERM; the grandchild it leaves behind must go with it.
    let done = run(
        sh("trap '' TERM; sleep 100 & echo $! >&2; sleep 100"),
        &limits(300),
        &mut |l| lines.push(l.to_string()),
    )
    .unwrap();
    assert!(done.deadline_exceeded);
    assert_eq!(done.status.signal(), Some(libc::SIGKILL));
    assert!(start.elapsed() < Duration::from_secs(10));
    let grandchild: u32 = lines[0].parse().unwrap();
    assert!(
        eventually(|| gone(grandchild)),
        "grandchild {grandchild} survived"
    );
}

#[test]
fn a_cancel_from_another_thread_ends_the_run_long_before_its_deadline() {
    let cancel = Cancel::new();
    let limits = Limits {
        cancel: Some(cancel.clone()),
        ..limits(60_000)
    };
    let start = Instant::now();
    let mut lines = Vec::new();
    let done = run(
        // The shell ignores SIGTERM: the cancel ends it as a deadline would.
        sh("trap '' TERM; sleep 100 & echo $! >&2; sleep 100"),
        &limits,
        &mut |l| {
            lines.push(l.to_string());
            // The run has started (its first line came): cancel it from elsewhere.
            let c = cancel.clone();
            std::thread::spawn(move || c.cancel());
        },
    )
    .unwrap();
    assert!(done.cancelled);
    assert!(!done.deadline_exceeded, "cancelled, not timed out");
    assert_eq!(done.status.signal(), Some(libc::SIGKILL));
    assert!(start.elapsed() < Duration::from_secs(10));
    let grandchild: u32 = lines[0].parse().unwrap();
    assert!(eventually(|| gone(grandchild)));
}

#[test]
fn a_run_that_writes_without_pause_still_stops_at_its_deadline() {
    let start = Instant::now();
    let done = run(sh("yes >&2"), &limits(300), &mut |_| {}).unwrap();
    assert!(done.deadline_exceeded);
    assert!(start.elapsed() < Duration::from_secs(10));
    // And a cancel, long before the deadline.
    let cancel = Cancel::new();
    let limits = Limits {
        cancel: Some(cancel.clone()),
        ..limits(60_000)
    };
    let start = Instant::now();
    let done = run(sh("yes >&2"), &limits, &mut |_| cancel.cancel()).unwrap();
    assert!(done.cancelled && !done.deadline_exceeded);
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_run_that_ends_in_time_is_not_cut() {
    let done = run(
        sh("echo out; echo err >&2; exit 7"),
        &limits(30_000),
        &mut |_| {},
    )
    .unwrap();
    assert!(!done.deadline_exceeded);
    assert_eq!(done.status.code(), Some(7));
    assert_eq!(done.output, "err\n");
}

#[test]
fn what_a_leader_leaves_in_its_group_is_killed_when_it_exits() {
    let mut lines = Vec::new();
    let done = run(
        sh("sleep 100 & echo $! >&2; exit 0"),
        &limits(30_000),
        &mut |l| lines.push(l.to_string()),
    )
    .unwrap();
    assert!(!done.deadline_exceeded);
    let grandchild: u32 = lines[0].parse().unwrap();
    assert!(eventually(|| gone(grandchild)));
}

#[test]
fn output_is_capped_head_and_tail_kept() {
    let cap = Limits {
        max_output_bytes: 1000,
        ..limits(30_000)
    };
    let done = run(
        sh("echo first >&2; head -c 100000 /dev/zero | tr '\\0' a >&2; echo >&2; echo last >&2"),
        &cap,
        &mut |_| {},
    )
    .unwrap();
    assert!(
        done.output.starts_with("first\naaa"),
        "{}",
        &done.output[..20]
    );
    assert!(done.output.ends_with("aaa\nlast\n"));
    assert!(done.output.contains("bytes of output omitted"));
    assert!(done.output.len() < 1100, "{}", done.output.len());
}

#[test]
fn a_group_stopped_at_its_deadline_gets_sigterm_first() {
    let mut group = sh("sleep 100").spawn().unwrap();
    let ended = group
        .wait_deadline(Duration::from_millis(200), Duration::from_secs(5))
        .unwrap();
    assert!(ended.timed_out);
    assert_eq!(ended.status.signal(), Some(libc::SIGTERM));
}

#[test]
fn dropping_a_group_kills_all_of_it() {
    let mut spawn = sh("sleep 100 & echo $!; sleep 100");
    spawn.command().stdout(Stdio::piped());
    let mut group = spawn.spawn().unwrap();
    let leader = group.pid();
    let mut line = String::new();
    BufReader::new(group.take_stdout().unwrap())
        .read_line(&mut line)
        .unwrap();
    let grandchild: u32 = line.trim().parse().unwrap();
    assert!(own_children().contains(&leader));
    assert!(!gone(grandchild));
    drop(group);
    // The leader is reaped by the drop itself.
    assert!(!fleet_sys::procfs::exists(leader as i32));
    assert!(!own_children().contains(&leader));
    assert!(
        eventually(|| gone(grandchild)),
        "grandchild {grandchild} survived"
    );
}

#[test]
fn the_child_leads_its_own_group() {
    let mut spawn = sh("cut -d' ' -f5 /proc/self/stat");
    spawn.command().stdout(Stdio::piped());
    let mut group = spawn.spawn().unwrap();
    let mut pgid = String::new();
    BufReader::new(group.take_stdout().unwrap())
        .read_line(&mut pgid)
        .unwrap();
    assert_eq!(pgid.trim(), group.pid().to_string());
    assert!(group.wait().unwrap().success());
}

#[test]
fn the_child_gets_its_death_signal_when_the_spawning_thread_ends() {
    // prctl(PR_SET_PDEATHSIG) follows the thread that forked: spawned on a thread that
    // then ends, the child receives the signal asked for.
    let pid = std::thread::spawn(|| {
        sh("sleep 100")
            .death_signal(libc::SIGTERM)
            .spawn()
            .unwrap()
            .detach()
    })
    .join()
    .unwrap();
    let mut status = 0;
    // SAFETY: waits for our own child.
    let rc = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
    assert_eq!(rc, pid as libc::pid_t);
    assert!(libc::WIFSIGNALED(status));
    assert_eq!(libc::WTERMSIG(status), libc::SIGTERM);
}

#[test]
fn a_failing_pre_exec_hook_fails_the_spawn() {
    // SAFETY: the hook makes no call at all.
    let spawn =
        unsafe { sh("exit 0").pre_exec(|| Err(std::io::Error::from_raw_os_error(libc::EPERM))) };
    let err = spawn.spawn().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EPERM));
}

#[test]
fn the_child_runs_at_the_requested_niceness() {
    let done = run(
        sh("cut -d' ' -f19 /proc/self/stat >&2").nice(Some(19)),
        &limits(30_000),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(done.output.trim(), "19");
}

#[test]
fn a_missing_program_is_a_spawn_error() {
    let err = run(
        Spawn::new(Command::new("/nonexistent/fuzz-target")),
        &limits(1000),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(matches!(err, RunError::Spawn { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/fuzz-target"));
}

#[test]
fn a_timed_wait_returns_as_soon_as_the_leader_exits() {
    let mut group = sh("exit 3").spawn().unwrap();
    let start = Instant::now();
    let status = group.wait_timeout(Duration::from_secs(60)).unwrap();
    assert_eq!(status.and_then(|s| s.code()), Some(3));
    assert!(start.elapsed() < Duration::from_secs(30));
    // A second wait answers from what was reaped.
    assert_eq!(group.try_wait().unwrap().and_then(|s| s.code()), Some(3));
}

#[test]
fn a_child_handed_over_plainly_still_leads_its_own_group() {
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", "cut -d' ' -f5 /proc/self/stat"])
        .stdout(Stdio::piped());
    let child = Spawn::new(cmd).spawn_child().unwrap();
    let pid = child.id();
    assert!(!own_children().contains(&pid));
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), pid.to_string());
}
