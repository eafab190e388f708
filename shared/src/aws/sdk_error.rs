//! Classifying SDK errors by what the caller can do about them: retry, or give up with a clear message.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

/// How an SDK call failed, independent of the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The service said no to this request for a reason that will not change on retry; `code` names it.
    Service { code: String, message: String },
    /// Throttling, a 5xx, a timeout or a dropped connection: the same call may succeed later.
    Transient { message: String },
}

/// Error codes that mean "slow down or try again" across AWS services.
const RETRYABLE_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
    "TooManyRequestsException",
    "LimitExceededException",
    "InternalServerError",
    "InternalFailure",
    "ServiceUnavailable",
    "ServerException",
    "TransactionInProgressException",
];

pub fn classify<E, R>(err: &SdkError<E, R>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match err {
        SdkError::ServiceError(ctx) => {
            let e = ctx.err();
            let code = e.code().unwrap_or("Unknown").to_owned();
            let message = e
                .message()
                .map(str::to_owned)
                .unwrap_or_else(|| code.clone());
            if RETRYABLE_CODES.contains(&code.as_str()) {
                Failure::Transient {
                    message: format!("{code}: {message}"),
                }
            } else {
                Failure::Service { code, message }
            }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Failure::Transient {
                message: describe(err),
            }
        }
        // Construction failures are our own bugs or bad configuration: not worth retrying.
        _ => Failure::Service {
            code: "Client".to_owned(),
            message: describe(err),
        },
    }
}

/// The full chain of an error's sources on one line: the SDK's top-level Display is often just "service error".
pub fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
