# SPDX-License-Identifier: MIT
"""Blackholed IPs (Statistics "blackhole", DescribeBlackholeStatus) with the
real collectd: per IP 1 while blackholed and 0 otherwise, the number of
blackholed IPs per instance, the state asked once per window without a
time range, and the release of the blackhole seen at the next window."""

import time

import pytest

from conftest import Collectd, Simulator, block, rrd_info, wait_for

KEY = ['AccessKeyId "LTAIblackhole"', 'AccessKeySecret "SECRET-blackhole-9e"']
KEYS = {"LTAIblackhole": {"secret": "SECRET-blackhole-9e"}}
INSTANCE = "ddoscoo-cn-bh"
HIT_IP, CALM_IP = "203.0.113.30", "203.0.113.31"


def attack(now, blackhole_to):
    return {"attacks": [{"instance": INSTANCE, "ip": HIT_IP, "port": 80,
                         "start": now - 3600, "end": now + 3600, "ramp_seconds": 0,
                         "peak_bps": 20_000_000_000, "peak_pps": 2_000_000,
                         "blackhole_from": now - 600, "blackhole_to": blackhole_to}],
            "instance_ips": {INSTANCE: [HIT_IP, CALM_IP]}}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("blackhole"))
    now = int(time.time())
    sim = Simulator(d, {"keys": KEYS, "instances": [INSTANCE],
                        "attack": attack(now, now + 3600)})
    cd = Collectd(d, block("bh", *KEY, 'Endpoint "%s"' % sim.url,
                           'Statistics "blackhole"', 'InstanceId "%s"' % INSTANCE,
                           "Interval 1"))
    t = {"cd": cd}
    try:
        wait_for(lambda: cd.csv_points(INSTANCE, "count-blackholed_ips"), 30,
                 "the first window")
        first = max(cd.csv_points(INSTANCE, "count-blackholed_ips"))
        # The blackhole is released: the next window says so.
        sim.control("attack", attack(now, int(time.time())))
        t["released_at"] = time.time()
        wait_for(lambda: max(cd.csv_points(INSTANCE, "count-blackholed_ips")) > first, 90,
                 "the next window", step=1)
        t["first"] = first
        t["alive"] = cd.alive()
    finally:
        cd.stop()
        sim.stop()
    t["requests"] = [r for r in sim.requests() if r.get("action") == "DescribeBlackholeStatus"]
    return t


def test_each_ip_and_the_count_per_window(run):
    cd, first = run["cd"], run["first"]
    hit = cd.csv_points(INSTANCE, "bool-" + HIT_IP)
    calm = cd.csv_points(INSTANCE, "bool-" + CALM_IP)
    count = cd.csv_points(INSTANCE, "count-blackholed_ips")
    assert hit[first] == 1 and calm[first] == 0 and count[first] == 1
    after = sorted(t for t in count if t > first)
    assert after and all(t % 60 == 0 for t in count)
    for t in after:
        assert hit[t] == 0 and calm[t] == 0 and count[t] == 0, t
    assert run["alive"]


def test_the_state_is_asked_once_per_window_without_times(run):
    reqs = run["requests"]
    assert reqs and all(r["status"] == 200 for r in reqs)
    for r in reqs:
        assert r["params"]["InstanceIds.1"] == INSTANCE
        assert not {"StartTime", "EndTime", "Interval"} & set(r["params"]), r["params"]
    # Read every second, asked once per window: as many requests as windows.
    assert len(reqs) == len(run["cd"].csv_points(INSTANCE, "count-blackholed_ips"))


def test_rrd_files_per_ip(run):
    cd = run["cd"]
    for name in ("bool-" + HIT_IP, "bool-" + CALM_IP, "count-blackholed_ips"):
        assert rrd_info(cd.rrd_file(INSTANCE, name))["step"] == "60"
