# SPDX-License-Identifier: MIT
"""What the plan protects and allows, and what is used of it, with the real
collectd: Statistics "capacity" (DescribeInstanceSpecs), "usage"
(DescribeInstanceStatistics), "advanced_mitigations"
(DescribeDefenseCountStatistics) and "blackhole_releases"
(DescribeUnBlackholeCount), asked at their own cadence (StateInterval)
beside the per-minute connections: exact values in bit/s, per second and
counts through CSV and RRD, no value for what is unlimited, and one
request each per StateInterval."""

import json
import time

import pytest

from conftest import Collectd, Simulator, block, rrd_fetch, rrd_info, wait_for

KEY = ['AccessKeyId "LTAIplan"', 'AccessKeySecret "SECRET-plan-4f"']
KEYS = {"LTAIplan": {"secret": "SECRET-plan-4f"}}
INSTANCE = "ddoscoo-sg-plan"
REGION = "ap-southeast-1"
PLAN = {"BaseBandwidth": 20, "ElasticBandwidth": 100, "BandwidthMbps": 200, "ElasticBw": 500,
        "RealLimitBw": 0, "QpsLimit": 3000, "ElasticQps": 1000, "ConnLimit": 50000,
        "CpsLimit": 5000, "PortLimit": 50, "DomainLimit": 10, "SiteLimit": 2,
        "DefenseCount": -1}
SLOW = ("capacity", "usage", "advanced_mitigations", "blackhole_releases")
ACTIONS = {"capacity": "DescribeInstanceSpecs", "usage": "DescribeInstanceStatistics",
           "advanced_mitigations": "DescribeDefenseCountStatistics",
           "blackhole_releases": "DescribeUnBlackholeCount"}


ORIGIN = "ddoscoo-cn-origin"
ORIGIN_RULES = [{"protocol": "tcp", "frontend_port": 80, "backend_port": 8080,
                 "real_servers": ["192.0.2.1", "192.0.2.2"]},
                {"protocol": "tcp", "frontend_port": 443, "backend_port": 8443,
                 "real_servers": ["192.0.2.3"]}]


# Instances' terms (Statistics "expiry", block "term", StateInterval 60):
# SOON expires in 10 days, then in 2, then is renewed for a year; LATER in
# 30 days, then (after the restart) in 10; DEBT owes, then pays; GONE is
# expired (Status 2) and stopped forwarding throughout.
SOON, LATER, DEBT, GONE = ("ddoscoo-cn-soon", "ddoscoo-cn-later", "ddoscoo-cn-debt",
                           "ddoscoo-cn-gone")
TERMS = (SOON, LATER, DEBT, GONE)
NOW = int(time.time())
DAY = 86400


def terms(phase):
    """The terms of minute M (0), M+1 (1) and M+2, after the restart (2)."""
    soon = {0: 10 * DAY, 1: 2 * DAY, 2: 365 * DAY}[phase]
    return {SOON: {"expires": NOW + soon},
            LATER: {"expires": NOW + (10 if phase == 2 else 30) * DAY},
            DEBT: {"expires": NOW + 100 * DAY, "DebtStatus": 1 if phase == 0 else 0},
            GONE: {"expires": NOW - DAY, "Status": 2, "Enabled": 0}}


def section(origin_down, phase=0):
    return {"expiry": terms(phase),
            "plans": {INSTANCE: PLAN},
            "usage": {INSTANCE: {"DomainUsage": 3, "SiteUsage": 1, "DefenseCountUsage": 4}},
            "account_quotas": {"MaxUsableDefenseCountCurrentMonth": 10,
                               "DefenseCountTotalUsageOfCurrentMonth": 4, "RemainCount": 3},
            "origin_down": origin_down}


def notifications(text):
    return [l for l in text.splitlines() if "Notification:" in l and "Anti-DDoS" in l
            and "Anti-DDoS instance" not in l]


