//! Walking a window's per-row keys without a hash or an `Option` per row: a read's rows come
//! in series order, so its keys come in runs, and a rollup's keys are ranks (small integers), so
//! a table indexed by key does what a map would. At 1.8 M rows, the per-row map lookups, the
//! group-by for `matched` and the `Option` iteration over many decoded chunks had been a third
//! of a daemon run's time.

use std::collections::HashMap;

use polars::prelude::*;

/// The values of a column without nulls, chunk by chunk as plain slices (`None` if it has
/// nulls: a null slot's value is arbitrary, so the caller walks `Option`s instead).
pub(crate) fn values<T: PolarsNumericType>(
    column: &ChunkedArray<T>,
) -> Option<impl Iterator<Item = T::Native> + '_> {
    (column.null_count() == 0).then(|| {
        column
            .downcast_iter()
            .flat_map(|chunk| chunk.values().iter().copied())
    })
}

/// The distinct non-null keys of `keys`, ascending.
pub(crate) fn distinct(keys: &UInt64Chunked) -> Vec<u64> {
    match values(keys) {
        Some(plain) => distinct_runs(plain),
        None => distinct_runs(keys.iter().flatten()),
    }
}

/// The distinct keys of the rows whose `flag` is set, ascending (a null flag is not set).
pub(crate) fn flagged(keys: &UInt64Chunked, flags: &BooleanChunked) -> Vec<u64> {
    let set = |(key, flag): (Option<u64>, Option<bool>)| key.filter(|_| flag == Some(true));
    match values(keys) {
        Some(plain) if flags.null_count() == 0 => distinct_runs(
            plain
                .zip(
                    flags
                        .downcast_iter()
                        .flat_map(|chunk| chunk.values().iter()),
                )
                .filter_map(|(key, flag)| flag.then_some(key)),
        ),
        _ => distinct_runs(keys.iter().zip(flags.iter()).filter_map(set)),
    }
}

/// `keys` distinct and ascending. Rows of one series are adjacent in a read: one entry per run
/// is kept before sorting, not one per row.
fn distinct_runs(keys: impl Iterator<Item = u64>) -> Vec<u64> {
    let mut out: Vec<u64> = Vec::new();
    for key in keys {
        if out.last() != Some(&key) {
            out.push(key);
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// A value per key, looked up by indexing where the keys are small (ranks), in a map otherwise
/// (a source whose keys are hashes).
pub(crate) struct KeyTable<V> {
    dense: Vec<Option<V>>,
    sparse: HashMap<u64, V>,
}

impl<V: Copy> KeyTable<V> {
    pub(crate) fn new(pairs: impl IntoIterator<Item = (u64, V)>) -> Self {
        let pairs: Vec<(u64, V)> = pairs.into_iter().collect();
        let greatest = pairs.iter().map(|(key, _)| *key).max().unwrap_or(0);
        // Dense only where the table stays within a small multiple of the pairs themselves.
        if greatest <= 4 * pairs.len() as u64 + 1024 {
            let mut dense = vec![None; greatest as usize + 1];
            for (key, value) in pairs {
                dense[key as usize] = Some(value);
            }
            Self {
                dense,
                sparse: HashMap::new(),
            }
        } else {
            Self {
                dense: Vec::new(),
                sparse: pairs.into_iter().collect(),
            }
        }
    }

    pub(crate) fn get(&self, key: u64) -> Option<V> {
        if self.dense.is_empty() {
            self.sparse.get(&key).copied()
        } else {
            self.dense.get(key as usize).copied().flatten()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_table_finds_small_and_hashed_keys_alike() {
        let ranks = KeyTable::new([(3, 'c'), (1, 'a'), (2, 'b')]);
        let hashes = KeyTable::new([(u64::MAX - 1, 'x'), (7, 'y')]);
        assert_eq!(
            [0, 1, 2, 3, 4, 99].map(|k| ranks.get(k)),
            [None, Some('a'), Some('b'), Some('c'), None, None]
        );
        assert_eq!(
            [u64::MAX - 1, 7, 8].map(|k| hashes.get(k)),
            [Some('x'), Some('y'), None]
        );
        // The two layouts: indexing for ranks, a map for hashes.
        assert!(!ranks.dense.is_empty() && hashes.dense.is_empty());
    }

    #[test]
    fn distinct_and_flagged_keys_span_chunks_and_skip_nulls() {
        let mut keys = UInt64Chunked::from_slice("k".into(), &[5, 5, 2]);
        keys.append(&UInt64Chunked::new(
            "k".into(),
            &[Some(2), None, Some(9), Some(5)],
        ))
        .unwrap();
        let flags = BooleanChunked::new(
            "f".into(),
            &[
                Some(false),
                Some(true),
                Some(false),
                Some(false),
                Some(true),
                None,
                Some(true),
            ],
        );
        assert_eq!(distinct(&keys), vec![2, 5, 9]);
        // 5 is flagged on its second row, 2 never, 9's flag is null, the null key is skipped.
        assert_eq!(flagged(&keys, &flags), vec![5]);
        assert!(values(&keys).is_none());
        let whole = UInt64Chunked::from_slice("k".into(), &[4, 1]);
        assert_eq!(values(&whole).unwrap().collect::<Vec<_>>(), vec![4, 1]);
    }
}
