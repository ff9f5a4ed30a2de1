//! The AFL++ variants of a cargo-fuzz project's targets, from the unchanged harness.
//!
//! The route (`docs/engines.md`): AFL++ is built from source (the copy cargo-afl ships
//! in the `cargo-afl-common` crate) with `LLVM_CONFIG` set to the `llvm-config` of
//! rustc's own LLVM major, so its LLVM plugins load into rustc. Each target is then
//! built twice with cargo, linked with AFL++'s `libAFLDriver.a` in place of libFuzzer
//! (libfuzzer-sys's `CUSTOM_LIBFUZZER_PATH`) and AFL++'s runtime
//! (`afl-compiler-rt.o`): once instrumented for coverage (cargo-afl's plugin flags
//! without CmpLog), once with the CmpLog passes too — the binary `afl-fuzz -c` runs.
//!
//! AFL++ is built once per LLVM major and AFL++ version into
//! `<project>/target/aflpp/afl++-<version>-llvm<major>/` (or under
//! `$FUZZFLEET_AFLPP_DIR`), in a scratch directory renamed into place when complete,
//! so concurrent builds never see half an install.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::command::{BuildCommand, should_clear};
use crate::discover::{discover_targets, target_dir};
use crate::toolchain::check_toolchain;
use crate::{BuildError, BuildEvent, BuildOptions, MESSAGE_TAIL_LINES};

/// Environment variable naming a directory that holds (or will hold) AFL++ installs,
/// shared by every project; default: each project's `target/aflpp/`.
pub const AFLPP_DIR_ENV: &str = "FUZZFLEET_AFLPP_DIR";
/// Environment variable naming an AFL++ source tree to build from.
pub const AFLPP_SRC_ENV: &str = "FUZZFLEET_AFLPP_SRC";

/// The LLVM plugins of the coverage build, in cargo-afl's order (without CmpLog).
const COVERAGE_PLUGINS: &[&str] = &[
    "afl-llvm-dict2file.so",
    "split-switches-pass.so",
    "SanitizerCoveragePCGUARD.so",
];
/// The LLVM plugins of the CmpLog build, in cargo-afl's order.
const CMPLOG_PLUGINS: &[&str] = &[
    "afl-llvm-dict2file.so",
    "cmplog-switches-pass.so",
    "split-switches-pass.so",
    "SanitizerCoveragePCGUARD.so",
    "cmplog-instructions-pass.so",
    "cmplog-routines-pass.so",
];

/// An AFL++ install: `bin/afl-fuzz`, `lib/afl/` (runtime, driver, plugins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AflppInstall {
    pub prefix: PathBuf,
    /// e.g. `4.40c`.
    pub version: String,
    /// The LLVM major its plugins were built against.
    pub llvm_major: u32,
}

impl AflppInstall {
    pub fn afl_fuzz(&self) -> PathBuf {
        self.prefix.join("bin/afl-fuzz")
    }
    pub fn lib_dir(&self) -> PathBuf {
        self.prefix.join("lib/afl")
    }
    /// `libAFLDriver.a`: `main` and the loop that calls `LLVMFuzzerTestOneInput`.
    pub fn driver(&self) -> PathBuf {
        self.lib_dir().join("libAFLDriver.a")
    }
    /// `afl-compiler-rt.o`: the coverage map, the fork server, the CmpLog hooks.
    pub fn runtime(&self) -> PathBuf {
        self.lib_dir().join("afl-compiler-rt.o")
    }

    /// What is missing from the install, if anything (a half-copied or foreign tree).
    pub fn missing(&self) -> Vec<PathBuf> {
        let mut wanted = vec![self.afl_fuzz(), self.driver(), self.runtime()];
        wanted.extend(CMPLOG_PLUGINS.iter().map(|p| self.lib_dir().join(p)));
        wanted.into_iter().filter(|p| !p.is_file()).collect()
    }

