//! The error for engine output that looks like something fuzzfleet reads but does not parse.

/// Longest excerpt of the offending line kept in a [`ParseError`]: a target
/// can print anything, and an error must stay small enough to log.
const MAX_LINE_IN_ERROR: usize = 512;

/// A line (or final-stats block) that claims to be engine output fuzzfleet
/// understands but is malformed. It is returned, never turned into zeros,
/// so the supervisor can count and show it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot parse libFuzzer output {line:?}: {kind}")]
pub struct ParseError {
    /// The offending line, cut to a bounded length.
    pub line: String,
    pub kind: ParseErrorKind,
}

/// What exactly was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    #[error("unknown status event {0:?}")]
    UnknownEvent(String),
    #[error("missing {0}")]
    Missing(&'static str),
    #[error("bad value {value:?} for {field}")]
    BadValue { field: String, value: String },
    #[error("unexpected {0:?}")]
    Unexpected(String),
    #[error("{0} appears twice")]
    Duplicate(String),
}

impl ParseError {
    pub(crate) fn new(line: &str, kind: ParseErrorKind) -> Self {
        let mut end = line.len().min(MAX_LINE_IN_ERROR);
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        Self {
            line: line[..end].to_owned(),
            kind,
        }
    }
}

pub(crate) fn bad(field: &str, value: &str) -> ParseErrorKind {
    ParseErrorKind::BadValue {
        field: field.to_owned(),
        value: value.to_owned(),
    }
}

/// A decimal integer, as libFuzzer prints them (`%zd`, `%u`): digits only.
pub(crate) fn number<T: std::str::FromStr>(field: &str, s: &str) -> Result<T, ParseErrorKind> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(field, s));
    }
    s.parse().map_err(|_| bad(field, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_on_a_char_boundary() {
        let line = "é".repeat(400);
        let err = ParseError::new(&line, ParseErrorKind::Missing("cov"));
        assert!(err.line.len() <= MAX_LINE_IN_ERROR);
        assert!(line.starts_with(&err.line));
    }

    #[test]
    fn numbers_are_digits_only() {
        assert_eq!(number::<u64>("cov", "123"), Ok(123));
        assert!(number::<u64>("cov", "").is_err());
        assert!(number::<u64>("cov", "-1").is_err());
        assert!(number::<u64>("cov", "+1").is_err());
        assert!(number::<u64>("cov", "99999999999999999999999").is_err());
    }
}
