//! The one way fuzzfleet runs a child process. Every child — a worker, a reproduction,
//! a corpus merge, a regression or coverage replay, an ssh tunnel, the coverage
//! schedule — is started by [`Spawn`]: in a process group of its own (`setpgid`
//! checked), with a parent-death signal (`prctl` checked, then `getppid` checked
//! against the classic race of a parent that died before the `prctl`), the stop
//! signals at their defaults, optionally at a lower priority and with a caller's own
//! pre-exec step. The [`Group`] it returns signals, waits (with a timeout, on a
//! pidfd, never by sleeping) and kills the whole group, and kills it when dropped.
//! [`run`] runs a child to its end within a deadline, its stderr captured up to a
//! byte cap.

mod capture;
mod group;
mod own;
mod run;

pub use capture::Capture;
pub use group::{Ended, Group, KILL_WAIT, Spawn, signal_group, wait_exited};
pub use own::{OwnChild, own_child, own_children};
pub use run::{Cancel, Captured, Limits, RunError, run};