    /// The install at `prefix` if it is complete (its `aflpp-install.txt` names the
    /// version and LLVM major it was built for).
    pub fn open(prefix: &Path) -> Option<AflppInstall> {
        let stamp = fs::read_to_string(prefix.join(STAMP)).ok()?;
        let field = |k: &str| {
            stamp
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .map(|v| v.trim().to_owned())
        };
        let install = AflppInstall {
            prefix: prefix.to_path_buf(),
            version: field("version=")?,
            llvm_major: field("llvm_major=")?.parse().ok()?,
        };
        install.missing().is_empty().then_some(install)
    }
}

const STAMP: &str = "aflpp-install.txt";

/// Why the AFL++ variants cannot be built here. Each says what to install.
#[derive(Debug, thiserror::Error)]
pub enum AflppUnavailable {
    #[error(
        "no AFL++ source: set {AFLPP_SRC_ENV} to an AFLplusplus tree, or fetch the one \
         cargo-afl ships with `cargo install cargo-afl` (looked in {})",
        searched.display()
    )]
    NoSource { searched: PathBuf },
    #[error(
        "AFL++'s LLVM plugins must match rustc's LLVM {major}, and no llvm-config-{major} \
         was found; fix (Debian 12): apt-get install llvm-{major}-dev clang-{major} \
         (bookworm-security)"
    )]
    NoLlvmConfig { major: u32 },
    #[error("{llvm_config} says LLVM {found}, but rustc ({toolchain}) is on LLVM {major}")]
    LlvmMismatch {
        llvm_config: PathBuf,
        found: String,
        major: u32,
        toolchain: String,
    },
    #[error(
        "toolchain `{toolchain}` is not nightly; AFL++'s plugins load through rustc's \
         -Zllvm-plugins; fix: rustup toolchain install nightly"
    )]
    NotNightly { toolchain: String },
    #[error("could not tell rustc's LLVM version from `rustc -vV` of `{toolchain}`")]
    NoRustcLlvm { toolchain: String },
    #[error(
        "`{program}` is needed to build AFL++ and is not on PATH; fix: apt-get install {package}"
    )]
    NoTool {
        program: &'static str,
        package: &'static str,
    },
    #[error(transparent)]
    Toolchain(#[from] BuildError),
    #[error("building AFL++ from {src} failed ({status}); last output:\n{}", tail.join("\n"))]
    MakeFailed {
        src: PathBuf,
        status: String,
        tail: Vec<String>,
    },
    #[error("AFL++ was built in {prefix} but is missing {}", missing.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    Incomplete {
        prefix: PathBuf,
        missing: Vec<PathBuf>,
    },
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// What is known about AFL++ here without building anything (for `doctor`).
#[derive(Debug)]
pub struct AflppProbe {
    /// rustc's LLVM major, when the toolchain told.
    pub llvm_major: Option<u32>,
    /// A complete install for that LLVM, if one is built already.
    pub installed: Option<AflppInstall>,
    /// The source tree a build would use.
    pub source: Option<(PathBuf, String)>,
    /// The `llvm-config` a build would use.
    pub llvm_config: Option<PathBuf>,
    /// Why AFL++ cannot be built (nor is installed); `None` when it is usable.
    pub unavailable: Option<AflppUnavailable>,
}

/// The directory installs are kept in for `project_dir`.
pub fn aflpp_cache_dir(project_dir: &Path) -> PathBuf {
    match std::env::var_os(AFLPP_DIR_ENV).filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => target_dir(project_dir).join("aflpp"),
    }
}

/// The install directory for AFL++ `version` on LLVM `major` under `cache`.
pub fn install_prefix(cache: &Path, version: &str, major: u32) -> PathBuf {
    cache.join(format!("afl++-{version}-llvm{major}"))
}

/// rustc's LLVM major for `toolchain` (`LLVM version: 22.1.4` of `rustc -vV`).
pub fn rustc_llvm_major(toolchain: &str) -> Result<u32, AflppUnavailable> {
    let output = crate::toolchain::rustc_vv(toolchain).map_err(|source| AflppUnavailable::Io {
        what: "cannot run",
        path: "rustup".into(),
        source,
    })?;
    let text = String::from_utf8_lossy(&output.stdout);
    parse_llvm_major(&text).ok_or_else(|| AflppUnavailable::NoRustcLlvm {
        toolchain: toolchain.to_owned(),
    })
}

