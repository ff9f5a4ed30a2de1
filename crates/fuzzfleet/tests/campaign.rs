//! End-to-end campaigns on the real fixture targets: findings are kept and workers go
//! on, failures are reported and not looped, stops are clean, and a killed run resumes.

mod support;

use std::fs;
use std::time::{Duration, Instant};

use support::{Fleet, KillOnDrop, alive, children_of, signal, wait_exit, wait_until};

const MINUTE: Duration = Duration::from_secs(60);

#[test]
fn crash_is_kept_worker_fuzzes_again_and_sigterm_stops_cleanly() {
    let fleet = Fleet::new("[tier.t]\ntargets = [\"crash_magic\"]\nbudget = \"10m\"\n");
    let mut run = KillOnDrop(fleet.start(&["--workers", "1"]));

    wait_until("a crash finding", MINUTE, || !fleet.buckets().is_empty());
    let first = fleet.buckets()[0].clone();
    assert_eq!(first["target"], "crash_magic");
    // Listed at once; the crash pipeline files it as a panic bucket soon after.
    if first["signature"].is_null() {
        assert_eq!(first["kind"], "crash");
        assert_eq!(first["repro"], "pending");
    } else {
        assert_eq!(first["kind"], "panic");
        assert!(
            first["title"]
                .as_str()
                .unwrap()
                .starts_with("panic: index out of bounds"),
            "{first:#}"
        );
    }
    let input = first["input_path"].as_str().unwrap();
    assert!(fs::read(input).unwrap().starts_with(b"FUZZ"), "{input}");
    let show = fleet.output(&["crashes", "show", first["id"].as_str().unwrap(), "--json"]);
    let show: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    let report = show["report"].as_str().unwrap_or_default();
    assert!(report.contains("index out of bounds"), "report: {report}");

    // The worker died with the crash and is fuzzing again on the same corpus.
    wait_until("the worker restarted and fuzzing", MINUTE, || {
        let t = fleet.target("crash_magic");
        t["restarts"].as_i64() >= Some(1) && t["state"] == "running" && t["workers"] == 1
    });
    let workers = children_of(run.0.id());
    assert!(!workers.is_empty(), "no worker process found");

    signal(&run.0, libc::SIGTERM);
    let (code, took) = wait_exit(&mut run.0, Duration::from_secs(15));
    assert_eq!(code, Some(0), "{}", fleet.run_log());
    assert!(took < Duration::from_secs(10), "stop took {took:?}");
    // Workers are stopped and reaped; a triage run still going at the stop is killed by
    // the kernel as fuzzfleet exits (parent-death signal), a moment later.
    wait_until(
        "every child gone after the stop",
        Duration::from_secs(5),
        || workers.iter().all(|&pid| !alive(pid)),
    );
    let t = fleet.target("crash_magic");
    assert_eq!(t["state"], "stopped");
    assert!(t["crashes"].as_i64().unwrap() >= 1);
}

#[test]
fn clean_target_yields_no_finding_and_a_growing_corpus() {
    let fleet = Fleet::new("[tier.t]\ntargets = [\"clean\"]\nbudget = \"1h\"\n");
    fleet.run_once("6s", 1);
    assert!(fleet.buckets().is_empty());
    let t = fleet.target("clean");
    assert!(t["execs"].as_i64().unwrap() > 10_000, "{t}");
    assert!(t["corpus_files"].as_i64().unwrap() > 1, "{t}");
    assert!(t["coverage"].as_i64().unwrap() > 0, "{t}");
    assert!(t["last_new_coverage_at"].is_string(), "{t}");
    assert_eq!(t["crashes"], 0);
}

/// Every finding in `crashes list`, triaged into a bucket or not yet.
fn finding_ids(fleet: &Fleet) -> Vec<i64> {
    fleet
        .buckets()
        .iter()
        .flat_map(|b| b["findings"].as_array().cloned().unwrap_or_default())
        .map(|id| id.as_i64().unwrap())
        .collect()
}

