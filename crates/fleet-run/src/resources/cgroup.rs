//! The kernel's memory limit per worker: finds a memory cgroup fuzzfleet may create
//! children in (v2, else v1), makes one child per worker run with the hard limit, and
//! reads its usage, peak and OOM kills. Everything takes the cgroupfs paths as arguments,
//! so the file formats are tested over a temp dir shaped like cgroupfs.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Which cgroup interface a group speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// How a worker's memory is limited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    CgroupV2,
    CgroupV1,
    /// No writable cgroup: libFuzzer's `-rss_limit_mb` plus fuzzfleet's RSS watch of
    /// the worker's process group (which kills the group at the hard limit).
    RssWatch,
}

impl Mechanism {
    /// The name `status` and `doctor` show.
    pub fn as_str(self) -> &'static str {
        match self {
            Mechanism::CgroupV2 => "cgroup-v2",
            Mechanism::CgroupV1 => "cgroup-v1",
            Mechanism::RssWatch => "rss-watch",
        }
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where this process may create memory-limited children.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parent {
    pub version: Version,
    /// This process's own memory cgroup directory.
    pub dir: PathBuf,
}

/// Reads `/proc/self/mountinfo` and `/proc/self/cgroup` to find this process's memory
/// cgroup: the unified (v2) hierarchy when it has the memory controller, else the v1
/// memory hierarchy.
pub fn locate() -> Result<Parent, String> {
    let mountinfo = fleet_sys::procfs::self_mountinfo()
        .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
    let cgroups = fleet_sys::procfs::self_cgroups()
        .map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
    locate_in(&mountinfo, &cgroups, Path::new("/"))
}

/// [`locate`] over given file contents; `root` prefixes the mount points (tests).
pub fn locate_in(mountinfo: &str, cgroups: &str, root: &Path) -> Result<Parent, String> {
    let mut v2_mount = None;
    let mut v1_mount = None;
    for line in mountinfo.lines() {
        // id parent major:minor root mount-point options ... - fstype source super-options
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mount_point = left.split_whitespace().nth(4);
        let mut r = right.split_whitespace();
        let (fstype, super_opts) = (r.next(), r.nth(1).unwrap_or(""));
        match (fstype, mount_point) {
            (Some("cgroup2"), Some(m)) => v2_mount = Some(m.to_string()),
            (Some("cgroup"), Some(m)) if super_opts.split(',').any(|o| o == "memory") => {
                v1_mount = Some(m.to_string())
            }
            _ => {}
        }
    }
    let mut v2_path = None;
    let mut v1_path = None;
    for line in cgroups.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if id == "0" && controllers.is_empty() {
            v2_path = Some(path.to_string());
        } else if controllers.split(',').any(|c| c == "memory") {
            v1_path = Some(path.to_string());
        }
    }
    let join = |mount: &str, path: &str| {
        root.join(mount.trim_start_matches('/'))
            .join(path.trim_start_matches('/'))
    };
    if let (Some(m), Some(p)) = (&v2_mount, &v2_path) {
        let dir = join(m, p);
        let controllers = fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
        if controllers.split_whitespace().any(|c| c == "memory") {
            return Ok(Parent {
                version: Version::V2,
                dir,
            });
        }
    }
    if let (Some(m), Some(p)) = (&v1_mount, &v1_path) {
        return Ok(Parent {
            version: Version::V1,
            dir: join(m, p),
        });
    }
    Err("no memory cgroup controller is mounted".into())
}

/// fuzzfleet's own group under the parent: one child per worker run below it.
#[derive(Clone, Debug)]
pub struct Group {
    pub version: Version,
    pub dir: PathBuf,
}

