# SPDX-License-Identifier: MIT
"""Malformed and hostile answers to the attack statistics (traffic,
blackhole, events) with the real collectd: each is logged, naming the
series and the operation; nothing is made up; no entity is fetched;
collectd and the other statistics of the same instance go on."""

import pytest

from conftest import METRICS, Collectd, Simulator, block, wait_for

KEY = ['AccessKeyId "LTAIfaults"', 'AccessKeySecret "SECRET-faults-4c"']
KEYS = {"LTAIfaults": {"secret": "SECRET-faults-4c"}}
INSTANCE = "ddoscoo-cn-faulty"

# The fault each operation gets, and what the log must say of it.
FAULTS = {
    "DescribePortFlowList": ("garbage", "unusable response"),
    "DescribeBlackholeStatus": ("xxe", "unusable response"),
    "DescribeDDoSEvents": ("wrongroot", "unexpected root element"),
}
REFUSED_HOST = "refused-host"
REFUSED = {  # a second simulator: the key may not call the events
    "DescribeDDoSEvents": ("forbidden",
                           "yundun-ddoscoo:DescribeDDoSEvents"),
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("attackfaults"))
    sims = []
    for name, faults in (("sim", FAULTS), ("refusing", REFUSED)):
        sims.append(Simulator(d, {
            "keys": KEYS, "instances": [INSTANCE],
            "list_faults": {action: {"mode": mode} for action, (mode, _) in faults.items()},
        }, name=name))
    # The refused block as another host: its series are apart.
    blocks = [block(name, *KEY, 'Endpoint "%s"' % sim.url, 'Host "%s"' % host,
                    'Statistics "connections" "traffic" "blackhole" "events"',
                    'InstanceId "%s"' % INSTANCE, "Interval 1")
              for name, host, sim in zip(("hostile", "refused"), ("e2e-host", REFUSED_HOST),
                                         sims)]
    cd = Collectd(d, "\n".join(blocks))
    try:
        wait_for(lambda: all(cd.log_lines('Account "hostile"', action, text)
                             for action, (_, text) in FAULTS.items())
                 and cd.log_lines('Account "refused"', REFUSED["DescribeDDoSEvents"][1])
                 and cd.csv_points(INSTANCE, METRICS[0][0])
                 and cd.csv_points(INSTANCE, "gauge-attack_bps", host=REFUSED_HOST),
                 30, "every fault logged, and connections stored")
        alive = cd.alive()
    finally:
        status = cd.stop()
        for s in sims:
            s.stop()
    return {"cd": cd, "alive": alive, "status": status,
            "requests": [r for s in sims for r in s.requests()]}


@pytest.mark.parametrize("action", sorted(FAULTS))
def test_each_fault_is_logged_with_its_operation(run, action):
    lines = run["cd"].log_lines('Account "hostile", series %s: %s:' % (INSTANCE, action))
    assert lines, action
    assert FAULTS[action][1] in lines[0]


def test_a_refused_operation_names_its_ram_action(run):
    lines = run["cd"].log_lines('Account "refused"', "DescribeDDoSEvents: API error Forbidden.RAM")
    assert lines and "permission denied" in lines[0]
    assert "yundun-ddoscoo:DescribeDDoSEvents" in lines[0]


def test_nothing_is_made_up_and_collectd_goes_on(run):
    cd = run["cd"]
    assert run["alive"] and run["status"] == 0
    # The hostile answers store nothing; connections of the same instance
    # are stored. The refused block stores all but the events.
    assert cd.csv_points(INSTANCE, METRICS[0][0])
    for name in ("gauge-attack_bps", "count-blackholed_ips", "count-mitigation_events"):
        assert not cd.csv_points(INSTANCE, name), name
    assert cd.csv_points(INSTANCE, "gauge-attack_bps", host=REFUSED_HOST)
    assert cd.csv_points(INSTANCE, "count-blackholed_ips", host=REFUSED_HOST)
    assert not cd.csv_points(INSTANCE, "count-mitigation_events", host=REFUSED_HOST)
    assert not [r for r in run["requests"] if r.get("code") == "XXE_FETCHED"]
