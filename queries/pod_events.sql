-- forewarn window: pod_events (joined into the restarts window)
-- Returns one row per pod and bucket with the Kubernetes event reasons that explain restarts:
--   bucket DateTime64(9,'UTC'), cluster, namespace, pod  String
--   backoff_events, oom_events, unhealthy_events, killing_events, failed_events  UInt64
-- Events arrive in three shapes (reference/telemetry.md §3), all read here:
--   k8s_events receiver: LogAttributes['k8s.event.reason'], object in ResourceAttributes;
--   k8sobjects watch: Body = {"type": …, "object": Event}; ClickStack: LogAttributes['object'].
-- Both core/v1 (involvedObject) and events.k8s.io/v1 (regarding) objects are understood.
-- The reasons each count column counts are bound from Rust (src/window/vocabulary.rs), the
-- single list the Parquet twin reads too.
-- Parameters (every query is bound the full set; see src/source/parameters.rs): since, until
--   DateTime64(9); bucket_s UInt32; logs_table Identifier; cluster_attribute String;
--   event_reasons, backoff_reasons, oom_reasons, unhealthy_reasons, killing_reasons,
--   failed_reasons Array(String).
SELECT
    toDateTime64(toStartOfInterval(Timestamp, toIntervalSecond({bucket_s:UInt32})), 9, 'UTC') AS bucket,
    cluster,
    namespace,
    pod,
    countIf(reason IN {backoff_reasons:Array(String)}) AS backoff_events,
    countIf(reason IN {oom_reasons:Array(String)}) AS oom_events,
    countIf(reason IN {unhealthy_reasons:Array(String)}) AS unhealthy_events,
    countIf(reason IN {killing_reasons:Array(String)}) AS killing_events,
    countIf(reason IN {failed_reasons:Array(String)}) AS failed_events
FROM (
    SELECT
        Timestamp,
        ResourceAttributes[{cluster_attribute:String}] AS cluster,
        LogAttributes['k8s.event.reason'] != '' AS from_receiver,
        if(LogAttributes['object'] != '', LogAttributes['object'], JSONExtractRaw(Body, 'object')) AS object,
        if(from_receiver, LogAttributes['k8s.event.reason'], JSONExtractString(object, 'reason')) AS reason,
        if(from_receiver, LogAttributes['k8s.namespace.name'],
           if(JSONHas(object, 'involvedObject'), JSONExtractString(object, 'involvedObject', 'namespace'),
              JSONExtractString(object, 'regarding', 'namespace'))) AS namespace,
        if(from_receiver, ResourceAttributes['k8s.object.kind'],
           if(JSONHas(object, 'involvedObject'), JSONExtractString(object, 'involvedObject', 'kind'),
              JSONExtractString(object, 'regarding', 'kind'))) AS kind,
        if(from_receiver, ResourceAttributes['k8s.object.name'],
           if(JSONHas(object, 'involvedObject'), JSONExtractString(object, 'involvedObject', 'name'),
              JSONExtractString(object, 'regarding', 'name'))) AS pod
    FROM {logs_table:Identifier}
    WHERE {{logs_time_prune}}
      AND Timestamp >= {since:DateTime64(9)} AND Timestamp < {until:DateTime64(9)}
      AND (LogAttributes['k8s.event.reason'] != ''
           OR LogAttributes['k8s.resource.name'] = 'events'
           OR LogAttributes['object'] != '')
)
WHERE kind = 'Pod' AND reason IN {event_reasons:Array(String)}
GROUP BY bucket, cluster, namespace, pod
ORDER BY cluster, namespace, pod, bucket
