# SPDX-License-Identifier: MIT
"""The series as a collectd fleet stores them: one real collectd run feeds,
next to csv, the stock write_graphite plugin (two <Node>s: the default
naming and SeparateInstances true, each into its own real carbon-cache
writing whisper files) and the stock network plugin (into a real influxd
1.x with its collectd input). The data is read back with the servers' own
tools (whisper-fetch, InfluxQL over influxd's HTTP API) and compared with
what the API simulator served (connections, and traffic during a 40 Gbit/s
attack; a web domain's QPS and response codes during an HTTP flood); the
names and queries of doc/series.md and of the README, and the Grafana
dashboards in conf/, are checked against what the servers hold."""

import json
import os
import re
import subprocess
import time
from collections import namedtuple

import pytest

import ddoscoo_sim
from conftest import (METRICS, QPS, REPO, STATUS_CODES, TRAFFIC, Collectd, Simulator,
                      expected_values, wait_for)
from servers import (CarbonCache, InfluxDB, graphite_expand, graphite_find,
                     graphite_matches, series_expression)

KEY_ID, SECRET = "LTAIfleetE2E", "SECRET-fleet-0c1d"
# doc/series.md's and the README's examples use this host, instance and port, so that their lines
# can be checked against what the servers hold.
HOST = "web01"
WEB1, WEB2 = "ddoscoo-cn-mp91j1ao0001", "ddoscoo-cn-mp91j1ao0002"
FLEET_HOST = "ddos.fleet.example"  # dots: Graphite escapes them

EDGE = "edge.example"  # an Aggregate block: its name is the plugin_instance, dots and all
PEAK_BPS = 40_000_000_000  # 40 Gbit/s on WEB1, far beyond 32 bits
# A web domain (Statistics "qps" "status_codes"): its dots are kept in
# plugin_instance, escaped in Graphite, kept in InfluxDB's tags.
DOMAIN = "www.example.com"
EDGE_CODES = [("count-edge_" + name, field) for name, field in STATUS_CODES]
ORIGIN_CODES = [("count-origin_" + name, field) for name, field in STATUS_CODES]
WEB_METRICS = {m for m, _ in QPS + EDGE_CODES + ORIGIN_CODES}
_NOW = int(time.time()) // 60 * 60
# Absolute times, so that flow_for gives what the simulator answered; the
# attacks began before the run and go on (no end), at full strength (no ramp).
ATTACK = {"attacks": [{"instance": WEB1, "start": _NOW - 3600, "end": None,
                       "ramp_seconds": 0, "peak_bps": PEAK_BPS, "peak_pps": 5_000_000},
                      {"instance": WEB2, "start": _NOW - 3600, "end": None,
                       "ramp_seconds": 0, "peak_bps": 12_000_000_000,
                       "peak_pps": 1_500_000}],
          # An HTTP flood at full strength: the origin fails 60 % of what
          # reaches it, the edge's own 5xx stay as they were.
          "floods": [{"domain": DOMAIN, "start": _NOW - 3600, "end": None,
                      "ramp_seconds": 0, "peak_qps": 20000}]}
# A connection flood (CC) on WEB1's IP, under way (instance_cc_events).
ATTACK["cc_attacks"] = [{"instance": WEB1, "start": _NOW - 3600, "peak_mbps": 900,
                         "peak_pps": 80_000}]
ATTACK_RESOLVED = ddoscoo_sim.check_attack(ATTACK, 0)


def connections(ids, port):
    return lambda field, end: expected_values(ids, port, end, attack=ATTACK_RESOLVED)[field]


def traffic(ids):
    def value(field, end):
        rows = ddoscoo_sim.flow_for(ids, end - 60, end, 60, attack=ATTACK_RESOLVED)
        assert len(rows) == 1
        return rows[0][field]
    return value


def web(action, query_type=None):
    def value(field, end):
        rows = ddoscoo_sim.web_for(action, [DOMAIN], end - 60, end, 60, ATTACK_RESOLVED,
                                   query_type)
        assert len(rows) == 1
        return rows[0][field]
    return value


# HTTP floods (Statistics "cc_events"): the flood above, under way.
CC = [("count-cc_events", "floods"), ("operations_per_second-cc_peak_qps", "peak")]


def floods(field, end):
    events = ddoscoo_sim.cc_events_for([DOMAIN], end - 60, end, end, ATTACK_RESOLVED)
    return len(events) if field == "floods" else max([e["MaxQps"] for e in events] + [0])


# Connection floods on an instance (Statistics "instance_cc_events").
CC_INSTANCE = [("count-cc_instance_events", "events"),
               ("gauge-cc_instance_peak_bps", "bps"),
               ("operations_per_second-cc_instance_peak_packets", "pps")]


def cc_instance(field, end):
    events = ddoscoo_sim.all_events_for(("cc",), end - 60, end, end, ATTACK_RESOLVED)
    return {"events": len(events),
            "bps": max([e["Mbps"] * 10 ** 6 for e in events] + [0]),
            "pps": max([e["Pps"] for e in events] + [0])}[field]


class Series(namedtuple("Series", "host pi stat metrics value")):
    """A group of series: host, plugin_instance, statistic, its (metric,
    API field)s, and value(field, window end) as the simulator served it."""

    @property
    def key(self):
        return self[:3]


