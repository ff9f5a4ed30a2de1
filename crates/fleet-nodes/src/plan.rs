//! From a validated config and the `run` options to the campaign the scheduler runs:
//! which tiers and targets, with which budgets and how many workers each.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use fleet_config::{Plan, TargetPlan, TargetSource, TierMode};
use fleet_run::CampaignTarget;
use fleet_run::schedule::{TierSpec, split_workers};

use crate::{Error, usage};

type Result<T> = std::result::Result<T, Error>;

/// What `run` (or an agent) was asked to run: the `--tier`, `--target`, `--budget`
/// and `--workers` options; empty lists select everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub tiers: Vec<String>,
    pub targets: Vec<String>,
    pub budget: Option<Duration>,
    pub workers: Option<std::num::NonZeroUsize>,
}

/// Name of the tier made for `--target` names that are in no selected tier.
pub const ADHOC_TIER: &str = "targets";
/// Budget of that tier without `--budget`.
const ADHOC_BUDGET: Duration = Duration::from_secs(3600);

/// `--workers N`: from 1 to the config's ceiling, so a huge number is a usage error
/// rather than a plan too large to allocate.
pub fn parse_workers(text: &str) -> std::result::Result<std::num::NonZeroUsize, String> {
    let max = fleet_config::defaults::MAX_WORKERS;
    match text.trim().parse::<u64>() {
        Ok(n) if (1..=max).contains(&n) => {
            Ok(std::num::NonZeroUsize::new(n as usize).expect("not zero"))
        }
        _ => Err(format!("expected a number of workers from 1 to {max}")),
    }
}