fn parse_llvm_major(rustc_vv: &str) -> Option<u32> {
    rustc_vv
        .lines()
        .find_map(|l| l.strip_prefix("LLVM version:"))
        .and_then(|v| v.trim().split('.').next()?.parse().ok())
}

/// The AFL++ source tree: `$FUZZFLEET_AFLPP_SRC`, else the newest
/// `cargo-afl-common-*/AFLplusplus` in cargo's registry. With its version
/// (`include/config.h`).
pub fn find_aflpp_source() -> Result<(PathBuf, String), AflppUnavailable> {
    if let Some(src) = std::env::var_os(AFLPP_SRC_ENV).filter(|v| !v.is_empty()) {
        let src = PathBuf::from(src);
        return match source_version(&src) {
            Some(v) => Ok((src, v)),
            None => Err(AflppUnavailable::NoSource { searched: src }),
        };
    }
    let registry = cargo_home().join("registry/src");
    let mut found: Vec<(Vec<u64>, PathBuf)> = Vec::new();
    for index in fs::read_dir(&registry).into_iter().flatten().flatten() {
        for krate in fs::read_dir(index.path()).into_iter().flatten().flatten() {
            let name = krate.file_name().to_string_lossy().into_owned();
            let Some(ver) = name.strip_prefix("cargo-afl-common-") else {
                continue;
            };
            let src = krate.path().join("AFLplusplus");
            if src.join("include/config.h").is_file() {
                let key = ver.split('.').map(|p| p.parse().unwrap_or(0)).collect();
                found.push((key, src));
            }
        }
    }
    found.sort();
    let (_, src) = found.pop().ok_or(AflppUnavailable::NoSource {
        searched: registry.clone(),
    })?;
    let version = source_version(&src).ok_or(AflppUnavailable::NoSource { searched: registry })?;
    Ok((src, version))
}

fn cargo_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CARGO_HOME").filter(|v| !v.is_empty()) {
        return home.into();
    }
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".cargo")
}

/// `4.40c` from `#define VERSION "++4.40c"` in `include/config.h`.
fn source_version(src: &Path) -> Option<String> {
    let config = fs::read_to_string(src.join("include/config.h")).ok()?;
    config.lines().find_map(|l| {
        let v = l.trim().strip_prefix("#define VERSION")?.trim();
        Some(v.trim_matches('"').trim_start_matches("++").to_owned())
    })
}

/// `llvm-config-<major>` on PATH, else Debian's `/usr/lib/llvm-<major>/bin/llvm-config`,
/// checked to say that major.
pub fn find_llvm_config(major: u32, toolchain: &str) -> Result<PathBuf, AflppUnavailable> {
    let candidates = [
        PathBuf::from(format!("llvm-config-{major}")),
        PathBuf::from(format!("/usr/lib/llvm-{major}/bin/llvm-config")),
    ];
    for candidate in candidates {
        let Ok(out) = Command::new(&candidate).arg("--version").output() else {
            continue;
        };
        if !out.status.success() {
            continue;
        }
        let found = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if found.split('.').next() == Some(major.to_string().as_str()) {
            return Ok(candidate);
        }
        return Err(AflppUnavailable::LlvmMismatch {
            llvm_config: candidate,
            found,
            major,
            toolchain: toolchain.to_owned(),
        });
    }
    Err(AflppUnavailable::NoLlvmConfig { major })
}

