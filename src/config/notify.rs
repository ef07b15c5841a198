//! Notification routing as code: `rules/notify.yaml` — the receivers, the ordered routes that pick
//! receivers for a finding (Alertmanager's first-match-wins with `continue`), how findings are
//! grouped into messages, how often they are repeated and the storm threshold.
//!
//! Like the rules, the file is typed with serde (`deny_unknown_fields`) and validated as a whole:
//! every problem is reported as `file:line:column: field.path: message` before anything is sent.
//! Semantic problems (an unknown receiver, a duplicate name) are located by walking the YAML
//! again to the offending field, so they point at the exact line and column too.
//!
//! Receivers' `config:` stays free-form JSON here; each receiver type reads its own settings.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::marker::PhantomData;
use std::path::Path;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::config::rules::Origin;
use crate::config::select::glob_match;
use crate::config::RuleProblem;
use crate::config::{DurationText, RuleSet};
use crate::findings::{Finding, Severity, Signal};

/// The shipped notification config, compiled in so forewarn works from any directory.
pub const EMBEDDED_NOTIFY: (&str, &str) =
    ("rules/notify.yaml", include_str!("../../rules/notify.yaml"));

/// The file name looked for in a rules directory.
pub const NOTIFY_FILE_NAME: &str = "notify.yaml";

/// The name of the implicit route that `default_receivers` forms.
pub const DEFAULT_ROUTE_NAME: &str = "default";

const DEFAULT_STORM_THRESHOLD: usize = 20;
const DEFAULT_REPEAT_INTERVAL: DurationText = DurationText::secs(4 * 3600);
const DEFAULT_RESOLVE_AFTER: DurationText = DurationText::secs(15 * 60);

/// Keys a route may group by: the finding's signal, severity and rule, and its entity keys.
pub const GROUP_KEYS: [&str; 11] = [
    "signal",
    "severity",
    "rule",
    "cluster",
    "namespace",
    "workload",
    "service",
    "pod",
    "container",
    "node",
    "canary",
];

fn default_group_by() -> Vec<String> {
    vec!["namespace".into(), "rule".into()]
}

/// The file as written. Route settings left out are filled in from the top-level defaults.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NotifyFile {
    #[serde(default)]
    receivers: Vec<Receiver>,
    #[serde(default)]
    routes: Vec<RouteFile>,
    #[serde(default)]
    default_receivers: Option<Vec<String>>,
    #[serde(default)]
    group_by: Option<Vec<String>>,
    #[serde(default)]
    repeat_interval: Option<DurationText>,
    #[serde(default)]
    resolve_after: Option<DurationText>,
    #[serde(default)]
    storm_threshold: Option<usize>,
    #[serde(default)]
    report: Option<ReportFile>,
}

/// `report:` — where `forewarn report daily --send` (the `daily-report` job) delivers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportFile {
    /// Email receivers get the whole report, Slack receivers its headline summary.
    receivers: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteFile {
    name: String,
    #[serde(default, rename = "match")]
    matcher: Match,
    #[serde(default)]
    receivers: Vec<String>,
    #[serde(default)]
    group_by: Option<Vec<String>>,
    #[serde(default, rename = "continue")]
    continue_matching: bool,
    #[serde(default)]
    repeat_interval: Option<DurationText>,
    #[serde(default)]
    resolve_after: Option<DurationText>,
}

/// Where messages go. `config` is the type's own settings (free-form here); it names
/// environment variables for secrets, and its values are never printed by `Debug`.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receiver {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ReceiverKind,
    /// Skip (with a note) rather than fail when the receiver's settings are missing.
    #[serde(default)]
    pub optional: bool,
    #[serde(default = "empty_object")]
    pub config: Value,
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only the keys: a value may be a secret someone pasted in despite the template.
        let keys: Vec<&str> = self
            .config
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        f.debug_struct("Receiver")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("optional", &self.optional)
            .field("config_keys", &keys)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiverKind {
    Slack,
    Email,
    Alertmanager,
    Webhook,
}

impl ReceiverKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiverKind::Slack => "slack",
            ReceiverKind::Email => "email",
            ReceiverKind::Alertmanager => "alertmanager",
            ReceiverKind::Webhook => "webhook",
        }
    }
}

impl fmt::Display for ReceiverKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One or more whole-value patterns (`*` matches any run of characters); written as a value
/// or a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patterns(pub Vec<String>);

impl Patterns {
    /// Whether any pattern matches `value` (an absent value is matched as the empty string).
    pub fn matches(&self, value: Option<&str>) -> bool {
        let value = value.unwrap_or("");
        self.0.iter().any(|p| glob_match(p, value))
    }
}

