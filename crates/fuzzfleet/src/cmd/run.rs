//! `fuzzfleet run`: builds what needs building, then runs the campaign in the foreground
//! and prints what happens (findings, failures) as it happens.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result};
use fleet_build::AflVariant;
use fleet_run::campaign::{AflTarget, HubSpec};
use fleet_run::notify::Delivery;
use fleet_run::triage::TriageEvent;
use fleet_run::{AutoMinimize, CampaignSpec, Notice, StopReason};
use fleet_store::Layout;

use super::{Context, build};
use crate::cli::RunArgs;
use crate::{exit, plan};

/// SIGTERM to SIGKILL, per worker; the whole stop stays well inside 10 s.
const GRACE: Duration = Duration::from_secs(3);
/// Per-worker log budget (the current file plus one rotated).
const MAX_LOG_BYTES: u64 = 8 << 20;

pub fn run(ctx: &Context, args: &RunArgs) -> Result<i32> {
    // A C/C++ project's harnesses are built first (unless --no-build), so `init`, edit,
    // `run` works on a fresh tree.
    let (plan, built) = build::load_built(ctx, args.no_build)?;
    // Everything that can be refused is refused before the state dir or its lock exist.
    plan::require_built(&plan)?;
    plan::tiers(&plan, args, plan::total_workers(&plan, args))?;
    let layout = state_layout(ctx, &plan)?;
    let _lock = super::lock_state(&layout, "`fuzzfleet run`")?;
    // Built just now: not built a second time.
    let spec = campaign_spec(&plan, args, layout, false, built)?;
    let verbose = args.verbose;
    let log = Log::detect();
    let coverage = CoverageSchedule::start(&plan, &spec);
    let summary = fleet_run::run(spec, &mut |n| print_notice(&n, verbose, log))?;
    drop(coverage);
    print_summary(&summary);
    Ok(exit_code(&summary, args.once || args.run_for.is_some()))
}

/// `run`'s exit status: 1 when nothing could run, or when a bounded run (`--once`,
/// `--for`) had a target that failed to start; 0 otherwise. An unbounded run goes on
/// with the targets that work, so only a script's bounded run is told by the status.
pub(crate) fn exit_code(summary: &fleet_run::Summary, bounded: bool) -> i32 {
    if summary.reason == StopReason::NothingToRun || (bounded && !summary.failed.is_empty()) {
        exit::PROBLEM
    } else {
        exit::OK
    }
}

/// The state dir from `--state` or the config, created and made absolute.
pub(crate) fn state_layout(ctx: &Context, plan: &fleet_config::Plan) -> Result<Layout> {
    let state = ctx.state_dir(Some(plan));
    fs::create_dir_all(&state)
        .with_context(|| format!("cannot create state dir {}", state.display()))?;
    Ok(Layout::new(state.canonicalize()?))
}

