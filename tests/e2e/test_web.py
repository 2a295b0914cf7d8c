# SPDX-License-Identifier: MIT
"""Websites under attack (Statistics "qps" "status_codes" "domain_bps") with
the real collectd: an HTTP flood's QPS and response codes, exact values and
timestamps in CSV and RRD; ten missed minutes caught up with one request
per domain (and per QueryType); each domain's bit/s in windows of 5
minutes of their own, the missed ones caught up in one request; the
account's domains found by
DescribeDomains (the default without Domain), a new and a removed one
followed; malformed and hostile answers to each new operation logged,
nothing made up, collectd going on."""

import calendar
import os
import time

import pytest

import ddoscoo_sim
from conftest import QPS, STATUS_CODES, Collectd, Simulator, block, rrd_fetch, wait_for

KEY = ['AccessKeyId "LTAIweb"', 'AccessKeySecret "SECRET-web-7a"']
KEYS = {"LTAIweb": {"secret": "SECRET-web-7a"}}
INSTANCE = "ddoscoo-cn-web"
# FLOODED and CAUGHT_UP are under a flood; CAUGHT_UP was last stored ten
# minutes ago (StateFile); GONE goes away and NEW comes while polled.
FLOODED, CAUGHT_UP = "www.example.com", "shop.example.net"
GONE, NEW, WILD = "old.example.org", "new.example.org", "*.example.io"
CODES = [("count-" + name, field) for name, field in STATUS_CODES]
VARIANTS = [("edge_", "gf"), ("origin_", "upstrem")]
MISSED = 10
# domain_bps: windows of 300 s; CAUGHT_UP was last stored three behind.
BPS_WINDOW, BPS_MISSED = 300, 3
BPS = [("gauge-domain_in_bps", "InBps"), ("gauge-domain_out_bps", "OutBps")]
HOSTILE_HOST, BLIND_HOST = "hostile-host", "blind-host"
# The fault each new operation gets, and what the log must say of it.
FAULTS = {
    "DescribeDomainQPSList": ("garbage", "unusable response"),
    "DescribeDomainStatusCodeList": ("xxe", "unusable response"),
    # A refusal naming Region: the line says which RegionId to set.
    "DescribeDomainBps": ("region", 'Region "cn", derived from RegionId "cn-hangzhou", may '
                          "not be the domains' service region: set RegionId to"),
}
DOMAIN_FAULT = ("wrongroot", "discovery failed at DescribeDomains")


def minute(t):
    return t - t % 60


def code_name(prefix, metric):
    kind, _, rest = metric.partition("-")
    return "%s-%s%s" % (kind, prefix, rest)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("web"))
    now = minute(int(time.time()))
    # The flood began five minutes ago: the ten missed minutes of
    # CAUGHT_UP span its start.
    attack = {"floods": [{"domain": FLOODED, "start": now - 300, "peak_qps": 20000,
                          "ramp_seconds": 240},
                         {"domain": CAUGHT_UP, "start": now - 300, "peak_qps": 8000,
                          "ramp_seconds": 240}]}
    domains = {FLOODED: [INSTANCE], CAUGHT_UP: [INSTANCE], GONE: [INSTANCE],
               WILD: [INSTANCE]}
    sim = Simulator(d, {"keys": KEYS, "instances": [INSTANCE], "domains": domains,
                        "attack": attack}, name="sim")
    hostile = Simulator(d, {"keys": KEYS, "instances": [INSTANCE], "domains": domains,
                            "list_faults": {a: {"mode": m} for a, (m, _) in FAULTS.items()}},
                        name="hostile")
    blind = Simulator(d, {"keys": KEYS, "instances": [INSTANCE], "domains": domains,
                          "list_faults": {"DescribeDomains": {"mode": DOMAIN_FAULT[0]}}},
                      name="blind")
    state = os.path.join(d, "state")
    last = minute(int(time.time()) - 60) - MISSED * 60
    t_now = int(time.time()) - 60
    last_bps = t_now - t_now % BPS_WINDOW - BPS_MISSED * BPS_WINDOW
    with open(state, "w") as f:
        f.write("# collectd-ddoscoo state 1\n")
        for suffix in ("qps", "status_codes/gf", "status_codes/upstrem"):
            f.write("%d\tweb/%s/%s\n" % (last, CAUGHT_UP, suffix))
        f.write("%d\tweb/%s/domain_bps\n" % (last_bps, CAUGHT_UP))
    # No Domain: the account's domains (DescribeDomains), the default.
    blocks = [
        block("web", *KEY, 'Endpoint "%s"' % sim.url,
              'Statistics "qps" "status_codes" "domain_bps"', "DiscoveryInterval 2", "Interval 1"),
        block("hostile", *KEY, 'Endpoint "%s"' % hostile.url, 'Host "%s"' % HOSTILE_HOST,
              'Statistics "qps" "status_codes" "domain_bps"', 'Domain "%s"' % FLOODED,
              "Interval 1"),
        block("blind", *KEY, 'Endpoint "%s"' % blind.url, 'Host "%s"' % BLIND_HOST,
              'Statistics "qps"', 'Domain "auto"', "DiscoveryInterval 2", "Interval 1"),
    ]
    cd = Collectd(d, 'StateFile "%s"\n' % state + "\n".join(blocks))
    t = {"cd": cd, "attack": ddoscoo_sim.check_attack(attack, 0), "last_bps": last_bps}
    try:
        wait_for(lambda: len(cd.csv_points(FLOODED, QPS[1][0])) >= 2
                 and len(cd.csv_points(CAUGHT_UP, QPS[0][0])) >= MISSED + 1
                 and cd.csv_points(GONE, QPS[0][0])
                 and len(cd.csv_points(CAUGHT_UP, BPS[1][0])) >= BPS_MISSED
                 and cd.csv_points(FLOODED, BPS[1][0]),
                 120, "two windows of the flood, and the missed ones", step=1)
        sim.control("domains", {"add": {NEW: [INSTANCE]}, "remove": [GONE]})
        wait_for(lambda: cd.csv_points(NEW, QPS[0][0])
                 and cd.log_lines('Account "web"', GONE, "is gone")
                 and all(cd.log_lines('Account "hostile"', a, text)
                         for a, (_, text) in FAULTS.items())
                 and cd.log_lines('Account "blind"', DOMAIN_FAULT[1]),
                 90, "the new domain polled, the gone one dropped, faults logged", step=1)
        t["alive"] = cd.alive()
    finally:
        t["status"] = cd.stop()
        for s in (sim, hostile, blind):
            s.stop()
    t["requests"] = sim.requests()
    t["hostile_requests"] = hostile.requests() + blind.requests()
    t["log"] = cd.log()
    return t


