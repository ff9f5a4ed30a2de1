//! `[defaults]`, `[[project]]` and `[[target]]`: every target with its options resolved
//! (target's own value, else `[defaults]`, else the built-in default).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::PathBuf;

use toml::Spanned;

use super::Ctx;
use super::values::{self, Expect};
use crate::discover;
use crate::names::TargetName;
use crate::plan::{
    AflBinaries, CoverageBuild, HarnessPlan, ProjectPlan, TargetPlan, TargetSource, defaults,
};
use crate::raw::{RawDefaults, RawHarnesses, RawProject, RawTarget};
use crate::types::{AflppChoice, Engine, Sanitizer, parse_engines};

/// `[defaults]` resolved.
pub(super) struct Defaults {
    pub engine: Engine,
    pub rss_limit_mb: u64,
    pub timeout_s: u64,
    pub sanitizer: Sanitizer,
    pub max_len: Option<usize>,
    pub args: Vec<String>,
    pub aflpp: AflppChoice,
}

/// An `engines = [...]` list; `None` (recorded) when it is not a valid one.
fn engines(ctx: &mut Ctx<'_>, list: &Spanned<Vec<Spanned<String>>>) -> Option<AflppChoice> {
    parse_engines(list.get_ref().iter().map(|n| n.get_ref().as_str()))
        .map_err(|message| ctx.error(list.span(), message))
        .ok()
}

pub(super) fn defaults(ctx: &mut Ctx<'_>, raw: Option<&RawDefaults>) -> Defaults {
    let empty = RawDefaults::default();
    let raw = raw.unwrap_or(&empty);
    Defaults {
        engine: raw
            .engine
            .as_ref()
            .and_then(|e| values::parsed(ctx, e))
            .unwrap_or(Engine::LibFuzzer),
        rss_limit_mb: raw
            .rss_limit_mb
            .as_ref()
            .and_then(|v| rss_limit_mb(ctx, v))
            .unwrap_or(defaults::RSS_LIMIT_MB),
        timeout_s: raw
            .timeout_s
            .as_ref()
            .and_then(|v| timeout_s(ctx, v))
            .unwrap_or(defaults::TIMEOUT_S),
        sanitizer: raw
            .sanitizer
            .as_ref()
            .and_then(|s| values::parsed(ctx, s))
            .unwrap_or(Sanitizer::Address),
        max_len: max_len(ctx, raw.max_len.as_ref()),
        args: raw
            .args
            .as_ref()
            .map(|a| values::libfuzzer_args(ctx, a))
            .unwrap_or_default(),
        aflpp: raw
            .engines
            .as_ref()
            .and_then(|e| engines(ctx, e))
            .unwrap_or(AflppChoice::Auto),
    }
}

fn max_len(ctx: &mut Ctx<'_>, value: Option<&Spanned<i64>>) -> Option<usize> {
    value
        .and_then(|v| values::bounded(ctx, v, defaults::MAX_MAX_LEN, "bytes"))
        .and_then(|n| usize::try_from(n).ok())
}

fn rss_limit_mb(ctx: &mut Ctx<'_>, value: &Spanned<i64>) -> Option<u64> {
    values::bounded(ctx, value, defaults::MAX_RSS_LIMIT_MB, "MiB (1 TiB)")
}

fn timeout_s(ctx: &mut Ctx<'_>, value: &Spanned<i64>) -> Option<u64> {
    values::bounded(ctx, value, defaults::MAX_TIMEOUT_S, "seconds (one day)")
}

/// A target found so far, with where it was defined (for "first defined on line N").
struct Entry {
    plan: TargetPlan,
    defined_at: Range<usize>,
    /// Set once a `[[target]]` without `binary` has given this project target options.
    overridden_at: Option<Range<usize>>,
    /// Found in `Registry::harnesses[i]`'s directory.
    harness: Option<usize>,
}

/// The targets stage two knows of, and what it could not know: tiers referring to
/// a target that failed validation are not told it is unknown as well.
pub(super) struct Targets {
    pub projects: Vec<ProjectPlan>,
    pub harnesses: Vec<HarnessPlan>,
    pub targets: Vec<TargetPlan>,
    /// Declared targets that were rejected.
    pub rejected: BTreeSet<String>,
    /// A project failed to load, so its targets are unknown.
    pub incomplete: bool,
    /// Prebuilt targets' AFL++ builds (unless `[defaults] engines` leaves AFL++ out).
    pub afl: BTreeMap<TargetName, AflBinaries>,
}

impl Targets {
    /// Whether a reference to `name` may be reported as unknown.
    pub fn surely_unknown(&self, name: &str) -> bool {
        !self.incomplete && !self.rejected.contains(name)
    }
}

