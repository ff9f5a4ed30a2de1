//! `fuzzfleet corpus`: minimize (coverage-preserving), export and import corpora.

use std::collections::BTreeSet;

use anyhow::Result;
use fleet_engine::libfuzzer::artifact_file_name;
use fleet_run::minimize;
use fleet_store::Layout;

use super::Context;
use crate::cli::CorpusCommand;
use crate::{exit, plan};

/// The artifacts waiting in a target's incoming dir, by file name.
fn incoming(layout: &Layout, target: &str) -> BTreeSet<String> {
    std::fs::read_dir(layout.incoming_dir(target))
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Records what waits in the target's incoming dir as findings, and names those the
/// minimization put there (`merged`): a corpus input that crashed, hung or ran out of
/// memory is a bug to triage. Returns how many of those were kept.
fn take_in_findings(layout: &Layout, target: &str, merged: &BTreeSet<String>) -> Result<usize> {
    if !layout.incoming_dir(target).is_dir() {
        return Ok(0);
    }
    let db = fleet_store::Db::open(&layout.db_path())?;
    let kept = fleet_run::findings::sweep(layout, &db, target, false, fleet_store::now_ms());
    let mut found = 0;
    for k in kept {
        match k {
            Ok(k) if merged.contains(&artifact_file_name(k.kind, &k.sha1)) => {
                found += 1;
                let set_aside = layout.quarantine_dir(target).join(&k.sha1).exists();
                println!(
                    "{target}: a corpus input failed in the merge ({}): kept as finding {}{}; \
                     `fuzzfleet crashes triage` files it",
                    k.kind,
                    k.sha1,
                    if set_aside {
                        ", its entry set aside in quarantine"
                    } else {
                        ""
                    }
                );
            }
            Ok(_) => {}
            Err(e) => eprintln!("{target}: a finding could not be kept: {e}"),
        }
    }
    Ok(found)
}

pub fn corpus(ctx: &Context, cmd: CorpusCommand) -> Result<i32> {
    let plan = ctx.plan()?;
    let layout = Layout::new(ctx.state_dir(Some(&plan)));
    let known = |name: &str| -> Result<()> {
        match plan.target(name) {
            Some(_) => Ok(()),
            None => Err(exit::usage(format!(
                "no target named {name:?} in {}",
                plan.file.display()
            ))),
        }
    };
    match cmd {
        CorpusCommand::Minimize { target } => {
            known(&target)?;
            let t = plan::campaign_target(&plan, &target)?;
            let _lock = super::lock_state(&layout, "`corpus minimize`")?;
            let waiting = incoming(&layout, &target);
            let outcome = minimize::minimize(&layout, &t, &mut |line| eprintln!("  {line}"));
            let merged = &incoming(&layout, &target) - &waiting;
            let found = take_in_findings(&layout, &target, &merged)?;
            let outcome = match outcome {
                Ok(o) => o,
                // A bug in the corpus stopped it: a finding, not a failure of fuzzfleet's.
                Err(e @ minimize::MinimizeError::Engine { .. }) if found > 0 => {
                    eprintln!(
                        "{target}: minimization stopped on it (the rest of the corpus is as it was): {e}\n\
                         {target}: run `fuzzfleet corpus minimize {target}` again without it"
                    );
                    return Ok(exit::PROBLEM);
                }
                Err(e) => return Err(e.into()),
            };
            let db = fleet_store::Db::open(&layout.db_path())?;
            fleet_run::corpus::recount(&layout, &db, std::slice::from_ref(&target))?;
            println!(
                "{target}: {} files, {} bytes, {} features -> {} files, {} bytes, {} features",
                outcome.files_before,
                outcome.bytes_before,
                outcome.features_before,
                outcome.files_after,
                outcome.bytes_after,
                outcome.features_after
            );
            if outcome.replaced {
                println!("{target}: corpus replaced by the merged one");
                Ok(exit::OK)
            } else {
                println!(
                    "{target}: kept the old corpus: the merged one covers fewer features ({} < {}); \
                     the target may be nondeterministic",
                    outcome.features_after, outcome.features_before
                );
                Ok(exit::PROBLEM)
            }
        }
        CorpusCommand::Sync { targets } => {
            for t in &targets {
                known(t)?;
            }
            let Some(hub) = &plan.hub else {
                return Err(exit::usage(format!(
                    "{} has no [hub] url: nothing to sync with",
                    plan.file.display()
                )));
            };
            let names: Vec<fleet_config::TargetName> = plan
                .targets
                .iter()
                .map(|t| t.name.clone())
                .filter(|n| targets.is_empty() || targets.iter().any(|t| t == n.as_str()))
                .collect();
            std::fs::create_dir_all(layout.root())?;
            let db = fleet_store::Db::open(&layout.db_path())?;
            let node = fleet_run::hubsync::node_name(&layout)?;
            let hub = fleet_hub::Hub::open(&hub.url, fleet_hub::HubOptions::default())?;
            match fleet_run::hubsync::sync_round(&hub, &layout, &db, &node, &names) {
                Ok(round) => {
                    let r = &round.report;
                    println!(
                        "synced {} as node {node}: pushed {} corpus entries and {} findings, pulled {} corpus entries and {} findings ({} store requests)",
                        hub.url(),
                        r.pushed_corpus,
                        r.pushed_crashes,
                        r.pulled_corpus,
                        r.pulled_crashes.len(),
                        hub.requests().total()
                    );
                    for refusal in &r.refused {
                        println!("refused a hub object: {refusal}");
                    }
                    Ok(exit::OK)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(exit::PROBLEM)
                }
            }
        }
        CorpusCommand::Export { dir, targets } => {
            for t in &targets {
                known(t)?;
            }
            let names: Vec<String> = if targets.is_empty() {
                plan.targets.iter().map(|t| t.name.to_string()).collect()
            } else {
                targets
            };
            for name in names {
                let n = minimize::export(&layout, &name, &dir)?;
                println!("{name}: {n} new files in {}", dir.join(&name).display());
            }
            Ok(exit::OK)
        }
        CorpusCommand::Import { dir, target } => {
            if !dir.is_dir() {
                return Err(exit::usage(format!("{} is not a directory", dir.display())));
            }
            let pairs: Vec<(String, std::path::PathBuf)> = match target {
                Some(t) => {
                    known(&t)?;
                    vec![(t, dir.clone())]
                }
                None => plan
                    .targets
                    .iter()
                    .map(|t| (t.name.to_string(), dir.join(t.name.as_str())))
                    .filter(|(_, d)| d.is_dir())
                    .collect(),
            };
            if pairs.is_empty() {
                return Err(exit::usage(format!(
                    "{} has no directory named after a configured target (use --target NAME to import it all into one)",
                    dir.display()
                )));
            }
            for (name, src) in pairs {
                let s = minimize::import(&layout, &name, &src)?;
                println!("{name}: {} added, {} already there", s.added, s.skipped);
            }
            Ok(exit::OK)
        }
    }
}
