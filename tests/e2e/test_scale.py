# SPDX-License-Identifier: MIT
"""Blocks that grow: an instance removed between two discoveries, and more
series than the rate limit lets a block poll once per Window."""

import time

import pytest

from conftest import METRICS, Collectd, Simulator, wait_for
from conftest import connections_block as block  # see conftest.CONNECTIONS

KEY = ['AccessKeyId "LTAIscale"', 'AccessKeySecret "SECRET-scale-3c"']
KEYS = {"LTAIscale": {"secret": "SECRET-scale-3c"}}
GONE, STAYS = "ddoscoo-cn-gone", "ddoscoo-cn-stays"
GONE_PORTS = list(range(8001, 8011))


def rule(port):
    return {"protocol": "tcp", "frontend_port": port, "backend_port": port}


@pytest.fixture(scope="module")
def removal(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("removal"))
    sim = Simulator(d, {"keys": KEYS, "instances": [GONE, STAYS],
                        "rules": {GONE: [rule(p) for p in GONE_PORTS],
                                  STAYS: [rule(80)]}})
    # DiscoveryInterval left at its default, 600 s: longer than the test.
    cd = Collectd(d, block("all", *KEY, 'Endpoint "%s"' % sim.url, 'Port "auto"',
                           "MaxConcurrentRequests 2", "Interval 1"))
    t = {"cd": cd}
    try:
        wait_for(lambda: all(cd.csv_points(pi, METRICS[0][0]) for pi in
                             [STAYS + "_80"] + ["%s_%d" % (GONE, p) for p in GONE_PORTS]),
                 60, "the first windows")
        sim.control("instances", {"remove": [GONE]})
        t["removed_at"] = time.time()
        wait_for(lambda: cd.log_lines("series %s_8001 is gone from the account" % GONE),
                 100, "the instance's removal noticed", step=1)
        t["noticed_at"] = time.time()
        seen = max(cd.csv_points(STAYS + "_80", METRICS[0][0]))
        wait_for(lambda: max(cd.csv_points(STAYS + "_80", METRICS[0][0])) > seen, 75,
                 "one more window of the other instance", step=1)
        t["alive"] = cd.alive()
    finally:
        cd.stop()
        sim.stop()
    t["log"] = cd.log()
    t["requests"] = sim.requests()
    return t


def test_a_removed_instance_costs_one_refusal_per_port_in_flight(removal):
    refused = [r for r in removal["requests"]
               if r.get("action") == "DescribePortConnsCount"
               and r["params"].get("InstanceIds.1") == GONE and r["status"] != 200]
    # Two requests side by side at most; then its other eight ports wait
    # for the list, which is asked for again at once.
    assert 1 <= len(refused) <= 2, [r["params"].get("Port") for r in refused]
    assert all(r["code"] == "InvalidInstance.NotFound" for r in refused)
    listed = [r for r in removal["requests"] if r.get("action") == "DescribeInstanceIds"
              and r["time"] >= refused[0]["time"]]
    assert listed and listed[0]["time"] - refused[0]["time"] < 5


def test_the_other_instance_is_polled_on(removal):
    assert removal["alive"]
    gone = [l for l in removal["cd"].log_lines('Account "all"', "is gone from the account")]
    assert len(gone) == len(GONE_PORTS)
    assert not [l for l in removal["cd"].log_lines(STAYS, "gone")]


def test_too_many_series_for_the_rate_limit_are_reported_once(tmp_path):
    d = str(tmp_path)
    sim = Simulator(d, {"keys": KEYS, "instances": [STAYS]})
    ports = ['Port "%d"' % p for p in range(1, 701)]
    cd = Collectd(d, block("big", *KEY, 'Endpoint "%s"' % sim.url,
                           'InstanceId "%s"' % STAYS, *ports))
    try:
        # Reads of min(Interval 10, Timeout 10) seconds every 10 s, at the
        # default MaxRequestsPerSecond 10: 571 requests per 60 s Window, of
        # which the plan uses 90 %; the connections beyond are thinned, and
        # max_new_connections stands in for them (one request a minute).
        said = 'Account "big": request plan: 701 requests a minute do not fit 514'
        lines = wait_for(lambda: cd.log_lines(said), 30, "the plan")
        time.sleep(12)  # another read: said once only
        lines = cd.log_lines(said)
    finally:
        cd.stop()
        sim.stop()
    assert len(lines) == 1
    assert "MaxRequestsPerSecond 10" in lines[0] and "of the 571 that fit" in lines[0]
    assert "connections: 700 series" in lines[0] and "every minute" in lines[0]
