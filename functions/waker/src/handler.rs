//! The waker's handler: an ALB request in (`aws_lambda_events::alb`), an HTTP answer out, always: a request that
//! cannot be read gets a 400, a table that cannot be read a 503 that asks again, so the load balancer never turns an
//! error of ours into its own 502.

use aws_lambda_events::alb::{AlbTargetGroupRequest, AlbTargetGroupResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::header::{HeaderName, HeaderValue, ACCEPT, HOST};
use aws_lambda_events::http::HeaderMap;
use chrono::{DateTime, Utc};
use fsched_core::domain::service::RETRY_AFTER_SECONDS;
use fsched_core::ports::{EventPublisher, ServiceStore};
use fsched_core::service::waker::{Answer, Waker};
use serde_json::Value;

use crate::page::{self, Page};

/// A header of the request, from `headers` or, when the target group has multi-value headers on, the first of
/// `multiValueHeaders`.
fn header<'a>(req: &'a AlbTargetGroupRequest, name: &HeaderName) -> Option<&'a str> {
    req.headers
        .get(name)
        .or_else(|| req.multi_value_headers.get(name))
        .and_then(|v| v.to_str().ok())
}

/// Answers one request to a sleeping service.
pub async fn handle<S: ServiceStore, P: EventPublisher>(
    waker: &Waker<S, P>,
    event: Value,
    now: DateTime<Utc>,
) -> AlbTargetGroupResponse {
    let req: AlbTargetGroupRequest = match serde_json::from_value(event) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "not an ALB request");
            return respond(false, Page::malformed(), false);
        }
    };
    let multi = !req.multi_value_headers.is_empty();
    let html = header(&req, &ACCEPT).is_some_and(|a| a.contains("text/html"));
    let host = header(&req, &HOST).unwrap_or_default();
    let page = match waker.request(host, now).await {
        Ok(Answer::Unknown { host }) => Page::unknown(&host),
        Ok(Answer::Starting {
            service, progress, ..
        }) => Page::starting(service.as_str(), progress),
        Err(e) => {
            tracing::error!(error = %e, host, "waker");
            Page::unavailable()
        }
    };
    respond(multi, page, html)
}

/// The page as the load balancer wants it: headers single or multi-valued as the request came.
fn respond(multi: bool, page: Page, html: bool) -> AlbTargetGroupResponse {
    let (content_type, body) = match html {
        true => ("text/html; charset=utf-8", page::html(&page)),
        false => ("application/json", page::json(&page)),
    };
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    };
    put("content-type", content_type.to_owned());
    put("cache-control", "no-store".to_owned());
    if page.status == 503 {
        put("retry-after", RETRY_AFTER_SECONDS.to_string());
    }
    let mut response = AlbTargetGroupResponse::default();
    response.status_code = i64::from(page.status);
    response.status_description = Some(page::status_line(page.status));
    match multi {
        true => response.multi_value_headers = headers,
        false => response.headers = headers,
    }
    response.body = Some(Body::Text(body));
    response
}