def expected(run, domain, end, action, query_type=None):
    rows = ddoscoo_sim.web_for(action, [domain], end - 60, end, 60, run["attack"], query_type)
    assert len(rows) == 1
    return rows[0]


@pytest.mark.parametrize("domain", [FLOODED, CAUGHT_UP])
def test_qps_values_and_timestamps_in_csv(run, domain):
    cd = run["cd"]
    for metric, field in QPS:
        points = cd.csv_points(domain, metric)
        assert len(points) >= 2, metric
        for end, value in points.items():
            assert end % 60 == 0
            want = expected(run, domain, end, "DescribeDomainQPSList")[field]
            assert value == want, (metric, end)


@pytest.mark.parametrize("domain", [FLOODED, CAUGHT_UP])
def test_edge_and_origin_codes_in_csv(run, domain):
    cd = run["cd"]
    for prefix, query_type in VARIANTS:
        for metric, field in CODES:
            points = cd.csv_points(domain, code_name(prefix, metric))
            assert len(points) >= 2, (prefix, metric)
            for end, value in points.items():
                want = expected(run, domain, end, "DescribeDomainStatusCodeList",
                                query_type)[field]
                assert value == want, (prefix, metric, end)


def test_the_flood_shows_in_attack_qps_and_origin_5xx(run):
    cd = run["cd"]
    attack = cd.csv_points(CAUGHT_UP, "operations_per_second-attack")
    origin = cd.csv_points(CAUGHT_UP, "count-origin_5xx")
    edge = cd.csv_points(CAUGHT_UP, "count-edge_5xx")
    ends = sorted(attack)
    before = [e for e in ends if e <= run["attack"]["floods"][1]["start"]]
    during = [e for e in ends if e - 60 >= run["attack"]["floods"][1]["start"] + 120]
    assert before and during
    assert all(attack[e] == 0 and origin[e] == 0 for e in before)
    assert all(attack[e] > 2000 and origin[e] > 1000 for e in during)
    # The edge's 5xx stay as calm as before the flood.
    assert max(edge[e] for e in during) < 2 * max(edge[e] for e in before) + 10


def test_flood_in_rrd(run):
    # The domain polled a window at a time (collectd's rrdtool plugin drops
    # values that arrive while it creates a file, as a catch-up does).
    cd = run["cd"]
    for metric, field, query_type in (
            ("operations_per_second-attack", "AttackQps", None),
            ("count-origin_5xx", "Status5XX", "upstrem"),
            ("count-edge_4xx", "Status4XX", "gf")):
        ends = sorted(cd.csv_points(FLOODED, metric))
        stored = rrd_fetch(cd.rrd_file(FLOODED, metric), ends[0], ends[-1])
        action = "DescribeDomainStatusCodeList" if query_type else "DescribeDomainQPSList"
        for end in ends[1:]:  # the first update only starts the file
            want = expected(run, FLOODED, end, action, query_type)[field]
            assert stored[end] == pytest.approx(want, rel=1e-9), (metric, end)


def test_no_value_of_the_catch_up_is_refused(run):
    assert run["cd"].lost_values() == []


