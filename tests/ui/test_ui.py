"""The consumer portal and the operator dashboard in a real browser.

Drives Debian's Chromium through Playwright (the system browser's executable: no browser
download) against the real hookd that tests/ui/run.sh started, with a real receiver on
another port. Each check runs in a fresh browser context; a page's console errors (a CSP
refusal included) and uncaught exceptions fail the check. A screenshot of every page is
saved under HOOKD_UI_SHOTS (target/ui-screenshots).

Usage: HOOKD_URL=... HOOKD_TOKEN=... python test_ui.py [name-filter ...]
"""

import json
import os
import re
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from playwright.sync_api import expect, sync_playwright

URL = os.environ.get("HOOKD_URL", "")
TOKEN = os.environ.get("HOOKD_TOKEN", "")
SHOTS = os.environ.get("HOOKD_UI_SHOTS", "target/ui-screenshots")
CHROMIUM = os.environ.get("HOOKD_UI_CHROMIUM", "/usr/bin/chromium")
# Playwright's waits (each expect polls until this deadline).
expect.set_options(timeout=15_000)

XSS = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


class CheckFailed(Exception):
    pass


def ensure(cond, what):
    if not cond:
        raise CheckFailed(what)


# --- The API, as the producer calls it ---


def api(method, path, body=None, token=None, expect_status=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(URL + path, data=data, method=method)
    req.add_header("authorization", "Bearer " + (token or TOKEN))
    if data is not None:
        req.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            status, raw = res.status, res.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    if expect_status is not None:
        ensure(status == expect_status, f"{method} {path}: {status} (wanted {expect_status}): {raw[:300]!r}")
    elif status >= 300:
        raise CheckFailed(f"{method} {path}: {status}: {raw[:300]!r}")
    return json.loads(raw) if raw else None


def portal_link(app_id, **body):
    return api("POST", f"/api/v1/auth/app-portal-access/{app_id}", body)


def wait_for(what, fn, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise CheckFailed(f"timed out waiting for {what}")
        time.sleep(0.1)


# --- A receiver of deliveries, and the page of another origin that frames hookd ---


class Receiver:
    """Records every request; answers `status` (per path, default 204) with `body`."""

    def __init__(self):
        self.requests = []
        self.status = {}
        self.body = {}
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                # /host.html?src=URL: a page of this (other) origin that frames URL.
                if self.path.startswith("/host.html"):
                    src = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)["src"][0]
                    page = (
                        '<!doctype html><title>Host</title><link rel="icon" href="data:,"><h1>Producer app</h1>'
                        f'<iframe id="embed" src="{src}" width="1000" height="700"></iframe>'
                    ).encode()
                    self.send_response(200)
                    self.send_header("content-type", "text/html")
                    self.send_header("content-length", str(len(page)))
                    self.end_headers()
                    self.wfile.write(page)
                    return
                self.send_response(404)
                self.end_headers()

            def do_POST(self):
                n = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(n)
                with outer.lock:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    outer.requests.append((self.path, headers, body))
                    status = outer.status.get(self.path, 204)
                    reply = outer.body.get(self.path, b"")
                self.send_response(status)
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]

    def start(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def got(self, path):
        with self.lock:
            return [(h, json.loads(b)) for p, h, b in self.requests if p == path]


import urllib.parse  # noqa: E402 (used by the handler above)

R = Receiver()


# --- Fixtures: two applications, event types, a message ---

WORLD = {}


def setup_world():
    for name, desc in [("invoice.paid", "An invoice was paid"), ("user.created", "A user signed up")]:
        schema = {
            "1": {
                "type": "object",
                "title": name,
                "properties": {"amount": {"type": "integer"}},
                "examples": [{"amount": 1250, "currency": "EUR"}],
            }
        }
        api("PUT", f"/api/v1/event-type/{name}", {"name": name, "description": desc, "schemas": schema})
    a = api("POST", "/api/v1/app", {"name": "Acme Corp"})
    b = api("POST", "/api/v1/app", {"name": "Beta Inc"})
    b_ep = api("POST", f"/api/v1/app/{b['id']}/endpoint", {"url": R.url("/beta-secret-endpoint"), "description": "beta only"})
    b_msg = api("POST", f"/api/v1/app/{b['id']}/msg", {"eventType": "invoice.paid", "payload": {"beta": "private"}})
    WORLD.update(a=a["id"], b=b["id"], b_ep=b_ep["id"], b_msg=b_msg["id"])


# --- Browser plumbing ---


class Browser:
    def __init__(self, pw):
        self.browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        self.last = None

    def page(self, name):
        context = self.browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        errors = []
        page.on("console", lambda m: m.type == "error" and errors.append(f"{m.text} ({m.location.get('url', '')})"))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.errors = errors
        self.last = page
        return page

    def close(self):
        self.browser.close()


def shot(page, name):
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


# Asking whether a session exists, and a wrong admin token, answer 401.
SIGNED_OUT = "status of 401 (Unauthorized) (" + URL + "/ui/session)"


def no_page_errors(page, allowed=()):
    bad = [e for e in page.errors if not e.endswith(SIGNED_OUT) and not any(a in e for a in allowed)]
    ensure(not bad, f"errors on the page: {bad}")


def open_portal(page, app_id, **link):
    out = portal_link(app_id, **link)
    page.goto(out["url"])
    expect(page.get_by_role("heading", name="Endpoints")).to_be_visible()
    return out


def sign_in(page):
    page.goto(URL + "/ui")
    page.get_by_label("Admin token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


def labelled_controls(page, frame=None):
    """Every input, select and textarea has an accessible name."""
    target = frame or page
    unnamed = target.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
            .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
            .map((e) => e.outerHTML)"""
    )
    ensure(not unnamed, f"controls without a label: {unnamed}")


# --- The checks ---


def check_portal_endpoint_delivery_resend(b):
    page = b.page("portal")
    out = open_portal(page, WORLD["a"])
    ensure("#key=" not in page.url and page.url.endswith("#/endpoints"), f"the token left the address bar: {page.url}")
    expect(page.locator("#app-name")).to_have_text("Acme Corp")
    shot(page, "portal-endpoints-empty")
    page.get_by_role("link", name="Add endpoint").click()
    page.get_by_label("Endpoint URL").fill(R.url("/acme"))
    page.get_by_label("Description").fill("Acme production")
    page.get_by_label("invoice.paid").check()
    page.get_by_label("Custom headers").fill("X-Team: blue")
    labelled_controls(page)
    shot(page, "portal-endpoint-form")
    page.get_by_role("button", name="Create endpoint").click()
    expect(page.get_by_role("heading", name=R.url("/acme"))).to_be_visible()
    ep_id = page.url.rsplit("/", 1)[1]
    ensure(ep_id.startswith("ep_"), page.url)
    ep = api("GET", f"/api/v1/app/{WORLD['a']}/endpoint/{ep_id}")
    ensure(ep["filterTypes"] == ["invoice.paid"] and ep["description"] == "Acme production", ep)
    headers = api("GET", f"/api/v1/app/{WORLD['a']}/endpoint/{ep_id}/headers")
    ensure(headers["headers"] == {"X-Team": "blue"}, headers)

    # A message through the API reaches the receiver, and shows in the portal.
    msg = api("POST", f"/api/v1/app/{WORLD['a']}/msg", {"eventType": "invoice.paid", "eventId": "evt-ui-1", "payload": {"amount": 4200}})
    got = wait_for("the delivery", lambda: R.got("/acme"))
    ensure(got[0][1] == {"amount": 4200} and got[0][0].get("x-team") == "blue", got[0])
    page.get_by_role("link", name="Messages").click()
    expect(page.get_by_role("link", name=msg["id"])).to_be_visible()
    shot(page, "portal-messages")
    # Search by eventId opens the message.
    page.get_by_label("Message id or event id").fill("evt-ui-1")
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_role("heading", name=msg["id"])).to_be_visible()
    expect(page.locator("#payload")).to_contain_text('"amount": 4200')
    deliveries = page.locator("table").first
    expect(deliveries.get_by_text("success")).to_be_visible()
    expect(page.get_by_text("HTTP 204").first).to_be_visible()
    shot(page, "portal-message")
    page.get_by_role("button", name="Resend").click()
    expect(page.get_by_text("Resent to")).to_be_visible()
    wait_for("the resent delivery", lambda: len(R.got("/acme")) >= 2)
    again = R.got("/acme")[1]
    ensure(again[0].get("webhook-id") == msg["id"], again[0])
    # The endpoint's page: health, last failure, attempts.
    page.get_by_role("link", name=R.url("/acme")).first.click()
    expect(page.get_by_role("heading", name="Health (last 24 hours)")).to_be_visible()
    # One message delivered (the resend too): the counts are per message, as Svix's.
    expect(page.locator(".stat").filter(has_text="Succeeded").locator(".value")).to_have_text("1")
    expect(page.locator("svg.chart rect.ok")).to_have_count(12)
    shot(page, "portal-endpoint")
    no_page_errors(page)
    WORLD["a_ep"] = ep_id
    WORLD["a_msg"] = msg["id"]


def check_portal_rotate_secret(b):
    page = b.page("portal")
    open_portal(page, WORLD["a"])
    page.get_by_role("link", name=R.url("/acme")).click()
    page.get_by_role("button", name="Reveal secret").click()
    before = page.locator("#secret-value").text_content()
    ensure(before == api("GET", f"/api/v1/app/{WORLD['a']}/endpoint/{WORLD['a_ep']}/secret")["key"], before)
    page.get_by_role("button", name="Rotate secret").click()
    page.get_by_role("button", name="Click again to rotate").click()
    expect(page.get_by_text("Rotated.")).to_be_visible()
    after = page.locator("#secret-value").text_content()
    ensure(after.startswith("whsec_") and after != before, (before, after))
    ensure(after == api("GET", f"/api/v1/app/{WORLD['a']}/endpoint/{WORLD['a_ep']}/secret")["key"], "the API has another secret")
    no_page_errors(page)


def check_read_only_link_changes_nothing(b):
    page = b.page("portal-read-only")
    out = open_portal(page, WORLD["a"], readOnly=True)
    expect(page.get_by_text("read-only")).to_be_visible()
    expect(page.get_by_role("link", name="Add endpoint")).to_have_count(0)
    page.get_by_role("link", name=R.url("/acme")).click()
    expect(page.get_by_role("heading", name="Health (last 24 hours)")).to_be_visible()
    for name in ["Edit", "Disable", "Delete", "Rotate secret", "Send example", "Recover"]:
        expect(page.get_by_role("button", name=name, exact=True)).to_have_count(0)
        expect(page.get_by_role("link", name=name, exact=True)).to_have_count(0)
    # Viewing the secret is allowed (no capability said otherwise); changing is not.
    page.goto(URL + f"/portal/{WORLD['a']}#/messages/{WORLD['a_msg']}")
    expect(page.get_by_role("heading", name=WORLD["a_msg"])).to_be_visible()
    expect(page.get_by_role("button", name="Resend")).to_have_count(0)
    shot(page, "portal-read-only-message")
    # And the API refuses what the page does not offer.
    token = out["token"]
    a, ep = WORLD["a"], WORLD["a_ep"]
    for method, path, body in [
        ("POST", f"/api/v1/app/{a}/endpoint", {"url": R.url("/ro")}),
        ("PATCH", f"/api/v1/app/{a}/endpoint/{ep}", {"disabled": True}),
        ("DELETE", f"/api/v1/app/{a}/endpoint/{ep}", None),
        ("POST", f"/api/v1/app/{a}/endpoint/{ep}/secret/rotate", {}),
        ("POST", f"/api/v1/app/{a}/msg/{WORLD['a_msg']}/endpoint/{ep}/resend", {}),
    ]:
        api(method, path, body, token=token, expect_status=403)
    ensure(not api("GET", f"/api/v1/app/{a}/endpoint/{ep}")["disabled"], "the endpoint changed")
    no_page_errors(page)


def check_a_link_for_a_never_shows_b(b):
    page = b.page("portal-isolation")
    out = open_portal(page, WORLD["a"])
    # Routes of A's portal naming B's endpoint and message: not found under A.
    page.goto(URL + f"/portal/{WORLD['a']}#/endpoints/{WORLD['b_ep']}")
    expect(page.get_by_text("There is no such endpoint.")).to_be_visible()
    page.goto(URL + f"/portal/{WORLD['a']}#/messages/{WORLD['b_msg']}")
    expect(page.get_by_text("There is no message with that id or eventId.")).to_be_visible()
    # A's token on B's portal address: refused, nothing of B shown.
    page.goto(URL + f"/portal/{WORLD['b']}#key={out['token']}")
    expect(page.get_by_text("This link does not give access to this application.")).to_be_visible()
    shot(page, "portal-other-app-refused")
    # B's portal address without a token of its own: the page asks for the link.
    page.goto(URL + f"/portal/{WORLD['b']}")
    page.reload()
    html = page.content()
    for secret in ["beta-secret-endpoint", "Beta Inc", WORLD["b_ep"], "private"]:
        ensure(secret not in html, f"B's {secret} is on the page")
    no_page_errors(page, allowed=["403", "404", "Failed to load resource"])


def check_payload_and_response_render_as_text(b):
    a = WORLD["a"]
    R.body["/xss"] = XSS.encode()
    R.status["/xss"] = 500
    ep = api("POST", f"/api/v1/app/{a}/endpoint", {"url": R.url("/xss"), "description": XSS, "filterTypes": ["user.created"]})
    msg = api("POST", f"/api/v1/app/{a}/msg", {"eventType": "user.created", "payload": {"name": XSS}})
    wait_for("the failed attempt", lambda: R.got("/xss"))
    page = b.page("portal-xss")
    open_portal(page, a)
    page.goto(URL + f"/portal/{a}#/messages/{msg['id']}")
    expect(page.locator("#payload")).to_contain_text("<script>window.__pwned = 1</script>")
    expect(page.get_by_text("HTTP 500").first).to_be_visible()
    page.locator("details summary").first.click()
    expect(page.locator("pre.response").first).to_have_text(XSS)
    page.goto(URL + f"/portal/{a}#/endpoints")
    expect(page.get_by_text(XSS)).to_be_visible()
    page.goto(URL + f"/portal/{a}#/endpoints/{ep['id']}")
    expect(page.locator("pre").filter(has_text="<img src=x").first).to_be_visible()
    ensure(page.evaluate("window.__pwned") is None, "a script from the data ran")
    ensure(page.locator("img").count() == 0, "the data made an element")
    shot(page, "portal-xss-as-text")
    no_page_errors(page)
    api("PATCH", f"/api/v1/app/{a}/endpoint/{ep['id']}", {"disabled": True})


def check_portal_in_an_iframe_of_another_origin(b):
    out = portal_link(WORLD["a"])
    page = b.page("portal-iframe")
    host = f"http://localhost:{R.port}/host.html?src={urllib.parse.quote(out['url'], safe='')}"
    page.goto(host)
    frame = page.frame_locator("#embed")
    expect(frame.get_by_role("heading", name="Endpoints")).to_be_visible()
    expect(frame.get_by_role("link", name=R.url("/acme"))).to_be_visible()
    frame.get_by_role("link", name="Messages").click()
    expect(frame.get_by_role("link", name=WORLD["a_msg"])).to_be_visible()
    shot(page, "portal-in-iframe")
    no_page_errors(page)


def check_operator_ui_refuses_to_be_framed(b):
    page = b.page("ui-frame")
    res = page.request.get(URL + "/ui")
    h = res.headers
    ensure(h.get("x-frame-options") == "DENY" and "frame-ancestors 'none'" in h.get("content-security-policy", ""), h)
    page.goto(f"http://localhost:{R.port}/host.html?src={urllib.parse.quote(URL + '/ui', safe='')}")
    page.wait_for_load_state("load")
    frame = page.frame(url=re.compile(r"/ui$"))
    rendered = frame is not None and frame.evaluate("() => !!document.getElementById('root')")
    ensure(not rendered, "the dashboard rendered inside another site's frame")
    shot(page, "ui-refuses-frame")


def check_security_headers(b):
    page = b.page("headers")
    for path in ["/ui", f"/portal/{WORLD['a']}", "/assets/common.js", "/assets/hookd.css"]:
        h = page.request.get(URL + path).headers
        ensure(h.get("x-content-type-options") == "nosniff", (path, h))
        ensure(h.get("referrer-policy") == "no-referrer", (path, h))
        if not path.startswith("/assets"):
            csp = h.get("content-security-policy", "")
            ensure("script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp, (path, csp))


def check_operator_sign_in_csrf_and_sign_out(b):
    page = b.page("ui")
    page.goto(URL + "/ui")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    labelled_controls(page)
    shot(page, "ui-sign-in")
    page.get_by_label("Admin token").fill("not-the-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("That is not the admin token.")).to_be_visible()
    sign_in(page)
    cookie = [c for c in page.context.cookies() if c["name"] == "hookd_session"][0]
    ensure(cookie["httpOnly"] and cookie["sameSite"] == "Strict", cookie)
    # The cookie alone changes nothing: the CSRF header is required.
    res = page.request.post(URL + "/api/v1/app", data={"name": "csrf"}, headers={"content-type": "application/json"})
    ensure(res.status == 403, f"a request with the cookie but no CSRF header: {res.status}")
    res = page.request.get(URL + "/api/v1/app")
    ensure(res.status == 403, f"a read with the cookie but no CSRF header: {res.status}")
    expect(page.locator("#queue-depth .value")).to_have_text(re.compile(r"^\d+$"))
    expect(page.locator("#deliveries-rate .value")).to_have_text(re.compile(r"^\d+(\.\d)?$"))
    shot(page, "ui-overview")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    ensure(not [c for c in page.context.cookies() if c["name"] == "hookd_session"], "the cookie survived sign-out")
    page.goto(URL + "/ui")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    no_page_errors(page)


def check_operator_pages(b):
    page = b.page("ui")
    sign_in(page)
    # Applications, search, and an application's portal view.
    page.get_by_role("link", name="Applications").click()
    expect(page.get_by_role("link", name="Acme Corp")).to_be_visible()
    shot(page, "ui-applications")
    page.get_by_label("Application id, uid or name").fill(WORLD["b"])
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name=re.compile("Beta Inc"))).to_be_visible()
    expect(page.get_by_role("link", name=R.url("/beta-secret-endpoint"))).to_be_visible()
    shot(page, "ui-application-portal-view")
    # The portal-link generator.
    page.get_by_role("link", name="Portal link").click()
    page.get_by_label("Read-only").check()
    page.get_by_role("button", name="Create link").click()
    link = page.locator("#portal-url").input_value()
    ensure(f"/portal/{WORLD['b']}#key=appsk_" in link, link)
    shot(page, "ui-portal-link")
    # Event types: create one through the form; the API has it.
    page.get_by_role("link", name="Event types").first.click()
    page.get_by_role("link", name="New event type").click()
    page.get_by_label("Name").fill("order.shipped")
    page.get_by_label("Description").fill("An order left the warehouse")
    page.get_by_label("Schemas").fill('{"1": {"type": "object", "examples": [{"order": 7}]}}')
    shot(page, "ui-event-type-form")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("link", name="order.shipped")).to_be_visible()
    shot(page, "ui-event-types")
    et = api("GET", "/api/v1/event-type/order.shipped")
    ensure(et["description"] == "An order left the warehouse" and et["schemas"]["1"]["examples"] == [{"order": 7}], et)
    # Ingest sources: the rejection log shows a refused request, as text.
    src = api("POST", "/ingest/api/v1/source", {"name": "GitHub org", "type": "github", "config": {"secret": "s3cret-ui-github"}})
    req = urllib.request.Request(src["ingestUrl"], data=b'{"zen": "<b>hi</b>"}', method="POST")
    req.add_header("content-type", "application/json")
    try:
        urllib.request.urlopen(req, timeout=10)
    except urllib.error.HTTPError:
        pass
    page.get_by_role("link", name="Ingest sources").click()
    page.get_by_role("link", name="GitHub org").click()
    expect(page.get_by_text(src["ingestUrl"])).to_be_visible()
    expect(page.get_by_role("cell", name=re.compile("signature"))).to_be_visible()
    shot(page, "ui-ingest-source")
    page.get_by_role("button", name="Rotate receive URL").click()
    page.get_by_role("button", name="Click again to rotate").click()
    expect(page.get_by_text("Rotated.")).to_be_visible()
    ensure(page.get_by_text(src["ingestUrl"], exact=True).count() == 0, "the receive URL did not change")
    page.get_by_role("link", name="Forwarded events and their deliveries").click()
    expect(page.get_by_role("heading", name="Messages")).to_be_visible()
    # Background tasks.
    page.get_by_role("link", name="Background tasks").click()
    expect(page.get_by_role("heading", name="Background tasks")).to_be_visible()
    shot(page, "ui-background-tasks")
    labelled_controls(page)
    no_page_errors(page)


def check_recover_with_progress(b):
    a = WORLD["a"]
    R.status["/flaky"] = 503
    ep = api("POST", f"/api/v1/app/{a}/endpoint", {"url": R.url("/flaky"), "filterTypes": ["user.created"]})
    msg = api("POST", f"/api/v1/app/{a}/msg", {"eventType": "user.created", "payload": {"n": 1}})
    wait_for(
        "the delivery to fail for good",
        lambda: any(d["id"] == ep["id"] and d["status"] == 2 for d in api("GET", f"/api/v1/app/{a}/msg/{msg['id']}/endpoint")["data"]),
    )
    R.status["/flaky"] = 200
    seen = len(R.got("/flaky"))
    page = b.page("portal-recover")
    open_portal(page, a)
    page.goto(URL + f"/portal/{a}#/endpoints/{ep['id']}")
    expect(page.get_by_role("heading", name="Recover failed messages")).to_be_visible()
    page.get_by_role("button", name="Recover", exact=True).click()
    expect(page.locator("[data-task-status=finished]")).to_contain_text("1 message re-sent")
    wait_for("the recovered delivery", lambda: len(R.got("/flaky")) > seen)
    shot(page, "portal-recovered")
    page.goto(URL + f"/portal/{a}#/messages?endpoint={ep['id']}&status=0")
    expect(page.get_by_role("link", name=msg["id"])).to_be_visible()
    no_page_errors(page)


def check_why_an_endpoint_is_disabled(b):
    a = WORLD["a"]
    R.status["/gone"] = 410
    gone = api("POST", f"/api/v1/app/{a}/endpoint", {"url": R.url("/gone"), "filterTypes": ["user.created"]})
    manual = api("POST", f"/api/v1/app/{a}/endpoint", {"url": R.url("/manual"), "filterTypes": ["user.created"]})
    api("POST", f"/api/v1/app/{a}/msg", {"eventType": "user.created", "payload": {"n": 2}})
    wait_for("the 410 to disable the endpoint", lambda: api("GET", f"/api/v1/app/{a}/endpoint/{gone['id']}")["disabled"])
    ensure(api("GET", f"/api/v1/app/{a}/endpoint/{gone['id']}").get("disabledReason") == "gone", "the API's reason")
    page = b.page("portal-disabled")
    open_portal(page, a)
    page.goto(URL + f"/portal/{a}#/endpoints/{gone['id']}")
    expect(page.locator("#disabled-reason")).to_have_text("Disabled because it answered 410 Gone.")
    expect(page.get_by_text("HTTP 410").first).to_be_visible()
    shot(page, "portal-endpoint-gone")
    # Disabled from the portal: a user's doing; enabled again: no reason left.
    page.goto(URL + f"/portal/{a}#/endpoints/{manual['id']}")
    page.get_by_role("button", name="Disable", exact=True).click()
    expect(page.locator("#disabled-reason")).to_have_text("Disabled by a user.")
    page.get_by_role("button", name="Enable", exact=True).click()
    expect(page.locator("#disabled-reason")).to_have_count(0)
    ensure("disabledReason" not in api("GET", f"/api/v1/app/{a}/endpoint/{manual['id']}"), "a reason while enabled")
    no_page_errors(page)


def check_an_expired_link_says_so(b):
    out = portal_link(WORLD["a"], expiry=1)

    def refused():
        req = urllib.request.Request(URL + f"/api/v1/app/{WORLD['a']}", headers={"authorization": "Bearer " + out["token"]})
        try:
            urllib.request.urlopen(req, timeout=5)
            return False
        except urllib.error.HTTPError as e:
            return e.code == 401

    wait_for("the one-second link to expire", refused, timeout=5)
    page = b.page("portal-expired")
    page.goto(out["url"])
    expect(page.get_by_text("This portal link has expired or is no longer valid.")).to_be_visible()
    expect(page.get_by_role("link", name="Add endpoint")).to_have_count(0)
    shot(page, "portal-expired")
    no_page_errors(page, allowed=["status of 401"])


def check_white_label_and_keyboard(b):
    out = portal_link(WORLD["a"])
    page = b.page("portal-theme")
    base, frag = out["url"].split("#", 1)
    page.goto(base + "?primaryColor=ff5500&darkMode=true#" + frag)
    expect(page.get_by_role("heading", name="Endpoints")).to_be_visible()
    ensure(page.evaluate("document.documentElement.classList.contains('dark')"), "dark mode")
    color = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--primary').trim()")
    ensure(color == "#ff5500", color)
    shot(page, "portal-dark")
    # The other options: no navigation, no gutters, a local font.
    other = b.browser.new_context().new_page()
    other.goto(base + "?hideNavigation=true&noGutters=true&fontFamily=DejaVu%20Serif#" + frag)
    expect(other.get_by_role("heading", name="Endpoints")).to_be_visible()
    expect(other.get_by_role("navigation", name="Portal")).to_be_hidden()
    ensure(other.evaluate("document.getElementById('root').classList.contains('no-gutters')"), "no gutters")
    font = other.evaluate("getComputedStyle(document.body).fontFamily")
    ensure(font.lstrip("\"").startswith("DejaVu Serif"), font)
    other.context.close()
    # Keyboard only: Tab reaches the navigation and "Add endpoint", Enter follows it.
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Add endpoint":
            break
    ensure(page.evaluate("document.activeElement.textContent") == "Add endpoint", "Add endpoint is not reachable by Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Add endpoint")).to_be_visible()
    labelled_controls(page)
    page.goto(URL + f"/portal/{WORLD['a']}#/event-types")
    page.get_by_text("invoice.paid", exact=True).click()
    paid = page.locator("details", has_text="invoice.paid")
    expect(paid.get_by_text("Example payload")).to_be_visible()
    expect(paid.locator("pre").last).to_contain_text('"currency": "EUR"')
    shot(page, "portal-event-types")
    no_page_errors(page)


CHECKS = [
    (name[len("check_"):], fn)
    for name, fn in list(globals().items())
    if name.startswith("check_") and callable(fn)
]


def main(argv):
    if not URL or not TOKEN:
        print("HOOKD_URL and HOOKD_TOKEN must be set (tests/ui/run.sh sets them)")
        return 2
    R.start()
    setup_world()
    selected = [(n, f) for n, f in CHECKS if not argv[1:] or any(a in n for a in argv[1:])]
    passed = failed = 0
    with sync_playwright() as pw:
        b = Browser(pw)
        try:
            for name, fn in selected:
                started = time.monotonic()
                try:
                    fn(b)
                except Exception as e:  # noqa: BLE001 - every failure is reported
                    failed += 1
                    print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
                    if b.last is not None:
                        shot(b.last, f"FAILED-{name}")
                    if not isinstance(e, CheckFailed):
                        traceback.print_exc()
                else:
                    passed += 1
                    print(f"ok   {name} ({time.monotonic() - started:.2f}s)", flush=True)
                finally:
                    if b.last is not None:
                        b.last.context.close()
                        b.last = None
        finally:
            b.close()
    print(f"ui: {passed} passed, {failed} failed; screenshots in {SHOTS}", flush=True)
    return 1 if failed or not selected else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
