//! The replay that pays an AFL++ run or a value-profile run (neither counts features in
//! the unit every run is paid in): its target's libFuzzer binary counts the corpus's
//! features without the run's entries and with them, on a background worker of its own
//! that a stopping campaign cancels (the replay's process group is stopped) and joins
//! with a deadline.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fleet_store::Layout;

use super::CampaignTarget;
use crate::background::{Background, JoinError};
use crate::minimize;

/// A replay running in the background.
pub(super) struct Replay {
    worker: Background<()>,
    cancel: fleet_proc::Cancel,
}

impl Replay {
    /// Replays `t`'s corpus without the entries named in `added` and with them, in a
    /// scratch dir of its own (`aflpp/.replay/<target>-<run>`, removed at the end), and
    /// hands the features counted (before, after) to `done` — unless the replay was
    /// stopped, whose count nobody waits for.
    pub(super) fn spawn(
        t: CampaignTarget,
        layout: Layout,
        run: u64,
        added: HashSet<String>,
        done: impl FnOnce(Result<(u64, u64), String>) + Send + 'static,
    ) -> std::io::Result<Replay> {
        let cancel = fleet_proc::Cancel::new();
        let stopped = cancel.clone();
        let name = format!("replay-{}", t.name);
        let scratch = scratch_dir(&layout, &t.name, run);
        let worker = Background::spawn(&name, move |inbox| {
            let features = replay_with_and_without(&t, &layout, &scratch, &added, &stopped);
            let _ = std::fs::remove_dir_all(&scratch);
            if !inbox.stopping() {
                done(features);
            }
        })?;
        Ok(Replay { worker, cancel })
    }

    /// Asks the replay to stop: the binary's process group is stopped at once
    /// (SIGTERM, grace, SIGKILL), and no count is handed over.
    pub(super) fn stop(&self) {
        self.cancel.cancel();
        self.worker.stop();
    }

    /// Waits up to `wait` for the thread to end.
    pub(super) fn join(self, wait: Duration) -> Result<(), JoinError> {
        self.worker.join(wait)
    }
}

/// Where the replays link their corpora (no target's name starts with a dot).
fn scratch_root(layout: &Layout) -> PathBuf {
    layout.root().join("aflpp").join(".replay")
}

/// Where run `run`'s replay links its corpus: one dir per run, so two runs of a
/// target ending together do not share it.
fn scratch_dir(layout: &Layout, target: &str, run: u64) -> PathBuf {
    scratch_root(layout).join(format!("{target}-{run}"))
}

/// Removes what replays cut off by a `kill -9` left (links and copies of corpus
/// entries, nothing else); call before any replay starts.
pub(super) fn clear_left(layout: &Layout) -> std::io::Result<()> {
    match std::fs::remove_dir_all(scratch_root(layout)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The features the target's libFuzzer binary counts replaying its corpus without the
/// entries in `added` (links to the rest, in `scratch`), and with them: what a run that
/// added them gained, in the unit every engine is paid in.
fn replay_with_and_without(
    t: &CampaignTarget,
    layout: &Layout,
    scratch: &Path,
    added: &HashSet<String>,
    cancel: &fleet_proc::Cancel,
) -> Result<(u64, u64), String> {
    let corpus = layout.corpus_dir(&t.name);
    let before_dir = scratch.join("before");
    let artifacts = scratch.join("artifacts");
    let _ = std::fs::remove_dir_all(scratch);
    std::fs::create_dir_all(&before_dir).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&artifacts).map_err(|e| e.to_string())?;
    for entry in std::fs::read_dir(&corpus)
        .map_err(|e| e.to_string())?
        .flatten()
    {
        let name = entry.file_name();
        if added.contains(name.to_string_lossy().as_ref()) {
            continue;
        }
        let to = before_dir.join(&name);
        if std::fs::hard_link(entry.path(), &to).is_err() {
            std::fs::copy(entry.path(), &to).map_err(|e| e.to_string())?;
        }
    }
    let replay = |dir: &Path, what: &str| {
        minimize::features_until(t, dir, &artifacts, what, Some(cancel)).map_err(|e| e.to_string())
    };
    let before = replay(&before_dir, "the corpus before a run's entries")?;
    let after = replay(&corpus, "the corpus after a run")?;
    Ok((before, after))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::time::Instant;

    /// Regression (issue 16.5): the replay ran on a detached thread nobody stopped or
    /// joined, for up to its hour-long step deadline after the campaign had ended.
    #[test]
    fn a_stopped_replay_ends_at_once_with_its_process_and_hands_nothing_over() {
        let (dir, layout) = super::super::test_layout("replay-stop");
        std::fs::write(layout.corpus_dir("t").join("entry"), b"x").unwrap();
        // A "target" that says it started and then never ends on its own.
        let started = dir.path().join("started");
        let binary = dir.path().join("hangs");
        std::fs::write(
            &binary,
            format!(
                "#!/bin/sh\necho $$ > {}.tmp && mv {0}.tmp {0}\nexec sleep 3600\n",
                started.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let replay = Replay::spawn(
            super::super::test_target("t", &binary),
            layout.clone(),
            7,
            HashSet::new(),
            move |features| tx.send(features).unwrap(),
        )
        .unwrap();
        fleet_testkit::wait_until("the replay to start", Duration::from_secs(60), || {
            started.is_file()
        });
        let pid: i32 = std::fs::read_to_string(&started)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let stop = Instant::now();
        replay.stop();
        replay.join(Duration::from_secs(30)).unwrap();
        assert!(stop.elapsed() < Duration::from_secs(30));
        assert!(
            rx.try_recv().is_err(),
            "a stopped replay's count is dropped"
        );
        assert!(!scratch_dir(&layout, "t", 7).exists());
        // Its process went with it: gone, or a zombie of an init that does not reap.
        let gone = || fleet_sys::procfs::pid_stat(pid).is_none_or(|s| s.is_zombie());
        fleet_testkit::wait_until("the replay's process to end", Duration::from_secs(10), gone);
    }
}
