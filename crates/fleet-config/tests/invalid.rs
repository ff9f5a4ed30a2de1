//! One test per file under `fixtures/configs/invalid/`: each must fail to load with
//! exactly the message (file, line, dotted key, text) users will see.

use std::path::PathBuf;

use fleet_config::load;

/// The fixture directory, canonical so the absolute paths in messages are exact.
fn invalid_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/configs/invalid")
        .canonicalize()
        .expect("fixtures/configs/invalid exists")
}

/// Loads `name.toml` and checks that it fails with exactly `expected`, each
/// `(line, key, message)`; `{dir}` in a message stands for the fixture directory.
fn check(name: &str, expected: &[(usize, &str, &str)]) {
    let dir = invalid_dir();
    let path = dir.join(format!("{name}.toml"));
    let error = load(&path).expect_err("an invalid config must not load");
    let got: Vec<(Option<usize>, &str, &str)> = error
        .all()
        .map(|e| (e.line, e.key.as_str(), e.message.as_str()))
        .collect();
    let dir_text = dir.display().to_string();
    let want_messages: Vec<String> = expected
        .iter()
        .map(|(_, _, message)| message.replace("{dir}", &dir_text))
        .collect();
    let want: Vec<(Option<usize>, &str, &str)> = expected
        .iter()
        .zip(&want_messages)
        .map(|((line, key, _), message)| (Some(*line), *key, message.as_str()))
        .collect();
    assert_eq!(got, want, "{name}");
    assert!(error.all().all(|e| e.path == path));
    // And as users read it: `file:line: key: message`, one per line.
    let display: Vec<String> = want
        .iter()
        .map(|(line, key, message)| {
            format!("{}:{}: {key}: {message}", path.display(), line.unwrap())
        })
        .collect();
    assert_eq!(error.to_string(), display.join("\n"));
}

macro_rules! invalid {
    ($test:ident, $file:literal, $line:literal, $key:literal, $message:expr) => {
        #[test]
        fn $test() {
            check($file, &[($line, $key, $message)]);
        }
    };
}

