//! Runs the cargo build of a cargo-fuzz project: progress from cargo's JSON
//! messages and status lines, the compiler's rendered messages on failure.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;
use std::thread;

use cargo_metadata::Message;
use serde::Deserialize;

use crate::command::{BuildCommand, build_command};
use crate::discover::{binary_path, discover_targets};
use crate::toolchain::check_toolchain;
use crate::{BuildError, BuildEvent, BuildOptions, BuiltTarget, Sanitizer};

/// How many of cargo's last stderr lines a failed build keeps: enough for a
/// few rendered errors with their context.
pub const MESSAGE_TAIL_LINES: usize = 120;

/// Cargo right-aligns the verb of its status lines (`   Compiling libc v0.2.170`) in
/// this many columns; compiler messages start at the left edge.
const STATUS_WIDTH: usize = 12;

/// Builds the fuzz targets `opts.targets` (all when empty) of the cargo-fuzz
/// project in `project_dir` as cargo-fuzz would, reporting progress as it
/// goes. Blocks until cargo exits.
pub fn build_project(
    project_dir: &Path,
    opts: &BuildOptions,
    progress: &mut dyn FnMut(BuildEvent),
) -> Result<Vec<BuiltTarget>, BuildError> {
    let available = discover_targets(project_dir)?;
    let wanted = select_targets(project_dir, &available, &opts.targets)?;
    let toolchain = check_toolchain(&opts.toolchain)?;
    if opts.sanitizer != Sanitizer::None && !toolchain.nightly {
        return Err(BuildError::NeedsNightly {
            toolchain: opts.toolchain.clone(),
            version: toolchain.version,
            sanitizer: opts.sanitizer,
        });
    }
    let inherited: Vec<OsString> = std::env::vars_os().map(|(k, _)| k).collect();
    let command = build_command(project_dir, opts, &toolchain.host, &wanted, &inherited);

    let total = if toolchain.nightly {
        count_units(&command)
    } else {
        None
    };
    progress(BuildEvent::Started { total_units: total });

    let mut child = command
        .to_command()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| BuildError::Spawn {
            program: "rustup".into(),
            hint: "; is rustup installed and on PATH? (https://rustup.rs)",
            source,
        })?;

    // Each pipe is drained on its own thread so neither can fill up and stall
    // cargo; the callback runs here, on the caller's thread.
    let (tx, rx) = mpsc::channel();
    let readers = [
        child
            .stdout
            .take()
            .map(|s| spawn_reader(s, Stream::Stdout, tx.clone())),
        child
            .stderr
            .take()
            .map(|s| spawn_reader(s, Stream::Stderr, tx.clone())),
    ];
    drop(tx);

    let mut tracker = Tracker::new(total, &wanted);
    for (stream, line) in rx {
        match stream {
            Stream::Stdout => tracker.stdout_line(&line, progress),
            Stream::Stderr => tracker.stderr_line(line, progress),
        }
    }
    for reader in readers.into_iter().flatten() {
        // A reader only ends when its pipe closes; a panic there is a bug.
        reader.join().expect("cargo output reader panicked");
    }
    let status = child.wait().map_err(|source| BuildError::Spawn {
        program: "rustup".into(),
        hint: "",
        source,
    })?;
    if !status.success() {
        return Err(BuildError::CompileFailed {
            project: project_dir.to_path_buf(),
            status: status.to_string(),
            messages: tracker.messages.into(),
        });
    }

    wanted
        .into_iter()
        .map(|name| {
            let path = match tracker.executables.iter().find(|(n, _)| *n == name) {
                Some((_, path)) => path.clone(),
                None => binary_path(project_dir, &toolchain.host, &name),
            };
            if path.is_file() {
                Ok(BuiltTarget { name, path })
            } else {
                Err(BuildError::MissingBinary {
                    target: name,
                    expected: path,
                })
            }
        })
        .collect()
}

fn select_targets(
    project_dir: &Path,
    available: &[String],
    requested: &[String],
) -> Result<Vec<String>, BuildError> {
    if requested.is_empty() {
        return Ok(available.to_vec());
    }
    let mut wanted: Vec<String> = Vec::new();
    for name in requested {
        if !available.contains(name) {
            return Err(BuildError::UnknownTarget {
                name: name.clone(),
                project: project_dir.to_path_buf(),
                available: available.to_vec(),
            });
        }
        if !wanted.contains(name) {
            wanted.push(name.clone());
        }
    }
    Ok(wanted)
}

/// The number of units in the build, from cargo's unit graph; `None` when
/// cargo would not tell (progress then shows a count without a total).
fn count_units(command: &BuildCommand) -> Option<usize> {
    #[derive(Deserialize)]
    struct UnitGraph {
        units: Vec<serde::de::IgnoredAny>,
    }
    let output = command
        .unit_graph()
        .to_command()
        .stdin(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let graph: UnitGraph = serde_json::from_slice(&output.stdout).ok()?;
    Some(graph.units.len())
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

pub(crate) fn spawn_reader(
    pipe: impl Read + Send + 'static,
    stream: Stream,
    tx: mpsc::Sender<(Stream, String)>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf).trim_end().to_owned();
                    if tx.send((stream, line)).is_err() {
                        return;
                    }
                }
            }
        }
    })
}

