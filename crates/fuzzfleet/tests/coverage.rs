//! `fuzzfleet coverage` for real: coverage builds with nightly's `-Cinstrument-coverage`
//! and clang's `-fprofile-instr-generate`, replays through them, and llvm-cov reports.
//! The fixture `cover_known` reaches a known set of functions; the bundled suite's
//! HTML report is opened in headless Chromium.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const SUITE: [&str; 20] = [
    "difficulty",
    "tx_validation",
    "utxo",
    "block",
    "merkle",
    "transaction",
    "subsidy",
    "network_message",
    "signature",
    "sha3",
    "compactsize",
    "address",
    "address_encode",
    "address_validate",
    "address_bech32",
    "address_type",
    "network_create",
    "network_checksum",
    "network_command",
    "base58",
];

fn fuzzfleet(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fuzzfleet"))
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A config declaring the Rust fixture project, in a fresh dir; `extra` is appended.
fn fixture_config(dir: &Path, extra: &str) -> std::path::PathBuf {
    let config = dir.join("fleet.toml");
    fs::write(
        &config,
        format!(
            "state_dir = \"state\"\n[[project]]\npath = \"{}\"\n{extra}",
            fleet_testkit::rust_fixture_project().display()
        ),
    )
    .unwrap();
    config
}

/// The functions of `file_suffix` in a `coverage --json` target, split by whether
/// they ran; closures are left out (they belong to their function).
fn function_sets(target: &Value, file_suffix: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut reached = BTreeSet::new();
    let mut never = BTreeSet::new();
    for f in target["functions"].as_array().unwrap() {
        if !f["file"].as_str().unwrap().ends_with(file_suffix) {
            continue;
        }
        let name = f["name"].as_str().unwrap();
        let last = name.rsplit("::").next().unwrap();
        if last.starts_with('{') {
            continue;
        }
        if f["count"].as_u64().unwrap() > 0 {
            reached.insert(last.to_owned());
        } else {
            never.insert(last.to_owned());
        }
    }
    (reached, never)
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn cover_known_reports_exactly_the_functions_its_corpus_reaches_past_a_crash() {
    let dir = fleet_testkit::state_temp_dir();
    let config = fixture_config(dir.path(), "");
    // The seeds (a…, b…, c…) plus a corpus entry that panics: the replay must
    // count it and keep the coverage of everything else.
    let corpus = dir.path().join("state/corpus/cover_known");
    fs::create_dir_all(&corpus).unwrap();
    fs::write(corpus.join("bang"), "!boom").unwrap();

    let out = fuzzfleet(&config, &["coverage", "cover_known", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for step in [
        "building the coverage variant",
        "replaying 4 input(s)",
        "merging",
        "HTML report",
    ] {
        assert!(stderr.contains(step), "no progress `{step}`: {stderr}");
    }
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["version"], 1);
    let target = &json["targets"][0];
    assert_eq!(target["target"], "cover_known");
    assert_eq!(target["replay"]["inputs"], 4);
    assert_eq!(target["replay"]["crashed"], 1);

    let (reached, never) = function_sets(target, "src/cover_known.rs");
    assert_eq!(reached, set(&["dispatch", "reached_a", "reached_b"]));
    assert_eq!(never, set(&["never_reached", "not_in_seeds", "panic_path"]));
    // Only the code under test: no harness, std or dependency file.
    for f in target["files"].as_array().unwrap() {
        let path = f["path"].as_str().unwrap();
        assert!(path.contains("/fixtures/rust/fuzz/src/"), "{path}");
    }

    // Recorded in the state: `status --json` shows the line coverage.
    let status = fuzzfleet(&config, &["status", "--json"]);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status));
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    let row = status["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "cover_known")
        .unwrap();
    // Over the files the target reaches: cover_known.rs, not the other targets' files
    // of the crate (the whole crate is the second figure).
    let lines = &target["reached"]["lines"];
    let percent = lines["covered"].as_f64().unwrap() * 100.0 / lines["total"].as_f64().unwrap();
    assert_eq!(
        row["line_coverage"].as_f64(),
        Some((percent * 10.0).round() / 10.0),
        "{row}"
    );
    let whole = &target["totals"]["lines"];
    assert_eq!(lines["covered"], whole["covered"], "{target}");
    assert!(
        lines["total"].as_u64().unwrap() < whole["total"].as_u64().unwrap(),
        "the crate has other targets' files: {target}"
    );
    let files = target["files"].as_array().unwrap();
    let reached_files = target["reached_files"].as_u64().unwrap() as usize;
    assert!(
        reached_files >= 1 && reached_files < files.len(),
        "{target}"
    );
    let clean = status["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "clean")
        .unwrap();
    assert!(clean["line_coverage"].is_null(), "never computed: {clean}");

    // The API serves both figures: over the files it reaches, and the whole crate.
    let server = fleet_serve::spawn(fleet_serve::ServeOptions {
        state_dir: dir.path().join("state"),
        listen: "127.0.0.1:0".parse().unwrap(),
        token: None,
        known_targets: vec!["cover_known".into(), "clean".into()],
        fleet: None,
    })
    .unwrap();
    let client = fleet_serve::Client::new(&server.base_url(), None);
    let (code, body) = client
        .get_raw("/api/v1/targets/cover_known/coverage")
        .unwrap();
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    let api: Value = serde_json::from_slice(&body).unwrap();
    for (mine, theirs) in [("reached", "reached"), ("whole_crate", "totals")] {
        for what in ["covered", "total"] {
            assert_eq!(
                api[mine]["lines"][what], target[theirs]["lines"][what],
                "{mine}: {api}"
            );
        }
    }
    assert_eq!(api["reached_files"], target["reached_files"]);
    let (a, b) = (
        api["reached"]["lines"]["percent"].as_f64().unwrap(),
        row["line_coverage"].as_f64().unwrap(),
    );
    assert!((a - b).abs() < 0.06, "{a} {b}");
    let (code, _) = client.get_raw("/api/v1/targets/clean/coverage").unwrap();
    assert_eq!(code, 404, "never computed");
    server.stop().unwrap();

    // The report files.
    let html = target["html"].as_str().unwrap();
    assert!(
        fs::read_to_string(html)
            .unwrap()
            .contains("Coverage Report"),
        "{html}"
    );
    let lcov = fs::read_to_string(target["lcov"].as_str().unwrap()).unwrap();
    assert!(lcov.contains("cover_known.rs"), "{lcov}");
    assert!(lcov.contains("end_of_record"), "{lcov}");

    // The table a harness author reads: never-reached, largest first.
    let out = fuzzfleet(&config, &["coverage", "cover_known", "--top", "0"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("cover_known.rs"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "reached ({reached_files} of {} files)",
            files.len()
        )) && stdout.contains("whole crate"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "cover_known: {:.1}% of the lines of the files it reaches",
            percent
        )),
        "{stdout}"
    );
    // Never reached lists only the files it reaches: no other target's function.
    let never: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("never reached"))
        .skip(2)
        .take_while(|l| l.starts_with("  "))
        .collect();
    assert!(
        !never.is_empty() && never.iter().all(|l| l.contains("cover_known")),
        "{stdout}"
    );
    let ranked: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("never reached"))
        .filter_map(|l| {
            l.split_whitespace()
                .nth(2)
                .filter(|n| n.contains("::cover_known::"))
        })
        .collect();
    assert_eq!(
        ranked,
        [
            "fuzzfleet_fixtures::cover_known::never_reached",
            "fuzzfleet_fixtures::cover_known::not_in_seeds",
            "fuzzfleet_fixtures::cover_known::panic_path",
        ],
        "{stdout}"
    );
}

