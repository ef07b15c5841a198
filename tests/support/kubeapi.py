#!/usr/bin/env python3
"""A loopback Kubernetes API server for forewarn's remediation tests (Python stdlib only).

Usage:
    python3 tests/support/kubeapi.py [--port 0] [--host 127.0.0.1] [--token TOKEN]
                                     [--stdin-eof auto|exit|ignore]

Once ready it prints exactly one line, ``LISTENING <port>``, to stdout (flushed); everything
else goes to stderr. SIGTERM / SIGINT stop it, and so does EOF on stdin when stdin is a pipe
(the Rust harness holds the pipe, so the server dies with the test process) — the same launch
contract as tests/support/chserver.py.

What it speaks: the REST paths and JSON of the real API server for the objects remediation
touches, so the real ``kube`` client reaches it through a kubeconfig file.

* Discovery: ``/version``, ``/api``, ``/apis``, ``/api/v1``, ``/apis/{group}/{version}``.
* core/v1 pods; apps/v1 replicasets, deployments, statefulsets, daemonsets (with the
  ``/scale`` subresource on the first three, answered as an autoscaling/v1 Scale); batch/v1
  jobs, cronjobs; coordination.k8s.io/v1 leases. Verbs: get, list (``labelSelector`` with
  ``k=v``, ``k==v``, ``k!=v``, ``k``, ``!k``), create (POST), update (PUT), patch, delete.
* PATCH with ``application/merge-patch+json`` (RFC 7386) and
  ``application/strategic-merge-patch+json`` (maps merged, ``null`` deletes, lists with a merge
  key — containers, env, volumes, ... by ``name`` — merged by that key, ``$patch: delete`` /
  ``replace`` directives); other patch types are 415. A ``metadata.resourceVersion`` in a patch
  or a PUT body is a precondition: stale → 409 Conflict.
* Writes bump the global resourceVersion and, when ``spec`` changed, ``metadata.generation``.
  ``dryRun=All`` (query) validates and answers the would-be object, stores and bumps nothing.
* Validation like the real server's for what tests exercise: a Pod's spec may change only in
  container images (else 422 Invalid), scale replicas must be a non-negative integer, patch
  bodies must be JSON objects.
* Errors are real ``Status`` bodies (kind Status, status Failure, message, reason, details
  {name, group, kind}, code): 404 NotFound, 409 Conflict / AlreadyExists, 422 Invalid, 401.

Control API (never recorded):
* ``POST /_control/objects`` — seed objects: a JSON list (or ``{"items": [...]}``) of full
  objects with apiVersion and kind; uid defaults to a deterministic uuid5 of kind/ns/name.
* ``GET /_control/objects`` — every stored object; ``DELETE /_control/objects`` — drop them.
* ``POST /_control/fail`` — ``{"method", "path_regex", "status", "times", "user", "delay_s"}``:
  the next ``times`` (default 1) matching requests answer ``status`` (403 Forbidden with the
  message RBAC gives, 404, 409, 500, ...) without touching the store; ``delay_s`` delays the
  answer instead (for client timeouts) — with ``status`` too, it delays then fails.
* ``GET /_control/requests`` — every API request so far, in order: method, path, query (the
  raw query string), content_type, body (parsed JSON, else text, else null), authorized (the
  bearer token matched; the token itself is never recorded); ``DELETE`` clears the list.
"""

import argparse
import copy
import json
import logging
import os
import re
import signal
import stat
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

log = logging.getLogger("kubeapi")

