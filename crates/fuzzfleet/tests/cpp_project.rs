//! Bringing your own C/C++ harnesses (issue 18), end to end with the real binary on a
//! copy of `fixtures/cpp-project` built by its own `make fuzz` with clang-14:
//! `init`, `build` (the build command, its progress, a failing compile, new and
//! unchanged builds, a seed archive), a smoke run that uses the `.options` file, and
//! the twenty-harness example. Also the config errors of issue 14 as `run` meets them:
//! exit 2 with file, line and key, and nothing created.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repo() -> PathBuf {
    fleet_testkit::repo_root()
}

/// Whether clang++-14 and make are here; without them the test prints a SKIP line
/// (and fails under FUZZFLEET_CI=1, where .ci/run installed them).
fn have_clang() -> bool {
    let ok = ["clang++-14", "make"]
        .iter()
        .all(|tool| Command::new(tool).arg("--version").output().is_ok());
    if !ok {
        fleet_testkit::missing(
            "clang++-14 or make is missing (apt-get install -y clang-14 libclang-rt-14-dev make)",
        );
    }
    ok
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// A copy of a project from the repository in a temp dir of its own, not built.
struct Project {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Project {
    fn copy_of(relative: &str) -> Project {
        let tmp = fleet_testkit::state_temp_dir();
        let dir = tmp.path().join("proj");
        copy_dir(&repo().join(relative), &dir);
        Project { _tmp: tmp, dir }
    }

    /// `fuzzfleet ARGS` in the project's directory, with its fleet.toml.
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_fuzzfleet"))
            .args(args)
            .current_dir(&self.dir)
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(0), "fuzzfleet {args:?}:\n{stderr}");
        stderr
    }

    fn config(&self) -> PathBuf {
        self.dir.join("fleet.toml")
    }
}

const HARNESSES: &str = "[[harnesses]]\ndir = \"build\"\nglob = \"fuzz_*\"\nstrip_prefix = \"fuzz_\"\nbuild = \"make -j2 fuzz\"\n";