impl<'de> Deserialize<'de> for Patterns {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct PatternsVisitor;
        impl<'de> Visitor<'de> for PatternsVisitor {
            type Value = Patterns;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value or a list of values (`*` wildcards)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Patterns, E> {
                Ok(Patterns(vec![v.to_string()]))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Patterns, E> {
                Ok(Patterns(vec![v.to_string()]))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Patterns, E> {
                Ok(Patterns(vec![v.to_string()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Patterns, A::Error> {
                let mut values = Vec::new();
                while let Some(value) = seq.next_element::<String>()? {
                    values.push(value);
                }
                Ok(Patterns(values))
            }
        }
        d.deserialize_any(PatternsVisitor)
    }
}

/// Which findings a route takes: every field given must fit; fields left out match anything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Match {
    #[serde(default)]
    pub signal: Option<Patterns>,
    /// The lowest severity that matches (`warning` takes warning and critical).
    #[serde(default)]
    pub severity: Option<Severity>,
    #[serde(default)]
    pub cluster: Option<Patterns>,
    #[serde(default)]
    pub namespace: Option<Patterns>,
    #[serde(default)]
    pub rule: Option<Patterns>,
}

impl Match {
    /// True when no field restricts anything: the route takes every finding.
    pub fn is_catch_all(&self) -> bool {
        *self == Match::default()
    }

    pub fn matches(&self, finding: &Finding) -> bool {
        let fits = |patterns: &Option<Patterns>, value: Option<&str>| {
            patterns.as_ref().is_none_or(|p| p.matches(value))
        };
        fits(&self.signal, Some(finding.signal.as_str()))
            && self.severity.is_none_or(|least| finding.severity >= least)
            && fits(
                &self.cluster,
                finding.entity.get("cluster").map(String::as_str),
            )
            && fits(
                &self.namespace,
                finding.entity.get("namespace").map(String::as_str),
            )
            && fits(&self.rule, Some(finding.rule.as_str()))
    }
}

/// A route with every setting resolved (route's own, else the file's defaults, else built in).
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub name: String,
    pub matcher: Match,
    /// Receiver names, each defined in `receivers:`.
    pub receivers: Vec<String>,
    /// Keys whose values split the route's findings into messages (see `GROUP_KEYS`).
    pub group_by: Vec<String>,
    /// Keep trying later routes after this one matched.
    pub continue_matching: bool,
    pub repeat_interval: DurationText,
    pub resolve_after: DurationText,
    /// Where the route is defined (line of its `name:`); line 0 for the implicit default route.
    pub origin: Origin,
}

/// The validated notification config.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifyConfig {
    pub receivers: Vec<Receiver>,
    /// In file order: the order they are tried in.
    pub routes: Vec<Route>,
    /// Takes the findings no route matched (from `default_receivers`); `None` when the file
    /// has no `default_receivers` (then some route matches everything).
    pub default_route: Option<Route>,
    /// Above this many messages for one route and receiver in one run, one summary instead.
    pub storm_threshold: usize,
    /// Receivers of the daily report (email or slack); empty when `report:` is absent.
    pub report_receivers: Vec<String>,
}

impl NotifyConfig {
    /// The shipped `rules/notify.yaml`.
    pub fn embedded() -> Result<NotifyConfig, Vec<RuleProblem>> {
        NotifyConfig::from_text(EMBEDDED_NOTIFY.0, EMBEDDED_NOTIFY.1)
    }

    /// Reads and validates one file.
    pub fn load(path: &Path) -> Result<NotifyConfig, Vec<RuleProblem>> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            vec![RuleProblem {
                file: file.clone(),
                line: 0,
                column: 0,
                field: "-".into(),
                message: format!("cannot read the notification config: {e}"),
            }]
        })?;
        NotifyConfig::from_text(&file, &text)
    }

    /// `notify.yaml` in a rules directory when there is one, else the shipped config.
    pub fn load_dir_or_embedded(dir: &Path) -> Result<NotifyConfig, Vec<RuleProblem>> {
        let path = dir.join(NOTIFY_FILE_NAME);
        if path.exists() {
            NotifyConfig::load(&path)
        } else {
            NotifyConfig::embedded()
        }
    }

    /// Parses and validates `text` (named `file` in problems).
    pub fn from_text(file: &str, text: &str) -> Result<NotifyConfig, Vec<RuleProblem>> {
        let parsed: NotifyFile = match parse_yaml(text) {
            Ok(parsed) => parsed,
            Err(error) => return Err(vec![located_parse_error(file, text, error)]),
        };
        let mut problems = Problems {
            file,
            text,
            list: Vec::new(),
        };
        let config = validate(parsed, &mut problems);
        if problems.list.is_empty() {
            Ok(config)
        } else {
            Err(problems.list)
        }
    }

    /// Like `from_text`, and also rejects `rule:` patterns that match no rule of `rules`.
    pub fn from_text_with_rules(
        file: &str,
        text: &str,
        rules: &RuleSet,
    ) -> Result<NotifyConfig, Vec<RuleProblem>> {
        let config = NotifyConfig::from_text(file, text)?;
        let mut problems = Problems {
            file,
            text,
            list: Vec::new(),
        };
        for (index, route) in config.routes.iter().enumerate() {
            let Some(patterns) = &route.matcher.rule else {
                continue;
            };
            for (p, pattern) in patterns.0.iter().enumerate() {
                if !rules.rules.iter().any(|r| glob_match(pattern, &r.name)) {
                    problems.report(
                        pattern_path(index, "rule", patterns, p),
                        format!("`{pattern}` matches no rule"),
                    );
                }
            }
        }
        if problems.list.is_empty() {
            Ok(config)
        } else {
            Err(problems.list)
        }
    }

    /// The route at `index` in matching order; `routes.len()` is the default route.
    pub fn route_at(&self, index: usize) -> Option<&Route> {
        self.routes.get(index).or_else(|| {
            (index == self.routes.len())
                .then_some(self.default_route.as_ref())
                .flatten()
        })
    }

    pub fn receiver(&self, name: &str) -> Option<&Receiver> {
        self.receivers.iter().find(|r| r.name == name)
    }
}

/// The field path of one pattern of a `match:` field (the field itself when written as one value).
fn pattern_path(route: usize, field: &str, patterns: &Patterns, index: usize) -> FieldPath {
    let path = FieldPath::default()
        .key("routes")
        .index(route)
        .key("match")
        .key(field);
    if patterns.0.len() > 1 {
        path.index(index)
    } else {
        path
    }
}

