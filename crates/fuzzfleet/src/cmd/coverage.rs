//! `fuzzfleet coverage TARGET…`: builds each target's coverage variant, replays its
//! corpus and seeds, and prints per-file coverage and the functions no input
//! reaches; the HTML report, lcov file and JSON land under `<state>/coverage/<target>/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use fleet_config::{Plan, TargetPlan, TargetSource};
use fleet_cover::{CoverError, CoverageReport, LlvmTools, Outputs, Step};
use serde::Serialize;

use super::Context;
use crate::cli::CoverageArgs;
use crate::exit;

/// Version of `coverage --json`.
const JSON_VERSION: u32 = 1;

/// A target ready to report on: its coverage binary and the tools that read it.
struct Ready<'a> {
    target: &'a TargetPlan,
    binary: PathBuf,
    tools: LlvmTools,
}

#[derive(Serialize)]
struct JsonOut<'a> {
    version: u32,
    targets: Vec<JsonTarget<'a>>,
}

#[derive(Serialize)]
struct JsonTarget<'a> {
    #[serde(flatten)]
    report: &'a CoverageReport,
    html: PathBuf,
    lcov: PathBuf,
    profdata: PathBuf,
}

pub fn coverage(ctx: &Context, args: &CoverageArgs) -> Result<i32> {
    let plan = ctx.plan()?;
    let targets = select(&plan, &args.targets)?;
    let Some(every) = args.every else {
        return round(ctx, &plan, &targets, args);
    };
    // Beside a campaign: the fuzzers keep the machine (children inherit the nice).
    // SAFETY: setpriority only reads its arguments.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, BACKGROUND_NICE) } != 0 {
        eprintln!(
            "warning: cannot lower the priority to nice {BACKGROUND_NICE}: {}",
            std::io::Error::last_os_error()
        );
    }
    if let Some(wait) = args.first_after {
        eprintln!(
            "first coverage round in {}",
            humantime::format_duration(wait)
        );
        std::thread::sleep(wait);
    }
    let mut rounds = 0;
    loop {
        let started = std::time::Instant::now();
        round(ctx, &plan, &targets, args)?;
        rounds += 1;
        if args.rounds.is_some_and(|n| rounds >= n) {
            return Ok(exit::OK);
        }
        if let Some(rest) = every.checked_sub(started.elapsed()) {
            eprintln!(
                "next coverage round in {}",
                humantime::format_duration(rest)
            );
            std::thread::sleep(rest);
        }
    }
}

/// Nice value of `--every` rounds: the lowest priority, as background work.
const BACKGROUND_NICE: libc::c_int = 19;

/// One coverage computation of every selected target, printed and recorded.
fn round(ctx: &Context, plan: &Plan, targets: &[&TargetPlan], args: &CoverageArgs) -> Result<i32> {
    let layout = fleet_store::Layout::new(ctx.state_dir(Some(plan)));
    let ready = build_all(plan, targets)?;

    let several = ready.len() > 1;
    let mut done: Vec<(CoverageReport, Outputs)> = Vec::new();
    for r in &ready {
        let name = r.target.name.as_str();
        let mut dirs = vec![layout.corpus_dir(name)];
        dirs.extend(r.target.seeds.clone());
        let inputs = fleet_cover::collect_inputs(&dirs).map_err(cover_err)?;
        if inputs.is_empty() {
            return Err(cover_err(CoverError::EmptyCorpus {
                target: name.to_owned(),
                dirs,
            }));
        }
        let html = args
            .html
            .as_ref()
            .map(|d| if several { d.join(name) } else { d.clone() });
        let lcov = args.lcov.as_ref().map(|f| {
            if several {
                f.join(format!("{name}.lcov"))
            } else {
                f.clone()
            }
        });
        let out = Outputs::under(&layout.root().join("coverage").join(name), html, lcov);
        eprintln!(
            "{name}: replaying {} input(s) through its coverage build",
            inputs.len()
        );
        let mut ignore = fleet_cover::default_ignore();
        if let Some(project) = plan.project_of(r.target) {
            ignore.extend(fleet_cover::project_ignore(&project.path));
        }
        let request = fleet_cover::Request {
            target: name,
            binary: &r.binary,
            tools: &r.tools,
            inputs: &inputs,
            timeout_s: r.target.timeout_s,
            rss_limit_mb: r.target.rss_limit_mb,
            ignore: &ignore,
        };
        let report = fleet_cover::report(&request, &out, &mut |step| progress(name, step))
            .map_err(cover_err)?;
        record(&layout, &report, &r.binary)?;
        done.push((report, out));
    }

    if args.json {
        let out = JsonOut {
            version: JSON_VERSION,
            targets: done
                .iter()
                .map(|(report, out)| JsonTarget {
                    report,
                    html: out.html.join("index.html"),
                    lcov: out.lcov.clone(),
                    profdata: out.profdata.clone(),
                })
                .collect(),
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for (i, (report, out)) in done.iter().enumerate() {
            if i > 0 {
                println!();
            }
            print_report(report, out, args.top);
        }
    }
    Ok(exit::OK)
}

/// Keeps the figures in the state database, for `status` and coverage over time: those
/// over the files the target reaches (the whole crate's stay in `coverage.json`).
fn record(layout: &fleet_store::Layout, report: &CoverageReport, binary: &Path) -> Result<()> {
    std::fs::create_dir_all(layout.root())?;
    let db = fleet_store::Db::open(&layout.db_path())?;
    let t = report.reached;
    let n = |x: u64| i64::try_from(x).unwrap_or(i64::MAX);
    db.put_coverage(&fleet_store::CoverageRow {
        target: report.target.clone(),
        at_ms: fleet_store::now_ms(),
        lines_covered: n(t.lines.covered),
        lines_total: n(t.lines.total),
        regions_covered: n(t.regions.covered),
        regions_total: n(t.regions.total),
        functions_covered: n(t.functions.covered),
        functions_total: n(t.functions.total),
        inputs: n(report.replay.inputs as u64),
        build_id: build_id(binary),
    })?;
    Ok(())
}

/// Identifies the coverage build that was measured: its size and modification time.
fn build_id(binary: &Path) -> String {
    let Ok(meta) = std::fs::metadata(binary) else {
        return String::new();
    };
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("{}-{mtime}", meta.len())
}

/// The targets named, each once; an unknown name is a usage error.
fn select<'a>(plan: &'a Plan, names: &[String]) -> Result<Vec<&'a TargetPlan>> {
    let mut targets: Vec<&TargetPlan> = Vec::new();
    for name in names {
        let Some(t) = plan.target(name) else {
            let known: Vec<&str> = plan.targets.iter().map(|t| t.name.as_str()).collect();
            return Err(exit::usage(format!(
                "no target named {name:?} in {} (it has: {})",
                plan.file.display(),
                known.join(", ")
            )));
        };
        if !targets.iter().any(|x| x.name == t.name) {
            targets.push(t);
        }
    }
    Ok(targets)
}