invalid!(
    unknown_key_top_level,
    "unknown-key-top",
    3,
    "worker_count",
    "unknown key (expected one of `state_dir`, `workers`, `tier_slice`, `progress_every`, `schedule`, `strategies`, `defaults`, `project`, `harnesses`, `target`, `tier`, `node`, `hub`, `alerts`, `corpus`, `crashes`, `coverage`)"
);
invalid!(
    unknown_key_in_defaults,
    "unknown-key-defaults",
    4,
    "defaults.rss_limit",
    "unknown key (expected one of `engine`, `rss_limit_mb`, `timeout_s`, `sanitizer`, `max_len`, `args`, `engines`)"
);
invalid!(
    unknown_key_in_target,
    "unknown-key-target",
    9,
    "target[1].dictionary",
    "unknown key (expected one of `name`, `binary`, `engine`, `dict`, `seeds`, `rss_limit_mb`, `timeout_s`, `max_len`, `sanitizer`, `args`, `coverage_build`, `coverage_binary`, `afl_binary`, `afl_cmplog_binary`)"
);
invalid!(
    unknown_key_in_tier,
    "unknown-key-tier",
    9,
    "tier.tier1.budgte",
    "unknown key (expected one of `targets`, `budget`, `mode`, `slice`, `workers`)"
);
invalid!(
    coverage_build_without_its_binary,
    "coverage-build-without-binary",
    5,
    "target[0].coverage_build",
    "`coverage_build` needs `coverage_binary`: the path of the binary the command builds"
);
invalid!(
    empty_coverage_build,
    "coverage-build-empty",
    5,
    "target[0].coverage_build",
    "`coverage_build` is empty (expected a shell command that builds `coverage_binary`)"
);
invalid!(
    coverage_build_overwriting_the_fuzz_binary,
    "coverage-binary-is-fuzz-binary",
    6,
    "target[0].coverage_binary",
    r#"coverage_binary "/bin/sh" is the fuzzing binary: the coverage build must not overwrite it"#
);
invalid!(
    missing_prebuilt_coverage_binary,
    "coverage-binary-missing",
    5,
    "target[0].coverage_binary",
    r#"coverage_binary "/nonexistent/cov/harness" does not exist"#
);
invalid!(
    toml_syntax_error,
    "syntax-error",
    8,
    "tier.tier1.budget",
    "invalid TOML: string values must be quoted, expected literal string"
);
invalid!(
    bad_duration,
    "bad-duration",
    8,
    "tier.tier1.budget",
    r#"invalid duration "48x" (expected e.g. "30s", "12h", "2d")"#
);
invalid!(
    zero_duration,
    "zero-duration",
    8,
    "tier.tier1.budget",
    r#"duration "0s" must be positive"#
);
invalid!(
    duration_not_a_string,
    "duration-not-a-string",
    8,
    "tier.tier1.budget",
    r#"invalid type: integer `3600`, expected a duration string such as "30s", "12h" or "2d""#
);
invalid!(
    tier_without_budget,
    "missing-budget",
    6,
    "tier.tier1",
    "missing key `budget`"
);
invalid!(
    tier_naming_an_unknown_target,
    "tier-unknown-target",
    7,
    "tier.tier1.targets[1]",
    r#"unknown target "blok2" (did you mean "block"?)"#
);
invalid!(
    missing_binary,
    "missing-binary",
    4,
    "target[0].binary",
    r#"binary "/nonexistent/fuzzers/fuzz_block" does not exist"#
);
invalid!(
    relative_binary_resolves_against_the_config_dir,
    "relative-missing-binary",
    4,
    "target[0].binary",
    r#"binary "{dir}/bin/fuzz_block" does not exist"#
);
invalid!(
    binary_not_executable,
    "binary-not-executable",
    4,
    "target[0].binary",
    r#"binary "{dir}/files/not-executable" is not executable (chmod +x it)"#
);
invalid!(
    duplicate_target_name,
    "duplicate-target",
    7,
    "target[1].name",
    r#"duplicate target name "block" (first defined on line 3)"#
);
invalid!(
    tier_with_zero_workers,
    "tier-zero-workers",
    9,
    "tier.tier1.workers",
    "must be a positive integer, got 0"
);
invalid!(
    negative_workers,
    "negative-workers",
    2,
    "workers",
    "must be 0 (one per core) or a positive integer, got -2"
);
invalid!(
    zero_timeout,
    "zero-timeout",
    3,
    "defaults.timeout_s",
    "must be a positive integer, got 0"
);
invalid!(
    missing_project_dir,
    "missing-project",
    3,
    "project[0].path",
    r#"project directory "{dir}/no-such-project/fuzz" does not exist"#
);
invalid!(
    not_a_cargo_fuzz_project,
    "not-cargo-fuzz-project",
    3,
    "project[0].path",
    r#""{dir}/files/not-a-fuzz-project" is not a cargo-fuzz project (no fuzz_targets/ directory in it or in its fuzz/)"#
);
invalid!(
    unknown_engine,
    "unknown-engine",
    3,
    "defaults.engine",
    r#"unknown engine "afl" (expected "libfuzzer")"#
);
invalid!(
    engine_not_supported_yet,
    "unsupported-engine",
    5,
    "target[0].engine",
    r#"engine "aflpp" runs beside libfuzzer, not alone: list it in `engines = ["libfuzzer", "aflpp"]` (and give a prebuilt target `afl_binary`)"#
);
invalid!(
    engines_without_libfuzzer,
    "engines-without-libfuzzer",
    3,
    "defaults.engines",
    r#"engines must include "libfuzzer": every engine's crashes are reproduced with the libFuzzer build (e.g. engines = ["libfuzzer", "aflpp"])"#
);
invalid!(
    afl_cmplog_without_afl_binary,
    "afl-cmplog-without-afl-binary",
    5,
    "target[0].afl_cmplog_binary",
    "`afl_cmplog_binary` needs `afl_binary` (the AFL++ build CmpLog runs beside)"
);
invalid!(
    afl_binary_not_executable,
    "afl-binary-not-executable",
    5,
    "target[0].afl_binary",
    r#"afl_binary "{dir}/files/not-executable" is not executable (chmod +x it)"#
);
invalid!(
    unknown_sanitizer,
    "unknown-sanitizer",
    3,
    "defaults.sanitizer",
    r#"unknown sanitizer "memory" (expected "address" or "none")"#
);
invalid!(
    empty_tier,
    "empty-tier",
    7,
    "tier.tier1.targets",
    "empty tier: list at least one target"
);
invalid!(
    target_in_two_tiers,
    "target-in-two-tiers",
    11,
    "tier.tier2.targets[0]",
    r#"target "block" is already in tier "tier1" (a target belongs to one tier)"#
);
invalid!(
    node_naming_an_unknown_tier,
    "node-unknown-tier",
    12,
    "node.singapore.tiers[1]",
    r#"unknown tier "tier3" (did you mean "tier1"?)"#
);
invalid!(
    bad_hub_url_scheme,
    "bad-hub-scheme",
    3,
    "hub.url",
    r#"unsupported hub url scheme "https://" (expected "file://" or "s3://")"#
);
invalid!(
    alert_percentage_over_100,
    "bad-alert-percent",
    4,
    "alerts.mem_percent",
    "must be a percentage from 1 to 100, got 120"
);
invalid!(
    disk_pause_threshold_not_above_the_warning,
    "bad-disk-critical",
    5,
    "alerts.disk_critical_percent",
    "must be above disk_percent (90), got 85: the warning comes before the pause"
);
invalid!(
    zero_alert_sustain,
    "zero-sustain",
    3,
    "alerts.sustain",
    r#"duration "0s" must be positive"#
);
invalid!(
    corpus_growth_factor_below_2,
    "bad-minimize-growth",
    3,
    "corpus.minimize_growth",
    "must be 0 (off) or a growth factor of at least 2, got 1"
);
invalid!(
    target_name_with_path_characters,
    "bad-target-name",
    3,
    "target[0].name",
    r#"invalid target name "../block": starts with '.' (names become directory names)"#
);
invalid!(
    target_name_too_long,
    "long-target-name",
    3,
    "target[0].name",
    r#"invalid target name "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx": is 65 characters long (at most 64)"#
);
invalid!(
    missing_dict,
    "missing-dict",
    5,
    "target[0].dict",
    r#"dict "{dir}/dicts/block.dict" does not exist"#
);
invalid!(
    missing_seeds,
    "missing-seeds",
    5,
    "target[0].seeds",
    r#"seeds "/nonexistent/seeds/block" does not exist"#
);
invalid!(
    options_for_a_target_no_project_defines,
    "override-unknown-target",
    7,
    "target[1].name",
    r#"target "merkle" has no `binary` and no project defines it (set `binary` for a prebuilt target)"#
);
invalid!(
    libfuzzer_flag_not_name_equals_value,
    "bad-args",
    5,
    "target[0].args[1]",
    r#"invalid libFuzzer flag "--only_ascii" (expected "-name=value")"#
);
invalid!(
    libfuzzer_flag_that_has_its_own_key,
    "reserved-args",
    5,
    "target[0].args[0]",
    r#"libFuzzer flag "-timeout" cannot be set in args: set it with the `timeout_s` key"#
);
invalid!(
    ssh_destination_read_as_an_option,
    "bad-ssh",
    11,
    "node.singapore.ssh",
    r#"invalid ssh destination "-oProxyCommand=sh": starts with '-', which ssh would read as an option (expected "user@host" or "user@host:port")"#
);
invalid!(
    slice_on_a_sequential_tier,
    "slice-without-parallel",
    9,
    "tier.tier1.slice",
    r#"`slice` is only used with mode = "parallel""#
);
invalid!(
    unknown_tier_mode,
    "unknown-mode",
    9,
    "tier.tier1.mode",
    r#"unknown mode "round-robin" (expected "sequential" or "parallel")"#
);
invalid!(
    number_given_as_a_string,
    "wrong-type",
    3,
    "defaults.rss_limit_mb",
    r#"invalid type: string "4096", expected an integer"#
);

