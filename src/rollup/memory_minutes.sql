    -- forewarn rollup read: memory minutes as one-minute buckets (see memory_read.sql); the
    -- same columns as memory_buckets.sql, each minute row being its own bucket.
    SELECT
        pod_uid,
        container,
        minute AS bucket_start,
        working_set_max AS ws_max,
        working_set_min AS ws_min,
        working_set_sum AS working_set_total,
        samples AS sample_count,
        nullIf(limit_last.2, 0) AS limit_bytes,
        nullIf(request_last.2, 0) AS request_bytes,
        if(restart_samples = 0, NULL, restart_last.2) AS restart_count,
        spec_samples > 0 AS matched
    FROM {{minutes}}
    WHERE minute >= {rows_since:DateTime64(9)} AND minute < {until:DateTime64(9)}
      AND samples > 0
