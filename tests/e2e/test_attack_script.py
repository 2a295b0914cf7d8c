# SPDX-License-Identifier: MIT
"""The attack script end to end, with the default statistics as a user
gets them: within the last hour an instance is attacked (its traffic and
connections rise, a mitigation event starts, its IP is blackholed, the
attack ends, the blackhole stays). The StateFile says the plugin last saw
the instance before it all began, so the first read catches the hour up;
then the minutes come live. Every series of every statistic, in CSV and
RRD, minute by minute, against what the simulator served; and each event
notified once."""

import os
import time

import pytest

import ddoscoo_sim
from conftest import (METRICS, TRAFFIC, Collectd, Simulator, block, expected_values, rrd_fetch,
                      wait_for)

KEY = ['AccessKeyId "LTAIscript"', 'AccessKeySecret "SECRET-script-7a"']
KEYS = {"LTAIscript": {"secret": "SECRET-script-7a"}}
HIT, IP, PORT = "ddoscoo-cn-script", "203.0.113.70", 80
PEAK_BPS, PEAK_PPS = 20_000_000_000, 3_000_000
BEHIND = 45  # windows the StateFile is behind: the whole script
EVENTS = ["count-mitigation_events", "count-blackhole_events", "gauge-event_peak_bps",
          "operations_per_second-event_peak_packets"]


def minute(t):
    return int(t) - int(t) % 60


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("script"))
    now = minute(time.time())
    spec = {"attacks": [{"instance": HIT, "ip": IP, "port": PORT, "start": now - 40 * 60,
                         "end": now - 5 * 60, "ramp_seconds": 300, "peak_bps": PEAK_BPS,
                         "peak_pps": PEAK_PPS, "blackhole_from": now - 15 * 60,
                         "blackhole_to": now + 3600}],
            "instance_ips": {HIT: [IP, "203.0.113.71"]}}
    sim = Simulator(d, {"keys": KEYS, "instances": [HIT], "attack": spec})
    # The newest window due is the minute that ended at least a minute ago.
    seen = minute(time.time() - 60) - BEHIND * 60
    state = os.path.join(d, "state")
    with open(state, "w") as f:
        f.write("# collectd-ddoscoo state 1\n")
        for key in ("%s_%d" % (HIT, PORT), HIT + "/traffic", HIT + "/events"):
            f.write("%d\tscript/%s\n" % (seen, key))
    # collectd's defaults: five write threads.
    cd = Collectd(d, 'StateFile "%s"\n' % state + block(
        "script", *KEY, 'Endpoint "%s"' % sim.url, 'InstanceId "%s"' % HIT,
        'Port "%d"' % PORT, "Interval 1"))
    t = {"cd": cd, "attack": ddoscoo_sim.check_attack(spec, 0), "seen": seen}
    try:
        conns = HIT + "_%d" % PORT
        # The hour, and two minutes live.
        wait_for(lambda: len(cd.csv_points(conns, METRICS[0][0])) >= BEHIND + 2
                 and len(cd.csv_points(HIT, "gauge-in_bps")) >= BEHIND + 2
                 and len(cd.csv_points(HIT, EVENTS[0])) >= BEHIND + 2
                 and len(cd.csv_points(HIT, "count-blackholed_ips")) >= 2,
                 200, "the hour and two live minutes of every statistic", step=1)
        t["alive"] = cd.alive()
    finally:
        cd.stop()
        sim.stop()
    t["requests"] = sim.requests()
    return t


def under_way(start, end, window_end):
    """Is an event of [start, end) under way in the minute ending then?"""
    return start < window_end and end > window_end - 60


def expected(run, metric, end):
    a = run["attack"]["attacks"][0]
    if metric in dict(METRICS):
        return expected_values([HIT], str(PORT), end, attack=run["attack"])[dict(METRICS)[metric]]
    if metric in dict(TRAFFIC):
        rows = ddoscoo_sim.flow_for([HIT], end - 60, end, 60, attack=run["attack"])
        return sum(r[dict(TRAFFIC)[metric]] for r in rows)
    mitigating = under_way(a["start"], a["end"], end)
    blackholed = under_way(a["blackhole_from"], a["blackhole_to"], end)
    return {"count-mitigation_events": int(mitigating),
            "count-blackhole_events": int(blackholed),
            "gauge-event_peak_bps": PEAK_BPS if mitigating or blackholed else 0,
            "operations_per_second-event_peak_packets":
                PEAK_PPS if mitigating or blackholed else 0}[metric]


