//! `fsched ui`: a local, read-only web dashboard, served by the CLI on 127.0.0.1 with the user's own AWS
//! credentials (nothing is deployed for it). Each request reads the table as the other commands do and renders a
//! page on the server (`pages`, `charts`): no JavaScript, no CDN, so it works offline and on a locked-down laptop.

mod charts;
mod pages;

use std::sync::Arc;

use anyhow::Context;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Duration, Utc};
use fsched_core::aws::dynamo::DynamoStore;
use fsched_core::aws::ecs::EcsLauncher;
use fsched_core::domain::cost::Prices;
use fsched_core::domain::run::RunId;
use fsched_core::domain::service::savings;
use fsched_core::domain::trigger::stack_tag;
use fsched_core::ports::{JobStore, RunStore, ServiceStore};
use fsched_core::service::report::day_tallies;
use maud::{html, Markup};
use serde::Deserialize;

use self::charts::Window;
use crate::aws::AwsArgs;
use crate::Failure;

#[derive(clap::Args)]
pub struct Args {
    /// The port on 127.0.0.1 (default: a free one, printed at start).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Open the dashboard in the default browser.
    #[arg(long)]
    open: bool,
    /// Seconds between the pages' own refreshes.
    #[arg(long, default_value_t = 30)]
    refresh: u32,
    /// Show the dashboard as of this RFC 3339 time (the windows end there), to look back at a past day.
    #[arg(long)]
    as_of: Option<String>,
}

struct Ui {
    store: DynamoStore,
    config: aws_config::SdkConfig,
    refresh: u32,
    as_of: Option<DateTime<Utc>>,
}

impl Ui {
    /// Where the pages' windows end: `--as-of`, else the clock.
    fn now(&self) -> DateTime<Utc> {
        self.as_of.unwrap_or_else(Utc::now)
    }
}

type Shared = Arc<Ui>;

/// How many days of runs the jobs page counts, the services page draws, and the cost page sums.
const JOB_DAYS: i64 = 7;
const SERVICE_DAYS: i64 = 7;
const COST_DAYS: i64 = 30;
/// Lines of a run's output its page shows, per container.
const LOG_TAIL: i32 = 100;

