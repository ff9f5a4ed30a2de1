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
    import_into(src, corpus, quarantine, 1, &mut stats, None)?;
    Ok(stats)
}

/// [`import_dir`], naming the entries it added (their names in `corpus`).
pub fn import_dir_named(src: &Path, corpus: &Path, quarantine: &Path) -> io::Result<Vec<String>> {
    fs::create_dir_all(corpus)?;
    let mut names = Vec::new();
    import_into(
        src,
        corpus,
        quarantine,
        1,
        &mut ImportStats::default(),
        Some(&mut names),
    )?;
    Ok(names)
}

fn import_into(
    src: &Path,
    corpus: &Path,
    quarantine: &Path,
    depth: usize,
    stats: &mut ImportStats,
    mut names: Option<&mut Vec<String>>,
) -> io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(src)?.collect::<io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let ty = entry.file_type()?;
        if ty.is_dir() && depth > 0 {
            let names = names.as_deref_mut();
            import_into(&entry.path(), corpus, quarantine, depth - 1, stats, names)?;
            continue;
        }
        if !ty.is_file() {
            continue;
        }
        let bytes = fs::read(entry.path())?;
        match import_bytes(&bytes, corpus, quarantine)? {
            Imported::Added(name) => {
                stats.added += 1;
                if let Some(names) = names.as_deref_mut() {
                    names.push(name);
                }
            }
            Imported::Known(_) => stats.skipped += 1,
        }
    }
    Ok(())
}

/// What [`import_bytes`] did with an input; either way, its name in the corpus.
#[derive(Debug, PartialEq)]
pub enum Imported {
    /// A new entry.
    Added(String),
    /// Already in the corpus, or set aside in quarantine (never brought back).
    Known(String),
}

/// Adds one input to `corpus`, named by its SHA-1, unless the corpus or `quarantine`
/// has it already.
/// Links `from` to `to` where the filesystem allows it, else copies it; `false` when
/// `from` is gone (an entry removed since it was listed, by a minimization or a
/// libFuzzer `REDUCE`).
pub fn link_or_copy(from: &Path, to: &Path) -> io::Result<bool> {
    match fs::hard_link(from, to) {
        Ok(()) => return Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(_) => {}
    }
    match fs::copy(from, to) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

pub fn import_bytes(bytes: &[u8], corpus: &Path, quarantine: &Path) -> io::Result<Imported> {
    let name = sha1_hex(bytes);
    if corpus.join(&name).exists() || quarantine.join(&name).exists() {
        return Ok(Imported::Known(name));
    }
    write_atomic(&corpus.join(&name), bytes)?;
    Ok(Imported::Added(name))
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

/// Renames every entry whose content no longer matches its SHA-1 name to the name of
/// what it holds, so the hub and the store see it as what it is. libFuzzer writes
/// entries in place: a worker stopped between creating a file and writing it leaves a
/// short (often empty) file under the hash of the input it meant to write. That input
/// is gone; what the file does hold is kept under its true name (or, when an entry
/// with that content exists already, the duplicate is dropped). Only call this while no
/// worker writes to `corpus`. Returns how many entries were renamed or dropped.
pub fn repair(corpus: &Path) -> io::Result<usize> {
    let Ok(entries) = fs::read_dir(corpus) else {
        return Ok(0);
    };
    let mut fixed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.len() != 40 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        if !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let bytes = fs::read(entry.path())?;
        let real = sha1_hex(&bytes);
        if real == name {
            continue;
        }
        let dest = corpus.join(&real);
        if !dest.exists() {
            write_atomic(&dest, &bytes)?;
        }
        fs::remove_file(entry.path())?;
        fixed += 1;
    }
    Ok(fixed)
}

/// Number of files and total bytes of a corpus directory (dot files, which are
/// in-progress writes, are not counted).
/// Sets each named target's recorded corpus figures to what is on disk, after its corpus
/// changed outside a campaign (`corpus minimize`, `restore`, `corpus import`), so `status`
/// never shows the old counts. Targets never recorded are left alone.
pub fn recount(
    layout: &fleet_store::Layout,
    db: &fleet_store::Db,
    targets: &[String],
) -> Result<(), fleet_store::StoreError> {
    for name in targets {
        if let Some(mut t) = db.target(name)? {
            let (files, bytes) = size(&layout.corpus_dir(name));
            t.corpus_files = files as i64;
            t.corpus_bytes = bytes as i64;
            db.put_target(&t)?;
        }
    }
    Ok(())
}

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
    fn repair_renames_a_half_written_entry_to_what_it_holds_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let corpus = dir.path();
        let whole = b"whole entry";
        fs::write(corpus.join(sha1_hex(whole)), whole).unwrap();
        // Created under the hash of "abc", stopped before a byte was written.
        fs::write(corpus.join(sha1_hex(b"abc")), b"").unwrap();
        // Truncated to bytes another entry already holds.
        fs::write(corpus.join(sha1_hex(b"whole entry, longer")), whole).unwrap();
        fs::write(corpus.join("README"), b"not an entry").unwrap();

        assert_eq!(repair(corpus).unwrap(), 2);
        let mut names: Vec<String> = fs::read_dir(corpus)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let mut want = vec![sha1_hex(whole), sha1_hex(b""), "README".to_string()];
        want.sort();
        assert_eq!(names, want);
        assert_eq!(fs::read(corpus.join(sha1_hex(whole))).unwrap(), whole);
        assert_eq!(repair(corpus).unwrap(), 0);
    }

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
