//! Sanitizer reports a target recovered from (UBSan built with `-fsanitize-recover`): their finding kind, the key that makes two of them one finding (location and message class), their severity.
//!
//! A recoverable report has no input: libFuzzer writes no artifact because
//! the process goes on fuzzing. What identifies it is where it happened and
//! what kind of undefined behaviour it was; the values in the message
//! (addresses, operands) differ from one input to the next.

use crate::normalize::normalize_path;
use crate::severity::Severity;

/// The finding kind of a recoverable UBSan report (fleet-engine's `FindingKind::Ubsan`).
pub const RECOVERABLE_KIND: &str = "ubsan";

/// The severity of recoverable reports unless the config says otherwise
/// (`[crashes] recoverable_severity`): the target survived them.
pub const DEFAULT_RECOVERABLE_SEVERITY: Severity = Severity::Low;

/// One recoverable report, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoverableReport {
    /// `file:line:col` with the file normalized as in signatures (the checkout
    /// directory differs between nodes).
    pub location: String,
    /// The message without its values, kebab-case: `signed-integer-overflow`,
    /// `load-of-misaligned-address`, `index-out-of-bounds`.
    pub class: String,
    /// A one-line title: `ubsan: signed integer overflow at ubsan_recover.c:12:18`.
    pub title: String,
    /// What makes two reports one finding: kind, location and class.
    pub key: String,
}

/// Classifies UBSan's `LOCATION: runtime error: MESSAGE`.
pub fn classify_recoverable(location: &str, message: &str) -> RecoverableReport {
    let location = normalize_location(location);
    let class = message_class(message);
    RecoverableReport {
        title: format!(
            "{RECOVERABLE_KIND}: {} at {location}",
            class.replace('-', " ")
        ),
        key: format!("{RECOVERABLE_KIND}\n{location}\n{class}"),
        location,
        class,
    }
}

/// The configured severity of recoverable reports, or the default when there is
/// none or it is not a severity name.
pub fn recoverable_severity(configured: Option<&str>) -> Severity {
    configured
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_RECOVERABLE_SEVERITY)
}

/// `FILE:LINE:COL` (or `FILE:LINE`) with FILE normalized; anything else as printed.
fn normalize_location(location: &str) -> String {
    let mut parts = location.rsplitn(3, ':');
    let (Some(last), Some(mid)) = (parts.next(), parts.next()) else {
        return location.to_owned();
    };
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match parts.next() {
        Some(file) if numeric(last) && numeric(mid) => {
            format!("{}:{mid}:{last}", normalize_path(file))
        }
        _ if numeric(last) => {
            let file = location.rsplit_once(':').map_or(location, |(f, _)| f);
            format!("{}:{last}", normalize_path(file))
        }
        _ => location.to_owned(),
    }
}

/// The words of a UBSan message that name the kind of behaviour: the part before a
/// `:` (`signed integer overflow: 5 * 7 …`), else the words before `for` / `of type` /
/// `, which`, leaving out values (numbers, addresses, quoted types).
pub(crate) fn message_class(message: &str) -> String {
    let head = match message.split_once(": ") {
        Some((head, _)) => head,
        None => message,
    };
    let head = [" for ", " of type ", ", which "]
        .iter()
        .filter_map(|cut| head.find(cut))
        .min()
        .map_or(head, |i| &head[..i]);
    let words: Vec<String> = head
        .split_whitespace()
        .filter(|w| {
            !w.bytes()
                .any(|b| b.is_ascii_digit() || b == b'\'' || b == b'(')
        })
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() {
        "undefined-behavior".to_owned()
    } else {
        words.join("-")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_do_not_make_a_new_class() {
        for (message, class) in [
            (
                "signed integer overflow: 2147483392 * 7 cannot be represented in type 'int'",
                "signed-integer-overflow",
            ),
            (
                "signed integer overflow: -938865931 * 1000 cannot be represented in type 'int'",
                "signed-integer-overflow",
            ),
            (
                "load of misaligned address 0x602000030073 for type 'const uint32_t' (aka 'const unsigned int'), which requires 4 byte alignment",
                "load-of-misaligned-address",
            ),
            (
                "index 5 out of bounds for type 'int [4]'",
                "index-out-of-bounds",
            ),
            (
                "shift exponent 40 is too large for 32-bit type 'int'",
                "shift-exponent-is-too-large",
            ),
            (
                "left shift of negative value -1",
                "left-shift-of-negative-value",
            ),
            ("division by zero", "division-by-zero"),
            ("12345", "undefined-behavior"),
        ] {
            assert_eq!(message_class(message), class, "{message}");
        }
    }

    #[test]
    fn one_location_and_class_is_one_key_whatever_the_checkout() {
        let a = classify_recoverable(
            "/work/main/fixtures/c/ubsan_recover.c:12:18",
            "signed integer overflow: -938865931 * 1000 cannot be represented in type 'int'",
        );
        let b = classify_recoverable(
            "/home/ci/src/fixtures/c/ubsan_recover.c:12:18",
            "signed integer overflow: 7 * 1000000000 cannot be represented in type 'int'",
        );
        assert_eq!(a, b);
        assert_eq!(a.location, "c/ubsan_recover.c:12:18");
        assert_eq!(
            a.title,
            "ubsan: signed integer overflow at c/ubsan_recover.c:12:18"
        );
        let other_line = classify_recoverable(
            "/work/main/fixtures/c/ubsan_recover.c:16:12",
            "signed integer overflow: 1 * 2",
        );
        assert_ne!(a.key, other_line.key);
        let other_class = classify_recoverable(
            "/work/main/fixtures/c/ubsan_recover.c:12:18",
            "division by zero",
        );
        assert_ne!(a.key, other_class.key);
    }

    #[test]
    fn severity_is_low_unless_configured() {
        assert_eq!(recoverable_severity(None), Severity::Low);
        assert_eq!(recoverable_severity(Some("high")), Severity::High);
        assert_eq!(recoverable_severity(Some("bogus")), Severity::Low);
    }
}
