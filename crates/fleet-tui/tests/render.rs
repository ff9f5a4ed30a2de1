//! The live view drawn on ratatui's test backend from hand-built models: what each
//! screen shows, and how keys move between screens.

use fleet_tui::keys::{Action, Screen, UiState, on_key};
use fleet_tui::model::{Model, NodeData, Point, SortKey, SystemView, TargetView, Update};
use fleet_tui::view::render;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent};

const NOW: i64 = 1_764_108_000_000;

fn history(n: i64, cov0: i64, step: i64) -> Vec<Point> {
    (0..n)
        .map(|i| Point {
            t_ms: NOW - (n - i) * 5_000,
            execs_per_sec: 1000.0 + (i % 5) as f64 * 100.0,
            coverage: Some(cov0 + i * step),
            corpus_files: Some(10 + i),
            corpus_bytes: Some(1000 + i * 64),
        })
        .collect()
}

/// `bugs` bugs from `bugs * 2` crashing inputs hit `bugs * 5` times: three numbers
/// apart, so a column that shows the wrong count shows.
fn target(name: &str, eps: f64, cov: i64, bugs: i64, new_cov_s: Option<i64>) -> TargetView {
    TargetView {
        name: name.into(),
        state: "running".into(),
        workers: 1,
        execs: 123_456,
        execs_per_sec: eps,
        coverage: Some(cov),
        features: Some(cov * 3),
        corpus_files: 42,
        corpus_bytes: 5 * 1024,
        hits: bugs * 5,
        bugs,
        last_new_coverage_ms: new_cov_s.map(|s| NOW - s * 1000),
        message: None,
        history: history(30, cov - 29, 1),
        turn: "t 5m/1h".into(),
        inputs: bugs * 2,
        ..TargetView::default()
    }
}

fn data() -> NodeData {
    NodeData {
        targets: vec![
            target("merkle", 2100.0, 310, 0, Some(12)),
            target("block", 950.0, 820, 3, Some(4000)),
            target("utxo", 4800.0, 150, 0, None),
        ],
        system: Some(SystemView {
            cpu_percent: 97.0,
            mem_used_bytes: 3 << 30,
            mem_total_bytes: 24 << 30,
            disk_used_percent: 33.0,
        }),
        hub: Some("degraded: s3://hub: timed out".into()),
        errors: None,
    }
}

fn model(nodes: &[(&str, Result<NodeData, String>)]) -> Model {
    let mut m = Model::new(
        nodes
            .iter()
            .map(|(n, _)| (n.to_string(), format!("http://{n}:7878"))),
    );
    for (i, (_, result)) in nodes.iter().enumerate() {
        m.apply(Update {
            node: i,
            name: None,
            result: result.clone(),
            at_ms: NOW - 2_000,
        });
    }
    m.now_ms = NOW;
    m
}

fn draw(model: &Model, ui: &UiState) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(130, 24)).unwrap();
    t.draw(|f| render(model, ui, f)).unwrap();
    t
}

fn screen(model: &Model, ui: &UiState) -> String {
    draw(model, ui).backend().to_string()
}

fn key(ui: &mut UiState, model: &Model, code: KeyCode) -> Action {
    on_key(ui, model, KeyEvent::from(code))
}

#[test]
fn table_shows_a_row_per_target_with_system_and_keys() {
    let m = model(&[("alpha", Ok(data()))]);
    insta::assert_snapshot!(draw(&m, &UiState::default()).backend());
}

#[test]
fn sort_key_moves_the_indicator_and_reorders_rows() {
    let m = model(&[("alpha", Ok(data()))]);
    let mut ui = UiState::default();
    let s = screen(&m, &ui);
    assert!(s.contains("TARGET▼"), "{s}");
    let order = |s: &str| {
        ["block", "merkle", "utxo"]
            .into_iter()
            .map(|n| (s.find(&format!(" {n} ")).unwrap(), n))
            .collect::<std::collections::BTreeMap<_, _>>()
            .into_values()
            .collect::<Vec<_>>()
    };
    assert_eq!(order(&s), ["block", "merkle", "utxo"]);

    assert_eq!(key(&mut ui, &m, KeyCode::Char('s')), Action::Redraw);
    assert_eq!(ui.sort, SortKey::ExecsPerSec);
    let s = screen(&m, &ui);
    assert!(s.contains("EXEC/S▼") && !s.contains("TARGET▼"), "{s}");
    assert_eq!(order(&s), ["utxo", "merkle", "block"]);

    key(&mut ui, &m, KeyCode::Char('r'));
    let s = screen(&m, &ui);
    assert!(s.contains("EXEC/S▲"), "{s}");
    assert_eq!(order(&s), ["block", "merkle", "utxo"]);

    for _ in 0..3 {
        key(&mut ui, &m, KeyCode::Char('s'));
    }
    assert_eq!(ui.sort, SortKey::LastNewCoverage);
    // Reversed: the most recent new coverage first, "never" last.
    assert_eq!(order(&screen(&m, &ui)), ["merkle", "block", "utxo"]);
    key(&mut ui, &m, KeyCode::Char('s'));
    assert_eq!(ui.sort, SortKey::Name);
}

