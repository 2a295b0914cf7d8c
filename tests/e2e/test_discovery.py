# SPDX-License-Identifier: MIT
"""Discovery with the real collectd: every instance of the account and
every forwarded port, both XML list shapes, paging, instances named by
their remarks, changes followed within a DiscoveryInterval, a failed
refresh keeping the last list (logged rate-limited, and the recovery
logged), and the request rate, all measured from the simulator's log."""

import calendar
import time

import pytest

from conftest import METRICS, Collectd, Simulator, expected_values, wait_for
from conftest import connections_block as block  # see conftest.CONNECTIONS

KEY = ['AccessKeyId "LTAIdisc"', 'AccessKeySecret "SECRET-disc-7a"']
D1, D2, D3, D4 = ("ddoscoo-cn-d%d" % i for i in range(1, 5))
W1, W2 = "ddoscoo-cn-w1", "ddoscoo-cn-w2"
F1 = "ddoscoo-cn-f1"
# Block "flaky" refreshes every second, so that its failing refreshes come
# faster than its complaint's doubling interval lets lines through.
FLAKY_FAILURES = 8


def rule(protocol, port):
    return {"protocol": protocol, "frontend_port": port, "backend_port": port + 10000}


# D2 forwards 60 ports: two pages of DescribeNetworkRules.
D2_PORTS = list(range(2001, 2061))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("discovery"))
    keys = {"LTAIdisc": {"secret": "SECRET-disc-7a"}}
    sim = Simulator(d, {
        "keys": keys, "instances": [D1, D2, D3], "list_style": "repeated",
        "list_rate_limit": 10,
        "remarks": {D1: "web.front 1", D2: "api/edge"},
        "rules": {D1: [rule("tcp", 80), rule("udp", 80), rule("tcp", 443)],
                  D2: [rule("tcp", p) for p in D2_PORTS]},
    })
    wrapped = Simulator(d, {"keys": keys, "instances": [W1, W2], "list_style": "wrapper"},
                        name="wrapped")
    flaky = Simulator(d, {"keys": keys, "instances": [F1]}, name="flaky")
    at = 'Endpoint "%s"' % sim.url
    cd = Collectd(d, "\n".join([
        block("all", *KEY, at, 'Port "auto"', "InstanceNames true", "DiscoveryInterval 15",
              "Interval 1"),
        block("plain", *KEY, 'Endpoint "%s"' % wrapped.url, "Interval 1"),
        block("listed", *KEY, at, 'InstanceId "%s"' % D3, 'Port "8080"', 'Port "auto"',
              "Interval 1"),
        block("flaky", *KEY, 'Endpoint "%s"' % flaky.url, "DiscoveryInterval 1", "Interval 1"),
    ]))
    t = {"cd": cd, "sim": sim}
    try:
        first = ["web_front_1_80", "web_front_1_443", "api_edge_2001", "api_edge_2060",
                 W1, W2, D3 + "_8080"]
        wait_for(lambda: all(cd.csv_points(pi, METRICS[0][0]) for pi in first), 60,
                 "the first windows of the discovered series")
        t["changed_at"] = time.time()
        sim.control("instances", {"add": [D4], "remove": [D1],
                                  "rules": {D4: [rule("tcp", 9000)]}})
        wait_for(lambda: cd.csv_points(D4 + "_9000", METRICS[0][0]), 40,
                 "the new instance's series within one DiscoveryInterval")
        t["found_at"] = time.time()
        # From now on, refreshes fail; the last list is polled on.
        for s in (sim, flaky):
            s.control("list_faults", {"DescribeInstanceIds": {"mode": "http503"}})
        t["broken_at"] = time.time()
        wait_for(lambda: cd.log_lines('Account "all": discovery failed'), 40,
                 "a failed refresh")
        seen = max(cd.csv_points("api_edge_2001", METRICS[0][0]))
        wait_for(lambda: max(cd.csv_points("api_edge_2001", METRICS[0][0])) > seen, 75,
                 "a window polled after the failed refresh", step=1)
        wait_for(lambda: len(failed_lists(flaky.requests())) >= FLAKY_FAILURES, 60,
                 "%d failed refreshes of block flaky" % FLAKY_FAILURES)
        # The API lists again: both blocks say so.
        for s in (sim, flaky):
            s.control("list_faults", {})
        wait_for(lambda: all(cd.log_lines('Account "%s": discovery works again' % b)
                             for b in ("all", "flaky")), 40, "the recovery of discovery")
        t["alive"] = cd.alive()
    finally:
        t["status"] = cd.stop()
        sim.stop()
        wrapped.stop()
        flaky.stop()
    t["log"] = cd.log()
    t["requests"] = sim.requests()
    t["wrapped_requests"] = wrapped.requests()
    t["flaky_requests"] = flaky.requests()
    return t


def failed_lists(requests):
    return [r for r in requests if r.get("action") == "DescribeInstanceIds"
            and r.get("fault") == "http503"]


def log_time(line):
    """The logfile plugin's timestamp of a line, in whole seconds."""
    return calendar.timegm(time.strptime(line[1:20], "%Y-%m-%d %H:%M:%S"))


