//! The embedded demo: a synthetic cluster in the exporter's schema, with labelled incidents.

pub mod generate;
pub mod load;
pub mod model;
pub mod parquet;
mod scenarios;
