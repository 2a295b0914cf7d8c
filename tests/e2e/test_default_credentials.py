# SPDX-License-Identifier: MIT
"""The README's recommended set-up on ECS, exactly as a user gets it: no
keys, no credentials file, no MetadataURL, no Endpoint, no RegionId, TLS
verified against the system's CA bundle. The real addresses are made
reachable in namespaces of the test's own (unshare -m -n): the metadata
service's 100.100.100.200 port 80 on loopback, ddoscoo.cn-hangzhou.
aliyuncs.com in /etc/hosts, and the test's CA in place of the system
bundle (bind mounts seen only inside). The simulator serves both, and
collectd runs in the same namespaces."""

import os
import subprocess

import pytest

import ddoscoo_sim
from conftest import METRICS, Collectd, Simulator, block, expected_values, wait_for

ROLE = "ddoscoo-reader"
ADDRESS = "100.100.100.200"
FOUND, NAMED = "ddoscoo-cn-found", "ddoscoo-cn-named"


# A series of each default statistic: traffic, blackhole, events.
DEFAULT_SERIES = ("gauge-in_bps", "count-blackholed_ips", "count-mitigation_events")
HOST = "ddoscoo.cn-hangzhou.aliyuncs.com"  # the default Endpoint's
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"  # libcurl's, on Debian


@pytest.fixture(scope="module")
def namespaces(tmp_path_factory):
    """Private network and mount namespaces: lo up with the metadata
    address, the endpoint's name on 127.0.0.1, a CA bundle of the test's
    certificate only. Yields the command prefix that enters them and the
    certificate and key for the simulator."""
    if os.geteuid() != 0:
        pytest.fail("this test needs root, for unshare -m -n")
    d = str(tmp_path_factory.mktemp("namespaces"))
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=" + HOST, "-addext",
                    "subjectAltName=DNS:" + HOST], check=True, capture_output=True)
    hosts = os.path.join(d, "hosts")
    with open(hosts, "w") as f:
        f.write("127.0.0.1 localhost %s\n" % HOST)
    script = ("mount --bind {hosts} /etc/hosts && mount --bind {cert} {bundle} && "
              "ip link set lo up && ip addr add {addr}/32 dev lo && "
              "echo ready && exec sleep 3600").format(hosts=hosts, cert=cert,
                                                       bundle=CA_BUNDLE, addr=ADDRESS)
    ns = subprocess.Popen(["unshare", "-m", "-n", "sh", "-c", script],
                          stdout=subprocess.PIPE, text=True)
    assert ns.stdout.readline().strip() == "ready", "cannot set up the namespaces"
    try:
        yield (["nsenter", "--mount=/proc/%d/ns/mnt" % ns.pid,
                "--net=/proc/%d/ns/net" % ns.pid], cert, key)
    finally:
        ns.kill()
        ns.wait()


@pytest.fixture(scope="module")
def run(namespaces, tmp_path_factory):
    enter, cert, key = namespaces
    d = str(tmp_path_factory.mktemp("defaults"))
    sim = Simulator(d, {"keys": {}, "instances": [FOUND, NAMED],
                        "metadata": {"role": ROLE, "require_token": True}},
                    tls=(cert, key), prefix=enter,
                    args=["--port", "443", "--metadata-bind", ADDRESS,
                          "--metadata-port", "80"])
    blocks = "\n".join([
        # Nothing but the instance: the machine's credentials end at the
        # role, the endpoint is the region's default, TLS is verified.
        block("found", 'InstanceId "%s"' % FOUND),
        # The role named, the metadata service's address left to the default.
        block("named", 'InstanceId "%s"' % NAMED, 'RamRole "%s"' % ROLE),
    ])
    cd = Collectd(d, blocks, interval=1, prefix=enter)
    try:
        wait_for(lambda: all(cd.csv_points(i, METRICS[0][0]) for i in (FOUND, NAMED))
                 and all(cd.csv_points(FOUND, m) for m in DEFAULT_SERIES),
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


def test_the_default_endpoint_is_reached_over_verified_tls(run):
    log = run["cd"].log()
    # Per-port connections of all ports, traffic, blackholes, events,
    # capacity, usage and the instance's term; the account's blackhole
    # releases.
    assert "8 series from https://%s/" % HOST in log
    assert "plain HTTP" not in log and "certificate" not in log
    api = [r for r in run["requests"] if r.get("service") == "api"]
    assert api and all(r["params"].get("RegionId") == "cn-hangzhou" for r in api)


def test_the_default_statistics_give_the_whole_picture(run):
    """No Statistics option: connections (above), traffic, blackholes and
    attack events, each as the simulator served it (a calm instance); the
    plan and what is used of it, and the instance's term."""
    cd = run["cd"]
    for end, value in cd.csv_points(FOUND, "gauge-in_bps").items():
        rows = ddoscoo_sim.flow_for([FOUND], end - 60, end, 60)
        assert value == sum(r["InBps"] for r in rows), end
    ip = ddoscoo_sim.default_ip(FOUND)
    assert set(cd.csv_points(FOUND, "bool-" + ip).values()) == {0}
    assert set(cd.csv_points(FOUND, "count-blackholed_ips").values()) == {0}
    assert set(cd.csv_points(FOUND, "count-mitigation_events").values()) == {0}
    # The vendor's example plan, as the simulator serves it: 30 Gbit/s.
    assert set(cd.csv_points(FOUND, "gauge-protection_base_bps").values()) == {30e9}
    asked = {r.get("action") for r in run["requests"] if r.get("service") == "api"
             and r["status"] == 200 and r["params"].get("InstanceIds.1") == FOUND}
    assert asked == {"DescribePortConnsCount", "DescribePortFlowList",
                     "DescribeBlackholeStatus", "DescribeDDoSEvents",
                     "DescribeInstanceSpecs", "DescribeInstanceStatistics",
                     "DescribeInstances"}
    # The instance's term (expiry), as the simulator serves it: Status 1.
    assert set(cd.csv_points(FOUND, "gauge-instance_status").values()) == {1}