/// The campaign `args` ask for under `plan` (building first unless `--no-build`), after
/// printing what it will run. `reload_on_hup`: SIGHUP ends it with `StopReason::Reload`
/// (the agent) rather than stopping like SIGTERM.
pub(crate) fn campaign_spec(
    plan: &fleet_config::Plan,
    args: &RunArgs,
    layout: Layout,
    reload_on_hup: bool,
    built: bool,
) -> Result<CampaignSpec> {
    let workers = plan::total_workers(plan, args);
    let tiers = plan::tiers(plan, args, workers)?;
    let names: Vec<String> = tiers
        .iter()
        .flat_map(|t| t.targets.iter().cloned())
        .collect();
    if !args.no_build && !built {
        build::build_projects(
            plan,
            plan::project_targets(plan, names.iter().map(String::as_str)),
        )?;
    }
    let portfolio = match args.strategies {
        Some(s) => s == crate::cli::Strategies::Portfolio,
        None => plan.portfolio,
    };
    // AFL++ is one arm of the portfolio: plain runs are libFuzzer's alone.
    let afl = portfolio.then(|| AflBuilds::load(plan));
    let mut targets = BTreeMap::new();
    let mut with_afl: Vec<&str> = Vec::new();
    for name in &names {
        let name: &str = AsRef::<str>::as_ref(name);
        let mut target = plan::campaign_target(plan, name)?;
        target.afl =
            afl.as_ref()
                .and_then(|afl| afl.of(plan, name))
                .map(|(afl_fuzz, binary, cmplog)| AflTarget {
                    afl_fuzz,
                    binary,
                    cmplog,
                });
        if target.afl.is_some() {
            with_afl.push(name);
        }
        targets.insert(name.to_string(), target);
    }
    if let Some(afl) = &afl {
        let all: Vec<&str> = names.iter().map(AsRef::<str>::as_ref).collect();
        afl.explain(plan, &all, &with_afl);
    }
    // `workers` unset (or 0) in the config and no --workers: measured, not one per core.
    let (workers, tiers) = match measured_workers(plan, args, &layout, &names, &targets) {
        Some(n) if n != workers => (n, plan::tiers(plan, args, n)?),
        _ => (workers, tiers),
    };
    let wanted: usize = tiers.iter().map(|t| t.workers).sum();
    let fixed = plan.schedule == fleet_config::Schedule::Fixed;
    let shortest = tiers.iter().map(|t| t.budget).min().unwrap_or_default();
    let per_tier: Vec<String> = tiers
        .iter()
        .map(|t| match plan.schedule {
            fleet_config::Schedule::Fixed => format!(
                "{}: {}, {} per target",
                t.name,
                plural(t.workers, "worker"),
                fleet_run::fmt::duration(t.budget)
            ),
            // Every target alike: the tiers only list them.
            fleet_config::Schedule::Equal => {
                format!("{}: {}", t.name, plural(t.targets.len(), "target"))
            }
            // The tiers weigh their targets; the schedule gives the slots.
            _ => format!(
                "{}: weight {}",
                t.name,
                (t.budget.as_secs_f64() / shortest.as_secs_f64().max(1.0) * 10.0).round() / 10.0
            ),
        })
        .collect();
    let schedule = match plan.schedule {
        fleet_config::Schedule::Equal => format!(
            "equal, slices of {}",
            fleet_run::fmt::duration(plan.tier_slice.min(shortest))
        ),
        other => other.as_str().to_string(),
    };
    eprintln!(
        "fuzzfleet: {}, {} in {} ({}; schedule {schedule}); state in {}; Ctrl-C stops",
        plural(if fixed { wanted.min(workers) } else { workers }, "worker"),
        plural(names.len(), "target"),
        plural(tiers.len(), "tier"),
        per_tier.join("; "),
        layout.root().display()
    );
    if fixed && wanted > workers {
        // Each tier needs at least one worker, or the tiers' own `workers` ask for more.
        eprintln!(
            "fuzzfleet: the {} tiers need {} and this node has {workers}: they take turns of up to {} (`tier_slice`); --workers N or --tier T choose otherwise",
            tiers.len(),
            plural(wanted, "worker"),
            fleet_run::fmt::duration(plan.tier_slice)
        );
    }
    let node = fleet_run::hubsync::node_name(&layout)?;
    Ok(CampaignSpec {
        layout,
        targets,
        tiers,
        slots: workers,
        tier_slice: plan.tier_slice,
        run_for: args.run_for,
        once: args.once,
        grace: GRACE,
        max_log_bytes: MAX_LOG_BYTES,
        hub: plan.hub.as_ref().map(|h| HubSpec {
            url: h.url.clone(),
            node: node.clone(),
            every: h.every,
        }),
        triage: Some(fleet_run::TriageSpec {
            config: fleet_run::triage::TriageConfig {
                nice: Some(fleet_run::triage::BACKGROUND_NICE),
                ..plan::triage_config(plan)
            },
            webhook: plan.alerts.webhook.as_ref().map(|u| u.as_str().to_string()),
            digest_after: usize::try_from(plan.alerts.digest_after).unwrap_or(usize::MAX),
            final_deadline: plan.crashes.triage_deadline,
        }),
        minimize: plan.corpus.minimize_growth.map(|growth| AutoMinimize {
            growth,
            min_files: plan.corpus.minimize_min_files,
        }),
        resources: fleet_run::resources::ResourceSpec::from_plan(&plan.alerts),
        reload_on_hup,
        progress_every: Some(plan.progress_every),
        portfolio,
        schedule: plan.schedule,
    })
}

