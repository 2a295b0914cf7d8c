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
