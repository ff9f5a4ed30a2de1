//! `fuzzfleet corpus`: minimize (coverage-preserving), export and import corpora.

use anyhow::Result;
use fleet_run::minimize;
use fleet_store::Layout;

use super::Context;
use crate::cli::CorpusCommand;
use crate::{exit, plan};

/// Records what crashed during a minimization (the corpus entries, now in quarantine)
/// as findings, and says so: a crash in the corpus is a bug to triage.
fn take_in_findings(layout: &Layout, target: &str) -> Result<usize> {
    if !layout.incoming_dir(target).is_dir() {
        return Ok(0);
    }
    let db = fleet_store::Db::open(&layout.db_path())?;
    let kept = fleet_run::findings::sweep(layout, &db, target, false, fleet_store::now_ms());
    let mut found = 0;
    for k in kept {
        found += 1;
        match k {
            Ok(k) => println!(
                "{target}: a corpus input failed in the merge ({}): kept as finding {} and \
                 set aside in quarantine; `fuzzfleet crashes triage` files it",
                k.kind, k.sha1
            ),
            Err(e) => eprintln!("{target}: a finding of the merge could not be kept: {e}"),
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
            let outcome = minimize::minimize(&layout, &t, &mut |line| eprintln!("  {line}"));
            let found = take_in_findings(&layout, &target)?;
            let outcome = match outcome {
                Ok(o) => o,
                // A bug in the corpus is a finding, not a failure of fuzzfleet's.
                Err(e) if found > 0 => {
                    eprintln!(
                        "{target}: minimization stopped on it (the rest of the corpus is as it was): {e}\n\
                         {target}: run `fuzzfleet corpus minimize {target}` again without it"
                    );
                    return Ok(exit::PROBLEM);
                }
                Err(e) => return Err(e.into()),
            };
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