/// The node's workers measured (or a measurement reused) when neither the config nor
/// `--workers` sets them, after printing the count and the curve that chose it; `None`
/// when they are set, or when the measurement failed (then one per core, as said).
fn measured_workers(
    plan: &fleet_config::Plan,
    args: &RunArgs,
    layout: &Layout,
    names: &[String],
    targets: &BTreeMap<String, fleet_run::CampaignTarget>,
) -> Option<usize> {
    if args.workers.is_some() || plan.workers.is_some() {
        return None;
    }
    let candidates: Vec<&fleet_run::CampaignTarget> =
        names.iter().filter_map(|n| targets.get(n)).collect();
    let cores = fleet_run::calibrate::cores();
    let mut progress = |line: &str| eprintln!("fuzzfleet: {line}");
    match fleet_run::calibrate::calibrate(layout, &candidates, cores, false, &mut progress) {
        Ok(c) => {
            eprintln!("fuzzfleet: {}", fleet_run::calibrate::line(&c));
            Some(c.doc.workers)
        }
        Err(e) => {
            eprintln!(
                "fuzzfleet: workers: cannot measure how many pay ({e}): one per core, {cores}"
            );
            None
        }
    }
}

/// Where the campaign's targets' AFL++ builds are: a cargo-fuzz target's are the ones
/// `fuzzfleet build` made (`fleet_build::find_afl_build`), run by the `afl-fuzz` of the
/// AFL++ that built them; a prebuilt target's are its `afl_binary` and
/// `afl_cmplog_binary`, run by an AFL++ fuzzfleet built, else the `afl-fuzz` on PATH.
/// A target without them runs libFuzzer alone.
pub(crate) struct AflBuilds {
    /// Prebuilt targets' `afl_binary` and `afl_cmplog_binary` (empty when `engines`
    /// leave AFL++ out).
    prebuilt: BTreeMap<fleet_config::TargetName, fleet_config::AflBinaries>,
    /// The `afl-fuzz` for prebuilt targets.
    afl_fuzz: Option<PathBuf>,
}

impl AflBuilds {
    /// What the config's file says of prebuilt targets, and the `afl-fuzz` at hand.
    pub(crate) fn load(plan: &fleet_config::Plan) -> AflBuilds {
        let prebuilt = fleet_config::load_with_afl(&plan.file)
            .map(|(_, afl)| afl)
            .unwrap_or_default();
        let afl_fuzz = if prebuilt.is_empty() {
            None
        } else {
            built_afl_fuzz(plan).or_else(|| on_path("afl-fuzz"))
        };
        AflBuilds { prebuilt, afl_fuzz }
    }

    /// Target `name`'s `afl-fuzz`, the AFL++ build it fuzzes and its CmpLog build
    /// (`afl-fuzz -c`), or `None`: libFuzzer alone.
    pub(crate) fn of(
        &self,
        plan: &fleet_config::Plan,
        name: &str,
    ) -> Option<(PathBuf, PathBuf, Option<PathBuf>)> {
        let target = plan.target(name)?;
        match &target.source {
            fleet_config::TargetSource::Project { project } => {
                let project = &plan.projects[*project];
                // A project never built for AFL++ costs no toolchain query.
                if !project.aflpp.wanted()
                    || !fleet_build::afl_target_dir(&project.path, AflVariant::Coverage).is_dir()
                {
                    return None;
                }
                let (install, built) =
                    fleet_build::find_afl_build(&project.path, &project.toolchain, name)?;
                Some((install.afl_fuzz(), built.afl, Some(built.cmplog)))
            }
            fleet_config::TargetSource::Binary(_) => {
                let b = self.prebuilt.get(name)?;
                Some((self.afl_fuzz.clone()?, b.binary.clone(), b.cmplog.clone()))
            }
        }
    }

