//! `fuzzfleet crashes`: the bug list and each bug's evidence, and the hand decisions a
//! triager makes (merge, split) — all through the crash pipeline a campaign runs.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::{Context as _, Result};
use fleet_run::report::{self, Bucket, CrashesDoc};
use fleet_run::triage::{Pipeline, TriageError, TriageEvent};
use fleet_store::Layout;

use super::Context;
use crate::cli::CrashesCommand;
use crate::{exit, plan};

pub fn crashes(ctx: &Context, cmd: CrashesCommand) -> Result<i32> {
    let plan = ctx.plan_if_present()?;
    let state = ctx.state_dir(plan.as_ref());
    let db = super::open_db(&state)?;
    let layout = Layout::new(&state);
    let node = fleet_run::hubsync::node_name(&layout)?;
    let doc = || -> Result<CrashesDoc> { Ok(report::crashes(&db, node.as_str())?) };
    // The pipeline runs targets from the config; without one it can still merge, split
    // and export what is stored.
    let pipeline = || -> Result<Pipeline> {
        let (targets, config) = match &plan {
            Some(p) => (plan::triage_targets(p), plan::triage_config(p)),
            None => (BTreeMap::new(), Default::default()),
        };
        Pipeline::open(layout.clone(), targets, config).map_err(triage_error)
    };
    match cmd {
        CrashesCommand::List { json: true, .. } => {
            println!("{}", serde_json::to_string_pretty(&doc()?)?);
        }
        CrashesCommand::List {
            json: false,
            pending,
        } => list(&doc()?, pending),
        CrashesCommand::Show { id, json } => {
            let id = filed_id(&db, id)?;
            let doc = doc()?;
            let b = find(&doc, &id)?;
            let binary = plan
                .as_ref()
                .and_then(|p| plan::triage_targets(p).remove(&b.target))
                .map(|t| t.binary);
            show(b, binary.as_deref(), json)?;
        }
        CrashesCommand::Repro { id, runs, json } => {
            let mut p = pipeline()?;
            let id = triaged_id(&db, &mut p, id)?;
            let runs = runs
                .or(plan.as_ref().map(|p| p.crashes.repro_runs))
                .unwrap_or(fleet_crash::DEFAULT_RUNS)
                .max(1);
            if !json {
                eprintln!(
                    "running bucket {id}'s input {} ...",
                    super::run::plural(runs as usize, "time")
                );
            }
            let (input, r) = p.repro(&id, runs).map_err(triage_error)?;
            let crashed = r.runs.iter().filter(|run| run.signature.is_some()).count();
            let reproduced = r.repro != fleet_crash::Repro::Never;
            if json {
                let v = serde_json::json!({
                    "version": report::DOC_VERSION,
                    "id": id,
                    "input_path": input,
                    "runs": r.runs.len(),
                    "crashed": crashed,
                    "repro": r.repro.as_str(),
                    "reproduced": reproduced,
                    "signature": r.signature.as_ref().map(ToString::to_string),
                    "output": r.output,
                });
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                if let Some(output) = &r.output {
                    println!("{output}");
                }
                println!(
                    "bucket {id}: {} ({} of {} runs crashed with its signature; input {})",
                    if reproduced {
                        "REPRODUCED"
                    } else {
                        "does not reproduce with this build"
                    },
                    r.runs
                        .iter()
                        .filter(|run| {
                            run.outcome == fleet_crash::reproduce::RunOutcome::Reproduced
                        })
                        .count(),
                    r.runs.len(),
                    input.display()
                );
            }
            return Ok(if reproduced { exit::OK } else { exit::PROBLEM });
        }
        CrashesCommand::Minimize { id, budget } => {
            let mut p = pipeline()?;
            let id = triaged_id(&db, &mut p, id)?;
            if let Some(b) = budget {
                p.set_minimize_budget(b);
            }
            eprintln!("minimizing bucket {id}'s input (time-boxed) ...");
            let mut events = Vec::new();
            p.minimize(&id, &mut |e| events.push(e))
                .map_err(triage_error)?;
            let doc = doc()?;
            let b = find(&doc, &id)?;
            for e in &events {
                if let TriageEvent::NotMinimized { .. } = e {
                    println!(
                        "bucket {id}: not minimized: its input {} does not crash with this build",
                        b.input_path
                    );
                }
                if let TriageEvent::Minimized { from, to, .. } = e {
                    match to {
                        Some(to) => println!(
                            "bucket {id}: {from} -> {to} bytes, still the same bug: {}",
                            b.minimized_path.as_deref().unwrap_or("?")
                        ),
                        None => println!(
                            "bucket {id}: every smaller input crashes differently (another bug); {} is the minimal one",
                            b.input_path
                        ),
                    }
                }
            }
        }
        CrashesCommand::Merge { from, into } => {
            let mut p = pipeline()?;
            let into = p.merge(&from, &into).map_err(triage_error)?;
            println!(
                "merged {from} into {into}: its crashes, and later ones with its signature, are bucket {into}"
            );
        }
        CrashesCommand::Split { id } => {
            let mut p = pipeline()?;
            let now = p.split(&id).map_err(triage_error)?;
            println!(
                "split {id}: its crashes are now in {}: {}",
                super::run::plural(now.len(), "bucket"),
                now.join(", ")
            );
        }
        CrashesCommand::Triage { json } => {
            let mut p = pipeline()?;
            let mut events = Vec::new();
            let n = p
                .triage_pending(&mut |e| {
                    if !json {
                        print_event(&e);
                    }
                    events.push(e);
                })
                .map_err(triage_error)?;
            if json {
                let doc = doc()?;
                println!("{}", serde_json::to_string_pretty(&doc)?);
            } else {
                let new = events
                    .iter()
                    .filter(|e| matches!(e, TriageEvent::NewBucket { .. }))
                    .count();
                println!(
                    "triaged {}: {}",
                    super::run::plural(n, "crashing input"),
                    super::run::plural(new, "new bug")
                );
            }
        }
        CrashesCommand::Export { dir, sarif } => {
            let doc = doc()?;
            let n = export(&doc, &dir)?;
            let mut what = format!("{} to {}", super::run::plural(n, "bucket"), dir.display());
            if sarif {
                let p = pipeline()?;
                // Counts as every other output gives them: artifacts (times hit), not
                // the inputs the pipeline holds.
                let counts: BTreeMap<&str, i64> = doc
                    .buckets
                    .iter()
                    .map(|b| (b.id.as_str(), b.count))
                    .collect();
                let buckets: Vec<fleet_crash::Bucket> = p
                    .crash_buckets()
                    .into_iter()
                    .map(|b| {
                        let mut b = b.clone();
                        if let Some(&n) = counts.get(b.id.as_str()) {
                            b.count = n.max(0) as u64;
                        }
                        b
                    })
                    .collect();
                let log = fleet_crash::sarif::to_sarif(
                    buckets.iter(),
                    &fleet_crash::sarif::SarifOptions {
                        source_root: plan
                            .as_ref()
                            .and_then(|p| p.file.parent().map(Path::to_path_buf))
                            .and_then(|d| d.canonicalize().ok()),
                        ..Default::default()
                    },
                );
                let path = dir.join("fuzzfleet.sarif");
                fleet_store::write_atomic(&path, serde_json::to_string_pretty(&log)?.as_bytes())
                    .with_context(|| format!("cannot write {}", path.display()))?;
                what.push_str(&format!(", SARIF to {}", path.display()));
            }
            println!("exported {what}");
        }
    }
    Ok(exit::OK)
}

