# SPDX-License-Identifier: MIT
"""Never lose a minute: an API outage of a few minutes and a collectd
restart, both followed by backfill of every missed window, in real time
(collectd's own clock stamps the values, so the minutes must really
pass). Both scenarios share the same two minutes of waiting."""

import time

import pytest

from conftest import CONNECTIONS, METRICS, Collectd, Simulator, expected_values, rrd_fetch, wait_for

KEY = ['AccessKeyId "LTAIbackfill"', 'AccessKeySecret "SECRET-backfill"']
OUT1, OUT2, RST1 = "ddoscoo-cn-out1", "ddoscoo-cn-out2", "ddoscoo-cn-rst1"


def latest_window(now=None):
    """The window the plugin asks for with the default Delay and Window."""
    now = time.time() if now is None else now
    return int((now - 60) // 60 * 60)


class Timeline:
    pass


@pytest.fixture(scope="module")
def timeline(tmp_path_factory):
    base = tmp_path_factory.mktemp("backfill")
    sim = Simulator(str(base), {"keys": {"LTAIbackfill": {"secret": "SECRET-backfill"}},
                                "instances": [OUT1, OUT2, RST1]})
    at = 'Endpoint "%s"' % sim.url

    def account(name, *lines):
        return '<Account "%s">\n  %s\n</Account>' % (name, "\n  ".join(KEY + [at, CONNECTIONS] + list(lines)))

    outage_dir = base / "outage"
    outage_dir.mkdir()
    outage = Collectd(str(outage_dir), "\n".join([
        account("outage", 'InstanceId "%s"' % OUT1, "Interval 2"),
        account("capped", 'InstanceId "%s"' % OUT2, "Interval 2", "MaxBackfill 1"),
    ]))

    restart_dir = base / "restart"
    restart_dir.mkdir()
    state_file = str(restart_dir / "ddoscoo.state")
    restart_config = 'StateFile "%s"\n%s' % (
        state_file, account("restart", 'InstanceId "%s"' % RST1, "Interval 2"))
    first = Collectd(str(restart_dir), restart_config)

    t = Timeline()
    t.sim, t.outage, t.state_file = sim, outage, state_file
    try:
        t.w0 = wait_for(lambda: min(outage.csv_points(OUT1, METRICS[0][0]) or [0])
                        or None, 30, "the first window before the outage")
        wait_for(lambda: first.csv_points(RST1, METRICS[0][0]), 30, "the first window before the restart")
        t.first_status = first.stop()
        with open(state_file) as f:
            t.state_after_first = f.read()

        sim.control("faults", {OUT1: {"mode": "http503"}, OUT2: {"mode": "http503"}})
        t.outage_start = time.time()
        # Two windows lost to the outage and to the stopped collectd.
        wait_for(lambda: latest_window() >= t.w0 + 120, 200, "two more windows", step=1)
        sim.control("faults", {})
        t.outage_end = time.time()

        second = Collectd(str(restart_dir), restart_config)
        t.restart = second
        t.latest = latest_window()
        wait_for(lambda: t.latest in outage.csv_points(OUT1, METRICS[0][0])
                 and t.latest in outage.csv_points(OUT2, METRICS[0][0])
                 and t.latest in second.csv_points(RST1, METRICS[0][0]),
                 30, "the windows after the outage and the restart")
        time.sleep(2.5)  # a read more, for the self-monitoring counters
        t.second_status = second.stop()
    finally:
        t.outage_status = outage.stop()
        first.stop()
        sim.stop()
    t.requests = sim.requests()
    return t


def assert_every_minute(cd, instance_id, start, end):
    for metric, field in METRICS:
        points = cd.csv_points(instance_id, metric)
        want = list(range(start, end + 60, 60))
        assert sorted(t for t in points if start <= t <= end) == want, (instance_id, metric)
        for t in want:
            assert points[t] == expected_values([instance_id], None, t)[field]
        # Every minute but a new file's first reads back from the RRD too.
        fetched = rrd_fetch(cd.rrd_file(instance_id, metric), start, end)
        for t in want[1:]:
            assert fetched[t] == points[t], (instance_id, metric, t, fetched)


def test_outage_is_backfilled(timeline):
    t = timeline
    assert t.outage_status == 0
    assert t.latest >= t.w0 + 120
    assert_every_minute(t.outage, OUT1, t.w0, t.latest)
    # The missed windows were asked for after the outage, oldest first.
    after = [int(r["params"]["EndTime"]) for r in t.requests
             if r["params"].get("InstanceIds.1") == OUT1 and r["status"] == 200
             and r["time"] >= t.outage_end]
    assert after[:2] == sorted(after[:2]) and after[0] < t.latest
    log = t.outage.log_lines('Account "outage"')
    assert any("ServiceUnavailable" in l for l in log)
    assert any("the API answers again" in l for l in log)


def test_outage_retries_stay_at_the_read_cadence(timeline):
    t = timeline
    failed = [r for r in t.requests if r["params"].get("InstanceIds.1") == OUT1
              and r["status"] == 503]
    # Interval 2 and at most three tries a read: bounded, whatever the outage.
    seconds = t.outage_end - t.outage_start
    assert 0 < len(failed) <= 3 * (seconds / 2 + 2)


def test_backfill_is_capped_by_max_backfill(timeline):
    t = timeline
    points = t.outage.csv_points(OUT2, "current_connections-concurrent")
    assert t.w0 in points and t.latest in points
    assert t.latest - 60 not in points  # older than MaxBackfill 1: skipped
    assert t.outage.log_lines('Account "capped"', "were more than MaxBackfill (1) behind and are skipped")


def test_self_monitoring_counts_backfilled_windows(timeline):
    t = timeline
    # The csv plugin stores DERIVE values as the counters themselves.
    backfilled = t.outage.csv_points("outage-api", "total_operations-backfilled_windows")
    assert backfilled[max(backfilled)] >= (t.latest - t.w0) // 60 - 1
    sent = t.outage.csv_points("outage-api", "total_requests-sent")
    failed = t.outage.csv_points("outage-api", "total_requests-failed")
    asked = [r for r in t.requests if r["params"].get("InstanceIds.1") == OUT1]
    # The last dispatch may predate a request or two of the last reads.
    assert len(asked) - 3 <= sent[max(sent)] <= len(asked)
    refused = [r for r in asked if r["status"] == 503]
    assert len(refused) - 3 <= failed[max(failed)] <= len(refused)
    latency = t.outage.csv_points("outage-api", "response_time")
    assert latency and all(0 < v < 1 for v in latency.values())


def test_restart_with_state_file_is_backfilled(timeline):
    t = timeline
    assert t.first_status == 0 and t.second_status == 0
    assert t.state_after_first.startswith("# collectd-ddoscoo state 1\n")
    assert "\trestart/%s\n" % RST1 in t.state_after_first
    assert_every_minute(t.restart, RST1, t.w0, t.latest)
    # Caught up with collectd's five write threads, none refused.
    assert t.restart.lost_values() == [] and t.outage.lost_values() == []
    assert 'StateFile "%s": 1 series known.' % t.state_file in t.restart.log()
    ends = [int(r["params"]["EndTime"]) for r in t.requests
            if r["params"].get("InstanceIds.1") == RST1]
    assert len(ends) == len(set(ends)), "a window was asked for twice"