#[test]
fn enter_drills_into_the_selected_target_and_esc_comes_back() {
    let m = model(&[("alpha", Ok(data()))]);
    let mut ui = UiState::default();
    assert_eq!(key(&mut ui, &m, KeyCode::Down), Action::Redraw);
    assert_eq!(ui.selected.as_deref(), Some("merkle"));
    assert_eq!(key(&mut ui, &m, KeyCode::Enter), Action::Redraw);
    assert_eq!(ui.screen, Screen::Detail);
    insta::assert_snapshot!(draw(&m, &ui).backend());

    assert_eq!(key(&mut ui, &m, KeyCode::Esc), Action::Redraw);
    assert_eq!(ui.screen, Screen::Table);
    key(&mut ui, &m, KeyCode::Enter);
    assert_eq!(key(&mut ui, &m, KeyCode::Backspace), Action::Redraw);
    assert_eq!(ui.screen, Screen::Table);
    // The selection follows the target, not the row, when the order changes.
    key(&mut ui, &m, KeyCode::Char('s'));
    assert_eq!(ui.selected_index(&m), 1);
    key(&mut ui, &m, KeyCode::Char('r'));
    assert_eq!(ui.selected_index(&m), 1);
    assert_eq!(ui.selected.as_deref(), Some("merkle"));
}

#[test]
fn selection_stops_at_the_ends() {
    let m = model(&[("alpha", Ok(data()))]);
    let mut ui = UiState::default();
    key(&mut ui, &m, KeyCode::Up);
    assert_eq!(ui.selected.as_deref(), Some("block"));
    for _ in 0..5 {
        key(&mut ui, &m, KeyCode::Down);
    }
    assert_eq!(ui.selected.as_deref(), Some("utxo"));
}

#[test]
fn q_quits_anywhere_and_esc_quits_only_the_table() {
    let m = model(&[("alpha", Ok(data()))]);
    let mut ui = UiState::default();
    assert_eq!(key(&mut ui, &m, KeyCode::Char('q')), Action::Quit);
    assert_eq!(key(&mut ui, &m, KeyCode::Esc), Action::Quit);
    key(&mut ui, &m, KeyCode::Enter);
    assert_eq!(key(&mut ui, &m, KeyCode::Char('q')), Action::Quit);
    assert_eq!(key(&mut ui, &m, KeyCode::Char('x')), Action::None);
}

#[test]
fn an_unreachable_node_shows_why_and_n_moves_between_nodes() {
    let m = model(&[
        ("alpha", Ok(data())),
        (
            "beta",
            Err("unreachable: http://beta:7878/api/v1/status: Connection refused".into()),
        ),
    ]);
    let mut ui = UiState::default();
    let s = screen(&m, &ui);
    assert!(
        s.contains("alpha ok") && s.contains("beta unreachable"),
        "{s}"
    );
    assert!(s.contains("(1/2)") && s.contains("n next node"), "{s}");
    assert_eq!(key(&mut ui, &m, KeyCode::Char('n')), Action::Redraw);
    assert_eq!(ui.node, 1);
    insta::assert_snapshot!(draw(&m, &ui).backend());
    // Nothing to drill into on a node without figures.
    assert_eq!(key(&mut ui, &m, KeyCode::Enter), Action::None);
    key(&mut ui, &m, KeyCode::Char('n'));
    assert_eq!(ui.node, 0);
}

#[test]
fn a_local_error_is_not_called_unreachable() {
    let m = model(&[
        ("local", Err("no fuzzfleet state in /x yet".into())),
        ("beta", Ok(data())),
    ]);
    let s = screen(&m, &UiState::default());
    assert!(s.contains("local error") && s.contains("beta ok"), "{s}");
    assert!(s.contains("\"no fuzzfleet state in /x yet "), "{s}");
    assert!(!s.contains("unreachable"), "{s}");
}

