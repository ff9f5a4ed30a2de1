//! The typed errors of fleet-build, each naming what failed and how to fix it.

use std::io;
use std::path::PathBuf;

/// Why discovering, checking or building a cargo-fuzz project failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{path} is not a cargo-fuzz project: {reason}")]
    NotAFuzzProject { path: PathBuf, reason: String },

    #[error("failed to read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("failed to parse {path}: {source}")]
    Manifest {
        path: PathBuf,
        #[source]
        source: Box<toml::de::Error>,
    },

    #[error("no fuzz target `{name}` in {project} (it has: {})", available.join(", "))]
    UnknownTarget {
        name: String,
        project: PathBuf,
        available: Vec<String>,
    },

    #[error("failed to run `{program}`: {source}{hint}")]
    Spawn {
        program: String,
        hint: &'static str,
        #[source]
        source: io::Error,
    },

    #[error(
        "Rust toolchain `{toolchain}` is not installed ({detail}); fix: rustup toolchain install {toolchain}"
    )]
    ToolchainMissing { toolchain: String, detail: String },

    #[error("`rustup run {toolchain} rustc -vV` failed: {detail}")]
    ToolchainBroken { toolchain: String, detail: String },

    #[error(
        "Rust toolchain `{toolchain}` is {version}, but sanitizer `{sanitizer}` needs a nightly \
         toolchain; fix: rustup toolchain install nightly, and build with toolchain \"nightly\""
    )]
    NeedsNightly {
        toolchain: String,
        version: String,
        sanitizer: crate::Sanitizer,
    },

    #[error("could not read the host triple from `rustc -vV` output: {output}")]
    HostTriple { output: String },

    #[error("building the fuzz targets of {project} failed ({status}); compiler output:\n{}", messages.join("\n"))]
    CompileFailed {
        project: PathBuf,
        status: String,
        /// The last lines cargo and rustc printed (rendered diagnostics,
        /// without cargo's `Compiling …` status lines).
        messages: Vec<String>,
    },

    #[error(
        "cargo reported success but produced no binary for fuzz target `{target}` (expected {expected})"
    )]
    MissingBinary { target: String, expected: PathBuf },
}
