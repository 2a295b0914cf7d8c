# SPDX-License-Identifier: MIT
"""Every minute in VictoriaMetrics, with the real programs: collectd's stock
write_graphite as conf/collectd-victoria-metrics.conf ships it, Debian's
victoria-metrics with the flags of conf/victoria-metrics.default and the
relabeling of conf/victoria-metrics-relabel.yml, and vmalert with the
Prometheus rules. A 30-minute catch-up at start (StateFile) lands as one
point per minute at its minute, read back with PromQL through
VictoriaMetrics' query API, and the live minutes follow, under
write_prometheus's names. A real Prometheus scrapes write_prometheus
(conf/write-prometheus.conf) from the same collectd: the rules' expressions
and every query of conf/grafana-ddoscoo-prometheus.json are run against
both servers."""

import json
import os
import re
import shlex
import subprocess
import time
import urllib.request

import pytest
import yaml

import ddoscoo_sim
from conftest import REPO, Collectd, Simulator, block, closed_port, expected_values, wait_for
from servers import VMALERT, VictoriaMetrics, _stop, free_port, require
from test_prometheus import Prometheus, write_prometheus_config

KEY = ['AccessKeyId "LTAIvictoria"', 'AccessKeySecret "SECRET-victoria-5d"']
KEYS = {"LTAIvictoria": {"secret": "SECRET-victoria-5d"}}
HIT, CALM = "ddoscoo-cn-vmhit", "ddoscoo-cn-vmcalm"
HIT_IP = "203.0.113.40"
HOST = "vm-host"
DOMAIN = "www.example.com"
MISSED = 30  # windows caught up at start: half an hour
CONF = os.path.join(REPO, "conf")
RULES = os.path.join(CONF, "prometheus-ddoscoo-rules.yml")
DASHBOARD = os.path.join(CONF, "grafana-ddoscoo-prometheus.json")


def minute(t):
    return int(t) - int(t) % 60


def latest_window():
    """The newest window with the default Delay and Window."""
    return minute(time.time() - 60)


def shipped_flags():
    """ARGS of conf/victoria-metrics.default, for the test's loopback port
    and directories; the relabeling from conf/."""
    with open(os.path.join(CONF, "victoria-metrics.default")) as f:
        (line,) = [l for l in f if l.startswith("ARGS=")]
    flags = shlex.split(shlex.split(line)[0][len("ARGS="):])  # as sh reads it
    assert "-graphiteListenAddr=127.0.0.1:2003" in flags
    assert "-relabelConfig=/etc/victoria-metrics/ddoscoo-relabel.yml" in flags
    out = []
    for flag in flags:
        name = flag.split("=", 1)[0]
        if name in ("-storageDataPath", "-graphiteListenAddr"):
            continue  # the test's own (VictoriaMetrics sets them)
        if name == "-relabelConfig":
            flag = "-relabelConfig=" + os.path.join(CONF, "victoria-metrics-relabel.yml")
        out.append(flag)
    return out


def shipped_collectd_config(port):
    """conf/collectd-victoria-metrics.conf as shipped, on the test's port."""
    with open(os.path.join(CONF, "collectd-victoria-metrics.conf")) as f:
        text = f.read()
    assert 'Host "localhost"' in text and 'Port "2003"' in text
    return text.replace('Host "localhost"', 'Host "127.0.0.1"').replace(
        'Port "2003"', 'Port "%d"' % port)


