//! `fuzzfleet doctor`: checks what a campaign needs on this machine and says how to fix
//! what is missing. Later features add their checks here.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Result;
use fleet_config::{Plan, TargetSource};
use serde::Serialize;

use super::Context;
use crate::cli::DoctorArgs;
use crate::{exit, plan};

/// Below this much free space in the state dir's filesystem, a warning.
const LOW_DISK_BYTES: u64 = 5 << 30;

#[derive(Debug, Serialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Level {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Serialize)]
struct Check {
    name: String,
    level: Level,
    detail: String,
    fix: Option<String>,
}

fn check(name: &str, level: Level, detail: impl Into<String>, fix: Option<&str>) -> Check {
    Check {
        name: name.into(),
        level,
        detail: detail.into(),
        fix: fix.map(Into::into),
    }
}

pub fn doctor(ctx: &Context, args: &DoctorArgs) -> Result<i32> {
    let mut checks = Vec::new();
    let plan = match ctx.plan() {
        Ok(p) => {
            checks.push(check(
                "config",
                Level::Ok,
                format!("{} is valid", p.file.display()),
                None,
            ));
            Some(p)
        }
        Err(e) => {
            checks.push(check(
                "config",
                Level::Fail,
                format!("{e:#}"),
                Some("fix the file at the line and key named"),
            ));
            None
        }
    };
    let toolchain = plan
        .as_ref()
        .and_then(|p| p.projects.first().map(|pr| pr.toolchain.clone()))
        .unwrap_or_else(|| "nightly".into());
    // A config of prebuilt binaries alone (C/C++ harnesses) needs no Rust toolchain.
    let rust_needed = plan.as_ref().is_none_or(|p| !p.projects.is_empty());
    if rust_needed {
        checks.push(rust_toolchain(&toolchain));
        checks.push(rust_coverage_tools(&toolchain));
    }
    checks.push(c_toolchain());
    if let Some(plan) = &plan {
        checks.extend(target_binaries(plan));
        checks.extend(c_coverage_tools(plan));
        checks.extend(aflpp(plan));
    }
    let state = ctx.state_dir(plan.as_ref());
    checks.push(state_writable(&state));
    checks.push(disk(&state));
    checks.push(private_tmp(&state));
    checks.push(memory_limits());

    let failed = checks.iter().any(|c| c.level == Level::Fail);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"version": 1, "checks": checks}))?
        );
    } else {
        // A fix several checks share is printed once, at the first of them.
        let mut fixes_shown = std::collections::BTreeSet::new();
        for c in &checks {
            let tag = match c.level {
                Level::Ok => "ok  ",
                Level::Warn => "warn",
                Level::Fail => "FAIL",
            };
            println!("{tag}  {:<18} {}", c.name, c.detail);
            if let (Some(fix), true) = (&c.fix, c.level != Level::Ok)
                && fixes_shown.insert(fix.clone())
            {
                println!("      {:<18} fix: {fix}", "");
            }
        }
    }
    Ok(if failed { exit::PROBLEM } else { exit::OK })
}

fn rust_toolchain(toolchain: &str) -> Check {
    match fleet_build::check_toolchain(toolchain) {
        Ok(info) if info.nightly => check(
            "rust toolchain",
            Level::Ok,
            format!("{toolchain}: {} on {}", info.release, info.host),
            None,
        ),
        Ok(info) => check(
            "rust toolchain",
            Level::Fail,
            format!(
                "{toolchain} is {}, not a nightly: sanitizer builds need nightly",
                info.release
            ),
            Some(
                "rustup toolchain install nightly, and set toolchain = \"nightly\" on the [[project]]",
            ),
        ),
        Err(e) => check(
            "rust toolchain",
            Level::Fail,
            e.to_string(),
            Some(&format!("rustup toolchain install {toolchain}")),
        ),
    }
}