    /// Says which targets run AFL++ beside libFuzzer, and which asked for it and cannot.
    fn explain(&self, plan: &fleet_config::Plan, names: &[&str], with_afl: &[&str]) {
        if !with_afl.is_empty() {
            eprintln!(
                "fuzzfleet: AFL++ beside libFuzzer for {}: {}",
                plural(with_afl.len(), "target"),
                with_afl.join(", ")
            );
        }
        let without: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| !with_afl.contains(n))
            .filter(|n| {
                plan.target(n).is_some_and(|t| match &t.source {
                    fleet_config::TargetSource::Project { project } => {
                        plan.projects[*project].aflpp == fleet_config::AflppChoice::On
                    }
                    fleet_config::TargetSource::Binary(_) => self.prebuilt.contains_key(*n),
                })
            })
            .collect();
        if !without.is_empty() {
            eprintln!(
                "fuzzfleet: AFL++ asked for but not at hand for {} (no AFL++ build: `fuzzfleet build`; a prebuilt target's afl_binary needs an afl-fuzz, built or on PATH; `fuzzfleet doctor` says why): libFuzzer alone",
                without.join(", ")
            );
        }
    }
}

/// The `afl-fuzz` of an AFL++ fuzzfleet built for one of the plan's projects (or in
/// `$FUZZFLEET_AFLPP_DIR`), the newest first.
fn built_afl_fuzz(plan: &fleet_config::Plan) -> Option<PathBuf> {
    let mut caches: Vec<PathBuf> = plan
        .projects
        .iter()
        .map(|p| fleet_build::aflpp_cache_dir(&p.path))
        .collect();
    if let Some(dir) = std::env::var_os(fleet_build::AFLPP_DIR_ENV).filter(|v| !v.is_empty()) {
        caches.push(dir.into());
    }
    newest_install(&caches).map(|i| i.afl_fuzz())
}

/// The newest complete AFL++ install in any of `caches`.
fn newest_install(caches: &[PathBuf]) -> Option<fleet_build::AflppInstall> {
    caches
        .iter()
        .filter_map(|c| fs::read_dir(c).ok())
        .flatten()
        .flatten()
        .filter_map(|e| fleet_build::AflppInstall::open(&e.path()))
        .max_by(|a, b| a.version.cmp(&b.version))
}

