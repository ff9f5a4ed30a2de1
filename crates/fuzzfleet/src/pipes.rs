//! A closed stdout or stderr (`fuzzfleet crashes list | head -1`) ends a command
//! quietly, never with a panic and a backtrace.
//!
//! A command that only reports dies of SIGPIPE at its next write, as `ls` or `cat`
//! would (the shell shows status 141, nothing is printed). A supervisor (`run`,
//! `agent`) must not die at a write: its workers, memory cgroups and statistics need a
//! clean stop. Its stdout and stderr, when they are pipes or sockets (the only files
//! a write can find closed), are relayed through a pipe of its own by a thread; a
//! write that finds the reader gone makes that thread raise SIGTERM once, which stops
//! the campaign the way Ctrl-C does, and everything written after is dropped. Its own
//! writes never fail, so no `println!` or `eprintln!` anywhere can panic.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

/// At exit, how long the relays may take to pass on what is still in their pipes (a
/// child that outlived fuzzfleet may hold a pipe open for ever).
const DRAIN_WAIT: Duration = Duration::from_secs(2);

/// The relays a supervisor runs; [`Guard::finish`] passes on what is left before exit.
#[derive(Default)]
pub struct Guard {
    relays: Vec<(RawFd, Receiver<()>)>,
}

/// A closed stdout or stderr ends this process at its next write, by SIGPIPE's default
/// action: call first thing in `main`, before any thread starts (argument parsing
/// prints too).
pub fn quiet_on_close() {
    // SAFETY: restores the default action (Rust's runtime ignores SIGPIPE), before any
    // other thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

/// For a supervisor, instead: writes never fail, and a closed reader stops it like
/// SIGTERM. Call before any other thread starts.
pub fn supervise() -> Guard {
    // SAFETY: as above; a write to a closed pipe fails with EPIPE, which only the relay
    // (or a child's own output) can meet.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let mut guard = Guard { relays: Vec::new() };
    for fd in [libc::STDOUT_FILENO, libc::STDERR_FILENO] {
        if can_close_under_us(fd)
            && let Ok(done) = relay(fd)
        {
            guard.relays.push((fd, done));
        }
    }
    guard
}

impl Guard {
    /// Flushes stdout and lets the relays pass on everything written, so no line is lost
    /// at exit.
    pub fn finish(self) {
        if self.relays.is_empty() {
            return;
        }
        let _ = io::stdout().flush();
        // Our write ends close when /dev/null takes their place: the relays see EOF
        // once children that inherited them are gone too.
        if let Ok(null) = File::options().write(true).open("/dev/null") {
            for (fd, _) in &self.relays {
                // SAFETY: replaces a descriptor this process owns with another.
                unsafe { libc::dup2(null.as_raw_fd(), *fd) };
            }
        }
        let deadline = Instant::now() + DRAIN_WAIT;
        for (_, done) in self.relays {
            let _ = done.recv_timeout(deadline.saturating_duration_since(Instant::now()));
        }
    }
}

/// Whether `fd` is a pipe or a socket: the files whose reader can go away.
fn can_close_under_us(fd: RawFd) -> bool {
    // SAFETY: fstat writes only into the struct it is given.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return false;
    }
    matches!(st.st_mode & libc::S_IFMT, libc::S_IFIFO | libc::S_IFSOCK)
}

/// Puts a pipe of our own at `fd` and a thread that copies it to what `fd` was.
fn relay(fd: RawFd) -> io::Result<Receiver<()>> {
    // SAFETY: duplicates a descriptor this process owns; the copy is owned by `to`.
    let original = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if original < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `original` is a fresh descriptor nothing else owns.
    let to = unsafe { File::from_raw_fd(original) };
    let (from, writer) = io::pipe()?;
    let (done, wait) = mpsc::channel();
    let name = if fd == libc::STDOUT_FILENO {
        "stdout-relay"
    } else {
        "stderr-relay"
    };
    // The thread first: if it cannot start, `fd` is left as it was.
    thread::Builder::new().name(name.into()).spawn(move || {
        forward(from, to);
        let _ = done.send(());
    })?;
    // SAFETY: replaces `fd` with our pipe's write end (not close-on-exec, as `fd` was,
    // so children that inherit stdout or stderr still write where fuzzfleet does). If
    // it fails, dropping `writer` ends the thread.
    if unsafe { libc::dup2(writer.as_raw_fd(), fd) } < 0 {
        return Err(io::Error::last_os_error());
    }
    drop(writer);
    Ok(wait)
}

/// Copies `from` to `to` until every writer is gone; after `to` failed, drops the rest.
fn forward(mut from: io::PipeReader, mut to: File) {
    let mut buf = [0u8; 16 << 10];
    let mut open = true;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        if open && let Err(e) = to.write_all(&buf[..n]) {
            open = false;
            if e.kind() == io::ErrorKind::BrokenPipe {
                stop_once();
            }
        }
    }
}

/// SIGTERM to ourselves, once: the campaign stops its workers and ends as on Ctrl-C.
fn stop_once() {
    static SENT: AtomicBool = AtomicBool::new(false);
    if !SENT.swap(true, Ordering::SeqCst) {
        // SAFETY: kill has no memory preconditions.
        unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
    }
}