/// `fuzzfleet coverage` of Rust targets needs llvm-profdata and llvm-cov of the
/// toolchain's own LLVM. Only a warning: campaigns run without them.
fn rust_coverage_tools(toolchain: &str) -> Check {
    const NAME: &str = "coverage tools";
    let rust = match fleet_cover::rust_llvm(toolchain) {
        Ok(r) => r,
        Err(e) => return check(NAME, Level::Warn, e.to_string(), None),
    };
    match fleet_cover::for_rust(&rust) {
        Ok(tools) => check(
            NAME,
            Level::Ok,
            format!(
                "LLVM {} (as {toolchain}'s rustc): {}, {}",
                tools.llvm_major,
                tools.profdata.display(),
                tools.cov.display()
            ),
            None,
        ),
        Err(e) => check(
            NAME,
            Level::Warn,
            format!("{e} (needed by `fuzzfleet coverage`)"),
            Some(&format!(
                "{} (or: {})",
                fleet_cover::rustup_install_hint(toolchain),
                fleet_cover::apt_install_hint(rust.llvm_major)
            )),
        ),
    }
}

/// Prebuilt coverage binaries of C/C++ targets need the tools of the clang that
/// built them.
fn c_coverage_tools(plan: &Plan) -> Vec<Check> {
    plan.targets
        .iter()
        .filter_map(|t| {
            let cov = t.coverage.as_ref()?;
            if !cov.binary.is_file() {
                return None;
            }
            let name = format!("coverage {}", t.name.as_str());
            Some(match fleet_cover::for_clang_binary(&cov.binary) {
                Ok(tools) => check(
                    &name,
                    Level::Ok,
                    format!("LLVM {}: {}", tools.llvm_major, tools.cov.display()),
                    None,
                ),
                Err(e) => {
                    let fix = match &e {
                        fleet_cover::CoverError::ToolsMissing { install, .. } => {
                            Some(install.clone())
                        }
                        _ => None,
                    };
                    check(&name, Level::Warn, e.to_string(), fix.as_deref())
                }
            })
        })
        .collect()
}