fn on_path(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Whether AFL++ is usable for `project_dir`'s `toolchain`, without building it.
pub fn probe_aflpp(project_dir: &Path, toolchain: &str) -> AflppProbe {
    let mut probe = AflppProbe {
        llvm_major: None,
        installed: None,
        source: None,
        llvm_config: None,
        unavailable: None,
    };
    let result = (|| {
        let info = check_toolchain(toolchain)?;
        if !info.nightly {
            return Err(AflppUnavailable::NotNightly {
                toolchain: toolchain.to_owned(),
            });
        }
        let major = rustc_llvm_major(toolchain)?;
        probe.llvm_major = Some(major);
        probe.installed = find_install(&aflpp_cache_dir(project_dir), major);
        if probe.installed.is_some() {
            return Ok(());
        }
        probe.source = Some(find_aflpp_source()?);
        probe.llvm_config = Some(find_llvm_config(major, toolchain)?);
        for (program, package) in [("make", "make"), ("cc", "gcc")] {
            if !on_path(program) {
                return Err(AflppUnavailable::NoTool { program, package });
            }
        }
        Ok(())
    })();
    probe.unavailable = result.err();
    probe
}

/// A complete install for LLVM `major` under `cache`, the newest AFL++ first.
fn find_install(cache: &Path, major: u32) -> Option<AflppInstall> {
    let mut installs: Vec<AflppInstall> = fs::read_dir(cache)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| AflppInstall::open(&e.path()))
        .filter(|i| i.llvm_major == major)
        .collect();
    installs.sort_by(|a, b| a.version.cmp(&b.version));
    installs.pop()
}

/// AFL++ for `toolchain`'s LLVM, built into the cache the first time (about two
/// minutes on two cores) and reused after. `log` gets a line when a build starts.
pub fn ensure_aflpp(
    project_dir: &Path,
    toolchain: &str,
    log: &mut dyn FnMut(&str),
) -> Result<AflppInstall, AflppUnavailable> {
    let probe = probe_aflpp(project_dir, toolchain);
    if let Some(why) = probe.unavailable {
        return Err(why);
    }
    if let Some(install) = probe.installed {
        return Ok(install);
    }
    let (Some(major), Some((src, version)), Some(llvm_config)) =
        (probe.llvm_major, probe.source, probe.llvm_config)
    else {
        unreachable!("a probe without a reason has an install or what builds one");
    };
    let cache = aflpp_cache_dir(project_dir);
    let prefix = install_prefix(&cache, &version, major);
    // One build at a time per install: a second caller waits for the first's result
    // rather than spending the same minutes of CPU beside it.
    let lock = cache.join(format!(".afl++-{version}-llvm{major}.building"));
    fs::create_dir_all(&cache).map_err(|source| AflppUnavailable::Io {
        what: "cannot create",
        path: cache.clone(),
        source,
    })?;
    let deadline = std::time::Instant::now() + BUILD_WAIT;
    loop {
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock)
        {
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if let Some(install) = AflppInstall::open(&prefix) {
                    return Ok(install);
                }
                let stale = fs::metadata(&lock)
                    .and_then(|m| m.modified())
                    .map(|t| t.elapsed().unwrap_or_default() > BUILD_WAIT)
                    .unwrap_or(true);
                if stale || std::time::Instant::now() > deadline {
                    let _ = fs::remove_file(&lock);
                    continue;
                }
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
            Err(source) => {
                return Err(AflppUnavailable::Io {
                    what: "cannot create",
                    path: lock,
                    source,
                });
            }
        }
    }
    let result = match AflppInstall::open(&prefix) {
        // Finished by another caller between the probe and the lock.
        Some(install) => Ok(install),
        None => {
            log(&format!(
                "building AFL++ {version} for LLVM {major} ({}) from {} into {}",
                llvm_config.display(),
                src.display(),
                prefix.display()
            ));
            build_aflpp(&src, &version, major, &llvm_config, &prefix)
        }
    };
    let _ = fs::remove_file(&lock);
    result
}

