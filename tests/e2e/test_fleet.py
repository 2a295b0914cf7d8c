# SPDX-License-Identifier: MIT
"""One real collectd, many <Account> blocks, a couple of minutes of real
time: values and timestamps in CSV and RRD, request contents as the API
simulator saw them, and every kind of misbehaving API or bad block
side by side with the good ones."""

import calendar
import os
import re
import time

import pytest

from conftest import (METRICS, Collectd, Simulator, closed_port, expected_values,
                      make_cert, rrd_fetch, rrd_info, wait_for)
from conftest import connections_block as block  # see conftest.CONNECTIONS
from ddoscoo_sim import GATEWAY_STATUS, NGINX_502

KEY_ID, SECRET = "LTAIprodE2E", "SECRET-prod-5f3a9c"
STS_ID, STS_SECRET, STS_TOKEN = "STS.e2e", "SECRET-sts-77b2", "TOKEN-sts-99c1e"

WEB1, WEB2 = "ddoscoo-cn-web1", "ddoscoo-cn-web2"
API1, TLS1 = "ddoscoo-cn-api1", "ddoscoo-cn-tls1"

# Instances whose answers are unusable, and what the log must say of each.
INVALID = {
    # First: an oversized answer must not keep the block's other series
    # from being asked.
    "ddoscoo-cn-oversize": ("oversize", "body larger than 65536 bytes"),
    "ddoscoo-cn-garbage": ("garbage", "not well-formed XML"),
    "ddoscoo-cn-empty": ("empty", "empty body"),
    "ddoscoo-cn-json": ("json", "not well-formed XML"),
    "ddoscoo-cn-entities": ("entities", "unusable response"),
    "ddoscoo-cn-xxe": ("xxe", "document has a DTD"),
    "ddoscoo-cn-xxenet": ("xxe_net", "document has a DTD"),
    "ddoscoo-cn-wrongroot": ("wrongroot", "unexpected root element <DescribeSomethingElseResponse>"),
    "ddoscoo-cn-missing": ("missing", "<Cps> is missing"),
    "ddoscoo-cn-nonnumeric": ("nonnumeric", '<Conns> is not a count: "12abc"'),
    "ddoscoo-cn-negative": ("negative", '<Conns> is not a count: "-5"'),
    "ddoscoo-cn-huge": ("huge", '<Conns> is not a count: "99999999999999999999999"'),
    "ddoscoo-cn-duplicate": ("duplicate", "<Conns> appears more than once"),
    "ddoscoo-cn-forbidden": ("forbidden", "API error Forbidden.RAM (HTTP 403; permission denied"),
}


# A gateway in front of the API answers for it, twice, then the API does:
# (block, fault mode, the log's words for it).
GATEWAY = {
    "ddoscoo-cn-gateway": ("gateway", "html",
                           "API error HTTP502 (HTTP 502; transient, will retry): HTTP 502 "
                           "answered with %d bytes of text/html, no API document"
                           % len(NGINX_502)),
    "ddoscoo-cn-gw503": ("gateway_empty", "empty503",
                         "API error HTTP503 (HTTP 503; transient, will retry): HTTP 503 "
                         "answered with an empty body (no Content-Type), no API document"),
}
# Throttled, with x-acs-retry-after garbage, the per-API rate limit exhausted
# and the account's not: the exhausted limit's TimeLeft is the wait.
RATE_LIMITED = "ddoscoo-cn-ratelimited"
RATE_LIMIT_HEADERS = {"x-acs-retry-after": "soon",
                      "X-RateLimit-User-API": "Limit:5,Remain:0,TimeLeft:2000,Reset:1700000000000",
                      "X-RateLimit-User": "Limit:100,Remain:42,TimeLeft:300,Reset:1700000000000"}
# Throttled with x-acs-retry-after of an hour: obeyed for a minute at most.
LONG_WAIT = "ddoscoo-cn-longwait"


