//! Logging set-up, once per process.
//!
//! JSON lines when `AWS_LAMBDA_LOG_FORMAT=JSON`, or by default inside Lambda (so
//! CloudWatch Logs Insights can query fields); readable text otherwise. The level comes
//! from `RUST_LOG`, else `AWS_LAMBDA_LOG_LEVEL`, else `info`. Each request's lines carry
//! its `request_id` through the span opened by [`crate::http::request_span`].

use tracing_subscriber::{filter::Targets, fmt, prelude::*};

pub fn init() {
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let asked =
        get("RUST_LOG").or_else(|| get("AWS_LAMBDA_LOG_LEVEL").map(|l| l.to_ascii_lowercase()));
    let filter = filter(asked.as_deref());
    let json = match get("AWS_LAMBDA_LOG_FORMAT").as_deref() {
        Some(f) => f.eq_ignore_ascii_case("json"),
        None => crate::config::Runtime::current() == crate::config::Runtime::Lambda,
    };
    // The filter decides; the formatter lets everything through to it.
    let builder = fmt()
        .with_max_level(tracing::level_filters::LevelFilter::TRACE)
        .with_target(false);
    // `try_init`: tests and the local server may call this more than once.
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            // Lambda adds its own timestamp to every line.
            .without_time()
            .finish()
            .with(filter)
            .try_init()
    } else {
        builder.compact().finish().with(filter).try_init()
    };
}

/// Chatty dependencies stay at `warn` unless asked for by name.
const QUIET: &str = "info,aws_smithy_runtime=warn,aws_config=warn,hyper=warn,hyper_util=warn";

/// The filter from `RUST_LOG`'s directives: comma-separated `level` or `target=level`
/// (tracing-subscriber's `Targets`, not `EnvFilter`: no span or field filters, and no
/// regex engine linked into every function for them). Directives come after [`QUIET`],
/// so they override it; ones that do not parse leave [`QUIET`], with a warning.
fn filter(asked: Option<&str>) -> Targets {
    let quiet = || QUIET.parse::<Targets>().expect("QUIET parses");
    match asked.map(|asked| format!("{QUIET},{asked}").parse::<Targets>()) {
        None => quiet(),
        Some(Ok(targets)) => targets,
        Some(Err(e)) => {
            // No subscriber yet to log through.
            eprintln!("RUST_LOG is not a list of `level` or `target=level` ({e}); logging at info");
            quiet()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::filter;
    use tracing::Level;

    #[test]
    fn without_a_level_asked_vigil_logs_info_and_the_sdk_warnings() {
        let f = filter(None);
        assert!(f.would_enable("vigil::store", &Level::INFO));
        assert!(!f.would_enable("vigil::store", &Level::DEBUG));
        assert!(!f.would_enable("aws_smithy_runtime::client", &Level::INFO));
        assert!(f.would_enable("aws_smithy_runtime::client", &Level::WARN));
    }

    #[test]
    fn a_level_asked_raises_vigil_but_not_the_quiet_dependencies() {
        let f = filter(Some("debug"));
        assert!(f.would_enable("vigil::store", &Level::DEBUG));
        assert!(!f.would_enable("hyper::proto", &Level::DEBUG));
    }

    #[test]
    fn a_dependency_asked_by_name_is_heard() {
        let f = filter(Some("warn,hyper_util=debug"));
        assert!(f.would_enable("hyper_util::client", &Level::DEBUG));
        assert!(!f.would_enable("vigil::store", &Level::INFO));
    }

    #[test]
    fn directives_that_do_not_parse_leave_the_default() {
        let f = filter(Some("very-loud=please"));
        assert!(f.would_enable("vigil::store", &Level::INFO));
        assert!(!f.would_enable("vigil::store", &Level::DEBUG));
    }
}
