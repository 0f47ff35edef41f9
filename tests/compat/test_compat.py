#!/usr/bin/env python3
"""Black-box compatibility suite: the official Svix Python SDK (svix==2.9.1) and the
Standard Webhooks verifier (standardwebhooks==1.1.0) against a running hookd.

Environment:
  HOOKD_URL    base URL of the server, e.g. http://127.0.0.1:8071
  HOOKD_TOKEN  admin bearer token
  HOOKD_COMPAT_TIMEOUT  seconds to wait for deliveries (default 20)

Usage: python test_compat.py [SUBSTRING ...]   (only run checks whose name contains one)

Prints one line per check and ends with `compat: N passed, M failed`; exits 1 on any
failure. Every API call goes through the SDK; a local HTTP server receives deliveries.
"""

import base64
import datetime
import json
import os
import secrets
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pydantic
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from standardwebhooks.webhooks import Webhook
from svix.api import (
    AppPortalAccessIn,
    ApplicationIn,
    ApplicationListOptions,
    ApplicationPatch,
    EndpointHeadersIn,
    EndpointHeadersPatchIn,
    EndpointGetStatsOptions,
    EndpointIn,
    EndpointListOptions,
    EndpointSecretRotateIn,
    EndpointPatch,
    EndpointUpsertIn,
    EventExampleIn,
    EventTypeIn,
    EventTypeListOptions,
    EventTypePatch,
    EventTypeUpsertIn,
    MessageAttemptListByEndpointOptions,
    MessageAttemptListByMsgOptions,
    MessageAttemptTriggerType,
    MessageCreateOptions,
    MessageGetOptions,
    MessageIn,
    MessagePrecheckIn,
    MessageListOptions,
    MessageStatus,
    RecoverIn,
    Svix,
    SvixOptions,
)
from svix.api import BackgroundTaskListOptions, BackgroundTaskStatus
from svix.api import GithubConfig, IngestEndpointIn, IngestSourceIn, StripeConfig
from svix.api.ingest_endpoint import IngestEndpointListOptions
from svix.api.ingest_source import IngestSourceListOptions
from svix.exceptions import HttpError, HTTPValidationError

TIMEOUT = float(os.environ.get("HOOKD_COMPAT_TIMEOUT", "20"))
RUN = secrets.token_hex(4)  # keeps names unique if the suite runs twice on one server
MAX_PAGES = 200  # bound on any pagination loop


# ---------------------------------------------------------------------------------------
# Small helpers


class CheckFailed(AssertionError):
    pass


def ensure(cond, msg):
    if not cond:
        raise CheckFailed(msg)


def eq(actual, expected, what):
    if actual != expected:
        raise CheckFailed(f"{what}: expected {expected!r}, got {actual!r}")


def uniq(prefix):
    return f"{prefix}-{RUN}-{secrets.token_hex(3)}"


def describe(exc):
    """One line for any exception a check can raise."""
    if isinstance(exc, HttpError):
        return f"HttpError {exc.status_code} code={exc.code!r} detail={exc.detail!r}"
    if isinstance(exc, HTTPValidationError):
        return f"HTTPValidationError {exc.status_code}: {exc.detail!r}"
    if isinstance(exc, pydantic.ValidationError):
        errs = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]
        )
        return f"SDK could not parse the response ({exc.title}): {errs}"
    if isinstance(exc, json.JSONDecodeError):
        return f"response body is not JSON: {exc}"
    text = str(exc) or exc.__class__.__name__
    if isinstance(exc, (CheckFailed, TimeoutError)):
        return text
    return f"{exc.__class__.__name__}: {text}"


def expect_http_error(status, fn, *args, **kwargs):
    """Calls fn and requires the SDK to raise an HTTP error with this status."""
    try:
        result = fn(*args, **kwargs)
    except (HttpError, HTTPValidationError) as e:
        if e.status_code != status:
            raise CheckFailed(f"expected HTTP {status}, SDK raised {describe(e)}") from e
        return e
    raise CheckFailed(f"expected HTTP {status}, call succeeded with {result!r}")


def wait_for(fn, what, timeout=TIMEOUT, interval=0.05):
    """Polls fn until it returns a truthy value, which is returned; fails at the deadline.

    Exceptions from fn are retried until the deadline and then reported."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = fn()
            last_exc = None
            if value:
                return value
        except (CheckFailed, HttpError, HTTPValidationError, pydantic.ValidationError) as e:
            last_exc = e
        if time.monotonic() >= deadline:
            detail = f" (last error: {describe(last_exc)})" if last_exc else ""
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}{detail}")
        time.sleep(interval)


def paginate(list_fn, make_options, limit):
    """Walks a Svix list endpoint page by page; returns (items, pages)."""
    items, pages, iterator = [], [], None
    for _ in range(MAX_PAGES):
        page = list_fn(make_options(limit=limit, iterator=iterator))
        ensure(
            len(page.data) <= limit,
            f"page has {len(page.data)} items, more than limit={limit}",
        )
        pages.append(page)
        items.extend(page.data)
        if page.done:
            return items, pages
        ensure(page.iterator, "page says done=false but has no iterator")
        ensure(page.iterator != iterator, "iterator did not advance")
        iterator = page.iterator
    raise CheckFailed(f"list did not finish within {MAX_PAGES} pages")


def new_secret():
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


# ---------------------------------------------------------------------------------------
# The receiver: records every request; can answer 500 to the first N on a path.


class Receiver:
    def __init__(self):
        self._cond = threading.Condition()
        self._records = []
        self._failures = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as hookd pools connections

            def _read_body(self):
                if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                length = int(self.headers.get("content-length") or 0)
                return self.rfile.read(length) if length else b""

            def _handle(self):
                body = self._read_body()
                path = self.path.split("?", 1)[0]
                status = receiver._record(
                    self.command, path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                reply = b"ok" if status < 300 else b"failing on purpose"
                self.send_response(status)
                self.send_header("content-type", "text/plain")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_POST = do_PUT = do_GET = _handle

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def fail_first(self, path, n):
        with self._cond:
            self._failures[path] = n

    def _record(self, method, path, headers, body):
        with self._cond:
            remaining = self._failures.get(path, 0)
            status = 500 if remaining > 0 else 200
            if remaining > 0:
                self._failures[path] = remaining - 1
            self._records.append(
                {
                    "method": method,
                    "path": path,
                    "headers": headers,
                    "body": body,
                    "status": status,
                    "at": time.monotonic(),
                }
            )
            self._cond.notify_all()
            return status

    def requests(self, path=None, prefix=None):
        with self._cond:
            return [
                r
                for r in self._records
                if (path is None or r["path"] == path)
                and (prefix is None or r["path"].startswith(prefix))
            ]


# ---------------------------------------------------------------------------------------
# Check registry and shared scenarios


CHECKS = []


def check(name):
    def register(fn):
        CHECKS.append((name, fn))
        return fn

    return register


class SetupFailed(Exception):
    pass


def scenario(fn):
    """Runs fn once; later callers get its result, or the same setup failure."""
    state = {}

    def wrapper():
        if "result" not in state and "error" not in state:
            try:
                state["result"] = fn()
            except Exception as e:  # noqa: BLE001 - reported by each dependent check
                state["error"] = f"{fn.__name__} failed: {describe(e)}"
        if "error" in state:
            raise SetupFailed(state["error"])
        return state["result"]

    return wrapper


URL = os.environ.get("HOOKD_URL", "").rstrip("/")
TOKEN = os.environ.get("HOOKD_TOKEN", "")
svix = None  # set in main()
R = None  # the Receiver, set in main()


def client(token):
    return Svix(token, SvixOptions(server_url=URL, timeout=15.0))


def make_app(label, **kw):
    return svix.application.create(ApplicationIn(name=f"compat {label} {RUN}", **kw))


def new_ed25519_key():
    """A fresh (whsk_ secret key as seed‖public key, whpk_ public key), made by cryptography."""
    from cryptography.hazmat.primitives import serialization

    private = Ed25519PrivateKey.generate()
    raw = serialization.Encoding.Raw
    seed = private.private_bytes(raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    public = private.public_key().public_bytes(raw, serialization.PublicFormat.Raw)
    return ("whsk_" + base64.b64encode(seed + public).decode(),
            "whpk_" + base64.b64encode(public).decode())


def verify_v1a(record, public_key):
    """Checks that a v1a entry of the request's signature verifies with the whpk_ key."""
    h = record["headers"]
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key[len("whpk_"):]))
    signed = f"{h['webhook-id']}.{h['webhook-timestamp']}.".encode() + record["body"]
    for entry in h["webhook-signature"].split(" "):
        version, _, sig = entry.partition(",")
        if version == "v1a":
            try:
                key.verify(base64.b64decode(sig), signed)
                return
            except Exception:  # noqa: BLE001 - InvalidSignature: try the next entry
                pass
    raise CheckFailed(f"no v1a signature verifies: {h['webhook-signature']!r}")


