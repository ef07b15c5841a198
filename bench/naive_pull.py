#!/usr/bin/env python3
"""The Python script a data person would write to find growing container memory.

Pulls the raw `container.memory.working_set` samples for [since, until) from
ClickHouse's HTTP interface as ArrowStream, loads them into Polars, buckets the
time, takes max/min per (namespace, pod, pod_uid, container, bucket), and fits an
ordinary-least-squares slope of the bucket max over time for every series.

    python bench/naive_pull.py --url http://127.0.0.1:8123 --database otel \
        --since 2026-01-01T00:00:00Z --until 2026-01-01T06:00:00Z [--bucket 60]

Prints one JSON line: {"rows_fetched", "series", "fetch_s", "polars_s", "total_s",
"peak_rss_bytes"}.
fetch_s is the HTTP round trip including reading the whole body; polars_s is
everything after it (Arrow IPC decode, Polars conversion, group-bys, slopes).
Baseline for comparison with forewarn; deliberately plain, neither tuned nor crippled.
"""

import argparse
import base64
import json
import resource
import sys
import time
import urllib.parse
import urllib.request
from datetime import datetime, timezone

import polars as pl
import pyarrow as pa
import pyarrow.ipc

SERIES = ["namespace", "pod", "pod_uid", "container"]


def to_clickhouse_time(iso):
    """'2026-01-01T00:00:00Z' -> '2026-01-01 00:00:00.000000000' in UTC."""
    dt = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f") + "000"


def fetch_arrow(url, database, sql, user=None, password=None):
    full_url = url.rstrip("/") + "/?" + urllib.parse.urlencode({"database": database})
    req = urllib.request.Request(full_url, data=sql.encode(), method="POST")
    if user is not None:
        token = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(req, timeout=600) as resp:
        return resp.read()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--database", default="default")
    ap.add_argument("--since", required=True, help="ISO 8601, UTC if no offset")
    ap.add_argument("--until", required=True, help="ISO 8601, UTC if no offset")
    ap.add_argument("--bucket", type=int, default=60, help="bucket width in seconds")
    ap.add_argument("--user")
    ap.add_argument("--password")
    args = ap.parse_args()

    since = to_clickhouse_time(args.since)
    until = to_clickhouse_time(args.until)
    sql = f"""
        SELECT
            TimeUnix,
            ResourceAttributes['k8s.namespace.name'] AS namespace,
            ResourceAttributes['k8s.pod.name'] AS pod,
            ResourceAttributes['k8s.pod.uid'] AS pod_uid,
            ResourceAttributes['k8s.container.name'] AS container,
            Value
        FROM otel_metrics_gauge
        WHERE MetricName = 'container.memory.working_set'
          AND TimeUnix >= toDateTime64('{since}', 9, 'UTC')
          AND TimeUnix < toDateTime64('{until}', 9, 'UTC')
        FORMAT ArrowStream
    """

    t0 = time.perf_counter()
    body = fetch_arrow(args.url, args.database, sql, args.user, args.password)
    t1 = time.perf_counter()

    table = pa.ipc.open_stream(body).read_all()
    df = pl.from_arrow(table)
    # Newer collector schemas store TimeUnix as plain DateTime, which arrives as UInt32 seconds.
    if df.schema["TimeUnix"].is_integer():
        df = df.with_columns(pl.from_epoch("TimeUnix", time_unit="s"))

    buckets = (
        df.with_columns(pl.col("TimeUnix").dt.truncate(f"{args.bucket}s").alias("bucket"))
        .group_by(SERIES + ["bucket"])
        .agg(pl.col("Value").max().alias("value_max"), pl.col("Value").min().alias("value_min"))
    )

    # OLS slope of the bucket max against time (bytes per second), per series.
    x = pl.col("bucket").dt.epoch("s").cast(pl.Float64)
    y = pl.col("value_max")
    slopes = (
        buckets.group_by(SERIES)
        .agg(
            pl.len().alias("buckets"),
            (((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum()).alias("slope"),
            pl.col("value_min").min().alias("min"),
            pl.col("value_max").max().alias("max"),
        )
        .sort("slope", descending=True, nulls_last=True)
    )
    t2 = time.perf_counter()

    print(json.dumps({
        "rows_fetched": df.height,
        "series": slopes.height,
        "fetch_s": round(t1 - t0, 3),
        "polars_s": round(t2 - t1, 3),
        "total_s": round(t2 - t0, 3),
        # ru_maxrss is KiB on Linux: the script's own peak, for the side-by-side report.
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