pub(super) fn projects_and_targets(
    ctx: &mut Ctx<'_>,
    raw_projects: &[Spanned<RawProject>],
    raw_harnesses: &[Spanned<RawHarnesses>],
    raw_targets: &[Spanned<RawTarget>],
    defaults: &Defaults,
) -> Targets {
    let mut registry = Registry::default();
    for raw in raw_projects {
        registry.add_project(ctx, raw.get_ref(), defaults);
    }
    for raw in raw_harnesses {
        registry.add_harnesses(ctx, raw.get_ref(), defaults);
    }
    for raw in raw_targets {
        registry.add_target(ctx, raw.get_ref(), defaults);
    }
    for h in &mut registry.harnesses {
        h.targets.sort();
    }
    Targets {
        projects: registry.projects,
        harnesses: registry.harnesses,
        targets: registry.entries.into_values().map(|e| e.plan).collect(),
        rejected: registry.rejected,
        incomplete: registry.incomplete,
        afl: if defaults.aflpp.wanted() {
            registry.afl
        } else {
            BTreeMap::new()
        },
    }
}

/// Targets as they are found, projects first, then `[[target]]` entries.
#[derive(Default)]
struct Registry {
    projects: Vec<ProjectPlan>,
    project_spans: Vec<Range<usize>>,
    harnesses: Vec<HarnessPlan>,
    entries: BTreeMap<TargetName, Entry>,
    rejected: BTreeSet<String>,
    /// A project failed to load: its targets are unknown, so entries naming them are
    /// not reported again as unknown.
    incomplete: bool,
    /// `afl_binary`/`afl_cmplog_binary` of prebuilt targets.
    afl: BTreeMap<TargetName, AflBinaries>,
}

impl Registry {
    fn add_project(&mut self, ctx: &mut Ctx<'_>, raw: &RawProject, defaults: &Defaults) {
        let Some((project, found)) = project(ctx, raw, defaults) else {
            self.incomplete = true;
            return;
        };
        if let Some(i) = self.projects.iter().position(|p| p.path == project.path) {
            let line = ctx.line(&self.project_spans[i]);
            ctx.error(
                raw.path.span(),
                format!(
                    "project \"{}\" is already declared on line {line}",
                    project.path.display()
                ),
            );
            return;
        }
        let index = self.projects.len();
        let mut names = Vec::new();
        for target in found {
            let name = match TargetName::new(target.name) {
                Ok(name) => name,
                Err(e) => {
                    ctx.error(
                        raw.path.span(),
                        format!("fuzz target of \"{}\": {e}", project.path.display()),
                    );
                    continue;
                }
            };
            if let Some(first) = self.entries.get(&name) {
                let line = ctx.line(&first.defined_at);
                ctx.error(
                    raw.path.span(),
                    format!("duplicate target name \"{name}\" (first defined on line {line})"),
                );
                continue;
            }
            let plan = TargetPlan {
                dict: Some(project.path.join("dicts").join(format!("{name}.dict")))
                    .filter(|p| p.is_file()),
                seeds: ["seeds", "corpus"]
                    .iter()
                    .map(|dir| project.path.join(dir).join(name.as_str()))
                    .find(|p| p.is_dir()),
                seed_zip: None,
                name: name.clone(),
                engine: defaults.engine,
                source: TargetSource::Project { project: index },
                rss_limit_mb: defaults.rss_limit_mb,
                timeout_s: defaults.timeout_s,
                max_len: defaults.max_len,
                sanitizer: project.sanitizer,
                args: defaults.args.clone(),
                coverage: None,
            };
            names.push(name.clone());
            self.entries.insert(
                name,
                Entry {
                    plan,
                    defined_at: raw.path.span(),
                    overridden_at: None,
                    harness: None,
                },
            );
        }
        names.sort();
        self.projects.push(ProjectPlan {
            targets: names,
            ..project
        });
        self.project_spans.push(raw.path.span());
    }

