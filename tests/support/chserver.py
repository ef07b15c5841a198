#!/usr/bin/env python3
"""A ClickHouse HTTP-interface test server backed by the real ClickHouse engine (chdb).

Usage:
    python tests/support/chserver.py --port 0 --data-dir DIR [--user default]
                                     [--password SECRET] [--host 127.0.0.1]

Once ready it prints exactly one line, ``LISTENING <port>``, to stdout (flushed).
Everything else goes to stderr. SIGTERM / SIGINT stop it cleanly (exit 0), and so
does EOF on stdin when stdin is a pipe (``--stdin-eof auto``, the default): the
Rust harness holds the pipe open, so the server dies with the test process.

What it speaks (the subset of ClickHouse's HTTP interface that clients use):

* ``GET /ping`` and ``GET /`` without a query -> ``Ok.\\n``.
* ``GET|POST /`` with the query in the ``query=`` URL parameter and/or the body
  (ClickHouse concatenates them: URL query, a newline, then the body). A
  ``multipart/form-data`` body (what the ``clickhouse`` crate sends whenever
  parameters are bound) carries ``query``, ``param_*`` and settings as fields.
* ``param_NAME=value`` -> typed ``{NAME:Type}`` placeholders.
* ``database=``, ``default_format=`` (else TabSeparated), ``query_id=``.
* Every other parameter is an engine setting for that request only (unknown
  names fail with 115 UNKNOWN_SETTING, as in real ClickHouse); HTTP-protocol
  parameters (compress, decompress, user, password, session_id, ...) are not.
* ``INSERT ... FORMAT F`` in the URL with the data in the body (also chunked
  request bodies) is streamed into the engine with ``Session.send_insert``;
  ``decompress=1`` bodies are ClickHouse native compressed blocks
  (LZ4 0x82, none 0x02, ZSTD 0x90), checksums verified when clickhouse-cityhash
  is installed. ``compress=1`` answers in native LZ4 blocks.
* ``--readonly-user NAME``: that user's requests run with readonly=2 (its settings
  profile), so every write or DDL fails with 164 READONLY as on a real server.
* Auth from X-ClickHouse-User/-Key headers, user/password params or HTTP Basic;
  when started with ``--password`` a mismatch is 403 + code 516 like real CH.
* Errors: the HTTP status real ClickHouse uses for the exception code
  (exceptionCodeToHTTPStatus), body ``Code: N. DB::Exception: ... (NAME)
  (version V)\\n``, header ``X-ClickHouse-Exception-Code: N``.

How per-request settings are applied (chdb has one session with sticky state):
``SET name = 'value'`` before the query and ``SET name = DEFAULT`` (or the
startup value) after it. ``readonly`` cannot be undone with SET once it is 1 or 2
(the engine refuses to change it, like real ClickHouse), so it is SET last and
the user's query really runs read-only; such requests therefore run in a throw-away
chdb session opened next to the main one on the same data directory (same engine,
about 1.5 ms) and closed afterwards. GET requests get readonly=2 as in real
ClickHouse.

chdb quirk worked around here: after a query fails part-way, the partial output
of the failed query is prepended to the *next* query's result. The server runs
a throw-away ``SELECT 1`` (format Null) after every engine error to drain it.
"""

import argparse
import base64
import hmac
import json
import logging
import os
import re
import signal
import socket
import stat
import struct
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

log = logging.getLogger("chserver")

try:  # optional: ClickHouse's CityHash128 (v1.0.2) for native-block checksums
    from clickhouse_cityhash.cityhash import CityHash128 as _CityHash128
except Exception:  # pragma: no cover - depends on the environment
    _CityHash128 = None

