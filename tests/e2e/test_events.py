# SPDX-License-Identifier: MIT
"""Attack events (Statistics "events", DescribeDDoSEvents) with the real
collectd: per window the mitigation and blackhole events under way and
the peak attack, and a notification (seen through the stock logfile
plugin) when each event starts and when it ends, once each, also across
a restart with a StateFile; and a campaign of more events than one page
holds (DescribeDDoSEvents answers 50 a page, in no documented order),
read page by page, counted and notified from all pages together. Each
notification names who is attacking: the event's top source IPs with
region and ISP, one DescribeDDosEventSrcIp request per notification; the
answer's hostile sources are left out or shown as "?", and logged escaped.
The campaign's block has EventSources false: no such request, the
notifications without sources. The first block's "instance_cc_events":
the connection floods (CC) of DescribeDDosAllEventList, one request for
the whole account, under the instance whose IP they hit, notified once
each way across the restart, without sources (no operation names them);
a flood on an instance of the account the block does not poll ignored."""

import os
import re
import time

import pytest

from conftest import Collectd, Simulator, block, wait_for

KEY = ['AccessKeyId "LTAIevents"', 'AccessKeySecret "SECRET-events-2b"']
KEYS = {"LTAIevents": {"secret": "SECRET-events-2b"}}
INSTANCE = "ddoscoo-cn-ev"
IP = "203.0.113.40"
PEAK_BPS, PEAK_PPS = 30_000_000_000, 4_000_000
# Another instance of the account, not polled by the block, under a CC
# flood too; the block's own CC flood: Mbit/s in the answer.
OTHER, OTHER_IP = "ddoscoo-cn-evother", "203.0.113.41"
CC_MBPS, CC_PPS = 1_500, 120_000
# Most attack traffic first, as the service ranks them; two hostile ones.
SOURCES = [{"ip": "2001:DB8::0:77", "area_id": "us", "isp": "100017", "count": 9000},
           {"ip": "198.51.100.9", "area_id": "110000", "isp": "100026", "count": 5000},
           {"ip": "192.0.2.7", "area_id": "1\u202eevil", "isp": "100025", "count": 800},
           {"ip": "<script>1.2.3.4", "area_id": "1", "isp": "1", "count": 700}]
SHOWN = ["2001:db8::77 (China Telecom, area us)",
         "198.51.100.9 (China Unicom, area 110000)",
         "192.0.2.7 (China Mobile, area ?)"]


def attack(now, end=None):
    a = {"instance": INSTANCE, "ip": IP, "port": 443, "start": now - 600, "end": end,
         "ramp_seconds": 0, "peak_bps": PEAK_BPS, "peak_pps": PEAK_PPS,
         "blackhole_from": now - 300, "blackhole_to": end or now + 3600,
         "sources": SOURCES}
    cc = [{"instance": INSTANCE, "ip": IP, "port": 8080, "start": now - 400, "end": end,
           "peak_mbps": CC_MBPS, "peak_pps": CC_PPS},
          {"instance": OTHER, "ip": OTHER_IP, "port": 80, "start": now - 400,
           "peak_mbps": 7, "peak_pps": 7}]
    return {"attacks": [a], "cc_attacks": cc,
            "instance_ips": {INSTANCE: [IP], OTHER: [OTHER_IP]}}


def workdir(d, name):
    os.makedirs(os.path.join(d, name))
    return os.path.join(d, name)


def notifications(cd):
    return [l for l in cd.log().splitlines() if "Notification:" in l and "Anti-DDoS" in l]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("events"))
    now = int(time.time())
    sim = Simulator(d, {"keys": KEYS, "instances": [INSTANCE, OTHER], "attack": attack(now)})
    state = os.path.join(d, "state")
    config = 'StateFile "%s"\n' % state + block(
        "ev", *KEY, 'Endpoint "%s"' % sim.url, 'Statistics "events" "instance_cc_events"',
        'InstanceId "%s"' % INSTANCE, "Interval 1")
    t = {"start": now - 600, "blackhole": now - 300}
    try:
        first = Collectd(workdir(d, "first"), config)
        try:
            wait_for(lambda: len(notifications(first)) >= 3, 30, "the start notifications")
        finally:
            first.stop()
        t["first"] = first
        # Restarted: what was notified is not notified again. Then the
        # attack ends.
        second = Collectd(workdir(d, "second"), config)
        try:
            sim.control("attack", attack(now, int(time.time())))
            wait_for(lambda: len(notifications(second)) >= 3, 90,
                     "the end notifications", step=1)
            time.sleep(2)  # nothing more comes
        finally:
            second.stop()
        t["second"] = second
    finally:
        sim.stop()
    t["requests"] = [r for r in sim.requests() if r.get("action") == "DescribeDDoSEvents"]
    t["all_events"] = [r for r in sim.requests()
                       if r.get("action") == "DescribeDDosAllEventList"]
    t["sources"] = [r for r in sim.requests() if r.get("action") == "DescribeDDosEventSrcIp"]
    return t


