#!/usr/bin/env python3
"""Loopback fakes of the systems forewarn notifies, speaking their real wire protocols.

One process serves, on 127.0.0.1 only:
  * HTTP (stdlib http.server): every path is accepted, so one port stands in for a Slack
    incoming webhook (`POST /slack/...` -> 200 `ok`), Alertmanager (`POST /api/v2/alerts`),
    a generic webhook and healthchecks.io pings (`/ping/<uuid>[/start|/fail]`). Every request
    is recorded: method, path, query, headers (in order), body.
  * SMTP (aiosmtpd, a real SMTP server with AUTH PLAIN/LOGIN): every message is recorded as the
    raw RFC 5322 text, with its envelope and the login used.

Each path can be scripted with a sequence of responses, then a response repeated forever:
  POST /_loopback/script {"path": "/slack/hook",
                          "responses": [{"status": 429, "headers": {"Retry-After": "1"}}],
                          "then": {"status": 200, "body": "ok"}}
Control API (same HTTP port, under /_loopback/):
  GET  /_loopback/requests   every recorded HTTP request (JSON list), oldest first
  GET  /_loopback/smtp       every recorded SMTP message (JSON list)
  POST /_loopback/script     set a path's script (see above)
  POST /_loopback/reset      forget records and scripts
Control requests are not recorded.

On start it prints one JSON line: {"http_port": N, "smtp_port": M}. It exits when its standard
input closes, so it dies with the test process that started it.

  loopback.py [--smtp-user USER --smtp-password PASSWORD]
"""

import argparse
import asyncio
import json
import logging
import os
import sys
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

CONTROL_PREFIX = "/_loopback/"
DEFAULT_RESPONSE = {"status": 200, "headers": {"Content-Type": "text/plain"}, "body": "ok"}


class Store:
    """Records and scripts, shared by the HTTP threads and the SMTP loop."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []
        self.messages = []
        self.scripts = {}  # path -> {"responses": [...], "then": {...}}

    def reset(self):
        with self.lock:
            self.requests.clear()
            self.messages.clear()
            self.scripts.clear()

    def next_response(self, path):
        with self.lock:
            script = self.scripts.get(path)
            if script is None:
                return DEFAULT_RESPONSE
            if script["responses"]:
                return script["responses"].pop(0)
            return script["then"]


STORE = Store()


def json_bytes(value):
    return json.dumps(value).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "forewarn-loopback/1"

    def log_message(self, format, *args):  # quiet: the test reads records, not logs
        pass

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reply(self, status, body=b"", headers=None):
        self.send_response(status)
        headers = dict(headers or {})
        headers.setdefault("Content-Type", "text/plain")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self):
        parts = urlsplit(self.path)
        body = self._body()
        if parts.path.startswith(CONTROL_PREFIX):
            return self._control(parts.path[len(CONTROL_PREFIX):], body)
        record = {
            "method": self.command,
            "path": parts.path,
            "query": parts.query,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body": body.decode("utf-8", "replace"),
            "received_at": time.time(),
        }
        with STORE.lock:
            STORE.requests.append(record)
        response = STORE.next_response(parts.path)
        delay_s = response.get("delay_s", 0)
        if delay_s:
            time.sleep(delay_s)
        self._reply(
            response.get("status", 200),
            response.get("body", "").encode(),
            response.get("headers"),
        )

    def _control(self, command, body):
        if self.command == "GET" and command == "requests":
            with STORE.lock:
                return self._reply(200, json_bytes(STORE.requests), {"Content-Type": "application/json"})
        if self.command == "GET" and command == "smtp":
            with STORE.lock:
                return self._reply(200, json_bytes(STORE.messages), {"Content-Type": "application/json"})
        if self.command == "POST" and command == "script":
            script = json.loads(body)
            with STORE.lock:
                STORE.scripts[script["path"]] = {
                    "responses": list(script.get("responses", [])),
                    "then": script.get("then", DEFAULT_RESPONSE),
                }
            return self._reply(200, b"scripted")
        if self.command == "POST" and command == "reset":
            STORE.reset()
            return self._reply(200, b"reset")
        return self._reply(404, b"unknown control command " + command.encode())

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle


class SmtpRecorder:
    """aiosmtpd handler: keeps every message as it arrived."""

    async def handle_DATA(self, server, session, envelope):
        login = getattr(session.auth_data, "login", None)
        login = login.decode() if isinstance(login, bytes) else login
        with STORE.lock:
            STORE.messages.append({
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "login": login,
                "data": envelope.original_content.decode("utf-8", "replace"),
            })
        return "250 Message accepted for delivery"


def authenticator(expected_user, expected_password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == expected_user
            and auth_data.password.decode() == expected_password
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data)
    return check


def start_smtp(user, password):
    """Runs the SMTP server on its own event loop thread; returns its port."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    port = {}

    def factory():
        kwargs = {"hostname": "forewarn-loopback", "auth_require_tls": False}
        if user is not None:
            kwargs["authenticator"] = authenticator(user, password)
            kwargs["auth_required"] = True
        return SMTP(SmtpRecorder(), **kwargs)

    def run():
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(loop.create_server(factory, "127.0.0.1", 0))
        port["value"] = server.sockets[0].getsockname()[1]
        ready.set()
        loop.run_forever()

    threading.Thread(target=run, daemon=True).start()
    ready.wait()
    return port["value"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smtp-user")
    parser.add_argument("--smtp-password")
    args = parser.parse_args()
    # AUTH without TLS is what the tests want (loopback only): keep its warnings off stderr.
    warnings.filterwarnings("ignore")
    logging.getLogger("mail.log").setLevel(logging.ERROR)

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    http.daemon_threads = True
    threading.Thread(target=http.serve_forever, daemon=True).start()
    smtp_port = start_smtp(args.smtp_user, args.smtp_password)

    print(json.dumps({"http_port": http.server_address[1], "smtp_port": smtp_port}), flush=True)
    # Die with the parent: its end of our stdin closes when it exits.
    sys.stdin.read()
    os._exit(0)


if __name__ == "__main__":
    main()