/// How long a caller waits for another's AFL++ build (and when a build's lock is
/// taken to be left over from a killed one).
const BUILD_WAIT: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Builds AFL++ from `src` with `llvm_config` and installs it at `prefix`.
pub fn build_aflpp(
    src: &Path,
    version: &str,
    major: u32,
    llvm_config: &Path,
    prefix: &Path,
) -> Result<AflppInstall, AflppUnavailable> {
    let io = |what: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| AflppUnavailable::Io { what, path, source }
    };
    let parent = prefix.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(io("cannot create", parent))?;
    // Scratch names carry the pid: two builds at once each get their own.
    let scratch = parent.join(format!(".build-{}", std::process::id()));
    let _ = fs::remove_dir_all(&scratch);
    let tree = scratch.join("src");
    let staged = scratch.join("install");
    fs::create_dir_all(&scratch).map_err(io("cannot create", &scratch))?;
    let copied = Command::new("cp")
        .args(["-PR".as_ref(), src.as_os_str(), tree.as_os_str()])
        .status()
        .map_err(io("cannot run cp for", src))?;
    if !copied.success() {
        return Err(AflppUnavailable::MakeFailed {
            src: src.to_path_buf(),
            status: format!("cp {copied}"),
            tail: Vec::new(),
        });
    }
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let output = Command::new("make")
        .arg(format!("-j{jobs}"))
        .arg("install")
        .current_dir(&tree)
        // The legacy afl-gcc, Python mutators, Nyx and the GCC plugin are not needed.
        .env("AFL_NO_X86", "1")
        .env("NO_PYTHON", "1")
        .env("NO_NYX", "1")
        .env("LLVM_CONFIG", llvm_config)
        .env("DESTDIR", &staged)
        .env("PREFIX", "")
        .env_remove("DEBUG")
        .stdin(Stdio::null())
        .output()
        .map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => AflppUnavailable::NoTool {
                program: "make",
                package: "make",
            },
            _ => AflppUnavailable::Io {
                what: "cannot run make in",
                path: tree.clone(),
                source,
            },
        })?;
    let stamped = AflppInstall {
        prefix: staged.clone(),
        version: version.to_owned(),
        llvm_major: major,
    };
    let missing = stamped.missing();
    // `make install` ignores the optional parts that fail (the GCC plugin), so the
    // install is judged by its files, and the exit status only explains a failure.
    if !missing.is_empty() {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(MESSAGE_TAIL_LINES)..]
            .iter()
            .map(|l| l.to_string())
            .collect();
        let _ = fs::remove_dir_all(&scratch);
        return Err(if output.status.success() {
            AflppUnavailable::Incomplete {
                prefix: prefix.to_path_buf(),
                missing,
            }
        } else {
            AflppUnavailable::MakeFailed {
                src: src.to_path_buf(),
                status: output.status.to_string(),
                tail,
            }
        });
    }
    let stamp = format!(
        "version={version}\nllvm_major={major}\nsource={}\n",
        src.display()
    );
    fs::write(staged.join(STAMP), stamp).map_err(io("cannot write", &staged))?;
    // The install's paths are relative to DESTDIR (PREFIX is empty), so it moves
    // whole. Someone else's complete install already there wins.
    if fs::rename(&staged, prefix).is_err() && AflppInstall::open(prefix).is_none() {
        let _ = fs::remove_dir_all(prefix);
        fs::rename(&staged, prefix).map_err(io("cannot move AFL++ install to", prefix))?;
    }
    let _ = fs::remove_dir_all(&scratch);
    AflppInstall::open(prefix).ok_or_else(|| AflppUnavailable::Incomplete {
        prefix: prefix.to_path_buf(),
        missing: AflppInstall {
            prefix: prefix.to_path_buf(),
            version: version.to_owned(),
            llvm_major: major,
        }
        .missing(),
    })
}

/// Which AFL++ build of a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AflVariant {
    /// Coverage instrumentation only: the binary `afl-fuzz` fuzzes.
    Coverage,
    /// Coverage and CmpLog: the binary `afl-fuzz -c` runs for input-to-state.
    CmpLog,
}

impl AflVariant {
    fn dir_name(self) -> &'static str {
        match self {
            AflVariant::Coverage => "aflpp",
            AflVariant::CmpLog => "aflpp-cmplog",
        }
    }
}