/// A bad id or a target that cannot run here is the user's to fix (exit 2).
fn triage_error(e: TriageError) -> anyhow::Error {
    match e {
        TriageError::NoBucket(_) | TriageError::NotRunnable(_) => exit::usage(e.to_string()),
        e => anyhow::Error::new(e),
    }
}

/// The bucket `id` names. An untriaged finding's own id, listed before triage filed it,
/// stays good: it names the bucket the finding is in now.
fn filed_id(db: &fleet_store::Db, id: String) -> Result<String> {
    let filed = db
        .findings()?
        .into_iter()
        .find(|f| f.bucket.is_some() && report::bucket_id(f) == id)
        .and_then(|f| f.bucket);
    Ok(filed.unwrap_or(id))
}

/// Like [`filed_id`], and an input not triaged yet is triaged now, so every id `crashes
/// list` prints works with `repro` and `minimize`.
fn triaged_id(db: &fleet_store::Db, p: &mut Pipeline, id: String) -> Result<String> {
    let pending = db
        .pending_findings()?
        .into_iter()
        .find(|f| report::bucket_id(f) == id);
    if let Some(f) = pending {
        eprintln!("input {id} is not triaged yet: triaging it first ...");
        p.triage(f.id, &mut |e| print_event(&e))
            .map_err(triage_error)?;
    }
    filed_id(db, id)
}

