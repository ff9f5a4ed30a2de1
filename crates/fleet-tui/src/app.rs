//! The live view's loop: one event stream (keys, the pollers' updates, a tick), one
//! model, one draw per change.

use std::io::{self, IsTerminal};
use std::sync::mpsc;
use std::time::Duration;

use ratatui::crossterm::event::{self, Event};

use crate::keys::{Action, UiState, on_key};
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
        screen.terminal.draw(|f| render(&model, &ui, f))?;
        if panic_for_test && model.nodes.iter().any(|n| n.data.is_some()) {
            panic!("{PANIC_ENV} is set: panicking to show the terminal is restored");
        }
        if crate::terminal::stop_requested() {
            return Ok(());
        }
        let ready = match event::poll(TICK) {
            Ok(ready) => ready,
            // A stop signal interrupted the wait: checked above on the next turn.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => false,
            Err(e) => return Err(e),
        };
        if ready
            && let Event::Key(key) = event::read()?
            && on_key(&mut ui, &model, key) == Action::Quit
        {
            return Ok(());
        }
    }
}

/// Set in the environment, makes the view panic after its first figures: how the
/// tests check that a panic leaves a usable terminal behind.
pub const PANIC_ENV: &str = "FUZZFLEET_TUI_TEST_PANIC";