/// Problems of one file, each located in its text.
struct Problems<'a> {
    file: &'a str,
    text: &'a str,
    list: Vec<RuleProblem>,
}

impl Problems<'_> {
    fn report(&mut self, path: FieldPath, message: String) {
        let (line, column) = locate(self.text, &path.0).unwrap_or((0, 0));
        self.list.push(RuleProblem {
            file: self.file.to_string(),
            line,
            column,
            field: path.to_string(),
            message,
        });
    }
}

fn validate(file: NotifyFile, problems: &mut Problems<'_>) -> NotifyConfig {
    let root = FieldPath::default();
    let mut receiver_names = BTreeSet::new();
    for (index, receiver) in file.receivers.iter().enumerate() {
        let at = root.clone().key("receivers").index(index);
        if receiver.name.trim().is_empty() {
            problems.report(at.clone().key("name"), "must not be empty".into());
        } else if !receiver_names.insert(receiver.name.as_str()) {
            problems.report(
                at.clone().key("name"),
                format!("receiver `{}` is defined twice", receiver.name),
            );
        }
        if !receiver.config.is_object() {
            problems.report(
                at.key("config"),
                format!("must be a mapping of {} settings", receiver.kind),
            );
        }
    }
    let known_receivers = || {
        if receiver_names.is_empty() {
            "no receivers are defined".to_string()
        } else {
            let names: Vec<&str> = receiver_names.iter().copied().collect();
            format!("defined receivers: {}", names.join(", "))
        }
    };

    let check_receivers = |problems: &mut Problems<'_>, at: FieldPath, names: &[String]| {
        let mut seen = BTreeSet::new();
        for (index, name) in names.iter().enumerate() {
            if !receiver_names.contains(name.as_str()) {
                problems.report(
                    at.clone().index(index),
                    format!("unknown receiver `{name}` ({})", known_receivers()),
                );
            } else if !seen.insert(name.as_str()) {
                problems.report(
                    at.clone().index(index),
                    format!("receiver `{name}` is listed twice"),
                );
            }
        }
    };
    let check_group_by = |problems: &mut Problems<'_>, at: FieldPath, keys: &[String]| {
        let mut seen = BTreeSet::new();
        for (index, key) in keys.iter().enumerate() {
            if !GROUP_KEYS.contains(&key.as_str()) {
                problems.report(
                    at.clone().index(index),
                    format!("cannot group by `{key}` (keys: {})", GROUP_KEYS.join(", ")),
                );
            } else if !seen.insert(key.as_str()) {
                problems.report(at.clone().index(index), format!("`{key}` is listed twice"));
            }
        }
    };
    let check_repeat = |problems: &mut Problems<'_>, at: FieldPath, interval: &DurationText| {
        if interval.0.is_zero() {
            problems.report(
                at,
                "must be longer than 0s (it is how long until a firing finding is announced again)"
                    .into(),
            );
        }
    };

    if let Some(keys) = &file.group_by {
        check_group_by(problems, root.clone().key("group_by"), keys);
    }
    if let Some(interval) = &file.repeat_interval {
        check_repeat(problems, root.clone().key("repeat_interval"), interval);
    }
    if file.storm_threshold == Some(0) {
        problems.report(
            root.clone().key("storm_threshold"),
            "must be at least 1".into(),
        );
    }
    let group_by = file.group_by.clone().unwrap_or_else(default_group_by);
    let repeat_interval = file.repeat_interval.unwrap_or(DEFAULT_REPEAT_INTERVAL);
    let resolve_after = file.resolve_after.unwrap_or(DEFAULT_RESOLVE_AFTER);

    let mut routes = Vec::new();
    let mut route_names = BTreeMap::new();
    let mut takes_everything: Option<&str> = None;
    for (index, raw) in file.routes.iter().enumerate() {
        let at = root.clone().key("routes").index(index);
        if raw.name.trim().is_empty() {
            problems.report(at.clone().key("name"), "must not be empty".into());
        } else if raw.name == DEFAULT_ROUTE_NAME {
            problems.report(
                at.clone().key("name"),
                format!(
                    "`{DEFAULT_ROUTE_NAME}` is reserved for the route `default_receivers` forms"
                ),
            );
        } else if let Some(first) = route_names.insert(raw.name.as_str(), index) {
            problems.report(
                at.clone().key("name"),
                format!(
                    "route `{}` is defined twice (first as routes[{first}])",
                    raw.name
                ),
            );
        }
        if let Some(earlier) = takes_everything {
            problems.report(
                at.clone().key("name"),
                format!(
                    "route `{}` can never match: route `{earlier}` above it takes every finding \
                     and has no `continue: true`",
                    raw.name
                ),
            );
        }
        if raw.receivers.is_empty() {
            problems.report(
                at.clone().key("receivers"),
                format!("route `{}` has no receivers", raw.name),
            );
        }
        check_receivers(problems, at.clone().key("receivers"), &raw.receivers);
        check_match(problems, index, &raw.matcher);
        if let Some(keys) = &raw.group_by {
            check_group_by(problems, at.clone().key("group_by"), keys);
        }
        if let Some(interval) = &raw.repeat_interval {
            check_repeat(problems, at.clone().key("repeat_interval"), interval);
        }
        if raw.matcher.is_catch_all() && !raw.continue_matching && takes_everything.is_none() {
            takes_everything = Some(raw.name.as_str());
        }
        routes.push(Route {
            name: raw.name.clone(),
            matcher: raw.matcher.clone(),
            receivers: raw.receivers.clone(),
            group_by: raw.group_by.clone().unwrap_or_else(|| group_by.clone()),
            continue_matching: raw.continue_matching,
            repeat_interval: raw.repeat_interval.unwrap_or(repeat_interval),
            resolve_after: raw.resolve_after.unwrap_or(resolve_after),
            origin: {
                let (line, column) =
                    locate(problems.text, &at.clone().key("name").0).unwrap_or((0, 0));
                Origin {
                    file: problems.file.to_string(),
                    line,
                    column,
                }
            },
        });
    }

    let default_route = file.default_receivers.as_ref().map(|names| {
        check_receivers(problems, root.clone().key("default_receivers"), names);
        Route {
            name: DEFAULT_ROUTE_NAME.into(),
            matcher: Match::default(),
            receivers: names.clone(),
            group_by: group_by.clone(),
            continue_matching: false,
            repeat_interval,
            resolve_after,
            origin: Origin {
                file: problems.file.to_string(),
                line: 0,
                column: 0,
            },
        }
    });
    if default_route.is_none() && !routes.iter().any(|r| r.matcher.is_catch_all()) {
        let at = if file.routes.is_empty() {
            root.clone().key("routes")
        } else {
            root.clone().key("routes").index(file.routes.len() - 1)
        };
        problems.report(
            at,
            "findings that match no route would be dropped: add `default_receivers:` (`[]` to \
             record them without sending) or end with a route without `match:`"
                .into(),
        );
    }

    let report_receivers = match &file.report {
        Some(report) => {
            let at = root.clone().key("report").key("receivers");
            check_receivers(problems, at.clone(), &report.receivers);
            for (index, name) in report.receivers.iter().enumerate() {
                let kind = file
                    .receivers
                    .iter()
                    .find(|r| &r.name == name)
                    .map(|r| r.kind);
                if let Some(kind @ (ReceiverKind::Alertmanager | ReceiverKind::Webhook)) = kind {
                    problems.report(
                        at.clone().index(index),
                        format!("the daily report goes to email or slack receivers, not {kind} (`{name}`)"),
                    );
                }
            }
            report.receivers.clone()
        }
        None => Vec::new(),
    };

    NotifyConfig {
        receivers: file.receivers,
        routes,
        default_route,
        storm_threshold: file.storm_threshold.unwrap_or(DEFAULT_STORM_THRESHOLD),
        report_receivers,
    }
}

