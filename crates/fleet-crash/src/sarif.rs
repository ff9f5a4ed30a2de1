//! SARIF 2.1.0 export of buckets, so a CI system (GitHub code scanning, GitLab, …) can show the bugs: one rule per crash kind, one result per bucket.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::bucket::Bucket;
use crate::report::Frame;
use crate::severity::Severity;

pub const SARIF_VERSION: &str = "2.1.0";
pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// The `partialFingerprints` key carrying the bucket id: a CI system that
/// tracks results across runs then follows buckets, not line numbers.
pub const FINGERPRINT_KEY: &str = "fuzzfleetBucket/v1";
/// The `uriBaseId` of paths under [`SarifOptions::source_root`].
pub const SRCROOT: &str = "SRCROOT";

/// Export settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SarifOptions {
    pub tool_name: String,
    pub tool_version: String,
    pub information_uri: String,
    /// Absolute paths under this directory are written relative to it
    /// (with `uriBaseId` `SRCROOT`), as CI systems expect; relative paths
    /// (Rust panic locations) are taken as relative to it too.
    pub source_root: Option<PathBuf>,
}

impl Default for SarifOptions {
    fn default() -> Self {
        Self {
            tool_name: "fuzzfleet".into(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            information_uri: "https://github.com/fuzzfleet/fuzzfleet".into(),
            source_root: None,
        }
    }
}

/// SARIF `level` of a severity: `error` for memory corruption and other
/// sanitizer findings, `warning` for panics and aborts, `note` for resources.
pub fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

/// GitHub's `security-severity` score of a severity (it maps ≥ 9.0 to
/// critical, ≥ 7.0 high, ≥ 4.0 medium, else low).
pub fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.0",
        Severity::High => "7.5",
        Severity::Medium => "5.0",
        Severity::Low => "2.0",
    }
}

/// The SARIF log of `buckets`: one run, rules sorted by kind name, results
/// in the order given. Each bucket's `count` is written as its crash hits (the
/// message's "N crash hits" and `properties.count`).
pub fn to_sarif<'a>(
    buckets: impl IntoIterator<Item = &'a Bucket>,
    options: &SarifOptions,
) -> Value {
    let buckets: Vec<&Bucket> = buckets.into_iter().collect();
    let mut rules: BTreeMap<String, Severity> = BTreeMap::new();
    for bucket in &buckets {
        let entry = rules.entry(bucket.kind.name()).or_insert(bucket.severity);
        *entry = (*entry).min(bucket.severity);
    }
    let index: BTreeMap<&str, usize> = rules
        .keys()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let rule_values: Vec<Value> = rules
        .iter()
        .map(|(name, severity)| {
            json!({
                "id": name,
                "name": name,
                "shortDescription": {"text": format!("Fuzzing found: {name}")},
                "defaultConfiguration": {"level": level(*severity)},
                "properties": {
                    "security-severity": security_severity(*severity),
                    "tags": ["fuzzing", "security"],
                },
            })
        })
        .collect();
    let results: Vec<Value> = buckets
        .iter()
        .map(|b| result(b, index[b.kind.name().as_str()], options))
        .collect();
    let mut run = json!({
        "tool": {"driver": {
            "name": options.tool_name,
            "version": options.tool_version,
            "informationUri": options.information_uri,
            "rules": rule_values,
        }},
        "results": results,
    });
    if let Some(root) = &options.source_root {
        run["originalUriBaseIds"] = json!({SRCROOT: {"uri": dir_uri(root)}});
    }
    json!({
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [run],
    })
}

/// A bucket's result. Its `count` is said as crash hits, the name docs/crashes.md
/// ("Counts") gives a bucket's count in every output: the caller sets it to the
/// store's count of the bucket, as `crashes list` shows it.
fn result(bucket: &Bucket, rule_index: usize, options: &SarifOptions) -> Value {
    let hits = if bucket.count == 1 {
        "crash hit"
    } else {
        "crash hits"
    };
    let mut value = json!({
        "ruleId": bucket.kind.name(),
        "ruleIndex": rule_index,
        "level": level(bucket.severity),
        "message": {"text": format!(
            "{} (target {}, {} {hits}, bucket {})",
            bucket.title, bucket.target, bucket.count, bucket.id
        )},
        "partialFingerprints": {FINGERPRINT_KEY: bucket.id.as_str()},
        "properties": {
            "bucket": bucket.id.as_str(),
            "target": bucket.target,
            "signature": bucket.signature.to_string(),
            "severity": bucket.severity.as_str(),
            "count": bucket.count,
            "input": bucket.inputs.first().map(|i| i.sha1.as_str()),
        },
    });
    let locations: Vec<Value> = bucket
        .frames
        .iter()
        .filter_map(|f| location(f, options.source_root.as_deref()))
        .collect();
    if let Some(first) = locations.first() {
        value["locations"] = json!([first]);
        let frames: Vec<Value> = locations.iter().map(|l| json!({"location": l})).collect();
        value["stacks"] = json!([{
            "message": {"text": "crash stack (meaningful frames, innermost first)"},
            "frames": frames,
        }]);
    }
    value
}

fn location(frame: &Frame, root: Option<&Path>) -> Option<Value> {
    let file = frame.file.as_deref()?;
    let mut artifact = artifact_location(file, root);
    if artifact.is_null() {
        return None;
    }
    let mut physical = json!({"artifactLocation": artifact.take()});
    if let Some(line) = frame.line.filter(|l| *l > 0) {
        let mut region = json!({"startLine": line});
        if let Some(column) = frame.column.filter(|c| *c > 0) {
            region["startColumn"] = json!(column);
        }
        physical["region"] = region;
    }
    let mut value = json!({"physicalLocation": physical});
    if let Some(function) = &frame.function {
        value["logicalLocations"] = json!([{
            "fullyQualifiedName": crate::normalize::clean_function(function),
            "kind": "function",
        }]);
    }
    Some(value)
}

fn artifact_location(file: &str, root: Option<&Path>) -> Value {
    let path = Path::new(file);
    if path.is_absolute() {
        if let Some(rel) = root.and_then(|r| path.strip_prefix(r).ok()) {
            return json!({"uri": encode(&rel.to_string_lossy()), "uriBaseId": SRCROOT});
        }
        return json!({"uri": format!("file://{}", encode(file))});
    }
    match root {
        Some(_) => json!({"uri": encode(file), "uriBaseId": SRCROOT}),
        None => json!({"uri": encode(file)}),
    }
}

fn dir_uri(dir: &Path) -> String {
    let mut s = format!("file://{}", encode(&dir.to_string_lossy()));
    if !s.ends_with('/') {
        s.push('/');
    }
    s
}

/// Percent-encodes what may not appear raw in a URI path.
fn encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~+@:,=".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(encode("/a b/c#d.rs"), "/a%20b/c%23d.rs");
        let root = Path::new("/work/main");
        assert_eq!(
            artifact_location("/work/main/fixtures/c/x.c", Some(root)),
            json!({"uri": "fixtures/c/x.c", "uriBaseId": "SRCROOT"})
        );
        assert_eq!(
            artifact_location("/elsewhere/x.c", Some(root)),
            json!({"uri": "file:///elsewhere/x.c"})
        );
        assert_eq!(
            artifact_location("fuzz_targets/a.rs", None),
            json!({"uri": "fuzz_targets/a.rs"})
        );
        assert_eq!(dir_uri(root), "file:///work/main/");
    }
}
