//! Reading window frames column-wise into plain vectors, and walking their entity groups
//! (frames are sorted by their key columns, so each entity's rows are contiguous).

use polars::prelude::*;

use crate::detect::DetectError;
use crate::findings::{Entity, Workload};
use crate::window::{QueryKind, WindowFrame};

/// Typed access to a frame's columns, with errors naming the rule and column.
pub struct Columns<'a> {
    frame: &'a DataFrame,
    rule: &'a str,
    query: QueryKind,
}

impl<'a> Columns<'a> {
    pub fn new(frame: &'a DataFrame, rule: &'a str, query: QueryKind) -> Columns<'a> {
        Columns { frame, rule, query }
    }

    fn error(&self, column: &str) -> DetectError {
        DetectError::Column {
            rule: self.rule.to_string(),
            query: self.query,
            column: column.to_string(),
        }
    }

    pub fn text(&self, name: &str) -> Result<Vec<&'a str>, DetectError> {
        let column = self.frame.column(name).map_err(|_| self.error(name))?;
        let ca = column.str().map_err(|_| self.error(name))?;
        Ok(ca.iter().map(|v| v.unwrap_or("")).collect())
    }

    pub fn float(&self, name: &str) -> Result<Vec<Option<f64>>, DetectError> {
        let column = self.frame.column(name).map_err(|_| self.error(name))?;
        let series = column
            .as_materialized_series()
            .cast(&DataType::Float64)
            .map_err(|_| self.error(name))?;
        let ca = series.f64().map_err(|_| self.error(name))?;
        Ok(ca.iter().collect())
    }

    pub fn count(&self, name: &str) -> Result<Vec<u64>, DetectError> {
        let column = self.frame.column(name).map_err(|_| self.error(name))?;
        let series = column
            .as_materialized_series()
            .cast(&DataType::UInt64)
            .map_err(|_| self.error(name))?;
        let ca = series.u64().map_err(|_| self.error(name))?;
        Ok(ca.iter().map(|v| v.unwrap_or(0)).collect())
    }

    /// A series-id column: the row of the window's names naming each row's series.
    pub fn series(&self, name: &str) -> Result<Vec<u32>, DetectError> {
        let column = self.frame.column(name).map_err(|_| self.error(name))?;
        let ca = column.u32().map_err(|_| self.error(name))?;
        Ok(match crate::window::plain_values(ca) {
            Some(plain) => plain.collect(),
            None => ca.iter().map(|v| v.unwrap_or(0)).collect(),
        })
    }

    /// The names of a series-keyed window's series, read as columns like its rows.
    pub fn series_names(&self, window: &'a WindowFrame) -> Result<Columns<'a>, DetectError> {
        let names = window
            .names
            .as_ref()
            .ok_or_else(|| self.error("series names"))?;
        Ok(Columns {
            frame: names,
            rule: self.rule,
            query: self.query,
        })
    }

    /// A timestamp column's value at one row as seconds since the epoch (NaN where null),
    /// without reading the column into a vector.
    pub fn seconds_at(&self, name: &str) -> Result<impl Fn(usize) -> f64 + 'a, DetectError> {
        let column = self.frame.column(name).map_err(|_| self.error(name))?;
        let physical = column
            .as_materialized_series()
            .to_physical_repr()
            .into_owned();
        let ca = physical.i64().map_err(|_| self.error(name))?.clone();
        Ok(move |row: usize| ca.get(row).map_or(f64::NAN, |ns| ns as f64 / 1e9))
    }

    /// A timestamp column as seconds since the epoch.
    pub fn seconds(&self, name: &str) -> Result<Vec<f64>, DetectError> {
        let column = self.frame.column(name).map_err(|_| self.error(name))?;
        let physical = column
            .as_materialized_series()
            .to_physical_repr()
            .into_owned();
        let ca = physical.i64().map_err(|_| self.error(name))?;
        Ok(ca
            .iter()
            .map(|v| v.map(|ns| ns as f64 / 1e9).unwrap_or(f64::NAN))
            .collect())
    }
}

/// A finding's entity from identity (key, value) pairs, leaving out empty values (entities
/// hold only the keys that apply).
pub fn entity(pairs: &[(&str, &str)]) -> Entity {
    Entity::new(pairs)
}

/// The workload named by a frame's `workload` text (`Kind/name`, "" when unknown).
pub fn workload(text: &str) -> Option<Workload> {
    text.parse().ok()
}

/// The first non-empty value of a column slice ("" when all are empty): an attribute that only
/// some of an entity's rows carry.
pub fn first_non_empty<'a>(values: &[&'a str]) -> &'a str {
    values.iter().copied().find(|v| !v.is_empty()).unwrap_or("")
}

/// Ranges of consecutive rows sharing the same key (the frame is sorted by its keys).
pub fn groups<K: PartialEq>(len: usize, key: impl Fn(usize) -> K) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=len {
        if i == len || key(i) != key(start) {
            if start < i {
                out.push(start..i);
            }
            start = i;
        }
    }
    out
}