def test_ten_missed_minutes_cost_one_request_per_domain_and_query_type(run):
    for action, query_type in (("DescribeDomainQPSList", None),
                               ("DescribeDomainStatusCodeList", "gf"),
                               ("DescribeDomainStatusCodeList", "upstrem")):
        asked = [r for r in run["requests"] if r.get("action") == action
                 and r["params"].get("Domain") == CAUGHT_UP
                 and r["params"].get("QueryType") == query_type]
        assert asked and all(r["status"] == 200 for r in asked), (action, query_type)
        first = asked[0]["params"]
        assert first["Interval"] == "60" and "InstanceIds.1" not in first
        span = int(first["EndTime"]) - int(first["StartTime"])
        assert span in (MISSED * 60, MISSED * 60 + 60), (action, query_type)
        for r in asked[1:]:
            assert int(r["params"]["EndTime"]) - int(r["params"]["StartTime"]) == 60
    ends = sorted(run["cd"].csv_points(CAUGHT_UP, "count-origin_5xx"))
    assert ends == list(range(ends[0], ends[-1] + 60, 60))  # not a minute lost


@pytest.mark.parametrize("domain", [FLOODED, CAUGHT_UP])
def test_domain_bps_every_five_minutes_in_csv(run, domain):
    # Every window of 300 s since the StateFile's (or the first due), none
    # missing, stamped at its end, exactly as the simulator says.
    cd = run["cd"]
    for metric, field in BPS:
        points = cd.csv_points(domain, metric)
        ends = sorted(points)
        assert ends, metric
        first = run["last_bps"] + BPS_WINDOW if domain == CAUGHT_UP else ends[0]
        assert ends == list(range(first, ends[-1] + 1, BPS_WINDOW)), (metric, ends)
        assert len(ends) >= (BPS_MISSED if domain == CAUGHT_UP else 1)
        for end in ends:
            (want,) = ddoscoo_sim.domain_bps_for([domain], end - BPS_WINDOW, end,
                                                 BPS_WINDOW, run["attack"])
            assert points[end] == want[field], (metric, end)
    # Not one a minute: nothing between the windows.
    assert not [e for e in cd.csv_points(domain, BPS[0][0]) if e % BPS_WINDOW]


def test_missed_five_minute_windows_cost_one_request_of_interval_300(run):
    asked = [r for r in run["requests"] if r.get("action") == "DescribeDomainBps"
             and r["params"].get("Domain") == CAUGHT_UP]
    assert asked and all(r["status"] == 200 for r in asked)
    first = asked[0]["params"]
    assert first["Interval"] == "300" and first["Region"] == "cn"
    assert "InstanceIds.1" not in first and "ResourceGroupId" not in first
    assert int(first["StartTime"]) == run["last_bps"]
    assert int(first["EndTime"]) - int(first["StartTime"]) >= BPS_MISSED * BPS_WINDOW
    # Then a request per window of 300 s, not per minute.
    for r in asked[1:]:
        assert int(r["params"]["EndTime"]) - int(r["params"]["StartTime"]) == BPS_WINDOW
        assert int(r["params"]["EndTime"]) % BPS_WINDOW == 0


def test_domains_are_discovered_and_followed(run):
    cd = run["cd"]
    assert run["cd"].log_lines('Account "web": discovered 4 web domains')
    # Every domain of the account, the wildcard's '*' made '_'.
    assert cd.csv_points("_.example.io", "count-requests")
    assert cd.log_lines('Account "web": now polling qps of domain %s.' % NEW)
    assert cd.log_lines('Account "web": now polling status_codes (QueryType upstrem) of '
                        'domain %s.' % NEW)
    assert cd.log_lines('Account "web": qps of domain %s is gone' % GONE)
    assert cd.csv_points(NEW, "count-edge_2xx")
    domains = [r for r in run["requests"] if r.get("action") == "DescribeDomains"]
    assert len(domains) >= 2 and all("InstanceIds.1" not in r["params"] for r in domains)
    # Not asked once the refresh that found it gone is applied (requests
    # already started by then are answered InvalidDomain.NotFound).
    (line,) = cd.log_lines('Account "web": qps of domain %s is gone' % GONE)
    applied = calendar.timegm(time.strptime(line[1:20], "%Y-%m-%d %H:%M:%S")) + 1
    gone_after = [r for r in run["requests"] if r["params"].get("Domain") == GONE
                  and r["time"] > applied]
    assert not gone_after


@pytest.mark.parametrize("action", sorted(FAULTS))
def test_hostile_answers_are_logged_naming_the_operation(run, action):
    lines = run["cd"].log_lines('Account "hostile", series %s' % FLOODED, "%s:" % action)
    assert lines, action
    assert FAULTS[action][1] in lines[0]


def test_nothing_is_made_up_and_collectd_goes_on(run):
    cd = run["cd"]
    assert run["alive"] and run["status"] == 0
    for metric in ("operations_per_second-total", "count-edge_2xx", "count-origin_2xx",
                   "gauge-in_bps"):
        assert not cd.csv_points(FLOODED, metric, host=HOSTILE_HOST), metric
    assert not os.path.exists(cd.series_dir(FLOODED, host=BLIND_HOST))
    assert cd.log_lines('Account "blind"', "DescribeDomains", "unexpected root element")
    assert not [r for r in run["hostile_requests"] if r.get("code") == "XXE_FETCHED"]