SERIES = [
    Series(HOST, WEB1 + "_80", "connections", METRICS, connections([WEB1], "80")),
    Series(HOST, WEB1 + "_443", "connections", METRICS, connections([WEB1], "443")),
    Series(FLEET_HOST, WEB2, "connections", METRICS, connections([WEB2], None)),
    Series(HOST, WEB1, "traffic", TRAFFIC, traffic([WEB1])),
    Series(HOST, WEB1, "instance_cc_events", CC_INSTANCE, cc_instance),
    Series(FLEET_HOST, WEB2, "traffic", TRAFFIC, traffic([WEB2])),
    Series(HOST, EDGE, "traffic", TRAFFIC, traffic([WEB1, WEB2])),
    Series(HOST, DOMAIN, "qps", QPS, web(ddoscoo_sim.QPS_ACTION)),
    Series(HOST, DOMAIN, "status_codes/gf", EDGE_CODES, web(ddoscoo_sim.CODES_ACTION, "gf")),
    Series(HOST, DOMAIN, "status_codes/upstrem", ORIGIN_CODES,
           web(ddoscoo_sim.CODES_ACTION, "upstrem")),
    Series(HOST, DOMAIN, "cc_events", CC, floods),
]
INSTANCE_SERIES = [s for s in SERIES if s.stat in ("connections", "traffic",
                                                   "instance_cc_events")]
WEB_SERIES = [s for s in SERIES if s not in INSTANCE_SERIES]
POINTS = 2  # windows per series: the one due at start, then the next minute
# The plugin's own health (SelfMonitoring, on by default): per block, as
# plugin_instance <block>-api, type[-type_instance].
BLOCKS = [("prod", HOST), ("fleet", FLEET_HOST), (EDGE, HOST), ("web", HOST)]
SELF_METRICS = ["response_time", "total_requests-sent", "total_requests-failed",
                "total_requests-throttled", "total_operations-backfilled_windows",
                "operations_per_second-requests_allowed"]
# And of each statistic the block polls: its requests and its age.
BLOCK_STATISTICS = {"prod": ["connections", "traffic", "instance_cc_events"], "fleet": ["connections", "traffic"],
                    EDGE: ["traffic"], "web": ["qps", "status_codes", "cc_events"]}


def self_metrics(block):
    per_statistic = ["total_requests-%s-%s" % (stat, c) for stat in BLOCK_STATISTICS[block]
                     for c in ("sent", "refused", "throttled")]
    return SELF_METRICS + per_statistic + ["duration-%s-age" % stat
                                           for stat in BLOCK_STATISTICS[block]]

# What the dashboards' "Websites" row shows of each domain.
DASHBOARD_WEB_METRICS = {"operations_per_second-total", "operations_per_second-attack",
                         "count-edge_5xx", "count-origin_5xx"}
HEALTH_PANEL = "Seconds behind, per statistic"
# Measurements beside the plan's limits (Statistics "capacity", "usage",
# "health", every StateInterval) and the instances' terms ("expiry"): not
# polled here; their targets are
# checked in test_prometheus_rules.py against the rules they draw.
PLAN_PANELS = {"Attack against protection", "Inbound against clean bandwidth",
               "QPS against the plan", "Quotas used against limits", "Days to expiry"}
GRAFANA_GRAPHITE = os.path.join(REPO, "conf", "grafana-ddoscoo-graphite.json")
GRAFANA_INFLUXDB = os.path.join(REPO, "conf", "grafana-ddoscoo-influxdb.json")


def graphite_name(host, plugin_instance, metric, separate=False):
    """What write_graphite makes of an identifier with its default
    EscapeCharacter "_"."""
    host, plugin_instance = host.replace(".", "_"), plugin_instance.replace(".", "_")
    if separate:
        return "%s.ddoscoo.%s.%s" % (host, plugin_instance, metric.replace("-", ".", 1))
    return "%s.ddoscoo-%s.%s" % (host, plugin_instance, metric)


def expected_graphite_names(separate=False):
    names = {graphite_name(s.host, s.pi, m, separate) for s in SERIES for m, _ in s.metrics}
    self_names = {graphite_name(h, block + "-api", m, separate)
                  for block, h in BLOCKS for m in self_metrics(block)}
    return names, self_names


class Run:
    pass


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("backends"))
    r = Run()
    sim = Simulator(d, {"keys": {KEY_ID: {"secret": SECRET}}, "instances": [WEB1, WEB2],
                        "domains": {DOMAIN: [WEB1]}, "attack": ATTACK})
    servers = []
    cd = None
    try:
        r.carbon = CarbonCache(d, "carbon-default")
        servers.append(r.carbon)
        r.carbon_sep = CarbonCache(d, "carbon-separate")
        servers.append(r.carbon_sep)
        r.influx = InfluxDB(d)
        servers.append(r.influx)

        key = 'AccessKeyId "%s"\n  AccessKeySecret "%s"\n  Endpoint "%s"' % (KEY_ID, SECRET,
                                                                            sim.url)
        blocks = """<Account "prod">
  {key}
  Statistics "connections" "traffic" "instance_cc_events"
  InstanceId "{web1}"
  Port "80"
  Port "443"
  Interval 2
</Account>
<Account "fleet">
  {key}
  Statistics "connections" "traffic"
  InstanceId "{web2}"
  Host "{fleet}"
  Interval 2
</Account>
<Account "{edge}">
  {key}
  Statistics "traffic"
  InstanceId "{web1}"
  InstanceId "{web2}"
  Aggregate true
  Interval 2
</Account>
<Account "web">
  {key}
  Statistics "qps" "status_codes" "cc_events"
  Domain "{domain}"
  Interval 2
</Account>""".format(key=key, web1=WEB1, web2=WEB2, fleet=FLEET_HOST, edge=EDGE,
                     domain=DOMAIN)
        # FlushInterval: both plugins otherwise hold a few values a minute
        # until their send buffer fills (or collectd stops).
        extra = """<LoadPlugin write_graphite>
  FlushInterval 1
</LoadPlugin>
<Plugin write_graphite>
  <Node "default">
    Host "127.0.0.1"
    Port "{default}"
  </Node>
  <Node "separate">
    Host "127.0.0.1"
    Port "{separate}"
    SeparateInstances true
  </Node>
</Plugin>
<LoadPlugin network>
  FlushInterval 1
</LoadPlugin>
<Plugin network>
  Server "127.0.0.1" "{influx}"
</Plugin>
""".format(default=r.carbon.port, separate=r.carbon_sep.port, influx=r.influx.collectd_port)
        cd = Collectd(d, blocks, interval=10, hostname=HOST, extra_config=extra)
        r.cd = cd

        def csv_complete():
            return all(len(cd.csv_points(s.pi, m, host=s.host)) >= POINTS
                       for s in SERIES for m, _ in s.metrics)
        wait_for(lambda: csv_complete() or not cd.alive(), 150,
                 "%d windows of every series in csv" % POINTS, step=1)
        assert cd.alive(), cd.log()
        # The windows of each series group, by (host, plugin_instance, stat).
        r.ends = {}
        for s in SERIES:
            r.ends[s.key] = sorted(cd.csv_points(s.pi, s.metrics[0][0], host=s.host))

        # With FlushInterval set, both backends have every point while
        # collectd still runs; stopping collectd flushes whatever is left.
        r.graphite_live = arrives(lambda: graphite_complete(r), 30)
        r.influx_live = arrives(lambda: influx_complete(r), 30)
        r.exit_status = cd.stop()
        wait_for(lambda: graphite_complete(r), 30, "every point in whisper")
        wait_for(lambda: influx_complete(r), 30, "every point in influxd")
        r.log = cd.log()
        r.workdir = d
        record_observations(r)
        # influxd answers the tests' queries; whisper files are read directly.
        yield r
    finally:
        if cd is not None:
            cd.stop()
        sim.stop()
        for s in servers:
            s.stop()


