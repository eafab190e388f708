//! The waker's page, as a person sees it: the real handler served over HTTP the way an ALB passes requests to it
//! (each request turned into the ALB's event, each answer into an HTTP response), opened in Debian's headless
//! Chromium by tests/ui/waker.mjs. The service's record is in memory (the page is what is tested here; the emulator
//! test `wake_on_request` covers the AWS side); after the first request it moves on to "starting", so the page's
//! own refresh must show that.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::Utc;
use fsched_core::domain::service::{
    Awake, Phase, Routing, ServiceName, ServiceSpec, ServiceState, WakeOnRequest,
};
use fsched_core::ports::ServiceStore;
use fsched_core::service::waker::Waker;
use fsched_core::testing::{FakeBus, MemoryStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const HOST: &str = "127.0.0.1";

fn spec() -> ServiceSpec {
    ServiceSpec {
        cluster: "data-platform".to_owned(),
        service: "staging-api".to_owned(),
        timezone: "Europe/Berlin".parse().unwrap(),
        awake: Awake::Periods(Vec::new()),
        awake_count: None,
        enforce: false,
        idle: None,
        wake_on: None,
        event_bus: None,
        wake_on_request: Some(WakeOnRequest {
            hosts: vec![HOST.to_owned()],
            listener_rule:
                "arn:aws:elasticloadbalancing:eu-central-1:123456789012:listener-rule/app/web/1/2/3"
                    .to_owned(),
            target_group:
                "arn:aws:elasticloadbalancing:eu-central-1:123456789012:targetgroup/api/4"
                    .to_owned(),
            hold: fsched_core::domain::service::DEFAULT_HOLD,
        }),
    }
}

/// One HTTP/1.1 request read as an ALB event: method, path and headers (names lower-cased, as the ALB sends them).
fn as_alb_event(head: &str) -> serde_json::Value {
    let mut lines = head.lines();
    let mut first = lines.next().unwrap_or_default().split_whitespace();
    let method = first.next().unwrap_or("GET");
    let path = first.next().unwrap_or("/");
    let headers: serde_json::Map<String, serde_json::Value> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().into()))
        .collect();
    serde_json::json!({
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:eu-central-1:123456789012:targetgroup/fsched-waker/5"}},
        "httpMethod": method, "path": path, "queryStringParameters": {}, "headers": headers,
        "isBase64Encoded": false, "body": ""
    })
}

/// The handler's answer as an HTTP response.
fn as_http(answer: &aws_lambda_events::alb::AlbTargetGroupResponse) -> Vec<u8> {
    let body = match &answer.body {
        Some(aws_lambda_events::encodings::Body::Text(t)) => t.clone(),
        _ => String::new(),
    };
    let mut out = format!(
        "HTTP/1.1 {}\r\n",
        answer.status_description.clone().unwrap_or_default()
    );
    for (name, value) in &answer.headers {
        out.push_str(&format!(
            "{name}: {}\r\n",
            value.to_str().unwrap_or_default()
        ));
    }
    out.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ));
    out.into_bytes()
}

#[tokio::test]
async fn the_starting_page_renders_refreshes_and_tells_programs_when_to_ask_again() {
    let store = MemoryStore::new();
    let name = ServiceName::new("staging-api").unwrap();
    let mut state = ServiceState::declared(name.clone(), spec(), Utc::now());
    state.phase = Phase::Asleep;
    state.routing = Some(Routing::Waker);
    store.put_service(&state, None).await.unwrap();
    let bus = FakeBus::new();
    let waker = Arc::new(Waker::new(store.clone(), bus.clone()));

    let listener = TcpListener::bind((HOST, 0)).await.unwrap();
    let url = format!("http://{HOST}:{}/", listener.local_addr().unwrap().port());
    let served = Arc::new(AtomicUsize::new(0));
    let server = {
        let (waker, store, served, name) =
            (waker.clone(), store.clone(), served.clone(), name.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let mut buf = vec![0u8; 16 * 1024];
                let mut read = 0;
                while !buf[..read].windows(4).any(|w| w == b"\r\n\r\n") && read < buf.len() {
                    match socket.read(&mut buf[read..]).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => read += n,
                    }
                }
                let head = String::from_utf8_lossy(&buf[..read]).into_owned();
                if !head.starts_with("GET / ") {
                    // The browser's icon and the like: not the page.
                    let _ = socket.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
                    continue;
                }
                let answer =
                    fsched_waker::handler::handle(&waker, as_alb_event(&head), Utc::now()).await;
                let _ = socket.write_all(&as_http(&answer)).await;
                // After the first page, the wake was asked for and the service is scaling up: "starting".
                if served.fetch_add(1, Ordering::SeqCst) == 0 {
                    let mut s = store.get_service(&name).await.unwrap().unwrap();
                    s.phase = Phase::Awake;
                    let expected = s.version;
                    s.version += 1;
                    store.put_service(&s, Some(expected)).await.unwrap();
                }
            }
        })
    };

    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(format!("{root}/tests/ui/waker.mjs"))
            .arg(&url)
            .output()
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| {
        panic!("cannot run node ({e}): scripts/lib/browser installs what the browser check needs")
    });
    server.abort();
    assert!(
        out.status.success(),
        "the browser check failed (scripts/lib/browser installs Chromium and the driver):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        served.load(Ordering::SeqCst) >= 3,
        "the page, its refresh and the API call"
    );
    let wakes: Vec<_> = bus
        .published()
        .into_iter()
        .filter(|e| e.detail_type == "Wake Service")
        .collect();
    assert_eq!(wakes.len(), 1, "one wake for the whole visit: {wakes:?}");
}
