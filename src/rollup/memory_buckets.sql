    -- forewarn rollup read: memory minutes merged into buckets of bucket_s (see memory_read.sql).
    SELECT
        pod_uid,
        container,
        toStartOfInterval(minute, toIntervalSecond({bucket_s:UInt32})) AS bucket_start,
        max(working_set_max) AS ws_max,
        min(working_set_min) AS ws_min,
        sum(working_set_sum) AS working_set_total,
        sum(samples) AS sample_count,
        nullIf(max(limit_last).2, 0) AS limit_bytes,
        nullIf(max(request_last).2, 0) AS request_bytes,
        if(sum(restart_samples) = 0, NULL, max(restart_last).2) AS restart_count,
        sum(spec_samples) > 0 AS matched
    FROM {{minutes}}
    WHERE minute >= {rows_since:DateTime64(9)} AND minute < {until:DateTime64(9)}
    GROUP BY pod_uid, container, bucket_start
    HAVING sample_count > 0
