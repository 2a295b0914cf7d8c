# SPDX-License-Identifier: MIT
"""An account's API quota below MaxRequestsPerSecond: the block learns the
pace the API allows (issue 18). The simulator enforces 3 requests/s per
AccessKeyId (--quota-rps 3), throttling the excess with Throttling.User;
the block keeps the default MaxRequestsPerSecond 10 and polls 80 ports of
one instance (80 requests a minute: the load fits the quota).

In the same run, two more blocks (keys of their own, so quotas of their own)
need more than MaxRequestsPerSecond 2 allows (114 requests a minute fit, 103
planned): 10 instances of 10 ports, connections and traffic, 110 requests a
minute. "plan", by the default priority, keeps traffic and thins
the last connections series to every other minute; "prio", with Priority
"connections" first, keeps every port and batches traffic over time. Both say
their plan, and every minute they promise is stored (issue 18). Where "plan"
thins connections, one DescribePortMaxConns a minute (10 instances of the 100
a request allows) gives every port's peak new connections every minute,
named as the port's connections series; "prio", whose connections fit, and a
block "small" of 5 instances of 2 ports with the default statistics ask none
(issue 18, "Many ports in one request").

A block "slow", on a simulator of its own that answers in 500 ms,
sends one request at a time (MaxConcurrentRequests 1): at most 2 a second,
fewer than its MaxRequestsPerSecond 10. Once it has measured the latency,
it plans again for what fits and says which limit binds."""

import re
import statistics
import time

import pytest

from conftest import METRICS, TRAFFIC, Collectd, Simulator, wait_for
from conftest import block as plain_block
import ddoscoo_sim
from conftest import connections_block as block  # see conftest.CONNECTIONS

KEY = ['AccessKeyId "LTAIquota"', 'AccessKeySecret "SECRET-quota-18"']
KEYS = {"LTAIquota": {"secret": "SECRET-quota-18"}}
INSTANCE = "ddoscoo-cn-quota"
PORTS = list(range(8001, 8081))
QUOTA = 3
LEARNING = 60      # s: the first minute, while the pace comes down
MEASURED = 120     # s after it
PACE = "operations_per_second-requests_allowed"

PLANNED = ["ddoscoo-cn-plan%02d" % i for i in range(10)]
PLANNED_PORTS = list(range(9001, 9011))
PLAN_KEYS = {"plan": "LTAIplan", "prio": "LTAIprio"}
# Forwarding rules of the planned ports: DescribePortMaxConns answers them.
PLANNED_RULES = {i: [{"protocol": "tcp", "frontend_port": p, "backend_port": p}
                     for p in PLANNED_PORTS] for i in PLANNED}
PEAK = "operations_per_second-max_new_connections"
SMALL = ["ddoscoo-cn-small%d" % i for i in range(5)]
SMALL_KEY = ['AccessKeyId "LTAIsmall"', 'AccessKeySecret "SECRET-small-18"']

SLOW = "ddoscoo-cn-slow"
SLOW_KEYS = {"LTAIslow": {"secret": "SECRET-slow-18"}}
SLOW_PORTS = list(range(7001, 7011))
LATENCY_MS = 500


def planned_block(name, *lines):
    return plain_block(name, 'AccessKeyId "%s"' % PLAN_KEYS[name],
                 # Below the quota: a throttled answer would halve the pace,
                 # and the plan is made for the pace, not the quota.
                 'AccessKeySecret "SECRET-%s-18"' % name, 'MaxRequestsPerSecond 2',
                 'MaxConcurrentRequests 16',
                 'Host "%s"' % name,  # the blocks name their series alike
                 'Statistics "connections" "traffic"',
                 *['InstanceId "%s"' % i for i in PLANNED],
                 *['Port "%d"' % p for p in PLANNED_PORTS], *lines)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("quota"))
    keys = dict(KEYS, **{k: {"secret": "SECRET-%s-18" % n} for n, k in PLAN_KEYS.items()},
                LTAIsmall={"secret": "SECRET-small-18"})
    sim = Simulator(d, {"keys": keys, "instances": [INSTANCE] + PLANNED + SMALL,
                        "rules": dict(PLANNED_RULES, **{i: PLANNED_RULES[PLANNED[0]][:2]
                                                        for i in SMALL})},
                    args=("--quota-rps", str(QUOTA), "--quota-per", "account"))
    slow = Simulator(d, {"keys": SLOW_KEYS, "instances": [SLOW], "latency_ms": LATENCY_MS},
                     name="slow")
    cd = Collectd(d, "\n".join([
        block("q", *KEY, 'Endpoint "%s"' % sim.url, 'InstanceId "%s"' % INSTANCE,
              *['Port "%d"' % p for p in PORTS]),
        planned_block("plan", 'Endpoint "%s"' % sim.url),
        planned_block("prio", 'Endpoint "%s"' % sim.url,
                      'Priority "connections" "traffic"'),
        block("slow", 'AccessKeyId "LTAIslow"', 'AccessKeySecret "SECRET-slow-18"',
              'Endpoint "%s"' % slow.url, 'MaxConcurrentRequests 1', 'Host "slow"',
              'InstanceId "%s"' % SLOW, *['Port "%d"' % p for p in SLOW_PORTS]),
        plain_block("small", *SMALL_KEY, 'Endpoint "%s"' % sim.url, 'Host "small"',
                    *['InstanceId "%s"' % i for i in SMALL],
                    *['Port "%d"' % p for p in PLANNED_PORTS[:2]])]), print_severity=True)
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
                                 for p in PORTS)
                     and not broken_promises(cd, t["start"], t["to"])
                     # "slow" plans again 3 minutes after its first plan.
                     and len(cd.log_lines('Account "slow": request plan: ')) >= 2,
                     60, "the windows due", step=2)
        except AssertionError:
            pass
        t["alive"] = cd.alive()
    finally:
        cd.stop()
        sim.stop()
        slow.stop()
    t["requests"] = sim.requests()
    return t