fn check_match(problems: &mut Problems<'_>, route: usize, matcher: &Match) {
    let route_at = FieldPath::default().key("routes").index(route);
    let fields = [
        ("signal", &matcher.signal),
        ("cluster", &matcher.cluster),
        ("namespace", &matcher.namespace),
        ("rule", &matcher.rule),
    ];
    for (field, patterns) in fields {
        let Some(patterns) = patterns else { continue };
        if patterns.0.is_empty() {
            problems.report(
                route_at.clone().key("match").key(field),
                "an empty list matches nothing: leave the field out to match any value".into(),
            );
        }
        if field == "signal" {
            for (index, pattern) in patterns.0.iter().enumerate() {
                if !Signal::ALL.iter().any(|s| glob_match(pattern, s.as_str())) {
                    let known: Vec<&str> = Signal::ALL.iter().map(|s| s.as_str()).collect();
                    problems.report(
                        pattern_path(route, field, patterns, index),
                        format!(
                            "`{pattern}` matches no signal (signals: {})",
                            known.join(", ")
                        ),
                    );
                }
            }
        }
    }
}

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// A path into the document, printed as serde does (`routes[2].receivers[0]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct FieldPath(Vec<Segment>);

impl FieldPath {
    fn key(mut self, key: &str) -> FieldPath {
        self.0.push(Segment::Key(key.to_string()));
        self
    }

    fn index(mut self, index: usize) -> FieldPath {
        self.0.push(Segment::Index(index));
        self
    }

    fn from_serde(path: &serde_path_to_error::Path) -> FieldPath {
        use serde_path_to_error::Segment as S;
        FieldPath(
            path.iter()
                .filter_map(|s| match s {
                    S::Seq { index } => Some(Segment::Index(*index)),
                    S::Map { key } => Some(Segment::Key(key.clone())),
                    S::Enum { variant } => Some(Segment::Key(variant.clone())),
                    S::Unknown => None,
                })
                .collect(),
        )
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("-");
        }
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if i == 0 => write!(f, "{key}")?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// A YAML error: its message (without location) and 1-based line and column when known.
struct YamlError {
    message: String,
    location: Option<(usize, usize)>,
}

/// The one place that knows the YAML crate (serde-saphyr, as for the rules): runs `seed` over
/// the document in `text`.
fn deserialize_yaml<'de, S: DeserializeSeed<'de>>(
    text: &'de str,
    seed: S,
) -> Result<S::Value, YamlError> {
    let options = serde_saphyr::options! { with_snippet: false };
    serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| seed.deserialize(de))
        .map_err(|error| {
            let error = error.without_snippet();
            let location = error
                .location()
                .map(|l| (l.line() as usize, l.column() as usize));
            let message = error.to_string();
            // The crate appends " at line L, column C"; the location is reported in front.
            let message = match message.rfind(" at line ") {
                Some(end) => &message[..end],
                None => &message,
            };
            // … and may put its own path of the enclosing node in front; the caller has a
            // better one.
            let message = match message.split_once(": ") {
                Some((path, rest)) if !path.is_empty() && path.chars().all(is_path_char) => rest,
                _ => message,
            };
            YamlError {
                message: message.to_string(),
                location,
            }
        })
}

