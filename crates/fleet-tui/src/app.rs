//! The live view's loop: one event stream (keys, the pollers' updates, a tick), one
//! model, one draw per change. It ends on `q`, on SIGTERM/SIGHUP/SIGINT, and when the
//! terminal goes away (hangup, end of file, an I/O error): it reads the terminal itself
//! with poll(2) and read(2), never spinning on a dead one.

use std::io::{self, IsTerminal};
use std::sync::mpsc;
use std::time::Duration;

use crate::keys::{Action, UiState, on_key, parse_keys};
use crate::model::Model;
use crate::source::{self, Source, now_ms};
use crate::terminal::Screen;
use crate::view::render;

/// How often the screen is redrawn without news ("updated 3s ago" moves on) and keys
/// are checked.
const TICK: Duration = Duration::from_millis(200);

/// Whether stdin and stdout are a terminal the live view can take over.
pub fn has_tty() -> bool {
    io::stdin().is_terminal() && io::stdout().is_terminal()
}

/// Runs the live view of `sources` until the user quits; each source is polled every
/// `interval` on its own thread.
pub fn watch(sources: Vec<Box<dyn Source>>, interval: Duration) -> io::Result<()> {
    let mut model = Model::new(sources.iter().map(|s| (s.name(), s.origin())));
    let (tx, rx) = mpsc::channel();
    let _pollers = source::spawn(sources, interval, tx);
    let mut screen = Screen::enter()?;
    let mut ui = UiState::default();
    let panic_for_test = std::env::var_os(PANIC_ENV).is_some();
    loop {
        while let Ok(update) = rx.try_recv() {
            model.apply(update);
        }
        model.now_ms = now_ms();
        if let Err(e) = screen.terminal.draw(|f| render(&model, &ui, f)) {
            // Nobody is left to see it when the terminal is gone.
            return if terminal_gone(&e) { Ok(()) } else { Err(e) };
        }
        if panic_for_test && model.nodes.iter().any(|n| n.data.is_some()) {
            panic!("{PANIC_ENV} is set: panicking to show the terminal is restored");
        }
        if crate::terminal::stop_requested() {
            return Ok(());
        }
        match read_input(TICK) {
            Input::Nothing => {}
            Input::Gone => return Ok(()),
            Input::Bytes(bytes) => {
                for key in parse_keys(&bytes) {
                    if on_key(&mut ui, &model, key) == Action::Quit {
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// What the terminal gave within a wait.
#[derive(Debug, PartialEq, Eq)]
enum Input {
    /// Nothing (the wait ran out, or a signal interrupted it: the loop checks).
    Nothing,
    Bytes(Vec<u8>),
    /// Hung up, at end of file, or failing: the view ends.
    Gone,
}

/// Waits up to `timeout` for the terminal on stdin and reads what it has.
fn read_input(timeout: Duration) -> Input {
    read_fd(libc::STDIN_FILENO, timeout)
}

fn read_fd(fd: libc::c_int, timeout: Duration) -> Input {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: one pollfd, owned here.
    let ready = unsafe { libc::poll(&mut pfd, 1, ms) };
    if ready < 0 {
        return match io::Error::last_os_error().kind() {
            io::ErrorKind::Interrupted => Input::Nothing,
            _ => Input::Gone,
        };
    }
    if ready == 0 {
        return Input::Nothing;
    }
    if pfd.revents & libc::POLLIN == 0 {
        // POLLHUP, POLLERR or POLLNVAL alone: the terminal is gone.
        return Input::Gone;
    }
    let mut buf = [0u8; 256];
    // SAFETY: reads into a buffer of the length given.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    match n {
        0 => Input::Gone,
        n if n > 0 => Input::Bytes(buf[..n as usize].to_vec()),
        _ => match io::Error::last_os_error().kind() {
            io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock => Input::Nothing,
            _ => Input::Gone,
        },
    }
}

/// Whether a failed write means the terminal itself is gone (a closed pty gives EIO).
fn terminal_gone(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EIO | libc::ENXIO | libc::EPIPE | libc::EBADF | libc::ENOTTY)
    ) || e.kind() == io::ErrorKind::BrokenPipe
}

/// Set in the environment, makes the view panic after its first figures: how the
/// tests check that a panic leaves a usable terminal behind.
pub const PANIC_ENV: &str = "FUZZFLEET_TUI_TEST_PANIC";

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn input_is_read_and_a_closed_writer_is_the_end() {
        let (reader, mut writer) = io::pipe().unwrap();
        let fd = reader.as_raw_fd();
        assert_eq!(read_fd(fd, Duration::from_millis(10)), Input::Nothing);
        use std::io::Write;
        writer.write_all(b"q").unwrap();
        assert_eq!(
            read_fd(fd, Duration::from_secs(5)),
            Input::Bytes(b"q".to_vec())
        );
        drop(writer);
        // End of file (a pipe reports POLLHUP; a hung-up terminal reads 0): ended at
        // once, not after the wait.
        let t = std::time::Instant::now();
        assert_eq!(read_fd(fd, Duration::from_secs(5)), Input::Gone);
        assert!(t.elapsed() < Duration::from_secs(1));
    }
}
