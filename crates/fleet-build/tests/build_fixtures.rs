//! Builds real cargo-fuzz projects: the fixture project (a libFuzzer binary
//! must come out and run) and a broken one (the compiler's message must).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use fleet_build::{BuildError, BuildEvent, BuildOptions, build_project, discover_targets};

fn fixture_project() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/rust/fuzz")
}

#[test]
fn builds_the_fixture_project_like_cargo_fuzz() {
    let project = fixture_project();
    let names = discover_targets(&project).unwrap();
    assert!(names.contains(&"crash_magic".to_owned()), "{names:?}");

    let mut events = Vec::new();
    let built = build_project(&project, &BuildOptions::default(), &mut |e| events.push(e))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        built.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(),
        names
    );
    for target in &built {
        assert!(target.path.is_file(), "{}", target.path.display());
        assert!(
            target.path.starts_with(project.join("target")),
            "{}",
            target.path.display()
        );
    }

    let Some(BuildEvent::Started { total_units }) = events.first() else {
        panic!("first event is not Started: {events:?}");
    };
    let total = total_units.expect("nightly cargo reports its unit graph");
    let units: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            BuildEvent::Unit { done, total, .. } => Some((*done, *total)),
            _ => None,
        })
        .collect();
    // Every unit of the graph reports once, fresh or not.
    assert_eq!(units.len(), total, "{events:?}");
    assert_eq!(units.last(), Some(&(total, Some(total))));

    // The binary is a libFuzzer target with ASan: it runs a few inputs.
    let clean = &built.iter().find(|b| b.name == "clean").unwrap().path;
    let out = Command::new(clean).arg("-runs=200").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("INITED"), "{stderr}");
    assert!(stderr.contains("Done 200 runs"), "{stderr}");
    let symbols = Command::new("nm").arg(clean).output().unwrap();
    assert!(
        String::from_utf8_lossy(&symbols.stdout).contains("__asan_init"),
        "not built with ASan"
    );

    // A second build of one target reuses the first.
    let again = build_project(
        &project,
        &BuildOptions {
            targets: vec!["clean".into()],
            ..BuildOptions::default()
        },
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(&again[0].path, clean);
}

#[test]
fn a_compile_error_carries_the_compiler_message() {
    let dir = fleet_testkit::temp_dir();
    let project = dir.path();
    fs::create_dir(project.join("fuzz_targets")).unwrap();
    fs::write(
        project.join("Cargo.toml"),
        r#"[package]
name = "broken-fuzz"
version = "0.0.0"
edition = "2021"
publish = false

[package.metadata]
cargo-fuzz = true

[workspace]

[[bin]]
name = "broken"
path = "fuzz_targets/broken.rs"
"#,
    )
    .unwrap();
    fs::write(
        project.join("fuzz_targets/broken.rs"),
        "fn main() {\n    let n: u32 = \"not a number\";\n    println!(\"{n}\");\n}\n",
    )
    .unwrap();

    let err = build_project(project, &BuildOptions::default(), &mut |_| {}).unwrap_err();
    let BuildError::CompileFailed { messages, .. } = &err else {
        panic!("expected CompileFailed, got {err}");
    };
    let text = messages.join("\n");
    assert!(text.contains("error[E0308]: mismatched types"), "{text}");
    assert!(text.contains("fuzz_targets/broken.rs:2"), "{text}");
    assert!(!text.contains("Compiling"), "status lines kept: {text}");
    assert!(err.to_string().contains("mismatched types"), "{err}");
}
