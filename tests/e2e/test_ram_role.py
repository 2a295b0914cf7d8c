# SPDX-License-Identifier: MIT
"""ECS RAM role keys from a metadata service that rotates them every ten
seconds, and signature V3, with the real collectd. The simulator accepts
only keys the metadata service has issued and not yet expired, so a
window that lands was signed with fresh keys."""

import http.server
import json
import threading

import pytest

from conftest import (CONNECTIONS, METRICS, Collectd, Simulator, closed_port, expected_values,
                      wait_for)

ROLE = "ddoscoo-reader"
ROLE_SERIES = ["ddoscoo-cn-role1", "ddoscoo-cn-role2"]
V3_ROLE, DETECTED, V3_STS, FALLBACK = (
    "ddoscoo-cn-v3role", "ddoscoo-cn-detected", "ddoscoo-cn-v3sts", "ddoscoo-cn-fallback")
STS = {"STS.static": {"secret": "SECRET-v3-5e", "token": "TOKEN+v3/6f=="}}
GOOD = ROLE_SERIES + [V3_ROLE, DETECTED, V3_STS, FALLBACK]


EVIL_SECRET, EVIL_TOKEN = "SECRET-evil-8b", "TOKEN-evil-9c"


class NewlineMetadata:
    """A metadata service whose role keys hold a newline (a \\n escape in
    the JSON): signed with SignatureVersion 3 they would split the
    request's headers, x-acs-security-token and the Authorization line."""

    def __init__(self):
        doc = json.dumps({"Code": "Success", "AccessKeyId": "STS.evil\nX-Injected: 1",
                          "AccessKeySecret": EVIL_SECRET,
                          "SecurityToken": EVIL_TOKEN + "\nX-Injected: 2",
                          "Expiration": "2099-01-01T00:00:00Z"}).encode()
        served = self.served = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def send(self, status, body):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_PUT(self):
                self.send(200, b"metadata-token")

            def do_GET(self):
                served.append(self.path)
                if self.path.endswith("/security-credentials/" + ROLE):
                    self.send(200, doc)
                else:
                    self.send(404, b"")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("ramrole"))
    instances = GOOD + ["ddoscoo-cn-garbage", "ddoscoo-cn-down"]
    # Token-protected only, keys living ten seconds.
    sim = Simulator(d, {"keys": STS, "instances": instances,
                        "metadata": {"role": ROLE, "lifetime_seconds": 10,
                                     "require_token": True}})
    # An older metadata service: no token API, plain requests only.
    plain = Simulator(d, {"keys": {}, "instances": instances,
                          "metadata": {"role": ROLE, "mode": "no_token_api"}}, name="plain")
    garbage = Simulator(d, {"keys": {}, "instances": instances,
                            "metadata": {"role": ROLE, "mode": "garbage"}}, name="garbage")

    def block(name, instance, *lines, at=sim):
        return '<Account "%s">\n  %s\n</Account>' % (name, "\n  ".join(
            ['Endpoint "%s"' % at.url, 'InstanceId "%s"' % instance, "Interval 1", CONNECTIONS]
            + list(lines)))

    newline = NewlineMetadata()
    role = ['RamRole "%s"' % ROLE, 'MetadataURL "%s"' % sim.metadata_url]
    blocks = [
        block("role", ROLE_SERIES[0], 'InstanceId "%s"' % ROLE_SERIES[1], *role),
        block("role_v3", V3_ROLE, *role, 'SignatureVersion "3"'),
        block("detected", DETECTED, 'MetadataURL "%s"' % sim.metadata_url),
        block("v3_sts", V3_STS, 'AccessKeyId "STS.static"', 'AccessKeySecret "SECRET-v3-5e"',
              'SecurityToken "TOKEN+v3/6f=="', "SignatureVersion 3"),
        block("fallback", FALLBACK, 'RamRole "%s"' % ROLE,
              'MetadataURL "%s"' % plain.metadata_url, at=plain),
        block("md_garbage", "ddoscoo-cn-garbage", 'RamRole "%s"' % ROLE,
              'MetadataURL "%s"' % garbage.metadata_url, at=garbage),
        block("md_down", "ddoscoo-cn-down", 'RamRole "%s"' % ROLE,
              'MetadataURL "http://127.0.0.1:%d"' % closed_port()),
        block("md_newline", "ddoscoo-cn-newline", 'RamRole "%s"' % ROLE,
              'MetadataURL "%s"' % newline.url, 'SignatureVersion "3"'),
    ]
    cd = Collectd(d, "\n".join(blocks), interval=1)
    try:
        # Two windows, and requests signed with two sets of role keys (a
        # minute boundary right after the start would give two windows with
        # the first keys only).
        def role_keys():
            return {r["params"].get("AccessKeyId") for r in sim.requests()
                    if r.get("service") == "api" and r["status"] == 200
                    and r["params"].get("InstanceIds.1") in ROLE_SERIES}
        wait_for(lambda: all(len(cd.csv_points(i, METRICS[0][0])) >= 2 for i in GOOD)
                 and len(role_keys()) >= 2,
                 130, "two windows of every good series, and renewed keys", step=1)
        alive = cd.alive()
    finally:
        status = cd.stop()
        for s in (sim, plain, garbage, newline):
            s.stop()
    return {"cd": cd, "alive": alive, "status": status, "log": cd.log(),
            "requests": sim.requests(), "plain": plain.requests(),
            "garbage": garbage.requests(), "newline": newline.served}