/// AFL++ (with CmpLog) beside libFuzzer: for each cargo-fuzz project that wants it,
/// whether AFL++ is built for its toolchain's LLVM or can be built, and why not; for
/// prebuilt targets with `afl_binary`, whether an `afl-fuzz` is at hand.
fn aflpp(plan: &Plan) -> Vec<Check> {
    const NAME: &str = "aflpp";
    let mut checks = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut found_afl_fuzz = None;
    for project in plan.projects.iter().filter(|p| p.aflpp.wanted()) {
        // One answer per toolchain and AFL++ cache (the same for every project alike).
        let cache = fleet_build::aflpp_cache_dir(&project.path);
        if !seen.insert((project.toolchain.clone(), cache.clone())) {
            continue;
        }
        let probe = fleet_build::probe_aflpp(&project.path, &project.toolchain);
        let llvm = probe.llvm_major.map_or(String::new(), |m| {
            format!(" (LLVM {m}, as {}'s rustc)", project.toolchain)
        });
        let c = match (&probe.installed, &probe.unavailable, &probe.source) {
            (Some(install), _, _) => {
                found_afl_fuzz = Some(install.afl_fuzz());
                check(
                    NAME,
                    Level::Ok,
                    format!(
                        "AFL++ {}{llvm} with its CmpLog plugins, built in {}; `fuzzfleet build` makes each target's AFL++ and CmpLog builds",
                        install.version,
                        install.prefix.display()
                    ),
                    None,
                )
            }
            (None, None, Some((src, version))) => check(
                NAME,
                Level::Ok,
                format!(
                    "AFL++ {version}{llvm} can be built from {} with {}; `fuzzfleet build` builds it once (about 2 minutes on 2 cores) into {}",
                    src.display(),
                    probe
                        .llvm_config
                        .as_ref()
                        .map_or("llvm-config".into(), |p| p.display().to_string()),
                    cache.display()
                ),
                None,
            ),
            (None, Some(why), _) => {
                let fix = aflpp_fix(why, &project.toolchain);
                // `engines` listing "aflpp" asks for it: its absence is a problem then.
                let level = if project.aflpp == fleet_config::AflppChoice::On {
                    Level::Fail
                } else {
                    Level::Warn
                };
                check(
                    NAME,
                    level,
                    format!(
                        "AFL++ cannot be built{llvm}: {why}; targets of {} run libFuzzer alone",
                        project.path.display()
                    ),
                    fix.as_deref(),
                )
            }
            (None, None, None) => check(NAME, Level::Warn, "AFL++ state unknown", None),
        };
        checks.push(c);
    }
    // Prebuilt targets' AFL++ builds need an afl-fuzz: a built one, or one on PATH.
    let afl_targets = fleet_config::load_with_afl(&plan.file)
        .map(|(_, afl)| afl)
        .unwrap_or_default();
    if !afl_targets.is_empty() {
        let afl_fuzz = found_afl_fuzz.or_else(|| {
            Command::new("afl-fuzz")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok()
                .then(|| "afl-fuzz".into())
        });
        let names = afl_targets
            .keys()
            .map(|n| n.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        checks.push(match afl_fuzz {
            Some(path) => check(
                "aflpp prebuilt",
                Level::Ok,
                format!("{names}: afl_binary set, afl-fuzz is {}", path.display()),
                None,
            ),
            None => check(
                "aflpp prebuilt",
                Level::Warn,
                format!("{names}: afl_binary set, but no afl-fuzz is on PATH; these targets run libFuzzer alone"),
                Some("apt-get install afl++ (the AFL++ that built the binaries is best)"),
            ),
        });
    }
    checks
}

/// How to get past what stops AFL++ from being built.
fn aflpp_fix(why: &fleet_build::AflppUnavailable, toolchain: &str) -> Option<String> {
    use fleet_build::AflppUnavailable as U;
    Some(match why {
        U::NoLlvmConfig { major } | U::LlvmMismatch { major, .. } => format!(
            "apt-get install -y llvm-{major}-dev clang-{major} (Debian 12: from bookworm-security)"
        ),
        U::NoSource { .. } => format!(
            "cargo install cargo-afl (its crate brings AFL++'s source), or set {} to an AFLplusplus tree",
            fleet_build::AFLPP_SRC_ENV
        ),
        U::NotNightly { .. } | U::NoRustcLlvm { .. } => {
            format!(
                "rustup toolchain install nightly, and set toolchain = \"nightly\" on the [[project]] (now {toolchain})"
            )
        }
        U::NoTool { package, .. } => format!("apt-get install -y {package}"),
        U::Toolchain(_) => format!("rustup toolchain install {toolchain}"),
        U::MakeFailed { .. } | U::Incomplete { .. } | U::Io { .. } => return None,
    })
}

fn c_toolchain() -> Check {
    let fix = "apt-get install -y clang-14 libclang-rt-14-dev (only needed for C/C++ harnesses)";
    let clang = ["clang", "clang-22", "clang-14"].into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    let Some(clang) = clang else {
        return check("c/c++ libFuzzer", Level::Warn, "no clang found", Some(fix));
    };
    let runtime = Command::new(clang)
        .arg("-print-file-name=libclang_rt.fuzzer-x86_64.a")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|p| Path::new(p).is_absolute() && Path::new(p).exists());
    let resource_runtime = Command::new(clang)
        .arg("-print-resource-dir")
        .output()
        .ok()
        .map(|o| {
            Path::new(String::from_utf8_lossy(&o.stdout).trim())
                .join("lib/linux/libclang_rt.fuzzer-x86_64.a")
        })
        .filter(|p| p.exists());
    match runtime.map(Into::into).or(resource_runtime) {
        Some(path) => check(
            "c/c++ libFuzzer",
            Level::Ok,
            format!("{clang}, runtime {}", path.display()),
            None,
        ),
        None => check(
            "c/c++ libFuzzer",
            Level::Warn,
            format!("{clang} has no libFuzzer runtime"),
            Some(fix),
        ),
    }
}

