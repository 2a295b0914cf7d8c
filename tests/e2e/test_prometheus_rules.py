# SPDX-License-Identifier: MIT
"""The Prometheus alerting rules (conf/prometheus-ddoscoo-rules.yml) with
Debian's promtool: they load (check rules), their unit tests pass (test
rules, tests/prometheus-ddoscoo-rules-test.yml), every alert has cases that
fire and cases that must not, and the unit tests notice an alert that is
gone. The Grafana dashboards draw the rules' thresholds."""

import json
import os
import subprocess

import pytest
import yaml

from conftest import REPO

RULES = os.path.join(REPO, "conf", "prometheus-ddoscoo-rules.yml")
TESTS = os.path.join(REPO, "tests", "prometheus-ddoscoo-rules-test.yml")
ALERTS = ["DdoscooAttackTraffic", "DdoscooIPBlackholed", "DdoscooMitigationEvent",
          "DdoscooConnectionsSurge", "DdoscooPluginFailing", "DdoscooPluginThrottled",
          "DdoscooStatisticBehind", "DdoscooSeriesStale",
          # Against the plan and the account's quotas (issue 19).
          "DdoscooAttackAboveBaseProtection", "DdoscooAttackNearProtectionCeiling",
          "DdoscooCleanTrafficNearLimit", "DdoscooQpsNearLimit", "DdoscooQuotaNearlyUsed",
          "DdoscooAdvancedMitigationsLow", "DdoscooNoBlackholeReleaseLeft",
          "DdoscooOriginUnhealthy"]


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
    with open(TESTS) as f:
        tests = f.read()
    with open(tmp_path / "tests" / "t.yml", "w") as f:
        f.write(tests)
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
                                  "grafana-ddoscoo-influxdb.json"])
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
    assert '<Type "bool">\n      FailureMax 0.5\n' in conf