class Fleet:
    pass


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("fleet"))
    faults = {iid: {"mode": mode} for iid, (mode, _) in INVALID.items()}
    faults.update({
        "ddoscoo-cn-throttled": {"mode": "throttle", "retry_after_ms": 2000},
        "ddoscoo-cn-backoff": {"mode": "throttle"},
        "ddoscoo-cn-unavail": {"mode": "http503", "count": 3},
        "ddoscoo-cn-flaky": {"mode": "garbage", "count": 2},
        "ddoscoo-cn-clock": {"mode": "clock"},
        "ddoscoo-cn-hang": {"mode": "hang", "seconds": 5},
        "ddoscoo-cn-truncated": {"mode": "truncated"},
        "ddoscoo-cn-reset": {"mode": "reset"},
        RATE_LIMITED: {"mode": "throttle", "headers": RATE_LIMIT_HEADERS},
        LONG_WAIT: {"mode": "throttle", "retry_after_ms": 3600 * 1000},
    })
    faults.update({iid: {"mode": mode, "count": 2} for iid, (_, mode, _) in GATEWAY.items()})
    scenario = {
        "keys": {KEY_ID: {"secret": SECRET},
                 STS_ID: {"secret": STS_SECRET, "token": STS_TOKEN}},
        "instances": [WEB1, WEB2, API1, TLS1],
        "faults": faults,
    }
    sim = Simulator(d, scenario)
    cert, key = make_cert(d)
    tls_sim = Simulator(d, {"keys": scenario["keys"], "instances": [TLS1]},
                        name="tls-sim", tls=(cert, key))
    # A service whose clock is 20 minutes behind ours.
    skewed_sim = Simulator(d, {"keys": scenario["keys"], "instances": [WEB1],
                               "clock_offset_seconds": -1200}, name="skewed-sim")

    key = ['AccessKeyId "%s"' % KEY_ID, 'AccessKeySecret "%s"' % SECRET]
    at = ['Endpoint "%s"' % sim.url]
    blocks = [
        block("prod", *key, *at, 'InstanceId "%s"' % WEB1, 'InstanceId "%s"' % WEB2,
              "Port 80", 'Port "443"', "Interval 2"),
        block("allports", *key, *at, 'InstanceId "%s"' % WEB1, 'RegionId "ap-southeast-1"',
              'ResourceGroupId "rg-acfm2pz25js"', "Interval 2"),
        block("edge", *key, *at, 'InstanceId "%s"' % WEB1, 'InstanceId "%s"' % WEB2,
              "Port 80", "Aggregate true", "Interval 2"),
        block("fromenv", *at, 'InstanceId "%s"' % API1, 'Host "ddos-fleet"', "Interval 2"),
        block("twominutes", *key, *at, 'InstanceId "%s"' % WEB2, "Port 8080", "Window 120",
              "Delay 0", "Interval 2"),
        block("broken", *key, *at, *['InstanceId "%s"' % i for i in INVALID],  # in order
              'InstanceId "ddoscoo-cn-unknown"', 'InstanceId "ddoscoo-cn-flaky"', "Interval 2"),
        block("throttled", *key, *at, 'InstanceId "ddoscoo-cn-throttled"', "Interval 1"),
        block("backoff", *key, *at, 'InstanceId "ddoscoo-cn-backoff"', "Interval 1"),
        block("unavailable", *key, *at, 'InstanceId "ddoscoo-cn-unavail"', "Interval 2"),
        *[block(name, *key, *at, 'InstanceId "%s"' % iid, "Interval 2")
          for iid, (name, _, _) in GATEWAY.items()],
        block("ratelimited", *key, *at, 'InstanceId "%s"' % RATE_LIMITED, "Interval 1"),
        block("longwait", *key, *at, 'InstanceId "%s"' % LONG_WAIT, "Interval 1"),
        block("wrongkey", 'AccessKeyId "%s"' % KEY_ID, 'AccessKeySecret "not-the-secret"', *at,
              'InstanceId "%s"' % WEB1, "Interval 1"),
        block("clock", *key, *at, 'InstanceId "ddoscoo-cn-clock"', "Interval 2"),
        block("skewed", *key, 'Endpoint "%s"' % skewed_sim.url, 'InstanceId "%s"' % WEB1,
              "Interval 2"),
        block("slow", *key, *at, 'InstanceId "ddoscoo-cn-hang"', "Timeout 1", "Interval 2"),
        block("truncated", *key, *at, 'InstanceId "ddoscoo-cn-truncated"', "Interval 2"),
        block("reset", *key, *at, 'InstanceId "ddoscoo-cn-reset"', "Interval 2"),
        block("refused", *key, 'Endpoint "http://127.0.0.1:%d/"' % closed_port(),
              'InstanceId "%s"' % WEB1, "Interval 2"),
        block("tls_ok", *key, 'Endpoint "%s"' % tls_sim.url, 'CACert "%s"' % cert,
              'InstanceId "%s"' % TLS1, "Interval 2"),
        block("tls_unverified", *key, 'Endpoint "%s"' % tls_sim.url,
              'InstanceId "%s"' % TLS1, "Port 1", "Interval 2"),
        # Bad blocks: each is refused alone; the others still run.
        block("bad_port", *key, *at, 'InstanceId "%s"' % WEB1, 'Port "http"'),
        block("bad_window", *key, *at, 'InstanceId "%s"' % WEB1, "Window 90"),
        block("bad_backfill", *key, *at, 'InstanceId "%s"' % WEB1, "MaxBackfill 0"),
        block("bad_instance", *key, *at, 'InstanceId "ddoscoo/../etc"'),
        block("half_key", 'AccessKeyId "%s"' % KEY_ID, *at, 'InstanceId "%s"' % WEB1),
        block("bad_option", *key, *at, 'InstanceId "%s"' % WEB1, "Colour 1"),
        block("bad_endpoint", *key, 'Endpoint "ftp://127.0.0.1/"', 'InstanceId "%s"' % WEB1),
        block("too_many", *key, *at, "Aggregate true",
              *['InstanceId "ddoscoo-cn-x%03d"' % i for i in range(101)]),
    ]
    env = {"ALIBABA_CLOUD_ACCESS_KEY_ID": STS_ID,
           "ALIBABA_CLOUD_ACCESS_KEY_SECRET": STS_SECRET,
           "ALIBABA_CLOUD_SECURITY_TOKEN": STS_TOKEN}
    cd = Collectd(d, "\n".join(blocks), interval=10, env=env)

    f = Fleet()
    f.sim, f.tls_sim, f.cd = sim, tls_sim, cd
    prod = [(i, p) for i in (WEB1, WEB2) for p in ("80", "443")]
    try:
        # Three windows of the main block: up to two minute boundaries.
        wait_for(lambda: all(len(cd.csv_points("%s_%s" % s, METRICS[0][0])) >= 3 for s in prod)
                 or not cd.alive(), 200, "three windows of every prod series", step=1)
        # The long wait's second request is due a minute after its first
        # (most runs are that long already); the test says if it never came.
        first = requests_for(sim.requests(), LONG_WAIT)[:1]
        while (first and cd.alive() and time.time() < first[0]["time"] + 75
               and len(requests_for(sim.requests(), LONG_WAIT)) < 2):
            time.sleep(1)
        f.alive_before_stop = cd.alive()
    finally:
        f.exit_status = cd.stop()
        sim.stop()
        tls_sim.stop()
        skewed_sim.stop()
    f.skewed_requests = skewed_sim.requests()
    f.log = cd.log()
    f.requests = sim.requests()
    f.tls_requests = tls_sim.requests()
    return f


