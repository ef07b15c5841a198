//! Splicing a series-keyed window onto the previous one: a process that reads the same window
//! every few minutes (the daemon) keeps the rows the new window still holds and reads only the
//! buckets since, instead of the whole window again.
//!
//! The previous window's series were numbered in its own names; the new read keys its series
//! by its own `series_key`. Series meet by identity (pod UID and container), so a series that
//! left the window drops out and one that appeared arrives with the new rows.

use std::collections::HashMap;

use polars::prelude::*;
use time::OffsetDateTime;

use super::{
    bucket_nanos, column_exprs, keys, series_bucket_key, timefmt, FrameError, QueryKind,
    WindowFrame, SERIES_ROW_COLUMNS,
};

/// What identifies a series: (pod UID, container).
type Identity = (String, String);

/// A window kept for the next read to splice onto, with the one column of its read that the
/// frame itself does not keep (`carried`, row for row with the frame's rows).
#[derive(Debug, Clone)]
pub struct Previous {
    pub frame: WindowFrame,
    pub carried: Column,
}

/// The rows of a series-keyed read — `series_key`, the row columns, then `carry` — in
/// (`series_key`, bucket) order: `previous`'s rows whose bucket lies in `[since, keep_until)`,
/// keyed as `names` keys their series, merged with `fresh`, the rows the new read sent from
/// `keep_until` on (`None`: it sent none). `previous` is consumed a column at a time, so the
/// window is never held twice.
pub fn splice(
    query: QueryKind,
    previous: Previous,
    since: OffsetDateTime,
    keep_until: OffsetDateTime,
    fresh: Option<DataFrame>,
    names: &DataFrame,
    carry: &str,
) -> Result<DataFrame, FrameError> {
    let polars = |source| FrameError::Polars { query, source };
    let Previous {
        frame: WindowFrame {
            rows: mut old,
            names: old_names,
        },
        carried,
    } = previous;
    let old_names = old_names.ok_or_else(|| FrameError::Polars {
        query,
        source: PolarsError::NoData("the previous window has no series names".into()),
    })?;
    // The new key of each previous series, by identity.
    let new_key: HashMap<Identity, u64> = identities(names, "series_key")
        .map_err(polars)?
        .into_iter()
        .map(|(key, identity)| (identity, key))
        .collect();
    let mut renamed: Vec<Option<u64>> = Vec::new();
    for (series, identity) in identities(&old_names, "series").map_err(polars)? {
        let series = series as usize;
        if renamed.len() <= series {
            renamed.resize(series + 1, None);
        }
        renamed[series] = new_key.get(&identity).copied();
    }

    // The previous rows kept, in their order, and the fresh rows with their keys. Only row
    // numbers are held (a kept row's key is looked up when merging): at 1.8 M rows, pairs of
    // (key, row) for both sides and their merge had added 80 MB to a run's peak.
    let (since_ns, keep_ns) = (timefmt::to_nanos(since), timefmt::to_nanos(keep_until));
    let old_series = old
        .column("series")
        .map_err(polars)?
        .u32()
        .map_err(polars)?;
    let old_series: Vec<u32> = match keys::values(old_series) {
        Some(plain) => plain.collect(),
        None => old_series.iter().map(|s| s.unwrap_or(u32::MAX)).collect(),
    };
    let old_bucket = bucket_nanos(old.column("bucket").map_err(polars)?).map_err(polars)?;
    let key_of = |row: IdxSize| -> Option<u64> {
        renamed
            .get(old_series[row as usize] as usize)
            .copied()
            .flatten()
    };
    let keeps = |row: usize, bucket: i64| {
        bucket >= since_ns && bucket < keep_ns && key_of(row as IdxSize).is_some()
    };
    let mut kept: Vec<IdxSize> = match keys::values(&old_bucket) {
        Some(plain) => plain
            .enumerate()
            .filter(|(row, bucket)| keeps(*row, *bucket))
            .map(|(row, _)| row as IdxSize)
            .collect(),
        None => old_bucket
            .iter()
            .enumerate()
            .filter(|(row, bucket)| bucket.is_some_and(|b| keeps(*row, b)))
            .map(|(row, _)| row as IdxSize)
            .collect(),
    };
    let offset = old.height() as IdxSize;
    let fresh = typed_fresh(query, fresh, &old, carry)?;
    let fresh_keys = fresh
        .column("series_key")
        .map_err(polars)?
        .u64()
        .map_err(polars)?;
    let fresh_bucket = bucket_nanos(fresh.column("bucket").map_err(polars)?).map_err(polars)?;
    let mut arriving: Vec<(u64, IdxSize)> = fresh_keys
        .iter()
        .zip(fresh_bucket.iter())
        .enumerate()
        .filter_map(|(row, (key, bucket))| {
            Some((series_bucket_key(key?, bucket?), offset + row as IdxSize))
        })
        .collect();
    // In key order already unless a series' names changed its place: sorted only then. All
    // kept buckets come before all fresh ones, so within a series the kept rows go first.
    let kept_key = |row: IdxSize| key_of(row).unwrap_or(u64::MAX);
    if !kept.windows(2).all(|w| kept_key(w[0]) <= kept_key(w[1])) {
        let bucket_of = |row: IdxSize| old_bucket.get(row as usize).unwrap_or(0);
        kept.sort_by_key(|row| series_bucket_key(kept_key(*row), bucket_of(*row)));
    }
    if !arriving.windows(2).all(|w| w[0].0 < w[1].0) {
        arriving.sort_unstable();
    }
    let total = kept.len() + arriving.len();
    let (mut take, mut keys) = (Vec::with_capacity(total), Vec::with_capacity(total));
    let (mut a, mut b) = (kept.iter().peekable(), arriving.iter().peekable());
    loop {
        let from_kept = match (a.peek(), b.peek()) {
            (Some(row), Some((packed, _))) => kept_key(**row) <= packed >> 32,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if from_kept {
            let row = *a.next().expect("peeked");
            take.push(row);
            keys.push(kept_key(row));
        } else {
            let (packed, row) = *b.next().expect("peeked");
            take.push(row);
            keys.push(packed >> 32);
        }
    }
    drop((kept, arriving, old_series, old_bucket));
    let take = IdxCa::from_vec("take".into(), take);
    let keys = UInt64Chunked::from_vec("series_key".into(), keys);
    // Column by column: the previous column, then the fresh one after it, in the merged order.
    let mut columns = vec![keys.into_column()];
    let mut fresh = fresh;
    for name in SERIES_ROW_COLUMNS[1..]
        .iter()
        .map(|(name, _)| *name)
        .chain([carry])
    {
        let previous = if name == carry {
            carried.clone()
        } else {
            old.drop_in_place(name).map_err(polars)?
        };
        let mut joined = previous.as_materialized_series().clone();
        drop(previous);
        let arrived = fresh.drop_in_place(name).map_err(polars)?;
        joined
            .append(arrived.as_materialized_series())
            .map_err(polars)?;
        columns.push(joined.take(&take).map_err(polars)?.into_column());
    }
    drop(old);
    DataFrame::new_infer_height(columns).map_err(polars)
}

/// The new read's rows typed as the previous window's columns are (`series_key` as UInt64).
fn typed_fresh(
    query: QueryKind,
    fresh: Option<DataFrame>,
    old: &DataFrame,
    carry: &str,
) -> Result<DataFrame, FrameError> {
    let polars = |source| FrameError::Polars { query, source };
    let Some(fresh) = fresh else {
        let mut columns = vec![Column::new_empty("series_key".into(), &DataType::UInt64)];
        for (name, _) in &SERIES_ROW_COLUMNS[1..] {
            let dtype = old.column(name).map_err(polars)?.dtype().clone();
            columns.push(Column::new_empty((*name).into(), &dtype));
        }
        columns.push(Column::new_empty(carry.into(), &DataType::Boolean));
        return DataFrame::new_infer_height(columns).map_err(polars);
    };
    let mut exprs = vec![col("series_key").cast(DataType::UInt64)];
    exprs.extend(column_exprs(query, &fresh, &SERIES_ROW_COLUMNS[1..])?);
    exprs.push(col(carry).cast(DataType::Boolean));
    let typed = fresh.lazy().select(exprs).collect().map_err(polars)?;
    // The previous window's columns went through the same typing: the dtypes agree (a column
    // of nulls aside, which takes the previous one's).
    let mut columns = Vec::with_capacity(typed.width());
    for column in typed.into_columns() {
        let dtype = match old.column(column.name()) {
            Ok(previous) => previous.dtype().clone(),
            Err(_) => column.dtype().clone(),
        };
        columns.push(column.cast(&dtype).map_err(polars)?);
    }
    DataFrame::new_infer_height(columns).map_err(polars)
}

/// (key, identity) of each named series of a read's or a window's names, the key being the
/// integer column `key` (`series_key` of a read, `series` of a window).
fn identities(names: &DataFrame, key: &str) -> PolarsResult<Vec<(u64, Identity)>> {
    let keys = names.column(key)?.cast(&DataType::UInt64)?;
    let pods = names.column("pod_uid")?.str()?.clone();
    let containers = names.column("container")?.str()?.clone();
    Ok(keys
        .u64()?
        .iter()
        .zip(pods.iter().zip(containers.iter()))
        .filter_map(|(key, (pod, container))| {
            Some((key?, (pod?.to_string(), container?.to_string())))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::{normalize_keyed_carrying, SERIES_NAME_COLUMNS};

    const MIN: i64 = 60;

    fn at(minute: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(minute * MIN).unwrap()
    }

    /// A rollup-style read: rows (series_key, minute, value) and names (series_key, pod UID).
    fn read(rows: &[(u64, i64, f64, bool)], names: &[(u64, &str)]) -> (DataFrame, DataFrame) {
        let buckets: Vec<i64> = rows.iter().map(|r| r.1 * MIN * 1_000_000_000).collect();
        let rows = df!(
            "series_key" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            "bucket" => buckets,
            "working_set_max_bytes" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            "working_set_min_bytes" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            "working_set_avg_bytes" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            "samples" => rows.iter().map(|_| 4u64).collect::<Vec<_>>(),
            "limit_bytes" => rows.iter().map(|_| Some(100.0)).collect::<Vec<_>>(),
            "request_bytes" => rows.iter().map(|_| None::<f64>).collect::<Vec<_>>(),
            "restart_count" => rows.iter().map(|_| Some(0.0)).collect::<Vec<_>>(),
            "matched" => rows.iter().map(|r| r.3).collect::<Vec<_>>(),
        )
        .unwrap()
        .lazy()
        .with_column(col("bucket").cast(DataType::Datetime(
            TimeUnit::Nanoseconds,
            Some(TimeZone::UTC),
        )))
        .collect()
        .unwrap();
        let mut columns = vec![Column::new(
            "series_key".into(),
            names.iter().map(|n| n.0).collect::<Vec<_>>(),
        )];
        for name in &SERIES_NAME_COLUMNS[1..] {
            let values: Vec<String> = names
                .iter()
                .map(|n| match *name {
                    "pod_uid" | "pod" => n.1.to_string(),
                    "container" => "app".to_string(),
                    _ => String::new(),
                })
                .collect();
            columns.push(Column::new((*name).into(), values));
        }
        (rows, DataFrame::new_infer_height(columns).unwrap())
    }

    /// The window of a read's rows (`typed`: a splice's, as the rollup reads them).
    fn window(rows: DataFrame, names: DataFrame, typed: bool) -> (WindowFrame, Column) {
        let (frame, carried) =
            normalize_keyed_carrying(QueryKind::Memory, rows, names, Some("matched"), typed)
                .unwrap();
        (frame, carried.unwrap())
    }

    #[test]
    fn a_spliced_window_equals_the_window_read_whole() {
        // Series a and b over minutes 0..6; then the window moves to 2..8: c appears at 6, a
        // leaves after 4, b goes on, and minute 5 of b arrived late (it changed).
        let before = [
            (1, 0, 10.0, true),
            (1, 1, 11.0, false),
            (1, 2, 12.0, false),
            (1, 3, 13.0, false),
            (1, 4, 14.0, false),
            (2, 0, 20.0, false),
            (2, 1, 21.0, false),
            (2, 2, 22.0, true),
            (2, 3, 23.0, false),
            (2, 4, 24.0, false),
            (2, 5, 25.0, false),
        ];
        let (rows, names) = read(&before, &[(1, "a"), (2, "b")]);
        let (frame, carried) = window(rows, names, false);
        // The new read ranks its series afresh: a=1, b=2, c=3.
        let after_names = [(1, "a"), (2, "b"), (3, "c")];
        let whole = [
            (1, 2, 12.0, false),
            (1, 3, 13.0, false),
            (1, 4, 14.0, false),
            (2, 2, 22.0, true),
            (2, 3, 23.0, false),
            (2, 4, 24.0, false),
            (2, 5, 25.5, false),
            (2, 6, 26.0, false),
            (2, 7, 27.0, true),
            (3, 6, 36.0, false),
            (3, 7, 37.0, false),
        ];
        let (whole_rows, whole_names) = read(&whole, &after_names);
        let (expected, expected_matched) = window(whole_rows, whole_names, false);
        // The fresh rows: from minute 5 on (the overlap re-reads 5).
        let fresh: Vec<_> = whole.iter().copied().filter(|r| r.1 >= 5).collect();
        let (fresh_rows, new_names) = read(&fresh, &after_names);
        let previous = Previous { frame, carried };
        let spliced = splice(
            QueryKind::Memory,
            previous.clone(),
            at(2),
            at(5),
            Some(fresh_rows),
            &new_names,
            "matched",
        )
        .unwrap();
        let (got, got_matched) = window(spliced, new_names.clone(), true);
        assert!(
            got.equals_missing(&expected),
            "spliced:\n{got}\nread whole:\n{expected}"
        );
        assert!(got_matched
            .as_materialized_series()
            .equals(expected_matched.as_materialized_series()));
        // Control: kept up to minute 6, the previous minute 5 of b stays, late row missed.
        let later: Vec<_> = whole.iter().copied().filter(|r| r.1 >= 6).collect();
        let (later_rows, _) = read(&later, &after_names);
        let stale = splice(
            QueryKind::Memory,
            previous,
            at(2),
            at(6),
            Some(later_rows),
            &new_names,
            "matched",
        )
        .unwrap();
        let (stale, _) = window(stale, new_names, true);
        assert_eq!(stale.height(), expected.height());
        assert!(!stale.equals_missing(&expected));
    }

    #[test]
    fn a_series_whose_place_in_name_order_changed_is_still_in_order() {
        let (rows, names) = read(
            &[(1, 0, 1.0, false), (1, 1, 1.0, false), (2, 0, 2.0, false)],
            &[(1, "a"), (2, "b")],
        );
        let (frame, carried) = window(rows, names, false);
        // Now "b" sorts first (its pod name became "0b"); keys: b=1, a=2.
        let new_names = [(2, "a"), (1, "0b")];
        let (fresh, mut names) = read(&[(1, 2, 2.5, false)], &new_names);
        // b's identity (pod UID) is unchanged: only its pod name moved it.
        names
            .with_column(Column::new("pod_uid".into(), ["a", "b"]))
            .unwrap();
        let spliced = splice(
            QueryKind::Memory,
            Previous { frame, carried },
            at(0),
            at(2),
            Some(fresh),
            &names,
            "matched",
        )
        .unwrap();
        let keys: Vec<u64> = spliced
            .column("series_key")
            .unwrap()
            .u64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert_eq!(keys, vec![1, 1, 2, 2]);
    }
}
