//! How canary heartbeats are recognised in the logs table: a list of matchers, each naming
//! where a record is looked at (a log attribute, a resource attribute, the service name, the
//! body) and what it must hold. A record is a heartbeat of the canary named by the first
//! matcher it satisfies: the matched attribute's value, or the service name (service and body
//! matchers).
//!
//! The heartbeats query is bound the whole list as parallel typed arrays
//! (`canary_match_on`, `canary_match_keys`, `canary_match_patterns`, `canary_match_labels`;
//! see `source::parameters`); the SQL matches the regular expressions [`CanaryMatcher::pattern`]
//! builds, and the Parquet twin calls [`CanaryMatcher::matches`], which implements the same
//! glob and substring semantics directly (tests hold the two to the same records).
//!
//! Without configuration the list recognises forewarn's own canary (log attribute
//! `canary.name`, or whatever `--canary-attribute` names) and the common shapes: a log
//! attribute `canary`, and a heartbeat CronJob's pods labelled `app=*canary*` or
//! `app=heartbeat*` (the k8sattributes processor's `k8s.pod.labels.app`).

use serde::{Deserialize, Serialize};

/// Where a matcher looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchOn {
    /// `LogAttributes[key]`; the canary is the attribute's value.
    LogAttribute,
    /// `ResourceAttributes[key]` (e.g. a pod label); the canary is the attribute's value.
    ResourceAttribute,
    /// `ServiceName`; the canary is the service name.
    Service,
    /// `Body` contains `value`; the canary is the service name.
    Body,
}

impl MatchOn {
    /// The name bound into the SQL (`canary_match_on`).
    pub fn sql_name(self) -> &'static str {
        match self {
            MatchOn::LogAttribute => "log",
            MatchOn::ResourceAttribute => "resource",
            MatchOn::Service => "service",
            MatchOn::Body => "body",
        }
    }
}

/// One way of recognising canary heartbeats.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CanaryMatcher {
    pub on: MatchOn,
    /// The attribute key (log and resource attributes only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key: String,
    /// Attributes and service: a glob (`*`, `?`) the whole value must match, any non-empty
    /// value when absent. Body: the substring the body must contain (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl CanaryMatcher {
    pub fn log_attribute(key: &str) -> CanaryMatcher {
        CanaryMatcher {
            on: MatchOn::LogAttribute,
            key: key.into(),
            value: None,
        }
    }

    pub fn resource_attribute(key: &str, value: Option<&str>) -> CanaryMatcher {
        CanaryMatcher {
            on: MatchOn::ResourceAttribute,
            key: key.into(),
            value: value.map(str::to_string),
        }
    }

    pub fn service(value: Option<&str>) -> CanaryMatcher {
        CanaryMatcher {
            on: MatchOn::Service,
            key: String::new(),
            value: value.map(str::to_string),
        }
    }

    pub fn body(substring: &str) -> CanaryMatcher {
        CanaryMatcher {
            on: MatchOn::Body,
            key: String::new(),
            value: Some(substring.into()),
        }
    }

    /// The default list: `canary_attribute` first, then the common shapes (duplicates dropped).
    pub fn defaults(canary_attribute: &str) -> Vec<CanaryMatcher> {
        let mut list = vec![CanaryMatcher::log_attribute(canary_attribute)];
        for matcher in [
            CanaryMatcher::log_attribute("canary.name"),
            CanaryMatcher::log_attribute("canary"),
            CanaryMatcher::resource_attribute("k8s.pod.labels.app", Some("*canary*")),
            CanaryMatcher::resource_attribute("k8s.pod.labels.app", Some("heartbeat*")),
        ] {
            if !list.contains(&matcher) {
                list.push(matcher);
            }
        }
        list
    }

    /// What it matches, for people: `log attribute canary`, `resource attribute
    /// k8s.pod.labels.app = *canary*`, `service = pinger`, `body contains "beat"`. Also the
    /// label the heartbeats window carries in its `matcher` column.
    pub fn label(&self) -> String {
        let value = self.value.as_deref();
        match (self.on, value) {
            (MatchOn::LogAttribute, None) => format!("log attribute {}", self.key),
            (MatchOn::LogAttribute, Some(v)) => format!("log attribute {} = {v}", self.key),
            (MatchOn::ResourceAttribute, None) => format!("resource attribute {}", self.key),
            (MatchOn::ResourceAttribute, Some(v)) => {
                format!("resource attribute {} = {v}", self.key)
            }
            (MatchOn::Service, None) => "service name".into(),
            (MatchOn::Service, Some(v)) => format!("service = {v}"),
            (MatchOn::Body, v) => format!("body contains {:?}", v.unwrap_or("")),
        }
    }

    /// The RE2 regular expression the looked-at text must match (it must also be non-empty):
    /// an anchored glob (`(?s)`: `*` and `?` match newlines too), a literal substring for the
    /// body, or anything (empty) without a value.
    pub fn pattern(&self) -> String {
        match (self.on, self.value.as_deref()) {
            (MatchOn::Body, v) => escape(v.unwrap_or("")),
            (_, None) => String::new(),
            (_, Some(glob)) => {
                let mut re = String::from("(?s)^");
                for c in glob.chars() {
                    match c {
                        '*' => re.push_str(".*"),
                        '?' => re.push('.'),
                        c => re.push_str(&escape(&c.to_string())),
                    }
                }
                re.push('$');
                re
            }
        }
    }

    /// Whether `text` (what the matcher looks at) satisfies it: non-empty, and matching the
    /// glob / containing the substring. The Parquet twin of [`CanaryMatcher::pattern`].
    pub fn matches(&self, text: &str) -> bool {
        if text.is_empty() {
            return false;
        }
        match (self.on, self.value.as_deref()) {
            (MatchOn::Body, v) => text.contains(v.unwrap_or("")),
            (_, None) => true,
            (_, Some(glob)) => glob_matches(glob, text),
        }
    }

    /// (field, message) for each problem.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        let needs_key = matches!(self.on, MatchOn::LogAttribute | MatchOn::ResourceAttribute);
        if needs_key && self.key.is_empty() {
            problems.push(("match.key", format!("{}: needs a key", self.label())));
        }
        if !needs_key && !self.key.is_empty() {
            problems.push((
                "match.key",
                format!("{}: takes no key (`{}`)", self.label(), self.key),
            ));
        }
        if self.on == MatchOn::Body && self.value.as_deref().unwrap_or("").is_empty() {
            problems.push((
                "match.value",
                "body: needs the substring to look for".to_string(),
            ));
        }
        problems
    }
}