def make_event_type(label):
    name = f"compat.{label}.{RUN}.{secrets.token_hex(2)}"
    return svix.event_type.create(EventTypeIn(name=name, description=f"compat {label}"))


def verify(record, secret):
    """Verifies one received request; returns the parsed body."""
    try:
        return Webhook(secret).verify(record["body"], record["headers"])
    except Exception as e:  # noqa: BLE001 - a malformed header raises binascii/ValueError
        sig = record["headers"].get("webhook-signature")
        raise CheckFailed(
            f"standardwebhooks rejected the request to {record['path']}: {describe(e)} "
            f"(webhook-id={record['headers'].get('webhook-id')!r}, "
            f"webhook-timestamp={record['headers'].get('webhook-timestamp')!r}, "
            f"webhook-signature={sig!r})"
        ) from e


# ---------------------------------------------------------------------------------------
# health and auth


@check("health: svix.health.get() succeeds")
def _():
    svix.health.get()


@check("auth: wrong token -> 401 authentication_failed")
def _():
    bad = client("wrong-token-" + secrets.token_hex(16))
    err = expect_http_error(401, bad.application.list)
    eq(err.code, "authentication_failed", "error code")


# ---------------------------------------------------------------------------------------
# applications


@check("app: create")
def _():
    app = svix.application.create(
        ApplicationIn(name="compat create", metadata={"team": "billing"})
    )
    ensure(app.id.startswith("app_"), f"id {app.id!r} does not start with app_")
    eq(app.name, "compat create", "name")
    eq(app.uid, None, "uid")
    eq(app.metadata, {"team": "billing"}, "metadata")
    ensure(app.created_at and app.updated_at, "timestamps missing")


@check("app: create with uid")
def _():
    uid = uniq("app")
    app = make_app("uid", uid=uid)
    eq(app.uid, uid, "uid")
    dup = expect_http_error(409, svix.application.create, ApplicationIn(name="dup", uid=uid))
    ensure(dup.code, "409 without an error code")


@check("app: get_or_create returns the existing app, creates a missing one")
def _():
    uid = uniq("goc")
    first = svix.application.get_or_create(ApplicationIn(name="goc first", uid=uid))
    eq(first.uid, uid, "created uid")
    again = svix.application.get_or_create(ApplicationIn(name="goc second", uid=uid))
    eq(again.id, first.id, "id of the existing app")
    eq(again.name, "goc first", "name of the existing app (must not be overwritten)")


@check("app: get by id and by uid")
def _():
    uid = uniq("get")
    app = make_app("get", uid=uid)
    by_id = svix.application.get(app.id)
    eq((by_id.id, by_id.uid, by_id.name), (app.id, uid, app.name), "get by id")
    by_uid = svix.application.get(uid)
    eq(by_uid.id, app.id, "get by uid")
    expect_http_error(404, svix.application.get, "app_doesNotExist" + RUN)


@check("app: list pages with limit/iterator, every app exactly once")
def _():
    created = {make_app(f"page{i}").id for i in range(7)}
    items, pages = paginate(
        svix.application.list,
        lambda limit, iterator: ApplicationListOptions(limit=limit, iterator=iterator),
        limit=3,
    )
    ids = [a.id for a in items]
    dups = {i for i in ids if ids.count(i) > 1}
    ensure(not dups, f"apps seen more than once: {sorted(dups)}")
    missing = created - set(ids)
    ensure(not missing, f"apps never listed: {sorted(missing)}")
    ensure(len(pages) >= 3, f"7+ apps with limit=3 came in {len(pages)} page(s)")


@check("app: update (upsert PUT) an existing app, and upsert creates a missing one")
def _():
    app = make_app("upd", metadata={"a": "1"})
    out = svix.application.upsert(
        app.id, ApplicationIn(name="compat updated", metadata={"b": "2"})
    )
    eq(out.id, app.id, "id")
    eq(out.name, "compat updated", "name")
    eq(out.metadata, {"b": "2"}, "metadata (replaced)")
    eq(svix.application.get(app.id).name, "compat updated", "name after get")
    uid = uniq("upsert")
    created = svix.application.upsert(uid, ApplicationIn(name="compat upserted", uid=uid))
    eq(created.uid, uid, "uid of the app created by upsert")
    eq(svix.application.get(uid).id, created.id, "get of the upserted app by uid")


@check("app: patch changes only the given fields")
def _():
    uid = uniq("patch")
    app = make_app("patch", uid=uid, metadata={"keep": "me"})
    out = svix.application.patch(app.id, ApplicationPatch(name="compat patched"))
    eq(out.name, "compat patched", "name")
    eq(out.uid, uid, "uid (untouched)")
    eq(out.metadata, {"keep": "me"}, "metadata (untouched)")
    eq(svix.application.get(app.id).name, "compat patched", "name after get")


@check("app: delete, then get -> 404")
def _():
    uid = uniq("del")
    app = make_app("del", uid=uid)
    svix.application.delete(app.id)
    err = expect_http_error(404, svix.application.get, app.id)
    eq(err.code, "not_found", "error code")
    expect_http_error(404, svix.application.get, uid)


# ---------------------------------------------------------------------------------------
# event types


@check("event type: create and get")
def _():
    name = f"compat.created.{RUN}"
    et = svix.event_type.create(
        EventTypeIn(
            name=name,
            description="An invoice was paid",
            schemas={"1": {"type": "object", "properties": {"id": {"type": "string"}}}},
        )
    )
    eq(et.name, name, "name")
    eq(et.description, "An invoice was paid", "description")
    ensure(not et.archived, "new event type is archived")
    eq(et.deprecated, False, "deprecated")
    got = svix.event_type.get(name)
    eq((got.name, got.description), (name, "An invoice was paid"), "get")
    eq(got.schemas, et.schemas, "schemas round-trip")
    expect_http_error(409, svix.event_type.create, EventTypeIn(name=name, description="x"))
    expect_http_error(404, svix.event_type.get, f"compat.missing.{RUN}")