def volumetric(cd):
    return [l for l in notifications(cd) if "Anti-DDoS CC" not in l]


def cc_lines(cd):
    return [l for l in notifications(cd) if "Anti-DDoS CC" in l]


def message(line):
    return line.split("message = ", 1)[1]


def assert_names_sources(line):
    """The first source whole, then every one that fits, most traffic
    first; what does not, counted."""
    assert "; top attack sources: %s" % SHOWN[0] in line, line
    shown = re.findall(r"(\S+) \([^)]*\)", message(line).split("sources: ", 1)[1])
    assert shown == [s.split(" ")[0] for s in SHOWN[:len(shown)]] and shown, line
    more = len(SHOWN) - len(shown)
    assert (" and %d more" % more in line) == (more > 0), line


def test_each_start_is_notified_once(run):
    lines = volumetric(run["first"])
    started = [l for l in lines if "started" in l]
    assert len(started) == 2, lines
    mitigation = [l for l in started if "Anti-DDoS mitigation started" in l]
    blackhole = [l for l in started if "Anti-DDoS blackhole started" in l]
    assert len(mitigation) == 1 and "severity = WARNING" in mitigation[0]
    assert len(blackhole) == 1 and "severity = FAILURE" in blackhole[0]
    for l in started:
        assert "plugin = ddoscoo" in l and INSTANCE in l and IP in l
    assert "port 443" in mitigation[0] and "%d bit/s" % PEAK_BPS in mitigation[0]
    assert "%d packets/s" % PEAK_PPS in mitigation[0]
    assert re.search(r"since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ; top attack sources: ",
                     mitigation[0])
    for l in started:
        assert_names_sources(l)


def test_after_a_restart_only_the_ends_are_notified(run):
    lines = volumetric(run["second"])
    assert not [l for l in lines if "started" in l], lines
    ended = [l for l in lines if "ended" in l]
    assert len(ended) == 2, lines
    assert all("severity = OKAY" in l for l in ended)
    assert {"mitigation", "blackhole"} == {
        "mitigation" if "mitigation ended" in l else "blackhole" for l in ended}
    for l in ended:
        assert_names_sources(l)


def test_sources_asked_once_per_notification(run):
    asked = run["sources"]
    assert len(asked) == 4 and all(r["status"] == 200 for r in asked), asked
    # Each event's own: its type, IP and StartTime (the blackhole's, the
    # attack that caused it), the top 5; nothing else.
    seen = sorted((r["params"]["EventType"], r["params"]["StartTime"]) for r in asked)
    assert seen == sorted([("defense", str(run["start"])), ("blackhole", str(run["blackhole"]))]
                          * 2), seen
    for r in asked:
        p = r["params"]
        assert p["Ip"] == IP and p["Range"] == "5"
        assert not {"EndTime", "InstanceIds.1", "ResourceGroupId"} & set(p), p


def test_hostile_sources_are_left_out_and_logged_escaped(run):
    for cd in (run["first"], run["second"]):
        text = "\n".join(notifications(cd))
        assert "<script>" not in text and "evil" not in text
        lines = cd.log_lines('Account "ev", instance %s, ' % INSTANCE)
        lines = [l for l in lines if "DescribeDDosEventSrcIp: 1 rows left out whose SrcIp" in l]
        # Said once per run (rate-limited), the first odd value escaped:
        # the AreaId's right-to-left override.
        assert len(lines) == 1 and r'"1\xE2\x80\xAEevil"' in lines[0], cd.log()


def test_values_per_window(run):
    cd = run["first"]
    mitigation = cd.csv_points(INSTANCE, "count-mitigation_events")
    blackhole = cd.csv_points(INSTANCE, "count-blackhole_events")
    peak = cd.csv_points(INSTANCE, "gauge-event_peak_bps")
    packets = cd.csv_points(INSTANCE, "operations_per_second-event_peak_packets")
    assert mitigation and set(mitigation) == set(blackhole) == set(peak) == set(packets)
    for t in mitigation:
        assert t % 60 == 0
        assert mitigation[t] == 1 and blackhole[t] == 1
        assert peak[t] == PEAK_BPS and packets[t] == PEAK_PPS


def test_cc_floods_under_their_instance_once_each_way(run):
    started, ended = cc_lines(run["first"]), cc_lines(run["second"])
    assert len(started) == 1 and len(ended) == 1, (started, ended)
    assert "Anti-DDoS CC (connection flood) started: instance %s, IP %s, port 8080, " \
        "%d bit/s, %d packets/s, since " % (INSTANCE, IP, CC_MBPS * 10 ** 6, CC_PPS) \
        in started[0] and "severity = WARNING" in started[0]
    assert "plugin_instance = %s, type = count, type_instance = cc_instance_events," % INSTANCE \
        in started[0]
    assert "CC (connection flood) ended: instance %s" % INSTANCE in ended[0]
    assert "severity = OKAY" in ended[0]
    # No operation names a connection flood's sources: none named, none
    # asked (test_sources_asked_once_per_notification counts the others').
    assert all(re.search(r"since \S+Z$|to \S+Z$", l) for l in started + ended), (started, ended)
    # The other instance's flood: in every answer, never said nor stored.
    assert not [l for l in notifications(run["first"]) + notifications(run["second"])
                if OTHER_IP in l or OTHER in l]
    assert not run["first"].csv_points(OTHER, "count-cc_instance_events")
    assert not run["first"].log_lines("no instance of the block has")


