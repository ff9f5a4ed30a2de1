//! Disk pressure on the state dir's filesystem: the level it is at (with hysteresis so a
//! disk hovering at a threshold does not flap) and pruning of what fuzzfleet can
//! recreate. Corpus entries, crash inputs, reports, minimized inputs, quarantined
//! seeds and the database's findings are never touched here.

use std::fs;
use std::io;
use std::path::Path;

use fleet_store::{Db, Layout};

/// A threshold is left only this many points below it.
pub const HYSTERESIS_PERCENT: f64 = 2.0;
/// Stats samples older than this are history fuzzfleet may drop under disk pressure.
pub const SAMPLES_RETENTION_MS: i64 = 30 * 86_400_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Ok,
    Warning,
    Critical,
}

/// The level for `used` percent, given the level before (hysteresis on the way down).
pub fn level(used: f64, warn: u8, critical: u8, before: Level) -> Level {
    let (warn, critical) = (f64::from(warn), f64::from(critical));
    let at = |t: f64, was_over: bool| {
        if was_over {
            used > t - HYSTERESIS_PERCENT
        } else {
            used >= t
        }
    };
    if at(critical, before == Level::Critical) {
        Level::Critical
    } else if at(warn, before >= Level::Warning) {
        Level::Warning
    } else {
        Level::Ok
    }
}

/// What one prune freed, and the database errors it met.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub bytes: u64,
    pub files: u64,
    pub samples: usize,
    /// The samples it could not drop or fold, said: the guard hands them to the
    /// campaign, which says and counts them like its own.
    pub errors: Vec<String>,
}

/// Removes what fuzzfleet can recreate: rotated worker logs (`logs/<t>/w*.log.1`), the
/// contents of the workers' private temp dirs (only call with every worker stopped),
/// and stats samples beyond retention.
pub fn prune(layout: &Layout, db: &Db, now_ms: i64) -> Pruned {
    let mut p = Pruned::default();
    if let Ok(targets) = fs::read_dir(layout.root().join("logs")) {
        for t in targets.flatten() {
            let Ok(logs) = fs::read_dir(t.path()) else {
                continue;
            };
            for log in logs.flatten() {
                let name = log.file_name();
                let name = name.to_string_lossy();
                if name.starts_with('w') && name.ends_with(".log.1") {
                    let len = log.metadata().map_or(0, |m| m.len());
                    if fs::remove_file(log.path()).is_ok() {
                        p.bytes += len;
                        p.files += 1;
                    }
                }
            }
        }
    }
    if let Ok(tmps) = fs::read_dir(layout.root().join("tmp")) {
        for w in tmps.flatten() {
            let (bytes, files) = tree_size(&w.path());
            // A worker's dir is emptied; one set aside to be removed goes whole.
            let set_aside = w
                .file_name()
                .to_string_lossy()
                .starts_with(crate::worker::DISCARDED_PREFIX);
            let done = if set_aside {
                fs::remove_dir_all(w.path())
            } else {
                crate::worker::reset_dir(&w.path())
            };
            if done.is_ok() {
                p.bytes += bytes;
                p.files += files;
            }
        }
    }
    match db.prune_samples(now_ms - SAMPLES_RETENTION_MS) {
        Ok(n) => p.samples += n,
        Err(e) => p
            .errors
            .push(format!("cannot prune old stats samples: {e}")),
    }
    match db.compact_samples(now_ms) {
        Ok(n) => p.samples += n,
        Err(e) => p.errors.push(format!("cannot compact stats samples: {e}")),
    }
    p
}

fn tree_size(dir: &Path) -> (u64, u64) {
    let mut total = (0, 0);
    let Ok(entries) = fs::read_dir(dir) else {
        return total;
    };
    for e in entries.flatten() {
        match e.file_type() {
            Ok(t) if t.is_dir() => {
                let (b, f) = tree_size(&e.path());
                total.0 += b;
                total.1 += f;
            }
            Ok(_) => {
                total.0 += e.metadata().map_or(0, |m| m.len());
                total.1 += 1;
            }
            Err(_) => {}
        }
    }
    total
}

/// Used share and available bytes of the filesystem holding `dir`, as `df` counts them
/// ([`crate::system::disk_usage`]).
pub fn usage(dir: &Path) -> io::Result<(f64, u64)> {
    let u = crate::system::disk_usage(dir)?;
    Ok((u.used_percent, u.available_bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_rise_at_thresholds_and_fall_below_them_with_hysteresis() {
        use Level::*;
        assert_eq!(level(79.9, 80, 95, Ok), Ok);
        assert_eq!(level(80.0, 80, 95, Ok), Warning);
        assert_eq!(level(79.0, 80, 95, Warning), Warning);
        assert_eq!(level(77.9, 80, 95, Warning), Ok);
        assert_eq!(level(95.0, 80, 95, Warning), Critical);
        assert_eq!(level(93.5, 80, 95, Critical), Critical);
        assert_eq!(level(92.9, 80, 95, Critical), Warning);
        assert_eq!(level(99.0, 80, 95, Ok), Critical);
    }

    #[test]
    fn prune_removes_rotated_logs_and_temp_files_and_keeps_every_finding() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        let db = Db::open(&layout.db_path()).unwrap();
        let keep = [
            layout.corpus_dir("t").join("aaaa"),
            layout.finding_input("t", "crash", "bbbb"),
            layout.finding_report("t", "crash", "bbbb"),
            layout.quarantine_dir("t").join("cccc"),
            layout.bucket_minimized("t", "dddd"),
            layout.worker_log("t", 0),
        ];
        for p in &keep {
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, b"keep me").unwrap();
        }
        let rotated = layout.logs_dir("t").join("w0.log.1");
        fs::write(&rotated, vec![b'x'; 1000]).unwrap();
        let tmp = layout.worker_tmp(0).join("leveldb-123");
        fs::create_dir_all(&tmp).unwrap();
        fs::write(tmp.join("000001.log"), vec![b'y'; 500]).unwrap();
        // Set aside by a worker's end in a process that died before removing it.
        let aside = layout.root().join("tmp/.discarded-w1-999-0");
        fs::create_dir_all(&aside).unwrap();
        fs::write(aside.join("leak"), vec![b'z'; 100]).unwrap();

        let now = fleet_store::now_ms();
        let sample = |age_days: i64| fleet_store::Sample {
            target: "t".into(),
            ts: now - age_days * 86_400_000,
            span_s: 3600,
            workers: 1,
            execs: 10,
            execs_per_sec: 1.0,
            coverage: Some(1),
            features: Some(1),
            corpus_files: Some(1),
            corpus_bytes: Some(1),
            rss_mb: Some(1),
        };
        db.put_sample(&sample(40)).unwrap();
        db.put_sample(&sample(20)).unwrap();

        let p = prune(&layout, &db, now);
        assert_eq!((p.bytes, p.files), (1600, 3));
        assert!(!aside.exists());
        // History beyond retention goes; the rest stays.
        let left = db.samples("t", 0).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].ts, sample(20).ts);
        assert!(!rotated.exists());
        assert!(layout.worker_tmp(0).is_dir());
        assert_eq!(fs::read_dir(layout.worker_tmp(0)).unwrap().count(), 0);
        for k in &keep {
            assert_eq!(fs::read(k).unwrap(), b"keep me", "{}", k.display());
        }
    }
}
