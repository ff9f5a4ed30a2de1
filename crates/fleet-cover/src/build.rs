//! The coverage variant of a target: for a cargo-fuzz project the build
//! `cargo fuzz coverage` makes (cargo-fuzz's flags plus `-Cinstrument-coverage`,
//! no sanitizer, its own target dir so the fuzzing build is never clobbered);
//! for a C/C++ target the command the config gives.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;

use fleet_build::{BuildOptions, Sanitizer, build_command, discover_targets};

use crate::CoverError;

/// How many of the build's last output lines a failure shows.
const TAIL_LINES: usize = 80;

/// cargo-fuzz's coverage target dir: `<project>/target/<triple>/coverage`
/// (src/project.rs `target_dir()` in rust-fuzz/cargo-fuzz).
pub fn coverage_target_dir(project: &Path, triple: &str) -> PathBuf {
    fleet_build::target_dir(project)
        .join(triple)
        .join("coverage")
}

/// Where `build_rust` leaves target `name`'s coverage binary.
pub fn coverage_binary_path(project: &Path, triple: &str, name: &str) -> PathBuf {
    coverage_target_dir(project, triple)
        .join(triple)
        .join("release")
        .join(name)
}

/// rustc flags of the coverage build: cargo-fuzz's with `Sanitizer::None`, then
/// `-Cinstrument-coverage` as `cargo fuzz coverage` adds it.
pub fn coverage_rustflags(triple: &str) -> Vec<String> {
    let mut flags = fleet_build::rustflags(Sanitizer::None, triple, &[]);
    flags.push("-Cinstrument-coverage".into());
    flags
}

/// Builds the coverage variant of `targets` of the cargo-fuzz project at
/// `project` with `toolchain`, reporting cargo's status lines (`Compiling x`)
/// through `progress`. Returns each target's binary, in the order asked.
pub fn build_rust(
    project: &Path,
    toolchain: &str,
    triple: &str,
    targets: &[String],
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<(String, PathBuf)>, CoverError> {
    let available = discover_targets(project)?;
    if let Some(unknown) = targets.iter().find(|t| !available.contains(t)) {
        return Err(fleet_build::BuildError::UnknownTarget {
            name: unknown.clone(),
            project: project.to_path_buf(),
            available,
        }
        .into());
    }
    let opts = BuildOptions {
        sanitizer: Sanitizer::None,
        toolchain: toolchain.to_owned(),
        targets: targets.to_vec(),
        extra_rustflags: Vec::new(),
    };
    let inherited: Vec<OsString> = std::env::vars_os().map(|(k, _)| k).collect();
    let mut command = build_command(project, &opts, triple, targets, &inherited);
    // Same invocation as the fuzzing build, but its own target dir and flags.
    let dir_at = command
        .args
        .iter()
        .position(|a| a == "--target-dir")
        .map(|i| i + 1)
        .filter(|i| *i < command.args.len());
    match dir_at {
        Some(i) => command.args[i] = coverage_target_dir(project, triple).into(),
        None => {
            command.args.push("--target-dir".into());
            command
                .args
                .push(coverage_target_dir(project, triple).into());
        }
    }
    command.env = vec![(
        "CARGO_ENCODED_RUSTFLAGS".into(),
        coverage_rustflags(triple).join("\x1f").into(),
    )];
    let mut cmd = command.to_command();
    run_with_progress(&mut cmd, &project.display().to_string(), progress)?;
    targets
        .iter()
        .map(|name| {
            let path = coverage_binary_path(project, triple, name);
            if path.is_file() {
                Ok((name.clone(), path))
            } else {
                Err(CoverError::MissingBinary {
                    target: name.clone(),
                    path,
                })
            }
        })
        .collect()
}

/// Runs a C/C++ target's configured coverage build command with `sh -c` in `dir`,
/// and checks it left `binary`.
pub fn build_command_line(
    target: &str,
    command_line: &str,
    dir: &Path,
    binary: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<PathBuf, CoverError> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(command_line).current_dir(dir);
    run_with_progress(&mut cmd, target, progress)?;
    if binary.is_file() {
        Ok(binary.to_path_buf())
    } else {
        Err(CoverError::MissingBinary {
            target: target.to_owned(),
            path: binary.to_path_buf(),
        })
    }
}

/// Runs `cmd`, passing each stderr line to `progress` and keeping the last lines
/// of both streams for the error a failure returns.
fn run_with_progress(
    cmd: &mut Command,
    what: &str,
    progress: &mut dyn FnMut(&str),
) -> Result<(), CoverError> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| CoverError::Spawn {
            program: program.clone(),
            source,
        })?;
    // stdout (cargo's JSON, or a build script's chatter) is drained on its own
    // thread so it can never fill its pipe and stall the build.
    let stdout = child.stdout.take().map(|s| thread::spawn(move || tail(s)));
    let mut stderr_tail = VecDeque::new();
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let trimmed = line.trim();
            if !trimmed.is_empty() {
                progress(trimmed);
            }
            push_tail(&mut stderr_tail, line);
        }
    }
    let stdout_tail = stdout
        .map(|h| h.join().unwrap_or_default())
        .unwrap_or_default();
    let status = child.wait().map_err(|source| CoverError::Spawn {
        program: program.clone(),
        source,
    })?;
    if status.success() {
        return Ok(());
    }
    let mut output: Vec<String> = stdout_tail
        .into_iter()
        .filter(|l| !l.starts_with('{'))
        .collect();
    output.extend(stderr_tail);
    Err(CoverError::BuildFailed {
        what: what.to_owned(),
        status: status.to_string(),
        output: output.join("\n"),
    })
}

fn tail(pipe: impl Read) -> VecDeque<String> {
    let mut lines = VecDeque::new();
    for line in BufReader::new(pipe).lines() {
        let Ok(line) = line else { break };
        push_tail(&mut lines, line);
    }
    lines
}

fn push_tail(lines: &mut VecDeque<String>, line: String) {
    if lines.len() == TAIL_LINES {
        lines.pop_front();
    }
    lines.push_back(line);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_build_is_cargo_fuzz_s_with_instrument_coverage_and_no_sanitizer() {
        let flags = coverage_rustflags("x86_64-unknown-linux-gnu");
        assert_eq!(flags.last().unwrap(), "-Cinstrument-coverage");
        assert!(flags.iter().any(|f| f == "fuzzing"), "{flags:?}");
        assert!(!flags.iter().any(|f| f.contains("sanitizer=")), "{flags:?}");
    }

    #[test]
    fn coverage_binaries_live_apart_from_the_fuzzing_build() {
        let p = Path::new("/p/fuzz");
        let t = "x86_64-unknown-linux-gnu";
        let cov = coverage_binary_path(p, t, "a");
        assert_eq!(
            cov,
            Path::new(
                "/p/fuzz/target/x86_64-unknown-linux-gnu/coverage/x86_64-unknown-linux-gnu/release/a"
            )
        );
        assert_ne!(cov, fleet_build::binary_path(p, t, "a"));
    }

    #[test]
    fn a_failed_command_build_shows_its_output() {
        let dir = tempfile::tempdir().unwrap();
        let mut lines = Vec::new();
        let err = build_command_line(
            "t",
            "echo compiling >&2; echo 'error: boom' >&2; exit 3",
            dir.path(),
            &dir.path().join("bin"),
            &mut |l| lines.push(l.to_owned()),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("error: boom"), "{msg}");
        assert_eq!(lines, ["compiling", "error: boom"]);
    }
}
