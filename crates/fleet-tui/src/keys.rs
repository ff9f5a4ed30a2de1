//! What the user is looking at (node, selection, sort, table or detail) and the pure
//! key handling that changes it.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::model::{Model, SortKey};

/// The view's own state; the figures live in the `Model`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UiState {
    /// Index of the node shown.
    pub node: usize,
    /// The selected target, by name so it stays selected when rows re-sort.
    pub selected: Option<String>,
    pub sort: SortKey,
    pub reverse: bool,
    pub screen: Screen,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Screen {
    #[default]
    Table,
    /// The selected target, with bigger plots.
    Detail,
}

/// What the loop does after a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing changed.
    None,
    /// The UI state changed: draw again.
    Redraw,
    Quit,
}

impl UiState {
    /// Index of the selected row among `rows` (the first row when none is selected or
    /// the selected target went away).
    pub fn selected_index(&self, model: &Model) -> usize {
        let rows = model.rows(self.node, self.sort, self.reverse);
        self.selected
            .as_ref()
            .and_then(|s| rows.iter().position(|t| &t.name == s))
            .unwrap_or(0)
    }
}

/// Applies `key` to `ui`. `model` gives the rows that selection moves over.
pub fn on_key(ui: &mut UiState, model: &Model, key: KeyEvent) -> Action {
    if key.kind == KeyEventKind::Release {
        return Action::None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match (key.code, ui.screen) {
        (KeyCode::Char('c'), _) if ctrl => Action::Quit,
        (KeyCode::Char('q'), _) => Action::Quit,
        (KeyCode::Esc, Screen::Table) => Action::Quit,
        (KeyCode::Esc | KeyCode::Backspace, Screen::Detail) => {
            ui.screen = Screen::Table;
            Action::Redraw
        }
        (KeyCode::Char('s'), _) => {
            ui.sort = ui.sort.next();
            Action::Redraw
        }
        (KeyCode::Char('r'), _) => {
            ui.reverse = !ui.reverse;
            Action::Redraw
        }
        (KeyCode::Up | KeyCode::Char('k'), _) => move_selection(ui, model, -1),
        (KeyCode::Down | KeyCode::Char('j'), _) => move_selection(ui, model, 1),
        (KeyCode::Enter, Screen::Table) => {
            let rows = model.rows(ui.node, ui.sort, ui.reverse);
            match rows.get(ui.selected_index(model)) {
                Some(t) => {
                    ui.selected = Some(t.name.clone());
                    ui.screen = Screen::Detail;
                    Action::Redraw
                }
                None => Action::None,
            }
        }
        (KeyCode::Char('n') | KeyCode::Tab, _) if model.nodes.len() > 1 => {
            ui.node = (ui.node + 1) % model.nodes.len();
            ui.selected = None;
            ui.screen = Screen::Table;
            Action::Redraw
        }
        _ => Action::None,
    }
}

/// The keys in `bytes`, as a terminal in raw mode sends them: printable characters
/// (UTF-8), Enter, Tab, Backspace, Esc, control letters (Ctrl-C is 0x03 in raw mode)
/// and the arrow keys (`ESC [ A` or, in application mode, `ESC O A`). Other escape
/// sequences (function keys, mouse) are skipped whole. An `ESC` that ends the bytes
/// read is the Esc key.
pub fn parse_keys(bytes: &[u8]) -> Vec<KeyEvent> {
    let plain = |code| KeyEvent::new(code, KeyModifiers::NONE);
    let mut keys = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        i += 1;
        match b {
            0x1b => match bytes.get(i) {
                None => keys.push(plain(KeyCode::Esc)),
                Some(b'[' | b'O') => {
                    // CSI / SS3: parameters, then one final byte in 0x40..=0x7e.
                    let mut j = i + 1;
                    while j < bytes.len() && !(0x40..=0x7e).contains(&bytes[j]) {
                        j += 1;
                    }
                    let code = match bytes.get(j) {
                        Some(b'A') => Some(KeyCode::Up),
                        Some(b'B') => Some(KeyCode::Down),
                        Some(b'C') => Some(KeyCode::Right),
                        Some(b'D') => Some(KeyCode::Left),
                        _ => None,
                    };
                    keys.extend(code.map(plain));
                    i = j + 1;
                }
                // ESC then another ESC: the first is the key.
                Some(0x1b) => keys.push(plain(KeyCode::Esc)),
                // Alt+key: not a key the view uses.
                Some(_) => i += 1,
            },
            b'\r' | b'\n' => keys.push(plain(KeyCode::Enter)),
            b'\t' => keys.push(plain(KeyCode::Tab)),
            0x7f | 0x08 => keys.push(plain(KeyCode::Backspace)),
            0x01..=0x1a => keys.push(KeyEvent::new(
                KeyCode::Char(char::from(b - 1 + b'a')),
                KeyModifiers::CONTROL,
            )),
            0x20..=0x7e => keys.push(plain(KeyCode::Char(char::from(b)))),
            _ => {
                // UTF-8: a lead byte and its continuation bytes.
                let len = match b {
                    0xc0..=0xdf => 2,
                    0xe0..=0xef => 3,
                    0xf0..=0xf7 => 4,
                    _ => 1,
                };
                let end = (i - 1 + len).min(bytes.len());
                if let Ok(s) = std::str::from_utf8(&bytes[i - 1..end]) {
                    keys.extend(s.chars().map(|c| plain(KeyCode::Char(c))));
                }
                i = end;
            }
        }
    }
    keys
}

fn move_selection(ui: &mut UiState, model: &Model, by: isize) -> Action {
    let rows = model.rows(ui.node, ui.sort, ui.reverse);
    if rows.is_empty() {
        return Action::None;
    }
    let at = ui.selected_index(model) as isize + by;
    let at = at.clamp(0, rows.len() as isize - 1) as usize;
    ui.selected = Some(rows[at].name.clone());
    Action::Redraw
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(bytes: &[u8]) -> Vec<(KeyCode, KeyModifiers)> {
        parse_keys(bytes)
            .into_iter()
            .map(|k| (k.code, k.modifiers))
            .collect()
    }

    #[test]
    fn raw_terminal_bytes_become_the_keys_the_view_knows() {
        let none = KeyModifiers::NONE;
        assert_eq!(codes(b"q"), [(KeyCode::Char('q'), none)]);
        assert_eq!(
            codes(b"\x03"),
            [(KeyCode::Char('c'), KeyModifiers::CONTROL)]
        );
        assert_eq!(
            codes(b"\x1b[A\x1b[B\x1bOA\r\t\x7f"),
            [
                (KeyCode::Up, none),
                (KeyCode::Down, none),
                (KeyCode::Up, none),
                (KeyCode::Enter, none),
                (KeyCode::Tab, none),
                (KeyCode::Backspace, none),
            ]
        );
        assert_eq!(codes(b"\x1b"), [(KeyCode::Esc, none)]);
        assert_eq!(
            codes(b"\x1b\x1b[B"),
            [(KeyCode::Esc, none), (KeyCode::Down, none)]
        );
        // F5 (`ESC [ 1 5 ~`) and an Alt key are skipped whole; what follows is read.
        assert_eq!(codes(b"\x1b[15~\x1bxs"), [(KeyCode::Char('s'), none)]);
        assert_eq!(codes("é".as_bytes()), [(KeyCode::Char('é'), none)]);
        // Every key is a press, as on_key expects.
        assert!(
            parse_keys(b"sr")
                .iter()
                .all(|k| k.kind == KeyEventKind::Press)
        );
    }
}
