#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""What each storage path keeps of a catch-up (doc/storage.md). Not a test:
it asserts nothing, it counts.

    tests/bench/storage_catchup.py [--instances 100] [--minutes 60]
                                   [--scrape 30s] [--keep]

Everything on 127.0.0.1: the API simulator; /usr/sbin/collectd with the
plugin from the build tree (Statistics "traffic" for --instances
instances, one answer per hour of windows) and, at once, rrdtool, csv,
write_graphite into carbon-cache and into three victoria-metrics (plain
paths; tags as conf/collectd-victoria-metrics.conf, relabeled with
conf/victoria-metrics-relabel.yml; and through write_tsdb), the network
plugin into influxd's collectd input, write_influxdb_udp into
victoria-metrics, write_prometheus scraped by prometheus every --scrape.

A first collectd run writes the StateFile; every series' window is moved
--minutes back; a second run catches up with every writer loaded
(FlushInterval 1). Then each server is asked how many points of those
minutes it holds (the plugin's own <block>-api series left out), against
the csv plugin's files. Needs the Debian packages of tests/install-deps.sh.
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, os.path.join(HERE, "..", "simulator"))

import yaml  # noqa: E402

from conftest import Collectd, Simulator, rrd_fetch, wait_for  # noqa: E402
from servers import CarbonCache, InfluxDB, VictoriaMetrics, free_port  # noqa: E402
from test_prometheus import write_prometheus_config  # noqa: E402
from test_victoria_metrics import shipped_flags  # noqa: E402

TRAFFIC = ["gauge-in_bps", "gauge-out_bps", "gauge-attack_bps",
           "operations_per_second-in_packets", "operations_per_second-out_packets",
           "operations_per_second-attack_packets"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--instances", type=int, default=100)
    ap.add_argument("--minutes", type=int, default=60)
    ap.add_argument("--scrape", default="30s")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="storage-catchup-")
    servers = []
    try:
        run(a, d, servers)
    finally:
        for s in servers:
            s.stop()
        if a.keep:
            print("work directory:", d)
        else:
            shutil.rmtree(d, ignore_errors=True)


