//! Logging as Lambda reads it: levels, timestamps and what never reaches the log.
//!
//! - **Level.** `LOG_LEVEL` (the template's `LogLevel`), else `AWS_LAMBDA_LOG_LEVEL`
//!   (Lambda's logging controls), else `RUST_LOG`, else INFO. The template keeps
//!   Lambda's own filter at INFO or below and filters here instead: Lambda files every
//!   line without a level as INFO, so a stricter Lambda filter would drop the metric
//!   lines ([`super::metrics`]), which are not logs and have no level.
//! - **Timestamps.** JSON lines carry `level` and an RFC 3339 `timestamp`; Lambda files a
//!   line without a valid timestamp as INFO, which would drop ERROR lines under a WARN filter.
//! - **Secrets.** Dependencies log whole events and HTTP exchanges at DEBUG and TRACE
//!   (lambda_runtime: the raw event with its cookies and signedPasskeyData; the AWS SDK:
//!   response bodies, the API secret among them). Their lines never go below INFO, whatever
//!   the level: only this crate's own lines, which hold no secret, follow it.

use tracing::level_filters::LevelFilter;
use tracing::Metadata;

/// Variables read for the level, first set wins.
pub const LEVEL_VARS: [&str; 3] = ["LOG_LEVEL", "AWS_LAMBDA_LOG_LEVEL", "RUST_LOG"];

/// The level the variables ask for. Lambda's `FATAL` is our ERROR; anything unreadable is INFO.
pub fn level_from(lookup: impl Fn(&str) -> Option<String>) -> LevelFilter {
    LEVEL_VARS
        .iter()
        .find_map(|name| lookup(name).filter(|v| !v.trim().is_empty()))
        .and_then(|value| {
            let value = value.trim();
            if value.eq_ignore_ascii_case("fatal") {
                return Some(LevelFilter::ERROR);
            }
            value.parse::<LevelFilter>().ok()
        })
        .unwrap_or(LevelFilter::INFO)
}

/// Whether a line or span is written at `level`.
pub fn enabled(level: LevelFilter, metadata: &Metadata<'_>) -> bool {
    let own = metadata.target().starts_with(env!("CARGO_CRATE_NAME"));
    // lambda_runtime's INFO span carries the request id into every line of an
    // invocation; it is kept at WARN and ERROR too, so those lines still say which request.
    let request_span = metadata.is_span() && metadata.target().starts_with("lambda_runtime");
    let ceiling = if own {
        level
    } else if request_span {
        level.max(LevelFilter::INFO)
    } else {
        level.min(LevelFilter::INFO)
    };
    ceiling >= *metadata.level()
}

/// Installs the process-wide subscriber (once per execution environment, in `main`): JSON lines when `AWS_LAMBDA_LOG_FORMAT` is `JSON`,
/// text otherwise. Each line inside an invocation carries its request id (the runtime's span).
pub fn init() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let level = level_from(|name| std::env::var(name).ok());
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let filter = tracing_subscriber::filter::filter_fn(move |metadata| enabled(level, metadata));
    let registry = tracing_subscriber::registry().with(filter);
    let fmt = tracing_subscriber::fmt::layer().with_target(false);
    // A second call (tests) keeps the first subscriber.
    let _ = if json {
        // The default timer writes RFC 3339 in UTC, as Lambda's filter requires.
        registry.with(fmt.json()).try_init()
    } else {
        // Lambda stamps text lines itself.
        registry.with(fmt.without_time()).try_init()
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn level(vars: &[(&str, &str)]) -> LevelFilter {
        let vars: HashMap<_, _> = vars.iter().copied().collect();
        level_from(|name| vars.get(name).map(|v| v.to_string()))
    }

    #[test]
    fn log_level_wins_over_lambdas_and_rust_log() {
        assert_eq!(level(&[]), LevelFilter::INFO);
        assert_eq!(level(&[("RUST_LOG", "debug")]), LevelFilter::DEBUG);
        assert_eq!(
            level(&[("AWS_LAMBDA_LOG_LEVEL", "INFO"), ("RUST_LOG", "debug")]),
            LevelFilter::INFO
        );
        assert_eq!(
            level(&[("LOG_LEVEL", "WARN"), ("AWS_LAMBDA_LOG_LEVEL", "INFO")]),
            LevelFilter::WARN
        );
        assert_eq!(level(&[("LOG_LEVEL", "FATAL")]), LevelFilter::ERROR);
        assert_eq!(level(&[("LOG_LEVEL", "loud")]), LevelFilter::INFO);
    }
}