def test_throttled_answers_are_rare_after_the_first_minute(run):
    reqs = [r for r in run["requests"] if r.get("action") == "DescribePortConnsCount"
            and r["params"].get("AccessKeyId") == "LTAIquota"]
    first = [r for r in reqs if r["time"] < run["from"]]
    later = [r for r in reqs if r["time"] >= run["from"]]
    throttled = [r for r in later if r.get("code") == "Throttling.User"]
    assert all(r["fault"] == "quota" for r in throttled)
    # The first read starts at MaxRequestsPerSecond and meets the quota.
    assert any(r.get("code") == "Throttling.User" for r in first)
    assert later and len(throttled) * 100 < len(later) * 5, (len(throttled), len(later))
    # Each is the quota at work, which the pace adapts to: a warning that
    # says so, never an error.
    lines = run["cd"].log_lines("API error Throttling.User")
    assert lines and all("[warning] " in l and "throttled by the account's API quota: "
                         "the pace is lowered, will retry" in l for l in lines), lines[:3]


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


def plan_line(run, name):
    lines = run["cd"].log_lines('Account "%s": request plan: ' % name)
    assert len(lines) == 1, lines  # once: nothing changed
    return lines[0]


def points(run, host, instance, metric):
    return sorted(run["cd"].csv_points(instance, metric, host=host))


def test_a_block_beyond_its_quota_says_its_plan(run):
    line = plan_line(run, "plan")
    assert ("111 requests a minute do not fit 103 (90 % of the 114 that fit, pace 2/s of "
            "MaxRequestsPerSecond 2, reads of 10 s every 10 s), degraded by Priority: "
            "max_new_connections: 10 instances in 1 request, 1 a minute, every minute, "
            "standing in for "
            "the 100 connections series: new connections of every port from "
            "DescribePortMaxConns; "
            "traffic: 10 series, 10 a minute, every minute; connections: 100 series, "
            "92 a minute, the first 83 every minute, the other 17 every 2 minutes only."
            in line), line
    line = plan_line(run, "prio")
    assert ("connections: 100 series, 100 a minute, every minute; traffic: 10 series, "
            "2 a minute, every minute, 5 at a time (up to 4 minutes late)." in line), line
    assert "max_new_connections" not in line, line


def every(pts, step):
    return pts == list(range(pts[0], pts[-1] + step, step)) if pts else True


def broken_promises(cd, start, to):
    """The series of "plan" and "prio" that miss a window their plan
    promised by `to`: "plan", the first 83 ports every minute, the last 17
    every other one, traffic every minute; "prio", every port every minute,
    traffic every minute, up to 4 minutes late."""
    first = (int(start) - 60) // 60 * 60  # the window due at the start
    due = (int(to) - 60) // 60 * 60       # and at the end
    broken = []

    def check(host, instance, metric, step, newest, full=True):
        pts = sorted(cd.csv_points(instance, metric, host=host))
        ok = every(pts, step) and (pts[-1] if pts else 0) >= newest
        if not full:  # batched: every window up to the newest promised
            ok = every(pts, step) and all(w in pts for w in range(first, newest + 1, 60))
        elif len(pts) < 2:
            ok = False
        if not ok:
            broken.append((host, instance, metric, pts))

    for n, i in enumerate(PLANNED):
        for k, p in enumerate(PLANNED_PORTS):
            step = 120 if n * len(PLANNED_PORTS) + k >= 83 else 60
            check("plan", "%s_%d" % (i, p), METRICS[0][0], step, due - step)
            check("prio", "%s_%d" % (i, p), METRICS[0][0], 60, due - 60)
        check("plan", i, TRAFFIC[0][0], 60, due - 60)
        check("prio", i, TRAFFIC[0][0], 60, due - 240, full=False)
    return broken


