"""forewarn's own window queries (``queries/*.sql``) from a notebook.

The SQL is read from the repository's ``queries/`` files, never pasted into a notebook, and the
parameters are bound by the client (``clickhouse-connect`` server-side binding, so the values
travel as ``param_*``, never spliced into the text). The values themselves come from
``forewarn query NAME --parameters``: the binary prints exactly what it binds for a window, so a
notebook and a scheduled run read the same window the same way.

Connection and binary from the environment, with forewarn's own variable names:
``FOREWARN_CLICKHOUSE_URL`` (default http://localhost:8123), ``FOREWARN_CLICKHOUSE_USER``,
``FOREWARN_CLICKHOUSE_PASSWORD``, ``FOREWARN_CLICKHOUSE_DATABASE`` (the telemetry),
``FOREWARN_STATE_DATABASE`` (forewarn's own state, default ``forewarn``) and ``FOREWARN_BIN``
(default: ``forewarn`` on PATH).
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
from urllib.parse import urlparse

import clickhouse_connect
import polars as pl

REPO = pathlib.Path(__file__).resolve().parent.parent
QUERIES = REPO / "queries"
PRUNE_PLACEHOLDER = "{{logs_time_prune}}"


def client():
    """A clickhouse-connect client for the telemetry database named by the environment."""
    url = urlparse(os.environ.get("FOREWARN_CLICKHOUSE_URL", "http://localhost:8123"))
    return clickhouse_connect.get_client(
        host=url.hostname,
        port=url.port or (8443 if url.scheme == "https" else 8123),
        secure=url.scheme == "https",
        username=os.environ.get("FOREWARN_CLICKHOUSE_USER", "default"),
        password=os.environ.get("FOREWARN_CLICKHOUSE_PASSWORD", ""),
        database=os.environ.get("FOREWARN_CLICKHOUSE_DATABASE", "default"),
    )


def forewarn(*args: str) -> str:
    """Runs the forewarn binary and returns its stdout (stderr is shown on failure)."""
    binary = os.environ.get("FOREWARN_BIN", "forewarn")
    done = subprocess.run([binary, *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"forewarn {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def logs_generation(ch, logs_table: str = "otel_logs") -> str:
    """``g1`` when the logs table has the older ``TimestampTime`` column, else ``g2`` (what
    forewarn's own introspection decides)."""
    columns = ch.query(
        "SELECT name FROM system.columns WHERE database = {db:String} AND table = {t:String}",
        parameters={"db": ch.database, "t": logs_table},
    ).result_rows
    return "g1" if ("TimestampTime",) in columns else "g2"


def parameters(name: str, since: str, until: str, bucket: str = "1m") -> dict:
    """What forewarn binds for window ``name`` from ``since`` to ``until`` (RFC 3339)."""
    return json.loads(
        forewarn("query", name, "--since", since, "--until", until, "--bucket", bucket,
                 "--parameters")
    )


def sql(name: str, generation: str, described: dict) -> str:
    """``queries/NAME.sql`` with the logs pruning predicate of the table generation."""
    text = (QUERIES / f"{name}.sql").read_text()
    return text.replace(PRUNE_PLACEHOLDER, described["logs_time_prune"][generation])


def window(ch, name: str, since: str, until: str, bucket: str = "1m") -> pl.DataFrame:
    """The window frame forewarn's detectors read, as a Polars DataFrame."""
    described = parameters(name, since, until, bucket)
    values = {key: p["value"] for key, p in described["parameters"].items()}
    query = sql(name, logs_generation(ch, values["logs_table"]), described)
    return pl.from_arrow(ch.query_arrow(query, parameters=values))


def state_table(ch, table: str = "history") -> pl.DataFrame:
    """One of forewarn's own state tables (``history``: every run, finding, notification and
    action event), from ``FOREWARN_STATE_DATABASE``."""
    database = os.environ.get("FOREWARN_STATE_DATABASE", "forewarn")
    return pl.from_arrow(
        ch.query_arrow(
            "SELECT * FROM {db:Identifier}.{t:Identifier} ORDER BY seq",
            parameters={"db": database, "t": table},
        )
    )
