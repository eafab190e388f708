//! The dashboard's pictures, as inline SVG built from records (no JavaScript, no external files): the runs timeline
//! (a row per job, a bar per run from due to stop, coloured by status, its start delay drawn lighter, missed fires
//! marked) and the services' awake/asleep bands. Pure: the records and the window in, markup out.

use chrono::{DateTime, Duration, Utc};
use fsched_core::domain::run::{Run, RunStatus};
use fsched_core::domain::service::{Phase, ScaleAction};
use maud::{html, Markup, PreEscaped};

/// Width of the drawing area (its right margin keeps the last tick's label inside) and of the label column, in SVG
/// units.
const WIDTH: f64 = 940.0;
const VIEW: f64 = 970.0;
const LABEL: f64 = 170.0;
const ROW: f64 = 26.0;

/// The colour class of a status: one per outcome people tell apart at a glance.
pub fn status_class(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Succeeded => "ok",
        RunStatus::Failed | RunStatus::LaunchFailed | RunStatus::Rejected => "bad",
        RunStatus::TimedOut | RunStatus::Interrupted | RunStatus::Unknown => "warn",
        RunStatus::Missed | RunStatus::Skipped | RunStatus::Stopped => "muted",
        _ => "open",
    }
}

/// A window of time mapped onto the drawing's x axis.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Window {
    fn x(&self, t: DateTime<Utc>) -> f64 {
        let total = (self.to - self.from).num_milliseconds().max(1) as f64;
        let at = (t.clamp(self.from, self.to) - self.from).num_milliseconds() as f64;
        LABEL + (WIDTH - LABEL) * at / total
    }

    /// Hour or day ticks with labels, in UTC.
    fn ticks(&self) -> Vec<(f64, String)> {
        let days = (self.to - self.from).num_hours() > 48;
        let step = if days {
            Duration::days(1)
        } else {
            Duration::hours(3)
        };
        let fmt = if days { "%a %d" } else { "%H:%M" };
        // The first whole step (day or three hours, UTC) in the window.
        let step_secs = step.num_seconds();
        let first = (self.from.timestamp() + step_secs - 1).div_euclid(step_secs) * step_secs;
        let mut t = DateTime::from_timestamp(first, 0).unwrap_or(self.from);
        let mut out = Vec::new();
        while t <= self.to {
            out.push((self.x(t), t.format(fmt).to_string()));
            t += step;
        }
        out
    }
}

fn axis(w: Window, rows: usize) -> Markup {
    let bottom = ROW * rows as f64 + 8.0;
    html! {
        @for (x, label) in w.ticks() {
            line class="grid" x1=(x) x2=(x) y1="0" y2=(bottom) {}
            text class="tick" x=(x) y=(bottom + 14.0) text-anchor="middle" { (label) }
        }
    }
}

/// The runs timeline: one row per job (in `jobs` order), one bar per run in `runs` that falls in the window.
pub fn timeline(jobs: &[String], runs: &[Run], w: Window) -> Markup {
    let height = ROW * jobs.len().max(1) as f64 + 30.0;
    html! {
        svg class="timeline" viewBox=(format!("0 0 {VIEW} {height}")) role="img"
            aria-label=(format!("Runs of {} job(s) from {} to {}", jobs.len(), w.from.format("%Y-%m-%d %H:%M"), w.to.format("%Y-%m-%d %H:%M UTC"))) {
            (axis(w, jobs.len().max(1)))
            @for (i, job) in jobs.iter().enumerate() {
                @let y = ROW * i as f64 + 4.0;
                text class="label" x="4" y=(y + 15.0) { (job) }
                line class="lane" x1=(LABEL) x2=(WIDTH) y1=(y + 11.0) y2=(y + 11.0) {}
                @for run in runs.iter().filter(|r| r.id.job().as_str() == job && r.scheduled_at >= w.from && r.scheduled_at <= w.to) {
                    (bar(run, y, w))
                }
            }
        }
    }
}