@check("event type: list pages, every type exactly once")
def _():
    created = {make_event_type(f"list{i}").name for i in range(5)}
    items, _ = paginate(
        svix.event_type.list,
        lambda limit, iterator: EventTypeListOptions(limit=limit, iterator=iterator),
        limit=2,
    )
    names = [e.name for e in items]
    ensure(len(names) == len(set(names)), "an event type was listed twice")
    missing = created - set(names)
    ensure(not missing, f"event types never listed: {sorted(missing)}")


@check("event type: update (upsert PUT), and upsert creates a missing one")
def _():
    et = make_event_type("upd")
    out = svix.event_type.upsert(
        et.name, EventTypeUpsertIn(description="updated", deprecated=True)
    )
    eq((out.name, out.description, out.deprecated), (et.name, "updated", True), "upsert")
    eq(svix.event_type.get(et.name).description, "updated", "description after get")
    name = f"compat.upserted.{RUN}"
    created = svix.event_type.upsert(name, EventTypeUpsertIn(description="new via PUT"))
    eq(created.name, name, "name of the type created by upsert")
    eq(svix.event_type.get(name).description, "new via PUT", "get of upserted type")


@check("event type: patch changes only the given fields")
def _():
    et = svix.event_type.create(
        EventTypeIn(name=f"compat.patch.{RUN}", description="before", deprecated=True)
    )
    out = svix.event_type.patch(et.name, EventTypePatch(description="after"))
    eq(out.description, "after", "description")
    eq(out.deprecated, True, "deprecated (untouched)")
    eq(svix.event_type.get(et.name).description, "after", "description after get")


@check("event type: delete archives; list hides it unless include_archived")
def _():
    et = make_event_type("archive")
    keep = make_event_type("kept")
    svix.event_type.delete(et.name)

    def names(include):
        items, _ = paginate(
            svix.event_type.list,
            lambda limit, iterator: EventTypeListOptions(
                limit=limit, iterator=iterator, include_archived=include
            ),
            limit=50,
        )
        return {e.name: e for e in items}

    plain = names(None)
    ensure(et.name not in plain, "archived type listed without include_archived")
    ensure(keep.name in plain, "unarchived type missing from the list")
    full = names(True)
    ensure(et.name in full, "archived type missing with include_archived=true")
    ensure(full[et.name].archived is True, f"listed archived={full[et.name].archived!r}")
    ensure(keep.name in full, "unarchived type missing with include_archived=true")


# ---------------------------------------------------------------------------------------
# endpoints


@scenario
def endpoint_types():
    return make_event_type("ep.a").name, make_event_type("ep.b").name


def make_endpoint(app_id, path, **kw):
    return svix.endpoint.create(app_id, EndpointIn(url=R.url(path), **kw))


@check("endpoint: create with filter types, channels, uid, metadata; get by id and uid")
def _():
    ta, tb = endpoint_types()
    app = make_app("ep")
    uid = uniq("ep")
    ep = make_endpoint(
        app.id,
        f"/ep-{RUN}/create",
        uid=uid,
        description="compat endpoint",
        event_types=[ta, tb],
        channels=["project.1"],
        metadata={"owner": "ops"},
    )
    ensure(ep.id.startswith("ep_"), f"id {ep.id!r} does not start with ep_")
    eq(ep.url, R.url(f"/ep-{RUN}/create"), "url")
    eq(ep.uid, uid, "uid")
    eq(ep.description, "compat endpoint", "description")
    eq(sorted(ep.event_types or []), sorted([ta, tb]), "event types (filterTypes)")
    eq(ep.channels, ["project.1"], "channels")
    eq(ep.metadata, {"owner": "ops"}, "metadata")
    for key in (ep.id, uid):
        got = svix.endpoint.get(app.id, key)
        eq((got.id, got.uid, got.url), (ep.id, uid, ep.url), f"get by {key}")
        eq(sorted(got.event_types or []), sorted([ta, tb]), "event types after get")


@check("endpoint: list pages, every endpoint exactly once")
def _():
    app = make_app("eplist")
    created = {make_endpoint(app.id, f"/ep-{RUN}/list{i}").id for i in range(5)}
    items, _ = paginate(
        lambda o: svix.endpoint.list(app.id, o),
        lambda limit, iterator: EndpointListOptions(limit=limit, iterator=iterator),
        limit=2,
    )
    ids = [e.id for e in items]
    ensure(len(ids) == len(set(ids)), "an endpoint was listed twice")
    eq(set(ids), created, "listed endpoints")


@check("endpoint: update (upsert PUT)")
def _():
    ta, _ = endpoint_types()
    app = make_app("epupd")
    ep = make_endpoint(app.id, f"/ep-{RUN}/upd", channels=["c1"], metadata={"a": "1"})
    out = svix.endpoint.upsert(
        app.id,
        ep.id,
        EndpointUpsertIn(url=R.url(f"/ep-{RUN}/upd2"), event_types=[ta], description="new"),
    )
    eq(out.id, ep.id, "id")
    eq(out.url, R.url(f"/ep-{RUN}/upd2"), "url")
    eq(out.event_types, [ta], "event types")
    eq(out.description, "new", "description")
    got = svix.endpoint.get(app.id, ep.id)
    eq((got.url, got.event_types), (out.url, [ta]), "after get")


@check("endpoint: patch changes only the given fields; null clears")
def _():
    ta, _ = endpoint_types()
    app = make_app("eppatch")
    uid = uniq("eppatch")
    ep = make_endpoint(
        app.id, f"/ep-{RUN}/patch", uid=uid, event_types=[ta], channels=["c1"],
        metadata={"m": "1"},
    )
    out = svix.endpoint.patch(app.id, ep.id, EndpointPatch(description="patched"))
    eq(out.description, "patched", "description")
    eq((out.uid, out.event_types, out.channels, out.metadata),
       (uid, [ta], ["c1"], {"m": "1"}), "untouched fields")
    out = svix.endpoint.patch(app.id, ep.id, EndpointPatch(channels=None))
    ensure(not out.channels, f"channels not cleared by null: {out.channels!r}")
    eq(out.event_types, [ta], "event types (untouched)")
    got = svix.endpoint.get(app.id, ep.id)
    eq(got.description, "patched", "description after get")
    ensure(not got.channels, f"channels after get: {got.channels!r}")


@check("endpoint: delete, then get -> 404")
def _():
    app = make_app("epdel")
    ep = make_endpoint(app.id, f"/ep-{RUN}/del")
    svix.endpoint.delete(app.id, ep.id)
    expect_http_error(404, svix.endpoint.get, app.id, ep.id)
    ids = [e.id for e in svix.endpoint.list(app.id).data]
    ensure(ep.id not in ids, "deleted endpoint still listed")


@check("endpoint: get_secret returns a whsec_ key")
def _():
    app = make_app("epsecret")
    ep = make_endpoint(app.id, f"/ep-{RUN}/secret")
    key = svix.endpoint.get_secret(app.id, ep.id).key
    ensure(key.startswith("whsec_"), f"secret {key[:8]}... does not start with whsec_")
    raw = base64.b64decode(key[len("whsec_"):] + "==")
    ensure(24 <= len(raw) <= 64, f"secret decodes to {len(raw)} bytes")
    eq(svix.endpoint.get_secret(app.id, ep.id).key, key, "secret on second read")