def arrives(predicate, timeout):
    try:
        return bool(wait_for(predicate, timeout, "data", step=0.5))
    except AssertionError:
        return False


def graphite_complete(r):
    for s in SERIES:
        ends = r.ends[s.key]
        for m, _ in s.metrics:
            for carbon, sep in ((r.carbon, False), (r.carbon_sep, True)):
                name = graphite_name(s.host, s.pi, m, sep)
                if not os.path.exists(carbon.path(name)):
                    return False
                got = carbon.fetch(name, ends[0] - 1, ends[-1])
                if not all(t in got for t in ends):
                    return False
    return True


def influx_complete(r):
    try:
        rows = r.influx.rows('SELECT "value" FROM "ddoscoo_value" GROUP BY *')
    except (OSError, AssertionError):  # the database appears with the first write
        return False
    seen = {(tags.get("host"), tags.get("instance"), tags.get("type"), tags.get("type_instance"),
             cols["time"]) for tags, cols in rows}
    return all((s.host, s.pi) + tuple(m.split("-", 1)) + (t,) in seen
               for s in SERIES for m, _ in s.metrics for t in r.ends[s.key])


def record_observations(r):
    """What the servers hold, for the README, the dashboards and people."""
    r.graphite_default = sorted(r.carbon.metrics())
    r.graphite_separate = sorted(r.carbon_sep.metrics())
    r.influx_measurements = sorted(v[0] for s in r.influx.query("SHOW MEASUREMENTS")["series"]
                                   for v in s["values"])
    r.influx_tag_keys = sorted(v[0] for s in r.influx.query(
        'SHOW TAG KEYS FROM "ddoscoo_value"')["series"] for v in s["values"])
    r.influx_series = sorted(v[0] for s in r.influx.query(
        'SHOW SERIES FROM "ddoscoo_value"')["series"] for v in s["values"])
    with open(os.path.join(r.workdir, "observed.json"), "w") as f:
        json.dump({"graphite_default": r.graphite_default,
                   "graphite_separate_instances": r.graphite_separate,
                   "influx_measurements": r.influx_measurements,
                   "influx_tag_keys": r.influx_tag_keys,
                   "influx_series": r.influx_series}, f, indent=1)


def self_monitoring(name):
    """One of the plugin's own health series (<block>-api)."""
    return re.search(r"ddoscoo[-.](prod|fleet|edge_example|web)-api[.]", name) is not None


# collectd ------------------------------------------------------------------

def test_collectd_ran_cleanly(run):
    assert run.exit_status == 0
    for fragment in ("Value too old", "Dataset not found", "write_graphite plugin: ",
                     "network plugin: ", "Will suspend"):
        # write_graphite and network log only when something goes wrong.
        bad = [line for line in run.log.splitlines() if fragment in line]
        assert not bad, bad
    assert SECRET not in run.log


def test_one_point_per_minute_at_whole_minutes(run):
    assert set(run.ends) == {s.key for s in SERIES}
    for key, ends in run.ends.items():
        assert len(ends) >= POINTS
        assert all(t % 60 == 0 for t in ends), (key, ends)
        assert ends == list(range(ends[0], ends[-1] + 60, 60)), (key, ends)


# Graphite --------------------------------------------------------------------

@pytest.mark.parametrize("separate", [False, True], ids=["default", "SeparateInstances"])
def test_graphite_metric_paths(run, separate):
    names = run.graphite_separate if separate else run.graphite_default
    series, self_series = expected_graphite_names(separate)
    assert {n for n in names if not self_monitoring(n)} == series
    assert {n for n in names if self_monitoring(n)} == self_series


@pytest.mark.parametrize("separate", [False, True], ids=["default", "SeparateInstances"])
def test_graphite_values_and_timestamps(run, separate):
    carbon = run.carbon_sep if separate else run.carbon
    for s in SERIES:
        ends = run.ends[s.key]
        for metric, field in s.metrics:
            name = graphite_name(s.host, s.pi, metric, separate)
            info = carbon.info(name)
            assert [a["secondsPerPoint"] for a in info["archives"]] == [60], info
            # A day around the run: nothing but the minutes the API counted.
            got = carbon.fetch(name, ends[0] - 43200, ends[-1] + 600)
            assert got == {t: float(s.value(field, t)) for t in ends}, (name, got)