/// Worker processes in all: `--workers`, else the config's, else one per core.
pub fn total_workers(plan: &Plan, args: &Selection) -> usize {
    args.workers
        .or(plan.workers)
        .map(|n| n.get())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The tiers to run, with the `run` options applied.
pub fn tiers(plan: &Plan, args: &Selection, workers: usize) -> Result<Vec<TierSpec>> {
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
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| usage(format!("target {name}: {e}")))?,
        env: env_of(plan, t),
        afl: None,
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
    use std::os::unix::fs::PermissionsExt as _;
    use std::path::Path;
    use std::time::Duration;

    use super::*;

    fn executable(path: &Path) {
        std::fs::write(path, b"").unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// A config of `head` and prebuilt targets `a`, `b`, `c` (each an executable file
    /// in `dir`).
    fn plan_with(dir: &Path, head: &str) -> Plan {
        let mut text = format!("{head}\n");
        for name in ["a", "b", "c"] {
            let bin = dir.join(name);
            executable(&bin);
            text.push_str(&format!(
                "[[target]]\nname = \"{name}\"\nbinary = \"{}\"\n",
                bin.display()
            ));
        }
        fleet_config::parse(&dir.join("fleet.toml"), &text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn usage_of<T: std::fmt::Debug>(r: Result<T>) -> String {
        match r {
            Err(Error::Usage(m)) => m,
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    const TWO_TIERS: &str = "[tier.fast]\ntargets = [\"a\", \"b\"]\nbudget = \"10m\"\n\
         mode = \"parallel\"\nslice = \"2m\"\n\
         [tier.slow]\ntargets = [\"c\"]\nbudget = \"2h\"\nworkers = 1\n";

    #[test]
    fn every_tier_runs_with_its_budget_mode_and_a_share_of_the_workers() {
        let dir = fleet_testkit::state_temp_dir();
        let plan = plan_with(dir.path(), TWO_TIERS);
        let specs = tiers(&plan, &Selection::default(), 5).unwrap();
        let got: Vec<_> = specs
            .iter()
            .map(|s| {
                (
                    s.name.as_str(),
                    s.targets.clone(),
                    s.budget,
                    s.slice,
                    s.workers,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "fast",
                    vec!["a".to_string(), "b".to_string()],
                    Duration::from_secs(600),
                    Some(Duration::from_secs(120)),
                    4
                ),
                (
                    "slow",
                    vec!["c".to_string()],
                    Duration::from_secs(7200),
                    None,
                    1
                ),
            ]
        );
    }

    #[test]
    fn the_options_narrow_the_tiers_and_override_the_budget() {
        let dir = fleet_testkit::state_temp_dir();
        let plan = plan_with(dir.path(), TWO_TIERS);
        let sel = Selection {
            tiers: vec!["fast".into()],
            targets: vec!["b".into()],
            budget: Some(Duration::from_secs(10)),
            workers: None,
        };
        let specs = tiers(&plan, &sel, 2).unwrap();
        assert_eq!(specs.len(), 1);
        assert_eq!(specs[0].name, "fast");
        assert_eq!(specs[0].targets, ["b"]);
        assert_eq!(specs[0].budget, Duration::from_secs(10));
        assert_eq!(specs[0].workers, 2);
    }

    /// A `--target` in no selected tier runs in a tier of its own, in parallel.
    #[test]
    fn a_target_in_no_selected_tier_gets_the_adhoc_tier() {
        let dir = fleet_testkit::state_temp_dir();
        let plan = plan_with(dir.path(), TWO_TIERS);
        let sel = Selection {
            tiers: vec!["fast".into()],
            targets: vec!["a".into(), "c".into()],
            ..Selection::default()
        };
        let specs = tiers(&plan, &sel, 4).unwrap();
        let names: Vec<_> = specs
            .iter()
            .map(|s| (s.name.as_str(), s.targets.clone()))
            .collect();
        assert_eq!(
            names,
            [
                ("fast", vec!["a".to_string()]),
                (ADHOC_TIER, vec!["c".to_string()])
            ]
        );
        assert_eq!(specs[1].budget, ADHOC_BUDGET);
        assert_eq!(specs[1].slice, Some(TierMode::DEFAULT_SLICE));
        assert_eq!(specs.iter().map(|s| s.workers).sum::<usize>(), 4);
    }

    #[test]
    fn unknown_names_are_usage_errors_that_say_what_exists() {
        let dir = fleet_testkit::state_temp_dir();
        let plan = plan_with(dir.path(), TWO_TIERS);
        let tier = Selection {
            tiers: vec!["nope".into()],
            ..Selection::default()
        };
        assert_eq!(
            usage_of(tiers(&plan, &tier, 2)),
            "no tier named \"nope\" (the config has: fast, slow)"
        );
        let target = Selection {
            targets: vec!["zz".into()],
            ..Selection::default()
        };
        assert!(usage_of(tiers(&plan, &target, 2)).starts_with("no target named \"zz\""));
        assert!(usage_of(campaign_target(&plan, "zz")).starts_with("no target named \"zz\" in "));
    }

    #[test]
    fn workers_come_from_the_option_then_the_config() {
        let dir = fleet_testkit::state_temp_dir();
        let plan = plan_with(dir.path(), &format!("workers = 3\n{TWO_TIERS}"));
        assert_eq!(total_workers(&plan, &Selection::default()), 3);
        let sel = Selection {
            workers: std::num::NonZeroUsize::new(7),
            ..Selection::default()
        };
        assert_eq!(total_workers(&plan, &sel), 7);
    }

    /// A target's binary must exist for a campaign to run it; its flags are checked.
    #[test]
    fn a_campaign_target_needs_its_binary_and_takes_its_options() {
        let dir = fleet_testkit::state_temp_dir();
        let seeds = dir.path().join("seeds");
        std::fs::create_dir(&seeds).unwrap();
        executable(&dir.path().join("d"));
        let plan = plan_with(
            dir.path(),
            "[[target]]\nname = \"d\"\nbinary = \"d\"\nseeds = \"seeds\"\n\
             rss_limit_mb = 1000\ntimeout_s = 7\nmax_len = 64\nargs = [\"-use_value_profile=1\"]\n",
        );
        let t = campaign_target(&plan, "d").unwrap();
        assert_eq!(t.binary, dir.path().join("d"));
        assert_eq!(t.seeds, Some(seeds));
        assert_eq!(
            (t.rss_limit_mb, t.timeout_s, t.max_len),
            (1000, 7, Some(64))
        );
        assert_eq!(t.extra_args.len(), 1);
        assert!(t.env.is_empty(), "a prebuilt target gets no ASAN_OPTIONS");
        std::fs::remove_file(dir.path().join("d")).unwrap();
        let gone = usage_of(campaign_target(&plan, "d"));
        assert!(
            gone.contains("does not exist (run `fuzzfleet build d`)"),
            "{gone}"
        );
        // The crash pipeline takes the targets that are built, and only those.
        let triage = triage_targets(&plan);
        assert_eq!(triage.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
    }

    #[test]
    fn the_crash_pipeline_takes_the_crashes_section() {
        let dir = fleet_testkit::state_temp_dir();
        let plan = plan_with(
            dir.path(),
            "[crashes]\nkeep_inputs = 7\nrepro_runs = 5\nminimize_budget = \"2s\"\n\
             recoverable_severity = \"high\"\n",
        );
        let c = triage_config(&plan);
        assert_eq!(c.keep_inputs, 7);
        assert_eq!(c.repro_runs, 5);
        assert_eq!(c.minimize.budget, Duration::from_secs(2));
        // A step never takes longer than the whole budget.
        assert_eq!(c.minimize.step_time, Duration::from_secs(2));
        assert_eq!(
            c.recoverable_severity,
            fleet_crash::recoverable_severity(Some("high"))
        );
    }

    /// An OSS-Fuzz seed archive (found beside a harness) is unpacked by a build; the
    /// target then seeds from it.
    #[test]
    fn a_seed_archive_is_built_and_then_seeds_its_target() {
        let dir = fleet_testkit::state_temp_dir();
        let mut plan = plan_with(dir.path(), "");
        let zip = dir.path().join("a_seed_corpus.zip");
        std::fs::write(&zip, b"").unwrap();
        plan.targets[0].seed_zip = Some(zip.clone());
        let set = project_targets(&plan, ["a", "b"]);
        assert!(set.cargo.is_empty() && set.harnesses.is_empty());
        assert_eq!(set.seed_archives, ["a"]);
        assert!(!set.is_empty());
        let t = plan.target("a").unwrap();
        assert_eq!(seeds_of(t), None, "not unpacked yet");
        let unpacked = fleet_build::seed_archive_dir(&zip);
        std::fs::create_dir_all(&unpacked).unwrap();
        assert_eq!(seeds_of(t), Some(unpacked));
        assert!(project_targets(&plan, ["b"]).is_empty());
        assert_eq!(everything(&plan).seed_archives, ["a"]);
    }

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
