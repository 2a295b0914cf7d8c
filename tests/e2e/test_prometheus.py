# SPDX-License-Identifier: MIT
"""Prometheus with the real programs: collectd's stock write_prometheus (the
conf/write-prometheus.conf example, on a loopback port) and a real
prometheus server (Debian's) scraping it with the conf/ scrape example and
the alerting rules. PromQL over the HTTP API gives back the simulator's
values with the timestamps of their minutes; a ten-window catch-up at start
(StateFile) and an API outage over a minute boundary show what reaches Prometheus of
backfilled windows: only the newest of each catch-up. The rules fire on the
scripted attack with the real series, and not on the calm instance."""

import json
import os
import re
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import pytest
import yaml

import ddoscoo_sim
from conftest import REPO, Collectd, Simulator, block, expected_values, wait_for

KEY = ['AccessKeyId "LTAIprom"', 'AccessKeySecret "SECRET-prom-7c"']
KEYS = {"LTAIprom": {"secret": "SECRET-prom-7c"}}
HIT, CALM = "ddoscoo-cn-promhit", "ddoscoo-cn-promcalm"
HOST = "prom-host"
DOMAIN = "www.example.com"
PEAK_BPS = 40_000_000_000
MISSED = 10  # windows of HIT's traffic caught up at start
CONF = os.path.join(REPO, "conf")


def minute(t):
    return int(t) - int(t) % 60


def latest_window():
    """The newest window with the default Delay and Window."""
    return minute(time.time() - 60)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get(url):
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.read().decode()


class Prometheus:
    """prometheus on a free loopback port, its TSDB in the test's directory,
    with the shipped scrape example made to point at the test's collectd
    (scraped every second) and the shipped rules (evaluated every second)."""

    def __init__(self, d, target):
        with open(os.path.join(CONF, "prometheus-ddoscoo-scrape.yml")) as f:
            config = yaml.safe_load(f)
        self.shipped = json.loads(json.dumps(config))
        config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
        config["rule_files"] = [os.path.join(CONF, "prometheus-ddoscoo-rules.yml")]
        job = config["scrape_configs"][0]
        job["scrape_interval"] = "1s"
        job["static_configs"] = [{"targets": [target]}]
        # The same target without honor_labels, to document what it does.
        plain = dict(job, job_name="plain", honor_labels=False)
        config["scrape_configs"].append(plain)
        path = os.path.join(d, "prometheus.yml")
        with open(path, "w") as f:
            yaml.safe_dump(config, f)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log = open(os.path.join(d, "prometheus.log"), "w")
        self.proc = subprocess.Popen(
            ["prometheus", "--config.file", path,
             "--storage.tsdb.path", os.path.join(d, "tsdb"),
             "--web.listen-address", "127.0.0.1:%d" % self.port],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(self._ready, 30, "prometheus to be ready")

    def _ready(self):
        assert self.proc.poll() is None, "prometheus exited"
        try:
            return "Ready" in get(self.url + "/-/ready")
        except OSError:
            return False

    def api(self, path, **params):
        body = json.loads(get("%s/api/v1/%s?%s" % (self.url, path, urllib.parse.urlencode(params))))
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr):
        return self.api("query", query=expr)["result"]

    def raw(self, selector, minutes=30):
        """{labels (frozenset): {epoch seconds: value}}: the stored samples."""
        out = {}
        for r in self.query("%s[%dm]" % (selector, minutes)):
            out[frozenset(r["metric"].items())] = {t: float(v) for t, v in r["values"]}
        return out

    def samples(self, name, ddoscoo, type_, job="collectd-ddoscoo"):
        sel = '%s{job="%s",ddoscoo="%s",type="%s"}' % (name, job, ddoscoo, type_)
        found = list(self.raw(sel).values())
        return found[0] if found else {}

    def own_counter(self, name):
        """A counter of Prometheus's own /metrics (not scraped into its TSDB)."""
        for line in get(self.url + "/metrics").splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise AssertionError("no %s in prometheus's /metrics" % name)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)
        self.log.close()


