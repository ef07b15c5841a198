//! Acting on findings: telling people (notifications, dead-man pings) and, later, remediating.
//! Everything here sits after the state: it is handed what to say and records nothing itself.

pub mod notify;
