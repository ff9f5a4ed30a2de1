//! libFuzzer's behaviours that fuzzfleet depends on, as named constants, each with where it is documented and how it was confirmed.
//!
//! Sources: the LLVM libFuzzer documentation ("Options" and "Output"
//! sections of LibFuzzer.rst), its `FuzzerFlags.def` / `FuzzerOptions.h` /
//! `FuzzerLoop.cpp` (the runtime bundled by `libfuzzer-sys` 0.4.13 and
//! Debian's clang-14 behave the same here), and the real runs captured under
//! `fixtures/logs/libfuzzer/` (see its README for the exact commands).

/// Exit code when libFuzzer itself reports a bug: a deadly signal (a Rust
/// panic aborts, so every Rust crash lands here), a leak found by its LSan
/// check, a fuzz target calling `exit()`. Flag `-error_exitcode`, default 77.
/// Confirmed by `crash-rust-panic.log`, `leak.log`, `crash-seed-on-load.log`.
pub const EXIT_CRASH: i32 = 77;

/// Exit code for a unit that ran longer than `-timeout`. Flag
/// `-timeout_exitcode`, default 70. The LLVM docs said 77 until a 2022 fix,
/// and very old runtimes did use 77 (`TimeoutExitCode = 77`); every runtime
/// fuzzfleet supports uses 70. Confirmed by `timeout.log` (Rust,
/// libfuzzer-sys) and a clang-14 C harness.
pub const EXIT_TIMEOUT: i32 = 70;

/// Exit code for an out-of-memory report, both the rss limit
/// (`-rss_limit_mb`) and the single-malloc limit (`-malloc_limit_mb`). Not a
/// flag: `FuzzingOptions::OOMExitCode = 71` (the docs' "error_exitcode is used
/// for OOM" is wrong for current runtimes). Confirmed by `oom-rss-limit.log`,
/// `oom-malloc-limit.log` and a clang-14 C harness.
pub const EXIT_OOM: i32 = 71;

/// Exit code after SIGINT or SIGTERM (`-handle_int`, `-handle_term`, on by
/// default): `FuzzingOptions::InterruptExitCode = 72`. libFuzzer prints
/// final stats first. Confirmed by `interrupted-sigterm.log`.
pub const EXIT_INTERRUPTED: i32 = 72;

/// Exit code 1 means one of two different things, told apart only by the
/// log or an artifact: a sanitizer report (ASan, UBSan, MSan exit through
/// their own `exitcode` option, default 1, after libFuzzer's death callback
/// wrote the `crash-` artifact; `crash-asan-heap-buffer-overflow.log`), or
/// libFuzzer refusing to start (`startup-missing-corpus-dir.log`,
/// `startup-missing-artifact-dir.log`).
pub const EXIT_SANITIZER_OR_STARTUP: i32 = 1;

/// Exit code of the dynamic loader when a shared library is missing
/// (`startup-missing-library.log`); the process never reached libFuzzer.
pub const EXIT_LOADER_FAILURE: i32 = 127;

/// Artifact file-name prefixes, one per finding kind (`FuzzerLoop.cpp`:
/// `DumpCurrentUnit("crash-")`, `"leak-"`, `"timeout-"`, `"oom-"`, and
/// `WriteUnitToFileWithPrefix(…, "slow-unit-")`). The rest of the name is
/// the SHA-1 of the input in lowercase hex.
pub const PREFIX_CRASH: &str = "crash-";
pub const PREFIX_LEAK: &str = "leak-";
pub const PREFIX_TIMEOUT: &str = "timeout-";
pub const PREFIX_OOM: &str = "oom-";
pub const PREFIX_SLOW_UNIT: &str = "slow-unit-";

/// libFuzzer's crash minimizer (`FuzzerDriver.cpp`, `MinimizeCrashInput`):
/// with `-minimize_crash=1` and one input file it re-runs itself
/// (through `system()`, so in our process group and at our niceness) with
/// `-minimize_crash_internal_step=1`, each step fuzzing for up to
/// `-max_total_time` seconds for a smaller input that still crashes and
/// writing it to `-exact_artifact_path`; the next step starts from that
/// file, until a step finds nothing smaller. It refuses an input that
/// does not crash (`ERROR: the input … did not crash`).
pub const FLAG_MINIMIZE_CRASH: &str = "minimize_crash";

/// Written by `-minimize_crash=1` (`FuzzerDriver.cpp`). It is the output of
/// a minimization fuzzfleet asked for, not a new finding, so
/// [`classify_artifact`](super::classify_artifact) does not report it.
pub const PREFIX_MINIMIZED: &str = "minimized-from-";

/// Length of the hex SHA-1 that names every artifact and corpus entry.
pub const HASH_HEX_LEN: usize = 40;

/// `corp: N/S` sizes: `PrintStats` prints bytes below 16 KiB as `Nb`, below
/// 16 MiB as `NKb` (bytes >> 10) and above as `NMb` (bytes >> 20). It never
/// prints `Gb`, and the shift truncates, so a parsed size is a lower bound.
pub const KB_SHIFT: u32 = 10;
pub const MB_SHIFT: u32 = 20;

/// libFuzzer's own defaults, used when fuzzfleet's caller has no opinion
/// (`FuzzerFlags.def`): `-rss_limit_mb=2048`, `-timeout=1200`,
/// `-report_slow_units=10`.
pub const DEFAULT_RSS_LIMIT_MB: u64 = 2048;
pub const DEFAULT_TIMEOUT_S: u64 = 1200;
pub const DEFAULT_REPORT_SLOW_UNITS_S: u64 = 10;

/// A libFuzzer flag is `-name=value`; flags starting with `--` are ignored
/// with a notice, and an unknown `-name` is only a warning
/// (`unrecognized-flag.log`): the run goes on as if the flag were absent,
/// which is why fuzzfleet checks extra flags itself.
pub const FLAG_PREFIX: &str = "-";
