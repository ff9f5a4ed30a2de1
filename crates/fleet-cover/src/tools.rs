//! Finding `llvm-profdata` and `llvm-cov` whose LLVM matches the compiler that
//! built a target: a profile written by one LLVM's runtime is read reliably only
//! by the same major version's tools.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::CoverError;

/// The pair of tools that turn raw profiles into reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlvmTools {
    pub profdata: PathBuf,
    pub cov: PathBuf,
    /// The LLVM major version both tools report.
    pub llvm_major: u32,
}

/// What `rustc -vV` of a toolchain says about the LLVM it uses and where its
/// sysroot is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RustLlvm {
    pub toolchain: String,
    /// From the `LLVM version:` line, e.g. 22.
    pub llvm_major: u32,
    pub host: String,
    pub sysroot: PathBuf,
}

/// The command that installs the llvm-tools component for `toolchain`.
pub fn rustup_install_hint(toolchain: &str) -> String {
    format!("rustup component add llvm-tools --toolchain {toolchain}")
}

/// The Debian package with LLVM `major`'s command-line tools.
pub fn apt_install_hint(major: u32) -> String {
    format!("apt-get install llvm-{major}")
}

/// Asks `rustup run TOOLCHAIN rustc` for its LLVM version, host and sysroot.
pub fn rust_llvm(toolchain: &str) -> Result<RustLlvm, CoverError> {
    let run = |args: &[&str]| -> Result<String, CoverError> {
        let mut cmd = scrubbed("rustup");
        cmd.args(["run", toolchain, "rustc"])
            .args(args)
            .env("RUSTUP_AUTO_INSTALL", "0");
        let out = cmd.output().map_err(|source| CoverError::Spawn {
            program: "rustup".into(),
            source,
        })?;
        if !out.status.success() {
            return Err(CoverError::Tool {
                command: format!("rustup run {toolchain} rustc {}", args.join(" ")),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let vv = run(&["-vV"])?;
    let field = |key: &str| {
        vv.lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|v| v.trim().to_owned())
    };
    let bad = || CoverError::Tool {
        command: format!("rustup run {toolchain} rustc -vV"),
        status: "ok".into(),
        stderr: format!("no `LLVM version:` or `host:` line in: {vv}"),
    };
    let llvm_major = field("LLVM version:")
        .as_deref()
        .and_then(major_of)
        .ok_or_else(bad)?;
    let host = field("host:").ok_or_else(bad)?;
    let sysroot = PathBuf::from(run(&["--print", "sysroot"])?.trim());
    Ok(RustLlvm {
        toolchain: toolchain.to_owned(),
        llvm_major,
        host,
        sysroot,
    })
}

/// The tools for targets built by `rust`: rustup's llvm-tools component (exactly
/// the compiler's LLVM) first, else the distribution's tools of the same major.
pub fn for_rust(rust: &RustLlvm) -> Result<LlvmTools, CoverError> {
    let component = rust
        .sysroot
        .join("lib/rustlib")
        .join(&rust.host)
        .join("bin");
    let mut dirs = vec![component];
    dirs.extend(versioned_dirs(rust.llvm_major));
    find(&dirs, Some(rust.llvm_major)).ok_or_else(|| CoverError::ToolsMissing {
        what: format!(
            "llvm-profdata and llvm-cov of LLVM {} (the LLVM of Rust toolchain {})",
            rust.llvm_major, rust.toolchain
        ),
        install: format!(
            "install them with: {} (or: {})",
            rustup_install_hint(&rust.toolchain),
            apt_install_hint(rust.llvm_major)
        ),
    })
}

/// The tools for a C/C++ binary: the LLVM major of the clang that built it (from
/// the `clang version N` its `.comment` section carries), else whatever
/// unversioned tools are on PATH.
pub fn for_clang_binary(binary: &Path) -> Result<LlvmTools, CoverError> {
    let major = clang_major_of_binary(binary);
    let dirs = match major {
        Some(m) => versioned_dirs(m),
        None => Vec::new(),
    };
    find(&dirs, major).ok_or_else(|| {
        let (what, install) = match major {
            Some(m) => (
                format!(
                    "llvm-profdata and llvm-cov of LLVM {m} (the clang that built {})",
                    binary.display()
                ),
                format!("install them with: {}", apt_install_hint(m)),
            ),
            None => (
                "llvm-profdata and llvm-cov".to_owned(),
                format!(
                    "{} names no clang version; install the llvm-N package matching the clang that built it",
                    binary.display()
                ),
            ),
        };
        CoverError::ToolsMissing { what, install }
    })
}

/// Where a distribution keeps LLVM `major`'s tools: Debian's `/usr/lib/llvm-N/bin`,
/// then `llvm-profdata-N` on PATH (a pseudo-dir, see `find`).
fn versioned_dirs(major: u32) -> Vec<PathBuf> {
    vec![PathBuf::from(format!("/usr/lib/llvm-{major}/bin"))]
}

/// The first place with both tools reporting `major` (any version when `None`):
/// each dir in `dirs`, then `llvm-profdata-N`/`llvm-cov-N` and plain names on PATH.
fn find(dirs: &[PathBuf], major: Option<u32>) -> Option<LlvmTools> {
    let mut candidates: Vec<(PathBuf, PathBuf)> = dirs
        .iter()
        .map(|d| (d.join("llvm-profdata"), d.join("llvm-cov")))
        .collect();
    let path_dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for dir in &path_dirs {
        if let Some(m) = major {
            candidates.push((
                dir.join(format!("llvm-profdata-{m}")),
                dir.join(format!("llvm-cov-{m}")),
            ));
        }
        candidates.push((dir.join("llvm-profdata"), dir.join("llvm-cov")));
    }
    candidates.into_iter().find_map(|(profdata, cov)| {
        if !profdata.is_file() || !cov.is_file() {
            return None;
        }
        let p = tool_major(&profdata)?;
        let c = tool_major(&cov)?;
        (p == c && major.is_none_or(|m| m == p)).then_some(LlvmTools {
            profdata,
            cov,
            llvm_major: p,
        })
    })
}

/// The major of `LLVM version X.Y.Z` in a tool's `--version` output (LLVM 14's
/// llvm-profdata only answers it after a subcommand: `merge --version`).
pub fn tool_major(tool: &Path) -> Option<u32> {
    [&["--version"][..], &["merge", "--version"][..]]
        .iter()
        .find_map(|args| {
            let out = Command::new(tool).args(*args).output().ok()?;
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            let rest = text.split("LLVM version").nth(1)?;
            major_of(rest.trim())
        })
}

fn major_of(version: &str) -> Option<u32> {
    let digits: String = version
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// The LLVM major of the clang that built `binary`, from the `clang version N.`
/// string clang leaves in the `.comment` section.
pub fn clang_major_of_binary(binary: &Path) -> Option<u32> {
    let bytes = fs::read(binary).ok()?;
    let needle = b"clang version ";
    let at = bytes.windows(needle.len()).position(|w| w == needle)?;
    let rest = &bytes[at + needle.len()..];
    let end = rest.iter().position(|b| !b.is_ascii_digit())?;
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

/// A command without the inherited variables that would pick another rustc.
fn scrubbed(program: &str) -> Command {
    let mut cmd = Command::new(program);
    let names: Vec<OsString> = std::env::vars_os().map(|(k, _)| k).collect();
    for name in names.iter().filter(|n| fleet_build::should_clear(n)) {
        cmd.env_remove(name);
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majors_parse_from_version_strings() {
        assert_eq!(major_of("22.1.4"), Some(22));
        assert_eq!(major_of("14.0.6-rust"), Some(14));
        assert_eq!(major_of("x"), None);
    }

    #[test]
    fn clang_version_is_read_from_a_binary_comment() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("b");
        fs::write(
            &bin,
            b"\x7fELF\0\0GCC: (Debian)\0Debian clang version 14.0.6\0",
        )
        .unwrap();
        assert_eq!(clang_major_of_binary(&bin), Some(14));
        fs::write(&bin, b"\x7fELF\0rustc version 1.97.0\0").unwrap();
        assert_eq!(clang_major_of_binary(&bin), None);
    }

    #[test]
    fn missing_tools_name_the_install_command() {
        let rust = RustLlvm {
            toolchain: "nightly".into(),
            llvm_major: 999,
            host: "x86_64-unknown-linux-gnu".into(),
            sysroot: PathBuf::from("/nonexistent"),
        };
        let msg = for_rust(&rust).unwrap_err().to_string();
        assert!(
            msg.contains("rustup component add llvm-tools --toolchain nightly"),
            "{msg}"
        );
        assert!(msg.contains("apt-get install llvm-999"), "{msg}");
    }
}