/// Every configured target's binary must start: `-help=1` makes libFuzzer print its
/// flags and exit, which proves the binary and its libraries load.
fn target_binaries(plan: &Plan) -> Vec<Check> {
    plan.targets
        .iter()
        .map(|t| {
            let name = format!("target {}", t.name);
            let binary = match plan::binary_of(plan, t) {
                Ok(b) => b,
                Err(e) => {
                    return check(
                        &name,
                        Level::Fail,
                        format!("{e:#}"),
                        Some("rustup toolchain install nightly"),
                    );
                }
            };
            if !binary.exists() {
                let fix = match t.source {
                    TargetSource::Project { .. } => "fuzzfleet build",
                    TargetSource::Binary(_) => "fix the path in fleet.toml",
                };
                return check(
                    &name,
                    Level::Fail,
                    format!("{} is missing", binary.display()),
                    Some(fix),
                );
            }
            match starts(&binary) {
                Ok(()) => check(
                    &name,
                    Level::Ok,
                    format!("{} starts", binary.display()),
                    None,
                ),
                Err(why) => check(
                    &name,
                    Level::Fail,
                    format!("{} does not start: {why}", binary.display()),
                    Some("rebuild it, or install the libraries it needs (ldd shows which)"),
                ),
            }
        })
        .collect()
}

/// How long a target may take to answer `-help=1`.
const STARTS_DEADLINE: Duration = Duration::from_secs(20);

/// Whether `binary` starts and answers `-help=1`.
fn starts(binary: &Path) -> Result<(), String> {
    starts_within(binary, STARTS_DEADLINE)
}

/// [`starts`] within `deadline`, the binary run like every other child: its own process
/// group, a parent-death signal, the whole group stopped at the deadline.
fn starts_within(binary: &Path, deadline: Duration) -> Result<(), String> {
    let mut command = Command::new(binary);
    command.arg("-help=1");
    let mut last = String::new();
    let done = fleet_proc::run(
        fleet_proc::Spawn::new(command),
        &fleet_proc::Limits {
            deadline,
            grace: Duration::from_secs(2),
            max_output_bytes: 64 << 10,
            cancel: None,
        },
        &mut |line| {
            if !line.trim().is_empty() {
                last = line.to_string();
            }
        },
    )
    .map_err(|e| e.to_string())?;
    if done.deadline_exceeded {
        return Err(format!(
            "no answer to -help=1 within {} s",
            deadline.as_secs_f64()
        ));
    }
    if done.status.success() {
        return Ok(());
    }
    Err(format!("{}: {last}", done.status))
}

fn state_writable(state: &Path) -> Check {
    let probe = state.join(".doctor-probe");
    let result =
        std::fs::create_dir_all(state).and_then(|_| fleet_store::write_atomic(&probe, b"ok"));
    let _ = std::fs::remove_file(&probe);
    match result {
        Ok(()) => check(
            "state dir",
            Level::Ok,
            format!("{} is writable", state.display()),
            None,
        ),
        Err(e) => check(
            "state dir",
            Level::Fail,
            format!("{}: {e}", state.display()),
            Some("pass --state DIR on a writable filesystem"),
        ),
    }
}

fn disk(state: &Path) -> Check {
    match fleet_run::system::disk_usage(state) {
        Ok(u) => {
            let free = u.available_bytes;
            let detail = format!(
                "{:.1} GiB free, {:.0}% used",
                free as f64 / (1u64 << 30) as f64,
                u.used_percent
            );
            if free < LOW_DISK_BYTES {
                check(
                    "disk",
                    Level::Warn,
                    detail,
                    Some("free space: corpora and findings grow over a campaign"),
                )
            } else {
                check("disk", Level::Ok, detail, None)
            }
        }
        Err(e) => check("disk", Level::Warn, e.to_string(), None),
    }
}

/// Whether a worker gets a private /tmp, tried the way a worker starts (a mount
/// namespace, the state dir bound back inside when it lives under /tmp).
fn private_tmp(state: &Path) -> Check {
    const NAME: &str = "private /tmp";
    let tmp = state.join("tmp");
    let made_tmp = !tmp.exists();
    let probe = tmp.join(format!("doctor-{}", std::process::id()));
    let under_tmp = state.starts_with("/tmp");
    let result = fleet_run::worker::probe_private_tmp(&probe, &[state.to_path_buf()]);
    if made_tmp {
        let _ = std::fs::remove_dir(&tmp);
    }
    match result {
        Ok(()) => check(
            NAME,
            Level::Ok,
            if under_tmp {
                "mount namespaces: each worker gets its own /tmp (the state dir, under /tmp, is bound back inside)"
            } else {
                "mount namespaces: each worker gets its own /tmp"
            },
            None,
        ),
        Err(e) => check(
            NAME,
            Level::Warn,
            format!(
                "unavailable ({e}): workers get a private TMPDIR only, and harnesses writing to /tmp by hard-coded path write into the machine's /tmp; `run` says so when it starts its first worker"
            ),
            Some("run as root or with CAP_SYS_ADMIN (mount namespaces) for a private /tmp"),
        ),
    }
}

