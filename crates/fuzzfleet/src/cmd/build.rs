//! `fuzzfleet build`: builds the cargo-fuzz projects' targets (and their AFL++ builds,
//! where AFL++ can be built and `engines` do not leave it out) and runs the
//! `[[harnesses]]` build commands, with progress, showing the compiler's own message
//! when a build fails; says which harnesses are new builds and which did not change;
//! unpacks OSS-Fuzz seed archives.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use fleet_build::{AflBuild, AflVariant, BuildEvent, BuildOptions};
use fleet_config::{AflppChoice, HarnessPlan, Plan, ProjectPlan};

use super::Context;
use crate::cli::BuildArgs;
use crate::plan::BuildSet;
use crate::{exit, plan};

pub fn build(ctx: &Context, args: &BuildArgs) -> Result<i32> {
    let plan = ctx.plan()?;
    let unbuilt = plan.unbuilt_harnesses().count() > 0;
    // Before a first build, the targets of unbuilt harness dirs are not known yet.
    if !unbuilt {
        check_targets(&plan, &args.targets)?;
    }
    let set = if args.targets.is_empty() {
        plan::everything(&plan)
    } else {
        let mut set = plan::project_targets(&plan, args.targets.iter().map(String::as_str));
        set.harnesses.extend(
            plan.harnesses
                .iter()
                .enumerate()
                .filter(|(_, h)| !h.built && h.build.is_some())
                .map(|(i, _)| i),
        );
        set
    };
    if set.is_empty() {
        eprintln!("nothing to build: the selected targets are prebuilt binaries");
        return Ok(exit::OK);
    }
    let unpacked = set.seed_archives.clone();
    build_projects(&plan, set)?;
    // The build may have made harnesses the file names: read it again, as `run` will.
    let plan = ctx.plan()?;
    if let Some(h) = plan.unbuilt_harnesses().next() {
        return Err(exit::usage(format!(
            "{}: the build ran, but \"{}\" has no libFuzzer harness matching \"{}\" (executables defining {}): check `dir` and `glob` of its [[harnesses]]",
            plan.file.display(),
            h.dir.display(),
            h.glob,
            fleet_config::FUZZ_ENTRY
        )));
    }
    check_targets(&plan, &args.targets)?;
    // The archives of harnesses the first reading did not know yet (the others were
    // unpacked with their build).
    let new: Vec<String> = plan
        .targets
        .iter()
        .filter(|t| t.seed_zip.is_some() && !unpacked.iter().any(|n| n == t.name.as_str()))
        .filter(|t| args.targets.is_empty() || args.targets.iter().any(|n| n == t.name.as_str()))
        .map(|t| t.name.to_string())
        .collect();
    if !new.is_empty() {
        unpack_seed_archives(&plan, &new)?;
    }
    Ok(exit::OK)
}

fn check_targets(plan: &Plan, targets: &[String]) -> Result<()> {
    for t in targets {
        if plan.target(t).is_none() {
            return Err(exit::usage(format!(
                "no target named {t:?} in {}",
                plan.file.display()
            )));
        }
    }
    Ok(())
}

/// Unpacks the OSS-Fuzz seed archives of `targets`.
fn unpack_seed_archives(plan: &Plan, targets: &[String]) -> Result<()> {
    for t in &plan.targets {
        let Some(zip) = &t.seed_zip else { continue };
        if !targets.iter().any(|n| n == t.name.as_str()) {
            continue;
        }
        let (dir, count) = fleet_build::unpack_seed_archive(zip)
            .map_err(|e| exit::usage(format!("target {}: seed archive: {}", t.name, chain(&e))))?;
        eprintln!(
            "  {}: {count} seeds from {} (in {})",
            t.name,
            zip.display(),
            dir.display()
        );
    }
    Ok(())
}