SERIES = ([(HIT + "_%d" % PORT, m) for m, _ in METRICS] + [(HIT, m) for m, _ in TRAFFIC]
          + [(HIT, m) for m in EVENTS])


@pytest.mark.parametrize("plugin_instance,metric", SERIES)
def test_every_minute_in_csv_and_rrd(run, plugin_instance, metric):
    cd = run["cd"]
    points = cd.csv_points(plugin_instance, metric)
    ends = sorted(points)
    # Not a minute lost from the one after the StateFile's to the newest.
    assert ends[0] == run["seen"] + 60
    assert ends == list(range(ends[0], ends[-1] + 60, 60))
    for end in ends:
        assert points[end] == expected(run, metric, end), end
    # rrdtool's first update only starts a new file; every later minute
    # reads back exactly.
    stored = rrd_fetch(cd.rrd_file(plugin_instance, metric), ends[0], ends[-1])
    for end in ends[1:]:
        assert stored[end] == pytest.approx(points[end], rel=1e-9), end


def test_no_value_of_the_catch_up_is_refused(run):
    """With collectd's five write threads, every window of the hour reaches
    the writers in order."""
    assert run["cd"].lost_values() == []


def test_the_script_is_in_the_series(run):
    """The attack rose and ended, the blackhole came, as a user sees it."""
    cd = run["cd"]
    attack = cd.csv_points(HIT, "gauge-attack_bps")
    a = run["attack"]["attacks"][0]
    assert max(attack.values()) > 0.9 * PEAK_BPS
    assert all(v == 0 for t, v in attack.items() if t <= a["start"] or t > a["end"])
    mitigation = cd.csv_points(HIT, "count-mitigation_events")
    assert {mitigation[t] for t in mitigation if a["start"] + 60 <= t <= a["end"]} == {1}
    conns = cd.csv_points(HIT + "_%d" % PORT, "current_connections-concurrent")
    calm = [v for t, v in conns.items() if t <= a["start"]]
    assert max(conns.values()) > 2 * max(calm)


def test_the_blackhole_is_seen_live(run):
    cd = run["cd"]
    # A state: the newest minute at each read, never the hour before.
    for metric in ("bool-" + IP, "count-blackholed_ips"):
        points = cd.csv_points(HIT, metric)
        assert points and min(points) > run["seen"] + BEHIND * 60 - 120, metric
        assert set(points.values()) == {1}, metric
    assert set(cd.csv_points(HIT, "bool-203.0.113.71").values()) == {0}


def test_each_event_is_notified_once(run):
    lines = [l for l in run["cd"].log().splitlines()
             if "Notification:" in l and "Anti-DDoS" in l]
    kinds = sorted(l.split("Anti-DDoS ")[1].split(":")[0] for l in lines)
    assert kinds == ["blackhole started", "mitigation ended", "mitigation started"], lines


def test_the_catch_up_is_frugal(run):
    reqs = [r for r in run["requests"] if r.get("service") == "api"]
    by_action = {}
    for r in reqs:
        by_action.setdefault(r.get("action"), []).append(r)
    assert all(r["status"] == 200 for r in reqs)
    # The hour in one request each for traffic and events, then one a
    # minute; the connections a request a minute.
    first = by_action["DescribePortFlowList"][0]["params"]
    assert int(first["EndTime"]) - int(first["StartTime"]) >= BEHIND * 60
    windows = len(run["cd"].csv_points(HIT, "gauge-in_bps"))
    assert len(by_action["DescribePortFlowList"]) <= windows - BEHIND + 2
    assert len(by_action["DescribeDDoSEvents"]) <= windows - BEHIND + 2
    assert len(by_action["DescribePortConnsCount"]) == windows
    assert run["alive"]
