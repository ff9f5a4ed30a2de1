//! The machine's figures for `status`: CPU use, memory, and the state dir's disk.

use std::fs;
use std::path::Path;
use std::thread;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The contract's `system` object.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SystemStatus {
    pub cpu_percent: f64,
    pub mem_used_bytes: u64,
    pub mem_total_bytes: u64,
    pub disk_used_percent: f64,
}

/// Reads the figures now; CPU use is measured over `cpu_window`.
pub fn sample(state_dir: &Path, cpu_window: Duration) -> SystemStatus {
    let before = cpu_times();
    thread::sleep(cpu_window);
    let after = cpu_times();
    let cpu_percent = match (before, after) {
        (Some((b_busy, b_total)), Some((a_busy, a_total))) if a_total > b_total => {
            100.0 * (a_busy - b_busy) as f64 / (a_total - b_total) as f64
        }
        _ => 0.0,
    };
    let (mem_total_bytes, mem_used_bytes) = memory().unwrap_or_default();
    SystemStatus {
        cpu_percent: round1(cpu_percent),
        mem_used_bytes,
        mem_total_bytes,
        disk_used_percent: round1(disk_used_percent(state_dir).unwrap_or(0.0)),
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// (busy, total) jiffies from the first line of /proc/stat.
fn cpu_times() -> Option<(u64, u64)> {
    let text = fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    // idle + iowait are not busy.
    let idle = v.get(3)? + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// (total, used) bytes, where used = total − available (what the kernel could hand out).
fn memory() -> Option<(u64, u64)> {
    let text = fs::read_to_string("/proc/meminfo").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    };
    let total = field("MemTotal:")?;
    let available = field("MemAvailable:")?;
    Some((total, total.saturating_sub(available)))
}

/// Used share of the filesystem holding `dir` (or its nearest existing ancestor).
pub fn disk_used_percent(dir: &Path) -> Option<f64> {
    let existing = dir.ancestors().find(|p| p.exists())?;
    let st = nix::sys::statvfs::statvfs(existing).ok()?;
    let total = st.blocks() as f64;
    let free = st.blocks_available() as f64;
    (total > 0.0).then(|| 100.0 * (total - free) / total)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_this_machine() {
        let s = super::sample(
            std::path::Path::new("/"),
            std::time::Duration::from_millis(50),
        );
        assert!(s.mem_total_bytes > 0 && s.mem_used_bytes <= s.mem_total_bytes);
        assert!((0.0..=100.0).contains(&s.cpu_percent));
        assert!(s.disk_used_percent > 0.0 && s.disk_used_percent <= 100.0);
    }
}
