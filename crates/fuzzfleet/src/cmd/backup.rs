//! `fuzzfleet backup` / `restore`: the whole state in one verified archive.

use std::path::Path;

use anyhow::Result;
use fleet_store::Layout;
use fleet_store::backup::{self, BackupError};

use super::Context;
use crate::exit;

pub fn backup(ctx: &Context, file: &Path) -> Result<i32> {
    let plan = ctx.plan_if_present()?;
    let state = ctx.state_dir(plan.as_ref());
    let db = super::open_db(&state)?;
    let stats = backup::backup(&Layout::new(&state), &db, file)?;
    println!(
        "backed up {} files ({} bytes) from {} to {}",
        stats.files,
        stats.bytes,
        state.display(),
        file.display()
    );
    Ok(exit::OK)
}

pub fn restore(ctx: &Context, file: &Path) -> Result<i32> {
    let plan = ctx.plan_if_present()?;
    let layout = Layout::new(ctx.state_dir(plan.as_ref()));
    if !file.is_file() {
        return Err(exit::usage(format!("no backup at {}", file.display())));
    }
    let _lock = super::lock_state(&layout, "`restore`")?;
    match backup::restore(&layout, file) {
        Ok(stats) => {
            // The corpus figures `status` shows are what is on disk now.
            let db = fleet_store::Db::open(&layout.db_path())?;
            let names: Vec<String> = db.targets()?.into_iter().map(|t| t.name).collect();
            fleet_run::corpus::recount(&layout, &db, &names)?;
            println!(
                "restored {} files ({} bytes) and {} findings into {}; {} files were already there",
                stats.files,
                stats.bytes,
                stats.findings_added,
                layout.root().display(),
                stats.skipped
            );
            Ok(exit::OK)
        }
        Err(e @ BackupError::Corrupt { .. }) => {
            eprintln!("error: {e}");
            Ok(exit::PROBLEM)
        }
        Err(e) => Err(e.into()),
    }
}
