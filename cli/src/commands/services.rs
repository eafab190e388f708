//! `fsched services`, `fsched wake`, `fsched sleep` and `fsched savings`: declared services, on-demand changes
//! (commands to the stack's bus, handled by the trigger) and what sleeping saved.

use std::io::Write;

use anyhow::Context;
use chrono::{DateTime, Utc};
use fsched_core::domain::cost::Prices;
use fsched_core::domain::duration::Span;
use fsched_core::domain::schedule::Zone;
use fsched_core::domain::service::{savings, Phase, ServiceName, ServiceState};
use fsched_core::domain::trigger::Command;
use fsched_core::ports::ServiceStore;
use serde_json::json;

use crate::aws::{requester, AwsArgs};
use crate::output::{table, Format};
use crate::render::{self, dollars, span, stamp};
use crate::Failure;

#[derive(clap::Args)]
pub struct ListArgs {
    /// `table` for people, `json` for scripts.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: Format,
}

#[derive(clap::Args)]
pub struct WakeArgs {
    /// The service, as declared under `services:`.
    service: String,
    /// Keep it awake at least this long (e.g. 2h), then back to its periods.
    #[arg(long = "for", value_name = "DURATION")]
    hold: Option<String>,
    #[command(flatten)]
    wait: WaitArgs,
}

#[derive(clap::Args)]
pub struct SleepArgs {
    /// The service, as declared under `services:`.
    service: String,
    #[command(flatten)]
    wait: WaitArgs,
}

#[derive(clap::Args)]
pub struct WaitArgs {
    /// Wait until fsched has scaled the service (recorded it awake or asleep), then print its scale; exit 1 if that
    /// does not happen within --wait-timeout.
    #[arg(long)]
    wait: bool,
    /// How long --wait waits.
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    wait_timeout: String,
}

#[derive(clap::Args)]
pub struct SavingsArgs {
    /// Since this long ago (e.g. 30d) or this RFC 3339 time.
    #[arg(long, default_value = "30d")]
    since: String,
    /// Until this RFC 3339 time (default: now).
    #[arg(long)]
    until: Option<String>,
    /// `table` for people, `json` for scripts.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: Format,
}

/// A service's times are shown in its own zone, with the weekday (its periods are weekly).
fn in_zone(t: Option<DateTime<Utc>>, zone: Zone) -> String {
    render::in_zone(t, zone, "%a %Y-%m-%d %H:%M %:z")
}

fn state_words(s: &ServiceState) -> String {
    match s.hold_until {
        Some(h) => format!(
            "{} (held until {})",
            s.phase,
            in_zone(Some(h), s.spec.timezone)
        ),
        None => s.phase.to_string(),
    }
}

pub async fn list(args: ListArgs, aws: &AwsArgs, out: &mut impl Write) -> Result<(), Failure> {
    let store = aws.store().await?;
    let services = store
        .list_services()
        .await
        .context("reading the services")?;
    if args.output == Format::Json {
        writeln!(out, "{}", json!(services)).context("writing to stdout")?;
        return Ok(());
    }
    let mut t = table(&[
        "NAME",
        "ECS SERVICE",
        "AWAKE",
        "STATE",
        "SAVED",
        "NEXT TRANSITION",
    ]);
    for s in &services {
        t.add_row(vec![
            s.name.to_string(),
            format!("{}/{}", s.spec.cluster, s.spec.service),
            format!("{} ({})", s.spec.awake_words(), s.spec.timezone),
            state_words(s),
            s.saved.map_or("-".to_owned(), |v| match v.autoscaling {
                Some((min, max)) => format!("{} (autoscaling {min}-{max})", v.desired_count),
                None => v.desired_count.to_string(),
            }),
            in_zone(s.transition_at, s.spec.timezone),
        ]);
    }
    writeln!(out, "{t}").context("writing to stdout")?;
    if services.is_empty() {
        writeln!(
            out,
            "no services are declared (add them under `services:` in the jobs file)"
        )
        .context("writing to stdout")?;
    }
    Ok(())
}

/// Sends a wake or sleep command for a declared service.
async fn send(
    aws: &AwsArgs,
    name: &str,
    now: DateTime<Utc>,
    word: &str,
    command: impl FnOnce(ServiceName, String) -> Command,
) -> Result<ServiceName, Failure> {
    let service = ServiceName::new(name).map_err(|e| Failure::Invalid(e.to_string()))?;
    let config = aws.config().await?;
    let store = aws.store_with(&config).await?;
    if store
        .get_service(&service)
        .await
        .context("reading the service")?
        .is_none()
    {
        return Err(Failure::Invalid(format!(
            "no service `{service}` is declared (see `fsched services`)"
        )));
    }
    let by = requester(&config, word).await;
    aws.send(&config, &command(service.clone(), by), now).await?;
    Ok(service)
}