/// `program` found in a directory of `PATH`, as an absolute path.
fn on_path(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| {
            p.is_absolute()
                && fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// "1 worker", "2 workers".
pub(crate) fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

pub(crate) fn print_summary(summary: &fleet_run::Summary) {
    eprintln!(
        "fuzzfleet: {}; {} (see `fuzzfleet crashes list`)",
        stop_reason(summary.reason),
        plural(summary.new_findings, "new crashing input")
    );
    for (target, message) in &summary.failed {
        eprintln!("fuzzfleet: target {target} failed: {message}");
    }
}

/// A campaign's coverage schedule (`[coverage] every`): `fuzzfleet coverage --every` for
/// the campaign's targets that have a coverage build, as a child process at nice 19 in
/// its own process group, its output in `logs/coverage.log`. Stopped with the campaign
/// (and by the kernel if fuzzfleet dies first).
pub(crate) struct CoverageSchedule {
    /// Its group; dropped, the whole group is killed.
    group: fleet_proc::Group,
}

impl CoverageSchedule {
    pub(crate) fn start(plan: &fleet_config::Plan, spec: &CampaignSpec) -> Option<Self> {
        let every = plan.coverage.every?;
        let targets: Vec<&str> = spec
            .targets
            .keys()
            .filter_map(|name| plan.target(name))
            .filter(|t| {
                matches!(t.source, fleet_config::TargetSource::Project { .. })
                    || t.coverage.is_some()
            })
            .map(|t| t.name.as_str())
            .collect();
        if targets.is_empty() {
            return None;
        }
        let logs = spec.layout.root().join("logs");
        let log = fs::create_dir_all(&logs)
            .and_then(|()| {
                fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(logs.join("coverage.log"))
            })
            .ok()?;
        let exe = std::env::current_exe().ok()?;
        let every_text = humantime::format_duration(every).to_string();
        let mut cmd = std::process::Command::new(exe);
        cmd.arg("--config")
            .arg(&plan.file)
            .arg("--state")
            .arg(spec.layout.root())
            .arg("coverage")
            .args(&targets)
            .args(["--every", &every_text, "--first-after", &every_text])
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().ok()?)
            .stderr(log);
        match fleet_proc::Spawn::new(cmd)
            .death_signal(libc::SIGTERM)
            .spawn()
        {
            Ok(group) => {
                eprintln!(
                    "fuzzfleet: line coverage of {} recomputed every {every_text} at nice 19 (logs/coverage.log)",
                    plural(targets.len(), "target")
                );
                Some(CoverageSchedule { group })
            }
            Err(e) => {
                eprintln!("fuzzfleet: cannot start the coverage schedule: {e}");
                None
            }
        }
    }
}

impl Drop for CoverageSchedule {
    fn drop(&mut self) {
        // A round in progress gets the chance to write what it has.
        let _ = self.group.stop(Duration::from_secs(3));
    }
}

/// Where `run`'s log lines go: a terminal (with the time) or the systemd journal
/// (`JOURNAL_STREAM` set: the journal adds the time; a `<N>` prefix gives the priority).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Log {
    Terminal,
    Journal,
}

impl Log {
    pub(crate) fn detect() -> Log {
        if std::env::var_os("JOURNAL_STREAM").is_some() {
            Log::Journal
        } else {
            Log::Terminal
        }
    }
}

/// Why a campaign stopped, in words.
pub(crate) fn stop_reason(reason: StopReason) -> &'static str {
    match reason {
        StopReason::Signal => "stopped by a signal",
        StopReason::TimeUp => "--for elapsed",
        StopReason::CycleDone => "one cycle done (--once)",
        StopReason::NothingToRun => "no target could run",
        StopReason::Reload => "stopped to reload the config (SIGHUP)",
    }
}

/// The periodic summary line.
fn progress_line(p: &fleet_run::Progress) -> String {
    let running = if p.running.is_empty() {
        "nothing running".to_string()
    } else {
        format!(
            "{} on {} ({})",
            plural(p.running.len(), "target"),
            plural(p.workers, "worker"),
            p.running.join(", ")
        )
    };
    let next = match &p.next {
        Some((what, when)) => format!("; next: {what} in {}", fleet_run::fmt::duration(*when)),
        None => String::new(),
    };
    format!(
        "progress: {running}; {} execs/s; +{} features; {}, {}{next}",
        fleet_run::fmt::rate(p.execs_per_sec),
        p.new_features,
        plural(p.new_bugs, "new bug"),
        plural(p.artifacts, "crash artifact")
    )
}

