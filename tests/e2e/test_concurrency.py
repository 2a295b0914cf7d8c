# SPDX-License-Identifier: MIT
"""Many series at once: MaxConcurrentRequests and MaxRequestsPerSecond hold,
measured from the simulator's log (the time each request arrived), and every
window still lands."""

import pytest

from conftest import CONNECTIONS, METRICS, Collectd, Simulator, expected_values, wait_for

LATENCY = 0.25
WIDE = ["ddoscoo-cn-wide%02d" % i for i in range(32)]
PACED = ["ddoscoo-cn-paced%02d" % i for i in range(20)]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("concurrency"))
    sim = Simulator(d, {"keys": {"LTAIwide": {"secret": "SECRET-wide"},
                                 "LTAIpaced": {"secret": "SECRET-paced"}},
                        "instances": WIDE + PACED, "latency_ms": LATENCY * 1000})

    def block(name, key, instances, *lines):
        return '<Account "%s">\n  %s\n</Account>' % (name, "\n  ".join(
            ['AccessKeyId "%s"' % key, 'AccessKeySecret "SECRET-%s"' % key[4:],
             'Endpoint "%s"' % sim.url, "Interval 30", CONNECTIONS]
            + ['InstanceId "%s"' % i for i in instances] + list(lines)))

    cd = Collectd(d, "\n".join([
        block("wide", "LTAIwide", WIDE, "MaxConcurrentRequests 4", "MaxRequestsPerSecond 0"),
        block("paced", "LTAIpaced", PACED, "MaxConcurrentRequests 8", "MaxRequestsPerSecond 5"),
    ]))
    try:
        wait_for(lambda: all(cd.csv_points(i, METRICS[0][0]) for i in WIDE + PACED), 30,
                 "a window of every series")
    finally:
        status = cd.stop()
        sim.stop()
    return {"cd": cd, "status": status, "requests": sim.requests()}


def arrivals(run, key):
    return sorted(r["time"] for r in run["requests"] if r["params"].get("AccessKeyId") == key)


def test_at_most_max_concurrent_requests_in_flight(run):
    times = arrivals(run, "LTAIwide")
    assert len(times) == len(WIDE)  # one window each, asked once
    # Each request is in flight from its arrival for LATENCY seconds at least;
    # the next may only arrive once one of those has been answered.
    most = max(sum(1 for u in times if u <= t < u + LATENCY) for t in times)
    assert most == 4, most
    # Four at a time: the 32 requests took about 8 latencies, not 32.
    assert times[-1] - times[0] < 16 * LATENCY


def test_at_most_max_requests_per_second_started(run):
    times = arrivals(run, "LTAIpaced")
    assert len(times) == len(PACED)
    most = max(sum(1 for u in times if t <= u < t + 1.0) for t in times)
    assert most <= 5, (most, [round(b - a, 3) for a, b in zip(times, times[1:])])
    assert times[-1] - times[0] >= (len(PACED) / 5 - 1) * 0.99


def test_every_series_lands_with_its_values(run):
    assert run["status"] == 0
    for iid in WIDE + PACED:
        points = run["cd"].csv_points(iid, "current_connections-active")
        assert len(points) >= 1
        for t, v in points.items():
            assert v == expected_values([iid], None, t)["ActConns"]
