#!/usr/bin/env python3
"""Self-test of tests/support/chserver.py (no pytest needed).

    .venv/bin/python tests/support/test_chserver.py

Starts the server on port 0 in a temporary directory (once without and once with
--password), talks to it with urllib / http.client only, prints one line per check
and a closing 'N passed, N failed' line; exits non-zero if anything failed.
"""

import base64
import http.client
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "chserver.py")

try:
    from clickhouse_cityhash.cityhash import CityHash128
except Exception:
    CityHash128 = None


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
class ServerProcess:
    def __init__(self, *extra):
        self.dir = tempfile.mkdtemp(prefix="chserver-test-")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, SERVER, "--port", "0", "--data-dir", os.path.join(self.dir, "data"), *extra],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=open(os.path.join(self.dir, "server.log"), "wb"))
        line = self._readline_with_timeout(60)
        if not line.startswith(b"LISTENING "):
            self.stop()
            raise RuntimeError(f"server did not start: {line!r}\n{self.log()}")
        self.port = int(line.split()[1])
        self.startup_s = time.monotonic() - t0
        self.url = f"http://127.0.0.1:{self.port}/"

    def _readline_with_timeout(self, timeout):
        out = []
        t = threading.Thread(target=lambda: out.append(self.proc.stdout.readline()), daemon=True)
        t.start()
        t.join(timeout)
        return out[0] if out else b""

    def log(self):
        try:
            with open(os.path.join(self.dir, "server.log"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.final_log = self.log()
        shutil.rmtree(self.dir, ignore_errors=True)
        return rc


def request(base, sql=None, params=None, body=None, headers=None, method=None):
    """Returns (status, headers, body bytes). body may be bytes or an iterable of bytes (chunked)."""
    q = dict(params or {})
    if sql is not None:
        q["query"] = sql
    url = base + ("?" + urllib.parse.urlencode(q) if q else "")
    req = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def post(base, sql, params=None, headers=None):
    return request(base, params=params, body=sql.encode(), headers=headers, method="POST")


def multipart(fields):
    boundary = "clickhouse-rs-boundary-TESTBOUNDARY0001"
    out = bytearray()
    for name, value in fields.items():
        out += f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n".encode()
        out += value.encode() + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def rb_string(s):
    b = s.encode()
    return varint(len(b)) + b


def native_blocks(raw, block_size=100, method=0x82, good_checksum=True):
    import lz4.block
    out = bytearray()
    for off in range(0, len(raw), block_size):
        chunk = raw[off:off + block_size]
        payload = lz4.block.compress(chunk, store_size=False) if method == 0x82 else chunk
        header = struct.pack("<BII", method, len(payload) + 9, len(chunk))
        if CityHash128 is not None and good_checksum:
            h = CityHash128(header + payload)
            checksum = struct.pack("<QQ", h >> 64, h & 0xFFFFFFFFFFFFFFFF)
        else:
            checksum = b"\x01" * 16 if CityHash128 is not None else b"\0" * 16
        out += checksum + header + payload
    return bytes(out)


def in_pieces(data, n):
    """An iterable body: urllib sends it with Transfer-Encoding: chunked."""
    return iter([data[i:i + n] for i in range(0, len(data), n)])


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def exc_code(headers):
    return headers.get("X-ClickHouse-Exception-Code")


# ---------------------------------------------------------------------------
# checks against the server without a password
# ---------------------------------------------------------------------------
T0_NS = 1_767_225_600_000_000_000  # 2026-01-01 00:00:00 UTC


def t_ping(s):
    st, h, b = request(s.url + "ping")
    check(st == 200 and b == b"Ok.\n", (st, b))
    st, h, b = request(s.url)
    check(st == 200 and b == b"Ok.\n", (st, b))


def t_create(s):
    st, h, b = post(s.url, "CREATE DATABASE IF NOT EXISTS fw")
    check(st == 200, (st, b))
    st, h, b = post(s.url, "CREATE TABLE fw.m (ts DateTime64(9), name LowCardinality(String), "
                           "v Float64, n UInt32) ENGINE = MergeTree ORDER BY (name, ts)")
    check(st == 200, (st, b))


def t_insert_jsoneachrow(s):
    rows = "".join(json.dumps({"ts": f"2026-01-01 00:00:{i:02d}.000000001", "name": "json",
                               "v": i * 1.5, "n": i}) + "\n" for i in range(10))
    # chunked request body, split at arbitrary points
    st, h, b = request(s.url, "INSERT INTO fw.m (ts, name, v, n) FORMAT JSONEachRow",
                       body=in_pieces(rows.encode(), 37), method="POST")
    check(st == 200, (st, b))
    summary = json.loads(h["X-ClickHouse-Summary"])
    check(summary["written_rows"] == "10", summary)
    # with database= and a Content-Length body
    st, h, b = request(s.url, "INSERT INTO m FORMAT JSONEachRow", params={"database": "fw"},
                       body=b'{"ts":"2026-01-01 00:01:00","name":"json2","v":1,"n":1}\n', method="POST")
    check(st == 200, (st, b))


def rowbinary_with_names_and_types(rows):
    out = bytearray(varint(4))
    for name in ("ts", "name", "v", "n"):
        out += rb_string(name)
    for typ in ("DateTime64(9)", "LowCardinality(String)", "Float64", "UInt32"):
        out += rb_string(typ)
    for ts, name, v, n in rows:
        out += struct.pack("<q", ts) + rb_string(name) + struct.pack("<d", v) + struct.pack("<I", n)
    return bytes(out)


def t_insert_native_lz4(s):
    rows = [(T0_NS + i * 15_000_000_000, "lz4", float(i), i) for i in range(1000)]
    raw = rowbinary_with_names_and_types(rows)
    body = native_blocks(raw, block_size=777)
    # what the clickhouse crate sends: decompress=1, chunked, RowBinaryWithNamesAndTypes
    st, h, b = request(s.url, "INSERT INTO `fw`.`m`(`ts`,`name`,`v`,`n`) FORMAT RowBinaryWithNamesAndTypes",
                       params={"decompress": "1"}, body=in_pieces(body, 1000), method="POST")
    check(st == 200, (st, b))
    check(json.loads(h["X-ClickHouse-Summary"])["written_rows"] == "1000", h["X-ClickHouse-Summary"])
    st, h, b = post(s.url, "SELECT count(), sum(n), min(ts), max(v) FROM fw.m WHERE name = 'lz4'")
    check(b == b"1000\t499500\t2026-01-01 00:00:00.000000000\t999\n", b)
    # uncompressed (method 0x02) blocks and plain RowBinary
    raw2 = b"".join(struct.pack("<q", T0_NS) + rb_string("none") + struct.pack("<dI", 2.5, 7) for _ in range(3))
    st, h, b = request(s.url, "INSERT INTO fw.m (ts, name, v, n) FORMAT RowBinary", params={"decompress": "1"},
                       body=native_blocks(raw2, 50, method=0x02), method="POST")
    check(st == 200, (st, b))
    st, h, b = post(s.url, "SELECT count() FROM fw.m WHERE name = 'none'")
    check(b == b"3\n", b)
    if CityHash128 is not None:
        st, h, b = request(s.url, "INSERT INTO fw.m (ts, name, v, n) FORMAT RowBinary", params={"decompress": "1"},
                           body=native_blocks(raw2, 50, good_checksum=False), method="POST")
        check(st == 500 and exc_code(h) == "40" and b.startswith(b"Code: 40."), (st, b))
        st, h, b = post(s.url, "SELECT count() FROM fw.m WHERE name = 'none'")
        check(b == b"3\n", ("bad-checksum insert must write nothing", b))
    # a truncated block is an error, not a silent partial insert
    st, h, b = request(s.url, "INSERT INTO fw.m (ts, name, v, n) FORMAT RowBinary", params={"decompress": "1"},
                       body=native_blocks(raw2, 50)[:-3], method="POST")
    check(st != 200 and exc_code(h) == "271", (st, b))


def t_select_formats(s):
    q = "SELECT n, name, v FROM fw.m WHERE name = 'json' ORDER BY n LIMIT 3"
    st, h, b = post(s.url, q)
    check(st == 200 and b == b"0\tjson\t0\n1\tjson\t1.5\n2\tjson\t3\n", b)
    check(h["X-ClickHouse-Format"] == "TabSeparated", h["X-ClickHouse-Format"])
    st, h, b = post(s.url, q, params={"default_format": "JSONEachRow"})
    check([json.loads(x)["n"] for x in b.splitlines()] == [0, 1, 2], b)
    check(h["X-ClickHouse-Format"] == "JSONEachRow", h["X-ClickHouse-Format"])
    st, h, b = post(s.url, q + " FORMAT CSV", params={"default_format": "JSONEachRow"})
    check(b == b'0,"json",0\n1,"json",1.5\n2,"json",3\n' and h["X-ClickHouse-Format"] == "CSV", b)
    st, h, b = post(s.url, q + " FORMAT JSON")
    check(json.loads(b)["rows"] == 3, b[:200])
    st, h, b = post(s.url, q, params={"default_format": "RowBinaryWithNamesAndTypes"})
    check(b.startswith(b"\x03\x01n\x04name\x01v\x06UInt32"), b[:40])
    st, h, b = post(s.url, q, params={"default_format": "Parquet"})
    check(b[:4] == b"PAR1", b[:10])
    st, h, b = post(s.url, "SELECT ts, name, v FROM fw.m ORDER BY ts, name", params={"default_format": "ArrowStream"})
    check(st == 200, (st, b[:200]))
    try:
        import pyarrow.ipc
    except ImportError:
        return
    table = pyarrow.ipc.open_stream(b).read_all()
    check(table.num_rows == 1014 and str(table.schema.field("ts").type) == "timestamp[ns, tz=Etc/UTC]",
          (table.num_rows, table.schema))


def t_summary(s):
    st, h, b = post(s.url, "SELECT count() FROM fw.m")
    check("X-ClickHouse-Summary" in h and h.get("X-ClickHouse-Query-Id"), dict(h))
    summary = json.loads(h["X-ClickHouse-Summary"])
    for k in ("read_rows", "read_bytes", "written_rows", "written_bytes", "total_rows_to_read",
              "result_rows", "result_bytes", "elapsed_ns"):
        check(isinstance(summary.get(k), str) and summary[k].isdigit(), (k, summary))
    st, h, b = post(s.url, "SELECT n FROM fw.m WHERE name = 'lz4'", params={"query_id": "my-query-1"})
    summary = json.loads(h["X-ClickHouse-Summary"])
    check(summary["result_rows"] == "1000" and int(summary["read_rows"]) >= 1000, summary)
    check(h["X-ClickHouse-Query-Id"] == "my-query-1", h["X-ClickHouse-Query-Id"])


def t_multipart_params(s):
    body, ctype = multipart({
        "query": "SELECT name, count() AS c FROM fw.m WHERE ts >= {since:DateTime64(9)} "
                 "AND name IN {names:Array(String)} GROUP BY name ORDER BY name",
        "param_since": "2026-01-01 00:00:05.000000000",
        "param_names": "['json','lz4','it''s']",
    })
    st, h, b = request(s.url, params={"default_format": "JSONEachRow"}, body=body,
                       headers={"Content-Type": ctype}, method="POST")
    check(st == 200, (st, b))
    got = [json.loads(x) for x in b.splitlines()]
    # json rows 5..9 (5) + lz4 rows whose ts >= 00:00:05 (all but the first: 999)
    check(got == [{"name": "json", "c": "5"}, {"name": "lz4", "c": "999"}] or
          got == [{"name": "json", "c": 5}, {"name": "lz4", "c": 999}], got)
    # escaped text form of a string parameter, in the URL this time
    st, h, b = post(s.url, "SELECT {s:String} AS s, {n:UInt8} + 1", params={"param_s": "a\\tb", "param_n": "41"})
    check(b == b"a\\tb\t42\n", b)


def t_readonly(s):
    st, h, b = post(s.url, "INSERT INTO fw.m (ts, name, v, n) VALUES (now64(9), 'ro', 1, 1)",
                    params={"readonly": "1"})
    check(st == 500 and exc_code(h) == "164" and b"(READONLY)" in b, (st, b))
    st, h, b = request(s.url, "INSERT INTO fw.m (ts, name, v, n) FORMAT JSONEachRow", params={"readonly": "1"},
                       body=b'{"ts":"2026-01-01 00:00:00","name":"ro","v":1,"n":1}\n', method="POST")
    check(st == 500 and exc_code(h) == "164", (st, b))
    st, h, b = post(s.url, "CREATE TABLE fw.ro (a UInt8) ENGINE = Memory", params={"readonly": "1"})
    check(st == 500 and exc_code(h) == "164", (st, b))
    st, h, b = post(s.url, "SELECT count() FROM fw.m WHERE name = 'ro'", params={"readonly": "1"})
    check(st == 200 and b == b"0\n", (st, b))
    # readonly=1 also forbids changing settings inside the query, as in real ClickHouse
    st, h, b = post(s.url, "SELECT 1 SETTINGS max_threads = 1", params={"readonly": "1"})
    check(st == 500 and exc_code(h) == "164", (st, b))
    # the restriction does not leak into the next request
    st, h, b = post(s.url, "INSERT INTO fw.m (ts, name, v, n) VALUES (now64(9), 'rw', 1, 1)")
    check(st == 200, (st, b))
    st, h, b = post(s.url, "SELECT getSetting('readonly')")
    check(b == b"0\n", b)
    # GET implies readonly=2 (real ClickHouse): reads work, writes do not
    st, h, b = request(s.url, "SELECT 1 + 1")
    check(st == 200 and b == b"2\n", (st, b))
    st, h, b = request(s.url, "CREATE TABLE fw.get (a UInt8) ENGINE = Memory")
    check(st == 500 and exc_code(h) == "164", (st, b))


def t_read_client_settings(s):
    """What forewarn's read client sends on every query."""
    read = {"readonly": "2", "max_execution_time": "60", "max_result_rows": "5000000",
            "result_overflow_mode": "throw", "database": "fw", "default_format": "RowBinaryWithNamesAndTypes"}
    body, ctype = multipart({"query": "SELECT count() AS c FROM m WHERE name = {name:String}",
                             "param_name": "lz4"})
    st, h, b = request(s.url, params=read, body=body, headers={"Content-Type": ctype}, method="POST")
    check(st == 200 and b == b"\x01\x01c\x06UInt64" + struct.pack("<Q", 1000), (st, b))
    st, h, b = post(s.url, "SELECT number FROM numbers(10)", params=dict(read, max_result_rows="3"))
    check(st == 500 and exc_code(h) == "396", (st, b))
    st, h, b = post(s.url, "INSERT INTO m (name) VALUES ('x')", params=read)
    check(st == 500 and exc_code(h) == "164", (st, b))
    # a SET readonly statement on the main session does not stick either
    post(s.url, "SET readonly = 1")
    st, h, b = post(s.url, "CREATE TABLE fw.after_ro (a UInt8) ENGINE = Memory")
    check(st == 200, (st, b))


def t_max_execution_time(s):
    t0 = time.monotonic()
    st, h, b = post(s.url, "SELECT sleepEachRow(0.5) FROM numbers(20)",
                    params={"max_execution_time": "1", "max_block_size": "1"})
    took = time.monotonic() - t0
    check(exc_code(h) == "159" and b.startswith(b"Code: 159.") and b"(TIMEOUT_EXCEEDED)" in b, (st, b))
    check(st == 408, st)
    check(took < 5, took)
    # the setting is gone afterwards, and no partial output leaks into the next result
    st, h, b = post(s.url, "SELECT 42")
    check(b == b"42\n", b)
    st, h, b = post(s.url, "SELECT getSetting('max_execution_time'), getSetting('max_block_size')")
    check(b.split(b"\t")[0] == b"0", b)


def t_settings_per_request(s):
    st, h, b = post(s.url, "SELECT toUInt64(5) AS x", params={"default_format": "JSONEachRow"})
    default = b
    flipped = "0" if b == b'{"x":"5"}\n' else "1"
    st, h, b = post(s.url, "SELECT toUInt64(5) AS x", params={"default_format": "JSONEachRow",
                                                               "output_format_json_quote_64bit_integers": flipped})
    check(st == 200 and b != default and b in (b'{"x":5}\n', b'{"x":"5"}\n'), (default, b))
    st, h, b = post(s.url, "SELECT toUInt64(5) AS x", params={"default_format": "JSONEachRow"})
    check(b == default, (default, b))
    # HTTP-protocol parameters are accepted and not treated as settings
    st, h, b = post(s.url, "SELECT 1", params={"compress": "0", "session_id": "x", "enable_http_compression": "1",
                                               "wait_end_of_query": "1", "send_progress_in_http_headers": "1"})
    check(st == 200 and b == b"1\n", (st, b))
    # an unknown parameter is an unknown setting, as in real ClickHouse
    st, h, b = post(s.url, "SELECT 1", params={"no_such_setting_xyz": "1"})
    check(st == 404 and exc_code(h) == "115", (st, b))
    # a SET statement does not stick to later requests
    post(s.url, "SET max_threads = 1")
    st, h, b = post(s.url, "SELECT changed FROM system.settings WHERE name = 'max_threads'")
    check(b == b"0\n", b)


def t_errors(s):
    st, h, b = post(s.url, "SELECT * FROM fw.does_not_exist")
    check(st == 404 and exc_code(h) == "60", (st, b))
    check(b.startswith(b"Code: 60. DB::Exception: ") and b.endswith(b"(UNKNOWN_TABLE) (version 26.9.2.1)\n")
          or b.startswith(b"Code: 60. DB::Exception: "), b)
    st, h, b = post(s.url, "SELECT * FROM nodb.t")
    check(st == 404 and exc_code(h) == "81", (st, b))
    st, h, b = post(s.url, "SELEC 1")
    check(st == 400 and exc_code(h) == "62", (st, b))
    st, h, b = post(s.url, "SELECT no_such_column")
    check(st == 404 and exc_code(h) == "47", (st, b))
    st, h, b = post(s.url, "SELECT 1", params={"database": "no_such_db"})
    check(st == 404 and exc_code(h) == "81", (st, b))
    st, h, b = request(s.url, "INSERT INTO fw.nope FORMAT JSONEachRow", body=b'{"a":1}\n', method="POST")
    check(st == 404 and exc_code(h) == "60", (st, b))
    st, h, b = request(s.url, "INSERT INTO fw.m (ts, name, v, n) FORMAT JSONEachRow",
                       body=b'{"ts":"bad","name":"x","v":1,"n":1}\n', method="POST")
    check(st in (400, 500) and exc_code(h) is not None, (st, b))
    # partial output of a query that failed mid-way never leaks into the next one
    post(s.url, "SELECT throwIf(number = 3) FROM numbers(20) SETTINGS max_block_size = 1")
    st, h, b = post(s.url, "SELECT 7")
    check(b == b"7\n", b)


def t_keep_alive(s):
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
    try:
        for i in range(3):
            conn.request("POST", "/?default_format=TabSeparated", body=f"SELECT {i}".encode())
            r = conn.getresponse()
            check(r.status == 200 and r.read() == f"{i}\n".encode(), i)
        conn.request("POST", "/", body=b"SELECT * FROM missing_table")
        r = conn.getresponse()
        check(r.status == 404 and r.read().startswith(b"Code: 60."), "error on a kept-alive connection")
        # chunked insert on the same connection
        conn.putrequest("POST", "/?" + urllib.parse.urlencode(
            {"query": "INSERT INTO fw.m (ts, name, v, n) FORMAT JSONEachRow"}))
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        for piece in (b'{"ts":"2026-01-02 00:00:00","name":"ka",', b'"v":1,"n":1}\n'):
            conn.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        conn.send(b"0\r\n\r\n")
        r = conn.getresponse()
        check(r.status == 200, (r.status, r.read()))
        r.read()
        conn.request("POST", "/", body=b"SELECT count() FROM fw.m WHERE name = 'ka'")
        r = conn.getresponse()
        check(r.read() == b"1\n", "count after chunked insert")
    finally:
        conn.close()


def t_compress_response(s):
    if CityHash128 is None:
        print("  (skipped: clickhouse-cityhash not installed)")
        return
    import lz4.block
    st, h, b = post(s.url, "SELECT number FROM numbers(5)", params={"compress": "1"})
    check(st == 200, (st, b))
    method = b[16]
    csize, rsize = struct.unpack_from("<II", b, 17)
    hsh = CityHash128(b[16:16 + csize])
    check(b[:16] == struct.pack("<QQ", hsh >> 64, hsh & 0xFFFFFFFFFFFFFFFF), "checksum")
    check(method == 0x82 and lz4.block.decompress(b[25:16 + csize], uncompressed_size=rsize) == b"0\n1\n2\n3\n4\n",
          b)


def t_concurrency(s):
    errors = []

    def worker(i):
        try:
            for j in range(5):
                st, h, b = post(s.url, f"SELECT {i * 100 + j}")
                if b != f"{i * 100 + j}\n".encode():
                    errors.append((i, j, st, b))
        except Exception as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(not errors, errors)


# ---------------------------------------------------------------------------
# checks against a server started with --password
# ---------------------------------------------------------------------------
AUTH_BODY = (b"Code: 516. DB::Exception: default: Authentication failed: password is incorrect, or there is no "
             b"user with such name. (AUTHENTICATION_FAILED) (version 26.9.2.1)\n")


def t_auth(s):
    st, h, b = post(s.url, "SELECT 1")
    check(st == 403 and exc_code(h) == "516" and b == AUTH_BODY, (st, b))
    st, h, b = post(s.url, "SELECT 1", headers={"X-ClickHouse-User": "default", "X-ClickHouse-Key": "wrong"})
    check(st == 403 and exc_code(h) == "516" and b == AUTH_BODY, (st, b))
    st, h, b = post(s.url, "SELECT 1", headers={"X-ClickHouse-User": "bob", "X-ClickHouse-Key": "s3cret"})
    check(st == 403 and exc_code(h) == "516" and b.startswith(b"Code: 516. DB::Exception: bob: "), (st, b))
    st, h, b = post(s.url, "SELECT 1", headers={"X-ClickHouse-User": "default", "X-ClickHouse-Key": "s3cret"})
    check(st == 200 and b == b"1\n", (st, b))
    st, h, b = post(s.url, "SELECT 2", params={"user": "default", "password": "s3cret"})
    check(st == 200 and b == b"2\n", (st, b))
    basic = base64.b64encode(b"default:s3cret").decode()
    st, h, b = post(s.url, "SELECT 3", headers={"Authorization": "Basic " + basic})
    check(st == 200 and b == b"3\n", (st, b))
    # an insert with a body is rejected too, and the connection stays usable
    st, h, b = request(s.url, "INSERT INTO t FORMAT JSONEachRow", body=b'{"a":1}\n', method="POST")
    check(st == 403 and exc_code(h) == "516", (st, b))
    st, h, b = request(s.url + "ping")
    check(st == 200 and b == b"Ok.\n", (st, b))


def main():
    passed, failed = 0, 0

    def run(name, fn, server):
        nonlocal passed, failed
        t0 = time.monotonic()
        try:
            fn(server)
            passed += 1
            print(f"ok   {name} ({time.monotonic() - t0:.2f}s)")
        except Exception:
            failed += 1
            print(f"FAIL {name}")
            traceback.print_exc(file=sys.stdout)
        sys.stdout.flush()

    s = ServerProcess()
    print(f"server up in {s.startup_s:.2f}s on port {s.port}")
    try:
        for name, fn in [
            ("ping", t_ping), ("create database and table", t_create),
            ("insert JSONEachRow (chunked)", t_insert_jsoneachrow),
            ("insert native-LZ4 RowBinary (decompress=1)", t_insert_native_lz4),
            ("select in several formats", t_select_formats), ("X-ClickHouse-Summary", t_summary),
            ("multipart with typed params", t_multipart_params), ("readonly=1", t_readonly),
            ("forewarn read-client settings", t_read_client_settings),
            ("max_execution_time -> 159", t_max_execution_time),
            ("settings are per request", t_settings_per_request), ("errors and statuses", t_errors),
            ("keep-alive", t_keep_alive), ("compress=1 response", t_compress_response),
            ("concurrent clients", t_concurrency),
        ]:
            run(name, fn, s)
    finally:
        rc = s.stop()
        if failed:
            print("---- server log ----")
            print(s.final_log)
    if rc != 0:
        failed += 1
        print(f"FAIL server exit code on SIGTERM: {rc}")
    else:
        passed += 1
        print("ok   SIGTERM exits 0")

    s = ServerProcess("--password", "s3cret")
    try:
        run("auth 516", t_auth, s)
        # like the Rust harness: closing the server's stdin pipe stops it
        s.proc.stdin.close()
        try:
            rc = s.proc.wait(15)
            ok = rc == 0
        except subprocess.TimeoutExpired:
            rc, ok = "still running", False
        if ok:
            passed += 1
            print("ok   stdin EOF exits 0")
        else:
            failed += 1
            print(f"FAIL stdin EOF: {rc}")
    finally:
        s.stop()

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