pub(crate) fn print_notice(n: &Notice, verbose: bool, log: Log) {
    let at = fleet_store::rfc3339(fleet_store::now_ms());
    let at = &at[11..19];
    let line = match n {
        Notice::TargetStarted { target, workers } => {
            format!("{target}: fuzzing on {}", plural(*workers, "worker"))
        }
        // One line per new bug comes from triage; each artifact only with --verbose (the
        // progress line counts them).
        Notice::Finding { .. } if !verbose => return,
        Notice::Finding {
            target,
            kind,
            id,
            new: true,
        } => format!("{target}: {kind}, new input (finding {id})"),
        Notice::Finding {
            target, kind, id, ..
        } => format!("{target}: {kind} found again (finding {id})"),
        Notice::SeedSetAside { target, sha1 } => {
            format!(
                "{target}: corpus entry {sha1} crashes on load; set aside in quarantine/ and kept as a finding"
            )
        }
        Notice::TargetFailed { target, message } => {
            format!("{target}: FAILED, not restarted: {message}")
        }
        Notice::Restarted { .. } if !verbose => return,
        Notice::Restarted { target, slot, how } => {
            format!("{target}: worker {slot} restarted after {how}")
        }
        Notice::PrivateTmpUnavailable { error } => {
            format!("private /tmp per worker unavailable here ({error}); workers get TMPDIR only")
        }
        Notice::EngineOutput { target, error } => {
            format!("{target}: unparsed engine output: {error}")
        }
        Notice::Stopping { reason } => format!("stopping: {}", stop_reason(*reason)),
        Notice::Progress(p) => progress_line(p),
        Notice::FinalTriage { deadline } => format!(
            "workers stopped; triaging what they found (up to {}; Ctrl-C again to leave it for the next run)",
            fleet_run::fmt::duration(*deadline)
        ),
        Notice::FinalTriageSkipped => {
            "triage cut short by a second Ctrl-C; the next run or `fuzzfleet crashes triage` takes it up".to_string()
        }
        Notice::Minimized {
            target,
            outcome: Ok(o),
        } => format!(
            "{target}: corpus minimized in the background: {} -> {} files, {} -> {} features{}",
            o.files_before,
            o.files_after,
            o.features_before,
            o.features_after,
            if o.replaced {
                ""
            } else {
                " (fewer features: old corpus kept)"
            }
        ),
        Notice::Minimized {
            target,
            outcome: Err(e),
        } => format!("{target}: corpus minimization failed: {e}"),
        Notice::PulledFinding { target, kind, id } => {
            format!("{target}: NEW {kind} from another node, via the hub (finding {id})")
        }
        Notice::Slice { run, slice } => {
            let run: Vec<String> = run
                .iter()
                .map(|(t, w)| if *w == 1 { t.clone() } else { format!("{t} ×{w}") })
                .collect();
            format!(
                "next {}: {} (why: `fuzzfleet status`)",
                fleet_run::fmt::duration(*slice),
                if run.is_empty() { "nothing to run".to_string() } else { run.join(", ") }
            )
        }
        Notice::TierTurn {
            running,
            waiting,
            turn,
        } => {
            let waiting = if waiting.is_empty() {
                String::new()
            } else {
                format!("; waiting: {}", waiting.join(", "))
            };
            format!(
                "tiers' turn: {}{waiting} (next turn in {})",
                running.join(", "),
                fleet_run::fmt::duration(*turn)
            )
        }
        Notice::HubSynced { error: Some(e), .. } => {
            format!("hub sync failed (fuzzing goes on, retrying): {e}")
        }
        Notice::HubSynced {
            pushed,
            pulled,
            skipped,
            ..
        } if !skipped.is_empty() => format!(
            "hub: pushed {pushed}, pulled {pulled}; skipped {} (fuzzing goes on): {}",
            plural(skipped.len(), "hub object"),
            skipped.iter().take(3).cloned().collect::<Vec<_>>().join("; ")
        ),
        Notice::HubSynced { pushed, pulled, .. } if verbose || pushed + pulled > 0 => {
            format!("hub: pushed {pushed}, pulled {pulled}")
        }
        Notice::HubSynced { .. } => return,
        Notice::Triage(e) => match triage_line(e, verbose) {
            Some(line) => line,
            None => return,
        },
        Notice::Webhook(Delivery::Sent { messages }) if verbose => {
            format!("webhook: {} delivered", plural(*messages, "message"))
        }
        Notice::Webhook(Delivery::Sent { .. }) => return,
        Notice::Webhook(Delivery::Failed { error, dropped }) => {
            format!(
                "webhook failed, {} dropped (fuzzing goes on): {error}",
                plural(*dropped, "message")
            )
        }
        Notice::Error { message } => format!("error: {message}"),
        Notice::Resource { message } => message.clone(),
    };
    match log {
        Log::Terminal => eprintln!("[{at}] {line}"),
        Log::Journal => {
            // sd-daemon priorities: 3 error, 4 warning, 5 notice, 6 info.
            let priority = match n {
                Notice::Error { .. } | Notice::TargetFailed { .. } => 3,
                Notice::HubSynced { skipped, .. } if !skipped.is_empty() => 4,
                Notice::HubSynced { error: Some(_), .. }
                | Notice::Webhook(Delivery::Failed { .. })
                | Notice::EngineOutput { .. } => 4,
                Notice::Finding { new: true, .. }
                | Notice::PulledFinding { .. }
                | Notice::Triage(TriageEvent::NewBucket { .. } | TriageEvent::Regressed { .. }) => {
                    5
                }
                _ => 6,
            };
            eprintln!("<{priority}>{line}");
        }
    }
}

