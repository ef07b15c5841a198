//! Leader election for `forewarn serve` replicas: a `coordination.k8s.io/v1` Lease. The holder
//! renews it every third of its duration; the others check as often and take it over once
//! `renewTime + leaseDurationSeconds` has passed. Every write carries the object's
//! `resourceVersion`, so of two contenders the API server lets one win (409 for the other).
//! A holder that stops cleanly releases the Lease (empty holder) so a successor need not wait.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};

#[derive(Debug, Clone)]
pub struct LeaseSettings {
    pub name: String,
    pub namespace: String,
    /// This replica (the pod name).
    pub identity: String,
    pub duration: Duration,
}

pub struct Elector {
    api: Api<Lease>,
    settings: LeaseSettings,
}

fn is_conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 409)
}

impl Elector {
    pub fn new(client: kube::Client, settings: LeaseSettings) -> Elector {
        Elector {
            api: Api::namespaced(client, &settings.namespace),
            settings,
        }
    }

    fn duration_s(&self) -> i32 {
        self.settings.duration.as_secs().max(1) as i32
    }

    /// One round: create, renew, or take over the Lease. True while this replica holds it.
    pub async fn try_acquire_or_renew(&self) -> Result<bool, kube::Error> {
        let now = MicroTime(Timestamp::now());
        let me = &self.settings.identity;
        let Some(mut lease) = self.api.get_opt(&self.settings.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.settings.name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(me.clone()),
                    lease_duration_seconds: Some(self.duration_s()),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(e) if is_conflict(&e) => Ok(false),
                Err(e) => Err(e),
            };
        };
        let mut spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        if holder != *me {
            let renewed_s = spec
                .renew_time
                .as_ref()
                .map(|t| t.0.as_second())
                .unwrap_or(0);
            let duration_s = spec
                .lease_duration_seconds
                .unwrap_or(self.duration_s())
                .max(1) as i64;
            let expired = renewed_s + duration_s < now.0.as_second();
            if !holder.is_empty() && !expired {
                return Ok(false);
            }
            spec.holder_identity = Some(me.clone());
            spec.acquire_time = Some(now.clone());
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
            tracing::info!(lease = %self.settings.name, previous = %holder, "taking over the lease");
        }
        spec.renew_time = Some(now);
        spec.lease_duration_seconds = Some(self.duration_s());
        lease.spec = Some(spec);
        // `lease` keeps the resourceVersion it was read with: a stale one is a 409.
        match self
            .api
            .replace(&self.settings.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_conflict(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Gives the Lease up if this replica holds it.
    pub async fn release(&self) {
        let Ok(Some(mut lease)) = self.api.get_opt(&self.settings.name).await else {
            return;
        };
        let mut spec = lease.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(self.settings.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        lease.spec = Some(spec);
        if let Err(error) = self
            .api
            .replace(&self.settings.name, &PostParams::default(), &lease)
            .await
        {
            tracing::warn!(%error, "releasing the lease");
        } else {
            tracing::info!(lease = %self.settings.name, "lease released");
        }
    }

    /// Renews or contends every third of the duration until `stop` is set, keeping `leader`
    /// current. An API error counts as not holding it: two leaders are worse than none for a
    /// moment.
    pub async fn run(self, leader: Arc<AtomicBool>, stop: Arc<tokio::sync::Notify>) {
        let every = self.settings.duration / 3;
        loop {
            let held = match self.try_acquire_or_renew().await {
                Ok(held) => held,
                Err(error) => {
                    tracing::warn!(%error, lease = %self.settings.name, "lease round failed");
                    false
                }
            };
            if leader.swap(held, Ordering::SeqCst) != held {
                tracing::info!(
                    lease = %self.settings.name,
                    identity = %self.settings.identity,
                    leader = held,
                    "leadership changed"
                );
            }
            tokio::select! {
                _ = stop.notified() => break,
                _ = tokio::time::sleep(every) => {}
            }
        }
        leader.store(false, Ordering::SeqCst);
        self.release().await;
    }
}
