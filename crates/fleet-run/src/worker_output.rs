//! A worker's output, read on its own thread: every line into a bounded log, status lines
//! turned into events, and failure reports assembled whole (fleet-engine's
//! [`ReportAssembler`]): artifacts with their report, reports cut off before their
//! artifact, sanitizer reports the target recovered from.

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;

use fleet_engine::libfuzzer::{Assembled, ReportAssembler};

use crate::events::{Event, RunId, WorkerMsg};
use crate::output::{LineKind, classify_line, is_inited};

/// Lines of output kept for the message of a worker that ends.
const TAIL_LINES: usize = 40;

#[derive(Default)]
pub(crate) struct OutputSummary {
    pub(crate) tail: Vec<String>,
    pub(crate) saw_inited: bool,
}

/// Reads the worker's output until EOF: logs every line, sends status and artifacts.
pub(crate) fn read_output(
    run: RunId,
    pipe: io::PipeReader,
    mut log: BoundedLog,
    tx: &Sender<Event>,
    writing_report: &AtomicBool,
) -> OutputSummary {
    let mut reader = BufReader::new(pipe);
    let mut buf = Vec::new();
    let mut tail: VecDeque<String> = VecDeque::with_capacity(TAIL_LINES);
    // Bounded: it caps the lines it keeps of a report and of the output before one.
    let mut reports = ReportAssembler::new();
    let mut saw_inited = false;
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        log.write(&buf);
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim_end_matches(['\n', '\r']);
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line.to_string());
        // A report ends before the line that ends it is acted on (a status line after
        // an artifact), so events keep the output's order.
        for done in reports.feed(line) {
            let _ = tx.send(Event::Worker(run, assembled(done)));
        }
        writing_report.store(reports.writing_report(), Ordering::Relaxed);
        let msg = match classify_line(line) {
            LineKind::Status(status) => {
                if is_inited(&status) && !saw_inited {
                    saw_inited = true;
                    let _ = tx.send(Event::Worker(run, WorkerMsg::Inited));
                }
                Some(WorkerMsg::Status(status))
            }
            LineKind::FinalExecs(n) => Some(WorkerMsg::FinalExecs(n)),
            LineKind::Unparsed(error) => Some(WorkerMsg::ParseError(error)),
            // Artifacts are the assembler's: sent once their report is whole.
            LineKind::ArtifactWritten(_) | LineKind::Other => None,
        };
        if let Some(msg) = msg {
            let _ = tx.send(Event::Worker(run, msg));
        }
        // Lines reach the log file as soon as the worker has printed nothing more (so
        // `tail -f` shows a report as it is written), in batches while it floods.
        if reader.buffer().is_empty() {
            log.flush();
        }
    }
    for done in reports.end() {
        let _ = tx.send(Event::Worker(run, assembled(done)));
    }
    log.flush();
    OutputSummary {
        tail: tail.into(),
        saw_inited,
    }
}

fn assembled(done: Assembled) -> WorkerMsg {
    match done {
        Assembled::Artifact { path, report } => WorkerMsg::Artifact {
            path: PathBuf::from(path),
            report,
        },
        Assembled::LostReport { report } => WorkerMsg::LostReport { report },
        Assembled::Recoverable {
            location,
            message,
            report,
        } => WorkerMsg::Recoverable {
            location,
            message,
            report,
        },
    }
}

/// A log file that keeps at most `max_bytes`: at half of it, the file becomes `<name>.1`
/// (replacing the previous one) and a new file starts.
pub(crate) struct BoundedLog {
    path: PathBuf,
    file: Option<io::BufWriter<File>>,
    written: u64,
    max_bytes: u64,
}

impl BoundedLog {
    pub(crate) fn open(path: &Path, max_bytes: u64) -> io::Result<Self> {
        let file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        let written = file.metadata()?.len();
        Ok(Self {
            path: path.to_path_buf(),
            file: Some(io::BufWriter::new(file)),
            written,
            max_bytes,
        })
    }

    fn write(&mut self, bytes: &[u8]) {
        if self.written + bytes.len() as u64 > self.max_bytes / 2 {
            self.rotate();
        }
        if let Some(f) = &mut self.file
            && f.write_all(bytes).is_ok()
        {
            self.written += bytes.len() as u64;
        }
    }

    fn rotate(&mut self) {
        self.flush();
        let mut old = self.path.clone().into_os_string();
        old.push(".1");
        let _ = fs::rename(&self.path, &old);
        // A log that cannot be reopened (disk full) is dropped, never a reason to stop.
        self.file = File::create(&self.path).ok().map(io::BufWriter::new);
        self.written = 0;
    }

