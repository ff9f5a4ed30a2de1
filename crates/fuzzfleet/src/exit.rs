//! Exit codes: 0 ok, 1 the command ran and found a problem, 2 usage or config error,
//! 3 an internal failure (a corrupt store, an I/O error fuzzfleet cannot work around).

use std::fmt;

pub const OK: i32 = 0;
pub const PROBLEM: i32 = 1;
pub const USAGE: i32 = 2;
pub const INTERNAL: i32 = 3;

/// An error that knows which exit code it deserves.
#[derive(Debug)]
pub struct Usage(pub String);

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// Usage, config and setup errors exit 2; a build that fails to compile found a
/// problem (1); everything else is internal.
pub fn code_of(e: &anyhow::Error) -> i32 {
    use fleet_build::BuildError;
    if e.downcast_ref::<Usage>().is_some()
        || e.downcast_ref::<fleet_config::ConfigError>().is_some()
    {
        return USAGE;
    }
    match e.downcast_ref::<BuildError>() {
        Some(BuildError::CompileFailed { .. } | BuildError::MissingBinary { .. }) => PROBLEM,
        Some(
            BuildError::ToolchainMissing { .. }
            | BuildError::NeedsNightly { .. }
            | BuildError::NotAFuzzProject { .. }
            | BuildError::UnknownTarget { .. },
        ) => USAGE,
        _ => INTERNAL,
    }
}

/// Shorthand for a usage error.
pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Usage(msg.into()))
}
