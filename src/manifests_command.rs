//! `forewarn manifests`: writes the Kubernetes manifests generated from the jobs, rules and
//! runbooks (see `forewarn::manifests`) into a directory, `cronjobs/` by default.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use forewarn::error::ConfigError;
use forewarn::manifests::{self, ManifestSettings, Sources};

use crate::exit::Outcome;

#[derive(Args)]
pub(crate) struct ManifestsArgs {
    /// The directory to write (created if missing; the files it generates are replaced).
    #[arg(long, default_value = "cronjobs")]
    out: PathBuf,
    /// A rules directory to generate from (and to put in the ConfigMap) instead of the
    /// shipped rules.
    #[arg(long, value_name = "DIR")]
    rules: Option<PathBuf>,
    /// The image the pods run.
    #[arg(long, default_value_t = manifests::default_image())]
    image: String,
    #[arg(long, default_value = "forewarn")]
    namespace: String,
    /// The ClickHouse HTTP endpoint the pods read.
    #[arg(long, default_value = "http://clickhouse.observability.svc:8123")]
    clickhouse_url: String,
    /// The telemetry database.
    #[arg(long, default_value = "otel")]
    clickhouse_database: String,
}

pub(crate) async fn manifests(args: ManifestsArgs) -> anyhow::Result<Outcome> {
    let whole = forewarn::config::whole::load(args.rules.as_deref()).map_err(ConfigError::from)?;
    let files = match &args.rules {
        Some(dir) => manifests::files_of_dir(dir)?,
        None => manifests::embedded_files(),
    };
    let sources = Sources {
        rules: &whole.rules,
        notify: &whole.notify,
        runbooks: &whole.runbooks,
        files,
    };
    let settings = ManifestSettings {
        image: args.image.clone(),
        namespace: args.namespace.clone(),
        clickhouse_url: args.clickhouse_url.clone(),
        clickhouse_database: args.clickhouse_database.clone(),
    };
    let generated = manifests::generate(&sources, &settings)
        .map_err(|e| ConfigError::flag("--rules", "jobs", e.to_string()))?;
    manifests::write(&args.out, &generated)
        .with_context(|| format!("writing the manifests to {}", args.out.display()))?;
    for f in &generated {
        eprintln!("wrote {}", args.out.join(&f.path).display());
    }
    Ok(Outcome::Completed)
}
