//! Acting on findings once the state has decided what is worth saying: telling people
//! (routes → group → storm limit → receivers, dead-man pings) and remediating through the
//! Kubernetes API (`kube`: owner resolution, restart / rollback / delete / scale / memory steps,
//! server-side dry run, RBAC rules), deciding whether to (`remediate`: runbook steps → action
//! ids, the fence). Nothing here records anything itself: the run appends what
//! happened to the state.

pub mod kube;
pub mod notify;
pub mod remediate;
pub mod route;
