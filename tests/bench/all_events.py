#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Requests per stored point of the two ways to ask for attack events of
many instances, measured with the real collectd against the simulator:
"events" (DescribeDDoSEvents, 100 instances a request, rows by Ip) and
"instance_cc_events" (DescribeDDosAllEventList, one request naming no
instance for the whole account, rows by Ip): the second is what "events"
would cost asked the same way, with the same paging (50 a page, until
Total). Cases: 5, 500 and 2,000 instances of a quiet account (an event
on one instance each), and 500 instances of an account with 120 events of
each kind in the last day (pages). Each case: one block, Window 60, read
every 10 s, MaxRequestsPerSecond 0, counted over 2 windows after its
first; requests from the simulator's log, points from the csv files.

    tests/bench/all_events.py [--cases 5,500,2000,500x120] [--minutes 2]

Prints a Markdown table (BENCHMARKS.md section "Events of many
instances"). Not a test: asserts nothing."""

import argparse
import os
import sys
import tempfile
import time
from collections import Counter

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from conftest import Collectd, Simulator, block, wait_for  # noqa: E402

KEY = ['AccessKeyId "LTAIbench"', 'AccessKeySecret "SECRET-bench-ae"']
KEYS = {"LTAIbench": {"secret": "SECRET-bench-ae"}}
OPS = {"events": "DescribeDDoSEvents", "instance_cc_events": "DescribeDDosAllEventList"}
VALUES = {"events": "count-mitigation_events", "instance_cc_events": "count-cc_instance_events"}


def scenario(n, events, now):
    ids = ["ddoscoo-cn-q%04d" % i for i in range(n)]
    ips = {iid: ["10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255 or 1)]
           for i, iid in enumerate(ids)}
    hit = [ids[(k * 7) % n] for k in range(max(events, 1))]
    attacks = [{"instance": iid, "ip": ips[iid][0], "port": 1000 + k, "start": now - 3600 + 20 * k,
                "ramp_seconds": 0, "peak_bps": 10 ** 9, "peak_pps": 10 ** 5}
               for k, iid in enumerate(hit)]
    cc = [{"instance": iid, "ip": ips[iid][0], "port": 2000 + k, "start": now - 3600 + 20 * k,
           "peak_mbps": 100, "peak_pps": 10 ** 4} for k, iid in enumerate(hit)]
    return ids, {"keys": KEYS, "instances": ids,
                 "attack": {"attacks": attacks, "cc_attacks": cc, "instance_ips": ips}}


def run_case(base, n, events, minutes):
    d = tempfile.mkdtemp(prefix="ae%dx%d-" % (n, events), dir=base)
    ids, sc = scenario(n, events, int(time.time()))
    sim = Simulator(d, sc)
    cd = Collectd(d, block("ae", *KEY, 'Endpoint "%s"' % sim.url,
                           'Statistics "events" "instance_cc_events"', "Interval 1",
                           "MaxRequestsPerSecond 0", *['InstanceId "%s"' % i for i in ids]),
                  rrd=False)
    try:
        # Counted from 30 s past a minute once every instance has a window.
        wait_for(lambda: all(cd.csv_points(ids[-1], v) for v in VALUES.values()), 240,
                 "the first window of case %d x %d" % (n, events), step=2)
        start = (int(time.time()) // 60 + 1) * 60 + 30
        time.sleep(max(0, start - time.time()))
        t0 = len(sim.requests())
        before = {(iid, v): max(cd.csv_points(iid, v) or [0]) for iid in ids
                  for v in VALUES.values()}
        end = start + 60 * minutes
        time.sleep(max(0, end - time.time()))
        reqs = sim.requests()[t0:]
        after = {(iid, v): [t for t in cd.csv_points(iid, v) if t > before[(iid, v)]]
                 for iid in ids for v in VALUES.values()}
    finally:
        cd.stop()
        sim.stop()
    out = {}
    for stat, op in OPS.items():
        mine = [r for r in reqs if r.get("action") == op]
        first = [r for r in mine if r["params"].get("PageNumber", "1") == "1"]
        # A stored point: one instance's window (its values together).
        points = sum(len(after[(iid, VALUES[stat])]) for iid in ids)
        out[stat] = {"requests": len(mine), "first_pages": len(first),
                     "failed": sum(1 for r in mine if r["status"] != 200),
                     "points": points}
    out["other"] = Counter(r.get("action") for r in reqs if r.get("action") not in OPS.values())
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", default="5,500,2000,500x120")
    ap.add_argument("--minutes", type=int, default=2)
    args = ap.parse_args()
    base = tempfile.mkdtemp(prefix="all-events-")
    rows = []
    for case in args.cases.split(","):
        n, _, events = case.partition("x")
        n, events = int(n), int(events or 1)
        res = run_case(base, n, events, args.minutes)
        for stat in OPS:
            r = res[stat]
            rows.append("| %d | %d | %s | `%s` | %d | %d | %d | %.4f | %.1f | %d |" % (
                n, events, stat, OPS[stat], r["requests"], r["first_pages"], r["points"],
                r["requests"] / r["points"] if r["points"] else float("nan"),
                60.0 * r["requests"] / args.minutes, r["failed"]))
        print("case %s: %s" % (case, dict(res["other"])), file=sys.stderr)
    print("| instances | events of each kind | statistic | operation | requests | first pages "
          "| points (series x windows) | requests / point | requests / hour | failed |")
    print("|---:|---:|---|---|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
