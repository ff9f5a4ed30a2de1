//! `/proc`, read and parsed. Each reader returns `None` when the file is gone (a
//! process that ended) or not in the expected shape; each parser is a pure function of
//! the file's text, tested on the kernel's formats.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

/// The fields of `/proc/PID/stat` fuzzfleet uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PidStat {
    /// `R`, `S`, `D`, `Z`, `T`, …
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
    pub session: i32,
    /// CPU time in user and kernel mode, in clock ticks (all its threads).
    pub utime: u64,
    pub stime: u64,
    /// The same of its children that it waited for (all their descendants waited for).
    pub cutime: u64,
    pub cstime: u64,
    /// The nice value (-20 to 19).
    pub nice: i64,
}

impl PidStat {
    /// A zombie: ended, not yet reaped.
    pub fn is_zombie(&self) -> bool {
        self.state == 'Z'
    }

    /// utime + stime, in clock ticks.
    pub fn cpu_ticks(&self) -> u64 {
        self.utime + self.stime
    }
}

/// Parses the text of `/proc/PID/stat`. The command name (field 2) may hold spaces and
/// parentheses, so the fields are counted from after its last `)`.
pub fn parse_pid_stat(text: &str) -> Option<PidStat> {
    let rest = text.rsplit_once(')')?.1;
    // After the name: state(0) ppid(1) pgrp(2) session(3) tty(4) tpgid(5) flags(6)
    // minflt(7) cminflt(8) majflt(9) cmajflt(10) utime(11) stime(12) cutime(13)
    // cstime(14) priority(15) nice(16) …
    let f: Vec<&str> = rest.split_whitespace().collect();
    let mut state = f.first()?.chars();
    let s = state.next()?;
    if state.next().is_some() {
        return None;
    }
    Some(PidStat {
        state: s,
        ppid: f.get(1)?.parse().ok()?,
        pgrp: f.get(2)?.parse().ok()?,
        session: f.get(3)?.parse().ok()?,
        utime: f.get(11)?.parse().ok()?,
        stime: f.get(12)?.parse().ok()?,
        cutime: f.get(13)?.parse().ok()?,
        cstime: f.get(14)?.parse().ok()?,
        nice: f.get(16)?.parse().ok()?,
    })
}

/// `/proc/PID/stat` of a live (or zombie) process.
pub fn pid_stat(pid: i32) -> Option<PidStat> {
    parse_pid_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Every process id in `/proc` now (each may end as it is read).
pub fn pids() -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .collect()
}

/// Every process with its stat, read once.
pub fn processes() -> Vec<(i32, PidStat)> {
    pids()
        .into_iter()
        .filter_map(|pid| Some((pid, pid_stat(pid)?)))
        .collect()
}

/// Whether `/proc/PID` exists: the process runs or is a zombie.
pub fn exists(pid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// CPU time of all CPUs since boot, from the first line of `/proc/stat`, in clock ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuTimes {
    /// Everything but idle and iowait.
    pub busy: u64,
    /// user + nice + system + idle + iowait + irq + softirq + steal (guest time is
    /// already counted in user and nice).
    pub total: u64,
}

/// Parses the `cpu ` line of `/proc/stat`.
pub fn parse_cpu_line(line: &str) -> Option<CpuTimes> {
    let v: Vec<u64> = line
        .strip_prefix("cpu ")?
        .split_whitespace()
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).copied().unwrap_or(0);
    Some(CpuTimes {
        busy: total.checked_sub(idle)?,
        total,
    })
}

/// The machine's CPU times now.
pub fn cpu_times() -> Option<CpuTimes> {
    parse_cpu_line(fs::read_to_string("/proc/stat").ok()?.lines().next()?)
}

/// The machine's memory, in bytes, from `/proc/meminfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemInfo {
    pub total: u64,
    /// What the kernel could hand out without swapping (`MemAvailable`).
    pub available: u64,
}

impl MemInfo {
    /// total − available.
    pub fn used(&self) -> u64 {
        self.total.saturating_sub(self.available)
    }
}

