//! The names a hub's keys carry besides targets and nodes: corpus entries and findings.
//! Plain parsing with no storage behind it, so fuzzfleet's own fuzz target for the hub's
//! names (`fuzz/fuzz_targets/hub_keys.rs`) compiles this file alone.

use std::fmt;
use std::str::FromStr;

use fleet_engine::FindingKind;

/// A lower-case hex SHA-1: the name libFuzzer gives corpus entries and artifacts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha1Name(pub(crate) String);

impl Sha1Name {
    pub fn new(name: &str) -> Result<Self, String> {
        if name.len() == 40
            && name
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(Self(name.to_owned()))
        } else {
            Err(format!(
                "{name:?} is not a SHA-1 name (40 lower-case hex digits)"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sha1Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A finding's file name, `<kind>-<sha1>`, as the state dir and the hub both spell it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CrashName {
    pub kind: FindingKind,
    pub sha1: Sha1Name,
}

impl FromStr for CrashName {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        let (kind, sha1) = name
            .split_once('-')
            .ok_or_else(|| format!("{name:?} is not a finding name (<kind>-<sha1>)"))?;
        let kind = kind.parse::<FindingKind>().map_err(|e| e.to_string())?;
        Ok(Self {
            kind,
            sha1: Sha1Name::new(sha1)?,
        })
    }
}

impl fmt::Display for CrashName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.kind, self.sha1)
    }
}
