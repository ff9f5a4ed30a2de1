//! The fleet as the operator drives it: the campaign a config and the `run` options
//! come to ([`plan`]), the config a node of the fleet gets ([`node_config`]), putting
//! it and everything else a node needs on the node ([`deploy`]), and reading the
//! nodes' APIs ([`remote`]), each reached over the system's OpenSSH client ([`ssh`]).
//!
//! Errors are typed: [`Error::Usage`] is a mistake in the config or the command line
//! (the binary exits 2), the others are the build's or the system's.

pub mod deploy;
pub mod node_config;
pub mod plan;
pub mod remote;
pub mod ssh;

pub use plan::{BuildSet, Selection};

/// What can go wrong planning or deploying.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The config or the command line asks for something that cannot be: the message
    /// says what and how to fix it.
    #[error("{0}")]
    Usage(String),
    /// Asking the toolchain where a build puts a target failed.
    #[error(transparent)]
    Build(#[from] fleet_build::BuildError),
    /// A node could not be reached, or a command on it failed: the message names the
    /// node and, for ssh's own failures, what to do.
    #[error("{0}")]
    Ssh(String),
    /// A file or a process of this machine failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

pub(crate) fn usage(msg: impl Into<String>) -> Error {
    Error::Usage(msg.into())
}
