# SPDX-License-Identifier: MIT
"""Health per statistic with the real collectd: a block with the default
statistics whose key may not call DescribePortFlowList (traffic). Its
self-monitoring (<block>-api) shows traffic falling behind minute by
minute, with its refused requests counted, while connections, blackhole
and events stay current; the log says once per statistic what works and
what is refused, and once that traffic works when the permission is
given. A web block throttled three times on its qps counts the
throttling of qps alone."""

import time

import pytest

from conftest import Collectd, Simulator, block, wait_for

KEYS = {"LTAIhealth": {"secret": "SECRET-health-7d"}}
INSTANCES = ["ddoscoo-cn-health1", "ddoscoo-cn-health2"]
NAME = "health"
API = NAME + "-api"
CURRENT = ["connections", "blackhole", "events"]
ACTIONS = {"connections": "DescribePortConnsCount", "blackhole": "DescribeBlackholeStatus",
           "events": "DescribeDDoSEvents"}
# A healthy statistic's newest window is Delay (60 s) to Delay + Window
# (120 s) old, plus the read's own seconds.
CURRENT_MAX = 135
WATCH = 140  # seconds of refusals watched: two minute boundaries at least
DOMAIN = "www.example.com"
THROTTLED = 3  # answers of DescribeDomainQPSList that are Throttling.User


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("health"))
    sim = Simulator(d, {"keys": KEYS, "instances": INSTANCES,
                        "list_faults": {"DescribePortFlowList": {"mode": "forbidden"}}})
    web = Simulator(d, {"keys": KEYS, "instances": INSTANCES, "domains": {DOMAIN: INSTANCES[:1]},
                        "list_faults": {"DescribeDomainQPSList": {"mode": "throttle",
                                                                  "count": THROTTLED}}},
                    name="web")
    key = ['AccessKeyId "LTAIhealth"', 'AccessKeySecret "SECRET-health-7d"', "Interval 5"]
    cd = Collectd(d, "\n".join([
        block(NAME, 'Endpoint "%s"' % sim.url, *key, *['InstanceId "%s"' % i for i in INSTANCES]),
        block("web", 'Endpoint "%s"' % web.url, *key, 'Statistics "qps" "status_codes"',
              'Domain "%s"' % DOMAIN)]))
    try:
        wait_for(lambda: cd.csv_points(API, "duration-traffic-age"), 30,
                 "the first self-monitoring of traffic")
        started = time.time()
        time.sleep(WATCH)
        refused = {"ages": {s: cd.csv_points(API, "duration-%s-age" % s)
                            for s in CURRENT + ["traffic"]},
                   "counters": {(s, c): cd.csv_points(API, "total_requests-%s-%s" % (s, c))
                                for s in CURRENT + ["traffic"]
                                for c in ("sent", "refused", "throttled")},
                   "block": {c: cd.csv_points(API, "total_requests-" + c)
                             for c in ("sent", "failed", "throttled")},
                   "started": started, "log": cd.log()}
        # The permission is given: traffic answers at the next window.
        sim.control("list_faults", {})
        given = time.time()
        wait_for(lambda: cd.log_lines('Account "health": traffic: DescribePortFlowList '
                                      'answers now'), 90, "traffic to answer")
        wait_for(lambda: [v for t, v in cd.csv_points(API, "duration-traffic-age").items()
                          if t > given and v <= CURRENT_MAX], 30,
                 "traffic to be current again")
        alive = cd.alive()
    finally:
        status = cd.stop()
        sim.stop()
        web.stop()
    return {"cd": cd, "alive": alive, "status": status, "refused": refused, "given": given}


def test_the_refused_statistic_falls_behind_minute_by_minute(run):
    ages = run["refused"]["ages"]["traffic"]
    times = sorted(t for t in ages if t >= run["refused"]["started"])
    assert times[-1] - times[0] >= WATCH - 15, times
    # It grows with the clock, never back, a minute's worth each minute.
    for a, b in zip(times, times[1:]):
        assert ages[b] - ages[a] == pytest.approx(b - a, abs=2), (a, b, ages)
    assert ages[times[-1]] > CURRENT_MAX + 60, ages