@check("endpoint: set_headers / patch_headers / get_headers; deliveries carry them")
def _():
    app = make_app("ephdr")
    path = f"/ep-{RUN}/headers"
    ep = make_endpoint(app.id, path)
    svix.endpoint.set_headers(
        app.id, ep.id,
        EndpointHeadersIn(headers={"X-Team": "billing", "Authorization": "Bearer t0ken"}),
    )
    got = svix.endpoint.get_headers(app.id, ep.id)
    eq(got.headers, {"X-Team": "billing"}, "headers (credentials left out)")
    eq(list(got.sensitive), ["Authorization"], "sensitive")
    # The SDK's patch model takes strings only (hookd also removes a header given as null).
    svix.endpoint.patch_headers(
        app.id, ep.id, EndpointHeadersPatchIn(headers={"X-Region": "eu", "x-team": "ops"})
    )
    got = svix.endpoint.get_headers(app.id, ep.id)
    eq(got.headers, {"X-Region": "eu", "x-team": "ops"}, "headers after patch")
    expect_http_error(
        422, svix.endpoint.set_headers, app.id, ep.id,
        EndpointHeadersIn(headers={"Content-Type": "text/plain"}),
    )
    svix.message.create(app.id, MessageIn(event_type="hdr.test", payload={"x": 1}))
    wait_for(lambda: R.requests(path), "a delivery with the custom headers")
    hdrs = {k.lower(): v for k, v in R.requests(path)[0]["headers"].items()}
    eq((hdrs.get("x-region"), hdrs.get("x-team"), hdrs.get("authorization")),
       ("eu", "ops", "Bearer t0ken"), "delivered headers")
    eq(hdrs.get("content-type"), "application/json", "content-type")


@check("endpoint: throttle_rate is kept and enforced (deliveries spaced 1/rate apart)")
def _():
    app = make_app("throttle")
    path = f"/ep-{RUN}/throttled"
    ep = make_endpoint(app.id, path, throttle_rate=4)
    eq(ep.throttle_rate, 4, "throttle_rate on create")
    eq(svix.endpoint.get(app.id, ep.id).throttle_rate, 4, "throttle_rate on get")
    for i in range(5):
        svix.message.create(app.id, MessageIn(event_type="thr.test", payload={"i": i}))
    wait_for(lambda: len(R.requests(path)) >= 5, "five throttled deliveries")
    times = sorted(r["at"] for r in R.requests(path))
    gaps = [b - a for a, b in zip(times, times[1:])]
    ensure(min(gaps) >= 0.2, f"deliveries {min(gaps):.3f}s apart under a throttle of 4/s")


@check("endpoint: rotate_secret returns the new key; deliveries verify with old and new")
def _():
    app = make_app("eprot")
    path = f"/ep-{RUN}/rotate"
    ep = make_endpoint(app.id, path)
    old = svix.endpoint.get_secret(app.id, ep.id).key
    out = svix.endpoint.rotate_secret(app.id, ep.id, EndpointSecretRotateIn())
    ensure(out.key.startswith("whsec_") and out.key != old, "rotation returned a new key")
    eq(svix.endpoint.get_secret(app.id, ep.id).key, out.key, "secret after rotation")
    supplied = new_secret()
    out2 = svix.endpoint.rotate_secret(app.id, ep.id, EndpointSecretRotateIn(key=supplied))
    eq(out2.key, supplied, "supplied key")
    svix.message.create(app.id, MessageIn(event_type="rot.test", payload={"r": 1}))
    wait_for(lambda: R.requests(path), "a delivery after rotation")
    r = R.requests(path)[0]
    for key in (supplied, out.key, old):  # both earlier keys are in their 24 h grace period
        verify(r, key)


@check("endpoint: send_example delivers to that endpoint; get_stats counts it")
def _():
    app = make_app("epex")
    path = f"/ep-{RUN}/example"
    ep = make_endpoint(app.id, path)
    secret = svix.endpoint.get_secret(app.id, ep.id).key
    # An example of an event type that does not exist is refused (422), so make one.
    et = make_event_type("example")
    out = svix.endpoint.send_example(app.id, ep.id, EventExampleIn(event_type=et.name))
    ensure(out.id.startswith("msg_"), f"message id {out.id!r}")
    eq(out.event_type, et.name, "event type")
    wait_for(lambda: R.requests(path), "the example delivery")
    verify(R.requests(path)[0], secret)
    stats = wait_for(
        lambda: (lambda s: s if s.success == 1 else None)(svix.endpoint.get_stats(app.id, ep.id)),
        "stats counting the delivery",
    )
    eq((stats.success, stats.fail, stats.pending), (1, 0, 0), "stats")
    future = datetime.datetime(2999, 1, 1, tzinfo=datetime.timezone.utc)
    none = svix.endpoint.get_stats(app.id, ep.id, EndpointGetStatsOptions(since=future))
    eq(none.success, 0, "stats since a future date")


@check("endpoint: recover re-sends failed messages as a background task")
def _():
    app = make_app("eprec")
    path = f"/ep-{RUN}/recover"
    ep = make_endpoint(app.id, path)
    secret = svix.endpoint.get_secret(app.id, ep.id).key
    since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=1)
    R.fail_first(path, 3)  # every attempt of the 1,1 schedule fails
    msg = svix.message.create(app.id, MessageIn(event_type="rec.test", payload={"r": 1}))
    wait_for(
        lambda: svix.endpoint.get_stats(app.id, ep.id).fail == 1 or None,
        "the message to fail for good",
    )
    out = svix.endpoint.recover(app.id, ep.id, RecoverIn(since=since))
    ensure(out.id.startswith("qtask_"), f"task id {out.id!r}")
    eq((out.status, str(out.task)), (BackgroundTaskStatus.RUNNING, "endpoint.recover"), "task")
    done = wait_for(
        lambda: (lambda t: t if t.status == BackgroundTaskStatus.FINISHED else None)(
            svix.background_task.get(out.id)
        ),
        "the recovery to finish",
    )
    eq(done.data.get("messagesSent"), 1, "messages sent")
    wait_for(lambda: len(R.requests(path)) >= 4 or None, "the recovered delivery")
    last = R.requests(path)[3]
    verify(last, secret)
    eq(last["headers"].get("webhook-id"), msg.id, "webhook-id of the re-sent message")
    listed = svix.background_task.list(BackgroundTaskListOptions(limit=50))
    ensure(any(t.id == out.id for t in listed.data), "the task is listed")


@check("endpoint: create with a supplied secret, read it back")
def _():
    app = make_app("epsupplied")
    secret = new_secret()
    ep = make_endpoint(app.id, f"/ep-{RUN}/supplied", secret=secret)
    eq(svix.endpoint.get_secret(app.id, ep.id).key, secret, "secret")


@check("endpoint: a whsk_ secret signs v1a; get_secret and rotate_secret give the whpk_ key")
def _():
    app = make_app("eped")
    path = f"/ep-{RUN}/ed25519"
    whsk, whpk = new_ed25519_key()
    ep = make_endpoint(app.id, path, secret=whsk)
    eq(svix.endpoint.get_secret(app.id, ep.id).key, whpk, "public key from get_secret")
    svix.message.create(app.id, MessageIn(event_type="ed.test", payload={"e": 1}))
    wait_for(lambda: R.requests(path), "a v1a delivery")
    verify_v1a(R.requests(path)[0], whpk)
    # Rotating to a whsec_ key: the ed25519 key keeps signing through its grace period,
    # next to the v1 signature that standardwebhooks checks.
    supplied = new_secret()
    out = svix.endpoint.rotate_secret(app.id, ep.id, EndpointSecretRotateIn(key=supplied))
    eq(out.key, supplied, "rotate_secret to a whsec_ key")
    whsk2, whpk2 = new_ed25519_key()
    svix.endpoint.rotate_secret(app.id, ep.id, EndpointSecretRotateIn(key=whsk2))
    eq(svix.endpoint.get_secret(app.id, ep.id).key, whpk2, "public key after rotation")
    svix.message.create(app.id, MessageIn(event_type="ed.test", payload={"e": 2}))
    wait_for(lambda: len(R.requests(path)) >= 2, "a delivery after rotation")
    r = R.requests(path)[1]
    verify_v1a(r, whpk2)
    verify_v1a(r, whpk)
    verify(r, supplied)