# ---------------------------------------------------------------------------
# Error codes and the HTTP status real ClickHouse maps them to
# (src/Server/HTTP/exceptionCodeToHTTPStatus.cpp)
# ---------------------------------------------------------------------------
_HTTP_STATUS_GROUPS = {
    401: [194],  # REQUIRED_PASSWORD
    # UNKNOWN_USER, WRONG_PASSWORD, AUTHENTICATION_FAILED, SET_NON_GRANTED_ROLE, ACCESS_DENIED
    403: [192, 193, 516, 512, 497],
    # BAD_ARGUMENTS, CANNOT_COMPILE_REGEXP, CANNOT_PARSE_TEXT, CANNOT_PARSE_ESCAPE_SEQUENCE,
    # CANNOT_PARSE_QUOTED_STRING, CANNOT_PARSE_DATE, CANNOT_PARSE_DATETIME, CANNOT_PARSE_NUMBER,
    # CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING, CANNOT_PARSE_IPV4, CANNOT_PARSE_IPV6,
    # CANNOT_PARSE_INPUT_ASSERTION_FAILED, CANNOT_PARSE_UUID, DUPLICATE_COLUMN, ILLEGAL_COLUMN,
    # UNKNOWN_ELEMENT_IN_AST, UNKNOWN_TYPE_OF_AST_NODE, THERE_IS_NO_COLUMN, TOO_DEEP_AST,
    # TOO_BIG_AST, UNEXPECTED_AST_STRUCTURE, SYNTAX_ERROR, INCORRECT_DATA, TYPE_MISMATCH,
    # VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
    400: [36, 427, 6, 25, 26, 38, 41, 72, 441, 675, 676, 27, 376, 15, 44, 37, 123, 8, 167,
          168, 223, 62, 117, 53, 321],
    # UNKNOWN_TABLE, UNKNOWN_FUNCTION, UNKNOWN_IDENTIFIER, UNKNOWN_TYPE, UNKNOWN_STORAGE,
    # UNKNOWN_DATABASE, UNKNOWN_SETTING, UNKNOWN_DIRECTION_OF_SORTING,
    # UNKNOWN_AGGREGATE_FUNCTION, UNKNOWN_FORMAT, UNKNOWN_DATABASE_ENGINE,
    # UNKNOWN_TYPE_OF_QUERY, UNKNOWN_ROLE
    404: [60, 46, 47, 50, 56, 81, 115, 152, 63, 73, 336, 78, 511],
    413: [229],  # QUERY_IS_TOO_LARGE
    501: [48],  # NOT_IMPLEMENTED
    503: [209, 76, 439],  # SOCKET_TIMEOUT, CANNOT_OPEN_FILE, CANNOT_SCHEDULE_TASK
    411: [381],  # HTTP_LENGTH_REQUIRED
    408: [159],  # TIMEOUT_EXCEEDED
    415: [779],  # UNSUPPORTED_MEDIA_TYPE
}
HTTP_STATUS_FOR_CODE = {code: status for status, codes in _HTTP_STATUS_GROUPS.items() for code in codes}


def http_status_for(code):
    return HTTP_STATUS_FOR_CODE.get(code, 500)


ERROR_NAMES = {
    1: "UNSUPPORTED_METHOD", 27: "CANNOT_PARSE_INPUT_ASSERTION_FAILED", 40: "CHECKSUM_DOESNT_MATCH",
    48: "NOT_IMPLEMENTED", 62: "SYNTAX_ERROR", 73: "UNKNOWN_FORMAT", 89: "UNKNOWN_COMPRESSION_METHOD",
    115: "UNKNOWN_SETTING", 271: "CANNOT_DECOMPRESS", 516: "AUTHENTICATION_FAILED",
    1001: "STD_EXCEPTION",
}

# URL parameters that belong to the HTTP protocol, not to the engine's settings
# (HTTPHandler's reserved names plus those the brief lists).
PROTOCOL_PARAMS = {
    "query", "compress", "decompress", "user", "password", "quota_key", "query_id", "stacktrace",
    "role", "buffer_size", "wait_end_of_query", "session_id", "session_timeout", "session_check",
    "client_protocol_version", "close_session", "database", "default_format",
    "enable_http_compression", "http_zlib_compression_level", "send_progress_in_http_headers",
    "http_headers_progress_interval_ms", "http_response_buffer_size",
    "http_native_compression_disable_checksumming_on_decompress",
}

# Output formats that are Python-side conversions in chdb, not ClickHouse formats.
PYTHON_ONLY_FORMATS = {"arrowtable", "dataframe", "datastore", "debug"}

SETTING_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
FORMAT_TAIL_RE = re.compile(
    r"\bFORMAT\s+([A-Za-z_][A-Za-z0-9_]*)(\s+SETTINGS\s+[^;]*)?\s*;?\s*$", re.I | re.S)
# `input(` in an INSERT ... SELECT: the table function over the request body.
INPUT_FUNCTION_RE = re.compile(r"\binput\s*\(", re.I)
INSERT_HEAD_RE = re.compile(r"^\s*INSERT\b", re.I)
INSERT_FORMAT_TAIL_RE = re.compile(r"^(.*?)\s+FORMAT\s+([A-Za-z_][A-Za-z0-9_]*)\s*;?\s*$", re.I | re.S)
INSERT_VALUES_TAIL_RE = re.compile(r"^(.*?)\s+VALUES\s*$", re.I | re.S)
INSERT_FORMAT_BYTES_RE = re.compile(rb"^(\s*INSERT\b.*?)\s+FORMAT[ \t\r\n]+([A-Za-z_][A-Za-z0-9_]*)", re.I | re.S)
SET_STMT_RE = re.compile(r"(^|;)\s*SET\s", re.I)
LEADING_COMMENTS_RE = re.compile(r"^(\s+|--[^\n]*\n?|/\*.*?\*/)*", re.S)

MAX_BODY_CHUNK = 1 << 20
# Streaming INSERT bodies are buffered up to this size before the engine lock is
# taken (chdb accepts no other query while a streaming insert is open, so holding
# the lock while waiting on a slow client could starve or deadlock other requests).
INSERT_BUFFER_LIMIT = 64 << 20


class CHError(Exception):
    """A ClickHouse-style error: code + full message text."""

    def __init__(self, code, text):
        super().__init__(text)
        self.code = code
        self.text = text


