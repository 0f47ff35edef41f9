"""How fast the portal's and the dashboard's pages answer on a running hookd, measured in
Chromium: every page is loaded ROUNDS times, and every request it makes is timed from the
browser's Resource Timing entries (requestStart to responseEnd: the server's answer and its
transfer, without the browser's own queueing). Prints, as Markdown, the p50/p99/max of
each kind of request and of each page's "ready" time (navigation start to the last
response), plus the bytes each page transferred on a first visit.

Fill the database first (BENCHMARKS.md, "Issue 16", has the commands), then:

    python tests/ui/timings.py --url http://127.0.0.1:8071 --token $TOKEN [--rounds 30]

Needs the Playwright virtualenv of tests/ui (tests/ui/requirements.txt) and Chromium.
"""

import argparse
from datetime import datetime, timezone
import json
import random
import re
import statistics
import sys
import time
import urllib.request

from playwright.sync_api import sync_playwright


def api(base, token, path):
    req = urllib.request.Request(base + path, headers={"authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=30) as res:
        return json.loads(res.read())


def template(url):
    """A request's URL as a route template, ids replaced and query keys kept."""
    path, _, query = url.partition("?")
    path = re.sub(r"^https?://[^/]+", "", path)
    for prefix, name in [("app_", "{app}"), ("ep_", "{ep}"), ("msg_", "{msg}"), ("atmpt_", "{attempt}"),
                         ("qtask_", "{task}"), ("src_", "{source}")]:
        path = re.sub(r"/" + prefix + r"[A-Za-z0-9]+", "/" + name, path)
    keys = sorted({kv.split("=")[0] for kv in query.split("&") if kv})
    keys = [k for k in keys if k not in ("limit",)]
    return path + ("?" + "&".join(keys) if keys else "")


def pct(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    base, token = args.url.rstrip("/"), args.token
    random.seed(16)

    # The largest application, a sample of its endpoints and of its messages (new and old).
    apps = api(base, token, "/api/v1/app?limit=250")["data"]
    app = apps[0]["id"]
    endpoints, it = [], None
    while len(endpoints) < 10_000:
        page = api(base, token, f"/api/v1/app/{app}/endpoint?limit=250" + (f"&iterator={it}" if it else ""))
        endpoints += [e["id"] for e in page["data"]]
        if page["done"]:
            break
        it = page["iterator"]
    msgs = [m["id"] for m in api(base, token, f"/api/v1/app/{app}/msg?limit=250&with_content=false")["data"]]
    oldest = api(base, token, f"/api/v1/app/{app}/msg?limit=250&with_content=false&order=ascending")
    msgs += [m["id"] for m in oldest["data"]]
    types = [t["name"] for t in api(base, token, "/api/v1/event-type?limit=250")["data"]] or ["none"]
    req = urllib.request.Request(
        f"{base}/api/v1/auth/app-portal-access/{app}", data=b"{}", method="POST",
        headers={"authorization": "Bearer " + token, "content-type": "application/json"})
    with urllib.request.urlopen(req) as res:
        link = json.loads(res.read())["url"]
    print(f"application {app}: {len(endpoints)} endpoints sampled from, {len(msgs)} messages sampled from", file=sys.stderr)

    # Times within the log: `stamp(0.5)` is halfway between the oldest and newest message.
    first = api(base, token, f"/api/v1/app/{app}/msg/{msgs[-1]}")["timestamp"]
    last = api(base, token, f"/api/v1/app/{app}/msg/{msgs[0]}")["timestamp"]

    def stamp(fraction):
        t0 = datetime.fromisoformat(first.replace("Z", "+00:00")).timestamp()
        t1 = datetime.fromisoformat(last.replace("Z", "+00:00")).timestamp()
        at = datetime.fromtimestamp(t0 + fraction * (t1 - t0), tz=timezone.utc)
        return at.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    portal = f"{base}/portal/{app}#"
    pages = {
        "portal: endpoints": lambda: portal + "/endpoints",
        "portal: endpoint": lambda: portal + "/endpoints/" + random.choice(endpoints),
        "portal: messages": lambda: portal + "/messages",
        "portal: messages by event type": lambda: portal + "/messages?event_types=" + random.choice(types),
        "portal: messages before a time": lambda: portal + "/messages?before=" + stamp(random.uniform(0.05, 0.5)),
        "portal: messages after a time": lambda: portal + "/messages?after=" + stamp(random.uniform(0.5, 0.95)),
        "portal: failed attempts of an endpoint": lambda: portal + f"/messages?endpoint={random.choice(endpoints)}&status=2",
        "portal: message": lambda: portal + "/messages/" + random.choice(msgs),
        "portal: event types": lambda: portal + "/event-types",
        "dashboard: overview": lambda: base + "/ui#/",
        "dashboard: applications": lambda: base + "/ui#/apps",
        "dashboard: application's endpoints": lambda: base + f"/ui#/apps/{app}/endpoints",
        "dashboard: event types": lambda: base + "/ui#/event-types",
        "dashboard: ingest sources": lambda: base + "/ui#/sources",
        "dashboard: background tasks": lambda: base + "/ui#/tasks",
    }
    requests, ready, weight = {}, {}, {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        ctx = browser.new_context()
        page = ctx.new_page()
        page.goto(link)  # the token goes to this tab's sessionStorage
        page.wait_for_load_state("networkidle")
        page.goto(base + "/ui")
        page.get_by_label("Admin token").fill(token)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Overview").wait_for()
        for rnd in range(args.rounds + 1):
            for name, url in pages.items():
                page.goto("about:blank")
                page.goto(url())
                page.wait_for_load_state("networkidle")
                entries = page.evaluate(
                    """() => performance.getEntriesByType('resource').map((e) => ({
                        name: e.name, server: e.responseEnd - e.requestStart, end: e.responseEnd,
                        bytes: e.decodedBodySize, type: e.initiatorType}))"""
                )
                if rnd == 0:
                    continue  # the first round warms the server's caches
                for e in entries:
                    if e["type"] == "fetch":
                        requests.setdefault(template(e["name"]), []).append(e["server"])
                ready.setdefault(name, []).append(max([e["end"] for e in entries] or [0]))
        # The weight of a first visit: a fresh browser context, nothing cached.
        for kind, url in [("portal", link), ("dashboard", base + "/ui")]:
            fresh = browser.new_context().new_page()
            fresh.goto(url)
            fresh.wait_for_load_state("networkidle")
            weight[kind] = fresh.evaluate(
                """() => {
                    const nav = performance.getEntriesByType('navigation')[0];
                    const files = performance.getEntriesByType('resource')
                        .filter((e) => e.initiatorType === 'link' || e.initiatorType === 'script');
                    return [nav.transferSize + files.reduce((a, e) => a + e.transferSize, 0),
                            nav.decodedBodySize + files.reduce((a, e) => a + e.decodedBodySize, 0)];
                }"""
            )
            fresh.context.close()
        browser.close()

    print("| page | ready p50 | ready p99 | ready max |\n|---|---|---|---|")
    for name, v in ready.items():
        print(f"| {name} | {pct(v, 50):.1f} ms | {pct(v, 99):.1f} ms | {max(v):.1f} ms |")
    print("\n| request | count | p50 | p99 | max |\n|---|---|---|---|---|")
    for name, v in sorted(requests.items()):
        print(f"| `{name}` | {len(v)} | {pct(v, 50):.1f} ms | {pct(v, 99):.1f} ms | {max(v):.1f} ms |")
    allv = [x for v in requests.values() for x in v]
    print(f"\nall {len(allv)} requests: p50 {pct(allv, 50):.1f} ms, p99 {pct(allv, 99):.1f} ms, max {max(allv):.1f} ms")
    print("\n| first visit | bytes transferred (HTML, CSS, scripts, with headers) | bytes of content |\n|---|---|---|")
    for name, (sent, content) in weight.items():
        print(f"| {name} | {sent:,} | {content:,} |")


if __name__ == "__main__":
    main()
