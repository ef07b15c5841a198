-- forewarn window: the names of the memory window's series, read from the rollups: one row per
-- series (cityHash64(pod UID, container), as memory_read.sql keys its rows) with the names
-- rollup_memory_names keeps and the greatest opt-out label its minutes in the window had (the
-- raw window's opt-out is its buckets' greatest, and a series opts out if any bucket does).
SELECT
    cityHash64(n.pod_uid, n.container) AS series_key,
    n.pod_uid AS pod_uid,
    n.container AS container,
    n.cluster AS cluster,
    n.namespace AS namespace,
    n.pod AS pod,
    n.node AS node,
    n.workload AS workload,
    w.opt_out AS opt_out
FROM (
    SELECT
        pod_uid,
        container,
        max(cluster) AS cluster,
        max(namespace) AS namespace,
        max(pod) AS pod,
        max(node) AS node,
        max(workload) AS workload
    FROM {{series}}
    GROUP BY pod_uid, container
    -- A series with a sample in the window was last seen inside or after it.
    HAVING max(last_seen) >= toStartOfMinute({since:DateTime64(9)})
) AS n
INNER JOIN (
    SELECT pod_uid, container, max(opt_out) AS opt_out
    FROM {{minutes}}
    WHERE minute >= {since:DateTime64(9)} AND minute < {until:DateTime64(9)}
      AND samples > 0
    GROUP BY pod_uid, container
) AS w
    ON w.pod_uid = n.pod_uid
   AND w.container = n.container