    /// The harnesses of a `[[harnesses]]` directory. A name already taken (by another
    /// harness or a project's target) is an error naming both; an entry whose
    /// directory is still to be built leaves the names the file uses open.
    fn add_harnesses(&mut self, ctx: &mut Ctx<'_>, raw: &RawHarnesses, defaults: &Defaults) {
        let Some(group) = super::harnesses::group(ctx, raw, defaults) else {
            self.incomplete = true;
            return;
        };
        if !group.plan.built {
            self.incomplete = true;
        }
        let index = self.harnesses.len();
        let mut names = Vec::new();
        for (found, mut plan) in group.found {
            let name = match TargetName::new(found.name.as_str()) {
                Ok(name) => name,
                Err(e) => {
                    ctx.error(
                        raw.dir.span(),
                        format!(
                            "harness \"{}\": {e} (set `strip_prefix`, or rename it)",
                            found.binary.display()
                        ),
                    );
                    continue;
                }
            };
            if let Some(first) = self.entries.get(&name) {
                let first_is = match &first.plan.source {
                    TargetSource::Binary(path) => format!("\"{}\"", path.display()),
                    TargetSource::Project { project } => format!(
                        "a target of project \"{}\"",
                        self.projects[*project].path.display()
                    ),
                };
                let line = ctx.line(&first.defined_at);
                ctx.error(
                    raw.dir.span(),
                    format!(
                        "target \"{name}\" is found twice: {first_is} (line {line}) and \"{}\" (rename one, or set `strip_prefix` or `glob`)",
                        found.binary.display()
                    ),
                );
                continue;
            }
            plan.name = name.clone();
            names.push(name.clone());
            self.entries.insert(
                name,
                Entry {
                    plan,
                    defined_at: raw.dir.span(),
                    overridden_at: None,
                    harness: Some(index),
                },
            );
        }
        self.harnesses.push(HarnessPlan {
            targets: names,
            ..group.plan
        });
    }

    fn add_target(&mut self, ctx: &mut Ctx<'_>, raw: &RawTarget, defaults: &Defaults) {
        let name = match TargetName::new(raw.name.get_ref().as_str()) {
            Ok(name) => name,
            Err(e) => {
                ctx.error(raw.name.span(), e.to_string());
                self.rejected.insert(raw.name.get_ref().clone());
                return;
            }
        };
        let duplicate = |ctx: &mut Ctx<'_>, first: &Range<usize>| {
            let line = ctx.line(first);
            ctx.error(
                raw.name.span(),
                format!("duplicate target name \"{name}\" (first defined on line {line})"),
            );
        };
        // An explicit `[[target]]` with its own binary wins over a found harness.
        if raw.binary.is_some()
            && let Some(i) = self.entries.get(&name).and_then(|e| e.harness)
        {
            self.entries.remove(&name);
            self.harnesses[i].targets.retain(|t| t != &name);
        }
        match (&raw.binary, self.entries.get_mut(&name)) {
            (Some(_), Some(first)) => duplicate(ctx, &first.defined_at),
            (Some(binary), None) => match prebuilt(ctx, raw, binary, name.clone(), defaults) {
                Some(plan) => {
                    if let Some(afl) = afl_binaries(ctx, raw) {
                        self.afl.insert(name.clone(), afl);
                    }
                    let entry = Entry {
                        plan,
                        defined_at: raw.name.span(),
                        overridden_at: None,
                        harness: None,
                    };
                    self.entries.insert(name, entry);
                }
                None => {
                    self.rejected.insert(name.to_string());
                }
            },
            (None, Some(entry)) => match (&entry.plan.source, &entry.overridden_at) {
                (_, Some(first)) => {
                    let line = ctx.line(first);
                    ctx.error(
                        raw.name.span(),
                        format!("options for target \"{name}\" are already given on line {line}"),
                    );
                }
                (TargetSource::Binary(_), None) if entry.harness.is_some() => {
                    override_harness_target(ctx, raw, &mut entry.plan);
                    if let Some(afl) = afl_binaries(ctx, raw) {
                        self.afl.insert(name.clone(), afl);
                    }
                    entry.overridden_at = Some(raw.name.span());
                }
                (TargetSource::Binary(_), None) => duplicate(ctx, &entry.defined_at),
                (TargetSource::Project { .. }, None) => {
                    override_project_target(ctx, raw, &mut entry.plan);
                    entry.overridden_at = Some(raw.name.span());
                }
            },
            (None, None) if !self.incomplete => {
                let hint = values::suggestion(
                    name.as_str(),
                    self.entries
                        .iter()
                        .filter(|(_, e)| matches!(e.plan.source, TargetSource::Project { .. }))
                        .map(|(n, _)| n.as_str()),
                );
                let hint = if hint.is_empty() {
                    " (set `binary` for a prebuilt target)".to_owned()
                } else {
                    hint
                };
                ctx.error(
                    raw.name.span(),
                    format!("target \"{name}\" has no `binary` and no project defines it{hint}"),
                );
            }
            (None, None) => {}
        }
    }
}

