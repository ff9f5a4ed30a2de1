//! The machine beside the workers: CPU taken by processes other than the workers, the
//! load against the core count, and the share of memory that is not available.

use fleet_sys::procfs;

/// CPU jiffies counters between two samples.
#[derive(Debug, Default)]
pub struct Sampler {
    last: Option<(u64, u64, u64)>,
}

/// One reading of the machine.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reading {
    /// CPU busy outside the workers, percent of all cores (None on the first sample).
    pub others_cpu_percent: Option<f64>,
    /// 1-minute load average.
    pub load1: f64,
    pub cores: usize,
    /// Memory not available, percent of the total.
    pub mem_used_percent: f64,
    pub mem_available_bytes: u64,
}

impl Sampler {
    /// Samples now; `workers` are the worker leaders' pids (their CPU is not "other").
    pub fn sample(&mut self, workers: &[i32]) -> Reading {
        let (busy, total) = cpu_times().unwrap_or_default();
        let workers_cpu: u64 = workers.iter().filter_map(|p| process_cpu(*p)).sum();
        let others_cpu_percent = match self.last {
            Some((b0, t0, w0)) if total > t0 => {
                // A worker that ended since the last sample takes its counter with it:
                // never count that as negative work.
                let workers_delta = workers_cpu.saturating_sub(w0);
                let others = (busy - b0).saturating_sub(workers_delta);
                Some((100.0 * others as f64 / (total - t0) as f64).clamp(0.0, 100.0))
            }
            _ => None,
        };
        self.last = Some((busy, total, workers_cpu));
        let (total_mem, available) = memory().unwrap_or((1, 1));
        Reading {
            others_cpu_percent,
            load1: load1().unwrap_or(0.0),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            mem_used_percent: 100.0 * total_mem.saturating_sub(available) as f64
                / total_mem.max(1) as f64,
            mem_available_bytes: available,
        }
    }
}

/// (busy, total) jiffies of all CPUs.
fn cpu_times() -> Option<(u64, u64)> {
    procfs::cpu_times().map(|t| (t.busy, t.total))
}

/// utime + stime of a process, in jiffies (all its threads).
fn process_cpu(pid: i32) -> Option<u64> {
    procfs::pid_stat(pid).map(|s| s.cpu_ticks())
}

fn load1() -> Option<f64> {
    procfs::load1()
}

/// (total, available) bytes.
fn memory() -> Option<(u64, u64)> {
    procfs::meminfo().map(|m| (m.total, m.available))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A process of ours spinning on a core is "other" CPU; the same process named as a
    /// worker is not: naming it lowers "other" by about its share of the machine over
    /// the window, measured from its own counters (on a loaded machine it gets less
    /// than a core, so a fixed core's worth would not do).
    #[test]
    fn a_busy_process_counts_as_other_unless_it_is_a_worker() {
        let mut spin = std::process::Command::new("/bin/sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap();
        let pid = spin.id() as i32;
        let mut as_other = Sampler::default();
        let mut as_worker = Sampler::default();
        let (t0, s0) = (cpu_times().unwrap(), process_cpu(pid).unwrap());
        as_other.sample(&[]);
        as_worker.sample(&[pid]);
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let other = as_other.sample(&[]).others_cpu_percent.unwrap();
        let worker = as_worker.sample(&[pid]).others_cpu_percent.unwrap();
        let (t1, s1) = (cpu_times().unwrap(), process_cpu(pid).unwrap());
        let _ = spin.kill();
        let _ = spin.wait();
        let spinner = 100.0 * (s1 - s0) as f64 / (t1.1 - t0.1) as f64;
        assert!(spinner > 1.0, "the spinner did not run: {spinner}");
        assert!(
            other - worker > spinner * 0.5,
            "other {other} worker {worker} spinner {spinner}"
        );
    }
}
