//! Silences, as Alertmanager has them: a set of equality matchers and a time range. A finding
//! every matcher matches is recorded but not announced while the silence is active. Silences
//! live in the history (`SilenceAdded` / `SilenceExpired`); which are active is derived.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::findings::{content_hash, Finding};

/// The finding fields and entity keys a matcher may name.
pub const MATCHER_NAMES: [&str; 10] = [
    "rule",
    "signal",
    "severity",
    "cluster",
    "namespace",
    "pod",
    "container",
    "service",
    "canary",
    "workload",
];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SilenceError {
    #[error("silence matcher `{text}`: expected NAME=VALUE")]
    MatcherSyntax { text: String },
    #[error("silence matcher `{text}`: unknown name `{name}` (one of: {known})", known = MATCHER_NAMES.join(", "))]
    MatcherName { text: String, name: String },
    #[error("silence: at least one matcher is needed (a silence of everything is not allowed)")]
    NoMatchers,
    #[error("silence: ends_at must be after starts_at")]
    EmptyRange,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matcher {
    pub name: String,
    pub value: String,
}

impl Matcher {
    /// Parses `namespace=shop` (as `forewarn silence add --match` takes it).
    pub fn parse(text: &str) -> Result<Matcher, SilenceError> {
        let Some((name, value)) = text.split_once('=') else {
            return Err(SilenceError::MatcherSyntax { text: text.into() });
        };
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() || value.is_empty() {
            return Err(SilenceError::MatcherSyntax { text: text.into() });
        }
        if !MATCHER_NAMES.contains(&name) {
            return Err(SilenceError::MatcherName {
                text: text.into(),
                name: name.into(),
            });
        }
        Ok(Matcher {
            name: name.into(),
            value: value.into(),
        })
    }

    pub fn matches(&self, finding: &Finding) -> bool {
        match self.name.as_str() {
            "rule" => finding.rule == self.value,
            "signal" => finding.signal.as_str() == self.value,
            "severity" => finding.severity.to_string() == self.value,
            key => finding.entity.get(key) == Some(&self.value),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Silence {
    pub id: String,
    pub matchers: Vec<Matcher>,
    #[serde(with = "crate::findings::rfc3339_z")]
    pub starts_at: OffsetDateTime,
    /// When it ends: as added, or earlier once expired by hand (derived from the history).
    #[serde(with = "crate::findings::rfc3339_z")]
    pub ends_at: OffsetDateTime,
    pub comment: String,
    pub created_by: String,
}

impl Silence {
    /// A new silence; its id is derived from what it is (matchers, range, author), so adding
    /// the same silence twice yields the same id.
    pub fn new(
        matchers: Vec<Matcher>,
        starts_at: OffsetDateTime,
        ends_at: OffsetDateTime,
        comment: impl Into<String>,
        created_by: impl Into<String>,
    ) -> Result<Silence, SilenceError> {
        if matchers.is_empty() {
            return Err(SilenceError::NoMatchers);
        }
        if ends_at <= starts_at {
            return Err(SilenceError::EmptyRange);
        }
        let comment = comment.into();
        let created_by = created_by.into();
        let mut identity: std::collections::BTreeMap<String, String> = matchers
            .iter()
            .enumerate()
            .map(|(i, m)| (format!("{i}:{}", m.name), m.value.clone()))
            .collect();
        identity.insert("~starts_at".into(), starts_at.unix_timestamp().to_string());
        identity.insert("~ends_at".into(), ends_at.unix_timestamp().to_string());
        identity.insert("~created_by".into(), created_by.clone());
        identity.insert("~comment".into(), comment.clone());
        Ok(Silence {
            id: content_hash("silence", &identity),
            matchers,
            starts_at,
            ends_at,
            comment,
            created_by,
        })
    }

    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.starts_at <= now && now < self.ends_at
    }

    /// True when every matcher matches the finding.
    pub fn matches(&self, finding: &Finding) -> bool {
        self.matchers.iter().all(|m| m.matches(finding))
    }
}

/// The first active silence (in the given order) that matches the finding.
pub fn silencing<'a>(
    silences: &'a [Silence],
    finding: &Finding,
    now: OffsetDateTime,
) -> Option<&'a Silence> {
    silences
        .iter()
        .find(|s| s.is_active(now) && s.matches(finding))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use time::macros::datetime;

    use super::*;
    use crate::findings::{FindingWindow, Severity, Signal, Status};

    fn finding() -> Finding {
        let mut entity = BTreeMap::new();
        entity.insert("namespace".to_string(), "shop".to_string());
        entity.insert("pod".to_string(), "cart-1".to_string());
        let at = datetime!(2026-01-01 12:00 UTC);
        Finding::new(
            "memory-pressure",
            Signal::MemoryPressure,
            Severity::Warning,
            Status::Firing,
            entity,
            at,
            FindingWindow { from: at, to: at },
            "s".into(),
            Default::default(),
            None,
        )
    }

    #[test]
    fn matchers_parse_and_match_fields_and_entity() {
        let f = finding();
        for (text, expected) in [
            ("namespace=shop", true),
            ("namespace=other", false),
            ("rule=memory-pressure", true),
            ("signal=memory_pressure", true),
            ("severity=warning", true),
            ("severity=critical", false),
            ("pod=cart-1", true),
            ("cluster=prod", false),
        ] {
            assert_eq!(
                Matcher::parse(text).unwrap().matches(&f),
                expected,
                "{text}"
            );
        }
        assert!(matches!(
            Matcher::parse("colour=red"),
            Err(SilenceError::MatcherName { .. })
        ));
        assert!(matches!(
            Matcher::parse("namespace"),
            Err(SilenceError::MatcherSyntax { .. })
        ));
    }

    #[test]
    fn a_silence_needs_all_matchers_and_its_time_range() {
        let f = finding();
        let start = datetime!(2026-01-01 11:00 UTC);
        let end = datetime!(2026-01-01 13:00 UTC);
        let both = vec![
            Matcher::parse("namespace=shop").unwrap(),
            Matcher::parse("rule=memory-pressure").unwrap(),
        ];
        let silence = Silence::new(both.clone(), start, end, "deploy", "ana").unwrap();
        assert!(silence.matches(&f));
        assert!(silencing(
            std::slice::from_ref(&silence),
            &f,
            datetime!(2026-01-01 12:00 UTC)
        )
        .is_some());
        assert!(silencing(std::slice::from_ref(&silence), &f, end).is_none());
        assert!(silencing(
            std::slice::from_ref(&silence),
            &f,
            datetime!(2026-01-01 10:59 UTC)
        )
        .is_none());
        let mut other = both;
        other.push(Matcher::parse("namespace=other").unwrap());
        let strict = Silence::new(other, start, end, "deploy", "ana").unwrap();
        assert!(!strict.matches(&f));
        assert_eq!(
            Silence::new(vec![], start, end, "", ""),
            Err(SilenceError::NoMatchers)
        );
        assert_eq!(
            silence.id,
            Silence::new(silence.matchers.clone(), start, end, "deploy", "ana")
                .unwrap()
                .id
        );
    }
}
