//! Recognising a cargo-fuzz project, listing its fuzz targets, and where their
//! binaries land after a build.

use std::fs;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use crate::BuildError;

/// The directory of a cargo-fuzz project that holds one source file per target.
pub const FUZZ_TARGETS_DIR: &str = "fuzz_targets";

/// Cargo's output directory for a project: `<project>/target`, as cargo-fuzz
/// (a cargo-fuzz project is its own workspace).
pub fn target_dir(project_dir: &Path) -> PathBuf {
    project_dir.join("target")
}

/// Where `build_project` leaves the binary of fuzz target `target` built for
/// `triple` (always the release profile, as cargo-fuzz by default).
pub fn binary_path(project_dir: &Path, triple: &str, target: &str) -> PathBuf {
    target_dir(project_dir)
        .join(triple)
        .join("release")
        .join(format!("{target}{}", std::env::consts::EXE_SUFFIX))
}

/// Only the part of a Cargo.toml that names binaries; everything else is
/// cargo's business, so unknown keys are fine here.
#[derive(Debug, Deserialize)]
struct RawManifest {
    #[serde(default)]
    bin: Vec<RawBin>,
}

#[derive(Debug, Deserialize)]
struct RawBin {
    name: Option<String>,
    path: Option<String>,
}

/// Lists the fuzz targets of the cargo-fuzz project in `project_dir`: the
/// `[[bin]]` entries of its Cargo.toml whose source is under `fuzz_targets/`,
/// in manifest order; if there are none, the stems of `fuzz_targets/*.rs`,
/// sorted.
pub fn discover_targets(project_dir: &Path) -> Result<Vec<String>, BuildError> {
    let not_fuzz = |reason: &str| BuildError::NotAFuzzProject {
        path: project_dir.to_path_buf(),
        reason: reason.to_owned(),
    };
    let manifest_path = project_dir.join("Cargo.toml");
    if !manifest_path.is_file() {
        return Err(not_fuzz("it has no Cargo.toml"));
    }
    let targets_dir = project_dir.join(FUZZ_TARGETS_DIR);
    if !targets_dir.is_dir() {
        return Err(not_fuzz("it has no fuzz_targets/ directory"));
    }
    let text = fs::read_to_string(&manifest_path).map_err(|source| BuildError::Io {
        path: manifest_path.clone(),
        source,
    })?;
    let manifest: RawManifest = toml::from_str(&text).map_err(|source| BuildError::Manifest {
        path: manifest_path.clone(),
        source: Box::new(source),
    })?;

    let mut names: Vec<String> = Vec::new();
    for bin in manifest.bin {
        if let (Some(name), Some(path)) = (bin.name, bin.path)
            && is_under_fuzz_targets(Path::new(&path))
            && !names.contains(&name)
        {
            names.push(name);
        }
    }
    if names.is_empty() {
        names = source_stems(&targets_dir)?;
    }
    if names.is_empty() {
        return Err(not_fuzz(
            "no [[bin]] in its Cargo.toml points under fuzz_targets/, and fuzz_targets/ has no .rs file",
        ));
    }
    Ok(names)
}

fn is_under_fuzz_targets(path: &Path) -> bool {
    path.components()
        .find(|c| !matches!(c, Component::CurDir))
        .is_some_and(|c| c.as_os_str() == FUZZ_TARGETS_DIR)
}

fn source_stems(dir: &Path) -> Result<Vec<String>, BuildError> {
    let io_err = |source| BuildError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut stems = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err)? {
        let path = entry.map_err(io_err)?.path();
        if path.extension().is_some_and(|e| e == "rs")
            && path.is_file()
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        {
            stems.push(stem.to_owned());
        }
    }
    stems.sort();
    Ok(stems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(manifest: Option<&str>, sources: &[&str]) -> tempfile::TempDir {
        let dir = fleet_testkit::temp_dir();
        if let Some(text) = manifest {
            fs::write(dir.path().join("Cargo.toml"), text).unwrap();
        }
        fs::create_dir(dir.path().join(FUZZ_TARGETS_DIR)).unwrap();
        for s in sources {
            fs::write(dir.path().join(FUZZ_TARGETS_DIR).join(s), "").unwrap();
        }
        dir
    }

    #[test]
    fn bins_under_fuzz_targets_in_manifest_order() {
        let dir = project(
            Some(
                r#"
[package]
name = "p"
[package.metadata]
cargo-fuzz = true
[[bin]]
name = "zeta"
path = "fuzz_targets/zeta.rs"
[[bin]]
name = "helper"
path = "src/bin/helper.rs"
[[bin]]
name = "alpha"
path = "./fuzz_targets/alpha.rs"
test = false
[[bin]]
name = "no_path"
"#,
            ),
            &["zeta.rs", "alpha.rs", "orphan.rs"],
        );
        assert_eq!(discover_targets(dir.path()).unwrap(), ["zeta", "alpha"]);
    }

    #[test]
    fn falls_back_to_source_stems() {
        let dir = project(
            Some("[package]\nname = \"p\"\n"),
            &["b.rs", "a.rs", "notes.txt"],
        );
        assert_eq!(discover_targets(dir.path()).unwrap(), ["a", "b"]);
    }

    #[test]
    fn missing_manifest_names_the_path() {
        let dir = project(None, &["a.rs"]);
        let err = discover_targets(dir.path()).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, BuildError::NotAFuzzProject { .. }), "{msg}");
        assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
        assert!(msg.contains("Cargo.toml"), "{msg}");
    }

    #[test]
    fn missing_fuzz_targets_dir_names_the_path() {
        let dir = fleet_testkit::temp_dir();
        fs::write(dir.path().join("Cargo.toml"), "[package]\nname = \"p\"\n").unwrap();
        let msg = discover_targets(dir.path()).unwrap_err().to_string();
        assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
        assert!(msg.contains("fuzz_targets/"), "{msg}");
    }

    #[test]
    fn empty_project_is_not_a_fuzz_project() {
        let dir = project(Some("[package]\nname = \"p\"\n"), &[]);
        let err = discover_targets(dir.path()).unwrap_err();
        assert!(matches!(err, BuildError::NotAFuzzProject { .. }), "{err}");
    }

    #[test]
    fn bad_manifest_is_a_parse_error_naming_the_file() {
        let dir = project(Some("[[bin]\nname = "), &["a.rs"]);
        let err = discover_targets(dir.path()).unwrap_err();
        assert!(matches!(err, BuildError::Manifest { .. }), "{err}");
        assert!(err.to_string().contains("Cargo.toml"), "{err}");
    }

    #[test]
    fn binary_path_is_cargo_fuzz_layout() {
        assert_eq!(
            binary_path(Path::new("/p/fuzz"), "x86_64-unknown-linux-gnu", "t"),
            Path::new("/p/fuzz/target/x86_64-unknown-linux-gnu/release/t")
        );
    }
}
