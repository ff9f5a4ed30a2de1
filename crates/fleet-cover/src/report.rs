//! The coverage report: llvm-cov's JSON export (format `llvm.coverage.json.export`)
//! parsed into per-file summaries, totals and one entry per source function, with
//! the functions no input reached ranked by size.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::replay::ReplayStats;

/// Version of [`CoverageReport`]'s JSON shape (`coverage --json`).
pub const REPORT_VERSION: u32 = 1;

/// Covered out of total, for lines, regions or functions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub covered: u64,
    pub total: u64,
}

impl Counts {
    /// Percent covered; 0 when there is nothing to cover.
    pub fn percent(self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.covered as f64 * 100.0 / self.total as f64
        }
    }
}

/// Lines, regions and functions together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub lines: Counts,
    pub regions: Counts,
    pub functions: Counts,
}

/// One source file of the code under test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCoverage {
    pub path: String,
    #[serde(flatten)]
    pub summary: Summary,
}

/// One source function (all its instantiations together).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionCoverage {
    /// Demangled, without the hash suffix.
    pub name: String,
    pub file: String,
    pub line: u64,
    /// Code regions of its body: the size the "never reached" ranking uses.
    pub regions: u64,
    /// Source lines its body spans.
    pub lines: u64,
    /// How often it ran, over all instantiations.
    pub count: u64,
}

/// What `coverage` found for one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoverageReport {
    pub version: u32,
    pub target: String,
    pub replay: ReplayStats,
    pub files: Vec<FileCoverage>,
    /// Over every file of the code under test (the whole crate): most of it is often
    /// other targets' code.
    pub totals: Summary,
    /// Over the files this target reaches (at least one of their lines or functions
    /// ran): the figure that says how well the target covers what it tests.
    #[serde(default)]
    pub reached: Summary,
    /// How many files that is, of `files`.
    #[serde(default)]
    pub reached_files: usize,
    /// Sorted by file, then line.
    pub functions: Vec<FunctionCoverage>,
}

/// Whether the target reached a file: any of its lines or functions ran.
fn reaches(f: &FileCoverage) -> bool {
    f.summary.lines.covered > 0 || f.summary.functions.covered > 0
}

impl Summary {
    fn add(&mut self, o: &Summary) {
        self.lines.covered += o.lines.covered;
        self.lines.total += o.lines.total;
        self.regions.covered += o.regions.covered;
        self.regions.total += o.regions.total;
        self.functions.covered += o.functions.covered;
        self.functions.total += o.functions.total;
    }
}

impl CoverageReport {
    /// Functions that never ran in the files the target reaches, largest first (regions,
    /// then lines): the table a harness author reads first. Files it never entered are
    /// other code (often other targets'): [`CoverageReport::unreached_files`] names them.
    pub fn never_reached(&self) -> Vec<&FunctionCoverage> {
        let reached: std::collections::BTreeSet<&str> = self
            .files
            .iter()
            .filter(|f| reaches(f))
            .map(|f| f.path.as_str())
            .collect();
        let mut never: Vec<&FunctionCoverage> = self
            .functions
            .iter()
            .filter(|f| f.count == 0 && reached.contains(f.file.as_str()))
            .collect();
        never.sort_by(|a, b| {
            b.regions
                .cmp(&a.regions)
                .then(b.lines.cmp(&a.lines))
                .then(a.file.cmp(&b.file))
                .then(a.line.cmp(&b.line))
        });
        never
    }

    /// Files of the code under test the target never entered.
    pub fn unreached_files(&self) -> Vec<&FileCoverage> {
        self.files.iter().filter(|f| !reaches(f)).collect()
    }
}

#[derive(Deserialize)]
struct Export {
    data: Vec<ExportData>,
}

#[derive(Deserialize)]
struct ExportData {
    files: Vec<ExportFile>,
    #[serde(default)]
    functions: Vec<ExportFunction>,
    totals: ExportSummary,
}

#[derive(Deserialize)]
struct ExportFile {
    filename: String,
    summary: ExportSummary,
}

#[derive(Deserialize)]
struct ExportSummary {
    lines: ExportCounts,
    regions: ExportCounts,
    functions: ExportCounts,
}

#[derive(Deserialize)]
struct ExportCounts {
    count: u64,
    covered: u64,
}

#[derive(Deserialize)]
struct ExportFunction {
    name: String,
    count: u64,
    /// `[line_start, col_start, line_end, col_end, count, file_id, expanded_file_id, kind]`.
    regions: Vec<Vec<u64>>,
    filenames: Vec<String>,
}