    fn flush(&mut self) {
        if let Some(f) = &mut self.file {
            let _ = f.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// What `read_output` sends for `text` written to its pipe, and its summary.
    fn read_all(text: &str) -> (Vec<WorkerMsg>, OutputSummary) {
        let dir = tempfile::tempdir().unwrap();
        let log = BoundedLog::open(&dir.path().join("w0.log"), 1 << 20).unwrap();
        let (reader, mut writer) = io::pipe().unwrap();
        let text = text.to_owned();
        let feeder = std::thread::spawn(move || {
            writer.write_all(text.as_bytes()).unwrap();
        });
        let (tx, rx) = mpsc::channel();
        let summary = read_output(7, reader, log, &tx, &AtomicBool::new(false));
        feeder.join().unwrap();
        drop(tx);
        let msgs = rx
            .into_iter()
            .map(|e| match e {
                Event::Worker(7, m) => m,
                other => panic!("{other:?}"),
            })
            .collect();
        (msgs, summary)
    }

    fn captured(name: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/logs/libfuzzer")
            .join(name);
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn a_timeout_is_sent_with_the_stack_printed_after_its_artifact_line() {
        let (msgs, summary) = read_all(&captured("timeout-cpp-join.log"));
        assert!(summary.saw_inited);
        let artifacts: Vec<(&PathBuf, &String)> = msgs
            .iter()
            .filter_map(|m| match m {
                WorkerMsg::Artifact { path, report } => Some((path, report)),
                _ => None,
            })
            .collect();
        assert_eq!(artifacts.len(), 1, "{msgs:#?}");
        let (path, report) = artifacts[0];
        assert!(path.starts_with("art"), "{}", path.display());
        assert!(report.contains("ERROR: libFuzzer: timeout after 3 seconds"));
        assert!(report.contains("(anonymous namespace)::Pool::~Pool()"));
        assert!(report.ends_with("SUMMARY: libFuzzer: timeout"));
        // Status lines still arrive, Inited first among the worker's news.
        assert!(matches!(msgs[0], WorkerMsg::Inited));
        assert!(msgs.iter().any(|m| matches!(m, WorkerMsg::Status(_))));
    }

    #[test]
    fn a_report_the_output_ends_without_an_artifact_for_is_sent_as_lost() {
        let text = captured("crash-rust-panic.log");
        let cut: Vec<&str> = text
            .lines()
            .take_while(|l| !l.starts_with("NOTE: libFuzzer"))
            .collect();
        let text = format!(
            "{}\n==9== libFuzzer: run interrupted; exiting\n",
            cut.join("\n")
        );
        let (msgs, _) = read_all(&text);
        assert!(!msgs.iter().any(|m| matches!(m, WorkerMsg::Artifact { .. })));
        let lost: Vec<&String> = msgs
            .iter()
            .filter_map(|m| match m {
                WorkerMsg::LostReport { report } => Some(report),
                _ => None,
            })
            .collect();
        assert_eq!(lost.len(), 1, "{msgs:#?}");
        assert!(lost[0].contains("panicked at"));
    }

    #[test]
    fn recovered_ubsan_reports_are_sent_while_fuzzing_goes_on() {
        let (msgs, _) = read_all(&captured("ubsan-recover.log"));
        let places: Vec<&str> = msgs
            .iter()
            .filter_map(|m| match m {
                WorkerMsg::Recoverable { location, .. } => location.rsplit('/').next(),
                _ => None,
            })
            .collect();
        assert_eq!(places, ["ubsan_recover.c:16:12", "ubsan_recover.c:12:18"]);
        assert!(
            !msgs
                .iter()
                .any(|m| matches!(m, WorkerMsg::Artifact { .. } | WorkerMsg::LostReport { .. }))
        );
        // Each is sent before the status lines that followed it.
        let first_recovered = msgs
            .iter()
            .position(|m| matches!(m, WorkerMsg::Recoverable { .. }))
            .unwrap();
        assert!(matches!(msgs.last(), Some(WorkerMsg::FinalExecs(_))));
        assert!(first_recovered < msgs.len() - 10);
    }

    #[test]
    fn bounded_log_keeps_at_most_its_budget() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w0.log");
        let mut log = BoundedLog::open(&path, 1000).unwrap();
        for i in 0..500 {
            log.write(format!("line {i}\n").as_bytes());
        }
        log.flush();
        let a = fs::metadata(&path).unwrap().len();
        let b = fs::metadata(dir.path().join("w0.log.1")).unwrap().len();
        assert!(a + b <= 1000, "{a} + {b}");
        assert!(fs::read_to_string(&path).unwrap().ends_with("line 499\n"));
    }
}