# (group, version, plural) -> description. group "" is the core group under /api.
RESOURCES = {
    ("", "v1", "pods"): {"kind": "Pod", "scale": False},
    ("apps", "v1", "replicasets"): {"kind": "ReplicaSet", "scale": True},
    ("apps", "v1", "deployments"): {"kind": "Deployment", "scale": True},
    ("apps", "v1", "statefulsets"): {"kind": "StatefulSet", "scale": True},
    ("apps", "v1", "daemonsets"): {"kind": "DaemonSet", "scale": False},
    ("batch", "v1", "jobs"): {"kind": "Job", "scale": False},
    ("batch", "v1", "cronjobs"): {"kind": "CronJob", "scale": False},
    ("coordination.k8s.io", "v1", "leases"): {"kind": "Lease", "scale": False},
}
KIND_TO_RESOURCE = {(g, v, d["kind"]): (g, v, p) for (g, v, p), d in RESOURCES.items()}

# Strategic-merge keys of the list fields remediation patches touch (from the API's
# x-kubernetes-patch-merge-key annotations).
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "imagePullSecrets": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
    "ownerReferences": "uid",
    "conditions": "type",
    "hostAliases": "ip",
}

PATCH_TYPES = ("application/merge-patch+json", "application/strategic-merge-patch+json")
DEFAULT_USER = "system:serviceaccount:forewarn:forewarn"


class ApiError(Exception):
    """An API failure answered as a Status body."""

    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def body(self):
        status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": self.message, "reason": self.reason, "code": self.code}
        if self.details is not None:
            status["details"] = self.details
        return status


def qualified(group, plural):
    return f"{plural}.{group}" if group else plural


# ---------------------------------------------------------------------------
# Patches
# ---------------------------------------------------------------------------
def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge(target, patch, field=None):
    """Kubernetes strategic merge patch (the subset of directives real clients send)."""
    if isinstance(patch, dict):
        if patch.get("$patch") == "replace":
            return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
        if patch.get("$patch") == "delete":
            return None
        result = copy.deepcopy(target) if isinstance(target, dict) else {}
        for key, value in patch.items():
            if key.startswith("$setElementOrder/") or key == "$retainKeys":
                continue
            if value is None:
                result.pop(key, None)
            elif isinstance(value, list):
                result[key] = strategic_merge_list(result.get(key), value, key)
            else:
                merged = strategic_merge(result.get(key), value, key)
                if merged is None:
                    result.pop(key, None)
                else:
                    result[key] = merged
        return result
    return copy.deepcopy(patch)


def strategic_merge_list(target, patch, field):
    merge_key = MERGE_KEYS.get(field)
    if merge_key is None or not all(isinstance(item, dict) for item in patch):
        if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
            return [i for i in patch if not (isinstance(i, dict) and "$patch" in i)]
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, list) else []
    for item in patch:
        if item.get("$patch") == "replace":
            return [copy.deepcopy(i) for i in patch if i.get("$patch") != "replace"]
        if merge_key not in item:
            raise ApiError(422, "Invalid",
                           f"map: {item} does not contain declared merge key: {merge_key}")
        position = next((i for i, existing in enumerate(result)
                         if isinstance(existing, dict)
                         and existing.get(merge_key) == item[merge_key]), None)
        if item.get("$patch") == "delete":
            if position is not None:
                del result[position]
        elif position is None:
            result.append({k: v for k, v in item.items() if v is not None})
        else:
            result[position] = strategic_merge(result[position], item, field)
    return result


