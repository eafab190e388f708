//! What a person (or a program) sees while a service wakes: a small page that says where the service is and
//! refreshes itself, or the same as JSON. Plain HTML with its styles inline: nothing else to load from a service
//! that is not there yet. Accessible: a language, a title, the state in a live region, the steps as a list with
//! the current one marked, enough contrast, and it reads without colour or styles.

use fsched_core::domain::service::{Progress, RETRY_AFTER_SECONDS};
use serde_json::json;

/// What to say, and with which status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub status: u16,
    pub title: String,
    pub message: String,
    /// The service and its step, when the request is for one.
    pub service: Option<(String, Progress)>,
}

impl Page {
    pub fn starting(service: &str, progress: Progress) -> Page {
        let message = match progress {
            Progress::Asleep | Progress::Waking => {
                format!("{service} was asleep to save costs and is waking up now.")
            }
            Progress::Starting => {
                format!("{service} is starting: its containers are on their way.")
            }
            Progress::Ready => format!("{service} is ready: this page reloads into it."),
        };
        Page {
            status: 503,
            title: format!("Starting {service}…"),
            message,
            service: Some((service.to_owned(), progress)),
        }
    }

    pub fn unknown(host: &str) -> Page {
        let host: String = host
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(100)
            .collect();
        Page {
            status: 404,
            title: "Nothing to wake here".to_owned(),
            message: format!("No service asleep behind this address ({host}) is known to fsched."),
            service: None,
        }
    }

    pub fn unavailable() -> Page {
        Page {
            status: 503,
            title: "Starting…".to_owned(),
            message: "The service cannot be looked up right now; this page tries again by itself."
                .to_owned(),
            service: None,
        }
    }

    pub fn malformed() -> Page {
        Page {
            status: 400,
            title: "Bad request".to_owned(),
            message: "The request could not be read.".to_owned(),
            service: None,
        }
    }
}

/// `503 Service Unavailable` and the like, as the load balancer passes it on.
pub fn status_line(status: u16) -> String {
    let words = match status {
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Service Unavailable",
    };
    format!("{status} {words}")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The steps the page shows, in order, and which of them the service is at.
const STEPS: [(Progress, &str); 3] = [
    (Progress::Waking, "Waking up"),
    (Progress::Starting, "Starting"),
    (Progress::Ready, "Ready"),
];

fn step_of(progress: Progress) -> usize {
    match progress {
        Progress::Asleep | Progress::Waking => 0,
        Progress::Starting => 1,
        Progress::Ready => 2,
    }
}

/// The page for browsers: it refreshes itself (sooner once the service is ready).
pub fn html(page: &Page) -> String {
    let refresh = match page.service {
        Some((_, Progress::Ready)) => 1,
        _ if page.status == 503 => RETRY_AFTER_SECONDS,
        _ => 0,
    };
    let meta = match refresh {
        0 => String::new(),
        n => format!("<meta http-equiv=\"refresh\" content=\"{n}\">"),
    };
    let steps = match &page.service {
        Some((_, progress)) => {
            let at = step_of(*progress);
            let items: String = STEPS
                .iter()
                .enumerate()
                .map(|(i, (_, words))| {
                    let (class, current, mark) = match i.cmp(&at) {
                        std::cmp::Ordering::Less => ("done", "", "✓ "),
                        std::cmp::Ordering::Equal => ("now", " aria-current=\"step\"", "→ "),
                        std::cmp::Ordering::Greater => ("todo", "", ""),
                    };
                    format!("<li class=\"{class}\"{current}><span aria-hidden=\"true\">{mark}</span>{words}</li>")
                })
                .collect();
            format!(
                "<ol class=\"steps\" aria-label=\"Progress: step {} of {}\">{items}</ol>",
                at + 1,
                STEPS.len()
            )
        }
        None => String::new(),
    };
    let again = match refresh {
        0 => String::new(),
        n => format!("<p class=\"small\">This page refreshes itself every {n} s; you can also reload it.</p>"),
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">{meta}\
         <link rel=\"icon\" href=\"data:,\">\
         <title>{title}</title><style>\
         body{{font:16px/1.5 system-ui,sans-serif;color:#1b1b1b;background:#fff;margin:0}}\
         main{{max-width:34rem;margin:12vh auto;padding:0 1.5rem}}h1{{font-size:1.5rem;margin:0 0 .5rem}}\
         .steps{{list-style:none;padding:0;display:flex;gap:1.5rem;margin:1.5rem 0}}\
         .steps li{{padding-bottom:.25rem;border-bottom:3px solid #c4c4c4;color:#595959}}\
         .steps .done{{border-color:#1a7f37;color:#1b1b1b}}.steps .now{{border-color:#0b57d0;color:#1b1b1b;font-weight:600}}\
         .small{{font-size:.875rem;color:#595959}}\
         @media (prefers-reduced-motion:no-preference){{.now span{{animation:pulse 1.5s infinite}}}}\
         @keyframes pulse{{50%{{opacity:.3}}}}\
         </style></head><body><main><h1>{title}</h1>\
         <p role=\"status\" aria-live=\"polite\">{message}</p>{steps}{again}</main></body></html>\n",
        title = escape(&page.title),
        message = escape(&page.message),
    )
}

/// The answer for programs: the same facts, with when to ask again.
pub fn json(page: &Page) -> String {
    let (service, state) = match &page.service {
        Some((name, progress)) => (Some(name.as_str()), Some(progress.words())),
        None => (None, None),
    };
    let retry = (page.status == 503).then_some(RETRY_AFTER_SECONDS);
    json!({"status": page.status, "service": service, "state": state, "message": page.message,
           "retry_after_seconds": retry})
    .to_string()
}