@pytest.mark.parametrize("separate", [False, True], ids=["default", "SeparateInstances"])
def test_graphite_holds_the_forty_gigabit_attack(run, separate):
    carbon = run.carbon_sep if separate else run.carbon
    ends = run.ends[(HOST, WEB1, "traffic")]
    name = graphite_name(HOST, WEB1, "gauge-attack_bps", separate)
    assert name == ("web01.ddoscoo.ddoscoo-cn-mp91j1ao0001.gauge.attack_bps" if separate else
                    "web01.ddoscoo-ddoscoo-cn-mp91j1ao0001.gauge-attack_bps")
    got = carbon.fetch(name, ends[0] - 1, ends[-1])
    # The plateau wavers between 96 and 100 % of the peak.
    assert all(0.96 * PEAK_BPS <= got[t] <= PEAK_BPS for t in ends), got
    inbound = carbon.fetch(graphite_name(HOST, WEB1, "gauge-in_bps", separate),
                           ends[0] - 1, ends[-1])
    assert all(inbound[t] > got[t] for t in ends)  # the attack is part of the inbound


@pytest.mark.parametrize("separate", [False, True], ids=["default", "SeparateInstances"])
def test_graphite_holds_the_flood_under_the_escaped_domain(run, separate):
    carbon = run.carbon_sep if separate else run.carbon
    origin = graphite_name(HOST, DOMAIN, "count-origin_5xx", separate)
    edge = graphite_name(HOST, DOMAIN, "count-edge_5xx", separate)
    attack = graphite_name(HOST, DOMAIN, "operations_per_second-attack", separate)
    # The dots of the domain are escaped in its one node; no
    # www/example/com branches.
    assert (origin, edge, attack) == (
        ("web01.ddoscoo.www_example_com.count.origin_5xx",
         "web01.ddoscoo.www_example_com.count.edge_5xx",
         "web01.ddoscoo.www_example_com.operations_per_second.attack") if separate else
        ("web01.ddoscoo-www_example_com.count-origin_5xx",
         "web01.ddoscoo-www_example_com.count-edge_5xx",
         "web01.ddoscoo-www_example_com.operations_per_second-attack"))
    names = run.graphite_separate if separate else run.graphite_default
    assert not [n for n in names if "www.example" in n or ".example.com" in n]
    ends = run.ends[(HOST, DOMAIN, "qps")]
    got = {n: carbon.fetch(n, ends[0] - 1, ends[-1]) for n in (origin, edge, attack)}
    # The plateau wavers between 96 and 100 % of the peak.
    assert all(0.96 * 20000 <= got[attack][t] <= 20000 for t in ends), got[attack]
    # The origin fails while the edge looks calm: the dashboards' web row.
    assert all(got[origin][t] > 10 * got[edge][t] for t in ends), got


def test_graphite_live_delivery(run):
    # Every minute reached whisper while collectd was still running.
    assert run.graphite_live


# InfluxDB --------------------------------------------------------------------

def test_influxdb_measurement_and_tags(run):
    # The collectd input names a measurement <plugin>_<data source>: every
    # type of the statistics has the one data source "value" (gauge and
    # operations_per_second too), so there is no gauge_value or
    # operations_per_second_value; the self-monitoring's ages are of type
    # duration, whose data source is "seconds".
    assert run.influx_measurements == ["ddoscoo_seconds", "ddoscoo_value"]
    assert run.influx_tag_keys == ["host", "instance", "type", "type_instance"]
    rows = run.influx.rows('SELECT "value" FROM "ddoscoo_value" GROUP BY *')
    seen = {(t["host"], t["instance"], t["type"], t["type_instance"]) for t, _ in rows}
    # Traffic too: both of its types are a "value" data source, so one
    # measurement; dots stay in the host and instance tags.
    expected = {(s.host, s.pi) + tuple(m.split("-", 1)) for s in SERIES for m, _ in s.metrics}
    # An empty type_instance is no tag at all (response_time).
    expected |= {(h, block + "-api") + tuple((m.split("-", 1) + [""])[:2])
                 for block, h in BLOCKS for m in self_metrics(block)
                 if not m.startswith("duration-")}
    assert seen == expected
    rows = run.influx.rows('SELECT "value" FROM "ddoscoo_seconds" GROUP BY *')
    seen = {(t["host"], t["instance"], t["type"], t["type_instance"]) for t, _ in rows}
    assert seen == {(h, block + "-api", "duration", stat + "-age")
                    for block, h in BLOCKS for stat in BLOCK_STATISTICS[block]}


def test_influxdb_values_and_timestamps(run):
    for s in SERIES:
        for metric, field in s.metrics:
            type_, type_instance = metric.split("-", 1)
            rows = run.influx.rows(
                "SELECT \"value\" FROM \"ddoscoo_value\" WHERE \"host\" = '%s' AND "
                "\"instance\" = '%s' AND \"type\" = '%s' AND \"type_instance\" = '%s'"
                % (s.host, s.pi, type_, type_instance))
            got = {cols["time"]: cols["value"] for _, cols in rows}
            assert got == {t: s.value(field, t) for t in run.ends[s.key]}, \
                (s.host, s.pi, metric, got)


def test_influxdb_holds_the_forty_gigabit_attack(run):
    ends = run.ends[(HOST, WEB1, "traffic")]
    rows = run.influx.rows(
        "SELECT \"value\" FROM \"ddoscoo_value\" WHERE \"instance\" = '%s' AND "
        "\"type\" = 'gauge' AND \"type_instance\" = 'attack_bps'" % WEB1)
    got = {cols["time"]: cols["value"] for _, cols in rows}
    assert sorted(got) == ends
    assert all(0.96 * PEAK_BPS <= v <= PEAK_BPS for v in got.values()), got


def test_influxdb_keeps_the_domain_in_its_tag(run):
    rows = run.influx.rows(
        "SELECT \"value\" FROM \"ddoscoo_value\" WHERE \"instance\" = '%s' AND "
        "\"type\" = 'count' AND \"type_instance\" = 'origin_5xx' GROUP BY *" % DOMAIN)
    assert {tuple(sorted(tags.items())) for tags, _ in rows} == {
        (("host", HOST), ("instance", "www.example.com"), ("type", "count"),
         ("type_instance", "origin_5xx"))}
    assert sorted(cols["time"] for _, cols in rows) == run.ends[(HOST, DOMAIN,
                                                                 "status_codes/upstrem")]
    assert "ddoscoo_value,host=web01,instance=www.example.com,type=count," \
        "type_instance=origin_5xx" in run.influx_series


