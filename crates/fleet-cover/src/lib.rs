//! Source-based coverage of a target's corpus: build the coverage variant
//! (`build`), replay every input through it once (`replay`), merge the raw
//! profiles with `llvm-profdata` and report with `llvm-cov` (`tools` finds the
//! ones matching the compiler), parsed into a [`CoverageReport`] (`report`).

mod build;
mod error;
mod replay;
mod report;
mod tools;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

pub use build::{
    build_command_line, build_rust, coverage_binary_path, coverage_rustflags, coverage_target_dir,
};
pub use error::CoverError;
pub use replay::{CHUNK, Replay, ReplayStats, collect_inputs, replay};
pub use report::{
    Counts, CoverageReport, FileCoverage, FunctionCoverage, REPORT_VERSION, Summary, demangle,
    parse_export,
};
pub use tools::{
    LlvmTools, RustLlvm, apt_install_hint, clang_major_of_binary, for_clang_binary, for_rust,
    rust_llvm, rustup_install_hint, tool_major,
};

use error::io_err;

/// Sources that are not the code under test: dependencies from the registry or
/// git, the standard library (remapped to `/rustc/<hash>/` or in a sysroot), and
/// cargo-fuzz harnesses. llvm-cov's `-ignore-filename-regex` syntax (POSIX ERE).
pub const DEFAULT_IGNORE: &[&str] = &[
    "/\\.cargo/registry/",
    "/\\.cargo/git/",
    "^/rustc/",
    "/library/(std|core|alloc)/",
    "/lib/rustlib/",
    "/fuzz_targets/",
];

/// The files one report run leaves in its output directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outputs {
    pub dir: PathBuf,
    pub profdata: PathBuf,
    /// Our parsed report, as `coverage --json` prints it.
    pub json: PathBuf,
    pub lcov: PathBuf,
    /// Holds `index.html`.
    pub html: PathBuf,
    pub replay_log: PathBuf,
}

impl Outputs {
    /// The default layout under `dir` (`<state>/coverage/<target>/`), with the
    /// HTML report and lcov file moved where the caller asks.
    pub fn under(dir: &Path, html: Option<PathBuf>, lcov: Option<PathBuf>) -> Self {
        Outputs {
            dir: dir.to_path_buf(),
            profdata: dir.join("coverage.profdata"),
            json: dir.join("coverage.json"),
            lcov: lcov.unwrap_or_else(|| dir.join("coverage.lcov")),
            html: html.unwrap_or_else(|| dir.join("html")),
            replay_log: dir.join("replay.log"),
        }
    }

    fn raw_dir(&self) -> PathBuf {
        self.dir.join("raw")
    }
}

/// A long step of a report, for progress messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Replaying { done: usize, total: usize },
    Merging { profiles: usize },
    Exporting,
    Html,
}

/// What to report on.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub target: &'a str,
    /// The coverage build of the target.
    pub binary: &'a Path,
    pub tools: &'a LlvmTools,
    pub inputs: &'a [PathBuf],
    pub timeout_s: u64,
    pub rss_limit_mb: u64,
    /// `-ignore-filename-regex` patterns: what is not the code under test.
    pub ignore: &'a [String],
}

/// Replays `req.inputs`, merges, and writes every report into `out`; returns the
/// parsed report (also written to `out.json`).
pub fn report(
    req: &Request<'_>,
    out: &Outputs,
    progress: &mut dyn FnMut(Step),
) -> Result<CoverageReport, CoverError> {
    let raw = out.raw_dir();
    if raw.exists() {
        fs::remove_dir_all(&raw).map_err(io_err("cannot clear", &raw))?;
    }
    fs::create_dir_all(&raw).map_err(io_err("cannot create", &raw))?;
    let stats = replay(
        &Replay {
            binary: req.binary,
            raw_dir: &raw,
            timeout_s: req.timeout_s,
            rss_limit_mb: req.rss_limit_mb,
            log: &out.replay_log,
        },
        req.inputs,
        &mut |done, total| progress(Step::Replaying { done, total }),
    )?;
    if stats.profiles == 0 {
        return Err(CoverError::NoProfiles {
            target: req.target.to_owned(),
            crashed: stats.crashed,
        });
    }

    progress(Step::Merging {
        profiles: stats.profiles,
    });
    let mut merge = Command::new(&req.tools.profdata);
    merge
        .args(["merge", "-sparse"])
        .arg(&raw)
        .arg("-o")
        .arg(&out.profdata);
    run_tool(&mut merge)?;
    // The merged profile holds everything; the raw ones are big and now redundant.
    let _ = fs::remove_dir_all(&raw);

    progress(Step::Exporting);
    let json = run_tool(
        req.cov_command("export")
            .arg("-format=text")
            .arg("-skip-expansions")
            .arg(format!("-instr-profile={}", out.profdata.display())),
    )?;
    let parsed = parse_export(req.target, &json, stats)?;
    let lcov = run_tool(
        req.cov_command("export")
            .arg("-format=lcov")
            .arg(format!("-instr-profile={}", out.profdata.display())),
    )?;
    write(&out.lcov, &lcov)?;
    write(
        &out.json,
        &serde_json::to_vec_pretty(&parsed).map_err(CoverError::Export)?,
    )?;

    progress(Step::Html);
    fs::create_dir_all(&out.html).map_err(io_err("cannot create", &out.html))?;
    run_tool(
        req.cov_command("show")
            .arg("-format=html")
            .arg("-show-line-counts-or-regions")
            .arg(format!("-output-dir={}", out.html.display()))
            .arg(format!("-instr-profile={}", out.profdata.display())),
    )?;
    Ok(parsed)
}

