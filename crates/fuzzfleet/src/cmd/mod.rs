//! One module per subcommand; this one dispatches and holds what they share.

mod agent;
mod backup;
mod build;
mod collect;
mod corpus;
mod coverage;
mod crashes;
mod deploy;
mod doctor;
mod init;
mod regress;
mod run;
mod serve;
mod status;

use std::path::{Path, PathBuf};

use anyhow::Result;
use fleet_config::Plan;

use crate::cli::{Cli, Command};

/// Runs the command; returns the exit code for a command that ran.
pub fn dispatch(cli: Cli) -> Result<i32> {
    let ctx = Context {
        config: cli.config,
        state: cli.state,
    };
    match cli.command {
        Command::Init => init::init(&ctx),
        Command::Build(args) => build::build(&ctx, &args),
        Command::Run(args) => run::run(&ctx, &args),
        Command::Status(args) => status::status(&ctx, &args),
        Command::Crashes(c) => crashes::crashes(&ctx, c),
        Command::Corpus(c) => corpus::corpus(&ctx, c),
        Command::Regress { targets, json } => regress::regress(&ctx, &targets, json),
        Command::Backup { file } => backup::backup(&ctx, &file),
        Command::Restore { file } => backup::restore(&ctx, &file),
        Command::Doctor(args) => doctor::doctor(&ctx, &args),
        Command::Serve(args) => serve::serve(&ctx, &args),
        Command::Agent(args) => agent::agent(&ctx, &args),
        Command::Deploy(args) => deploy::deploy(&ctx, &args),
        Command::Collect { dir, no_sync } => collect::collect(&ctx, &dir, no_sync),
        Command::Coverage(args) => coverage::coverage(&ctx, &args),
    }
}

/// The global options every command resolves the same way.
pub struct Context {
    pub config: PathBuf,
    pub state: Option<PathBuf>,
}

impl Context {
    /// Loads and validates the config; a bad config is a usage error (exit 2).
    pub fn plan(&self) -> Result<Plan> {
        Ok(fleet_config::load(&self.config)?)
    }

    /// The config when one exists: commands that only read the state work without one.
    pub fn plan_if_present(&self) -> Result<Option<Plan>> {
        if self.config.exists() {
            self.plan().map(Some)
        } else {
            Ok(None)
        }
    }

    /// `--state`, else the config's `state_dir`, else `./.fuzzfleet`.
    pub fn state_dir(&self, plan: Option<&Plan>) -> PathBuf {
        self.state
            .clone()
            .or_else(|| plan.map(|p| p.state_dir.clone()))
            .unwrap_or_else(|| PathBuf::from(".fuzzfleet"))
    }
}

/// Opens the state database read-write if the state dir exists; a missing one is a
/// usage error that says how to create it.
pub fn open_db(state: &Path) -> Result<fleet_store::Db> {
    let layout = fleet_store::Layout::new(state);
    if !layout.db_path().exists() {
        return Err(crate::exit::usage(format!(
            "no fuzzfleet state in {} (start a campaign with `fuzzfleet run`, or pass --state DIR)",
            state.display()
        )));
    }
    Ok(fleet_store::Db::open(&layout.db_path())?)
}

/// Takes the state dir's lock: one `run` (or corpus rewrite) per state dir at a time.
/// Held until the returned value is dropped; the kernel releases it if we die.
pub fn lock_state(
    layout: &fleet_store::Layout,
    who: &str,
) -> Result<nix::fcntl::Flock<std::fs::File>> {
    std::fs::create_dir_all(layout.root())?;
    let file = std::fs::File::create(layout.lock_path())?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock).map_err(|_| {
        crate::exit::usage(format!(
            "another `fuzzfleet run` is using the state dir {} ({who} needs it alone: stop the run first, or pass --state DIR)",
            layout.root().display()
        ))
    })
}