# ---------------------------------------------------------------------------------------
# app portal access (application-scoped tokens)


@check("auth: app_portal_access token reaches its own app only; read_only tokens only read")
def _():
    mine = make_app("portal", uid=f"portal-{RUN}")
    other = make_app("portal-other")
    make_endpoint(mine.id, f"/portal-{RUN}/mine")
    make_endpoint(other.id, f"/portal-{RUN}/other")
    out = svix.authentication.app_portal_access(mine.uid, AppPortalAccessIn())
    ensure(out.token.startswith("appsk_"), f"token {out.token[:8]!r}...")
    ensure(out.url.endswith("#key=" + out.token), "url carries the token")
    portal = client(out.token)
    for app_ref in (mine.id, mine.uid):
        eps = portal.endpoint.list(app_ref).data
        eq([e.url for e in eps], [R.url(f"/portal-{RUN}/mine")], f"endpoints of {app_ref}")
    eq(portal.application.get(mine.id).id, mine.id, "own application")
    for call, args in [
        (portal.endpoint.list, (other.id,)),
        (portal.endpoint.list, (other.uid or other.id,)),
        (portal.application.get, (other.id,)),
        (portal.message.create, (other.id, MessageIn(event_type="x.y", payload={}))),
        (portal.application.list, ()),
        (portal.application.delete, (mine.id,)),
        (portal.authentication.app_portal_access, (other.id, AppPortalAccessIn())),
    ]:
        err = expect_http_error(403, call, *args)
        eq(err.code, "forbidden", f"{call.__name__} error code")
    ro = client(
        svix.authentication.app_portal_access(mine.id, AppPortalAccessIn(read_only=True)).token
    )
    eq(len(ro.endpoint.list(mine.id).data), 1, "read-only token lists endpoints")
    err = expect_http_error(403, ro.endpoint.create, mine.id, EndpointIn(url=R.url("/ro")))
    eq(err.code, "forbidden", "read-only create error code")
    eq(len(svix.endpoint.list(mine.id).data), 1, "nothing was created")


# ---------------------------------------------------------------------------------------
# messages


@scenario
def message_setup():
    ta, tb = make_event_type("msg.a").name, make_event_type("msg.b").name
    app = make_app("msg")
    sent = []
    for i, (etype, channels) in enumerate(
        [(ta, None), (tb, None), (ta, ["ch1"]), (tb, ["ch2"]), (ta, ["ch1", "ch2"])]
    ):
        payload = {"i": i, "type": etype, "data": {"text": "h\u00e9llo \u2713", "n": [1, 2.5]}}
        kw = {"channels": channels} if channels else {}
        msg = svix.message.create(app.id, MessageIn(event_type=etype, payload=payload, **kw))
        sent.append((msg, payload, channels))
    return {"app": app, "ta": ta, "tb": tb, "sent": sent}


def list_messages(app_id, **kw):
    items, _ = paginate(
        lambda o: svix.message.list(app_id, o),
        lambda limit, iterator: MessageListOptions(limit=limit, iterator=iterator, **kw),
        limit=50,
    )
    return items


@check("message: create returns MessageOut with an id")
def _():
    s = message_setup()
    for msg, _, channels in s["sent"]:
        ensure(msg.id.startswith("msg_"), f"id {msg.id!r} does not start with msg_")
        ensure(msg.timestamp, "timestamp missing")
        if channels:
            eq(sorted(msg.channels or []), sorted(channels), "channels")
    eq(s["sent"][0][0].event_type, s["ta"], "event type")
    ids = [m.id for m, _, _ in s["sent"]]
    eq(len(set(ids)), len(ids), "distinct message ids")


@check("message: precheck says whether an enabled endpoint listens")
def _():
    ta, tb = endpoint_types()
    app = make_app("precheck")
    active = lambda et, ch=None: svix.message.precheck(  # noqa: E731
        app.id, MessagePrecheckIn(event_type=et, channels=ch)
    ).active
    eq(active(ta), False, "no endpoint yet")
    ep = make_endpoint(app.id, f"/precheck-{RUN}", event_types=[ta], channels=["eu"])
    eq(active(ta, ["eu"]), True, "the endpoint's type and channel")
    eq(active(ta, ["us"]), False, "another channel")
    eq(active(tb, ["eu"]), False, "another type")
    svix.endpoint.patch(app.id, ep.id, EndpointPatch(disabled=True))
    eq(active(ta, ["eu"]), False, "the endpoint is disabled")


@check("message: event_id is unique per app (second create -> 409)")
def _():
    s = message_setup()
    event_id = uniq("evt")
    msg = svix.message.create(
        s["app"].id, MessageIn(event_type=s["ta"], payload={"once": True}, event_id=event_id)
    )
    eq(msg.event_id, event_id, "event id")
    err = expect_http_error(
        409,
        svix.message.create,
        s["app"].id,
        MessageIn(event_type=s["ta"], payload={"twice": True}, event_id=event_id),
    )
    eq(err.code, "conflict", "error code")


@check("message: idempotency_key: a retried create returns the same message; another body -> 422")
def _():
    s = message_setup()
    key = uniq("idem")
    opts = MessageCreateOptions(idempotency_key=key)
    body = MessageIn(event_type=s["ta"], payload={"idem": key})
    before = len(list_messages(s["app"].id))
    first = svix.message.create(s["app"].id, body, opts)
    again = svix.message.create(s["app"].id, body, opts)
    eq((again.id, again.timestamp), (first.id, first.timestamp), "the retry's message")
    eq(len(list_messages(s["app"].id)), before + 1, "messages stored for the key")
    expect_http_error(
        422, svix.message.create, s["app"].id,
        MessageIn(event_type=s["ta"], payload={"idem": "other"}), opts,
    )
    # The SDK's own automatic key (a fresh one per call) creates a new message each time.
    other = svix.message.create(s["app"].id, body)
    ensure(other.id != first.id, "a call without a key is a new message")


@check("message: expunge_content empties the payload; attempt expunge_content")
def _():
    app = make_app("expunge")
    make_endpoint(app.id, f"/expunge-{RUN}")
    msg = svix.message.create(
        app.id, MessageIn(event_type=make_event_type("exp").name, payload={"secret": 1},
                          payload_retention_period=30))
    atts = wait_for(lambda: svix.message_attempt.list_by_msg(app.id, msg.id).data,
                    "an attempt")
    svix.message.expunge_content(app.id, msg.id)
    got = svix.message.get(app.id, msg.id, MessageGetOptions(with_content=True))
    eq(got.payload, {}, "payload after expunge")
    svix.message_attempt.expunge_content(app.id, msg.id, atts[0].id)
    eq(svix.message_attempt.get(app.id, msg.id, atts[0].id).response, "", "attempt body")
    expect_http_error(404, svix.message.expunge_content, app.id, "msg_missing" + RUN)