/// Parses `/proc/meminfo`.
pub fn parse_meminfo(text: &str) -> Option<MemInfo> {
    let field = |name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    };
    Some(MemInfo {
        total: field("MemTotal:")?,
        available: field("MemAvailable:")?,
    })
}

/// The machine's memory now.
pub fn meminfo() -> Option<MemInfo> {
    parse_meminfo(&fs::read_to_string("/proc/meminfo").ok()?)
}

/// The one-minute load average, from `/proc/loadavg`.
pub fn load1() -> Option<f64> {
    fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Parses a `kB` line of `/proc/PID/status` (`VmHWM:`, `VmRSS:`, …): its value in KiB.
pub fn parse_status_kb(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The kernel's high-water mark of a process's resident memory (`VmHWM`), in KiB.
pub fn vm_hwm_kb(pid: i32) -> Option<u64> {
    parse_status_kb(
        &fs::read_to_string(format!("/proc/{pid}/status")).ok()?,
        "VmHWM",
    )
}

/// Resident pages of a process (`/proc/PID/statm`, second field).
pub fn statm_resident(pid: i32) -> Option<u64> {
    fs::read_to_string(format!("/proc/{pid}/statm"))
        .ok()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The direct children of `pid`, from every one of its threads
/// (`/proc/PID/task/TID/children`); empty when it is gone.
pub fn children(pid: i32) -> Vec<i32> {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut out: Vec<i32> = tasks
        .flatten()
        .filter_map(|task| fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<i32>>()
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The executable a process runs (`/proc/PID/exe`).
pub fn exe(pid: i32) -> Option<PathBuf> {
    fs::read_link(format!("/proc/{pid}/exe")).ok()
}

/// A process's arguments, its program first (`/proc/PID/cmdline`); empty when it is
/// gone, or just after its exec, before the kernel has set them up.
pub fn cmdline(pid: i32) -> Vec<OsString> {
    split_nul(&fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default())
}

/// A process's environment as its exec gave it (`/proc/PID/environ`), name and value.
pub fn environ(pid: i32) -> Vec<(OsString, OsString)> {
    parse_environ(&fs::read(format!("/proc/{pid}/environ")).unwrap_or_default())
}

/// The non-empty NUL-separated strings of `bytes`.
pub fn split_nul(bytes: &[u8]) -> Vec<OsString> {
    bytes
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| OsString::from_vec(s.to_vec()))
        .collect()
}

/// `NAME=value` entries, NUL-separated; one without `=` is left out.
pub fn parse_environ(bytes: &[u8]) -> Vec<(OsString, OsString)> {
    bytes
        .split(|&b| b == 0)
        .filter_map(|kv| {
            let eq = kv.iter().position(|&b| b == b'=')?;
            Some((
                OsString::from_vec(kv[..eq].to_vec()),
                OsString::from_vec(kv[eq + 1..].to_vec()),
            ))
        })
        .collect()
}

/// This process's mount table (`/proc/self/mountinfo`).
pub fn self_mountinfo() -> io::Result<String> {
    fs::read_to_string("/proc/self/mountinfo")
}

/// This process's control groups (`/proc/self/cgroup`).
pub fn self_cgroups() -> io::Result<String> {
    fs::read_to_string("/proc/self/cgroup")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_separated_strings_and_environment_entries_are_split() {
        assert_eq!(
            split_nul(b"/fz/t\0-runs=0\0\0dir\0"),
            ["/fz/t", "-runs=0", "dir"]
        );
        assert!(split_nul(b"").is_empty());
        assert_eq!(
            parse_environ(b"A=1\0B=x=y\0broken\0EMPTY=\0"),
            [
                ("A".into(), "1".into()),
                ("B".into(), "x=y".into()),
                ("EMPTY".into(), OsString::new()),
            ]
        );
    }

    #[test]
    fn a_child_is_listed_with_its_program_and_environment() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .env("FLEET_SYS_PROBE", "here")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let me = std::process::id() as i32;
        assert!(children(me).contains(&pid));
        assert_eq!(exe(me).unwrap(), std::env::current_exe().unwrap());
        // Its arguments are set up by its exec, a moment after the fork.
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while cmdline(pid).len() < 2 && std::time::Instant::now() < until {
            std::thread::yield_now();
        }
        assert_eq!(cmdline(pid)[1..], ["30"]);
        assert!(
            environ(pid).contains(&("FLEET_SYS_PROBE".into(), "here".into())),
            "{:?}",
            environ(pid)
        );
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!children(me).contains(&pid));
        assert!(cmdline(pid).is_empty() && exe(pid).is_none());
        assert!(self_mountinfo().unwrap().contains(" / "));
        assert!(!self_cgroups().unwrap().is_empty());
    }

    #[test]
    fn a_stat_line_is_read_after_the_last_parenthesis_of_the_name() {
        // A command name with spaces and a ')' of its own.
        let line = "4242 (fuzz (x) y) S 17 4242 4100 34816 4242 4194304 120 0 0 0 \
                    31 7 5 3 30 10 1 0 1234 5678 90 18446744073709551615";
        let s = parse_pid_stat(line).unwrap();
        assert_eq!(
            s,
            PidStat {
                state: 'S',
                ppid: 17,
                pgrp: 4242,
                session: 4100,
                utime: 31,
                stime: 7,
                cutime: 5,
                cstime: 3,
                nice: 10,
            }
        );
        assert_eq!(s.cpu_ticks(), 38);
        assert!(!s.is_zombie());
        assert!(
            parse_pid_stat("12 (x) Z 1 12 12 0 -1 0 0 0 0 0 0 0 0 0 20 0")
                .unwrap()
                .is_zombie()
        );
        for bad in [
            "",
            "12 (x)",
            "12 (x) S 1 2",
            "12 x S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16",
        ] {
            assert_eq!(parse_pid_stat(bad), None, "{bad}");
        }
    }

    #[test]
    fn this_process_is_read_as_itself() {
        let me = std::process::id() as i32;
        let s = pid_stat(me).unwrap();
        assert!("RS".contains(s.state), "{s:?}");
        assert_eq!(s.ppid, std::os::unix::process::parent_id() as i32);
        assert!(pids().contains(&me));
        assert!(
            processes()
                .iter()
                .any(|(p, st)| *p == me && st.ppid == s.ppid)
        );
        assert!(exists(me));
        assert!(!exists(i32::MAX));
        assert_eq!(pid_stat(i32::MAX), None);
        assert!(vm_hwm_kb(me).unwrap() > 0);
        assert!(statm_resident(me).unwrap() > 0);
    }

    #[test]
    fn cpu_busy_excludes_idle_and_iowait() {
        let t = parse_cpu_line("cpu  100 5 50 800 40 0 5 0 0 0").unwrap();
        assert_eq!(
            t,
            CpuTimes {
                busy: 160,
                total: 1000
            }
        );
        assert_eq!(parse_cpu_line("cpu0 1 2 3 4"), None, "a single CPU's line");
        assert_eq!(parse_cpu_line("cpu  1 x 3 4 5"), None);
        let now = cpu_times().unwrap();
        assert!(now.total > 0 && now.busy <= now.total);
    }

    #[test]
    fn memory_is_total_and_available_in_bytes() {
        let text = "MemTotal:       16310012 kB\nMemFree:          811764 kB\n\
                    MemAvailable:    9123456 kB\nBuffers:          512000 kB\n";
        let m = parse_meminfo(text).unwrap();
        assert_eq!(m.total, 16310012 * 1024);
        assert_eq!(m.available, 9123456 * 1024);
        assert_eq!(m.used(), (16310012 - 9123456) * 1024);
        assert_eq!(parse_meminfo("MemTotal: 1 kB\n"), None);
        let now = meminfo().unwrap();
        assert!(now.total > 0 && now.available <= now.total);
        assert!(load1().unwrap() >= 0.0);
    }

    #[test]
    fn status_lines_are_read_by_key() {
        let text = "Name:\tcat\nVmPeak:\t  8000 kB\nVmHWM:\t    1234 kB\nVmRSS:\t  1000 kB\n";
        assert_eq!(parse_status_kb(text, "VmHWM"), Some(1234));
        assert_eq!(parse_status_kb(text, "VmRSS"), Some(1000));
        assert_eq!(parse_status_kb(text, "VmSwap"), None);
    }
}
