# SPDX-License-Identifier: MIT
"""HTTP floods on a website (Statistics "cc_events",
DescribeDomainAttackEvents) with the real collectd: per window the floods
under way on the domain and their peak attack QPS, exact in CSV and RRD;
a notification when the flood starts and when it ends, once each, also
across a restart with a StateFile (collectd down while the flood ended),
each naming who is attacking: the top blocked source IPs with ISP and
area, one DescribeWebReportTopIp request per notification. The answer's
hostile sources (no IP address, an AreaId that is no number) are left out
or shown as "?", and logged escaped."""

import os
import re
import time

import pytest

from conftest import REPO, Collectd, Simulator, block, rrd_fetch, wait_for

KEY = ['AccessKeyId "LTAIcc"', 'AccessKeySecret "SECRET-cc-5d"']
KEYS = {"LTAIcc": {"secret": "SECRET-cc-5d"}}
INSTANCE = "ddoscoo-cn-cc"
DOMAIN = "www.example.com"
PEAK = 20000
# Most requests first, as the service ranks them.
SOURCES = [{"ip": "2001:db8::66", "area_id": "440000", "isp": "100026", "count": 9000},
           {"ip": "198.51.100.7", "area_id": "90998690", "isp": "100017", "count": 5000},
           {"ip": "203.0.113.9", "area_id": "9\u202eevil", "isp": "1000323", "count": 800},
           {"ip": "<script>1.2.3.4", "area_id": "1", "isp": "1", "count": 700}]
SHOWN = ["2001:db8::66 (China Unicom, area 440000)",
         "198.51.100.7 (China Telecom, area 90998690)",
         "203.0.113.9 (Alibaba Cloud, area ?)"]
MISSED = 3  # minutes the StateFile says are missing, at each start
THRESHOLD = os.path.join(REPO, "conf", "threshold-ddoscoo.conf")


def minute(t):
    return t - t % 60


def flood(start, end=None):
    return {"floods": [{"domain": DOMAIN, "start": start, "end": end, "peak_qps": PEAK,
                        "sources": SOURCES}]}


def notifications(cd):
    return [l for l in cd.log().splitlines() if "Notification:" in l and "HTTP flood" in l]


def set_stored(state, minutes_back):
    """The StateFile's window of the domain's cc_events, minutes_back
    minutes before the newest: as if collectd had been down that long."""
    key = "cc/%s/cc_events" % DOMAIN
    last = minute(int(time.time()) - 60) - minutes_back * 60
    lines = [l for l in open(state).read().splitlines()
             if not l.endswith("\t" + key)] if os.path.exists(state) else \
        ["# collectd-ddoscoo state 1"]
    with open(state, "w") as f:
        f.write("\n".join(lines + ["%d\t%s" % (last, key)]) + "\n")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("cc"))
    start = int(time.time()) - 600
    sim = Simulator(d, {"keys": KEYS, "instances": [INSTANCE],
                        "domains": {DOMAIN: [INSTANCE]}, "attack": flood(start)})
    state = os.path.join(d, "state")
    config = 'StateFile "%s"\n' % state + block(
        "cc", *KEY, 'Endpoint "%s"' % sim.url, 'Statistics "cc_events"',
        'ResourceGroupId "rg-default"',
        'Domain "%s"' % DOMAIN, "Interval 1")
    t = {"start": start}
    try:
        set_stored(state, MISSED)
        os.makedirs(os.path.join(d, "first"))
        first = Collectd(os.path.join(d, "first"), config)
        try:
            wait_for(lambda: notifications(first)
                     and len(first.csv_points(DOMAIN, "count-cc_events")) >= MISSED, 30,
                     "the start notification and the missed windows", step=0.5)
            time.sleep(1)
        finally:
            t["first_status"] = first.stop()
        t["first"] = first
        # The flood ended while collectd was down (three minutes, by the
        # StateFile): the restart's catch-up spans the end. (The first
        # run's windows saw it under way; the scenario rewrites a little
        # history so as not to wait two minutes.)
        t["end"] = int(time.time()) - 200
        sim.control("attack", flood(start, t["end"]))
        set_stored(state, MISSED)
        os.makedirs(os.path.join(d, "second"))
        # With the shipped threshold example.
        second = Collectd(os.path.join(d, "second"), config,
                          extra_config='Include "%s"\n' % THRESHOLD)
        try:
            wait_for(lambda: notifications(second)
                     and len(second.csv_points(DOMAIN, "count-cc_events")) >= MISSED
                     and len(threshold_notes(second)) >= 2, 30,
                     "the end notification", step=0.5)
            time.sleep(2)  # nothing more comes
            t["alive"] = second.alive()
        finally:
            t["second_status"] = second.stop()
        t["second"] = second
    finally:
        sim.stop()
    t["requests"] = sim.requests()
    return t


def threshold_notes(cd):
    """(severity, message) of the threshold plugin's notifications of the
    domain's cc_events."""
    return [(l.split("severity = ")[1].split(",")[0], l.split("message = ")[1])
            for l in cd.log().splitlines()
            if "Notification:" in l and "plugin_instance = %s," % DOMAIN in l
            and "type = count, type_instance = cc_events," in l and "message = Host " in l]


def message(line):
    return line.split("message = ", 1)[1]