@check("message: get by event_id")
def _():
    s = message_setup()
    event_id = uniq("evtget")
    msg = svix.message.create(
        s["app"].id, MessageIn(event_type=s["tb"], payload={"by": "event"}, event_id=event_id)
    )
    got = svix.message.get(s["app"].id, event_id)
    eq((got.id, got.event_id), (msg.id, event_id), "message fetched by its event id")


@check("message: get returns the payload (with_content)")
def _():
    s = message_setup()
    msg, payload, _ = s["sent"][2]
    got = svix.message.get(s["app"].id, msg.id, MessageGetOptions(with_content=True))
    eq(got.id, msg.id, "id")
    eq(got.event_type, s["ta"], "event type")
    eq(got.payload, payload, "payload")
    eq(got.channels, ["ch1"], "channels")
    expect_http_error(404, svix.message.get, s["app"].id, "msg_doesNotExist" + RUN)


@check("message: list pages, every message exactly once")
def _():
    s = message_setup()
    items, pages = paginate(
        lambda o: svix.message.list(s["app"].id, o),
        lambda limit, iterator: MessageListOptions(limit=limit, iterator=iterator),
        limit=2,
    )
    ids = [m.id for m in items]
    ensure(len(ids) == len(set(ids)), f"a message was listed twice: {ids}")
    sent = {m.id for m, _, _ in s["sent"]}
    missing = sent - set(ids)
    ensure(not missing, f"messages never listed: {sorted(missing)}")
    ensure(len(pages) >= 3, f"5+ messages with limit=2 came in {len(pages)} page(s)")
    full = {m.id: m for m in list_messages(s["app"].id, with_content=True)}
    for msg, payload, _ in s["sent"]:
        eq(full[msg.id].payload, payload, f"payload of {msg.id} in list with_content")


@check("message: list filtered by event_types")
def _():
    s = message_setup()
    want_a = {m.id for m, _, _ in s["sent"] if m.event_type == s["ta"]}
    got = list_messages(s["app"].id, event_types=[s["ta"]])
    eq({m.id for m in got} & {m.id for m, _, _ in s["sent"]}, want_a, "messages of type A")
    ensure(all(m.event_type == s["ta"] for m in got), "list has messages of other types")
    both = list_messages(s["app"].id, event_types=[s["ta"], s["tb"]])
    sent = {m.id for m, _, _ in s["sent"]}
    ensure(sent <= {m.id for m in both}, "filter with two event types misses messages")


@check("message: list filtered by channel")
def _():
    s = message_setup()
    want = {m.id for m, _, ch in s["sent"] if ch and "ch1" in ch}
    got = list_messages(s["app"].id, channel="ch1")
    eq({m.id for m in got}, want, "messages on channel ch1")


# ---------------------------------------------------------------------------------------
# delivery: routing, signatures, ids, bodies


def routes(spec, event_type, channels):
    """Svix semantics: a filter list limits event types; channels need an overlap."""
    types = spec.get("event_types")
    if types and event_type not in types:
        return False
    wanted = spec.get("channels")
    if wanted:
        return bool(channels) and any(c in wanted for c in channels)
    return True


@scenario
def delivery_setup():
    ta, tb = make_event_type("dl.a").name, make_event_type("dl.b").name
    app = make_app("delivery")
    specs = {
        "all": {},
        "a": {"event_types": [ta]},
        "b": {"event_types": [tb]},
        "ch1": {"channels": ["ch1"]},
        "a-ch2": {"event_types": [ta], "channels": ["ch2"]},
    }
    prefix = f"/dl-{RUN}/"
    eps = {}
    for name, spec in specs.items():
        path = prefix + name
        ep = make_endpoint(app.id, path, **spec)
        eps[name] = {
            "ep": ep,
            "path": path,
            "spec": spec,
            "secret": svix.endpoint.get_secret(app.id, ep.id).key,
        }
    msgs = {}
    plan = [(ta, None), (tb, None), (ta, ["ch1"]), (tb, ["ch2"]), (ta, ["ch2"]),
            (tb, ["ch1", "ch2"])]
    for i, (etype, channels) in enumerate(plan):
        payload = {
            "seq": i,
            "event": etype,
            "amount": 4200 + i,
            "nested": {"list": [1, "two", None, True], "text": "caf\u00e9 \u2603 \"q\""},
        }
        kw = {"channels": channels} if channels else {}
        msg = svix.message.create(app.id, MessageIn(event_type=etype, payload=payload, **kw))
        msgs[msg.id] = {"msg": msg, "payload": payload, "type": etype, "channels": channels}
    expected = {
        (mid, name)
        for mid, m in msgs.items()
        for name, e in eps.items()
        if routes(e["spec"], m["type"], m["channels"])
    }
    by_path = {e["path"]: name for name, e in eps.items()}

    def received_pairs():
        return {
            (r["headers"].get("webhook-id"), by_path.get(r["path"]))
            for r in R.requests(prefix=prefix)
        }

    try:
        wait_for(lambda: expected <= received_pairs(), "every expected delivery")
    except TimeoutError as e:
        missing = sorted(expected - received_pairs())
        raise TimeoutError(f"{e}; {len(missing)} missing (msg, endpoint): {missing[:6]}")
    return {
        "app": app,
        "eps": eps,
        "msgs": msgs,
        "expected": expected,
        "prefix": prefix,
        "by_path": by_path,
        "received_pairs": received_pairs,
    }


@check("delivery: every message reaches every matching endpoint, and no other")
def _():
    d = delivery_setup()
    extra = d["received_pairs"]() - d["expected"]
    ensure(not extra, f"deliveries to non-matching endpoints: {sorted(extra)}")
    # The server's own record of where each message went must equal the routing rules.
    name_of = {e["ep"].id: name for name, e in d["eps"].items()}
    for mid, m in d["msgs"].items():
        dests = svix.message_attempt.list_attempted_destinations(d["app"].id, mid).data
        got = {name_of.get(x.id, x.id) for x in dests}
        want = {name for (i, name) in d["expected"] if i == mid}
        eq(got, want, f"destinations of {mid} (type {m['type']}, channels {m['channels']})")


@check("delivery: every request verifies with standardwebhooks and the endpoint secret")
def _():
    d = delivery_setup()
    records = R.requests(prefix=d["prefix"])
    ensure(records, "no deliveries recorded")
    for r in records:
        ep = d["eps"][d["by_path"][r["path"]]]
        eq(r["method"], "POST", "method")
        verify(r, ep["secret"])
        sig = r["headers"]["webhook-signature"]
        ensure(
            all(part.split(",", 1)[0] in ("v1", "v1a") for part in sig.split(" ")),
            f"signature header {sig!r} is not 'v1,<base64>' entries",
        )
        other = next(e for e in d["eps"].values() if e is not ep)
        try:
            Webhook(other["secret"]).verify(r["body"], r["headers"])
        except Exception:  # noqa: BLE001 - any rejection is the expected outcome
            pass
        else:
            raise CheckFailed("a request also verified with another endpoint's secret")


@check("delivery: webhook-id is the message id, the same on every endpoint")
def _():
    d = delivery_setup()
    for r in R.requests(prefix=d["prefix"]):
        wid = r["headers"].get("webhook-id")
        ensure(wid in d["msgs"], f"webhook-id {wid!r} on {r['path']} is no message id")
    seq0 = next(mid for mid, m in d["msgs"].items() if m["payload"]["seq"] == 0)
    paths = {d["eps"]["all"]["path"], d["eps"]["a"]["path"]}
    ids = {r["path"]: r["headers"]["webhook-id"] for r in R.requests(prefix=d["prefix"])
           if r["path"] in paths and r["headers"]["webhook-id"] == seq0}
    eq(set(ids), paths, "endpoints that received the first message")