/// What the build has said so far.
struct Tracker {
    total: Option<usize>,
    done: usize,
    wanted: Vec<String>,
    executables: Vec<(String, PathBuf)>,
    messages: VecDeque<String>,
}

impl Tracker {
    fn new(total: Option<usize>, wanted: &[String]) -> Self {
        Tracker {
            total,
            done: 0,
            wanted: wanted.to_vec(),
            executables: Vec::new(),
            messages: VecDeque::new(),
        }
    }

    fn stdout_line(&mut self, line: &str, progress: &mut dyn FnMut(BuildEvent)) {
        // Build scripts' own output can land here too; it is not ours to parse.
        let Ok(msg) = serde_json::from_str::<Message>(line) else {
            return;
        };
        let (name, fresh) = match msg {
            Message::CompilerArtifact(artifact) => {
                let target = artifact.target;
                if target.is_bin()
                    && self.wanted.contains(&target.name)
                    && let Some(exe) = artifact.executable
                {
                    self.executables
                        .push((target.name.clone(), exe.into_std_path_buf()));
                }
                (target.name, artifact.fresh)
            }
            Message::BuildScriptExecuted(script) => (
                format!("{} (build script)", package_name(&script.package_id.repr)),
                false,
            ),
            _ => return,
        };
        self.done += 1;
        if let Some(total) = self.total {
            // The unit graph is a forecast; never report more than 100 %.
            self.total = Some(total.max(self.done));
        }
        progress(BuildEvent::Unit {
            name,
            fresh,
            done: self.done,
            total: self.total,
        });
    }

    fn stderr_line(&mut self, line: String, progress: &mut dyn FnMut(BuildEvent)) {
        if let Some((verb, detail)) = status_line(&line) {
            progress(BuildEvent::Status {
                verb: verb.to_owned(),
                detail: detail.to_owned(),
            });
            return;
        }
        if self.messages.len() == MESSAGE_TAIL_LINES {
            self.messages.pop_front();
        }
        self.messages.push_back(line);
    }
}

/// Splits a cargo status line such as `   Compiling libc v0.2.170`: a capitalized
/// word right-aligned in [`STATUS_WIDTH`] columns (a longer one at the left edge), then
/// what it is about. Whatever verbs cargo adds are taken; a compiler message (`error`,
/// `warning`, `  --> src`, ` 3 | code`) never has that shape.
fn status_line(line: &str) -> Option<(&str, &str)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    let (verb, detail) = line[indent..].split_once(' ')?;
    let aligned = indent + verb.len() == STATUS_WIDTH || (indent == 0 && verb.len() > STATUS_WIDTH);
    let capitalized = verb.starts_with(|c: char| c.is_ascii_uppercase())
        && verb.chars().all(|c| c.is_ascii_alphabetic());
    (aligned && capitalized && !detail.trim().is_empty()).then(|| (verb, detail.trim()))
}

