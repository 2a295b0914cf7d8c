# SPDX-License-Identifier: MIT
"""The README's recommended set-up on ECS, exactly as a user gets it: no
keys, no credentials file, no MetadataURL. The metadata service's real
address, 100.100.100.200 port 80, is made reachable in a network namespace
of the test's own (unshare -n), where the simulator serves it and the API on
the namespace's loopback; collectd runs in the same namespace."""

import os
import subprocess

import pytest

from conftest import METRICS, Collectd, Simulator, block, expected_values, wait_for

ROLE = "ddoscoo-reader"
ADDRESS = "100.100.100.200"
FOUND, NAMED = "ddoscoo-cn-found", "ddoscoo-cn-named"


@pytest.fixture(scope="module")
def netns():
    """A private network namespace with lo up and the metadata address on
    it; yields the command prefix that enters it."""
    if os.geteuid() != 0:
        pytest.fail("this test needs root, for unshare -n")
    ns = subprocess.Popen(
        ["unshare", "-n", "sh", "-c", "ip link set lo up && ip addr add %s/32 dev lo "
         "&& echo ready && exec sleep 3600" % ADDRESS],
        stdout=subprocess.PIPE, text=True)
    assert ns.stdout.readline().strip() == "ready", "cannot set up the network namespace"
    try:
        yield ["nsenter", "--net=/proc/%d/ns/net" % ns.pid]
    finally:
        ns.kill()
        ns.wait()


@pytest.fixture(scope="module")
def run(netns, tmp_path_factory):
    d = str(tmp_path_factory.mktemp("defaultcreds"))
    sim = Simulator(d, {"keys": {}, "instances": [FOUND, NAMED],
                        "metadata": {"role": ROLE, "require_token": True}},
                    prefix=netns, args=["--metadata-bind", ADDRESS, "--metadata-port", "80"])
    blocks = "\n".join([
        # Nothing about credentials: the machine's search ends at the role.
        block("found", 'Endpoint "%s"' % sim.url, 'InstanceId "%s"' % FOUND),
        # The role named, the metadata service's address left to the default.
        block("named", 'Endpoint "%s"' % sim.url, 'InstanceId "%s"' % NAMED,
              'RamRole "%s"' % ROLE),
    ])
    cd = Collectd(d, blocks, interval=1, prefix=netns)
    try:
        wait_for(lambda: all(cd.csv_points(i, METRICS[0][0]) for i in (FOUND, NAMED)),
                 90, "a window of each series", step=1)
    finally:
        cd.stop()
        sim.stop()
    return {"cd": cd, "requests": sim.requests()}


@pytest.mark.parametrize("instance", [FOUND, NAMED])
def test_polls_with_the_role_keys_from_the_default_address(run, instance):
    cd = run["cd"]
    for metric, field in METRICS:
        points = cd.csv_points(instance, metric)
        assert points, metric
        for end, value in points.items():
            assert value == expected_values([instance], None, end)[field], (metric, end)
    issued = {r["params"].get("AccessKeyId") for r in run["requests"]
              if r.get("service") == "api" and r["status"] == 200
              and r["params"].get("InstanceIds.1") == instance}
    assert issued and all(k.startswith("STS.") for k in issued), issued


def test_the_role_is_found_at_100_100_100_200(run):
    md = [r for r in run["requests"] if r.get("service") == "metadata"]
    paths = {r["path"] for r in md}
    assert "/latest/api/token" in paths
    # The unnamed role is looked up first, then its keys.
    assert "/latest/meta-data/ram/security-credentials/" in paths
    assert "/latest/meta-data/ram/security-credentials/" + ROLE in paths
    log = run["cd"].log()
    assert 'Account "found"' in log and "credentials from the ECS RAM role " + ROLE in log
    assert "no credentials" not in log and "(null)" not in log
