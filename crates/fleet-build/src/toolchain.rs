//! Which Rust toolchain builds the targets: is it installed, is it nightly,
//! and which host triple it builds for (from `rustc -vV`).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::process::{Command, Output};
use std::sync::Mutex;

use crate::BuildError;
use crate::command::should_clear;

/// What `rustc -vV` of a toolchain says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolchainInfo {
    /// The toolchain name asked for, e.g. `nightly`.
    pub toolchain: String,
    /// The first line, e.g. `rustc 1.97.0-nightly (e50aa6fba 2026-05-19)`.
    pub version: String,
    /// The `release:` line, e.g. `1.97.0-nightly`.
    pub release: String,
    /// The `host:` line, e.g. `x86_64-unknown-linux-gnu`.
    pub host: String,
    /// Whether `-Z` flags (the sanitizers) are accepted.
    pub nightly: bool,
}

/// Checks that rustup has `toolchain` installed and asks its rustc who it is;
/// a missing toolchain is an error whose message gives the install command.
/// Never installs anything (`RUSTUP_AUTO_INSTALL=0`).
pub fn check_toolchain(toolchain: &str) -> Result<ToolchainInfo, BuildError> {
    let output = rustc_vv(toolchain).map_err(|source| BuildError::Spawn {
        program: "rustup".into(),
        hint: "; is rustup installed and on PATH? (https://rustup.rs)",
        source,
    })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let detail = stderr
            .lines()
            .find(|l| l.starts_with("error:"))
            .unwrap_or_else(|| stderr.lines().next().unwrap_or("no output"))
            .trim()
            .to_owned();
        return Err(if detail.contains("not installed") {
            BuildError::ToolchainMissing {
                toolchain: toolchain.to_owned(),
                detail,
            }
        } else {
            BuildError::ToolchainBroken {
                toolchain: toolchain.to_owned(),
                detail: format!("{}: {detail}", output.status),
            }
        });
    }
    let parsed = parse_rustc_vv(&stdout).ok_or_else(|| BuildError::HostTriple {
        output: stdout.clone().into_owned(),
    })?;
    Ok(ToolchainInfo {
        toolchain: toolchain.to_owned(),
        nightly: parsed.release.contains("-nightly") || parsed.release.contains("-dev"),
        version: parsed.version,
        release: parsed.release,
        host: parsed.host,
    })
}

/// `rustup run <toolchain> rustc -vV`, run once per toolchain in a process and kept
/// when it succeeds: a campaign asks it for every target (is its AFL++ build there, for
/// which LLVM), and each run of rustup's proxy costs tens of milliseconds before the
/// first worker starts. Never installs anything (`RUSTUP_AUTO_INSTALL=0`).
pub(crate) fn rustc_vv(toolchain: &str) -> std::io::Result<Output> {
    static SEEN: Mutex<BTreeMap<String, Output>> = Mutex::new(BTreeMap::new());
    let seen = || SEEN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(output) = seen().get(toolchain).cloned() {
        return Ok(output);
    }
    let output = scrubbed("rustup")
        .args(["run", toolchain, "rustc", "-vV"])
        .env("RUSTUP_AUTO_INSTALL", "0")
        .env("RUST_BACKTRACE", "0")
        .output()?;
    if output.status.success() {
        seen().insert(toolchain.to_owned(), output.clone());
    }
    Ok(output)
}

/// The host triple of the `rustc` on PATH (`host:` of `rustc -vV`).
pub fn host_triple() -> Result<String, BuildError> {
    let output = scrubbed("rustc")
        .arg("-vV")
        .output()
        .map_err(|source| BuildError::Spawn {
            program: "rustc".into(),
            hint: "; is a Rust toolchain installed and on PATH? (https://rustup.rs)",
            source,
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    match parse_rustc_vv(&stdout) {
        Some(parsed) if output.status.success() => Ok(parsed.host),
        _ => Err(BuildError::HostTriple {
            output: format!("{stdout}{}", String::from_utf8_lossy(&output.stderr)),
        }),
    }
}

/// A command without the inherited variables that would pick another rustc.
fn scrubbed(program: &str) -> Command {
    let mut cmd = Command::new(program);
    let names: Vec<OsString> = std::env::vars_os().map(|(k, _)| k).collect();
    for name in names.iter().filter(|n| should_clear(n)) {
        cmd.env_remove(name);
    }
    cmd
}

#[derive(Debug, PartialEq, Eq)]
struct RustcVv {
    version: String,
    release: String,
    host: String,
}

fn parse_rustc_vv(output: &str) -> Option<RustcVv> {
    let version = output.lines().next()?.trim();
    if !version.starts_with("rustc ") {
        return None;
    }
    let field = |key: &str| {
        output
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    Some(RustcVv {
        version: version.to_owned(),
        release: field("release:")?,
        host: field("host:")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NIGHTLY_VV: &str = "rustc 1.97.0-nightly (e50aa6fba 2026-05-19)
binary: rustc
commit-hash: e50aa6fba4e63ab34c72bf9acfd2c307c1155d1a
commit-date: 2026-05-19
host: x86_64-unknown-linux-gnu
release: 1.97.0-nightly
LLVM version: 22.1.4
";

    #[test]
    fn parses_rustc_vv() {
        assert_eq!(
            parse_rustc_vv(NIGHTLY_VV).unwrap(),
            RustcVv {
                version: "rustc 1.97.0-nightly (e50aa6fba 2026-05-19)".into(),
                release: "1.97.0-nightly".into(),
                host: "x86_64-unknown-linux-gnu".into(),
            }
        );
        assert_eq!(parse_rustc_vv(""), None);
        assert_eq!(parse_rustc_vv("rustc 1.0\nrelease: 1.0\n"), None);
    }

    #[test]
    fn missing_toolchain_says_how_to_install_it() {
        let err = check_toolchain("fleet-build-test-no-such-toolchain").unwrap_err();
        assert!(matches!(err, BuildError::ToolchainMissing { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("rustup toolchain install fleet-build-test-no-such-toolchain"),
            "{err}"
        );
    }

    #[test]
    fn host_triple_matches_the_compiled_target_arch() {
        let host = host_triple().unwrap();
        assert!(host.starts_with(std::env::consts::ARCH), "{host}");
    }
}
