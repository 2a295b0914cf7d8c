# SPDX-License-Identifier: MIT
"""The Prometheus alerting rules (conf/prometheus-ddoscoo-rules.yml) with
Debian's promtool: they load (check rules), their unit tests pass (test
rules, tests/prometheus-ddoscoo-rules-test.yml), every alert has cases that
fire and cases that must not, and the unit tests notice an alert that is
gone. The Grafana dashboards draw the rules' thresholds."""

import json
import os
import re
import subprocess

import pytest
import yaml

from conftest import REPO

RULES = os.path.join(REPO, "conf", "prometheus-ddoscoo-rules.yml")
TESTS = os.path.join(REPO, "tests", "prometheus-ddoscoo-rules-test.yml")
ALERTS = ["DdoscooAttackTraffic", "DdoscooIPBlackholed", "DdoscooMitigationEvent",
          "DdoscooHTTPFlood", "DdoscooConnectionFlood",
          "DdoscooConnectionsSurge", "DdoscooPluginFailing", "DdoscooPluginThrottled",
          "DdoscooStatisticBehind", "DdoscooSeriesStale",
          # Against the plan and the account's quotas (issue 19).
          "DdoscooAttackAboveBaseProtection", "DdoscooAttackNearProtectionCeiling",
          "DdoscooCleanTrafficNearLimit", "DdoscooQpsNearLimit", "DdoscooQuotaNearlyUsed",
          "DdoscooAdvancedMitigationsLow", "DdoscooNoBlackholeReleaseLeft",
          "DdoscooOriginUnhealthy",
          # An instance's term (Statistics "expiry").
          "DdoscooInstanceExpiresSoon", "DdoscooInstanceExpired", "DdoscooInstanceInDebt"]


def promtool(*args):
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=120)


def rules():
    with open(RULES) as f:
        return {r["alert"]: r for g in yaml.safe_load(f)["groups"] for r in g["rules"]}


def test_check_rules():
    out = promtool("check", "rules", RULES)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS: %d rules found" % len(ALERTS) in out.stdout
    assert sorted(rules()) == sorted(ALERTS)


def test_unit_tests_pass():
    out = promtool("test", "rules", TESTS)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


def test_every_alert_has_cases_that_fire_and_cases_that_do_not():
    with open(TESTS) as f:
        cases = [c for t in yaml.safe_load(f)["tests"] for c in t["alert_rule_test"]]
    for alert in ALERTS:
        mine = [c for c in cases if c["alertname"] == alert]
        assert [c for c in mine if c.get("exp_alerts")], alert + " never fires"
        assert [c for c in mine if not c.get("exp_alerts")], alert + " has no quiet case"


@pytest.mark.parametrize("alert", ALERTS)
def test_the_unit_tests_notice_an_alert_that_is_gone(tmp_path, alert):
    with open(RULES) as f:
        doc = yaml.safe_load(f)
    for g in doc["groups"]:
        g["rules"] = [r for r in g["rules"] if r["alert"] != alert]
    (tmp_path / "conf").mkdir()
    (tmp_path / "tests").mkdir()
    with open(tmp_path / "conf" / "prometheus-ddoscoo-rules.yml", "w") as f:
        yaml.safe_dump(doc, f)
    # The alert's own cases (promtool runs each case with all rules): a
    # run of 16 alerts costs what their cases cost, not 16 times all.
    with open(TESTS) as f:
        tests = yaml.safe_load(f)
    tests["tests"] = [t for t in tests["tests"]
                      if any(c["alertname"] == alert for c in t["alert_rule_test"])]
    with open(tmp_path / "tests" / "t.yml", "w") as f:
        yaml.safe_dump(tests, f)
    out = promtool("test", "rules", str(tmp_path / "tests" / "t.yml"))
    assert out.returncode != 0 and ("alertname: %s," % alert) in out.stdout + out.stderr


def dashboard_thresholds(name):
    """{panel title: [threshold steps' values]} of a dashboard."""
    with open(os.path.join(REPO, "conf", name)) as f:
        dash = json.load(f)
    panels = []
    for p in dash["panels"]:
        panels.append(p)
        panels.extend(p.get("panels", []))
    out = {}
    for p in panels:
        steps = p.get("fieldConfig", {}).get("defaults", {}).get("thresholds", {}).get("steps")
        if steps:
            out[p["title"]] = steps
    return dash, out


@pytest.mark.parametrize("name", ["grafana-ddoscoo-graphite.json",
                                  "grafana-ddoscoo-influxdb.json",
                                  "grafana-ddoscoo-prometheus.json"])
def test_dashboards_draw_the_rules_thresholds(name):
    r = rules()
    attack = r["DdoscooAttackTraffic"]["expr"]
    assert attack.startswith('collectd_ddoscoo_gauge{type="attack_bps"} > ')
    limit = float(attack.rsplit(">", 1)[1])
    _, thresholds = dashboard_thresholds(name)
    bit_panels = [t for title, t in thresholds.items() if "bit/s" in title]
    assert bit_panels, thresholds
    for steps in bit_panels:
        assert [s["value"] for s in steps] == [None, limit]
        assert steps[1]["color"] == "red"
    # The panels draw them as lines.
    dash, _ = dashboard_thresholds(name)
    for p in dash["panels"] + [q for p in dash["panels"] for q in p.get("panels", [])]:
        if "bit/s" in p.get("title", ""):
            style = p["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"]
            assert style in ("line", "dashed", "line+area", "dashed+area")