def test_every_minute_the_plan_promises_is_stored(run):
    assert run["alive"]
    broken = broken_promises(run["cd"], run["start"], run["to"])
    assert not broken, broken[:5]
    assert not run["cd"].lost_values()


def test_every_port_has_its_new_connections_every_minute_where_connections_give_way(run):
    """"plan" thins connections: each of its 100 ports has its peak new
    connections (DescribePortMaxConns, the sum of its IPs' peaks) every
    minute, in the port's own series beside its connections, exactly as
    the simulator answers, also for the ports whose connections come every
    other minute only."""
    first = (int(run["start"]) + 60) // 60 * 60   # the facts come first
    due = (int(run["to"]) - 60) // 60 * 60 - 60
    wrong = []
    for i in PLANNED:
        for p in PLANNED_PORTS:
            pts = points(run, "plan", "%s_%d" % (i, p), PEAK)
            want = {t: ddoscoo_sim.port_max_of(i, p, t - 60, t) for t in pts}
            if not (pts and pts[0] <= first and pts[-1] >= due and every(pts, 60)
                    and all(run["cd"].csv_points("%s_%d" % (i, p), PEAK, host="plan")[t]
                            == want[t] for t in pts)):
                wrong.append((i, p, pts))
    assert not wrong, wrong[:3]


def test_one_request_a_minute_names_every_instance_and_small_blocks_ask_none(run):
    asked = [r for r in run["requests"] if r.get("action") == "DescribePortMaxConns"]
    mine = [r for r in asked if r["params"].get("AccessKeyId") == PLAN_KEYS["plan"]
            and r.get("status") == 200]
    minutes = (run["to"] - run["start"]) / 60
    assert minutes - 1 <= len(mine) <= minutes + 2, len(mine)
    for r in mine:
        named = sorted(v for k, v in r["params"].items() if k.startswith("InstanceIds."))
        assert named == sorted(PLANNED), named
        assert int(r["params"]["EndTime"]) - int(r["params"]["StartTime"]) == 60
    # The blocks whose connections fit: not a request more.
    assert not [r for r in asked if r["params"].get("AccessKeyId") != PLAN_KEYS["plan"]]
    assert points(run, "small", SMALL[0] + "_9001", METRICS[0][0])
    assert not points(run, "small", SMALL[0] + "_9001", PEAK)


def test_traffic_is_batched_over_time(run):
    """"prio" asks each instance's traffic up to five minutes at a time (the
    first batch of each shorter, to spread them): a request a minute would
    not fit."""
    asked = [r for r in run["requests"] if r.get("action") == "DescribePortFlowList"
             and r["params"].get("AccessKeyId") == PLAN_KEYS["prio"] and r.get("code") is None]
    spans = sorted(int(r["params"]["EndTime"]) - int(r["params"]["StartTime"]) for r in asked)
    assert spans and set(spans) <= {60, 120, 180, 240, 300}, spans
    assert spans[-1] >= 120, spans  # one request, several minutes
    minutes = (run["to"] - run["start"]) / 60 + 1
    assert len(asked) <= len(PLANNED) * (minutes / 5 + 1), (len(asked), spans)


def test_the_plan_counts_the_latency_of_concurrent_requests(run):
    """"slow" planned first for its pace (no answer yet), then, with answers
    of 500 ms one at a time, for the 2 a second that fit, and said why."""
    lines = run["cd"].log_lines('Account "slow": request plan: ')
    assert len(lines) == 2, lines
    assert ("10 requests a minute fit 514 (90 % of the 571 that fit, pace 10/s of "
            "MaxRequestsPerSecond 10, reads of 10 s every 10 s): connections: 10 series"
            in lines[0]), lines[0]
    m = re.search(r"10 requests a minute fit (\d+) \(90 % of the (\d+) that fit, 1 "
                  r"concurrent request at (\d+) ms, reads of 10 s every 10 s\): "
                  r"connections: 10 series, 10 a minute, every minute", lines[1])
    assert m, lines[1]
    ms = int(m.group(3))
    assert LATENCY_MS <= ms <= LATENCY_MS + 150, lines[1]
    assert abs(int(m.group(2)) - 60000 / ms) <= 1, lines[1]
