//! Actions: what forewarn does with findings once the state has decided what is worth saying —
//! notifications (route → group → storm limit → send) and, later, remediation.

pub mod route;
