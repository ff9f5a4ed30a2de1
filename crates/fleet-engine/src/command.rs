//! The engine-neutral description of a process to start: program, arguments and environment, never one shell string.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::PathBuf;

/// A process an engine adapter wants started.
///
/// Arguments are kept as separate `OsString`s so paths with spaces or
/// non-UTF-8 bytes reach the engine unchanged; nothing here is ever passed
/// through a shell. `env` lists variables to set on top of the caller's
/// environment, in order (a later entry for the same name wins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineCommand {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
}

impl EngineCommand {
    /// A command with no arguments and no extra environment.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    /// The arguments as lossy UTF-8, for assertions and log messages.
    pub fn args_lossy(&self) -> Vec<String> {
        self.args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }
}

/// A human-readable, shell-like rendering for logs and error messages.
///
/// It quotes arguments that need it so a person can paste it into a shell,
/// but it is only for display: the supervisor starts `program` with `args`.
impl fmt::Display for EngineCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, value) in &self.env {
            write!(f, "{}={} ", quote(name), quote(value))?;
        }
        write!(f, "{}", quote(self.program.as_os_str()))?;
        for arg in &self.args {
            write!(f, " {}", quote(arg))?;
        }
        Ok(())
    }
}

fn quote(s: &OsStr) -> String {
    let s = s.to_string_lossy();
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=./:,+@%".contains(c));
    if plain {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_only_what_needs_it() {
        let mut cmd = EngineCommand::new("/opt/fuzz/my target");
        cmd.args = vec!["-runs=0".into(), "it's".into(), "corpus/a".into()];
        cmd.env = vec![("TMPDIR".into(), "/tmp/w 1".into())];
        assert_eq!(
            cmd.to_string(),
            r"TMPDIR='/tmp/w 1' '/opt/fuzz/my target' -runs=0 'it'\''s' corpus/a"
        );
    }
}