/// What the crash pipeline's news looks like in `run`'s log.
/// One line for a triage event; the per-finding `Filed` lines only when `verbose`.
pub(crate) fn triage_line(e: &TriageEvent, verbose: bool) -> Option<String> {
    Some(match e {
        TriageEvent::NewBucket {
            id,
            target,
            title,
            severity,
            repro,
        } => format!(
            "{target}: NEW BUG {id} [{severity}, repro {repro}] {title} (`fuzzfleet crashes show {id}`)"
        ),
        TriageEvent::Filed {
            id,
            target,
            finding,
            repro,
        } if verbose => format!("{target}: finding {finding} is bug {id} (repro {repro})"),
        TriageEvent::Filed { .. } => return None,
        TriageEvent::Minimized {
            id,
            target,
            from,
            to: Some(to),
        } if to == from => format!("{target}: bug {id}'s input is already minimal ({to} bytes)"),
        TriageEvent::Minimized {
            id,
            target,
            from,
            to: Some(to),
        } => format!("{target}: bug {id}'s input minimized, {from} -> {to} bytes"),
        TriageEvent::Minimized {
            id,
            target,
            to: None,
            ..
        } => format!(
            "{target}: bug {id}: every smaller input crashes differently; its input is the minimal one"
        ),
        TriageEvent::NotMinimized { id, target } => format!(
            "{target}: bug {id}'s input did not crash when minimization ran it: not minimized (does not reproduce)"
        ),
        TriageEvent::Fixed {
            id,
            target,
            title,
            build,
        } => format!(
            "{target}: bug {id} FIXED in build {}: {title}",
            &build[..build.len().min(12)]
        ),
        TriageEvent::Regressed {
            id,
            target,
            title,
            build,
        } => format!(
            "{target}: bug {id} REGRESSED in build {}: {title}",
            &build[..build.len().min(12)]
        ),
        TriageEvent::Drained {
            filed: 0,
            reproduced: 0,
            left: 0,
        } => "triage done: every finding was already filed".to_string(),
        TriageEvent::Drained {
            filed,
            reproduced,
            left: 0,
        } => format!(
            "triage done: {} filed, {} reproduced",
            plural(*filed, "crashing input"),
            plural(*reproduced, "new bug")
        ),
        TriageEvent::Drained {
            filed,
            reproduced,
            left,
        } => format!(
            "triage stopped: {} filed, {} reproduced, {} left for the next run",
            plural(*filed, "crashing input"),
            plural(*reproduced, "new bug"),
            plural(*left, "reproduction")
        ),
        TriageEvent::Error { message } => format!("triage: {message}"),
    })
}

