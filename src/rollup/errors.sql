-- forewarn rollup: errors, one row per service and minute (queries/errors.sql's counts and the
-- opt-out label's greatest value, mergeable). {{logs_time_prune}} as in the window query.
SELECT
    toDateTime(toStartOfMinute(Timestamp), 'UTC') AS minute,
    ResourceAttributes[{cluster_attribute:String}] AS cluster,
    ResourceAttributes['k8s.namespace.name'] AS namespace,
    ServiceName AS service,
    max(ResourceAttributes[{opt_out_attribute:String}]) AS opt_out,
    count() AS total,
    countIf(SeverityNumber >= {error_severity_min:UInt8}
        OR (SeverityNumber = 0 AND has({error_severity_texts:Array(String)}, upper(SeverityText)))) AS errors,
    {version:UInt64} AS version
FROM {logs_table:Identifier}
WHERE {{logs_time_prune}}
  AND Timestamp >= {since:DateTime64(9)} AND Timestamp < {until:DateTime64(9)}
  AND ServiceName != ''
  AND LogAttributes[{canary_attribute:String}] = ''
GROUP BY minute, cluster, namespace, service