class VmAlert:
    """vmalert with the shipped rules against the test's VictoriaMetrics,
    evaluated every second; the notifier is a loopback port nobody
    listens on (the alerts are read from vmalert's own API)."""

    def __init__(self, d, datasource):
        require(VMALERT, "victoria-metrics")
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log = open(os.path.join(d, "vmalert.log"), "w")
        self.proc = subprocess.Popen(
            [VMALERT, "-rule=" + RULES, "-datasource.url=" + datasource,
             "-notifier.url=http://127.0.0.1:%d" % closed_port(),
             "-evaluationInterval=1s", "-httpListenAddr=127.0.0.1:%d" % self.port],
            stdout=self.log, stderr=subprocess.STDOUT, env={"PATH": "/usr/bin:/bin"})
        wait_for(lambda: self.alerts() is not None or self.proc.poll() is not None, 30,
                 "vmalert to answer")
        assert self.proc.poll() is None, "vmalert exited: see vmalert.log"

    def alerts(self):
        try:
            with urllib.request.urlopen(self.url + "/api/v1/alerts", timeout=5) as r:
                return json.load(r)["data"]["alerts"] or []
        except OSError:
            return None

    def groups(self):
        with urllib.request.urlopen(self.url + "/api/v1/rules", timeout=5) as r:
            return json.load(r)["data"]["groups"]

    def stop(self):
        _stop(self.proc, self.log)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("victoria"))
    now = minute(time.time())
    # An attack on one IP of HIT, and one on another that got it
    # blackholed (its traffic dropped since).
    attack = {"attacks": [{"instance": HIT, "ip": "203.0.113.39", "port": 80,
                           "start": now - 7200, "end": now + 3600, "ramp_seconds": 0,
                           "peak_bps": 40_000_000_000, "peak_pps": 5_000_000},
                          {"instance": HIT, "ip": HIT_IP, "port": 443,
                           "start": now - 7200, "end": now + 3600, "ramp_seconds": 0,
                           "peak_bps": 8_000_000_000, "peak_pps": 1_000_000,
                           "blackhole_from": now - 600, "blackhole_to": now + 3600}],
              "instance_ips": {HIT: ["203.0.113.39", HIT_IP], CALM: ["203.0.113.41"]},
              # A connection flood on HIT (instance_cc_events).
              "cc_attacks": [{"instance": HIT, "ip": HIT_IP, "port": 443, "start": now - 7200,
                              "peak_mbps": 900, "peak_pps": 80_000}],
              "floods": [{"domain": DOMAIN, "start": now - 7200, "end": None,
                          "ramp_seconds": 0, "peak_qps": 20000}]}
    sim = Simulator(d, {"keys": KEYS, "instances": [HIT, CALM], "attack": attack,
                        "domains": {DOMAIN: [HIT]}})
    # HIT's traffic and connections were last stored half an hour ago: a
    # catch-up of 30 windows each at the first read.
    w0 = latest_window()
    state = os.path.join(d, "state")
    with open(state, "w") as f:
        f.write("# collectd-ddoscoo state 1\n%d\tvm/%s/traffic\n%d\tvm/%s_80\n"
                % (w0 - MISSED * 60, HIT, w0 - MISSED * 60, HIT))
    t = {"attack": ddoscoo_sim.check_attack(attack, 0), "w0": w0}
    cd = alert = vm = prom = None
    at = 'Endpoint "%s"' % sim.url
    try:
        t["vm"] = vm = VictoriaMetrics(d, listeners=("graphite",), flags=shipped_flags())
        wp_port = free_port()
        t["prom"] = prom = Prometheus(d, "127.0.0.1:%d" % wp_port)
        started = time.time()
        cd = Collectd(d, 'StateFile "%s"\n' % state + "\n".join([
            block("vm", *KEY, at, 'Statistics "connections" "traffic" "blackhole" "events" '
                  '"expiry" "instance_cc_events"',
                  'InstanceId "%s"' % HIT, 'InstanceId "%s"' % CALM, 'Port "80"', "Interval 1"),
            block("web", *KEY, at, 'Statistics "qps" "status_codes" "cc_events" "domain_bps"', 'Domain "%s"' % DOMAIN,
                  "Interval 1"),
        ]), hostname=HOST, rrd=False,
            extra_config=shipped_collectd_config(vm.ports["graphite"]) + "\n"
            + write_prometheus_config(wp_port))
        t["cd"] = cd

        def stored(selector):
            try:
                return set().union(*[set(v) for v in vm.samples(selector, 7200).values()])
            except AssertionError:
                return set()
        catch_up = set(range(w0 - (MISSED - 1) * 60, w0 + 60, 60))
        attack_bps = 'collectd_ddoscoo_gauge{ddoscoo="%s",type="attack_bps"}' % HIT
        wait_for(lambda: catch_up <= stored(attack_bps), MISSED + 60,
                 "the catch-up in VictoriaMetrics", step=1)
        t["catch_up_seconds"] = time.time() - started
        alert = VmAlert(d, vm.url)
        # The live minutes follow.
        wait_for(lambda: latest_window() > w0, 70, "the next window", step=1)
        t["w1"] = w1 = latest_window()
        conns = 'collectd_ddoscoo_current_connections{ddoscoo="%s_80",type="concurrent"}' % HIT
        wait_for(lambda: w1 in stored(attack_bps) and w1 in stored(conns)
                 and w1 in stored('collectd_ddoscoo_count{ddoscoo="%s",type="origin_5xx"}'
                                  % DOMAIN), 40, "the live window in VictoriaMetrics", step=1)
        wait_for(lambda: len(alert.alerts() or []) >= 3, 20, "vmalert's alerts", step=1)
        time.sleep(2)
        t["alerts"] = alert.alerts()
        t["groups"] = alert.groups()
        t["seconds"] = time.time() - started
        # The instant the tests ask both servers about: one that
        # VictoriaMetrics shows too (-search.latencyOffset, 30 s), 20 s
        # after collectd started.
        wait_for(lambda: time.time() >= started + 55, 60, "20 s of self-monitoring")
        t["at"] = time.time() - 35
    except BaseException:
        for server in (vm, prom):
            if server:
                server.stop()
        raise
    finally:
        if cd:
            cd.stop()
        if alert:
            alert.stop()
        sim.stop()
    t["log"] = cd.log()  # with collectd's shutdown (write_graphite's last flush)
    yield t
    vm.stop()
    prom.stop()