@check("delivery: body is JSON of the payload sent, content-type application/json")
def _():
    d = delivery_setup()
    for r in R.requests(prefix=d["prefix"]):
        m = d["msgs"][r["headers"]["webhook-id"]]
        ctype = r["headers"].get("content-type", "")
        ensure(ctype.split(";")[0].strip().lower() == "application/json",
               f"content-type {ctype!r}")
        eq(json.loads(r["body"]), m["payload"], f"body delivered to {r['path']}")


# ---------------------------------------------------------------------------------------
# retries, attempts, resend


@scenario
def retry_setup():
    etype = make_event_type("retry").name
    app = make_app("retry")
    path = f"/retry-{RUN}/flaky"
    R.fail_first(path, 2)
    ep = make_endpoint(app.id, path)
    secret = svix.endpoint.get_secret(app.id, ep.id).key
    payload = {"retry": True, "run": RUN}
    msg = svix.message.create(app.id, MessageIn(event_type=etype, payload=payload))
    wait_for(lambda: len(R.requests(path)) >= 3, "3 delivery attempts (500, 500, 200)")
    return {"app": app, "ep": ep, "secret": secret, "msg": msg, "path": path,
            "payload": payload}


@check("retry: 500, 500, then 200 on the 3rd attempt (schedule 1,1)")
def _():
    s = retry_setup()
    reqs = R.requests(s["path"])[:3]
    eq([r["status"] for r in reqs], [500, 500, 200], "receiver answers")
    for r in reqs:
        eq(r["headers"].get("webhook-id"), s["msg"].id, "webhook-id across retries")
        eq(verify(r, s["secret"]), s["payload"], "verified body")
    gaps = [b["at"] - a["at"] for a, b in zip(reqs, reqs[1:])]
    ensure(all(0.5 <= g <= 10 for g in gaps),
           f"gaps between attempts {[round(g, 2) for g in gaps]} s, schedule is 1,1 s")


def settled_attempts(list_fn):
    """Scheduled attempts once the successful one is recorded."""
    def ready():
        atts = list_fn().data
        sched = [a for a in atts if a.trigger_type == MessageAttemptTriggerType.SCHEDULED]
        if len(sched) >= 3 and any(a.response_status_code == 200 for a in sched):
            return atts
        return None

    return wait_for(ready, "3 recorded attempts including the success")


def check_attempts(s, atts):
    sched = [a for a in atts if a.trigger_type == MessageAttemptTriggerType.SCHEDULED]
    eq(sorted(a.response_status_code for a in sched), [200, 500, 500], "status codes")
    for a in sched:
        want = MessageStatus.SUCCESS if a.response_status_code == 200 else MessageStatus.FAIL
        eq(a.status, want, f"status of the attempt answered {a.response_status_code}")
        eq((a.msg_id, a.endpoint_id), (s["msg"].id, s["ep"].id), "attempt msg/endpoint")
        eq(a.url, s["ep"].url, "attempt url")
        ensure(a.id.startswith("atmpt_"), f"attempt id {a.id!r} does not start with atmpt_")
        ensure(a.response_duration_ms >= 0, "negative duration")
    failed = [a for a in sched if a.response_status_code == 500]
    ensure(any("failing on purpose" in a.response for a in failed),
           f"failed attempts do not record the response body: {[a.response for a in failed]}")


@check("attempts: list_by_msg shows the failed and the successful attempts")
def _():
    s = retry_setup()
    atts = settled_attempts(lambda: svix.message_attempt.list_by_msg(
        s["app"].id, s["msg"].id, MessageAttemptListByMsgOptions(limit=50)))
    check_attempts(s, atts)


@check("attempts: list_by_endpoint shows the failed and the successful attempts")
def _():
    s = retry_setup()
    atts = settled_attempts(lambda: svix.message_attempt.list_by_endpoint(
        s["app"].id, s["ep"].id, MessageAttemptListByEndpointOptions(limit=50)))
    check_attempts(s, atts)


@check("attempts: list_attempted_destinations shows status success")
def _():
    s = retry_setup()

    def success():
        dests = svix.message_attempt.list_attempted_destinations(s["app"].id, s["msg"].id)
        mine = [x for x in dests.data if x.id == s["ep"].id]
        ensure(len(mine) == 1, f"destinations: {[x.id for x in dests.data]}")
        return mine[0] if mine[0].status == MessageStatus.SUCCESS else None

    dest = wait_for(success, "destination status success")
    eq(dest.status_text.value, "success", "status text")
    eq(dest.url, s["ep"].url, "destination url")


@check("attempts: resend delivers once more, recorded as a manual attempt")
def _():
    s = retry_setup()
    before = len(R.requests(s["path"]))
    svix.message_attempt.resend(s["app"].id, s["msg"].id, s["ep"].id)
    wait_for(lambda: len(R.requests(s["path"])) > before, "the resent delivery")
    r = R.requests(s["path"])[before]
    eq(r["headers"].get("webhook-id"), s["msg"].id, "webhook-id of the resend")
    eq(verify(r, s["secret"]), s["payload"], "verified body of the resend")

    def manual():
        atts = svix.message_attempt.list_by_msg(s["app"].id, s["msg"].id).data
        return [a for a in atts if a.trigger_type == MessageAttemptTriggerType.MANUAL
                and a.status == MessageStatus.SUCCESS and a.response_status_code == 200]

    wait_for(manual, "a successful manual attempt in list_by_msg")


# ---------------------------------------------------------------------------------------
# ingest (svix.ingest.source / svix.ingest.endpoint)


