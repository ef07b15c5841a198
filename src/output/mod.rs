//! What forewarn prints: window frames (`forewarn query`) and findings (the contract).

pub mod findings;
pub mod frame;
pub mod selectors;

pub use findings::{write_findings, FindingsFormat};
pub use frame::{write_frame, write_human_table, FrameFormat};
