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
    // `user` is declared empty here and filled in by the bearer guard once it knows
    // the caller: tracing records only fields a span declared when it was made.
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %req.method(),
        path = %req.uri().path(),
        user = tracing::field::Empty,
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tower::ServiceExt;

    /// Log lines, as JSON, in memory.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn the_caller_found_by_the_guard_is_on_the_request_log_line() {
        // Given a route whose handler records the caller as the guard does
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_writer(move || writer.clone())
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);
        let app = axum::Router::new()
            .route(
                "/me",
                axum::routing::get(|| async {
                    tracing::Span::current().record("user", "ana");
                    "ok"
                }),
            )
            .layer(axum::middleware::from_fn(request_span));

        // When a request is served
        let request = Request::builder()
            .uri("/me")
            .body(axum::body::Body::empty());
        app.oneshot(request.unwrap()).await.unwrap();

        // Then its "request finished" line names the user
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let finished = text
            .lines()
            .find(|l| l.contains("request finished"))
            .expect("a request line");
        assert!(finished.contains(r#""user":"ana""#), "{finished}");
    }
}