def test_collectd_ran_cleanly(run):
    bad = [l for l in run["log"].splitlines()
           if "write_graphite plugin: " in l or "Value too old" in l]
    assert not bad, bad


def test_a_catch_up_lands_one_point_per_minute_at_its_minute(run):
    vm, w0, w1 = run["vm"], run["w0"], run["w1"]
    want = list(range(w0 - (MISSED - 1) * 60, w1 + 60, 60))
    for field, type_ in (("AttackBps", "attack_bps"), ("InBps", "in_bps")):
        (labels, points), = vm.samples('collectd_ddoscoo_gauge{ddoscoo="%s",type="%s"}'
                                       % (HIT, type_), 7200).items()
        assert dict(labels) == {"__name__": "collectd_ddoscoo_gauge", "ddoscoo": HIT,
                                "type": type_, "instance": HOST}
        assert sorted(points) == want
        for t, v in points.items():
            (row,) = ddoscoo_sim.flow_for([HIT], t - 60, t, 60, attack=run["attack"])
            assert v == row[field], (type_, t)
    (points,) = vm.samples('collectd_ddoscoo_current_connections{ddoscoo="%s_80",'
                           'type="concurrent"}' % HIT, 7200).values()
    assert sorted(points) == want
    for t, v in points.items():
        assert v == expected_values([HIT], 80, t, attack=run["attack"])["Conns"], t


def test_names_and_labels_are_write_prometheus_ones(run):
    """The series have the names and labels Prometheus has from
    write_prometheus (without Prometheus's job), also a web domain's (dots
    kept) and a blackholed IP's."""
    vm, prom = run["vm"], run["prom"]

    def series(server, extra=""):
        out = set()
        for r in instant(server, '{__name__=~"collectd_ddoscoo_.+"%s}' % extra, run["at"]):
            labels = dict(r["metric"])
            labels.pop("job", None)
            out.add(tuple(sorted(labels.items())))
        return out
    in_vm = series(vm)
    in_prom = series(prom, ',job="collectd-ddoscoo"')
    assert in_vm == in_prom, (sorted(in_vm ^ in_prom))
    names = {dict(s)["__name__"] for s in in_vm}
    assert {"collectd_ddoscoo_duration_seconds", "collectd_ddoscoo_total_requests_total",
            "collectd_ddoscoo_total_operations_total", "collectd_ddoscoo_response_time",
            "collectd_ddoscoo_bool"} <= names
    assert (("__name__", "collectd_ddoscoo_bool"), ("ddoscoo", HIT), ("instance", HOST),
            ("type", HIT_IP)) in in_vm
    assert (("__name__", "collectd_ddoscoo_count"), ("ddoscoo", DOMAIN), ("instance", HOST),
            ("type", "origin_5xx")) in in_vm
    # Counters stay counters (StoreRates false): they only grow.
    (sent,) = vm.samples('collectd_ddoscoo_total_requests_total{ddoscoo="vm-api",'
                         'type="sent"}', 7200).values()
    values = [sent[t] for t in sorted(sent)]
    assert values == sorted(values) and values[-1] >= 5, values


