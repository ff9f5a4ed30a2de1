//! The directory hub's store: objects are files under the hub's directory, reached only
//! through descriptors that never follow a link (`fds`), and only regular files are read.
//! Anyone who can write to a shared hub directory can plant links, FIFOs or devices in
//! it; this store refuses each one, naming its key, and never reads or writes outside
//! the hub because of it.
//!
//! Everything here blocks; `Store` runs it on tokio's blocking pool under its time limits.
//! A writer's temporary file is `<name>#<pid>-<n>` beside its final name (renamed into
//! place within the same directory descriptor); listings skip names with a `#`, which no
//! key of the layout has.

mod fds;

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use nix::errno::Errno;
use nix::fcntl::{OFlag, RenameFlags, renameat, renameat2};
use nix::sys::stat::{Mode, SFlag};
use nix::unistd::{UnlinkatFlags, linkat, unlinkat};
use object_store::path::Path;

use crate::keys::Refusal;
pub(crate) use fds::Resolve;

/// How deep a listing goes below its prefix: the layout nests one level below any
/// directory that is listed whole; deeper trees are refused, not walked.
const MAX_LIST_DEPTH: usize = 4;

/// Why a directory-hub operation did not do what was asked.
#[derive(Debug)]
pub(crate) enum DirError {
    /// Something in the hub fuzzfleet will not use (a link, a FIFO, a directory where a
    /// file belongs): the reason, for a [`Refusal`] of the key.
    Refused(String),
    /// The filesystem failed (permissions, I/O, a full disk).
    Io(io::Error),
}

impl From<io::Error> for DirError {
    fn from(e: io::Error) -> Self {
        DirError::Io(e)
    }
}

impl From<Errno> for DirError {
    fn from(e: Errno) -> Self {
        DirError::Io(e.into())
    }
}

/// What a get found.
#[derive(Debug)]
pub(crate) enum DirGot {
    Bytes(Bytes),
    Missing,
    TooLarge(u64),
}

/// A listing: the objects (or, not recursive, the sub-directories) found, and the
/// entries refused on the way.
#[derive(Debug, Default)]
pub(crate) struct DirListing {
    pub(crate) keys: Vec<Path>,
    pub(crate) refused: Vec<Refusal>,
}

