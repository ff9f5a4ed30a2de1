//! Finding prebuilt C/C++ libFuzzer harnesses in a directory: the executables whose
//! names match a glob and that define `LLVMFuzzerTestOneInput`, each with the files
//! OSS-Fuzz keeps beside a harness — `<file>.dict`, `<file>.options` and
//! `<file>_seed_corpus.zip` — and the `[libfuzzer]` flags of its `.options`.

use std::io;
use std::path::{Path, PathBuf};

/// The function every libFuzzer harness defines.
pub const FUZZ_ENTRY: &str = "LLVMFuzzerTestOneInput";

/// Binaries larger than this are not read to look for [`FUZZ_ENTRY`].
const MAX_BINARY_BYTES: u64 = 2 << 30;

/// A harness binary found in a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundHarness {
    /// The binary's file name, e.g. `fuzz_parse`.
    pub file_name: String,
    /// The target name: the file name without the prefix to strip (not yet validated).
    pub name: String,
    /// The binary; absolute when the directory was.
    pub binary: PathBuf,
    /// `<file>.dict` beside the binary, when it exists.
    pub dict: Option<PathBuf>,
    /// `<file>.options` beside the binary, when it exists.
    pub options: Option<PathBuf>,
    /// `<file>_seed_corpus.zip` beside the binary, when it exists.
    pub seed_zip: Option<PathBuf>,
}

/// The libFuzzer harnesses in `dir` whose file names match `glob`, sorted by file
/// name. `strip_prefix` is removed from the front of names that start with it.
pub fn find_harnesses(
    dir: &Path,
    glob: &str,
    strip_prefix: Option<&str>,
) -> io::Result<Vec<FoundHarness>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(file_name) = entry.file_name().into_string() else {
            continue;
        };
        // The files that go with a harness are never harnesses themselves.
        if file_name.starts_with('.')
            || [".dict", ".options", ".zip"]
                .iter()
                .any(|ext| file_name.ends_with(ext))
            || !glob_match(glob, &file_name)
        {
            continue;
        }
        let binary = entry.path();
        if !is_libfuzzer_binary(&binary) {
            continue;
        }
        let beside =
            |suffix: &str| Some(dir.join(format!("{file_name}{suffix}"))).filter(|p| p.is_file());
        let name = strip_prefix
            .and_then(|p| file_name.strip_prefix(p))
            .filter(|rest| !rest.is_empty())
            .unwrap_or(&file_name)
            .to_owned();
        found.push(FoundHarness {
            dict: beside(".dict"),
            options: beside(".options"),
            seed_zip: beside("_seed_corpus.zip"),
            name,
            binary,
            file_name,
        });
    }
    found.sort_by(|a, b| a.file_name.cmp(&b.file_name));
    Ok(found)
}

/// Whether `path` is an executable regular file that defines [`FUZZ_ENTRY`] in its
/// symbol table or its dynamic symbol table.
pub fn is_libfuzzer_binary(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 || meta.len() > MAX_BINARY_BYTES {
        return false;
    }
    let Ok(handle) = std::fs::File::open(path) else {
        return false;
    };
    // Only the headers, the symbol tables and their strings are read, each in one go.
    let cache = object::ReadCache::new(handle);
    match object::FileKind::parse(&cache) {
        Ok(object::FileKind::Elf64) => {
            defines_entry::<object::elf::FileHeader64<object::Endianness>>(&cache)
        }
        Ok(object::FileKind::Elf32) => {
            defines_entry::<object::elf::FileHeader32<object::Endianness>>(&cache)
        }
        _ => Ok(false),
    }
    .unwrap_or(false)
}