def instant(server, expr, at):
    """An instant query's result at a time."""
    if isinstance(server, VictoriaMetrics):
        return server.query(expr, time=at)
    return server.api("query", query=expr, time=at)["result"]


def rules():
    with open(RULES) as f:
        return [r for g in yaml.safe_load(f)["groups"] for r in g["rules"]]


def test_vmalert_evaluates_every_rule_and_fires_on_the_attack(run):
    evaluated = [r for g in run["groups"] for r in g["rules"]]
    assert sorted(r["name"] for r in evaluated) == sorted(r["alert"] for r in rules())
    for r in evaluated:
        assert not r.get("lastError"), r
    firing = {(a["name"], a["labels"].get("ddoscoo"), a["labels"].get("type"))
              for a in run["alerts"] if a["state"] == "firing"}
    assert ("DdoscooAttackTraffic", HIT, "attack_bps") in firing, run["alerts"]
    assert ("DdoscooIPBlackholed", HIT, HIT_IP) in firing, run["alerts"]
    assert ("DdoscooMitigationEvent", HIT, "mitigation_events") in firing, run["alerts"]
    assert ("DdoscooConnectionFlood", HIT, "cc_instance_events") in firing, run["alerts"]
    assert not [a for a in firing if a[1] in (CALM, CALM + "_80")], firing
    for name in ("DdoscooSeriesStale", "DdoscooPluginThrottled", "DdoscooStatisticBehind",
                 "DdoscooPluginFailing"):
        assert name not in {a[0] for a in firing}, run["alerts"]


@pytest.mark.parametrize("alert", [r["alert"] for r in rules()])
def test_each_rule_answers_as_on_prometheus(run, alert):
    (rule,) = [r for r in rules() if r["alert"] == alert]

    def answer(server, job=""):
        out = set()
        for r in instant(server, rule["expr"], run["at"]):
            labels = dict(r["metric"])
            if job and labels.get("job") != job:
                continue
            labels.pop("job", None)
            out.add(tuple(sorted(labels.items())))
        return out
    assert answer(run["vm"]) == answer(run["prom"], "collectd-ddoscoo")


# The Grafana dashboard ---------------------------------------------------------

def load_dashboard():
    with open(DASHBOARD) as f:
        return json.load(f)


def all_panels(dash):
    for p in dash["panels"]:
        yield p
        yield from p.get("panels", [])


def grafana_escape(value):
    """Grafana's regex escaping of a Prometheus variable's value (inside a
    PromQL string, so the backslash doubled)."""
    return re.sub(r"([$^*{}\[\]'+?.()|\\])", r"\\\\\1", value)


def substitute(expr, values):
    """A query as Grafana sends it: multi-value variables as (a|b), regex
    escaped; $__rate_interval as four scrape intervals of a minute."""
    expr = expr.replace("$__rate_interval", "4m")
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace("$" + name, "(%s)" % "|".join(grafana_escape(v)
                                                         for v in values[name]))
    return expr


def label_values(server, query, values):
    """What a variable's label_values(selector, label) lists."""
    m = re.fullmatch(r"label_values\((.*), (\w+)\)", query)
    selector, label = substitute(m.group(1), values), m.group(2)
    return sorted(server.get("/api/v1/label/%s/values" % label, **{"match[]": selector})["data"]
                  if isinstance(server, VictoriaMetrics) else
                  server.api("label/%s/values" % label, **{"match[]": selector}))