impl Group {
    /// Creates `<parent>/fuzzfleet-<pid>` (v2: with the memory controller enabled for
    /// its children, moving this process into a leaf first when its own cgroup may not
    /// hold processes beside controllers).
    pub fn create(parent: &Parent, pid: u32) -> io::Result<Group> {
        remove_stale(&parent.dir, parent.version);
        let dir = parent.dir.join(format!("fuzzfleet-{pid}"));
        mkdir(&dir)?;
        let group = Group {
            version: parent.version,
            dir,
        };
        if parent.version == Version::V2
            && let Err(e) = group.enable_v2(&parent.dir, pid)
        {
            let _ = fs::remove_dir(group.dir.join("supervisor"));
            let _ = fs::remove_dir(&group.dir);
            return Err(e);
        }
        Ok(group)
    }

    fn enable_v2(&self, parent: &Path, pid: u32) -> io::Result<()> {
        if !has_controller(parent, "cgroup.subtree_control")
            && let Err(first) = fs::write(parent.join("cgroup.subtree_control"), "+memory")
        {
            // "No internal processes": a cgroup that hands controllers to children may
            // not hold processes itself. Move this process into a leaf of ours.
            if first.raw_os_error() != Some(libc::EBUSY) {
                return Err(first);
            }
            let leaf = self.dir.join("supervisor");
            mkdir(&leaf)?;
            fs::write(leaf.join("cgroup.procs"), pid.to_string())?;
            fs::write(parent.join("cgroup.subtree_control"), "+memory")?;
        }
        fs::write(self.dir.join("cgroup.subtree_control"), "+memory")
    }

    /// Creates the cgroup of one worker run with a hard limit of `limit_mb`.
    pub fn worker(&self, name: &str, limit_mb: u64) -> io::Result<WorkerCgroup> {
        let dir = self.dir.join(name);
        // A leftover of an earlier run of the same name is empty by now.
        let _ = fs::remove_dir(&dir);
        mkdir(&dir)?;
        let bytes = (limit_mb << 20).to_string();
        let result = match self.version {
            Version::V2 => (|| {
                fs::write(dir.join("memory.max"), &bytes)?;
                // Swap would let the worker pass its limit unseen.
                write_if_present(&dir.join("memory.swap.max"), "0")?;
                // An OOM kill takes the whole worker, not one of its threads' victims.
                write_if_present(&dir.join("memory.oom.group"), "1")
            })(),
            Version::V1 => (|| {
                fs::write(dir.join("memory.limit_in_bytes"), &bytes)?;
                // memsw (memory + swap) must be at least the memory limit; equal: no swap.
                write_if_present(&dir.join("memory.memsw.limit_in_bytes"), &bytes)
            })(),
        };
        if let Err(e) = result {
            let _ = fs::remove_dir(&dir);
            return Err(e);
        }
        Ok(WorkerCgroup {
            version: self.version,
            dir,
        })
    }

    /// Removes the group (its worker cgroups must be empty).
    pub fn remove(&self) {
        if let Ok(entries) = fs::read_dir(&self.dir) {
            for e in entries.flatten() {
                if e.path().is_dir() {
                    let _ = fs::remove_dir(e.path());
                }
            }
        }
        let _ = fs::remove_dir(&self.dir);
    }
}

/// One worker run's cgroup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerCgroup {
    pub version: Version,
    pub dir: PathBuf,
}

impl WorkerCgroup {
    /// The file a new process writes `0` into to join.
    pub fn procs_file(&self) -> PathBuf {
        self.dir.join("cgroup.procs")
    }

    /// Anonymous memory of the worker's processes (what the limit is about: page cache
    /// of corpus writes is charged too but reclaimed, never a reason to stop a worker).
    pub fn anon_bytes(&self) -> Option<u64> {
        let stat = fs::read_to_string(self.dir.join("memory.stat")).ok()?;
        let key = match self.version {
            Version::V2 => "anon",
            Version::V1 => "total_rss",
        };
        stat_field(&stat, key)
    }