/// A `[[project]]` and the targets found in it; `None` when it is not a usable
/// cargo-fuzz project (the problem is recorded).
fn project(
    ctx: &mut Ctx<'_>,
    raw: &RawProject,
    defaults: &Defaults,
) -> Option<(ProjectPlan, Vec<discover::ProjectTarget>)> {
    // A bad toolchain or sanitizer is recorded but does not stop discovery: the
    // project's targets are still known, so nothing that names them is misreported.
    let toolchain = match &raw.toolchain {
        None => defaults::TOOLCHAIN.to_owned(),
        Some(t) if is_toolchain_name(t.get_ref()) => t.get_ref().clone(),
        Some(t) => {
            ctx.error(
                t.span(),
                format!(
                    "invalid toolchain \"{}\" (expected a rustup toolchain such as \"nightly\" or \"nightly-2025-06-01\")",
                    t.get_ref()
                ),
            );
            String::new()
        }
    };
    let sanitizer = match &raw.sanitizer {
        Some(s) => values::parsed(ctx, s).unwrap_or(defaults.sanitizer),
        None => defaults.sanitizer,
    };
    let aflpp = match &raw.engines {
        Some(list) => engines(ctx, list).unwrap_or(defaults.aflpp),
        None => defaults.aflpp,
    };
    let path = ctx.resolve(raw.path.get_ref());
    let found = discover::fuzz_dir(&path)
        .and_then(|dir| Ok((discover::discover_targets(&dir)?, dir)))
        .map_err(|e| ctx.error(raw.path.span(), e.to_string()))
        .ok();
    let (found, path) = found?;
    Some((
        ProjectPlan {
            path,
            toolchain,
            sanitizer,
            targets: Vec::new(),
            aflpp,
        },
        found,
    ))
}

/// Toolchain names go to `cargo +NAME`: keep them to what rustup names look like.
fn is_toolchain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// A `[[target]]` with `binary`.
fn prebuilt(
    ctx: &mut Ctx<'_>,
    raw: &RawTarget,
    binary: &Spanned<String>,
    name: TargetName,
    defaults: &Defaults,
) -> Option<TargetPlan> {
    let binary = values::existing_path(ctx, binary, "binary", Expect::Executable);
    let engine = match &raw.engine {
        Some(e) => values::parsed(ctx, e),
        None => Some(defaults.engine),
    };
    let sanitizer = match &raw.sanitizer {
        Some(s) => values::parsed(ctx, s),
        None => Some(defaults.sanitizer),
    };
    let mut plan = TargetPlan {
        name,
        engine: engine?,
        source: TargetSource::Binary(PathBuf::new()),
        dict: None,
        seeds: None,
        rss_limit_mb: defaults.rss_limit_mb,
        timeout_s: defaults.timeout_s,
        max_len: defaults.max_len,
        sanitizer: sanitizer?,
        args: defaults.args.clone(),
        seed_zip: None,
        coverage: None,
    };
    let ok = apply_options(ctx, raw, &mut plan);
    let binary = binary?;
    let (coverage, coverage_ok) = coverage_build(ctx, raw, &binary);
    plan.coverage = coverage;
    plan.source = TargetSource::Binary(binary);
    (ok && coverage_ok).then_some(plan)
}

/// A prebuilt target's `afl_binary` and `afl_cmplog_binary`, checked on disk; `None`
/// when it has none or they are not usable (recorded).
fn afl_binaries(ctx: &mut Ctx<'_>, raw: &RawTarget) -> Option<AflBinaries> {
    let cmplog = raw
        .afl_cmplog_binary
        .as_ref()
        .map(|c| values::existing_path(ctx, c, "afl_cmplog_binary", Expect::Executable));
    let Some(binary) = &raw.afl_binary else {
        if let Some(c) = &raw.afl_cmplog_binary {
            ctx.error(
                c.span(),
                "`afl_cmplog_binary` needs `afl_binary` (the AFL++ build CmpLog runs beside)",
            );
        }
        return None;
    };
    let binary = values::existing_path(ctx, binary, "afl_binary", Expect::Executable)?;
    let cmplog = match cmplog {
        None => None,
        Some(c) => Some(c?),
    };
    Some(AflBinaries { binary, cmplog })
}

