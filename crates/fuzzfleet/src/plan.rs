//! From a validated config and the `run` options to the campaign the scheduler runs:
//! which tiers and targets, with which budgets and how many workers each.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use fleet_config::{Plan, TargetPlan, TargetSource, TierMode};
use fleet_run::CampaignTarget;
use fleet_run::schedule::{TierSpec, split_workers};

use crate::cli::RunArgs;
use crate::exit::usage;

/// Name of the tier made for `--target` names that are in no selected tier.
pub const ADHOC_TIER: &str = "targets";
/// Budget of that tier without `--budget`.
const ADHOC_BUDGET: Duration = Duration::from_secs(3600);

/// `--workers N`: from 1 to the config's ceiling, so a huge number is a usage error
/// rather than a plan too large to allocate.
pub fn parse_workers(text: &str) -> Result<std::num::NonZeroUsize, String> {
    let max = fleet_config::defaults::MAX_WORKERS;
    match text.trim().parse::<u64>() {
        Ok(n) if (1..=max).contains(&n) => {
            Ok(std::num::NonZeroUsize::new(n as usize).expect("not zero"))
        }
        _ => Err(format!("expected a number of workers from 1 to {max}")),
    }
}

/// Worker processes in all: `--workers`, else the config's, else one per core.
pub fn total_workers(plan: &Plan, args: &RunArgs) -> usize {
    args.workers
        .or(plan.workers)
        .map(|n| n.get())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The tiers to run, with the `run` options applied.
pub fn tiers(plan: &Plan, args: &RunArgs, workers: usize) -> Result<Vec<TierSpec>> {
    require_built(plan)?;
    for t in &args.tiers {
        if plan.tier(t).is_none() {
            let known: Vec<&str> = plan.tiers.iter().map(|t| t.name.as_str()).collect();
            return Err(usage(format!(
                "no tier named {t:?} (the config has: {})",
                known.join(", ")
            )));
        }
    }
    for t in &args.targets {
        if plan.target(t).is_none() {
            return Err(usage(format!(
                "no target named {t:?} (`fuzzfleet build` or the config's [[target]] entries declare them)"
            )));
        }
    }
    let mut specs: Vec<(TierSpec, Option<usize>)> = Vec::new();
    for tier in &plan.tiers {
        if !args.tiers.is_empty() && !args.tiers.iter().any(|t| t == tier.name.as_str()) {
            continue;
        }
        let targets: Vec<String> = tier
            .targets
            .iter()
            .map(|t| t.to_string())
            .filter(|t| args.targets.is_empty() || args.targets.contains(t))
            .collect();
        if targets.is_empty() {
            continue;
        }
        specs.push((
            TierSpec {
                name: tier.name.to_string(),
                targets,
                budget: args.budget.unwrap_or(tier.budget),
                slice: match tier.mode {
                    TierMode::Sequential => None,
                    TierMode::Parallel { slice } => Some(slice),
                },
                workers: 0,
            },
            tier.workers.map(|w| w.get()),
        ));
    }
    let placed: Vec<&String> = specs.iter().flat_map(|(s, _)| &s.targets).collect();
    let adhoc: Vec<String> = args
        .targets
        .iter()
        .filter(|t| !placed.contains(t))
        .cloned()
        .collect();
    if !adhoc.is_empty() {
        specs.push((
            TierSpec {
                name: ADHOC_TIER.into(),
                targets: adhoc,
                budget: args.budget.unwrap_or(ADHOC_BUDGET),
                slice: Some(TierMode::DEFAULT_SLICE),
                workers: 0,
            },
            None,
        ));
    }
    if specs.is_empty() && plan.targets.is_empty() {
        return Err(usage(format!(
            "{}: nothing to run: the config declares no targets (add [[target]], [[project]] or [[harnesses]]; `fuzzfleet init` writes a config for the current directory)",
            plan.file.display()
        )));
    }
    if specs.is_empty() {
        return Err(usage(format!(
            "{}: nothing to run: the selected tiers have none of the selected targets",
            plan.file.display()
        )));
    }
    let fixed: Vec<Option<usize>> = specs.iter().map(|(_, w)| *w).collect();
    let split = split_workers(workers, &fixed);
    Ok(specs
        .into_iter()
        .zip(split)
        .map(|((mut s, _), w)| {
            s.workers = w;
            s
        })
        .collect())
}

/// The executable of a target: a prebuilt binary, or where `fuzzfleet build` puts it.
pub fn binary_of(plan: &Plan, target: &TargetPlan) -> Result<PathBuf> {
    Ok(match &target.source {
        TargetSource::Binary(path) => path.clone(),
        TargetSource::Project { project } => fleet_build::binary_path(
            &plan.projects[*project].path,
            host_triple()?,
            target.name.as_str(),
        ),
    })
}

/// The host's target triple (cargo-fuzz builds with an explicit `--target`), asked once.
fn host_triple() -> Result<&'static str> {
    static TRIPLE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(t) = TRIPLE.get() {
        return Ok(t);
    }
    let t = fleet_build::host_triple()?;
    Ok(TRIPLE.get_or_init(|| t))
}