/// The key of serde's "duplicate field `key`" message.
fn duplicate_key(message: &str) -> Option<&str> {
    message.strip_prefix("duplicate field `")?.split('`').next()
}

fn is_path_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '[' | ']')
}

/// Typed parse with the path of the first error.
fn parse_yaml<T: de::DeserializeOwned>(text: &str) -> Result<T, (FieldPath, YamlError)> {
    struct Tracked<'t, T>(&'t mut serde_path_to_error::Track, PhantomData<T>);
    impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Tracked<'_, T> {
        type Value = T;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
            T::deserialize(serde_path_to_error::Deserializer::new(d, self.0))
        }
    }
    let mut track = serde_path_to_error::Track::new();
    let result = deserialize_yaml(text, Tracked::<T>(&mut track, PhantomData));
    result.map_err(|error| (FieldPath::from_serde(&track.path()), error))
}

fn located_parse_error(
    file: &str,
    text: &str,
    (path, error): (FieldPath, YamlError),
) -> RuleProblem {
    // A value that fails to convert (a bad duration) is reported by the crate at the enclosing
    // mapping; the path leads to the value itself. The later of the two is the precise one.
    let from_crate = error.location.unwrap_or((0, 0));
    let from_path = match duplicate_key(&error.message) {
        // serde reports a key written twice at the end of its mapping: point at the second one.
        Some(key) => locate_nth(text, &path.clone().key(key).0, 1),
        None => locate(text, &path.0),
    };
    let from_path = from_path.unwrap_or((0, 0));
    let (line, column) = from_crate.max(from_path);
    RuleProblem {
        file: file.to_string(),
        line,
        column,
        field: path.to_string(),
        message: error.message,
    }
}

/// Line and column (1-based) of the node at `path` — of the key when the path ends in a key —
/// or of the deepest part of the path that exists.
fn locate(text: &str, path: &[Segment]) -> Option<(usize, usize)> {
    locate_nth(text, path, 0)
}

/// Like `locate`, passing over the first `skip` occurrences of a final key.
fn locate_nth(text: &str, path: &[Segment], skip: usize) -> Option<(usize, usize)> {
    (0..=path.len()).rev().find_map(|len| {
        if len == 0 {
            // The document itself starts at its first line.
            return Some((1, 1));
        }
        let skip = Cell::new(if len == path.len() { skip } else { 0 });
        let error = deserialize_yaml(text, Probe(&path[..len], &skip)).err()?;
        error
            .message
            .contains(PROBE_FOUND)
            .then_some(error.location)
            .flatten()
    })
}

/// Raised by `Probe` at its target, so that the YAML crate attaches the target's location.
const PROBE_FOUND: &str = "forewarn-locate-probe-found";

/// Walks the document along a path and fails at its end; `.1` is how many matches of a final key
/// to pass over first (to find a key written twice).
struct Probe<'p>(&'p [Segment], &'p Cell<usize>);

impl Probe<'_> {
    fn leaf<E: de::Error>(self) -> Result<(), E> {
        if self.0.is_empty() {
            Err(E::custom(PROBE_FOUND))
        } else {
            Ok(())
        }
    }
}