/// An error and its causes on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Runs the `[[harnesses]]` build commands and unpacks the set's seed archives, then
/// builds the given targets of each cargo-fuzz project, printing progress on stderr,
/// and their AFL++ and CmpLog builds when the project's `engines` want AFL++.
pub fn build_projects(plan: &Plan, set: BuildSet) -> Result<()> {
    // Why AFL++ could not be built, each said once however many projects it stops.
    let mut afl_reasons: Vec<String> = Vec::new();
    for &index in &set.harnesses {
        build_harnesses(&plan.harnesses[index])?;
    }
    if !set.seed_archives.is_empty() {
        unpack_seed_archives(plan, &set.seed_archives)?;
    }
    for (index, targets) in set.cargo {
        let project = &plan.projects[index];
        eprintln!(
            "building {} of {} ({}, sanitizer {})",
            super::run::plural(targets.len(), "target"),
            project.path.display(),
            project.toolchain,
            project.sanitizer.as_str()
        );
        let options = BuildOptions {
            sanitizer: match project.sanitizer {
                fleet_config::Sanitizer::Address => fleet_build::Sanitizer::Address,
                fleet_config::Sanitizer::None => fleet_build::Sanitizer::None,
            },
            toolchain: project.toolchain.clone(),
            targets: targets.clone(),
            ..BuildOptions::default()
        };
        let tty = std::io::stderr().is_terminal();
        let mut progress = |event: BuildEvent| {
            let line = match event {
                BuildEvent::Started {
                    total_units: Some(n),
                } => format!("cargo started: {n} units"),
                BuildEvent::Started { total_units: None } => "cargo started".into(),
                // AFL++'s own build says "building AFL++ …" as its detail: not twice.
                BuildEvent::Status { verb, detail } => {
                    match detail.strip_prefix(&format!("{} ", verb.to_lowercase())) {
                        Some(rest) => format!("{verb} {rest}"),
                        None => format!("{verb} {detail}"),
                    }
                }
                BuildEvent::Unit {
                    name, done, total, ..
                } => match total {
                    Some(total) => format!("[{done}/{total}] {name}"),
                    None => format!("[{done}] {name}"),
                },
            };
            if tty {
                // One updating line on a terminal.
                eprint!("\r\x1b[2K  {line}");
                let _ = std::io::stderr().flush();
            } else if !line.starts_with('[') {
                eprintln!("  {line}");
            }
        };
        let result = fleet_build::build_project(&project.path, &options, &mut progress);
        if tty {
            eprintln!();
        }
        let built = result?;
        for b in &built {
            eprintln!("  built {} -> {}", b.name, b.path.display());
        }
        if project.aflpp.wanted() {
            let result = fleet_build::build_afl_project(&project.path, &options, &mut progress);
            if tty {
                eprintln!();
            }
            afl_outcome(project, &options.targets, result, &mut afl_reasons)?;
        }
    }
    Ok(())
}

/// Says what the AFL++ build of a project did: each target built, or once per distinct
/// reason why AFL++ cannot be built here (its targets then run libFuzzer alone). Only a
/// project whose `engines` list "aflpp" fails the build when AFL++ cannot be had (a
/// usage error: the machine is not set up for the config) or its variant does not
/// compile (a problem, like any failed build).
fn afl_outcome(
    project: &ProjectPlan,
    targets: &[String],
    result: Result<AflBuild, fleet_build::BuildError>,
    said: &mut Vec<String>,
) -> Result<()> {
    let why = match result {
        Ok(AflBuild::Built { install, targets }) => {
            for t in &targets {
                eprintln!("  built {} for AFL++ {} (CmpLog)", t.name, install.version);
            }
            return Ok(());
        }
        Ok(AflBuild::Unavailable(why)) => {
            if project.aflpp == AflppChoice::On {
                return Err(exit::usage(format!(
                    "{}: engines lists \"aflpp\", and AFL++ cannot be built here: {}",
                    project.path.display(),
                    chain(&why)
                )));
            }
            chain(&why)
        }
        Err(e) => {
            if project.aflpp == AflppChoice::On {
                return Err(e.into());
            }
            // A variant that no longer compiles must not leave an older build behind
            // for the campaign to fuzz in place of the current code.
            remove_afl_builds(&project.path, targets);
            chain(&e)
        }
    };
    if !said.contains(&why) {
        eprintln!("AFL++ cannot be built here: {why}; these targets run libFuzzer alone");
        said.push(why);
    }
    Ok(())
}

