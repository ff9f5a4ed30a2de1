//! The machine beside the workers: CPU taken by processes other than the workers, the
//! load against the core count, and the share of memory that is not available.

use std::fs;

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
    let text = fs::read_to_string("/proc/stat").ok()?;
    parse_cpu_line(text.lines().next()?)
}

fn parse_cpu_line(line: &str) -> Option<(u64, u64)> {
    let v: Vec<u64> = line
        .strip_prefix("cpu ")?
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// utime + stime of a process, in jiffies (all its threads).
fn process_cpu(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(0) ... utime(11) stime(12).
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn load1() -> Option<f64> {
    fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// (total, available) bytes.
fn memory() -> Option<(u64, u64)> {
    let text = fs::read_to_string("/proc/meminfo").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
    };
    Some((field("MemTotal:")?, field("MemAvailable:")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_line_busy_excludes_idle_and_iowait() {
        let (busy, total) = parse_cpu_line("cpu  100 5 50 800 40 0 5 0 0 0").unwrap();
        assert_eq!(total, 1000);
        assert_eq!(busy, 160);
    }

    /// A process of ours spinning on a core is "other" CPU; the same process named as a
    /// worker is not.
    #[test]
    fn a_busy_process_counts_as_other_unless_it_is_a_worker() {
        let mut spin = std::process::Command::new("/bin/sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap();
        let pid = spin.id() as i32;
        let mut as_other = Sampler::default();
        let mut as_worker = Sampler::default();
        as_other.sample(&[]);
        as_worker.sample(&[pid]);
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let other = as_other.sample(&[]).others_cpu_percent.unwrap();
        let worker = as_worker.sample(&[pid]).others_cpu_percent.unwrap();
        let _ = spin.kill();
        let _ = spin.wait();
        let cores = std::thread::available_parallelism().unwrap().get() as f64;
        // The spinner is at most one core of `cores`; excluding it lowers "other" by
        // about that much (other load on a shared machine moves both alike).
        let one_core = 100.0 / cores;
        assert!(
            other - worker > one_core * 0.5,
            "other {other} worker {worker}"
        );
    }
}
