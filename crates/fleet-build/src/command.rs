//! The `cargo build` command for a cargo-fuzz project, built as a pure value:
//! the flags cargo-fuzz passes (src/project.rs `cargo()` in rust-fuzz/cargo-fuzz)
//! and the inherited environment that must not reach it.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{BuildOptions, Sanitizer, discover::target_dir};

/// A command to run, with the environment changes it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildCommand {
    pub program: OsString,
    pub args: Vec<OsString>,
    pub current_dir: PathBuf,
    /// Inherited variables to remove before `env` is applied.
    pub env_remove: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
}

impl BuildCommand {
    pub fn to_command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args).current_dir(&self.current_dir);
        for name in &self.env_remove {
            cmd.env_remove(name);
        }
        for (name, value) in &self.env {
            cmd.env(name, value);
        }
        cmd
    }

    /// The same cargo invocation asking only for its unit graph (nightly's
    /// `--unit-graph`), which tells how many units the build has.
    pub fn unit_graph(&self) -> BuildCommand {
        let mut cmd = self.clone();
        cmd.args
            .extend(["--unit-graph", "-Z", "unstable-options"].map(OsString::from));
        cmd
    }
}

/// Sanitizer-coverage and debugging flags, in cargo-fuzz's order.
pub fn rustflags(sanitizer: Sanitizer, triple: &str, extra: &[String]) -> Vec<String> {
    let mut flags: Vec<String> = [
        "-Cpasses=sancov-module",
        "-Cllvm-args=-sanitizer-coverage-level=4",
        "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
        "-Cllvm-args=-sanitizer-coverage-pc-table",
        "-Cllvm-args=-sanitizer-coverage-trace-compares",
        // cargo-fuzz's default: keeps branches LLVM would fold into selects,
        // so each one stays a coverage edge.
        "-Cllvm-args=-simplifycfg-branch-fold-threshold=0",
        "--cfg",
        "fuzzing",
        "-Clink-dead-code",
    ]
    .map(String::from)
    .to_vec();
    match sanitizer {
        Sanitizer::Address => flags.push("-Zsanitizer=address".into()),
        Sanitizer::None => {}
    }
    if triple.contains("-linux-") {
        flags.push("-Cllvm-args=-sanitizer-coverage-stack-depth".into());
    }
    flags.extend(
        [
            // cargo-fuzz's default (no `--release`): debug assertions, and so
            // overflow checks, in an optimized build. Spelled out so a
            // profile's `overflow-checks = false` cannot switch them off.
            "-Cdebug-assertions",
            "-Coverflow-checks",
            // Not cargo-fuzz's: ASan's fast unwinder walks frame pointers, and
            // crash signatures need whole stacks.
            "-Cforce-frame-pointers=yes",
            // cargo-fuzz's, for release builds: with more codegen units the
            // sancov pass blocks ThinLTO imports (~3x slower targets).
            "-Ccodegen-units=1",
        ]
        .map(String::from),
    );
    flags.extend(extra.iter().cloned());
    flags
}

/// Inherited variables that would break or silently change the build: other
/// rustflags, a different rustc or wrapper, another target dir or target, the
/// toolchain rustup picked for the caller, and everything cargo sets for the
/// process it runs (`cargo test` runs us with CARGO_MANIFEST_DIR, CARGO_PKG_*,
/// …). Registry, network and job settings are the user's and stay.
pub fn should_clear(name: &OsStr) -> bool {
    const CLEARED: &[&str] = &[
        "RUSTFLAGS",
        "RUSTDOCFLAGS",
        "RUSTC",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTDOC",
        "RUSTUP_TOOLCHAIN",
    ];
    const KEPT_CARGO: &[&str] = &["CARGO_HOME", "CARGO_BUILD_JOBS"];
    const KEPT_CARGO_PREFIXES: &[&str] = &[
        "CARGO_NET_",
        "CARGO_HTTP_",
        "CARGO_REGISTRY_",
        "CARGO_REGISTRIES_",
    ];
    let Some(name) = name.to_str() else {
        return false;
    };
    if CLEARED.contains(&name) || name.starts_with("__CARGO") {
        return true;
    }
    if name == "CARGO" || name.starts_with("CARGO_") {
        return !(KEPT_CARGO.contains(&name)
            || KEPT_CARGO_PREFIXES.iter().any(|p| name.starts_with(p)));
    }
    false
}

