"""Creates what the fuzzer's path parameters name, and prints them as shell assignments.

Schemathesis fills path parameters with fixed values (schemathesis.toml reads them from
the environment), so the operations under an application, endpoint, message, attempt,
event type, background task and ingest source reach real ones instead of answering 404.
They are named by id, which no request can change (a PUT may change a uid).

Usage: python fixtures.py URL TOKEN
"""

import json
import sys
import time
import urllib.request

URL, TOKEN = sys.argv[1], sys.argv[2]


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(URL + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {TOKEN}")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


call("POST", "/api/v1/event-type", {
    "name": "fuzz.event",
    "description": "what the fuzzer sends",
    "schemas": {"1": {"type": "object", "properties": {"n": {"type": "integer"}}}},
})
app = call("POST", "/api/v1/app", {"name": "fuzz", "uid": "fuzz-app"})["id"]
# A closed loopback port: deliveries fail fast, so attempts exist.
endpoint = call("POST", f"/api/v1/app/{app}/endpoint", {
    "url": "http://127.0.0.1:9/hook", "uid": "fuzz-ep", "channels": ["fuzz"],
})["id"]
msg = call("POST", f"/api/v1/app/{app}/msg", {
    "eventType": "fuzz.event", "eventId": "fuzz-msg", "payload": {"n": 1}, "channels": ["fuzz"],
})["id"]
attempt = None
deadline = time.monotonic() + 30
while attempt is None and time.monotonic() < deadline:
    page = call("GET", f"/api/v1/app/{app}/attempt/msg/{msg}")["data"]
    attempt = page[0]["id"] if page else None
    if attempt is None:
        time.sleep(0.05)
if attempt is None:
    sys.exit("fixtures: no attempt after 30 s")
task = call("POST", f"/api/v1/app/{app}/endpoint/{endpoint}/recover",
            {"since": "2026-01-01T00:00:00Z"})["id"]
source = call("POST", "/ingest/api/v1/source", {
    "name": "fuzz", "uid": "fuzz-src", "type": "svix",
    "config": {"secret": "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
})
source_endpoint = call("POST", f"/ingest/api/v1/source/{source['id']}/endpoint", {
    "url": "http://127.0.0.1:9/in", "uid": "fuzz-in",
})["id"]

for name, value in [
    ("FUZZ_APP", app), ("FUZZ_ENDPOINT", endpoint), ("FUZZ_MSG", msg),
    ("FUZZ_ATTEMPT", attempt), ("FUZZ_TASK", task), ("FUZZ_SOURCE", source["id"]),
    ("FUZZ_SOURCE_ENDPOINT", source_endpoint),
    ("FUZZ_RECEIVE", source["ingestUrl"].rsplit("/", 1)[1]),
]:
    print(f"export {name}={value}")
