//! Builds cargo-fuzz projects the way `cargo fuzz build` does — the same
//! sanitizer-coverage flags, release with debug assertions, on a nightly
//! toolchain through rustup — without needing the cargo-fuzz binary; runs a C/C++
//! project's own build command; unpacks OSS-Fuzz seed archives.

mod afl;
mod command;
mod discover;
mod error;
mod options;
mod runner;
mod seeds;
mod shell;
mod toolchain;

pub use afl::{
    AFLPP_DIR_ENV, AFLPP_SRC_ENV, AflBuild, AflBuiltTarget, AflVariant, AflppInstall, AflppProbe,
    AflppUnavailable, afl_binary_path, afl_build_command, afl_rustflags, afl_target_dir,
    aflpp_cache_dir, build_afl_project, build_aflpp, ensure_aflpp, find_afl_build,
    find_aflpp_source, find_llvm_config, install_prefix, probe_aflpp, rustc_llvm_major,
};
pub use command::{BuildCommand, build_command, rustflags, should_clear};
pub use discover::{FUZZ_TARGETS_DIR, binary_path, discover_targets, target_dir};
pub use error::BuildError;
pub use options::{BuildEvent, BuildOptions, BuiltTarget, DEFAULT_TOOLCHAIN, Sanitizer};
pub use runner::{MESSAGE_TAIL_LINES, build_project};
pub use seeds::{
    MAX_SEED_ARCHIVE_BYTES, MAX_SEED_ARCHIVE_FILES, seed_archive_dir, unpack_seed_archive,
};
pub use shell::{ShellBuild, file_sha1, run_shell_build};
pub use toolchain::{ToolchainInfo, check_toolchain, host_triple};