def term_notes(text):
    return [l for l in text.splitlines() if "Notification:" in l
            and "Anti-DDoS instance" in l]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One collectd, restarted once with its StateFile. Minute M: every
    statistic answers, every origin passes. M+1: tcp/80's 192.0.2.2 and
    tcp/443's 192.0.2.3 fail; collectd stops. M+2, after the restart:
    192.0.2.3 passes again, 192.0.2.2 still fails."""
    d = str(tmp_path_factory.mktemp("plan"))
    state_file = d + "/state"
    sim = Simulator(d, {"keys": KEYS, "instances": [INSTANCE, ORIGIN, *TERMS],
                        "regions": [REGION, "cn-hangzhou"],
                        "instance_regions": {INSTANCE: REGION},
                        "rules": {INSTANCE: [{"protocol": "tcp", "frontend_port": 443,
                                              "backend_port": 443}],
                                  ORIGIN: ORIGIN_RULES},
                        "attack": section([])})
    config = 'StateFile "%s"\n%s\n%s\n%s' % (state_file, block(
        "plan", *KEY, 'Endpoint "%s"' % sim.url, 'RegionId "%s"' % REGION,
        'Statistics "connections" %s' % " ".join('"%s"' % s for s in SLOW),
        'InstanceId "%s"' % INSTANCE, "Interval 1"), block(
        "origin", *KEY, 'Endpoint "%s"' % sim.url, 'Statistics "health"',
        'InstanceId "%s"' % ORIGIN, "StateInterval 60", "Interval 1"), block(
        "term", *KEY, 'Endpoint "%s"' % sim.url, 'Statistics "expiry"',
        *['InstanceId "%s"' % i for i in TERMS], "StateInterval 60", "Interval 1"))
    t = {"sim": sim}
    cd = Collectd(d, config)
    try:
        wait_for(lambda: cd.csv_points(INSTANCE, "gauge-protection_base_bps")
                 and cd.csv_points("plan", "count-blackhole_releases_left")
                 and cd.csv_points(ORIGIN, "gauge-rule_normal_tcp_80")
                 and cd.csv_points(GONE, "timeleft-expiry"), 40, "the first answers")
        t["first"] = first = min(cd.csv_points(ORIGIN, "gauge-rule_normal_tcp_80"))
        t["term_first"] = term_first = min(cd.csv_points(SOON, "timeleft-expiry"))
        sim.control("attack", section([
            {"instance": ORIGIN, "frontend_port": 80, "address": "192.0.2.2", "start": "now"},
            {"instance": ORIGIN, "frontend_port": 443, "start": "now"}], 1))
        wait_for(lambda: first + 60 in cd.csv_points(ORIGIN, "gauge-rule_normal_tcp_80")
                 and term_first + 60 in cd.csv_points(DEBT, "gauge-debt_status")
                 and len(notifications(cd.log())) >= 4
                 and len(term_notes(cd.log())) >= 5, 90, "the next minute", step=1)
        t["alive"] = cd.alive()
    finally:
        cd.stop()
    t["before_restart"] = cd.log()
    t["requests_before"] = len(sim.requests())
    cd = Collectd(d, config)
    try:
        sim.control("attack", section([
            {"instance": ORIGIN, "frontend_port": 80, "address": "192.0.2.2",
             "start": "now-120"}], 2))
        wait_for(lambda: first + 120 in cd.csv_points(ORIGIN, "gauge-rule_normal_tcp_80")
                 and term_first + 120 in cd.csv_points(SOON, "timeleft-expiry"), 90,
                 "the minute after the restart", step=1)
        time.sleep(2)  # its notifications, if any more were to come
        t["alive"] = t["alive"] and cd.alive()
    finally:
        cd.stop()
        sim.stop()
    t["cd"] = cd
    t["after_restart"] = cd.log()[len(t["before_restart"]):]
    t["requests"] = sim.requests()
    return t


def one(points):
    assert len(points) == 1, points
    return next(iter(points.values()))


def test_capacity_in_bit_per_second_per_second_and_counts(run):
    cd = run["cd"]
    want = {"gauge-protection_base_bps": 20e9, "gauge-protection_elastic_bps": 100e9,
            "gauge-clean_bps_limit": 200e6, "gauge-clean_elastic_bps_limit": 500e6,
            "operations_per_second-qps_limit": 3000,
            "operations_per_second-qps_elastic_limit": 1000,
            "current_connections-concurrent_limit": 50000,
            "operations_per_second-new_connections_limit": 5000,
            "count-port_limit": 50, "count-domain_limit": 10, "count-site_limit": 2,
            "count-port_usage": 1, "count-domain_usage": 3, "count-site_usage": 1,
            "count-advanced_mitigations_used": 4}
    for name, value in want.items():
        assert one(cd.csv_points(INSTANCE, name)) == value, name
    # RealLimitBw 0 (no rate limit) and DefenseCount -1 (unlimited): no value.
    assert not cd.csv_points(INSTANCE, "gauge-clean_rate_limit_bps")
    assert not cd.csv_points(INSTANCE, "count-advanced_mitigations_limit")
    account = {"count-advanced_mitigations_left": 6,
               "count-advanced_mitigations_month_limit": 10,
               "count-advanced_mitigations_month_used": 4,
               "count-blackhole_releases_left": 3, "count-blackhole_releases_total": 5}
    for name, value in account.items():
        assert one(cd.csv_points("plan", name)) == value, name
    assert run["alive"]


def test_slow_series_have_rrd_steps_of_their_cadence(run):
    """A value every 10 minutes in steps of a minute would be unknown
    between values (rrdtool's heartbeat is twice the step): the files have
    a step of StateInterval."""
    cd = run["cd"]
    for pi, name in ((INSTANCE, "gauge-protection_base_bps"), (INSTANCE, "count-port_usage"),
                     ("plan", "count-advanced_mitigations_left")):
        info = rrd_info(cd.rrd_file(pi, name))
        assert info["step"] == "600", name
        assert info["ds[value].minimal_heartbeat"] == "1200", name


def test_each_asked_once_per_state_interval_beside_every_window(run):
    """Three minutes, a restart between: the connections every minute, the
    slow statistics once (the StateFile carries their last ask over)."""
    reqs = [r for r in run["requests"] if r.get("status") == 200]
    conns = [r for r in reqs if r["action"] == "DescribePortConnsCount"]
    assert len(conns) >= 3
    for stat, action in ACTIONS.items():
        mine = [r for r in reqs if r["action"] == action]
        assert len(mine) == 1, (stat, len(mine))
        params = mine[0]["params"]
        assert not {"StartTime", "EndTime", "Interval"} & set(params)
        if stat in ("capacity", "usage"):
            assert params["InstanceIds.1"] == INSTANCE and "InstanceIds.2" not in params
        else:
            assert not [p for p in params if p.startswith("InstanceIds")]


def test_origin_health_per_rule_through_csv_and_rrd(run):
    cd, first = run["cd"], run["first"]
    rule80 = cd.csv_points(ORIGIN, "gauge-rule_normal_tcp_80")
    rule443 = cd.csv_points(ORIGIN, "gauge-rule_normal_tcp_443")
    down80 = cd.csv_points(ORIGIN, "count-abnormal_servers_tcp_80")
    rules = cd.csv_points(ORIGIN, "count-abnormal_rules")
    assert [rule80[first + k] for k in (0, 60, 120)] == [1, 0, 0]
    assert [rule443[first + k] for k in (0, 60, 120)] == [1, 0, 1]
    assert [down80[first + k] for k in (0, 60, 120)] == [0, 1, 1]
    assert [rules[first + k] for k in (0, 60, 120)] == [0, 2, 1]
    # StateInterval 60: a step of a minute, every value in the RRD.
    path = cd.rrd_file(ORIGIN, "gauge-rule_normal_tcp_443")
    assert rrd_info(path)["step"] == "60"
    stored = rrd_fetch(path, first, first + 120)
    assert stored[first + 60] == 0 and stored[first + 120] == 1, stored
    assert rrd_fetch(cd.rrd_file(ORIGIN, "count-abnormal_rules"),
                     first, first + 120)[first + 60] == 2


def test_each_health_change_is_notified_once_across_a_restart(run):
    before = notifications(run["before_restart"])
    after = notifications(run["after_restart"])
    assert len(before) == 4, before
    assert sum("FAILURE" in l for l in before) == 4
    assert sum("forwarding rule tcp/80 is abnormal" in l for l in before) == 1
    assert sum("forwarding rule tcp/443 is abnormal" in l for l in before) == 1
    assert sum("origin server 192.0.2.2 fails its health check" in l
               and "rule tcp/80" in l for l in before) == 1
    assert sum("origin server 192.0.2.3 fails" in l for l in before) == 1
    # After the restart: tcp/80 still abnormal, not said again; tcp/443
    # and its server back, said once each.
    assert len(after) == 2, after
    assert all("OKAY" in l for l in after)
    assert sum("forwarding rule tcp/443 is normal again" in l for l in after) == 1
    assert sum("origin server 192.0.2.3 passes its health check again" in l for l in after) == 1
    assert run["alive"]


def test_health_asks_with_the_rules_discovery_found(run):
    reqs = [r for r in run["requests"] if r.get("action") == "DescribeHealthCheckStatus"]
    assert len(reqs) == 3 and all(r["status"] == 200 for r in reqs)
    for r in reqs:
        rules = json.loads(r["params"]["NetworkRules"])
        assert sorted((x["Protocol"], x["FrontendPort"]) for x in rules) == [
            ("tcp", 80), ("tcp", 443)]
        assert {x["InstanceId"] for x in rules} == {ORIGIN}
        assert not [p for p in r["params"] if p.startswith("InstanceIds")]


def test_an_aggregate_block_has_no_plan_series(tmp_path):
    """With Aggregate, a plan's rows are an instance's, not parts of a sum:
    capacity, usage and health make no series (and no complaint); the
    account's quotas and the aggregated traffic do."""
    d = str(tmp_path)
    ids = ["ddoscoo-cn-agg1", "ddoscoo-cn-agg2"]
    sim = Simulator(d, {"keys": KEYS, "instances": ids,
                        "rules": {i: ORIGIN_RULES for i in ids}})
    try:
        cd = Collectd(d, block("agg", *KEY, 'Endpoint "%s"' % sim.url, "Aggregate true",
                               'Statistics "traffic" "capacity" "usage" "health" '
                               '"blackhole_releases"',
                               *['InstanceId "%s"' % i for i in ids], "Interval 1"))
        wait_for(lambda: cd.csv_points("agg", "count-blackhole_releases_left"), 30,
                 "the account's releases")
        assert cd.alive()
        assert cd.stop() == 0
    finally:
        sim.stop()
    assert cd.log_lines('Account "agg": 2 series from')  # traffic, releases
    assert not cd.log_lines("Aggregate covers")
    asked = {r.get("action") for r in sim.requests() if r.get("status") == 200}
    assert not asked & {"DescribeInstanceSpecs", "DescribeInstanceStatistics",
                        "DescribeHealthCheckStatus"}, asked


def test_expiry_in_seconds_left_and_the_term_through_csv_and_rrd(run):
    """Seconds from each window's end to ExpireTime (ms in the answer), 0
    once expired; Status, Enabled and DebtStatus as answered."""
    cd, first = run["cd"], run["term_first"]
    for phase in (0, 1, 2):
        end = first + 60 * phase
        for iid, term in terms(phase).items():
            left = cd.csv_points(iid, "timeleft-expiry")
            assert left[end] == max(term["expires"] - end, 0), (iid, phase)
            assert cd.csv_points(iid, "gauge-instance_status")[end] == term.get("Status", 1)
            assert cd.csv_points(iid, "gauge-enabled")[end] == term.get("Enabled", 1)
            assert cd.csv_points(iid, "gauge-debt_status")[end] == term.get("DebtStatus", 0)
    path = cd.rrd_file(SOON, "timeleft-expiry")
    assert rrd_info(path)["step"] == "60"
    stored = rrd_fetch(path, first, first + 120)
    assert stored[first + 60] == NOW + 2 * DAY - (first + 60), stored
    assert stored[first + 120] == NOW + 365 * DAY - (first + 120), stored
    assert rrd_fetch(cd.rrd_file(GONE, "timeleft-expiry"), first, first + 120)[first + 60] == 0


def test_each_expiry_and_debt_is_notified_once_across_a_restart(run):
    before = term_notes(run["before_restart"])
    after = term_notes(run["after_restart"])

    def one(lines, severity, *words):
        return sum(severity in l and all(w in l for w in words) for l in lines) == 1

    def days(iid, phase):  # whole days from the window's end
        return "in %d days" % ((terms(phase)[iid]["expires"]
                                 - (run["term_first"] + 60 * phase)) // DAY)
    # M: SOON within 14 days, DEBT in debt, GONE expired; LATER (30 days)
    # says nothing. M+1: SOON within 3 days, DEBT paid.
    assert len(before) == 5, before
    assert one(before, "WARNING", "instance %s expires at" % SOON, days(SOON, 0))
    assert one(before, "FAILURE", "instance %s expires at" % SOON, days(SOON, 1))
    assert one(before, "FAILURE", "instance %s is in debt" % DEBT)
    assert one(before, "OKAY", "instance %s is paid again" % DEBT)
    assert one(before, "FAILURE", "instance %s has expired" % GONE, "stops forwarding")
    # After the restart: SOON renewed, LATER now within 14 days; GONE
    # still expired is not said again (the StateFile's marks).
    assert len(after) == 2, after
    assert one(after, "OKAY", "instance %s is renewed" % SOON)
    assert one(after, "WARNING", "instance %s expires at" % LATER, days(LATER, 2))
    assert not [l for l in before + after if LATER in l and days(LATER, 0) in l]


def test_expiry_asks_its_instances_in_one_page_each_minute(run):
    """StateInterval 60: a request a minute (three in all, a restart
    between) names every instance of the block, on page 1 of 50."""
    reqs = [r for r in run["requests"] if r.get("action") == "DescribeInstances"
            and r["params"].get("InstanceIds.1") in TERMS]
    named = [r for r in reqs if sorted(v for k, v in r["params"].items()
                                       if k.startswith("InstanceIds.")) == sorted(TERMS)]
    assert len(named) >= 3, [r["params"] for r in reqs]
    assert all(r["status"] == 200 and r["params"]["PageNumber"] == "1"
               and r["params"]["PageSize"] == "50" for r in reqs)