/// Finds the tools first (a missing one should not cost a build), then builds each
/// project's targets in one cargo run and each prebuilt target's command.
fn build_all<'a>(plan: &Plan, targets: &[&'a TargetPlan]) -> Result<Vec<Ready<'a>>> {
    let mut by_project: BTreeMap<usize, Vec<&TargetPlan>> = BTreeMap::new();
    let mut prebuilt = Vec::new();
    for t in targets {
        match (&t.source, &t.coverage) {
            (TargetSource::Project { project }, _) => {
                by_project.entry(*project).or_default().push(*t)
            }
            (TargetSource::Binary(_), Some(cov)) => prebuilt.push((*t, cov)),
            (TargetSource::Binary(_), None) => {
                return Err(exit::usage(format!(
                    "target {:?} is a prebuilt binary without a coverage variant: set `coverage_binary` \
                     (and `coverage_build`, a command that builds it with clang -fprofile-instr-generate \
                     -fcoverage-mapping) on its [[target]] in {} (see docs/coverage.md)",
                    t.name.as_str(),
                    plan.file.display()
                )));
            }
        }
    }

    let mut ready = Vec::new();
    for (index, project_targets) in by_project {
        let project = &plan.projects[index];
        let rust = fleet_cover::rust_llvm(&project.toolchain).map_err(cover_err)?;
        let tools = fleet_cover::for_rust(&rust).map_err(cover_err)?;
        let names: Vec<String> = project_targets.iter().map(|t| t.name.to_string()).collect();
        eprintln!(
            "building the coverage variant of {} of {} ({}, LLVM {})",
            super::run::plural(names.len(), "target"),
            project.path.display(),
            project.toolchain,
            rust.llvm_major
        );
        let built = fleet_cover::build_rust(
            &project.path,
            &project.toolchain,
            &rust.host,
            &names,
            &mut cargo_status,
        )
        .map_err(|e| match e {
            CoverError::BuildFailed { status, output, .. } => {
                anyhow::Error::new(fleet_build::BuildError::CompileFailed {
                    project: project.path.clone(),
                    status,
                    messages: output.lines().map(str::to_owned).collect(),
                })
            }
            other => cover_err(other),
        })?;
        for (t, (_, binary)) in project_targets.into_iter().zip(built) {
            ready.push(Ready {
                target: t,
                binary,
                tools: tools.clone(),
            });
        }
    }
    for (t, cov) in prebuilt {
        let binary = match &cov.command {
            Some(command) => {
                eprintln!(
                    "building the coverage variant of {}: {command}",
                    t.name.as_str()
                );
                fleet_cover::build_command_line(
                    t.name.as_str(),
                    command,
                    &plan.base_dir,
                    &cov.binary,
                    &mut |line| eprintln!("  {line}"),
                )
                .map_err(cover_err)?
            }
            None => cov.binary.clone(),
        };
        let tools = fleet_cover::for_clang_binary(&binary).map_err(cover_err)?;
        ready.push(Ready {
            target: t,
            binary,
            tools,
        });
    }
    Ok(ready)
}

