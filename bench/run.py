#!/usr/bin/env python3
"""Runs the benchmark matrix of BENCHMARKS.md: each scenario N times with hookd-bench,
then prints one Markdown table row per scenario (medians, with min-max spread): one table
for the message API scenarios, one for the ingest gateway's (`ingest-*`, issue 6).

Usage: python3 bench/run.py [--runs 3] [--only NAME ...] [--pg URL] [--hookd-bin PATH]
Needs: cargo build --release -p hookd -p hookd-bench (run from the repository root).
Raw JSON lines are appended to target/bench-results.jsonl.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

BENCH = "target/release/hookd-bench"
BASE = ["--spawn", "--json", "--quiet"]

# name -> (backend, extra flags)
SCENARIOS = [
    ("sqlite-10ep", "sqlite", "--messages 300000 --endpoints 10 --concurrency 64"),
    ("sqlite-1ep", "sqlite", "--messages 100000 --endpoints 1 --concurrency 64"),
    ("sqlite-fanout10", "sqlite", "--messages 30000 --endpoints 10 --fanout 10 --concurrency 64"),
    ("sqlite-slow1of10", "sqlite", "--rate 1000 --duration 10 --endpoints 10 --slow-endpoints 1 --slow-ms 1000"),
    ("sqlite-rate1000", "sqlite", "--rate 1000 --duration 20 --endpoints 10"),
    ("sqlite-crash5", "sqlite", "--messages 100000 --endpoints 10 --concurrency 64 --crash 5"),
    ("pg-10ep", "pg", "--messages 150000 --endpoints 10 --concurrency 64"),
    ("pg-1ep", "pg", "--messages 100000 --endpoints 1 --concurrency 64"),
    ("pg-2nodes-10ep", "pg", "--nodes 2 --messages 150000 --endpoints 10 --concurrency 64"),
    ("pg-fanout10", "pg", "--messages 30000 --endpoints 10 --fanout 10 --concurrency 64"),
    ("pg-rate1000", "pg", "--rate 1000 --duration 20 --endpoints 10"),
    ("pg-crash5", "pg", "--messages 100000 --endpoints 10 --concurrency 64 --crash 5"),
    ("sqlite-backlog1m", "sqlite", "--messages 1000000 --endpoints 10 --concurrency 64 --backlog"),
]

# Issue 6, the ingest gateway: provider-signed requests to an ingest source's receive URL,
# every forward verified at the bench's receiver. name -> (backend, extra flags)
INGEST_SCENARIOS = [
    ("ingest-sqlite", "sqlite", "--ingest --messages 100000 --concurrency 64"),
    ("ingest-sqlite-c128", "sqlite", "--ingest --messages 100000 --concurrency 128"),
    ("ingest-sqlite-c256", "sqlite", "--ingest --messages 100000 --concurrency 256"),
    ("ingest-sqlite-stripe", "sqlite", "--ingest --provider stripe --messages 100000 --concurrency 64"),
    ("ingest-sqlite-sw", "sqlite", "--ingest --provider standard-webhooks --messages 100000 --concurrency 64"),
    ("ingest-sqlite-replay", "sqlite", "--ingest --messages 50000 --concurrency 64 --replay-fraction 0.1"),
    ("ingest-sqlite-2k", "sqlite", "--ingest --rate 2000 --duration 20"),
    ("ingest-pg", "pg", "--ingest --messages 100000 --concurrency 64"),
    ("ingest-pg-c128", "pg", "--ingest --messages 100000 --concurrency 128"),
    ("ingest-pg-2k", "pg", "--ingest --rate 2000 --duration 20"),
]


def run_once(flags, backend, pg_url, hookd_bin):
    cmd = [BENCH] + BASE + ["--hookd-bin", hookd_bin] + flags.split()
    if backend == "pg":
        cmd += ["--database-url", pg_url]
    started = time.time()
    out = subprocess.run(cmd, capture_output=True, text=True)
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    if not lines:
        print(out.stdout[-2000:], out.stderr[-2000:], file=sys.stderr)
        raise SystemExit(f"no JSON from: {' '.join(cmd)}")
    result = json.loads(lines[-1])
    result["_wall_s"] = round(time.time() - started, 1)
    return result


def others_p99(results):
    """With slow endpoints: the p99 of the other endpoints, which must stay low."""
    if "latency_others_ms" not in results[0]:
        return ""
    vals = [r["latency_others_ms"]["p99"] for r in results]
    return "; others " + spread(vals, lambda v: f"{v:.1f}")


def spread(values, fmt):
    med = statistics.median(values)
    return f"{fmt(med)} ({fmt(min(values))}-{fmt(max(values))})"


def message_row(name, flags, results):
    num = lambda k: [r[k] for r in results]
    lat = lambda k: [r["latency_ms"][k] for r in results]
    return "| {} | `{}` | {} | {} | {} | {} | {} | {} | {} | {} |".format(
        name, flags,
        spread(num("accepted_per_s"), lambda v: f"{v:,.0f}"),
        spread(num("delivered_per_s"), lambda v: f"{v:,.0f}"),
        spread(lat("p50"), lambda v: f"{v:.1f}"),
        spread(lat("p99"), lambda v: f"{v:.1f}") + others_p99(results),
        spread(num("peak_rss_mib"), lambda v: f"{v:.0f}"),
        max(num("lost")), max(num("duplicates")), max(num("bad_signatures")))


def ingest_row(name, flags, results):
    num = lambda k: [r[k] for r in results]
    ack = lambda k: [r["ack_latency_ms"][k] for r in results]
    fwd = lambda k: [r["forward_latency_ms"][k] for r in results]
    non_204 = {}
    for r in results:
        for status, n in r["non_204"].items():
            non_204[status] = max(non_204.get(status, 0), n)
    return "| {} | `{}` | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
        name, flags,
        spread(num("accepted_per_s"), lambda v: f"{v:,.0f}"),
        spread(num("forwarded_per_s"), lambda v: f"{v:,.0f}"),
        spread(ack("p50"), lambda v: f"{v:.1f}"),
        spread(ack("p99"), lambda v: f"{v:.1f}"),
        spread(ack("max"), lambda v: f"{v:.1f}"),
        spread(fwd("p99"), lambda v: f"{v:.1f}"),
        spread(num("peak_rss_mib"), lambda v: f"{v:.0f}"),
        max(num("lost")), max(num("duplicates")), max(num("double_stored")),
        max(num("bad_signatures")),
        ", ".join(f"{s}: {n}" for s, n in sorted(non_204.items())) or "-")


def progress_line(name, i, r):
    if r.get("kind") == "ingest":
        return (f"{name} run {i + 1}: accepted/s {r['accepted_per_s']:.0f} "
                f"forwarded/s {r['forwarded_per_s']:.0f} ack p99 {r['ack_latency_ms']['p99']:.1f} "
                f"rss {r['peak_rss_mib']:.1f} lost {r['lost']} dup {r['duplicates']} "
                f"double {r['double_stored']} non-204 {r['non_204']}")
    return (f"{name} run {i + 1}: accepted/s {r['accepted_per_s']:.0f} "
            f"delivered/s {r['delivered_per_s']:.0f} p99 {r['latency_ms']['p99']:.1f} "
            f"rss {r['peak_rss_mib']:.1f} lost {r['lost']} dup {r['duplicates']}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--pg", default=os.environ.get(
        "HOOKD_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--hookd-bin", default="target/release/hookd",
                    help="the hookd binary under test (e.g. an older build, for before/after)")
    args = ap.parse_args()
    os.makedirs("target", exist_ok=True)
    tables = [
        (SCENARIOS, message_row,
         "| scenario | flags | accepted/s | delivered/s | p50 ms | p99 ms | peak RSS MiB | lost | dup | bad sig |",
         "|---|---|---|---|---|---|---|---|---|---|"),
        (INGEST_SCENARIOS, ingest_row,
         "| scenario | flags | accepted (204)/s | forwarded/s | ack p50 ms | ack p99 ms | ack max ms "
         "| forward p99 ms | peak RSS MiB | lost | dup | double stored | bad sig | non-204 |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"),
    ]
    printed = []
    for scenarios, row, header, rule in tables:
        rows = []
        for name, backend, flags in scenarios:
            if args.only and name not in args.only:
                continue
            results = []
            for i in range(args.runs):
                r = run_once(flags, backend, args.pg, args.hookd_bin)
                r["_scenario"] = name
                r["_hookd_bin"] = args.hookd_bin
                with open("target/bench-results.jsonl", "a") as f:
                    f.write(json.dumps(r) + "\n")
                print(progress_line(name, i, r), file=sys.stderr, flush=True)
                results.append(r)
            shown = flags + (" --database-url $PG" if backend == "pg" else "")
            rows.append(row(name, shown, results))
            print(rows[-1], flush=True)
        if rows:
            printed.append((header, rule, rows))
    for header, rule, rows in printed:
        print()
        print(header)
        print(rule)
        for r in rows:
            print(r)


if __name__ == "__main__":
    main()