/// The package name in a cargo package id, old (`libc 0.2.1 (registry+…)`)
/// or new (`registry+https://…#libc@0.2.1`, `path+file:///x/libc#0.2.1`).
fn package_name(id: &str) -> &str {
    if let Some((source, fragment)) = id.rsplit_once('#') {
        return match fragment.split_once('@') {
            Some((name, _)) => name,
            None => source.rsplit('/').next().unwrap_or(fragment),
        };
    }
    id.split(' ').next().unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_are_progress_and_the_rest_is_kept() {
        assert_eq!(
            status_line("   Compiling libc v0.2.170"),
            Some(("Compiling", "libc v0.2.170"))
        );
        assert_eq!(
            status_line("    Blocking waiting for file lock on build directory"),
            Some(("Blocking", "waiting for file lock on build directory"))
        );
        assert_eq!(
            status_line("    Finished `release` profile [optimized] target(s) in 1.20s"),
            Some((
                "Finished",
                "`release` profile [optimized] target(s) in 1.20s"
            ))
        );
        // A verb cargo adds later is progress too, by its shape.
        assert_eq!(
            status_line("   Packaging fuzz v0.0.0"),
            Some(("Packaging", "fuzz v0.0.0"))
        );
        for message in [
            "error[E0425]: cannot find value `x`",
            "warning: unused variable: `y`",
            "  --> fuzz_targets/a.rs:3:5",
            "3   |     Compiling(x)",
            "Some errors have detailed explanations: E0425, E0433.",
            "For more information about an error, try `rustc --explain E0425`.",
            "      Foo",
            "        Foo bar",
        ] {
            assert_eq!(status_line(message), None, "{message}");
        }
    }

    #[test]
    fn tracker_counts_units_and_records_wanted_binaries() {
        let mut tracker = Tracker::new(Some(2), &["clean".to_owned()]);
        let mut events = Vec::new();
        let mut progress = |e| events.push(e);
        // Messages as cargo 1.9x prints them.
        tracker.stdout_line(
            r#"{"reason":"compiler-artifact","package_id":"registry+https://github.com/rust-lang/crates.io-index#libc@0.2.170","manifest_path":"/r/libc-0.2.170/Cargo.toml","target":{"kind":["lib"],"crate_types":["lib"],"name":"libc","src_path":"/r/libc-0.2.170/src/lib.rs","edition":"2021","doc":true,"doctest":true,"test":true},"profile":{"opt_level":"3","debuginfo":0,"debug_assertions":false,"overflow_checks":false,"test":false},"features":["default","std"],"filenames":["/p/target/t/release/deps/liblibc-b437f8992049e083.rlib"],"executable":null,"fresh":true}"#,
            &mut progress,
        );
        tracker.stdout_line(
            r#"{"reason":"build-script-executed","package_id":"registry+https://github.com/rust-lang/crates.io-index#libfuzzer-sys@0.4.13","linked_libs":["static=fuzzer"],"linked_paths":["native=/p/target/release/build/libfuzzer-sys-1/out"],"cfgs":[],"env":[],"out_dir":"/p/target/release/build/libfuzzer-sys-1/out"}"#,
            &mut progress,
        );
        tracker.stdout_line(
            r#"{"reason":"compiler-artifact","package_id":"path+file:///p/fuzz#fixture-fuzz@0.0.0","manifest_path":"/p/fuzz/Cargo.toml","target":{"kind":["bin"],"crate_types":["bin"],"name":"clean","src_path":"/p/fuzz/fuzz_targets/clean.rs","edition":"2021","doc":true,"doctest":false,"test":true},"profile":{"opt_level":"3","debuginfo":2,"debug_assertions":true,"overflow_checks":true,"test":false},"features":[],"filenames":["/p/target/t/release/clean"],"executable":"/p/target/t/release/clean","fresh":false}"#,
            &mut progress,
        );
        tracker.stdout_line(
            r#"{"reason":"compiler-artifact","package_id":"path+file:///p/fuzz#fixture-fuzz@0.0.0","manifest_path":"/p/fuzz/Cargo.toml","target":{"kind":["bin"],"crate_types":["bin"],"name":"not_wanted","src_path":"/p/fuzz/fuzz_targets/not_wanted.rs","edition":"2021","doc":true,"doctest":false,"test":true},"profile":{"opt_level":"3","debuginfo":2,"debug_assertions":true,"overflow_checks":true,"test":false},"features":[],"filenames":["/p/target/t/release/not_wanted"],"executable":"/p/target/t/release/not_wanted","fresh":true}"#,
            &mut progress,
        );
        tracker.stdout_line(
            r#"{"reason":"build-finished","success":true}"#,
            &mut progress,
        );
        tracker.stdout_line("not json from a build script", &mut progress);
        tracker.stderr_line("   Compiling clean v0.0.0".into(), &mut progress);
        tracker.stderr_line("warning: unused variable".into(), &mut progress);
        assert_eq!(
            events,
            [
                BuildEvent::Unit {
                    name: "libc".into(),
                    fresh: true,
                    done: 1,
                    total: Some(2)
                },
                BuildEvent::Unit {
                    name: "libfuzzer-sys (build script)".into(),
                    fresh: false,
                    done: 2,
                    total: Some(2)
                },
                BuildEvent::Unit {
                    name: "clean".into(),
                    fresh: false,
                    done: 3,
                    total: Some(3)
                },
                BuildEvent::Unit {
                    name: "not_wanted".into(),
                    fresh: true,
                    done: 4,
                    total: Some(4)
                },
                BuildEvent::Status {
                    verb: "Compiling".into(),
                    detail: "clean v0.0.0".into()
                },
            ]
        );
        assert_eq!(
            tracker.executables,
            [(
                "clean".to_owned(),
                PathBuf::from("/p/target/t/release/clean")
            )]
        );
        assert_eq!(tracker.messages, ["warning: unused variable"]);
    }

    #[test]
    fn message_tail_is_bounded() {
        let mut tracker = Tracker::new(None, &[]);
        for i in 0..MESSAGE_TAIL_LINES + 10 {
            tracker.stderr_line(format!("line {i}"), &mut |_| {});
        }
        assert_eq!(tracker.messages.len(), MESSAGE_TAIL_LINES);
        assert_eq!(tracker.messages.front().unwrap(), "line 10");
    }

    #[test]
    fn package_names_from_ids() {
        assert_eq!(
            package_name("registry+https://github.com/rust-lang/crates.io-index#libc@0.2.170"),
            "libc"
        );
        assert_eq!(package_name("path+file:///work/fuzz#0.0.0"), "fuzz");
        assert_eq!(
            package_name("libc 0.2.170 (registry+https://github.com/rust-lang/crates.io-index)"),
            "libc"
        );
    }

    #[test]
    fn unknown_target_lists_what_exists() {
        let err = select_targets(
            Path::new("/p/fuzz"),
            &["a".into(), "b".into()],
            &["c".into()],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "no fuzz target `c` in /p/fuzz (it has: a, b)"
        );
        assert_eq!(
            select_targets(
                Path::new("/p"),
                &["a".into(), "b".into()],
                &["b".into(), "b".into()]
            )
            .unwrap(),
            ["b"]
        );
    }
}
