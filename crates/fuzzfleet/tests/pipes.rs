//! A closed stdout (`fuzzfleet crashes list | head -1`) ends a command quietly: no
//! panic, no backtrace, exit 0 or death by SIGPIPE as `cat` would; `run` whose output's
//! reader went away stops its workers and exits as on Ctrl-C. The real binary, a real
//! pipe whose read end is closed before (or while) it writes.

mod support;

use std::io::{self, BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use support::{Fleet, KillOnDrop, alive, children_of, wait_exit};

/// Runs `cmd` with its stdout a pipe nobody reads (the read end closed before it
/// starts); returns how it ended and its stderr.
fn with_stdout_closed(mut cmd: Command) -> (ExitStatus, String) {
    let (reader, writer) = io::pipe().unwrap();
    drop(reader);
    cmd.stdout(writer).stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    drop(cmd);
    let out = child.wait_with_output().unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn quiet(what: &str, status: ExitStatus, stderr: &str) {
    assert!(
        status.code() == Some(0) || status.signal() == Some(libc::SIGPIPE),
        "{what}: {status}, stderr: {stderr}"
    );
    assert_eq!(stderr, "", "{what}: {status}");
}

#[test]
fn reports_piped_into_a_reader_that_is_gone_end_quietly() {
    let fleet = Fleet::new("[tier.t]\ntargets = [\"crash_magic\"]\nbudget = \"3s\"\n");
    fleet.run_once("3s", 1);
    assert!(!fleet.buckets().is_empty());
    for args in [
        &["crashes", "list"][..],
        &["crashes", "list", "--json"],
        &["status"],
        &["status", "--json"],
        &["--help"],
        &["doctor"],
    ] {
        let (status, stderr) = with_stdout_closed(fleet.cmd(args));
        quiet(&args.join(" "), status, &stderr);
    }
}

#[test]
fn a_run_whose_output_reader_goes_away_stops_its_workers_and_exits_cleanly() {
    let fleet = Fleet::new("[tier.t]\ntargets = [\"crash_often\"]\nbudget = \"1h\"\n");
    let (reader, writer) = io::pipe().unwrap();
    let mut cmd = fleet.cmd(&["run", "--no-build", "--workers", "1", "--verbose"]);
    cmd.stdout(writer.try_clone().unwrap()).stderr(writer);
    let mut run = KillOnDrop(cmd.spawn().unwrap());
    drop(cmd);
    // Read until the worker runs, then close the read end (as `head` does).
    let (seen_tx, seen) = mpsc::channel();
    thread::spawn(move || {
        let mut lines = BufReader::new(reader).lines();
        let mut read = Vec::new();
        while let Some(Ok(line)) = lines.next() {
            let started = line.contains("fuzzing on");
            read.push(line);
            if started {
                break;
            }
        }
        let _ = seen_tx.send(read);
    });
    let read = seen
        .recv_timeout(Duration::from_secs(60))
        .expect("no `fuzzing on` line within 60 s");
    assert!(
        read.last().is_some_and(|l| l.contains("fuzzing on")),
        "{read:?}"
    );
    let mut workers = children_of(run.0.id());
    let deadline = Instant::now() + Duration::from_secs(30);
    while workers.is_empty() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
        workers = children_of(run.0.id());
    }
    assert!(!workers.is_empty(), "no worker started");
    // crash_often restarts its worker every few seconds, and --verbose prints each
    // restart: the next line finds the reader gone, and the run stops as on SIGTERM.
    let (code, took) = wait_exit(&mut run.0, Duration::from_secs(60));
    assert_eq!(code, Some(0), "after {took:?}");
    for pid in workers {
        assert!(!alive(pid), "worker {pid} outlived the run");
    }
    // Its state is whole: the next command reads it.
    assert!(fleet.target("crash_often")["execs"].as_i64() > Some(0));
}