def test_influxdb_live_delivery(run):
    assert run.influx_live


# doc/series.md and the README ------------------------------------------------

SERIES_DOC = os.path.join(REPO, "doc", "series.md")


def readme_section(title):
    """A part of doc/series.md (once the README's "Reading the series"),
    from its bold title to the next."""
    with open(SERIES_DOC) as f:
        text = f.read()
    start = text.index(title)
    end = text.find("\n**", start + len(title))
    return text[start:end if end > 0 else None]


def test_readme_rrd_files_and_graph_command(run, tmp_path):
    rrd = readme_section("**RRD**")
    first = re.search(r"^ {4}/var/lib/collectd/rrd/(\S+)/([^/\s]+\.rrd)$", rrd, re.M)
    series_dir = os.path.join(run.cd.rrd_dir, first.group(1))
    assert os.path.isdir(series_dir), first.group(0)
    for name in [first.group(2)] + re.findall(r"^ {4}\.\.\./(\S+\.rrd)$", rrd, re.M):
        assert os.path.isfile(os.path.join(series_dir, name)), name
    # The graph command as printed, with "..." for the series' directory.
    command = re.search(r"^ {4}(rrdtool graph .*?)(?=\n\n)", rrd, re.M | re.S).group(1)
    argv = command.replace("\\\n", " ").replace("...", series_dir).split()
    subprocess.run(argv, cwd=str(tmp_path), check=True, capture_output=True)
    with open(os.path.join(str(tmp_path), argv[2]), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_readme_graphite_names_are_the_observed_ones(run):
    graphite = readme_section("**Graphite**")
    listed = re.findall(r"^ {4}(%s\.\S+)$" % HOST, graphite, re.M)
    # The connections of one port, then the traffic of the instance.
    assert len(listed) == len(METRICS) + len(TRAFFIC)
    assert {n.split(".")[-1] for n in listed} == {m for m, _ in METRICS + TRAFFIC}
    for name in listed:
        assert name in run.graphite_default, name
    separate = re.findall(r"`(%s\.ddoscoo\.\S+)`" % HOST, graphite)
    assert [n for n in separate if ".gauge." in n]
    for name in separate:
        assert name in run.graphite_separate, name
    # Dots become "_", in the host and in an Aggregate block's name.
    escaped = re.findall(r"`((?:ddos_fleet_example|%s\.ddoscoo-edge_example)\.\S+)`" % HOST,
                         graphite)
    assert len({n.split(".")[0] for n in escaped}) == 2, escaped
    for name in escaped:
        assert name in run.graphite_default, name
    # The storage schema's pattern takes every ddoscoo metric, either naming.
    pattern = re.compile(re.search(r"^ {4}pattern = (\S+)$", graphite, re.M).group(1))
    for name in run.graphite_default + run.graphite_separate:
        assert pattern.search(name), name


def test_readme_web_domain_names_are_the_observed_ones(run):
    section = readme_section("**Web domains**")
    # RRD: the dots stay in the directory's name.
    rrd = re.findall(r"`/var/lib/collectd/rrd/([^`]+\.rrd)`", section)
    assert rrd == ["%s/ddoscoo-%s/count-origin_5xx.rrd" % (HOST, DOMAIN)]
    assert os.path.isfile(os.path.join(run.cd.rrd_dir, rrd[0])), rrd
    # Graphite: escaped, in either naming; the glob finds the domain's
    # series and nothing else.
    graphite = re.findall(r"`(%s\.ddoscoo[-.][^`\s]+)`" % HOST, section)
    names = [n for n in graphite if "*" not in n]
    globs = [n for n in graphite if "*" in n]
    assert len(names) == 2 and len(globs) == 1, graphite
    assert all("www_example_com" in n for n in names)
    for name in names:
        assert name in (run.graphite_default if ".ddoscoo-" in name else
                        run.graphite_separate), name
    assert graphite_matches(globs[0], run.graphite_default) == \
        [n for n in names if ".ddoscoo-" in n]
    # InfluxDB: the tag as it is.
    influx = re.findall(r"`(ddoscoo_value,[^`]+)`", section)
    assert influx and all("instance=%s," % DOMAIN in line for line in influx)
    for line in influx:
        assert line in run.influx_series, line


def test_readme_self_monitoring_names(run):
    section = readme_section("**Self-monitoring**")
    graphite = re.findall(r"in Graphite: `([^`]+)`", section)
    assert graphite
    for name in graphite:
        assert name in run.graphite_default, name
    for path in re.findall(r"In RRD: `\.\.\./([^`]+)`", section):
        assert os.path.isfile(os.path.join(run.cd.rrd_dir, HOST, path)), path


def test_readme_names_are_the_observed_ones(run):
    """The README's own example of a series in each storage."""
    with open(os.path.join(REPO, "README.md")) as f:
        text = f.read()
    section = text[text.index("## What the series are called"):]
    section = section[:section.index("\n## ", 1)]
    rrd = re.findall(r"^- RRD: `/var/lib/collectd/rrd/([^`]+\.rrd)`$", section, re.M)
    assert len(rrd) == 1 and os.path.isfile(os.path.join(run.cd.rrd_dir, rrd[0])), rrd
    graphite = re.findall(r"^- Graphite \(`write_graphite`\): `([^`]+)`$", section, re.M)
    assert len(graphite) == 1 and graphite[0] in run.graphite_default, graphite
    influx = re.findall(r"^- InfluxDB 1\.x \(`network`\): `([^`]+)`$", section, re.M)
    assert len(influx) == 1 and influx[0] in run.influx_series, influx
    # The three name one series.
    assert rrd[0].split("/")[1] == graphite[0].split(".")[1] == "ddoscoo-" + WEB1
    assert "instance=%s,type=gauge,type_instance=attack_bps" % WEB1 in influx[0]


def test_readme_graphite_targets_match_the_series(run):
    targets = re.findall(r"^ {4}(\w+\(.*\))$", readme_section("**Graphite**"), re.M)
    targets += re.findall(r"[?&]target=([^&\s']+)", readme_section("**Graphite**"))
    assert targets
    metrics = set()
    for target in targets:
        found = graphite_matches(series_expression(target), run.graphite_default)
        # Every instance (and port) of the host that has the one metric named.
        metric = target.split(".")[2].split(",")[0].rstrip(")")
        metrics.add(metric)
        assert found == sorted(graphite_name(HOST, s.pi, metric) for s in SERIES
                               if s.host == HOST and metric in dict(s.metrics)), (target, found)
    assert {"current_connections-concurrent", "gauge-attack_bps"} <= metrics


def test_readme_influxql_query_plots_the_series(run):
    section = readme_section("**InfluxDB 1.x**")
    listed = re.findall(r"^ {4}(ddoscoo_value,\S+)$", section, re.M)
    assert len(listed) == len(METRICS) + len(TRAFFIC)
    for line in listed:
        assert line in run.influx_series, line
    # Dots stay in tags: the fleet's host, an Aggregate block's name.
    quoted = re.findall(r"`(ddoscoo_value,[^`]+)`", section)
    assert [q for q in quoted if "host=ddos.fleet.example," in q]
    assert [q for q in quoted if "instance=edge.example," in q]
    for line in quoted:
        assert line in run.influx_series, line
    queries = re.findall(r"^ {4}(SELECT .*?)(?=\n\n|\n$|\Z)", section, re.M | re.S)
    assert {influx_query_plots_the_series(run, q) for q in queries} == \
        {"current_connections-concurrent", "gauge-attack_bps"}


def influx_query_plots_the_series(run, q):
    """Check a documented query's answer; return the metric it selects."""
    q = " ".join(q.split())
    metric = "%s-%s" % re.search(r"\"type\" = '(\w+)' AND \"type_instance\" = '(\w+)'",
                                 q).groups()
    result = run.influx.query(q)
    series = result.get("series", [])
    assert series, q
    # One line per host and instance that has the metric, each minute
    # at its value.
    having = {(s.host, s.pi): s for s in SERIES if metric in dict(s.metrics)}
    tags = {(line["tags"]["host"], line["tags"]["instance"]) for line in series}
    assert tags == set(having), (q, tags)
    for line in series:
        s = having[(line["tags"]["host"], line["tags"]["instance"])]
        field = dict(s.metrics)[metric]
        values = {t: v for t, v in line["values"] if v is not None}
        assert values == {t: s.value(field, t) for t in run.ends[s.key]}, (q, line["tags"])
    return metric


def test_man_page_series_names_are_the_observed_ones(run):
    with open(os.path.join(REPO, "doc", "collectd-ddoscoo.pod")) as f:
        text = f.read()
    start = text.index("=head1 SERIES NAMES")
    section = text[start:text.index("\n=head1 ", start)]
    graphite = re.findall(r"^  ((?:%s|ddos_fleet_example)\.ddoscoo[-.]\S+)$" % HOST, section, re.M)
    graphite += re.findall(r"C<((?:%s|ddos_fleet_example)\.ddoscoo[-.][^>]+)>" % HOST, section)
    default = [n for n in graphite if re.match(r"[^.]+\.ddoscoo-", n)]
    # Every traffic metric, by its default name, and the escaped dots.
    assert {n.split(".", 2)[2] for n in default} >= {m for m, _ in TRAFFIC}
    assert [n for n in default if n.startswith("ddos_fleet_example.")]
    assert [n for n in default if "edge_example" in n]
    for name in graphite:
        assert name in (run.graphite_default if name in default else run.graphite_separate), name
    influx = re.findall(r"^  (ddoscoo_value,\S+)$", section, re.M)
    assert [n for n in influx if "type=gauge" in n] and [n for n in influx if "edge.example" in n]
    for line in influx:
        assert line in run.influx_series, line
    queries = re.findall(r"^  (SELECT .*?GROUP BY [^\n]*)", section, re.M | re.S)
    assert {influx_query_plots_the_series(run, q) for q in queries} == \
        {"current_connections-concurrent", "gauge-attack_bps"}
    # A web domain, under plugin_instance: RRD keeps its dots, Graphite
    # escapes them, InfluxDB's tag keeps them.
    start = text.index("=item plugin_instance")
    item = text[start:text.index("\n=item ", start + 1)]
    rrd = re.findall(r"F<(ddoscoo-[^>/]+/[^>]+\.rrd)>", item)
    assert rrd == ["ddoscoo-%s/count-origin_5xx.rrd" % DOMAIN]
    assert os.path.isfile(os.path.join(run.cd.rrd_dir, HOST, rrd[0]))
    graphite = re.findall(r"C<(ddoscoo-\S+\.count-origin_5xx)>", item)
    assert graphite == ["ddoscoo-www_example_com.count-origin_5xx"]
    assert "%s.%s" % (HOST, graphite[0]) in run.graphite_default
    assert "C<instance=%s>" % DOMAIN in item
    assert "ddoscoo_value,host=%s,instance=%s,type=count,type_instance=origin_5xx" % (
        HOST, DOMAIN) in run.influx_series


# Grafana dashboards ----------------------------------------------------------

def load_dashboard(path):
    with open(path) as f:
        return json.load(f)


def panels(dashboard):
    for p in dashboard["panels"]:
        yield p
        for q in p.get("panels", []):
            yield q


def template_variables(dashboard):
    return {v["name"]: v for v in dashboard["templating"]["list"]}


@pytest.mark.parametrize("path", [GRAFANA_GRAPHITE, GRAFANA_INFLUXDB])
def test_dashboard_is_valid_json_for_its_data_source(path):
    dash = load_dashboard(path)
    assert dash["title"] and dash["uid"] and isinstance(dash["schemaVersion"], int)
    variables = template_variables(dash)
    assert {"host", "instance", "domain"} <= set(variables)
    kind = "graphite" if path == GRAFANA_GRAPHITE else "influxdb"
    assert [i["pluginId"] for i in dash["__inputs"]] == [kind]
    uid = "${%s}" % dash["__inputs"][0]["name"]
    graphs = [p for p in panels(dash) if p.get("targets")]
    assert len(graphs) >= 2
    for p in graphs:
        assert p["type"] == "timeseries" and set(p["gridPos"]) == {"h", "w", "x", "y"}
        assert p["datasource"] == {"type": kind, "uid": uid}, p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)), p["title"]
        assert all(t["datasource"] == p["datasource"] for t in p["targets"])
    for v in variables.values():
        assert v["type"] == "query" and v["datasource"] == {"type": kind, "uid": uid}
        assert v["multi"] and v["includeAll"]
    # A row of traffic and attack for every selected instance together,
    # then a row of connections per selected instance, then the websites.
    rows = [p for p in dash["panels"] if p["type"] == "row"]
    assert [(r["title"], r.get("repeat")) for r in rows] == [("Traffic and attack", None),
                                                             ("$instance", "instance"),
                                                             ("Websites", None),
                                                             ("Plugin health", None)]
    ids = [p["id"] for p in panels(dash)]
    assert len(ids) == len(set(ids))
    # Inbound and attack overlaid, in bit/s, and in packets/s.
    start = dash["panels"].index(rows[0])
    traffic = dash["panels"][start + 1:dash["panels"].index(rows[1])]
    # Below them, the connection floods per instance (instance_cc_events).
    cc = traffic.pop()
    assert cc["title"] == "CC events under way, per instance"
    assert set(re.findall(r"\bcc_instance_(events|peak_bps|peak_packets)\b",
                          json.dumps(cc["targets"]))) == {"events", "peak_bps", "peak_packets"}
    assert all("$instance" in json.dumps(t) and "$domain" not in json.dumps(t)
               for t in cc["targets"])
    assert cc["gridPos"]["y"] > max(p["gridPos"]["y"] for p in traffic)
    shown = {p["fieldConfig"]["defaults"]["unit"]: set(re.findall(
        r"(in|attack|out)_(?:bps|packets)", json.dumps(p["targets"]))) for p in traffic}
    assert shown == {"bps": {"in", "attack", "out"}, "pps": {"in", "attack", "out"}}
    # Below the overview, above the rows of connections.
    assert all(p["gridPos"]["y"] > rows[0]["gridPos"]["y"] for p in traffic)
    assert all(p["gridPos"]["y"] < rows[1]["gridPos"]["y"] for p in traffic)
    # The websites (the panels after it are its own, not the repeated
    # instance row's): every selected domain's requests per second with
    # the attack's, and its 5xx at the edge and at the origin; then its
    # HTTP floods, their peak attack QPS and how many.
    assert dash["panels"].index(rows[2]) == dash["panels"].index(rows[3]) - 4
    websites = dash["panels"][-5:-3]
    flood = dash["panels"][-3]
    assert flood["fieldConfig"]["defaults"]["unit"] == "reqps"
    assert set(re.findall(r"\b(cc_peak_qps|cc_events)\b", json.dumps(flood["targets"]))) == \
        {"cc_peak_qps", "cc_events"}
    assert all("$domain" in json.dumps(t) and "$instance" not in json.dumps(t)
               for t in flood["targets"])
    assert flood["gridPos"]["y"] > websites[0]["gridPos"]["y"]
    shown = {p["fieldConfig"]["defaults"]["unit"]: set(re.findall(
        r"(?:operations_per_second-|count-|')(total|attack|edge_5xx|origin_5xx)\b",
        json.dumps(p["targets"]))) for p in websites}
    assert shown == {"reqps": {"total", "attack"}, "short": {"edge_5xx", "origin_5xx"}}
    for p in websites:
        assert p["gridPos"]["y"] > rows[2]["gridPos"]["y"] > rows[1]["gridPos"]["y"]
        assert all("$domain" in json.dumps(t) and "$instance" not in json.dumps(t)
                   for t in p["targets"]), p["title"]
    # Last, the plugin's health: every selected host's statistics, in
    # seconds behind, with the line at which DdoscooStatisticBehind fires.
    assert dash["panels"].index(rows[3]) == len(dash["panels"]) - 2
    health = dash["panels"][-1]
    assert health["gridPos"]["y"] > rows[3]["gridPos"]["y"] > websites[0]["gridPos"]["y"]
    assert health["fieldConfig"]["defaults"]["unit"] == "s"
    assert [st["value"] for st in health["fieldConfig"]["defaults"]["thresholds"]["steps"]] \
        == [None, 600]
    assert [("$host" in json.dumps(t), "$instance" in json.dumps(t), "$domain" in json.dumps(t))
            for t in health["targets"]] == [(True, False, False)]