/// Labels of `matchers`, joined for a summary.
pub fn describe(matchers: &[CanaryMatcher]) -> String {
    matchers
        .iter()
        .map(CanaryMatcher::label)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `*` any run of characters, `?` any one character, everything else literal; the whole text.
fn glob_matches(glob: &str, text: &str) -> bool {
    let pattern: Vec<char> = glob.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                backtrack = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((star, at)) => {
                    p = star + 1;
                    t = at + 1;
                    backtrack = Some((star, at + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// `text` as a regular expression matching it literally (only the characters both RE2 and
/// Rust's `regex` treat as special are escaped).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_list_starts_with_the_configured_attribute_and_keeps_the_common_shapes() {
        let labels: Vec<String> = CanaryMatcher::defaults("canary.name")
            .iter()
            .map(CanaryMatcher::label)
            .collect();
        assert_eq!(
            labels,
            [
                "log attribute canary.name",
                "log attribute canary",
                "resource attribute k8s.pod.labels.app = *canary*",
                "resource attribute k8s.pod.labels.app = heartbeat*",
            ]
        );
        assert_eq!(
            CanaryMatcher::defaults("probe")[0],
            CanaryMatcher::log_attribute("probe")
        );
        assert_eq!(CanaryMatcher::defaults("probe").len(), 5);
    }

    #[test]
    fn globs_become_anchored_patterns_and_bodies_literal_ones() {
        let app = CanaryMatcher::resource_attribute("k8s.pod.labels.app", Some("heart.beat*"));
        assert_eq!(app.pattern(), r"(?s)^heart\.beat.*$");
        assert_eq!(CanaryMatcher::log_attribute("canary").pattern(), "");
        assert_eq!(CanaryMatcher::body("ping (ok)").pattern(), r"ping \(ok\)");
    }

    #[test]
    fn globs_and_substrings_match_as_the_patterns_say() {
        let app = CanaryMatcher::resource_attribute("k8s.pod.labels.app", Some("*canary*"));
        assert!(app.matches("canary"));
        assert!(app.matches("eu-canary-probe"));
        assert!(!app.matches("canar"));
        assert!(!app.matches(""));
        let beat = CanaryMatcher::resource_attribute("k8s.pod.labels.app", Some("heart?eat*"));
        assert!(beat.matches("heartbeat-cron"));
        assert!(!beat.matches("my-heartbeat"));
        assert!(CanaryMatcher::log_attribute("canary").matches("x"));
        assert!(!CanaryMatcher::log_attribute("canary").matches(""));
        assert!(CanaryMatcher::service(Some("pinger")).matches("pinger"));
        assert!(!CanaryMatcher::service(Some("pinger")).matches("pinger-2"));
        assert!(CanaryMatcher::body("beat ok").matches("heart beat ok!"));
        assert!(!CanaryMatcher::body("beat ok").matches("beat failed"));
    }

    #[test]
    fn matchers_without_what_they_need_are_problems() {
        assert_eq!(CanaryMatcher::log_attribute("").problems().len(), 1);
        assert_eq!(CanaryMatcher::body("").problems().len(), 1);
        assert!(CanaryMatcher::service(Some("pinger")).problems().is_empty());
        let mut keyed_service = CanaryMatcher::service(None);
        keyed_service.key = "x".into();
        assert_eq!(keyed_service.problems().len(), 1);
    }
}
