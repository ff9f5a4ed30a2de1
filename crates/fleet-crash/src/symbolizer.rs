//! Symbolization for reproductions: finding `llvm-symbolizer`, and the environment that makes sanitizers and Rust print symbolized stacks.

use std::ffi::{OsStr, OsString};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const SYMBOLIZER: &str = "llvm-symbolizer";

/// The sanitizer option variables fleet-crash sets, with the options it
/// puts first (the caller's own options follow and win).
const SANITIZER_VARS: &[(&str, &str)] = &[
    ("ASAN_OPTIONS", "symbolize=1"),
    ("UBSAN_OPTIONS", "symbolize=1:print_stacktrace=1"),
    ("MSAN_OPTIONS", "symbolize=1"),
];

/// Finds `llvm-symbolizer` on this machine: see [`find_symbolizer_in`],
/// with `$PATH` and `/usr/lib`.
pub fn find_symbolizer() -> Option<PathBuf> {
    find_symbolizer_in(std::env::var_os("PATH").as_deref(), Path::new("/usr/lib"))
}

/// Finds `llvm-symbolizer`: plain `llvm-symbolizer` on `path_var` first
/// (the system's choice), then the highest versioned `llvm-symbolizer-N`
/// on it (Debian's clang-14 installs `llvm-symbolizer-14`), then the
/// highest `LIB_ROOT/llvm-N/bin/llvm-symbolizer`.
pub fn find_symbolizer_in(path_var: Option<&OsStr>, lib_root: &Path) -> Option<PathBuf> {
    let dirs: Vec<PathBuf> = path_var
        .map(|p| std::env::split_paths(p).collect())
        .unwrap_or_default();
    if let Some(plain) = dirs
        .iter()
        .map(|d| d.join(SYMBOLIZER))
        .find(|p| is_executable(p))
    {
        return Some(plain);
    }
    let prefix = format!("{SYMBOLIZER}-");
    let mut versioned: Vec<(u32, PathBuf)> = Vec::new();
    for dir in &dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let version = name
                .to_str()
                .and_then(|n| n.strip_prefix(&prefix))
                .and_then(|v| v.parse::<u32>().ok());
            if let Some(version) = version
                && is_executable(&entry.path())
            {
                versioned.push((version, entry.path()));
            }
        }
    }
    if let Ok(lib) = std::fs::read_dir(lib_root) {
        for entry in lib.flatten() {
            let name = entry.file_name();
            let version = name
                .to_str()
                .and_then(|n| n.strip_prefix("llvm-"))
                .and_then(|v| v.parse::<u32>().ok());
            let path = entry.path().join("bin").join(SYMBOLIZER);
            if let Some(version) = version.filter(|_| is_executable(&path)) {
                // PATH wins over /usr/lib at the same version.
                versioned.push((version, path));
            }
        }
    }
    versioned.sort_by_key(|v| std::cmp::Reverse(v.0));
    versioned.into_iter().map(|(_, p)| p).next()
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `caller` plus what makes a run print symbolized reports:
/// `RUST_BACKTRACE=1` (unless the caller set it), and for ASan, UBSan and
/// MSan `symbolize=1` and `external_symbolizer_path=…` (when a symbolizer
/// is known and its path is safe in an options string), UBSan also
/// `print_stacktrace=1`. The caller's own option strings are appended,
/// so their settings win.
pub fn symbolization_env(
    symbolizer: Option<&Path>,
    caller: &[(OsString, OsString)],
) -> Vec<(OsString, OsString)> {
    let symbolizer = symbolizer
        .and_then(Path::to_str)
        .filter(|p| !p.contains([':', '"', '\'', ' ']));
    sanitizer_env(
        caller,
        |base| match symbolizer {
            Some(path) => format!("{base}:external_symbolizer_path={path}"),
            None => base.to_owned(),
        },
        "1",
    )
}

