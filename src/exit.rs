//! Exit codes (a contract, DESIGN.md): 0 completed · 1 failed · 2 usage/configuration · 3 a
//! finding at or above `--fail-on` fired.

use std::process::ExitCode;

/// A configuration or usage problem: exit code 2, the run never started.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// How a command that did not error ended.
pub enum Outcome {
    Completed,
    /// Completed, and a finding at or above `--fail-on` fired.
    FailOn,
    /// Problems were reported already (on stderr).
    Failed,
}

pub fn report(outcome: anyhow::Result<Outcome>) -> ExitCode {
    match outcome {
        Ok(Outcome::Completed) => ExitCode::SUCCESS,
        Ok(Outcome::FailOn) => ExitCode::from(3),
        Ok(Outcome::Failed) => ExitCode::from(1),
        Err(error) => {
            let config = error
                .chain()
                .any(|e| e.downcast_ref::<ConfigError>().is_some());
            eprintln!("error: {error:#}");
            ExitCode::from(if config { 2 } else { 1 })
        }
    }
}