/// A hub directory.
#[derive(Debug)]
pub(crate) struct DirStore {
    root: PathBuf,
    resolve: Resolve,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl DirStore {
    /// Probes once whether the kernel has `openat2`.
    pub(crate) fn new(root: PathBuf) -> Self {
        let resolve = fds::open_root(&root)
            .map(|fd| Resolve::probe(&fd))
            .unwrap_or(Resolve::PerComponent);
        Self::with_resolve(root, resolve)
    }

    pub(crate) fn with_resolve(root: PathBuf, resolve: Resolve) -> Self {
        Self { root, resolve }
    }

    fn root(&self) -> Result<OwnedFd, DirError> {
        Ok(fds::open_root(&self.root)?)
    }

    /// The object's bytes, read from a regular file only, at most `max` of them.
    pub(crate) fn get(&self, key: &Path, max: u64) -> Result<DirGot, DirError> {
        let comps = split(key)?;
        let (name, parents) = split_last(&comps)?;
        let root = self.root()?;
        let Some(dir) = fds::open_dir(self.resolve, &root, parents, false)? else {
            return Ok(DirGot::Missing);
        };
        let Some((file, stat)) = fds::open_regular(&dir, name)? else {
            return Ok(DirGot::Missing);
        };
        let size = u64::try_from(stat.st_size).unwrap_or(0);
        if size > max {
            return Ok(DirGot::TooLarge(size));
        }
        // The file may grow after the fstat: never read more than the limit allows.
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        file.take(max + 1).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > max {
            return Ok(DirGot::TooLarge(bytes.len() as u64));
        }
        Ok(DirGot::Bytes(Bytes::from(bytes)))
    }

    /// Writes `bytes` at `key`: a temporary file in the key's directory, synced, then
    /// renamed onto the name (`only_new`: linked, so an existing object is kept and
    /// `false` returned). Whatever was at the name is replaced, never followed: a link
    /// there is replaced by the object.
    pub(crate) fn put(&self, key: &Path, bytes: &[u8], only_new: bool) -> Result<bool, DirError> {
        let comps = split(key)?;
        let (name, parents) = split_last(&comps)?;
        let root = self.root()?;
        let dir = fds::open_dir(self.resolve, &root, parents, true)?
            .ok_or_else(|| DirError::Io(io::Error::from(io::ErrorKind::NotFound)))?;
        let tmp = format!(
            "{name}#{}-{}",
            std::process::id(),
            TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let written = (|| -> Result<bool, DirError> {
            let flags = OFlag::O_WRONLY
                | OFlag::O_CREAT
                | OFlag::O_EXCL
                | OFlag::O_NOFOLLOW
                | OFlag::O_CLOEXEC;
            let fd =
                nix::fcntl::openat(&dir, tmp.as_str(), flags, Mode::from_bits_truncate(0o666))?;
            let mut file = std::fs::File::from(fd);
            file.write_all(bytes)?;
            // An object must be durable before the batch naming it is written.
            file.sync_all()?;
            let placed = if only_new {
                link_new(&dir, &tmp, name)?
            } else {
                match renameat(&dir, tmp.as_str(), &dir, *name) {
                    Ok(()) => true,
                    Err(e @ (Errno::EISDIR | Errno::ENOTEMPTY | Errno::EEXIST)) => {
                        return Err(match fds::stat_at(dir.as_fd(), name)? {
                            Some(st) => DirError::Refused(fds::refusal("", &st, "a regular file")),
                            None => DirError::Io(e.into()),
                        });
                    }
                    Err(e) => return Err(e.into()),
                }
            };
            nix::unistd::fsync(&dir)?;
            Ok(placed)
        })();
        // Gone after a rename; left after a link or a failure.
        let _ = unlinkat(&dir, tmp.as_str(), UnlinkatFlags::NoRemoveDir);
        written
    }

    /// Whether a regular file is at `key`; anything else there is refused.
    pub(crate) fn exists(&self, key: &Path) -> Result<bool, DirError> {
        let comps = split(key)?;
        let (name, parents) = split_last(&comps)?;
        let root = self.root()?;
        let Some(dir) = fds::open_dir(self.resolve, &root, parents, false)? else {
            return Ok(false);
        };
        match fds::stat_at(dir.as_fd(), name)? {
            None => Ok(false),
            Some(st) if fds::is_kind(&st, SFlag::S_IFREG) => Ok(true),
            Some(st) => Err(DirError::Refused(fds::refusal("", &st, "a regular file"))),
        }
    }

    /// Every object under `prefix` (`recursive`), or the directories right under it.
    /// Links and other non-regular entries are refused, never followed or listed.
    pub(crate) fn list(&self, prefix: &Path, recursive: bool) -> Result<DirListing, DirError> {
        let comps = split(prefix)?;
        let root = self.root()?;
        let mut out = DirListing::default();
        if let Some(dir) = fds::open_dir(self.resolve, &root, &comps, false)? {
            self.walk(dir, prefix, recursive, 0, &mut out)?;
        }
        out.keys.sort();
        Ok(out)
    }

    fn walk(
        &self,
        dir: OwnedFd,
        at: &Path,
        recursive: bool,
        depth: usize,
        out: &mut DirListing,
    ) -> Result<(), DirError> {
        // A second descriptor of the same directory for the `*at` calls: the first is
        // the listing's (it shares the offset, which those calls never move).
        let at_fd = dir.try_clone()?;
        let mut listing = nix::dir::Dir::from_fd(dir)?;
        let mut subdirs = Vec::new();
        for entry in listing.iter() {
            let entry = entry?;
            let raw = entry.file_name().to_bytes();
            if raw == b"." || raw == b".." {
                continue;
            }
            let Ok(name) = std::str::from_utf8(raw) else {
                let shown = String::from_utf8_lossy(raw);
                out.refused
                    .push(Refusal::new(format!("{at}/{shown}"), "not a UTF-8 name"));
                continue;
            };
            if name.contains('#') {
                continue;
            }
            let key = at.clone().join(name);
            let kind = match entry.file_type() {
                Some(nix::dir::Type::File) => SFlag::S_IFREG,
                Some(nix::dir::Type::Directory) => SFlag::S_IFDIR,
                Some(nix::dir::Type::Symlink) => SFlag::S_IFLNK,
                // Filesystems that do not say in the listing: ask, without following.
                _ => match fds::stat_at(at_fd.as_fd(), name)? {
                    Some(st) => SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT,
                    None => continue,
                },
            };
            match kind {
                SFlag::S_IFREG if recursive => out.keys.push(key),
                SFlag::S_IFDIR if recursive => subdirs.push((name.to_owned(), key)),
                SFlag::S_IFDIR => out.keys.push(key),
                // Not recursive: only the directories are wanted; objects beside them are
                // not the listing's business.
                SFlag::S_IFREG => {}
                _ => {
                    let st = fds::stat_at(at_fd.as_fd(), name)?;
                    let reason = match st {
                        Some(st) => fds::refusal("", &st, "a regular file or directory"),
                        None => continue,
                    };
                    out.refused.push(Refusal::new(&key, reason));
                }
            }
        }
        for (name, key) in subdirs {
            if depth + 1 > MAX_LIST_DEPTH {
                out.refused.push(Refusal::new(
                    &key,
                    format!("nested more than {MAX_LIST_DEPTH} directories deep"),
                ));
                continue;
            }
            match fds::open_subdir(at_fd.as_fd(), &name) {
                Ok(fd) => self.walk(fd, &key, recursive, depth + 1, out)?,
                Err(DirError::Refused(reason)) => out.refused.push(Refusal::new(&key, reason)),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// `tmp` linked as `name` only if nothing is there yet; falls back to an exclusive
/// rename, then a plain one, on filesystems without hard links.
fn link_new(dir: &OwnedFd, tmp: &str, name: &str) -> Result<bool, DirError> {
    match linkat(dir, tmp, dir, name, nix::fcntl::AtFlags::empty()) {
        Ok(()) => return Ok(true),
        Err(Errno::EEXIST) => return Ok(false),
        Err(Errno::EPERM | Errno::EOPNOTSUPP | Errno::EMLINK) => {}
        Err(e) => return Err(e.into()),
    }
    match renameat2(dir, tmp, dir, name, RenameFlags::RENAME_NOREPLACE) {
        Ok(()) => Ok(true),
        Err(Errno::EEXIST) => Ok(false),
        Err(Errno::EINVAL | Errno::ENOSYS) => {
            renameat(dir, tmp, dir, name)?;
            Ok(true)
        }
        Err(e) => Err(e.into()),
    }
}

fn split_last<'a, 'k>(comps: &'a [&'k str]) -> Result<(&'a &'k str, &'a [&'k str]), DirError> {
    comps
        .split_last()
        .ok_or_else(|| DirError::Refused("an empty key names no object".to_owned()))
}

/// A key's components, each a plain name: keys are built from validated names, and
/// this refuses again anything that could step out of a directory or hide as a
/// writer's temporary file.
fn split(key: &Path) -> Result<Vec<&str>, DirError> {
    if key.as_ref().is_empty() {
        return Ok(Vec::new());
    }
    let comps: Vec<&str> = key.as_ref().split('/').collect();
    for c in &comps {
        if c.is_empty() || *c == "." || *c == ".." || c.contains('#') || c.contains('\0') {
            return Err(DirError::Refused(format!(
                "{c:?} is not a name a directory hub uses"
            )));
        }
    }
    Ok(comps)
}

#[cfg(test)]
mod tests;
