# SPDX-License-Identifier: MIT
"""A statistic the API refuses (the key may not call DescribePortFlowList)
with the real collectd: it backs off alone, 1 then 2 minutes between tries,
one series asking for all, one log line per step naming the RAM action;
the connections of the same instances go on every minute; once the
refusal is lifted (the simulator's /_sim/list_faults), traffic catches up
every minute it missed."""

import time

import pytest

import ddoscoo_sim
from conftest import METRICS, TRAFFIC, Collectd, Simulator, block, wait_for

KEY = ['AccessKeyId "LTAIbackoff"', 'AccessKeySecret "SECRET-backoff-7e"']
KEYS = {"LTAIbackoff": {"secret": "SECRET-backoff-7e"}}
INSTANCES = ["ddoscoo-cn-deny1", "ddoscoo-cn-deny2"]
FLOW = "DescribePortFlowList"
STEP = 'Statistic "traffic" refused'


def traffic(requests):
    return [r for r in requests if r.get("action") == FLOW]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("backoff"))
    sim = Simulator(d, {"keys": KEYS, "instances": INSTANCES,
                        "list_faults": {FLOW: {"mode": "forbidden"}}})
    # One request at a time: the first refusal is known before the other
    # series of traffic would ask.
    cd = Collectd(d, block("deny", *KEY, 'Endpoint "%s"' % sim.url,
                           'Statistics "connections" "traffic"',
                           *['InstanceId "%s"' % i for i in INSTANCES],
                           "MaxConcurrentRequests 1", "Interval 1"),
                  extra_config="WriteThreads 1")
    t = {"cd": cd}
    try:
        # Refused at the first read, and again a minute later; the next
        # try is two minutes after that. Lifted in between.
        wait_for(lambda: len(cd.log_lines(STEP)) >= 2, 100, "two steps of the backoff", step=1)
        time.sleep(10)
        t["denied"] = traffic(sim.requests())
        t["lifted"] = time.time()
        sim.control("list_faults", {})
        wait_for(lambda: cd.log_lines("answers again after"), 150, "traffic allowed again",
                 step=1)
        # Every series caught up to the newest window.
        latest = int(time.time()) // 60 * 60 - 60
        wait_for(lambda: all(max(cd.csv_points(i, "gauge-in_bps") or [0]) >= latest
                             for i in INSTANCES), 30, "traffic caught up", step=1)
        t["alive"] = cd.alive()
    finally:
        cd.stop()
        sim.stop()
    t["requests"] = sim.requests()
    return t


def test_the_refused_statistic_asks_once_per_step(run):
    denied = run["denied"]
    # Three windows of two series would be six requests at full pace.
    assert len(denied) == 2, [(r["params"].get("InstanceIds.1"), r["status"]) for r in denied]
    assert all(r["status"] == 403 and r["code"] == "Forbidden.RAM" for r in denied)
    assert 59.5 <= denied[1]["time"] - denied[0]["time"] < 75
    steps = run["cd"].log_lines(STEP)
    assert len(steps) == 2, steps
    for line, n, wait in zip(steps, (1, 2), (1, 2)):
        assert "API error Forbidden.RAM (HTTP 403; permission denied" in line
        assert "yundun-ddoscoo:%s" % FLOW in line
        assert "refused %d time(s) in a row: asked again in %d min" % (n, wait) in line
    # The answer that ends it is the first after the two-minute step.
    allowed = [r for r in traffic(run["requests"]) if r["status"] == 200]
    assert allowed and allowed[0]["time"] - denied[1]["time"] >= 119.5
    assert allowed[0]["time"] > run["lifted"]
    lines = run["cd"].log_lines("answers again after 2 refusals")
    assert len(lines) == 1 and FLOW in lines[0]


def test_connections_go_on_every_minute(run):
    cd = run["cd"]
    for i in INSTANCES:
        points = cd.csv_points(i, METRICS[0][0])
        assert len(points) >= 4
        assert sorted(points) == list(range(min(points), max(points) + 60, 60)), points


def test_traffic_catches_up_every_missed_minute(run):
    cd = run["cd"]
    first = int(traffic(run["requests"])[0]["params"]["EndTime"])
    for i in INSTANCES:
        points = cd.csv_points(i, "gauge-in_bps")
        # From the window due at the first (refused) request, each once.
        assert min(points) == first, (i, sorted(points), first)
        assert sorted(points) == list(range(first, max(points) + 60, 60))
        assert len(points) >= 4
        for end in sorted(points):
            rows = ddoscoo_sim.flow_for([i], end - 60, end, 60)
            assert points[end] == sum(r["InBps"] for r in rows), end
    assert run["alive"]
