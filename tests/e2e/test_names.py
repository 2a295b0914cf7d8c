# SPDX-License-Identifier: MIT
"""Series names with the real collectd: unique across blocks (also blocks
of two <Plugin ddoscoo> sections), a clash resolved as "<name>_<ID>" and
logged; names from a hostile answer (a blackhole's Ip that is no IP
address) refused with one escaped log line; new per-IP series capped per
read, with a log line."""

import math
import os
import re
import time

import pytest

from conftest import METRICS, Collectd, Simulator, block, expected_values, wait_for

KEY = ['AccessKeyId "LTAInames"', 'AccessKeySecret "SECRET-names-3c"']
KEYS = {"LTAInames": {"secret": "SECRET-names-3c"}}
CN, SG = "ddoscoo-cn-web1", "ddoscoo-intl-sg-web2"
HOSTILE = "ddoscoo-cn-hostile"
MANY = "ddoscoo-cn-many"
# What a hostile API put in Ip: spaces, U+0085 (a line break to some), 300
# characters, a path, an IPv6 address with a zone.
HOSTILE_IPS = ["203.0.113.7 ; rm -rf", "198.51.100.1\u0085injected", "9" * 300,
               "../../etc/passwd", "fe80::1%eth0"]
VALID_V6 = "2001:DB8::77"
MANY_IPS = 1000
BAD_ID = "ddoscoo-cn-bad id\u0085"
GOOD_DOMAIN = "www.example.com"
BAD_DOMAINS = ["www exa\u0085mple.com", "../../etc/passwd"]
PER_READ = 256  # STAT_MAX_NEW_NAMED_PER_READ


@pytest.fixture(scope="module")
def clash(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("clash"))
    sim = Simulator(d, {"keys": KEYS, "instances": [CN, SG],
                        "instance_regions": {SG: "ap-southeast-1"},
                        "remarks": {CN: "web", SG: "web"}})
    at = 'Endpoint "%s"' % sim.url
    # Block "sg" in a <Plugin ddoscoo> section of its own: collectd calls
    # the configuration callback once per section.
    second = "<Plugin ddoscoo>\n%s\n</Plugin>\n" % block(
        "sg", *KEY, at, 'RegionId "ap-southeast-1"', 'Statistics "connections"',
        "InstanceNames true", "Interval 1")
    cd = Collectd(d, block("cn", *KEY, at, 'Statistics "connections"', "InstanceNames true",
                           "Interval 1"), extra_config=second)
    t = {"cd": cd}
    try:
        names = ("web", "web_" + CN, "web_" + SG)
        # Both series, and a window after both were there.
        wait_for(lambda: sum(bool(cd.csv_points(n, METRICS[0][0])) for n in names) >= 2, 90,
                 "the series of both blocks")
        first = max(max(cd.csv_points(n, METRICS[0][0]) or [0]) for n in names)
        wait_for(lambda: max(max(cd.csv_points(n, METRICS[0][0]) or [0]) for n in names)
                 > first, 75, "one more window", step=1)
        t["alive"] = cd.alive()
    finally:
        cd.stop()
        sim.stop()
    t["log"] = cd.log()
    return t


def test_two_blocks_never_write_one_series(clash):
    cd, log = clash["cd"], clash["log"]
    dirs = sorted(os.listdir(os.path.join(cd.csv_dir, cd.hostname)))
    named = [x for x in dirs if x.startswith("ddoscoo-web")]
    # One block keeps "web", the other's series are "web_<its ID>".
    assert len(named) == 2 and "ddoscoo-web" in named, dirs
    other = [x for x in named if x != "ddoscoo-web"][0][len("ddoscoo-"):]
    assert other in ("web_" + CN, "web_" + SG)
    loser = other[len("web_"):]
    loser_block, winner_block = ("cn", "sg") if loser == CN else ("sg", "cn")
    winner = SG if loser == CN else CN
    assert ('Account "%s": instance %s is named "web" in Account "%s" already; its series '
            'are "%s".' % (loser_block, loser, winner_block, other)) in log
    # Each series holds its own instance's values, one row per window.
    for name, iid in (("web", winner), (other, loser)):
        points = cd.csv_points(name, "current_connections-concurrent")
        assert points
        for t, v in points.items():
            assert v == expected_values([iid], None, t)["Conns"], (name, t)
    assert "Value too old" not in log
    assert clash["alive"]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("hostile"))
    sim = Simulator(d, {"keys": KEYS, "instances": [HOSTILE, MANY, BAD_ID],
                        "domains": [GOOD_DOMAIN] + BAD_DOMAINS,
                        "attack": {"instance_ips": {HOSTILE: ["203.0.113.50", VALID_V6]},
                                   "hostile_ips": {HOSTILE: HOSTILE_IPS},
                                   "many_ips": {MANY: MANY_IPS}}})
    at = 'Endpoint "%s"' % sim.url
    cd = Collectd(d, "\n".join([
        block("bh", *KEY, at, 'Statistics "blackhole"', 'InstanceId "%s"' % HOSTILE,
              'InstanceId "%s"' % MANY, "Interval 1"),
        # The account's instances and web domains, some of whose names are
        # none.
        block("disc", *KEY, at, 'Statistics "connections" "qps"', "DiscoveryInterval 5",
              "Interval 1")]))
    t = {"cd": cd}
    try:
        wait_for(lambda: cd.csv_points(HOSTILE, "count-blackholed_ips")
                 and cd.csv_points(MANY, "count-blackholed_ips")
                 and cd.csv_points(GOOD_DOMAIN, "count-requests"), 30, "the first window")
        first = max(cd.csv_points(HOSTILE, "count-blackholed_ips"))
        # A window later: the next read's new names.
        wait_for(lambda: max(cd.csv_points(HOSTILE, "count-blackholed_ips")) > first, 90,
                 "the next window", step=1)
        t["first"] = first
        t["alive"] = cd.alive()
    finally:
        cd.stop()
        sim.stop()
    t["log"] = cd.log()
    t["domain_lists"] = [r for r in sim.requests() if r.get("action") == "DescribeDomains"]
    return t


