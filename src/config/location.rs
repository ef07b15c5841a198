//! YAML text to typed values, with every error placed: file, line, column and field path.
//!
//! serde-saphyr parses and locates (1-based line and column); serde_path_to_error, wrapped
//! around its deserializer, names the field (`rules[0].memory.warning_within`). Semantic checks
//! after parsing find their rule's line and column with [`position_of_name`].

use serde::de::DeserializeOwned;

use crate::config::error::RuleProblem;

/// Deserializes one YAML document, or says where and why it does not fit `T`.
pub fn parse_yaml<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, RuleProblem> {
    // The closure hands the YAML error back to serde-saphyr (which keeps its location); the
    // path it was raised at is kept aside.
    let path = std::cell::RefCell::new(String::new());
    let options = serde_saphyr::options! { with_snippet: false };
    let result = serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
        serde_path_to_error::deserialize::<_, T>(de).map_err(|error| {
            *path.borrow_mut() = error.path().to_string();
            error.into_inner()
        })
    });
    result.map_err(|error| {
        let field = path.into_inner();
        let error = error.without_snippet();
        let (line, column) = error
            .location()
            .map(|l| (l.line() as usize, l.column() as usize))
            .unwrap_or((0, 0));
        // serde-saphyr ends its message with the location, which goes in front instead.
        let message = error.to_string();
        let suffix = format!(" at line {line}, column {column}");
        let message = message
            .strip_suffix(&suffix)
            .unwrap_or(&message)
            .to_string();
        // An error raised while converting a value (a bad duration) may be placed at the
        // enclosing mapping: point at the field's own line instead.
        let (line, column) = refine_location(text, &field, line, column);
        RuleProblem {
            file: file.to_string(),
            line,
            column,
            field: if field.is_empty() || field == "." {
                "-".into()
            } else {
                field
            },
            message,
        }
    })
}

/// The first line at or after `line` whose key is the last segment of `field` (1-based line and
/// column); the original location when there is none.
fn refine_location(text: &str, field: &str, line: usize, column: usize) -> (usize, usize) {
    let Some(key) = field
        .rsplit('.')
        .next()
        .map(|k| k.split('[').next().unwrap_or(k))
        .filter(|k| !k.is_empty() && *k != "-")
    else {
        return (line, column);
    };
    text.lines()
        .enumerate()
        .skip(line.saturating_sub(1))
        .find_map(|(i, l)| {
            let trimmed = l.trim_start().trim_start_matches("- ");
            trimmed
                .strip_prefix(key)
                .filter(|rest| rest.trim_start().starts_with(':'))
                .map(|_| (i + 1, l.len() - trimmed.len() + 1))
        })
        .unwrap_or((line, column))
}

/// The line of `name: <name>` in the text (1-based; 0 when absent), for semantic errors.
pub fn line_of_name(text: &str, name: &str) -> usize {
    position_of_name(text, name).0
}

/// Line and column (both 1-based) of the `name` key of `name: <name>`, where a semantic
/// error about that item is placed; `(0, 0)` when absent.
pub fn position_of_name(text: &str, name: &str) -> (usize, usize) {
    position_of_nth_name(text, name, 0)
}

/// [`position_of_name`] of the `nth` (0-based) item with that name: a duplicate is placed at
/// itself, not at the first.
pub fn position_of_nth_name(text: &str, name: &str, nth: usize) -> (usize, usize) {
    text.lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let key = l.trim_start().trim_start_matches("- ");
            let value = key.trim_end().strip_prefix("name:")?;
            (value.trim().trim_matches(['"', '\'']) == name)
                .then(|| (i + 1, l.len() - key.len() + 1))
        })
        .nth(nth)
        .unwrap_or((0, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        items: Vec<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        name: String,
        size: u32,
    }

    #[test]
    fn a_wrong_type_is_placed_at_its_line_with_its_path() {
        let text = "items:\n  - name: a\n    size: 1\n  - name: b\n    size: big\n";
        let problem = parse_yaml::<Outer>("f.yaml", text).unwrap_err();
        assert_eq!(problem.file, "f.yaml");
        assert_eq!((problem.line, problem.column), (5, 5), "{problem}");
        assert_eq!(problem.field, "items[1].size");
        assert!(
            !problem.message.contains("line"),
            "location only in front: {problem}"
        );
    }

    #[test]
    fn broken_yaml_is_placed() {
        let problem =
            parse_yaml::<Outer>("f.yaml", "items:\n  - name: a\n    size: [1\n").unwrap_err();
        assert!(problem.line >= 3, "{problem}");
        assert!(problem.column >= 1, "{problem}");
        assert!(!problem.message.is_empty());
    }

    #[test]
    fn rules_are_found_by_name() {
        let text = "rules:\n  - name: a\n  - name: \"b\"\n";
        assert_eq!(line_of_name(text, "b"), 3);
        assert_eq!(line_of_name(text, "c"), 0);
    }
}