def test_cc_floods_per_window(run):
    cd = run["first"]
    floods = cd.csv_points(INSTANCE, "count-cc_instance_events")
    peak = cd.csv_points(INSTANCE, "gauge-cc_instance_peak_bps")
    assert floods and set(floods) == set(peak)
    assert all(floods[t] == 1 and peak[t] == CC_MBPS * 10 ** 6 for t in floods)


def test_cc_requests_name_no_instance(run):
    reqs = run["all_events"]
    assert reqs and all(r["status"] == 200 for r in reqs)
    for r in reqs:
        p = r["params"]
        assert p["EventType"] == "cc" and p["PageSize"] == "50"
        assert not [k for k in p if k.startswith("InstanceIds") or k == "ResourceGroupId"]
        assert int(p["EndTime"]) - int(p["StartTime"]) >= 86400 + 60
    # One request a window (and a read cut short asked again), not per instance.
    windows = {r["params"]["EndTime"] for r in reqs}
    assert len(reqs) <= len(windows) + 2


def test_requests_look_back_a_day_one_page_when_it_holds_them(run):
    reqs = run["requests"]
    assert reqs and all(r["status"] == 200 for r in reqs)
    for r in reqs:
        p = r["params"]
        assert p["InstanceIds.1"] == INSTANCE and p["PageNumber"] == "1"
        assert p["PageSize"] == "50"
        assert int(p["EndTime"]) - int(p["StartTime"]) >= 86400 + 60


CAMPAIGN = "ddoscoo-cn-campaign"
EVENTS = 120


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("campaign"))
    now = int(time.time())
    # 120 mitigations under way, begun over the last hour, answered in an
    # order that is neither newest nor oldest first.
    attacks = [{"instance": CAMPAIGN, "ip": "198.51.100.%d" % (k + 1), "port": 1000 + k,
                "start": now - 3600 + 25 * k, "ramp_seconds": 0,
                "peak_bps": 1_000_000_000 + k, "peak_pps": 100_000 + k}
               for k in range(EVENTS)]
    sim = Simulator(d, {"keys": KEYS, "instances": [CAMPAIGN],
                        "attack": {"attacks": attacks, "event_order": "scrambled"}})
    cd = Collectd(d, block("campaign", *KEY, 'Endpoint "%s"' % sim.url,
                           'Statistics "events"', 'InstanceId "%s"' % CAMPAIGN, "Interval 1",
                           "EventSources false"))
    try:
        wait_for(lambda: len(cd.csv_points(CAMPAIGN, "count-mitigation_events")) >= 2, 150,
                 "two windows of the campaign", step=1)
        time.sleep(2)
        alive = cd.alive()
    finally:
        cd.stop()
        sim.stop()
    return {"cd": cd, "alive": alive,
            "requests": [r for r in sim.requests() if r.get("action") == "DescribeDDoSEvents"],
            "sources": [r for r in sim.requests() if r.get("action") == "DescribeDDosEventSrcIp"]}


def test_every_event_of_every_page_is_counted(campaign):
    cd = campaign["cd"]
    mitigation = cd.csv_points(CAMPAIGN, "count-mitigation_events")
    peak = cd.csv_points(CAMPAIGN, "gauge-event_peak_bps")
    assert len(mitigation) >= 2 and set(mitigation) == set(peak)
    for t in mitigation:
        assert mitigation[t] == EVENTS, (t, mitigation[t])
        assert peak[t] == 1_000_000_000 + EVENTS - 1
    assert campaign["alive"]


def test_every_event_is_notified_once(campaign):
    lines = notifications(campaign["cd"])
    assert len(lines) == EVENTS, len(lines)
    ports = sorted(int(re.search(r", port (\d+),", l).group(1)) for l in lines)
    assert ports == list(range(1000, 1000 + EVENTS))
    assert all("Anti-DDoS mitigation started" in l for l in lines)
    # EventSources false: no sources asked, none named.
    assert campaign["sources"] == []
    assert all(re.search(r"since \S+Z$", l) for l in lines), lines[0]


def test_pages_until_total_each_window(campaign):
    reqs = campaign["requests"]
    assert reqs and all(r["status"] == 200 for r in reqs)
    by_window = {}
    for r in reqs:
        p = r["params"]
        assert p["PageSize"] == "50"
        by_window.setdefault(p["EndTime"], []).append(p["PageNumber"])
    # Three pages per window (50, 50, 20 of 120), in order, none more.
    done = [pages for pages in by_window.values() if len(pages) >= 3]
    assert len(done) >= 2
    for pages in by_window.values():
        assert pages == ["1", "2", "3"][:len(pages)], by_window