def requests_for(requests, instance_id):
    return [r for r in requests if r["params"].get("InstanceIds.1") == instance_id]


def asked_once_a_window(reqs):
    """Whether the series was asked once per window, not once per read: at
    most a request per minute the requests span, and one more for a read
    that began before a minute boundary and sent after it. (The window
    asked is the oldest not fetched, so that it is caught up once the
    error is gone.)"""
    minutes = int(reqs[-1]["time"]) // 60 - int(reqs[0]["time"]) // 60 + 1
    return len(reqs) <= minutes + 1


def epoch(timestamp):
    return calendar.timegm(time.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ"))


def test_collectd_survives_everything(fleet):
    assert fleet.alive_before_stop, fleet.log
    assert fleet.exit_status == 0
    assert "Exiting normally" in fleet.log


def test_values_and_timestamps_land_in_csv_and_rrd(fleet):
    cd = fleet.cd
    for iid in (WEB1, WEB2):
        for port in ("80", "443"):
            pi = "%s_%s" % (iid, port)
            for metric, field in METRICS:
                points = cd.csv_points(pi, metric)
                assert len(points) >= 3, (pi, metric, points)
                ends = sorted(points)
                # Whole minutes, one point per minute, no gap, no repeat.
                assert all(t % 60 == 0 for t in ends)
                assert ends == list(range(ends[0], ends[-1] + 60, 60))
                for t in ends:
                    assert points[t] == expected_values([iid], port, t)[field], (pi, metric, t)

                rrd = cd.rrd_file(pi, metric)
                # One row per minute although the block reads every 2 s.
                assert rrd_info(rrd)["step"] == "60"
                fetched = rrd_fetch(rrd, ends[0], ends[-1])
                # rrdtool's first update only starts a new file; every
                # later minute reads back exactly.
                for t in ends[1:]:
                    assert fetched[t] == points[t], (rrd, t, fetched)


def test_each_window_is_asked_for_once_and_signed_requests_pass(fleet):
    for iid in (WEB1, WEB2):
        for port in ("80", "443"):
            reqs = [r for r in requests_for(fleet.requests, iid)
                    if r["params"].get("Port") == port
                    and r["params"]["AccessKeyId"] == KEY_ID
                    and "InstanceIds.2" not in r["params"]]
            assert reqs and all(r["status"] == 200 for r in reqs), reqs
            ends = [int(r["params"]["EndTime"]) for r in reqs]
            # Reads every 2 s, but one request per window.
            assert len(ends) == len(set(ends)), ends
            for r in reqs:
                p = r["params"]
                end, start = int(p["EndTime"]), int(p["StartTime"])
                assert r["method"] == "POST"
                assert end - start == 60
                # Delay 60: the newest whole minute at least 60 s old.
                assert end == (epoch(p["Timestamp"]) - 60) // 60 * 60
                assert p["RegionId"] == "cn-hangzhou"
                assert p["Format"] == "XML"


def test_all_ports_region_and_resource_group(fleet):
    reqs = [r for r in requests_for(fleet.requests, WEB1)
            if r["params"].get("RegionId") == "ap-southeast-1"]
    assert reqs and all(r["status"] == 200 for r in reqs)
    assert all("Port" not in r["params"] for r in reqs)
    assert all(r["params"]["ResourceGroupId"] == "rg-acfm2pz25js" for r in reqs)
    points = fleet.cd.csv_points(WEB1, "current_connections-concurrent")
    assert points
    for t, v in points.items():
        assert v == expected_values([WEB1], None, t)["Conns"]


def test_aggregate_is_one_query_named_after_the_block(fleet):
    reqs = [r for r in fleet.requests if r["params"].get("InstanceIds.2") == WEB2]
    assert reqs and all(r["params"]["InstanceIds.1"] == WEB1 for r in reqs)
    assert all(r["params"]["Port"] == "80" for r in reqs)
    for metric, field in METRICS:
        points = fleet.cd.csv_points("edge_80", metric)
        assert len(points) >= 2
        for t, v in points.items():
            assert v == expected_values([WEB1, WEB2], "80", t)[field]


def test_environment_credentials_with_token_and_host_override(fleet):
    reqs = requests_for(fleet.requests, API1)
    assert reqs and all(r["status"] == 200 for r in reqs)
    assert all(r["params"]["AccessKeyId"] == STS_ID for r in reqs)
    assert all(r["params"]["SecurityToken"] == "***" for r in reqs)  # sent, masked in the log
    points = fleet.cd.csv_points(API1, "operations_per_second-new_connections",
                                 host="ddos-fleet")
    assert len(points) >= 2
    for t, v in points.items():
        assert v == expected_values([API1], None, t)["Cps"]
    assert ('Account "fromenv": 1 series from %s/, credentials from the environment, '
            "signature 1.0." % fleet.sim.url) in fleet.log


def test_window_sets_cadence_and_rrd_step(fleet):
    points = fleet.cd.csv_points(WEB2 + "_8080", "current_connections-active")
    assert points
    assert all(t % 120 == 0 for t in points)
    for t, v in points.items():
        assert v == expected_values([WEB2], "8080", t, window=120)["ActConns"]
    reqs = [r for r in requests_for(fleet.requests, WEB2) if r["params"].get("Port") == "8080"]
    for r in reqs:
        p = r["params"]
        assert int(p["EndTime"]) - int(p["StartTime"]) == 120
        assert int(p["EndTime"]) == epoch(p["Timestamp"]) // 120 * 120  # Delay 0
    rrd = fleet.cd.rrd_file(WEB2 + "_8080", "current_connections-active")
    assert rrd_info(rrd)["step"] == "120"


@pytest.mark.parametrize("instance_id", sorted(INVALID))
def test_unusable_answers_are_logged_and_never_stored(fleet, instance_id):
    mode, reason = INVALID[instance_id]
    assert requests_for(fleet.requests, instance_id), "never asked"
    lines = [l for l in fleet.log.splitlines()
             if 'Account "broken", series %s:' % instance_id in l]
    assert lines and reason in lines[0], (lines, reason)
    assert not os.path.exists(fleet.cd.series_dir(instance_id))
    assert not os.path.exists(fleet.cd.series_dir(instance_id, "rrd"))


def test_external_entities_are_never_fetched(fleet):
    assert not [r for r in fleet.requests if r.get("code") == "XXE_FETCHED"]
    assert not [r for r in fleet.requests if r["path"] != "/"]


def test_unknown_instance_is_named_and_not_asked_again_in_the_window(fleet):
    lines = [l for l in fleet.log.splitlines()
             if 'series ddoscoo-cn-unknown: DescribePortConnsCount: API error '
             'InvalidInstance.NotFound' in l]
    assert lines and "the instance does not exist (any more)" in lines[0]
    reqs = requests_for(fleet.requests, "ddoscoo-cn-unknown")
    assert reqs and asked_once_a_window(reqs)


def test_series_recovers_after_bad_answers(fleet):
    lines = fleet.cd.log_lines('series ddoscoo-cn-flaky')
    assert "not well-formed XML" in lines[0]
    assert any("valid answers again" in l for l in lines)
    assert fleet.cd.csv_points("ddoscoo-cn-flaky", "current_connections-concurrent")


def test_transient_outage_retries_and_recovers_every_window(fleet):
    reqs = requests_for(fleet.requests, "ddoscoo-cn-unavail")
    assert [r["status"] for r in reqs[:4]] == [503, 503, 503, 200]
    # Every window since the first request landed, whatever the minute
    # boundaries the retries crossed.
    first = int(reqs[0]["params"]["EndTime"])
    points = fleet.cd.csv_points("ddoscoo-cn-unavail", "current_connections-concurrent")
    assert sorted(points) == list(range(first, max(points) + 60, 60))
    for t, v in points.items():
        assert v == expected_values(["ddoscoo-cn-unavail"], None, t)["Conns"]
    lines = fleet.cd.log_lines('Account "unavailable"', "API")
    assert "API error ServiceUnavailable (HTTP 503; transient, will retry)" in lines[0]
    assert any("the API answers again" in l for l in lines)


@pytest.mark.parametrize("instance_id", sorted(GATEWAY))
def test_gateway_pages_are_transient_and_the_minute_is_kept(fleet, instance_id):
    name, mode, words = GATEWAY[instance_id]
    reqs = requests_for(fleet.requests, instance_id)
    assert [r["status"] for r in reqs[:3]] == [GATEWAY_STATUS[mode]] * 2 + [200], reqs[:3]
    # Retried, not skipped: every window since the first request is stored.
    first = int(reqs[0]["params"]["EndTime"])
    points = fleet.cd.csv_points(instance_id, "current_connections-concurrent")
    assert points and sorted(points) == list(range(first, max(points) + 60, 60))
    for t, v in points.items():
        assert v == expected_values([instance_id], None, t)["Conns"]
    lines = fleet.cd.log_lines('Account "%s", series %s:' % (name, instance_id))
    assert lines and words in lines[0], lines
    assert not [l for l in lines if "unusable response" in l]
    assert any("the API answers again" in l for l in fleet.cd.log_lines('Account "%s"' % name))


def test_rate_limit_headers_set_the_wait(fleet):
    reqs = requests_for(fleet.requests, RATE_LIMITED)
    times = [r["time"] for r in reqs]
    # Read every second; x-acs-retry-after is garbage and ignored, and the
    # exhausted x-ratelimit-user-api's TimeLeft (2000 ms) is honoured, not
    # the other limit's 300 ms nor a backoff starting at half a second.
    assert len(reqs) >= 15
    assert min(b - a for a, b in zip(times, times[1:])) >= 1.9
    lines = fleet.cd.log_lines('Account "ratelimited"', "Throttling.User")
    assert lines and "throttled by the account's API quota: the pace is lowered, " \
        "will retry" in lines[0]


def test_retry_after_is_capped_at_a_minute(fleet):
    reqs = requests_for(fleet.requests, LONG_WAIT)
    # x-acs-retry-after asks for an hour; the block asks again after a
    # minute, and not before.
    assert len(reqs) >= 2, reqs
    gaps = [b["time"] - a["time"] for a, b in zip(reqs, reqs[1:])]
    assert min(gaps) >= 59, gaps
    assert all(r["code"] == "Throttling.User" for r in reqs)


def test_persistent_throttling_is_logged_rarely(fleet):
    reqs = requests_for(fleet.requests, "ddoscoo-cn-throttled")
    lines = fleet.cd.log_lines('Account "throttled"', "Throttling.User")
    assert "throttled by the account's API quota: the pace is lowered, will retry" in lines[0]
    assert "Request was denied due to user flow control." in lines[0]
    assert "RequestId " in lines[0]
    # Read every second, but x-acs-retry-after (2000 ms) is honoured.
    times = [r["time"] for r in reqs]
    assert len(reqs) >= 15
    assert min(b - a for a, b in zip(times, times[1:])) >= 1.9
    # The complaint doubles its interval: few lines for many failures.
    assert len(lines) <= 10, lines
    throttled = fleet.cd.csv_points("throttled-api", "total_requests-throttled")
    assert len(reqs) - 3 <= throttled[max(throttled)] <= len(reqs)


def test_throttling_without_retry_after_backs_off_exponentially(fleet):
    reqs = requests_for(fleet.requests, "ddoscoo-cn-backoff")
    times = [r["time"] for r in reqs]
    gaps = [b - a for a, b in zip(times, times[1:])]
    # Read every second, but the waits grow (0.5 s doubling, jittered):
    # far fewer requests than reads, and the late waits the longest.
    assert 4 <= len(reqs) <= 20, len(reqs)
    assert max(gaps[-3:]) > 2 * min(gaps[:3]), gaps
    lines = fleet.cd.log_lines('Account "backoff"', "Throttling.User")
    assert lines and len(lines) <= 10


def test_rejected_credentials_are_not_hammered(fleet):
    reqs = [r for r in requests_for(fleet.requests, WEB1)
            if r["code"] == "SignatureDoesNotMatch"]
    lines = fleet.cd.log_lines('Account "wrongkey", series')
    assert "credentials rejected" in lines[0]
    # Read every second, but asked once per window (the oldest window not
    # yet fetched, to be caught up once the keys work).
    assert reqs and asked_once_a_window(reqs)
    assert len(reqs) <= 4


def test_clock_skew_is_named(fleet):
    lines = fleet.cd.log_lines('Account "clock", series')
    assert "InvalidTimeStamp.Expired" in lines[0] and "host clock" in lines[0]
    reqs = requests_for(fleet.requests, "ddoscoo-cn-clock")
    assert len(reqs) <= 4


def test_clock_offset_is_measured_from_the_date_header(fleet):
    assert [r["code"] for r in fleet.skewed_requests][:1] == ["InvalidTimeStamp.Expired"]
    lines = fleet.cd.log_lines('Account "skewed", series')
    assert "the host clock is more than 15 minutes off" in lines[0]
    m = re.search(r"The host clock is (\d+) s ahead of the API's\.", lines[0])
    assert m and 1195 <= int(m.group(1)) <= 1205, lines[0]
    assert len(fleet.skewed_requests) <= 4  # once per window, not per read


@pytest.mark.parametrize("name,reason", [
    ("slow", "Operation timed out after "),  # Timeout 1, in curl's words
    ("truncated", "transfer closed with"),
    ("reset", "failed: "),
    ("refused", "Couldn't connect to server"),
    ("tls_unverified", "SSL certificate problem"),
])
def test_transport_failures_are_logged(fleet, name, reason):
    lines = fleet.cd.log_lines('Account "%s"' % name, "request to")
    assert lines and reason in lines[0], lines


def test_tls_with_ca_cert_verifies_and_works(fleet):
    points = fleet.cd.csv_points(TLS1, "current_connections-inactive")
    assert len(points) >= 2
    for t, v in points.items():
        assert v == expected_values([TLS1], None, t)["InActConns"]
    assert not fleet.cd.log_lines('Account "tls_ok"', "failed")


@pytest.mark.parametrize("name,reason", [
    ("bad_port", 'Port needs one port number from 1 to 65535, or "auto", not "http"'),
    ("bad_window", "Window 90 is not a multiple of 60 seconds"),
    ("bad_backfill", "MaxBackfill needs a whole number from 1 to 1440."),
    ("bad_instance", 'InstanceId "ddoscoo/../etc" is not an instance ID'),
    ("half_key", "AccessKeyId is set but AccessKeySecret is not"),
    ("bad_option", 'unknown option "Colour"'),
    ("bad_endpoint", 'Endpoint "ftp://127.0.0.1/" is not of the form'),
    ("too_many", "Aggregate takes at most 100 InstanceIds"),
])
def test_bad_blocks_are_named_and_skipped(fleet, name, reason):
    lines = fleet.cd.log_lines('Account "%s"' % name)
    assert lines and reason in lines[0], lines
    assert 'Account "%s" has configuration errors (above) and is not polled.' % name in lines[-1]
    assert not [l for l in lines if "series" in l]


def test_log_is_clean(fleet):
    for secret in (SECRET, STS_SECRET, STS_TOKEN, "not-the-secret"):
        assert secret not in fleet.log
    assert "Value too old" not in fleet.log
    assert "Dataset not found" not in fleet.log
    assert "Will suspend" not in fleet.log


def test_a_thousand_instances_are_discovered(workdir):
    # DescribeInstanceIds lists them all in one answer, far larger than
    # DescribePortConnsCount's.
    many = ["ddoscoo-cn-m%04d" % i for i in range(1000)]
    sim = Simulator(workdir, {"keys": {KEY_ID: {"secret": SECRET}}, "instances": many,
                              "remarks": {i: "shop front %s (production)" % i for i in many}})
    try:
        cd = Collectd(workdir, block("many", 'AccessKeyId "%s"' % KEY_ID,
                                     'AccessKeySecret "%s"' % SECRET,
                                     'Endpoint "%s"' % sim.url, "Interval 2"))
        try:
            wait_for(lambda: cd.log_lines('Account "many": discovered') or
                     cd.log_lines('Account "many": discovery failed'), 30, "discovery")
        finally:
            assert cd.stop() == 0
    finally:
        sim.stop()
    listed = [r for r in sim.requests() if r["action"] == "DescribeInstanceIds"]
    assert listed and listed[0]["status"] == 200
    assert not cd.log_lines("discovery failed"), cd.log_lines("discovery failed")
    assert cd.log_lines('Account "many": discovered 1000 instances, 1000 series.')