def make_error(code, message, version):
    name = ERROR_NAMES.get(code, "UNKNOWN_EXCEPTION")
    return CHError(code, f"Code: {code}. DB::Exception: {message}. ({name}) (version {version})")


def normalise_engine_error(exc, version):
    """Turn a chdb exception into CHError with ClickHouse's exact text."""
    text = str(exc)
    m = re.search(r"Code: (\d+)\. ", text)
    if not m:
        return make_error(1001, text.strip() or exc.__class__.__name__, version)
    text = text[m.start():].rstrip()
    if "(version " not in text[-40:]:
        text += f" (version {version})"
    return CHError(int(m.group(1)), text)


def sql_str(value):
    """A ClickHouse single-quoted string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def sql_ident(name):
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def strip_leading_comments(sql):
    return sql[LEADING_COMMENTS_RE.match(sql).end():]


def content_type_for(fmt):
    f = fmt.lower()
    if f in ("tabseparated", "tsv", "tabseparatedraw", "tsvraw", "tabseparatedwithnames",
             "tsvwithnames", "tabseparatedwithnamesandtypes", "tsvwithnamesandtypes"):
        return "text/tab-separated-values; charset=UTF-8"
    if f.startswith("csv"):
        header = "present" if "withnames" in f else "absent"
        return f"text/csv; charset=UTF-8; header={header}"
    if f.startswith("json"):
        if "eachrow" in f or "lines" in f:
            return "application/x-ndjson; charset=UTF-8"
        return "application/json; charset=UTF-8"
    if f in ("xml",):
        return "application/xml; charset=UTF-8"
    if f.startswith("pretty") or f in ("vertical", "markdown", "values", "template", "null"):
        return "text/plain; charset=UTF-8"
    return "application/octet-stream"


# ---------------------------------------------------------------------------
# ClickHouse native compression framing
# ---------------------------------------------------------------------------
METHOD_NONE, METHOD_LZ4, METHOD_ZSTD = 0x02, 0x82, 0x90


def cityhash128_bytes(data):
    h = _CityHash128(data)
    # ClickHouse writes the UInt128 as (high 64 bits, low 64 bits), each little endian
    # (checked against .bin files the engine itself writes).
    return struct.pack("<QQ", h >> 64, h & 0xFFFFFFFFFFFFFFFF)


def compress_native_lz4(data, block_size=1 << 20):
    import lz4.block
    out = []
    for off in range(0, max(len(data), 1), block_size):
        raw = data[off:off + block_size]
        if not raw and off:
            break
        comp = lz4.block.compress(raw, store_size=False)
        header = struct.pack("<BII", METHOD_LZ4, len(comp) + 9, len(raw))
        checksum = cityhash128_bytes(header + comp) if _CityHash128 else b"\0" * 16
        out.append(checksum + header + comp)
        if not data:
            break
    return b"".join(out)


class NativeBlockDecoder:
    """Incremental decoder of ClickHouse native compressed blocks."""

    def __init__(self, version, verify=True):
        self.buf = bytearray()
        self.version = version
        self.verify = verify and _CityHash128 is not None

    def feed(self, data):
        self.buf += data
        out = []
        while len(self.buf) >= 25:
            method = self.buf[16]
            csize, rsize = struct.unpack_from("<II", self.buf, 17)
            if csize < 9 or csize > (1 << 30) or rsize > (1 << 30):
                raise make_error(271, f"Too large size of compressed block or corrupted header: "
                                      f"compressed {csize}, uncompressed {rsize}", self.version)
            if len(self.buf) < 16 + csize:
                break
            block = bytes(self.buf[16:16 + csize])
            if self.verify:
                expected = bytes(self.buf[:16])
                actual = cityhash128_bytes(block)
                if expected != actual:
                    raise make_error(
                        40, "Checksum doesn't match: corrupted data. Reference: "
                            f"{expected.hex()}. Actual: {actual.hex()}. Size of compressed block: {csize}",
                        self.version)
            del self.buf[:16 + csize]
            payload = block[9:]
            out.append(self._decompress(method, payload, rsize))
        return out

    def _decompress(self, method, payload, rsize):
        try:
            if method == METHOD_LZ4:
                import lz4.block
                return lz4.block.decompress(payload, uncompressed_size=rsize)
            if method == METHOD_NONE:
                return payload
            if method == METHOD_ZSTD:
                try:
                    import pyarrow as pa
                    return pa.Codec("zstd").decompress(payload, decompressed_size=rsize, asbytes=True)
                except ImportError:
                    raise make_error(89, "ZSTD-compressed blocks need pyarrow (or zstd support), "
                                         "which is not installed", self.version)
        except CHError:
            raise
        except Exception as e:  # corrupted payload
            raise make_error(271, f"Cannot decompress native block (method 0x{method:02x}): {e}",
                             self.version)
        raise make_error(89, f"Unknown compression method: 0x{method:02x}", self.version)

    def finish(self):
        if self.buf:
            raise make_error(271, f"Unexpected end of compressed data: {len(self.buf)} trailing bytes "
                                  "do not form a complete compressed block", self.version)


# ---------------------------------------------------------------------------
# The engine
# ---------------------------------------------------------------------------
def cluster_config(data_dir, cluster):
    """A server config defining `cluster` as one shard on this server, so the engine can host a
    Distributed table over itself. chdb listens on no port: <tcp_port> only tells the engine
    which replica addresses are itself, and a local replica is read and written in-process
    (prefer_localhost_replica). ON CLUSTER DDL stays refused (chdb runs no distributed DDL)."""
    path = os.path.join(data_dir, "cluster-config.xml")
    with open(path, "w") as f:
        f.write(f"""<clickhouse>
  <tcp_port>9000</tcp_port>
  <remote_servers>
    <{cluster}>
      <shard><replica><host>localhost</host><port>9000</port></replica></shard>
    </{cluster}>
  </remote_servers>
  <macros><shard>01</shard><replica>r1</replica></macros>