pub async fn wake(
    args: WakeArgs,
    aws: &AwsArgs,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let hold = args
        .hold
        .as_deref()
        .map(|h| {
            h.parse::<Span>()
                .map_err(|e| Failure::Invalid(format!("--for: {e}")))
        })
        .transpose()?;
    let service = send(aws, &args.service, now, "wake", |service, requested_by| {
        Command::WakeService {
            service,
            hold,
            requested_by,
        }
    })
    .await?;
    match hold {
        _ if args.wait.wait => Ok(()),
        Some(h) => writeln!(
            out,
            "asked to wake {service}, awake until {} at least",
            stamp(Some(now + h.to_chrono()))
        ),
        None => writeln!(
            out,
            "asked to wake {service}, awake until its next period boundary"
        ),
    }
    .context("writing to stdout")?;
    if args.wait.wait {
        wait_for(aws, &service, Phase::Awake, &args.wait, out).await?;
    }
    Ok(())
}

pub async fn sleep(
    args: SleepArgs,
    aws: &AwsArgs,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let service = send(aws, &args.service, now, "sleep", |service, requested_by| {
        Command::SleepService {
            service,
            requested_by,
        }
    })
    .await?;
    if args.wait.wait {
        return wait_for(aws, &service, Phase::Asleep, &args.wait, out).await;
    }
    writeln!(
        out,
        "asked to put {service} to sleep, until its next period boundary"
    )
    .context("writing to stdout")?;
    Ok(())
}

/// Waits until the service's state says `want` (the sleeper records the phase once the scale change is made), then
/// prints its scale. Exit 1 on timeout, saying what to check.
async fn wait_for(
    aws: &AwsArgs,
    service: &ServiceName,
    want: Phase,
    wait: &WaitArgs,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let timeout = wait
        .wait_timeout
        .parse::<Span>()
        .map_err(|e| Failure::Invalid(format!("--wait-timeout: {e}")))?;
    let store = aws.store().await?;
    let until = tokio::time::Instant::now() + std::time::Duration::from_secs(timeout.as_secs());
    let word = if want == Phase::Awake {
        "awake"
    } else {
        "asleep"
    };
    loop {
        let state = store
            .get_service(service)
            .await
            .context("reading the service")?;
        let done = state.as_ref().filter(|s| s.phase == want);
        if let Some(s) = done {
            let scale = match &s.saved {
                Some(saved) if want == Phase::Asleep => format!(
                    "0 tasks; {} restored on waking{}",
                    saved.desired_count,
                    saved
                        .autoscaling
                        .map(|(a, b)| format!(" (autoscaling {a}-{b})"))
                        .unwrap_or_default()
                ),
                _ => "its saved scale restored".to_owned(),
            };
            let hold = s
                .hold_until
                .map(|h| format!(", held until {}", stamp(Some(h))))
                .unwrap_or_default();
            writeln!(out, "{service} is {word}: {scale}{hold}").context("writing to stdout")?;
            return Ok(());
        }
        if tokio::time::Instant::now() >= until {
            return Err(Failure::Other(anyhow::anyhow!(
                "{service} is not {word} after {timeout}: the trigger may not have handled the command \
                 (`fsched doctor` checks the stack)"
            )));
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

pub async fn savings_cmd(
    args: SavingsArgs,
    aws: &AwsArgs,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let (since, until) = super::runs::window(&args.since, args.until.as_deref(), now, now)?;
    let now = until;
    let store = aws.store().await?;
    // A sleep that began before the window counts from the window's start: look back for it.
    let actions = store
        .actions_between(since - chrono::Duration::days(30), now)
        .await
        .context("reading scale actions")?;
    let prices = Prices::default();
    let by_service = savings(&actions, since, now, &prices);
    if args.output == Format::Json {
        writeln!(
            out,
            "{}",
            json!({"since": since, "until": now, "services": by_service})
        )
        .context("writing to stdout")?;
        return Ok(());
    }
    let mut t = table(&["SERVICE", "ASLEEP", "TASK-HOURS NOT RUN", "SAVED"]);
    let (mut hours, mut usd) = (0.0, 0.0);
    for (name, s) in &by_service {
        t.add_row(vec![
            name.to_string(),
            span(Some(chrono::Duration::seconds(s.asleep_seconds))),
            format!("{:.1}", s.task_hours),
            dollars(s.usd),
        ]);
        hours += s.task_hours;
        usd += s.usd;
    }
    t.add_row(vec![
        "TOTAL".to_owned(),
        String::new(),
        format!("{hours:.1}"),
        dollars(usd),
    ]);
    writeln!(
        out,
        "since {}\n\n{t}\n\nEstimated at Fargate on-demand x86_64 rates ({}) for each service's task size.",
        stamp(Some(since)),
        prices.source
    )
    .context("writing to stdout")?;
    Ok(())
}
