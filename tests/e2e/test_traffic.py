# SPDX-License-Identifier: MIT
"""Traffic and attack traffic (Statistics "traffic", DescribePortFlowList)
with the real collectd: 40 Gbit/s of attack traffic read back from RRD,
exact values and timestamps in CSV, ten missed minutes caught up with one
request, and the rows of several source regions (Anti-DDoS Premium) added
up."""

import os
import time

import pytest

import ddoscoo_sim
from conftest import TRAFFIC, Collectd, Simulator, block, rrd_fetch, wait_for

KEY = ['AccessKeyId "LTAItraffic"', 'AccessKeySecret "SECRET-traffic-5d"']
KEYS = {"LTAItraffic": {"secret": "SECRET-traffic-5d"}}
HIT, CALM, PREMIUM = "ddoscoo-cn-hit", "ddoscoo-cn-calm", "ddoscoo-sg-premium"
PEAK_BPS = 40_000_000_000  # 40 Gbit/s: far above the stock bitrate type's maximum
MISSED = 10


def minute(t):
    return t - t % 60


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("traffic"))
    now = minute(int(time.time()))
    attack = {"attacks": [{"instance": HIT, "ip": "203.0.113.10", "port": 80,
                           "start": now - 3600, "end": now + 3600, "ramp_seconds": 0,
                           "peak_bps": PEAK_BPS, "peak_pps": 5_000_000},
                          {"instance": PREMIUM, "ip": "203.0.113.20", "port": 443,
                           "start": now - 3600, "end": now + 3600, "ramp_seconds": 0,
                           "peak_bps": PEAK_BPS, "peak_pps": 900_000}],
              "flow_regions": ["cn", "alb-ap-northeast-1-gf-x", "alb-us-west-1-gf-x"]}
    sim = Simulator(d, {"keys": KEYS, "instances": [HIT, CALM, PREMIUM],
                        "instance_regions": {PREMIUM: "ap-southeast-1"},
                        "attack": attack})
    # The traffic of HIT was last stored ten windows ago: one request
    # fetches the ten, not ten requests.
    state = os.path.join(d, "state")
    with open(state, "w") as f:
        f.write("# collectd-ddoscoo state 1\n%d\tpro/%s/traffic\n"
                % (minute(int(time.time()) - 60) - MISSED * 60, HIT))
    at = 'Endpoint "%s"' % sim.url
    # One write thread: with several, collectd's csv and rrdtool plugins
    # garble or drop values that arrive together for a file they are still
    # creating, as a catch-up into a new file does (see the README).
    cd = Collectd(d, 'StateFile "%s"\n' % state + "\n".join([
        block("pro", *KEY, at, 'Statistics "connections" "traffic"',
              'InstanceId "%s"' % HIT, 'InstanceId "%s"' % CALM, "Interval 1"),
        block("premium", *KEY, at, 'RegionId "ap-southeast-1"', 'Statistics "traffic"',
              'InstanceId "%s"' % PREMIUM, "Interval 1"),
    ]))
    t = {"cd": cd, "attack": ddoscoo_sim.check_attack(attack, 0)}
    try:
        wait_for(lambda: all(len(cd.csv_points(i, "gauge-in_bps")) >= 2
                             for i in (CALM, PREMIUM))
                 and len(cd.csv_points(HIT, "gauge-attack_bps")) >= MISSED + 1,
                 90, "two windows of traffic, and the missed ones", step=1)
        t["alive"] = cd.alive()
    finally:
        cd.stop()
        sim.stop()
    t["requests"] = sim.requests()
    t["log"] = cd.log()
    return t


def expected(run, instance, end, region_id="cn-hangzhou"):
    rows = ddoscoo_sim.flow_for([instance], end - 60, end, 60, attack=run["attack"],
                                region_id=region_id)
    return {f: sum(r[f] for r in rows) for _, f in TRAFFIC}


@pytest.mark.parametrize("instance", [HIT, CALM])
def test_every_value_and_timestamp_in_csv(run, instance):
    cd = run["cd"]
    for metric, field in TRAFFIC:
        points = cd.csv_points(instance, metric)
        assert len(points) >= 2, metric
        for end, value in points.items():
            assert end % 60 == 0
            assert value == expected(run, instance, end)[field], (metric, end)


def test_forty_gigabits_of_attack_are_stored_in_rrd(run):
    # The series that gets a window at a time: collectd's rrdtool plugin
    # drops values that arrive for a file while it is being created, as a
    # backfilled burst into a new file does.
    cd = run["cd"]
    points = cd.csv_points(PREMIUM, "gauge-attack_bps")
    ends = sorted(points)
    stored = rrd_fetch(cd.rrd_file(PREMIUM, "gauge-attack_bps"), ends[0], ends[-1])
    # rrdtool's first update only starts a new file; every later minute
    # reads back exactly.
    for end in ends[1:]:
        want = expected(run, PREMIUM, end, "ap-southeast-1")["AttackBps"]
        assert want > 4_294_967_295  # beyond what the bitrate type could hold
        assert stored[end] == pytest.approx(want, rel=1e-9), end


def test_no_value_of_the_catch_up_is_refused(run):
    assert run["cd"].lost_values() == []


def test_ten_missed_windows_cost_one_request(run):
    asked = [r for r in run["requests"] if r.get("action") == "DescribePortFlowList"
             and r["params"].get("InstanceIds.1") == HIT]
    first = asked[0]["params"]
    assert first["Interval"] == "60"
    # Ten windows, or eleven if a minute began before the first read.
    assert int(first["EndTime"]) - int(first["StartTime"]) in (MISSED * 60, MISSED * 60 + 60)
    assert all(r["status"] == 200 for r in asked)
    # Then one request per window, each for that window only.
    for r in asked[1:]:
        assert int(r["params"]["EndTime"]) - int(r["params"]["StartTime"]) == 60
    ends = sorted(run["cd"].csv_points(HIT, "gauge-attack_bps"))
    assert ends == list(range(ends[0], ends[-1] + 60, 60))  # not a minute lost


def test_premium_region_rows_are_added_up(run):
    cd = run["cd"]
    for metric, field in TRAFFIC:
        for end, value in cd.csv_points(PREMIUM, metric).items():
            want = expected(run, PREMIUM, end, "ap-southeast-1")[field]
            assert value == want, (metric, end)
    asked = [r for r in run["requests"] if r.get("action") == "DescribePortFlowList"
             and r["params"].get("InstanceIds.1") == PREMIUM]
    assert asked and all(r["params"]["RegionId"] == "ap-southeast-1" for r in asked)


def test_connections_go_on_as_before(run):
    cd = run["cd"]
    assert cd.csv_points(HIT, "current_connections-concurrent")
    conns = [r for r in run["requests"] if r.get("action") == "DescribePortConnsCount"]
    assert conns and all("Interval" not in r["params"] for r in conns)
    assert run["alive"]
    assert "ddoscoo plugin" not in "".join(
        l for l in run["log"].splitlines() if "error" in l.lower())