fn find<'a>(doc: &'a CrashesDoc, id: &str) -> Result<&'a Bucket> {
    doc.buckets
        .iter()
        .find(|b| b.id == id)
        .ok_or_else(|| exit::usage(format!("no bucket {id} (see `fuzzfleet crashes list`)")))
}

fn list(doc: &CrashesDoc, each_pending: bool) {
    let out = &mut std::io::stdout().lock();
    let _ = write_list(out, doc, each_pending);
}

/// The table: triaged bugs, then the untriaged inputs (a summary per target unless
/// `each_pending`).
fn write_list(out: &mut dyn Write, doc: &CrashesDoc, each_pending: bool) -> std::io::Result<()> {
    let (bugs, pending): (Vec<&Bucket>, Vec<&Bucket>) =
        doc.buckets.iter().partition(|b| b.signature.is_some());
    let row = |out: &mut dyn Write, b: &Bucket| {
        writeln!(
            out,
            "{:<17} {:<20} {:<9} {:<9} {:>6} {:<9} {:<9}  {}",
            b.id,
            b.target,
            b.severity.as_deref().unwrap_or("-"),
            b.repro,
            b.count,
            b.state.as_deref().unwrap_or("-"),
            minimized_word(b),
            b.title
        )
    };
    if !bugs.is_empty() || each_pending {
        writeln!(
            out,
            "{:<17} {:<20} {:<9} {:<9} {:>6} {:<9} {:<9}  TITLE",
            "ID", "TARGET", "SEVERITY", "REPRO", "HITS", "STATE", "MINIMIZED"
        )?;
    }
    for b in &bugs {
        row(out, b)?;
    }
    if each_pending {
        for b in &pending {
            row(out, b)?;
        }
    } else {
        let mut per_target: BTreeMap<&str, (usize, i64)> = BTreeMap::new();
        for b in &pending {
            let e = per_target.entry(b.target.as_str()).or_default();
            e.0 += 1;
            e.1 += b.count;
        }
        for (target, (inputs, artifacts)) in per_target {
            writeln!(
                out,
                "{target}: {} not triaged yet ({} hits; `fuzzfleet crashes list --pending` lists them)",
                super::run::plural(inputs, "crashing input"),
                artifacts
            )?;
        }
    }
    if doc.buckets.is_empty() {
        writeln!(out, "(no findings yet)")?;
    } else if !pending.is_empty() {
        writeln!(
            out,
            "(untriaged inputs are triaged by a campaign, or now by `fuzzfleet crashes triage`)"
        )?;
    }
    Ok(())
}

/// The MINIMIZED column: `yes`, `no-repro` (its input did not crash when minimization
/// or reproduction ran it), or `-` (not yet).
fn minimized_word(b: &Bucket) -> &'static str {
    if b.minimized_path.is_some() {
        "yes"
    } else if b.repro == "never" || b.minimize_did_not_crash() {
        "no-repro"
    } else {
        "-"
    }
}

/// `show`'s minimized line: the smallest input, or why there is none; nothing while
/// minimization has not run.
fn minimized_line(b: &Bucket) -> Option<String> {
    match &b.minimized_path {
        Some(m) => Some(format!("minimized:  {m}")),
        None if b.repro == "never" => {
            Some("minimized:  no: the input does not reproduce with this build".into())
        }
        None if b.minimize_did_not_crash() => Some(format!(
            "minimized:  no: its input did not crash when minimization ran it (repro: {})",
            b.repro
        )),
        None => None,
    }
}

