//! `forewarn serve`: loads and validates the whole configuration once, opens the state store,
//! and hands both to the daemon (`forewarn::serve`) until SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use forewarn::act::notify::DeadmanPinger;
use forewarn::error::ConfigError;
use forewarn::run::{Delivery, KubeAccess, Receivers, Remediation};
use forewarn::serve::{Daemon, ServeOptions};

use crate::exit::Outcome;
use crate::{parse_duration, SourceArgs, StateArgs};

#[derive(Args)]
pub(crate) struct ServeArgs {
    /// Where /healthz, /readyz and /metrics listen.
    #[arg(long, env = "FOREWARN_LISTEN", default_value = "0.0.0.0:9464")]
    listen: SocketAddr,
    /// After SIGTERM, how long the runs in flight may take to finish.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    shutdown_grace: std::time::Duration,
    /// Every run's time budget (default: 80 % of its job's period, 10 s to 1 h).
    #[arg(long, value_parser = parse_duration)]
    run_timeout: Option<std::time::Duration>,
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    state: StateArgs,
    /// A directory of rule files (and notify.yaml, runbooks/) replacing the shipped ones.
    #[arg(long, env = "FOREWARN_RULES", value_name = "DIR")]
    rules: Option<PathBuf>,
    /// The kubeconfig context runbooks (and the Lease) act through (default: in-cluster, else
    /// KUBECONFIG's).
    #[arg(long, env = "FOREWARN_KUBE_CONTEXT")]
    kube_context: Option<String>,
    /// Elect a leader among replicas with this coordination.k8s.io/v1 Lease: only its holder
    /// runs jobs. Without it, this replica runs every job.
    #[arg(long, env = "FOREWARN_LEASE", value_name = "NAME")]
    lease: Option<String>,
    /// The Lease's namespace.
    #[arg(long, env = "POD_NAMESPACE", default_value = "forewarn")]
    lease_namespace: String,
    /// This replica's identity in the Lease (the pod name).
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// How long a Lease holds without renewal (renewed every third of it).
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    lease_duration: std::time::Duration,
    /// Read every rollup window whole. By default the daemon keeps the memory window each
    /// job read last and its next run reads from the rollup only the buckets since, plus
    /// --rollup-overlap (at 10,000 containers and 1-minute buckets, ~120 MB held between runs).
    #[arg(long, env = "FOREWARN_NO_WINDOW_CACHE")]
    no_window_cache: bool,
}

/// SIGTERM (Kubernetes stopping the pod) or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM"),
                    _ = tokio::signal::ctrl_c() => tracing::info!("interrupted"),
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

pub(crate) async fn serve(args: ServeArgs) -> anyhow::Result<Outcome> {
    let whole = forewarn::config::whole::load(args.rules.as_deref()).map_err(ConfigError::from)?;
    if whole.rules.jobs.is_empty() {
        return Err(ConfigError::flag("--rules", "jobs", "no jobs to schedule".to_string()).into());
    }
    let receivers = Receivers::build(&whole.notify, |v| std::env::var(v).ok())
        .map_err(|e| ConfigError::flag("rules/notify.yaml", "receivers", e.to_string()))?;
    let deadman = DeadmanPinger::from_env().context("FOREWARN_DEADMAN_URL")?;
    let store = crate::commands::open_store(&args.source, &args.state).await?;
    let mut source = args.source.scheduled_settings()?.watching(&whole.rules);
    if let Some(rollups) = source.rollups.as_mut().filter(|_| !args.no_window_cache) {
        rollups.cache = Some(std::sync::Arc::new(
            forewarn::rollup::cache::WindowCache::new(),
        ));
    }
    let lease = match &args.lease {
        Some(name) => {
            let client = forewarn::act::kube::connect(args.kube_context.as_deref())
                .await
                .context("connecting to the Kubernetes API for the Lease")?;
            let identity = args.identity.clone().unwrap_or_else(|| {
                format!(
                    "{}-{}",
                    std::env::var("HOSTNAME").unwrap_or_else(|_| "forewarn".into()),
                    std::process::id()
                )
            });
            Some(forewarn::serve::lease::Elector::new(
                client,
                forewarn::serve::lease::LeaseSettings {
                    name: name.clone(),
                    namespace: args.lease_namespace.clone(),
                    identity,
                    duration: args.lease_duration,
                },
            ))
        }
        None => None,
    };
    let daemon = Daemon {
        lease,
        remediation: Some(Remediation {
            runbooks: whole.runbooks,
            kube: KubeAccess::new(args.kube_context.clone()),
        }),
        rules: whole.rules,
        notify: whole.notify,
        source,
        store,
        delivery: Delivery::Send(receivers),
        deadman,
    };
    let options = ServeOptions {
        listen: args.listen,
        shutdown_grace: args.shutdown_grace,
        run_timeout: args.run_timeout,
    };
    let report = forewarn::serve::serve(daemon, options, shutdown_signal()).await?;
    Ok(if report.abandoned_runs == 0 {
        Outcome::Completed
    } else {
        Outcome::Failed
    })
}