impl Request<'_> {
    /// `llvm-cov SUB BINARY` with the ignore patterns.
    fn cov_command(&self, sub: &str) -> Command {
        let mut cmd = Command::new(&self.tools.cov);
        cmd.arg(sub).arg(self.binary);
        for pattern in self.ignore {
            cmd.arg(format!("-ignore-filename-regex={pattern}"));
        }
        cmd
    }
}

/// The default ignore patterns, owned.
pub fn default_ignore() -> Vec<String> {
    DEFAULT_IGNORE.iter().map(|s| (*s).to_owned()).collect()
}

/// What of a cargo-fuzz project is harness rather than code under test: a project
/// that depends on a crate by `path` fuzzes that crate, so its own `src/` (shared
/// harness helpers) is harness too; a project without one tests its own `src/`.
/// An unreadable manifest keeps everything (the report shows more, never less).
pub fn project_ignore(project: &Path) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Manifest {
        #[serde(default)]
        dependencies: std::collections::BTreeMap<String, toml::Value>,
    }
    let Ok(text) = fs::read_to_string(project.join("Cargo.toml")) else {
        return Vec::new();
    };
    let Ok(manifest) = toml::from_str::<Manifest>(&text) else {
        return Vec::new();
    };
    let fuzzes_another_crate = manifest
        .dependencies
        .values()
        .any(|d| d.get("path").is_some());
    if fuzzes_another_crate {
        vec![format!(
            "^{}/src/",
            ere_escape(&project.display().to_string())
        )]
    } else {
        Vec::new()
    }
}

/// `text` as a POSIX extended regex matching itself.
fn ere_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.^$|?*+()[]{}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Runs an llvm tool; its stdout on success, its stderr in the error otherwise.
fn run_tool(cmd: &mut Command) -> Result<Vec<u8>, CoverError> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd.output().map_err(|source| CoverError::Spawn {
        program: program.clone(),
        source,
    })?;
    if out.status.success() {
        return Ok(out.stdout);
    }
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    Err(CoverError::Tool {
        command: format!("{program} {}", args.join(" ")),
        status: out.status.to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    })
}

/// Writes `bytes` to `path` atomically, creating its directory.
fn write(path: &Path, bytes: &[u8]) -> Result<(), CoverError> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io_err("cannot create", parent))?;
    }
    fleet_store::write_atomic(path, bytes).map_err(io_err("cannot write", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_fuzzing_a_path_dependency_ignores_its_own_src() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fu+zz");
        fs::create_dir(&p).unwrap();
        fs::write(
            p.join("Cargo.toml"),
            "[package]\nname = \"f\"\n[dependencies]\nlibfuzzer-sys = \"0.4\"\ncore-crate = { path = \"../core\" }\n",
        )
        .unwrap();
        assert_eq!(
            project_ignore(&p),
            [format!(
                "^{}/fu\\+zz/src/",
                ere_escape(&dir.path().display().to_string())
            )]
        );
        fs::write(
            p.join("Cargo.toml"),
            "[package]\nname = \"f\"\n[dependencies]\nlibfuzzer-sys = \"0.4\"\n",
        )
        .unwrap();
        assert!(project_ignore(&p).is_empty());
    }
}