/// `cargo build` of `bins` in `project_dir` for `triple`, on `opts.toolchain`
/// through rustup, with `inherited` (the caller's variable names) scrubbed.
pub fn build_command(
    project_dir: &Path,
    opts: &BuildOptions,
    triple: &str,
    bins: &[String],
    inherited: &[OsString],
) -> BuildCommand {
    let mut args: Vec<OsString> = vec!["run".into(), opts.toolchain.clone().into()];
    args.extend(["cargo", "build", "--manifest-path"].map(OsString::from));
    args.push(project_dir.join("Cargo.toml").into());
    // With --target, RUSTFLAGS reach only the target's crates, not build
    // scripts and proc macros (which must not be sanitized).
    args.extend(["--target", triple].map(OsString::from));
    args.extend(
        [
            "--release",
            // cargo-fuzz sets debug=true; line tables are all symbolized
            // stack frames need, and build faster on small machines.
            "--config",
            "profile.release.debug=\"line-tables-only\"",
            "--message-format=json-render-diagnostics",
            "--color",
            "never",
            "--target-dir",
        ]
        .map(OsString::from),
    );
    args.push(target_dir(project_dir).into());
    for bin in bins {
        args.push("--bin".into());
        args.push(bin.into());
    }

    let env_remove = inherited
        .iter()
        .filter(|n| should_clear(n))
        .cloned()
        .collect();
    let encoded = rustflags(opts.sanitizer, triple, &opts.extra_rustflags).join("\x1f");
    BuildCommand {
        program: "rustup".into(),
        args,
        current_dir: project_dir.to_path_buf(),
        env_remove,
        // The encoded form takes precedence over every other rustflags source
        // and keeps flags with spaces whole.
        env: vec![("CARGO_ENCODED_RUSTFLAGS".into(), encoded.into())],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINUX: &str = "x86_64-unknown-linux-gnu";

    fn flags(sanitizer: Sanitizer) -> Vec<String> {
        rustflags(sanitizer, LINUX, &[])
    }

    #[test]
    fn address_flags_are_cargo_fuzz_s() {
        assert_eq!(
            flags(Sanitizer::Address),
            [
                "-Cpasses=sancov-module",
                "-Cllvm-args=-sanitizer-coverage-level=4",
                "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
                "-Cllvm-args=-sanitizer-coverage-pc-table",
                "-Cllvm-args=-sanitizer-coverage-trace-compares",
                "-Cllvm-args=-simplifycfg-branch-fold-threshold=0",
                "--cfg",
                "fuzzing",
                "-Clink-dead-code",
                "-Zsanitizer=address",
                "-Cllvm-args=-sanitizer-coverage-stack-depth",
                "-Cdebug-assertions",
                "-Coverflow-checks",
                "-Cforce-frame-pointers=yes",
                "-Ccodegen-units=1",
            ]
        );
    }

    #[test]
    fn no_sanitizer_means_no_sanitizer_flag() {
        let f = flags(Sanitizer::None);
        assert!(!f.iter().any(|x| x.contains("sanitizer=")), "{f:?}");
        assert!(f.contains(&"-Cpasses=sancov-module".to_owned()));
    }

    #[test]
    fn stack_depth_only_on_linux_and_extra_flags_last() {
        let f = rustflags(
            Sanitizer::None,
            "aarch64-apple-darwin",
            &["-Cfoo=bar x".into()],
        );
        assert!(!f.iter().any(|x| x.contains("stack-depth")));
        assert_eq!(f.last().unwrap(), "-Cfoo=bar x");
    }

    #[test]
    fn clears_what_would_break_the_build_and_keeps_user_settings() {
        for name in [
            "RUSTFLAGS",
            "CARGO_ENCODED_RUSTFLAGS",
            "RUSTC",
            "RUSTC_WRAPPER",
            "RUSTUP_TOOLCHAIN",
            "CARGO",
            "CARGO_TARGET_DIR",
            "CARGO_BUILD_TARGET",
            "CARGO_MANIFEST_DIR",
            "CARGO_PKG_NAME",
            "CARGO_PRIMARY_PACKAGE",
            "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS",
            "CARGO_PROFILE_RELEASE_DEBUG",
            "__CARGO_FIX_PLZ",
        ] {
            assert!(should_clear(OsStr::new(name)), "{name} should be cleared");
        }
        for name in [
            "PATH",
            "HOME",
            "CARGO_HOME",
            "RUSTUP_HOME",
            "CARGO_BUILD_JOBS",
            "CARGO_NET_OFFLINE",
            "CARGO_HTTP_TIMEOUT",
            "CARGO_REGISTRIES_CRATES_IO_PROTOCOL",
            "ASAN_OPTIONS",
        ] {
            assert!(!should_clear(OsStr::new(name)), "{name} should be kept");
        }
    }

    #[test]
    fn command_runs_cargo_through_rustup_for_the_target_triple() {
        let opts = BuildOptions {
            toolchain: "nightly-2026-05-01".into(),
            ..BuildOptions::default()
        };
        let inherited: Vec<OsString> = ["PATH", "RUSTFLAGS", "CARGO_MANIFEST_DIR"]
            .map(OsString::from)
            .to_vec();
        let cmd = build_command(
            Path::new("/p/fuzz"),
            &opts,
            LINUX,
            &["a".into(), "b".into()],
            &inherited,
        );
        assert_eq!(cmd.program, "rustup");
        let args: Vec<String> = cmd
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "run",
                "nightly-2026-05-01",
                "cargo",
                "build",
                "--manifest-path",
                "/p/fuzz/Cargo.toml",
                "--target",
                LINUX,
                "--release",
                "--config",
                "profile.release.debug=\"line-tables-only\"",
                "--message-format=json-render-diagnostics",
                "--color",
                "never",
                "--target-dir",
                "/p/fuzz/target",
                "--bin",
                "a",
                "--bin",
                "b",
            ]
        );
        assert_eq!(cmd.current_dir, Path::new("/p/fuzz"));
        assert_eq!(cmd.env_remove, ["RUSTFLAGS", "CARGO_MANIFEST_DIR"]);
        assert_eq!(cmd.env.len(), 1);
        assert_eq!(cmd.env[0].0, "CARGO_ENCODED_RUSTFLAGS");
        let encoded = cmd.env[0].1.to_str().unwrap();
        assert_eq!(
            encoded.split('\x1f').collect::<Vec<_>>(),
            flags(Sanitizer::Address)
        );
        let graph = cmd.unit_graph();
        assert!(graph.args.ends_with(&[
            "--unit-graph".into(),
            "-Z".into(),
            "unstable-options".into()
        ]));
    }
}
