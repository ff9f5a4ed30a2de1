//! Config errors as users see them: each names the file, the 1-based line and the dotted
//! key, and a load reports every problem it found, not just the first.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

/// One problem in a config file, displayed as `fleet.toml:14: tier.tier1.budget: message`.
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
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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

impl std::error::Error for ConfigError {}

/// Every problem a load found, in line order; never empty. Displayed one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(Vec<ConfigError>);

impl ConfigErrors {
    /// `None` when `errors` is empty.
    pub fn new(mut errors: Vec<ConfigError>) -> Option<Self> {
        if errors.is_empty() {
            return None;
        }
        // Stable: problems on one line keep the order validation found them in.
        errors.sort_by_key(|e| e.line);
        Some(Self(errors))
    }

    pub fn errors(&self) -> &[ConfigError] {
        &self.0
    }

    /// The first problem in file order.
    pub fn first(&self) -> &ConfigError {
        &self.0[0]
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false; present because `len` is.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_vec(self) -> Vec<ConfigError> {
        self.0
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(error: ConfigError) -> Self {
        Self(vec![error])
    }
}

impl<'a> IntoIterator for &'a ConfigErrors {
    type Item = &'a ConfigError;
    type IntoIter = std::slice::Iter<'a, ConfigError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

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
        let e = ConfigError {
            path: "fleet.toml".into(),
            line: Some(14),
            key: "tier.tier1.budget".into(),
            message: "invalid duration \"48x\"".into(),
        };
        assert_eq!(
            e.to_string(),
            "fleet.toml:14: tier.tier1.budget: invalid duration \"48x\""
        );
        let e = ConfigError {
            line: None,
            key: String::new(),
            message: "cannot read".into(),
            ..e
        };
        assert_eq!(e.to_string(), "fleet.toml: cannot read");
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
