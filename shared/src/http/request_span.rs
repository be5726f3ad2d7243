use axum::{extract::Request, http::HeaderValue, middleware::Next, response::Response};
use std::time::Instant;
use tracing::Instrument;

/// Wraps each request in a span that carries its request id, so every log line of the
/// request can be found together, and logs one line when it finishes.
///
/// The id is Lambda's request id when running in Lambda, else the caller's
/// `x-request-id` (if it is a sane token), else a new ULID. Only the method and path are
/// logged: query strings, headers and bodies may hold secrets or raw payloads.
pub async fn request_span(req: Request, next: Next) -> Response {
    let request_id = lambda_request_id(&req)
        .or_else(|| {
            req.headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .filter(|v| {
                    !v.is_empty()
                        && v.len() <= 128
                        && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                })
                .map(str::to_owned)
        })
        .unwrap_or_else(|| ulid::Ulid::new().to_string());
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %req.method(),
        path = %req.uri().path(),
    );
    async move {
        let started = Instant::now();
        let mut response = next.run(req).await;
        tracing::info!(
            status = response.status().as_u16(),
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request finished"
        );
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert("x-request-id", value);
        }
        response
    }
    .instrument(span)
    .await
}

fn lambda_request_id(req: &Request) -> Option<String> {
    req.extensions()
        .get::<lambda_http::Context>()
        .map(|ctx| ctx.request_id.clone())
        .filter(|id| !id.is_empty())
}
