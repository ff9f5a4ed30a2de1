//! `fuzzfleet doctor` on AFL++: whether it can be built or is built for the
//! toolchain's LLVM, and, when it cannot, why and how to fix it — a failure when the
//! config lists "aflpp", a warning when AFL++ is only used where available, nothing
//! when the config leaves it out.

mod support;

use std::fs;

use serde_json::Value;
use support::Fleet;

/// doctor's `aflpp` check (if any) with `env` set.
fn aflpp_check(fleet: &Fleet, env: &[(&str, &std::path::Path)]) -> Option<Value> {
    let mut cmd = fleet.cmd(&["doctor", "--json"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "aflpp")
        .cloned()
}

#[test]
fn doctor_says_why_aflpp_cannot_be_built_and_how_to_fix_it() {
    let listed = Fleet::with_top("[defaults]\nengines = [\"libfuzzer\", \"aflpp\"]\n", "");
    let empty_cache = listed.path().join("no-aflpp-here");
    fs::create_dir_all(&empty_cache).unwrap();
    let no_source = listed.path().join("no-such-aflpp-source");
    let env = [
        ("FUZZFLEET_AFLPP_DIR", empty_cache.as_path()),
        ("FUZZFLEET_AFLPP_SRC", no_source.as_path()),
    ];
    let check = aflpp_check(&listed, &env).expect("an aflpp check");
    let detail = check["detail"].as_str().unwrap();
    assert_eq!(check["level"], "fail", "{check}");
    assert!(detail.contains("AFL++ cannot be built"), "{detail}");
    assert!(detail.contains("run libFuzzer alone"), "{detail}");
    if detail.contains("no AFL++ source") {
        let fix = check["fix"].as_str().unwrap();
        assert!(fix.contains("cargo install cargo-afl"), "{fix}");
        assert!(fix.contains("FUZZFLEET_AFLPP_SRC"), "{fix}");
    }

    // Not listed: AFL++ where available, so its absence is a warning.
    let auto = Fleet::new("");
    let check = aflpp_check(&auto, &env).expect("an aflpp check");
    assert_eq!(check["level"], "warn", "{check}");

    // Left out: no check at all.
    let off = Fleet::with_top("[defaults]\nengines = [\"libfuzzer\"]\n", "");
    assert_eq!(aflpp_check(&off, &env), None);
}

#[test]
fn doctor_finds_the_aflpp_fuzzfleet_built() {
    let project = fleet_testkit::rust_fixture_project();
    let install =
        match fleet_build::ensure_aflpp(&project, "nightly", &mut |line| eprintln!("{line}")) {
            Ok(install) => install,
            Err(why) => {
                fleet_testkit::missing(&format!("AFL++ cannot be built here: {why}"));
                return;
            }
        };
    let fleet = Fleet::new("");
    let check = aflpp_check(&fleet, &[]).expect("an aflpp check");
    assert_eq!(check["level"], "ok", "{check}");
    let detail = check["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("AFL++ {}", install.version))
            && detail.contains("CmpLog")
            && detail.contains(&install.prefix.display().to_string()),
        "{detail}"
    );
}
