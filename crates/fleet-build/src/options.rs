//! What a build is asked for (sanitizer, toolchain, targets) and what it
//! reports back (progress events, built binaries).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The sanitizer fuzz targets are built with, as cargo-fuzz's `--sanitizer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sanitizer {
    /// AddressSanitizer, cargo-fuzz's default.
    #[default]
    Address,
    /// No sanitizer: coverage instrumentation only (faster, finds less).
    None,
}

impl Sanitizer {
    /// The `ASAN_OPTIONS` cargo-fuzz sets when it runs a target built with this
    /// sanitizer (Rust binaries trip ASan's ODR check on false positives).
    pub fn runtime_asan_options(self) -> Option<&'static str> {
        match self {
            Sanitizer::Address => Some("detect_odr_violation=0"),
            Sanitizer::None => None,
        }
    }
}

impl fmt::Display for Sanitizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Sanitizer::Address => "address",
            Sanitizer::None => "none",
        })
    }
}

impl FromStr for Sanitizer {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "address" => Ok(Sanitizer::Address),
            "none" => Ok(Sanitizer::None),
            other => Err(format!(
                "unknown sanitizer `{other}` (expected \"address\" or \"none\")"
            )),
        }
    }
}

/// How to build a cargo-fuzz project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOptions {
    pub sanitizer: Sanitizer,
    /// The rustup toolchain to build with; sanitizers need a nightly one.
    pub toolchain: String,
    /// The fuzz targets to build; empty means all of the project's.
    pub targets: Vec<String>,
    /// rustc flags appended after cargo-fuzz's. Inherited `RUSTFLAGS` are
    /// deliberately ignored: they would leak the caller's build settings in.
    pub extra_rustflags: Vec<String>,
}

/// The toolchain `BuildOptions::default()` builds with.
pub const DEFAULT_TOOLCHAIN: &str = "nightly";

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            sanitizer: Sanitizer::Address,
            toolchain: DEFAULT_TOOLCHAIN.to_owned(),
            targets: Vec::new(),
            extra_rustflags: Vec::new(),
        }
    }
}

/// Progress of a running build, in the order cargo reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildEvent {
    /// Cargo was started; `total_units` is the number of units of work (crates
    /// to compile and build scripts to run) when cargo's unit graph told us.
    Started { total_units: Option<usize> },
    /// A status line of cargo's, e.g. verb `Compiling`, detail `libc v0.2.170`,
    /// or `Blocking` while another build holds the lock.
    Status { verb: String, detail: String },
    /// One unit finished (`fresh`: reused from an earlier build).
    Unit {
        name: String,
        fresh: bool,
        done: usize,
        total: Option<usize>,
    },
}

/// A fuzz target binary a build produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltTarget {
    pub name: String,
    pub path: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Holder {
        sanitizer: Sanitizer,
    }

    #[test]
    fn sanitizer_serde_and_display_are_lowercase() {
        for (text, value) in [("address", Sanitizer::Address), ("none", Sanitizer::None)] {
            let parsed: Holder = toml::from_str(&format!("sanitizer = \"{text}\"")).unwrap();
            assert_eq!(parsed.sanitizer, value);
            assert_eq!(value.to_string(), text);
            assert_eq!(text.parse::<Sanitizer>().unwrap(), value);
        }
        assert!(toml::from_str::<Holder>("sanitizer = \"Address\"").is_err());
        assert!("memory".parse::<Sanitizer>().is_err());
    }
}
