# SPDX-License-Identifier: MIT
"""Configurations that leave nothing to poll, and StateFiles that cannot
be used: collectd still starts (a failing configuration callback would
stop it, and every other plugin with it), and the log says why."""

import os
import re
import socket
import time

from conftest import CONNECTIONS, METRICS, Collectd, Simulator, block, wait_for


def test_no_valid_block_leaves_collectd_running(workdir):
    # No AccessKeyId anywhere and no ALIBABA_CLOUD_* in the environment.
    cd = Collectd(workdir, """
<Account "nokey">
  InstanceId "ddoscoo-cn-a"
  Endpoint "http://127.0.0.1:9/"
  MetadataURL "http://127.0.0.1:9"
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
    assert ('Account "nokey": no credentials: none in the block, no '
            "ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET in collectd's "
            "environment, no credentials file, and no ECS RAM role (PUT "
            "http://127.0.0.1:9/latest/api/token: ") in log
    assert "<Account> needs one name of letters, digits" in log
    assert 'unknown option "Timeout"; only StateFile and <Account> blocks go here.' in log
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


def test_damaged_state_files_are_reported_and_replaced(workdir):
    sim = Simulator(workdir, {"keys": {"LTAIstate": {"secret": "SECRET-state"}},
                              "instances": ["ddoscoo-cn-s1"]})
    state_file = os.path.join(workdir, "ddoscoo.state")
    block = """StateFile "%s"
<Account "st">
  AccessKeyId "LTAIstate"
  AccessKeySecret "SECRET-state"
  Endpoint "%s"
  InstanceId "ddoscoo-cn-s1"
  Interval 1
</Account>""" % (state_file, sim.url)
    try:
        # Someone else's file: reported, ignored, written anew.
        with open(state_file, "w") as f:
            f.write("epoch,value\n1796205600,5\n")
        cd = Collectd(workdir, block, interval=1)
        wait_for(lambda: cd.csv_points("ddoscoo-cn-s1", METRICS[0][0]), 20,
                 "a value despite the foreign StateFile")
        assert cd.alive()
        assert cd.stop() == 0
        assert ('StateFile "%s": not a collectd-ddoscoo state file; ignoring it, '
                "and writing it anew." % state_file) in cd.log()
        with open(state_file) as f:
            content = f.read()
        assert content.startswith("# collectd-ddoscoo state 1\n")
        assert "\tst/ddoscoo-cn-s1\n" in content

        # An EndTime in the future (a clock set back): ignored, not obeyed.
        with open(state_file, "w") as f:
            f.write("# collectd-ddoscoo state 1\n4102444800\tst/ddoscoo-cn-s1\n")
        os.remove(cd.log_path)
        cd = Collectd(workdir, block, interval=1)
        wait_for(lambda: cd.log_lines("ignoring the StateFile's EndTime 4102444800"), 20,
                 "the warning")
        assert cd.stop() == 0
    finally:
        sim.stop()


def test_times_too_short_to_poll_are_refused(workdir):
    sim = Simulator(workdir, {"keys": {"LTAItimes": {"secret": "SECRET-times"}},
                              "instances": ["ddoscoo-cn-t1", "ddoscoo-cn-t2", "ddoscoo-cn-t3",
                                            "ddoscoo-cn-ok"]})

    def account(name, instance, *lines):
        return "\n".join(['<Account "%s">' % name, '  AccessKeyId "LTAItimes"',
                          '  AccessKeySecret "SECRET-times"', '  Endpoint "%s"' % sim.url,
                          '  InstanceId "%s"' % instance] + ["  " + l for l in lines] +
                         ["</Account>"])
    # collectd reads every half second: too often for a block without its
    # own Interval.
    cd = Collectd(workdir, "\n".join([
        account("short_timeout", "ddoscoo-cn-t1", "Timeout 0.5", "Interval 1"),
        account("short_interval", "ddoscoo-cn-t2", "Interval 0.2"),
        account("global_interval", "ddoscoo-cn-t3"),
        # The minimums themselves are fine.
        account("minimums", "ddoscoo-cn-ok", "Timeout 1", "Interval 1"),
    ]), interval=0.5)
    try:
        wait_for(lambda: cd.csv_points("ddoscoo-cn-ok", METRICS[0][0]), 20,
                 "a value of the block at the minimums")
        assert cd.alive()
    finally:
        assert cd.stop() == 0
        sim.stop()
    for name, words in [
            ("short_timeout", "Timeout 0.5 is too short; the minimum is 1 s"),
            ("short_interval", "Interval 0.2 is too short; the minimum is 1 s"),
            ("global_interval", "collectd's Interval 0.5 is too short for the block; "
                                "the minimum is 1 s"),
    ]:
        lines = cd.log_lines('Account "%s"' % name)
        assert lines and words in lines[0], lines
        assert ('Account "%s" has configuration errors (above) and is not polled.' % name
                in lines[-1])
    asked = {r["params"].get("InstanceIds.1") for r in sim.requests()
             if "InstanceIds.1" in r["params"]}
    assert asked == {"ddoscoo-cn-ok"}
    # The account's own (blackhole_releases, on by default): once, of the
    # one block polled.
    account = [r["action"] for r in sim.requests() if "InstanceIds.1" not in r["params"]]
    assert account == ["DescribeUnBlackholeCount"], account
    assert not cd.log_lines('Account "minimums"', "too short")


def test_domain_mistakes_are_named(workdir):
    cd = Collectd(workdir, """
<Account "nodomainstat">
  AccessKeyId "LTAIx"
  AccessKeySecret "s"
  Endpoint "http://127.0.0.1:9/"
  Statistics "traffic"
  Domain "www.example.com"
</Account>
<Account "baddomain">
  AccessKeyId "LTAIx"
  AccessKeySecret "s"
  Endpoint "http://127.0.0.1:9/"
  Statistics "qps"
  Domain "www.exa mple.com"
</Account>
""", interval=1)
    try:
        time.sleep(1)
        assert cd.alive()
    finally:
        assert cd.stop() == 0
    log = cd.log()
    assert ('Account "nodomainstat": Domain is for the web statistics; add "qps" or '
            '"status_codes" or "domain_bps" or "cc_events" to Statistics.') in log
    assert 'Account "baddomain": Domain "www.exa mple.com" is not a domain name' in log
    assert 'Account "nodomainstat" has configuration errors' in log
    assert 'Account "baddomain" has configuration errors' in log


def test_priority_mistakes_are_named(workdir):
    cd = Collectd(workdir, """
<Account "unknownprio">
  AccessKeyId "LTAIx"
  AccessKeySecret "s"
  Endpoint "http://127.0.0.1:9/"
  Priority "events" "alerts"
</Account>
<Account "twiceprio">
  AccessKeyId "LTAIx"
  AccessKeySecret "s"
  Endpoint "http://127.0.0.1:9/"
  Priority "traffic" "events" "traffic"
</Account>
""", interval=1)
    try:
        time.sleep(1)
        assert cd.alive()
    finally:
        assert cd.stop() == 0
    log = cd.log()
    # The known names, every statistic of the table.
    known = re.search(r'Account "unknownprio": Priority takes one or more of (.*), each once, '
                      r'most important first; value 2 is none of them\.', log)
    assert known, log
    assert known.group(1).startswith(
        '"connections", "traffic", "blackhole", "events", "max_new_connections", "qps", '
        '"status_codes"'), known.group(1)
    assert ('Account "twiceprio": Priority takes one or more of %s, each once, most '
            "important first; value 3 is named twice." % known.group(1)) in log, log
    assert 'Account "unknownprio" has configuration errors' in log
    assert 'Account "twiceprio" has configuration errors' in log


def test_endpoint_and_tls_mistakes_are_said_at_start(workdir):
    sim = Simulator(workdir, {"keys": {"LTAItls": {"secret": "SECRET-tls-9c"}},
                              "instances": ["ddoscoo-cn-tls"]})

    def account(name, *lines):
        # An instance of its own: blocks share no series name.
        instance = "ddoscoo-cn-tls" if name == "good" else "ddoscoo-cn-tls-" + name
        return "\n".join(['<Account "%s">' % name, '  AccessKeyId "LTAItls"',
                          '  AccessKeySecret "SECRET-tls-9c"', '  InstanceId "%s"' % instance,
                          "  Interval 1"] + ["  " + l for l in lines] + ["</Account>"])
    cd = Collectd(workdir, "\n".join([
        # A trailing blank would fail every request.
        account("blank", 'Endpoint "%s "' % sim.url),
        # A password in the URL: refused, and never written to the log.
        account("userinfo", 'Endpoint "https://admin:PASSWORD-in-url@127.0.0.1:9/"'),
        # Certificate checks off: polled, with a warning.
        account("nopeer", 'Endpoint "https://127.0.0.1:9/"', "VerifyPeer false"),
        account("nohost", 'Endpoint "https://127.0.0.1:9/"', "VerifyHost false"),
        account("neither", 'Endpoint "https://127.0.0.1:9/"', "VerifyPeer false",
                "VerifyHost false"),
        account("good", 'Endpoint "%s"' % sim.url),
    ]), interval=1)
    try:
        wait_for(lambda: cd.csv_points("ddoscoo-cn-tls", METRICS[0][0]), 20,
                 "a value of the good block")
        assert cd.alive()
    finally:
        assert cd.stop() == 0
        sim.stop()
    log = cd.log()
    lines = cd.log_lines('Account "blank"')
    assert ('Account "blank": Endpoint "%s " holds a blank or another character a host '
            "name or port cannot have." % sim.url) in lines[0], lines
    assert "has configuration errors (above) and is not polled." in lines[-1]
    lines = cd.log_lines('Account "userinfo"')
    assert ("Endpoint holds a user name or password (before '@'; not shown here)"
            in lines[0]), lines
    assert "has configuration errors (above) and is not polled." in lines[-1]
    assert "PASSWORD-in-url" not in log and "admin" not in log
    for name, what in (("nopeer", "VerifyPeer false: the API's certificate is not verified"),
                       ("nohost", "VerifyHost false: the API's certificate is not checked "
                                  "against the host name"),
                       ("neither", "VerifyPeer and VerifyHost false")):
        lines = cd.log_lines('Account "%s": ' % name, what)
        assert len(lines) == 1, cd.log_lines('Account "%s"' % name)
        assert "anyone on the path can read the requests" in lines[0]
    assert not cd.log_lines('Account "good"', "Verify")
    # Only the good block asked the API (the blank one never reached it).
    assert {r["params"].get("AccessKeyId") for r in sim.requests()} == {"LTAItls"}
    assert len(cd.log_lines("credentials from the")) == 4  # good, nopeer, nohost, neither


def test_fifos_hold_nothing_up(workdir):
    """A FIFO named as CredentialsFile, StateFile or CACert: open() would
    wait for a writer for good (at the start, or in a read thread that
    collectd's shutdown then waits for). Refused, each with its option and
    path named; the good block polls and collectd stops cleanly."""
    sim = Simulator(workdir, {"keys": {"LTAIfifo": {"secret": "SECRET-fifo-1d"}},
                              "instances": ["ddoscoo-cn-fifo"]})
    fifos = {}
    for name in ("credentials", "state", "ca.pem"):
        fifos[name] = os.path.join(workdir, name)
        os.mkfifo(fifos[name], 0o600)
    key = ['AccessKeyId "LTAIfifo"', 'AccessKeySecret "SECRET-fifo-1d"']
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(16)
    config = "\n".join([
        'StateFile "%s"' % fifos["state"],
        block("fifo_credentials", 'CredentialsFile "%s"' % fifos["credentials"],
              'Endpoint "%s"' % sim.url, 'InstanceId "ddoscoo-cn-fifo"'),
        # libcurl reads CACert once connected: a port that accepts.
        block("fifo_cacert", *key, 'CACert "%s"' % fifos["ca.pem"],
              'Endpoint "https://127.0.0.1:%d/"' % listening.getsockname()[1],
              'InstanceId "ddoscoo-cn-fifo"', "Interval 1", "Timeout 2"),
        block("good", *key, 'Endpoint "%s"' % sim.url, 'InstanceId "ddoscoo-cn-fifo"',
              CONNECTIONS, "Interval 1"),
    ])
    try:
        cd = Collectd(workdir, config, interval=1)
        wait_for(lambda: cd.csv_points("ddoscoo-cn-fifo", METRICS[0][0]), 20,
                 "a value of the good block")
        assert cd.alive()
        assert cd.stop(timeout=15) == 0
    finally:
        sim.stop()
        listening.close()
    assert cd.log_lines('Account "fifo_credentials": CredentialsFile: %s is not a regular '
                        "file." % fifos["credentials"])
    assert cd.log_lines('Account "fifo_cacert": CACert "%s" is not a regular file.'
                        % fifos["ca.pem"])
    assert cd.log_lines('StateFile "%s" is not a regular file; running without a StateFile.'
                        % fifos["state"])
    for name in ("fifo_credentials", "fifo_cacert"):
        assert cd.log_lines('Account "%s" has configuration errors (above) and is not polled.'
                            % name)


def test_one_account_in_two_plugin_blocks(workdir):
    """collectd hands each <Plugin ddoscoo> block to the plugin apart: the
    second <Account "a"> is refused, and the log does not claim that
    nothing is polled."""
    sim = Simulator(workdir, {"keys": {"LTAItwice": {"secret": "SECRET-twice-0e"}},
                              "instances": ["ddoscoo-cn-twice"]})
    account = block("a", 'AccessKeyId "LTAItwice"', 'AccessKeySecret "SECRET-twice-0e"',
                    'Endpoint "%s"' % sim.url, 'InstanceId "ddoscoo-cn-twice"', CONNECTIONS,
                    "Interval 1")
    try:
        cd = Collectd(workdir, account, interval=1,
                      extra_config="<Plugin ddoscoo>\n%s\n</Plugin>\n" % account)
        wait_for(lambda: cd.csv_points("ddoscoo-cn-twice", METRICS[0][0]), 20,
                 "a value of the first block")
        assert cd.alive()
        assert cd.stop() == 0
    finally:
        sim.stop()
    assert len(cd.log_lines('a second <Account "a"> block; only the first is polled.')) == 1
    assert len(cd.log_lines('Account "a": 1 series from')) == 1
    assert not cd.log_lines("nothing to poll")


def test_expiry_day_mistakes_are_named(workdir):
    cd = Collectd(workdir, """
<Account "warnrange">
  AccessKeyId "LTAIx"
  AccessKeySecret "s"
  Endpoint "http://127.0.0.1:9/"
  ExpiryWarningDays 3651
</Account>
<Account "failafterwarn">
  AccessKeyId "LTAIx"
  AccessKeySecret "s"
  Endpoint "http://127.0.0.1:9/"
  ExpiryWarningDays 2
  ExpiryFailureDays 5
</Account>
<Account "halfday">
  AccessKeyId "LTAIx"
  AccessKeySecret "s"
  Endpoint "http://127.0.0.1:9/"
  ExpiryFailureDays 0.5
</Account>
""", interval=1)
    try:
        time.sleep(1)
        assert cd.alive()
    finally:
        assert cd.stop() == 0
    log = cd.log()
    assert ('Account "warnrange": ExpiryWarningDays needs a whole number of days from 0 '
            'to 3650.') in log, log
    assert ('Account "halfday": ExpiryFailureDays needs a whole number of days from 0 '
            'to 3650.') in log, log
    assert ('Account "failafterwarn": ExpiryFailureDays 5 is more than ExpiryWarningDays 2; '
            'the failure comes after the warning.') in log, log
    for name in ("warnrange", "failafterwarn", "halfday"):
        assert 'Account "%s" has configuration errors' % name in log
