#!/usr/bin/env bash
# Signs webhook requests with the providers' own libraries (PyPI: stripe, twilio, svix,
# slack_sdk; npm: @octokit/webhooks-methods, stripe, @paddle/paddle-node-sdk, @linear/sdk,
# @shopify/shopify-api) and writes them to target/oracles/requests.json, which
# hookd-ingest's oracle test and hookd-server's receive test check. Where a library only
# verifies (Slack's also signs), the script requires it to accept each request and refuse
# a tampered copy. Installs into target/oracles (a virtualenv and node_modules), so
# nothing outside the repository changes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/target/oracles"
mkdir -p "$out/node"
if [ ! -x "$out/venv/bin/python" ]; then
    python3 -m venv "$out/venv"
fi
"$out/venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
cp "$here/package.json" "$here/package-lock.json" "$here/sign.mjs" "$out/node/"
(cd "$out/node" && npm ci --silent --no-audit --no-fund)
"$out/venv/bin/python" "$here/sign.py" > "$out/python.json"
(cd "$out/node" && node sign.mjs) > "$out/node.json"
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
requests = json.load(open(f"{out}/python.json")) + json.load(open(f"{out}/node.json"))
json.dump(requests, open(f"{out}/requests.json", "w"), indent=1)
print(f"oracles: {len(requests)} signed requests in {out}/requests.json")
PY
