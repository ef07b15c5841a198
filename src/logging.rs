//! Structured logging: readable on a terminal, JSON lines otherwise (CronJob logs are shipped
//! and parsed), level from `RUST_LOG` (default `info`). Logs go to stderr; stdout is for results.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::io::stderr().is_terminal() {
        builder.with_target(false).compact().init();
    } else {
        builder.json().flatten_event(true).init();
    }
}
