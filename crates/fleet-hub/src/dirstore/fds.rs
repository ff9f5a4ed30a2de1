//! Walking a directory hub by descriptors, never following a link: each directory is
//! opened relative to the one above it with links refused by the kernel at open time
//! (`openat2` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, or `openat` with `O_NOFOLLOW`
//! one component at a time where the kernel has no `openat2`), so there is no check
//! that a writer could race between checking and opening.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, OpenHow, ResolveFlag, openat, openat2};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat, fstatat, mkdirat};

use super::DirError;

/// How a path below the hub's root is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resolve {
    /// One `openat2` call for the whole path, the kernel refusing any link on the way.
    Openat2,
    /// One `openat(O_NOFOLLOW | O_DIRECTORY)` per component (kernels before 5.6).
    PerComponent,
}

impl Resolve {
    /// `openat2` if this kernel (and any seccomp filter in front of it) has it.
    pub(crate) fn probe(root: &OwnedFd) -> Self {
        match openat2(root, ".", how(dir_flags())) {
            Ok(_) => Resolve::Openat2,
            Err(_) => Resolve::PerComponent,
        }
    }
}

const WHY: &str = "fuzzfleet never follows links inside a directory hub";

fn dir_flags() -> OFlag {
    OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW
}

fn how(flags: OFlag) -> OpenHow {
    OpenHow::new()
        .flags(flags)
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS)
}

/// The hub's root. The root itself may be reached through links (it is the operator's
/// configuration, e.g. a mount point); only what is below it is resolved strictly.
pub(crate) fn open_root(root: &Path) -> io::Result<OwnedFd> {
    let flags = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
    Ok(openat(nix::fcntl::AT_FDCWD, root, flags, Mode::empty())?)
}

/// What is at a name, as a phrase for messages ("a symbolic link", "a FIFO").
pub(crate) fn kind_of(stat: &FileStat) -> &'static str {
    match SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT {
        SFlag::S_IFREG => "a regular file",
        SFlag::S_IFDIR => "a directory",
        SFlag::S_IFLNK => "a symbolic link",
        SFlag::S_IFIFO => "a FIFO",
        SFlag::S_IFSOCK => "a socket",
        SFlag::S_IFCHR => "a character device",
        SFlag::S_IFBLK => "a block device",
        _ => "of an unknown file type",
    }
}

pub(crate) fn is_kind(stat: &FileStat, kind: SFlag) -> bool {
    SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == kind
}

/// Why `name` in `dir` could not be opened as what was wanted, once an open refused it
/// (looking only after the kernel refused: this decides the message, not the access).
fn diagnose(dir: BorrowedFd<'_>, name: &str, shown: &str, wanted: &str, errno: Errno) -> DirError {
    match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => DirError::Refused(refusal(shown, &st, wanted)),
        Err(_) => DirError::Io(io::Error::from(errno)),
    }
}

/// Why what `stat` describes is not `wanted`: "v1/corpus/t is a symbolic link (…)" for
/// a component on the way, "a FIFO, not a regular file" for the object itself (`shown`
/// empty: the refusal names its key already).
pub(crate) fn refusal(shown: &str, stat: &FileStat, wanted: &str) -> String {
    let what = if is_kind(stat, SFlag::S_IFLNK) {
        format!("a symbolic link ({WHY})")
    } else {
        format!("{}, not {wanted}", kind_of(stat))
    };
    if shown.is_empty() {
        what
    } else {
        format!("{shown} is {what}")
    }
}

/// The directory at `comps` below `root`; `None` if some component is missing and
/// `create` is false. With `create`, missing directories are made one at a time
/// (`mkdirat` in the directory opened just before).
pub(crate) fn open_dir(
    resolve: Resolve,
    root: &OwnedFd,
    comps: &[&str],
    create: bool,
) -> Result<Option<OwnedFd>, DirError> {
    if comps.is_empty() {
        return Ok(Some(root.try_clone().map_err(DirError::Io)?));
    }
    if resolve == Resolve::Openat2 {
        match openat2(root, comps.join("/").as_str(), how(dir_flags())) {
            Ok(fd) => return Ok(Some(fd)),
            Err(Errno::ENOENT) if !create => return Ok(None),
            // Missing parts to make, or a refusal to name precisely: the walk below
            // does both, itself refusing links at every step.
            Err(Errno::ENOENT | Errno::ELOOP | Errno::EXDEV | Errno::ENOTDIR | Errno::EAGAIN) => {}
            Err(e) => return Err(DirError::Io(e.into())),
        }
    }
    let mut cur = root.try_clone().map_err(DirError::Io)?;
    for (i, name) in comps.iter().enumerate() {
        let shown = comps[..=i].join("/");
        let mut made = false;
        cur = loop {
            match openat(&cur, *name, dir_flags(), Mode::empty()) {
                Ok(fd) => break fd,
                Err(Errno::ENOENT) if create && !made => {
                    match mkdirat(&cur, *name, Mode::from_bits_truncate(0o777)) {
                        Ok(()) | Err(Errno::EEXIST) => made = true,
                        Err(e) => return Err(DirError::Io(e.into())),
                    }
                }
                Err(Errno::ENOENT) => return Ok(None),
                Err(e @ (Errno::ELOOP | Errno::ENOTDIR)) => {
                    return Err(diagnose(cur.as_fd(), name, &shown, "a directory", e));
                }
                Err(e) => return Err(DirError::Io(e.into())),
            }
        };
    }
    Ok(Some(cur))
}

/// Opens `name` in `dir` for reading if it is a regular file: never through a link,
/// never blocking on a FIFO or device (`O_NONBLOCK`), and checked with `fstat` on the
/// descriptor that will be read. `None` if there is nothing at `name`.
pub(crate) fn open_regular(
    dir: &OwnedFd,
    name: &str,
) -> Result<Option<(std::fs::File, FileStat)>, DirError> {
    let flags = OFlag::O_RDONLY
        | OFlag::O_NONBLOCK
        | OFlag::O_NOFOLLOW
        | OFlag::O_NOCTTY
        | OFlag::O_CLOEXEC;
    let fd = match openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(None),
        Err(e @ (Errno::ELOOP | Errno::ENXIO | Errno::ENODEV | Errno::EISDIR)) => {
            return Err(diagnose(dir.as_fd(), name, "", "a regular file", e));
        }
        Err(e) => return Err(DirError::Io(e.into())),
    };
    let stat = fstat(fd.as_fd()).map_err(|e| DirError::Io(e.into()))?;
    if !is_kind(&stat, SFlag::S_IFREG) {
        return Err(DirError::Refused(refusal("", &stat, "a regular file")));
    }
    Ok(Some((std::fs::File::from(fd), stat)))
}

/// What is at `name` in `dir`, without following it; `None` if nothing.
pub(crate) fn stat_at(dir: BorrowedFd<'_>, name: &str) -> Result<Option<FileStat>, DirError> {
    match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(DirError::Io(e.into())),
    }
}

/// Opens the sub-directory `name` of `dir` for listing, refusing a link (the listing
/// saw a directory; a writer may have swapped in a link since).
pub(crate) fn open_subdir(dir: BorrowedFd<'_>, name: &str) -> Result<OwnedFd, DirError> {
    match openat(dir, name, dir_flags(), Mode::empty()) {
        Ok(fd) => Ok(fd),
        Err(e @ (Errno::ELOOP | Errno::ENOTDIR)) => Err(diagnose(dir, name, "", "a directory", e)),
        Err(e) => Err(DirError::Io(e.into())),
    }
}
