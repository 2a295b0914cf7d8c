"""Configurations that leave nothing to poll: collectd still starts (a
failing configuration callback would stop it, and every other plugin with
it), and the log says why."""

import time

from conftest import Collectd


def test_no_valid_block_leaves_collectd_running(workdir):
    # No AccessKeyId anywhere and no ALIBABA_CLOUD_* in the environment.
    cd = Collectd(workdir, """
<Account "nokey">
  InstanceId "ddoscoo-cn-a"
  Endpoint "http://127.0.0.1:9/"
</Account>
<Account "">
  InstanceId "ddoscoo-cn-a"
</Account>
Account "flat"
Timeout 3
""", interval=1)
    try:
        time.sleep(3)
        assert cd.alive()
    finally:
        assert cd.stop() == 0
    log = cd.log()
    assert ('Account "nokey": no credentials: set AccessKeyId and AccessKeySecret, or '
            "ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET in collectd's "
            "environment.") in log
    assert "<Account> needs one name of letters, digits" in log
    assert 'unknown option "Timeout"; only <Account> blocks go here.' in log
    assert "no <Account> block is valid; nothing to poll." in log
    assert "series" not in log


def test_empty_plugin_block_says_so(workdir):
    cd = Collectd(workdir, "", interval=1)
    try:
        time.sleep(1)
        assert cd.alive()
    finally:
        assert cd.stop() == 0
    assert "no <Account> block configured; nothing to poll." in cd.log()
