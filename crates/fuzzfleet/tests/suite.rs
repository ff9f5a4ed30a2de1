//! The bundled suite as a user meets it: `fuzzfleet build` builds all twenty targets
//! from the default fleet.toml, each replays its seed corpus without a finding, and a
//! smoke campaign (`run --budget 10s --once`) fuzzes every one of them.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use fleet_engine::libfuzzer::{Limits, ReplayInputs, ReplayOptions, replay_command};
use serde_json::Value;

const TARGETS: [&str; 20] = [
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

fn fuzzfleet(state: &Path, args: &[&str]) -> std::process::Output {
    let root = fleet_testkit::repo_root();
    Command::new(env!("CARGO_BIN_EXE_fuzzfleet"))
        .arg("--config")
        .arg(root.join("fleet.toml"))
        .arg("--state")
        .arg(state)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_bundled_suite_builds_replays_its_seeds_and_fuzzes_every_target() {
    let dir = fleet_testkit::state_temp_dir();
    let state = dir.path().join("state");

    let out = fuzzfleet(&state, &["build"]);
    assert!(
        out.status.success(),
        "build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let fuzz = fleet_testkit::repo_root().join("targets/dilithion/fuzz");
    let triple = fleet_build::host_triple().unwrap();
    for t in TARGETS {
        assert!(
            stderr.contains(&format!("built {t} ->")),
            "{t} not built:\n{stderr}"
        );
        // Every seed replays (-runs=0) without a finding.
        let seeds = fuzz.join("seeds").join(t);
        assert!(seeds.is_dir(), "{t} has no seeds");
        let mut cmd = replay_command(&ReplayOptions {
            binary: fleet_build::binary_path(&fuzz, &triple, t),
            inputs: ReplayInputs::Dirs(vec![seeds]),
            limits: Limits {
                rss_limit_mb: 4096,
                malloc_limit_mb: None,
                timeout_s: 25,
            },
            artifact_prefix: dir.path().join("replay-artifacts"),
            extra_args: Vec::new(),
            env: vec![("ASAN_OPTIONS".into(), "detect_odr_violation=0".into())],
        });
        std::fs::create_dir_all(dir.path().join("replay-artifacts")).unwrap();
        let out = Command::new(&cmd.program)
            .args(std::mem::take(&mut cmd.args))
            .envs(cmd.env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{t}: replaying its seeds failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let left: Vec<_> = std::fs::read_dir(dir.path().join("replay-artifacts"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "seed replay wrote artifacts: {left:?}");

    let out = fuzzfleet(&state, &["run", "--no-build", "--once", "--budget", "10s"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = fuzzfleet(&state, &["status", "--json"]);
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut fuzzed = BTreeSet::new();
    for t in status["targets"].as_array().unwrap() {
        let name = t["name"].as_str().unwrap();
        assert!(t["execs"].as_i64().unwrap() > 0, "{name} never ran: {t}");
        assert!(t["coverage"].as_i64().unwrap() > 0, "{name}: {t}");
        assert_eq!(t["state"], "stopped", "{name}: {t}");
        fuzzed.insert(name.to_string());
    }
    assert_eq!(fuzzed, TARGETS.iter().map(|s| s.to_string()).collect());
    let out = fuzzfleet(&state, &["crashes", "list", "--json"]);
    let crashes: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        crashes["buckets"].as_array().unwrap().len(),
        0,
        "the smoke campaign found bugs in the port: {crashes:#}"
    );
}