/// A `[[target]]` without `binary`, naming a project target: its options replace the
/// defaults; engine and sanitizer belong to the project.
fn override_project_target(ctx: &mut Ctx<'_>, raw: &RawTarget, plan: &mut TargetPlan) {
    if let Some(engine) = &raw.engine {
        ctx.error(
            engine.span(),
            format!(
                "a project's targets are built for libfuzzer; `engine` cannot be set for \"{}\"",
                plan.name
            ),
        );
    }
    if let Some(sanitizer) = &raw.sanitizer {
        ctx.error(
            sanitizer.span(),
            format!(
                "\"{}\" is built by its project: set `sanitizer` on its [[project]]",
                plan.name
            ),
        );
    }
    for key in [&raw.afl_binary, &raw.afl_cmplog_binary]
        .into_iter()
        .flatten()
    {
        ctx.error(
            key.span(),
            format!(
                "\"{}\" is built by its project, whose AFL++ builds fuzzfleet makes (`engines`): `afl_binary` and `afl_cmplog_binary` are for prebuilt targets",
                plan.name
            ),
        );
    }
    for key in [&raw.coverage_build, &raw.coverage_binary]
        .into_iter()
        .flatten()
    {
        ctx.error(
            key.span(),
            format!(
                "\"{}\" is built by its project, whose coverage build is cargo-fuzz's: `coverage_build` and `coverage_binary` are for prebuilt targets",
                plan.name
            ),
        );
    }
    apply_options(ctx, raw, plan);
}

/// A `[[target]]` without `binary`, naming a harness found in a `[[harnesses]]`
/// directory: a prebuilt target, so every key but `binary` may be set.
fn override_harness_target(ctx: &mut Ctx<'_>, raw: &RawTarget, plan: &mut TargetPlan) {
    if let Some(engine) = raw.engine.as_ref().and_then(|e| values::parsed(ctx, e)) {
        plan.engine = engine;
    }
    if let Some(sanitizer) = raw.sanitizer.as_ref().and_then(|s| values::parsed(ctx, s)) {
        plan.sanitizer = sanitizer;
    }
    apply_options(ctx, raw, plan);
    if let TargetSource::Binary(binary) = &plan.source {
        let binary = binary.clone();
        let (coverage, _) = coverage_build(ctx, raw, &binary);
        if coverage.is_some() {
            plan.coverage = coverage;
        }
    }
}

/// `coverage_build` and `coverage_binary` of a prebuilt target; false when invalid.
fn coverage_build(
    ctx: &mut Ctx<'_>,
    raw: &RawTarget,
    binary: &std::path::Path,
) -> (Option<CoverageBuild>, bool) {
    match (&raw.coverage_build, &raw.coverage_binary) {
        (None, None) => (None, true),
        (Some(command), None) => {
            ctx.error(
                command.span(),
                "`coverage_build` needs `coverage_binary`: the path of the binary the command builds",
            );
            (None, false)
        }
        (None, Some(path)) => {
            match values::existing_path(ctx, path, "coverage_binary", Expect::Executable) {
                Some(binary) => (
                    Some(CoverageBuild {
                        command: None,
                        binary,
                    }),
                    true,
                ),
                None => (None, false),
            }
        }
        (Some(command), Some(path)) => {
            let mut ok = true;
            if command.get_ref().trim().is_empty() {
                ctx.error(
                    command.span(),
                    "`coverage_build` is empty (expected a shell command that builds `coverage_binary`)",
                );
                ok = false;
            }
            let resolved = ctx.resolve(path.get_ref());
            if resolved == binary {
                ctx.error(
                    path.span(),
                    format!(
                        "coverage_binary \"{}\" is the fuzzing binary: the coverage build must not overwrite it",
                        resolved.display()
                    ),
                );
                ok = false;
            }
            let plan = CoverageBuild {
                command: Some(command.get_ref().clone()),
                binary: resolved,
            };
            (ok.then_some(plan), ok)
        }
    }
}

/// The options every `[[target]]` may set. False when one of them was invalid.
fn apply_options(ctx: &mut Ctx<'_>, raw: &RawTarget, plan: &mut TargetPlan) -> bool {
    let before = ctx.problems.len();
    if let Some(dict) = &raw.dict {
        plan.dict = values::existing_path(ctx, dict, "dict", Expect::File);
    }
    if let Some(seeds) = &raw.seeds {
        plan.seeds = values::existing_path(ctx, seeds, "seeds", Expect::Directory);
    }
    if let Some(v) = &raw.rss_limit_mb {
        plan.rss_limit_mb = rss_limit_mb(ctx, v).unwrap_or(plan.rss_limit_mb);
    }
    if let Some(v) = &raw.timeout_s {
        plan.timeout_s = timeout_s(ctx, v).unwrap_or(plan.timeout_s);
    }
    if raw.max_len.is_some() {
        plan.max_len = max_len(ctx, raw.max_len.as_ref());
    }
    if let Some(args) = &raw.args {
        let extra = values::libfuzzer_args(ctx, args);
        plan.args.extend(extra);
    }
    ctx.problems.len() == before
}
