//! OSS-Fuzz seed archives: `<harness>_seed_corpus.zip` beside a harness, unpacked
//! into a directory of seeds the campaign imports. Every file of the archive becomes
//! one seed named by the SHA-1 of its content (as libFuzzer names corpus entries), so
//! no name in the archive can point outside the directory, and duplicates collapse.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};

use crate::BuildError;

/// Most bytes unpacked from one archive, counted as they are read (not as the archive
/// claims): a larger archive is refused rather than filling the disk.
pub const MAX_SEED_ARCHIVE_BYTES: u64 = 1 << 30;
/// Most files unpacked from one archive.
pub const MAX_SEED_ARCHIVE_FILES: usize = 1_000_000;

/// Where the seeds of `archive` are unpacked: `.fuzzfleet-seeds/<archive stem>/`
/// beside it (in the build's output directory, never in the sources).
pub fn seed_archive_dir(archive: &Path) -> PathBuf {
    let stem = archive
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "seeds".to_owned());
    archive
        .parent()
        .unwrap_or(Path::new("."))
        .join(".fuzzfleet-seeds")
        .join(stem)
}

/// Unpacks `archive` into [`seed_archive_dir`] unless that already holds this
/// archive's content (its SHA-1 is kept beside the directory). Returns the directory
/// and how many seeds it holds. The directory is replaced whole, by a rename.
pub fn unpack_seed_archive(archive: &Path) -> Result<(PathBuf, usize), BuildError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BuildError::Io { path, source }
    };
    let dir = seed_archive_dir(archive);
    let stamp = dir.with_extension("sha1");
    let sha1 = crate::file_sha1(archive).map_err(io(archive))?;
    if dir.is_dir() && fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == sha1) {
        let count = fs::read_dir(&dir).map_err(io(&dir))?.count();
        return Ok((dir, count));
    }
    let parent = dir.parent().expect("a seeds dir has a parent");
    fs::create_dir_all(parent).map_err(io(parent))?;
    let tmp = parent.join(format!(".tmp-{}-{}", std::process::id(), sha1));
    let result = unpack_into(archive, &tmp);
    let count = match result {
        Ok(count) => count,
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(io(&dir))?;
    }
    fs::rename(&tmp, &dir).map_err(io(&dir))?;
    fs::write(&stamp, format!("{sha1}\n")).map_err(io(&stamp))?;
    Ok((dir, count))
}

fn unpack_into(archive: &Path, dest: &Path) -> Result<usize, BuildError> {
    let bad = |message: String| BuildError::Io {
        path: archive.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, message),
    };
    fs::create_dir_all(dest).map_err(|source| BuildError::Io {
        path: dest.to_path_buf(),
        source,
    })?;
    let file = fs::File::open(archive).map_err(|source| BuildError::Io {
        path: archive.to_path_buf(),
        source,
    })?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| bad(format!("not a zip archive: {e}")))?;
    let mut total: u64 = 0;
    let mut count = 0;
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| bad(format!("entry {i}: {e}")))?;
        if !entry.is_file() {
            continue;
        }
        if count == MAX_SEED_ARCHIVE_FILES {
            return Err(bad(format!(
                "more than {MAX_SEED_ARCHIVE_FILES} files: refused"
            )));
        }
        let mut content = Vec::new();
        let room = MAX_SEED_ARCHIVE_BYTES - total;
        (&mut entry)
            .take(room + 1)
            .read_to_end(&mut content)
            .map_err(|e| bad(format!("entry {i}: {e}")))?;
        total += content.len() as u64;
        if total > MAX_SEED_ARCHIVE_BYTES {
            return Err(bad(format!(
                "unpacks to more than {MAX_SEED_ARCHIVE_BYTES} bytes: refused"
            )));
        }
        let name = hex::encode(Sha1::digest(&content));
        let path = dest.join(&name);
        if !path.exists() {
            count += 1;
            fs::write(&path, &content).map_err(|source| BuildError::Io { path, source })?;
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn archive(path: &Path, files: &[(&str, &[u8])]) {
        let mut z = zip::ZipWriter::new(fs::File::create(path).unwrap());
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, content) in files {
            z.start_file(*name, options).unwrap();
            z.write_all(content).unwrap();
        }
        z.finish().unwrap();
    }

    #[test]
    fn unpacks_by_content_once_and_again_when_the_archive_changes() {
        let dir = fleet_testkit::temp_dir();
        let zip = dir.path().join("fuzz_x_seed_corpus.zip");
        archive(
            &zip,
            &[("a", b"one"), ("../../escape", b"two"), ("sub/dup", b"one")],
        );
        let (seeds, count) = unpack_seed_archive(&zip).unwrap();
        assert_eq!(
            seeds,
            dir.path().join(".fuzzfleet-seeds/fuzz_x_seed_corpus")
        );
        assert_eq!(count, 2);
        let mut names: Vec<String> = fs::read_dir(&seeds)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        let mut want = vec![
            hex::encode(Sha1::digest(b"one")),
            hex::encode(Sha1::digest(b"two")),
        ];
        want.sort();
        assert_eq!(names, want);
        assert!(!dir.path().join("escape").exists());
        // Unchanged: kept as it is.
        assert_eq!(unpack_seed_archive(&zip).unwrap().1, 2);
        archive(&zip, &[("only", b"three")]);
        assert_eq!(unpack_seed_archive(&zip).unwrap().1, 1);
    }

    #[test]
    fn a_file_that_is_not_a_zip_is_an_error_naming_it() {
        let dir = fleet_testkit::temp_dir();
        let zip = dir.path().join("bad_seed_corpus.zip");
        fs::write(&zip, b"not a zip").unwrap();
        let err = unpack_seed_archive(&zip).unwrap_err();
        assert!(
            matches!(err, BuildError::Io { ref path, .. } if path == &zip),
            "{err}"
        );
        assert!(!seed_archive_dir(&zip).exists());
    }
}
