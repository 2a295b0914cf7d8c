#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Requests an hour of the slowly changing states (issue 19), measured with
the real collectd and the simulator (BENCHMARKS.md, section 6).

    tests/bench/plan_requests.py MINUTES

One block "bench" of 4 discovered instances, 2 forwarding rules each,
Statistics "connections" "capacity" "usage" "health" "advanced_mitigations"
"blackhole_releases" (StateInterval 600, DiscoveryInterval 600), and beside
it a block "today" that names Statistics "connections" alone for one
instance. Prints the requests of each operation (answered, from the
simulator's log) and of each block over the run as JSON."""

import collections
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

from conftest import Collectd, Simulator, block  # noqa: E402


def main():
    minutes = float(sys.argv[1]) if len(sys.argv) > 1 else 31
    d = tempfile.mkdtemp(prefix="ddoscoo-plan-bench.")
    ids = ["ddoscoo-cn-b%d" % i for i in range(4)]
    rules = {i: [{"protocol": "tcp", "frontend_port": 80, "backend_port": 80},
                 {"protocol": "udp", "frontend_port": 53, "backend_port": 53}] for i in ids}
    sim = Simulator(d, {"keys": {"LTAIb": {"secret": "s"}}, "instances": ids, "rules": rules})
    key = ['AccessKeyId "LTAIb"', 'AccessKeySecret "s"', 'Endpoint "%s"' % sim.url]
    stats = '"connections" "capacity" "usage" "health" "advanced_mitigations" ' \
            '"blackhole_releases"'
    cd = Collectd(d, block("bench", *key, "Statistics %s" % stats, "Interval 10") + "\n" +
                  block("today", *key, 'Statistics "connections"', "Interval 10",
                        'InstanceId "%s"' % ids[0], 'Host "other"'))
    start = time.time()
    time.sleep(minutes * 60)
    cd.stop()
    sim.stop()
    seconds = time.time() - start
    counts = collections.Counter(r["action"] for r in sim.requests()
                                 if r.get("status") == 200 and r.get("action"))
    print(json.dumps({"seconds": round(seconds), "counts": counts}, indent=1))


if __name__ == "__main__":
    main()
