//! The machine's figures for `status`: CPU use, memory, and the state dir's disk.

use std::path::Path;
use std::thread;
use std::time::Duration;

use fleet_sys::procfs;
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

/// (busy, total) jiffies of all CPUs.
fn cpu_times() -> Option<(u64, u64)> {
    procfs::cpu_times().map(|t| (t.busy, t.total))
}

/// (total, used) bytes, where used = total − available (what the kernel could hand out).
fn memory() -> Option<(u64, u64)> {
    procfs::meminfo().map(|m| (m.total, m.used()))
}

/// How full a filesystem is, as `df` reports it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DiskUsage {
    /// used / (used + available): the share of what unprivileged writers can use that
    /// is used. Blocks reserved for root count neither as used nor as available, so a
    /// disk with a 5% reserve reads 100% when writes start failing, not 95%.
    pub used_percent: f64,
    /// Bytes an unprivileged writer can still use.
    pub available_bytes: u64,
}

/// [`DiskUsage`] from statvfs block counts: `blocks` in all, `free` (including the
/// reserve), `available` (to unprivileged users), each of `block_size` bytes.
pub fn disk_usage_of(blocks: u64, free: u64, available: u64, block_size: u64) -> DiskUsage {
    let used = blocks.saturating_sub(free);
    let usable = used + available;
    let used_percent = if usable == 0 {
        0.0
    } else {
        100.0 * used as f64 / usable as f64
    };
    DiskUsage {
        used_percent,
        available_bytes: available.saturating_mul(block_size),
    }
}

/// [`DiskUsage`] of the filesystem holding `dir` (or its nearest existing ancestor):
/// what `status`, `doctor` and the disk guard all read.
pub fn disk_usage(dir: &Path) -> std::io::Result<DiskUsage> {
    let existing = dir.ancestors().find(|p| p.exists()).unwrap_or(dir);
    let st = nix::sys::statvfs::statvfs(existing).map_err(std::io::Error::from)?;
    Ok(disk_usage_of(
        st.blocks(),
        st.blocks_free(),
        st.blocks_available(),
        st.fragment_size(),
    ))
}

/// Used share of the filesystem holding `dir`, as [`disk_usage`].
pub fn disk_used_percent(dir: &Path) -> Option<f64> {
    disk_usage(dir).ok().map(|u| u.used_percent)
}

#[cfg(test)]
mod tests {
    use super::disk_usage_of;

    #[test]
    fn disk_usage_leaves_the_reserved_blocks_out_as_df_does() {
        // df on a 1000-block ext4 with 50 blocks reserved, 170 used: 830 free, 780
        // available; df says 170 / (170 + 780) = 18% (rounded up), not 22%.
        let u = disk_usage_of(1000, 830, 780, 4096);
        assert!((u.used_percent - 17.894_736).abs() < 1e-3, "{u:?}");
        assert_eq!(u.available_bytes, 780 * 4096);
        // Half the disk reserved (mkfs.ext4 -m 50), nothing used: 0%, not 50%.
        assert_eq!(disk_usage_of(1000, 1000, 500, 1024).used_percent, 0.0);
        // Every unreserved block used: 100% although root could still write.
        let full = disk_usage_of(1000, 500, 0, 1024);
        assert_eq!((full.used_percent, full.available_bytes), (100.0, 0));
        // No reserve: the plain share.
        assert_eq!(disk_usage_of(200, 50, 50, 512).used_percent, 75.0);
        // An empty or pseudo filesystem (all zero) reads 0, not NaN.
        assert_eq!(disk_usage_of(0, 0, 0, 4096).used_percent, 0.0);
        // Inconsistent counts (free above blocks, as a racing statvfs could give) do
        // not wrap.
        assert_eq!(disk_usage_of(100, 120, 100, 1).used_percent, 0.0);
    }

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
