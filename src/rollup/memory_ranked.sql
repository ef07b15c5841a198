    -- The series of the memory rollup with a sample since the window's start, ranked in the
    -- memory window's series order (its names: cluster, namespace, pod, container, pod UID).
    -- Shared by memory_read.sql and memory_names_read.sql, so the rank keys both alike.
    SELECT
        pod_uid,
        container,
        cluster,
        namespace,
        pod,
        node,
        workload,
        row_number() OVER (ORDER BY cluster, namespace, pod, container, pod_uid) AS series_rank
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
    )
