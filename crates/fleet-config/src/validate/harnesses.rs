//! `[[harnesses]]`: a directory of prebuilt C/C++ harnesses, each a target with its
//! options from `[defaults]`, its `.options` file's `[libfuzzer]` section, and its
//! seeds and dictionary found by convention.

use std::path::Path;

use super::Ctx;
use super::targets::Defaults;
use super::values::{self, Expect};
use crate::error::ConfigError;
use crate::harness::{self, FoundHarness};
use crate::plan::{BuildStep, HarnessPlan, TargetPlan, TargetSource, defaults};
use crate::raw::RawHarnesses;

/// The `[[harnesses]]` entry validated, and the harnesses found in its directory (not
/// yet checked against other targets' names).
pub(super) struct Group {
    pub plan: HarnessPlan,
    pub found: Vec<(FoundHarness, TargetPlan)>,
}

/// `None` when the entry itself is invalid (the problems are recorded).
pub(super) fn group(ctx: &mut Ctx<'_>, raw: &RawHarnesses, defaults: &Defaults) -> Option<Group> {
    let before = ctx.problems.len();
    let dir = ctx.resolve(raw.dir.get_ref());
    let glob = match &raw.glob {
        None => "*".to_owned(),
        Some(g) if g.get_ref().is_empty() || g.get_ref().contains('/') => {
            ctx.error(
                g.span(),
                format!(
                    "invalid glob \"{}\": a pattern of file names in `dir`, such as \"fuzz_*\" (no '/')",
                    g.get_ref()
                ),
            );
            String::new()
        }
        Some(g) => g.get_ref().clone(),
    };
    let strip_prefix = raw.strip_prefix.as_ref().map(|p| p.get_ref().clone());
    let build = raw.build.as_ref().and_then(|command| {
        if command.get_ref().trim().is_empty() {
            ctx.error(
                command.span(),
                "`build` is empty (expected a shell command such as \"make -j fuzz\")",
            );
            return None;
        }
        let dir = match &raw.build_dir {
            Some(d) => values::existing_path(ctx, d, "build_dir", Expect::Directory)?,
            None => ctx.base_dir.to_path_buf(),
        };
        Some(BuildStep {
            command: command.get_ref().clone(),
            dir,
            env: env(ctx, raw),
        })
    });
    if let (Some(d), None) = (&raw.build_dir, &raw.build) {
        ctx.error(d.span(), "`build_dir` is only used with `build`");
    }
    if let (Some(e), None) = (&raw.env, &raw.build) {
        ctx.error(e.span(), "`env` is only used with `build`");
    }
    let seeds = raw
        .seeds
        .as_ref()
        .and_then(|s| values::existing_path(ctx, s, "seeds", Expect::Directory));
    let dicts = raw
        .dicts
        .as_ref()
        .and_then(|d| values::existing_path(ctx, d, "dicts", Expect::Directory));
    if ctx.problems.len() != before {
        return None;
    }
    let found = match std::fs::metadata(&dir) {
        Ok(meta) if !meta.is_dir() => {
            ctx.error(
                raw.dir.span(),
                format!("harness dir \"{}\" is not a directory", dir.display()),
            );
            return None;
        }
        Ok(_) => match harness::find_harnesses(&dir, &glob, strip_prefix.as_deref()) {
            Ok(found) => found,
            Err(e) => {
                ctx.error(
                    raw.dir.span(),
                    format!("cannot read harness dir \"{}\": {e}", dir.display()),
                );
                return None;
            }
        },
        Err(_) if build.is_some() => Vec::new(),
        Err(e) => {
            ctx.error(
                raw.dir.span(),
                format!(
                    "harness dir \"{}\" cannot be read: {e} (set `build` to the command that makes it)",
                    dir.display()
                ),
            );
            return None;
        }
    };
    if found.is_empty() && build.is_none() {
        ctx.error(
            raw.dir.span(),
            format!(
                "no libFuzzer harness matching \"{glob}\" in \"{}\" (executables that define {})",
                dir.display(),
                harness::FUZZ_ENTRY
            ),
        );
        return None;
    }
    let found = found
        .into_iter()
        .map(|h| {
            let plan = target(ctx, &h, defaults, seeds.as_deref(), dicts.as_deref());
            (h, plan)
        })
        .collect::<Vec<_>>();
    Some(Group {
        plan: HarnessPlan {
            built: !found.is_empty(),
            dir,
            glob,
            strip_prefix,
            build,
            targets: Vec::new(),
        },
        found,
    })
}