def raw_request(method, path, body=None):
    """A request outside the SDK (for what the SDK cannot send); returns (status, JSON)."""
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(URL + path, data=data, method=method, headers={
        "authorization": f"Bearer {TOKEN}", "content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


@check("ingest source: create, get by id and uid, upsert, rotate_token, delete")
def _():
    uid = uniq("src")
    src = svix.ingest.source.create(IngestSourceIn(
        name="compat gh", uid=uid, type="github",
        config=GithubConfig(secret="gh-" + secrets.token_hex(8)), metadata={"team": "core"}))
    ensure(src.id.startswith("src_"), f"id {src.id!r}")
    eq((src.type, src.uid, src.metadata), ("github", uid, {"team": "core"}), "source")
    ensure(src.ingest_url and "/ingest/" in src.ingest_url, f"ingestUrl {src.ingest_url!r}")
    eq(svix.ingest.source.get(uid).id, src.id, "get by uid")
    eq(svix.ingest.source.get(src.id).ingest_url, src.ingest_url, "get by id")
    updated = svix.ingest.source.upsert(src.id, IngestSourceIn(
        name="compat stripe", type="stripe", config=StripeConfig(secret="whsec_abc")))
    eq((updated.name, updated.type), ("compat stripe", "stripe"), "updated")
    rotated = svix.ingest.source.rotate_token(src.id)
    ensure(rotated.ingest_url != src.ingest_url, "rotate_token kept the same URL")
    eq(svix.ingest.source.get(src.id).ingest_url, rotated.ingest_url, "rotated URL")
    svix.ingest.source.delete(src.id)
    expect_http_error(404, svix.ingest.source.get, src.id)


@check("ingest source: list pages; a hookd-only type reads as generic-webhook")
def _():
    made = {svix.ingest.source.create(IngestSourceIn(
        name=f"compat list {i}", type="svix", config={"secret": new_secret()})).id
        for i in range(3)}
    status, twilio = raw_request("POST", "/ingest/api/v1/source", {
        "name": "compat twilio", "type": "twilio", "config": {"secret": "tw"}})
    eq(status, 201, f"raw create of a twilio source: {twilio}")
    made.add(twilio["id"])
    items, _ = paginate(svix.ingest.source.list, IngestSourceListOptions, 2)
    ids = [s.id for s in items]
    eq(len(ids), len(set(ids)), "each source once")
    ensure(made <= set(ids), "created sources missing from the list")
    got = svix.ingest.source.get(twilio["id"])
    eq(got.type, "generic-webhook", "a type the SDK does not know")
    for sid in made:
        svix.ingest.source.delete(sid)


@check("ingest endpoint: create, list, get, delete under a source")
def _():
    src = svix.ingest.source.create(IngestSourceIn(
        name="compat ep", type="github", config=GithubConfig(secret="s3cret")))
    ep = svix.ingest.endpoint.create(src.id, IngestEndpointIn(
        url=R.url("/ingest-fwd"), uid=uniq("iep"), metadata={"k": "v"}))
    ensure(ep.id.startswith("ep_"), f"id {ep.id!r}")
    page = svix.ingest.endpoint.list(src.id, IngestEndpointListOptions())
    eq([e.id for e in page.data], [ep.id], "listed endpoints")
    eq(svix.ingest.endpoint.get(src.id, ep.id).url, ep.url, "get")
    ensure(svix.ingest.endpoint.get_secret(src.id, ep.id).key.startswith("whsec_"), "secret")
    svix.ingest.endpoint.delete(src.id, ep.id)
    expect_http_error(404, svix.ingest.endpoint.get, src.id, ep.id)
    apps, _ = paginate(svix.application.list, ApplicationListOptions, 250)
    ensure(all(not (a.uid or "").startswith("hookd-ingest-") for a in apps),
           "a source's internal application is listed")
    svix.ingest.source.delete(src.id)


@check("ingest receive: an svix-signed request to ingestUrl is forwarded once, re-signed")
def _():
    import urllib.request

    provider_secret = new_secret()
    src = svix.ingest.source.create(IngestSourceIn(
        name="compat receive", type="svix", config={"secret": provider_secret}))
    ep = svix.ingest.endpoint.create(src.id, IngestEndpointIn(url=R.url("/ingest-recv")))
    ep_secret = svix.ingest.endpoint.get_secret(src.id, ep.id).key
    body = json.dumps({"type": "user.created", "data": {"id": uniq("u")}}).encode()
    msg_id = uniq("msg_provider")
    now = datetime.datetime.now(tz=datetime.timezone.utc)
    signature = Webhook(provider_secret).sign(msg_id, now, body.decode())
    headers = {"content-type": "application/json", "svix-id": msg_id,
               "svix-timestamp": str(int(now.timestamp())), "svix-signature": signature}

    def post(data):
        req = urllib.request.Request(src.ingest_url, data=data, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=15) as resp:
                return resp.status, dict(resp.headers.items())
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers.items())

    status, first = post(body)
    eq(status, 204, "accepted")
    status, again = post(body)
    eq((status, again.get("x-hookd-duplicate")), (204, "true"), "the replay")
    eq(again.get("x-hookd-msg-id"), first.get("x-hookd-msg-id"), "the replay's message")
    status, _ = post(body.replace(b"user.created", b"user.deleted"))
    eq(status, 401, "a tampered body")
    got = wait_for(lambda: R.requests("/ingest-recv"), "the forwarded event")
    record = got[0]
    eq(record["body"], body, "the body, byte for byte")
    verify(record, ep_secret)
    eq(record["headers"].get("x-hookd-provider-event-id"), msg_id, "the provider's id")
    status, log = raw_request("GET", f"/ingest/api/v1/source/{src.id}/rejection")
    eq((status, [r["code"] for r in log["data"]]), (200, ["bad_signature"]), "rejection log")
    eq(len(R.requests("/ingest-recv")), 1, "forwarded once")
    svix.ingest.source.delete(src.id)


# ---------------------------------------------------------------------------------------
# The README's quickstart: its curl commands, then its SDK example, as written (read from
# README.md; only the token, the server's address and the receiver's address replaced).


def readme_quickstart_blocks():
    """The quickstart section's code blocks, as (language, text) pairs in order."""
    readme = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "README.md")
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    start = text.index("## Five-minute quickstart")
    end = text.find("\n## ", start + 3)
    section = text[start:] if end < 0 else text[start:end]
    blocks, rest = [], section
    while "```" in rest:
        head, _, rest = rest.partition("```")
        lang, _, rest = rest.partition("\n")
        body, _, rest = rest.partition("```")
        blocks.append((lang.strip(), body))
    return blocks


def as_here(block, receiver_path):
    """A README block pointed at this server, token and receiver."""
    return (block.replace("dev-token-change-me-please", TOKEN)
            .replace("http://127.0.0.1:8071", URL)
            .replace("http://127.0.0.1:9000/webhooks", R.url(receiver_path)))


@check("readme: the quickstart's curl commands, then its SDK example, work as written")
def _():
    import subprocess

    blocks = readme_quickstart_blocks()
    shell = [b for lang, b in blocks if lang == "sh"]
    python = [b for lang, b in blocks if lang == "python"]
    eq((len(shell), len(python)), (3, 1), "shell and python blocks in the quickstart")
    # The third shell block is the client's: applications, event type, endpoint, message.
    done = subprocess.run(["bash", "-c", "set -e\n" + as_here(shell[2], "/readme-curl")],
                          capture_output=True, text=True, timeout=60, check=False)
    eq(done.returncode, 0, f"the curl commands (stderr: {done.stderr.strip()!r})")
    ensure('"code"' not in done.stdout, f"a curl command was refused: {done.stdout!r}")
    wait_for(lambda: R.requests("/readme-curl"), "the curl quickstart's delivery")
    # Then the SDK example, in its own namespace (it names its client `svix` too).
    scope = {}
    exec(compile(as_here(python[0], "/readme-sdk"), "README.md quickstart", "exec"), scope)
    got = wait_for(lambda: R.requests("/readme-sdk"), "the SDK example's delivery")
    eq(verify(got[0], scope["secret"]), {"amount": 4200}, "the SDK example's message")


# ---------------------------------------------------------------------------------------


def main(argv):
    global svix, R
    if not URL or not TOKEN:
        print("HOOKD_URL and HOOKD_TOKEN must be set (tests/compat/run.sh sets them)")
        return 2
    svix = client(TOKEN)
    R = Receiver()
    R.start()
    selected = [(n, f) for n, f in CHECKS if not argv[1:] or any(a in n for a in argv[1:])]
    passed = failed = 0
    verbose = os.environ.get("HOOKD_COMPAT_VERBOSE") == "1"
    try:
        for name, fn in selected:
            started = time.monotonic()
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - every failure is reported, none stops
                failed += 1
                print(f"FAIL {name}: {describe(e)}", flush=True)
                if verbose and not isinstance(e, (CheckFailed, SetupFailed)):
                    traceback.print_exc()
            else:
                passed += 1
                print(f"ok   {name} ({time.monotonic() - started:.2f}s)", flush=True)
    finally:
        R.stop()
    print(f"compat: {passed} passed, {failed} failed", flush=True)
    return 1 if failed or not selected else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
