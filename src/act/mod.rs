//! Acting on findings: the side effects a run may have after it judged the data.
//!
//! `kube` is the Kubernetes client layer remediation runbooks call (owner resolution, the
//! restart / rollback / delete / scale / memory steps, server-side dry run, RBAC rules).

pub mod kube;
