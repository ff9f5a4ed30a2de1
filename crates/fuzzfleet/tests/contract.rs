//! The interface contract users and scripts depend on: help texts, exit codes, and the
//! JSON shapes of `status` and `crashes list`, pinned with snapshots.

mod support;

use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::{Map, Value};
use support::Fleet;

fn fuzzfleet(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_fuzzfleet"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn help_teaches_the_commands() {
    let out = fuzzfleet(&["--help"]);
    assert!(out.status.success());
    insta::assert_snapshot!("help", String::from_utf8_lossy(&out.stdout));
    let out = fuzzfleet(&["run", "--help"]);
    insta::assert_snapshot!("run_help", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn usage_errors_exit_2() {
    let out = fuzzfleet(&["run", "--budget", "ten seconds"]);
    assert_eq!(out.status.code(), Some(2));
    let out = fuzzfleet(&["no-such-command"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn every_invalid_config_exits_2_naming_file_line_and_key() {
    let dir = fleet_testkit::repo_root().join("fixtures/configs/invalid");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "only {} invalid configs", files.len());
    for file in files {
        for command in [&["run", "--no-build"][..], &["build"], &["status"]] {
            let mut args = vec!["--config", file.to_str().unwrap()];
            args.extend_from_slice(command);
            let out = fuzzfleet(&args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{} {command:?}: {stderr}",
                file.display()
            );
            let name = file.file_name().unwrap().to_str().unwrap();
            let first = stderr.lines().next().unwrap_or_default();
            assert!(first.starts_with("error: "), "{name}: {stderr}");
            assert!(
                first.contains(&format!("{name}:")),
                "{name}: no file in {first}"
            );
            let after = first.split_once(&format!("{name}:")).unwrap().1;
            assert!(
                after.starts_with(|c: char| c.is_ascii_digit()),
                "{name}: no line in {first}"
            );
            assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        }
    }
}

#[test]
fn reading_state_that_does_not_exist_is_a_clear_usage_error() {
    let dir = fleet_testkit::state_temp_dir();
    let state = dir.path().join("nothing-here");
    let out = fuzzfleet(&[
        "--config",
        "/nonexistent/fleet.toml",
        "--state",
        state.to_str().unwrap(),
        "status",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no fuzzfleet state"));
    let out = fuzzfleet(&["--config", "/nonexistent/fleet.toml", "run"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/fleet.toml"));
}

/// A JSON value with every leaf replaced by its type: the shape scripts rely on.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), shape(v)))
                .collect::<Map<_, _>>(),
        ),
        Value::Array(a) => Value::Array(a.first().map(shape).into_iter().collect()),
        Value::String(_) => "string".into(),
        Value::Number(_) => "number".into(),
        Value::Bool(_) => "bool".into(),
        Value::Null => "null".into(),
    }
}

#[test]
fn status_and_crashes_json_have_the_contract_shape() {
    let fleet = Fleet::new("[tier.t]\ntargets = [\"crash_magic\"]\nbudget = \"1h\"\n");
    fleet.run_once("8s", 1);

    let mut status = fleet.status();
    assert_eq!(status["version"], 1);
    // One target that ran, for a shape with every field filled.
    let ran: Vec<Value> = status["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["name"] == "crash_magic")
        .cloned()
        .collect();
    status["targets"] = Value::Array(ran);
    insta::assert_json_snapshot!("status_json_shape", shape(&status));

    // What the campaign left untriaged at its stop is triaged now: one bug.
    fleet.triage();
    let out = fleet.output(&["crashes", "list", "--json"]);
    let mut crashes: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(crashes["version"], 1);
    assert_eq!(
        crashes["buckets"].as_array().unwrap().len(),
        1,
        "{crashes:#}"
    );
    let b = &mut crashes["buckets"][0];
    assert_eq!(b["id"].as_str().unwrap().len(), 16, "{b}");
    assert!(b["signature"].as_str().unwrap().starts_with("panic"), "{b}");
    assert_eq!(b["severity"], "medium");
    assert_eq!(b["repro"], "always");
    assert_eq!(b["state"], "open");
    assert!(b["count"].as_i64().unwrap() >= 1);
    assert!(Path::new(b["input_path"].as_str().unwrap()).exists());
    // The id its finding had before triage, as `crashes list` showed it then, still
    // names the bug.
    let input = Path::new(b["input_path"].as_str().unwrap());
    let (kind, sha1) = input
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.split_once('-'))
        .unwrap();
    let pending_id =
        &fleet_store::sha1_hex(format!("crash_magic\0{kind}\0{sha1}").as_bytes())[..12];
    let out = fleet.output(&["crashes", "show", pending_id, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["id"], b["id"], "{shown:#}");
    let out = fleet.output(&["crashes", "repro", pending_id, "--runs", "1", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let repro: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(repro["id"], b["id"], "{repro:#}");
    // Whether the background minimization finished before the stop varies: pinned as
    // the nullable fields they are.
    b["minimized_path"] = Value::Null;
    b["state_build"] = Value::Null;
    insta::assert_json_snapshot!("crashes_json_shape", shape(&crashes));
}
