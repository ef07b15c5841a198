//! The selector stage every detector goes through before its own logic: of a frame's entity
//! groups, only those the rule's `select:` admits — its include/exclude filters on the entity's
//! keys, and the opt-out label on any of the entity's rows. A detector never sees, judges or
//! counts (e.g. in a multiple-testing correction) an entity its rule does not select.

use std::ops::Range;

use crate::config::Rule;
use crate::findings::Entity;

/// One selected entity: its rows in the frame (contiguous, the frame is sorted by its keys)
/// and its identity.
#[derive(Debug, Clone)]
pub struct Selected {
    pub rows: Range<usize>,
    pub entity: Entity,
}

/// The groups of a frame that `rule` selects, in frame order. `opt_out` is the frame's opt-out
/// label column (`None` for frames without one, e.g. heartbeats).
pub fn selected_groups(
    rule: &Rule,
    groups: Vec<Range<usize>>,
    opt_out: Option<&[&str]>,
    entity_of: impl Fn(&Range<usize>) -> Entity,
) -> Vec<Selected> {
    groups
        .into_iter()
        .filter_map(|rows| {
            let entity = entity_of(&rows);
            let labels = opt_out.map(|column| &column[rows.clone()]).unwrap_or(&[]);
            admits(rule, &entity, labels).then_some(Selected { rows, entity })
        })
        .collect()
}

/// [`selected_groups`] for a series-keyed frame, whose opt-out label is one value per series:
/// `entity_of` gives each group's entity and its label values.
pub fn selected_series<'v>(
    rule: &Rule,
    groups: Vec<Range<usize>>,
    entity_of: impl Fn(&Range<usize>) -> (Entity, Vec<&'v str>),
) -> Vec<Selected> {
    groups
        .into_iter()
        .filter_map(|rows| {
            let (entity, labels) = entity_of(&rows);
            admits(rule, &entity, &labels).then_some(Selected { rows, entity })
        })
        .collect()
}

/// Whether `rule` selects one entity, given the opt-out label values on its rows (empty for an
/// entity the frame has no rows of, e.g. a declared canary never seen).
pub fn admits(rule: &Rule, entity: &Entity, opt_out_labels: &[&str]) -> bool {
    rule.select
        .admits(&entity.to_map(), opt_out_labels.iter().copied())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Filter, RuleSet};

    fn rule() -> Rule {
        let set = RuleSet::embedded().expect("shipped rules");
        set.rules
            .into_iter()
            .find(|r| r.name == "error-rate")
            .expect("shipped error-rate rule")
    }

    #[test]
    fn only_selected_groups_that_have_not_opted_out_pass() {
        let services = ["cart", "cart", "search", "search", "admin"];
        let opt_out = ["", "", "", "true", ""];
        let groups = crate::detect::frame::groups(services.len(), |i| services[i]);
        let entity_of = |rows: &Range<usize>| Entity::new(&[("service", services[rows.start])]);
        let mut rule = rule();
        rule.select.services = Filter {
            include: vec![],
            exclude: vec!["admin".into()],
        };
        let names = |selected: Vec<Selected>| -> Vec<(String, Range<usize>)> {
            selected
                .into_iter()
                .map(|s| (s.entity.get("service").unwrap().to_string(), s.rows))
                .collect()
        };
        // `search` opted out on one of its rows, `admin` is excluded.
        let selected = selected_groups(&rule, groups.clone(), Some(&opt_out), entity_of);
        assert_eq!(names(selected), [("cart".to_string(), 0..2)]);
        // Control: not honouring the label lets `search` through; the filter still holds.
        rule.select.honour_opt_out = false;
        let selected = selected_groups(&rule, groups, Some(&opt_out), entity_of);
        assert_eq!(
            names(selected),
            [("cart".to_string(), 0..2), ("search".to_string(), 2..4)]
        );
    }
}