/// Environment a target's workers need: ASan-built Rust targets get the `ASAN_OPTIONS`
/// cargo-fuzz sets.
pub fn env_of(plan: &Plan, target: &TargetPlan) -> Vec<(String, String)> {
    let sanitizer = match plan.project_of(target).map(|p| p.sanitizer) {
        Some(fleet_config::Sanitizer::Address) => fleet_build::Sanitizer::Address,
        _ => return Vec::new(),
    };
    sanitizer
        .runtime_asan_options()
        .map(|o| vec![("ASAN_OPTIONS".to_string(), o.to_string())])
        .unwrap_or_default()
}

/// What to build for a set of targets: cargo-fuzz targets by project, and the
/// `[[harnesses]]` entries (by index) whose build command makes any of them.
#[derive(Debug, Default)]
pub struct BuildSet {
    pub cargo: BTreeMap<usize, Vec<String>>,
    pub harnesses: std::collections::BTreeSet<usize>,
    /// Targets whose OSS-Fuzz seed archive is to be unpacked.
    pub seed_archives: Vec<String>,
}

impl BuildSet {
    pub fn is_empty(&self) -> bool {
        self.cargo.is_empty() && self.harnesses.is_empty() && self.seed_archives.is_empty()
    }
}

/// The targets the tiers name, grouped by what builds them.
pub fn project_targets<'a>(plan: &'a Plan, targets: impl IntoIterator<Item = &'a str>) -> BuildSet {
    let mut set = BuildSet::default();
    for name in targets {
        if plan.target(name).is_some_and(|t| t.seed_zip.is_some()) {
            set.seed_archives.push(name.to_string());
        }
        if let Some(TargetSource::Project { project }) = plan.target(name).map(|t| &t.source) {
            set.cargo
                .entry(*project)
                .or_default()
                .push(name.to_string());
        }
        if let Some(i) = plan
            .harnesses
            .iter()
            .position(|h| h.build.is_some() && h.targets.iter().any(|t| t == name))
        {
            set.harnesses.insert(i);
        }
    }
    set
}

/// Every build the plan has: all its projects' targets and every `[[harnesses]]`
/// build command (those not built yet included).
pub fn everything(plan: &Plan) -> BuildSet {
    let mut set = project_targets(plan, plan.targets.iter().map(|t| t.name.as_str()));
    set.harnesses.extend(
        plan.harnesses
            .iter()
            .enumerate()
            .filter(|(_, h)| h.build.is_some())
            .map(|(i, _)| i),
    );
    set
}

/// Refuses a plan whose `[[harnesses]]` directories are not built yet: the targets
/// the file names there are not known until they are.
pub fn require_built(plan: &Plan) -> Result<()> {
    let dirs: Vec<String> = plan
        .unbuilt_harnesses()
        .map(|h| h.dir.display().to_string())
        .collect();
    if dirs.is_empty() {
        return Ok(());
    }
    Err(usage(format!(
        "{}: no harness built yet in {}: run `fuzzfleet build` first (it runs the `build` command of [[harnesses]])",
        plan.file.display(),
        dirs.join(", ")
    )))
}

