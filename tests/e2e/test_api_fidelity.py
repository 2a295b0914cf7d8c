# SPDX-License-Identifier: MIT
"""The plugin meets a service as strict as the real one may be, with the
real collectd: a block with ResourceGroupId asking every statistic and
discovering instances, ports and domains sends no parameter an operation
does not document (the simulator refuses those); the origin's QueryType is
asked "upstrem" or, where the service refuses that, "upstream", without
losing a minute; an account without web domains, its empty list written
each way, logs no error."""

import os
import time

import pytest

import ddoscoo_sim
from conftest import STATUS_CODES, Collectd, Simulator, block, wait_for

KEY = ['AccessKeyId "LTAIfidelity"', 'AccessKeySecret "SECRET-fidelity-3"']
KEYS = {"LTAIfidelity": {"secret": "SECRET-fidelity-3"}}
INSTANCE, OTHER = "ddoscoo-cn-fid1", "ddoscoo-cn-fid2"
DOMAIN = "www.example.com"
RULES = {INSTANCE: [{"protocol": "tcp", "frontend_port": 80, "backend_port": 8080}]}
# The operations' request models (SDK): which take ResourceGroupId.
TAKES_RESOURCE_GROUP = {
    "DescribePortConnsCount": True, "DescribePortFlowList": True,
    "DescribeBlackholeStatus": False, "DescribeDDoSEvents": True,
    "DescribePortMaxConns": True,
    "DescribeDomainQPSList": True, "DescribeDomainStatusCodeList": True,
    "DescribeDomainAttackEvents": True, "DescribeDomainBps": False,
    "DescribeInstanceIds": True, "DescribeNetworkRules": False, "DescribeDomains": True,
    # The instances' IPs (events and blackhole of several instances at once).
    "DescribeInstances": True, "DescribeInstanceDetails": False,
}
ALL_STATISTICS = ('Statistics "connections" "traffic" "blackhole" "events" "qps" "status_codes" '
                  '"domain_bps" "cc_events" "max_new_connections"')
MISSED = 10
# What the plugin's error lines say (doc/collectd-ddoscoo.pod).
FAILURES = ("API error", "failed", "unusable", "ignoring", "cannot")
SPELLINGS = {"strem": "upstrem", "stream": "upstream"}   # block -> the service's
EMPTY = {"absent": "repeated", "open_close": "wrapper", "self_closing": "repeated"}


def minute(t):
    return t - t % 60


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("fidelity"))
    scenario = {"keys": KEYS, "instances": [INSTANCE, OTHER], "rules": RULES,
                "domains": {DOMAIN: [INSTANCE]}}
    sims = {"rg": Simulator(d, scenario, name="rg")}
    for name, spelling in SPELLINGS.items():
        sims[name] = Simulator(d, dict(scenario, origin_query_type=spelling), name=name)
    for empty, style in EMPTY.items():
        sims["none_" + empty] = Simulator(
            d, dict(scenario, domains={}, list_style=style, empty_list=empty),
            name="none_" + empty)

    state = os.path.join(d, "state")
    last = minute(int(time.time()) - 60) - MISSED * 60
    with open(state, "w") as f:
        f.write("# collectd-ddoscoo state 1\n")
        for name in SPELLINGS:
            for suffix in ("gf", "upstrem"):
                f.write("%d\t%s/%s/status_codes/%s\n" % (last, name, DOMAIN, suffix))
    blocks = [block("rg", *KEY, 'Endpoint "%s"' % sims["rg"].url, 'Host "rg-host"',
                    'ResourceGroupId "rg-default"', ALL_STATISTICS, 'Port "auto"',
                    "DiscoveryInterval 2", "Interval 1")]
    blocks += [block(name, *KEY, 'Endpoint "%s"' % sims[name].url, 'Host "%s-host"' % name,
                     'Statistics "status_codes"', 'Domain "%s"' % DOMAIN, "Interval 1")
               for name in SPELLINGS]
    blocks += [block("none_" + empty, *KEY, 'Endpoint "%s"' % sims["none_" + empty].url,
                     'Host "none-%s"' % empty, 'InstanceId "%s"' % INSTANCE,
                     'Statistics "qps" "status_codes"', "DiscoveryInterval 2", "Interval 1")
               for empty in EMPTY]
    cd = Collectd(d, 'StateFile "%s"\n' % state + "\n".join(blocks),
                  extra_config="WriteThreads 1")
    t = {"cd": cd, "last": last}

    def domains_asked(name, n):
        return sum(r["action"] == "DescribeDomains" for r in sims[name].requests()) >= n

    try:
        # What each test needs; on a timeout each says what it missed.
        try:
            wait_for(lambda: {r["action"] for r in sims["rg"].requests()}
                     >= set(TAKES_RESOURCE_GROUP)
                     and cd.csv_points(DOMAIN, "count-origin_2xx", host="rg-host")
                     and all(len(cd.csv_points(DOMAIN, "count-origin_2xx", host=n + "-host"))
                             >= MISSED + 1 for n in SPELLINGS)
                     and all(domains_asked("none_" + e, 3) for e in EMPTY),
                     150, "every operation asked, the missed origin minutes, three refreshes",
                     step=1)
        except AssertionError:
            pass
        t["alive"] = cd.alive()
    finally:
        t["status"] = cd.stop()
        for s in sims.values():
            s.stop()
    t["requests"] = {name: s.requests() for name, s in sims.items()}
    t["log"] = cd.log()
    return t


