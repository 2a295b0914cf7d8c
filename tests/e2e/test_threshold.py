# SPDX-License-Identifier: MIT
"""collectd-native alerting: conf/threshold-ddoscoo.conf, included as it
is shipped into the real collectd with the stock threshold and logfile
plugins. The simulator scripts an attack that ended four minutes ago
(fetched at start from a StateFile: attack traffic, a mitigation event and
connections cross their thresholds and come back), an IP blackholed now
that is released, and an API failing for a minute. Each crossing is
notified once, each recovery once (OKAY)."""

import os
import time

import pytest

from conftest import REPO, Collectd, Simulator, block, wait_for

KEY = ['AccessKeyId "LTAIthresh"', 'AccessKeySecret "SECRET-thresh-3e"']
KEYS = {"LTAIthresh": {"secret": "SECRET-thresh-3e"}}
HIT, CALM = "ddoscoo-cn-thhit", "ddoscoo-cn-thcalm"
IP = "203.0.113.50"
EXAMPLE = os.path.join(REPO, "conf", "threshold-ddoscoo.conf")


def minute(t):
    return int(t) - int(t) % 60


def latest_window():
    return minute(time.time() - 60)


def attack(m, blackhole_to):
    return {"attacks": [{"instance": HIT, "ip": IP, "port": 80, "start": m - 480,
                         "end": m - 240, "ramp_seconds": 0, "peak_bps": 40_000_000_000,
                         "peak_pps": 5_000_000, "blackhole_from": m - 300,
                         "blackhole_to": blackhole_to}]}


def last_severity(notes):
    return notes[-1][0] if notes else None


def threshold_notes(cd, type_, type_instance, plugin_instance=HIT):
    """(severity, message) of the threshold plugin's notifications for one
    series, in the order logged."""
    out = []
    for line in cd.log().splitlines():
        if ("Notification:" in line and "plugin_instance = %s," % plugin_instance in line
                and "type = %s, type_instance = %s," % (type_, type_instance) in line
                and "message = Host " in line):
            out.append((line.split("severity = ")[1].split(",")[0],
                        line.split("message = ")[1]))
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("threshold"))
    m = minute(time.time())
    sim = Simulator(d, {"keys": KEYS, "instances": [HIT, CALM],
                        "attack": attack(m, m + 3600)})
    # The last ten minutes are fetched at the first read, oldest first.
    state = os.path.join(d, "state")
    last = latest_window() - 600
    with open(state, "w") as f:
        f.write("# collectd-ddoscoo state 1\n")
        for i in (HIT, CALM):
            f.write("%d\tpro/%s/traffic\n%d\tpro/%s/events\n%d\tpro/%s_80\n"
                    % (last, i, last, i, last, i))
    at = 'Endpoint "%s"' % sim.url
    t = {}
    cd = Collectd(d, 'StateFile "%s"\n' % state + block(
        "pro", *KEY, at, 'Statistics "connections" "traffic" "blackhole" "events"',
        'InstanceId "%s"' % HIT, 'InstanceId "%s"' % CALM, 'Port "80"', "Interval 1"),
        extra_config='Include "%s"\n' % EXAMPLE)
    try:
        wait_for(lambda: threshold_notes(cd, "bool", IP), 30, "the blackhole", step=1)
        w0 = latest_window()
        # The IP is released, and the API fails for CALM's connections,
        # until the next window has been asked for.
        sim.control("attack", attack(m, int(time.time())))
        sim.control("faults", {CALM: {"mode": "http503"}})
        wait_for(lambda: latest_window() > w0
                 and len(threshold_notes(cd, "bool", IP)) >= 2
                 and last_severity(threshold_notes(cd, "total_requests", "failed", "pro-api"))
                 == "WARNING",
                 90, "the next window: the IP released, the API failing", step=1)
        sim.control("faults", {})
        wait_for(lambda: last_severity(threshold_notes(cd, "total_requests", "failed",
                                                       "pro-api")) == "OKAY" and latest_window() in cd.csv_points(
                     CALM + "_80", "current_connections-concurrent"),
                 30, "the API answering again", step=1)
        time.sleep(3)  # nothing more comes
    finally:
        cd.stop()
        sim.stop()
    t["cd"] = cd
    return t


def crossing(notes, severity):
    """The notifications after the start's OKAY: one crossing, one recovery."""
    assert notes and notes[0][0] == "OKAY", notes  # the first value, as threshold starts
    assert "within range again" in notes[0][1]
    assert [s for s, _ in notes[1:]] == [severity, "OKAY"], notes
    return notes[1][1], notes[2][1]


def test_attack_traffic_above_a_gigabit_once_and_back(run):
    up, down = crossing(threshold_notes(run["cd"], "gauge", "attack_bps"), "WARNING")
    assert up.startswith("Host e2e-host, plugin ddoscoo (instance %s) type gauge "
                         "(instance attack_bps): " % HIT)
    assert "above the warning threshold of 1000000000.000000" in up
    assert 'Current value of "value" is 0.000000' in down


def test_mitigation_event_once_and_back(run):
    up, _ = crossing(threshold_notes(run["cd"], "count", "mitigation_events"), "WARNING")
    assert 'is currently 1.000000. That is above the warning threshold of 0.500000' in up


def test_connections_above_their_level_once_and_back(run):
    up, _ = crossing(threshold_notes(run["cd"], "current_connections", "concurrent",
                                     HIT + "_80"), "WARNING")
    assert "above the warning threshold of 100000.000000" in up


def test_blackholed_ip_fails_once_and_recovers(run):
    notes = threshold_notes(run["cd"], "bool", IP)
    # Blackholed at the first read (no OKAY before: its first value is
    # already 1), released at the next window.
    assert [s for s, _ in notes] == ["FAILURE", "OKAY"], notes
    assert "above the failure threshold of 0.500000" in notes[0][1]


def test_api_failure_warns_once_and_recovers(run):
    notes = threshold_notes(run["cd"], "total_requests", "failed", "pro-api")
    assert [s for s, _ in notes] == ["OKAY", "WARNING", "OKAY"], notes
    assert "above the warning threshold of 0.000000" in notes[1][1]


def test_calm_instance_and_throttling_stay_quiet(run):
    cd = run["cd"]
    for type_, ti, pi in (("gauge", "attack_bps", CALM), ("count", "mitigation_events", CALM),
                          ("current_connections", "concurrent", CALM + "_80"),
                          ("total_requests", "throttled", "pro-api")):
        assert [s for s, _ in threshold_notes(cd, type_, ti, pi)] == ["OKAY"], (type_, ti, pi)
    # The plugin's own event notifications come besides, once each.
    events = [l for l in cd.log().splitlines() if "Anti-DDoS mitigation" in l]
    assert len([l for l in events if "started" in l]) == 1
    assert len([l for l in events if "ended" in l]) == 1