def graphite_substitute(expr, values):
    for name, options in values.items():
        expr = expr.replace("$" + name, "{%s}" % ",".join(options)
                            if len(options) > 1 else options[0])
    return expr


def test_graphite_dashboard_targets_find_the_series(run):
    dash = load_dashboard(GRAFANA_GRAPHITE)
    variables = template_variables(dash)
    metrics = run.graphite_default
    # The variables as Grafana lists them: the hosts (metrics/find), then
    # the selected hosts' instances and web domains (metrics/expand of the
    # series only they have), the regex keeping plugin_instance.
    hosts = graphite_find(variables["host"]["query"], metrics)
    assert hosts == sorted({s.host.replace(".", "_") for s in SERIES})

    def listed(name):
        query = variables[name]["query"]
        assert query.startswith("expand(") and query.endswith(")")
        regex = re.compile(variables[name]["regex"].strip("/"))
        found = graphite_expand(graphite_substitute(query[7:-1], {"host": hosts}), metrics)
        assert all(regex.match(n) for n in found)
        return sorted({regex.match(n).group(1) for n in found})  # Grafana drops repeats
    instances, domains = listed("instance"), listed("domain")
    # An instance with both connections and traffic is listed once; no
    # <block>-api, no domain among the instances, no instance among the
    # domains.
    assert instances == sorted({s.pi.replace(".", "_") for s in INSTANCE_SERIES})
    assert domains == ["www_example_com"]

    # Every target, with every host, instance and domain selected, finds
    # the series of the metric it names, each holding every minute at its
    # value; together they show every series of the instances, and the
    # domains' requests per second and 5xx.
    values = {"host": hosts, "instance": instances, "domain": domains}
    where = {graphite_name(s.host, s.pi, m): (s, f) for s in SERIES for m, f in s.metrics}
    seen = set()
    for p in panels(dash):
        if p["title"] == HEALTH_PANEL or p["title"] in PLAN_PANELS:
            continue
        for t in p.get("targets", []):
            found = graphite_matches(series_expression(graphite_substitute(t["target"], values)),
                                     metrics)
            assert found, (p["title"], t["target"])
            assert len({f.split(".")[2] for f in found}) == 1, (p["title"], found)
            assert not [f for f in found if self_monitoring(f)]
            for name in found:
                series, field = where[name]
                ends = run.ends[series.key]
                assert run.carbon.fetch(name, ends[0] - 1, ends[-1]) == \
                    {t: float(series.value(field, t)) for t in ends}, (p["title"], name)
            seen.update(found)
    assert seen == {m for m in metrics if not self_monitoring(m)
                    and m.split(".")[2] not in WEB_METRICS - DASHBOARD_WEB_METRICS}
    assert {m.split(".")[2] for m in seen} >= DASHBOARD_WEB_METRICS

    # The health panel: the age of every statistic of every block, named
    # by the statistic, the block and the host; all current here.
    (target,) = [t["target"] for p in panels(dash) if p["title"] == HEALTH_PANEL
                 for t in p["targets"]]
    found = graphite_matches(series_expression(graphite_substitute(target, values)), metrics)
    assert found == sorted(graphite_name(h, block + "-api", "duration-%s-age" % stat)
                           for block, h in BLOCKS for stat in BLOCK_STATISTICS[block])
    m = re.match(r"^aliasSub\(.*, '(.*)', '(.*)'\)$", target)
    names = {re.sub(m.group(1), m.group(2), f) for f in found}
    assert "traffic of prod (web01)" in names and "status_codes of web (web01)" in names
    assert "traffic of edge_example (web01)" in names, names
    for name in found:
        ages = run.carbon.fetch(name, run.ends[SERIES[0].key][0], run.ends[SERIES[0].key][-1])
        assert ages and all(0 < v <= 180 for v in ages.values()), (name, ages)


