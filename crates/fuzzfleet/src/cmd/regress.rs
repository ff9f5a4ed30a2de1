//! `fuzzfleet regress`: replay corpora and known crash inputs; exit 1 if anything crashes.

use std::collections::BTreeMap;

use anyhow::Result;
use fleet_run::regress;
use fleet_run::triage::TriageEvent;
use fleet_store::{Db, Layout};

use super::Context;
use crate::{exit, plan};

pub fn regress(ctx: &Context, targets: &[String], json: bool) -> Result<i32> {
    let plan = ctx.plan()?;
    let layout = Layout::new(ctx.state_dir(Some(&plan)));
    let names: Vec<String> = if targets.is_empty() {
        plan.targets.iter().map(|t| t.name.to_string()).collect()
    } else {
        targets.to_vec()
    };
    let db = Db::open(&layout.db_path())?;
    let mut results = Vec::new();
    for name in &names {
        let t = plan::campaign_target(&plan, name)?;
        if !json {
            eprintln!("replaying {name} ...");
        }
        results.push(regress::regress(&layout, &db, &t)?);
    }
    // The buckets against this build: one that no longer reproduces is fixed in it, a
    // fixed one that crashes again has regressed (and is what fails the check).
    let mut triage_targets = plan::triage_targets(&plan);
    triage_targets.retain(|name, _| names.contains(name));
    let mut pipeline = fleet_run::triage::Pipeline::open(
        layout.clone(),
        triage_targets,
        plan::triage_config(&plan),
    )?;
    let mut changes: Vec<TriageEvent> = Vec::new();
    for name in &names {
        pipeline.retest(name, &mut |e| changes.push(e))?;
    }
    let states: Vec<_> = pipeline
        .db()
        .buckets()?
        .into_iter()
        .filter(|b| names.contains(&b.target))
        .collect();
    let regressed = states.iter().any(|b| b.state == "regressed");
    let bucket_of: BTreeMap<i64, Option<String>> = pipeline
        .db()
        .findings()?
        .into_iter()
        .map(|f| (f.id, f.bucket))
        .collect();
    let failed = results.iter().any(|r| !r.passed()) || regressed;
    if json {
        let doc: Vec<_> = results
            .iter()
            .map(|r| {
                serde_json::json!({
                    "target": r.target,
                    "passed": r.passed(),
                    "corpus_files": r.corpus_files,
                    "corpus_crash": r.corpus_crash,
                    "findings": r.findings,
                    "still_crashing": r.still_crashing.iter().map(|(id, path, how)| {
                        serde_json::json!({"finding": id, "input_path": path, "exit": how})
                    }).collect::<Vec<_>>(),
                    "seconds": r.seconds,
                    "buckets": states.iter().filter(|b| b.target == r.target).map(|b| {
                        serde_json::json!({"id": b.id, "title": b.title, "state": b.state,
                            "state_build": b.state_build})
                    }).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"version": 1, "targets": doc}))?
        );
    } else {
        println!(
            "{:<22} {:>8} {:>14} {:>10} {:>10}  RESULT",
            "TARGET", "CORPUS", "CORPUS REPLAY", "FINDINGS", "CRASHING"
        );
        for r in &results {
            println!(
                "{:<22} {:>8} {:>14} {:>10} {:>10}  {}",
                r.target,
                r.corpus_files,
                if r.corpus_crash.is_some() {
                    "CRASH"
                } else {
                    "ok"
                },
                r.findings,
                r.still_crashing.len(),
                if r.passed() { "pass" } else { "FAIL" }
            );
            if let Some(c) = &r.corpus_crash {
                println!("  └ corpus entry crashes: {c}");
            }
            // One line per bug, however many of its inputs still crash.
            let mut crashing: BTreeMap<Option<&str>, Vec<&str>> = BTreeMap::new();
            for (id, path, _) in &r.still_crashing {
                let bucket = bucket_of.get(id).and_then(|b| b.as_deref());
                crashing.entry(bucket).or_default().push(path);
            }
            for b in states.iter().filter(|b| b.target == r.target) {
                let inputs = crashing.remove(&Some(b.id.as_str())).unwrap_or_default();
                let still = match inputs.len() {
                    0 => String::new(),
                    n => format!(
                        " ({} still crash{}, e.g. {})",
                        super::run::plural(n, "input"),
                        if n == 1 { "es" } else { "" },
                        inputs[0]
                    ),
                };
                println!(
                    "  └ bug {} {}: {}{still}",
                    b.id,
                    b.state.to_uppercase(),
                    b.title
                );
            }
            for (_, inputs) in crashing {
                println!(
                    "  └ {} not triaged yet still crash{}, e.g. {} (`fuzzfleet crashes triage` files them)",
                    super::run::plural(inputs.len(), "input"),
                    if inputs.len() == 1 { "es" } else { "" },
                    inputs[0]
                );
            }
        }
        for e in &changes {
            match e {
                TriageEvent::Fixed { id, .. } => println!("bucket {id}: fixed in this build"),
                TriageEvent::Regressed { id, .. } => {
                    println!("bucket {id}: REGRESSED (crashes again after being fixed)")
                }
                TriageEvent::Error { message } => eprintln!("triage: {message}"),
                _ => {}
            }
        }
    }
    Ok(if failed { exit::PROBLEM } else { exit::OK })
}
