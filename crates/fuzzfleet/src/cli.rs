//! The command line, as clap sees it. Help texts are part of the interface: they teach.

use std::num::NonZeroUsize;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const ABOUT: &str = "Continuous fuzzing on every core: runs libFuzzer targets in tiers, keeps every \
corpus entry and crash, and shows what the fleet found.";

const AFTER_HELP: &str = "\
Getting started:
  fuzzfleet init                        write a fleet.toml for the harnesses in this directory
  fuzzfleet build                       build the targets fleet.toml declares
  fuzzfleet run --budget 10s --once     a smoke run: every target for 10 s
  fuzzfleet run                         the configured campaign, until Ctrl-C
  fuzzfleet status                      what is running and what it found
  fuzzfleet crashes list                the bugs found, most severe first
  fuzzfleet doctor                      what is missing on this machine, and the fix

Exit codes: 0 ok, 1 the command ran and found a problem, 2 usage or config error, 3 internal failure.";

#[derive(Debug, Parser)]
#[command(name = "fuzzfleet", version, about = ABOUT, after_help = AFTER_HELP)]
pub struct Cli {
    /// The fleet configuration.
    #[arg(long, global = true, value_name = "FILE", default_value = "fleet.toml")]
    pub config: PathBuf,
    /// The state dir (corpora, findings, database); default: the config's `state_dir`.
    #[arg(long, global = true, value_name = "DIR")]
    pub state: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented fleet.toml for this directory: its cargo-fuzz projects and libFuzzer
    /// harness binaries (and the make/CMake target that builds them), in one tier. Never
    /// overwrites a file.
    Init,
    /// Build the targets of every cargo-fuzz [[project]] (nightly, sanitizer coverage; no
    /// cargo-fuzz needed) and run every [[harnesses]] build command.
    Build(BuildArgs),
    /// Run a campaign: every tier's targets on every core, until stopped (Ctrl-C stops gracefully).
    Run(RunArgs),
    /// Show each target's state, speed, coverage, corpus and findings.
    Status(StatusArgs),
    /// The bugs: one deduplicated bucket per signature, reproduced and minimized; show,
    /// repro, minimize, merge/split, export (SARIF).
    #[command(subcommand)]
    Crashes(CrashesCommand),
    /// Corpus care: minimize without losing coverage, import, export.
    #[command(subcommand)]
    Corpus(CorpusCommand),
    /// Replay every corpus entry and every kept crash input against the current build;
    /// exit 1 if anything crashes (the command CI runs on each change).
    Regress {
        /// Only these targets (default: every configured target).
        #[arg(long = "target", value_name = "NAME")]
        targets: Vec<String>,
        /// Print the results as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write every corpus, finding and the database to FILE (a .tar.gz with a manifest
    /// of checksums); works while a campaign runs.
    Backup {
        /// The archive to write (a .tar.gz; replaced atomically if it exists).
        file: PathBuf,
    },
    /// Restore a backup into the state dir, merging with what is there (nothing is
    /// replaced or duplicated); a corrupt archive is refused before anything is written.
    Restore {
        /// An archive written by `fuzzfleet backup`.
        file: PathBuf,
    },
    /// Check toolchains, engines, limits and the state dir, and say what to fix.
    Doctor(DoctorArgs),
    /// Serve the state over HTTP: the JSON API, Prometheus /metrics and a web dashboard
    /// (works beside a running `fuzzfleet run`; stops on Ctrl-C / SIGTERM).
    Serve(ServeArgs),
    /// The node daemon: runs this node's tiers (`[node.NAME]`), serves the API, syncs with
    /// the hub, reloads the config on SIGHUP, exits cleanly on SIGTERM (what the systemd
    /// unit in deploy/ runs).
    Agent(AgentArgs),
    /// Put what each node's agent needs on it over SSH as the node's user (binary, built
    /// targets, seeds, dictionaries, its config and API token, the systemd unit); only
    /// what changed is copied; the unit install is the one root step (sudo -n, else the
    /// commands to run are printed).
    Deploy(DeployArgs),
    /// Bring every node's crash inputs and reports into DIR/<target>/<bucket>/: pulls the
    /// fleet's findings from the hub, files them into buckets (the same bug is one bucket
    /// with every node that found it), and exports them.
    Collect {
        /// Where to write DIR/<target>/<bucket>/ (created if missing).
        dir: PathBuf,
        /// Do not pull from the hub first (export what this state dir has).
        #[arg(long)]
        no_sync: bool,
    },
    /// Line, region and function coverage of targets' corpora (seeds included): builds a
    /// coverage variant, replays every input once, and writes HTML and lcov reports.
    Coverage(CoverageArgs),
}

#[derive(Debug, Subcommand)]
pub enum CorpusCommand {
    /// Shrink a target's corpus with libFuzzer's merge; the result replaces the corpus
    /// only if it covers at least as many features (never while a run uses the state).
    Minimize {
        /// The target whose corpus to minimize.
        target: String,
    },
    /// Copy corpora into DIR/<target>/ as plain files (a git repository can hold them).
    Export {
        /// Where to write DIR/<target>/ (created if missing).
        dir: PathBuf,
        /// Only these targets (default: every configured target).
        #[arg(long = "target", value_name = "NAME")]
        targets: Vec<String>,
    },
    /// Sync corpora and findings with the hub of fleet.toml's [hub] now: push what is new
    /// here, pull what other nodes found.
    Sync {
        /// Only these targets (default: every configured target).
        #[arg(long = "target", value_name = "NAME")]
        targets: Vec<String>,
    },
    /// Add the files of DIR to corpora, named by content (duplicates skipped): DIR/<target>/
    /// for every configured target found there (an export or a cargo-fuzz corpus/ tree),
    /// or all of DIR into one target with --target.
    Import {
        /// The directory to import from: DIR/<target>/ per target, or the files of DIR
        /// with --target.
        dir: PathBuf,
        /// Import all of DIR into this target.
        #[arg(long, value_name = "NAME")]
        target: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Build only these targets (default: all the config declares).
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run only these tiers (repeatable).
    #[arg(long = "tier", value_name = "T")]
    pub tiers: Vec<String>,
    /// Run only these targets (repeatable); targets in no tier run side by side.
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,
    /// Worker processes in all (default: the config's `workers`, else one per core).
    #[arg(long, value_name = "N", value_parser = crate::plan::parse_workers)]
    pub workers: Option<NonZeroUsize>,
    /// Override every target's budget per cycle, e.g. `10s` for a smoke run.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub budget: Option<std::time::Duration>,
    /// Stop the whole run after this long, e.g. `8h`.
    #[arg(long = "for", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub run_for: Option<std::time::Duration>,
    /// Run one cycle of every tier, then stop.
    #[arg(long)]
    pub once: bool,
    /// Do not build first (cargo-fuzz targets, [[harnesses]] build commands): use what is built.
    #[arg(long)]
    pub no_build: bool,
    /// Print every worker restart, not only findings and failures.
    #[arg(long, short)]
    pub verbose: bool,
    /// How each worker run's libFuzzer flags are chosen: `portfolio` (a bandit per
    /// target picks value profile, dictionaries, -max_len, corpus subsets, mutation depth
    /// or entropic settings by the new features per CPU-second each has paid; `status`
    /// shows what it favours and why) or `plain` (every run as the config says).
    /// Default: the config's `strategies`, else `portfolio`.
    #[arg(long, value_enum)]
    pub strategies: Option<Strategies>,
}

/// See `run --strategies`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Strategies {
    Portfolio,
    Plain,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print the status as JSON (version 1 of the documented shape; with several nodes,
    /// `{version, nodes: [{node, url, status, error}]}`).
    #[arg(long, conflicts_with = "watch")]
    pub json: bool,
    /// A live view, refreshed every --interval: s sort, r reverse, ↑↓ select, Enter
    /// details, n next node, q quit. Shows the local node and every node of the config
    /// (read at its `api` URL, or through an SSH tunnel to its agent), or only the --node
    /// URLs.
    #[arg(long)]
    pub watch: bool,
    /// Read a remote agent's HTTP API instead of the local state, e.g.
    /// `http://127.0.0.1:7878` (repeatable).
    #[arg(long = "node", value_name = "URL")]
    pub nodes: Vec<String>,
    /// Read every node of the config: at its `api` URL, or through an SSH tunnel to its
    /// agent's loopback port (token from its `token_file`).
    #[arg(long, conflicts_with = "nodes")]
    pub all_nodes: bool,
    /// File holding the bearer token sent to the --node URLs.
    #[arg(long, value_name = "FILE", requires = "nodes")]
    pub token_file: Option<PathBuf>,
    /// Seconds between refreshes of --watch.
    #[arg(long, value_name = "SECS", default_value_t = 2.0, requires = "watch")]
    pub interval: f64,
}

#[derive(Debug, Subcommand)]
pub enum CrashesCommand {
    /// List the bugs: one bucket per signature, most severe first; crashing inputs not
    /// triaged yet are one summary line per target (`--pending` lists each).
    List {
        /// Print as JSON (`{version, buckets: [...]}`; untriaged inputs are entries of
        /// their own with repro `pending`).
        #[arg(long)]
        json: bool,
        /// List each untriaged crashing input on its own line.
        #[arg(long)]
        pending: bool,
    },
    /// Show one bucket: title, severity, counts, inputs, state and the full report.
    Show {
        /// A bucket id, or an untriaged input's id, from `crashes list`.
        id: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run a bucket's input (the minimized one when there is one) against the current
    /// build; exit 0 when it crashes with the bucket's signature, 1 when it does not.
    Repro {
        /// A bucket id, or an untriaged input's id, from `crashes list` (an untriaged
        /// input is triaged first).
        id: String,
        /// How many runs (default: `[crashes] repro_runs`).
        #[arg(long, value_name = "N")]
        runs: Option<u32>,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Minimize a bucket's input now (a campaign does this in the background); the
    /// result must still crash with the bucket's signature. Both inputs are kept.
    Minimize {
        /// A bucket id, or an untriaged input's id, from `crashes list`.
        id: String,
        /// Time box (default: `[crashes] minimize_budget`).
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
        budget: Option<std::time::Duration>,
    },
    /// Merge bucket FROM into INTO: one bug from now on, also for later crashes.
    Merge {
        /// The bucket to merge away, from `crashes list`.
        from: String,
        /// The bucket that keeps the bug's id.
        into: String,
    },
    /// Undo a merge of ID, or split ID's crashes by crash line (panic location or top
    /// frame's line); later crashes follow the split.
    Split {
        /// A bucket id from `crashes list`.
        id: String,
    },
    /// Triage the findings not triaged yet (a campaign does this as they come): reproduce,
    /// bucket, and report new bugs.
    Triage {
        /// Print the new and updated buckets as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write each bucket to DIR/<target>/<id>/ (input, minimized input, report,
    /// bucket.json); with --sarif also DIR/fuzzfleet.sarif for CI code scanning.
    Export {
        /// The directory to write into (created if missing).
        dir: PathBuf,
        /// Also write DIR/fuzzfleet.sarif (SARIF 2.1.0: one result per bug).
        #[arg(long)]
        sarif: bool,
    },
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The nodes (`[node.NAME]` with `ssh`) to deploy to (default: every node).
    #[arg(value_name = "NODE")]
    pub nodes: Vec<String>,
    /// Show what would be copied and installed, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// This node's name: picks its `[node.NAME]` tiers and names its findings and
    /// heartbeats (default: FUZZFLEET_NODE, else the name saved in the state dir).
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// Run these tiers (repeatable) instead of the node's `[node.NAME] tiers` — e.g. one
    /// Kubernetes StatefulSet per tier.
    #[arg(long = "tier", value_name = "T")]
    pub tiers: Vec<String>,
    /// Where the API listens; anything but loopback needs a token.
    #[arg(long, value_name = "ADDR", default_value = fleet_serve::DEFAULT_LISTEN)]
    pub listen: std::net::SocketAddr,
    /// A file holding the API's bearer token (default: the FUZZFLEET_TOKEN environment
    /// variable; none on loopback).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Do not serve the API.
    #[arg(long)]
    pub no_serve: bool,
    /// Build cargo-fuzz targets before fuzzing (default: use the deployed binaries).
    #[arg(long)]
    pub build: bool,
    /// Worker processes in all (default: the config's `workers`, else one per core).
    #[arg(long, value_name = "N", value_parser = crate::plan::parse_workers)]
    pub workers: Option<NonZeroUsize>,
    /// Log every worker restart, not only findings and failures.
    #[arg(long, short)]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; anything but loopback needs a token.
    #[arg(long, value_name = "ADDR", default_value = fleet_serve::DEFAULT_LISTEN)]
    pub listen: std::net::SocketAddr,
    /// A file holding the bearer token every request but /healthz must send (default:
    /// the FUZZFLEET_TOKEN environment variable; none on loopback).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Also show every node of the config: /api/v1/fleet and the dashboard's fleet page,
    /// each node read through an SSH tunnel to its agent (or its `api` URL), as
    /// `status --all-nodes` does.
    #[arg(long)]
    pub all_nodes: bool,
}

#[derive(Debug, Args)]
pub struct CoverageArgs {
    /// The targets to report on.
    #[arg(value_name = "TARGET", required = true)]
    pub targets: Vec<String>,
    /// Write the HTML report here (default: <state>/coverage/<target>/html; with several
    /// targets, DIR/<target>).
    #[arg(long, value_name = "DIR")]
    pub html: Option<PathBuf>,
    /// Write the lcov file here (default: <state>/coverage/<target>/coverage.lcov; with
    /// several targets, FILE is a directory holding <target>.lcov).
    #[arg(long, value_name = "FILE")]
    pub lcov: Option<PathBuf>,
    /// Print the reports as JSON.
    #[arg(long)]
    pub json: bool,
    /// List at most N never-reached functions per target (0: all).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub top: usize,
    /// Recompute every DURATION (e.g. "30m") at nice 19, beside a running campaign;
    /// each result is stored, and `status` shows the newest line coverage.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub every: Option<std::time::Duration>,
    /// With --every: stop after N rounds.
    #[arg(long, value_name = "N", requires = "every")]
    pub rounds: Option<u32>,
    /// With --every: wait this long before the first round (a campaign's schedule).
    #[arg(long, value_name = "DURATION", requires = "every", value_parser = humantime::parse_duration)]
    pub first_after: Option<std::time::Duration>,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print the checks as JSON.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every command, subcommand, argument and option says what it is in `--help`: a
    /// blank line there (`backup FILE`, `crashes repro ID`, `--sarif` had one) teaches
    /// nothing.
    #[test]
    fn every_command_and_argument_has_help() {
        fn walk(cmd: &clap::Command, path: &str, blank: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if arg
                    .get_help()
                    .is_none_or(|h| h.to_string().trim().is_empty())
                {
                    blank.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                let name = format!("{path} {}", sub.get_name());
                if sub.get_name() != "help"
                    && sub
                        .get_about()
                        .is_none_or(|h| h.to_string().trim().is_empty())
                {
                    blank.push(name.clone());
                }
                walk(sub, &name, blank);
            }
        }
        let mut blank = Vec::new();
        walk(&Cli::command(), "fuzzfleet", &mut blank);
        assert!(blank.is_empty(), "no help text: {blank:#?}");
    }
}
