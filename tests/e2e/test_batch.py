# SPDX-License-Identifier: MIT
"""Requests that name many instances (Statistics "events" and "blackhole",
their rows attributed by Ip) with the real collectd: 250 instances asked
in 3 DescribeDDoSEvents (100 a request) and 13 DescribeBlackholeStatus (20
a request) per window instead of 250 each; each row under its own
instance's name, by the IPs DescribeInstances and DescribeInstanceDetails
give (an instance with two IPs among them); an IP they do not know logged
once, never attributed, and the IPs asked again; an instance the key may
not read refused alone, its request split until it is."""

import re
import time
from collections import Counter

import pytest

from conftest import Collectd, Simulator, block, wait_for

KEY = ['AccessKeyId "LTAIbatch"', 'AccessKeySecret "SECRET-batch-71"']
KEYS = {"LTAIbatch": {"secret": "SECRET-batch-71"}}
INSTANCES = ["ddoscoo-cn-b%03d" % i for i in range(250)]
TWO_IPS = INSTANCES[7]               # two IPs, the second blackholed
CALM_IP, HIT_IP = "203.0.113.70", "203.0.113.71"
ATTACKED = INSTANCES[140]            # a mitigation event on its IP
ATTACKED_IP = "203.0.113.80"
STRANGER = INSTANCES[201]            # attacked on an IP the listings lack
UNKNOWN_IP = "203.0.113.99"
FORBIDDEN = INSTANCES[233]           # the key may not read it
# Attacked at once, each on its own IP: more events than a page (50) holds
# in the answer of their request.
CAMPAIGN = INSTANCES[10:70]


def attack(now):
    return {
        "attacks": [
            {"instance": TWO_IPS, "ip": HIT_IP, "port": 80, "start": now - 3600,
             "end": now + 3600, "ramp_seconds": 0, "peak_bps": 20_000_000_000,
             "peak_pps": 2_000_000, "blackhole_from": now - 600, "blackhole_to": now + 3600},
            {"instance": ATTACKED, "ip": ATTACKED_IP, "port": 443, "start": now - 300,
             "end": None, "ramp_seconds": 0, "peak_bps": 9_000_000_000, "peak_pps": 900_000},
            {"instance": STRANGER, "ip": UNKNOWN_IP, "port": 443, "start": now - 300,
             "end": None, "ramp_seconds": 0, "peak_bps": 5_000_000_000, "peak_pps": 500_000,
             "blackhole_from": now - 200, "blackhole_to": now + 3600},
        ] + [{"instance": i, "port": 80, "start": now - 240, "end": None, "ramp_seconds": 0,
              "peak_bps": 1_000_000_000, "peak_pps": 100_000} for i in CAMPAIGN],
        "instance_ips": {TWO_IPS: [CALM_IP, HIT_IP], ATTACKED: [ATTACKED_IP]},
        "unlisted_ips": [UNKNOWN_IP],
        "forbidden_instances": [FORBIDDEN],
    }


def notifications(cd):
    return [l for l in cd.log().splitlines() if "Notification:" in l and "Anti-DDoS" in l]


def stored(cd, name):
    return [i for i in INSTANCES if cd.csv_points(i, name)]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("batch"))
    now = int(time.time())
    sim = Simulator(d, {"keys": KEYS, "instances": INSTANCES, "attack": attack(now)})
    cd = Collectd(d, block("batch", *KEY, 'Endpoint "%s"' % sim.url,
                           'Statistics "events" "blackhole"', "Interval 1",
                           *['InstanceId "%s"' % i for i in INSTANCES]))
    t = {"cd": cd}
    try:
        # Every instance but the forbidden one has its first window.
        wait_for(lambda: len(stored(cd, "count-blackholed_ips")) >= 249
                 and len(stored(cd, "count-mitigation_events")) >= 249, 40,
                 "the first window of every instance", step=1)
        first = max(cd.csv_points(INSTANCES[0], "count-blackholed_ips"))
        # ... and the next: every request of a window asked twice.
        wait_for(lambda: max(cd.csv_points(INSTANCES[0], "count-blackholed_ips")) > first
                 and max(cd.csv_points(INSTANCES[0], "count-mitigation_events")) > first,
                 75, "the next window", step=1)
        time.sleep(3)  # the rest of the window's requests
        t["first"] = first
        t["alive"] = cd.alive()
    finally:
        cd.stop()
        sim.stop()
    t["requests"] = sim.requests()
    return t


def window_requests(run, action):
    """The answered requests of action."""
    return [r for r in run["requests"] if r.get("action") == action and r["status"] == 200]


def ids_of(r):
    return [v for k, v in sorted(r["params"].items()) if re.fullmatch(r"InstanceIds\.\d+", k)]