/// `caller` plus settings for runs whose reports nobody reads (the
/// intermediate runs of a minimization): no symbolization, no Rust
/// backtrace, which makes each crash several times cheaper.
pub fn fast_env(caller: &[(OsString, OsString)]) -> Vec<(OsString, OsString)> {
    sanitizer_env(caller, |_| "symbolize=0".to_owned(), "0")
}

fn sanitizer_env(
    caller: &[(OsString, OsString)],
    ours: impl Fn(&str) -> String,
    rust_backtrace: &str,
) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = Vec::new();
    if !caller.iter().any(|(k, _)| k == "RUST_BACKTRACE") {
        env.push(("RUST_BACKTRACE".into(), rust_backtrace.into()));
    }
    for (var, base) in SANITIZER_VARS {
        let mut value = OsString::from(ours(base));
        if let Some((_, theirs)) = caller.iter().rev().find(|(k, _)| k == var) {
            value.push(":");
            value.push(theirs);
        }
        env.push(((*var).into(), value));
    }
    env.extend(
        caller
            .iter()
            .filter(|(k, _)| !SANITIZER_VARS.iter().any(|(v, _)| k == v))
            .cloned(),
    );
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn exe(path: &Path) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, "#!/bin/sh\n").unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn plain_name_first_then_highest_version() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        let lib = dir.path().join("lib");
        exe(&bin.join("llvm-symbolizer-14"));
        exe(&bin.join("llvm-symbolizer-9"));
        exe(&lib.join("llvm-22/bin/llvm-symbolizer"));
        fs::create_dir_all(lib.join("llvm-30/bin")).unwrap();
        let path = std::env::join_paths([&bin]).unwrap();
        assert_eq!(
            find_symbolizer_in(Some(&path), &lib),
            Some(lib.join("llvm-22/bin/llvm-symbolizer"))
        );
        fs::remove_dir_all(lib.join("llvm-22")).unwrap();
        assert_eq!(
            find_symbolizer_in(Some(&path), &lib),
            Some(bin.join("llvm-symbolizer-14"))
        );
        exe(&bin.join("llvm-symbolizer"));
        assert_eq!(
            find_symbolizer_in(Some(&path), &lib),
            Some(bin.join("llvm-symbolizer"))
        );
        assert_eq!(find_symbolizer_in(None, &dir.path().join("none")), None);
    }

    #[test]
    fn caller_options_follow_ours() {
        let caller = vec![
            ("ASAN_OPTIONS".into(), "detect_odr_violation=0".into()),
            ("TMPDIR".into(), "/t".into()),
        ];
        let env = symbolization_env(Some(Path::new("/usr/bin/llvm-symbolizer-14")), &caller);
        let get = |k: &str| {
            env.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.to_str().unwrap().to_owned())
        };
        assert_eq!(get("RUST_BACKTRACE").as_deref(), Some("1"));
        assert_eq!(
            get("ASAN_OPTIONS").as_deref(),
            Some(
                "symbolize=1:external_symbolizer_path=/usr/bin/llvm-symbolizer-14:detect_odr_violation=0"
            )
        );
        assert_eq!(
            get("UBSAN_OPTIONS").as_deref(),
            Some(
                "symbolize=1:print_stacktrace=1:external_symbolizer_path=/usr/bin/llvm-symbolizer-14"
            )
        );
        assert_eq!(get("TMPDIR").as_deref(), Some("/t"));
        let env = symbolization_env(Some(Path::new("/opt/my tools/llvm-symbolizer")), &[]);
        assert!(
            !env.iter()
                .any(|(_, v)| v.to_str().unwrap().contains("external"))
        );
        let fast = fast_env(&caller);
        assert!(fast.contains(&("RUST_BACKTRACE".into(), "0".into())));
        assert!(fast.contains(&(
            "ASAN_OPTIONS".into(),
            "symbolize=0:detect_odr_violation=0".into()
        )));
    }
}