/// The cargo target dir of a variant: `<project>/target/aflpp-build` or
/// `<project>/target/aflpp-cmplog-build` (apart from the libFuzzer build's, whose
/// flags differ).
pub fn afl_target_dir(project_dir: &Path, variant: AflVariant) -> PathBuf {
    target_dir(project_dir).join(format!("{}-build", variant.dir_name()))
}

/// Where the `variant` build of fuzz target `target` lands.
pub fn afl_binary_path(
    project_dir: &Path,
    triple: &str,
    target: &str,
    variant: AflVariant,
) -> PathBuf {
    afl_target_dir(project_dir, variant)
        .join(triple)
        .join("release")
        .join(target)
}

/// rustc flags of an AFL++ build: cargo-afl's, with its plugins loaded through
/// `-Zllvm-plugins` and its runtime linked; no sanitizer (AFL++ runs the target
/// without one; triage reproduces with the libFuzzer build, which has it).
pub fn afl_rustflags(install: &AflppInstall, variant: AflVariant, extra: &[String]) -> Vec<String> {
    let plugins = match variant {
        AflVariant::Coverage => COVERAGE_PLUGINS,
        AflVariant::CmpLog => CMPLOG_PLUGINS,
    };
    let mut flags: Vec<String> = plugins
        .iter()
        .map(|p| format!("-Zllvm-plugins={}", install.lib_dir().join(p).display()))
        .collect();
    flags.extend(
        [
            "--cfg",
            "fuzzing",
            "-Cdebug-assertions",
            "-Coverflow-checks",
            "-Cforce-frame-pointers=yes",
            "-Ccodegen-units=1",
        ]
        .map(String::from),
    );
    flags.push(format!("-Clink-arg={}", install.runtime().display()));
    flags.extend(extra.iter().cloned());
    flags
}

/// `cargo build` of `bins` as the `variant` AFL++ build.
pub fn afl_build_command(
    project_dir: &Path,
    install: &AflppInstall,
    variant: AflVariant,
    opts: &BuildOptions,
    triple: &str,
    bins: &[String],
    inherited: &[OsString],
) -> BuildCommand {
    let mut args: Vec<OsString> = vec!["run".into(), opts.toolchain.clone().into()];
    args.extend(["cargo", "build", "--manifest-path"].map(OsString::from));
    args.push(project_dir.join("Cargo.toml").into());
    args.extend(
        [
            "--target",
            triple,
            "--release",
            "--config",
            "profile.release.debug=\"line-tables-only\"",
            "--color",
            "never",
            "--target-dir",
        ]
        .map(OsString::from),
    );
    args.push(afl_target_dir(project_dir, variant).into());
    for bin in bins {
        args.push("--bin".into());
        args.push(bin.into());
    }
    let mut env_remove: Vec<OsString> = inherited
        .iter()
        .filter(|n| should_clear(n))
        .cloned()
        .collect();
    // libfuzzer-sys's build script reads these; an inherited one would link the wrong
    // driver.
    for name in ["CUSTOM_LIBFUZZER_PATH", "CUSTOM_LIBFUZZER_STD_CXX"] {
        if inherited.iter().any(|n| n == OsStr::new(name)) {
            env_remove.push(name.into());
        }
    }
    let encoded = afl_rustflags(install, variant, &opts.extra_rustflags).join("\x1f");
    BuildCommand {
        program: "rustup".into(),
        args,
        current_dir: project_dir.to_path_buf(),
        env_remove,
        env: vec![
            ("CARGO_ENCODED_RUSTFLAGS".into(), encoded.into()),
            ("CUSTOM_LIBFUZZER_PATH".into(), install.driver().into()),
            // The plugins' banners would fill the build's message tail.
            ("AFL_QUIET".into(), "1".into()),
        ],
    }
}

/// A target's AFL++ builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AflBuiltTarget {
    pub name: String,
    /// The binary `afl-fuzz` fuzzes.
    pub afl: PathBuf,
    /// The CmpLog build (`afl-fuzz -c`).
    pub cmplog: PathBuf,
}