/// Which memory-limit mechanism a campaign would use here, found the way `run` finds it
/// (a memory cgroup is made and removed).
fn memory_limits() -> Check {
    const NAME: &str = "memory limits";
    use fleet_run::resources::{FORCE_ENV, cgroup};
    let how = "libFuzzer's -rss_limit_mb at 7/8 of each target's rss_limit_mb writes the oom- input first";
    if std::env::var(FORCE_ENV).is_ok_and(|v| v == "off") {
        return check(
            NAME,
            Level::Warn,
            format!("off ({FORCE_ENV}=off): libFuzzer's -rss_limit_mb alone, nothing backs it"),
            Some(&format!("unset {FORCE_ENV}")),
        );
    }
    if std::env::var(FORCE_ENV).is_ok_and(|v| v == "rss-watch") {
        return check(
            NAME,
            Level::Warn,
            format!(
                "rss-watch ({FORCE_ENV}=rss-watch): {how}; fuzzfleet kills a worker's process group at the limit"
            ),
            Some(&format!("unset {FORCE_ENV} to use a cgroup")),
        );
    }
    match cgroup::probe() {
        Ok(group) => {
            let mechanism = match group.version {
                cgroup::Version::V2 => "cgroup-v2",
                cgroup::Version::V1 => "cgroup-v1",
            };
            let parent = group
                .dir
                .parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            group.remove();
            check(
                NAME,
                Level::Ok,
                format!(
                    "{mechanism}: each worker in its own memory cgroup under {parent}, its target's rss_limit_mb the hard limit; {how}"
                ),
                None,
            )
        }
        Err(e) => check(
            NAME,
            Level::Warn,
            format!(
                "rss-watch ({e}): {how}; fuzzfleet kills a worker's process group at the limit"
            ),
            Some(
                "run as root, or delegate a cgroup v2 subtree with the memory controller to fuzzfleet's user (systemd: Delegate=yes)",
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;

    fn script(dir: &Path, body: &str) -> PathBuf {
        let path = dir.join("fuzz_target");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn a_target_that_fails_is_said_with_its_last_line_of_output() {
        let dir = fleet_testkit::temp_dir();
        let bin = script(
            dir.path(),
            "echo 'error while loading shared libraries: libz.so.1' >&2; echo >&2; exit 3",
        );
        assert_eq!(
            starts_within(&bin, Duration::from_secs(60)).unwrap_err(),
            "exit status: 3: error while loading shared libraries: libz.so.1"
        );
        let ok = script(dir.path(), "echo usage >&2; exit 0");
        assert_eq!(starts_within(&ok, Duration::from_secs(60)), Ok(()));
    }

    /// Regression (issue 16.3): the check polled a plain child every 20 ms and killed
    /// only it at the deadline; what the target had started outlived the check.
    #[test]
    fn a_target_that_does_not_answer_is_stopped_with_its_whole_group() {
        let dir = fleet_testkit::temp_dir();
        let pid_file = dir.path().join("child");
        let bin = script(
            dir.path(),
            &format!(
                "sleep 100 & echo $! > {0}.tmp && mv {0}.tmp {0}; exec sleep 100",
                pid_file.display()
            ),
        );
        // Long enough for a loaded machine to start the shell and its child.
        let err = starts_within(&bin, Duration::from_secs(3)).unwrap_err();
        assert_eq!(err, "no answer to -help=1 within 3 s");
        let child: i32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // Killed with its group: gone, or a zombie of an init that does not reap.
        fleet_testkit::wait_until("the target's child to end", Duration::from_secs(10), || {
            fleet_sys::procfs::pid_stat(child).is_none_or(|s| s.is_zombie())
        });
    }
}
