//! Whether `state_dir` can hold fuzzfleet's state: a directory (or one that can be made)
//! that this user may write, on a real filesystem. Checked at load, before any command
//! creates anything there, so a bad `state_dir` is a config error naming its line.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `/proc` and `/sys`: kernel pseudo-filesystems, where no state can live. (The magic
/// numbers' C type differs between libcs, hence the casts.)
#[allow(clippy::unnecessary_cast)]
const PSEUDO_FILESYSTEMS: &[(i64, &str)] = &[
    (libc::PROC_SUPER_MAGIC as i64, "/proc"),
    (libc::SYSFS_MAGIC as i64, "/sys"),
];

/// What is wrong with `dir` as a state dir, or `None` when it is usable. Whether
/// this user may write it is only checked when `writable` is asked for.
pub(super) fn unusable(dir: &Path, writable: bool) -> Option<String> {
    let shown = dir.display();
    // The nearest part of the path that exists: the state dir itself, or the
    // directory it would be created in.
    let mut existing = dir;
    let meta = loop {
        match std::fs::metadata(existing) {
            Ok(meta) => break meta,
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    || e.raw_os_error() == Some(libc::ENOTDIR) =>
            {
                match existing.parent() {
                    Some(parent) => existing = parent,
                    None => return Some(format!("\"{shown}\" cannot be created: {e}")),
                }
            }
            Err(e) => return Some(format!("\"{shown}\" cannot be used: {e}")),
        }
    };
    let what = if existing == dir {
        format!("\"{shown}\"")
    } else {
        format!("\"{shown}\" cannot be created: \"{}\"", existing.display())
    };
    if !meta.is_dir() {
        return Some(format!("{what} is not a directory"));
    }
    if let Some(fs) = pseudo_filesystem(existing) {
        return Some(format!(
            "{what} is on {fs}, a kernel pseudo-filesystem that cannot hold files"
        ));
    }
    if writable && !may_write(existing) {
        return Some(format!(
            "{what} is read-only for this user (fuzzfleet writes its database, corpora and findings there)"
        ));
    }
    None
}

fn c_path(path: &Path) -> Option<CString> {
    CString::new(path.as_os_str().as_bytes()).ok()
}

/// `access(W_OK)`: the kernel's own answer, read-only mounts included.
fn may_write(path: &Path) -> bool {
    let Some(c) = c_path(path) else {
        return false;
    };
    // SAFETY: `c` is a NUL-terminated path that outlives the call.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

fn pseudo_filesystem(path: &Path) -> Option<&'static str> {
    let c = c_path(path)?;
    // SAFETY: statfs fills the zeroed struct it is given; `c` outlives the call.
    let mut stat: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut stat) } != 0 {
        return None;
    }
    #[allow(clippy::unnecessary_cast)]
    let magic = stat.f_type as i64;
    PSEUDO_FILESYSTEMS
        .iter()
        .find(|(m, _)| *m == magic)
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usable_and_unusable_dirs() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(unusable(dir.path(), true), None);
        assert_eq!(unusable(&dir.path().join("a/b/c"), true), None);
        let file = dir.path().join("f");
        std::fs::write(&file, "").unwrap();
        assert!(
            unusable(&file, true)
                .unwrap()
                .ends_with("is not a directory")
        );
        assert!(
            unusable(&file.join("sub"), true)
                .unwrap()
                .contains("cannot be created")
        );
        assert!(
            unusable(Path::new("/proc/fuzzfleet"), true)
                .unwrap()
                .contains("on /proc, a kernel pseudo-filesystem")
        );
        assert!(
            unusable(Path::new("/sys/x"), true)
                .unwrap()
                .contains("on /sys")
        );
    }
}