#[cfg(test)]
mod afl_tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    /// An executable file at `dir/name`.
    fn executable(dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// A config of two prebuilt targets, one with AFL++ builds; `engines` as given.
    fn prebuilt_plan(dir: &Path, engines: &str) -> fleet_config::Plan {
        for name in ["lf", "afl", "cmplog", "other"] {
            executable(dir, name);
        }
        let text = format!(
            "state_dir = \"state\"\n[defaults]\n{engines}\n\
             [[target]]\nname = \"with_afl\"\nbinary = \"lf\"\nafl_binary = \"afl\"\nafl_cmplog_binary = \"cmplog\"\n\
             [[target]]\nname = \"plain\"\nbinary = \"other\"\n"
        );
        let file = dir.join("fleet.toml");
        fs::write(&file, text).unwrap();
        fleet_config::load(&file).unwrap()
    }

    #[test]
    fn a_prebuilt_target_gets_its_afl_binaries_and_the_afl_fuzz_at_hand() {
        let dir = fleet_testkit::temp_dir();
        let plan = prebuilt_plan(dir.path(), "");
        let afl_fuzz = executable(dir.path(), "afl-fuzz");
        let builds = AflBuilds {
            afl_fuzz: Some(afl_fuzz.clone()),
            ..AflBuilds::load(&plan)
        };
        let root = dir.path().canonicalize().unwrap();
        assert_eq!(
            builds.of(&plan, "with_afl"),
            Some((afl_fuzz, root.join("afl"), Some(root.join("cmplog"))))
        );
        assert_eq!(builds.of(&plan, "plain"), None);
        assert_eq!(builds.of(&plan, "no_such_target"), None);
        // No afl-fuzz anywhere: libFuzzer alone.
        let none = AflBuilds {
            afl_fuzz: None,
            ..AflBuilds::load(&plan)
        };
        assert_eq!(none.of(&plan, "with_afl"), None);
    }

    #[test]
    fn engines_without_aflpp_leave_a_prebuilt_targets_afl_binary_unused() {
        let dir = fleet_testkit::temp_dir();
        let plan = prebuilt_plan(dir.path(), "engines = [\"libfuzzer\"]");
        let builds = AflBuilds {
            afl_fuzz: Some(executable(dir.path(), "afl-fuzz")),
            ..AflBuilds::load(&plan)
        };
        assert_eq!(builds.of(&plan, "with_afl"), None);
    }

    #[test]
    fn a_program_is_found_on_path_as_an_absolute_path() {
        let sh = on_path("sh").expect("sh on PATH");
        assert!(sh.is_absolute() && sh.ends_with("sh"), "{}", sh.display());
        assert_eq!(on_path("no-such-program-fuzzfleet"), None);
    }

    #[test]
    fn the_newest_complete_install_is_chosen_and_a_partial_one_never() {
        let dir = fleet_testkit::temp_dir();
        let cache = dir.path().join("aflpp");
        // Two complete installs (every file an install must have, and the stamp) and
        // one without its stamp.
        for (name, version) in [("old", "4.30c"), ("new", "4.40c"), ("partial", "4.50c")] {
            let prefix = cache.join(name);
            let install = fleet_build::AflppInstall {
                prefix: prefix.clone(),
                version: version.into(),
                llvm_major: 22,
            };
            for file in install.missing() {
                fs::create_dir_all(file.parent().unwrap()).unwrap();
                fs::write(&file, "").unwrap();
            }
            if name != "partial" {
                fs::write(
                    prefix.join("aflpp-install.txt"),
                    format!("version={version}\nllvm_major=22\n"),
                )
                .unwrap();
            }
        }
        let found = newest_install(&[dir.path().join("nothing"), cache.clone()]).unwrap();
        assert_eq!(found.version, "4.40c");
        assert_eq!(found.afl_fuzz(), cache.join("new/bin/afl-fuzz"));
        assert_eq!(newest_install(&[dir.path().join("nothing")]), None);
    }
}
