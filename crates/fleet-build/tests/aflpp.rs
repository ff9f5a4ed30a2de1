//! The AFL++ route end to end on a real fixture: AFL++ built from source for rustc's
//! LLVM, crash_magic built twice from its unchanged libFuzzer harness (coverage and
//! CmpLog), afl-fuzz run with the engine's own command, its crash collected as an
//! aflpp finding and reproduced by the libFuzzer build, its figures read back.
//!
//! Without AFL++ (no llvm-config of rustc's LLVM, no source, no nightly) the test
//! says why and skips, or fails under FUZZFLEET_CI=1.

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fleet_build::{AflBuild, BuildOptions, Sanitizer, build_afl_project, find_afl_build};
use fleet_engine::FindingKind;
use fleet_engine::aflpp::{
    AflOptions, CmpLog, ENGINE_NAME, OutputScan, ScanResult, fuzz_command, parse_fuzzer_stats,
};
use fleet_testkit::{missing, rust_fixture, rust_fixture_project, rust_fixture_seeds, wait_until};

/// afl-fuzz, stopped with SIGTERM (then killed) when the test ends either way.
struct Fuzzer(Child);

impl Drop for Fuzzer {
    fn drop(&mut self) {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..100 {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn aflpp_build_of_crash_magic_finds_its_crash_with_cmplog() {
    let project = rust_fixture_project();
    let opts = BuildOptions {
        targets: vec!["crash_magic".into()],
        sanitizer: Sanitizer::None,
        ..BuildOptions::default()
    };
    let mut events = Vec::new();
    let (install, target) = match build_afl_project(&project, &opts, &mut |e| events.push(e)) {
        Ok(AflBuild::Built {
            install,
            mut targets,
        }) => (install, targets.remove(0)),
        Ok(AflBuild::Unavailable(why)) => {
            missing(&format!("AFL++ cannot be built here: {why}"));
            return;
        }
        Err(e) => panic!("{e}"),
    };
    assert_eq!(target.name, "crash_magic");
    // What a campaign looks up later, without building.
    let (found_install, found) = find_afl_build(&project, "nightly", "crash_magic").unwrap();
    assert_eq!((&found_install, &found), (&install, &target));
    assert_eq!(find_afl_build(&project, "nightly", "no_such_target"), None);
    assert_ne!(
        fs::read(&target.afl).unwrap(),
        fs::read(&target.cmplog).unwrap(),
        "the CmpLog build must differ from the coverage build"
    );
    // Linked with AFL++'s driver, not libFuzzer: libFuzzer's flags parser is absent.
    let afl_bin = fs::read(&target.afl).unwrap();
    assert!(
        contains(&afl_bin, b"__afl_area_ptr"),
        "not AFL++-instrumented"
    );
    assert!(
        !contains(&afl_bin, b"_ZN6fuzzer12FuzzerDriver"),
        "libFuzzer was linked"
    );

    let dir = fleet_testkit::state_temp_dir();
    let out = dir.path().join("aflpp");
    let mut o = AflOptions::new(
        install.afl_fuzz(),
        &target.afl,
        rust_fixture_seeds("crash_magic"),
        &out,
        "main",
    );
    o.cmplog = Some(CmpLog::Binary(target.cmplog.clone()));
    o.timeout_ms = Some(1000);
    o.max_total_time_s = Some(120);
    let cmd = fuzz_command(&o).unwrap();
    let log = fs::File::create(dir.path().join("afl-fuzz.log")).unwrap();
    let mut command = Command::new(&cmd.program);
    command
        .args(&cmd.args)
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    let fuzzer = Fuzzer(command.spawn().unwrap());

    let mut scan = OutputScan::new(out.join("main"));
    let mut seen = ScanResult::default();
    let log_path = dir.path().join("afl-fuzz.log");
    wait_until(
        "afl-fuzz to save crash_magic's crash",
        Duration::from_secs(90),
        || {
            let r = scan.scan(Duration::from_millis(200)).unwrap();
            seen.corpus.extend(r.corpus);
            seen.findings.extend(r.findings);
            !seen.findings.is_empty()
        },
    );
    let finding = &seen.findings[0];
    assert_eq!(finding.engine, ENGINE_NAME);
    assert_eq!(finding.kind, FindingKind::Crash);
    assert_eq!(finding.signal, Some(6), "a Rust panic aborts");
    let input = fs::read(&finding.input).unwrap();
    assert!(input.starts_with(b"FUZZ"), "{input:?}");
    // Queue entries found by the instance (not its seeds) are corpus for the others.
    assert!(!seen.corpus.is_empty(), "no queue entries collected");
    assert!(seen.corpus.iter().all(|e| !e.seed && e.path.is_file()));
    // A second scan reports nothing twice.
    let again = scan.scan(Duration::ZERO).unwrap();
    assert!(
        again.findings.iter().all(|f| f.input != finding.input)
            && again
                .corpus
                .iter()
                .all(|e| seen.corpus.iter().all(|s| s.path != e.path)),
        "entries reported twice"
    );

    // Triage's route: the libFuzzer (ASan) build reproduces AFL++'s crash with a report.
    let repro = Command::new(rust_fixture("crash_magic"))
        .arg(&finding.input)
        .env("ASAN_OPTIONS", "detect_odr_violation=0")
        .output()
        .unwrap();
    assert!(!repro.status.success());
    let stderr = String::from_utf8_lossy(&repro.stderr);
    assert!(stderr.contains("index out of bounds"), "{stderr}");

    // Its figures, as the engine reads them (written every 2 s).
    let stats_path = out.join("main/fuzzer_stats");
    wait_until("fuzzer_stats", Duration::from_secs(20), || {
        stats_path.is_file()
    });
    let stats = parse_fuzzer_stats(&fs::read_to_string(&stats_path).unwrap())
        .unwrap_or_else(|e| panic!("{e}; log: {}", tail(&log_path)));
    assert!(stats.execs_done > 0 && stats.edges_found > 0, "{stats:?}");
    assert_eq!(stats.afl_version, format!("++{}", install.version));
    drop(fuzzer);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
