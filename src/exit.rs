//! Exit codes (a contract, DESIGN.md): 0 completed · 1 failed · 2 usage/configuration · 3 a
//! finding at or above `--fail-on` fired.

use std::process::ExitCode;

/// How a command that did not error ended.
pub enum Outcome {
    Completed,
    /// Completed, and a finding at or above `--fail-on` fired.
    FailOn,
    /// Problems were reported already (on stderr).
    Failed,
}

/// Exit code 2 comes from the error's type ([`forewarn::error::is_configuration`] anywhere in
/// the chain); any other error is a failed run.
pub fn report(outcome: anyhow::Result<Outcome>) -> ExitCode {
    match outcome {
        Ok(Outcome::Completed) => ExitCode::SUCCESS,
        Ok(Outcome::FailOn) => ExitCode::from(3),
        Ok(Outcome::Failed) => ExitCode::from(1),
        // The reader went away (`forewarn query … | head`): what it wanted was written.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            let config = error.chain().any(forewarn::error::is_configuration);
            eprintln!("error: {error:#}");
            ExitCode::from(if config { 2 } else { 1 })
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
