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
    // No state yet (a unit may start `serve` before the first `run`): an empty campaign
    // is served until the database appears. The state dir is never created here.
    let token = token_from(args.token_file.as_deref())?;
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
        ServeError::NeedsToken(_)
        | ServeError::EmptyToken
        | ServeError::BadToken(_)
        | ServeError::Bind { .. } => exit::usage(e.to_string()),
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
    fleet_serve::run_until_signal(&opts, extras(ctx, plan.as_ref(), &opts), listener)?;
    eprintln!("fuzzfleet: stopped serving");
    Ok(exit::OK)
}

/// What the pages need from the config: the command line for this config and state, each
/// target's binary (commands to paste), the tiers (each target's place in the schedule).
fn extras(
    ctx: &Context,
    plan: Option<&fleet_config::Plan>,
    opts: &ServeOptions,
) -> fleet_serve::Extras {
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut fuzzfleet = String::from("fuzzfleet");
    if plan.is_some() {
        fuzzfleet += &format!(
            " --config {}",
            fleet_serve::shell_word(&abs(&ctx.config).display().to_string())
        );
    }
    fuzzfleet += &format!(
        " --state {}",
        fleet_serve::shell_word(&abs(&opts.state_dir).display().to_string())
    );
    let binaries = plan
        .iter()
        .flat_map(|p| {
            p.targets.iter().filter_map(|t| {
                let bin = crate::plan::binary_of(p, t).ok()?;
                Some((t.name.to_string(), abs(&bin)))
            })
        })
        .collect();
    fleet_serve::Extras {
        tiers: plan.map(super::status::tier_budgets).unwrap_or_default(),
        fuzzfleet: Some(fuzzfleet),
        binaries,
    }
}

/// The server's token: from `file` when given, else from `FUZZFLEET_TOKEN` when it is set
/// (set but blank is refused, not taken for "no token"). Both follow the same rules
/// ([`fleet_serve::check_token`]); a broken one is a usage error naming where it came from.
pub(crate) fn token_from(file: Option<&Path>) -> Result<Option<String>> {
    if let Some(file) = file {
        return read_token(file).map(Some);
    }
    match std::env::var(TOKEN_ENV) {
        Ok(raw) => fleet_serve::check_token(&raw)
            .map(Some)
            .map_err(|e| exit::usage(format!("{TOKEN_ENV}: {e}"))),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(exit::usage(format!("{TOKEN_ENV}: the token is not UTF-8")))
        }
    }
}

/// A token file's token, trimmed and checked by [`fleet_serve::check_token`].
pub(crate) fn read_token(file: &Path) -> Result<String> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the token file {}", file.display()))
        .map_err(|e| exit::usage(format!("{e:#}")))?;
    fleet_serve::check_token(&text)
        .map_err(|e| exit::usage(format!("the token file {}: {e}", file.display())))
}