impl<'de> DeserializeSeed<'de> for Probe<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Probe<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.leaf()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.leaf()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.leaf()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.leaf()
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.leaf()
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.leaf()
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.leaf()
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let wanted = match self.0.split_first() {
            None => return Err(de::Error::custom(PROBE_FOUND)),
            Some((Segment::Index(index), rest)) => Some((*index, rest)),
            Some((Segment::Key(_), _)) => None,
        };
        let mut index = 0;
        loop {
            let more = match wanted {
                Some((target, rest)) if target == index => {
                    seq.next_element_seed(Probe(rest, self.1))?.is_some()
                }
                _ => seq.next_element::<IgnoredAny>()?.is_some(),
            };
            if !more {
                return Ok(());
            }
            index += 1;
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (key, rest) = match self.0.split_first() {
            None => return Err(de::Error::custom(PROBE_FOUND)),
            Some((Segment::Key(key), rest)) => (Some(key.as_str()), rest),
            Some((Segment::Index(_), rest)) => (None, rest),
        };
        let last = rest.is_empty();
        while let Some(wanted) = map.next_key_seed(KeyProbe {
            key,
            last,
            skip: self.1,
        })? {
            if wanted {
                map.next_value_seed(Probe(rest, self.1))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// Compares a mapping key with the wanted one; fails on it when the path ends there.
struct KeyProbe<'k> {
    key: Option<&'k str>,
    last: bool,
    skip: &'k Cell<usize>,
}

impl<'de> DeserializeSeed<'de> for KeyProbe<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeyProbe<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        match self.key {
            Some(key) if key == v && self.last && self.skip.get() > 0 => {
                self.skip.set(self.skip.get() - 1);
                Ok(false)
            }
            Some(key) if key == v && self.last => Err(E::custom(PROBE_FOUND)),
            Some(key) => Ok(key == v),
            None => Ok(false),
        }
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<bool, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(false)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECEIVERS: &str = "receivers:\n  - name: slack\n    type: slack\n    config:\n      webhook_url_env: HOOK\n  - name: am\n    type: alertmanager\n";

    fn parse(rest: &str) -> Result<NotifyConfig, Vec<RuleProblem>> {
        NotifyConfig::from_text("n.yaml", &format!("{RECEIVERS}{rest}"))
    }

    /// The single problem of an invalid config, as `line:column: field: message`.
    fn problems(rest: &str) -> Vec<String> {
        parse(rest)
            .expect_err("the config is invalid")
            .iter()
            .map(|p| {
                assert_eq!(p.file, "n.yaml");
                format!("{}:{}: {}: {}", p.line, p.column, p.field, p.message)
            })
            .collect()
    }

    #[test]
    fn the_shipped_config_is_valid_and_routes_to_slack_and_alertmanager() {
        let config = NotifyConfig::embedded().expect("rules/notify.yaml validates");
        let kinds: BTreeSet<ReceiverKind> = config.receivers.iter().map(|r| r.kind).collect();
        assert_eq!(
            kinds,
            BTreeSet::from([ReceiverKind::Slack, ReceiverKind::Alertmanager])
        );
        let slack = config.receiver("slack-oncall").unwrap();
        assert_eq!(
            slack.config["webhook_url_env"],
            Value::from("FOREWARN_SLACK_WEBHOOK_URL")
        );
        assert!(config.receiver("alertmanager").unwrap().optional);
        assert_eq!(config.report_receivers, ["slack-oncall"]);
        assert_eq!(config.storm_threshold, 20);
        assert!(config.default_route.is_none());
        let critical = &config.routes[1];
        assert_eq!(critical.name, "critical-to-slack");
        assert_eq!(critical.repeat_interval, DurationText::secs(3600));
        assert_eq!(critical.resolve_after, DurationText::secs(15 * 60));
        assert_eq!(
            config.routes[2].repeat_interval,
            DurationText::secs(4 * 3600)
        );
        assert_eq!(config.routes[2].group_by, ["namespace", "rule"]);
        assert_eq!(critical.origin.file, "rules/notify.yaml");
        assert!(critical.origin.line > 0);
    }

    #[test]
    fn defaults_fill_in_what_a_route_leaves_out() {
        let config = parse(
            "group_by: [cluster]\nrepeat_interval: 2h\nroutes:\n  - name: all\n    receivers: [slack]\n  - name: never\n    match:\n      namespace: x\n    receivers: [am]\n    group_by: []\n    resolve_after: 1h\n",
        );
        // `all` takes everything without continue: `never` is unreachable.
        let err = config.unwrap_err();
        assert_eq!(err.len(), 1, "{err:?}");
        assert!(err[0].message.contains("can never match"), "{}", err[0]);
        assert_eq!((err[0].line, err[0].column), (13, 5));

        let config = parse(
            "group_by: [cluster]\nrepeat_interval: 2h\nroutes:\n  - name: shop\n    match:\n      namespace: shop\n    receivers: [am]\n    group_by: []\n    resolve_after: 1h\n  - name: all\n    receivers: [slack]\n",
        )
        .unwrap();
        let (shop, all) = (&config.routes[0], &config.routes[1]);
        assert!(shop.group_by.is_empty());
        assert_eq!(shop.repeat_interval, DurationText::secs(7200));
        assert_eq!(shop.resolve_after, DurationText::secs(3600));
        assert_eq!(all.group_by, ["cluster"]);
        assert_eq!(all.resolve_after, DEFAULT_RESOLVE_AFTER);
        assert_eq!(config.storm_threshold, DEFAULT_STORM_THRESHOLD);
        assert_eq!(shop.origin.line, 11);
    }

    #[test]
    fn the_report_goes_to_email_or_slack_receivers_that_exist() {
        let config = parse(
            "routes:\n  - name: all\n    receivers: [slack]\nreport:\n  receivers: [slack]\n",
        )
        .unwrap();
        assert_eq!(config.report_receivers, ["slack"]);
        let err = parse(
            "routes:\n  - name: all\n    receivers: [slack]\nreport:\n  receivers: [am, pager]\n",
        )
        .unwrap_err();
        let messages: Vec<String> = err.iter().map(|p| p.to_string()).collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages.iter().any(|m| m.contains("12:15: report.receivers[0]") && m.contains("not alertmanager")), "{messages:?}");
        assert!(
            messages
                .iter()
                .any(|m| m.contains("unknown receiver `pager`")),
            "{messages:?}"
        );
        assert!(parse("routes:\n  - name: all\n    receivers: [slack]\n")
            .unwrap()
            .report_receivers
            .is_empty());
    }

    #[test]
    fn default_receivers_form_an_implicit_last_route() {
        let config = parse(
            "routes:\n  - name: shop\n    match:\n      namespace: shop\n    receivers: [am]\ndefault_receivers: [slack]\n",
        )
        .unwrap();
        let default = config.default_route.unwrap();
        assert_eq!(default.name, DEFAULT_ROUTE_NAME);
        assert_eq!(default.receivers, ["slack"]);
        assert_eq!(default.group_by, ["namespace", "rule"]);
        assert!(default.matcher.is_catch_all());
        // `[]` is an explicit choice: record, do not send.
        let config = parse("default_receivers: []\n").unwrap();
        assert!(config.default_route.unwrap().receivers.is_empty());
    }

    #[test]
    fn an_unknown_receiver_is_named_with_its_line_and_column() {
        assert_eq!(
            problems("routes:\n  - name: all\n    receivers: [slack, pager]\n"),
            ["10:24: routes[0].receivers[1]: unknown receiver `pager` (defined receivers: am, slack)"]
        );
        assert_eq!(
            problems("routes:\n  - name: all\n    receivers:\n      - slack\n      - pagr\n"),
            ["12:9: routes[0].receivers[1]: unknown receiver `pagr` (defined receivers: am, slack)"]
        );
        assert_eq!(
            problems("default_receivers: [mail]\n"),
            ["8:21: default_receivers[0]: unknown receiver `mail` (defined receivers: am, slack)"]
        );
    }

    #[test]
    fn every_problem_is_listed_not_just_the_first() {
        let found = NotifyConfig::from_text(
            "n.yaml",
            "receivers:\n  - name: slack\n    type: slack\n  - name: slack\n    type: email\n    config: [x]\nroutes:\n  - name: a\n    receivers: []\n  - name: a\n    match:\n      signal: [memory_pressure, disk_*]\n      namespace: []\n    receivers: [slack, slack]\n    group_by: [namespace, team, namespace]\n    repeat_interval: 0s\nstorm_threshold: 0\n",
        )
        .unwrap_err();
        let found: Vec<String> = found
            .iter()
            .map(|p| format!("{}:{}: {}: {}", p.line, p.column, p.field, p.message))
            .collect();
        assert_eq!(
            found,
            [
                "4:5: receivers[1].name: receiver `slack` is defined twice",
                "6:5: receivers[1].config: must be a mapping of email settings",
                "17:1: storm_threshold: must be at least 1",
                "9:5: routes[0].receivers: route `a` has no receivers",
                "10:5: routes[1].name: route `a` is defined twice (first as routes[0])",
                // routes[0] has no `match:` and no `continue`: it takes everything.
                "10:5: routes[1].name: route `a` can never match: route `a` above it takes every finding and has no `continue: true`",
                "14:24: routes[1].receivers[1]: receiver `slack` is listed twice",
                "12:33: routes[1].match.signal[1]: `disk_*` matches no signal (signals: memory_pressure, error_rate, restart_frequency, heartbeat_missing)",
                "13:7: routes[1].match.namespace: an empty list matches nothing: leave the field out to match any value",
                "15:27: routes[1].group_by[1]: cannot group by `team` (keys: signal, severity, rule, cluster, namespace, workload, service, pod, container, node, canary)",
                "15:33: routes[1].group_by[2]: `namespace` is listed twice",
                "16:5: routes[1].repeat_interval: must be longer than 0s (it is how long until a firing finding is announced again)",
            ]
        );
    }

    #[test]
    fn empty_and_reserved_names_are_rejected() {
        let found = NotifyConfig::from_text(
            "n.yaml",
            "receivers:\n  - name: \"\"\n    type: slack\nroutes:\n  - name: default\n    receivers: [x]\n    match: {rule: r}\n  - name: \" \"\n    receivers: []\n",
        )
        .unwrap_err();
        let found: Vec<String> = found
            .iter()
            .map(|p| format!("{}:{}: {}: {}", p.line, p.column, p.field, p.message))
            .collect();
        assert_eq!(
            found,
            [
                "2:5: receivers[0].name: must not be empty",
                "5:5: routes[0].name: `default` is reserved for the route `default_receivers` forms",
                "6:17: routes[0].receivers[0]: unknown receiver `x` (no receivers are defined)",
                "8:5: routes[1].name: must not be empty",
                "9:5: routes[1].receivers: route ` ` has no receivers",
            ]
        );
    }

    #[test]
    fn a_rules_directory_supplies_notify_yaml_or_the_shipped_one_applies() {
        let dir = tempfile::tempdir().unwrap();
        let shipped = NotifyConfig::load_dir_or_embedded(dir.path()).unwrap();
        assert_eq!(shipped, NotifyConfig::embedded().unwrap());
        let path = dir.path().join(NOTIFY_FILE_NAME);
        std::fs::write(&path, "storm_threshold: many\n").unwrap();
        let found = NotifyConfig::load_dir_or_embedded(dir.path()).unwrap_err();
        assert_eq!(found[0].file, path.display().to_string());
        assert_eq!((found[0].line, found[0].column), (1, 18));
        assert_eq!(found[0].field, "storm_threshold");
        let missing = NotifyConfig::load(&dir.path().join("absent.yaml")).unwrap_err();
        assert!(
            missing[0].message.starts_with("cannot read"),
            "{}",
            missing[0]
        );
    }

    #[test]
    fn a_duplicate_key_is_a_yaml_error_reported_alone_with_its_location() {
        assert_eq!(
            problems("routes: []\nreceivers: []\n"),
            ["9:1: -: duplicate mapping key: receivers, set DuplicateKeyPolicy in Options if acceptable"]
        );
    }

    #[test]
    fn no_routes_and_no_default_receivers_is_rejected() {
        assert_eq!(
            problems(""),
            ["1:1: routes: findings that match no route would be dropped: add `default_receivers:` (`[]` to record them without sending) or end with a route without `match:`"]
        );
    }

    #[test]
    fn a_misspelt_field_is_located_at_its_key() {
        assert_eq!(
            problems("routes:\n  - name: all\n    receivers: [slack]\n    contnue: true\n"),
            ["11:5: routes[0].contnue: unknown field `contnue`, expected one of name, match, receivers, group_by, continue, repeat_interval, resolve_after"]
        );
        let found = problems(
            "routes:\n  - name: all\n    match:\n      sevrity: warning\n    receivers: [slack]\n",
        );
        assert_eq!(
            found,
            ["11:7: routes[0].match.sevrity: unknown field `sevrity`, expected one of signal, severity, cluster, namespace, rule"]
        );
    }

    #[test]
    fn a_bad_duration_is_located_at_its_value() {
        assert_eq!(
            problems("routes:\n  - name: all\n    receivers: [slack]\n    repeat_interval: four hours\n"),
            ["11:22: routes[0].repeat_interval: `four hours` is not a duration like 5m or 2h (expected number at 0)"]
        );
        let found = problems("resolve_after: soon\ndefault_receivers: []\n");
        assert_eq!(found.len(), 1);
        assert!(
            found[0].starts_with("8:16: resolve_after: `soon` is not a duration"),
            "{found:?}"
        );
    }

    #[test]
    fn a_bad_severity_or_receiver_type_is_rejected_with_the_choices() {
        let found = problems("routes:\n  - name: all\n    match:\n      severity: [warning, critical]\n    receivers: [slack]\n");
        assert!(
            found[0].starts_with("11:17: routes[0].match.severity: "),
            "{found:?}"
        );
        let found = NotifyConfig::from_text(
            "n.yaml",
            "receivers:\n  - name: x\n    type: pager\ndefault_receivers: [x]\n",
        )
        .unwrap_err();
        assert_eq!(found[0].field, "receivers[0].type");
        assert_eq!((found[0].line, found[0].column), (3, 11));
        assert!(
            found[0].message.contains("unknown variant `pager`"),
            "{}",
            found[0]
        );
        assert!(found[0].message.contains("webhook"), "{}", found[0]);
    }

    #[test]
    fn rule_patterns_are_checked_against_the_rule_set() {
        let rules = RuleSet::embedded().unwrap();
        let text = format!(
            "{RECEIVERS}routes:\n  - name: mem\n    match:\n      rule: [memory-*, memroy-pressure]\n    receivers: [slack]\ndefault_receivers: []\n"
        );
        let found = NotifyConfig::from_text_with_rules("n.yaml", &text, &rules).unwrap_err();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].field, "routes[0].match.rule[1]");
        assert_eq!((found[0].line, found[0].column), (11, 24));
        assert_eq!(found[0].message, "`memroy-pressure` matches no rule");
        let fixed = text.replace(", memroy-pressure", "");
        NotifyConfig::from_text_with_rules("n.yaml", &fixed, &rules).expect("valid");
    }

    fn finding(rule: &str, signal: Signal, severity: Severity, entity: &[(&str, &str)]) -> Finding {
        let at = time::macros::datetime!(2026-01-01 12:00 UTC);
        Finding::new(
            rule,
            signal,
            severity,
            crate::findings::Status::Firing,
            entity
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<std::collections::BTreeMap<String, String>>(),
            at,
            crate::findings::FindingWindow { from: at, to: at },
            String::new(),
            serde_json::Map::new(),
            None,
        )
    }

    #[test]
    fn a_match_takes_severity_at_least_and_wildcards() {
        let config = parse(
            "routes:\n  - name: r\n    match:\n      severity: warning\n      namespace: [shop, shop-*]\n      signal: \"*_rate\"\n      cluster: eu-*\n    receivers: [slack]\ndefault_receivers: []\n",
        )
        .unwrap();
        let m = &config.routes[0].matcher;
        let entity = [("cluster", "eu-1"), ("namespace", "shop-eu")];
        assert!(m.matches(&finding("e", Signal::ErrorRate, Severity::Warning, &entity)));
        assert!(m.matches(&finding(
            "e",
            Signal::ErrorRate,
            Severity::Critical,
            &entity
        )));
        assert!(!m.matches(&finding("e", Signal::ErrorRate, Severity::Info, &entity)));
        assert!(!m.matches(&finding(
            "e",
            Signal::MemoryPressure,
            Severity::Critical,
            &entity
        )));
        assert!(m.matches(&finding(
            "e",
            Signal::ErrorRate,
            Severity::Warning,
            &[("cluster", "eu-2"), ("namespace", "shop")]
        )));
        assert!(!m.matches(&finding(
            "e",
            Signal::ErrorRate,
            Severity::Warning,
            &[("cluster", "us-1"), ("namespace", "shop")]
        )));
        assert!(!m.matches(&finding(
            "e",
            Signal::ErrorRate,
            Severity::Warning,
            &[("cluster", "eu-1"), ("namespace", "payments")]
        )));
        // A finding without a namespace is matched as the empty value: only `*` takes it.
        assert!(!m.matches(&finding(
            "e",
            Signal::ErrorRate,
            Severity::Warning,
            &[("cluster", "eu-1")]
        )));
        let any = Patterns(vec!["*".into()]);
        assert!(any.matches(None));
    }

    #[test]
    fn debug_output_shows_receiver_config_keys_not_values() {
        let config = NotifyConfig::from_text(
            "n.yaml",
            "receivers:\n  - name: hook\n    type: webhook\n    config:\n      url: https://hooks.example/T0/B0/s3cr3t\ndefault_receivers: [hook]\n",
        )
        .unwrap();
        let debug = format!("{config:?}");
        assert!(debug.contains("config_keys: [\"url\"]"), "{debug}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
    }

    #[test]
    fn locate_finds_keys_items_and_flow_elements() {
        let text = "a:\n  b:\n    - x\n    - {c: 1, d: [p, q]}\n";
        let path = |p: FieldPath| locate(text, &p.0);
        let root = FieldPath::default();
        assert_eq!(path(root.clone().key("a")), Some((1, 1)));
        assert_eq!(path(root.clone().key("a").key("b").index(0)), Some((3, 7)));
        assert_eq!(
            path(root.clone().key("a").key("b").index(1).key("d")),
            Some((4, 14))
        );
        assert_eq!(
            path(root.clone().key("a").key("b").index(1).key("d").index(1)),
            Some((4, 21))
        );
        // A path that goes nowhere falls back to its deepest existing part.
        assert_eq!(path(root.clone().key("a").key("b").index(7)), Some((2, 3)));
        assert_eq!(path(root.key("z")), Some((1, 1)));
    }
}
