//! The embedded demo: a synthetic cluster in the exporter's schema, with labelled incidents
//! (`generate`, written by `parquet`, loaded into ClickHouse by `load`), and the demo's story:
//! backtested through the one evaluation path (`story`), scored against the labels (`score`)
//! and told (`render`).

pub mod generate;
pub mod load;
pub mod model;
pub mod parquet;
pub mod render;
mod scenarios;
pub mod score;
pub mod story;
