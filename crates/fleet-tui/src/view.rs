//! Drawing: a pure function of the model and the UI state, so a local and a remote
//! node look the same and every screen can be checked on a test backend.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Sparkline, Table, TableState};

use crate::keys::{Screen, UiState};
use crate::model::{Model, NodeView, Point, SortKey, TargetView};
use crate::source::remote::UNREACHABLE;
use crate::text::{ago, size};

const BAD: Style = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
const DIM: Style = Style::new().fg(Color::DarkGray);
const HEAD: Style = Style::new().add_modifier(Modifier::BOLD);
/// Width of the coverage sparkline in the table.
const TREND_WIDTH: usize = 20;

/// Draws the whole screen.
pub fn render(model: &Model, ui: &UiState, frame: &mut Frame) {
    let several = model.nodes.len() > 1;
    let errors = model
        .nodes
        .get(ui.node)
        .and_then(|n| n.data.as_ref())
        .and_then(|d| crate::text::errors(d.errors.as_ref()));
    let [title, sys, totals, errors_area, nodes, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(u16::from(errors.is_some())),
        Constraint::Length(u16::from(several)),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let Some(node) = model.nodes.get(ui.node) else {
        frame.render_widget(Paragraph::new("no node to show"), body);
        return;
    };
    frame.render_widget(title_line(model, ui, node), title);
    frame.render_widget(system_line(model, node), sys);
    frame.render_widget(totals_line(node), totals);
    if let Some(line) = errors {
        frame.render_widget(Paragraph::new(Line::styled(line, BAD)), errors_area);
    }
    if several {
        frame.render_widget(nodes_line(model, ui), nodes);
    }
    match (&node.data, ui.screen) {
        (None, _) => {
            let text = match &node.error {
                Some(_) => Line::styled("no figures yet", DIM),
                None => Line::styled("waiting for the first figures…", DIM),
            };
            frame.render_widget(Paragraph::new(text), body);
        }
        (Some(_), Screen::Table) => render_table(model, ui, frame, body),
        (Some(_), Screen::Detail) => render_detail(model, ui, frame, body),
    }
    let keys = match ui.screen {
        Screen::Table if several => {
            "q quit · s sort · r reverse · ↑↓ select · Enter details · n next node"
        }
        Screen::Table => "q quit · s sort · r reverse · ↑↓ select · Enter details",
        Screen::Detail => "Esc back · ↑↓ previous/next target · q quit",
    };
    frame.render_widget(Paragraph::new(Line::styled(keys, DIM)), footer);
}

fn title_line<'a>(model: &Model, ui: &UiState, node: &'a NodeView) -> Line<'a> {
    let mut spans = vec![
        Span::styled("fuzzfleet status", HEAD),
        Span::raw(format!(" · node {}", node.name)),
    ];
    if model.nodes.len() > 1 {
        spans.push(Span::raw(format!(
            " ({}/{})",
            ui.node + 1,
            model.nodes.len()
        )));
    }
    spans.push(Span::styled(format!(" · {}", node.origin), DIM));
    if let Some(t) = node.updated_ms {
        spans.push(Span::styled(
            format!(" · updated {} ago", ago(model.now_ms, t)),
            DIM,
        ));
    }
    Line::from(spans)
}

/// CPU, memory and disk, or why the node's figures could not be read.
fn system_line<'a>(model: &Model, node: &'a NodeView) -> Line<'a> {
    if let Some(e) = &node.error {
        let stale = match node.updated_ms {
            Some(t) if node.data.is_some() => {
                format!(" (figures below are {} old)", ago(model.now_ms, t))
            }
            _ => String::new(),
        };
        return Line::styled(format!("{e}{stale}"), BAD);
    }
    let Some(data) = &node.data else {
        return Line::styled("system: -", DIM);
    };
    let mut spans = Vec::new();
    match &data.system {
        Some(s) => {
            let mem_pct = if s.mem_total_bytes > 0 {
                100.0 * s.mem_used_bytes as f64 / s.mem_total_bytes as f64
            } else {
                0.0
            };
            spans.push(Span::raw(format!(
                "cpu {:.0}% · memory {} of {} ({mem_pct:.0}%) · disk {:.0}% used",
                s.cpu_percent,
                fleet_docs::fmt::bytes(s.mem_used_bytes),
                fleet_docs::fmt::bytes(s.mem_total_bytes),
                s.disk_used_percent
            )));
        }
        None => spans.push(Span::styled("system: -", DIM)),
    }
    if let Some(hub) = &data.hub {
        let style = if hub == "ok" { Style::new() } else { BAD };
        spans.push(Span::raw(" · "));
        spans.push(Span::styled(format!("hub {hub}"), style));
    }
    Line::from(spans)
}

