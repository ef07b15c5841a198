//! Acting on findings once the state has decided what is worth saying: telling people
//! (routes → group → storm limit → receivers, dead-man pings) and, later, remediating.
//! Nothing here records anything itself: the run appends what happened to the state.

pub mod notify;
pub mod route;
