//! `fuzzfleet agent`: the node daemon. Runs this node's tiers (`[node.NAME] tiers`, or
//! every tier when the config does not name the node), serves the API on loopback (or
//! with a token elsewhere), syncs with the hub through the campaign, reloads the config
//! on SIGHUP, logs in a journald-friendly way, and exits 0 on SIGTERM.

use anyhow::Result;
use fleet_config::Plan;
use fleet_run::StopReason;
use fleet_serve::{ServeError, ServeOptions};

use super::run::{Log, campaign_spec, print_notice, print_summary, state_layout};
use super::{Context, build};
use crate::cli::{AgentArgs, RunArgs};
use crate::exit;

pub fn agent(ctx: &Context, args: &AgentArgs) -> Result<i32> {
    if let Some(node) = &args.node {
        fleet_config::NodeName::new(node.as_str())
            .map_err(|e| exit::usage(format!("--node {node:?}: {e}")))?;
        // The node's name for the hub, the API and every finding it records.
        // SAFETY: set before any thread of this process reads the environment.
        unsafe { std::env::set_var("FUZZFLEET_NODE", node) };
    }
    let log = Log::detect();
    // The same token rules as `serve`, for the file and the environment alike.
    let token = super::serve::token_from(args.token_file.as_deref())?;
    let (mut plan, _) = build::load_built(ctx, !args.build)?;
    let layout = state_layout(ctx, &plan)?;
    let _lock = super::lock_state(&layout, "`fuzzfleet agent`")?;
    let node = fleet_run::hubsync::node_name(&layout)?;
    if args.tiers.is_empty() && !plan.nodes.is_empty() && !plan.nodes.iter().any(|n| n.name == node)
    {
        eprintln!(
            "{}fuzzfleet agent: node {node} is not one of the config's [node.*]; running every tier",
            if log == Log::Journal { "<4>" } else { "" }
        );
    }
    loop {
        let run_args = run_args(&plan, node.as_str(), args);
        let server = if args.no_serve {
            None
        } else {
            let opts = ServeOptions {
                state_dir: layout.root().to_path_buf(),
                listen: args.listen,
                token: token.clone(),
                known_targets: plan.targets.iter().map(|t| t.name.to_string()).collect(),
                fleet: None,
            };
            let server = fleet_serve::spawn(opts).map_err(|e| match e {
                ServeError::NeedsToken(_)
                | ServeError::EmptyToken
                | ServeError::BadToken(_)
                | ServeError::Bind { .. } => exit::usage(e.to_string()),
                e => e.into(),
            })?;
            eprintln!(
                "fuzzfleet agent: node {node}; API on {}/ ({})",
                server.base_url(),
                if token.is_some() {
                    "bearer token required"
                } else {
                    "loopback, no token"
                }
            );
            Some(server)
        };
        let spec = campaign_spec(&plan, &run_args, layout.clone(), true, false)?;
        let verbose = args.verbose;
        let coverage = super::run::CoverageSchedule::start(&plan, &spec);
        let summary = fleet_run::run(spec, &mut |n| print_notice(&n, verbose, log))?;
        drop(coverage);
        print_summary(&summary);
        if let Some(server) = server {
            server.stop()?;
        }
        if summary.reason != StopReason::Reload {
            return Ok(if summary.reason == StopReason::NothingToRun {
                exit::PROBLEM
            } else {
                exit::OK
            });
        }
        // A config that no longer loads keeps the agent on the last good one.
        match ctx.plan() {
            Ok(p) => {
                eprintln!("fuzzfleet agent: config reloaded from {}", p.file.display());
                plan = p;
            }
            Err(e) => eprintln!(
                "{}fuzzfleet agent: the new config does not load, keeping the old one: {e:#}",
                if log == Log::Journal { "<3>" } else { "" }
            ),
        }
    }
}

/// What the agent runs: `--tier`s, else the tiers `[node.NAME]` lists for this node, else
/// every tier.
fn run_args(plan: &Plan, node: &str, args: &AgentArgs) -> RunArgs {
    let tiers = if args.tiers.is_empty() {
        plan.nodes
            .iter()
            .find(|n| n.name.as_str() == node)
            .map(|n| n.tiers.iter().map(ToString::to_string).collect())
            .unwrap_or_default()
    } else {
        args.tiers.clone()
    };
    RunArgs {
        tiers,
        targets: Vec::new(),
        workers: args.workers,
        budget: None,
        run_for: None,
        once: false,
        no_build: !args.build,
        verbose: args.verbose,
        strategies: None,
    }
}