/// A target as a campaign (or a corpus command) runs it; its binary must exist.
pub fn campaign_target(plan: &Plan, name: &str) -> Result<CampaignTarget> {
    let t = plan.target(name).ok_or_else(|| {
        usage(format!(
            "no target named {name:?} in {}",
            plan.file.display()
        ))
    })?;
    let binary = binary_of(plan, t)?;
    if !binary.exists() {
        return Err(usage(format!(
            "target {name}: binary {} does not exist (run `fuzzfleet build {name}`)",
            binary.display()
        )));
    }
    Ok(CampaignTarget {
        name: name.to_string(),
        binary,
        seeds: seeds_of(t),
        dict: t.dict.clone(),
        rss_limit_mb: t.rss_limit_mb,
        timeout_s: t.timeout_s,
        max_len: t.max_len,
        extra_args: t
            .args
            .iter()
            .map(|a| a.parse())
            .collect::<Result<_, _>>()
            .map_err(|e| usage(format!("target {name}: {e}")))?,
        env: env_of(plan, t),
    })
}

/// A target's seed directory: its `seeds`, else its OSS-Fuzz seed archive's
/// directory once `fuzzfleet build` (or `run`, which builds first) has unpacked it.
pub fn seeds_of(t: &TargetPlan) -> Option<PathBuf> {
    t.seeds.clone().or_else(|| {
        t.seed_zip
            .as_deref()
            .map(fleet_build::seed_archive_dir)
            .filter(|d| d.is_dir())
    })
}

/// The crash pipeline's settings from `[crashes]`.
pub fn triage_config(plan: &Plan) -> fleet_run::triage::TriageConfig {
    let c = &plan.crashes;
    fleet_run::triage::TriageConfig {
        keep_inputs: usize::try_from(c.keep_inputs).unwrap_or(usize::MAX),
        repro_runs: c.repro_runs,
        minimize: fleet_crash::MinimizeOptions {
            budget: c.minimize_budget,
            step_time: c
                .minimize_budget
                .min(fleet_crash::MinimizeOptions::default().step_time),
            ..fleet_crash::MinimizeOptions::default()
        },
        nice: None,
        recoverable_severity: fleet_crash::recoverable_severity(Some(&c.recoverable_severity)),
    }
}

/// Every configured target whose binary exists, as the crash pipeline runs it (a target
/// not built here stays untriaged: its findings are listed as they are).
pub fn triage_targets(plan: &Plan) -> BTreeMap<String, fleet_run::triage::TriageTarget> {
    plan.targets
        .iter()
        .filter_map(|t| campaign_target(plan, t.name.as_str()).ok())
        .map(|t| (t.name.clone(), fleet_run::triage::TriageTarget::from(&t)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse_workers;

    #[test]
    fn workers_on_the_command_line_are_bounded() {
        assert_eq!(parse_workers("1").unwrap().get(), 1);
        assert_eq!(parse_workers("4096").unwrap().get(), 4096);
        for bad in [
            "0",
            "4097",
            "18446744073709551615",
            "99999999999999999999",
            "-1",
            "x",
        ] {
            assert_eq!(
                parse_workers(bad).unwrap_err(),
                "expected a number of workers from 1 to 4096",
                "{bad}"
            );
        }
    }

    /// `[crashes] recoverable_severity` is checked against fleet-config's list, which
    /// must name exactly the crash pipeline's severities.
    #[test]
    fn config_severities_are_the_crash_pipelines() {
        let pipeline: Vec<&str> = fleet_crash::Severity::ALL
            .iter()
            .map(|s| s.as_str())
            .collect();
        assert_eq!(fleet_config::defaults::SEVERITIES.to_vec(), pipeline);
    }
}
