//! `forewarn query`'s entity selectors (`--cluster`, `--namespace`, `--pod`, `--container`,
//! `--service`, `--canary`): exact matches on the window's own columns.
//!
//! The selectors filter the fetched frame with Polars rather than the SQL: the `queries/*.sql`
//! files are the ones the detectors and the notebooks run, bound with the same parameters, and
//! a person comparing `forewarn query` with them should see the same query. A window is at most
//! a few hours of pre-aggregated buckets, so filtering after the fetch costs little.

use polars::prelude::*;

/// A selector names a column this window does not have (e.g. `--service` on the memory
/// window): the message lists the selectors that apply.
#[derive(Debug, thiserror::Error)]
pub enum SelectorError {
    #[error("does not apply to the {window} window (it has no `{selector}` column); its selectors are: {available}")]
    NotInWindow {
        selector: &'static str,
        window: String,
        available: String,
    },
    #[error("filtering the {window} window")]
    Filter {
        window: String,
        #[source]
        source: PolarsError,
    },
}

/// The flag of a selector (clap needs them `'static`).
pub fn flag(selector: &str) -> &'static str {
    match selector {
        "cluster" => "--cluster",
        "namespace" => "--namespace",
        "pod" => "--pod",
        "container" => "--container",
        "service" => "--service",
        _ => "--canary",
    }
}

/// The selector flags, in the order they are listed.
pub const SELECTORS: [&str; 6] = [
    "cluster",
    "namespace",
    "pod",
    "container",
    "service",
    "canary",
];

/// Keeps the rows whose columns equal every given selector's value.
pub fn select_rows(
    frame: DataFrame,
    window: &str,
    selectors: &[(&'static str, String)],
) -> Result<DataFrame, SelectorError> {
    if selectors.is_empty() {
        return Ok(frame);
    }
    let columns: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let mut predicate: Option<Expr> = None;
    for (selector, value) in selectors {
        if !columns.iter().any(|c| c == selector) {
            let available: Vec<&str> = SELECTORS
                .iter()
                .copied()
                .filter(|s| columns.iter().any(|c| c == s))
                .collect();
            return Err(SelectorError::NotInWindow {
                selector,
                window: window.to_string(),
                available: available
                    .iter()
                    .map(|s| format!("--{s}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        let matches = col(*selector).eq(lit(value.clone()));
        predicate = Some(match predicate {
            Some(p) => p.and(matches),
            None => matches,
        });
    }
    let predicate = predicate.expect("at least one selector");
    frame
        .lazy()
        .filter(predicate)
        .collect()
        .map_err(|source| SelectorError::Filter {
            window: window.to_string(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> DataFrame {
        df! {
            "pod" => ["a", "b", "a"],
            "container" => ["x", "x", "y"],
            "working_set_max_bytes" => [1.0, 2.0, 3.0],
        }
        .unwrap()
    }

    #[test]
    fn every_selector_must_match() {
        let both = select_rows(
            frame(),
            "memory",
            &[("pod", "a".into()), ("container", "y".into())],
        )
        .unwrap();
        assert_eq!(both.height(), 1);
        let one = select_rows(frame(), "memory", &[("pod", "a".into())]).unwrap();
        assert_eq!(one.height(), 2);
        assert_eq!(select_rows(frame(), "memory", &[]).unwrap().height(), 3);
    }

    #[test]
    fn a_selector_the_window_lacks_is_an_error_naming_those_it_has() {
        let error = select_rows(frame(), "memory", &[("service", "cart".into())])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("does not apply to the memory window (it has no `service` column)"),
            "{error}"
        );
        assert!(error.contains("--pod, --container"), "{error}");
    }
}
