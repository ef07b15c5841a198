//! forewarn: a proactive monitor for Kubernetes.
//!
//! One data path serves every entry point: a *source* (ClickHouse or a Parquet directory) yields
//! *window frames* (one Polars schema per signal), *detectors* judge them into *findings*, and
//! later stages (state, actions) act on those. The tree mirrors that path.

pub mod act;
pub mod canary;
pub mod check;
pub mod config;
pub mod demo;
pub mod detect;
pub mod error;
pub mod evaluate;
pub mod explain;
pub mod findings;
pub mod logging;
pub mod manifests;
pub mod output;
pub mod report;
pub mod rollup;
pub mod run;
pub mod schedule;
pub mod schema;
pub mod serve;
pub mod source;
pub mod state;
pub mod window;
