-- forewarn window: errors
-- Returns one row per service and bucket, from application logs:
--   bucket DateTime64(9,'UTC'), cluster, namespace, service  String
--   opt_out String  the opt-out label value of the service's pods (the greatest seen), "" if unset
--   total UInt64   log records of the service in the bucket
--   errors UInt64  records at or above error_severity_min, or with no severity number and a
--                  severity text in error_severity_texts (compared upper-case)
-- Canary heartbeats (records carrying the canary attribute) are not requests and are left out.
-- Parameters (every query is bound the full set; see src/source/parameters.rs): since, until
--   DateTime64(9); bucket_s UInt32; logs_table Identifier; cluster_attribute, canary_attribute,
--   opt_out_attribute String; error_severity_min UInt8; error_severity_texts Array(String)
--   (bound upper-cased).
-- {{logs_time_prune}} is replaced by the predicate on the sort key of the logs table's
-- generation (G1: TimestampTime, G2: toStartOfFiveMinutes(Timestamp)), so the primary key prunes.
SELECT
    toDateTime64(toStartOfInterval(Timestamp, toIntervalSecond({bucket_s:UInt32})), 9, 'UTC') AS bucket,
    ResourceAttributes[{cluster_attribute:String}] AS cluster,
    ResourceAttributes['k8s.namespace.name'] AS namespace,
    ServiceName AS service,
    max(ResourceAttributes[{opt_out_attribute:String}]) AS opt_out,
    count() AS total,
    countIf(SeverityNumber >= {error_severity_min:UInt8}
        OR (SeverityNumber = 0 AND has({error_severity_texts:Array(String)}, upper(SeverityText)))) AS errors
FROM {logs_table:Identifier}
WHERE {{logs_time_prune}}
  AND Timestamp >= {since:DateTime64(9)} AND Timestamp < {until:DateTime64(9)}
  AND ServiceName != ''
  AND LogAttributes[{canary_attribute:String}] = ''
GROUP BY bucket, cluster, namespace, service
ORDER BY cluster, namespace, service, bucket
