//! `fuzzfleet crashes`: the findings, as a list or one at a time with its report.

use anyhow::Result;
use fleet_run::report;

use super::Context;
use crate::cli::CrashesCommand;
use crate::exit;

pub fn crashes(ctx: &Context, cmd: CrashesCommand) -> Result<i32> {
    let plan = ctx.plan_if_present()?;
    let state = ctx.state_dir(plan.as_ref());
    let db = super::open_db(&state)?;
    let node = fleet_run::hubsync::node_name(&fleet_store::Layout::new(&state))?;
    let doc = report::crashes(&db, node.as_str())?;
    match cmd {
        CrashesCommand::List { json: true } => println!("{}", serde_json::to_string_pretty(&doc)?),
        CrashesCommand::List { json: false } => {
            println!(
                "{:<13} {:<22} {:<8} {:>6} {:<20}  INPUT",
                "ID", "TARGET", "KIND", "COUNT", "FIRST SEEN"
            );
            for b in &doc.buckets {
                println!(
                    "{:<13} {:<22} {:<8} {:>6} {:<20}  {}",
                    b.id, b.target, b.kind, b.count, b.first_seen, b.input_path
                );
            }
            if doc.buckets.is_empty() {
                println!("(no findings yet)");
            }
        }
        CrashesCommand::Show { id, json } => {
            let Some(b) = doc.buckets.iter().find(|b| b.id == id) else {
                return Err(exit::usage(format!(
                    "no finding with id {id} (see `fuzzfleet crashes list`)"
                )));
            };
            let report_text = b
                .report_path
                .as_ref()
                .and_then(|p| std::fs::read_to_string(p).ok());
            if json {
                let mut v = serde_json::to_value(b)?;
                v["version"] = report::DOC_VERSION.into();
                v["report"] = report_text.into();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!("{}  {}", b.id, b.title);
                println!("target:     {}", b.target);
                println!("kind:       {}", b.kind);
                println!("count:      {}", b.count);
                println!("first seen: {}", b.first_seen);
                println!("last seen:  {}", b.last_seen);
                println!("input:      {}", b.input_path);
                println!("reproduce:  <target binary> {}", b.input_path);
                match report_text {
                    Some(text) => println!("\n{text}"),
                    None => println!(
                        "\n(no report was captured; see the worker logs under logs/{}/)",
                        b.target
                    ),
                }
            }
        }
    }
    Ok(exit::OK)
}
