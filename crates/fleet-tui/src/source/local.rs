//! The local node: the state dir's database (as `status` reads it) and the machine's
//! CPU, memory and disk.

use std::path::PathBuf;
use std::time::Duration;

use fleet_store::{Db, Layout};

use super::{HISTORY_WINDOW, HistoryBook, Source, now_ms};
use crate::model::{NodeData, Point};

/// CPU use is measured over this window on the poller's thread.
const CPU_WINDOW: Duration = Duration::from_millis(200);

#[derive(Debug)]
pub struct LocalSource {
    state_dir: PathBuf,
    known: Vec<String>,
    db: Option<Db>,
    book: HistoryBook,
}

impl LocalSource {
    /// `known`: the configured targets, shown before they first run.
    pub fn new(state_dir: PathBuf, known: Vec<String>) -> Self {
        LocalSource {
            state_dir,
            known,
            db: None,
            book: HistoryBook::default(),
        }
    }

    fn read(&mut self) -> Result<NodeData, String> {
        if self.db.is_none() {
            let path = Layout::new(&self.state_dir).db_path();
            if !path.exists() {
                return Err(format!(
                    "no fuzzfleet state in {} yet (start a campaign with `fuzzfleet run`)",
                    self.state_dir.display()
                ));
            }
            self.db = Some(Db::open(&path).map_err(|e| e.to_string())?);
        }
        let db = self.db.as_ref().expect("opened above");
        let system = fleet_docs::system::sample(&self.state_dir, CPU_WINDOW);
        let doc = fleet_docs::report::status(db, &self.known, system).map_err(|e| e.to_string())?;
        // The same document a remote node sends, so both look alike.
        let mut data = crate::wire::node_data(&doc);
        let first = now_ms() - HISTORY_WINDOW.as_millis() as i64;
        for t in &data.targets {
            let since = self.book.last_t_ms(&t.name).map_or(first, |t| t + 1);
            let samples = db.samples(&t.name, since).map_err(|e| e.to_string())?;
            self.book.add(
                &t.name,
                samples.into_iter().map(|s| Point {
                    t_ms: s.ts,
                    execs_per_sec: s.execs_per_sec,
                    coverage: s.coverage,
                    corpus_files: s.corpus_files,
                    corpus_bytes: s.corpus_bytes,
                }),
            );
        }
        self.book.attach(&mut data);
        Ok(data)
    }
}

impl Source for LocalSource {
    fn name(&self) -> String {
        "local".into()
    }

    fn origin(&self) -> String {
        self.state_dir.display().to_string()
    }

    fn poll(&mut self) -> (Option<String>, Result<NodeData, String>) {
        let result = self.read();
        if result.is_err() {
            // Reopen next time: the state dir may have been created or restored.
            self.db = None;
        }
        (None, result)
    }
}