#[test]
fn n_does_nothing_with_one_node() {
    let m = model(&[("alpha", Ok(data()))]);
    let mut ui = UiState::default();
    assert_eq!(key(&mut ui, &m, KeyCode::Char('n')), Action::None);
    assert_eq!(ui.node, 0);
}

#[test]
fn a_node_that_stops_answering_keeps_its_last_figures_marked_stale() {
    let mut m = model(&[("alpha", Ok(data()))]);
    m.apply(Update {
        node: 0,
        name: None,
        result: Err("unreachable: timed out".into()),
        at_ms: NOW,
    });
    m.now_ms = NOW + 60_000;
    let s = screen(&m, &UiState::default());
    assert!(
        s.contains("unreachable: timed out (figures below are 1m 2s old)"),
        "{s}"
    );
    assert!(s.contains(" merkle "), "{s}");
}

/// The value of the right-aligned column `label` in `line`, read under its header.
fn column(screen: &str, label: &str, row: &str) -> String {
    let lines: Vec<Vec<char>> = screen.lines().map(|l| l.chars().collect()).collect();
    let header = lines
        .iter()
        .find(|l| l.iter().collect::<String>().contains("TARGET"))
        .unwrap();
    let text: String = header.iter().collect();
    let start = text[..text.find(&format!(" {label}")).unwrap() + 1]
        .chars()
        .count();
    let mut end = start + label.chars().count();
    if matches!(header.get(end), Some('▼' | '▲')) {
        end += 1;
    }
    let line = lines
        .iter()
        .find(|l| l.iter().collect::<String>().contains(&format!(" {row} ")))
        .unwrap();
    let cells: String = line[..end].iter().collect();
    cells.split_whitespace().last().unwrap().to_string()
}

/// Issue 13.5: the live view names the three counts as `status` does (it said CRASHES
/// and BKT), with the same numbers.
#[test]
fn the_table_shows_bugs_inputs_and_hits_as_status_names_them() {
    let m = model(&[("alpha", Ok(data()))]);
    let mut ui = UiState::default();
    let s = screen(&m, &ui);
    assert!(!s.contains("CRASHES") && !s.contains("BKT"), "{s}");
    for (label, want) in [("BUGS", "3"), ("INPUTS", "6"), ("HITS", "15")] {
        assert_eq!(column(&s, label, "block"), want, "{label}\n{s}");
        assert_eq!(column(&s, label, "merkle"), "0", "{label}\n{s}");
    }
    assert!(
        s.contains("3 bugs, 6 crashing inputs, 15 crash hits"),
        "{s}"
    );
    // The third `s` sorts by bugs, the most first.
    for _ in 0..3 {
        key(&mut ui, &m, KeyCode::Char('s'));
    }
    assert_eq!(ui.sort, SortKey::Bugs);
    let s = screen(&m, &ui);
    assert!(s.contains("BUGS▼"), "{s}");
    assert_eq!(column(&s, "BUGS", "block"), "3", "{s}");
    // The detail says the same three counts.
    key(&mut ui, &m, KeyCode::Enter);
    let s = screen(&m, &ui);
    assert!(
        s.contains("corpus 42 files, 5.0K · 3 bugs, 6 crashing inputs, 15 crash hits"),
        "{s}"
    );
}

/// Issue 16.1: the campaign's errors show under the totals, and nothing when none.
#[test]
fn the_campaigns_errors_show_under_the_totals() {
    let mut with_errors = data();
    with_errors.errors = Some(fleet_docs::report::ErrorsDoc {
        count: 3,
        last: Some("cannot record an event: database is locked".into()),
        last_at: Some("2026-12-07T14:05:57Z".into()),
    });
    let s = screen(&model(&[("alpha", Ok(with_errors))]), &UiState::default());
    let lines: Vec<&str> = s.lines().collect();
    assert!(
        lines[3].contains(
            "errors: 3 (last at 2026-12-07T14:05:57Z: cannot record an event: database is locked)"
        ),
        "{s}"
    );
    assert!(lines[4].contains("TARGET"), "{s}");
    let s = screen(&model(&[("alpha", Ok(data()))]), &UiState::default());
    assert!(!s.contains("errors"), "{s}");
}

/// A stopped target's last rate and average fit their column whole (the column cut
/// "(117k/96k)" to "117k/96k)").
#[test]
fn a_stopped_targets_last_and_average_rate_show_whole() {
    let mut d = data();
    d.targets[0].state = "stopped".into();
    d.targets[0].last_avg = "117k/96k".into();
    let s = screen(&model(&[("alpha", Ok(d))]), &UiState::default());
    assert!(s.contains(" (117k/96k) "), "{s}");
}
