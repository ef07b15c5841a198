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
        Ok(self.float_rows(name)?.rows(0..self.frame.height()))
    }

    /// A column cast to `dtype` (a no-op where it has that type already).
    fn cast(&self, name: &str, dtype: &DataType) -> Result<Series, DetectError> {
        let column = self.frame.column(name).map_err(|_| self.error(name))?;
        column
            .as_materialized_series()
            .cast(dtype)
            .map_err(|_| self.error(name))
    }

    pub fn count(&self, name: &str) -> Result<Vec<u64>, DetectError> {
        let series = self.cast(name, &DataType::UInt64)?;
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

    /// A float column held whole, each series' values copied out of it alone.
    pub fn float_rows(&self, name: &str) -> Result<RowValues<Float64Type>, DetectError> {
        let series = self.cast(name, &DataType::Float64)?;
        let ca = series.f64().map_err(|_| self.error(name))?;
        Ok(RowValues::new(ca.clone()))
    }

    /// A timestamp column held whole, as nanoseconds since the epoch; see [`RowValues::seconds`].
    pub fn nanos_rows(&self, name: &str) -> Result<RowValues<Int64Type>, DetectError> {
        let column = self.frame.column(name).map_err(|_| self.error(name))?;
        let physical = column
            .as_materialized_series()
            .to_physical_repr()
            .into_owned();
        let ca = physical.i64().map_err(|_| self.error(name))?;
        Ok(RowValues::new(ca.clone()))
    }

    /// A timestamp column as seconds since the epoch (NaN where null).
    pub fn seconds(&self, name: &str) -> Result<Vec<f64>, DetectError> {
        Ok(self.nanos_rows(name)?.seconds(0..self.frame.height()))
    }
}

/// A numeric column read in place, chunk by chunk, from which a series' rows are copied out
/// alone. Reading them through a frame slice instead (a slice, a cast and a chunked iterator
/// per column and series) took the memory detector most of its time on a 10,000-series
/// window; a window decoded batch by batch has many chunks, which are not copied into one.
pub struct RowValues<T: PolarsNumericType> {
    chunks: Vec<T::Array>,
    /// The first row of each chunk.
    starts: Vec<usize>,
}

impl<T: PolarsNumericType> RowValues<T> {
    fn new(column: ChunkedArray<T>) -> RowValues<T> {
        let starts = column
            .chunk_lengths()
            .scan(0, |start, len| {
                let first = *start;
                *start += len;
                Some(first)
            })
            .collect();
        let chunks = column.downcast_iter().cloned().collect();
        RowValues { chunks, starts }
    }

    /// The values of `rows` (None where null).
    pub fn rows(&self, rows: std::ops::Range<usize>) -> Vec<Option<T::Native>> {
        let mut out = Vec::with_capacity(rows.len());
        let mut row = rows.start;
        let mut index = self
            .starts
            .partition_point(|&start| start <= row)
            .saturating_sub(1);
        while row < rows.end {
            let Some(chunk) = self.chunks.get(index) else {
                break;
            };
            let from = row - self.starts[index];
            let to = (rows.end - self.starts[index]).min(chunk.len());
            let values = &chunk.values()[from..to];
            match chunk.validity() {
                None => out.extend(values.iter().map(|v| Some(*v))),
                Some(valid) => out.extend(
                    values
                        .iter()
                        .zip(from..to)
                        .map(|(v, i)| valid.get_bit(i).then_some(*v)),
                ),
            }
            row += to - from;
            index += 1;
        }
        out
    }

    /// The value at one row (None where null).
    pub fn at(&self, row: usize) -> Option<T::Native> {
        self.rows(row..row + 1).pop().flatten()
    }
}

impl RowValues<Int64Type> {
    /// Nanosecond timestamps of `rows` as seconds since the epoch (NaN where null).
    pub fn seconds(&self, rows: std::ops::Range<usize>) -> Vec<f64> {
        self.rows(rows)
            .into_iter()
            .map(|ns| ns.map_or(f64::NAN, |ns| ns as f64 / 1e9))
            .collect()
    }

    /// The timestamp at one row as seconds since the epoch (NaN where null).
    pub fn seconds_at(&self, row: usize) -> f64 {
        self.at(row).map_or(f64::NAN, |ns| ns as f64 / 1e9)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_values_read_ranges_across_chunks_and_nulls() {
        let mut column =
            Float64Chunked::from_slice_options("v".into(), &[Some(1.0), None, Some(3.0)]);
        column
            .append(&Float64Chunked::from_slice("v".into(), &[4.0, 5.0]))
            .unwrap();
        assert_eq!(column.chunks().len(), 2);
        let whole: Vec<Option<f64>> = column.iter().collect();
        let values = RowValues::new(column);
        assert_eq!(values.rows(0..5), whole);
        assert_eq!(values.rows(1..4), vec![None, Some(3.0), Some(4.0)]);
        assert_eq!(values.rows(3..5), vec![Some(4.0), Some(5.0)]);
        assert_eq!(values.rows(2..2), Vec::<Option<f64>>::new());
        assert_eq!(values.at(1), None);
        assert_eq!(values.at(4), Some(5.0));
    }
}
