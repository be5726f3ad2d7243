//! Logging set-up, once per process.
//!
//! JSON lines when `AWS_LAMBDA_LOG_FORMAT=JSON`, or by default inside Lambda (so
//! CloudWatch Logs Insights can query fields); readable text otherwise. The level comes
//! from `RUST_LOG`, else `AWS_LAMBDA_LOG_LEVEL`, else `info`. Each request's lines carry
//! its `request_id` through the span opened by [`crate::http::request_span`].

use tracing_subscriber::{EnvFilter, fmt};

pub fn init() {
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let filter = get("RUST_LOG")
        .or_else(|| get("AWS_LAMBDA_LOG_LEVEL").map(|l| l.to_ascii_lowercase()))
        .unwrap_or_else(|| "info".into());
    // Keep chatty dependencies quiet unless asked for explicitly.
    let filter = EnvFilter::try_new(format!(
        "{filter},aws_smithy_runtime=warn,aws_config=warn,hyper=warn"
    ))
    .unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match get("AWS_LAMBDA_LOG_FORMAT").as_deref() {
        Some(f) => f.eq_ignore_ascii_case("json"),
        None => crate::config::Runtime::current() == crate::config::Runtime::Lambda,
    };
    let builder = fmt().with_env_filter(filter).with_target(false);
    // `try_init`: tests and the local server may call this more than once.
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            // Lambda adds its own timestamp to every line.
            .without_time()
            .try_init()
    } else {
        builder.compact().try_init()
    };
}