fn show(b: &Bucket, binary: Option<&Path>, json: bool) -> Result<()> {
    let report_text = b
        .report_path
        .as_ref()
        .and_then(|p| fs::read_to_string(p).ok());
    if json {
        let mut v = serde_json::to_value(b)?;
        v["version"] = report::DOC_VERSION.into();
        v["report"] = report_text.into();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("{}  {}", b.id, b.title);
    println!("target:     {}", b.target);
    println!("kind:       {}", b.kind);
    if let Some(s) = &b.severity {
        println!("severity:   {s}");
    }
    if let Some(s) = &b.signature {
        println!("signature:  {s}");
    }
    println!("repro:      {}", b.repro);
    if let Some(state) = &b.state {
        match &b.state_build {
            Some(build) if state != "open" => {
                println!(
                    "state:      {state} in build {}",
                    &build[..build.len().min(12)]
                )
            }
            _ => println!("state:      {state}"),
        }
    }
    println!("count:      {}", b.count);
    println!("first seen: {}", b.first_seen);
    println!("last seen:  {}", b.last_seen);
    println!("nodes:      {}", b.nodes.join(", "));
    println!("input:      {}", b.input_path);
    if let Some(line) = minimized_line(b) {
        println!("{line}");
    }
    println!("reproduce:  fuzzfleet crashes repro {}", b.id);
    let input = b.minimized_path.as_deref().unwrap_or(&b.input_path);
    match binary {
        Some(bin) => println!("            {} {}", bin.display(), input),
        None => println!(
            "            (the target's binary is not in this config: run it with {input} as its argument)"
        ),
    }
    match report_text {
        Some(text) => println!("\n{text}"),
        None => println!(
            "\n(no report was captured; see the worker logs under logs/{}/)",
            b.target
        ),
    }
    Ok(())
}

/// DIR/<target>/<id>/{input, minimized, report.txt, bucket.json}: what a bug tracker or
/// a developer without fuzzfleet needs. Returns how many buckets were written.
pub(crate) fn export(doc: &CrashesDoc, dir: &Path) -> Result<usize> {
    for b in &doc.buckets {
        let out = dir.join(&b.target).join(&b.id);
        fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
        let copy = |from: &str, name: &str| -> Result<()> {
            if let Ok(bytes) = fs::read(from) {
                fleet_store::write_atomic(&out.join(name), &bytes)
                    .with_context(|| format!("cannot write {}", out.join(name).display()))?;
            }
            Ok(())
        };
        copy(&b.input_path, "input")?;
        if let Some(m) = &b.minimized_path {
            copy(m, "minimized")?;
        }
        if let Some(r) = &b.report_path {
            copy(r, "report.txt")?;
        }
        fleet_store::write_atomic(
            &out.join("bucket.json"),
            serde_json::to_string_pretty(b)?.as_bytes(),
        )?;
    }
    Ok(doc.buckets.len())
}

/// A triage event as `run` prints it (without the per-finding lines), errors on stderr.
fn print_event(e: &TriageEvent) {
    match (e, super::run::triage_line(e, false)) {
        (TriageEvent::Error { .. }, Some(line)) => eprintln!("{line}"),
        (_, Some(line)) => println!("{line}"),
        (_, None) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(repro: &str, minimized_path: Option<&str>, result: Option<&str>) -> Bucket {
        Bucket {
            repro: repro.into(),
            minimized_path: minimized_path.map(String::from),
            minimize_result: result.map(String::from),
            ..Bucket::default()
        }
    }

    /// Issue 13.4: an input minimization ran without a crash is never "minimized: yes";
    /// `list` and `show` say it did not reproduce, whatever the bucket's repro.
    #[test]
    fn an_input_that_did_not_crash_in_minimization_is_not_called_minimized() {
        let b = bucket("sometimes", None, Some("did-not-crash"));
        assert_eq!(minimized_word(&b), "no-repro");
        assert_eq!(
            minimized_line(&b).unwrap(),
            "minimized:  no: its input did not crash when minimization ran it (repro: sometimes)"
        );
        let b = bucket("never", None, None);
        assert_eq!(minimized_word(&b), "no-repro");
        assert!(minimized_line(&b).unwrap().contains("does not reproduce"));
        let b = bucket("always", Some("/s/min"), Some("minimized"));
        assert_eq!(minimized_word(&b), "yes");
        assert_eq!(minimized_line(&b).unwrap(), "minimized:  /s/min");
        let b = bucket("always", None, None);
        assert_eq!(minimized_word(&b), "-");
        assert_eq!(minimized_line(&b), None);
    }
}
