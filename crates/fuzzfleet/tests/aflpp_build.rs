//! `fuzzfleet build` and `run` make a cargo-fuzz project's AFL++ and CmpLog builds
//! beside its libFuzzer build (engines not set: where AFL++ can be built), say so per
//! target, and say once why when AFL++ cannot be built — a failure only when the
//! config's `engines` list "aflpp".

mod support;

use std::fs;
use std::path::Path;

use fleet_build::AflVariant;
use support::Fleet;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Whether `binary` holds AFL++'s persistent-mode signature (the driver and runtime
/// AFL++ links in place of libFuzzer put it there; a libFuzzer build has none).
fn is_afl_build(binary: &Path) -> bool {
    let bytes = fs::read(binary).unwrap_or_default();
    let sig = b"##SIG_AFL_PERSISTENT##";
    bytes.windows(sig.len()).any(|w| w == sig)
}

#[test]
fn build_and_run_make_the_afl_and_cmplog_builds_of_each_target() {
    // The portfolio, whose arm AFL++ is (plain runs are libFuzzer's alone).
    let fleet = Fleet::with_top("strategies = \"portfolio\"\n", "");
    let out = fleet.output(&["build", "crash_magic"]);
    let said = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    if let Some(line) = said
        .lines()
        .find(|l| l.starts_with("AFL++ cannot be built here"))
    {
        fleet_testkit::missing(line);
        return;
    }
    let version = said
        .lines()
        .find_map(|l| l.trim().strip_prefix("built crash_magic for AFL++ "))
        .unwrap_or_else(|| panic!("no AFL++ line for crash_magic:\n{said}"));
    assert!(version.ends_with(" (CmpLog)"), "{said}");
    assert!(said.contains("built crash_magic ->"), "{said}");

    let project = fleet_testkit::rust_fixture_project();
    let triple = fleet_build::host_triple().unwrap();
    let afl = fleet_build::afl_binary_path(&project, &triple, "crash_magic", AflVariant::Coverage);
    let cmplog = fleet_build::afl_binary_path(&project, &triple, "crash_magic", AflVariant::CmpLog);
    for binary in [&afl, &cmplog] {
        assert!(
            is_afl_build(binary),
            "{} is not an AFL++ build",
            binary.display()
        );
    }
    let libfuzzer = fleet_build::binary_path(&project, &triple, "crash_magic");
    assert!(!is_afl_build(&libfuzzer), "{}", libfuzzer.display());
    let (install, found) = fleet_build::find_afl_build(&project, "nightly", "crash_magic")
        .expect("the campaign finds the builds");
    assert_eq!((found.afl, found.cmplog), (afl, cmplog));
    assert!(
        version.starts_with(&install.version),
        "{version} vs {install:?}"
    );
    assert!(install.afl_fuzz().is_file());

    // `run` builds first too, AFL++ included, and gives the campaign the builds.
    let out = fleet.output(&[
        "run",
        "--once",
        "--budget",
        "2s",
        "--workers",
        "1",
        "--target",
        "clean",
    ]);
    let said = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("built clean for AFL++ "), "{said}");
    assert!(
        said.contains("AFL++ beside libFuzzer for 1 target: clean"),
        "{said}"
    );
}

#[test]
fn aflpp_that_cannot_be_built_is_said_once_and_fails_only_when_listed() {
    let auto = Fleet::new("");
    let cache = auto.path().join("no-aflpp-here");
    fs::create_dir_all(&cache).unwrap();
    let no_source = auto.path().join("no-such-aflpp-source");
    let without = |fleet: &Fleet, args: &[&str]| {
        fleet
            .cmd(args)
            .env("FUZZFLEET_AFLPP_DIR", &cache)
            .env("FUZZFLEET_AFLPP_SRC", &no_source)
            .output()
            .unwrap()
    };

    // Not listed: libFuzzer alone, said once for both targets, the build succeeds.
    let out = without(&auto, &["build", "crash_magic", "clean"]);
    let said = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    let lines: Vec<&str> = said
        .lines()
        .filter(|l| l.starts_with("AFL++ cannot be built here: "))
        .collect();
    assert_eq!(lines.len(), 1, "{said}");
    assert!(lines[0].contains("no AFL++ source"), "{said}");
    assert!(
        lines[0].ends_with("; these targets run libFuzzer alone"),
        "{said}"
    );
    assert!(said.contains("built clean ->"), "{said}");
    assert!(!said.contains("for AFL++"), "{said}");

    // Listed: the same is an error (a setup problem: exit 2) with the reason.
    let listed = Fleet::new("engines = [\"libfuzzer\", \"aflpp\"]\n");
    let out = without(&listed, &["build", "clean"]);
    let said = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains("engines lists \"aflpp\", and AFL++ cannot be built here: no AFL++ source"),
        "{said}"
    );

    // Left out: not a word about AFL++.
    let off = Fleet::new("engines = [\"libfuzzer\"]\n");
    let out = without(&off, &["build", "clean"]);
    let said = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(!said.contains("AFL++"), "{said}");
}