def test_threshold_example_has_the_same_numbers():
    with open(os.path.join(REPO, "conf", "threshold-ddoscoo.conf")) as f:
        conf = f.read()
    r = rules()
    limit = float(r["DdoscooAttackTraffic"]["expr"].rsplit(">", 1)[1])
    assert ('Instance "attack_bps"\n      WarningMax %d\n' % limit) in conf
    assert 'Instance "mitigation_events"\n      WarningMax 0.5\n' in conf
    # A connection flood on an instance: the rule's and the example's.
    assert r["DdoscooConnectionFlood"]["expr"] == \
        'collectd_ddoscoo_count{type="cc_instance_events"} > 0'
    assert 'Instance "cc_instance_events"\n      WarningMax 0.5\n' in conf
    assert '<Type "bool">\n      FailureMax 0.5\n' in conf


# What each alert against the plan compares (type and type_instance of the
# measurement, then of the limits), as the dashboards must draw it: both in
# one panel, of the same host and instance (the QPS: every domain's), the
# limits dashed.
PLAN_PANELS = {
    "Attack against protection": ("DdoscooAttackNearProtectionCeiling",
                                  [("gauge", "attack_bps", "instance"),
                                   ("gauge", "protection_base_bps", "instance"),
                                   ("gauge", "protection_elastic_bps", "instance")]),
    "Inbound against clean bandwidth": ("DdoscooCleanTrafficNearLimit",
                                        [("gauge", "in_bps", "instance"),
                                         ("gauge", "clean_bps_limit", "instance"),
                                         ("gauge", "clean_elastic_bps_limit", "instance")]),
    "QPS against the plan": ("DdoscooQpsNearLimit",
                             [("operations_per_second", "total", "domain"),
                              ("operations_per_second", "qps_limit", "instance")]),
    "Quotas used against limits": ("DdoscooQuotaNearlyUsed",
                                   [("count", "port_usage", "instance"),
                                    ("count", "port_limit", "instance"),
                                    ("count", "domain_usage", "instance"),
                                    ("count", "domain_limit", "instance"),
                                    ("count", "abnormal_rules", "instance")]),
}


def drawn(target):
    """(type, type_instance, variable) a Graphite target or InfluxQL query
    plots, and whether it is of the selected hosts."""
    if "target" in target:
        m = re.search(r"\$host\.ddoscoo-\$(\w+)\.(\w+)-(\w+),", target["target"])
        return (m.group(2), m.group(3), m.group(1)), True
    q = target["query"]
    m = re.search(r"\"instance\" =~ /\^\$(\w+)\$/ AND \"type\" = '(\w+)' AND "
                  r"\"type_instance\" = '(\w+)'", q)
    return (m.group(2), m.group(3), m.group(1)), '"host" =~ /^$host$/' in q


@pytest.mark.parametrize("name", ["grafana-ddoscoo-graphite.json",
                                  "grafana-ddoscoo-influxdb.json"])
def test_dashboards_draw_each_limit_beside_its_measurement(name):
    dash, _ = dashboard_thresholds(name)
    panels = {p["title"]: p for p in dash["panels"]}
    instance_row = [p for p in dash["panels"] if p.get("repeat") == "instance"][0]
    websites = [p for p in dash["panels"] if p["type"] == "row" and p["title"] == "Websites"][0]
    r = rules()
    for title, (alert, series) in PLAN_PANELS.items():
        p = panels[title]
        # In the repeated row of each instance.
        assert instance_row["gridPos"]["y"] < p["gridPos"]["y"] < websites["gridPos"]["y"]
        got = [drawn(t) for t in p["targets"]]
        assert [s for s, _ in got] == series, title
        assert all(host for _, host in got), title
        # The alert compares what the panel draws.
        for typ, ti, _ in series[:2]:
            assert 'type="%s"' % ti in r[alert]["expr"] or ti.rsplit("_", 1)[0] in \
                r[alert]["expr"], (alert, ti)
        # Limits dashed, measurements solid.
        (override,) = p["fieldConfig"]["overrides"]
        regex = re.compile(override["matcher"]["options"])
        styles = {x["id"]: x["value"] for x in override["properties"]}
        assert styles["custom.lineStyle"]["fill"] == "dash"
        for t, (typ, ti, _) in zip(p["targets"], series):
            label = t.get("alias") or re.search(r"'([^']*) \\2", t["target"]).group(1)
            limit = ti.endswith(("_limit", "_bps_limit")) or ti.startswith("protection_")
            assert bool(regex.match(label)) == limit, (title, label)


@pytest.mark.parametrize("name", ["grafana-ddoscoo-graphite.json",
                                  "grafana-ddoscoo-influxdb.json",
                                  "grafana-ddoscoo-prometheus.json"])