def influx_substitute(query, values):
    query = query.replace("$timeFilter", "time > now() - 12h")
    query = query.replace("$__interval", "1m")
    for name, options in values.items():
        query = query.replace("$" + name, "(%s)" % "|".join(re.escape(o) for o in options))
    return query


def test_influxdb_dashboard_queries_plot_the_series(run):
    dash = load_dashboard(GRAFANA_INFLUXDB)
    variables = template_variables(dash)
    hosts = sorted(v[1] for s in run.influx.query(variables["host"]["query"])["series"]
                   for v in s["values"])
    assert hosts == sorted({s.host for s in SERIES})

    def listed(name):
        q = influx_substitute(variables[name]["query"], {"host": hosts})
        return sorted(v[1] for s in run.influx.query(q)["series"] for v in s["values"])
    instances, domains = listed("instance"), listed("domain")
    # Instances with connections or traffic, each once; no <block>-api,
    # no domain. The domains as they are, dots and all.
    assert instances == sorted({s.pi for s in INSTANCE_SERIES})
    assert domains == [DOMAIN]

    values = {"host": hosts, "instance": instances, "domain": domains}
    seen = set()
    for p in panels(dash):
        if p["title"] == HEALTH_PANEL or p["title"] in PLAN_PANELS:
            continue
        for t in p.get("targets", []):
            assert t["rawQuery"] is True
            query = influx_substitute(t["query"], values)
            series = run.influx.query(query).get("series", [])
            assert series, (p["title"], query)
            metric = "%s-%s" % re.search(
                r"\"type\" = '(\w+)' AND \"type_instance\" = '(\w+)'", t["query"]).groups()
            having = {(s.host, s.pi): s for s in SERIES if metric in dict(s.metrics)}
            assert {(line["tags"]["host"], line["tags"]["instance"]) for line in series} == \
                set(having), (p["title"], query)
            for line in series:
                h, pi = line["tags"]["host"], line["tags"]["instance"]
                s = having[(h, pi)]
                field = dict(s.metrics)[metric]
                got = {tm: v for tm, v in line["values"] if v is not None}
                assert got == {tm: s.value(field, tm) for tm in run.ends[s.key]}, \
                    (p["title"], query)
                seen.add((h, pi, metric))
    assert seen == {(s.host, s.pi, m) for s in SERIES for m, _ in s.metrics
                    if m not in WEB_METRICS - DASHBOARD_WEB_METRICS}

    # The health panel: the age of every statistic of every block, all
    # current here.
    (t,) = [t for p in panels(dash) if p["title"] == HEALTH_PANEL for t in p["targets"]]
    series = run.influx.query(influx_substitute(t["query"], values)).get("series", [])
    assert {(line["tags"]["host"], line["tags"]["instance"], line["tags"]["type_instance"])
            for line in series} == {(h, block + "-api", stat + "-age") for block, h in BLOCKS
                                    for stat in BLOCK_STATISTICS[block]}
    for line in series:
        ages = [v for _, v in line["values"] if v is not None]
        assert ages and all(0 < v <= 180 for v in ages), line
