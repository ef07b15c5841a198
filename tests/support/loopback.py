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

With --tls it also makes a private CA and a certificate for 127.0.0.1/localhost (package
`cryptography`) and serves SMTP with required STARTTLS and SMTP over implicit TLS on two more
ports; each recorded message names the server that took it (plain, starttls, smtps).

On start it prints one JSON line: {"http_port": N, "smtp_port": M} (with --tls also
"starttls_port", "smtps_port" and "ca_pem"). It exits when its standard input closes, so it dies
with the test process that started it.

  loopback.py [--smtp-user USER --smtp-password PASSWORD] [--tls]
"""

import argparse
import asyncio
import datetime
import ipaddress
import json
import logging
import os
import ssl
import sys
import tempfile
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
    """aiosmtpd handler: keeps every message as it arrived, and which server took it."""

    def __init__(self, server_name):
        self.server_name = server_name

    async def handle_DATA(self, server, session, envelope):
        login = getattr(session.auth_data, "login", None)
        login = login.decode() if isinstance(login, bytes) else login
        with STORE.lock:
            STORE.messages.append({
                "server": self.server_name,
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


def start_smtp(server_name, user, password, tls_context=None, implicit_tls=False):
    """Runs one SMTP server on its own event loop thread; returns its port. With a TLS context,
    STARTTLS is required (or, with implicit_tls, TLS starts with the connection)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    port = {}

    def factory():
        kwargs = {"hostname": "forewarn-loopback", "auth_require_tls": False}
        if user is not None:
            kwargs["authenticator"] = authenticator(user, password)
            kwargs["auth_required"] = True
        if tls_context is not None and not implicit_tls:
            kwargs["tls_context"] = tls_context
            kwargs["require_starttls"] = True
        return SMTP(SmtpRecorder(server_name), **kwargs)

    def run():
        asyncio.set_event_loop(loop)
        ssl_context = tls_context if implicit_tls else None
        server = loop.run_until_complete(
            loop.create_server(factory, "127.0.0.1", 0, ssl=ssl_context))
        port["value"] = server.sockets[0].getsockname()[1]
        ready.set()
        loop.run_forever()

    threading.Thread(target=run, daemon=True).start()
    ready.wait()
    return port["value"]


def make_tls_context():
    """A private CA and a server certificate for 127.0.0.1 and localhost signed by it.
    Returns (server SSL context, the CA certificate as PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    valid = (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=1))
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "forewarn loopback test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0]).not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0]).not_valid_after(valid[1])
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory = tempfile.mkdtemp(prefix="forewarn-loopback-tls-")
    cert_file = os.path.join(directory, "server.pem")
    key_file = os.path.join(directory, "server.key")
    with open(cert_file, "wb") as f:
        f.write(leaf.public_bytes(serialization.Encoding.PEM))
    with open(key_file, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context, ca.public_bytes(serialization.Encoding.PEM).decode()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smtp-user")
    parser.add_argument("--smtp-password")
    parser.add_argument("--tls", action="store_true")
    args = parser.parse_args()
    # AUTH without TLS is what the tests want (loopback only), and refused handshakes are
    # what some tests provoke: keep both off stderr.
    warnings.filterwarnings("ignore")
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    http.daemon_threads = True
    threading.Thread(target=http.serve_forever, daemon=True).start()
    ports = {
        "http_port": http.server_address[1],
        "smtp_port": start_smtp("plain", args.smtp_user, args.smtp_password),
    }
    if args.tls:
        context, ca_pem = make_tls_context()
        ports["starttls_port"] = start_smtp("starttls", args.smtp_user, args.smtp_password, context)
        ports["smtps_port"] = start_smtp("smtps", args.smtp_user, args.smtp_password, context,
                                         implicit_tls=True)
        ports["ca_pem"] = ca_pem

    print(json.dumps(ports), flush=True)
    # Die with the parent: its end of our stdin closes when it exits.
    sys.stdin.read()
    os._exit(0)


if __name__ == "__main__":
    main()
