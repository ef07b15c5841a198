//! Detectors: one module per signal, each turning a window frame into findings.

pub mod stats;
