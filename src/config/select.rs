//! Which entities a rule looks at: the `select:` section of a rule. Include/exclude filters per
//! entity key with `*` wildcards, and the opt-out label. The detectors apply it in one stage
//! ([`crate::detect::select`]); this module only says what matches.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Which entities a rule looks at. Each filter: `include` (empty = all) then `exclude`;
/// patterns match whole values, `*` matches any run of characters.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Selector {
    pub clusters: Filter,
    pub namespaces: Filter,
    pub workloads: Filter,
    pub services: Filter,
    pub pods: Filter,
    pub canaries: Filter,
    /// Skip pods (and services) whose opt-out label is set to true/yes/1/on (the label's
    /// resource attribute is configured globally, default `k8s.pod.labels.forewarn.io/opt-out`).
    pub honour_opt_out: bool,
}

impl Default for Selector {
    fn default() -> Self {
        Selector {
            clusters: Filter::default(),
            namespaces: Filter::default(),
            workloads: Filter::default(),
            services: Filter::default(),
            pods: Filter::default(),
            canaries: Filter::default(),
            honour_opt_out: true,
        }
    }
}

impl Selector {
    /// Whether an entity (keys as in findings) passes every filter that applies to it. A filter
    /// on a key the entity lacks does not apply (a service has no pod).
    pub fn allows(&self, entity: &BTreeMap<String, String>) -> bool {
        let checks: [(&str, &Filter); 6] = [
            ("cluster", &self.clusters),
            ("namespace", &self.namespaces),
            ("workload", &self.workloads),
            ("service", &self.services),
            ("pod", &self.pods),
            ("canary", &self.canaries),
        ];
        checks
            .iter()
            .all(|(key, filter)| entity.get(*key).is_none_or(|v| filter.allows(v)))
    }

    /// Whether an entity is judged at all: it passes the filters, and it has not opted out
    /// (`opt_out_values`: the opt-out label's values on the entity's rows; any one set opts
    /// out, while the selector honours the label).
    pub fn admits<'v>(
        &self,
        entity: &BTreeMap<String, String>,
        opt_out_values: impl IntoIterator<Item = &'v str>,
    ) -> bool {
        let opted_out = self.honour_opt_out && opt_out_values.into_iter().any(opts_out);
        !opted_out && self.allows(entity)
    }
}

/// Whether an opt-out label value opts out.
pub fn opts_out(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "true" | "yes" | "1" | "on"
    )
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Filter {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

impl Filter {
    pub fn allows(&self, value: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|p| glob_match(p, value)))
            && !self.exclude.iter().any(|p| glob_match(p, value))
    }
}

/// `*` wildcard matching on whole strings.
pub fn glob_match(pattern: &str, value: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == value;
    }
    let mut rest = value;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else if let Some(pos) = rest.find(part) {
            rest = &rest[pos + part.len()..];
        } else {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn selectors_include_then_exclude_with_wildcards() {
        let filter = Filter {
            include: vec!["shop*".into()],
            exclude: vec!["shop-test".into()],
        };
        assert!(filter.allows("shop"));
        assert!(filter.allows("shop-eu"));
        assert!(!filter.allows("shop-test"));
        assert!(!filter.allows("payments"));
        assert!(glob_match("*-canary-*", "eu-canary-1"));
        assert!(!glob_match("a*c", "abd"));
        assert!(glob_match("a*c", "abc"));
    }

    #[test]
    fn a_filter_applies_only_to_keys_the_entity_has() {
        let selector = Selector {
            pods: Filter {
                include: vec!["cart-*".into()],
                exclude: vec![],
            },
            ..Selector::default()
        };
        assert!(selector.allows(&entity(&[("service", "checkout")])));
        assert!(selector.allows(&entity(&[("pod", "cart-1")])));
        assert!(!selector.allows(&entity(&[("pod", "api-1")])));
    }

    #[test]
    fn the_opt_out_label_excludes_unless_the_rule_ignores_it() {
        let shop = entity(&[("namespace", "shop")]);
        let mut selector = Selector::default();
        assert!(selector.admits(&shop, ["", "false"]));
        assert!(!selector.admits(&shop, ["", " Yes "]));
        selector.honour_opt_out = false;
        assert!(selector.admits(&shop, ["true"]));
    }
}