/// Removes the AFL++ and CmpLog builds of `targets` of the project (all of its targets
/// when empty), so that none is found by the campaign.
fn remove_afl_builds(project_dir: &std::path::Path, targets: &[String]) {
    let Ok(triple) = fleet_build::host_triple() else {
        return;
    };
    let names = if targets.is_empty() {
        fleet_build::discover_targets(project_dir).unwrap_or_default()
    } else {
        targets.to_vec()
    };
    for name in &names {
        for variant in [AflVariant::Coverage, AflVariant::CmpLog] {
            let _ = std::fs::remove_file(fleet_build::afl_binary_path(
                project_dir,
                &triple,
                name,
                variant,
            ));
        }
    }
}

/// The build ids (SHA-1) of the harness binaries in a directory, by file name.
fn build_ids(h: &HarnessPlan) -> BTreeMap<String, (String, PathBuf, String)> {
    if !h.dir.is_dir() {
        return BTreeMap::new();
    }
    fleet_config::find_harnesses(&h.dir, &h.glob, h.strip_prefix.as_deref())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|f| {
            let id = fleet_build::file_sha1(&f.binary).ok()?;
            Some((f.file_name, (f.name, f.binary, id)))
        })
        .collect()
}

/// Runs one `[[harnesses]]` build command, then says, per harness, whether its binary
/// is new, a new build, or unchanged (an unchanged binary is the same build to the
/// crash pipeline, and every target keeps its corpus and findings either way).
fn build_harnesses(h: &HarnessPlan) -> Result<()> {
    let Some(step) = &h.build else {
        return Ok(());
    };
    let before = build_ids(h);
    eprintln!(
        "building harnesses: `{}` in {}{}",
        step.command,
        step.dir.display(),
        if step.env.is_empty() {
            String::new()
        } else {
            format!(
                " with {}",
                step.env
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
    );
    let started = Instant::now();
    let tty = std::io::stderr().is_terminal();
    let mut progress = |line: &str| {
        if tty {
            let shown: String = line.chars().take(120).collect();
            eprint!("\r\x1b[2K  {shown}");
            let _ = std::io::stderr().flush();
        } else {
            eprintln!("  | {line}");
        }
    };
    let result = fleet_build::run_shell_build(
        &fleet_build::ShellBuild {
            command: &step.command,
            dir: &step.dir,
            env: &step.env,
        },
        &mut progress,
    );
    if tty {
        eprintln!();
    }
    result?;
    let after = build_ids(h);
    let (mut new, mut changed, mut same) = (0, 0, 0);
    for (file, (name, binary, id)) in &after {
        let what = match before.get(file) {
            None => {
                new += 1;
                "new"
            }
            Some((_, _, old)) if old != id => {
                changed += 1;
                "new build"
            }
            Some(_) => {
                same += 1;
                "unchanged"
            }
        };
        eprintln!(
            "  {name} <- {} ({what}, build {})",
            binary.display(),
            &id[..12]
        );
    }
    eprintln!(
        "built {} in {:.1}s: {new} new, {changed} rebuilt, {same} unchanged",
        if after.len() == 1 {
            "1 harness".to_string()
        } else {
            format!("{} harnesses", after.len())
        },
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The plan for `run` (and the agent): when a `[[harnesses]]` directory is not built
/// yet and building is allowed, its build command runs first and the config is read
/// again, so the targets it makes are known before the campaign is planned. Called
/// before anything is created in the state dir. Also says whether it built.
pub fn load_built(ctx: &Context, no_build: bool) -> Result<(Plan, bool)> {
    let plan = ctx.plan()?;
    if no_build || plan.unbuilt_harnesses().next().is_none() {
        return Ok((plan, false));
    }
    let mut set = BuildSet::default();
    set.harnesses.extend(
        plan.harnesses
            .iter()
            .enumerate()
            .filter(|(_, h)| !h.built && h.build.is_some())
            .map(|(i, _)| i),
    );
    build_projects(&plan, set)?;
    Ok((ctx.plan()?, true))
}