def api_requests(requests, instance):
    return [r for r in requests if r.get("service") == "api"
            and r["params"].get("InstanceIds.1") == instance]


def assert_every_window(cd, instance):
    for metric, field in METRICS:
        points = cd.csv_points(instance, metric)
        ends = sorted(points)
        assert ends == list(range(ends[0], ends[-1] + 60, 60)), (instance, metric)
        for t in ends:
            assert points[t] == expected_values([instance], None, t)[field]


def test_role_keys_are_renewed_without_a_gap(run):
    keys = set()
    for instance in ROLE_SERIES + [V3_ROLE]:
        reqs = api_requests(run["requests"], instance)
        # Never refused: every request was signed with live keys.
        assert reqs and all(r["status"] == 200 for r in reqs), reqs
        keys |= {r["params"]["AccessKeyId"] for r in reqs}
        assert_every_window(run["cd"], instance)
    assert len(keys) >= 2 and all(k.startswith("STS.") for k in keys), keys
    fetched = [r for r in run["requests"] if r.get("service") == "metadata"
               and r["path"].endswith("/" + ROLE) and r["status"] == 200]
    assert len(fetched) >= 2


def test_token_protected_metadata_requests(run):
    md = [r for r in run["requests"] if r.get("service") == "metadata"]
    assert md and all(r["status"] == 200 for r in md), [r for r in md if r["status"] != 200]
    assert all(r["token_header"] for r in md if r["method"] == "GET")


def test_plain_metadata_requests_where_no_token_is_offered(run):
    md = [r for r in run["plain"] if r.get("service") == "metadata"]
    assert any(r["method"] == "PUT" and r["status"] == 404 for r in md)
    gets = [r for r in md if r["method"] == "GET"]
    assert gets and all(r["status"] == 200 and not r["token_header"] for r in gets)
    assert_every_window(run["cd"], FALLBACK)


def test_a_block_without_credentials_finds_the_role(run):
    assert run["cd"].log_lines('Account "detected": 1 series from',
                               "credentials from the ECS RAM role %s, signature 1.0." % ROLE)
    assert_every_window(run["cd"], DETECTED)


def test_signature_v3_with_a_token(run):
    reqs = api_requests(run["requests"], V3_STS) + api_requests(run["requests"], V3_ROLE)
    assert reqs and all(r["signature_version"] == "3" and r["status"] == 200 for r in reqs)
    assert all(r.get("security_token") == "***" for r in reqs)
    assert all("AccessKeyId" in r["params"] and "Signature" not in r["params"] for r in reqs)
    assert_every_window(run["cd"], V3_STS)
    assert 'Account "v3_sts": 1 series from' in run["log"]
    assert "credentials from the configuration, signature V3." in run["log"]


@pytest.mark.parametrize("name,reason", [
    ("md_garbage", "the credentials are not a flat JSON object"),
    ("md_down", "Couldn't connect to server"),
])
def test_metadata_trouble_is_logged_and_nothing_made_up(run, name, reason):
    lines = run["cd"].log_lines('Account "%s": no usable credentials from the ECS RAM role %s'
                                % (name, ROLE))
    assert lines and reason in lines[0], lines
    # Rate-limited: a read every second, far fewer lines.
    assert len(lines) <= 10
    instance = "ddoscoo-cn-garbage" if name == "md_garbage" else "ddoscoo-cn-down"
    assert not run["cd"].csv_points(instance, METRICS[0][0])


def test_collectd_ran_and_kept_secrets(run):
    assert run["alive"] and run["status"] == 0
    for secret in ("SECRET-v3-5e", "TOKEN+v3/6f=="):
        assert secret not in run["log"]


def test_keys_with_a_newline_are_refused(run):
    """Keys that would split a V3 request's headers: refused, said without
    the secret or the token, and no request signed with them sent."""
    assert any(p.endswith("/" + ROLE) for p in run["newline"]), run["newline"]
    lines = run["cd"].log_lines('Account "md_newline": no usable credentials from the ECS '
                                "RAM role %s" % ROLE)
    assert lines and ("role %s: the credentials' AccessKeyId holds a control character"
                      % ROLE) in lines[0], lines
    assert len(lines) <= 10
    assert EVIL_SECRET not in run["log"] and EVIL_TOKEN not in run["log"]
    assert "X-Injected" not in run["log"]
    assert not [r for r in run["requests"] if r.get("service") == "api"
                and (r["params"].get("InstanceIds.1") == "ddoscoo-cn-newline"
                     or "X-Injected" in json.dumps(r))]
    assert not run["cd"].csv_points("ddoscoo-cn-newline", METRICS[0][0])
