//! How the dashboard writes a target's figures that need more than a number: its exec
//! rate (now while it runs; after a stop, the last rate and the run's average, as
//! `status`'s LAST/AVG), its place in the schedule and its strategies. Values come from the status
//! document unchanged and are kept in `data-*` attributes, so a page and
//! `status --json` can be compared.

use std::fmt::Write;
use std::time::Duration;

use fleet_docs::fmt;
use fleet_docs::report::TargetStatus;

use crate::dashboard::esc;

/// Whether a worker fuzzes the target now (its live rate means something).
fn running(t: &TargetStatus) -> bool {
    t.state == "running"
}

/// The rate a reader sees in the execs/s column: the live one while running, else the
/// last one it had (what the column sorts by).
pub fn shown_rate(t: &TargetStatus) -> f64 {
    if running(t) {
        t.execs_per_sec
    } else {
        t.last_execs_per_sec
    }
}

/// The execs/s column's text: `4.1k` while running; `last 117k/s · avg 148k/s` after a
/// stop; `-` for a target that never had a rate.
pub fn rate_text(t: &TargetStatus) -> String {
    let (last, avg) = (t.last_execs_per_sec, t.avg_execs_per_sec);
    if running(t) {
        fmt::rate(t.execs_per_sec)
    } else if last > 0.0 || avg > 0.0 {
        format!("last {}/s · avg {}/s", fmt::rate(last), fmt::rate(avg))
    } else {
        "-".into()
    }
}

/// The execs/s cell's attributes: the document's three rates as they are.
pub fn rate_attrs(t: &TargetStatus) -> String {
    format!(
        "data-field=\"execs_per_sec\" data-running=\"{}\" data-now=\"{}\" data-last=\"{}\" \
         data-avg=\"{}\"",
        running(t),
        t.execs_per_sec,
        t.last_execs_per_sec,
        t.avg_execs_per_sec
    )
}

/// The target's place in the schedule: its share under the coverage-following schedule
/// and why, else its tier's turn (budget used and left in the current cycle), else what
/// its state tells.
pub fn schedule_of(t: &TargetStatus) -> String {
    if let Some(s) = &t.share {
        return format!(
            "<span class=\"place\" data-share=\"{:.3}\">{}</span>",
            s.share,
            esc(&s.reason)
        );
    }
    if let Some(p) = &t.schedule {
        let d = |s: u64| fmt::duration(Duration::from_secs(s));
        return format!(
            "<span class=\"place\" data-tier=\"{tier}\" data-cycle=\"{cycle}\" \
             data-used-s=\"{used_s}\" data-left-s=\"{left_s}\">tier {tier}, cycle {cycle}: \
             {used} of {budget} used, {left} left</span>",
            tier = esc(&p.tier),
            cycle = p.cycle,
            used_s = p.used_s,
            left_s = p.left_s,
            used = d(p.used_s),
            budget = d(p.budget_s),
            left = d(p.left_s),
        );
    }
    match (t.state_word(), t.uptime) {
        ("running", Some(u)) => format!("fuzzing, {:.0}% of its slots in the loop", u * 100.0),
        ("running", None) => "fuzzing".into(),
        ("never run", _) => "not started yet".into(),
        ("waiting", _) => "waiting for its turn".into(),
        (other, _) => esc(other),
    }
}

/// The target's strategies, most favoured first: what each paid and how often the
/// bandit chooses it now.
pub fn strategies_table(t: &TargetStatus) -> String {
    if t.strategies.is_empty() {
        return String::new();
    }
    let mut out = "<h2>Strategies</h2><p class=\"facts\">Each worker run gets the strategies \
                   a bandit chooses by the new features (and bugs) per CPU-second they paid.</p>\
                   <table id=\"strategies\"><tr><th>strategy</th><th>runs</th><th>CPU</th>\
                   <th>new features</th><th>bugs</th><th>per CPU-s</th><th>chosen</th></tr>"
        .to_string();
    for s in &t.strategies {
        let _ = write!(
            out,
            "<tr data-strategy=\"{label}\"><td>{label}</td><td>{runs}</td><td>{cpu}</td>\
             <td>{features}</td><td>{bugs}</td><td>{rate}</td><td>{chosen:.0} %</td></tr>",
            label = esc(&s.label),
            runs = s.runs,
            cpu = if s.cpu_s < 10.0 {
                format!("{:.1}s", s.cpu_s)
            } else {
                fmt::duration(Duration::try_from_secs_f64(s.cpu_s).unwrap_or_default())
            },
            features = s.features,
            bugs = s.bugs,
            rate = s.rate.map_or("-".into(), |r| format!("{r:.2}")),
            chosen = s.chosen_share * 100.0,
        );
    }
    out + "</table>"
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleet_docs::report::{SchedulePlace, ShareDoc};

    fn target(state: &str) -> TargetStatus {
        TargetStatus {
            name: "t".into(),
            state: state.into(),
            execs_per_sec: 4120.0,
            last_execs_per_sec: 117_300.0,
            avg_execs_per_sec: 148_000.0,
            ..TargetStatus::default()
        }
    }

    #[test]
    fn a_stopped_target_shows_its_last_rate_and_run_average_labelled() {
        let mut t = target("stopped");
        t.execs_per_sec = 0.0;
        assert_eq!(rate_text(&t), "last 117k/s · avg 148k/s");
        assert_eq!(shown_rate(&t), 117_300.0);
        assert!(rate_attrs(&t).contains("data-last=\"117300\" data-avg=\"148000\""));
        assert_eq!(rate_text(&target("running")), "4.1k");
        let never = TargetStatus {
            state: "waiting".into(),
            never_run: true,
            ..TargetStatus::default()
        };
        assert_eq!(rate_text(&never), "-");
    }

    #[test]
    fn a_tier_place_says_its_turn_and_a_share_says_why() {
        let mut t = target("running");
        t.schedule = Some(SchedulePlace {
            tier: "t".into(),
            cycle: 3,
            budget_s: 3600,
            used_s: 1200,
            left_s: 2400,
        });
        let place = schedule_of(&t);
        assert!(
            place.contains(
                "data-tier=\"t\" data-cycle=\"3\" data-used-s=\"1200\" data-left-s=\"2400\""
            ) && place.contains(">tier t, cycle 3: 20m of 1h used, 40m left</span>"),
            "{place}"
        );
        t.share = Some(ShareDoc {
            share: 0.05,
            rate: Some(0.1),
            reason: "plateaued 6h: share 5 %".into(),
        });
        assert_eq!(
            schedule_of(&t),
            "<span class=\"place\" data-share=\"0.050\">plateaued 6h: share 5 %</span>"
        );
    }
}