pub async fn run(args: Args, aws: &AwsArgs, out: &mut impl std::io::Write) -> Result<(), Failure> {
    let as_of = match &args.as_of {
        Some(text) => Some(
            DateTime::parse_from_rfc3339(text)
                .map_err(|e| {
                    Failure::Invalid(format!("--as-of `{text}`: {e} (e.g. 2026-11-29T02:00:00Z)"))
                })?
                .with_timezone(&Utc),
        ),
        None => None,
    };
    let config = aws.config().await?;
    let store = aws.store_with(&config).await?;
    let ui = Arc::new(Ui {
        store,
        config,
        refresh: args.refresh.max(5),
        as_of,
    });
    let app = Router::new()
        .route("/", get(jobs))
        .route("/timeline", get(timeline))
        .route("/run", get(run_page))
        .route("/services", get(services))
        .route("/cost", get(cost))
        .route("/favicon.svg", get(favicon))
        .fallback(not_found)
        .with_state(ui);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .with_context(|| format!("listening on 127.0.0.1:{}", args.port))?;
    let url = format!(
        "http://{}/",
        listener.local_addr().context("local address")?
    );
    writeln!(out, "fsched ui: {url} (read-only; Ctrl-C stops it)").context("writing to stdout")?;
    out.flush().context("writing to stdout")?;
    if args.open {
        open(&url);
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving the dashboard")?;
    Ok(())
}

/// Opens `url` with the desktop's opener; a failure only means the user opens it by hand.
fn open(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    if let Err(e) = std::process::Command::new(opener).arg(url).spawn() {
        eprintln!("fsched ui: could not open a browser ({opener}: {e}); open {url} yourself");
    }
}

/// `body` in the dashboard's frame, with `status`.
fn respond(ui: &Ui, status: StatusCode, title: &str, current: &str, body: Markup) -> Response {
    let html = pages::layout(title, current, ui.now(), ui.refresh, body).into_string();
    (status, Html(html)).into_response()
}

/// A page, or the error that kept it from being made, as a page too.
fn page(ui: &Ui, title: &str, current: &str, body: anyhow::Result<Markup>) -> Response {
    match body {
        Ok(body) => respond(ui, StatusCode::OK, title, current, body),
        Err(e) => {
            let body = html! {
                h1 { "Cannot show " (title) }
                pre { (format!("{e:#}")) }
                p class="note" { "The page refreshes itself; fix the cause (credentials, Region, table) and it recovers." }
            };
            respond(ui, StatusCode::BAD_GATEWAY, title, current, body)
        }
    }
}

async fn jobs(State(ui): State<Shared>) -> Response {
    let body = async {
        let now = ui.now();
        let mut jobs = ui.store.list_jobs().await.context("reading jobs")?;
        jobs.sort_by(|a, b| a.name.cmp(&b.name));
        let runs = ui
            .store
            .runs_between(
                now - Duration::days(JOB_DAYS),
                now + Duration::seconds(1),
                usize::MAX,
            )
            .await
            .context("reading runs")?;
        Ok(pages::jobs_page(&pages::job_rows(&jobs, &runs), JOB_DAYS))
    };
    page(&ui, "Jobs", "/", body.await)
}

#[derive(Deserialize)]
struct TimelineQuery {
    range: Option<String>,
    job: Option<String>,
}

async fn timeline(State(ui): State<Shared>, Query(q): Query<TimelineQuery>) -> Response {
    let body = async {
        let now = ui.now();
        let range = match q.range.as_deref() {
            Some("7d") => "7d",
            _ => "24h",
        };
        let from = now
            - if range == "7d" {
                Duration::days(7)
            } else {
                Duration::hours(24)
            };
        let w = Window { from, to: now };
        let mut names: Vec<String> = ui
            .store
            .list_jobs()
            .await
            .context("reading jobs")?
            .into_iter()
            .map(|j| j.name.to_string())
            .filter(|n| q.job.as_ref().is_none_or(|only| only == n))
            .collect();
        names.sort();
        let runs = ui
            .store
            .runs_between(from, now + Duration::seconds(1), usize::MAX)
            .await
            .context("reading runs")?;
        Ok(pages::timeline_page(&names, &runs, w, range))
    };
    page(&ui, "Timeline", "/timeline", body.await)
}

#[derive(Deserialize)]
struct RunQuery {
    id: String,
}

async fn run_page(State(ui): State<Shared>, Query(q): Query<RunQuery>) -> Response {
    let id: RunId = match q.id.parse() {
        Ok(id) => id,
        Err(e) => return missing(&ui, &format!("`{}` is not a run id: {e}", q.id)),
    };
    let run = match ui.store.get_run(&id).await {
        Ok(Some(run)) => run,
        Ok(None) => {
            return missing(
                &ui,
                &format!("No run `{id}`: records expire after the job's `history`."),
            )
        }
        Err(e) => {
            return page(
                &ui,
                "Run",
                "",
                Err(anyhow::Error::new(e).context("reading the run")),
            )
        }
    };
    let logs = log_tail(&ui, &run).await;
    let body = pages::run_page(
        &run,
        &crate::render::show(&run, &crate::output::Times::utc()),
        &logs,
    );
    page(&ui, &format!("Run {id}"), "", Ok(body))
}

/// The last lines of each container's output, or why there are none to show.
async fn log_tail(
    ui: &Ui,
    run: &fsched_core::domain::run::Run,
) -> Result<Vec<(String, Vec<String>)>, String> {
    if run.task_arn.is_none() {
        return Ok(Vec::new());
    }
    let ecs = EcsLauncher::new(
        aws_sdk_ecs::Client::new(&ui.config),
        stack_tag(ui.store.table()),
    );
    let streams = crate::commands::logs::locate(&ui.store, &ecs, run, None)
        .await
        .map_err(|e| e.message())?;
    let mut out = Vec::new();
    for stream in streams {
        let lines = crate::commands::logs::tail(&ui.config, &stream, LOG_TAIL)
            .await
            .map_err(|e| format!("{e:#}"))?;
        out.push((stream.to_string(), lines));
    }
    Ok(out)
}

async fn services(State(ui): State<Shared>) -> Response {
    let body = async {
        let now = ui.now();
        let from = now - Duration::days(SERVICE_DAYS);
        let mut states = ui.store.list_services().await.context("reading services")?;
        states.sort_by(|a, b| a.name.cmp(&b.name));
        // A sleep that began before the window still shapes it: look back for it.
        let actions = ui
            .store
            .actions_between(from - Duration::days(30), now)
            .await
            .context("reading scale actions")?;
        let saved = savings(&actions, from, now, &Prices::default())
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        Ok(pages::services_page(
            &states,
            &actions,
            Window { from, to: now },
            &saved,
            now,
        ))
    };
    page(&ui, "Services", "/services", body.await)
}

async fn cost(State(ui): State<Shared>) -> Response {
    let body = async {
        let now = ui.now();
        let from = now - Duration::days(COST_DAYS);
        // Whether a day is settled (and may be rolled up) is the clock's to say, not `--as-of`'s: a page drawn as of
        // tomorrow must not roll up today.
        let report = day_tallies(
            &ui.store,
            from,
            now + Duration::seconds(1),
            Utc::now().min(now),
        )
        .await
        .context("reading runs and the days' rollups")?;
        let (by_day, by_job) = pages::costs(&report.days, now, COST_DAYS);
        Ok(pages::cost_page(&by_day, &by_job, &report.refused))
    };
    page(&ui, "Cost", "/cost", body.await)
}

async fn favicon() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "image/svg+xml")],
        pages::FAVICON,
    )
        .into_response()
}

async fn not_found(State(ui): State<Shared>) -> Response {
    missing(&ui, "This page does not exist.")
}

/// A 404 page saying what is missing, with the way back.
fn missing(ui: &Ui, what: &str) -> Response {
    let body = html! {
        h1 { "Not found" }
        p { (what) " " a href="/" { "Back to the jobs" } }
    };
    respond(ui, StatusCode::NOT_FOUND, "Not found", "", body)
}
