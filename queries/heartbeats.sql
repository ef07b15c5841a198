-- forewarn window: heartbeats
-- Returns one row per canary, matcher and bucket:
--   bucket DateTime64(9,'UTC'), cluster, canary, matcher  String
--   beats UInt64                 heartbeat records in the bucket
--   first_seen_at, last_seen_at  DateTime64(9,'UTC') first and last beat in the bucket
-- A heartbeat is a log record that satisfies a canary matcher (src/source/canaries.rs); the first
-- matcher it satisfies names the canary (the matched attribute's value; the service name for
-- service and body matchers, else the matcher's label) and labels the row (`matcher`).
-- Matcher i looks at LogAttributes[key] (on 'log'), ResourceAttributes[key] ('resource'),
-- ServiceName ('service') or Body ('body'): non-empty and matching the regular expression.
-- Parameters (every query is bound the full set; see src/source/parameters.rs): since, until
--   DateTime64(9); bucket_s UInt32; logs_table Identifier; cluster_attribute String;
--   canary_match_on, canary_match_keys, canary_match_patterns, canary_match_labels Array(String).
SELECT
    toDateTime64(toStartOfInterval(Timestamp, toIntervalSecond({bucket_s:UInt32})), 9, 'UTC') AS bucket,
    cluster,
    if(hit_name != '', hit_name, {canary_match_labels:Array(String)}[hit]) AS canary,
    {canary_match_labels:Array(String)}[hit] AS matcher,
    count() AS beats,
    toDateTime64(min(Timestamp), 9, 'UTC') AS first_seen_at,
    toDateTime64(max(Timestamp), 9, 'UTC') AS last_seen_at
FROM
(
    SELECT
        Timestamp,
        ResourceAttributes[{cluster_attribute:String}] AS cluster,
        arrayMap(
            i -> multiIf(
                {canary_match_on:Array(String)}[i] = 'log', LogAttributes[{canary_match_keys:Array(String)}[i]],
                {canary_match_on:Array(String)}[i] = 'resource', ResourceAttributes[{canary_match_keys:Array(String)}[i]],
                {canary_match_on:Array(String)}[i] = 'service', toString(ServiceName),
                Body),
            arrayEnumerate({canary_match_on:Array(String)})) AS looked_at,
        arrayFirstIndex(
            i -> looked_at[i] != '' AND match(looked_at[i], {canary_match_patterns:Array(String)}[i]),
            arrayEnumerate({canary_match_on:Array(String)})) AS hit,
        if({canary_match_on:Array(String)}[hit] IN ('log', 'resource'), looked_at[hit], toString(ServiceName)) AS hit_name
    FROM {logs_table:Identifier}
    WHERE {{logs_time_prune}}
      AND Timestamp >= {since:DateTime64(9)} AND Timestamp < {until:DateTime64(9)}
)
WHERE hit > 0
GROUP BY bucket, cluster, canary, matcher
ORDER BY cluster, canary, bucket, matcher