#[test]
fn kill_9_loses_no_finding_and_the_next_run_resumes_the_schedule() {
    let budget = 30;
    let fleet = Fleet::new(&format!(
        "[tier.t]\ntargets = [\"crash_magic\"]\nbudget = \"{budget}s\"\n"
    ));
    let mut run = KillOnDrop(fleet.start(&["--workers", "1"]));
    let started = Instant::now();
    wait_until("findings and a flushed schedule", MINUTE, || {
        finding_ids(&fleet).len() >= 2 && started.elapsed() > Duration::from_secs(10)
    });
    let workers = children_of(run.0.id());
    signal(&run.0, libc::SIGKILL);
    let _ = run.0.wait();
    let ran = started.elapsed();
    // Workers die with fuzzfleet (parent-death signal), even on kill -9.
    wait_until("workers gone after kill -9", Duration::from_secs(5), || {
        workers.iter().all(|&p| !alive(p))
    });
    let before = finding_ids(&fleet);

    let resumed = Instant::now();
    let out = fleet.output(&["run", "--no-build", "--once", "--workers", "1"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let second = resumed.elapsed();
    // The second run finished the cycle's remaining budget, not a whole new one.
    assert!(
        second < Duration::from_secs(budget) - ran + Duration::from_secs(8),
        "second run took {second:?} after {ran:?} of a {budget}s budget"
    );
    let after = finding_ids(&fleet);
    for id in &before {
        assert!(after.contains(id), "finding {id} lost after kill -9");
    }
    for b in fleet.buckets() {
        assert!(
            fs::metadata(b["input_path"].as_str().unwrap()).is_ok(),
            "{b}"
        );
    }
}

#[test]
fn target_dying_at_start_up_is_failed_with_its_message_not_restarted() {
    let fleet = Fleet::new("[tier.t]\ntargets = [\"fail_start\"]\nbudget = \"1h\"\n");
    let started = Instant::now();
    let out = fleet.output(&["run", "--no-build", "--workers", "1"]);
    // Nothing else could run: the command says so with exit 1, and does not loop.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("fail_start: FAILED"), "{stderr}");
    let t = fleet.target("fail_start");
    assert_eq!(t["state"], "failed");
    assert_eq!(t["restarts"], 0);
    let message = t["message"].as_str().unwrap();
    assert!(
        message.contains("cannot open /nonexistent/fuzz.conf"),
        "{message}"
    );
    assert!(fleet.buckets().is_empty());
}

#[test]
fn a_seed_that_crashes_on_load_is_kept_set_aside_and_fuzzing_starts() {
    let fleet = Fleet::new(
        "[[target]]\nname = \"crash_magic\"\nseeds = \"seeds\"\n\
         [tier.t]\ntargets = [\"crash_magic\"]\nbudget = \"1h\"\n",
    );
    let seeds = fleet.path().join("seeds");
    fs::create_dir_all(&seeds).unwrap();
    fs::write(seeds.join("bad"), b"FUZZ\x05crashes on load").unwrap();
    fs::write(seeds.join("good"), b"harmless").unwrap();
    let mut run = KillOnDrop(fleet.start(&["--workers", "1"]));
    let bad_sha1 = fleet_store::sha1_hex(b"FUZZ\x05crashes on load");
    let quarantined = fleet.state().join("quarantine/crash_magic").join(&bad_sha1);
    wait_until("the crashing seed set aside", MINUTE, || {
        quarantined.exists()
    });
    wait_until("fuzzing after the bad seed", MINUTE, || {
        fleet.target("crash_magic")["state"] == "running" && fleet.run_log().contains("set aside")
    });
    // Kept as a finding (in its own entry, or filed under crash_magic's one bug).
    let kept = fleet
        .state()
        .join("crashes/crash_magic")
        .join(format!("crash-{bad_sha1}"));
    assert!(kept.is_file(), "the seed's crash is a finding");
    assert!(
        fleet
            .buckets()
            .iter()
            .any(|b| b["findings"].as_array().is_some_and(|f| !f.is_empty())),
        "{:#?}",
        fleet.buckets()
    );
    // The user's seed directory is never changed.
    assert!(seeds.join("bad").exists());
    run.stop();
}

#[test]
fn hangs_and_memory_exhaustion_become_timeout_and_oom_findings() {
    let fleet = Fleet::new(
        "[[target]]\nname = \"hang\"\ntimeout_s = 2\n\
         [[target]]\nname = \"oom\"\nrss_limit_mb = 1024\n\
         [tier.t]\ntargets = [\"hang\", \"oom\"]\nbudget = \"1h\"\nmode = \"parallel\"\n",
    );
    let mut run = KillOnDrop(fleet.start(&["--workers", "2"]));
    let kinds = || -> Vec<(String, String)> {
        fleet
            .buckets()
            .iter()
            .map(|b| {
                (
                    b["target"].as_str().unwrap().to_string(),
                    b["kind"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    wait_until(
        "a timeout and an oom finding",
        Duration::from_secs(120),
        || {
            // An untriaged input is listed with its artifact's kind (`oom`); once filed,
            // its bug has the report's kind (`out-of-memory`). Triage may come first.
            let k = kinds();
            k.contains(&("hang".into(), "timeout".into()))
                && (k.contains(&("oom".into(), "oom".into()))
                    || k.contains(&("oom".into(), "out-of-memory".into())))
        },
    );
    let oom = fleet
        .buckets()
        .into_iter()
        .find(|b| b["target"] == "oom" && (b["kind"] == "oom" || b["kind"] == "out-of-memory"))
        .unwrap();
    let show = fleet.output(&["crashes", "show", oom["id"].as_str().unwrap()]);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(text.contains("out-of-memory"), "{text}");
    run.stop();
}

#[test]
fn a_c_harness_runs_beside_a_rust_target() {
    let c_bin = fleet_testkit::c_fixture("crash_heap");
    let fleet = Fleet::new(&format!(
        "[[target]]\nname = \"c_crash_heap\"\nbinary = \"{}\"\n\
         [tier.t]\ntargets = [\"c_crash_heap\", \"clean\"]\nbudget = \"1h\"\nmode = \"parallel\"\n",
        c_bin.display()
    ));
    let mut run = KillOnDrop(fleet.start(&["--workers", "2"]));
    wait_until(
        "the C harness's heap overflow kept",
        Duration::from_secs(90),
        || {
            fleet
                .buckets()
                .iter()
                .any(|b| b["target"] == "c_crash_heap")
        },
    );
    let b = fleet
        .buckets()
        .into_iter()
        .find(|b| b["target"] == "c_crash_heap")
        .unwrap();
    let show = fleet.output(&["crashes", "show", b["id"].as_str().unwrap()]);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(text.contains("heap-buffer-overflow"), "{text}");
    wait_until("the Rust target fuzzing too", MINUTE, || {
        fleet.target("clean")["execs"].as_i64() > Some(0)
    });
    run.stop();
}

#[test]
fn a_second_run_on_the_same_state_is_refused() {
    let fleet = Fleet::new("[tier.t]\ntargets = [\"clean\"]\nbudget = \"1h\"\n");
    let mut run = KillOnDrop(fleet.start(&["--workers", "1"]));
    wait_until("the first run started", MINUTE, || {
        fleet.target("clean")["state"] == "running"
    });
    let out = fleet.output(&["run", "--no-build", "--workers", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("another `fuzzfleet run`"));
    signal(&run.0, libc::SIGINT);
    assert_eq!(wait_exit(&mut run.0, Duration::from_secs(15)).0, Some(0));
}

/// The `fuzzfleet-leak-*` entries of the machine's `/tmp`.
fn leaked_into_machine_tmp() -> std::collections::BTreeSet<std::ffi::OsString> {
    fs::read_dir("/tmp")
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().starts_with("fuzzfleet-leak-"))
        .collect()
}

/// Removes, however the test ends, every `fuzzfleet-leak-*` file that was not in the
/// machine's `/tmp` when it was made: a failing run of the test (a private `/tmp` that
/// did not hold) must not leave the machine's `/tmp` full of the harness's files.
struct LeakSweep(std::collections::BTreeSet<std::ffi::OsString>);

impl Drop for LeakSweep {
    fn drop(&mut self) {
        for name in leaked_into_machine_tmp().difference(&self.0) {
            let _ = fs::remove_file(std::path::Path::new("/tmp").join(name));
        }
    }
}

#[test]
fn a_harness_writing_to_hard_coded_tmp_paths_fills_its_private_tmp_not_the_machines() {
    let sweep = LeakSweep(leaked_into_machine_tmp());
    let unavailable = "private /tmp per worker unavailable";
    let fleet = Fleet::new("[tier.t]\ntargets = [\"leak_tmp\"]\nbudget = \"1h\"\n");
    let mut run = KillOnDrop(fleet.start(&["--workers", "1"]));
    let private = fleet.state().join("tmp/w0");
    wait_until("the harness writing into its private /tmp", MINUTE, || {
        fleet.run_log().contains(unavailable)
            || fs::read_dir(&private).is_ok_and(|d| d.count() > 100)
    });
    run.stop();
    let log = fleet.run_log();
    if let Some(line) = log.lines().find(|l| l.contains(unavailable)) {
        fleet_testkit::missing(&format!("mount namespaces for a private /tmp: {line}"));
        return;
    }
    assert_eq!(
        leaked_into_machine_tmp(),
        sweep.0,
        "the machine's /tmp grew"
    );
}

#[test]
fn a_grown_corpus_is_minimized_in_the_background_while_its_target_waits_its_turn() {
    let fleet = Fleet::new(
        "[corpus]\nminimize_growth = 2\nminimize_min_files = 50\n\
         [tier.t]\ntargets = [\"clean\", \"slow_start\"]\nbudget = \"8s\"\n",
    );
    let mut run = KillOnDrop(fleet.start(&["--workers", "1"]));
    let marker = "clean: corpus minimized in the background";
    wait_until(
        "clean's corpus minimized while slow_start runs",
        Duration::from_secs(120),
        || fleet.run_log().contains(marker),
    );
    run.stop();
    let log = fleet.run_log();
    let line = log.lines().find(|l| l.contains(marker)).unwrap();
    let n: Vec<u64> = line
        .split_once("background: ")
        .unwrap()
        .1
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    assert!(n[1] < n[0], "{line}");
    assert!(n[3] >= n[2], "{line}");
    assert!(!line.contains("old corpus kept"), "{line}");
}

/// Three tiers of one target each, for the rotation's tests.
const THREE_TIERS: &str = "[tier.a]\ntargets = [\"clean\"]\nbudget = \"1h\"\n\
                           [tier.b]\ntargets = [\"slow_unit\"]\nbudget = \"1h\"\n\
                           [tier.c]\ntargets = [\"stateful\"]\nbudget = \"1h\"\n";

#[test]
fn tiers_needing_more_workers_than_the_node_has_take_turns_and_each_gets_its_budget() {
    // Three tiers of one worker each on two slots: never more than two workers at once,
    // and `--once` still completes every tier's cycle.
    let fleet = Fleet::with_top("tier_slice = \"2s\"\n", THREE_TIERS);
    let names = ["clean", "slow_unit", "stateful"];
    let mut run = KillOnDrop(fleet.start(&["--once", "--budget", "5s", "--workers", "2"]));
    let started = Instant::now();
    let mut most = 0;
    let code = loop {
        if let Some(status) = run.0.try_wait().unwrap() {
            break status.code();
        }
        assert!(started.elapsed() < MINUTE, "{}", fleet.run_log());
        // Workers are fuzzfleet's children running a fixture (not triage or coverage).
        let workers = children_of(run.0.id())
            .into_iter()
            .filter(|pid| {
                fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| {
                    exe.file_name()
                        .is_some_and(|n| names.iter().any(|t| n == *t))
                })
            })
            .count();
        most = most.max(workers);
        std::thread::sleep(Duration::from_millis(50));
    };
    let log = fleet.run_log();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("they take turns of up to 2s"), "{log}");
    assert!(log.contains("waiting: c"), "{log}");
    assert!(most <= 2, "{most} workers at once on 2 slots\n{log}");
    assert_eq!(most, 2, "the slots were never both used\n{log}");
    for name in names {
        let t = fleet.target(name);
        assert!(t["execs"].as_i64().unwrap() > 0, "{name} never ran: {t}");
    }
    // 15 s of budget on 2 slots, plus start-ups and stops: well under the minute.
    assert!(started.elapsed() >= Duration::from_millis(7500), "{log}");
}

#[test]
fn a_restarted_run_continues_the_tiers_turns_where_they_were() {
    // Turns of an hour, runs of a few seconds: were the rotation's time not kept across
    // runs, every run would start the same two tiers and the third would never run.
    let fleet = Fleet::with_top("tier_slice = \"1h\"\n", THREE_TIERS);
    let turns = |log: &str| {
        log.lines()
            .filter_map(|l| l.split_once("tiers' turn: ").map(|(_, t)| t.to_string()))
            .collect::<Vec<_>>()
    };
    let run = || {
        let out = fleet.output(&["run", "--no-build", "--for", "4s", "--workers", "2"]);
        let log = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(0), "{log}");
        turns(&log)
    };
    let first = run();
    assert!(first[0].starts_with("a, b; waiting: c"), "{first:?}");
    let second = run();
    assert!(second[0].starts_with("a, c; waiting: b"), "{second:?}");
    let third = run();
    assert!(third[0].starts_with("b, c; waiting: a"), "{third:?}");
    assert!(fleet.target("stateful")["execs"].as_i64() > Some(0));
}

/// Whether `log` ends inside a failure report: a panic printed, its input not yet written.
fn reporting(log: &str) -> bool {
    let last_panic = log.rfind("panicked at");
    let last_artifact = log.rfind("Test unit written to");
    last_panic.is_some() && last_artifact < last_panic
}

#[test]
fn a_stop_while_a_worker_writes_a_crash_report_waits_for_its_input() {
    // slow_report takes 1.5 s to write each report: the stop below comes in the middle
    // of one, which a signal would cut off before its input is written.
    let fleet = Fleet::new("[tier.t]\ntargets = [\"slow_report\"]\nbudget = \"10m\"\n");
    let mut run = KillOnDrop(fleet.start(&["--workers", "1"]));
    let log = fleet.state().join("logs/slow_report/w0.log");
    wait_until("a report being written", MINUTE, || {
        reporting(&fs::read_to_string(&log).unwrap_or_default())
    });
    signal(&run.0, libc::SIGINT);
    let (code, _) = wait_exit(&mut run.0, Duration::from_secs(30));
    let said = fleet.run_log();
    assert_eq!(code, Some(0), "{said}");
    assert!(!said.contains("finding lost"), "{said}");
    // Every report the worker began ended with its input, and each input is a finding.
    let log = fs::read_to_string(&log).unwrap();
    let began = log.matches("panicked at").count();
    assert_eq!(log.matches("Test unit written to").count(), began, "{log}");
    let findings: i64 = fleet
        .buckets()
        .iter()
        .filter(|b| b["target"] == "slow_report")
        .map(|b| b["count"].as_i64().unwrap())
        .sum();
    assert_eq!(findings, began as i64, "{said}");
}