#[test]
fn several_errors_are_all_reported_in_line_order() {
    check(
        "several-errors",
        &[
            (
                2,
                "workers",
                "must be 0 (one per core) or a positive integer, got -1",
            ),
            (
                7,
                "target[0].dict",
                r#"dict "/nonexistent/block.dict" does not exist"#,
            ),
            (10, "tier.tier1.targets[1]", r#"unknown target "merkle""#),
            (
                11,
                "tier.tier1.budget",
                r#"invalid duration "2 fortnights" (expected e.g. "30s", "12h", "2d")"#,
            ),
            (
                14,
                "alerts.disk_percent",
                "must be a percentage from 1 to 100, got 0",
            ),
        ],
    );
}

/// Every fixture in the directory has a test above (a new fixture without one fails).
#[test]
fn every_invalid_fixture_is_checked() {
    let source = include_str!("invalid.rs");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(invalid_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            if !source.contains(&format!("\"{stem}\"")) {
                missing.push(stem);
            }
        }
    }
    assert!(missing.is_empty(), "fixtures without a test: {missing:?}");
}

#[test]
fn unreadable_file_names_the_file() {
    let path = invalid_dir().join("does-not-exist.toml");
    let error = load(&path).unwrap_err();
    assert_eq!((error.line, error.key.as_str()), (None, ""));
    assert!(
        error
            .to_string()
            .starts_with(&format!("{}: cannot read config file: ", path.display())),
        "{error}"
    );
}
invalid!(
    repro_runs_out_of_range,
    "bad-repro-runs",
    3,
    "crashes.repro_runs",
    "must be 1 to 20 runs, got 0"
);
invalid!(
    coverage_every_not_a_duration,
    "bad-coverage-every",
    3,
    "coverage.every",
    "invalid duration \"hourly\" (expected e.g. \"30s\", \"12h\", \"2d\")"
);