def run(a, d, servers):
    ids = ["ddoscoo-cn-bench%04d" % i for i in range(a.instances)]
    sim = Simulator(d, {"keys": {"LTAIbench": {"secret": "S"}}, "instances": ids})
    servers.append(sim)
    state = os.path.join(d, "ddoscoo.state")
    blocks = ('StateFile "%s"\n<Account "bench">\n  AccessKeyId "LTAIbench"\n'
              '  AccessKeySecret "S"\n  Endpoint "%s"\n  Statistics "traffic"\n%s\n'
              '  Interval 2\n</Account>' % (state, sim.url, "\n".join(
                  '  InstanceId "%s"' % i for i in ids)))
    first = os.path.join(d, "first")
    os.makedirs(first)
    cd = Collectd(first, blocks, rrd=False)
    wait_for(lambda: os.path.exists(state) and open(state).read().count("\n") > a.instances,
             200, "the StateFile", step=1)
    time.sleep(3)
    cd.stop()
    with open(state) as f:
        lines = f.read().splitlines()
    newest = max(int(l.split("\t")[0]) for l in lines[1:])
    lo, hi = newest - 60 * a.minutes, newest
    with open(state, "w") as f:
        f.write(lines[0] + "\n" + "".join("%d\t%s\n" % (lo, l.split("\t")[1])
                                          for l in lines[1:]))

    vms = {}
    for key, listener, flags in [
            ("write_graphite, UseTags, relabeled (shipped)", "graphite", shipped_flags()),
            ("write_graphite, no tags", "graphite", []),
            ("write_influxdb_udp", "influx", ["-influxSkipSingleField"]),
            ("write_tsdb", "opentsdb", [])]:
        vms[key] = VictoriaMetrics(d, "vm%d" % len(vms), listeners=(listener,), flags=flags)
        servers.append(vms[key])
    carbon = CarbonCache(d)
    servers.append(carbon)
    influx = InfluxDB(d)
    servers.append(influx)
    port = {k: v.ports[next(iter(v.ports))] for k, v in vms.items()}
    wp, pp = free_port(), free_port()
    with open(os.path.join(d, "prometheus.yml"), "w") as f:
        yaml.safe_dump({"global": {"scrape_interval": a.scrape}, "scrape_configs": [
            {"job_name": "collectd", "honor_labels": True,
             "static_configs": [{"targets": ["127.0.0.1:%d" % wp]}]}]}, f)
    prom_log = open(os.path.join(d, "prometheus.log"), "w")
    prom = subprocess.Popen(["prometheus", "--config.file", os.path.join(d, "prometheus.yml"),
                             "--storage.tsdb.path", os.path.join(d, "tsdb"),
                             "--web.listen-address", "127.0.0.1:%d" % pp],
                            stdout=prom_log, stderr=subprocess.STDOUT)
    keys = list(vms)
    extra = """<LoadPlugin write_graphite>
  FlushInterval 1
</LoadPlugin>
<Plugin write_graphite>
  <Node "tags">
    Host "127.0.0.1"
    Port "{tags}"
    UseTags true
    StoreRates false
  </Node>
  <Node "plain">
    Host "127.0.0.1"
    Port "{plain}"
  </Node>
  <Node "carbon">
    Host "127.0.0.1"
    Port "{carbon}"
  </Node>
</Plugin>
<LoadPlugin write_influxdb_udp>
  FlushInterval 1
</LoadPlugin>
<Plugin write_influxdb_udp>
  Server "127.0.0.1" "{influx_udp}"
</Plugin>
<LoadPlugin write_tsdb>
  FlushInterval 1
</LoadPlugin>
<Plugin write_tsdb>
  <Node "vm">
    Host "127.0.0.1"
    Port "{tsdb}"
  </Node>
</Plugin>
<LoadPlugin network>
  FlushInterval 1
</LoadPlugin>
<Plugin network>
  Server "127.0.0.1" "{network}"
</Plugin>
""".format(tags=port[keys[0]], plain=port[keys[1]], influx_udp=port[keys[2]],
           tsdb=port[keys[3]], carbon=carbon.port, network=influx.collectd_port)
    extra += write_prometheus_config(wp)
    second = os.path.join(d, "second")
    os.makedirs(second)
    started = time.time()
    cd = Collectd(second, blocks, extra_config=extra)
    try:
        wait_for(lambda: all(hi in cd.csv_points(i, TRAFFIC[0]) for i in ids),
                 a.minutes + 600, "the catch-up in csv", step=1)
        took = time.time() - started
        time.sleep(5 + int(a.scrape.rstrip("s")) + 2)  # a scrape more
    finally:
        cd.stop()
    for v in vms.values():
        v.flush()
    time.sleep(3)

    reference = sum(len([t for t in cd.csv_points(i, m) if lo < t <= hi])
                    for i in ids for m in TRAFFIC)
    counts = {"csv (reference)": reference}
    for key, v in vms.items():
        total = 0
        for name in v.get("/api/v1/label/__name__/values")["data"]:
            for labels, points in v.samples("{__name__=%s}" % json.dumps(name), 3 * 3600).items():
                if "-api" in name or "-api" in json.dumps(dict(labels)):
                    continue  # the plugin's own series
                total += len([t for t in points if lo < t <= hi])
        counts["victoria-metrics, " + key] = total
    url = "http://127.0.0.1:%d/api/v1/query?" % pp + urllib.parse.urlencode(
        {"query": '{__name__=~"collectd_ddoscoo_.+",ddoscoo!~".*-api"}[3h]'})
    with urllib.request.urlopen(url, timeout=60) as r:
        result = json.load(r)["data"]["result"]
    counts["prometheus, write_prometheus scraped every " + a.scrape] = sum(
        len([1 for t, _ in s["values"] if lo < float(t) <= hi]) for s in result)
    prom.terminate()
    prom.wait(30)
    prom_log.close()
    counts["carbon-cache, write_graphite"] = sum(
        len([t for t in carbon.fetch(m, lo, hi) if lo < t <= hi])
        for m in carbon.metrics() if "-api" not in m)
    series = influx.query("SELECT count(value) FROM ddoscoo_value WHERE instance !~ /-api$/ "
                          "AND time > %ds AND time <= %ds" % (lo, hi)).get("series", [])
    counts["influxd, network (UDP)"] = series[0]["values"][0][1] if series else 0
    counts["rrdtool (files new in the run)"] = sum(
        len([t for t, v in rrd_fetch(f, lo, hi).items() if v is not None and lo < t <= hi])
        for f in glob.glob(os.path.join(second, "rrd", "*", "ddoscoo-*", "*.rrd"))
        if "-api" not in f)

    print("%d instances (%d series), %d-minute catch-up dispatched in %.0f s "
          "(about %.0f values/s)" % (a.instances, a.instances * len(TRAFFIC), a.minutes, took,
                                    reference / took))
    print()
    print("| Path | Points of the catch-up | Kept |")
    print("|---|---|---|")
    for key, n in counts.items():
        print("| %s | %d | %.1f %% |" % (key, n, 100.0 * n / reference if reference else 0))


if __name__ == "__main__":
    main()
