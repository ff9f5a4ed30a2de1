//! `fuzzfleet run`: builds what needs building, then runs the campaign in the foreground
//! and prints what happens (findings, failures) as it happens.

use std::collections::BTreeMap;
use std::fs;
use std::time::Duration;

use anyhow::{Context as _, Result};
use fleet_run::campaign::HubSpec;
use fleet_run::notify::Delivery;
use fleet_run::triage::TriageEvent;
use fleet_run::{AutoMinimize, CampaignSpec, Notice, StopReason};
use fleet_store::Layout;

use super::{Context, build};
use crate::cli::RunArgs;
use crate::{exit, plan};

/// SIGTERM to SIGKILL, per worker; the whole stop stays well inside 10 s.
const GRACE: Duration = Duration::from_secs(3);
/// How often a campaign syncs with the hub (plus once at start and once at stop).
const HUB_SYNC_EVERY: Duration = Duration::from_secs(60);
/// Per-worker log budget (the current file plus one rotated).
const MAX_LOG_BYTES: u64 = 8 << 20;

pub fn run(ctx: &Context, args: &RunArgs) -> Result<i32> {
    let plan = ctx.plan()?;
    let workers = plan::total_workers(&plan, args);
    let tiers = plan::tiers(&plan, args, workers)?;
    let names: Vec<&str> = tiers
        .iter()
        .flat_map(|t| t.targets.iter().map(String::as_str))
        .collect();
    if !args.no_build {
        build::build_projects(&plan, plan::project_targets(&plan, names.iter().copied()))?;
    }
    let mut targets = BTreeMap::new();
    for name in &names {
        targets.insert(name.to_string(), plan::campaign_target(&plan, name)?);
    }

    let state = ctx.state_dir(Some(&plan));
    fs::create_dir_all(&state)
        .with_context(|| format!("cannot create state dir {}", state.display()))?;
    let state = state.canonicalize()?;
    let layout = Layout::new(&state);
    let _lock = super::lock_state(&layout, "`fuzzfleet run`")?;

    eprintln!(
        "fuzzfleet: {} workers, {} targets in {} tiers ({}); state in {}; Ctrl-C stops",
        tiers.iter().map(|t| t.workers).sum::<usize>(),
        names.len(),
        tiers.len(),
        tiers
            .iter()
            .map(|t| format!(
                "{}: {} workers, {} per target",
                t.name,
                t.workers,
                humantime::format_duration(t.budget)
            ))
            .collect::<Vec<_>>()
            .join("; "),
        state.display()
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started: usize = tiers.iter().map(|t| t.workers).sum();
    if started > cores && args.workers.is_none() && plan.workers.is_none() {
        // Only a tier's own `workers` or one worker per tier can get here.
        eprintln!(
            "fuzzfleet: warning: {started} workers on {cores} cores (each of the {} tiers needs at least one, or the tiers' `workers` say so); they share the cores — pass --workers or --tier to choose",
            tiers.len()
        );
    }
    let node = fleet_run::hubsync::node_name(&layout)?;
    let spec = CampaignSpec {
        layout,
        targets,
        tiers,
        run_for: args.run_for,
        once: args.once,
        grace: GRACE,
        max_log_bytes: MAX_LOG_BYTES,
        hub: plan.hub.as_ref().map(|h| HubSpec {
            url: h.url.clone(),
            node: node.clone(),
            every: HUB_SYNC_EVERY,
        }),
        triage: Some(fleet_run::TriageSpec {
            config: fleet_run::triage::TriageConfig {
                nice: Some(fleet_run::triage::BACKGROUND_NICE),
                ..plan::triage_config(&plan)
            },
            webhook: plan.alerts.webhook.as_ref().map(|u| u.as_str().to_string()),
            digest_after: usize::try_from(plan.alerts.digest_after).unwrap_or(usize::MAX),
        }),
        minimize: plan.corpus.minimize_growth.map(|growth| AutoMinimize {
            growth,
            min_files: plan.corpus.minimize_min_files,
        }),
        resources: fleet_run::resources::ResourceSpec::from_plan(&plan.alerts),
    };
    let verbose = args.verbose;
    let summary = fleet_run::run(spec, &mut |n| print_notice(&n, verbose))?;
    let why = match summary.reason {
        StopReason::Signal => "stopped by signal",
        StopReason::TimeUp => "--for elapsed",
        StopReason::CycleDone => "one cycle done (--once)",
        StopReason::NothingToRun => "no target could run",
    };
    eprintln!(
        "fuzzfleet: {why}; {} new findings (see `fuzzfleet crashes list`)",
        summary.new_findings
    );
    for (target, message) in &summary.failed {
        eprintln!("fuzzfleet: target {target} failed: {message}");
    }
    Ok(if summary.reason == StopReason::NothingToRun {
        exit::PROBLEM
    } else {
        exit::OK
    })
}

fn print_notice(n: &Notice, verbose: bool) {
    let at = fleet_store::rfc3339(fleet_store::now_ms());
    let at = &at[11..19];
    let line = match n {
        Notice::TargetStarted { target, workers } => {
            format!("{target}: fuzzing on {workers} workers")
        }
        Notice::Finding {
            target,
            kind,
            id,
            new: true,
        } => {
            format!("{target}: NEW {kind} (finding {id}; `fuzzfleet crashes list`)")
        }
        Notice::Finding { new: false, .. } if !verbose => return,
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
        Notice::Stopping { reason } => format!("stopping ({reason:?})"),
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
        Notice::HubSynced { error: Some(e), .. } => {
            format!("hub sync failed (fuzzing goes on, retrying): {e}")
        }
        Notice::HubSynced { pushed, pulled, .. } if verbose || pushed + pulled > 0 => {
            format!("hub: pushed {pushed}, pulled {pulled}")
        }
        Notice::HubSynced { .. } => return,
        Notice::Triage(e) => match triage_line(e, verbose) {
            Some(line) => line,
            None => return,
        },
        Notice::Webhook(Delivery::Sent { messages }) if verbose => {
            format!("webhook: {messages} message(s) delivered")
        }
        Notice::Webhook(Delivery::Sent { .. }) => return,
        Notice::Webhook(Delivery::Failed { error, dropped }) => {
            format!("webhook failed, {dropped} message(s) dropped (fuzzing goes on): {error}")
        }
        Notice::Error { message } => format!("error: {message}"),
        Notice::Resource { message } => message.clone(),
    };
    eprintln!("[{at}] {line}");
}

/// What the crash pipeline's news looks like in `run`'s log.
fn triage_line(e: &TriageEvent, verbose: bool) -> Option<String> {
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
        } => format!("{target}: bug {id}'s input minimized, {from} -> {to} bytes"),
        TriageEvent::Minimized {
            id,
            target,
            to: None,
            ..
        } => format!(
            "{target}: bug {id}: every smaller input crashes differently; its input is the minimal one"
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
        TriageEvent::Error { message } => format!("triage: {message}"),
    })
}