/// What `build_afl_project` did.
#[derive(Debug)]
pub enum AflBuild {
    Built {
        install: AflppInstall,
        targets: Vec<AflBuiltTarget>,
    },
    /// AFL++ cannot be had here; the targets run with libFuzzer alone.
    Unavailable(AflppUnavailable),
}

/// Builds the AFL++ and CmpLog variants of `opts.targets` (all when empty) of the
/// cargo-fuzz project, building AFL++ itself first if needed. AFL++ being unavailable
/// is an answer ([`AflBuild::Unavailable`]), not an error; a target that does not
/// compile is.
pub fn build_afl_project(
    project_dir: &Path,
    opts: &BuildOptions,
    progress: &mut dyn FnMut(BuildEvent),
) -> Result<AflBuild, BuildError> {
    let available = discover_targets(project_dir)?;
    let wanted: Vec<String> = if opts.targets.is_empty() {
        available
    } else {
        for name in &opts.targets {
            if !available.contains(name) {
                return Err(BuildError::UnknownTarget {
                    name: name.clone(),
                    project: project_dir.to_path_buf(),
                    available,
                });
            }
        }
        opts.targets.clone()
    };
    let install = match ensure_aflpp(project_dir, &opts.toolchain, &mut |line| {
        progress(BuildEvent::Status {
            verb: "Building".into(),
            detail: line.to_owned(),
        })
    }) {
        Ok(install) => install,
        Err(AflppUnavailable::Toolchain(e)) => return Err(e),
        Err(why) => return Ok(AflBuild::Unavailable(why)),
    };
    let toolchain = check_toolchain(&opts.toolchain)?;
    let inherited: Vec<OsString> = std::env::vars_os().map(|(k, _)| k).collect();
    for variant in [AflVariant::Coverage, AflVariant::CmpLog] {
        progress(BuildEvent::Status {
            verb: "Compiling".into(),
            detail: match wanted.len() {
                1 => format!("{} build of 1 target", variant.dir_name()),
                n => format!("{} build of {n} targets", variant.dir_name()),
            },
        });
        let command = afl_build_command(
            project_dir,
            &install,
            variant,
            opts,
            &toolchain.host,
            &wanted,
            &inherited,
        );
        let output = command
            .to_command()
            .stdin(Stdio::null())
            .output()
            .map_err(|source| BuildError::Spawn {
                program: "rustup".into(),
                hint: "; is rustup installed and on PATH? (https://rustup.rs)",
                source,
            })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let lines: Vec<&str> = stderr.lines().collect();
            return Err(BuildError::CompileFailed {
                project: project_dir.to_path_buf(),
                status: output.status.to_string(),
                messages: lines[lines.len().saturating_sub(MESSAGE_TAIL_LINES)..]
                    .iter()
                    .map(|l| l.to_string())
                    .collect(),
            });
        }
    }
    let targets = wanted
        .into_iter()
        .map(|name| {
            let afl = afl_binary_path(project_dir, &toolchain.host, &name, AflVariant::Coverage);
            let cmplog = afl_binary_path(project_dir, &toolchain.host, &name, AflVariant::CmpLog);
            for path in [&afl, &cmplog] {
                if !path.is_file() {
                    return Err(BuildError::MissingBinary {
                        target: name.clone(),
                        expected: path.clone(),
                    });
                }
            }
            Ok(AflBuiltTarget { name, afl, cmplog })
        })
        .collect::<Result<_, _>>()?;
    Ok(AflBuild::Built { install, targets })
}

