//! `fuzzfleet status`: a one-shot table of the local state, or its JSON document.

use std::time::Duration;

use anyhow::Result;
use fleet_run::report::{self, StatusDoc};

use super::Context;
use crate::cli::StatusArgs;
use crate::exit;

pub fn status(ctx: &Context, args: &StatusArgs) -> Result<i32> {
    let plan = ctx.plan_if_present()?;
    let state = ctx.state_dir(plan.as_ref());
    let db = super::open_db(&state)?;
    let known: Vec<String> = plan
        .iter()
        .flat_map(|p| p.targets.iter().map(|t| t.name.to_string()))
        .collect();
    let system = fleet_run::system::sample(&state, Duration::from_millis(200));
    let doc = report::status(&db, &known, system)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print!("{}", table(&doc));
    }
    Ok(exit::OK)
}

fn table(doc: &StatusDoc) -> String {
    let mut out = format!(
        "{:<22} {:<8} {:>3} {:>12} {:>9} {:>7} {:>8} {:>15} {:>7} {:>7}  {}\n",
        "TARGET",
        "STATE",
        "W",
        "EXECS",
        "EXEC/S",
        "COV",
        "FT",
        "CORPUS",
        "CRASHES",
        "UPTIME",
        "LAST NEW COVERAGE"
    );
    for t in &doc.targets {
        out += &format!(
            "{:<22} {:<8} {:>3} {:>12} {:>9.0} {:>7} {:>8} {:>15} {:>7} {:>7}  {}\n",
            t.name,
            t.state,
            t.workers,
            t.execs,
            t.execs_per_sec,
            t.coverage.map_or("-".into(), |c| c.to_string()),
            t.features.map_or("-".into(), |c| c.to_string()),
            format!("{}/{}", t.corpus_files, human_bytes(t.corpus_bytes)),
            t.crashes,
            t.uptime
                .map_or("-".into(), |u| format!("{:.1}%", u * 100.0)),
            t.last_new_coverage_at.as_deref().unwrap_or("-"),
        );
        if let Some(m) = &t.message {
            out += &format!("  └ {m}\n");
        }
    }
    let s = &doc.system;
    out += &format!(
        "\nsystem: cpu {:.0}%  memory {} of {}  disk {:.0}% used\n",
        s.cpu_percent,
        human_bytes(s.mem_used_bytes as i64),
        human_bytes(s.mem_total_bytes as i64),
        s.disk_used_percent
    );
    out
}

/// 1536 → "1.5K": binary units, one decimal.
pub fn human_bytes(n: i64) -> String {
    let mut v = n as f64;
    for unit in ["", "K", "M", "G", "T"] {
        if v < 1024.0 || unit == "T" {
            return if unit.is_empty() {
                format!("{n}B")
            } else {
                format!("{v:.1}{unit}")
            };
        }
        v /= 1024.0;
    }
    unreachable!()
}