    /// The cgroup's own peak of charged memory since it was made, when the kernel
    /// keeps one (v1 always; v2 from Linux 5.19).
    pub fn peak_bytes(&self) -> Option<u64> {
        let file = match self.version {
            Version::V2 => "memory.peak",
            Version::V1 => "memory.max_usage_in_bytes",
        };
        fs::read_to_string(self.dir.join(file))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// How many processes the kernel killed for this cgroup's limit.
    pub fn oom_kills(&self) -> u64 {
        let (file, key) = match self.version {
            Version::V2 => ("memory.events", "oom_kill"),
            Version::V1 => ("memory.oom_control", "oom_kill"),
        };
        fs::read_to_string(self.dir.join(file))
            .ok()
            .and_then(|t| stat_field(&t, key))
            .unwrap_or(0)
    }

    /// Raises the hard limit (memsw first on v1: it must never be below the limit).
    pub fn raise_limit(&self, limit_mb: u64) -> io::Result<()> {
        let bytes = (limit_mb << 20).to_string();
        match self.version {
            Version::V2 => fs::write(self.dir.join("memory.max"), &bytes),
            Version::V1 => {
                write_if_present(&self.dir.join("memory.memsw.limit_in_bytes"), &bytes)?;
                fs::write(self.dir.join("memory.limit_in_bytes"), &bytes)
            }
        }
    }

    /// Kills whatever is left in the cgroup (a process that left the worker's process
    /// group, e.g. by `setsid`, is still here) and removes it once they are gone.
    pub fn kill_and_remove(&self) {
        for _ in 0..100 {
            let pids = self.pids();
            if pids.is_empty() && fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            if self.version == Version::V2 && self.dir.join("cgroup.kill").exists() {
                let _ = fs::write(self.dir.join("cgroup.kill"), "1");
            } else {
                for pid in pids {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// The processes in the cgroup.
    pub fn pids(&self) -> Vec<i32> {
        fs::read_to_string(self.procs_file())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }
}

/// `key value` lines (memory.stat, memory.events, memory.oom_control).
fn stat_field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

fn has_controller(dir: &Path, file: &str) -> bool {
    fs::read_to_string(dir.join(file))
        .unwrap_or_default()
        .split_whitespace()
        .any(|c| c == "memory")
}

fn mkdir(dir: &Path) -> io::Result<()> {
    match fs::create_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

fn write_if_present(path: &Path, value: &str) -> io::Result<()> {
    if path.exists() {
        fs::write(path, value)?;
    }
    Ok(())
}

/// Removes the groups of fuzzfleet processes that are gone (a `kill -9` leaves them),
/// killing what still runs in their worker cgroups first: a process that left its
/// worker's process group outlives a killed fuzzfleet there, such as AFL++'s forkserver
/// (a session of its own) and its stopped child.
fn remove_stale(parent: &Path, version: Version) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("fuzzfleet-"))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if i32::try_from(pid).is_ok_and(fleet_sys::procfs::exists) {
            continue;
        }
        let group = Group {
            version,
            dir: e.path(),
        };
        for worker in fs::read_dir(&group.dir).into_iter().flatten().flatten() {
            if worker.path().is_dir() {
                WorkerCgroup {
                    version,
                    dir: worker.path(),
                }
                .kill_and_remove();
            }
        }
        group.remove();
    }
}

/// Finds a cgroup and proves a child can be made and limited there.
pub fn probe() -> Result<Group, String> {
    let parent = locate()?;
    Group::create(&parent, std::process::id()).map_err(|e| {
        format!(
            "cannot create a memory cgroup under {}: {e}",
            parent.dir.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO_V2: &str = "\
25 1 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";
    const MOUNTINFO_V1: &str = "\
30 25 0:26 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
31 25 0:27 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
";

    /// A directory shaped like a cgroup v2 node: the interface files the kernel makes.
    fn v2_node(dir: &Path, controllers: &str) {
        fs::create_dir_all(dir).unwrap();
        for f in ["cgroup.procs", "cgroup.subtree_control"] {
            fs::write(dir.join(f), "").unwrap();
        }
        fs::write(dir.join("cgroup.controllers"), controllers).unwrap();
    }

    #[test]
    fn locates_the_v2_cgroup_with_memory() {
        let root = tempfile::tempdir().unwrap();
        let dir = root
            .path()
            .join("sys/fs/cgroup/system.slice/fuzzfleet.service");
        v2_node(&dir, "cpuset cpu io memory pids");
        let found = locate_in(
            MOUNTINFO_V2,
            "0::/system.slice/fuzzfleet.service\n",
            root.path(),
        )
        .unwrap();
        assert_eq!(
            found,
            Parent {
                version: Version::V2,
                dir
            }
        );
    }

    #[test]
    fn v2_without_the_memory_controller_falls_back_to_v1_or_nothing() {
        let root = tempfile::tempdir().unwrap();
        v2_node(&root.path().join("sys/fs/cgroup/user"), "cpu pids");
        let err = locate_in(MOUNTINFO_V2, "0::/user\n", root.path()).unwrap_err();
        assert!(err.contains("no memory cgroup"), "{err}");
        let both = format!("{MOUNTINFO_V2}{MOUNTINFO_V1}");
        let found = locate_in(&both, "4:memory:/ci/job\n0::/user\n", root.path()).unwrap();
        assert_eq!(found.version, Version::V1);
        assert_eq!(found.dir, root.path().join("sys/fs/cgroup/memory/ci/job"));
    }

    #[test]
    fn v2_worker_cgroup_gets_a_hard_limit_no_swap_and_group_oom() {
        let root = tempfile::tempdir().unwrap();
        let parent = root.path().join("svc");
        v2_node(&parent, "memory pids");
        // mkdir in cgroupfs creates the interface files; here the test stands in for
        // the kernel by making the group dir beforehand with its files.
        v2_node(&parent.join("fuzzfleet-42"), "memory");
        let group = Group::create(
            &Parent {
                version: Version::V2,
                dir: parent.clone(),
            },
            42,
        )
        .unwrap();
        assert_eq!(
            fs::read_to_string(parent.join("cgroup.subtree_control")).unwrap(),
            "+memory"
        );
        assert_eq!(
            fs::read_to_string(group.dir.join("cgroup.subtree_control")).unwrap(),
            "+memory"
        );
        let w = group.dir.join("w0-r1");
        fs::create_dir_all(&w).unwrap();
        for f in ["memory.swap.max", "memory.oom.group"] {
            fs::write(w.join(f), "").unwrap();
        }
        let cg = group.worker("w0-r1", 256).unwrap();
        assert_eq!(
            fs::read_to_string(w.join("memory.max")).unwrap(),
            "268435456"
        );
        assert_eq!(fs::read_to_string(w.join("memory.swap.max")).unwrap(), "0");
        assert_eq!(fs::read_to_string(w.join("memory.oom.group")).unwrap(), "1");
        assert_eq!(cg.procs_file(), w.join("cgroup.procs"));
    }

    #[test]
    fn v2_reads_anon_peak_and_oom_kills_from_the_kernel_formats() {
        let dir = tempfile::tempdir().unwrap();
        let cg = WorkerCgroup {
            version: Version::V2,
            dir: dir.path().to_path_buf(),
        };
        assert_eq!(cg.anon_bytes(), None);
        assert_eq!(cg.oom_kills(), 0);
        fs::write(
            dir.path().join("memory.stat"),
            "anon 104857600\nfile 8192\nkernel 4096\nanon_thp 0\n",
        )
        .unwrap();
        fs::write(dir.path().join("memory.peak"), "268435456\n").unwrap();
        fs::write(
            dir.path().join("memory.events"),
            "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 1\n",
        )
        .unwrap();
        assert_eq!(cg.anon_bytes(), Some(100 << 20));
        assert_eq!(cg.peak_bytes(), Some(256 << 20));
        assert_eq!(cg.oom_kills(), 1);
    }

    #[test]
    fn v1_reads_total_rss_and_the_oom_kill_counter() {
        let dir = tempfile::tempdir().unwrap();
        let cg = WorkerCgroup {
            version: Version::V1,
            dir: dir.path().to_path_buf(),
        };
        fs::write(
            dir.path().join("memory.stat"),
            "cache 4096\nrss 1048576\nrss_huge 0\ntotal_cache 4096\ntotal_rss 2097152\n",
        )
        .unwrap();
        fs::write(
            dir.path().join("memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
        )
        .unwrap();
        assert_eq!(cg.anon_bytes(), Some(2 << 20));
        assert_eq!(cg.oom_kills(), 2);
    }

    /// The v1 path for real: this machine mounts the v1 memory controller.
    #[test]
    fn v1_live_cgroup_limits_and_is_removed() {
        let Ok(parent) = locate() else {
            return crate::resources::require_or_skip("no memory cgroup on this machine");
        };
        if parent.version != Version::V1 {
            return; // the v2 path has its own tests above; this one is about v1 live
        }
        let group = match Group::create(&parent, std::process::id()) {
            Ok(g) => g,
            Err(e) => {
                return crate::resources::require_or_skip(&format!(
                    "cannot create a memory cgroup: {e}"
                ));
            }
        };
        let cg = group.worker("probe", 64).unwrap();
        let limit: u64 = fs::read_to_string(cg.dir.join("memory.limit_in_bytes"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(limit, 64 << 20);
        assert_eq!(cg.oom_kills(), 0);
        // A process inside is killed before the cgroup goes.
        let child = std::process::Command::new("/bin/sleep")
            .arg("30")
            .spawn()
            .unwrap();
        fs::write(cg.procs_file(), child.id().to_string()).unwrap();
        assert_eq!(cg.pids(), [child.id() as i32]);
        let mut child = child;
        cg.kill_and_remove();
        assert!(!cg.dir.exists());
        assert!(child.wait().unwrap().code().is_none(), "killed by a signal");
        group.remove();
        assert!(!group.dir.exists());
    }

    /// A `kill -9` of fuzzfleet leaves its group, and in a worker cgroup whatever had
    /// left the worker's process group (AFL++'s forkserver and its stopped child): the
    /// next fuzzfleet kills it and removes the group. Live on v1, under a parent of the
    /// test's own that no other fuzzfleet process looks into.
    #[test]
    fn a_dead_fuzzfleets_group_is_emptied_and_removed_by_the_next() {
        use std::os::unix::process::CommandExt;
        let Ok(parent) = locate() else {
            return crate::resources::require_or_skip("no memory cgroup on this machine");
        };
        if parent.version != Version::V1 {
            return; // cgroup.kill (v2) is what kill_and_remove uses there
        }
        let mine = parent
            .dir
            .join(format!("fuzzfleet-test-{}", std::process::id()));
        if let Err(e) = mkdir(&mine) {
            return crate::resources::require_or_skip(&format!(
                "cannot create a memory cgroup: {e}"
            ));
        }
        // A pid that no process has now: a child that has exited and been reaped.
        let mut gone = std::process::Command::new("/bin/true").spawn().unwrap();
        let dead_pid = gone.id();
        gone.wait().unwrap();
        let stale = Group {
            version: Version::V1,
            dir: mine.join(format!("fuzzfleet-{dead_pid}")),
        };
        mkdir(&stale.dir).unwrap();
        let cg = stale.worker("w0-r1", 64).unwrap();
        // In a session of its own, and stopped: what AFL++ leaves.
        let mut child = std::process::Command::new("/bin/sleep")
            .arg("60")
            .process_group(0)
            .spawn()
            .unwrap();
        fs::write(cg.procs_file(), child.id().to_string()).unwrap();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGSTOP,
        )
        .unwrap();
        // A live pid's group is left alone.
        let live = Group {
            version: Version::V1,
            dir: mine.join(format!("fuzzfleet-{}", std::process::id())),
        };
        mkdir(&live.dir).unwrap();

        remove_stale(&mine, Version::V1);
        let status = child.wait().unwrap();
        assert!(status.code().is_none(), "killed by a signal: {status:?}");
        assert!(!stale.dir.exists());
        assert!(live.dir.exists());
        live.remove();
        fs::remove_dir(&mine).unwrap();
    }
}
