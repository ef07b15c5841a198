-- forewarn window: errors, read from the rollup (the frame of queries/errors.sql).
SELECT
    toDateTime64(toStartOfInterval(minute, toIntervalSecond({bucket_s:UInt32})), 9, 'UTC') AS bucket,
    cluster,
    namespace,
    service,
    maxMerge(opt_out) AS opt_out,
    countMerge(total) AS total,
    countIfMerge(errors) AS errors
FROM {{errors}}
WHERE minute >= {since:DateTime64(9)} AND minute < {until:DateTime64(9)}
GROUP BY bucket, cluster, namespace, service
ORDER BY cluster, namespace, service, bucket
