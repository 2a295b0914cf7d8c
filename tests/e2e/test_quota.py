# SPDX-License-Identifier: MIT
"""An account's API quota below MaxRequestsPerSecond: the block learns the
pace the API allows (issue 18). The simulator enforces 3 requests/s per
AccessKeyId (--quota-rps 3), throttling the excess with Throttling.User;
the block keeps the default MaxRequestsPerSecond 10 and polls 80 ports of
one instance (80 requests a minute: the load fits the quota)."""

import statistics
import time

import pytest

from conftest import METRICS, Collectd, Simulator, wait_for
from conftest import connections_block as block  # see conftest.CONNECTIONS

KEY = ['AccessKeyId "LTAIquota"', 'AccessKeySecret "SECRET-quota-18"']
KEYS = {"LTAIquota": {"secret": "SECRET-quota-18"}}
INSTANCE = "ddoscoo-cn-quota"
PORTS = list(range(8001, 8081))
QUOTA = 3
LEARNING = 60      # s: the first minute, while the pace comes down
MEASURED = 120     # s after it
PACE = "operations_per_second-requests_allowed"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("quota"))
    sim = Simulator(d, {"keys": KEYS, "instances": [INSTANCE]},
                    args=("--quota-rps", str(QUOTA), "--quota-per", "account"))
    cd = Collectd(d, block("q", *KEY, 'Endpoint "%s"' % sim.url,
                           'InstanceId "%s"' % INSTANCE,
                           *['Port "%d"' % p for p in PORTS]))
    t = {"cd": cd, "start": time.time()}
    try:
        # Past the first minute, then two more: every window due in them
        # comes due at a whole minute (Delay 60).
        time.sleep(LEARNING)
        t["from"] = time.time()
        time.sleep(MEASURED)
        t["to"] = time.time()
        # The windows due by then, once the block had a read to ask for them
        # (a block that falls behind fails test_every_window_lands...).
        try:
            wait_for(lambda: all(max(cd.csv_points("%s_%d" % (INSTANCE, p), METRICS[0][0]),
                                     default=0) >= (int(t["to"]) - 60) // 60 * 60 - 60
                                 for p in PORTS), 60, "the windows due", step=1)
        except AssertionError:
            pass
        t["alive"] = cd.alive()
    finally:
        cd.stop()
        sim.stop()
    t["requests"] = sim.requests()
    return t


def test_throttled_answers_are_rare_after_the_first_minute(run):
    reqs = [r for r in run["requests"] if r.get("action") == "DescribePortConnsCount"]
    first = [r for r in reqs if r["time"] < run["from"]]
    later = [r for r in reqs if r["time"] >= run["from"]]
    throttled = [r for r in later if r.get("code") == "Throttling.User"]
    assert all(r["fault"] == "quota" for r in throttled)
    # The first read starts at MaxRequestsPerSecond and meets the quota.
    assert any(r.get("code") == "Throttling.User" for r in first)
    assert later and len(throttled) * 100 < len(later) * 5, (len(throttled), len(later))


def test_the_pace_gauge_shows_the_quota(run):
    pace = run["cd"].csv_points("q-api", PACE)
    assert pace, "no %s series" % PACE
    later = [v for t, v in pace.items() if run["from"] <= t <= run["to"]]
    assert later and 1.5 <= statistics.mean(later) <= 4.5, later
    assert max(later) <= QUOTA + 2, later


def test_every_window_lands_when_the_load_fits_the_quota(run):
    assert run["alive"]
    for p in PORTS:
        pts = sorted(run["cd"].csv_points("%s_%d" % (INSTANCE, p), METRICS[0][0]))
        # From the first window on, every minute, none lost.
        assert pts and pts == list(range(pts[0], pts[-1] + 60, 60)), (p, pts)
        assert pts[0] <= run["start"] - 60 and pts[-1] >= run["to"] - 180, (p, pts)
    assert not run["cd"].lost_values()
