-- forewarn window: the names of the memory window's series, read from the rollups: one row per
-- series, keyed by its rank as memory_read.sql keys its rows, with the names
-- rollup_memory_names keeps and the greatest opt-out label its minutes in the window had (the
-- raw window's opt-out is its buckets' greatest, and a series opts out if any bucket does).
-- Only minutes with a label are grouped: a minute's label comes from its working-set samples,
-- so such a minute has samples, and a series without one has none (""). A series ranked here
-- without rows in the window (samples of limits only) is dropped where forewarn numbers the
-- rows' series. Grouping every minute of the window instead took 70 of a daemon run's 400 ms.
WITH ranked AS (
{{ranked}}
)
SELECT
    n.series_rank AS series_key,
    n.pod_uid AS pod_uid,
    n.container AS container,
    n.cluster AS cluster,
    n.namespace AS namespace,
    n.pod AS pod,
    n.node AS node,
    n.workload AS workload,
    ifNull(w.label, '') AS opt_out
FROM ranked AS n
LEFT JOIN (
    SELECT pod_uid, container, max(opt_out) AS label
    FROM {{minutes}}
    WHERE minute >= {since:DateTime64(9)} AND minute < {until:DateTime64(9)}
      AND opt_out != ''
    GROUP BY pod_uid, container
) AS w
    ON w.pod_uid = n.pod_uid
   AND w.container = n.container