#[test]
fn init_build_and_a_smoke_run_of_a_cpp_project() {
    if !have_clang() {
        return;
    }
    let p = Project::copy_of("fixtures/cpp-project");

    // Nothing built yet: init can tell the Makefile has a `fuzz` target.
    let said = p.ok(&["init"]);
    assert!(said.contains("built by `make -j fuzz`"), "{said}");
    let first = fs::read_to_string(p.config()).unwrap();
    assert!(first.contains("build = \"make -j fuzz\""), "{first}");
    assert!(first.contains("[[harnesses]]"), "{first}");

    // It never overwrites.
    let out = p.run(&["init"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("never overwrites"));
    assert_eq!(fs::read_to_string(p.config()).unwrap(), first);

    // The build command runs, with its output as progress; the harnesses it made
    // are found, and the seed archive is unpacked.
    let said = p.ok(&["build"]);
    assert!(
        said.contains("building harnesses: `make -j fuzz`"),
        "{said}"
    );
    assert!(
        said.contains("  | clang++-14 -g -O1 -fsanitize=fuzzer,address"),
        "{said}"
    );
    for name in ["checksum", "parse", "varint"] {
        assert!(
            said.contains(&format!(
                "  {name} <- {} (new, build ",
                p.dir.join(format!("build/fuzz_{name}")).display()
            )),
            "{said}"
        );
    }
    assert!(said.contains("3 new, 0 rebuilt, 0 unchanged"), "{said}");
    assert!(said.contains("  checksum: 3 seeds from "), "{said}");

    // Once built, init lists every harness in its one tier.
    fs::remove_file(p.config()).unwrap();
    p.ok(&["init"]);
    let text = fs::read_to_string(p.config()).unwrap();
    assert!(text.contains("strip_prefix = \"fuzz_\""), "{text}");
    assert!(
        text.contains(
            "[tier.all]\ntargets = [\n    \"checksum\",\n    \"parse\",\n    \"varint\",\n]"
        ),
        "{text}"
    );

    // A smoke run: every harness fuzzes; the seeds from the archive are in the corpus;
    // fuzz_parse.options gave parse its dictionary and max_len.
    p.ok(&["run", "--budget", "5s", "--once", "--workers", "2"]);
    let out = p.run(&["status", "--json"]);
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    let targets = status["targets"].as_array().unwrap();
    let target = |name: &str| targets.iter().find(|t| t["name"] == name).unwrap().clone();
    for name in ["checksum", "parse", "varint"] {
        assert!(
            target(name)["execs"].as_i64().unwrap() > 0,
            "{name}: {status}"
        );
    }
    assert!(
        target("checksum")["corpus_files"].as_i64().unwrap() >= 3,
        "{status}"
    );
    let logs = |name: &str| -> String {
        let dir = p.dir.join(".fuzzfleet/logs").join(name);
        fs::read_dir(dir)
            .unwrap()
            .map(|e| fs::read_to_string(e.unwrap().path()).unwrap_or_default())
            .collect()
    };
    let parse = logs("parse");
    assert!(parse.contains("Dictionary: 3 entries"), "{parse}");
    assert!(!parse.contains("-max_len is not provided"), "{parse}");
    assert!(logs("varint").contains("-max_len is not provided"));
}

#[test]
fn a_failing_compile_shows_the_compilers_message() {
    if !have_clang() {
        return;
    }
    let p = Project::copy_of("fixtures/cpp-project");
    fs::write(p.config(), HARNESSES).unwrap();
    let source = p.dir.join("src/codec.cc");
    let text = fs::read_to_string(&source).unwrap();
    fs::write(
        &source,
        text.replace("uint16_t a = 0, b = 0;", "uint16_t a = 0, b = ;"),
    )
    .unwrap();
    let out = p.run(&["build"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // A build that does not compile found a problem: exit 1, with clang's own words.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let error = stderr
        .lines()
        .skip_while(|l| !l.starts_with("error: "))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        error.starts_with(&format!(
            "error: building the fuzz targets of {} failed (`make -j2 fuzz`: exit status: 2); compiler output:",
            p.dir.display()
        )),
        "{stderr}"
    );
    assert!(
        error.contains("src/codec.cc:22:25: error: expected expression"),
        "{stderr}"
    );
    // And `run`, which builds first, stops there too, before any state is made.
    let out = p.run(&["run", "--budget", "2s", "--once"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(!p.dir.join(".fuzzfleet/fleet.db").exists());
}

#[test]
fn an_unchanged_harness_is_the_same_build_a_changed_one_a_new_build() {
    if !have_clang() {
        return;
    }
    let p = Project::copy_of("fixtures/cpp-project");
    fs::write(p.config(), HARNESSES).unwrap();
    p.ok(&["build"]);
    p.ok(&[
        "run",
        "--budget",
        "2s",
        "--once",
        "--workers",
        "1",
        "--no-build",
    ]);
    let corpus = |name: &str| {
        let out = p.run(&["status", "--json"]);
        let status: Value = serde_json::from_slice(&out.stdout).unwrap();
        status["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()["corpus_files"]
            .as_i64()
            .unwrap()
    };
    let before = corpus("varint");
    assert!(before > 0);

    // Nothing changed: make rebuilds nothing, and every binary is the same build.
    let said = p.ok(&["build"]);
    assert!(said.contains("0 new, 0 rebuilt, 3 unchanged"), "{said}");

    // A changed harness is a new build; the others stay the same.
    let source = p.dir.join("fuzz/fuzz_varint.cc");
    let text = fs::read_to_string(&source).unwrap();
    fs::write(
        &source,
        text.replace("uint64_t value = 0;", "uint64_t value = 1;"),
    )
    .unwrap();
    let said = p.ok(&["build"]);
    assert!(said.contains("0 new, 1 rebuilt, 2 unchanged"), "{said}");
    assert!(said.contains("varint <- "), "{said}");
    assert!(
        said.lines()
            .any(|l| l.starts_with("  varint <- ") && l.contains("(new build, build ")),
        "{said}"
    );
    // Its campaign state is kept: the corpus is the target's, whatever the build.
    p.ok(&[
        "run",
        "--budget",
        "2s",
        "--once",
        "--workers",
        "1",
        "--no-build",
    ]);
    assert!(corpus("varint") >= before);
}

#[test]
fn the_example_is_twenty_harnesses_with_the_suites_names_in_three_tiers() {
    if !have_clang() {
        return;
    }
    let p = Project::copy_of("examples/cpp-project");
    let said = p.ok(&["build"]);
    assert!(said.contains("built 20 harnesses"), "{said}");
    let plan = fleet_config::load(&p.config()).unwrap();
    let suite = fleet_config::load(&repo().join("fleet.toml")).unwrap();
    assert_eq!(plan.targets.len(), 20);
    let tiers = |plan: &fleet_config::Plan| {
        plan.tiers
            .iter()
            .map(|t| (t.name.to_string(), t.targets.clone(), t.budget))
            .collect::<Vec<_>>()
    };
    assert_eq!(tiers(&plan), tiers(&suite));
    let hours: Vec<u64> = plan
        .tiers
        .iter()
        .map(|t| t.budget.as_secs() / 3600)
        .collect();
    assert_eq!(hours, [48, 24, 12]);
    // Each is a real harness that fuzzes.
    let out = p.run(&[
        "run",
        "--no-build",
        "--once",
        "--budget",
        "1s",
        "--workers",
        "2",
        "--tier",
        "tier2",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// Issue 14: numbers and files that are not usable are config errors `run` reports
// with exit 2, file, line and key, before it creates anything.

fn config_error(config: &str, args: &[&str]) -> (String, tempfile::TempDir) {
    let tmp = fleet_testkit::state_temp_dir();
    fs::write(tmp.path().join("fleet.toml"), config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fuzzfleet"))
        .args(args)
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    (stderr, tmp)
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn huge_worker_counts_are_usage_errors_not_panics() {
    let target = "[[target]]\nname = \"t\"\nbinary = \"/bin/true\"\n";
    let (said, tmp) = config_error(
        &format!("workers = 9223372036854775807\n{target}"),
        &["run", "--once"],
    );
    assert!(
        said.contains(
            "error: fleet.toml:1: workers: must be 0 (one per core) or at most 4096 workers, got 9223372036854775807"
        ),
        "{said}"
    );
    assert_eq!(entries(tmp.path()), ["fleet.toml"]);
    let (said, tmp) = config_error(
        target,
        &["run", "--once", "--workers", "18446744073709551615"],
    );
    assert!(
        said.contains("expected a number of workers from 1 to 4096"),
        "{said}"
    );
    assert_eq!(entries(tmp.path()), ["fleet.toml"]);
    let (said, _) = config_error(
        &format!("[defaults]\nrss_limit_mb = 9223372036854775807\n{target}"),
        &["run", "--once"],
    );
    assert!(
        said.contains(":2: defaults.rss_limit_mb: must be at most 1048576 MiB"),
        "{said}"
    );
}

#[test]
fn unusable_state_dirs_and_empty_configs_are_config_errors_that_create_nothing() {
    let target = "[[target]]\nname = \"t\"\nbinary = \"/bin/true\"\n";
    let tmp = fleet_testkit::state_temp_dir();
    fs::write(tmp.path().join("state"), "a file").unwrap();
    fs::write(
        tmp.path().join("fleet.toml"),
        format!("state_dir = \"state\"\n{target}"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fuzzfleet"))
        .args(["run", "--once"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains(&format!(
            "error: fleet.toml:1: state_dir: \"{}\" is not a directory",
            tmp.path().join("state").display()
        )),
        "{said}"
    );
    assert_eq!(entries(tmp.path()), ["fleet.toml", "state"]);

    let (said, tmp) = config_error(
        &format!("state_dir = \"/proc/fuzzfleet\"\n{target}"),
        &["run", "--once"],
    );
    assert!(
        said.contains(
            ":1: state_dir: \"/proc/fuzzfleet\" cannot be created: \"/proc\" is on /proc"
        ),
        "{said}"
    );
    assert_eq!(entries(tmp.path()), ["fleet.toml"]);

    for empty in ["", "# only a comment\n"] {
        let (said, tmp) = config_error(empty, &["run", "--once"]);
        assert!(
            said.contains("error: fleet.toml: the config has no settings"),
            "{said}"
        );
        // No run.lock, no state dir: nothing beside the file.
        assert_eq!(entries(tmp.path()), ["fleet.toml"]);
    }

    let tmp = fleet_testkit::state_temp_dir();
    fs::write(tmp.path().join("fleet.toml"), b"workers = 1\n# caf\xe9\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fuzzfleet"))
        .args(["run", "--once"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains("fleet.toml:2: invalid UTF-8 (byte 0xe9 at column 6)"),
        "{said}"
    );
    assert_eq!(entries(tmp.path()), ["fleet.toml"]);
}
