# SPDX-License-Identifier: MIT
"""A hung API with the real collectd at the defaults (Interval and Timeout
10 s): every read ends before its interval, so collectd never logs one as
"above its read interval", and the plugin's own line about the failing
requests is rate-limited."""

import time

import pytest

from conftest import Collectd, Simulator, connections_block, wait_for

KEY = ['AccessKeyId "LTAIhang"', 'AccessKeySecret "SECRET-hang-5d"']
KEYS = {"LTAIhang": {"secret": "SECRET-hang-5d"}}
INSTANCE = "ddoscoo-cn-hang"
WATCH_SECONDS = 35


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("hang"))
    # Every answer hangs longer than the test runs.
    sim = Simulator(d, {"keys": KEYS, "instances": [INSTANCE],
                        "faults": {INSTANCE: {"mode": "hang", "seconds": 120}}})
    # No Interval, no Timeout: collectd's Interval 10 and the plugin's
    # Timeout 10.
    cd = Collectd(d, connections_block("hang", *KEY, 'Endpoint "%s"' % sim.url,
                                       'InstanceId "%s"' % INSTANCE), interval=10)
    t = {"cd": cd}
    try:
        time.sleep(WATCH_SECONDS)
        t["alive"] = cd.alive()
        stop_started = time.monotonic()
    finally:
        t["status"] = cd.stop()
        sim.stop()
    t["stop_seconds"] = time.monotonic() - stop_started
    t["log"] = cd.log()
    t["requests"] = [r for r in sim.requests() if r.get("action") == "DescribePortConnsCount"]
    return t


def test_no_read_is_above_its_interval(run):
    log = run["log"]
    assert "above its read interval" not in log, [
        l for l in log.splitlines() if "above its read interval" in l]
    assert run["alive"]


def test_the_hang_is_logged_rate_limited(run):
    lines = [l for l in run["log"].splitlines()
             if 'Account "hang", series %s: request to' % INSTANCE in l]
    # A read every 10 s, each of which gave up on its request: the first
    # one logged, the rest at doubling intervals (10 s, 20 s, 40 s...).
    assert lines and "timed out" in lines[0]
    assert 1 <= len(lines) <= 3, lines
    times = [time.mktime(time.strptime(l[1:20], "%Y-%m-%d %H:%M:%S")) for l in lines]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(b >= 1.5 * a for a, b in zip(gaps, gaps[1:])), lines
    # collectd's shutdown waits for the read under way: less than one
    # interval.
    assert run["stop_seconds"] < 10
