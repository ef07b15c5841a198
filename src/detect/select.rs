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

/// Whether `rule` selects one entity, given the opt-out label values on its rows (empty for an
/// entity the frame has no rows of, e.g. a declared canary never seen).
pub fn admits(rule: &Rule, entity: &Entity, opt_out_labels: &[&str]) -> bool {
    rule.select
        .admits(&entity.to_map(), opt_out_labels.iter().copied())
}
