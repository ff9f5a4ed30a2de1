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