def test_dashboard_is_valid_for_a_prometheus_data_source():
    dash = load_dashboard()
    assert [i["pluginId"] for i in dash["__inputs"]] == ["prometheus"]
    ds = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
    rows = [p["title"] for p in dash["panels"] if p["type"] == "row"]
    assert rows == ["Traffic and attack", "Blackholes and events", "$instance", "Websites",
                    "Plugin health"]
    ids = [p["id"] for p in all_panels(dash)]
    assert len(ids) == len(set(ids))
    for p in all_panels(dash):
        if p["type"] == "row":
            continue
        assert p["datasource"] == ds and p["targets"], p["title"]
        assert all(t["datasource"] == ds and t["expr"] for t in p["targets"])
    assert {v["name"] for v in dash["templating"]["list"]} == {"host", "instance", "domain"}
    # The rules' thresholds are drawn.
    (traffic,) = [p for p in all_panels(dash) if p["title"] == "Traffic, bit/s"]
    attack = [r for r in rules() if r["alert"] == "DdoscooAttackTraffic"][0]["expr"]
    steps = traffic["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["value"] for s in steps] == [None, float(attack.rsplit(">", 1)[1])]


@pytest.mark.parametrize("server", ["vm", "prom"])
def test_every_dashboard_query_returns_the_series(run, server):
    srv = run[server]
    dash = load_dashboard()
    variables = {v["name"]: v["query"] for v in dash["templating"]["list"]}
    values = {"host": label_values(srv, variables["host"], {})}
    if server == "prom":
        # The test's Prometheus scrapes a second job without honor_labels:
        # its instance is the target's address.
        values["host"] = [h for h in values["host"] if not h.startswith("127.0.0.1:")]
    assert values["host"] == [HOST]
    values["instance"] = label_values(srv, variables["instance"], values)
    assert values["instance"] == sorted([HIT, CALM, HIT + "_80", CALM + "_80"])
    values["domain"] = label_values(srv, variables["domain"], values)
    assert values["domain"] == [DOMAIN]
    end = int(run["at"])
    for p in all_panels(dash):
        for t in p.get("targets", []):
            expr = substitute(t["expr"], values)
            # A step short enough for the seconds of self-monitoring the
            # test has (VictoriaMetrics aligns the range to it).
            result = srv.query_range(expr, end - 3600, end, step=10) if server == "vm" else \
                srv.api("query_range", query=expr, start=end - 3600, end=end,
                        step=10)["result"]
            assert result, (p["title"], expr)
            if "ddoscoo=~\"$instance\"" in t["expr"] and "bool" not in t["expr"]:
                # Each selected instance that has the series.
                got = {r["metric"]["ddoscoo"] for r in result}
                assert got <= set(values["instance"]) and len(got) >= 1, (p["title"], got)
    # The attacks, the connection flood and the HTTP flood under way are
    # marked (annotations): on HIT and the domain, not on CALM.
    for a in dash["annotations"]["list"]:
        if a.get("builtIn"):
            continue
        expr = substitute(a["expr"], values)
        result = srv.query_range(expr, end - 600, end, step=60) if server == "vm" else \
            srv.api("query_range", query=expr, start=end - 600, end=end, step=60)["result"]
        assert {r["metric"]["ddoscoo"] for r in result} == \
            ({DOMAIN} if a["name"] == "HTTP floods" else {HIT}), (a["name"], expr)
    # On VictoriaMetrics the traffic panel draws every minute of the
    # catch-up, at its value.
    if server == "vm":
        (traffic,) = [p for p in all_panels(dash) if p["title"] == "Traffic, bit/s"]
        (attack,) = [t for t in traffic["targets"] if "attack_bps" in t["expr"]]
        start, end = run["w0"] - MISSED * 60, run["w1"]
        result = srv.query_range(substitute(attack["expr"], values), start, end)
        (hit,) = [r for r in result if r["metric"]["ddoscoo"] == HIT]
        drawn = {int(tm): float(v) for tm, v in hit["values"]}
        for tm in range(start + 60, end + 60, 60):
            (row,) = ddoscoo_sim.flow_for([HIT], tm - 60, tm, 60, attack=run["attack"])
            assert drawn.get(tm) == row["AttackBps"], tm