/// llvm-cov's `CounterMappingRegion::CodeRegion`: the regions that are code.
const CODE_REGION: u64 = 0;

impl From<&ExportSummary> for Summary {
    fn from(s: &ExportSummary) -> Self {
        let c = |x: &ExportCounts| Counts {
            covered: x.covered,
            total: x.count,
        };
        Summary {
            lines: c(&s.lines),
            regions: c(&s.regions),
            functions: c(&s.functions),
        }
    }
}

/// Parses `llvm-cov export -format=text` output; functions are kept only in files
/// the export listed (those that passed its `-ignore-filename-regex`).
pub fn parse_export(
    target: &str,
    json: &[u8],
    replay: ReplayStats,
) -> Result<CoverageReport, serde_json::Error> {
    let export: Export = serde_json::from_slice(json)?;
    let mut files = Vec::new();
    let mut totals = Summary::default();
    let mut by_place: BTreeMap<(String, u64, u64), FunctionCoverage> = BTreeMap::new();
    for data in &export.data {
        let t = Summary::from(&data.totals);
        totals.lines.covered += t.lines.covered;
        totals.lines.total += t.lines.total;
        totals.regions.covered += t.regions.covered;
        totals.regions.total += t.regions.total;
        totals.functions.covered += t.functions.covered;
        totals.functions.total += t.functions.total;
        for f in &data.files {
            files.push(FileCoverage {
                path: f.filename.clone(),
                summary: Summary::from(&f.summary),
            });
        }
        for f in &data.functions {
            let Some(file) = f.filenames.first() else {
                continue;
            };
            if !files.iter().any(|x| &x.path == file) {
                continue;
            }
            let code: Vec<&Vec<u64>> = f
                .regions
                .iter()
                .filter(|r| r.len() >= 8 && r[5] == 0 && r[7] == CODE_REGION)
                .collect();
            let Some(first) = code.iter().min_by_key(|r| (r[0], r[1])) else {
                continue;
            };
            let last_line = code.iter().map(|r| r[2]).max().unwrap_or(first[0]);
            let key = (file.clone(), first[0], first[1]);
            let entry = by_place.entry(key).or_insert_with(|| FunctionCoverage {
                name: demangle(&f.name),
                file: file.clone(),
                line: first[0],
                regions: code.len() as u64,
                lines: last_line.saturating_sub(first[0]) + 1,
                count: 0,
            });
            entry.count = entry.count.saturating_add(f.count);
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let mut reached = Summary::default();
    let mut reached_files = 0;
    for f in files.iter().filter(|f| reaches(f)) {
        reached.add(&f.summary);
        reached_files += 1;
    }
    Ok(CoverageReport {
        version: REPORT_VERSION,
        target: target.to_owned(),
        replay,
        files,
        totals,
        reached,
        reached_files,
        functions: by_place.into_values().collect(),
    })
}

/// A readable function name: Rust symbols (legacy and v0) demangled without their
/// hash; a local symbol's `file:` prefix dropped; anything else as it is.
pub fn demangle(symbol: &str) -> String {
    let symbol = symbol.rsplit(':').next().unwrap_or(symbol);
    match rustc_demangle::try_demangle(symbol) {
        Ok(d) => format!("{d:#}"),
        Err(_) => symbol.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPORT: &str = r#"{"type":"llvm.coverage.json.export","version":"3.0.1","data":[{
      "files":[{"filename":"/p/src/lib.rs","segments":[],"summary":{
        "lines":{"count":10,"covered":6,"percent":60},
        "regions":{"count":8,"covered":5,"notcovered":3,"percent":62.5},
        "functions":{"count":3,"covered":2,"percent":66.6},
        "instantiations":{"count":4,"covered":3,"percent":75}}},
        {"filename":"/p/src/other.rs","segments":[],"summary":{
        "lines":{"count":90,"covered":0,"percent":0},
        "regions":{"count":4,"covered":0,"notcovered":4,"percent":0},
        "functions":{"count":1,"covered":0,"percent":0},
        "instantiations":{"count":1,"covered":0,"percent":0}}}],
      "functions":[
        {"name":"_ZN3lib9reached_a17h0123456789abcdefE","count":4,"filenames":["/p/src/lib.rs"],
         "regions":[[3,1,5,2,4,0,0,0],[4,5,4,9,0,0,0,0]],"branches":[]},
        {"name":"_ZN3lib5never17h0123456789abcdefE","count":0,"filenames":["/p/src/lib.rs"],
         "regions":[[10,1,20,2,0,0,0,0],[12,1,12,5,0,0,0,0],[14,1,15,5,0,0,0,0]],"branches":[]},
        {"name":"lib.rs:_ZN3lib5small17h0123456789abcdefE","count":0,"filenames":["/p/src/lib.rs"],
         "regions":[[30,1,31,2,0,0,0,0]],"branches":[]},
        {"name":"_ZN3lib3gen17h00000000000000aaE","count":0,"filenames":["/p/src/lib.rs"],
         "regions":[[40,1,41,2,0,0,0,0]],"branches":[]},
        {"name":"_ZN3lib3gen17h00000000000000bbE","count":2,"filenames":["/p/src/lib.rs"],
         "regions":[[40,1,41,2,2,0,0,0]],"branches":[]},
        {"name":"_ZN4core3ptr8drop17h0123456789abcdefE","count":0,"filenames":["/rustc/x/library/core/src/ptr.rs"],
         "regions":[[1,1,2,2,0,0,0,0]],"branches":[]},
        {"name":"_ZN5other4huge17h0123456789abcdefE","count":0,"filenames":["/p/src/other.rs"],
         "regions":[[1,1,90,2,0,0,0,0],[2,1,3,2,0,0,0,0],[4,1,5,2,0,0,0,0],[6,1,7,2,0,0,0,0]],"branches":[]}
      ],
      "totals":{"lines":{"count":100,"covered":6,"percent":6},"regions":{"count":12,"covered":5,"notcovered":7,"percent":41.6},
        "functions":{"count":4,"covered":2,"percent":50},"instantiations":{"count":5,"covered":3,"percent":60}}}]}"#;

    #[test]
    fn parses_files_totals_and_merges_instantiations() {
        let r = parse_export("t", EXPORT.as_bytes(), ReplayStats::default()).unwrap();
        assert_eq!(r.files.len(), 2);
        assert_eq!(
            r.files[0].summary.lines,
            Counts {
                covered: 6,
                total: 10
            }
        );
        assert_eq!(
            r.totals.regions,
            Counts {
                covered: 5,
                total: 12
            }
        );
        let names: Vec<(&str, u64)> = r
            .functions
            .iter()
            .map(|f| (f.name.as_str(), f.count))
            .collect();
        // The std function is not in a listed file; `gen`'s two instantiations are one.
        assert_eq!(
            names,
            [
                ("lib::reached_a", 4),
                ("lib::never", 0),
                ("lib::small", 0),
                ("lib::gen", 2),
                ("other::huge", 0)
            ]
        );
    }

    #[test]
    fn coverage_is_over_the_files_the_target_reaches_and_the_whole_crate_apart() {
        let r = parse_export("t", EXPORT.as_bytes(), ReplayStats::default()).unwrap();
        // 6 of the 10 lines of the file it reaches, 6 of 100 over the crate.
        assert_eq!(
            r.reached.lines,
            Counts {
                covered: 6,
                total: 10
            }
        );
        assert_eq!(r.reached_files, 1);
        assert_eq!(
            r.totals.lines,
            Counts {
                covered: 6,
                total: 100
            }
        );
        assert_eq!(r.reached.lines.percent(), 60.0);
        let unreached: Vec<&str> = r
            .unreached_files()
            .iter()
            .map(|f| f.path.as_str())
            .collect();
        assert_eq!(unreached, ["/p/src/other.rs"]);
    }

    #[test]
    fn never_reached_is_ranked_by_size_within_the_files_reached() {
        let r = parse_export("t", EXPORT.as_bytes(), ReplayStats::default()).unwrap();
        let never: Vec<(&str, u64, u64)> = r
            .never_reached()
            .iter()
            .map(|f| (f.name.as_str(), f.regions, f.lines))
            .collect();
        assert_eq!(never, [("lib::never", 3, 11), ("lib::small", 1, 2)]);
    }

    #[test]
    fn demangles_legacy_and_v0_and_keeps_c_names() {
        assert_eq!(demangle("_ZN3foo3bar17h05af221e174051e9E"), "foo::bar");
        assert_eq!(demangle("_RNvCs1234_3foo3bar"), "foo::bar");
        assert_eq!(demangle("fuzz.c:parse_header"), "parse_header");
        assert_eq!(demangle("LLVMFuzzerTestOneInput"), "LLVMFuzzerTestOneInput");
    }

    #[test]
    fn percent_of_nothing_is_zero() {
        assert_eq!(Counts::default().percent(), 0.0);
        assert_eq!(
            Counts {
                covered: 1,
                total: 4
            }
            .percent(),
            25.0
        );
    }
}
