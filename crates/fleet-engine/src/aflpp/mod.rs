//! The AFL++ adapter: the `afl-fuzz` command of one instance, its `fuzzer_stats` file as
//! typed figures, and the new entries of its `queue/`, `crashes/` and `hangs/`
//! directories as corpus entries and findings.
//!
//! AFL++ runs the same harness as libFuzzer (`LLVMFuzzerTestOneInput`), linked with
//! AFL++'s `libAFLDriver.a` instead of libFuzzer and instrumented by AFL++'s LLVM
//! plugins; with CmpLog (`-c`), a second build logs the operands of comparisons so
//! magic values and checksums are solved input-to-state. How the binaries are made is
//! fleet-build's business (`docs/engines.md`).
//!
//! AFL++ prints no crash report: a crash is a file in `crashes/` named by its id and
//! signal. The crash pipeline reproduces it with the target's libFuzzer binary to get
//! one, so a finding here carries the engine's name and the input's path, not a report.
//!
//! Like the libFuzzer adapter this never spawns; [`OutputScan::scan`] only lists
//! directories (read-only) so the caller need not know AFL++'s layout.

mod collect;
mod command;
mod stats;

pub use collect::{AflEntry, AflFinding, AflSubdir, OutputScan, ScanResult, parse_entry_name};
pub use command::{Affinity, AflOptions, AflOptionsError, CmpLog, ENGINE_NAME, Role, fuzz_command};
pub use stats::{FuzzerStats, StatsError, parse_fuzzer_stats};
