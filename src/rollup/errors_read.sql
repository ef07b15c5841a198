-- forewarn window: errors, read from the rollup (the frame of queries/errors.sql, in its order).
SELECT
    bucket, cluster, namespace, service,
    opt_out_value AS opt_out, total_count AS total, error_count AS errors
FROM (
SELECT
    toDateTime64(toStartOfInterval(minute, toIntervalSecond({bucket_s:UInt32})), 9, 'UTC') AS bucket,
    cluster,
    namespace,
    service,
    max(opt_out) AS opt_out_value,
    sum(total) AS total_count,
    sum(errors) AS error_count
FROM {{errors}}
WHERE minute >= {since:DateTime64(9)} AND minute < {until:DateTime64(9)}
GROUP BY bucket, cluster, namespace, service
)
ORDER BY cluster, namespace, service, bucket
