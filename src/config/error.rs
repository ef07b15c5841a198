//! The rule set's one error type: what stopped the rules from loading, and for an invalid set
//! every problem found — each with file, line, column and field — so one `forewarn check` shows
//! all of them and nothing runs half-configured.

use std::fmt;
use std::path::PathBuf;

/// One problem in the rule set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleProblem {
    pub file: String,
    /// 1-based; 0 when the problem has no single place (e.g. a job defined in two files).
    pub line: usize,
    /// 1-based; 0 when unknown.
    pub column: usize,
    /// The field path, e.g. `rules[0].memory.warning_within`, or `-` for the whole file.
    pub field: String,
    pub message: String,
}

impl fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file, self.line, self.column, self.field, self.message
        )
    }
}

/// Why the rules could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("cannot read the rules directory {}", dir.display())]
    ReadDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no *.yaml rule files in {}", dir.display())]
    NoRuleFiles { dir: PathBuf },
    #[error("cannot read the rule file {}", file.display())]
    ReadFile {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The set is invalid: every problem found, nothing runs.
    #[error("{}", ProblemList(problems))]
    Invalid { problems: Vec<RuleProblem> },
}

impl RulesError {
    /// The problems of an invalid set (empty for a set that could not be read).
    pub fn problems(&self) -> &[RuleProblem] {
        match self {
            RulesError::Invalid { problems } => problems,
            _ => &[],
        }
    }
}

/// `invalid rules (N problem(s)):` and one indented line per problem.
struct ProblemList<'a>(&'a [RuleProblem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid rules ({} problem(s)):", self.0.len())?;
        for p in self.0 {
            writeln!(f, "  {p}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_listed_as_file_line_column_field_message() {
        let error = RulesError::Invalid {
            problems: vec![
                RuleProblem {
                    file: "a.yaml".into(),
                    line: 3,
                    column: 5,
                    field: "rules[0].window".into(),
                    message: "bad".into(),
                },
                RuleProblem {
                    file: "b.yaml".into(),
                    line: 7,
                    column: 1,
                    field: "rules[1].job".into(),
                    message: "unknown job `x`".into(),
                },
            ],
        };
        assert_eq!(
            error.to_string(),
            "invalid rules (2 problem(s)):\n  a.yaml:3:5: rules[0].window: bad\n  \
             b.yaml:7:1: rules[1].job: unknown job `x`\n"
        );
        assert_eq!(error.problems().len(), 2);
    }

    #[test]
    fn a_read_failure_keeps_its_io_source() {
        let error = RulesError::ReadDir {
            dir: "/nowhere".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "gone"),
        };
        let source = std::error::Error::source(&error).expect("io source kept");
        assert_eq!(source.to_string(), "gone");
        assert!(error.problems().is_empty());
    }
}