def write_prometheus_config(port):
    """conf/write-prometheus.conf as shipped, on the test's loopback port."""
    with open(os.path.join(CONF, "write-prometheus.conf")) as f:
        text = f.read()
    assert 'Port "9103"' in text
    return text.replace('Port "9103"', 'Host "127.0.0.1"\n  Port "%d"' % port)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("prometheus"))
    now = minute(time.time())
    attack = {"attacks": [{"instance": HIT, "ip": "203.0.113.30", "port": 80,
                           "start": now - 3600, "end": now + 3600, "ramp_seconds": 0,
                           "peak_bps": PEAK_BPS, "peak_pps": 5_000_000}]}
    sim = Simulator(d, {"keys": KEYS, "instances": [HIT, CALM], "attack": attack,
                        "faults": {CALM: {"mode": "http503"}}, "domains": {DOMAIN: [HIT]}})
    # HIT's traffic was last stored ten windows ago: a catch-up of ten at
    # the first read. CALM's connections a window ago, and the API fails
    # for them until the next minute: a catch-up of two.
    state = os.path.join(d, "state")
    w0 = latest_window()
    with open(state, "w") as f:
        f.write("# collectd-ddoscoo state 1\n%d\tpro/%s/traffic\n%d\tpro/%s_80\n"
                % (w0 - MISSED * 60, HIT, w0 - 60, CALM))
    wp_port = free_port()
    prom = Prometheus(d, "127.0.0.1:%d" % wp_port)
    at = 'Endpoint "%s"' % sim.url
    t = {"attack": ddoscoo_sim.check_attack(attack, 0), "prom": prom}
    cd = None
    try:
        cd = Collectd(d, 'StateFile "%s"\n' % state + "\n".join([
            block("pro", *KEY, at, 'Statistics "connections" "traffic" "events"',
                  'InstanceId "%s"' % HIT, 'InstanceId "%s"' % CALM, 'Port "80"',
                  "Interval 1"),
            # A Window beyond write_prometheus's StalenessDelta (300 s).
            block("long", *KEY, at, 'Statistics "traffic"', 'InstanceId "%s"' % CALM,
                  "Window 600", 'Host "long-host"', "SelfMonitoring false", "Interval 1"),
            # A web domain: its name, dots and all, is the ddoscoo label.
            block("web", *KEY, at, 'Statistics "qps" "status_codes"', 'Domain "%s"' % DOMAIN,
                  "SelfMonitoring false", "Interval 1"),
        ]), hostname=HOST, rrd=False,
            extra_config=write_prometheus_config(wp_port))
        t["cd"] = cd
        t["w0"] = w0
        wait_for(lambda: w0 in prom.samples("collectd_ddoscoo_gauge", HIT, "attack_bps"),
                 30, "the first windows in Prometheus", step=1)
        wait_for(lambda: latest_window() > w0, 70, "the next window", step=1)
        sim.control("faults", {})
        t["w1"] = w1 = latest_window()
        wait_for(lambda: w1 in prom.samples("collectd_ddoscoo_current_connections",
                                            CALM + "_80", "concurrent")
                 and w1 in prom.samples("collectd_ddoscoo_gauge", HIT, "attack_bps"),
                 30, "the window after the outage in Prometheus", step=1)
        wait_for(lambda: sum(len(v) for v in prom.raw(
            'collectd_ddoscoo_gauge{instance="long-host",type="in_bps"}').values()) > 20,
                 30, "scrapes of the long Window", step=1)
        time.sleep(3)  # the rules see the newest values
        t["exposition"] = get("http://127.0.0.1:%d/metrics" % wp_port)
        t["alerts"] = prom.api("alerts")["alerts"]
        t["rejected"] = {n: prom.own_counter(n) for n in (
            "prometheus_target_scrapes_sample_out_of_order_total",
            "prometheus_target_scrapes_sample_out_of_bounds_total",
            "prometheus_target_scrapes_sample_duplicate_timestamp_total")}
        t["names"] = prom.api("label/__name__/values")
    finally:
        if cd:
            cd.stop()
        sim.stop()
    t["requests"] = sim.requests()
    yield t
    prom.stop()