def test_every_instance_and_forwarded_port_is_polled(run):
    cd = run["cd"]
    # Remarks as names; TCP and UDP on port 80: one series.
    for port in (80, 443):
        points = cd.csv_points("web_front_1_%d" % port, "current_connections-concurrent")
        for t, v in points.items():
            assert v == expected_values([D1], str(port), t)["Conns"]
    # All 60 ports of D2, across two pages.
    for port in D2_PORTS:
        assert cd.csv_points("api_edge_%d" % port, "operations_per_second-new_connections")
    pages = {r["params"].get("PageNumber") for r in run["requests"]
             if r.get("action") == "DescribeNetworkRules" and r["params"].get("InstanceId") == D2}
    assert {"1", "2"} <= pages
    # No forwarding rules, no auto series; a listed port still is.
    assert not cd.log_lines("now polling series ddoscoo-cn-d3_")
    assert cd.csv_points(D3 + "_8080", METRICS[0][0])
    assert 'Account "all": discovered 3 instances, 62 series.' in run["log"]


def test_wrapper_shaped_lists_and_all_ports(run):
    assert any(r.get("action") == "DescribeInstanceIds" for r in run["wrapped_requests"])
    for iid in (W1, W2):
        points = run["cd"].csv_points(iid, "current_connections-active")
        for t, v in points.items():
            assert v == expected_values([iid], None, t)["ActConns"]


def test_changes_are_followed_within_a_discovery_interval(run):
    # Block "all" lists the instances DiscoveryInterval (15 s) after its
    # last refresh ended (a refresh's requests take turns with the polls,
    # at a minute boundary too), or at once when a poll answers that an
    # instance is gone (D1, after the change); the first listing after the
    # change had D4.
    listings = [r for r in run["requests"]
                if r.get("action") == "DescribeInstanceIds" and r["status"] == 200]
    times = [r["time"] for r in listings if r["time"] < run["broken_at"]]
    gone = [r["time"] for r in run["requests"] if r.get("code") == "InvalidInstance.NotFound"]

    def prompted(a, b):
        return any(a < g < b for g in gone)

    assert len(times) >= 2 and all(15 <= b - a < 15 + 5 or (b - a < 15 and prompted(a, b))
                                   for a, b in zip(times, times[1:])), (times, gone)
    first = min(r["time"] for r in listings if D4 in r.get("listed", []))
    assert 0 < first - run["changed_at"] < 15 + 5
    lines = run["cd"].log_lines('Account "all"')
    assert any("now polling series %s_9000." % D4 in l for l in lines)
    gone = [l for l in lines if "series web_front_1_80 is gone from the account; no longer "
            "polled." in l]
    assert len(gone) == 1
    # D1 is no longer asked for once it is gone.
    late = [r for r in run["requests"] if r.get("action") == "DescribePortConnsCount"
            and r["params"].get("InstanceIds.1") == D1 and r["time"] > run["found_at"]]
    assert not late


def test_a_failed_refresh_keeps_the_last_list(run):
    cd = run["cd"]
    lines = cd.log_lines('Account "all": discovery failed at DescribeInstanceIds')
    assert lines and "ServiceUnavailable" in lines[0]
    assert "keeping the last known list (61 series)" in lines[0]
    # At most a line per failed refresh; none was dropped for it (the
    # fixture saw a window polled after the first failure), and the
    # recovery is logged.
    assert len(lines) <= len(failed_lists(run["requests"]))
    assert not [l for l in cd.log_lines("no longer polled") if "web_front_1" not in l]
    assert len(cd.log_lines('Account "all": discovery works again.')) == 1


def test_failed_refreshes_are_logged_rate_limited(run):
    """Block "flaky" refreshes every second: of its failed refreshes only
    some are logged, further and further apart (collectd's complaint
    doubles its interval from the read interval, 1 s), however the
    failures fall in time."""
    cd = run["cd"]
    failed = failed_lists(run["flaky_requests"])
    lines = cd.log_lines('Account "flaky": discovery failed at DescribeInstanceIds')
    assert len(failed) >= FLAKY_FAILURES
    assert 1 <= len(lines) < len(failed), (len(lines), len(failed))
    times = [log_time(l) for l in lines]
    for k, (a, b) in enumerate(zip(times, times[1:])):
        # Whole seconds in the log: a gap of 2**k s may show 1 s shorter.
        assert b - a >= 2 ** k - 1, times
    assert len(cd.log_lines('Account "flaky": discovery works again.')) == 1


def test_the_request_rate_stays_within_the_limit(run):
    # Block "all": everything but what concerns D3, which only "listed" asks.
    def of_all(r):
        p = r["params"]
        return (p.get("AccessKeyId") == "LTAIdisc" and r.get("action")
                and p.get("InstanceIds.1") != D3 and p.get("InstanceId") != D3)
    times = sorted(r["time"] for r in run["requests"] if of_all(r))
    assert len(times) > 70  # 62 windows and the discovery, at least
    busiest = max(sum(1 for u in times if t <= u < t + 1.0) for t in times)
    assert busiest <= 10, busiest
    assert not [r for r in run["requests"] if r.get("fault") == "rate_limit"]


def test_collectd_ran_through(run):
    assert run["alive"] and run["status"] == 0