/// The node's totals: targets running, rate, the three crash counts, never run.
fn totals_line(node: &NodeView) -> Line<'static> {
    let Some(data) = &node.data else {
        return Line::default();
    };
    let t = &data.targets;
    let running = t.iter().filter(|t| t.state == "running").count();
    let workers: i64 = t.iter().map(|t| t.workers).sum();
    let rate: f64 = t
        .iter()
        .filter(|t| t.state == "running")
        .map(|t| t.execs_per_sec)
        .sum();
    let execs: i64 = t.iter().map(|t| t.execs).sum();
    let bugs: i64 = t.iter().map(|t| t.bugs).sum();
    let inputs: i64 = t.iter().map(|t| t.inputs).sum();
    let hits: i64 = t.iter().map(|t| t.hits).sum();
    let pending: i64 = t.iter().map(|t| t.pending).sum();
    let never = t.iter().filter(|t| t.state == "never run").count();
    let plural = crate::text::plural;
    let mut text = format!(
        "total: {running} of {} running on {} · {} execs/s · {execs} execs · {}, {}, {}",
        plural(t.len() as i64, "target"),
        plural(workers, "worker"),
        crate::text::rate(rate),
        plural(bugs, "bug"),
        plural(inputs, "crashing input"),
        plural(hits, "crash hit")
    );
    if pending > 0 {
        text += &format!(" ({pending} not triaged yet)");
    }
    if never > 0 {
        text += &format!(" · {never} never run");
    }
    Line::raw(text)
}

/// One entry per node: its name and whether it answers; the shown one highlighted.
fn nodes_line<'a>(model: &'a Model, ui: &UiState) -> Line<'a> {
    let mut spans = vec![Span::raw("nodes: ")];
    for (i, n) in model.nodes.iter().enumerate() {
        let (mark, style) = match (&n.error, &n.data) {
            (Some(e), _) if e.starts_with(UNREACHABLE) => ("unreachable", BAD),
            (Some(_), _) => ("error", BAD),
            (None, Some(_)) => ("ok", Style::new().fg(Color::Green)),
            (None, None) => ("waiting", DIM),
        };
        let name_style = if i == ui.node {
            HEAD.add_modifier(Modifier::REVERSED)
        } else {
            Style::new()
        };
        spans.push(Span::styled(n.name.clone(), name_style));
        spans.push(Span::raw(" "));
        spans.push(Span::styled(mark, style));
        spans.push(Span::raw("   "));
    }
    Line::from(spans)
}

fn header_cell(label: &str, key: Option<SortKey>, ui: &UiState, right: bool) -> Cell<'static> {
    let mut text = label.to_string();
    if key == Some(ui.sort) {
        text.push(if ui.reverse { '▲' } else { '▼' });
    }
    let line = Line::styled(text, HEAD);
    Cell::from(if right {
        line.alignment(Alignment::Right)
    } else {
        line
    })
}

fn right(s: String) -> Cell<'static> {
    Cell::from(Line::from(s).alignment(Alignment::Right))
}

