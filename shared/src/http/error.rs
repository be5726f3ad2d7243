pub use crate::domain::FieldError;
use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

/// The one error type of the HTTP boundary. Every handler returns it; this file alone
/// decides status codes and bodies (`application/problem+json`, RFC 9457).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{detail}")]
    BadRequest {
        detail: String,
        errors: Vec<FieldError>,
    },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{detail}")]
    Conflict {
        detail: String,
        /// The current state of the thing, so the client can retry on top of it.
        current: Option<serde_json::Value>,
    },
    #[error("{detail}")]
    PayloadTooLarge { detail: String },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{detail}")]
    Unprocessable {
        detail: String,
        errors: Vec<FieldError>,
    },
    #[error("{detail}")]
    TooManyRequests { detail: String, retry_after: u64 },
    /// A dependency (DynamoDB, SNS) failed: nothing was written; the client may retry.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an unexpected failure: logged with its cause chain, answered opaquely.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::BadRequest {
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadRequest {
            detail: "the request is not valid".into(),
            errors: vec![FieldError::new(field, message)],
        }
    }

    /// A well-formed value the request cannot be served with (a field at fault, 422).
    pub fn unprocessable_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Unprocessable {
            detail: "the request cannot be served as asked".into(),
            errors: vec![FieldError::new(field, message)],
        }
    }

    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(e))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// "outer: cause: root cause", for logs.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        next = cause.source();
    }
    chain
}

/// An error as every route answers it: `application/problem+json` (RFC 9457), with
/// the fields at fault in `errors`.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "type": "about:blank",
    "title": "Bad Request",
    "status": 400,
    "detail": "the records are not valid",
    "errors": [{ "field": "records[3].src_bytes", "index": 3, "message": "must not be negative" }]
}))]
pub struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    /// The status code's reason phrase.
    title: &'a str,
    status: u16,
    /// What went wrong, for a person to read.
    detail: String,
    /// Each field at fault (bad requests and unprocessable ones).
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    #[schema(value_type = Vec<FieldError>)]
    errors: &'a [FieldError],
    /// On 409: the resource as it is now, to retry on top of.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    current: Option<&'a serde_json::Value>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let detail = match &self {
            ApiError::Internal(source) => {
                // The cause chain goes to the log, never to the client.
                tracing::error!(error = %error_chain(source.as_ref()), "internal error");
                "the server could not handle this request; it has been logged".to_owned()
            }
            ApiError::Unavailable(detail) => {
                tracing::warn!(detail = %detail, "dependency unavailable");
                detail.clone()
            }
            other => other.to_string(),
        };
        let (errors, current): (&[FieldError], _) = match &self {
            ApiError::BadRequest { errors, .. } | ApiError::Unprocessable { errors, .. } => {
                (errors, None)
            }
            ApiError::Conflict { current, .. } => (&[], current.as_ref()),
            _ => (&[], None),
        };
        let body = Problem {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail,
            errors,
            current,
        };
        let mut response = (status, Json(&body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match &self {
            ApiError::Unauthorized(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"vigil\""),
                );
            }
            ApiError::TooManyRequests { retry_after, .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            ApiError::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match e {
            StoreError::Unavailable(_) => ApiError::Unavailable(
                "the data store did not answer; nothing was changed, please retry".into(),
            ),
            StoreError::OutOfTime => ApiError::Unavailable(
                "the request ran out of time before it was stored; nothing was changed, \
                 please retry"
                    .into(),
            ),
            StoreError::OutcomeUnknown(_) => ApiError::Unavailable(
                "the data store did not confirm the change: it may have been applied; \
                 resend with the same Idempotency-Key"
                    .into(),
            ),
            other => ApiError::internal(other),
        }
    }
}