def test_the_start_is_notified_once_naming_the_sources(run):
    lines = notifications(run["first"])
    assert len(lines) == 1, lines
    line = lines[0]
    assert "severity = WARNING" in line and "plugin = ddoscoo" in line
    assert "plugin_instance = %s" % DOMAIN in line and "type_instance = cc_events" in line
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(run["start"]))
    assert message(line).startswith(
        "Anti-DDoS HTTP flood started: domain %s, peak %d attack requests/s, since %s; "
        "top blocked sources: %s" % (DOMAIN, PEAK, since, SHOWN[0])), line
    # Every source that fits, most requests first; what does not, counted.
    shown = re.findall(r"(\S+) \([^)]*\)", message(line).split("sources: ", 1)[1])
    assert shown == [s.split(" ")[0] for s in SHOWN[:len(shown)]] and len(shown) >= 2
    more = len(SHOWN) - len(shown)
    assert (" and %d more" % more in line) == (more > 0), line


def test_after_a_restart_only_the_end_is_notified(run):
    lines = notifications(run["second"])
    assert len(lines) == 1, lines
    line = lines[0]
    assert "severity = OKAY" in line and "HTTP flood ended: domain %s" % DOMAIN in line
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(run["start"]))
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(run["end"]))
    assert "from %s to %s; top blocked sources: %s" % (since, until, SHOWN[0]) in line


def test_sources_asked_once_per_notification(run):
    asked = [r for r in run["requests"] if r.get("action") == "DescribeWebReportTopIp"]
    assert len(asked) == 2 and all(r["status"] == 200 for r in asked), asked
    first, second = (r["params"] for r in asked)
    for p in (first, second):
        assert p["Domain"] == DOMAIN and p["QueryType"] == "block" and p["Top"] == "5"
        assert p["Interval"] == "300" and p["StartTime"] == str(minute(run["start"]))
        assert "ResourceGroupId" not in p and "InstanceIds.1" not in p
    # The flood's whole span, its end raised to a whole minute.
    assert second["EndTime"] == str(minute(run["end"]) + 60)


def test_floods_and_peak_per_window_in_csv(run):
    for cd in (run["first"], run["second"]):
        floods = cd.csv_points(DOMAIN, "count-cc_events")
        peak = cd.csv_points(DOMAIN, "operations_per_second-cc_peak_qps")
        assert len(floods) >= MISSED and set(floods) == set(peak)
        for end in floods:
            on = run["start"] < end and (cd is run["first"] or run["end"] > end - 60)
            assert floods[end] == (1 if on else 0), end
            assert peak[end] == (PEAK if on else 0), end
    # The second run's windows span the end: some under way, some not.
    second = run["second"].csv_points(DOMAIN, "count-cc_events")
    assert set(second.values()) == {0, 1}, second


def test_values_in_rrd(run):
    cd = run["second"]
    ends = sorted(cd.csv_points(DOMAIN, "count-cc_events"))
    stored = rrd_fetch(cd.rrd_file(DOMAIN, "count-cc_events"), ends[0], ends[-1])
    peak = rrd_fetch(cd.rrd_file(DOMAIN, "operations_per_second-cc_peak_qps"), ends[0],
                     ends[-1])
    checked = 0
    for end in ends[1:]:  # the first update only starts the file
        if stored.get(end) is None:
            continue  # dropped while rrdtool created the file (a catch-up)
        on = run["end"] > end - 60
        assert stored[end] == (1 if on else 0) and peak[end] == (PEAK if on else 0), end
        checked += 1
    assert checked >= 1


def test_hostile_sources_are_left_out_and_logged_escaped(run):
    for cd in (run["first"], run["second"]):
        assert "<script>" not in "\n".join(notifications(cd))
        assert "evil" not in "\n".join(notifications(cd))
        lines = cd.log_lines('Account "cc", domain %s: DescribeWebReportTopIp: 1 rows left out'
                             % DOMAIN)
        # The first odd value, escaped: the AreaId's right-to-left override.
        assert len(lines) == 1 and r'"9\xE2\x80\xAEevil"' in lines[0], cd.log()
    assert run["alive"] and run["first_status"] == 0 and run["second_status"] == 0


def test_each_window_asks_one_page_of_a_day_back(run):
    asked = [r for r in run["requests"] if r.get("action") == "DescribeDomainAttackEvents"]
    assert asked and all(r["status"] == 200 for r in asked)
    for r in asked:
        p = r["params"]
        assert p["Domain"] == DOMAIN and p["PageNumber"] == "1" and p["PageSize"] == "50"
        assert p["ResourceGroupId"] == "rg-default" and "InstanceIds.1" not in p
        assert int(p["EndTime"]) - int(p["StartTime"]) >= 86400 + 60
    # Each catch-up in one request per start (an hour per request at most).
    assert len(asked) <= 4, [r["params"] for r in asked]


def test_the_threshold_example_warns_of_the_flood(run):
    # The catch-up's windows in order: the flood under way (WARNING), then
    # over (OKAY).
    notes = threshold_notes(run["second"])
    assert [n[0] for n in notes[:2]] == ["WARNING", "OKAY"], notes
    assert "is currently 1.000000. That is above the warning threshold of 0.500000" \
        in notes[0][1]