#[test]
fn an_unknown_target_is_a_usage_error_naming_it() {
    let dir = fleet_testkit::state_temp_dir();
    let config = fixture_config(dir.path(), "");
    let out = fuzzfleet(&config, &["coverage", "no_such_target"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no target named \"no_such_target\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("cover_known"),
        "lists the known targets: {stderr}"
    );
}

#[test]
fn a_c_target_is_covered_through_its_configured_clang_build() {
    let dir = fleet_testkit::state_temp_dir();
    let fuzz_binary = fleet_testkit::c_fixture("clean");
    let source = fleet_testkit::repo_root().join("fixtures/c/clean.c");
    let seeds = dir.path().join("seeds");
    fs::create_dir_all(&seeds).unwrap();
    fs::write(seeds.join("tag1"), [1u8, 2, 7, 9]).unwrap();
    fs::write(seeds.join("tag2"), [2u8, 0]).unwrap();
    let config = fixture_config(
        dir.path(),
        &format!(
            "[[target]]\nname = \"c_clean\"\nbinary = \"{}\"\nseeds = \"seeds\"\n\
             coverage_build = \"mkdir -p cov && clang-14 -g -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping -o cov/c_clean {}\"\n\
             coverage_binary = \"cov/c_clean\"\n",
            fuzz_binary.display(),
            source.display()
        ),
    );
    let out = fuzzfleet(&config, &["coverage", "c_clean", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let target = &json["targets"][0];
    let files: Vec<&str> = target["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(files, [source.to_str().unwrap()]);
    let lines = &target["files"][0]["lines"];
    let covered = lines["covered"].as_u64().unwrap();
    // Tags 1 and 2 were fed, the default branch never was.
    assert!(
        covered > 0 && covered < lines["total"].as_u64().unwrap(),
        "{lines}"
    );
    let (reached, _) = function_sets(target, "clean.c");
    assert_eq!(reached, set(&["LLVMFuzzerTestOneInput"]));
}

#[test]
fn tools_that_do_not_match_the_compiler_are_named_with_the_install_command() {
    let dir = fleet_testkit::state_temp_dir();
    // A "coverage binary" built by a clang whose LLVM this machine lacks.
    let bin = dir.path().join("cov_future");
    fs::write(&bin, "#!/bin/sh\n# clang version 999.1.0\nexit 0\n").unwrap();
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
    let config = fixture_config(
        dir.path(),
        &format!(
            "[[target]]\nname = \"future\"\nbinary = \"/bin/true\"\ncoverage_binary = \"{}\"\n",
            bin.display()
        ),
    );
    let out = fuzzfleet(&config, &["coverage", "future"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("LLVM 999"), "{stderr}");
    assert!(stderr.contains("apt-get install llvm-999"), "{stderr}");

    // A prebuilt target without a coverage variant says which keys to set.
    let config = fixture_config(
        dir.path(),
        "[[target]]\nname = \"plain\"\nbinary = \"/bin/true\"\n",
    );
    let out = fuzzfleet(&config, &["coverage", "plain"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("coverage_binary"),
        "{}",
        text(&out)
    );
}

#[test]
fn every_bundled_suite_target_is_covered_over_its_seeds_and_the_html_renders() {
    let dir = fleet_testkit::state_temp_dir();
    let state = dir.path().join("state");
    let root = fleet_testkit::repo_root();
    let mut args = vec!["--state", state.to_str().unwrap(), "coverage", "--json"];
    args.extend(SUITE);
    // One cargo build of the twenty coverage binaries, then twenty replays.
    let out = fuzzfleet(&root.join("fleet.toml"), &args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let targets = json["targets"].as_array().unwrap();
    assert_eq!(targets.len(), SUITE.len());
    let core = root.join("targets/dilithion/core/src");
    for (t, name) in targets.iter().zip(SUITE) {
        assert_eq!(t["target"], name);
        assert!(t["replay"]["inputs"].as_u64().unwrap() > 0, "{name}");
        let files = t["files"].as_array().unwrap();
        assert!(!files.is_empty(), "{name}");
        for f in files {
            let path = f["path"].as_str().unwrap();
            assert!(
                Path::new(path).starts_with(&core),
                "{name}: {path} is not the code under test"
            );
        }
        let covered = t["totals"]["lines"]["covered"].as_u64().unwrap();
        assert!(covered > 0, "{name} reached no line of dilithion-core");
        eprintln!(
            "{name}: {covered}/{} lines",
            t["totals"]["lines"]["total"].as_u64().unwrap()
        );
    }

    // The HTML report as a browser renders it.
    let index = targets[0]["html"].as_str().unwrap();
    // Chromium's profile and its own temporary files (TMPDIR: it leaves empty
    // `.org.chromium.Chromium.*` files there) under the repository's test dir, never the
    // machine's /tmp; a short path, since Chromium makes a Unix socket in it (at most
    // 108 bytes: the state dir's path is too long, and Chromium then dies at start).
    let root = fleet_testkit::repo_root().join("target/test-tmp");
    std::fs::create_dir_all(&root).unwrap();
    let short = tempfile::tempdir_in(&root).unwrap();
    let profile = short.path().to_path_buf();
    let dom = Command::new("chromium")
        .env("TMPDIR", &profile)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{index}"))
        .output()
        .expect("chromium runs (.ci/run installs it: apt-get install chromium)");
    assert!(dom.status.success(), "{}", text(&dom));
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("<table"), "no table rendered: {dom}");
    assert!(dom.contains("Line Coverage"), "no coverage column: {dom}");
    assert!(
        dom.contains("difficulty.rs"),
        "no core source file row: {dom}"
    );
}

#[test]
fn every_round_of_a_scheduled_recompute_is_stored() {
    let dir = fleet_testkit::state_temp_dir();
    let config = fixture_config(dir.path(), "");
    let out = fuzzfleet(
        &config,
        &["coverage", "cover_known", "--every", "1s", "--rounds", "2"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let db = fleet_store::Db::open(&dir.path().join("state/fleet.db")).unwrap();
    let rows = db.coverage_history("cover_known", 0).unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    for row in &rows {
        assert_eq!(row.inputs, 3);
        assert!(row.lines_covered > 0 && row.lines_covered < row.lines_total);
        assert!(!row.build_id.is_empty());
    }
    assert!(rows[1].at_ms > rows[0].at_ms, "{rows:?}");
}

#[test]
fn a_campaign_recomputes_line_coverage_on_its_schedule_and_the_api_serves_its_history() {
    let dir = fleet_testkit::state_temp_dir();
    let config = fixture_config(
        dir.path(),
        "[tier.t]\ntargets = [\"cover_known\"]\nbudget = \"1h\"\n[coverage]\nevery = \"5s\"\n",
    );
    let log = fs::File::create(dir.path().join("run.log")).unwrap();
    let mut run = Command::new(env!("CARGO_BIN_EXE_fuzzfleet"))
        .arg("--config")
        .arg(&config)
        .args(["run", "--no-build", "--workers", "1", "--for", "10m"])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let db_path = dir.path().join("state/fleet.db");
    let rows = || {
        fleet_store::Db::open(&db_path)
            .and_then(|db| db.coverage_history("cover_known", 0))
            .unwrap_or_default()
    };
    // The first round waits one period, builds the coverage variant (shared with the
    // other tests here) at nice 19, and replays the corpus.
    let found = (0..600).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(500));
        rows().len() >= 2
    });
    // SAFETY: SIGTERM to the campaign this test started.
    unsafe { libc::kill(run.id() as i32, libc::SIGTERM) };
    let status = run.wait().unwrap();
    let run_log = fs::read_to_string(dir.path().join("run.log")).unwrap();
    let coverage_log =
        fs::read_to_string(dir.path().join("state/logs/coverage.log")).unwrap_or_default();
    assert!(
        found,
        "no two scheduled rounds\n{run_log}\n--- coverage.log\n{coverage_log}"
    );
    assert_eq!(status.code(), Some(0), "{run_log}");
    assert!(run_log.contains("recomputed every 5s"), "{run_log}");
    let history = rows();
    assert!(history[1].at_ms > history[0].at_ms);
    assert!(history.iter().all(|r| r.lines_covered > 0));

    // status shows the newest; the API serves the history for the dashboard's plot.
    let out = fuzzfleet(&config, &["status", "--json"]);
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    let target = status["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "cover_known")
        .unwrap();
    assert!(target["line_coverage"].as_f64().unwrap() > 0.0, "{target}");
    let server = fleet_serve::spawn(fleet_serve::ServeOptions {
        state_dir: dir.path().join("state"),
        listen: "127.0.0.1:0".parse().unwrap(),
        token: None,
        known_targets: vec!["cover_known".into()],
        fleet: None,
    })
    .unwrap();
    let series = fleet_serve::Client::new(&server.base_url(), None)
        .series_since("cover_known", 0)
        .unwrap();
    assert!(
        series.line_coverage.len() >= 2,
        "{:?}",
        series.line_coverage
    );
    assert!(
        series
            .line_coverage
            .iter()
            .all(|p| p.percent > 0.0 && p.percent < 100.0)
    );
    server.stop().unwrap();
}