def test_metric_names_and_labels_as_documented(run):
    lines = [l for l in run["exposition"].splitlines() if l.startswith("collectd_ddoscoo")]
    series = {re.sub(r" \S+ \d+$", "", l) for l in lines}
    hit, calm = HIT, CALM
    want = {
        'collectd_ddoscoo_gauge{ddoscoo="%s",type="attack_bps",instance="%s"}' % (hit, HOST),
        'collectd_ddoscoo_gauge{ddoscoo="%s",type="in_bps",instance="%s"}' % (hit, HOST),
        'collectd_ddoscoo_gauge{ddoscoo="%s",type="out_bps",instance="%s"}' % (hit, HOST),
        'collectd_ddoscoo_operations_per_second{ddoscoo="%s",type="attack_packets",instance="%s"}'
        % (hit, HOST),
        'collectd_ddoscoo_current_connections{ddoscoo="%s_80",type="concurrent",instance="%s"}'
        % (calm, HOST),
        'collectd_ddoscoo_current_connections{ddoscoo="%s_80",type="inactive",instance="%s"}'
        % (calm, HOST),
        'collectd_ddoscoo_operations_per_second{ddoscoo="%s_80",type="new_connections",instance="%s"}'
        % (calm, HOST),
        'collectd_ddoscoo_count{ddoscoo="%s",type="mitigation_events",instance="%s"}' % (hit, HOST),
        'collectd_ddoscoo_gauge{ddoscoo="%s",type="event_peak_bps",instance="%s"}' % (hit, HOST),
        'collectd_ddoscoo_operations_per_second{ddoscoo="%s",type="attack",instance="%s"}'
        % (DOMAIN, HOST),
        'collectd_ddoscoo_count{ddoscoo="%s",type="origin_5xx",instance="%s"}' % (DOMAIN, HOST),
        'collectd_ddoscoo_total_requests_total{ddoscoo="pro-api",type="failed",instance="%s"}' % HOST,
        'collectd_ddoscoo_total_requests_total{ddoscoo="pro-api",type="throttled",instance="%s"}'
        % HOST,
        'collectd_ddoscoo_total_operations_total{ddoscoo="pro-api",type="backfilled_windows",'
        'instance="%s"}' % HOST,
    }
    # Of each statistic of the block: its requests and its age.
    for stat in ("connections", "traffic", "events"):
        want |= {'collectd_ddoscoo_total_requests_total{ddoscoo="pro-api",type="%s-%s",'
                 'instance="%s"}' % (stat, c, HOST) for c in ("sent", "refused", "throttled")}
        want.add('collectd_ddoscoo_duration_seconds{ddoscoo="pro-api",type="%s-age",'
                 'instance="%s"}' % (stat, HOST))
    assert want <= series, sorted(want - series)
    # response_time comes only with reads that sent requests, and leaves
    # the page Timeout (2) x Interval (1 s here) later: Prometheus has it,
    # the page now and then.
    (labels,) = run["prom"].raw('collectd_ddoscoo_response_time{job="collectd-ddoscoo"}')
    assert dict(labels) == {"__name__": "collectd_ddoscoo_response_time", "ddoscoo": "pro-api",
                            "instance": HOST, "job": "collectd-ddoscoo"}
    # doc/series.md lists every name and label this test sees, and the
    # README's example is one of them.
    with open(os.path.join(REPO, "doc", "series.md")) as f:
        listed = f.read()
    for name in run["names"]:
        if name.startswith("collectd_ddoscoo_"):
            assert "`%s`" % name in listed or "%s{" % name in listed, name
    with open(os.path.join(REPO, "README.md")) as f:
        readme = f.read()
    shown = re.findall(r"`(collectd_ddoscoo_\w+)\{", readme)
    assert shown and set(shown) <= set(run["names"]), shown
    assert "# TYPE collectd_ddoscoo_total_requests_total counter" in run["exposition"]
    assert "# TYPE collectd_ddoscoo_gauge gauge" in run["exposition"]
    assert "# TYPE collectd_ddoscoo_duration_seconds gauge" in run["exposition"]
    # Every statistic current: its age within Delay + Window and the
    # read's seconds (traffic caught up ten windows at the first read).
    ages = run["prom"].query('collectd_ddoscoo_duration_seconds{job="collectd-ddoscoo"}')
    assert sorted(a["metric"]["type"] for a in ages) == \
        ["connections-age", "events-age", "traffic-age"]
    assert all(0 < float(a["value"][1]) <= 180 for a in ages), ages


def test_honor_labels_keeps_the_collectd_host(run):
    prom = run["prom"]
    kept = prom.query('collectd_ddoscoo_gauge{job="collectd-ddoscoo",type="attack_bps",'
                      'ddoscoo="%s"}' % HIT)
    assert [r["metric"]["instance"] for r in kept] == [HOST]
    renamed = prom.query('collectd_ddoscoo_gauge{job="plain",type="attack_bps",'
                         'ddoscoo="%s"}' % HIT)
    assert len(renamed) == 1
    assert renamed[0]["metric"]["exported_instance"] == HOST
    assert re.fullmatch(r"127\.0\.0\.1:\d+", renamed[0]["metric"]["instance"])
    assert run["prom"].shipped["scrape_configs"][0]["honor_labels"] is True


def flow(run, end):
    rows = ddoscoo_sim.flow_for([HIT], end - 60, end, 60, attack=run["attack"])
    return {f: sum(r[f] for r in rows) for f in ("InBps", "AttackBps")}


