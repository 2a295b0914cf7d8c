# SPDX-License-Identifier: MIT
"""A read never outlasts its interval or one Timeout, so a slow API cannot
hold up collectd's shutdown, which waits for running reads."""

import time

from conftest import Collectd, Simulator

SLOW = ["ddoscoo-cn-slow%d" % i for i in range(5)]


def test_slow_answers_do_not_hold_up_shutdown(workdir):
    sim = Simulator(workdir, {"keys": {"LTAIslow": {"secret": "SECRET-slow"}},
                              "faults": {i: {"mode": "hang", "seconds": 2} for i in SLOW}})
    # Five answers of 2 s each: 10 s in one read, were it not for the
    # deadline of min(Interval, Timeout) = min(30 s, 3 s).
    cd = Collectd(workdir, '<Account "slow">\n  %s\n</Account>' % "\n  ".join(
        ['AccessKeyId "LTAIslow"', 'AccessKeySecret "SECRET-slow"',
         'Endpoint "%s"' % sim.url, "Interval 30", "Timeout 3"]
        + ['InstanceId "%s"' % i for i in SLOW]))
    try:
        time.sleep(2.5)  # the first answer is in, the read goes on
        assert cd.alive()
        started = time.monotonic()
        assert cd.stop() == 0
        stopped_after = time.monotonic() - started
    finally:
        sim.stop()
    assert stopped_after < 6, "shutdown took %.1f s" % stopped_after
    # The read went on where it stopped: the first series was answered.
    assert cd.csv_points(SLOW[0], "current_connections-concurrent")
