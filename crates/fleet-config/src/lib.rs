//! `fleet.toml`: loaded in two stages, raw serde structs that refuse unknown keys and
//! keep spans (the private `raw` module), then validation into a [`Plan`] in which
//! every name, path, number and cross-reference has been checked and every default
//! applied. Errors name the file, the line and the dotted key:
//!
//! ```text
//! fleet.toml:14: tier.tier1.budget: invalid duration "48x" (expected e.g. "30s", "12h", "2d")
//! ```
//!
//! and a load reports every problem it finds, in line order (the first in
//! [`ConfigError`]'s fields, the rest in its `others`). `docs/config.md` at the
//! repository root is the reference of every key.

mod discover;
mod error;
mod harness;
mod locate;
mod names;
mod plan;
mod raw;
mod types;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::de::DeTable;

pub use discover::{DiscoverError, FUZZ_TARGETS_DIR, ProjectTarget, discover_targets, fuzz_dir};
pub use error::ConfigError;
pub use harness::{
    FUZZ_ENTRY, FoundHarness, OptionLine, find_harnesses, glob_match, is_libfuzzer_binary,
    libfuzzer_options,
};
pub use names::{MAX_NAME_LEN, NameError, NodeName, TargetName, TierName};
pub use plan::{
    AflBinaries, AlertsPlan, BuildStep, CorpusPlan, CoverageBuild, CoveragePlan, CrashesPlan,
    HarnessPlan, HubPlan, NodePlan, Plan, ProjectPlan, TargetPlan, TargetSource, TierPlan,
    defaults,
};
pub use types::{
    AflppChoice, Engine, HttpUrl, HubUrl, Sanitizer, Schedule, SshDest, TierMode, parse_engines,
};

use error::{Problem, reword_serde};
use locate::Locator;
use raw::RawConfig;

/// Reads and validates the config file at `path`.
pub fn load(path: &Path) -> Result<Plan, ConfigError> {
    load_with_afl(path).map(|(plan, _)| plan)
}

/// [`load`], and the AFL++ builds of prebuilt targets (`afl_binary`,
/// `afl_cmplog_binary`) by target name; empty when `[defaults] engines` leaves AFL++
/// out. (Kept beside the plan rather than in [`TargetPlan`] until every reader of a
/// target plan handles them.)
pub fn load_with_afl(
    path: &Path,
) -> Result<(Plan, BTreeMap<TargetName, AflBinaries>), ConfigError> {
    let bytes = std::fs::read(path)
        .map_err(|e| ConfigError::new(path, None, "", format!("cannot read config file: {e}")))?;
    match String::from_utf8(bytes) {
        Ok(text) => parse_with_afl(path, &text),
        Err(e) => Err(not_utf8(path, e.as_bytes(), e.utf8_error())),
    }
}

/// Invalid UTF-8: the line and column of the first bad byte, and the key on that line
/// (read from the text with bad bytes replaced, which keeps the prefix's offsets).
fn not_utf8(path: &Path, bytes: &[u8], e: std::str::Utf8Error) -> ConfigError {
    let at = e.valid_up_to();
    let text = String::from_utf8_lossy(bytes);
    let (root, _) = DeTable::parse_recoverable(&text);
    let locator = Locator::new(&text, root.get_ref());
    let line_start = bytes[..at]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = 1 + String::from_utf8_lossy(&bytes[line_start..at])
        .chars()
        .count();
    ConfigError::new(
        path,
        Some(locator.line(at)),
        locator.key(&(at..at + 1)),
        format!(
            "invalid UTF-8 (byte 0x{:02x} at column {column}): the file must be UTF-8 text",
            bytes[at]
        ),
    )
}

/// Validates `text` as the contents of the config file at `path`. Paths in it are
/// resolved against `path`'s directory and checked on disk, as by [`load`].
pub fn parse(path: &Path, text: &str) -> Result<Plan, ConfigError> {
    parse_with_afl(path, text).map(|(plan, _)| plan)
}

/// [`parse`], and the AFL++ builds of prebuilt targets, as [`load_with_afl`].
pub fn parse_with_afl(
    path: &Path,
    text: &str,
) -> Result<(Plan, BTreeMap<TargetName, AflBinaries>), ConfigError> {
    let (root, syntax_errors) = DeTable::parse_recoverable(text);
    let locator = Locator::new(text, root.get_ref());
    let located = |problem: Problem| {
        let (line, key) = match &problem.span {
            Some(span) => (Some(locator.line(span.start)), locator.key(span)),
            None => (None, String::new()),
        };
        ConfigError::new(path, line, key, problem.message)
    };
    if !syntax_errors.is_empty() {
        let errors = syntax_errors
            .iter()
            .map(|e| {
                located(Problem {
                    span: e.span(),
                    message: format!("invalid TOML: {}", e.message()),
                })
            })
            .collect();
        return Err(ConfigError::gather(errors).expect("at least one syntax error"));
    }
    if root.get_ref().is_empty() {
        return Err(ConfigError::new(
            path,
            None,
            "",
            "the config has no settings (it is empty or only comments): declare what to fuzz \
             with [[target]], [[project]] or [[harnesses]] (`fuzzfleet init` writes a config \
             for the current directory; docs/config.md lists every key)",
        ));
    }
    let raw = RawConfig::deserialize(toml::Deserializer::from(root)).map_err(|e| {
        located(Problem {
            span: e.span(),
            message: reword_serde(e.message()),
        })
    })?;
    let file = absolute(path);
    let base_dir = file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    let mut ctx = validate::Ctx::new(&base_dir, &locator);
    let (plan, afl) = validate::plan(&mut ctx, file.clone(), raw);
    let mut errors: Vec<ConfigError> = ctx.problems.into_iter().map(located).collect();
    errors.extend(ctx.elsewhere);
    match ConfigError::gather(errors) {
        None => Ok((plan, afl)),
        Some(errors) => Err(errors),
    }
}

/// The file's absolute path (without resolving symlinks: the user's spelling of the
/// directory is the one messages should show).
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}