</clickhouse>
""")
    return f"{data_dir}?config-file={path}"


class Engine:
    def __init__(self, data_dir, session_path=None):
        from chdb.session import Session
        self._Session = Session
        self.data_dir = data_dir
        # What chdb opens: the data directory, with `?config-file=` when a config is given.
        self.session_path = session_path or data_dir
        self.lock = threading.Lock()
        self.session = Session(self.session_path)
        self.version = self._scalar("SELECT version()")
        self.timezone = self._scalar("SELECT timezone()")
        self.known_settings = set(self._raw("SELECT name FROM system.settings").decode().split("\n")) - {""}
        self.baseline = self._changed_settings()

    # -- low-level helpers (caller holds the lock) --
    def _raw(self, sql, fmt="TabSeparated", params=None):
        return self.session.query(sql, fmt, params=params).bytes()

    def _scalar(self, sql):
        return self._raw(sql).decode().strip()

    def _changed_settings(self):
        rows = self._raw("SELECT name, value FROM system.settings WHERE changed").decode().split("\n")
        out = {}
        for row in rows:
            if row:
                name, _, value = row.partition("\t")
                if name != "database":
                    out[name] = value.encode().decode("unicode_escape") if "\\" in value else value
        return out

    def drain(self, session=None):
        """Swallow the partial output a failed query leaves behind (chdb quirk)."""
        try:
            (session or self.session).query("SELECT 1", "Null")
        except Exception:
            pass

    def reopen(self):
        """Replace the main session. The new one is opened before the old one is closed:
        closing the last open session shuts the engine down (~40 ms to bring it back),
        while opening one more next to a live one costs well under a millisecond."""
        old = self.session
        self.session = self._Session(self.session_path)
        try:
            old.close()
        except Exception as e:
            log.warning("closing session failed: %s", e)

    def close(self):
        try:
            self.session.close()
        except Exception:
            pass

    # -- per-request state --
    def prepare(self, database, settings, readonly):
        """USE + SET for one request; returns a token for restore(). Raises CHError.

        Requests with readonly=1/2 run in a throw-away session opened next to the main
        one (about 1.5 ms): the engine refuses to lower `readonly` again, as real
        ClickHouse does, so it is SET last there and the session is closed afterwards.
        Other requests use the main session with SET before and SET back after.
        """
        temp = readonly is not None and readonly.strip() not in ("", "0")
        session = self._Session(self.session_path) if temp else self.session
        token = {"session": session, "temp": temp, "applied": []}
        try:
            session.query(f"USE {sql_ident(database or 'default')}", "TabSeparated")
            for name, value in settings:
                if not SETTING_NAME_RE.match(name):
                    raise make_error(115, f"Unknown setting '{name}'", self.version)
                session.query(f"SET {name} = {sql_str(value)}", "TabSeparated")
                token["applied"].append(name)
            if readonly is not None:
                session.query(f"SET readonly = {sql_str(readonly)}", "TabSeparated")
        except CHError:
            self.restore(token, False)
            raise
        except Exception as e:
            err = normalise_engine_error(e, self.version)
            self.drain(session)
            self.restore(token, False)
            raise err
        return token

    def restore(self, token, check_all):
        if token["temp"]:
            try:
                token["session"].close()
            except Exception as e:
                log.warning("closing a per-request session failed: %s", e)
            return
        try:
            for name in token["applied"]:
                self._reset_setting(name)
            if check_all:  # the request ran a SET statement: undo whatever it changed
                now = self._changed_settings()
                if now.get("readonly", "0") != self.baseline.get("readonly", "0"):
                    self.reopen()
                    return
                for name in set(now) | set(self.baseline):
                    if now.get(name) != self.baseline.get(name):
                        self._reset_setting(name)
        except Exception as e:
            log.warning("restoring settings failed (%s); reopening the session", str(e).splitlines()[0])
            self.drain()
            self.reopen()

    def _reset_setting(self, name):
        if name in self.baseline:
            self.session.query(f"SET {name} = {sql_str(self.baseline[name])}", "TabSeparated")
        else:
            self.session.query(f"SET {name} = DEFAULT", "TabSeparated")


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------
class Request:
    """The URL (or form) parameters of one request; the last occurrence of a name wins."""

    def __init__(self, params):
        self.params = params


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def version_string(self):
        return "ClickHouse"

    # Never log the request line: it may carry password=...
    def log_request(self, code="-", size="-"):
        pass

    def log_message(self, fmt, *args):
        log.debug("%s - %s", self.client_address[0], fmt % args)

    # ---- body reading ----
    def iter_body(self):
        """Yield the request body in chunks (Content-Length or chunked); reads it fully."""
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ConnectionError("unexpected EOF in chunked body")
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while True:  # trailers
                        t = self.rfile.readline(65537)
                        if t in (b"\r\n", b"\n", b""):
                            break
                    return
                remaining = size
                while remaining:
                    data = self.rfile.read(min(remaining, MAX_BODY_CHUNK))
                    if not data:
                        raise ConnectionError("unexpected EOF in chunk")
                    remaining -= len(data)
                    yield data
                self.rfile.readline(3)  # CRLF after the chunk
        else:
            remaining = int(self.headers.get("Content-Length") or 0)
            while remaining > 0:
                data = self.rfile.read(min(remaining, MAX_BODY_CHUNK))
                if not data:
                    raise ConnectionError("unexpected EOF in body")
                remaining -= len(data)
                yield data

    def read_body(self):
        return b"".join(self.iter_body())

    def drain_body(self, it=None):
        try:
            for _ in (it if it is not None else self.iter_body()):
                pass
        except Exception:
            self.close_connection = True

    # ---- responses ----
    def send_bytes(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if isinstance(body, memoryview):
            body = body.cast("B") if body.format != "B" else body
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Keep-Alive", "timeout=10")
        self._headers_buffer.append(b"\r\n")
        if self.command == "HEAD":
            self.flush_headers()
        elif len(body) <= 256 * 1024:  # headers and a small body in one write
            self._headers_buffer.append(bytes(body))
            self.flush_headers()
        else:
            self.flush_headers()
            self.wfile.write(body)

    def send_error_text(self, err, query_id=None):
        body = (err.text.rstrip("\n") + "\n").encode("utf-8", "replace")
        headers = [("Content-Type", "text/plain; charset=UTF-8"),
                   ("X-ClickHouse-Exception-Code", str(err.code)),
                   ("X-ClickHouse-Server-Display-Name", self.server.display_name)]
        if query_id:
            headers.append(("X-ClickHouse-Query-Id", query_id))
        self.send_bytes(http_status_for(err.code), body, headers)

    # ---- verbs ----
    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def do_HEAD(self):
        self.handle_any()

    def handle_any(self):
        started = time.monotonic()
        try:
            path = urlsplit(self.path).path
            if path in ("/ping", "/replicas_status"):
                self.drain_body()
                self.send_bytes(200, b"Ok.\n", [("Content-Type", "text/html; charset=UTF-8")])
                return
            if path not in ("/", ""):
                self.drain_body()
                self.send_bytes(404, f"There is no handle {path}\n\nUse / or /ping for health checks.\n"
                                     "Send queries from your program with POST method or GET /?query=...\n"
                                .encode(), [("Content-Type", "text/plain; charset=UTF-8")])
                return
            self.handle_query(started)
        except (ConnectionError, BrokenPipeError, socket.timeout) as e:
            log.info("connection problem: %s", e)
            self.close_connection = True
        except Exception:
            log.exception("internal error")
            self.close_connection = True
            try:
                self.send_error_text(make_error(1001, "internal test-server error", self.server.engine.version))
            except Exception:
                pass

    def authenticate(self, req):
        srv = self.server
        user = self.headers.get("X-ClickHouse-User")
        password = self.headers.get("X-ClickHouse-Key")
        if user is None:
            user = req.params.get("user")
        if password is None:
            password = req.params.get("password")
        auth = self.headers.get("Authorization") or ""
        if auth.lower().startswith("basic ") and (user is None or password is None):
            try:
                u, _, p = base64.b64decode(auth[6:].strip()).decode().partition(":")
            except Exception:
                u, p = "", ""
            user = u if user is None else user
            password = p if password is None else password
        user = user or "default"
        password = password or ""
        if srv.password is None:
            return user, None
        ok = hmac.compare_digest(user.encode(), srv.user.encode()) & \
            hmac.compare_digest(password.encode(), srv.password.encode())
        if auth.lower().startswith("bearer "):
            ok = False
        if ok:
            return user, None
        return user, CHError(516, f"Code: 516. DB::Exception: {user}: Authentication failed: password is "
                                  "incorrect, or there is no user with such name. (AUTHENTICATION_FAILED) "
                                  f"(version {srv.engine.version})")

    def parse_multipart(self, body, ctype):
        m = re.search(r'boundary="?([^";]+)"?', ctype)
        if not m:
            raise make_error(36, "multipart/form-data without boundary", self.server.engine.version)
        boundary = b"--" + m.group(1).encode()
        fields = {}
        for part in body.split(boundary)[1:]:
            if part.startswith(b"--"):
                break
            part = part[2:] if part.startswith(b"\r\n") else part.lstrip(b"\n")
            head, sep, value = part.partition(b"\r\n\r\n")
            if not sep:
                head, sep, value = part.partition(b"\n\n")
            if value.endswith(b"\r\n"):
                value = value[:-2]
            elif value.endswith(b"\n"):
                value = value[:-1]
            disp = ""
            for line in head.decode("utf-8", "replace").splitlines():
                if line.lower().startswith("content-disposition:"):
                    disp = line
            nm = re.search(r'\bname="([^"]*)"', disp)
            if not nm:
                continue
            if re.search(r'\bfilename="', disp):
                raise make_error(48, "External data (file parts in multipart/form-data) is not supported "
                                     "by this test server", self.server.engine.version)
            fields[nm.group(1)] = value.decode("utf-8")
        return fields

    def handle_query(self, started):
        srv = self.server
        engine = srv.engine
        query_string = urlsplit(self.path).query
        params = dict(parse_qsl(query_string, keep_blank_values=True))
        req = Request(params)
        query_id = params.get("query_id") or str(uuid.uuid4())

        user, auth_err = self.authenticate(req)
        if auth_err is not None:
            self.drain_body()
            log.info("auth failed for user %r", user)
            self.send_error_text(auth_err, query_id)
            return

        if self.command in ("GET", "HEAD") and "query" not in params:
            self.drain_body()
            self.send_bytes(200, b"Ok.\n", [("Content-Type", "text/html; charset=UTF-8")])
            return

        ctype = self.headers.get("Content-Type") or ""
        body_iter = self.iter_body()
        if ctype.lower().startswith("multipart/form-data"):
            try:
                form = self.parse_multipart(b"".join(body_iter), ctype)
            except CHError as e:
                self.send_error_text(e, query_id)
                return
            for k, v in form.items():
                params[k] = v
            body_iter = iter(())
        qparam = params.get("query", "")

        # Split parameters into query parameters, settings and protocol parameters.
        qparams = {k[len("param_"):]: v for k, v in params.items() if k.startswith("param_")}
        settings = []
        readonly = None
        for k, v in params.items():
            if k.startswith("param_") or k in PROTOCOL_PARAMS:
                continue
            if k == "readonly":
                readonly = v
                continue
            settings.append((k, v))
        if self.command in ("GET", "HEAD") and (readonly is None or readonly == "0"):
            readonly = "2"  # real ClickHouse: GET implies readonly=2
        if user in getattr(srv, "readonly_users", ()) and (readonly is None or readonly == "0"):
            # A user whose settings profile has readonly=2: reads and settings, no writes or DDL
            # (the engine enforces it; a request cannot lower it, as in real ClickHouse).
            readonly = "2"
        database = params.get("database") or None
        default_format = params.get("default_format") or "TabSeparated"
        compress_out = params.get("compress") == "1"
        decoder = None
        if params.get("decompress") == "1":
            verify = params.get("http_native_compression_disable_checksumming_on_decompress", "0") in ("0", "false")
            decoder = NativeBlockDecoder(engine.version, verify=verify)

        def decoded(it):
            for chunk in it:
                if decoder is None:
                    yield chunk
                else:
                    yield from decoder.feed(chunk)
            if decoder is not None:
                decoder.finish()

        data_iter = decoded(body_iter)

        try:
            qp_stripped = strip_leading_comments(qparam)
            insert_m = None
            if INSERT_HEAD_RE.match(qp_stripped):
                insert_m = INSERT_FORMAT_TAIL_RE.match(qp_stripped)
                if insert_m is None:
                    vm = INSERT_VALUES_TAIL_RE.match(qp_stripped)
                    if vm is not None:
                        insert_m = (vm.group(1), "Values")
                else:
                    insert_m = (insert_m.group(1), insert_m.group(2))
            if insert_m is not None and INPUT_FUNCTION_RE.search(insert_m[0]):
                # INSERT ... SELECT ... FROM input('structure') FORMAT F: chdb's streaming insert
                # refuses it, so spool the body to a file and let the real engine run the same
                # SELECT over file(path, F, 'structure') — same data, same transformation.
                self.run_insert_select(insert_m[0], insert_m[1], data_iter, database, settings,
                                       readonly, query_id, compress_out, started)
                return
            if insert_m is not None:
                # INSERT header in the URL, data in the body: stream it.
                self.run_insert(insert_m[0], insert_m[1], data_iter, database, settings, readonly,
                                query_id, compress_out, started)
                return
            body = b"".join(data_iter)
            if qparam and body:
                full = qparam.encode() + b"\n" + body
            elif qparam:
                full = qparam.encode()
            else:
                full = body
            # INSERT ... FORMAT F <data> entirely in the body: split header and data.
            m = INSERT_FORMAT_BYTES_RE.match(full) if not qparams else None
            if m is not None and (b"'" in m.group(1) or re.search(rb"\bVALUES\b", m.group(1), re.I)):
                m = None  # the word FORMAT may sit inside a literal: let the engine parse it
            if m is not None and full[m.end():].strip() != b"":
                rest = full[m.end():]
                # ClickHouse skips whitespace up to and including the first newline after the format name.
                nl = re.match(rb"[ \t]*\r?\n?", rest)
                data = rest[nl.end():]
                header = m.group(1).decode("utf-8", "replace")
                self.run_insert(header, m.group(2).decode(), iter([data]), database, settings, readonly,
                                query_id, compress_out, started)
                return
            try:
                sql = full.decode("utf-8")
            except UnicodeDecodeError:
                raise make_error(62, "Query is not valid UTF-8", engine.version)
            if not sql.strip():
                raise make_error(62, "Empty query", engine.version)
            self.run_sql(sql, qparams, default_format, database, settings, readonly, query_id,
                         compress_out, started)
        except CHError as e:
            self.drain_body(body_iter)
            log.info("%s error %d in %.3fs: %s", query_id[:8], e.code, time.monotonic() - started,
                     e.text.splitlines()[0][:300] if e.text else "")
            self.send_error_text(e, query_id)

    def success(self, body, fmt, summary, query_id, compress_out, started, what):
        if compress_out:
            if _CityHash128 is None:
                raise make_error(48, "compress=1 needs the clickhouse-cityhash package "
                                     "(run scripts/install-test-deps.sh)", self.server.engine.version)
            body = compress_native_lz4(bytes(body))
        headers = [
            ("Content-Type", content_type_for(fmt)),
            ("X-ClickHouse-Server-Display-Name", self.server.display_name),
            ("X-ClickHouse-Query-Id", query_id),
            ("X-ClickHouse-Format", fmt),
            ("X-ClickHouse-Timezone", self.server.engine.timezone),
            ("X-ClickHouse-Summary", json.dumps({k: str(v) for k, v in summary.items()},
                                                separators=(",", ":"))),
        ]
        self.send_bytes(200, body, headers)
        log.info("%s ok %s %s in %.3fs", query_id[:8], what, fmt, time.monotonic() - started)

    def run_insert_select(self, header, fmt, data_iter, database, settings, readonly, query_id,
                          compress_out, started):
        spool_dir = os.path.join(self.server.engine.data_dir, "user_files")
        os.makedirs(spool_dir, exist_ok=True)
        path = os.path.join(spool_dir, f"insert-{query_id}.{fmt.lower()}")
        try:
            with open(path, "wb") as f:
                for chunk in data_iter:
                    f.write(chunk)
            replacement = f"file({sql_str(path)}, {sql_str(fmt)}, "
            sql = INPUT_FUNCTION_RE.sub(lambda _m: replacement, header, count=1)
            self.run_sql(sql, {}, "TabSeparated", database, settings, readonly, query_id,
                         compress_out, started)
        finally:
            try:
                os.remove(path)
            except OSError:
                pass

    def run_sql(self, sql, qparams, default_format, database, settings, readonly, query_id,
                compress_out, started):
        engine = self.server.engine
        fm = FORMAT_TAIL_RE.search(sql)
        fmt = fm.group(1) if fm else default_format
        if fmt.lower() in PYTHON_ONLY_FORMATS or default_format.lower() in PYTHON_ONLY_FORMATS:
            raise make_error(73, f"Unknown format {fmt}", engine.version)
        is_set = bool(SET_STMT_RE.search(strip_leading_comments(sql)))
        log.debug("%s sql: %s", query_id[:8], sql[:300].replace("\n", " "))
        with engine.lock:
            token = engine.prepare(database, settings, readonly)
            try:
                try:
                    res = token["session"].query(sql, default_format, params=qparams)
                except Exception as e:
                    engine.drain(token["session"])
                    raise normalise_engine_error(e, engine.version)
                if token["temp"] or res.size() == 0:
                    body = res.bytes()  # the per-request session is closed before sending
                else:
                    # a zero-copy view of the engine's result buffer (res stays alive until sent)
                    body = res.get_memview().view()
                summary = {
                    "read_rows": res.storage_rows_read(), "read_bytes": res.storage_bytes_read(),
                    "written_rows": res.rows_written(), "written_bytes": res.bytes_written(),
                    "total_rows_to_read": res.storage_rows_read(), "result_rows": res.rows_read(),
                    "result_bytes": len(body), "elapsed_ns": int(res.elapsed() * 1e9),
                }
            finally:
                engine.restore(token, is_set)
        self.success(body, fmt, summary, query_id, compress_out, started, "query")
        del body, res

    def run_insert(self, header, fmt, data_iter, database, settings, readonly, query_id,
                   compress_out, started):
        engine = self.server.engine
        log.debug("%s insert: %s FORMAT %s", query_id[:8], header[:200].replace("\n", " "), fmt)
        # Buffer (decoded) data until the body ends or INSERT_BUFFER_LIMIT is reached, then take
        # the engine lock and stream everything into Session.send_insert.
        buffered, size, exhausted = [], 0, False
        while size < INSERT_BUFFER_LIMIT:
            try:
                chunk = next(data_iter)
            except StopIteration:
                exhausted = True
                break
            buffered.append(chunk)
            size += len(chunk)
        t0 = time.monotonic()
        with engine.lock:
            token = engine.prepare(database, settings, readonly)
            try:
                try:
                    ins = token["session"].send_insert(header, fmt)
                except Exception as e:
                    engine.drain(token["session"])
                    raise normalise_engine_error(e, engine.version)
                try:
                    for chunk in buffered:
                        if chunk:
                            ins.append(chunk)
                    buffered = None
                    if not exhausted:
                        for chunk in data_iter:
                            if chunk:
                                ins.append(chunk)
                    res = ins.finish()
                except CHError:
                    self._cancel(ins, token["session"])
                    raise
                except Exception as e:
                    self._cancel(ins, token["session"])
                    raise normalise_engine_error(e, engine.version)
            finally:
                engine.restore(token, False)
        elapsed = time.monotonic() - t0
        summary = {
            "read_rows": 0, "read_bytes": 0, "written_rows": res.rows_written,
            "written_bytes": res.bytes_written, "total_rows_to_read": 0, "result_rows": res.rows_written,
            "result_bytes": res.bytes_written, "elapsed_ns": int((res.elapsed or elapsed) * 1e9),
        }
        self.success(b"", fmt, summary, query_id, compress_out, started,
                     f"insert {res.rows_written} rows")

    def _cancel(self, ins, session):
        try:
            ins.cancel()
        except Exception:
            pass
        self.server.engine.drain(session)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main(argv=None):
    ap = argparse.ArgumentParser(description="ClickHouse HTTP interface over chdb, for tests")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--user", default="default")
    ap.add_argument("--password", default=None)
    ap.add_argument("--readonly-user", action="append", default=[],
                    help="a user whose profile is readonly=2 (may read and change settings, "
                         "never write); repeatable")
    ap.add_argument("--cluster", default=None,
                    help="define this cluster name as one shard on this server (for tests of "
                         "Distributed tables)")
    ap.add_argument("--log-level", default=os.environ.get("CHSERVER_LOG", "INFO"))
    ap.add_argument("--stdin-eof", choices=("auto", "exit", "ignore"), default="auto",
                    help="exit when stdin reaches EOF: 'auto' does so when stdin is a pipe "
                         "(how the Rust test harness ties the server's life to the test process)")
    args = ap.parse_args(argv)

    logging.basicConfig(stream=sys.stderr, level=args.log_level.upper(),
                        format="%(asctime)s chserver %(levelname)s %(message)s")
    try:
        import chdb  # noqa: F401
        import lz4.block  # noqa: F401
    except ImportError as e:
        print(f"chserver: cannot import {e.name or e} ({e}); run scripts/install-test-deps.sh and use "
              "the virtualenv's python (default <repo>/.venv/bin/python)", file=sys.stderr)
        return 3
    if _CityHash128 is None:
        log.warning("clickhouse-cityhash not installed: native-block checksums are not verified "
                    "and compress=1 is refused")

    t0 = time.monotonic()
    os.makedirs(args.data_dir, exist_ok=True)
    session_path = cluster_config(args.data_dir, args.cluster) if args.cluster else None
    engine = Engine(args.data_dir, session_path)
    server = Server((args.host, args.port), Handler)
    server.engine = engine
    server.user = args.user
    server.password = args.password
    server.readonly_users = set(args.readonly_user)
    server.display_name = socket.gethostname() or "chserver"
    port = server.server_address[1]
    log.info("engine %s on %s ready in %.2fs; auth %s", engine.version, args.data_dir,
             time.monotonic() - t0, "on" if args.password is not None else "off")

    stopping = threading.Event()

    def stop(why):
        if not stopping.is_set():
            stopping.set()
            log.info("%s: shutting down", why)
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, lambda signum, _frame: stop(f"signal {signum}"))
    signal.signal(signal.SIGINT, lambda signum, _frame: stop(f"signal {signum}"))

    def watch_stdin():
        try:
            while os.read(0, 65536):
                pass
        except OSError:
            pass
        stop("stdin closed")

    try:
        stdin_is_pipe = stat.S_ISFIFO(os.fstat(0).st_mode)
    except OSError:
        stdin_is_pipe = False
    if args.stdin_eof == "exit" or (args.stdin_eof == "auto" and stdin_is_pipe):
        threading.Thread(target=watch_stdin, daemon=True).start()

    sys.stdout.write(f"LISTENING {port}\n")
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        if engine.lock.acquire(timeout=10):
            engine.close()
        log.info("stopped")
        sys.stderr.flush()
        sys.stdout.flush()
    # chdb's native teardown at interpreter exit can be slow; the data is already on disk.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
