//! The fleet's nodes (`fleet_nodes::remote`) as the commands use them: a library error
//! becomes the binary's (a bad token file is a usage error, exit 2).

use std::path::Path;

use anyhow::Result;
use fleet_config::Plan;

pub use fleet_nodes::remote::{Remote, fleet_doc, heartbeats};

use crate::plan::from_lib;

/// The token in `path`, checked as `serve` checks its own.
pub fn read_token(path: &Path) -> Result<String> {
    fleet_nodes::remote::read_token(path).map_err(from_lib)
}

/// Every `[node.*]` of the config, each read at its `api` URL or through an SSH tunnel.
pub fn configured(plan: &Plan, state_dir: &Path) -> Result<Vec<Remote>> {
    fleet_nodes::remote::configured(plan, state_dir).map_err(from_lib)
}

/// The fleet as `serve --all-nodes` shows it.
pub struct FleetProbe;

impl FleetProbe {
    #[allow(clippy::new_ret_no_self)]
    pub fn new(plan: Plan, state_dir: &Path) -> Result<fleet_nodes::remote::FleetProbe> {
        fleet_nodes::remote::FleetProbe::new(plan, state_dir).map_err(from_lib)
    }
}
