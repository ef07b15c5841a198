-- forewarn window: trace_errors (the errors window computed from spans instead of logs)
-- Returns one row per service and bucket, same schema as errors.sql:
--   bucket DateTime64(9,'UTC'), cluster, namespace, service  String
--   opt_out String  the opt-out label value of the service's pods (the greatest seen), "" if unset
--   total UInt64   requests: server and consumer spans (the work a service was asked to do)
--   errors UInt64  of those, spans with status Error
-- SpanKind and StatusCode are written as `Server`/`Error` by current exporters and as
-- `SPAN_KIND_SERVER`/`STATUS_CODE_ERROR` by older ones; both spellings are in the lists bound
-- from Rust (src/window/vocabulary.rs).
-- Parameters (every query is bound the full set; see src/source/parameters.rs): since, until
--   DateTime64(9); bucket_s UInt32; traces_table Identifier; cluster_attribute,
--   opt_out_attribute String; request_span_kinds, error_status_codes Array(String).
SELECT
    toDateTime64(toStartOfInterval(Timestamp, toIntervalSecond({bucket_s:UInt32})), 9, 'UTC') AS bucket,
    ResourceAttributes[{cluster_attribute:String}] AS cluster,
    ResourceAttributes['k8s.namespace.name'] AS namespace,
    ServiceName AS service,
    max(ResourceAttributes[{opt_out_attribute:String}]) AS opt_out,
    count() AS total,
    countIf(StatusCode IN {error_status_codes:Array(String)}) AS errors
FROM {traces_table:Identifier}
WHERE Timestamp >= {since:DateTime64(9)} AND Timestamp < {until:DateTime64(9)}
  AND SpanKind IN {request_span_kinds:Array(String)}
  AND ServiceName != ''
GROUP BY bucket, cluster, namespace, service
ORDER BY cluster, namespace, service, bucket