fn bar(run: &Run, y: f64, w: Window) -> Markup {
    let class = status_class(run.status);
    let href = format!("/run?id={}", url_encode(&run.id.to_string()));
    let due = w.x(run.scheduled_at);
    let title = format!(
        "{} {} due {}{}",
        run.id,
        run.status,
        run.scheduled_at.format("%Y-%m-%d %H:%M:%S UTC"),
        run.reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default()
    );
    if matches!(run.status, RunStatus::Missed | RunStatus::Skipped) {
        // Nothing ran: a mark at the fire's time.
        let points = format!(
            "{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}",
            due - 5.0,
            y + 2.0,
            due + 5.0,
            y + 2.0,
            due,
            y + 12.0
        );
        return html! {
            a href=(href) {
                polygon class=(format!("run mark {class}")) data-run=(run.id.to_string()) points=(points) {
                    title { (title) }
                }
            }
        };
    }
    let end = run
        .stopped_at
        .unwrap_or(w.to)
        .max(run.scheduled_at + Duration::seconds(1));
    let started = run.started_at.or(run.launched_at).unwrap_or(end).min(end);
    let delay = (w.x(started) - due).max(0.0);
    let width = (w.x(end) - due).max(3.0);
    html! {
        a href=(href) {
            g class=(format!("run {class}")) data-run=(run.id.to_string()) {
                title { (title) }
                rect class="body" x=(format!("{due:.1}")) y=(y + 3.0) width=(format!("{width:.1}")) height="16" rx="2" {}
                @if delay >= 1.0 {
                    rect class="delay" x=(format!("{due:.1}")) y=(y + 3.0) width=(format!("{:.1}", delay.min(width))) height="16" rx="2" {}
                }
            }
        }
    }
}

/// Awake/asleep bands of each service over the window, from its scale actions (`actions` oldest first, including
/// the last one before the window) and its phase now for the stretch before the first.
pub fn bands(services: &[(String, Phase)], actions: &[ScaleAction], w: Window) -> Markup {
    let height = ROW * services.len().max(1) as f64 + 30.0;
    html! {
        svg class="timeline bands" viewBox=(format!("0 0 {VIEW} {height}")) role="img"
            aria-label=(format!("Awake and asleep periods of {} service(s)", services.len())) {
            (axis(w, services.len().max(1)))
            @for (i, (name, now)) in services.iter().enumerate() {
                @let y = ROW * i as f64 + 4.0;
                text class="label" x="4" y=(y + 15.0) { (name) }
                @for (from, to, phase) in stretches(name, *now, actions, w) {
                    rect class=(format!("band {}", if phase == Phase::Awake { "awake" } else { "asleep" }))
                        x=(format!("{:.1}", w.x(from))) y=(y + 3.0) width=(format!("{:.1}", (w.x(to) - w.x(from)).max(0.5))) height="16" {
                        title { (format!("{name} {phase} {} .. {}", from.format("%a %H:%M"), to.format("%a %H:%M UTC"))) }
                    }
                }
            }
        }
    }
}

/// The service's phases over the window: each action starts a stretch that lasts until the next.
fn stretches(
    name: &str,
    now: Phase,
    actions: &[ScaleAction],
    w: Window,
) -> Vec<(DateTime<Utc>, DateTime<Utc>, Phase)> {
    let mine: Vec<&ScaleAction> = actions
        .iter()
        .filter(|a| a.service.as_str() == name)
        .collect();
    let before = mine.iter().rev().find(|a| a.at <= w.from).map(|a| a.to);
    let first = mine.iter().find(|a| a.at > w.from);
    // Before any action in the window: what the last action before it left, or the opposite of the first one's
    // target, or (no action at all) the phase it is in now.
    let mut phase = before
        .or(first.map(|a| match a.to {
            Phase::Awake => Phase::Asleep,
            Phase::Asleep => Phase::Awake,
        }))
        .unwrap_or(now);
    let mut at = w.from;
    let mut out = Vec::new();
    for a in mine.iter().filter(|a| a.at > w.from && a.at < w.to) {
        out.push((at, a.at, phase));
        at = a.at;
        phase = a.to;
    }
    out.push((at, w.to, phase));
    out
}