def test_a_request_names_many_instances(run):
    for action, most, per_window in (("DescribeDDoSEvents", 100, 3),
                                     ("DescribeBlackholeStatus", 20, 13)):
        every = window_requests(run, action)
        assert every and all(len(ids_of(r)) <= most for r in every), action
        # A request's further pages ask the same instances again.
        reqs = [r for r in every if r["params"].get("PageNumber", "1") == "1"]
        asked = Counter(i for r in reqs for i in ids_of(r))
        # Two windows: each instance (but the refused one) answered in each,
        # in about 2 * per_window requests and the pieces of the refused
        # one's (two per halving, log2(most) halvings at most), and a few
        # asked again (a read that ends before an answer, or between pages,
        # asks again at the next), not 2 * 250.
        assert all(asked[i] >= 2 for i in INSTANCES if i != FORBIDDEN), action
        assert asked[FORBIDDEN] == 0
        halvings = (most - 1).bit_length()
        assert 2 * per_window <= len(reqs) <= 2 * (per_window + 2 * halvings) + 6, \
            (action, len(reqs))
    assert run["alive"]


def test_the_ips_come_from_the_instance_facts(run):
    cd, reqs = run["cd"], run["requests"]
    listed = [r for r in reqs if r.get("action") == "DescribeInstances" and r["status"] == 200]
    details = [r for r in reqs if r.get("action") == "DescribeInstanceDetails"
               and r["status"] == 200]
    assert listed and details
    assert all(int(r["params"]["PageSize"]) == 50 and len(ids_of(r)) <= 100 for r in listed)
    assert all(1 <= len(ids_of(r)) <= 100 for r in details)
    assert cd.log_lines('Account "batch": DescribeInstances and DescribeInstanceDetails:')


def shared(run, action, instance):
    """Whether instance was answered in requests that named others too."""
    return any(instance in ids_of(r) and len(ids_of(r)) > 1
               for r in window_requests(run, action))


def test_a_blackholed_ip_of_an_instance_with_two(run):
    cd, first = run["cd"], run["first"]
    assert shared(run, "DescribeBlackholeStatus", TWO_IPS)
    assert cd.csv_points(TWO_IPS, "bool-" + HIT_IP)[first] == 1
    assert cd.csv_points(TWO_IPS, "bool-" + CALM_IP)[first] == 0
    assert cd.csv_points(TWO_IPS, "count-blackholed_ips")[first] == 1
    others = [i for i in INSTANCES if i not in (TWO_IPS, FORBIDDEN)]
    assert all(cd.csv_points(i, "count-blackholed_ips")[first] == 0 for i in others)
    # Every other instance's own IP is its series, and no one else's.
    assert not [i for i in INSTANCES if i != TWO_IPS and cd.csv_points(i, "bool-" + HIT_IP)]


def test_each_event_under_its_instance_once(run):
    cd, first = run["cd"], run["first"]
    assert shared(run, "DescribeDDoSEvents", ATTACKED)
    lines = notifications(cd)
    mine = [l for l in lines if "instance %s," % ATTACKED in l]
    assert len(mine) == 1 and "mitigation started" in mine[0] and ATTACKED_IP in mine[0], lines
    assert cd.csv_points(ATTACKED, "count-mitigation_events")[first] == 1
    hole = [l for l in lines if "instance %s," % TWO_IPS in l]
    assert len([l for l in hole if "blackhole started" in l]) == 1, lines
    assert len([l for l in hole if "mitigation started" in l]) == 1, lines


def test_events_of_many_pages_each_under_its_instance_once(run):
    cd, first = run["cd"], run["first"]
    lines = notifications(cd)
    for i in CAMPAIGN:
        mine = [l for l in lines if "instance %s," % i in l]
        assert len(mine) == 1 and "mitigation started" in mine[0], (i, mine)
        assert cd.csv_points(i, "count-mitigation_events")[first] == 1, i
    # The request of the campaign's instances was read page by page.
    pages = [r for r in window_requests(run, "DescribeDDoSEvents")
             if CAMPAIGN[0] in ids_of(r)]
    assert {r["params"]["PageNumber"] for r in pages} >= {"1", "2"}
    assert all(r["params"]["PageSize"] == "50" for r in pages)


def test_an_unknown_ip_is_logged_once_and_not_attributed(run):
    cd = run["cd"]
    said = cd.log_lines("name an IP that no instance of the block has", UNKNOWN_IP)
    assert len(said) == 1, said
    assert not [l for l in notifications(cd) if UNKNOWN_IP in l]
    assert not [i for i in INSTANCES if cd.csv_points(i, "bool-" + UNKNOWN_IP)]
    # The stranger's own (listed) IP is there, its count without the unknown one.
    assert cd.csv_points(STRANGER, "count-blackholed_ips")[run["first"]] == 0
    # The IPs were asked again after it.
    listed = [r for r in run["requests"] if r.get("action") == "DescribeInstanceDetails"]
    assert len(listed) > 3


def test_an_instance_the_key_may_not_read_is_refused_alone(run):
    cd = run["cd"]
    assert cd.log_lines("One of its", "may be refused alone")
    assert not cd.csv_points(FORBIDDEN, "count-blackholed_ips")
    alone = [r for r in run["requests"] if r.get("action") == "DescribeBlackholeStatus"
             and ids_of(r) == [FORBIDDEN]]
    assert alone and all(r["status"] == 403 for r in alone)
