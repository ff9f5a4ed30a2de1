//! The campaign plan (`fleet_nodes::plan`) as the commands use it: the `run` options
//! as a selection, and a plan's usage errors as the exit code 2 errors they are.

use anyhow::Result;
use fleet_config::{Plan, TargetPlan};
use fleet_nodes::plan as lib;
use fleet_run::CampaignTarget;
use fleet_run::schedule::TierSpec;

pub use fleet_nodes::plan::{
    BuildSet, everything, parse_workers, project_targets, triage_config, triage_targets,
};

use crate::cli::RunArgs;

/// A library error as the binary's: a usage error exits 2.
pub fn from_lib(e: fleet_nodes::Error) -> anyhow::Error {
    match e {
        fleet_nodes::Error::Usage(m) => crate::exit::usage(m),
        fleet_nodes::Error::Build(e) => e.into(),
        e @ (fleet_nodes::Error::Ssh(_) | fleet_nodes::Error::Io { .. }) => e.into(),
    }
}

fn selection(args: &RunArgs) -> lib::Selection {
    lib::Selection {
        tiers: args.tiers.clone(),
        targets: args.targets.clone(),
        budget: args.budget,
        workers: args.workers,
    }
}

/// Worker processes in all: `--workers`, else the config's, else one per core.
pub fn total_workers(plan: &Plan, args: &RunArgs) -> usize {
    lib::total_workers(plan, &selection(args))
}

/// The tiers to run, with the `run` options applied.
pub fn tiers(plan: &Plan, args: &RunArgs, workers: usize) -> Result<Vec<TierSpec>> {
    lib::tiers(plan, &selection(args), workers).map_err(from_lib)
}

pub fn binary_of(plan: &Plan, target: &TargetPlan) -> Result<std::path::PathBuf> {
    lib::binary_of(plan, target).map_err(from_lib)
}

pub fn require_built(plan: &Plan) -> Result<()> {
    lib::require_built(plan).map_err(from_lib)
}

pub fn campaign_target(plan: &Plan, name: &str) -> Result<CampaignTarget> {
    lib::campaign_target(plan, name).map_err(from_lib)
}