@pytest.mark.parametrize("stat", CURRENT)
def test_the_other_statistics_stay_current(run, stat):
    ages = run["refused"]["ages"][stat]
    assert len(ages) >= WATCH // 5 - 5, ages
    assert 0 < max(ages.values()) <= CURRENT_MAX, ages


def test_refusals_are_counted_for_the_refused_statistic_only(run):
    counters = run["refused"]["counters"]
    refused = counters[("traffic", "refused")]
    values = [refused[t] for t in sorted(refused)]
    # Both instances' first requests refused, then one probe of the
    # statistic's backoff a minute later; every request sent was refused.
    assert values == sorted(values) and values[0] >= 1, values
    assert values[-1] - values[0] >= 1, values
    sent = counters[("traffic", "sent")]
    assert sent[max(sent)] == refused[max(refused)]
    for stat in CURRENT:
        assert set(counters[(stat, "refused")].values()) == {0}, stat
        sent = counters[(stat, "sent")]
        # A request a window for both instances (blackhole and events ask
        # for several at once), else one per instance.
        least = 2 if stat in ("blackhole", "events") else 4
        assert sent[max(sent)] - sent[min(sent)] >= least, (stat, sent)
    for stat in CURRENT + ["traffic"]:
        assert set(counters[(stat, "throttled")].values()) == {0}, stat


def test_the_block_wide_series_stay(run):
    block = run["refused"]["block"]
    for c in ("sent", "failed", "throttled"):
        assert block[c], c
    # The refusals are among the block's failed requests, as before.
    assert block["failed"][max(block["failed"])] >= \
        run["refused"]["counters"][("traffic", "refused")][max(block["failed"])]


def test_first_contact_is_logged_once_per_statistic(run):
    cd = run["cd"]
    for stat in CURRENT:
        lines = cd.log_lines('Account "health": %s: %s answered for 2 instances.'
                             % (stat, ACTIONS[stat]))
        assert len(lines) == 1, (stat, lines)
    denied = cd.log_lines('Account "health": traffic: permission denied, add '
                          "yundun-ddoscoo:DescribePortFlowList to the key's RAM policy.")
    assert len(denied) == 1, denied
    # Minutes of refusals said it once.
    assert len([l for l in run["refused"]["log"].splitlines()
                if 'Account "health": traffic: ' in l]) == 1
    now = cd.log_lines('Account "health": traffic: DescribePortFlowList answers now '
                       "for 2 instances.")
    assert len(now) == 1, now
    assert run["alive"] and run["status"] == 0


def test_throttling_is_counted_for_its_statistic(run):
    cd = run["cd"]
    counters = {(stat, c): cd.csv_points("web-api", "total_requests-%s-%s" % (stat, c))
                for stat in ("qps", "status_codes") for c in ("sent", "refused", "throttled")}
    last = {k: v[max(v)] for k, v in counters.items()}
    assert last[("qps", "throttled")] == THROTTLED
    assert last[("status_codes", "throttled")] == 0
    assert last[("qps", "refused")] == last[("status_codes", "refused")] == 0
    # Asked again after each throttling; status_codes twice a window
    # (QueryType gf and upstrem).
    assert last[("qps", "sent")] >= THROTTLED + 2
    assert last[("status_codes", "sent")] >= 4
    block = cd.csv_points("web-api", "total_requests-throttled")
    assert block[max(block)] == THROTTLED
    # Throttling is no refusal: the first answer is what the log says.
    for stat, action in (("qps", "DescribeDomainQPSList"),
                         ("status_codes", "DescribeDomainStatusCodeList")):
        lines = cd.log_lines('Account "web": %s: ' % stat)
        assert lines and len(lines) == 1, lines
        assert lines[0].endswith('%s: %s answered for 1 domain.' % (stat, action)), lines
