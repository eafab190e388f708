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
use crate::output::{at, at_opt, emit, table, Format, Tz};
use crate::render::{dollars, span, stamp};
use crate::Failure;

#[derive(clap::Args)]
pub struct ListArgs {}

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
}

/// A service's times as `--tz` says (its own zone by default), with the weekday (its periods are weekly).
fn in_zone(t: Option<DateTime<Utc>>, zone: Zone, tz: &Tz) -> String {
    tz.show(t, zone, "%a %Y-%m-%d %H:%M %:z")
}

fn state_words(s: &ServiceState, tz: &Tz) -> String {
    use fsched_core::domain::service::Routing;
    let requests = match (s.spec.wake_on_request.is_some(), s.routing) {
        (false, _) => "",
        (true, Some(Routing::Waker)) if s.phase == Phase::Awake => {
            ", starting: requests still see the waker"
        }
        (true, Some(Routing::Waker)) => ", a request wakes it",
        (true, _) => ", requests reach it",
    };
    let words = state_hold(s, tz);
    format!("{words}{requests}")
}

fn state_hold(s: &ServiceState, tz: &Tz) -> String {
    match s.hold_until {
        Some(h) => format!(
            "{} (held until {})",
            s.phase,
            in_zone(Some(h), s.spec.timezone, tz)
        ),
        None => s.phase.to_string(),
    }
}

pub async fn list(
    _: ListArgs,
    aws: &AwsArgs,
    tz: &Tz,
    format: Format,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let store = aws.store().await?;
    let services = store
        .list_services()
        .await
        .context("reading the services")?;
    if format.is_data() {
        let items: Vec<_> = services.iter().map(crate::contract::service).collect();
        emit(out, format, "ServiceList", json!(items)).context("writing to stdout")?;
        return Ok(());
    }
    let next = format!("NEXT TRANSITION ({})", tz.label("service"));
    let mut header = vec!["NAME", "ECS SERVICE", "AWAKE", "STATE", "SAVED", &next];
    if format == Format::Wide {
        header.push("VERSION");
    }
    let mut t = table(&header);
    for s in &services {
        let mut row = vec![
            s.name.to_string(),
            format!("{}/{}", s.spec.cluster, s.spec.service),
            format!("{} ({})", s.spec.awake_words(), s.spec.timezone),
            state_words(s, tz),
            s.saved.map_or("-".to_owned(), |v| match v.autoscaling {
                Some((min, max)) => format!("{} (autoscaling {min}-{max})", v.desired_count),
                None => v.desired_count.to_string(),
            }),
            in_zone(s.transition_at, s.spec.timezone, tz),
        ];
        if format == Format::Wide {
            row.push(s.version.to_string());
        }
        t.add_row(row);
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
) -> Result<(ServiceName, String), Failure> {
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
    aws.send(&config, &command(service.clone(), by.clone()), now)
        .await?;
    Ok((service, by))
}

/// What `wake` and `sleep` print for scripts (kind `ServiceRequest`): what was asked, by whom; after `--wait`,
/// the service as it then is.
fn request_doc(
    service: &ServiceName,
    action: &str,
    by: &str,
    hold_until: Option<DateTime<Utc>>,
    after: Option<&ServiceState>,
) -> serde_json::Value {
    json!({"service": service.as_str(), "action": action, "requested_by": by, "hold_until": at_opt(hold_until),
           "state": after.map_or(serde_json::Value::Null, crate::contract::service)})
}

pub async fn wake(
    args: WakeArgs,
    aws: &AwsArgs,
    format: Format,
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
    let (service, by) = send(aws, &args.service, now, "wake", |service, requested_by| {
        Command::WakeService {
            service,
            hold,
            requested_by,
            request: false,
        }
    })
    .await?;
    let held = hold.map(|h| now + h.to_chrono());
    match held {
        _ if args.wait.wait || format.is_data() => Ok(()),
        Some(h) => writeln!(
            out,
            "asked to wake {service}, awake until {} at least",
            stamp(Some(h))
        ),
        None => writeln!(
            out,
            "asked to wake {service}, awake until its next period boundary"
        ),
    }
    .context("writing to stdout")?;
    let after = match args.wait.wait {
        true => Some(wait_for(aws, &service, Phase::Awake, &args.wait, format, out).await?),
        false => None,
    };
    if format.is_data() {
        let doc = request_doc(&service, "wake", &by, held, after.as_ref());
        emit(out, format, "ServiceRequest", doc).context("writing to stdout")?;
    }
    Ok(())
}

pub async fn sleep(
    args: SleepArgs,
    aws: &AwsArgs,
    format: Format,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let (service, by) = send(aws, &args.service, now, "sleep", |service, requested_by| {
        Command::SleepService {
            service,
            requested_by,
        }
    })
    .await?;
    let after = match args.wait.wait {
        true => Some(wait_for(aws, &service, Phase::Asleep, &args.wait, format, out).await?),
        false => None,
    };
    if format.is_data() {
        let doc = request_doc(&service, "sleep", &by, None, after.as_ref());
        emit(out, format, "ServiceRequest", doc).context("writing to stdout")?;
    } else if after.is_none() {
        writeln!(
            out,
            "asked to put {service} to sleep, until its next period boundary"
        )
        .context("writing to stdout")?;
    }
    Ok(())
}

/// Waits until the service's state says `want` (the sleeper records the phase once the scale change is made), then
/// prints its scale. Exit 1 on timeout, saying what to check.
async fn wait_for(
    aws: &AwsArgs,
    service: &ServiceName,
    want: Phase,
    wait: &WaitArgs,
    format: Format,
    out: &mut impl Write,
) -> Result<ServiceState, Failure> {
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
            if !format.is_data() {
                writeln!(out, "{service} is {word}: {scale}{hold}").context("writing to stdout")?;
            }
            return Ok(s.clone());
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
    format: Format,
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
    if format.is_data() {
        let services: Vec<_> = by_service
            .iter()
            .map(|(name, s)| {
                json!({"service": name.as_str(), "asleep_seconds": s.asleep_seconds,
                       "task_hours": s.task_hours, "usd": s.usd})
            })
            .collect();
        let total = json!({
            "task_hours": by_service.values().map(|s| s.task_hours).fold(0.0, |a, b| a + b),
            "usd": by_service.values().map(|s| s.usd).fold(0.0, |a, b| a + b),
        });
        let body = json!({"since": at(since), "until": at(now), "services": services, "total": total,
                          "prices": prices.source});
        emit(out, format, "SavingsReport", body).context("writing to stdout")?;
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
