//! `fuzzfleet status`: a one-shot table or JSON document of the local state or of
//! remote agents, or (`--watch`) the live view of `fleet-tui`.

use std::time::Duration;

use anyhow::Result;
use fleet_config::Plan;
use fleet_run::report;
use fleet_tui::{LocalSource, RemoteSource, Source};

use super::Context;
use crate::cli::StatusArgs;
use crate::exit;
use crate::nodes::{self, Remote};

pub fn status(ctx: &Context, args: &StatusArgs) -> Result<i32> {
    let plan = ctx.plan_if_present()?;
    let explicit = !args.nodes.is_empty() || args.all_nodes;
    let remotes = remotes(ctx, plan.as_ref(), args)?;
    if args.watch {
        return watch(ctx, plan.as_ref(), remotes, explicit, args);
    }
    if explicit {
        let heartbeats = nodes::heartbeats(plan.as_ref());
        return remote_once(remotes, &heartbeats, args);
    }
    let state = ctx.state_dir(plan.as_ref());
    let db = super::open_db(&state)?;
    let system = fleet_run::system::sample(&state, Duration::from_millis(200));
    let mut doc = report::status(&db, &known_targets(plan.as_ref()), system)?;
    if let Some(plan) = &plan {
        // Before a campaign ran here (or for targets it did not run), the config's tiers.
        let mut places = report::schedule_places(&db, &tier_budgets(plan))?;
        for t in doc.targets.iter_mut().filter(|t| t.schedule.is_none()) {
            t.schedule = places.remove(&t.name);
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print!("{}", fleet_tui::text::table(&doc));
        print_resources(doc.resources.as_ref());
        print_workers(doc.workers.as_ref());
    }
    Ok(exit::OK)
}

/// The node's last measurement of its workers (when `workers` is unset), under the table.
fn print_workers(w: Option<&report::WorkersDoc>) {
    let Some(w) = w else {
        return;
    };
    println!(
        "workers: {} of {} cores, measured {} on {}: {}",
        w.workers,
        w.cores,
        w.measured_at,
        w.target,
        fleet_run::calibrate::curve_text(w)
    );
}

/// The resource guard's pause and active alerts, under the table.
fn print_resources(r: Option<&fleet_run::resources::ResourcesStatus>) {
    let Some(r) = r else {
        return;
    };
    if r.paused {
        println!(
            "PAUSED: the state dir's disk is full; fuzzing resumes by itself when space returns"
        );
    }
    for a in &r.alerts {
        println!(
            "ALERT {} ({}) since {}: {}",
            a.kind, a.severity, a.since, a.message
        );
    }
}

/// The config's tiers as the schedule report reads them: none unless the tiers are the
/// schedule's clock (`schedule = "fixed"`).
pub(crate) fn tier_budgets(plan: &Plan) -> Vec<report::TierBudget> {
    if plan.schedule != fleet_config::Schedule::Fixed {
        return Vec::new();
    }
    plan.tiers
        .iter()
        .map(|t| report::TierBudget {
            name: t.name.to_string(),
            budget: t.budget,
            targets: t.targets.iter().map(ToString::to_string).collect(),
        })
        .collect()
}

fn known_targets(plan: Option<&Plan>) -> Vec<String> {
    plan.iter()
        .flat_map(|p| p.targets.iter().map(|t| t.name.to_string()))
        .collect()
}

/// The remote nodes asked for: the --node URLs, else the config's nodes with an `api`
/// (with --all-nodes, or in --watch where they join the local node).
fn remotes(ctx: &Context, plan: Option<&Plan>, args: &StatusArgs) -> Result<Vec<Remote>> {
    if !args.nodes.is_empty() {
        let token = args
            .token_file
            .as_deref()
            .map(nodes::read_token)
            .transpose()?;
        return args
            .nodes
            .iter()
            .map(|url| {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(exit::usage(format!(
                        "--node {url}: expected an http:// or https:// URL of a node's API"
                    )));
                }
                Ok(Remote::at_url(None, url, token.clone()))
            })
            .collect();
    }
    if !(args.all_nodes || args.watch) {
        return Ok(Vec::new());
    }
    match plan {
        Some(plan) if !plan.nodes.is_empty() => nodes::configured(plan, &ctx.state_dir(Some(plan))),
        _ if args.all_nodes => Err(exit::usage(format!(
            "--all-nodes: {} has no [node.*]",
            ctx.config.display()
        ))),
        _ => Ok(Vec::new()),
    }
}

/// Prints each remote node's status once; exit 1 when a node did not answer.
fn remote_once(
    mut remotes: Vec<Remote>,
    heartbeats: &std::collections::BTreeMap<String, i64>,
    args: &StatusArgs,
) -> Result<i32> {
    let single = remotes.len() == 1 && !args.all_nodes;
    let doc = nodes::fleet_doc(&mut remotes, heartbeats);
    let failed = doc.nodes.iter().any(|n| n.error.is_some());
    if args.json {
        match &doc.nodes[..] {
            [n] if single => match (&n.status, &n.error) {
                (Some(status), _) => println!("{}", serde_json::to_string_pretty(status)?),
                (None, e) => eprintln!(
                    "node {} unreachable: {}",
                    n.node,
                    e.as_deref().unwrap_or_default()
                ),
            },
            _ => println!("{}", serde_json::to_string_pretty(&doc)?),
        }
    } else {
        for (i, n) in doc.nodes.iter().enumerate() {
            if !single {
                if i > 0 {
                    println!();
                }
                println!("== node {} ({})", n.node, n.url);
            }
            let error = n.error.as_deref().unwrap_or("no status document");
            match &n.status {
                Some(status) => {
                    let doc: report::StatusDoc = serde_json::from_value(status.clone())?;
                    print!("{}", fleet_tui::text::table(&doc));
                }
                None if single => eprintln!("node {} unreachable: {error}", n.node),
                None => match n.unreachable_for_s {
                    Some(s) => println!(
                        "unreachable, no heartbeat for {}: {error}",
                        fleet_tui::text::span(u64::try_from(s).unwrap_or(0))
                    ),
                    None => println!("unreachable: {error}"),
                },
            }
        }
    }
    Ok(if failed { exit::PROBLEM } else { exit::OK })
}

fn watch(
    ctx: &Context,
    plan: Option<&Plan>,
    mut remotes: Vec<Remote>,
    explicit: bool,
    args: &StatusArgs,
) -> Result<i32> {
    if !(args.interval.is_finite() && args.interval >= 0.1) {
        return Err(exit::usage(format!(
            "--interval {}: expected a number of seconds, at least 0.1",
            args.interval
        )));
    }
    if !fleet_tui::has_tty() {
        return Err(exit::usage(
            "status --watch needs a terminal (stdin and stdout a TTY); \
             use `fuzzfleet status` or `status --json` to print once",
        ));
    }
    let mut sources: Vec<Box<dyn Source>> = Vec::new();
    if !explicit {
        sources.push(Box::new(LocalSource::new(
            ctx.state_dir(plan),
            known_targets(plan),
        )));
    }
    // The tunnels live as long as the view.
    Remote::settle_all(&mut remotes);
    let mut tunnels = Vec::new();
    for r in remotes {
        sources.push(Box::new(RemoteSource::new(r.name, r.client)));
        tunnels.push(r.tunnel);
    }
    fleet_tui::watch(sources, Duration::from_secs_f64(args.interval))?;
    drop(tunnels);
    Ok(exit::OK)
}
