//! A C/C++ project's own build command (`make -j fuzz`, a CMake build, a script): run
//! with `sh -c` in its directory with its environment, every output line passed on as
//! progress, and the last lines — the compiler's own messages — kept for the error
//! when it fails.

use std::collections::VecDeque;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;

use crate::BuildError;
use crate::runner::{MESSAGE_TAIL_LINES, Stream, spawn_reader};

/// A build command and where and how it runs.
#[derive(Debug, Clone, Copy)]
pub struct ShellBuild<'a> {
    /// Run with `sh -c`.
    pub command: &'a str,
    /// Its working directory.
    pub dir: &'a Path,
    /// Added to the inherited environment.
    pub env: &'a [(String, String)],
}

/// Runs the command to its end; each line it prints (stdout and stderr, in the order
/// they arrive) goes to `progress`. A non-zero exit is [`BuildError::CompileFailed`]
/// with the last [`MESSAGE_TAIL_LINES`] lines.
pub fn run_shell_build(
    build: &ShellBuild<'_>,
    progress: &mut dyn FnMut(&str),
) -> Result<(), BuildError> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(build.command)
        .current_dir(build.dir)
        .envs(build.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| BuildError::Spawn {
            program: format!("sh -c {:?} (in {})", build.command, build.dir.display()),
            hint: "",
            source,
        })?;
    // Each pipe drained on its own thread, so a chatty build never stalls on a full
    // pipe; lines reach the caller here, on its thread.
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
    let mut tail: VecDeque<String> = VecDeque::with_capacity(MESSAGE_TAIL_LINES);
    for (_, line) in rx {
        progress(&line);
        if tail.len() == MESSAGE_TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line);
    }
    for reader in readers.into_iter().flatten() {
        reader.join().expect("build output reader panicked");
    }
    let status = child.wait().map_err(|source| BuildError::Spawn {
        program: "sh".into(),
        hint: "",
        source,
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(BuildError::CompileFailed {
            project: build.dir.to_path_buf(),
            status: format!("`{}`: {status}", build.command),
            messages: tail.into(),
        })
    }
}

/// Lower-case hex SHA-1 of a file: a binary's build id, as the crash pipeline keys
/// builds (a harness whose binary did not change is the same build).
pub fn file_sha1(path: &Path) -> std::io::Result<String> {
    use sha1::{Digest, Sha1};
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha1::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_stream_and_failures_keep_the_tail() {
        let dir = std::env::current_dir().unwrap();
        let mut seen = Vec::new();
        let env = [("GREETING".to_owned(), "hello".to_owned())];
        run_shell_build(
            &ShellBuild {
                command: "echo $GREETING; echo to-stderr >&2",
                dir: &dir,
                env: &env,
            },
            &mut |l| seen.push(l.to_owned()),
        )
        .unwrap();
        seen.sort();
        assert_eq!(seen, ["hello", "to-stderr"]);
        let err = run_shell_build(
            &ShellBuild {
                command: "echo 'x.c:1:1: error: nope' >&2; exit 3",
                dir: &dir,
                env: &[],
            },
            &mut |_| {},
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("exit status: 3"), "{text}");
        assert!(text.ends_with("x.c:1:1: error: nope"), "{text}");
    }

    #[test]
    fn sha1_of_a_file() {
        let dir = fleet_testkit::temp_dir();
        let f = dir.path().join("f");
        std::fs::write(&f, b"").unwrap();
        assert_eq!(
            file_sha1(&f).unwrap(),
            "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
    }
}
