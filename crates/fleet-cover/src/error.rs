//! The typed errors of fleet-cover, each naming what failed and, for missing
//! tools, exactly what to install.

use std::io;
use std::path::PathBuf;

/// Why a coverage report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CoverError {
    /// `llvm-profdata`/`llvm-cov` matching the compiler are not on this machine.
    #[error("{what} not found; {install}")]
    ToolsMissing {
        /// What was looked for, e.g. "llvm-profdata and llvm-cov of LLVM 22 (rustc's LLVM)".
        what: String,
        /// The fix, e.g. "install them with: rustup component add llvm-tools --toolchain nightly".
        install: String,
    },

    #[error("the corpus of {target} has no inputs to replay (looked in {})", dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "))]
    EmptyCorpus { target: String, dirs: Vec<PathBuf> },

    #[error(transparent)]
    Build(#[from] fleet_build::BuildError),

    #[error("the coverage build of {what} failed ({status}):\n{output}")]
    BuildFailed {
        what: String,
        status: String,
        output: String,
    },

    #[error("the coverage build of {target} produced no binary at {path}")]
    MissingBinary { target: String, path: PathBuf },

    #[error("failed to run `{program}`: {source}")]
    Spawn {
        program: String,
        #[source]
        source: io::Error,
    },

    #[error("`{command}` failed ({status}): {stderr}")]
    Tool {
        command: String,
        status: String,
        stderr: String,
    },

    #[error(
        "no input of {target} produced a coverage profile: all {crashed} replayed inputs crashed or timed out"
    )]
    NoProfiles { target: String, crashed: usize },

    #[error("cannot parse llvm-cov's JSON export: {0}")]
    Export(#[from] serde_json::Error),

    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl CoverError {
    /// Whether this is the user's setup to fix (a missing tool, an empty corpus) rather
    /// than a failure of the run: the CLI maps these to its usage exit code.
    pub fn is_setup(&self) -> bool {
        matches!(
            self,
            CoverError::ToolsMissing { .. }
                | CoverError::EmptyCorpus { .. }
                | CoverError::Build(
                    fleet_build::BuildError::ToolchainMissing { .. }
                        | fleet_build::BuildError::NotAFuzzProject { .. }
                        | fleet_build::BuildError::UnknownTarget { .. }
                )
        )
    }
}

pub(crate) fn io_err(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(io::Error) -> CoverError {
    let path = path.into();
    move |source| CoverError::Io {
        action,
        path,
        source,
    }
}
