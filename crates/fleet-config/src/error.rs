//! Config errors as users see them: each problem names the file, the 1-based line and
//! the dotted key, and a load reports every problem it found, not just the first.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

/// A config that failed to load: the first problem (in line order) in the fields, and
/// every further problem of the same load in `others`. Displayed one problem per line,
/// each as `fleet.toml:14: tier.tier1.budget: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The config file, as the caller named it.
    pub path: PathBuf,
    /// 1-based line of the offending key or value; `None` when the problem is the whole
    /// file (it cannot be read).
    pub line: Option<usize>,
    /// Dotted key, e.g. `tier.tier1.budget` or `target[2].dict` (array indices are
    /// 0-based, in file order); empty when no key is involved.
    pub key: String,
    /// What is wrong, and what was expected.
    pub message: String,
    /// The other problems found in the same load, in line order; their own `others`
    /// are empty.
    pub others: Vec<ConfigError>,
}

impl ConfigError {
    /// A problem on its own, with no others.
    pub fn new(
        path: impl Into<PathBuf>,
        line: Option<usize>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ConfigError {
            path: path.into(),
            line,
            key: key.into(),
            message: message.into(),
            others: Vec::new(),
        }
    }

    /// Gathers single problems into one error, first in line order on top; `None`
    /// when there are none.
    pub(crate) fn gather(mut problems: Vec<ConfigError>) -> Option<Self> {
        // Stable: problems on one line keep the order validation found them in.
        problems.sort_by_key(|e| e.line);
        let mut problems = problems.into_iter();
        let mut first = problems.next()?;
        first.others = problems.collect();
        Some(first)
    }

    /// Every problem, this one first.
    pub fn all(&self) -> impl Iterator<Item = &ConfigError> {
        std::iter::once(self).chain(&self.others)
    }

    /// How many problems the load found.
    pub fn count(&self) -> usize {
        1 + self.others.len()
    }

    fn fmt_one(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        f.write_str(": ")?;
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_one(f)?;
        for other in &self.others {
            f.write_str("\n")?;
            other.fmt_one(f)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// A problem found by validation, before it is given a line and a key: the byte span of
/// the offending key or value in the file, and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub span: Option<Range<usize>>,
    pub message: String,
}

/// Turns serde's wording into the config's: keys, tables and arrays rather than
/// fields, maps and sequences, integers rather than `i64`.
pub(crate) fn reword_serde(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        // "unknown field `x`, expected one of `a`, `b`" — the key is already in the path.
        let expected = rest
            .split_once("`, ")
            .map(|(_, tail)| tail)
            .filter(|tail| tail.starts_with("expected"));
        return match expected {
            Some(expected) => format!("unknown key ({expected})"),
            None => "unknown key".to_owned(),
        };
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        return format!("missing key {rest}");
    }
    message
        .replace("expected i64", "expected an integer")
        .replace("expected a map", "expected a table")
        .replace("expected a sequence", "expected an array")
        .replace(
            "as i128, expected an integer",
            "(too large), expected an integer",
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_line_and_key() {
        let e = ConfigError::new(
            "fleet.toml",
            Some(14),
            "tier.tier1.budget",
            "invalid duration \"48x\"",
        );
        assert_eq!(
            e.to_string(),
            "fleet.toml:14: tier.tier1.budget: invalid duration \"48x\""
        );
        let e = ConfigError::new("fleet.toml", None, "", "cannot read");
        assert_eq!(e.to_string(), "fleet.toml: cannot read");
    }

    #[test]
    fn gathers_problems_in_line_order_one_per_line() {
        let at = |line, key: &str| ConfigError::new("f.toml", Some(line), key, "bad");
        let e = ConfigError::gather(vec![at(9, "b"), at(2, "a"), at(9, "c")]).unwrap();
        assert_eq!(e.count(), 3);
        assert_eq!(
            e.to_string(),
            "f.toml:2: a: bad\nf.toml:9: b: bad\nf.toml:9: c: bad"
        );
        assert_eq!(
            e.all().map(|e| e.key.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert!(ConfigError::gather(Vec::new()).is_none());
    }

    #[test]
    fn serde_messages_are_reworded() {
        assert_eq!(
            reword_serde("unknown field `x`, expected one of `a`, `b`"),
            "unknown key (expected one of `a`, `b`)"
        );
        assert_eq!(
            reword_serde("unknown field `x`, expected `a` or `b`"),
            "unknown key (expected `a` or `b`)"
        );
        assert_eq!(
            reword_serde("unknown field `x`, there are no fields"),
            "unknown key"
        );
        assert_eq!(
            reword_serde("missing field `budget`"),
            "missing key `budget`"
        );
        assert_eq!(
            reword_serde("invalid type: string \"x\", expected i64"),
            "invalid type: string \"x\", expected an integer"
        );
    }
}
