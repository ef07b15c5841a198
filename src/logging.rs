//! Structured logging: readable on a terminal, JSON lines otherwise (CronJob logs are shipped
//! and parsed), level from `RUST_LOG` (default `info`). Logs go to stderr; stdout is for results.
//! Spans (a run, its source queries, detectors, notifications, actions) log their durations
//! when they close.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,clickhouse=warn"));
    // (The clickhouse crate opens an info span per query: its close lines only with RUST_LOG.)
    // Span close events carry each span's duration: the run, its notifications and actions at
    // info, each source query and detector at debug.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_writer(std::io::stderr);
    if std::io::stderr().is_terminal() {
        builder.with_target(false).compact().init();
    } else {
        builder.json().flatten_event(true).init();
    }
}