def ip_series(cd, pi):
    d = cd.series_dir(pi)
    return sorted({f.rsplit("-", 3)[0][len("bool-"):] for f in os.listdir(d)
                   if f.startswith("bool-")})


def test_names_that_are_no_ip_are_refused_and_logged(hostile):
    cd, log = hostile["cd"], hostile["log"]
    # Only the addresses; the IPv6 one canonical, with '_' for ':'.
    assert ip_series(cd, HOSTILE) == ["2001_db8__77", "203.0.113.50"]
    assert cd.csv_points(HOSTILE, "bool-203.0.113.50")
    # Asked with the other instance in one request: its rows can go to no
    # instance, and the request's series says so.
    lines = [l for l in log.splitlines()
             if 'Account "bh", series blackhole of 2 instances (%s to %s): '
                'DescribeBlackholeStatus: left out' % (HOSTILE, MANY) in l]
    # Once, though every window answers the same (rate-limited), escaped.
    assert len(lines) == 1, lines
    assert re.search(r'left out 5 of \d+ rows whose Ip is no IPv4 or IPv6 address, the first '
                     r'"203\.0\.113\.7 ; rm -rf" \(not attributed to any instance\)', lines[0])
    assert "\u0085" not in log and "\x85" not in log
    assert hostile["alive"]


def test_new_per_ip_series_are_capped_per_read(hostile):
    cd, log = hostile["cd"], hostile["log"]
    first = min(cd.csv_points(MANY, "count-blackholed_ips"))
    # Every IP counts; series for at most PER_READ new ones per read (the
    # hostile instance's two may have come in the same read).
    assert cd.csv_points(MANY, "count-blackholed_ips")[first] == 0
    made = ip_series(cd, MANY)
    assert PER_READ - 2 <= len([ip for ip in made
                                if first in cd.csv_points(MANY, "bool-" + ip)]) <= PER_READ
    assert len(made) <= 3 * PER_READ
    lines = [l for l in log.splitlines() if "the most a block makes" in l]
    assert lines and 'Account "bh", series %s' % MANY in lines[0]
    assert "(256 per read, 4096 in all)" in lines[0]


def test_discovered_names_that_are_none_are_left_out(hostile):
    cd, log = hostile["cd"], hostile["log"]
    hosts = os.listdir(os.path.join(cd.csv_dir, cd.hostname))
    assert "ddoscoo-" + GOOD_DOMAIN in hosts
    assert not [h for h in hosts if "bad" in h or "etc" in h or "exa" in h and "example" not in h]
    domains = [l for l in log.splitlines() if 'Account "disc": DescribeDomains: left out' in l]
    ids = [l for l in log.splitlines() if 'Account "disc": DescribeInstanceIds: left out' in l]
    # One line per answer, at doubling intervals from DiscoveryInterval
    # (5 s: 10 s, 20 s...), though each refresh answers the same; escaped.
    refreshes = len(hostile["domain_lists"])
    assert refreshes >= 4
    most = int(math.log2(refreshes)) + 2
    assert 1 <= len(domains) <= most and 1 <= len(ids) <= most, (refreshes, domains + ids)
    assert 'left out 2 of 3 names that are no domain name' in domains[0]
    assert '"www exa\\xC2\\x85mple.com"' in domains[0]
    assert 'left out 1 of 3 names that are no instance ID' in ids[0]
    assert '"ddoscoo-cn-bad id\\xC2\\x85"' in ids[0]
