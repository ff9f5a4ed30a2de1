//! Stage two: from the raw file to a [`Plan`]. Every check records a [`Problem`] at the
//! span of the offending key or value and carries on, so one load reports every
//! problem in the file; the plan is only returned when there were none.

mod fleet;
mod harnesses;
mod state;
mod targets;
mod tiers;
mod values;

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::error::Problem;
use crate::locate::Locator;
use crate::names::TargetName;
use crate::plan::{AflBinaries, Plan, defaults};
use crate::raw::RawConfig;
use crate::types::Schedule;

/// What validation needs besides the raw file: where relative paths start, how to
/// name a line in a message, and where problems go.
pub(crate) struct Ctx<'a> {
    base_dir: &'a Path,
    locator: &'a Locator<'a>,
    pub problems: Vec<Problem>,
    /// Problems in files the config points to (a harness's `.options`), located there.
    pub elsewhere: Vec<crate::ConfigError>,
}

impl<'a> Ctx<'a> {
    pub fn new(base_dir: &'a Path, locator: &'a Locator<'a>) -> Self {
        Ctx {
            base_dir,
            locator,
            problems: Vec::new(),
            elsewhere: Vec::new(),
        }
    }

    fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.problems.push(Problem {
            span: Some(span),
            message: message.into(),
        });
    }

    /// 1-based line of a span, for messages that point at an earlier definition.
    fn line(&self, span: &Range<usize>) -> usize {
        self.locator.line(span.start)
    }

    /// Relative paths are relative to the config file's directory, never the cwd.
    fn resolve(&self, written: &str) -> PathBuf {
        self.base_dir.join(written)
    }
}

/// Validates a parsed file. `file` is absolute; its directory is `ctx`'s base dir.
pub(crate) fn plan(
    ctx: &mut Ctx<'_>,
    file: PathBuf,
    raw: RawConfig,
) -> (Plan, BTreeMap<TargetName, AflBinaries>) {
    let state_dir = match &raw.state_dir {
        Some(dir) if dir.get_ref().is_empty() => {
            ctx.error(dir.span(), "must not be empty");
            PathBuf::new()
        }
        Some(dir) => {
            let path = ctx.resolve(dir.get_ref());
            if let Some(problem) = state::unusable(&path, true) {
                ctx.error(dir.span(), problem);
            }
            path
        }
        None => {
            let path = ctx.resolve(defaults::STATE_DIR);
            // Not whether it is writable: a config in a directory its reader may not
            // write (/etc/fuzzfleet) is used with `--state` elsewhere, and commands that
            // only read need no write access. A file or /proc is never a state dir.
            if let Some(problem) = state::unusable(&path, false) {
                // No key to point at: the default is at fault, so say how to change it.
                ctx.problems.push(Problem {
                    span: None,
                    message: format!("state_dir (default \"{}\"): {problem}; set `state_dir` to a writable directory", defaults::STATE_DIR),
                });
            }
            path
        }
    };
    let workers = raw.workers.as_ref().and_then(|w| match *w.get_ref() {
        n if n < 0 => {
            ctx.error(
                w.span(),
                format!("must be 0 (one per core) or a positive integer, got {n}"),
            );
            None
        }
        n if n as u64 > defaults::MAX_WORKERS => {
            ctx.error(
                w.span(),
                format!(
                    "must be 0 (one per core) or at most {} workers, got {n}",
                    defaults::MAX_WORKERS
                ),
            );
            None
        }
        n => usize::try_from(n).ok().and_then(NonZeroUsize::new),
    });
    let tier_slice = raw
        .tier_slice
        .as_ref()
        .and_then(|v| values::duration(ctx, v))
        .unwrap_or(defaults::TIER_SLICE);
    let progress_every = raw
        .progress_every
        .as_ref()
        .and_then(|v| values::duration(ctx, v))
        .unwrap_or(defaults::PROGRESS_EVERY);
    let schedule = match raw.schedule.as_ref() {
        None => Schedule::default(),
        Some(v) => match v.get_ref().as_str() {
            "coverage" => Schedule::Coverage,
            "fixed" => Schedule::Fixed,
            "equal" => Schedule::Equal,
            other => {
                ctx.error(
                    v.span(),
                    format!(
                        "unknown schedule \"{other}\" (expected \"coverage\", \"fixed\" or \"equal\")"
                    ),
                );
                Schedule::default()
            }
        },
    };
    let portfolio = match raw.strategies.as_ref() {
        None => true,
        Some(v) => match v.get_ref().as_str() {
            "portfolio" => true,
            "plain" => false,
            other => {
                ctx.error(
                    v.span(),
                    format!("unknown strategies \"{other}\" (expected \"portfolio\" or \"plain\")"),
                );
                true
            }
        },
    };
    let target_defaults = targets::defaults(ctx, raw.defaults.as_ref());
    let known = targets::projects_and_targets(
        ctx,
        &raw.project,
        &raw.harnesses,
        &raw.target,
        &target_defaults,
    );
    let tiers = tiers::tiers(ctx, &raw.tier, &known);
    let declared_tiers = raw.tier.keys().map(|k| k.get_ref().as_str()).collect();
    let nodes = fleet::nodes(ctx, &raw.node, &tiers, &declared_tiers);
    let hub = raw.hub.as_ref().and_then(|hub| fleet::hub(ctx, hub));
    let alerts = fleet::alerts(ctx, raw.alerts.as_ref());
    let corpus = fleet::corpus(ctx, raw.corpus.as_ref());
    let crashes = fleet::crashes(ctx, raw.crashes.as_ref());
    let coverage = fleet::coverage(ctx, raw.coverage.as_ref());
    let afl = known.afl;
    let plan = Plan {
        base_dir: ctx.base_dir.to_owned(),
        file,
        state_dir,
        workers,
        tier_slice,
        progress_every,
        schedule,
        portfolio,
        projects: known.projects,
        harnesses: known.harnesses,
        targets: known.targets,
        tiers,
        nodes,
        hub,
        alerts,
        corpus,
        crashes,
        coverage,
    };
    (plan, afl)
}