/// The AFL++ builds `build_afl_project` made of fuzz target `target` of the project,
/// with the install that made them, without building anything: `None` when AFL++ is
/// not built for the toolchain's LLVM or either build of the target is missing (the
/// target then runs libFuzzer alone).
pub fn find_afl_build(
    project_dir: &Path,
    toolchain: &str,
    target: &str,
) -> Option<(AflppInstall, AflBuiltTarget)> {
    let info = check_toolchain(toolchain).ok()?;
    let major = rustc_llvm_major(toolchain).ok()?;
    let install = find_install(&aflpp_cache_dir(project_dir), major)?;
    let afl = afl_binary_path(project_dir, &info.host, target, AflVariant::Coverage);
    let cmplog = afl_binary_path(project_dir, &info.host, target, AflVariant::CmpLog);
    (afl.is_file() && cmplog.is_file()).then(|| {
        (
            install,
            AflBuiltTarget {
                name: target.to_owned(),
                afl,
                cmplog,
            },
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn install() -> AflppInstall {
        AflppInstall {
            prefix: "/c/afl++-4.40c-llvm22".into(),
            version: "4.40c".into(),
            llvm_major: 22,
        }
    }

    #[test]
    fn llvm_major_from_rustc_vv() {
        let vv = "rustc 1.97.0-nightly (e50aa6fba 2026-05-19)\nhost: x86_64-unknown-linux-gnu\nrelease: 1.97.0-nightly\nLLVM version: 22.1.4\n";
        assert_eq!(parse_llvm_major(vv), Some(22));
        assert_eq!(parse_llvm_major("rustc 1.0\n"), None);
    }

    #[test]
    fn coverage_build_has_no_cmplog_passes_and_cmplog_build_has_all() {
        let cov = afl_rustflags(&install(), AflVariant::Coverage, &[]);
        let cmp = afl_rustflags(&install(), AflVariant::CmpLog, &["-Cfoo".into()]);
        assert!(!cov.iter().any(|f| f.contains("cmplog")), "{cov:?}");
        for pass in [
            "cmplog-switches-pass.so",
            "cmplog-instructions-pass.so",
            "cmplog-routines-pass.so",
            "SanitizerCoveragePCGUARD.so",
        ] {
            assert!(
                cmp.contains(&format!(
                    "-Zllvm-plugins=/c/afl++-4.40c-llvm22/lib/afl/{pass}"
                )),
                "{pass} missing from {cmp:?}"
            );
        }
        for flags in [&cov, &cmp] {
            assert!(flags.contains(
                &"-Clink-arg=/c/afl++-4.40c-llvm22/lib/afl/afl-compiler-rt.o".to_owned()
            ));
            assert!(!flags.iter().any(|f| f.contains("sanitizer")), "{flags:?}");
            assert!(
                !flags.iter().any(|f| f.contains("inline-8bit")),
                "{flags:?}"
            );
        }
        assert_eq!(cmp.last().unwrap(), "-Cfoo");
    }

    #[test]
    fn build_command_links_the_afl_driver_into_its_own_target_dir() {
        let inherited: Vec<OsString> = ["PATH", "RUSTFLAGS", "CUSTOM_LIBFUZZER_PATH"]
            .map(OsString::from)
            .to_vec();
        let cmd = afl_build_command(
            Path::new("/p/fuzz"),
            &install(),
            AflVariant::CmpLog,
            &BuildOptions::default(),
            "x86_64-unknown-linux-gnu",
            &["crash_magic".into()],
            &inherited,
        );
        let args: Vec<String> = cmd
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let dir = args.iter().position(|a| a == "--target-dir").unwrap();
        assert_eq!(args[dir + 1], "/p/fuzz/target/aflpp-cmplog-build");
        assert!(args.ends_with(&["--bin".into(), "crash_magic".into()]));
        assert_eq!(cmd.env_remove, ["RUSTFLAGS", "CUSTOM_LIBFUZZER_PATH"]);
        assert!(cmd.env.contains(&(
            "CUSTOM_LIBFUZZER_PATH".into(),
            "/c/afl++-4.40c-llvm22/lib/afl/libAFLDriver.a".into()
        )));
        assert_eq!(
            afl_binary_path(
                Path::new("/p/fuzz"),
                "t",
                "crash_magic",
                AflVariant::Coverage
            ),
            Path::new("/p/fuzz/target/aflpp-build/t/release/crash_magic")
        );
    }

    #[test]
    fn an_install_without_its_stamp_or_files_is_not_one() {
        assert_eq!(AflppInstall::open(Path::new("/nonexistent/afl")), None);
        assert_eq!(install().missing().len(), 3 + CMPLOG_PLUGINS.len());
    }
}