def test_every_operation_answered_with_a_resource_group(run):
    reqs = run["requests"]["rg"]
    assert {r["action"] for r in reqs} == set(TAKES_RESOURCE_GROUP)
    refused = [(r["action"], r["status"], r["code"]) for r in reqs if r["status"] != 200]
    assert refused == []
    for r in reqs:
        assert ("ResourceGroupId" in r["params"]) == TAKES_RESOURCE_GROUP[r["action"]], r
        if "ResourceGroupId" in r["params"]:
            assert r["params"]["ResourceGroupId"] == "rg-default"
    assert not [l for l in run["log"].splitlines()
                if 'Account "rg"' in l and any(w in l for w in FAILURES)]
    assert run["cd"].csv_points(INSTANCE, "bool-" + ddoscoo_sim.default_ip(INSTANCE),
                                host="rg-host")


@pytest.mark.parametrize("name", sorted(SPELLINGS))
def test_every_origin_minute_stored_in_either_spelling(run, name):
    cd, last = run["cd"], run["last"]
    spelling = SPELLINGS[name]
    attack = ddoscoo_sim.check_attack({}, 0)
    host = name + "-host"
    for code, field in STATUS_CODES:
        origin = cd.csv_points(DOMAIN, "count-origin_" + code, host=host)
        edge = cd.csv_points(DOMAIN, "count-edge_" + code, host=host)
        # Every minute since the StateFile's, none lost to the refusal.
        assert sorted(origin) == list(range(last + 60, max(origin) + 60, 60)), code
        assert set(origin) <= set(edge) | {max(origin)}
        for end, value in origin.items():
            rows = ddoscoo_sim.web_for("DescribeDomainStatusCodeList", [DOMAIN], end - 60, end,
                                       60, attack, "upstrem")
            assert value == rows[0][field], (code, end)
    asked = [r for r in run["requests"][name]
             if r["action"] == "DescribeDomainStatusCodeList"
             and r["params"]["QueryType"] != "gf"]
    said = [l for l in run["log"].splitlines() if 'Account "%s"' % name in l
            and "QueryType" in l]
    if spelling == "upstrem":
        assert all(r["status"] == 200 and r["params"]["QueryType"] == "upstrem"
                   for r in asked)
        assert said == []
    else:
        # One refusal, then upstream only, said once.
        assert [(r["status"], r["params"]["QueryType"]) for r in asked[:2]] == \
            [(400, "upstrem"), (200, "upstream")]
        assert all(r["status"] == 200 and r["params"]["QueryType"] == "upstream"
                   for r in asked[1:])
        assert len(said) == 1
        assert ('Account "stream": status_codes: origin refused QueryType=upstrem, '
                'using upstream') in said[0]


@pytest.mark.parametrize("empty", sorted(EMPTY))
def test_no_web_domains_no_error(run, empty):
    name = "none_" + empty
    reqs = [r for r in run["requests"][name] if r["action"] == "DescribeDomains"]
    assert len(reqs) >= 3 and all(r["status"] == 200 for r in reqs)
    lines = [l for l in run["log"].splitlines() if 'Account "%s"' % name in l]
    assert not [l for l in lines if any(w in l for w in FAILURES)], lines
    assert [l for l in lines if "discovered 0 web domains" in l]


def test_collectd_went_on(run):
    assert run["alive"] and run["status"] == 0