/// Percent-encodes a query value (run ids carry `/`, `:` and `+`).
pub fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A bar chart of daily values (cost per day): one bar per day, labelled.
pub fn daily_bars(days: &[(String, f64)], unit: &str) -> Markup {
    let max = days.iter().map(|(_, v)| *v).fold(0.0_f64, f64::max);
    let n = days.len().max(1) as f64;
    let slot = (WIDTH - 40.0) / n;
    html! {
        svg class="bars" viewBox=(format!("0 0 {VIEW} 180")) role="img" aria-label=(format!("{unit} per day")) {
            @for (i, (day, v)) in days.iter().enumerate() {
                @let h = if max > 0.0 { 130.0 * v / max } else { 0.0 };
                @let x = 30.0 + slot * i as f64;
                rect class="day" x=(format!("{:.1}", x + slot * 0.15)) y=(format!("{:.1}", 140.0 - h)) width=(format!("{:.1}", slot * 0.7)) height=(format!("{h:.1}")) {
                    title { (format!("{day}: {unit}{v:.4}")) }
                }
                text class="tick" x=(format!("{:.1}", x + slot / 2.0)) y="158" text-anchor="middle" { (day) }
            }
            (PreEscaped(format!(r#"<line class="grid" x1="30" x2="{WIDTH}" y1="140" y2="140"></line>"#)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fsched_core::domain::job::JobName;
    use fsched_core::domain::run::{RunId, Trigger};

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_bar_per_run_in_the_window_linked_to_its_page() {
        let job = JobName::new("etl").unwrap();
        let run = |at: &str, status| {
            let mut r = Run::claimed(
                RunId::scheduled(&job, t(at)),
                Trigger::Schedule,
                t(at),
                t(at),
            );
            r.status = status;
            r
        };
        let runs = [
            run("2026-11-29T01:00:00Z", RunStatus::Succeeded),
            run("2026-11-29T02:00:00Z", RunStatus::Missed),
            run("2026-11-27T02:00:00Z", RunStatus::Failed),
        ];
        let w = Window {
            from: t("2026-11-28T12:00:00Z"),
            to: t("2026-11-29T12:00:00Z"),
        };
        let svg = timeline(&["etl".to_owned()], &runs, w).into_string();
        assert_eq!(svg.matches("class=\"run ").count(), 2, "{svg}");
        assert!(
            svg.contains("class=\"run mark muted\""),
            "a missed fire is a mark"
        );
        assert!(
            svg.contains("href=\"/run?id=etl%2F20261129T010000Z\""),
            "{svg}"
        );
        assert!(!svg.contains("20261127"), "outside the window");
    }

    #[test]
    fn bands_follow_the_scale_actions_from_what_was_before_the_window() {
        let action = |at: &str, to| ScaleAction {
            service: fsched_core::domain::service::ServiceName::new("api").unwrap(),
            at: t(at),
            to,
            from_count: 1,
            to_count: 0,
            trigger: fsched_core::domain::service::ScaleTrigger::Schedule,
            task_cpu: None,
            task_memory: None,
            note: None,
            expires_at: None,
        };
        let actions = [
            action("2026-11-28T19:00:00Z", Phase::Asleep),
            action("2026-11-29T08:00:00Z", Phase::Awake),
        ];
        let w = Window {
            from: t("2026-11-29T00:00:00Z"),
            to: t("2026-11-29T12:00:00Z"),
        };
        assert_eq!(
            stretches("api", Phase::Awake, &actions, w),
            [
                (w.from, t("2026-11-29T08:00:00Z"), Phase::Asleep),
                (t("2026-11-29T08:00:00Z"), w.to, Phase::Awake),
            ]
        );
        // No action at all: the phase it is in now, all along.
        assert_eq!(
            stretches("db", Phase::Asleep, &actions, w),
            [(w.from, w.to, Phase::Asleep)]
        );
    }
}