fn render_table(model: &Model, ui: &UiState, frame: &mut Frame, area: Rect) {
    let rows = model.rows(ui.node, ui.sort, ui.reverse);
    let name_width = rows
        .iter()
        .map(|t| t.name.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(8, 32) as u16
        + 1;
    let header = Row::new(vec![
        header_cell("TARGET", Some(SortKey::Name), ui, false),
        header_cell("STATE", None, ui, false),
        header_cell("W", None, ui, true),
        header_cell("EXEC/S", Some(SortKey::ExecsPerSec), ui, true),
        header_cell("COV", Some(SortKey::Coverage), ui, true),
        header_cell("COVERAGE TREND", None, ui, false),
        header_cell("CORPUS", None, ui, true),
        header_cell("BUGS", Some(SortKey::Bugs), ui, true),
        header_cell("INPUTS", None, ui, true),
        header_cell("HITS", None, ui, true),
        header_cell("NEW COV", Some(SortKey::LastNewCoverage), ui, true),
        header_cell("TURN", None, ui, false),
    ]);
    let body: Vec<Row> = rows
        .iter()
        .map(|t| {
            let bugs = right(t.bugs.to_string());
            Row::new(vec![
                Cell::from(t.name.clone()),
                Cell::from(t.state.clone()),
                right(t.workers.to_string()),
                right(if t.state == "running" || t.last_avg.is_empty() {
                    format!("{:.0}", t.execs_per_sec)
                } else {
                    format!("({})", t.last_avg)
                }),
                right(t.coverage.map_or("-".into(), |c| c.to_string())),
                Cell::from(Line::styled(
                    trend(&t.history, TREND_WIDTH),
                    Style::new().fg(Color::Cyan),
                )),
                right(format!("{}/{}", t.corpus_files, size(t.corpus_bytes))),
                if t.bugs > 0 { bugs.style(BAD) } else { bugs },
                right(t.inputs.to_string()),
                right(t.hits.to_string()),
                right(since_new_coverage(model, t)),
                Cell::from(t.turn.clone()),
            ])
        })
        .collect();
    let widths = [
        Constraint::Length(name_width),
        Constraint::Length(9),
        Constraint::Length(3),
        // A stopped target's "(117k/96k)": the last rate and the run's average.
        Constraint::Length(11),
        Constraint::Length(7),
        Constraint::Length(TREND_WIDTH as u16),
        Constraint::Length(14),
        Constraint::Length(5),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(9),
        Constraint::Length(16),
    ];
    let table = Table::new(body, widths)
        .header(header)
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .highlight_symbol("▶ ");
    let mut state = TableState::default().with_selected(Some(ui.selected_index(model)));
    frame.render_stateful_widget(table, area, &mut state);
}

fn since_new_coverage(model: &Model, t: &TargetView) -> String {
    t.last_new_coverage_ms
        .map_or("-".into(), |at| ago(model.now_ms, at))
}

/// A sparkline in text (▁…█) of the last `width` coverage figures, scaled from their
/// minimum to their maximum so that any growth shows.
pub fn trend(history: &[Point], width: usize) -> String {
    let values: Vec<i64> = history.iter().filter_map(|p| p.coverage).collect();
    let values = &values[values.len().saturating_sub(width)..];
    let (Some(&min), Some(&max)) = (values.iter().min(), values.iter().max()) else {
        return String::new();
    };
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    values
        .iter()
        .map(|&v| {
            if max == min {
                BARS[0]
            } else {
                BARS[((v - min) * 7 / (max - min)) as usize]
            }
        })
        .collect()
}

fn render_detail(model: &Model, ui: &UiState, frame: &mut Frame, area: Rect) {
    let rows = model.rows(ui.node, ui.sort, ui.reverse);
    let Some(t) = rows.get(ui.selected_index(model)) else {
        return;
    };
    let block = Block::bordered().title(Line::styled(format!(" target {} ", t.name), HEAD));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [info, eps, cov, corpus] = Layout::vertical([
        Constraint::Length(4),
        Constraint::Fill(1),
        Constraint::Fill(1),
        Constraint::Fill(1),
    ])
    .areas(inner);
    let mut lines = vec![
        Line::from(format!(
            "state {} · workers {} · execs {} · {:.0} execs/s",
            t.state, t.workers, t.execs, t.execs_per_sec
        )),
        Line::from(format!(
            "coverage {} · features {} · last new coverage {} ago",
            t.coverage.map_or("-".into(), |c| c.to_string()),
            t.features.map_or("-".into(), |c| c.to_string()),
            since_new_coverage(model, t)
        )),
        Line::from(format!(
            "corpus {} files, {} · {}, {}, {}",
            t.corpus_files,
            size(t.corpus_bytes),
            crate::text::plural(t.bugs, "bug"),
            crate::text::plural(t.inputs, "crashing input"),
            crate::text::plural(t.hits, "crash hit")
        ))
        .style(if t.bugs > 0 { BAD } else { Style::new() }),
    ];
    if let Some(m) = &t.message {
        lines.push(Line::styled(m.clone(), DIM));
    }
    frame.render_widget(Paragraph::new(lines), info);
    plot(frame, eps, "execs/s", t, false, |p| {
        Some(p.execs_per_sec.round() as u64)
    });
    plot(frame, cov, "coverage", t, true, |p| {
        p.coverage.map(|c| c.max(0) as u64)
    });
    plot(frame, corpus, "corpus files", t, true, |p| {
        p.corpus_files.map(|c| c.max(0) as u64)
    });
}

/// A bordered sparkline of one series; the title carries its last, min and max.
/// Counters that only grow (`from_min`) are drawn above their minimum, or a rise of a
/// few edges on top of thousands would not show.
fn plot(
    frame: &mut Frame,
    area: Rect,
    what: &str,
    t: &TargetView,
    from_min: bool,
    value: impl Fn(&Point) -> Option<u64>,
) {
    let data: Vec<u64> = t.history.iter().filter_map(&value).collect();
    let width = area.width.saturating_sub(2) as usize;
    let data = &data[data.len().saturating_sub(width)..];
    let title = match (data.last(), data.iter().min(), data.iter().max()) {
        (Some(last), Some(min), Some(max)) => {
            format!(
                " {what} · now {last} · min {min} · max {max} · {} samples ",
                data.len()
            )
        }
        _ => format!(" {what} · no samples yet "),
    };
    let floor = match data.iter().min() {
        Some(&min) if from_min => min,
        _ => 0,
    };
    let shown: Vec<u64> = data.iter().map(|v| v - floor).collect();
    let sparkline = Sparkline::default()
        .block(Block::bordered().title(title))
        .style(Style::new().fg(Color::Cyan))
        .data(&shown);
    frame.render_widget(sparkline, area);
}
