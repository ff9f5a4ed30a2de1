//! Checks of single values shared by every section: durations, counts, percentages,
//! strings parsed into domain types, paths on disk, libFuzzer flags.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use toml::Spanned;

use super::Ctx;
use crate::raw::RawDuration;

pub(super) fn duration(ctx: &mut Ctx<'_>, value: &Spanned<RawDuration>) -> Option<Duration> {
    let text = &value.get_ref().0;
    match humantime::parse_duration(text) {
        Ok(d) if d.is_zero() => {
            ctx.error(
                value.span(),
                format!("duration \"{text}\" must be positive"),
            );
            None
        }
        Ok(d) => Some(d),
        Err(_) => {
            ctx.error(
                value.span(),
                format!("invalid duration \"{text}\" (expected e.g. \"30s\", \"12h\", \"2d\")"),
            );
            None
        }
    }
}

/// A count or size that must be at least 1.
pub(super) fn positive(ctx: &mut Ctx<'_>, value: &Spanned<i64>) -> Option<u64> {
    match u64::try_from(*value.get_ref()) {
        Ok(n) if n > 0 => Some(n),
        _ => {
            ctx.error(
                value.span(),
                format!("must be a positive integer, got {}", value.get_ref()),
            );
            None
        }
    }
}

/// A count or size from 1 to `max`; `unit` names what is counted in the message.
pub(super) fn bounded(
    ctx: &mut Ctx<'_>,
    value: &Spanned<i64>,
    max: u64,
    unit: &str,
) -> Option<u64> {
    match u64::try_from(*value.get_ref()) {
        Ok(n) if n > max => {
            ctx.error(
                value.span(),
                format!("must be at most {max} {unit}, got {n}"),
            );
            None
        }
        _ => positive(ctx, value),
    }
}

pub(super) fn percent(ctx: &mut Ctx<'_>, value: &Spanned<i64>) -> Option<u8> {
    match u8::try_from(*value.get_ref()) {
        Ok(n) if (1..=100).contains(&n) => Some(n),
        _ => {
            ctx.error(
                value.span(),
                format!(
                    "must be a percentage from 1 to 100, got {}",
                    value.get_ref()
                ),
            );
            None
        }
    }
}

/// A string parsed by a domain type whose error is already a full message.
pub(super) fn parsed<T: FromStr<Err = String>>(
    ctx: &mut Ctx<'_>,
    value: &Spanned<String>,
) -> Option<T> {
    value
        .get_ref()
        .parse()
        .map_err(|message: String| ctx.error(value.span(), message))
        .ok()
}

/// What a path in the config must be on disk.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Expect {
    File,
    Directory,
    Executable,
}

/// Resolves a path against the config's directory and checks it; `what` names it in
/// the message ("binary", "dict", "seeds").
pub(super) fn existing_path(
    ctx: &mut Ctx<'_>,
    value: &Spanned<String>,
    what: &str,
    expect: Expect,
) -> Option<PathBuf> {
    let path = ctx.resolve(value.get_ref());
    let shown = path.display();
    let problem = match std::fs::metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Some(format!("{what} \"{shown}\" does not exist"))
        }
        Err(e) => Some(format!("{what} \"{shown}\" cannot be read: {e}")),
        Ok(meta) => match expect {
            Expect::Directory if !meta.is_dir() => {
                Some(format!("{what} \"{shown}\" is not a directory"))
            }
            Expect::File | Expect::Executable if !meta.is_file() => {
                Some(format!("{what} \"{shown}\" is not a file"))
            }
            Expect::Executable if !is_executable(&meta) => Some(format!(
                "{what} \"{shown}\" is not executable (chmod +x it)"
            )),
            _ => None,
        },
    };
    match problem {
        Some(message) => {
            ctx.error(value.span(), message);
            None
        }
        None => Some(path),
    }
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &std::fs::Metadata) -> bool {
    true
}

/// libFuzzer flags that have their own key, or that fuzzfleet sets itself because the
/// campaign depends on them (where artifacts go, how long and how many processes run,
/// whether status lines reach the stats parser).
const RESERVED_FLAGS: &[(&str, &str)] = &[
    ("rss_limit_mb", "set it with the `rss_limit_mb` key"),
    ("timeout", "set it with the `timeout_s` key"),
    ("dict", "set it with the `dict` key"),
    ("max_len", "set it with the `max_len` key"),
    ("artifact_prefix", "fuzzfleet sets it to keep every finding"),
    (
        "exact_artifact_path",
        "fuzzfleet sets it to keep every finding",
    ),
    ("close_fd_mask", "fuzzfleet reads the fuzzer's output"),
    (
        "max_total_time",
        "tier budgets decide how long a target runs",
    ),
    ("runs", "tier budgets decide how long a target runs"),
    ("jobs", "the campaign decides how many workers run"),
    ("workers", "the campaign decides how many workers run"),
    ("fork", "the campaign decides how workers run"),
    ("merge", "the campaign decides how workers run"),
];

/// Extra libFuzzer flags: each `-name=value`, none of the reserved ones.
pub(super) fn libfuzzer_args(
    ctx: &mut Ctx<'_>,
    list: &Spanned<Vec<Spanned<String>>>,
) -> Vec<String> {
    let mut args = Vec::new();
    for arg in list.get_ref() {
        match libfuzzer_flag(arg.get_ref()) {
            Ok(flag) => args.push(flag),
            Err(message) => ctx.error(arg.span(), message),
        }
    }
    args
}

/// One libFuzzer flag, `-name=value`, not one of the reserved ones.
pub(super) fn libfuzzer_flag(text: &str) -> Result<String, String> {
    let name = text
        .strip_prefix('-')
        .and_then(|rest| rest.split_once('='))
        .map(|(name, _)| name)
        .filter(|name| {
            name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    match name {
        None => Err(format!(
            "invalid libFuzzer flag \"{text}\" (expected \"-name=value\")"
        )),
        Some(name) => match RESERVED_FLAGS.iter().find(|(flag, _)| *flag == name) {
            Some((_, why)) => Err(format!(
                "libFuzzer flag \"-{name}\" cannot be set in args: {why}"
            )),
            None => Ok(text.to_owned()),
        },
    }
}

/// Flags fuzzfleet sets itself whatever a harness's `.options` says (the ones with a
/// key of their own are not among them).
pub(super) fn set_by_fuzzfleet(name: &str) -> bool {
    RESERVED_FLAGS
        .iter()
        .any(|(flag, why)| *flag == name && !why.starts_with("set it with"))
}

/// " (did you mean \"x\"?)" when a known name is one or two edits away, else "".
pub(super) fn suggestion<'n>(name: &str, known: impl IntoIterator<Item = &'n str>) -> String {
    known
        .into_iter()
        .map(|k| (edit_distance(name, k), k))
        .filter(|(d, k)| *d <= 2 && *d < k.len().max(name.len()))
        .min()
        .map(|(_, k)| format!(" (did you mean \"{k}\"?)"))
        .unwrap_or_default()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(cur).min(row[j])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_names_only() {
        assert_eq!(
            suggestion("merkel", ["merkle", "utxo"]),
            " (did you mean \"merkle\"?)"
        );
        assert_eq!(suggestion("block", ["merkle", "utxo"]), "");
        assert_eq!(suggestion("a", ["b"]), "");
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
