//! The content-addressed corpus of a target: seeds are imported under their SHA-1 (the
//! name libFuzzer gives its own entries), so duplicates are stored once, user seed
//! directories are never written to, and a seed that crashes on load can be set aside.

use std::fs;
use std::io;
use std::path::Path;

use fleet_store::{sha1_hex, write_atomic};

/// What an import did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportStats {
    pub added: usize,
    pub skipped: usize,
}

/// Copies every regular file under `src` (one level of subdirectories, as cargo-fuzz
/// corpus trees have) into `corpus` named by content hash. Entries already present, or
/// set aside in `quarantine`, are skipped.
pub fn import_dir(src: &Path, corpus: &Path, quarantine: &Path) -> io::Result<ImportStats> {
    fs::create_dir_all(corpus)?;
    let mut stats = ImportStats::default();
    import_into(src, corpus, quarantine, 1, &mut stats)?;
    Ok(stats)
}

fn import_into(
    src: &Path,
    corpus: &Path,
    quarantine: &Path,
    depth: usize,
    stats: &mut ImportStats,
) -> io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(src)?.collect::<io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let ty = entry.file_type()?;
        if ty.is_dir() && depth > 0 {
            import_into(&entry.path(), corpus, quarantine, depth - 1, stats)?;
            continue;
        }
        if !ty.is_file() {
            continue;
        }
        let bytes = fs::read(entry.path())?;
        let name = sha1_hex(&bytes);
        if corpus.join(&name).exists() || quarantine.join(&name).exists() {
            stats.skipped += 1;
        } else {
            write_atomic(&corpus.join(&name), &bytes)?;
            stats.added += 1;
        }
    }
    Ok(())
}

/// Moves the corpus entry with content hash `sha1` into quarantine (kept, not deleted).
/// Returns whether there was such an entry.
pub fn quarantine(corpus: &Path, quarantine: &Path, sha1: &str) -> io::Result<bool> {
    let entry = corpus.join(sha1);
    if !entry.exists() {
        return Ok(false);
    }
    fs::create_dir_all(quarantine)?;
    fs::rename(&entry, quarantine.join(sha1))?;
    Ok(true)
}

/// Number of files and total bytes of a corpus directory (dot files, which are
/// in-progress writes, are not counted).
pub fn size(corpus: &Path) -> (u64, u64) {
    let Ok(entries) = fs::read_dir(corpus) else {
        return (0, 0);
    };
    let mut files = 0;
    let mut bytes = 0;
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if let Ok(md) = entry.metadata()
            && md.is_file()
        {
            files += 1;
            bytes += md.len();
        }
    }
    (files, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_is_content_addressed_and_skips_duplicates_and_quarantined_entries() {
        let dir = tempfile::tempdir().unwrap();
        let (src, corpus, quar) = (
            dir.path().join("s"),
            dir.path().join("c"),
            dir.path().join("q"),
        );
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::write(src.join("a"), b"alpha").unwrap();
        fs::write(src.join("b"), b"alpha").unwrap();
        fs::write(src.join("sub/c"), b"gamma").unwrap();
        let stats = import_dir(&src, &corpus, &quar).unwrap();
        assert_eq!(
            stats,
            ImportStats {
                added: 2,
                skipped: 1
            }
        );
        assert_eq!(size(&corpus), (2, 10));
        assert!(corpus.join(sha1_hex(b"alpha")).exists());
        // Seeds are read, never changed.
        assert_eq!(fs::read(src.join("a")).unwrap(), b"alpha");

        assert!(quarantine(&corpus, &quar, &sha1_hex(b"gamma")).unwrap());
        let again = import_dir(&src, &corpus, &quar).unwrap();
        assert_eq!(
            again,
            ImportStats {
                added: 0,
                skipped: 3
            }
        );
        assert_eq!(size(&corpus), (1, 5));
        assert!(quar.join(sha1_hex(b"gamma")).exists());
    }
}
