//! Finding a cargo-fuzz project's targets without cargo-fuzz: the `[[bin]]` entries of
//! its `Cargo.toml` whose source is under `fuzz_targets/`, or, when it declares none,
//! the stems of `fuzz_targets/*.rs`.

use std::io;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

/// The directory cargo-fuzz keeps one source file per target in.
pub const FUZZ_TARGETS_DIR: &str = "fuzz_targets";

/// A target found in a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectTarget {
    /// The binary's name (not yet validated as a target name).
    pub name: String,
    /// Its source file, `<fuzz dir>/fuzz_targets/<…>.rs`.
    pub source: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("project directory \"{}\" does not exist", .0.display())]
    Missing(PathBuf),
    #[error("project path \"{}\" is not a directory", .0.display())]
    NotADirectory(PathBuf),
    #[error(
        "\"{}\" is not a cargo-fuzz project (no fuzz_targets/ directory in it or in its fuzz/)",
        .0.display()
    )]
    NoFuzzTargets(PathBuf),
    #[error("\"{}\" is not a cargo-fuzz project (no Cargo.toml)", .0.display())]
    NoManifest(PathBuf),
    #[error("cannot read \"{}\": {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("cannot parse \"{}\": {message}", path.display())]
    Manifest { path: PathBuf, message: String },
    #[error("cargo-fuzz project \"{}\" has no fuzz targets", .0.display())]
    NoTargets(PathBuf),
}

/// The cargo-fuzz directory of a project path: `path` itself when it has
/// `fuzz_targets/`, else `path/fuzz` when that has it.
pub fn fuzz_dir(path: &Path) -> Result<PathBuf, DiscoverError> {
    if !path.exists() {
        return Err(DiscoverError::Missing(path.to_owned()));
    }
    if !path.is_dir() {
        return Err(DiscoverError::NotADirectory(path.to_owned()));
    }
    let dir = [path.to_owned(), path.join("fuzz")]
        .into_iter()
        .find(|dir| dir.join(FUZZ_TARGETS_DIR).is_dir())
        .ok_or_else(|| DiscoverError::NoFuzzTargets(path.to_owned()))?;
    if !dir.join("Cargo.toml").is_file() {
        return Err(DiscoverError::NoManifest(dir));
    }
    Ok(dir)
}

#[derive(Deserialize)]
struct Manifest {
    #[serde(default)]
    bin: Vec<Bin>,
}

#[derive(Deserialize)]
struct Bin {
    name: Option<String>,
    path: Option<String>,
}

/// The targets of a cargo-fuzz directory (as returned by [`fuzz_dir`]), sorted by name.
pub fn discover_targets(fuzz_dir: &Path) -> Result<Vec<ProjectTarget>, DiscoverError> {
    let manifest_path = fuzz_dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest_path).map_err(|source| DiscoverError::Io {
        path: manifest_path.clone(),
        source,
    })?;
    let manifest: Manifest = toml::from_str(&text).map_err(|e| DiscoverError::Manifest {
        path: manifest_path.clone(),
        message: e.message().to_owned(),
    })?;
    let mut targets: Vec<ProjectTarget> = manifest
        .bin
        .into_iter()
        .filter_map(|bin| {
            let rel = PathBuf::from(bin.path?);
            let mut parts = rel.components().filter(|c| *c != Component::CurDir);
            if parts.next() != Some(Component::Normal(FUZZ_TARGETS_DIR.as_ref())) {
                return None;
            }
            let name = bin
                .name
                .or_else(|| Some(rel.file_stem()?.to_string_lossy().into_owned()))?;
            Some(ProjectTarget {
                name,
                source: fuzz_dir.join(rel),
            })
        })
        .collect();
    if targets.is_empty() {
        targets = target_sources(fuzz_dir)?;
    }
    if targets.is_empty() {
        return Err(DiscoverError::NoTargets(fuzz_dir.to_owned()));
    }
    targets.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(targets)
}

/// `fuzz_targets/*.rs`, for projects whose manifest lists no targets.
fn target_sources(fuzz_dir: &Path) -> Result<Vec<ProjectTarget>, DiscoverError> {
    let dir = fuzz_dir.join(FUZZ_TARGETS_DIR);
    let io_err = |source| DiscoverError::Io {
        path: dir.clone(),
        source,
    };
    let mut targets = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(io_err)? {
        let path = entry.map_err(io_err)?.path();
        if path.extension().is_some_and(|e| e == "rs")
            && path.is_file()
            && let Some(stem) = path.file_stem()
        {
            targets.push(ProjectTarget {
                name: stem.to_string_lossy().into_owned(),
                source: path.clone(),
            });
        }
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn project(manifest: &str, sources: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let fuzz = dir.path().join("fuzz");
        fs::create_dir_all(fuzz.join(FUZZ_TARGETS_DIR)).unwrap();
        fs::write(fuzz.join("Cargo.toml"), manifest).unwrap();
        for s in sources {
            fs::write(fuzz.join(FUZZ_TARGETS_DIR).join(s), "").unwrap();
        }
        dir
    }

    fn names(targets: &[ProjectTarget]) -> Vec<&str> {
        targets.iter().map(|t| t.name.as_str()).collect()
    }

    #[test]
    fn reads_bins_under_fuzz_targets_only() {
        let dir = project(
            r#"
[package]
name = "x-fuzz"
[[bin]]
name = "zeta"
path = "fuzz_targets/zeta.rs"
[[bin]]
name = "alpha"
path = "./fuzz_targets/a.rs"
[[bin]]
name = "helper"
path = "src/bin/helper.rs"
"#,
            &["zeta.rs", "a.rs", "unlisted.rs"],
        );
        // The crate directory is accepted too: its fuzz/ is used.
        let fuzz = fuzz_dir(dir.path()).unwrap();
        assert_eq!(fuzz, dir.path().join("fuzz"));
        let targets = discover_targets(&fuzz).unwrap();
        assert_eq!(names(&targets), ["alpha", "zeta"]);
        assert_eq!(targets[0].source, fuzz.join("./fuzz_targets/a.rs"));
    }

    #[test]
    fn falls_back_to_source_files() {
        let dir = project("[package]\nname = \"x\"\n", &["b.rs", "a.rs", "notes.txt"]);
        let targets = discover_targets(&dir.path().join("fuzz")).unwrap();
        assert_eq!(names(&targets), ["a", "b"]);
    }

    #[test]
    fn explains_what_is_missing() {
        let dir = project("[package]\nname = \"x\"\n", &[]);
        let fuzz = dir.path().join("fuzz");
        assert!(matches!(
            discover_targets(&fuzz),
            Err(DiscoverError::NoTargets(_))
        ));
        assert!(matches!(
            fuzz_dir(&dir.path().join("nope")),
            Err(DiscoverError::Missing(_))
        ));
        fs::remove_file(fuzz.join("Cargo.toml")).unwrap();
        assert!(matches!(fuzz_dir(&fuzz), Err(DiscoverError::NoManifest(_))));
        fs::remove_dir(fuzz.join(FUZZ_TARGETS_DIR)).unwrap();
        assert!(matches!(
            fuzz_dir(&fuzz),
            Err(DiscoverError::NoFuzzTargets(_))
        ));
    }
}
