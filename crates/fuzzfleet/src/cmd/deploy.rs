//! `fuzzfleet deploy NODE…`: puts what each node's agent needs on it over ssh
//! (`fleet_nodes::deploy`) and says what it did, per node or as JSON.

use anyhow::{Context as _, Result};
use fleet_nodes::deploy::{self, HUB_ENV, Outcome, UnitState};

use super::Context;
use crate::cli::DeployArgs;
use crate::{exit, plan};

pub fn deploy(ctx: &Context, args: &DeployArgs) -> Result<i32> {
    let plan = ctx.plan()?;
    for warning in deploy::warnings(&plan) {
        eprintln!("fuzzfleet: warning: {warning}");
    }
    let nodes = deploy::select(&plan, &args.nodes).map_err(plan::from_lib)?;
    let state = ctx.state_dir(Some(&plan));
    let exe = std::env::current_exe().context("cannot find the fuzzfleet binary to copy")?;
    let mut outcomes = Vec::new();
    for node in nodes {
        let outcome = deploy::deploy_node(&plan, &state, node, &exe, args.dry_run);
        if !args.json {
            print_outcome(&outcome, args.dry_run);
        }
        outcomes.push(outcome);
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "version": 1,
                "dry_run": args.dry_run,
                "nodes": outcomes,
            }))?
        );
    }
    let failed = outcomes.iter().any(|o| o.error.is_some());
    Ok(if failed { exit::PROBLEM } else { exit::OK })
}

fn print_outcome(o: &Outcome, dry_run: bool) {
    let verb = if dry_run { "would copy" } else { "copied" };
    if let Some(e) = &o.error {
        println!("node {}: FAILED: {e}", o.node);
        return;
    }
    if o.changed.is_empty() && o.unit != UnitState::Installed {
        println!(
            "node {} ({}): up to date, nothing changed ({} files)",
            o.node, o.ssh, o.unchanged
        );
    } else {
        println!(
            "node {} ({}): {verb} {} files ({} bytes), {} unchanged{}",
            o.node,
            o.ssh,
            o.changed.len(),
            o.bytes,
            o.unchanged,
            if o.token_created {
                "; created its API token"
            } else {
                ""
            }
        );
        for f in &o.changed {
            println!("  {f}");
        }
        if o.changed.iter().any(|f| f == HUB_ENV) {
            println!(
                "node {}: {HUB_ENV} holds the S3 hub's {} from your environment (mode 600)",
                o.node,
                deploy::hub_env_names(),
            );
        }
    }
    match o.unit {
        UnitState::NeedsRoot => {
            println!(
                "node {}: installing the systemd unit needs root (sudo -n was refused); run on the node:",
                o.node
            );
            for step in &o.root_steps {
                println!("  {step}");
            }
        }
        UnitState::WouldInstall => println!("node {}: would install and restart the unit", o.node),
        UnitState::Installed => println!("node {}: unit installed, agent (re)started", o.node),
        UnitState::Unchanged | UnitState::NotReached => {}
    }
}
