//! `fuzzfleet build`: builds the cargo-fuzz projects' targets with progress, and shows
//! the compiler's own message when a build fails.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};

use anyhow::Result;
use fleet_build::{BuildEvent, BuildOptions};
use fleet_config::Plan;

use super::Context;
use crate::cli::BuildArgs;
use crate::{exit, plan};

pub fn build(ctx: &Context, args: &BuildArgs) -> Result<i32> {
    let plan = ctx.plan()?;
    for t in &args.targets {
        if plan.target(t).is_none() {
            return Err(exit::usage(format!(
                "no target named {t:?} in {}",
                plan.file.display()
            )));
        }
    }
    let names: Vec<&str> = if args.targets.is_empty() {
        plan.targets.iter().map(|t| t.name.as_str()).collect()
    } else {
        args.targets.iter().map(String::as_str).collect()
    };
    let by_project = plan::project_targets(&plan, names.iter().copied());
    if by_project.is_empty() {
        eprintln!("nothing to build: the selected targets are prebuilt binaries");
    }
    build_projects(&plan, by_project)?;
    Ok(exit::OK)
}

/// Builds the given targets of each project, printing progress on stderr.
pub fn build_projects(plan: &Plan, by_project: BTreeMap<usize, Vec<String>>) -> Result<()> {
    for (index, targets) in by_project {
        let project = &plan.projects[index];
        eprintln!(
            "building {} target(s) of {} ({}, sanitizer {})",
            targets.len(),
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
                BuildEvent::Status { verb, detail } => format!("{verb} {detail}"),
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
    }
    Ok(())
}