/// Shows cargo's progress lines, not the compiler's chatter.
fn cargo_status(line: &str) {
    const VERBS: &[&str] = &[
        "Compiling",
        "Finished",
        "Blocking",
        "Downloading",
        "Downloaded",
        "Updating",
        "Locking",
    ];
    if VERBS.iter().any(|v| line.starts_with(v)) {
        eprintln!("  {line}");
    }
}

fn progress(name: &str, step: Step) {
    match step {
        Step::Replaying { done, total } => eprintln!("{name}: replayed {done}/{total}"),
        Step::Merging { profiles } => eprintln!("{name}: merging {profiles} profile(s)"),
        Step::Exporting => eprintln!("{name}: exporting the summary and lcov"),
        Step::Html => eprintln!("{name}: writing the HTML report"),
    }
}

/// Setup problems (missing tools, empty corpus, unknown target) exit 2; the rest are
/// failures of the run.
fn cover_err(e: CoverError) -> anyhow::Error {
    if e.is_setup() {
        exit::usage(e.to_string())
    } else {
        anyhow::Error::new(e)
    }
}

fn print_report(report: &CoverageReport, out: &Outputs, top: usize) {
    let base = common_dir(report.files.iter().map(|f| Path::new(&f.path)));
    let shown = |p: &str| -> String {
        match &base {
            Some(b) => Path::new(p)
                .strip_prefix(b)
                .map(|r| r.display().to_string())
                .unwrap_or_else(|_| p.to_owned()),
            None => p.to_owned(),
        }
    };
    let r = &report.replay;
    println!(
        "coverage of {}: {} input(s) replayed, {} crashed or timed out",
        report.target, r.inputs, r.crashed
    );
    if let Some(b) = &base {
        println!("files under {}", b.display());
    }
    let width = report
        .files
        .iter()
        .map(|f| shown(&f.path).len())
        .max()
        .unwrap_or(0)
        .max(5);
    println!(
        "  {:<width$}  {:>16}  {:>16}  {:>16}",
        "file", "lines", "regions", "functions"
    );
    let cell = |c: fleet_cover::Counts| format!("{}/{} {:5.1}%", c.covered, c.total, c.percent());
    for f in &report.files {
        println!(
            "  {:<width$}  {:>16}  {:>16}  {:>16}",
            shown(&f.path),
            cell(f.summary.lines),
            cell(f.summary.regions),
            cell(f.summary.functions)
        );
    }
    let t = report.reached;
    println!(
        "  {:<width$}  {:>16}  {:>16}  {:>16}",
        format!(
            "reached ({} of {} files)",
            report.reached_files,
            report.files.len()
        ),
        cell(t.lines),
        cell(t.regions),
        cell(t.functions)
    );
    let t = report.totals;
    println!(
        "  {:<width$}  {:>16}  {:>16}  {:>16}",
        "whole crate",
        cell(t.lines),
        cell(t.regions),
        cell(t.functions)
    );
    println!(
        "{}: {:.1}% of the lines of the files it reaches ({:.1}% of the whole crate)",
        report.target,
        report.reached.lines.percent(),
        report.totals.lines.percent()
    );
    let unreached = report.unreached_files();
    if !unreached.is_empty() {
        let names: Vec<String> = unreached.iter().map(|f| shown(&f.path)).collect();
        println!(
            "never entered ({} file(s), other code): {}",
            names.len(),
            names.join(", ")
        );
    }

    let never = report.never_reached();
    if never.is_empty() {
        println!("every function of the files it reaches was reached");
    } else {
        println!(
            "never reached in the files it reaches ({} function(s), largest first):",
            never.len()
        );
        println!("  {:>7}  {:>5}  function", "regions", "lines");
        let limit = if top == 0 { never.len() } else { top };
        for f in never.iter().take(limit) {
            println!(
                "  {:>7}  {:>5}  {}  {}:{}",
                f.regions,
                f.lines,
                f.name,
                shown(&f.file),
                f.line
            );
        }
        if never.len() > limit {
            println!("  … and {} more (--top 0 lists all)", never.len() - limit);
        }
    }
    println!("html: {}", out.html.join("index.html").display());
    println!("lcov: {}", out.lcov.display());
}

/// The deepest directory holding every path, if they share one beyond `/`.
fn common_dir<'a>(paths: impl Iterator<Item = &'a Path>) -> Option<PathBuf> {
    let mut common: Option<PathBuf> = None;
    for p in paths {
        let dir = p.parent()?.to_path_buf();
        common = Some(match common {
            None => dir,
            Some(c) => {
                let mut shared = PathBuf::new();
                for (a, b) in c.components().zip(dir.components()) {
                    if a != b {
                        break;
                    }
                    shared.push(a);
                }
                shared
            }
        });
    }
    common.filter(|c| c.components().count() > 1)
}