/// `env = { NAME = "value" }`: names as a shell would take them.
fn env(ctx: &mut Ctx<'_>, raw: &RawHarnesses) -> Vec<(String, String)> {
    let Some(table) = &raw.env else {
        return Vec::new();
    };
    let mut vars = Vec::new();
    for (name, value) in table.get_ref() {
        let n = name.get_ref();
        let ok = n
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if ok {
            vars.push((n.clone(), value.get_ref().clone()));
        } else {
            ctx.error(
                name.span(),
                format!("invalid environment variable name \"{n}\" (letters, digits and '_')"),
            );
        }
    }
    vars
}

/// A found harness as a target: `[defaults]`, then its `.options`; seeds from the
/// entry's `seeds/NAME/`, dictionary from `<binary>.dict`, else the entry's
/// `dicts/NAME.dict`.
fn target(
    ctx: &mut Ctx<'_>,
    h: &FoundHarness,
    defaults: &Defaults,
    seeds: Option<&Path>,
    dicts: Option<&Path>,
) -> TargetPlan {
    let mut plan = TargetPlan {
        // A placeholder name: the caller checks the real one against other targets.
        name: crate::TargetName::new("x").expect("a valid name"),
        engine: defaults.engine,
        source: TargetSource::Binary(h.binary.clone()),
        dict: h.dict.clone().or_else(|| {
            dicts
                .map(|d| d.join(format!("{}.dict", h.name)))
                .filter(|p| p.is_file())
        }),
        seeds: seeds.map(|s| s.join(&h.name)).filter(|p| p.is_dir()),
        seed_zip: h.seed_zip.clone(),
        rss_limit_mb: defaults.rss_limit_mb,
        timeout_s: defaults.timeout_s,
        max_len: defaults.max_len,
        sanitizer: defaults.sanitizer,
        args: defaults.args.clone(),
        coverage: None,
    };
    if let Some(options) = &h.options {
        apply_options_file(ctx, options, &mut plan);
    }
    plan
}

/// The `[libfuzzer]` section of an OSS-Fuzz `.options` file: `max_len`, `timeout`,
/// `rss_limit_mb` and `dict` set the target's own keys; the flags fuzzfleet sets
/// itself are left out; every other `key = value` becomes `-key=value`. Problems are
/// reported with the `.options` file's own path and line.
fn apply_options_file(ctx: &mut Ctx<'_>, path: &Path, plan: &mut TargetPlan) {
    let mut problem = |line: Option<usize>, key: &str, message: String| {
        ctx.elsewhere
            .push(ConfigError::new(path, line, key, message));
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => return problem(None, "", format!("cannot read options file: {e}")),
    };
    let lines = match harness::libfuzzer_options(&text) {
        Ok(lines) => lines,
        Err((line, message)) => return problem(Some(line), "", message),
    };
    for o in lines {
        let key = format!("libfuzzer.{}", o.key);
        let number = |max: u64| match o.value.parse::<u64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(format!(
                "must be an integer from 1 to {max}, got \"{}\"",
                o.value
            )),
        };
        match o.key.as_str() {
            "max_len" => match number(defaults::MAX_MAX_LEN) {
                Ok(n) => plan.max_len = usize::try_from(n).ok(),
                Err(m) => problem(Some(o.line), &key, m),
            },
            "timeout" => match number(defaults::MAX_TIMEOUT_S) {
                Ok(n) => plan.timeout_s = n,
                Err(m) => problem(Some(o.line), &key, m),
            },
            "rss_limit_mb" => match number(defaults::MAX_RSS_LIMIT_MB) {
                Ok(n) => plan.rss_limit_mb = n,
                Err(m) => problem(Some(o.line), &key, m),
            },
            "dict" => {
                let dict = path.parent().unwrap_or(Path::new("/")).join(&o.value);
                if dict.is_file() {
                    plan.dict = Some(dict);
                } else {
                    problem(
                        Some(o.line),
                        &key,
                        format!("dict \"{}\" is not a file", dict.display()),
                    );
                }
            }
            name if values::set_by_fuzzfleet(name) => {}
            _ => match values::libfuzzer_flag(&format!("-{}={}", o.key, o.value)) {
                Ok(flag) => plan.args.push(flag),
                Err(m) => problem(Some(o.line), &key, m),
            },
        }
    }
}
