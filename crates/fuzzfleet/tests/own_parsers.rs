//! fuzzfleet fuzzes its own parsers: the cargo-fuzz project `fuzz/` at the repository's
//! root (sanitizer reports, libFuzzer's output, `fleet.toml`, the hub's key names),
//! built by `fuzzfleet build` with ASan on nightly and run by `fuzzfleet run` for about
//! twenty seconds, seeded with the captured logs and configs. Every target must run
//! and none may crash: a finding here is a bug in fuzzfleet, and its report is printed.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const TARGETS: [&str; 4] = ["crash_report", "libfuzzer_output", "fleet_toml", "hub_keys"];

fn fuzzfleet(config: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_fuzzfleet"))
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap()
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn fuzzfleet_fuzzes_its_own_parsers_and_they_do_not_crash() {
    let nightly = Command::new("rustup")
        .args(["run", "nightly", "rustc", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !nightly {
        fleet_testkit::missing(
            "the nightly toolchain is missing (rustup toolchain install nightly; .ci/run does)",
        );
        return;
    }
    let repo = fleet_testkit::repo_root();
    let dir = fleet_testkit::state_temp_dir();
    let seeds = |p: &str| repo.join(p).display().to_string();
    let mut config = format!(
        "state_dir = \"state\"\nschedule = \"fixed\"\nstrategies = \"plain\"\n\
         [[project]]\npath = \"{}\"\nengines = [\"libfuzzer\"]\n",
        repo.join("fuzz").display()
    );
    for (name, seeds) in [
        ("crash_report", seeds("fixtures/logs/reports")),
        ("libfuzzer_output", seeds("fixtures/logs/libfuzzer")),
        ("fleet_toml", seeds("fuzz/seeds/fleet_toml")),
        ("hub_keys", seeds("fuzz/seeds/hub_keys")),
    ] {
        config.push_str(&format!(
            "[[target]]\nname = \"{name}\"\nseeds = \"{seeds}\"\nmax_len = 65536\n"
        ));
    }
    config.push_str(&format!(
        "[tier.own]\ntargets = {TARGETS:?}\nbudget = \"10s\"\nmode = \"parallel\"\nslice = \"10s\"\n"
    ));
    let file = dir.path().join("fleet.toml");
    std::fs::write(&file, &config).unwrap();

    // Built once per machine: cargo keeps fuzz/target between runs.
    let build = fuzzfleet(&file, &["build"]);
    assert!(build.status.success(), "{}", text(&build));

    // Four targets on two workers, ten seconds each.
    let run = fuzzfleet(
        &file,
        &[
            "run",
            "--no-build",
            "--once",
            "--workers",
            "2",
            "--budget",
            "10s",
        ],
    );
    let said = text(&run);
    let crashes = fuzzfleet(&file, &["crashes", "list", "--json"]);
    let list: Value = serde_json::from_slice(&crashes.stdout).unwrap_or(Value::Null);
    let buckets = list.as_array().cloned().unwrap_or_default();
    if !buckets.is_empty() {
        let reports: Vec<String> = buckets
            .iter()
            .filter_map(|b| b["id"].as_str())
            .map(|id| text(&fuzzfleet(&file, &["crashes", "show", id])))
            .collect();
        panic!(
            "fuzzing fuzzfleet's own parsers found {} bug(s):\n{}\n{said}",
            buckets.len(),
            reports.join("\n")
        );
    }
    assert_eq!(run.status.code(), Some(0), "{said}");
    let status = fuzzfleet(&file, &["status", "--json"]);
    let doc: Value =
        serde_json::from_slice(&status.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&status)));
    for name in TARGETS {
        let t = doc["targets"]
            .as_array()
            .and_then(|ts| ts.iter().find(|t| t["name"] == name))
            .unwrap_or_else(|| panic!("no target {name} in {doc:#}"));
        assert!(
            t["execs"].as_i64() > Some(1000),
            "{name} barely ran: {t:#}\n{said}"
        );
    }
}