/// Whether the ELF file's symbol table or dynamic symbol table has a defined symbol
/// named [`FUZZ_ENTRY`]. Each table and its strings are read in one go, and only the
/// bytes each defined symbol's name starts at are compared, so a sanitizer build's
/// thousands of symbols cost a few reads.
fn defines_entry<Elf: object::read::elf::FileHeader<Endian = object::Endianness>>(
    data: &object::ReadCache<std::fs::File>,
) -> object::read::Result<bool> {
    use object::read::elf::{SectionHeader as _, Sym as _};
    let header = Elf::parse(data)?;
    let endian = header.endian()?;
    let sections = header.sections(endian, data)?;
    let needle = [FUZZ_ENTRY.as_bytes(), b"\0"].concat();
    for kind in [object::elf::SHT_SYMTAB, object::elf::SHT_DYNSYM] {
        let table = sections.symbols(endian, data, kind)?;
        if table.is_empty() {
            continue;
        }
        let strings = sections
            .section(table.string_section())?
            .data(endian, data)?;
        let found = table.symbols().iter().any(|sym| {
            sym.st_shndx(endian) != object::elf::SHN_UNDEF
                && usize::try_from(sym.st_name(endian))
                    .ok()
                    .and_then(|at| strings.get(at..at + needle.len()))
                    == Some(needle.as_slice())
        });
        if found {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Shell-style matching of a file name: `*` any run of characters, `?` one character,
/// everything else itself.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Classic two-pointer match with backtracking to the last `*`.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// One `key = value` of an `.options` file's `[libfuzzer]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionLine {
    /// 1-based line in the `.options` file.
    pub line: usize,
    pub key: String,
    pub value: String,
}

/// The `[libfuzzer]` section of an OSS-Fuzz `.options` file (INI: `[section]`
/// headers, `key = value` or `key: value`, `#` and `;` comments). Other sections
/// (`[asan]`, `[ubsan]`, …) are skipped. A line that is none of these is an error,
/// given as its line number and a message.
pub fn libfuzzer_options(text: &str) -> Result<Vec<OptionLine>, (usize, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let Some(name) = rest.strip_suffix(']') else {
                return Err((i + 1, format!("unclosed section header {line:?}")));
            };
            section = name.trim().to_owned();
            continue;
        }
        let Some((key, value)) = line.split_once(['=', ':']) else {
            return Err((
                i + 1,
                format!("expected \"key = value\" or a [section], got {line:?}"),
            ));
        };
        if section.is_empty() {
            return Err((i + 1, "a key before any [section]".to_owned()));
        }
        if section == "libfuzzer" {
            out.push(OptionLine {
                line: i + 1,
                key: key.trim().to_owned(),
                value: value.trim().to_owned(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("fuzz_*", "fuzz_parse"));
        assert!(glob_match("fuzz_*", "fuzz_"));
        assert!(!glob_match("fuzz_*", "xfuzz_parse"));
        assert!(glob_match("*", "anything"));
        assert!(glob_match("*_fuzzer", "png_read_fuzzer"));
        assert!(glob_match("a*b*c", "aXXbYYbc"));
        assert!(glob_match("f?z", "fuz"));
        assert!(!glob_match("f?z", "fz"));
        assert!(!glob_match("abc", "abcd"));
    }

    #[test]
    fn options_files() {
        let text = "# OSS-Fuzz style\n[libfuzzer]\nmax_len = 1200\ndict: x.dict\n\n[asan]\ndetect_leaks=0\n[libfuzzer]\n; again\nonly_ascii=1\n";
        let got = libfuzzer_options(text).unwrap();
        assert_eq!(
            got.iter()
                .map(|o| (o.line, o.key.as_str(), o.value.as_str()))
                .collect::<Vec<_>>(),
            [
                (3, "max_len", "1200"),
                (4, "dict", "x.dict"),
                (10, "only_ascii", "1")
            ]
        );
        assert_eq!(
            libfuzzer_options("[libfuzzer]\nmax_len 5\n").unwrap_err().0,
            2
        );
        assert_eq!(libfuzzer_options("max_len = 5\n").unwrap_err().0, 1);
        assert_eq!(libfuzzer_options("[libfuzzer\n").unwrap_err().0, 1);
    }

    #[test]
    fn shell_scripts_and_plain_programs_are_not_harnesses() {
        assert!(!is_libfuzzer_binary(Path::new("/bin/sh")));
        assert!(!is_libfuzzer_binary(Path::new("/etc/passwd")));
        assert!(!is_libfuzzer_binary(Path::new("/nonexistent")));
    }
}
