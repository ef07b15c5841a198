-- forewarn window: heartbeats
-- Returns one row per canary and bucket:
--   bucket DateTime64(9,'UTC'), cluster, canary  String
--   beats UInt64                 heartbeat records in the bucket
--   first_seen_at, last_seen_at  DateTime64(9,'UTC') first and last beat in the bucket
-- A heartbeat is a log record carrying the canary attribute (LogAttributes[canary_attribute]).
-- Parameters (every query is bound the full set; see src/source/parameters.rs): since, until
--   DateTime64(9); bucket_s UInt32; logs_table Identifier; cluster_attribute,
--   canary_attribute String.
SELECT
    toDateTime64(toStartOfInterval(Timestamp, toIntervalSecond({bucket_s:UInt32})), 9, 'UTC') AS bucket,
    ResourceAttributes[{cluster_attribute:String}] AS cluster,
    LogAttributes[{canary_attribute:String}] AS canary,
    count() AS beats,
    toDateTime64(min(Timestamp), 9, 'UTC') AS first_seen_at,
    toDateTime64(max(Timestamp), 9, 'UTC') AS last_seen_at
FROM {logs_table:Identifier}
WHERE {{logs_time_prune}}
  AND Timestamp >= {since:DateTime64(9)} AND Timestamp < {until:DateTime64(9)}
  AND LogAttributes[{canary_attribute:String}] != ''
GROUP BY bucket, cluster, canary
ORDER BY cluster, canary, bucket