def test_dashboards_draw_days_to_expiry(name):
    """In each instance's row, the days until it expires (timeleft/expiry
    of the selected hosts and instances, in days), with lines at the 14
    days of DdoscooInstanceExpiresSoon and at 3 days (the plugin's
    ExpiryFailureDays by default). The Prometheus dashboard's query runs
    against real servers in test_victoria_metrics.py."""
    dash, thresholds = dashboard_thresholds(name)
    (p,) = [p for p in dash["panels"] if p.get("title") == "Days to expiry"]
    instance_row = [q for q in dash["panels"] if q.get("repeat") == "instance"][0]
    websites = [q for q in dash["panels"] if q["type"] == "row" and q["title"] == "Websites"][0]
    assert instance_row["gridPos"]["y"] < p["gridPos"]["y"] < websites["gridPos"]["y"]
    # Nothing else at its place.
    for q in dash["panels"]:
        if q is not p and q["type"] != "row" and q["gridPos"]["x"] == p["gridPos"]["x"]:
            assert q["gridPos"]["y"] != p["gridPos"]["y"], q["title"]
    assert p["fieldConfig"]["defaults"]["unit"] == "d"
    days = int(re.search(r"<= (\d+) \* 86400",
                         rules()["DdoscooInstanceExpiresSoon"]["expr"]).group(1))
    assert [st["value"] for st in thresholds["Days to expiry"]] == [None, 3, days]
    assert p["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "dashed"
    (t,) = p["targets"]
    if "target" in t:
        m = re.fullmatch(r"aliasSub\(scale\(\$host\.ddoscoo-\$instance\.timeleft-expiry, "
                         r"([0-9.]+)\), .*\)", t["target"])
        assert m and abs(float(m.group(1)) * 86400 - 1) < 1e-9, t["target"]
    elif "query" in t:
        assert drawn(t) == (("timeleft", "expiry", "instance"), True)
        assert t["query"].startswith('SELECT mean("value") / 86400 FROM')
    else:
        assert t["expr"] == ('collectd_ddoscoo_timeleft{instance=~"$host",'
                             'ddoscoo=~"$instance",type="expiry"} / 86400')


def test_threshold_example_warns_of_expiry_as_the_rules():
    with open(os.path.join(REPO, "conf", "threshold-ddoscoo.conf")) as f:
        conf = f.read()
    days = int(re.search(r"<= (\d+) \* 86400",
                         rules()["DdoscooInstanceExpiresSoon"]["expr"]).group(1))
    assert ('<Type "timeleft">\n      Instance "expiry"\n      WarningMin %d\n'
            '      FailureMin %d\n' % (days * 86400, 3 * 86400)) in conf
    assert 'Instance "instance_status"\n      FailureMax 1.5\n' in conf
    assert 'Instance "debt_status"\n      FailureMax 0.5\n' in conf


# The events each dashboard marks on its time axis (Grafana annotations),
# by the alerts that fire on the same series: (name, the rule's
# type_instances, the template variable whose series they are).
ANNOTATIONS = [("DDoS attacks", ["mitigation_events", "blackhole_events"], "instance"),
               ("Connection floods", ["cc_instance_events"], "instance"),
               ("HTTP floods", ["cc_events"], "domain")]


@pytest.mark.parametrize("name", ["grafana-ddoscoo-graphite.json",
                                  "grafana-ddoscoo-influxdb.json",
                                  "grafana-ddoscoo-prometheus.json"])
def test_dashboards_mark_attacks_as_annotations(name):
    """Attacks, connection floods and HTTP floods are marked on every panel's
    time axis while under way (a count above 0), of the selected hosts and
    instances or domains, from the dashboard's own data source; each marks
    what an alert fires on. The Prometheus dashboard's are run against real
    servers in test_victoria_metrics.py."""
    dash, _ = dashboard_thresholds(name)
    kind = dash["__inputs"][0]["pluginId"]
    ds = {"type": kind, "uid": "${%s}" % dash["__inputs"][0]["name"]}
    marks = [a for a in dash["annotations"]["list"] if not a.get("builtIn")]
    assert [a["name"] for a in marks] == [n for n, _, _ in ANNOTATIONS]
    exprs = [r["expr"] for r in rules().values()]
    for a, (_, tis, var) in zip(marks, ANNOTATIONS):
        assert a["datasource"] == ds and a["enable"]
        query = a.get("expr") or a.get("target") or a.get("query")
        assert set(re.findall(r"\b(?:mitigation|blackhole|cc_instance|cc)_events\b",
                              query)) == set(tis), query
        assert "$host" in query and "$" + var in query and "$" + \
            ({"instance": "domain", "domain": "instance"}[var]) not in query, query
        if kind == "prometheus":
            assert query.endswith(" > 0") and 'instance=~"$host"' in query
        elif kind == "graphite":
            assert query.startswith("removeBelowValue($host.ddoscoo-$%s.count-" % var)
            assert query.endswith(", 1)")
        else:
            assert '"value" > 0 AND $timeFilter' in query and '"type" = \'count\'' in query
        assert any('type="%s"' % tis[0] in e for e in exprs), tis
