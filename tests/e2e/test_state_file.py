# SPDX-License-Identifier: MIT
"""A series named in Chinese by its instance's remark (InstanceNames true)
is kept in the StateFile and carries on from it after a restart: the
window dispatched before the stop is not asked for again, the next one is.
One restart, within one minute; then the next window, in real time."""

import os
import time

from conftest import METRICS, Collectd, Simulator, wait_for
from conftest import connections_block as block  # see conftest.CONNECTIONS

KEY = ['AccessKeyId "LTAIstate"', 'AccessKeySecret "SECRET-state"']
IID = "ddoscoo-cn-utf1"
NAME = "网站_80"  # the remark, and the configured port


def latest_window():
    """The window the plugin asks for with the default Delay and Window."""
    return int((time.time() - 60) // 60 * 60)


def test_a_utf8_series_survives_a_restart(tmp_path):
    sim = Simulator(str(tmp_path), {"keys": {"LTAIstate": {"secret": "SECRET-state"}},
                                    "instances": [IID], "remarks": {IID: "网站"}})
    state_file = str(tmp_path / "ddoscoo.state")
    config = 'StateFile "%s"\n%s' % (state_file, block(
        "utf", *KEY, 'Endpoint "%s"' % sim.url, "InstanceNames true", 'Port "80"',
        "Interval 2"))
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    first_dir.mkdir()
    second_dir.mkdir()
    first = second = None
    try:
        # The stop and the restart must fall within one window for the
        # restart to have anything to skip: start early in a minute.
        wait_for(lambda: 1 <= time.time() % 60 <= 15, 62, "the start of a minute", step=0.5)
        w = latest_window()
        first = Collectd(str(first_dir), config, rrd=False)
        wait_for(lambda: first.csv_points(NAME, METRICS[0][0]), 30, "the series' first window")
        assert first.stop() == 0
        assert sorted(first.csv_points(NAME, METRICS[0][0])) == [w]
        with open(state_file, encoding="utf-8") as f:
            saved = f.read()
        assert saved == "# collectd-ddoscoo state 1\n%d\tutf/%s\n" % (w, NAME)
        assert os.stat(state_file).st_mode & 0o777 == 0o600

        restarted_at = time.time()
        second = Collectd(str(second_dir), config, rrd=False)
        assert latest_window() == w, "the minute turned before the restart; too slow a machine"
        assert 'StateFile "%s": 1 series known.' % state_file in second.log()
        wait_for(lambda: w + 60 in second.csv_points(NAME, METRICS[0][0]), 90,
                 "the next window after the restart", step=1)
        assert second.stop() == 0
    finally:
        for cd in (first, second):
            if cd is not None:
                cd.stop()
        sim.stop()

    # The restarted collectd carried on after w: w itself not again.
    ends = [int(r["params"]["EndTime"]) for r in sim.requests()
            if r["time"] >= restarted_at and r.get("action") == "DescribePortConnsCount"
            and r["params"].get("InstanceIds.1") == IID]
    assert ends and min(ends) == w + 60, ends
    assert sorted(second.csv_points(NAME, METRICS[0][0])) == [w + 60]
    with open(state_file, encoding="utf-8") as f:
        assert f.read() == "# collectd-ddoscoo state 1\n%d\tutf/%s\n" % (w + 60, NAME)
    assert not second.log_lines("cannot be kept")


def events_block(name, sim, *lines):
    return block_of(name, *KEY, 'Endpoint "%s"' % sim.url, 'Statistics "events"',
                    "InstanceNames true", "Interval 1", *lines)


def block_of(name, *lines):
    return '<Account "%s">\n%s\n</Account>' % (name, "\n".join("  " + l for l in lines))


def test_an_event_with_a_long_key_is_notified_once(tmp_path):
    """The longest block name, a long Chinese remark, a full IPv6 address
    and port 65535: the event's mark is longer than a StateFile line takes
    as it is (255 bytes). It is kept all the same, so the attack is
    notified once, not again at every window."""
    now = int(time.time())
    iid = "ddoscoo-cn-long1"
    remark = "长" * 40  # 120 bytes of plugin_instance
    ip = "2001:0db8:ffff:ffff:ffff:ffff:ffff:0040"
    name = "b" * 64
    key = "%s/%s/event/defense/%s/65535/%d" % (name, remark, ip, now - 600)
    assert len(key.encode()) > 255
    sim = Simulator(str(tmp_path), {
        "keys": {"LTAIstate": {"secret": "SECRET-state"}}, "instances": [iid],
        "remarks": {iid: remark},
        "attack": {"attacks": [{"instance": iid, "ip": ip, "port": 65535, "start": now - 600,
                                "end": None, "ramp_seconds": 0, "peak_bps": 10 ** 9,
                                "peak_pps": 10 ** 5}]}})
    state_file = str(tmp_path / "ddoscoo.state")
    config = 'StateFile "%s"\n%s' % (state_file, events_block(name, sim))

    def windows():
        return {r["params"]["EndTime"] for r in sim.requests()
                if r.get("action") == "DescribeDDoSEvents" and r["status"] == 200}

    def started():
        return cd.log_lines("Notification:", "Anti-DDoS mitigation started")
    cd = Collectd(str(tmp_path), config, rrd=False)
    try:
        wait_for(lambda: started(), 30, "the start notification")
        # Three windows asked for: two more chances to notify it again.
        wait_for(lambda: len(windows()) >= 3, 200, "three windows of events", step=1)
        time.sleep(2)
        assert cd.stop() == 0
    finally:
        cd.stop()
        sim.stop()
    lines = started()
    assert len(lines) == 1, lines
    assert ip in lines[0] and "port 65535" in lines[0]
    assert not cd.log_lines("cannot be kept")
    with open(state_file, encoding="utf-8") as f:
        saved = f.read()
    assert "\t%s/%s/event/defense/" % (name, remark) in saved, saved


def test_a_state_file_is_used_by_one_collectd(tmp_path):
    """Two collectd with one StateFile would each replace the file with
    their own series, losing the other's. The second says so and runs
    without it."""
    sim = Simulator(str(tmp_path), {"keys": {"LTAIstate": {"secret": "SECRET-state"}},
                                    "instances": ["ddoscoo-cn-one", "ddoscoo-cn-two"]})
    state_file = str(tmp_path / "ddoscoo.state")

    def config(name, iid):
        return 'StateFile "%s"\n%s' % (state_file, block(
            name, *KEY, 'Endpoint "%s"' % sim.url, 'InstanceId "%s"' % iid, 'Port "80"',
            "Interval 1"))
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    first_dir.mkdir()
    second_dir.mkdir()
    first = second = None
    try:
        first = Collectd(str(first_dir), config("one", "ddoscoo-cn-one"), rrd=False)
        second = Collectd(str(second_dir), config("two", "ddoscoo-cn-two"), rrd=False)
        wait_for(lambda: first.csv_points("ddoscoo-cn-one_80", METRICS[0][0])
                 and second.csv_points("ddoscoo-cn-two_80", METRICS[0][0]), 30,
                 "a window of each")
        assert first.alive() and second.alive()
        assert second.stop() == 0
        assert first.stop() == 0
    finally:
        for cd in (first, second):
            if cd is not None:
                cd.stop()
        sim.stop()
    assert 'StateFile "%s": 0 series known.' % state_file in first.log()
    assert not first.log_lines("in use")
    lines = second.log_lines('StateFile "%s" is in use by another collectd' % state_file)
    assert len(lines) == 1, second.log()
    assert "%s.lock is locked by another process" % state_file in lines[0]
    assert "running without a StateFile" in lines[0]
    with open(state_file, encoding="utf-8") as f:
        saved = f.read()
    assert "\tone/ddoscoo-cn-one_80\n" in saved and "two/" not in saved, saved