# ---------------------------------------------------------------------------
# Label selectors
# ---------------------------------------------------------------------------
def selector_matches(selector, labels):
    for term in filter(None, (t.strip() for t in (selector or "").split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = re.split("==?", term, maxsplit=1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


# ---------------------------------------------------------------------------
# The store
# ---------------------------------------------------------------------------
class Store:
    def __init__(self):
        self.lock = threading.RLock()
        self.objects = {}  # (group, plural, namespace, name) -> object
        self.revision = 100
        self.failures = []  # fail rules, consumed in order
        self.requests = []

    def next_revision(self):
        self.revision += 1
        return str(self.revision)

    def seed(self, obj):
        api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
        group, _, version = api_version.rpartition("/")
        key = KIND_TO_RESOURCE.get((group, version, kind))
        if key is None:
            raise ApiError(400, "BadRequest", f"no resource for {api_version} {kind}")
        group, version, plural = key
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            raise ApiError(422, "Invalid", f"{kind}: metadata.name: Required value")
        meta.setdefault("namespace", "default")
        meta.setdefault("uid", str(uuid.uuid5(uuid.NAMESPACE_URL,
                                              f"{kind}/{meta['namespace']}/{meta['name']}")))
        meta.setdefault("generation", 1)
        meta.setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
        meta["resourceVersion"] = self.next_revision()
        self.objects[(group, plural, meta["namespace"], meta["name"])] = obj
        return obj


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def pod_spec_without_images(spec):
    spec = copy.deepcopy(spec or {})
    for field in ("containers", "initContainers"):
        for container in spec.get(field) or []:
            container.pop("image", None)
    spec.pop("activeDeadlineSeconds", None)
    spec.pop("tolerations", None)
    return spec


def validate(group, plural, name, old, new):
    kind = RESOURCES[(group, "v1", plural)]["kind"]
    if new.get("metadata", {}).get("name") != name:
        raise ApiError(422, "Invalid", f'{kind} "{name}" is invalid: metadata.name: Invalid value: '
                                       f'"{new.get("metadata", {}).get("name")}": field is immutable',
                       {"name": name, "group": group, "kind": kind})
    if plural == "pods" and old is not None and \
            pod_spec_without_images(old.get("spec")) != pod_spec_without_images(new.get("spec")):
        raise ApiError(422, "Invalid",
                       f'Pod "{name}" is invalid: spec: Forbidden: pod updates may not change '
                       "fields other than `spec.containers[*].image`, "
                       "`spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, "
                       "`spec.tolerations` (only additions to existing tolerations)",
                       {"name": name, "group": group, "kind": kind})
    replicas = (new.get("spec") or {}).get("replicas")
    if replicas is not None and (not isinstance(replicas, int) or isinstance(replicas, bool)
                                 or replicas < 0):
        raise ApiError(422, "Invalid", f'{kind}.{group} "{name}" is invalid: spec.replicas: '
                                       f"Invalid value: {json.dumps(replicas)}: must be greater "
                                       "than or equal to 0",
                       {"name": name, "group": group, "kind": kind})


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------
PATH_RE = re.compile(
    r"^/(?:api/(?P<core_version>v1)|apis/(?P<group>[^/]+)/(?P<version>[^/]+))"
    r"(?:/namespaces/(?P<namespace>[^/]+))?/(?P<plural>[^/]+)"
    r"(?:/(?P<name>[^/]+)(?:/(?P<subresource>[^/]+))?)?$")

VERB_OF_METHOD = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch",
                  "DELETE": "delete"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kubeapi/1"

    def log_message(self, fmt, *args):  # route the access log to our logger
        log.debug("%s " + fmt, self.address_string(), *args)

    # -- plumbing ----------------------------------------------------------
    def send_json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def handle_any(self):
        url = urlsplit(self.path)
        raw = self.read_body()
        store = self.server.store
        if url.path.startswith("/_control/"):
            try:
                self.control(url.path, raw)
            except ApiError as e:
                self.send_json(e.code, e.body())
            return
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip() or None
        body = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        token = self.server.token
        authorized = token is None or self.headers.get("Authorization") == f"Bearer {token}"
        with store.lock:
            store.requests.append({"method": self.command, "path": url.path, "query": url.query,
                                   "content_type": content_type, "body": body,
                                   "authorized": authorized})
            rule = self.take_failure(url.path)
        try:
            if rule is not None and rule.get("delay_s"):
                time.sleep(float(rule["delay_s"]))
            if not authorized:
                raise ApiError(401, "Unauthorized", "Unauthorized")
            if rule is not None and rule.get("status"):
                raise self.injected(rule, url.path)
            code, answer = self.api(url.path, query, content_type, body)
        except ApiError as e:
            code, answer = e.code, e.body()
        try:
            self.send_json(code, answer)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

    # -- failure injection -------------------------------------------------
    def take_failure(self, path):
        for rule in self.server.store.failures:
            if rule["times"] <= 0:
                continue
            if rule.get("method") and rule["method"].upper() != self.command:
                continue
            if rule.get("path_regex") and not re.search(rule["path_regex"], path):
                continue
            rule["times"] -= 1
            return rule
        return None

    def injected(self, rule, path):
        status = int(rule["status"])
        m = PATH_RE.match(path)
        group = plural = name = namespace = sub = ""
        if m:
            group = m.group("group") or ""
            plural, name = m.group("plural"), m.group("name") or ""
            namespace, sub = m.group("namespace") or "", m.group("subresource") or ""
        resource = f"{plural}/{sub}" if sub else plural
        verb = VERB_OF_METHOD.get(self.command, self.command.lower())
        if verb == "get" and not name:
            verb = "list"
        details = {"name": name, "group": group, "kind": resource}
        subject = f'{qualified(group, plural)} "{name}"' if name else qualified(group, plural)
        if status == 403:
            where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
            user = rule.get("user") or DEFAULT_USER
            return ApiError(403, "Forbidden",
                            f'{subject} is forbidden: User "{user}" cannot {verb} resource '
                            f'"{resource}" in API group "{group}"{where}', details)
        if status == 404:
            return ApiError(404, "NotFound", f"{subject} not found", details)
        if status == 409:
            return ApiError(409, "Conflict",
                            f"Operation cannot be fulfilled on {subject}: the object has been "
                            "modified; please apply your changes to the latest version and try "
                            "again", details)
        if status == 429:
            return ApiError(429, "TooManyRequests", "the server has received too many requests "
                                                    "and has asked us to try again later",
                            details)
        return ApiError(status, "InternalError",
                        f"Internal error occurred: injected failure {status}", details)

    # -- control API -------------------------------------------------------
    def control(self, path, raw):
        store = self.server.store
        payload = json.loads(raw) if raw else None
        with store.lock:
            if path == "/_control/objects" and self.command == "POST":
                items = payload.get("items", []) if isinstance(payload, dict) else payload
                seeded = [store.seed(copy.deepcopy(obj)) for obj in items or []]
                return self.send_json(200, {"items": seeded})
            if path == "/_control/objects" and self.command == "GET":
                return self.send_json(200, {"items": list(store.objects.values())})
            if path == "/_control/objects" and self.command == "DELETE":
                store.objects.clear()
                return self.send_json(200, {})
            if path == "/_control/fail" and self.command == "POST":
                rule = dict(payload or {})
                rule["times"] = int(rule.get("times", 1))
                store.failures.append(rule)
                return self.send_json(200, rule)
            if path == "/_control/fail" and self.command == "DELETE":
                store.failures.clear()
                return self.send_json(200, {})
            if path == "/_control/requests" and self.command == "GET":
                return self.send_json(200, {"requests": store.requests})
            if path == "/_control/requests" and self.command == "DELETE":
                store.requests.clear()
                return self.send_json(200, {})
        raise ApiError(404, "NotFound", f"no control endpoint {self.command} {path}")

    # -- the API -----------------------------------------------------------
    def api(self, path, query, content_type, body):
        if path == "/version":
            return 200, {"major": "1", "minor": "33", "gitVersion": "v1.33.0",
                         "gitCommit": "kubeapi", "gitTreeState": "clean",
                         "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.24",
                         "compiler": "gc", "platform": "linux/amd64"}
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"],
                         "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                         "serverAddress": "127.0.0.1"}]}
        if path == "/apis":
            groups = sorted({(g, v) for (g, v, _) in RESOURCES if g})
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
                 "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v}}
                for g, v in groups]}
        m = re.match(r"^/(?:api/(v1)|apis/([^/]+)/([^/]+))$", path)
        if m:
            group, version = (m.group(2) or ""), (m.group(1) or m.group(3))
            return 200, self.resource_list(group, version)
        m = PATH_RE.match(path)
        if not m:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        group = m.group("group") or ""
        version = m.group("core_version") or m.group("version")
        plural, name = m.group("plural"), m.group("name")
        namespace, sub = m.group("namespace"), m.group("subresource")
        if (group, version, plural) not in RESOURCES:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if sub is not None and (sub != "scale" or not RESOURCES[(group, version, plural)]["scale"]):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        dry_run = query.get("dryRun") == "All"
        if "dryRun" in query and not dry_run:
            raise ApiError(400, "BadRequest", f"unsupported dry run value {query['dryRun']!r}")
        store = self.server.store
        with store.lock:
            if name is None:
                if self.command == "GET":
                    return 200, self.list(group, version, plural, namespace, query)
                if self.command == "POST" and namespace:
                    return self.create(group, version, plural, namespace, body, dry_run)
                raise ApiError(405, "MethodNotAllowed", f"{self.command} on a collection")
            if namespace is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            key = (group, plural, namespace, name)
            current = store.objects.get(key)
            if current is None:
                raise ApiError(404, "NotFound", f'{qualified(group, plural)} "{name}" not found',
                               {"name": name, "group": group, "kind": plural})
            if self.command == "GET":
                return 200, (self.scale_of(current, group, plural) if sub else current)
            if self.command == "DELETE":
                if not dry_run:
                    del store.objects[key]
                    store.next_revision()
                return 200, current
            if self.command == "PATCH":
                if content_type not in PATCH_TYPES:
                    raise ApiError(415, "UnsupportedMediaType",
                                   f"the body of the request was in an unknown format - accepted "
                                   f"media types include: {', '.join(PATCH_TYPES)}")
                if not isinstance(body, dict):
                    raise ApiError(400, "BadRequest", "the patch body must be a JSON object")
                apply = merge_patch if content_type == PATCH_TYPES[0] else strategic_merge
                if sub:
                    scale = apply(self.scale_of(current, group, plural), body)
                    self.check_precondition(current, scale, group, plural, name)
                    new = copy.deepcopy(current)
                    new.setdefault("spec", {})["replicas"] = (scale.get("spec") or {}).get(
                        "replicas")
                else:
                    new = apply(current, body)
                    self.check_precondition(current, new, group, plural, name)
                return self.write(key, current, new, dry_run, sub)
            if self.command == "PUT":
                if not isinstance(body, dict):
                    raise ApiError(400, "BadRequest", "the body must be a JSON object")
                self.check_precondition(current, body, group, plural, name)
                new = copy.deepcopy(body)
                if sub:
                    new = copy.deepcopy(current)
                    new.setdefault("spec", {})["replicas"] = (body.get("spec") or {}).get(
                        "replicas")
                return self.write(key, current, new, dry_run, sub)
        raise ApiError(405, "MethodNotAllowed", f"{self.command} not allowed")

    def resource_list(self, group, version):
        resources = []
        for (g, v, plural), desc in sorted(RESOURCES.items()):
            if (g, v) != (group, version):
                continue
            resources.append({"name": plural, "singularName": desc["kind"].lower(),
                              "namespaced": True, "kind": desc["kind"],
                              "verbs": ["create", "delete", "get", "list", "patch", "update"]})
            if desc["scale"]:
                resources.append({"name": f"{plural}/scale", "singularName": "",
                                  "namespaced": True, "group": "autoscaling", "version": "v1",
                                  "kind": "Scale", "verbs": ["get", "patch", "update"]})
        if not resources:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version,
                "resources": resources}

    def list(self, group, version, plural, namespace, query):
        store = self.server.store
        selector = query.get("labelSelector")
        items = [obj for (g, p, ns, _), obj in sorted(store.objects.items())
                 if (g, p) == (group, plural) and (namespace is None or ns == namespace)
                 and selector_matches(selector, obj.get("metadata", {}).get("labels") or {})]
        kind = RESOURCES[(group, version, plural)]["kind"]
        return {"kind": f"{kind}List", "apiVersion": f"{group}/{version}" if group else version,
                "metadata": {"resourceVersion": str(store.revision)}, "items": items}

    def create(self, group, version, plural, namespace, body, dry_run):
        store = self.server.store
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body must be a JSON object")
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        name = meta.get("name")
        kind = RESOURCES[(group, version, plural)]["kind"]
        if not name:
            raise ApiError(422, "Invalid", f"{kind}: metadata.name: Required value")
        if (group, plural, namespace, name) in store.objects:
            raise ApiError(409, "AlreadyExists", f'{qualified(group, plural)} "{name}" already '
                                                 "exists",
                           {"name": name, "group": group, "kind": plural})
        validate(group, plural, name, None, obj)
        obj["apiVersion"] = f"{group}/{version}" if group else version
        obj["kind"] = kind
        meta.update({"namespace": namespace, "uid": str(uuid.uuid4()), "generation": 1,
                     "creationTimestamp": now_rfc3339()})
        meta.pop("resourceVersion", None)
        if dry_run:
            return 201, obj
        meta["resourceVersion"] = store.next_revision()
        store.objects[(group, plural, namespace, name)] = obj
        return 201, obj

    def check_precondition(self, current, new, group, plural, name):
        wanted = (new.get("metadata") or {}).get("resourceVersion")
        if wanted is not None and wanted != current["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict",
                           f'Operation cannot be fulfilled on {qualified(group, plural)} '
                           f'"{name}": the object has been modified; please apply your changes '
                           "to the latest version and try again",
                           {"name": name, "group": group, "kind": plural})

    def write(self, key, current, new, dry_run, sub):
        group, plural, namespace, name = key
        store = self.server.store
        for field in ("uid", "creationTimestamp", "namespace", "generation"):
            new.setdefault("metadata", {})[field] = current["metadata"].get(field)
        new["apiVersion"], new["kind"] = current["apiVersion"], current["kind"]
        new["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        validate(group, plural, name, current, new)
        if new == current:
            return 200, (self.scale_of(new, group, plural) if sub else new)
        if new.get("spec") != current.get("spec") and plural != "pods":
            new["metadata"]["generation"] = (current["metadata"].get("generation") or 0) + 1
        if not dry_run:
            new["metadata"]["resourceVersion"] = store.next_revision()
            store.objects[key] = new
        return 200, (self.scale_of(new, group, plural) if sub else new)

    @staticmethod
    def scale_of(obj, group, plural):
        meta = obj["metadata"]
        spec = obj.get("spec") or {}
        labels = ((spec.get("selector") or {}).get("matchLabels")) or {}
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {"name": meta["name"], "namespace": meta["namespace"],
                             "uid": meta["uid"], "resourceVersion": meta["resourceVersion"],
                             "creationTimestamp": meta.get("creationTimestamp")},
                "spec": {"replicas": spec.get("replicas", 1)},
                "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                           "selector": ",".join(f"{k}={v}" for k, v in sorted(labels.items()))}}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main(argv=None):
    ap = argparse.ArgumentParser(description="loopback Kubernetes API server, for tests")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--token", default=None, help="require this bearer token")
    ap.add_argument("--log-level", default=os.environ.get("KUBEAPI_LOG", "INFO"))
    ap.add_argument("--stdin-eof", choices=("auto", "exit", "ignore"), default="auto")
    args = ap.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=args.log_level.upper(),
                        format="%(asctime)s kubeapi %(levelname)s %(message)s")

    server = Server((args.host, args.port), Handler)
    server.store = Store()
    server.token = args.token
    port = server.server_address[1]
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
        log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
