//! `fuzzfleet collect DIR`: every node's crash inputs and reports, by target and bucket.
//! Pulls what the nodes pushed to the hub into this state dir, files it into buckets
//! (the same bug has the same bucket id on every node, so the fleet's buckets merge, with
//! every node that found each listed), and writes DIR/<target>/<bucket>/ as `crashes
//! export` does.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Result;
use fleet_run::report;
use fleet_run::triage::{Pipeline, TriageEvent};
use fleet_store::Layout;

use super::Context;
use crate::{exit, plan};

pub fn collect(ctx: &Context, dir: &Path, no_sync: bool) -> Result<i32> {
    let plan = ctx.plan()?;
    let layout = Layout::new(ctx.state_dir(Some(&plan)));
    std::fs::create_dir_all(layout.root())?;
    let db = fleet_store::Db::open(&layout.db_path())?;
    let node = fleet_run::hubsync::node_name(&layout)?;
    match (&plan.hub, no_sync) {
        (Some(hub), false) => {
            let names: Vec<fleet_config::TargetName> =
                plan.targets.iter().map(|t| t.name.clone()).collect();
            let hub = fleet_hub::Hub::open(&hub.url, fleet_hub::HubOptions::default())?;
            eprintln!("pulling the fleet's findings from {} ...", hub.url());
            match fleet_run::hubsync::sync_round(&hub, &layout, &db, &node, &names) {
                Ok(round) => eprintln!(
                    "  {} new findings from other nodes",
                    round.report.pulled_crashes.len()
                ),
                Err(e) => {
                    eprintln!("error: the hub sync failed: {e}");
                    return Ok(exit::PROBLEM);
                }
            }
        }
        (None, false) => eprintln!(
            "{} has no [hub]: collecting this state dir's findings only",
            plan.file.display()
        ),
        (_, true) => {}
    }
    // Findings pulled for targets this machine cannot run are filed from the report the
    // finding node's fuzzer wrote; their reproduction stays pending here.
    let mut pipeline = Pipeline::open(
        layout.clone(),
        plan::triage_targets(&plan),
        plan::triage_config(&plan),
    )?;
    let mut new = 0;
    let n = pipeline.triage_pending(&mut |e| match e {
        TriageEvent::NewBucket { .. } => new += 1,
        TriageEvent::Error { message } => eprintln!("triage: {message}"),
        _ => {}
    })?;
    if n > 0 {
        eprintln!("  {n} findings triaged, {new} new bugs");
    }
    let doc = report::crashes(&db, node.as_str())?;
    let written = super::crashes::export(&doc, dir)?;
    let nodes: BTreeSet<&str> = doc
        .buckets
        .iter()
        .flat_map(|b| b.nodes.iter().map(String::as_str))
        .collect();
    println!(
        "collected {written} buckets found by {} node(s) ({}) into {}",
        nodes.len(),
        nodes.into_iter().collect::<Vec<_>>().join(", "),
        dir.display()
    );
    Ok(exit::OK)
}