def test_values_and_timestamps_are_the_simulators(run):
    prom, cd = run["prom"], run["cd"]
    attack = prom.samples("collectd_ddoscoo_gauge", HIT, "attack_bps")
    inbound = prom.samples("collectd_ddoscoo_gauge", HIT, "in_bps")
    assert len(attack) >= 2  # before and after a minute boundary
    for t, v in attack.items():
        assert t % 60 == 0  # the end of the minute, to the millisecond
        assert v == flow(run, t)["AttackBps"] and v > 1e9, t
        assert inbound[t] == flow(run, t)["InBps"], t
    conns = prom.samples("collectd_ddoscoo_current_connections", HIT + "_80", "concurrent")
    assert len(conns) >= 2
    for t, v in conns.items():
        assert t % 60 == 0
        assert v == expected_values([HIT], 80, t, attack=run["attack"])["Conns"], t
    # Every minute dispatched on time is in Prometheus, as in the CSV (up to
    # the time of the query).
    csv = cd.csv_points(HIT + "_80", "current_connections-concurrent")
    assert set(conns) == {t for t in csv if t <= max(conns)}
    assert run["rejected"] == dict.fromkeys(run["rejected"], 0.0)


def test_a_catch_up_reaches_prometheus_a_window_per_scrape(run):
    prom, cd = run["prom"], run["cd"]
    # Ten missed windows of traffic, fetched with one request, reach
    # collectd a window a second, oldest first: all in the CSV...
    csv = cd.csv_points(HIT, "gauge-attack_bps")
    caught_up = [t for t in sorted(csv) if t < run["w0"]]
    assert len(caught_up) >= MISSED - 1
    # ... and write_prometheus, which keeps one value per series, shows
    # each for a second: a scrape a second stores most of them, each at its
    # own time with its own value (a scrape every 30 s, one in 30).
    stored = prom.samples("collectd_ddoscoo_gauge", HIT, "attack_bps")
    assert run["w0"] in stored
    kept = sorted(set(caught_up) & set(stored))
    assert len(kept) >= 2, sorted(stored)
    for t in kept:
        assert stored[t] == csv[t], t
    # The outage: the window the API did not answer for is caught up
    # before the one after it, and both reach Prometheus with their values.
    w0, w1 = run["w0"], run["w1"]
    calm_csv = cd.csv_points(CALM + "_80", "current_connections-concurrent")
    calm_prom = prom.samples("collectd_ddoscoo_current_connections", CALM + "_80", "concurrent")
    missed = list(range(w0, w1, 60))
    assert missed and all(t in calm_csv for t in missed)
    assert w1 in calm_csv and w1 in calm_prom
    assert calm_prom[w1] == expected_values([CALM], 80, w1, attack=run["attack"])["Conns"]
    for t in missed:
        assert calm_prom.get(t, calm_csv[t]) == calm_csv[t], t
    failed = [r for r in run["requests"] if r.get("action") == "DescribePortConnsCount"
              and r["params"].get("InstanceIds.1") == CALM and r["status"] != 200]
    assert failed


def test_a_window_beyond_staleness_delta_loses_its_timestamp(run):
    line = [l for l in run["exposition"].splitlines()
            if l.startswith('collectd_ddoscoo_gauge{ddoscoo="%s",type="in_bps",'
                            'instance="long-host"}' % CALM)]
    assert len(line) == 1 and len(line[0].split()) == 2, line  # name and value, no time
    # Prometheus stamps it with the scrape times instead: a sample per
    # scrape (every second here) of the one value (two, if the test spans
    # the end of a 10-minute window), at no particular second.
    long = run["prom"].raw('collectd_ddoscoo_gauge{instance="long-host",type="in_bps"}')
    (times,) = long.values()
    assert len(times) > 20 and len(set(times.values())) <= 2
    assert len([t for t in times if t % 60 != 0]) >= 20


def test_the_rules_fire_on_the_attack_and_not_on_the_calm_instance(run):
    by_name = {}
    for a in run["alerts"]:
        if a["labels"]["job"] != "collectd-ddoscoo":
            continue  # the same series scraped without honor_labels
        by_name.setdefault(a["labels"]["alertname"], []).append(a)
    traffic = by_name.get("DdoscooAttackTraffic", [])
    assert [a["labels"]["ddoscoo"] for a in traffic] == [HIT], run["alerts"]
    assert traffic[0]["state"] == "firing"
    assert traffic[0]["labels"]["instance"] == HOST
    mitigation = by_name.get("DdoscooMitigationEvent", [])
    assert [a["labels"]["ddoscoo"] for a in mitigation] == [HIT], run["alerts"]
    # Nothing is stale, nothing blackholed; a minute of failing requests is
    # far from the rule's half of the requests for five minutes.
    for name in ("DdoscooSeriesStale", "DdoscooIPBlackholed", "DdoscooPluginThrottled",
                 "DdoscooStatisticBehind"):
        assert name not in by_name, run["alerts"]
    assert all(a["state"] == "pending" for a in by_name.get("DdoscooPluginFailing", []))
