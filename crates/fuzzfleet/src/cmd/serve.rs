//! `fuzzfleet serve`: the HTTP API, `/metrics` and the dashboard over the state dir,
//! until SIGINT or SIGTERM. Only reads the state, so it runs beside `fuzzfleet run`.

use std::path::Path;

use anyhow::{Context as _, Result};
use fleet_serve::{ServeError, ServeOptions};

use super::Context;
use crate::cli::ServeArgs;
use crate::exit;

pub const TOKEN_ENV: &str = "FUZZFLEET_TOKEN";

pub fn serve(ctx: &Context, args: &ServeArgs) -> Result<i32> {
    let plan = ctx.plan_if_present()?;
    let state = ctx.state_dir(plan.as_ref());
    // A clear error now rather than 503s later (and never create a state dir here). The
    // operator's machine may fuzz nothing itself: with --all-nodes it serves the fleet.
    if !args.all_nodes {
        drop(super::open_db(&state)?);
    }
    let token = match &args.token_file {
        Some(file) => Some(read_token(file)?),
        None => std::env::var(TOKEN_ENV).ok().filter(|t| !t.is_empty()),
    };
    let fleet = match (&plan, args.all_nodes) {
        (_, false) => None,
        (Some(p), true) if !p.nodes.is_empty() => {
            let probe = crate::nodes::FleetProbe::new(p.clone(), &state)?;
            Some(std::sync::Arc::new(probe) as std::sync::Arc<dyn fleet_serve::FleetView>)
        }
        (_, true) => {
            return Err(exit::usage(format!(
                "--all-nodes: {} has no [node.*]",
                ctx.config.display()
            )));
        }
    };
    let opts = ServeOptions {
        state_dir: state,
        listen: args.listen,
        token,
        known_targets: plan
            .iter()
            .flat_map(|p| p.targets.iter().map(|t| t.name.to_string()))
            .collect(),
        fleet,
    };
    let listener = opts.bind().map_err(|e| match e {
        ServeError::NeedsToken(_) | ServeError::EmptyToken | ServeError::Bind { .. } => {
            exit::usage(e.to_string())
        }
        e => e.into(),
    })?;
    let addr = listener.local_addr()?;
    eprintln!(
        "fuzzfleet: serving {} on http://{addr}/ ({})",
        opts.state_dir.display(),
        if opts.token.is_some() {
            "bearer token required"
        } else {
            "no token: loopback only"
        }
    );
    fleet_serve::run_until_signal(&opts, listener)?;
    eprintln!("fuzzfleet: stopped serving");
    Ok(exit::OK)
}

pub(crate) fn read_token(file: &Path) -> Result<String> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the token file {}", file.display()))
        .map_err(|e| exit::usage(format!("{e:#}")))?;
    let token = text.trim().to_string();
    if token.is_empty() {
        return Err(exit::usage(format!(
            "the token file {} is empty",
            file.display()
        )));
    }
    Ok(token)
}
